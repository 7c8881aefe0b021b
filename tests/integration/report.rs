//! `crier report ID`: the look-back report of an incident told in three updates, one of them
//! late, with one message refused for good by a real SMTP server on 127.0.0.1 and the
//! follow-up the resolution scheduled. The report's numbers are the journal's, as `crier
//! incident show` tells them.

use std::process::Output;
use std::time::Duration;

use serde_json::Value;

use crate::smtp_server::{SmtpServer, Stage, Times};
use crate::support::{Project, stderr, stdout};

/// The longest one `crier` run may take before the test fails (it is killed).
const RUN_LIMIT: Duration = Duration::from_secs(25);

/// The recipient the mail server refuses, once.
const REFUSED: &str = "chloe.martin@example.com";

/// Run the real binary in the project at `now`, as `dana`.
fn crier_at(p: &Project, now: &str, args: &[&str]) -> Output {
    let out = assert_cmd::Command::cargo_bin("crier")
        .expect("binary built")
        .current_dir(p.root())
        .args(args)
        .env("CRIER_NOW", now)
        .env("CRIER_ACTOR", "dana")
        .env_remove("CRIER_CONFIG")
        .env("NO_COLOR", "1")
        .timeout(RUN_LIMIT)
        .output()
        .expect("crier runs");
    assert!(
        out.status.code().is_some(),
        "crier {args:?} did not finish within {RUN_LIMIT:?}\n{}",
        stderr(&out)
    );
    out
}

/// A project from `crier init` with a `mail` channel on `server` beside the `file` channel,
/// and INC-1 told in three updates: the outage notice at 14:05 CET promising the next update
/// in 30 minutes, an update 15 minutes late at 14:50 promising the next in 30 minutes, and the
/// resolution at 15:10, which schedules the follow-up.
fn told_incident(server: &SmtpServer) -> Project {
    let p = Project::init();
    p.write(
        "channels/mail.toml",
        &format!(
            "type = \"email\"\nsmtp_url = \"{}\"\nfrom = \"Acme Status <status@acme.example>\"\nper_second = 0\n",
            server.url()
        ),
    );
    let blasts: [(&str, &[&str], i32); 3] = [
        (
            "2026-11-26T13:05:00Z",
            &[
                "blast",
                "outage-notice",
                "--incident",
                "INC-1",
                "--title",
                "Checkout is failing",
                "--set",
                "affected=complete a checkout",
                "--next-update-in",
                "30m",
                "--yes",
            ],
            1, // one message failed for good
        ),
        (
            "2026-11-26T13:50:00Z",
            &[
                "blast",
                "update",
                "--incident",
                "INC-1",
                "--set",
                "progress=We found the cause.",
                "--next-update-in",
                "30m",
                "--yes",
            ],
            0,
        ),
        (
            "2026-11-26T14:10:00Z",
            &[
                "blast",
                "resolution-thanks",
                "--incident",
                "INC-1",
                "--set",
                "fixed_at=15:05",
                "--follow-up-set",
                "summary_of_cause=Our switch to the backup database failed.",
                "--follow-up-set",
                "changes=We now test that switch every week.",
                "--yes",
            ],
            0,
        ),
    ];
    for (now, args, code) in blasts {
        let out = crier_at(&p, now, args);
        assert_eq!(
            out.status.code(),
            Some(code),
            "{args:?}\n{}\n{}",
            stdout(&out),
            stderr(&out)
        );
    }
    p
}

/// The report's moment: 15:30 CET, the follow-up still to come.
const AS_OF: &str = "2026-11-26T14:30:00Z";

fn json(out: &Output) -> Value {
    assert!(out.status.success(), "{}", stderr(out));
    serde_json::from_slice(&out.stdout).expect("JSON on stdout")
}

