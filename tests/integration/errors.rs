//! Every failure path an operator can hit, with the exact words they see and exit code 2.

use crate::support::{Project, stderr};

/// Run `args`, expect exit 2 and return stderr.
fn fails(p: &Project, args: &[&str]) -> String {
    let out = p.crier(args);
    assert_eq!(out.status.code(), Some(2), "stderr: {}", stderr(&out));
    stderr(&out)
}

#[test]
fn unknown_slot_lists_the_valid_ones() {
    let p = Project::init();
    let err = fails(&p, &["preview", "update", "--set", "progres=Found it"]);
    insta::assert_snapshot!(err);
}

#[test]
fn missing_required_slot_says_how_to_set_it() {
    let p = Project::init();
    let err = fails(
        &p,
        &["script", "update", "--set", "next_update=in 30 minutes"],
    );
    insta::assert_snapshot!(err);
}

#[test]
fn value_over_max_len_says_by_how_much() {
    let p = Project::init();
    let long = format!("progress={}", "x".repeat(450));
    let err = fails(&p, &["preview", "update", "--set", &long]);
    insta::assert_snapshot!(err);
}

#[test]
fn bad_choice_lists_the_choices() {
    let p = Project::init();
    p.write(
        "templates/maintenance.toml",
        &p.read("templates/update.toml").replace(
            "[message]",
            "[slots.window]\ntype = \"choice\"\nvalues = [\"tonight\", \"weekend\"]\ndefault = \"tonight\"\n\n[message]",
        ),
    );
    let err = fails(&p, &["preview", "maintenance", "--set", "window=someday"]);
    insta::assert_snapshot!(err);
}

#[test]
fn bad_time_names_the_forms_that_work() {
    let p = Project::init();
    let err = fails(
        &p,
        &["preview", "update", "--set", "next_update=tomorow 10:00"],
    );
    insta::assert_snapshot!(err);
}

#[test]
fn tera_syntax_error_points_at_the_file_line() {
    let p = Project::init();
    p.edit(
        "templates/update.toml",
        "subject = \"Update: {{ incident.title }}\"",
        "subject = \"Update: {{ incident.title }\"",
    );
    let err = fails(&p, &["check"]);
    insta::assert_snapshot!(err);
}

#[test]
fn undefined_variable_points_at_the_file_line() {
    let p = Project::init();
    p.edit(
        "templates/update.toml",
        "{{ slots.progress }}\n",
        "{{ slots.progrss }}\n",
    );
    let err = fails(&p, &["check"]);
    insta::assert_snapshot!(err);
}

#[test]
fn unknown_key_in_crier_toml_suggests_the_right_one() {
    let p = Project::init();
    p.edit("crier.toml", "support_phone =", "suport_phone =");
    let err = fails(&p, &["check"]);
    insta::assert_snapshot!(err);
}

#[test]
fn unknown_key_in_a_channel_file_suggests_the_right_one() {
    let p = Project::init();
    p.write(
        "channels/ops.toml",
        "type = \"slack\"\nurl_evn = \"SLACK_URL\"\n",
    );
    let err = fails(&p, &["check"]);
    insta::assert_snapshot!(err);
}

#[test]
fn unknown_channel_type_suggests_the_right_one() {
    let p = Project::init();
    p.write(
        "channels/ops.toml",
        "type = \"slak\"\nurl_env = \"SLACK_URL\"\n",
    );
    let err = fails(&p, &["check"]);
    insta::assert_snapshot!(err);
}

#[test]
fn missing_secret_names_the_variable_not_the_value() {
    let p = Project::init();
    p.write(
        "channels/ops.toml",
        "type = \"slack\"\nurl_env = \"CRIER_TEST_UNSET_SLACK_URL\"\n",
    );
    let err = fails(&p, &["check"]);
    insta::assert_snapshot!(err);
}

#[test]
fn discord_over_limit_names_field_and_excess() {
    let p = Project::init();
    p.write(
        "channels/community.toml",
        "type = \"discord\"\nurl_env = \"HOME\"\n",
    );
    let body = "word ".repeat(900);
    p.edit(
        "templates/update.toml",
        "We know this is getting in your way, and we're sorry.",
        &body,
    );
    let out = p.crier_env(
        &["check"],
        &[(
            "CRIER_TEST_DISCORD_URL",
            "https://discord.example/api/webhooks/1/t",
        )],
    );
    assert_eq!(out.status.code(), Some(2));
    insta::assert_snapshot!(stderr(&out));
}

