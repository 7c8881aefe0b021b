//! Next-update promises: `crier run-due` (the real binary, its clock set with `CRIER_NOW`)
//! nudges the internal channel once before the promised update is due and once when it is
//! missed, never on every pass; with `auto_holding_update` the holding update goes out once
//! and is on the timeline as sent by crier.

use wiremock::matchers::method;
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::support::{OUTAGE, Project, files, stderr, stdout};

/// `crier run-due` at `at`, with the ops Slack webhook at `url`.
fn run_due(p: &Project, at: &str, url: &str) -> String {
    let out = p.crier_env(&["run-due"], &[("CRIER_NOW", at), ("OPS_SLACK_URL", url)]);
    assert!(out.status.success(), "run-due at {at}: {}", stderr(&out));
    stdout(&out)
}

async fn bodies(server: &MockServer) -> Vec<String> {
    server
        .received_requests()
        .await
        .unwrap_or_default()
        .iter()
        .map(|r| String::from_utf8_lossy(&r.body).into_owned())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missed_promise_nudges_the_people_on_duty_once_and_the_holding_update_goes_out_once() {
    let slack = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_body_string("ok"))
        .mount(&slack)
        .await;
    let url = format!("{}/services/T000/B000/XXXX", slack.uri());
    let p = Project::init();
    crate::http_support::allow_loopback(&p);
    p.write(
        "channels/ops-slack.toml",
        "type = \"slack\"\nurl_env = \"OPS_SLACK_URL\"\ninternal = true\n",
    );
    // At 14:05 CET the outage notice promises the next update "in 30 minutes": 14:35 CET.
    let out = p.crier_env(
        &[&OUTAGE[..], &["--yes"]].concat(),
        &[("OPS_SLACK_URL", &url)],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("Next update promised for 14:35 CET"),
        "{}",
        stdout(&out)
    );
    assert!(
        bodies(&slack).await.is_empty(),
        "customer messages never go to an internal channel"
    );

    let out = p.crier_env(&["status"], &[("CRIER_NOW", "2026-11-26T13:10:30Z")]);
    assert!(
        stdout(&out).contains("Next update promised for 14:35 CET (in 25 minutes)"),
        "{}",
        stdout(&out)
    );

    // Nothing at 14:10; at 14:25 (10 minutes before) one nudge, then nothing on later passes
    // until 14:35, when the promise is missed: a second nudge, and no more after.
    assert_eq!(run_due(&p, "2026-11-26T13:10:00Z", &url), "");
    let said = run_due(&p, "2026-11-26T13:25:00Z", &url);
    assert!(
        said.contains("nudge: INC-1: the next customer update is due at 14:35 CET, in 10 minutes"),
        "{said}"
    );
    assert_eq!(run_due(&p, "2026-11-26T13:26:00Z", &url), "");
    assert_eq!(run_due(&p, "2026-11-26T13:34:59Z", &url), "");
    let said = run_due(&p, "2026-11-26T13:35:00Z", &url);
    assert!(
        said.contains("nudge: INC-1: the customer update promised for 14:35 CET is overdue"),
        "{said}"
    );
    for at in [
        "2026-11-26T13:35:01Z",
        "2026-11-26T13:36:00Z",
        "2026-11-26T13:50:00Z",
    ] {
        assert_eq!(run_due(&p, at, &url), "", "at {at}");
    }
    let sent = bodies(&slack).await;
    assert_eq!(sent.len(), 2, "{sent:#?}");
    assert!(sent[0].contains("in 10 minutes"), "{}", sent[0]);
    assert!(sent[1].contains("is overdue"), "{}", sent[1]);
    for body in &sent {
        assert!(
            body.contains("crier blast update --incident INC-1 --set progress="),
            "{body}"
        );
    }

    // With the holding update on, it goes out once when the promise is missed by 5 minutes
    // (here already), to the customers' channels, and the people on duty are not nudged again.
    p.append("crier.toml", "\n[promises]\nauto_holding_update = true\n");
    let said = run_due(&p, "2026-11-26T13:51:00Z", &url);
    assert!(said.contains("INC-1: the update promised for 14:35 CET was missed; sending the holding update (schedule 1)"), "{said}");
    assert!(
        said.contains("schedule 1: `update` as update 2 of INC-1: 6 sent, 0 failed"),
        "{said}"
    );
    assert_eq!(run_due(&p, "2026-11-26T13:52:00Z", &url), "");
    assert_eq!(bodies(&slack).await.len(), 2);

    // The holding update promised 15:21 CET; when that is missed too, the people on duty are
    // told, and crier does not send a second holding update on its own.
    let said = run_due(&p, "2026-11-26T14:40:00Z", &url);
    assert!(
        said.contains("nudge: INC-1: the customer update promised for 15:21 CET is overdue"),
        "{said}"
    );
    assert!(!said.contains("holding update"), "{said}");
    assert_eq!(run_due(&p, "2026-11-26T15:40:00Z", &url), "");
    assert_eq!(bodies(&slack).await.len(), 3);

    let out = p.crier(&["incident", "show", "INC-1", "--json"]);
    let shown: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let updates = shown["updates"].as_array().unwrap();
    assert_eq!(updates.len(), 2);
    let holding = &updates[1];
    assert_eq!(holding["kind"], "update");
    assert_eq!(holding["sent_by"], "crier (holding update, schedule 1)");
    assert_eq!(holding["created_at"], "2026-11-26T13:51:00Z");
    assert_eq!(holding["next_update_at"], "2026-11-26T14:21:00Z");
    assert_eq!(holding["deliveries"]["file"]["sent"], 6);
    assert!(
        holding["slots"]["progress"]
            .as_str()
            .unwrap()
            .contains("We don't have news to share yet"),
        "{holding:#}"
    );
}

