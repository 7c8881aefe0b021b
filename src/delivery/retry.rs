//! Retries, decided in one place.
//!
//! A channel's transport classifies what the server answered where it happened
//! (`crate::channels::classify`) into a [`SendError`]. The channel's [`RetryPolicy`] then
//! turns that error into the next journal state: a [`Decision`] to retry at a moment, to
//! fail, or — the receiver may have the message — to resend it after a back-off or skip it,
//! as the channel's `in_doubt` setting says.

use std::time::Duration;

use jiff::{SignedDuration, Timestamp};

use crate::channels::transport::SendError;

/// When and how often one channel retries a transient failure.
#[derive(Debug, Clone, PartialEq)]
pub struct RetryPolicy {
    /// Attempts in all, the first included; a transient failure on the last one fails.
    pub max_attempts: u32,
    /// The ceiling of the first retry's delay; it doubles with each attempt.
    pub base_delay: Duration,
    /// The ceiling no delay's ceiling grows past.
    pub max_delay: Duration,
    /// How long after the first attempt a retry may still be scheduled.
    pub max_age: Duration,
    /// The longest `Retry-After` honoured: a server asking for more waits this long.
    pub retry_after_cap: Duration,
    /// A message that may have arrived is sent again with the same id (`in_doubt = "resend"`,
    /// the default); `false`: it is skipped (`in_doubt = "skip"`).
    pub resend_in_doubt: bool,
}

impl Default for RetryPolicy {
    /// 8 attempts, 1 s base delay, 5 min max delay, 1 h max age, `Retry-After` capped at 10 min,
    /// messages in doubt resent.
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 8,
            base_delay: Duration::from_secs(1),
            max_delay: Duration::from_secs(5 * 60),
            max_age: Duration::from_secs(60 * 60),
            retry_after_cap: Duration::from_secs(10 * 60),
            resend_in_doubt: true,
        }
    }
}

/// The next journal state of a row whose send attempt failed.
#[derive(Debug, Clone, PartialEq)]
pub enum Decision {
    /// Try again, not before this moment (journal state `retry`).
    RetryAt(Timestamp),
    /// Give up (journal state `failed`).
    Fail { reason: String },
    /// The receiver may have the message: with `resend`, due again at `at` (journal state
    /// `retry`, the same id); without, skipped (journal state `skipped`).
    InDoubt {
        reason: String,
        resend: bool,
        at: Timestamp,
    },
}

impl RetryPolicy {
    /// Decide what follows a failed attempt.
    ///
    /// `attempts` = attempts made so far including this one; `first_attempt` = when the
    /// first attempt started.
    ///
    /// Transient: exponential backoff with full jitter — the delay is random in
    /// `[0, min(max_delay, base_delay * 2^(attempts-1))]`; with a `retry_after`, the delay is
    /// the larger of that and `retry_after` capped at `retry_after_cap`, so never earlier than
    /// the server asked (up to the cap). Fails when `attempts >= max_attempts` or when the
    /// retry would be later than `first_attempt + max_age`, with a reason saying which.
    /// Permanent → [`Decision::Fail`]. InDoubt → [`Decision::InDoubt`], within the same
    /// bounds: an in-doubt message is sent again (by default) with no answer to wait for, so
    /// without them an endpoint that never answers would be retried forever. It is resent
    /// after the back-off a transient failure would get, never back to back (at once when
    /// that back-off would pass `max_age`: the bounds above already allowed one more try).
    pub fn decide(
        &self,
        error: &SendError,
        attempts: u32,
        first_attempt: Timestamp,
        now: Timestamp,
        rng: &mut fastrand::Rng,
    ) -> Decision {
        match error {
            SendError::Transient {
                reason,
                retry_after,
            } => self.decide_transient(reason, *retry_after, attempts, first_attempt, now, rng),
            SendError::Permanent { reason, .. } => Decision::Fail {
                reason: reason.clone(),
            },
            SendError::InDoubt { reason } => {
                if attempts >= self.max_attempts {
                    Decision::Fail {
                        reason: format!("gave up after {attempts} attempts: {reason}"),
                    }
                } else if now > add(first_attempt, self.max_age) {
                    Decision::Fail {
                        reason: format!("gave up after {}: {reason}", friendly(self.max_age)),
                    }
                } else {
                    let at = match self.decide_transient(
                        reason,
                        None,
                        attempts,
                        first_attempt,
                        now,
                        rng,
                    ) {
                        Decision::RetryAt(at) => at,
                        _ => now,
                    };
                    Decision::InDoubt {
                        reason: reason.clone(),
                        resend: self.resend_in_doubt,
                        at,
                    }
                }
            }
        }
    }