#[test]
fn summary_over_160_names_the_excess() {
    let p = Project::init();
    let title =
        "Checkout, sign-in, search and the mobile apps are failing for many customers in Europe";
    let err = fails(
        &p,
        &[
            "preview",
            "update",
            "--channel",
            "summary",
            "--title",
            title,
        ],
    );
    insta::assert_snapshot!(err);
}

#[test]
fn several_problems_are_all_listed() {
    let p = Project::init();
    p.edit(
        "crier.toml",
        "time_zone = \"Europe/Berlin\"",
        "time_zone = \"Europe/Berln\"",
    );
    p.edit(
        "crier.toml",
        "status_url = \"https://status.acme.example\"",
        "status_url = \"status.acme.example\"",
    );
    let err = fails(&p, &["check"]);
    insta::assert_snapshot!(err);
}

#[test]
fn changed_after_approval_is_shown_and_refused() {
    let p = Project::init();
    p.edit(
        "templates/apology.toml",
        "description = ",
        "description = \"Edited. \" # was: ",
    );
    let out = p.crier(&["approvals"]);
    assert!(out.status.success());
    insta::assert_snapshot!(crate::support::stdout(&out));

    let project = p.load();
    let kind = project.engine.kind("apology").unwrap();
    let state = project.approvals.state(&project.engine, kind);
    let refusal =
        crier::template::approval::refusal(kind, &state, project.approvals.path()).unwrap();
    let text = refusal
        .to_string()
        .replace(&p.root().display().to_string(), "[project]");
    insta::assert_snapshot!(text);

    let out = p.crier(&["preview", "apology", "--channel", "summary"]);
    assert!(out.status.success());
    assert!(stderr(&out).contains("NOT APPROVED: `apology` (changed since crier init approved it"));
}

#[test]
fn unknown_kind_suggests_the_closest() {
    let p = Project::init();
    let err = fails(&p, &["preview", "updte"]);
    insta::assert_snapshot!(err);
}

#[test]
fn no_project_says_how_to_make_one() {
    let dir = tempfile::tempdir().unwrap();
    let out = crate::support::crier_in(dir.path(), &["check"]);
    assert_eq!(out.status.code(), Some(2));
    insta::assert_snapshot!(stderr(&out));
}

#[test]
fn a_required_slot_cannot_be_emptied() {
    let p = Project::init();
    let err = fails(
        &p,
        &[
            "script",
            "update",
            "--set",
            "progress=",
            "--set",
            "next_update=15:00",
        ],
    );
    assert!(
        err.starts_with("error: `update` needs a value for slot `progress`"),
        "{err}"
    );
}

#[test]
fn a_promised_update_time_in_the_past_is_refused() {
    let p = Project::init();
    let err = fails(
        &p,
        &[
            "script",
            "update",
            "--set",
            "progress=Found it.",
            "--set",
            "next_update=09:00",
        ],
    );
    insta::assert_snapshot!(err);
}

#[test]
fn an_optional_slot_can_be_cleared() {
    let p = Project::init();
    let out = p.crier(&[
        "script",
        "update",
        "--set",
        "progress=Found it.",
        "--set",
        "next_update=15:00",
        "--set",
        "avoid=",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        crate::support::stdout(&out).contains("There's nothing you need to do or undo right now.")
    );
}

#[test]
fn channel_values_are_checked_without_showing_secrets() {
    let p = Project::init();
    p.write(
        "channels/mail.toml",
        "type = \"email\"\nsmtp_url = \"ftp://mail.example.com\"\nfrom = \"garbage\"\n",
    );
    p.write(
        "channels/hooks.toml",
        "type = \"webhook\"\nurl = \"not a url\"\nsecret_env = \"CRIER_TEST_SECRET\"\n",
    );
    let out = p.crier_env(&["check"], &[("CRIER_TEST_SECRET", "hunter2-not-whsec")]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(!err.contains("hunter2"), "a secret leaked: {err}");
    insta::assert_snapshot!(err);
}

/// `crier preview update | head`: a reader that goes away ends crier quietly (as it ends
/// `cat`), never with a panic about a broken pipe on the operator's screen.
#[cfg(unix)]
#[test]
fn a_closed_pipe_ends_crier_quietly() {
    use std::os::unix::process::ExitStatusExt;
    let p = Project::init();
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_crier"))
        .current_dir(p.root())
        .args(["preview", "update"])
        .env_remove("CRIER_CONFIG")
        .stdout(writer)
        .stderr(std::process::Stdio::piped())
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !err.contains("panicked") && !err.contains("Broken pipe"),
        "{err}"
    );
    assert_eq!(
        out.status.signal(),
        Some(13),
        "ended by SIGPIPE: {:?}",
        out.status
    );
}
