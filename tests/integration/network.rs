//! The network guard through the real binary: customer webhook URLs that spell this machine's
//! address in every way reach nothing, are named before anything is sent, fail for good per
//! recipient without holding up the others, and the allow list opens exactly its range. Every
//! receiver here listens on loopback (127.0.0.1, 127.0.0.2, 127.0.0.3): even a guard with a bug
//! could only reach this machine.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::http_support::{blast, journal, project, row, status_json, webhook_channel};
use crate::support::{OUTAGE, Project};

/// The spellings of 127.0.0.1 (and 0.0.0.0) a hostile audience can use.
const SPELLINGS: [&str; 9] = [
    "127.0.0.1",
    "127.1",
    "2130706433",
    "0x7f000001",
    "0177.0.0.1",
    "0",
    "localhost",
    "[::1]",
    "[::ffff:127.0.0.1]",
];

/// A listener on `ip` that counts the connections it accepts and answers none of them.
async fn counting_listener(ip: &str) -> (u16, Arc<AtomicUsize>) {
    let listener = tokio::net::TcpListener::bind((ip, 0)).await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let accepted = Arc::new(AtomicUsize::new(0));
    let count = accepted.clone();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            count.fetch_add(1, Ordering::SeqCst);
            held.push(socket);
        }
    });
    (port, accepted)
}

/// A wiremock server on `ip` answering 204 to every POST.
async fn receiver_on(ip: &str) -> MockServer {
    let listener = std::net::TcpListener::bind((ip, 0)).unwrap();
    let server = MockServer::builder().listener(listener).start().await;
    Mock::given(wiremock::matchers::method("POST"))
        .respond_with(ResponseTemplate::new(204))
        .mount(&server)
        .await;
    server
}