    fn decide_transient(
        &self,
        reason: &str,
        retry_after: Option<Duration>,
        attempts: u32,
        first_attempt: Timestamp,
        now: Timestamp,
        rng: &mut fastrand::Rng,
    ) -> Decision {
        if attempts >= self.max_attempts {
            return Decision::Fail {
                reason: format!("gave up after {attempts} attempts: {reason}"),
            };
        }
        let at = add(now, self.delay(attempts, retry_after, rng));
        if at > add(first_attempt, self.max_age) {
            return Decision::Fail {
                reason: format!("gave up after {}: {reason}", friendly(self.max_age)),
            };
        }
        Decision::RetryAt(at)
    }

    /// The wait before the next attempt: full jitter under the exponential ceiling, but no
    /// shorter than the (capped) wait the server asked for.
    fn delay(
        &self,
        attempts: u32,
        retry_after: Option<Duration>,
        rng: &mut fastrand::Rng,
    ) -> Duration {
        let doublings = attempts.saturating_sub(1).min(100);
        let ceiling = self
            .base_delay
            .as_nanos()
            .saturating_mul(1u128 << doublings)
            .min(self.max_delay.as_nanos());
        let ceiling = u64::try_from(ceiling).unwrap_or(u64::MAX);
        let jittered = Duration::from_nanos(rng.u64(0..=ceiling));
        let asked = retry_after.map_or(Duration::ZERO, |wait| wait.min(self.retry_after_cap));
        jittered.max(asked)
    }
}

/// `t + d`, or the end of time when that overflows (so it is past any deadline).
fn add(t: Timestamp, d: Duration) -> Timestamp {
    t.checked_add(d).unwrap_or(Timestamp::MAX)
}

/// A duration as jiff's friendly format writes it: `1h`, `30m`, `1h 30m`.
fn friendly(d: Duration) -> String {
    match SignedDuration::try_from(d) {
        Ok(d) => format!("{d:#}"),
        Err(_) => format!("{}s", d.as_secs()),
    }
}

#[cfg(test)]
mod tests {
    use std::time::SystemTime;

    use super::*;
    use crate::channels::classify::{classify_http, parse_retry_after};

    fn ts(s: &str) -> Timestamp {
        s.parse().expect("a valid timestamp")
    }

    fn transient(retry_after: Option<Duration>) -> SendError {
        SendError::Transient {
            reason: "HTTP 503 Service Unavailable".into(),
            retry_after,
        }
    }

    /// A policy whose max age never gets in the way of backoff checks.
    fn ageless() -> RetryPolicy {
        RetryPolicy {
            max_age: Duration::from_secs(365 * 24 * 3600),
            max_attempts: 100,
            ..RetryPolicy::default()
        }
    }

    /// The delay `decide` chose, for a retry it scheduled.
    fn delay_of(policy: &RetryPolicy, error: &SendError, attempts: u32, seed: u64) -> Duration {
        let now = ts("2026-03-01T12:00:00Z");
        let mut rng = fastrand::Rng::with_seed(seed);
        match policy.decide(error, attempts, now, now, &mut rng) {
            Decision::RetryAt(at) => {
                Duration::try_from(at.duration_since(now)).expect("not before now")
            }
            other => panic!("expected a retry, got {other:?}"),
        }
    }

    #[test]
    fn default_policy() {
        let p = RetryPolicy::default();
        assert_eq!(p.max_attempts, 8);
        assert_eq!(p.base_delay, Duration::from_secs(1));
        assert_eq!(p.max_delay, Duration::from_secs(300));
        assert_eq!(p.max_age, Duration::from_secs(3600));
        assert_eq!(p.retry_after_cap, Duration::from_secs(600));
    }

