//! A provider that echoes what it was sent — the chat webhook URL it was called on (whose path
//! is the credential), the bearer token — never gets a secret into the journal, `status`,
//! `report` in any format, or what `crier serve` answers and logs. One secret comes from a
//! `NAME_FILE`, as Docker and Kubernetes hand them over. Every receiver is on 127.0.0.1.

use std::time::{Duration, Instant};

use base64::Engine as _;
use wiremock::matchers::{method, path, path_regex};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

use crate::http_support::{blast, project, row};
use crate::support::{stderr, stdout};

const SLACK_TOKEN: &str = "CANARY-SLACK-ECHO-5e1f";
const INTERCOM_TOKEN: &str = "CANARY-INTERCOM-TOKEN-8b2c";
const SUPPORT_TOKEN: &str = "CANARY-SUPPORT-TOKEN-3d9a";
const API_TOKEN: &str = "CANARY-API-TOKEN-6c1e";

/// Every form a secret could leak in: as given, URL-encoded, JSON-escaped, base64.
fn canaries(slack_url: &str) -> Vec<String> {
    let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
    let encoded = |s: &str| url::form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
    let mut all = vec![
        slack_url.to_string(),
        encoded(slack_url),
        slack_url.replace('/', "\\/"),
    ];
    for token in [SLACK_TOKEN, INTERCOM_TOKEN, SUPPORT_TOKEN, API_TOKEN] {
        all.push(token.to_string());
        all.push(b64(token).trim_end_matches('=').to_string());
    }
    all
}

fn leaks(canaries: &[String], bytes: &[u8]) -> Vec<String> {
    canaries
        .iter()
        .filter(|c| bytes.windows(c.len()).any(|w| w == c.as_bytes()))
        .cloned()
        .collect()
}

/// Answers 500, quoting the URL it was called on in three forms.
fn echo_url(request: &Request) -> ResponseTemplate {
    let url = request.url.to_string();
    let encoded: String = url::form_urlencoded::byte_serialize(url.as_bytes()).collect();
    ResponseTemplate::new(500).set_body_string(format!(
        "{{\"error\":\"no such hook\",\"url\":\"{}\",\"path\":\"{}\",\"encoded\":\"{encoded}\"}}",
        url.replace('/', "\\/"),
        request.url.path()
    ))
}

