//! The HTTP client every web channel shares: rustls with ring, redirects never followed (a
//! signed webhook must not be replayed to another host), and errors classified here. URLs can
//! be secrets (Slack and Discord webhook URLs carry their token), so no error ever includes one.

use std::time::{Duration, SystemTime};

use crate::delivery::retry::{classify_http, discord_retry_after, parse_retry_after};
use crate::delivery::{Receipt, SendError};

/// A client for one channel: `timeout` for the whole request.
pub fn client(timeout: Duration) -> Result<reqwest::Client, String> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(timeout)
        .connect_timeout(timeout.min(Duration::from_secs(10)))
        .user_agent(concat!("crier/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| format!("cannot build the HTTP client: {}", e.without_url()))
}

/// A finished exchange: status, body, and the `Location` / `Retry-After` headers.
pub struct Answer {
    pub status: u16,
    pub body: Vec<u8>,
    pub location: Option<String>,
    pub retry_after: Option<Duration>,
}

/// POST `body` (JSON) to `url` with `headers`; a transport failure is classified, never
/// printed with the URL. `what` names the endpoint in errors ("the Slack webhook").
pub async fn post(
    client: &reqwest::Client,
    url: &str,
    headers: &[(&str, String)],
    body: Vec<u8>,
    what: &str,
) -> Result<Answer, SendError> {
    let mut request = client
        .post(url)
        .header("content-type", "application/json")
        .body(body);
    for (name, value) in headers {
        request = request.header(*name, value);
    }
    let response = request.send().await.map_err(|e| transport_error(e, what))?;
    let status = response.status().as_u16();
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    let location = header("location");
    let retry_after = header("retry-after").and_then(|v| parse_retry_after(&v, SystemTime::now()));
    let body = response
        .bytes()
        .await
        .map_err(|e| transport_error(e, what))?
        .to_vec();
    Ok(Answer {
        status,
        body,
        location,
        retry_after,
    })
}

/// Classify an answer; `show_location`: whether the redirect target may appear in the journal.
pub fn check(answer: &Answer, show_location: bool) -> Result<(), SendError> {
    let retry_after = answer.retry_after.or_else(|| {
        (answer.status == 429)
            .then(|| discord_retry_after(&answer.body))
            .flatten()
    });
    let location = if show_location {
        answer.location.as_deref()
    } else {
        None
    };
    classify_http(answer.status, location, retry_after, &answer.body)
}

/// A JSON answer's `id` field, as the provider's id for the message.
pub fn receipt(answer: &Answer) -> Receipt {
    let id = serde_json::from_slice::<serde_json::Value>(&answer.body)
        .ok()
        .and_then(|v| {
            v.get("id")
                .map(|id| id.as_str().map_or_else(|| id.to_string(), str::to_string))
        });
    Receipt { provider_id: id }
}

/// A failure before an answer: connecting failed (nothing was sent: transient) or no answer
/// came in time after the request went out (in doubt).
fn transport_error(e: reqwest::Error, what: &str) -> SendError {
    let e = e.without_url();
    if e.is_connect() {
        SendError::Transient {
            reason: format!("cannot connect to {what}: {}", source_text(&e)),
            retry_after: None,
        }
    } else if e.is_timeout() {
        SendError::InDoubt {
            reason: format!("{what} did not answer in time"),
        }
    } else {
        SendError::Transient {
            reason: format!("the request to {what} failed: {}", source_text(&e)),
            retry_after: None,
        }
    }
}

/// The innermost cause of an error, which says what happened without the URL.
fn source_text(e: &(dyn std::error::Error + 'static)) -> String {
    let mut current = e;
    while let Some(next) = current.source() {
        current = next;
    }
    current.to_string()
}
