//! What a server's answer means for a message, classified where it happened: an HTTP status
//! with [`classify_http`], an SMTP reply with [`classify_smtp`], a wait the server asked for
//! with [`parse_retry_after`] or [`discord_retry_after`]. Each channel's transport calls these
//! to turn an answer into a [`SendError`]; the delivery engine's retry policy decides what
//! follows. Reasons quote the server's text cut to a one-line snippet, never a URL.

use std::time::{Duration, SystemTime};

use super::transport::SendError;

/// How many characters of a response body or server text a reason quotes.
const SNIPPET_CHARS: usize = 200;

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
