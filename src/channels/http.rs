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
    url: impl reqwest::IntoUrl,
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
    // The status is the answer. A body cut short (the connection dropped, or the time ran out
    // while reading it) only loses detail: a receiver that said 200 has the message, and
    // calling that a failure would send it again.
    let body = response
        .bytes()
        .await
        .map(|b| b.to_vec())
        .unwrap_or_default();
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

/// A failure before an answer: connecting failed (nothing was sent: transient), the request
/// could not be made (permanent), or it may have gone out and no answer came (in doubt: no
/// answer in time, or the connection broke after connecting). A chat platform does not
/// deduplicate, so calling a broken connection transient would post twice; in doubt, the
/// channel's `in_doubt` setting decides.
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
    } else if e.is_builder() {
        // Nothing went out: the request could not even be made (an unusable address).
        SendError::Permanent {
            reason: format!("cannot make the request to {what}: {}", source_text(&e)),
            disable_endpoint: false,
        }
    } else {
        SendError::InDoubt {
            reason: format!(
                "the connection to {what} broke before it answered: {}",
                source_text(&e)
            ),
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

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// A server on 127.0.0.1 that reads one request (ending in `{}`) and answers `reply`.
    async fn answer_once(reply: &'static [u8]) -> String {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        tokio::spawn(async move {
            let (mut socket, _) = listener.accept().await.unwrap();
            let mut request = Vec::new();
            let mut buf = [0u8; 4096];
            while !(request.windows(4).any(|w| w == b"\r\n\r\n") && request.ends_with(b"{}")) {
                let n = socket.read(&mut buf).await.unwrap();
                assert!(n > 0, "the request ended early");
                request.extend_from_slice(&buf[..n]);
            }
            socket.write_all(reply).await.unwrap();
            socket.shutdown().await.unwrap();
        });
        format!("http://{address}/hook")
    }

    #[tokio::test]
    async fn a_connection_closed_after_the_request_is_in_doubt() {
        let url = answer_once(b"").await;
        let client = client(Duration::from_secs(5)).unwrap();
        let error = post(&client, &url, &[], b"{}".to_vec(), "the Slack webhook")
            .await
            .err()
            .expect("no answer came");
        assert!(
            matches!(&error, SendError::InDoubt { reason } if reason.starts_with(
                "the connection to the Slack webhook broke before it answered"
            )),
            "{error:?}"
        );
    }

    #[tokio::test]
    async fn an_unusable_address_is_permanent_and_not_shown() {
        let client = client(Duration::from_secs(5)).unwrap();
        let error = post(
            &client,
            "T0KEN-and-no-scheme",
            &[],
            Vec::new(),
            "the Slack webhook",
        )
        .await
        .err()
        .expect("nothing can be sent");
        let SendError::Permanent { reason, .. } = &error else {
            panic!("{error:?}")
        };
        assert!(
            reason.starts_with("cannot make the request to the Slack webhook"),
            "{reason}"
        );
        assert!(!reason.contains("T0KEN"), "{reason}");
    }

    #[tokio::test]
    async fn a_body_cut_short_keeps_the_status() {
        let url = answer_once(b"HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\n{\"id\":").await;
        let client = client(Duration::from_secs(5)).unwrap();
        let answer = post(&client, &url, &[], b"{}".to_vec(), "the webhook")
            .await
            .expect("the status arrived: the receiver answered");
        assert_eq!(answer.status, 200);
        assert_eq!(check(&answer, true), Ok(()));
    }

    #[tokio::test]
    async fn an_error_status_with_a_cut_body_is_still_classified() {
        let url = answer_once(
            b"HTTP/1.1 429 Too Many Requests\r\nretry-after: 7\r\ncontent-length: 50\r\n\r\nslow",
        )
        .await;
        let client = client(Duration::from_secs(5)).unwrap();
        let answer = post(&client, &url, &[], b"{}".to_vec(), "the webhook")
            .await
            .unwrap();
        assert_eq!(answer.status, 429);
        assert_eq!(answer.retry_after, Some(Duration::from_secs(7)));
        assert!(matches!(
            check(&answer, true),
            Err(SendError::Transient {
                retry_after: Some(_),
                ..
            })
        ));
    }
}
