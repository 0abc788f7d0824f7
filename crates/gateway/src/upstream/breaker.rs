//! The circuit breaker of one upstream, as a pure state machine: the caller passes in the
//! time, so every transition can be tested without a clock.
//!
//! Closed: calls pass, and connection failures in a row are counted. Open: calls are
//! refused at once until the back-off ends. Half-open: one call probes the upstream while
//! every other call is refused; its answer closes the breaker, its failure reopens it with
//! twice the back-off (up to the configured longest).

use crate::config::BreakerConfig;
use std::time::{Duration, Instant};

/// How one call may go ahead.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Admission {
    /// The breaker is closed: go ahead.
    Pass,
    /// The breaker was open long enough: this call probes the upstream, and its outcome
    /// must be reported with [`Ticket::Probe`] (or the probe [abandoned](Breaker::abandon)).
    Probe,
    /// Refused without contacting the upstream.
    Refuse(Refusal),
}

/// Why and until when a call was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Refusal {
    /// Connection failures in a row so far.
    pub(crate) failures: u32,
    /// When a call will next be let through to probe the upstream: `None` while a probe
    /// is under way already.
    pub(crate) retry_at: Option<Instant>,
}

/// Which admission an outcome belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Ticket {
    /// A call let through while the breaker was closed.
    Pass,
    /// The one probe of a half-open breaker.
    Probe,
}

/// What one call found out about the upstream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// The upstream answered (a JSON-RPC error counts: it is alive).
    Answered,
    /// Connecting failed, or the connection broke.
    Unreachable,
    /// Nothing learned (the call timed out, or was given up).
    Inconclusive,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Closed {
        failures: u32,
    },
    Open {
        failures: u32,
        retry_at: Instant,
        backoff: Duration,
    },
    // INVARIANT: exactly one `Ticket::Probe` is out while half-open, and none otherwise:
    // only `admit` in `Open` hands one out, and only its outcome (or abandonment) leaves.
    HalfOpen {
        failures: u32,
        since: Instant,
        backoff: Duration,
    },
}

/// One upstream's breaker.
#[derive(Debug, Clone)]
pub(crate) struct Breaker {
    config: BreakerConfig,
    state: State,
}

impl Breaker {
    /// A closed breaker.
    pub(crate) fn new(config: BreakerConfig) -> Self {
        Self {
            config,
            state: State::Closed { failures: 0 },
        }
    }

    /// Decides whether a call starting at `now` may contact the upstream.
    pub(crate) fn admit(&mut self, now: Instant) -> Admission {
        match self.state {
            State::Closed { .. } => Admission::Pass,
            State::Open {
                failures,
                retry_at,
                backoff,
            } => {
                if now < retry_at {
                    return Admission::Refuse(Refusal {
                        failures,
                        retry_at: Some(retry_at),
                    });
                }
                self.state = State::HalfOpen {
                    failures,
                    since: now,
                    backoff,
                };
                Admission::Probe
            }
            State::HalfOpen { failures, .. } => Admission::Refuse(Refusal {
                failures,
                retry_at: None,
            }),
        }
    }

    /// Takes in what a call admitted with `ticket` found out, at `now`.
    ///
    /// Only the outcomes of the current regime count: a call let through while closed that
    /// ends after the breaker opened says nothing about the upstream *now*.
    pub(crate) fn record(&mut self, ticket: Ticket, outcome: Outcome, now: Instant) {
        match (self.state, ticket, outcome) {
            (_, Ticket::Probe, Outcome::Inconclusive) => self.abandon(),
            (State::Closed { .. }, Ticket::Pass, Outcome::Answered)
            | (State::HalfOpen { .. }, Ticket::Probe, Outcome::Answered) => {
                self.state = State::Closed { failures: 0 };
            }
            (State::Closed { failures }, Ticket::Pass, Outcome::Unreachable) => {
                let failures = failures.saturating_add(1);
                self.state = if failures >= self.config.failures {
                    self.opened(failures, now, self.config.retry)
                } else {
                    State::Closed { failures }
                };
            }
            (
                State::HalfOpen {
                    failures, backoff, ..
                },
                Ticket::Probe,
                Outcome::Unreachable,
            ) => {
                let longer = backoff.saturating_mul(2).min(self.config.retry_max);
                self.state = self.opened(failures.saturating_add(1), now, longer);
            }
            // Stale: a closed-era call ending while open or half-open, or inconclusive.
            _ => {}
        }
    }