    #[test]
    fn backoff_stays_under_the_doubling_ceiling_for_every_seed() {
        let policy = ageless();
        for attempts in 1..=20u32 {
            let ceiling = Duration::from_secs(1u64 << (attempts - 1).min(20)).min(policy.max_delay);
            for seed in 0..500 {
                let delay = delay_of(&policy, &transient(None), attempts, seed);
                assert!(
                    delay <= ceiling,
                    "attempt {attempts}, seed {seed}: {delay:?} > {ceiling:?}"
                );
            }
        }
    }

    #[test]
    fn backoff_jitter_spans_the_whole_range() {
        // Full jitter: at attempt 5 (ceiling 16 s) some delays are near 0 and some near 16 s.
        let delays: Vec<Duration> = (0..500)
            .map(|seed| delay_of(&ageless(), &transient(None), 5, seed))
            .collect();
        assert!(delays.iter().any(|d| *d < Duration::from_secs(1)));
        assert!(delays.iter().any(|d| *d > Duration::from_secs(15)));
    }

    #[test]
    fn backoff_is_reproducible_from_the_seed() {
        let a = delay_of(&ageless(), &transient(None), 4, 42);
        let b = delay_of(&ageless(), &transient(None), 4, 42);
        assert_eq!(a, b);
    }

    #[test]
    fn never_earlier_than_retry_after() {
        let policy = ageless();
        let asked = Duration::from_secs(30);
        for attempts in 1..=12 {
            for seed in 0..500 {
                let delay = delay_of(&policy, &transient(Some(asked)), attempts, seed);
                assert!(delay >= asked, "attempt {attempts}, seed {seed}: {delay:?}");
                assert!(delay <= asked.max(policy.max_delay));
            }
        }
    }

    #[test]
    fn retry_after_is_capped() {
        let policy = ageless();
        let delay = delay_of(
            &policy,
            &transient(Some(Duration::from_secs(24 * 3600))),
            1,
            7,
        );
        assert_eq!(delay, Duration::from_secs(600));
    }

    #[test]
    fn gives_up_after_max_attempts() {
        let policy = RetryPolicy::default();
        let now = ts("2026-03-01T12:00:00Z");
        let mut rng = fastrand::Rng::with_seed(1);
        assert!(matches!(
            policy.decide(&transient(None), 7, now, now, &mut rng),
            Decision::RetryAt(_)
        ));
        assert_eq!(
            policy.decide(&transient(None), 8, now, now, &mut rng),
            Decision::Fail {
                reason: "gave up after 8 attempts: HTTP 503 Service Unavailable".into()
            }
        );
    }

    #[test]
    fn gives_up_when_the_retry_would_be_past_max_age() {
        let policy = RetryPolicy::default();
        let first = ts("2026-03-01T12:00:00Z");
        let now = ts("2026-03-01T12:59:50Z");
        let mut rng = fastrand::Rng::with_seed(1);
        // 10 s left: a server asking for 5 s still fits, one asking for 20 s does not.
        assert_eq!(
            policy.decide(
                &transient(Some(Duration::from_secs(5))),
                2,
                first,
                now,
                &mut rng
            ),
            Decision::RetryAt(ts("2026-03-01T12:59:55Z"))
        );
        assert_eq!(
            policy.decide(
                &transient(Some(Duration::from_secs(20))),
                2,
                first,
                now,
                &mut rng
            ),
            Decision::Fail {
                reason: "gave up after 1h: HTTP 503 Service Unavailable".into()
            }
        );
    }

    #[test]
    fn permanent_fails() {
        let policy = RetryPolicy::default();
        let now = ts("2026-03-01T12:00:00Z");
        let mut rng = fastrand::Rng::with_seed(1);
        let gone = SendError::Permanent {
            reason: "HTTP 410 Gone".into(),
            disable_endpoint: true,
        };
        assert_eq!(
            policy.decide(&gone, 1, now, now, &mut rng),
            Decision::Fail {
                reason: "HTTP 410 Gone".into()
            }
        );
    }

    /// The resend moment of an in-doubt decision, and whether it resends.
    fn in_doubt(decision: Decision) -> (bool, Timestamp) {
        match decision {
            Decision::InDoubt { reason, resend, at } => {
                assert_eq!(reason, "no answer within 30s");
                (resend, at)
            }
            other => panic!("not in doubt: {other:?}"),
        }
    }

