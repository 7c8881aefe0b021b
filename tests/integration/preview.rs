//! What an operator does on a fresh project: init, check, preview, script, approve.

use crate::support::{Project, stderr, stdout};

const EVERY_FILE: [&str; 18] = [
    "email.html",
    "email.txt",
    "slack.json",
    "teams.json",
    "discord.json",
    "mattermost.json",
    "google-chat.json",
    "intercom.json",
    "intercom.html",
    "webhook.json",
    "webhook-statuspage.json",
    "widget.json",
    "summary.txt",
    "call-script.txt",
    "call-script.md",
    "call-script.html",
    // every kind also gets its subject in email.txt; listed for the count
    "email.txt",
    "summary.txt",
];

#[test]
fn fresh_project_checks_clean() {
    let p = Project::init();
    let out = p.crier(&["check"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    for kind in [
        "apology",
        "follow-up",
        "outage-notice",
        "resolution-thanks",
        "update",
    ] {
        assert!(
            text.contains(&format!("ok  {kind:<20} approved by crier init")),
            "{text}"
        );
    }
    assert!(text.contains("Nothing was sent."));
}

#[test]
fn preview_out_writes_every_format_and_all_json_parses() {
    let p = Project::init();
    let out = p.crier(&[
        "preview",
        "update",
        "--set",
        "progress=We found the cause.",
        "--out",
        "out",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    for file in EVERY_FILE {
        let path = p.root().join("out").join(file);
        let text = std::fs::read_to_string(&path).unwrap_or_else(|_| panic!("{file} written"));
        if file.ends_with(".json") {
            serde_json::from_str::<serde_json::Value>(&text)
                .unwrap_or_else(|e| panic!("{file} is not JSON: {e}"));
        }
        assert!(!text.trim().is_empty(), "{file} is empty");
    }
    let email = std::fs::read_to_string(p.root().join("out/email.html")).unwrap();
    assert!(email.contains("We found the cause."));
    assert!(email.starts_with("<!DOCTYPE html>"));
}

#[test]
fn preview_json_holds_every_file() {
    let p = Project::init();
    let out = p.crier(&["preview", "outage-notice", "--json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let value: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(value["kind"], "outage-notice");
    assert_eq!(value["approval"]["state"], "approved");
    assert_eq!(value["files"].as_object().unwrap().len(), 16);
}

#[test]
fn preview_one_channel_prints_only_it() {
    let p = Project::init();
    let out = p.crier(&["preview", "update", "--channel", "slack"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.starts_with("──── slack.json ────\n{"));
    assert_eq!(text.matches("────").count(), 2);
}

#[test]
fn script_text_fits_80_columns_and_says_the_same_as_the_message() {
    let p = Project::init();
    let progress = "progress=We found the cause and are moving checkout back to our main database.";
    let out = p.crier(&[
        "script",
        "update",
        "--set",
        progress,
        "--set",
        "next_update=15:30",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let script = stdout(&out);
    assert!(script.lines().all(|l| l.chars().count() <= 80), "{script}");
    for section in [
        "OPEN",
        "THE FACTS",
        "IF THEY ASK",
        "DON'T SAY",
        "ESCALATE WHEN",
        "CLOSE",
    ] {
        assert!(script.contains(section), "missing {section}");
    }
    assert!(script.contains("15:30 CET"));
    let preview = p.crier(&[
        "preview",
        "update",
        "--set",
        progress,
        "--set",
        "next_update=15:30",
        "--channel",
        "email",
    ]);
    let email = stdout(&preview);
    assert!(
        email.contains("We found the cause and are moving checkout back to our main database.")
    );
    assert!(script.contains("We found the cause and are moving checkout back to our main"));
}

#[test]
fn script_html_is_a_page_without_scripts() {
    let p = Project::init();
    let out = p.crier(&[
        "script",
        "outage-notice",
        "--set",
        "affected=complete a checkout",
        "--set",
        "next_update=in 30 minutes",
        "--format",
        "html",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let html = stdout(&out);
    assert!(html.contains("<html"));
    assert!(!html.to_lowercase().contains("<script"));
    assert!(!html.contains("This wording is not approved"));
}

#[test]
fn approve_records_and_unapproved_banner_shows() {
    let p = Project::init();
    p.edit(
        "templates/follow-up.toml",
        "description = ",
        "description = \"Changed. \" # ",
    );
    let out = p.crier(&[
        "script",
        "follow-up",
        "--set",
        "summary_of_cause=x",
        "--set",
        "changes=y",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("NOT APPROVED: do not read this wording to customers"));
    assert!(stderr(&out).contains("crier approve follow-up --by NAME"));

    let out = p.crier(&["approve", "follow-up", "--by", "Dana Ortiz (Comms)"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).starts_with("Approved `follow-up`: Dana Ortiz (Comms)"));
    let approvals = p.read("templates/approvals.toml");
    assert!(approvals.contains("approved_by = \"Dana Ortiz (Comms)\""));
    assert!(approvals.contains("approved_at = \"2026-11-26T13:05:00Z\""));
    let out = p.crier(&["approvals", "--json"]);
    let list: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(
        list.as_array()
            .unwrap()
            .iter()
            .all(|k| k["approval"]["state"] == "approved")
    );
}

#[test]
fn approve_refuses_wording_that_does_not_render() {
    let p = Project::init();
    p.edit(
        "templates/update.toml",
        "{{ slots.progress }}\n",
        "{{ slots.progrss }}\n",
    );
    let out = p.crier(&["approve", "update", "--by", "Dana"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(!p.read("templates/approvals.toml").contains("Dana"));
}

#[test]
fn init_refuses_to_overwrite() {
    let p = Project::init();
    let out = crate::support::crier_in(p.root().parent().unwrap(), &["init", "project"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("already exists"));
}

#[test]
fn a_user_added_kind_is_checked_and_previewed() {
    let p = Project::init();
    p.write(
        "templates/maintenance.toml",
        &p.read("templates/update.toml"),
    );
    let out = p.crier(&["check"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("maintenance          never approved"));
}

#[test]
fn the_repository_is_itself_an_approved_project() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let out = crate::support::crier_in(root, &["check"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert_eq!(
        text.matches(" approved by ").count(),
        5,
        "every shipped kind is approved as it is: {text}"
    );
}
