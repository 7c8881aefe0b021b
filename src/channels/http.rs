//! The HTTP client every web channel shares: rustls with ring, redirects never followed (a
//! signed webhook must not be replayed to another host), no proxy, every address through the
//! network guard ([`crate::network`]), and errors classified here. URLs can be secrets (Slack
//! and Discord webhook URLs carry their token), so no error ever includes one.

use std::time::{Duration, SystemTime};

use super::classify::{classify_http, discord_retry_after, parse_retry_after};
use super::transport::{Receipt, SendError};
use crate::network::{Guard, Refused};
use crate::secret::Scrubber;

/// The HTTP client of one channel, and the guard every address it sends to passes.
#[derive(Debug, Clone)]
pub struct Client {
    http: reqwest::Client,
    guard: Guard,
    /// Cut out of every error answer before it becomes a reason (see [`Scrubber`]).
    secrets: Scrubber,
}

/// A client for one channel: `timeout` for the whole request; names resolve through `guard`.
/// No proxy: a proxy would connect to addresses the guard never sees.
pub fn client(timeout: Duration, guard: &Guard) -> Result<Client, String> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .dns_resolver(guard.resolver())
        .timeout(timeout)
        .connect_timeout(timeout.min(Duration::from_secs(10)))
        .user_agent(concat!("crier/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| format!("cannot build the HTTP client: {}", e.without_url()))?;
    Ok(Client {
        http,
        guard: guard.clone(),
        secrets: Scrubber::default(),
    })
}

impl Client {
    /// This client with `secrets` cut out of the error answers it reads.
    pub fn scrubbing(mut self, secrets: Scrubber) -> Client {
        self.secrets = secrets;
        self
    }
}

/// A finished exchange: status, body, and the `Location` / `Retry-After` headers.
pub struct Answer {
    pub status: u16,
    pub body: Vec<u8>,
    pub location: Option<String>,
    pub retry_after: Option<Duration>,
}

/// POST `body` (JSON) to `url` with `headers`; a transport failure is classified, never
/// printed with the URL. `what` names the endpoint in errors ("the Slack webhook"). An address
/// the guard refuses is a permanent failure, and nothing is sent.
pub async fn post(
    client: &Client,
    url: url::Url,
    headers: &[(&str, String)],
    body: Vec<u8>,
    what: &str,
) -> Result<Answer, SendError> {
    client
        .guard
        .check_url(&url)
        .map_err(|refused| refusal(&refused, what))?;
    let mut request = client
        .http
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
    let mut body = response
        .bytes()
        .await
        .map(|b| b.to_vec())
        .unwrap_or_default();
    // An error answer is kept as its reason: a receiver may echo the URL (the credential of a
    // chat webhook) or the token it was sent, so both are cut out first.
    if !(200..300).contains(&status) {
        body = client
            .secrets
            .scrub(&String::from_utf8_lossy(&body))
            .into_bytes();
    }
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
    if let Some(refused) = crate::network::refusal(&e) {
        refusal(refused, what)
    } else if e.is_connect() {
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

/// Nothing was sent: the address is internal. Permanent: the same address is refused again.
fn refusal(refused: &Refused, what: &str) -> SendError {
    SendError::Permanent {
        reason: format!("not sent to {what}: {refused}"),
        disable_endpoint: false,
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
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// The guard of these tests: their receivers listen on 127.0.0.1.
    fn loopback() -> Guard {
        Guard::new(vec!["127.0.0.1/32".parse().unwrap()])
    }

    /// A server on 127.0.0.1 that reads one request (ending in `{}`) and answers `reply`.
    async fn answer_once(reply: &'static [u8]) -> url::Url {
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
        url::Url::parse(&format!("http://{address}/hook")).unwrap()
    }

    #[tokio::test]
    async fn a_connection_closed_after_the_request_is_in_doubt() {
        let url = answer_once(b"").await;
        let client = client(Duration::from_secs(5), &loopback()).unwrap();
        let error = post(&client, url, &[], b"{}".to_vec(), "the Slack webhook")
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

    /// A receiver on 127.0.0.1 that answers 200 to anything and counts the connections it
    /// accepted; the URL of the hook is `http://HOST:PORT/hook`.
    async fn counting_receiver() -> (u16, Arc<AtomicUsize>) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let accepted = Arc::new(AtomicUsize::new(0));
        let count = accepted.clone();
        tokio::spawn(async move {
            while let Ok((mut socket, _)) = listener.accept().await {
                count.fetch_add(1, Ordering::SeqCst);
                let mut buf = [0u8; 4096];
                let _ = socket.read(&mut buf).await;
                let _ = socket
                    .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n")
                    .await;
            }
        });
        (port, accepted)
    }

    /// Every spelling of this machine's address, refused before connecting: a permanent
    /// failure naming the host, never the path; the receiver accepts no connection.
    #[tokio::test]
    async fn internal_addresses_are_refused_and_nothing_connects() {
        let (port, accepted) = counting_receiver().await;
        let client = client(Duration::from_secs(5), &Guard::default()).unwrap();
        for host in [
            "127.0.0.1",
            "127.1",
            "2130706433",
            "0x7f000001",
            "0177.0.0.1",
            "0",
            "localhost",
            "[::1]",
            "[::ffff:127.0.0.1]",
        ] {
            let url = url::Url::parse(&format!("http://{host}:{port}/T0KEN")).unwrap();
            let error = post(&client, url, &[], b"{}".to_vec(), "the webhook")
                .await
                .err()
                .unwrap_or_else(|| panic!("{host} was reached"));
            let SendError::Permanent { reason, .. } = &error else {
                panic!("{host}: {error:?}")
            };
            assert!(reason.starts_with("not sent to the webhook: `"), "{reason}");
            assert!(
                reason.contains("is a loopback address")
                    || reason.contains("is the unspecified address"),
                "{reason}"
            );
            assert!(!reason.contains("T0KEN"), "{reason}");
        }
        assert_eq!(accepted.load(Ordering::SeqCst), 0);
    }

    /// A name that resolves to this machine is refused by the resolver, at the address DNS
    /// (here `/etc/hosts`) gave: asked without the check of the URL as written, the client
    /// connects nowhere.
    #[tokio::test]
    async fn a_name_that_resolves_to_an_internal_address_connects_nowhere() {
        let (port, accepted) = counting_receiver().await;
        let guard = Guard::default();
        let client = client(Duration::from_secs(5), &guard).unwrap();
        let error = client
            .http
            .post(format!("http://localhost:{port}/hook"))
            .body("{}")
            .send()
            .await
            .expect_err("localhost resolves to loopback");
        let refused = crate::network::refusal(&error).expect("the guard refused it");
        assert_eq!(refused.host, "localhost");
        assert_eq!(refused.class, crate::network::Class::Loopback);
        assert!(matches!(
            transport_error(error, "the webhook"),
            SendError::Permanent { .. }
        ));
        assert_eq!(accepted.load(Ordering::SeqCst), 0);
    }

    /// The allow list opens its range, through the resolver too.
    #[tokio::test]
    async fn an_allowed_range_is_reached_by_address_and_by_name() {
        let (port, accepted) = counting_receiver().await;
        let client = client(Duration::from_secs(5), &loopback()).unwrap();
        for host in ["127.0.0.1", "localhost"] {
            let url = url::Url::parse(&format!("http://{host}:{port}/hook")).unwrap();
            let answer = post(&client, url, &[], b"{}".to_vec(), "the webhook")
                .await
                .unwrap_or_else(|e| panic!("{host}: {e:?}"));
            assert_eq!(answer.status, 200);
        }
        assert_eq!(accepted.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn a_body_cut_short_keeps_the_status() {
        let url = answer_once(b"HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\n{\"id\":").await;
        let client = client(Duration::from_secs(5), &loopback()).unwrap();
        let answer = post(&client, url, &[], b"{}".to_vec(), "the webhook")
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
        let client = client(Duration::from_secs(5), &loopback()).unwrap();
        let answer = post(&client, url, &[], b"{}".to_vec(), "the webhook")
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