#[test]
fn check_refuses_a_holding_update_that_could_not_be_sent() {
    let p = Project::init();
    p.append("crier.toml", "\n[promises]\nauto_holding_update = true\n[promises.holding_set]\nnext_update = \"in 30 minutes\"\n");
    let out = p.crier(&["check"]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(
        err.contains("the holding update (`[promises] auto_holding_update = true`): `update` needs a value for slot `progress`"),
        "{err}"
    );
    assert!(
        err.contains("field: promises.holding_set.progress"),
        "{err}"
    );
}

/// A holding update without `next_update` is sent as any blast is: it promises
/// `[promises] default`, so `check` has nothing to refuse.
#[test]
fn a_holding_update_without_a_next_update_promises_the_default() {
    let p = Project::init();
    p.append("crier.toml", "\n[promises]\nauto_holding_update = true\n[promises.holding_set]\nprogress = \"We're on it.\"\n");
    let out = p.crier(&["check"]);
    assert!(out.status.success(), "{}", stderr(&out));
}

/// `crier blast update` with no next update, as `--help` says: the promise is
/// `[promises] default` (60 minutes) from now, and the message promises that same time.
#[test]
fn an_update_without_a_next_update_promises_the_default() {
    let p = Project::init();
    let out = p.crier(&[&OUTAGE[..], &["--yes"]].concat());
    assert!(out.status.success(), "{}", stderr(&out));
    let at = [("CRIER_NOW", "2026-11-26T13:20:00Z")];
    let update = [
        "blast",
        "update",
        "--incident",
        "INC-1",
        "--set",
        "progress=We found the cause.",
        "--yes",
    ];
    let out = p.crier_env(&update, &at);
    assert!(out.status.success(), "{}", stderr(&out));
    // 14:20 CET + 60 minutes.
    assert!(
        stdout(&out).contains("Next update promised for 15:20 CET"),
        "{}",
        stdout(&out)
    );
    let out = p.crier(&["incident", "show", "INC-1", "--json"]);
    let shown: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let latest = &shown["updates"][1];
    assert_eq!(
        latest["next_update_at"], "2026-11-26T14:20:00Z",
        "{shown:#}"
    );
    let summaries = files(&p.root().join("outbox"))
        .into_iter()
        .filter(|f| f.ends_with("summary.txt"))
        .map(|f| std::fs::read_to_string(f).unwrap())
        .filter(|s| s.contains("We're still on it"))
        .collect::<Vec<_>>();
    assert!(!summaries.is_empty(), "the update's summary was written");
    for s in &summaries {
        assert!(s.contains("Next update: 15:20 CET."), "{s}");
    }
    // The same command again finds the same update: the filled promise is part of it.
    let out = p.crier_env(&update, &at);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("was already sent"),
        "{}",
        stdout(&out)
    );
}

/// `--set next_update=` clears the slot: then there is no next update, and the refusal says
/// both ways to give one.
#[test]
fn a_cleared_next_update_is_refused_naming_both_ways_to_give_one() {
    let p = Project::init();
    let out = p.crier(&[&OUTAGE[..], &["--yes"]].concat());
    assert!(out.status.success(), "{}", stderr(&out));
    let out = p.crier(&[
        "blast",
        "update",
        "--incident",
        "INC-1",
        "--set",
        "progress=We found the cause.",
        "--set",
        "next_update=",
        "--yes",
    ]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(
        err.contains("error: `update` needs a value for slot `next_update`"),
        "{err}"
    );
    assert!(
        err.contains(
            "Example: `--set next_update=\"in 30 minutes\"`, or with `crier blast`, `--next-update-in 30m`"
        ),
        "{err}"
    );
}