fn stdout(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// `crier blast` as the delivery tests send it, with `extra` arguments.
fn rehearse(p: &Project, extra: &[&str]) -> std::process::Output {
    let args: Vec<&str> = OUTAGE
        .iter()
        .copied()
        .chain(extra.iter().copied())
        .collect();
    p.crier_env(&args, &[("HOOK_SECRET", crate::http_support::SECRET)])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn internal_webhook_urls_reach_nothing_and_the_allow_list_opens_exactly_its_range() {
    let (port, accepted) = counting_listener("127.0.0.1").await;
    let allowed = receiver_on("127.0.0.2").await;
    let not_allowed = receiver_on("127.0.0.3").await;
    let mut rows: Vec<String> = SPELLINGS
        .iter()
        .enumerate()
        .map(|(i, host)| {
            let url = format!("http://{host}:{port}/T0KEN-{i}");
            row(&format!("cus_{}", i + 1), Some(&url), None)
        })
        .collect();
    rows.push(row(
        "cus_10",
        Some(&format!("{}/hook", allowed.uri())),
        None,
    ));
    rows.push(row(
        "cus_11",
        Some(&format!("{}/hook", not_allowed.uri())),
        None,
    ));
    let p = project(&[("hooks", webhook_channel("timeout_secs = 2"))], &rows);
    p.edit("crier.toml", "\"127.0.0.1/32\"", "\"127.0.0.2/32\"");

    // The rehearsal names every refused address, by row and host, never by path.
    let out = rehearse(&p, &["--channels", "hooks", "--dry-run"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(
        text.contains(
            "\n10 messages would go to an internal address; each fails without being sent:\n"
        ),
        "{text}"
    );
    assert!(
        text.contains("  row 2 (`cus_2`) on `hooks`: `127.0.0.1` is a loopback address (this machine); crier does not send to internal networks (to allow it, add its range to `[network] allow_private` in crier.toml)\n"),
        "{text}"
    );
    for expected in [
        "  row 6 (`cus_6`) on `hooks`: `0.0.0.0` is the unspecified address",
        "  row 7 (`cus_7`) on `hooks`: `localhost` is a loopback address",
        "  row 8 (`cus_8`) on `hooks`: `[::1]` is a loopback address",
        "  row 9 (`cus_9`) on `hooks`: `[::ffff:7f00:1]` is a loopback address",
        "  row 11 (`cus_11`) on `hooks`: `127.0.0.3` is a loopback address",
    ] {
        assert!(text.contains(expected), "{expected}\n{text}");
    }
    assert!(!text.contains("row 10 "), "{text}");
    assert!(!text.contains("T0KEN"), "{text}");
    assert!(
        text.contains("Dry run: nothing was planned or sent."),
        "{text}"
    );

    // `--strict` sends nothing while an address is refused.
    let out = rehearse(&p, &["--channels", "hooks", "--strict", "--yes"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("`--strict`: 0 audience rows cannot be used and 10 messages would go to an internal address; nothing was sent"),
        "{}",
        stderr(&out)
    );
    assert!(allowed.received_requests().await.unwrap().is_empty());

    // The blast: the allowed receiver gets its message; nothing else is reached.
    let run = blast(&p, "hooks", &[]);
    assert_eq!(run.code(), Some(1), "{}", run.text());
    assert_eq!(allowed.received_requests().await.unwrap().len(), 1);
    assert!(not_allowed.received_requests().await.unwrap().is_empty());
    assert_eq!(
        accepted.load(Ordering::SeqCst),
        0,
        "a loopback spelling connected"
    );

    // Each refused recipient failed for good after one attempt, with the reason.
    let rows = journal(&p, "hooks").await;
    assert_eq!(rows.len(), 11);
    for r in &rows {
        if r.recipient_id == "cus_10" {
            assert_eq!(r.state, "sent", "{r:?}");
            continue;
        }
        assert_eq!((r.state.as_str(), r.attempts), ("failed", 1), "{r:?}");
        let error = r.last_error.as_deref().unwrap_or_default();
        assert!(error.starts_with("not sent to the webhook: `"), "{error}");
        assert!(
            error.contains("crier does not send to internal networks"),
            "{error}"
        );
        assert!(!error.contains("T0KEN"), "{error}");
    }
    let status = status_json(&p);
    let failures = status["failures"].as_array().unwrap();
    assert_eq!(failures.len(), 10, "{status}");
    assert!(
        failures.iter().any(|f| f["recipient_id"] == "cus_1"
            && f["error"]
                .as_str()
                .unwrap()
                .contains("`127.0.0.1` is a loopback address")),
        "{status}"
    );
}

#[test]
fn a_chat_url_on_an_internal_address_is_refused_before_anything_is_sent() {
    let p = project(
        &[(
            "ops",
            "type = \"slack\"\nurl_env = \"OPS_SLACK_URL\"\n".to_string(),
        )],
        &[row("cus_1", None, None)],
    );
    p.edit("crier.toml", "\"127.0.0.1/32\"", "\"127.0.0.2/32\"");
    // `check` sends nothing: the metadata address is only classified.
    let env = [("OPS_SLACK_URL", "http://169.254.169.254/services/T0KEN")];
    let out = p.crier_env(&["check"], &env);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains("error: channel `ops`: the value of `OPS_SLACK_URL`: `169.254.169.254` is a link-local address (where clouds serve instance metadata)"),
        "{err}"
    );
    assert!(!err.contains("T0KEN"), "{err}");
    // The blast's preflight refuses the same way. (Its URL is on loopback: a blast with a
    // broken guard must not send anywhere else.)
    let env = [("OPS_SLACK_URL", "http://127.0.0.3:9/services/T0KEN")];
    let args: Vec<&str> = OUTAGE
        .iter()
        .copied()
        .chain(["--channels", "ops", "--yes"])
        .collect();
    let out = p.crier_env(&args, &env);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("the value of `OPS_SLACK_URL`: `127.0.0.3` is a loopback address"),
        "{}",
        stderr(&out)
    );
    assert!(!stderr(&out).contains("T0KEN"), "{}", stderr(&out));
    let status = p.crier(&["status", "INC-1"]);
    assert_eq!(
        status.status.code(),
        Some(2),
        "nothing was sent: {}",
        stdout(&status)
    );
}

#[test]
fn check_says_when_the_allow_list_opens_internal_ranges() {
    let p = Project::init();
    let out = p.crier(&["check"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(!stderr(&out).contains("allow_private"), "{}", stderr(&out));
    crate::http_support::allow_loopback(&p);
    let out = p.crier(&["check"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("note: `[network] allow_private` lets the web channels reach 127.0.0.1/32 on purpose; every other internal address is refused."),
        "{}",
        stderr(&out)
    );
    let out = p.crier(&["check", "--json"]);
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        json["network"]["allow_private"],
        serde_json::json!(["127.0.0.1/32"])
    );
}