#[test]
fn the_report_tells_timeline_promises_follow_up_and_totals_as_the_journal_does() {
    let server = SmtpServer::start();
    server.refuse(
        Stage::Rcpt,
        REFUSED,
        550,
        "5.1.1 <chloe.martin@example.com>: Recipient address rejected: User unknown",
        Times::First(1),
    );
    let p = told_incident(&server);
    let shown = json(&crier_at(
        &p,
        AS_OF,
        &["incident", "show", "INC-1", "--json"],
    ));
    let shown_updates = shown["updates"].as_array().expect("updates");
    // The wording digests change whenever a shipped template does: checked against the
    // journal here, left out of the snapshots.
    let digests: Vec<String> = shown_updates
        .iter()
        .map(|u| u["content_sha256"].as_str().expect("a digest").to_string())
        .collect();

    let mut report = json(&crier_at(
        &p,
        AS_OF,
        &["report", "INC-1", "--format", "json"],
    ));
    let updates = report["updates"].as_array_mut().expect("updates");
    assert_eq!(updates.len(), 3);
    let mut totals: std::collections::BTreeMap<String, [u64; 3]> = Default::default();
    for (i, (u, s)) in updates.iter_mut().zip(shown_updates).enumerate() {
        assert_eq!(u["seq"], s["seq"]);
        assert_eq!(u["content_sha256"], digests[i].as_str());
        u["content_sha256"] = "[sha256]".into();
        let (ours, theirs) = (
            u["deliveries"].as_object().expect("deliveries"),
            s["deliveries"].as_object().expect("deliveries"),
        );
        assert_eq!(
            ours.keys().collect::<Vec<_>>(),
            theirs.keys().collect::<Vec<_>>(),
            "the same channels in update {}",
            i + 1
        );
        for (channel, c) in theirs {
            let n = |k: &str| c[k].as_u64().expect("a count");
            let expected = [
                n("sent"),
                n("failed") + n("skipped"),
                n("pending") + n("attempting") + n("retry"),
            ];
            let got =
                ["sent", "failed", "not_sent_yet"].map(|k| ours[channel][k].as_u64().unwrap());
            assert_eq!(got, expected, "{channel} in update {}", i + 1);
            let t = totals.entry(channel.clone()).or_default();
            (0..3).for_each(|k| t[k] += got[k]);
        }
    }
    for (channel, t) in &totals {
        let got = ["sent", "failed", "not_sent_yet"]
            .map(|k| report["totals"][channel][k].as_u64().unwrap());
        assert_eq!(&got, t, "total of {channel}");
    }
    assert_eq!(
        totals["mail"],
        [14, 1, 0],
        "five people, three updates, one refusal"
    );
    insta::assert_json_snapshot!("report_json", report);

    let out = crier_at(&p, AS_OF, &["report", "INC-1"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let mut markdown = stdout(&out);
    for digest in &digests {
        markdown = markdown.replace(&digest[..12], "[sha256]");
    }
    insta::assert_snapshot!("report_markdown", markdown);

    let out = crier_at(&p, AS_OF, &["report", "INC-1", "--format", "html"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let page = stdout(&out);
    assert!(page.starts_with("<!DOCTYPE html>\n"), "{page}");
    assert!(page.ends_with("</html>\n"));
    assert!(!page.contains("<script"), "no scripts");
    assert!(page.contains("<h1>Checkout is failing</h1>"), "{page}");
    assert!(page.contains("<td>15 minutes late</td>"), "{page}");
    assert!(
        page.contains("&lt;chloe.martin@example.com&gt;: Recipient address rejected"),
        "the server's words, escaped: {page}"
    );
}

#[test]
fn an_unknown_incident_says_how_to_find_the_right_one() {
    let p = Project::init();
    let out = crier_at(&p, AS_OF, &["report", "INC-9"]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(err.contains("there is no incident `INC-9`"), "{err}");
    assert!(err.contains("`crier incident list`"), "{err}");
    assert_eq!(stdout(&out), "");
}
