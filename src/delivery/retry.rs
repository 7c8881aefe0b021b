//! Retries, decided in one place.
//!
//! A channel sender classifies what the server answered where it happened — an HTTP status
//! with [`classify_http`], an SMTP reply with [`classify_smtp`], a wait the server asked for
//! with [`parse_retry_after`] or [`discord_retry_after`] — into a [`SendError`]. The
//! channel's [`RetryPolicy`] then turns that error into the next journal state: a
//! [`Decision`] to retry at a moment, to fail, or to leave the row in doubt.

use std::time::{Duration, SystemTime};

use jiff::{SignedDuration, Timestamp};

use super::SendError;

/// How many characters of a response body or server text a reason quotes.
const SNIPPET_CHARS: usize = 200;

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
}

impl Default for RetryPolicy {
    /// 8 attempts, 1 s base delay, 5 min max delay, 1 h max age, `Retry-After` capped at 10 min.
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 8,
            base_delay: Duration::from_secs(1),
            max_delay: Duration::from_secs(5 * 60),
            max_age: Duration::from_secs(60 * 60),
            retry_after_cap: Duration::from_secs(10 * 60),
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
    /// The receiver may have the message; the caller decides by its `in_doubt` setting.
    InDoubt { reason: String },
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
    /// without them an endpoint that never answers would be retried forever.
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
                    Decision::InDoubt {
                        reason: reason.clone(),
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

/// `Retry-After` in seconds (`"2"`, `"120"`) or as an HTTP-date
/// (`"Wed, 21 Oct 2015 07:28:00 GMT"`) relative to `now`; a date in the past →
/// `Duration::ZERO`; anything else → `None`.
pub fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) {
        // All digits: only too many of them fails to parse, and that is a very long wait.
        return Some(Duration::from_secs(value.parse().unwrap_or(u64::MAX)));
    }
    let at = httpdate::parse_http_date(value).ok()?;
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}

/// Discord puts `retry_after` (seconds, may be fractional like `1.5`) in the JSON body of
/// its 429 answers; read it. Anything else (not JSON, missing, negative) → `None`.
pub fn discord_retry_after(body: &[u8]) -> Option<Duration> {
    let value: serde_json::Value = serde_json::from_slice(body).ok()?;
    let seconds = value.get("retry_after")?.as_f64()?;
    Duration::try_from_secs_f64(seconds).ok()
}

/// Classify an HTTP status.
///
/// 2xx → `Ok(())`; 408, 429 and 500–599 except 501 → Transient (with `retry_after`);
/// 410 → Permanent with `disable_endpoint`; 3xx → Permanent naming `location`, since
/// crier never follows redirects; every other status → Permanent. The reason reads
/// `HTTP 503 Service Unavailable: <start of the body>`.
pub fn classify_http(
    status: u16,
    location: Option<&str>,
    retry_after: Option<Duration>,
    body: &[u8],
) -> Result<(), SendError> {
    let permanent = |reason| SendError::Permanent {
        reason,
        disable_endpoint: false,
    };
    match status {
        200..=299 => Ok(()),
        501 => Err(permanent(http_reason(status, body))),
        408 | 429 | 500..=599 => Err(SendError::Transient {
            reason: http_reason(status, body),
            retry_after,
        }),
        410 => Err(SendError::Permanent {
            reason: http_reason(status, body),
            disable_endpoint: true,
        }),
        300..=399 => Err(permanent(redirect_reason(status, location))),
        _ => Err(permanent(http_reason(status, body))),
    }
}

/// Classify an SMTP reply code: 2xx/3xx → `Ok(())`; 4xx → Transient; anything else (5xx)
/// → Permanent. The reason reads `SMTP 451: <text>`.
pub fn classify_smtp(code: u16, text: &str) -> Result<(), SendError> {
    let text = snippet(text);
    let reason = if text.is_empty() {
        format!("SMTP {code}")
    } else {
        format!("SMTP {code}: {text}")
    };
    match code {
        200..=399 => Ok(()),
        400..=499 => Err(SendError::Transient {
            reason,
            retry_after: None,
        }),
        _ => Err(SendError::Permanent {
            reason,
            disable_endpoint: false,
        }),
    }
}

/// `HTTP 503 Service Unavailable`, then `: <start of the body>` when there is one.
fn http_reason(status: u16, body: &[u8]) -> String {
    let body = snippet(&String::from_utf8_lossy(body));
    let head = status_line(status);
    if body.is_empty() {
        head
    } else {
        format!("{head}: {body}")
    }
}