    #[test]
    fn in_doubt_is_resent_after_a_back_off_never_back_to_back() {
        let policy = RetryPolicy::default();
        let first = ts("2026-03-01T12:00:00Z");
        let timeout = SendError::InDoubt {
            reason: "no answer within 30s".into(),
        };
        let mut later = 0;
        for seed in 0..200 {
            let mut rng = fastrand::Rng::with_seed(seed);
            let now = first + SignedDuration::from_secs(30);
            let (resend, at) = in_doubt(policy.decide(&timeout, 3, first, now, &mut rng));
            assert!(resend, "resent by default");
            // The third attempt's back-off: up to 1 s × 2² after now.
            assert!(
                at >= now && at <= now + SignedDuration::from_secs(4),
                "{at}"
            );
            later += usize::from(at > now);
        }
        assert!(
            later > 190,
            "jittered after now, not at once: {later} of 200"
        );
    }

    #[test]
    fn in_doubt_is_skipped_where_the_channel_says_so() {
        let policy = RetryPolicy {
            resend_in_doubt: false,
            ..RetryPolicy::default()
        };
        let now = ts("2026-03-01T12:00:00Z");
        let timeout = SendError::InDoubt {
            reason: "no answer within 30s".into(),
        };
        let (resend, _) = in_doubt(policy.decide(&timeout, 1, now, now, &mut fastrand::Rng::new()));
        assert!(!resend);
    }

    #[test]
    fn in_doubt_close_to_max_age_is_resent_at_once() {
        // One more attempt is allowed, but a back-off would pass max_age: resend now.
        let policy = RetryPolicy {
            base_delay: Duration::from_secs(60),
            ..RetryPolicy::default()
        };
        let first = ts("2026-03-01T12:00:00Z");
        let now = ts("2026-03-01T12:59:59Z");
        let timeout = SendError::InDoubt {
            reason: "no answer within 30s".into(),
        };
        let mut resent_now = false;
        for seed in 0..50 {
            let mut rng = fastrand::Rng::with_seed(seed);
            let (resend, at) = in_doubt(policy.decide(&timeout, 5, first, now, &mut rng));
            assert!(resend);
            assert!(at >= now && at <= ts("2026-03-01T13:00:00Z"), "{at}");
            resent_now |= at == now;
        }
        assert!(resent_now, "a back-off past max_age becomes a resend now");
    }

    #[test]
    fn in_doubt_gives_up_like_a_transient_failure() {
        // A receiver that never answers must not be sent the message forever.
        let policy = RetryPolicy::default();
        let first = ts("2026-03-01T12:00:00Z");
        let mut rng = fastrand::Rng::with_seed(1);
        let timeout = SendError::InDoubt {
            reason: "no answer within 30s".into(),
        };
        let (resend, _) = in_doubt(policy.decide(&timeout, 7, first, first, &mut rng));
        assert!(resend);
        assert_eq!(
            policy.decide(&timeout, 8, first, first, &mut rng),
            Decision::Fail {
                reason: "gave up after 8 attempts: no answer within 30s".into()
            }
        );
        assert_eq!(
            policy.decide(&timeout, 2, first, ts("2026-03-01T13:00:01Z"), &mut rng),
            Decision::Fail {
                reason: "gave up after 1h: no answer within 30s".into()
            }
        );
    }

    #[test]
    fn a_429_with_retry_after_waits_at_least_that_long() {
        let now = ts("2015-10-21T07:26:30Z");
        let system_now = SystemTime::try_from(now).unwrap();
        let mut rng = fastrand::Rng::with_seed(3);
        let policy = RetryPolicy::default();
        for (header, wait) in [("2", 2), ("Wed, 21 Oct 2015 07:28:00 GMT", 90)] {
            let error =
                classify_http(429, None, parse_retry_after(header, system_now), b"").unwrap_err();
            assert_eq!(
                error,
                SendError::Transient {
                    reason: "HTTP 429 Too Many Requests".into(),
                    retry_after: Some(Duration::from_secs(wait)),
                }
            );
            let Decision::RetryAt(at) = policy.decide(&error, 1, now, now, &mut rng) else {
                panic!("a 429 is retried");
            };
            assert!(
                at >= now + SignedDuration::from_secs(wait as i64),
                "{header}: {at}"
            );
        }
    }
}
