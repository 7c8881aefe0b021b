//! The quick start: a blast on a fresh project delivers to the `file` channel's outbox,
//! and running it again sends nothing.

use crate::support::{Project, stderr, stdout};

/// The quick start's blast, to incident `DEMO-1`.
pub const BLAST: [&str; 10] = [
    "blast",
    "outage-notice",
    "--incident",
    "DEMO-1",
    "--title",
    "Checkout is failing",
    "--set",
    "affected=complete a checkout",
    "--set",
    "next_update=in 30 minutes",
];

#[test]
fn a_blast_writes_every_message_once_and_a_rerun_sends_nothing() {
    let p = Project::init();
    let out = p.crier(&[&BLAST[..], &["--yes"]].concat());
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(
        text.contains("file                   6 sent      0 failed      0 not sent yet"),
        "{text}"
    );
    let outbox = p.root().join("outbox/DEMO-1-1");
    let emails: Vec<_> = std::fs::read_dir(outbox.join("email")).unwrap().collect();
    assert_eq!(emails.len(), 5, "one .eml per recipient with an email");
    let eml = std::fs::read_to_string(outbox.join("email/cus_1001.eml")).unwrap();
    assert!(eml.contains("Subject: Investigating: Checkout is failing"));
    assert!(eml.contains("To: =?utf-8?b?QW5hIEzDs3Bleg==?= <ana.lopez@example.com>"));
    let message_id = eml
        .lines()
        .find(|l| l.starts_with("Message-ID: "))
        .unwrap()
        .to_string();
    for file in [
        "slack.json",
        "teams.json",
        "discord.json",
        "widget.json",
        "summary.txt",
    ] {
        assert!(outbox.join("everyone").join(file).exists(), "{file}");
    }

    let again = p.crier(&[&BLAST[..], &["--yes"]].concat());
    assert!(again.status.success(), "{}", stderr(&again));
    assert!(stdout(&again).contains("Update 1 of DEMO-1 was already sent; nothing new to send."));
    let eml = std::fs::read_to_string(outbox.join("email/cus_1001.eml")).unwrap();
    assert!(
        eml.contains(&message_id),
        "the file was not rewritten with another id"
    );

    let status = p.crier(&["status", "DEMO-1", "--json"]);
    let json: serde_json::Value = serde_json::from_slice(&status.stdout).unwrap();
    assert_eq!(json["channels"]["file"]["sent"], 6);
    assert_eq!(json["update"]["kind"], "outage-notice");
}

#[test]
fn an_unapproved_kind_is_refused_before_anything_is_sent() {
    let p = Project::init();
    p.edit(
        "templates/outage-notice.toml",
        "description = ",
        "description = \"Edited. \" # ",
    );
    let out = p.crier(&[&BLAST[..], &["--yes"]].concat());
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out)
            .contains("`templates/outage-notice.toml` changed since crier init approved it")
    );
    assert!(stderr(&out).contains("run `crier approve outage-notice --by NAME`"));
    assert!(!p.root().join("outbox").exists(), "nothing may be written");
}

#[test]
fn a_new_incident_needs_a_title_and_every_problem_is_listed() {
    let p = Project::init();
    let out = p.crier(&[
        "blast",
        "outage-notice",
        "--incident",
        "INC-9",
        "--set",
        "next_update=in 1 hour",
        "--channels",
        "fil",
        "--yes",
    ]);
    assert_eq!(out.status.code(), Some(2));
    insta::assert_snapshot!(stderr(&out));
}

#[test]
fn dry_run_counts_and_sends_nothing() {
    let p = Project::init();
    let out = p.crier(&[&BLAST[..], &["--dry-run"]].concat());
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("  file                   6 messages"),
        "{}",
        stdout(&out)
    );
    assert!(!p.root().join("outbox").exists());
}

/// The rehearsal shows the rows the blast will skip (it used to say "everything checks out"),
/// and `--strict` sends nothing while one remains; without it the rest is sent.
#[test]
fn dry_run_lists_the_rows_the_blast_skips_and_strict_sends_nothing() {
    let p = Project::init();
    let audience = p.read("audience.csv");
    p.write(
        "audience.csv",
        &format!("{audience}cus_2001,not-an-address,Pat Doe,en,eu,,,pro\n"),
    );
    let out = p.crier(&[&BLAST[..], &["--dry-run"]].concat());
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).contains(
            "\n1 audience row cannot be used: skipped by the blast, listed by `crier status`:\n  row 6 (`cus_2001`): `email` `not-an-address` is not an email address\n"
        ),
        "{}",
        stdout(&out)
    );
    assert!(
        !stdout(&out).contains("everything checks out"),
        "{}",
        stdout(&out)
    );

    let out = p.crier(&[&BLAST[..], &["--strict", "--yes"]].concat());
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains(
            "error: row 6 (`cus_2001`): `email` `not-an-address` is not an email address"
        ),
        "{}",
        stderr(&out)
    );
    assert!(!p.root().join("outbox").exists());

    let out = p.crier(&[&BLAST[..], &["--yes"]].concat());
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("row 6: `email` `not-an-address` is not an email address"),
        "{}",
        stdout(&out)
    );
}

#[test]
fn incident_show_tells_the_timeline_with_what_each_update_reached() {
    let p = Project::init();
    assert!(p.crier(&[&BLAST[..], &["--yes"]].concat()).status.success());
    let update = p.crier(&[
        "blast",
        "update",
        "--incident",
        "DEMO-1",
        "--status",
        "identified",
        "--set",
        "progress=We found the cause.",
        "--set",
        "next_update=in 30 minutes",
        "--yes",
    ]);
    assert!(update.status.success(), "{}", stderr(&update));

    let list = p.crier(&["incident", "list"]);
    assert!(list.status.success(), "{}", stderr(&list));
    let line = stdout(&list)
        .lines()
        .find(|l| l.starts_with("DEMO-1"))
        .unwrap()
        .to_string();
    assert!(line.contains("identified"), "{line}");
    assert!(line.ends_with("      2  Checkout is failing"), "{line}");

    let show = p.crier(&["incident", "show", "DEMO-1"]);
    assert!(show.status.success(), "{}", stderr(&show));
    let text = stdout(&show);
    assert!(
        text.starts_with("DEMO-1 — Checkout is failing\n  identified, major impact"),
        "{text}"
    );
    assert!(
        text.contains("\n#1 outage-notice (investigating) — "),
        "{text}"
    );
    assert!(text.contains("\n#2 update (identified) — "), "{text}");
    assert!(
        text.contains("  values: next_update=in 30 minutes, progress=We found the cause.\n"),
        "{text}"
    );
    assert_eq!(
        text.matches("  file             6 sent, 0 failed, 0 not sent yet\n")
            .count(),
        2,
        "{text}"
    );

    let json = p.crier(&["incident", "show", "DEMO-1", "--json"]);
    let json: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(json["incident"]["status"], "identified");
    let updates = json["updates"].as_array().unwrap();
    assert_eq!(updates.len(), 2);
    assert_eq!(updates[1]["kind"], "update");
    assert_eq!(updates[1]["deliveries"]["file"]["sent"], 6);
    assert_eq!(updates[0]["content_sha256"].as_str().unwrap().len(), 64);

    let missing = p.crier(&["incident", "show", "INC-404"]);
    assert_eq!(missing.status.code(), Some(2));
    assert!(stderr(&missing).contains("there is no incident `INC-404`"));
    assert!(stderr(&missing).contains("`crier incident list` shows every incident crier knows"));
}
