//! Sign-ins in flight at the provider: what the callback needs (the pending authorization
//! request, the nonce, the PKCE verifier), found by `state`, bound to the browser, used once.

use mandate_auth::secret::{Secret, SecretDigest, same_secret};
use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

/// How long the person has at the provider (the pending request lives as long).
pub(super) const FLIGHT_TTL: Duration = Duration::from_secs(10 * 60);
/// The most sign-ins in flight at once.
const MAX_FLIGHTS: usize = 10_000;

/// One round trip to the provider.
#[derive(Debug, Clone)]
pub(super) struct Flight {
    /// The pending authorization request's id.
    pub(super) request: String,
    pub(super) nonce: String,
    pub(super) verifier: String,
    /// The digest of the browser cookie set when the round trip began.
    browser: SecretDigest,
    created: Instant,
}

/// What the browser and the provider are handed when a round trip begins.
pub(super) struct Departure {
    pub(super) state: Secret,
    pub(super) browser: Secret,
    pub(super) flight: Flight,
}

/// Why a callback's `state` leads nowhere.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Arrival {
    /// Unknown, expired, or already used.
    Unknown,
    /// Known, but the browser bringing it is not the one that left.
    OtherBrowser,
}

/// Too many sign-ins in flight.
#[derive(Debug)]
pub(super) struct Full;

#[derive(Debug, Default)]
pub(super) struct Flights {
    by_state: Mutex<HashMap<SecretDigest, Flight>>,
}

impl Flights {
    pub(super) fn depart(&self, request: &str, now: Instant) -> Result<Departure, Full> {
        let mut flights = self.by_state.lock().unwrap_or_else(PoisonError::into_inner);
        flights.retain(|_, f| now.duration_since(f.created) < FLIGHT_TTL);
        if flights.len() >= MAX_FLIGHTS {
            return Err(Full);
        }
        let (state, browser) = (Secret::generate(), Secret::generate());
        let flight = Flight {
            request: request.to_owned(),
            nonce: Secret::generate().as_str().to_owned(),
            // 43 base64url characters: a well-formed PKCE verifier (RFC 7636 §4.1).
            verifier: Secret::generate().as_str().to_owned(),
            browser: browser.digest(),
            created: now,
        };
        flights.insert(state.digest(), flight.clone());
        Ok(Departure {
            state,
            browser,
            flight,
        })
    }

    /// The flight `state` names, removed whatever the outcome: a state is used once.
    pub(super) fn arrive(
        &self,
        state: &str,
        browser: Option<&str>,
        now: Instant,
    ) -> Result<Flight, Arrival> {
        let mut flights = self.by_state.lock().unwrap_or_else(PoisonError::into_inner);
        // INVARIANT: single use. The flight leaves the map before anything is checked.
        let flight = flights
            .remove(&SecretDigest::of(state))
            .filter(|f| now.duration_since(f.created) < FLIGHT_TTL)
            .ok_or(Arrival::Unknown)?;
        let same = browser
            .is_some_and(|b| same_secret(SecretDigest::of(b).as_str(), flight.browser.as_str()));
        if !same {
            return Err(Arrival::OtherBrowser);
        }
        Ok(flight)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_state_is_used_once_and_only_by_its_browser() {
        let flights = Flights::default();
        let now = Instant::now();
        let d = flights.depart("req-1", now).unwrap();
        let (state, browser) = (d.state.as_str(), d.browser.as_str());
        let back = flights.arrive(state, Some(browser), now).unwrap();
        assert_eq!(back.request, "req-1");
        assert_eq!(back.verifier.len(), 43);
        assert_ne!(back.nonce, back.verifier);
        assert_eq!(
            flights.arrive(state, Some(browser), now).unwrap_err(),
            Arrival::Unknown,
            "a replayed state is refused"
        );
    }

    #[test]
    fn another_browser_spends_the_state_without_using_it() {
        let flights = Flights::default();
        let now = Instant::now();
        let d = flights.depart("req-1", now).unwrap();
        let state = d.state.as_str();
        assert_eq!(
            flights.arrive(state, Some("attacker"), now).unwrap_err(),
            Arrival::OtherBrowser
        );
        assert_eq!(
            flights
                .arrive(state, Some(d.browser.as_str()), now)
                .unwrap_err(),
            Arrival::Unknown
        );
        let d = flights.depart("req-2", now).unwrap();
        assert_eq!(
            flights.arrive(d.state.as_str(), None, now).unwrap_err(),
            Arrival::OtherBrowser
        );
    }

    #[test]
    fn flights_expire() {
        let flights = Flights::default();
        let now = Instant::now();
        let d = flights.depart("req-1", now).unwrap();
        assert_eq!(
            flights
                .arrive(d.state.as_str(), Some(d.browser.as_str()), now + FLIGHT_TTL)
                .unwrap_err(),
            Arrival::Unknown
        );
    }
}
