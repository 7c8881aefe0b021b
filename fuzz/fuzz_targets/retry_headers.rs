//! The parsers of what a server answers (`channels::classify`, `channels::http`, `channels::smtp`):
//! `Retry-After` (seconds or an HTTP date), Discord's `retry_after` body, the classification
//! of an HTTP status or SMTP reply with the server's text, the provider id of a JSON answer,
//! and the SMTP server address. Never a panic; seconds and dates round-trip; a reason is one
//! short line of printable text.
#![no_main]

use std::time::{Duration, UNIX_EPOCH};

use crier::channels::{http, smtp};
use crier::channels::classify::{
    classify_http, classify_smtp, discord_retry_after, parse_retry_after,
};
use crier::channels::transport::SendError;
use libfuzzer_sys::arbitrary::{self, Arbitrary};
use libfuzzer_sys::fuzz_target;

#[path = "common.rs"]
mod common;

/// The numbers, then `Retry-After` 0xFF `Location` 0xFF body 0xFF SMTP text 0xFF SMTP URL.
#[derive(Debug, Arbitrary)]
struct Numbers<'a> {
    now: u64,
    seconds: u64,
    date: u64,
    fraction: f64,
    status: u16,
    smtp_code: u16,
    rest: &'a [u8],
}

#[derive(Debug)]
struct Input<'a> {
    retry_after: &'a str,
    now: u64,
    seconds: u64,
    date: u64,
    fraction: f64,
    status: u16,
    location: Option<&'a str>,
    body: &'a [u8],
    smtp_code: u16,
    smtp_text: &'a str,
    smtp_url: &'a str,
}

/// The latest second an HTTP date can name: 9999-12-31T23:59:59Z.
const LAST_HTTP_DATE: u64 = 253_402_300_799;

/// A reason as the journal keeps it: one line, no control or bidi-override characters, and
/// the server's text cut to 200 characters.
fn check_reason(reason: &str, prefix: &str) {
    assert!(
        reason.starts_with(prefix),
        "{reason:?} starts with {prefix:?}"
    );
    assert!(
        !reason.chars().any(|c| c.is_control()
            || matches!(c, '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')),
        "{reason:?}"
    );
    assert!(
        reason.chars().count() <= 200 + 200,
        "{} characters",
        reason.chars().count()
    );
}

fn check_error(error: &SendError, prefix: &str) {
    match error {
        SendError::Transient { reason, .. }
        | SendError::Permanent { reason, .. }
        | SendError::InDoubt { reason } => check_reason(reason, prefix),
    }
}