/// Answers 401, quoting the bearer token it was sent.
fn echo_token(request: &Request) -> ResponseTemplate {
    let auth = request
        .headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    ResponseTemplate::new(401).set_body_string(format!(
        "{{\"type\":\"error.list\",\"errors\":[{{\"code\":\"token_not_found\",\"message\":\"{auth} is not a token we know\"}}]}}"
    ))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_echoed_credential_is_cut_before_it_is_kept_or_shown() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path_regex("^/services/"))
        .respond_with(echo_url)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/messages"))
        .respond_with(echo_token)
        .mount(&server)
        .await;
    let uri = server.uri();
    let slack_url = format!("{uri}/services/T0CANARY/B0CANARY/{SLACK_TOKEN}");
    let p = project(
        &[
            (
                "chat",
                "type = \"slack\"\nurl_env = \"ECHO_SLACK_URL\"\nmax_attempts = 1\n".to_string(),
            ),
            (
                "intercom",
                format!(
                    "type = \"intercom\"\ntoken_env = \"ECHO_INTERCOM_TOKEN\"\nadmin_id = \"1\"\n\
                     mode = \"messages\"\napi_base = \"{uri}\"\nmax_attempts = 1\n"
                ),
            ),
        ],
        &[
            row("cus_1", None, Some("icu_1")),
            row("cus_2", None, Some("icu_2")),
        ],
    );
    let secret_file = p.root().parent().unwrap().join("slack-url");
    std::fs::write(&secret_file, format!("{slack_url}\n")).unwrap();
    let env = [
        ("ECHO_SLACK_URL_FILE", secret_file.display().to_string()),
        ("ECHO_INTERCOM_TOKEN", INTERCOM_TOKEN.to_string()),
    ];
    let run = blast(&p, "chat,intercom", &env);
    assert_eq!(run.code(), Some(1), "{}", run.text());
    // The receivers did echo: the secrets were really in their answers.
    assert_eq!(server.received_requests().await.unwrap().len(), 3);

    let canaries = canaries(&slack_url);
    let mut seen: Vec<(String, Vec<u8>)> = vec![
        ("blast stdout".into(), run.out.stdout.clone()),
        ("blast stderr".into(), run.out.stderr.clone()),
    ];
    let status = p.crier(&["status", "INC-1", "--json"]);
    let json: serde_json::Value = serde_json::from_slice(&status.stdout).unwrap();
    let errors: Vec<&str> = json["failures"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["error"].as_str().unwrap())
        .collect();
    assert_eq!(errors.len(), 3, "{json}");
    assert!(
        errors.iter().any(|e| e.ends_with("HTTP 500 Internal Server Error: {\"error\":\"no such hook\",\"url\":\"http:\\/\\/localhost***\",\"path\":\"***\",\"encoded\":\"http%3A%2F%2Flocalhost***\"}")),
        "{errors:?}"
    );
    assert!(
        errors
            .iter()
            .any(|e| e.contains("\"message\":\"Bearer *** is not a token we know\"")),
        "{errors:?}"
    );
    seen.push(("status --json".into(), status.stdout));
    seen.push(("status".into(), p.crier(&["status", "INC-1"]).stdout));
    for format in ["markdown", "html", "json"] {
        let out = p.crier(&["report", "INC-1", "--format", format]);
        assert!(out.status.success(), "{}", stderr(&out));
        seen.push((format!("report --format {format}"), out.stdout));
    }

    // `crier serve`: its public answers, the staff page, the API's refusal, and its log.
    let (server_process, listen) = crate::server::serve(
        &p,
        &[
            ("CRIER_SUPPORT_TOKEN", SUPPORT_TOKEN),
            ("CRIER_API_TOKEN", API_TOKEN),
        ],
    );
    let client = crate::support::http_client(Duration::from_secs(5));
    let base = format!("http://{listen}");
    let started = Instant::now();
    while client.get(format!("{base}/healthz")).send().await.is_err() {
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "crier serve did not start"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    for route in ["/", "/v1/status.json", "/metrics", "/support"] {
        let answer = client
            .get(format!("{base}{route}"))
            .bearer_auth(SUPPORT_TOKEN)
            .send()
            .await
            .unwrap();
        assert!(answer.status().is_success(), "{route}: {}", answer.status());
        seen.push((
            format!("GET {route}"),
            answer.bytes().await.unwrap().to_vec(),
        ));
    }
    let refused = client
        .post(format!("{base}/v1/blasts"))
        .bearer_auth(format!("{API_TOKEN}-wrong"))
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status().as_u16(), 401);
    seen.push((
        "POST /v1/blasts".into(),
        refused.bytes().await.unwrap().to_vec(),
    ));
    let pid = server_process.child.id().to_string();
    let _ = std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status();
    let served = server_process.wait_at_most(Duration::from_secs(20));
    seen.push(("serve stdout".into(), served.stdout.clone()));
    seen.push(("serve stderr".into(), served.stderr.clone()));
    assert!(
        stderr(&served).contains("/v1/blasts"),
        "the refused call is logged: {}{}",
        stdout(&served),
        stderr(&served)
    );

    for (what, bytes) in &seen {
        assert_eq!(leaks(&canaries, bytes), Vec::<String>::new(), "{what}");
    }
    let journal = std::fs::read(p.root().join("crier.db")).unwrap();
    assert_eq!(leaks(&canaries, &journal), Vec::<String>::new(), "crier.db");
}