/// Why a redirect fails: the body of a redirect is boilerplate, so only the target is named.
fn redirect_reason(status: u16, location: Option<&str>) -> String {
    let target = match location.map(snippet) {
        Some(url) if !url.is_empty() => format!("redirected to {url}"),
        _ => "redirected (no `Location` given)".to_string(),
    };
    format!(
        "{}: {target}, which crier never follows for signed webhooks; update the URL",
        status_line(status)
    )
}

/// `HTTP 503 Service Unavailable`, or `HTTP 599` for a status without a common phrase.
fn status_line(status: u16) -> String {
    match reason_phrase(status) {
        Some(phrase) => format!("HTTP {status} {phrase}"),
        None => format!("HTTP {status}"),
    }
}

/// The canonical reason phrase of the statuses webhook receivers commonly answer.
fn reason_phrase(status: u16) -> Option<&'static str> {
    Some(match status {
        300 => "Multiple Choices",
        301 => "Moved Permanently",
        302 => "Found",
        303 => "See Other",
        304 => "Not Modified",
        307 => "Temporary Redirect",
        308 => "Permanent Redirect",
        400 => "Bad Request",
        401 => "Unauthorized",
        402 => "Payment Required",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        406 => "Not Acceptable",
        408 => "Request Timeout",
        409 => "Conflict",
        410 => "Gone",
        411 => "Length Required",
        413 => "Content Too Large",
        415 => "Unsupported Media Type",
        422 => "Unprocessable Content",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        _ => return None,
    })
}

/// Server text fit for a one-line reason: control and bidi-override characters become
/// spaces, runs of whitespace one space, and it stops after [`SNIPPET_CHARS`] characters.
fn snippet(text: &str) -> String {
    let cleaned: String = text
        .chars()
        .map(|c| {
            if c.is_control() || is_bidi_control(c) {
                ' '
            } else {
                c
            }
        })
        .collect();
    let words = cleaned.split_whitespace().collect::<Vec<_>>().join(" ");
    match words.char_indices().nth(SNIPPET_CHARS) {
        Some((cut, _)) => format!("{}…", &words[..cut]),
        None => words,
    }
}

/// Characters that reorder how the text around them is shown.
fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

#[cfg(test)]
mod tests {
    use super::*;

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
    fn permanent_fails_and_in_doubt_is_left_to_the_caller() {
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
        let timeout = SendError::InDoubt {
            reason: "no answer within 30s".into(),
        };
        assert_eq!(
            policy.decide(&timeout, 1, now, now, &mut rng),
            Decision::InDoubt {
                reason: "no answer within 30s".into()
            }
        );
    }

    #[test]
    fn in_doubt_gives_up_like_a_transient_failure() {
        // A receiver that never answers must not be sent the message forever.
        let policy = RetryPolicy::default();
        let first = ts("2026-03-01T12:00:00Z");
        let mut rng = fastrand::Rng::with_seed(1);
        let timeout = SendError::InDoubt {
            reason: "the webhook did not answer in time".into(),
        };
        assert_eq!(
            policy.decide(&timeout, 7, first, first, &mut rng),
            Decision::InDoubt {
                reason: "the webhook did not answer in time".into()
            }
        );
        assert_eq!(
            policy.decide(&timeout, 8, first, first, &mut rng),
            Decision::Fail {
                reason: "gave up after 8 attempts: the webhook did not answer in time".into()
            }
        );
        assert_eq!(
            policy.decide(&timeout, 2, first, ts("2026-03-01T13:00:01Z"), &mut rng),
            Decision::Fail {
                reason: "gave up after 1h: the webhook did not answer in time".into()
            }
        );
    }