    /// What a call would be told if the breaker is not closed, back-off aside: lets a
    /// call admitted while closed give up when the breaker opened before it got its turn.
    pub(crate) fn refusal(&self) -> Option<Refusal> {
        match self.state {
            State::Closed { .. } => None,
            State::Open {
                failures, retry_at, ..
            } => Some(Refusal {
                failures,
                retry_at: Some(retry_at),
            }),
            State::HalfOpen { failures, .. } => Some(Refusal {
                failures,
                retry_at: None,
            }),
        }
    }

    /// The probe ended without an outcome (given up): the next call probes instead.
    pub(crate) fn abandon(&mut self) {
        if let State::HalfOpen {
            failures,
            since,
            backoff,
        } = self.state
        {
            self.state = State::Open {
                failures,
                retry_at: since,
                backoff,
            };
        }
    }

    fn opened(&self, failures: u32, now: Instant, backoff: Duration) -> State {
        State::Open {
            failures,
            retry_at: now.checked_add(backoff).unwrap_or(now),
            backoff,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn config(failures: u32) -> BreakerConfig {
        BreakerConfig {
            failures,
            retry: Duration::from_secs(1),
            retry_max: Duration::from_secs(4),
        }
    }

    fn secs(start: Instant, s: u64) -> Instant {
        start + Duration::from_secs(s)
    }

    fn open_breaker(t0: Instant) -> Breaker {
        let mut b = Breaker::new(config(2));
        b.record(Ticket::Pass, Outcome::Unreachable, t0);
        b.record(Ticket::Pass, Outcome::Unreachable, t0);
        b
    }

    #[test]
    fn it_opens_after_the_configured_failures_in_a_row_and_an_answer_resets_the_count() {
        let t0 = Instant::now();
        let mut b = Breaker::new(config(3));
        b.record(Ticket::Pass, Outcome::Unreachable, t0);
        b.record(Ticket::Pass, Outcome::Unreachable, t0);
        b.record(Ticket::Pass, Outcome::Answered, t0);
        b.record(Ticket::Pass, Outcome::Unreachable, t0);
        b.record(Ticket::Pass, Outcome::Unreachable, t0);
        assert_eq!(b.admit(t0), Admission::Pass, "two in a row, not three");
        // Timeouts say nothing about reachability: they neither count nor reset.
        b.record(Ticket::Pass, Outcome::Inconclusive, t0);
        b.record(Ticket::Pass, Outcome::Unreachable, t0);
        let refusal = Refusal {
            failures: 3,
            retry_at: Some(secs(t0, 1)),
        };
        assert_eq!(b.admit(t0), Admission::Refuse(refusal));
    }

    #[test]
    fn once_open_it_refuses_until_the_back_off_ends_then_lets_one_probe_through() {
        let t0 = Instant::now();
        let mut b = open_breaker(t0);
        assert!(matches!(
            b.admit(t0 + Duration::from_millis(999)),
            Admission::Refuse(_)
        ));
        assert_eq!(b.admit(secs(t0, 1)), Admission::Probe);
        let probing = Refusal {
            failures: 2,
            retry_at: None,
        };
        assert_eq!(b.admit(secs(t0, 1)), Admission::Refuse(probing));
        assert_eq!(b.admit(secs(t0, 100)), Admission::Refuse(probing));
    }

    #[test]
    fn an_answered_probe_closes_it() {
        let t0 = Instant::now();
        let mut b = open_breaker(t0);
        assert_eq!(b.admit(secs(t0, 1)), Admission::Probe);
        b.record(Ticket::Probe, Outcome::Answered, secs(t0, 1));
        assert_eq!(b.admit(secs(t0, 1)), Admission::Pass);
        // The count starts again from zero.
        b.record(Ticket::Pass, Outcome::Unreachable, secs(t0, 1));
        assert_eq!(b.admit(secs(t0, 1)), Admission::Pass);
    }

    #[test]
    fn each_failed_probe_doubles_the_wait_up_to_the_longest() {
        let t0 = Instant::now();
        let mut b = open_breaker(t0);
        let mut now = t0;
        for wait in [1, 2, 4, 4] {
            assert!(matches!(b.admit(now), Admission::Refuse(_)));
            now = secs(now, wait);
            assert_eq!(b.admit(now), Admission::Probe, "after {wait} s");
            b.record(Ticket::Probe, Outcome::Unreachable, now);
        }
        let Admission::Refuse(refusal) = b.admit(now) else {
            panic!("open")
        };
        assert_eq!(refusal.failures, 6);
        assert_eq!(refusal.retry_at, Some(secs(now, 4)));
    }

    #[test]
    fn an_abandoned_probe_lets_the_next_call_probe_at_once() {
        let t0 = Instant::now();
        let mut b = open_breaker(t0);
        assert_eq!(b.admit(secs(t0, 1)), Admission::Probe);
        b.record(Ticket::Probe, Outcome::Inconclusive, secs(t0, 2));
        assert_eq!(b.admit(secs(t0, 2)), Admission::Probe);
        b.abandon();
        assert_eq!(b.admit(secs(t0, 3)), Admission::Probe);
    }

    #[test]
    fn late_outcomes_of_calls_let_through_before_it_opened_change_nothing() {
        let t0 = Instant::now();
        let mut b = open_breaker(t0);
        b.record(Ticket::Pass, Outcome::Answered, t0);
        assert!(matches!(b.admit(t0), Admission::Refuse(_)), "still open");
        assert_eq!(b.admit(secs(t0, 1)), Admission::Probe);
        b.record(Ticket::Pass, Outcome::Answered, secs(t0, 1));
        b.record(Ticket::Pass, Outcome::Unreachable, secs(t0, 1));
        assert!(
            matches!(
                b.admit(secs(t0, 9)),
                Admission::Refuse(Refusal { retry_at: None, .. })
            ),
            "the probe is still out"
        );
    }

    #[derive(Debug, Clone)]
    enum Step {
        /// A call arrives this many milliseconds after the previous step.
        Call(u64),
        /// The oldest call in flight ends.
        End(Outcome),
        /// The probe in flight, if any, is given up.
        Abandon,
    }

    fn step() -> impl Strategy<Value = Step> {
        let outcome = prop_oneof![
            Just(Outcome::Answered),
            Just(Outcome::Unreachable),
            Just(Outcome::Inconclusive)
        ];
        prop_oneof![
            (0u64..3_000).prop_map(Step::Call),
            outcome.prop_map(Step::End),
            Just(Step::Abandon),
        ]
    }

    proptest! {
        #[test]
        fn it_never_lets_more_than_one_probe_through_at_a_time(
            failures in 1u32..4,
            steps in proptest::collection::vec(step(), 0..200),
        ) {
            let mut b = Breaker::new(config(failures));
            let mut now = Instant::now();
            let mut in_flight: std::collections::VecDeque<Ticket> = Default::default();
            for step in steps {
                match step {
                    Step::Call(ms) => {
                        now += Duration::from_millis(ms);
                        match b.admit(now) {
                            Admission::Pass => in_flight.push_back(Ticket::Pass),
                            Admission::Probe => in_flight.push_back(Ticket::Probe),
                            Admission::Refuse(_) => {}
                        }
                    }
                    Step::End(outcome) => {
                        if let Some(ticket) = in_flight.pop_front() {
                            b.record(ticket, outcome, now);
                        }
                    }
                    Step::Abandon => {
                        if let Some(i) = in_flight.iter().position(|t| *t == Ticket::Probe) {
                            in_flight.remove(i);
                            b.abandon();
                        }
                    }
                }
                let probes = in_flight.iter().filter(|t| **t == Ticket::Probe).count();
                prop_assert!(probes <= 1, "{probes} probes in flight");
                // A probe is out exactly while the breaker is half-open.
                let half_open = matches!(b.state, State::HalfOpen { .. });
                prop_assert_eq!(probes == 1, half_open);
            }
        }
    }
}