fuzz_target!(|numbers: Numbers<'_>| {
    let [retry_after, location, body, smtp_text, smtp_url] = common::texts(numbers.rest);
    let (retry_after, location) = (common::text(retry_after), common::text(location));
    let (smtp_text, smtp_url) = (common::text(smtp_text), common::text(smtp_url));
    let input = Input {
        retry_after: &retry_after,
        now: numbers.now,
        seconds: numbers.seconds,
        date: numbers.date,
        fraction: numbers.fraction,
        status: numbers.status,
        location: (!location.is_empty()).then_some(&*location),
        body,
        smtp_code: numbers.smtp_code,
        smtp_text: &smtp_text,
        smtp_url: &smtp_url,
    };
    let now = UNIX_EPOCH + Duration::from_secs(input.now % (LAST_HTTP_DATE + 1));

    // Retry-After as sent: never a panic, and a wait no longer than what it names.
    let parsed = parse_retry_after(input.retry_after, now);
    let trimmed = input.retry_after.trim();
    if !trimmed.is_empty() && trimmed.bytes().all(|b| b.is_ascii_digit()) {
        let expected = trimmed.parse().unwrap_or(u64::MAX);
        assert_eq!(parsed, Some(Duration::from_secs(expected)));
    } else if let Some(wait) = parsed {
        let at = httpdate::parse_http_date(trimmed).expect("a wait that is not seconds is a date");
        assert_eq!(wait, at.duration_since(now).unwrap_or(Duration::ZERO));
    }
    // Seconds and HTTP dates round-trip.
    assert_eq!(
        parse_retry_after(&input.seconds.to_string(), now),
        Some(Duration::from_secs(input.seconds))
    );
    let date = UNIX_EPOCH + Duration::from_secs(input.date % (LAST_HTTP_DATE + 1));
    let expected = date.duration_since(now).unwrap_or(Duration::ZERO);
    assert_eq!(
        parse_retry_after(&httpdate::fmt_http_date(date), now),
        Some(expected)
    );
    assert_eq!(
        parse_retry_after(&format!("  {}\t", httpdate::fmt_http_date(date)), now),
        Some(expected)
    );

    // Discord's body: any bytes; a number round-trips through JSON.
    if let Some(wait) = discord_retry_after(input.body) {
        let value: serde_json::Value = serde_json::from_slice(input.body).expect("JSON");
        let seconds = value["retry_after"].as_f64().expect("a number");
        assert!(seconds >= 0.0 && seconds.is_finite());
        assert_eq!(Some(wait), Duration::try_from_secs_f64(seconds).ok());
    }
    if input.fraction.is_finite() {
        let body = serde_json::json!({ "retry_after": input.fraction, "global": false });
        let wait = discord_retry_after(body.to_string().as_bytes());
        // serde_json reads a float to within an ulp or so, not always exactly (its
        // `float_roundtrip` feature is off): a wait of 1e11 s may differ by 15 µs.
        match (wait, Duration::try_from_secs_f64(input.fraction).ok()) {
            (Some(a), Some(b)) => {
                let error = (a.as_secs_f64() - b.as_secs_f64()).abs();
                assert!(error <= b.as_secs_f64() * 1e-15 + 1e-9, "{a:?} for {b:?}");
            }
            (None, None) => {}
            (a, b) => assert!(input.fraction > 1.8e19, "{a:?} for {b:?}"),
        }
        if input.fraction < 0.0 {
            assert!(wait.is_none_or(|w| w.is_zero()));
        }
    }

    // An HTTP answer: classified by status alone, with a printable reason.
    let wait = parsed;
    let result = classify_http(input.status, input.location, wait, input.body);
    match input.status {
        200..=299 => assert!(result.is_ok()),
        _ => {
            let error = result.expect_err("only 2xx succeeds");
            check_error(&error, &format!("HTTP {}", input.status));
            let transient = matches!(input.status, 408 | 429 | 500..=599) && input.status != 501;
            match &error {
                SendError::Transient { retry_after, .. } => {
                    assert!(transient);
                    assert_eq!(*retry_after, wait);
                }
                SendError::Permanent {
                    disable_endpoint, ..
                } => {
                    assert!(!transient);
                    assert_eq!(*disable_endpoint, input.status == 410);
                }
                SendError::InDoubt { .. } => panic!("a status is an answer"),
            }
        }
    }
    let answer = http::Answer {
        status: input.status,
        body: input.body.to_vec(),
        location: input.location.map(str::to_string),
        retry_after: wait,
    };
    for show_location in [false, true] {
        if let Err(error) = http::check(&answer, show_location) {
            check_error(&error, "HTTP ");
            if let SendError::Transient { retry_after, .. } = error {
                if wait.is_some() {
                    assert_eq!(retry_after, wait, "Retry-After wins over the body");
                }
            }
        }
    }
    let _ = http::receipt(&answer);

    // An SMTP reply.
    match classify_smtp(input.smtp_code, input.smtp_text) {
        Ok(()) => assert!((200..=399).contains(&input.smtp_code)),
        Err(error) => check_error(&error, &format!("SMTP {}", input.smtp_code)),
    }

    // The SMTP server address: plain SMTP only to this machine.
    if let Ok(server) = smtp::server(input.smtp_url) {
        if server.security == smtp::Security::Plain {
            // `smtp:` is no special scheme: the URL keeps its host as written.
            let url = url::Url::parse(input.smtp_url).expect("a server is a URL");
            let host = url.host_str().unwrap_or_default();
            let loopback = host == "localhost"
                || host
                    .trim_start_matches('[')
                    .trim_end_matches(']')
                    .parse::<std::net::IpAddr>()
                    .is_ok_and(|ip| ip.is_loopback());
            assert!(loopback, "plain SMTP to {:?}", url.host_str());
        }
    }
});