    #[test]
    fn retry_after_in_seconds_or_as_a_date() {
        let now = httpdate::parse_http_date("Wed, 21 Oct 2015 07:26:30 GMT").unwrap();
        assert_eq!(parse_retry_after("2", now), Some(Duration::from_secs(2)));
        assert_eq!(
            parse_retry_after(" 120 ", now),
            Some(Duration::from_secs(120))
        );
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now),
            Some(Duration::from_secs(90))
        );
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:00:00 GMT", now),
            Some(Duration::ZERO)
        );
        assert_eq!(
            parse_retry_after("99999999999999999999999", now),
            Some(Duration::from_secs(u64::MAX))
        );
        for garbage in ["", "soon", "-1", "1.5", "2 s", "Wed, 21 Oct 2015"] {
            assert_eq!(parse_retry_after(garbage, now), None, "{garbage:?}");
        }
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

    #[test]
    fn discord_retry_after_from_the_body() {
        let body =
            br#"{"message": "You are being rate limited.", "retry_after": 1.5, "global": false}"#;
        assert_eq!(discord_retry_after(body), Some(Duration::from_millis(1500)));
        assert_eq!(
            discord_retry_after(br#"{"retry_after": 3}"#),
            Some(Duration::from_secs(3))
        );
        for body in [
            &b""[..],
            b"<html>",
            br#"{"message": "x"}"#,
            br#"{"retry_after": -1}"#,
            br#"{"retry_after": "2"}"#,
        ] {
            assert_eq!(discord_retry_after(body), None);
        }
    }

    #[test]
    fn http_success() {
        for status in [200, 201, 202, 204, 299] {
            assert_eq!(classify_http(status, None, None, b"ok"), Ok(()));
        }
    }

    #[test]
    fn http_transient_statuses() {
        let wait = Some(Duration::from_secs(5));
        for status in [408, 429, 500, 502, 503, 504, 599] {
            match classify_http(status, None, wait, b"") {
                Err(SendError::Transient { retry_after, .. }) => assert_eq!(retry_after, wait),
                other => panic!("{status}: {other:?}"),
            }
        }
        assert_eq!(
            classify_http(503, None, None, b"upstream\r\n\tdown\x1b"),
            Err(SendError::Transient {
                reason: "HTTP 503 Service Unavailable: upstream down".into(),
                retry_after: None,
            })
        );
    }

    #[test]
    fn http_permanent_statuses() {
        for status in [100, 400, 401, 403, 404, 405, 409, 413, 422, 451, 501, 600] {
            match classify_http(status, None, Some(Duration::from_secs(5)), b"") {
                Err(SendError::Permanent {
                    disable_endpoint: false,
                    ..
                }) => {}
                other => panic!("{status}: {other:?}"),
            }
        }
        assert_eq!(
            classify_http(501, None, None, b""),
            Err(SendError::Permanent {
                reason: "HTTP 501 Not Implemented".into(),
                disable_endpoint: false,
            })
        );
        assert_eq!(
            classify_http(418, None, None, b"teapot"),
            Err(SendError::Permanent {
                reason: "HTTP 418: teapot".into(),
                disable_endpoint: false,
            })
        );
    }

    #[test]
    fn http_410_disables_the_endpoint() {
        assert_eq!(
            classify_http(410, None, None, b"endpoint deleted"),
            Err(SendError::Permanent {
                reason: "HTTP 410 Gone: endpoint deleted".into(),
                disable_endpoint: true,
            })
        );
    }

    #[test]
    fn http_redirects_are_not_followed() {
        assert_eq!(
            classify_http(302, Some("https://new.example/hook"), None, b"<a>moved</a>"),
            Err(SendError::Permanent {
                reason:
                    "HTTP 302 Found: redirected to https://new.example/hook, which crier never \
                         follows for signed webhooks; update the URL"
                        .into(),
                disable_endpoint: false,
            })
        );
        let Err(SendError::Permanent { reason, .. }) = classify_http(301, None, None, b"") else {
            panic!("a redirect is permanent");
        };
        assert_eq!(
            reason,
            "HTTP 301 Moved Permanently: redirected (no `Location` given), which crier never \
             follows for signed webhooks; update the URL"
        );
    }

    #[test]
    fn http_body_is_cut_to_a_snippet() {
        let body = "x".repeat(1000);
        let Err(SendError::Permanent { reason, .. }) =
            classify_http(400, None, None, body.as_bytes())
        else {
            panic!("a 400 is permanent");
        };
        assert_eq!(
            reason,
            format!("HTTP 400 Bad Request: {}…", "x".repeat(200))
        );
        // Invalid UTF-8 and bidi overrides do not reach the reason.
        let Err(SendError::Permanent { reason, .. }) =
            classify_http(400, None, None, b"bad \xff \xe2\x80\xaefield")
        else {
            panic!("a 400 is permanent");
        };
        assert_eq!(reason, "HTTP 400 Bad Request: bad \u{FFFD} field");
    }

    #[test]
    fn smtp_replies() {
        assert_eq!(classify_smtp(250, "OK"), Ok(()));
        assert_eq!(classify_smtp(354, "Start mail input"), Ok(()));
        assert_eq!(
            classify_smtp(451, "4.7.1 Try again later\r\n"),
            Err(SendError::Transient {
                reason: "SMTP 451: 4.7.1 Try again later".into(),
                retry_after: None,
            })
        );
        assert_eq!(
            classify_smtp(550, "5.1.1 <a@b.example>: Recipient address rejected"),
            Err(SendError::Permanent {
                reason: "SMTP 550: 5.1.1 <a@b.example>: Recipient address rejected".into(),
                disable_endpoint: false,
            })
        );
        assert_eq!(
            classify_smtp(554, ""),
            Err(SendError::Permanent {
                reason: "SMTP 554".into(),
                disable_endpoint: false,
            })
        );
    }
}
