//! Sign-in rate limits: failures counted per user and per client address over a window;
//! past the limit, sign-in is refused before any password is checked.

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The window failures are counted over.
pub(super) const WINDOW: Duration = Duration::from_secs(15 * 60);
/// Failed sign-ins one user may suffer in [`WINDOW`] before it is locked.
pub(super) const PER_USER: usize = 5;
/// Failed sign-ins one address may cause in [`WINDOW`] (across users) before it is locked.
pub(super) const PER_ADDRESS: usize = 20;
/// The most keys tracked; beyond, the oldest-looking are dropped first.
const MAX_KEYS: usize = 100_000;

/// Whether a sign-in may be tried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Attempt {
    /// Under both limits.
    Allowed,
    /// Too many failures for this user, or from this address.
    Limited,
}

/// Failures by key (`user:…`, `ip:…`).
#[derive(Debug, Default)]
pub(super) struct Limiter {
    failures: Mutex<HashMap<String, VecDeque<Instant>>>,
}

fn keys(user: &str, address: Option<IpAddr>) -> [(Option<String>, usize); 2] {
    [
        (Some(format!("user:{user}")), PER_USER),
        (address.map(|a| format!("ip:{a}")), PER_ADDRESS),
    ]
}

impl Limiter {
    /// May `user`, from `address`, try a password now?
    pub(super) fn check(&self, user: &str, address: Option<IpAddr>, now: Instant) -> Attempt {
        let mut failures = self
            .failures
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        for (key, limit) in keys(user, address) {
            let Some(key) = key else { continue };
            if let Some(times) = failures.get_mut(&key) {
                while times
                    .front()
                    .is_some_and(|t| now.duration_since(*t) >= WINDOW)
                {
                    times.pop_front();
                }
                if times.len() >= limit {
                    return Attempt::Limited;
                }
            }
        }
        Attempt::Allowed
    }

    /// Counts a failed password against `user` and `address`.
    pub(super) fn failed(&self, user: &str, address: Option<IpAddr>, now: Instant) {
        let mut failures = self
            .failures
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if failures.len() >= MAX_KEYS {
            failures.retain(|_, times| {
                times
                    .back()
                    .is_some_and(|t| now.duration_since(*t) < WINDOW)
            });
        }
        for (key, _) in keys(user, address) {
            if let Some(key) = key {
                failures.entry(key).or_default().push_back(now);
            }
        }
    }

    /// A good password clears the user's count (not the address's).
    pub(super) fn succeeded(&self, user: &str) {
        self.failures
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .remove(&format!("user:{user}"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_user_is_locked_after_five_failures_until_the_window_passes() {
        let limiter = Limiter::default();
        let now = Instant::now();
        let ip: IpAddr = "192.0.2.1".parse().unwrap();
        for _ in 0..PER_USER {
            assert_eq!(limiter.check("alice", Some(ip), now), Attempt::Allowed);
            limiter.failed("alice", Some(ip), now);
        }
        assert_eq!(limiter.check("alice", Some(ip), now), Attempt::Limited);
        assert_eq!(limiter.check("bob", Some(ip), now), Attempt::Allowed);
        assert_eq!(
            limiter.check("alice", Some(ip), now + WINDOW),
            Attempt::Allowed
        );
    }

    #[test]
    fn an_address_is_locked_across_users() {
        let limiter = Limiter::default();
        let now = Instant::now();
        let ip: IpAddr = "192.0.2.2".parse().unwrap();
        for i in 0..PER_ADDRESS {
            limiter.failed(&format!("user{i}"), Some(ip), now);
        }
        assert_eq!(limiter.check("fresh", Some(ip), now), Attempt::Limited);
        assert_eq!(
            limiter.check("fresh", "192.0.2.3".parse().ok(), now),
            Attempt::Allowed
        );
    }
}
