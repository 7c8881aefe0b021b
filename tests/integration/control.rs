//! Operator control of a running blast, from a second process: `crier halt` stops sending
//! within a second and `crier resume` finishes it, every message exactly once. And secrets:
//! whatever happens, no secret reaches the screen, the journal or a file.

use std::path::Path;
use std::process::Output;
use std::time::{Duration, Instant};

use base64::Engine as _;

use crate::crash::{
    BLAST, RECIPIENTS, Receiver, SECRET_VAR, check_deliveries, crier, hooks_project,
    reported_in_doubt, scratch, spawn, status_json,
};
use crate::support::{Project, files, stderr, stdout};

/// Slow enough that 2,000 messages take seconds, so the halt lands mid-way.
const DELAY: Duration = Duration::from_millis(5);
const IN_FLIGHT: u32 = 4;
/// Requests received before the halt is sent.
const BEFORE_HALT: usize = 100;
/// What `crier halt` promises.
const WITHIN: Duration = Duration::from_secs(1);

/// Run `crier halt INC-1`; returns when it returned.
fn halt(p: &Project) -> Instant {
    let out = crier(p.root(), &["halt", "INC-1"]).output().unwrap();
    let returned = Instant::now();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("Halted sending for incident INC-1."),
        "{}",
        stdout(&out)
    );
    returned
}

/// How long after `halted` the last request arrived (negative: before), in ms, and how many
/// arrived more than [`WITHIN`] after it.
fn after_halt(receiver: &Receiver, halted: Instant) -> (i128, usize) {
    let hits = receiver.hits();
    let ms = |at: Instant| match at.checked_duration_since(halted) {
        Some(d) => d.as_millis() as i128,
        None => -(halted.duration_since(at).as_millis() as i128),
    };
    let latest = hits.iter().map(|h| ms(h.at)).max().unwrap_or(i128::MIN);
    let late = hits.iter().filter(|h| h.at > halted + WITHIN).count();
    (latest, late)
}

fn assert_every_recipient_exactly_once(receiver: &Receiver) {
    let hits = receiver.hits();
    assert_eq!(hits.len(), RECIPIENTS, "requests in all");
    assert!(
        check_deliveries(&hits).is_empty(),
        "a recipient got it twice"
    );
}

fn assert_rerun_sends_nothing(p: &Project, receiver: &Receiver) {
    let again = crier(p.root(), &BLAST).output().unwrap();
    assert!(again.status.success(), "{}", stderr(&again));
    assert!(
        stdout(&again).contains("Update 1 of INC-1 was already sent; nothing new to send."),
        "{}",
        stdout(&again)
    );
    std::thread::sleep(Duration::from_millis(100));
    assert_eq!(receiver.count(), RECIPIENTS, "the re-run sent something");
}

#[test]
fn halt_from_a_second_process_stops_sends_within_a_second_and_resume_finishes_once() {
    let receiver = Receiver::start(DELAY);
    let p = hooks_project(&receiver.uri(), IN_FLIGHT);
    let mut blast = spawn(crier(p.root(), &BLAST), &scratch(&p), "blast");
    assert!(
        receiver.wait_for(BEFORE_HALT, &mut blast.child, Duration::from_secs(60)),
        "the blast ended before {BEFORE_HALT} requests"
    );
    let halted = halt(&p);
    let at_halt = receiver.count();
    std::thread::sleep(WITHIN * 2);
    let (latest, late) = after_halt(&receiver, halted);
    eprintln!(
        "halt: {at_halt} requests when `crier halt` returned, {} in all; the last {latest} ms after it",
        receiver.count()
    );
    assert_eq!(late, 0, "requests more than 1 s after the halt");
    assert!(receiver.count() < RECIPIENTS, "the halt stopped nothing");
    let status = status_json(&p);
    assert_eq!(status["halted"], true, "{status}");

    // The halted blast waits; `resume` from another process lifts the halt and the waiting
    // process finishes the update.
    let resume = crier(p.root(), &["resume", "INC-1"]).output().unwrap();
    let text = stdout(&resume);
    assert!(resume.status.success(), "{text}{}", stderr(&resume));
    assert!(text.contains("Lifted the halt on INC-1."), "{text}");
    match blast.child.try_wait().unwrap() {
        None => {
            assert!(text.contains("it continues now"), "{text}");
            let waited = Instant::now();
            let out = blast.wait_at_most(Duration::from_secs(60));
            assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
            eprintln!(
                "resume: the halted blast went on and finished {} ms later",
                waited.elapsed().as_millis()
            );
            assert_eq!(reported_in_doubt(&stdout(&out)), 0);
        }
        Some(_) => {
            // The blast exited while halted: resume sent the rest itself.
            let out = blast.wait();
            assert!(
                stdout(&out).contains("Stopped before the end"),
                "{}",
                stdout(&out)
            );
        }
    }
    assert_every_recipient_exactly_once(&receiver);
    let status = status_json(&p);
    assert_eq!(status["halted"], false);
    assert_eq!(status["channels"]["hooks"]["sent"], RECIPIENTS as u64);
    assert_eq!(status["channels"]["hooks"]["in_doubt"], 0);
    assert_rerun_sends_nothing(&p, &receiver);
}

#[test]
fn a_halted_blast_killed_is_finished_by_resume_in_another_process() {
    let receiver = Receiver::start(DELAY);
    let p = hooks_project(&receiver.uri(), IN_FLIGHT);
    let mut blast = spawn(crier(p.root(), &BLAST), &scratch(&p), "blast");
    assert!(
        receiver.wait_for(BEFORE_HALT, &mut blast.child, Duration::from_secs(60)),
        "the blast ended before {BEFORE_HALT} requests"
    );
    let halted = halt(&p);
    std::thread::sleep(WITHIN + Duration::from_millis(500));
    let (latest, late) = after_halt(&receiver, halted);
    assert_eq!(late, 0, "requests more than 1 s after the halt");
    let killed = blast.kill();
    assert!(killed.status.code().is_none(), "the halted blast exited");
    let sent_before = receiver.count();
    eprintln!("killed while halted: {sent_before} requests, the last {latest} ms after the halt");

    // Right after the kill, well within the 10 s a silent run is taken to be alive: the
    // dead process on this machine is recognised and its run taken over.
    let started = Instant::now();
    let resume = crier(p.root(), &["resume", "INC-1"]).output().unwrap();
    let text = stdout(&resume);
    assert!(resume.status.success(), "{text}{}", stderr(&resume));
    assert!(text.contains("Lifted the halt on INC-1."), "{text}");
    // Everything in flight finished before the kill, and claimed rows were never sent:
    // nothing is in doubt.
    assert_eq!(reported_in_doubt(&text), 0, "{text}");
    eprintln!(
        "resume sent {} in {} ms",
        receiver.count() - sent_before,
        started.elapsed().as_millis()
    );
    assert_every_recipient_exactly_once(&receiver);
    assert_rerun_sends_nothing(&p, &receiver);
}

// ---------------------------------------------------------------------------------------------
// Secrets

const SMTP_USERNAME: &str = "CANARY-SMTP-USERNAME-c4d2";
const SMTP_PASSWORD: &str = "CANARY-SMTP-PASSWORD-7f3a";
const SLACK_TOKEN: &str = "CANARY-SLACK-TOKEN-91bd";
/// The webhook signing key's 32 bytes.
const WEBHOOK_KEY: &[u8; 32] = b"CANARY-WEBHOOK-KEY-0e5b-32-bytes";

fn slack_url() -> String {
    format!("http://127.0.0.1:1/services/{SLACK_TOKEN}")
}

fn webhook_key_base64() -> String {
    base64::engine::general_purpose::STANDARD.encode(WEBHOOK_KEY)
}

/// Every secret as it could leak: as given, and the forms it takes on the wire (SMTP AUTH
/// sends base64; the webhook key is base64 in the environment and bytes when used).
fn canaries() -> Vec<String> {
    let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
    vec![
        SMTP_USERNAME.into(),
        SMTP_PASSWORD.into(),
        b64(SMTP_USERNAME),
        b64(SMTP_PASSWORD),
        b64(&format!("\0{SMTP_USERNAME}\0{SMTP_PASSWORD}")),
        SLACK_TOKEN.into(),
        slack_url(),
        "CANARY-WEBHOOK-KEY-0e5b".into(),
        webhook_key_base64(),
        webhook_key_base64()[..24].into(),
        // Values that are refused (not base64; not a web address), so error paths run.
        "CANARY-NOT-BASE64-1c9e".into(),
        "CANARY-BAD-URL-2d7f".into(),
    ]
}

/// The canaries found in `bytes`.
fn leaks(bytes: &[u8]) -> Vec<String> {
    canaries()
        .into_iter()
        .filter(|c| bytes.windows(c.len()).any(|w| w == c.as_bytes()))
        .collect()
}

/// A project with an email, a Slack and a webhook channel, each with a canary secret; email
/// and Slack are refused (nothing listens on port 1), half the webhooks reach `receiver`.
fn canary_project(receiver: &str) -> Project {
    let p = Project::init();
    crate::http_support::allow_loopback(&p);
    std::fs::remove_file(p.root().join("channels/file.toml")).unwrap();
    p.write(
        "channels/mail.toml",
        "type = \"email\"\nsmtp_url = \"smtp://127.0.0.1:1\"\n\
         username_env = \"CRIER_TEST_SMTP_USERNAME\"\npassword_env = \"CRIER_TEST_SMTP_PASSWORD\"\n\
         from = \"Acme Status <status@acme.example>\"\ntimeout_secs = 1\n",
    );
    p.write(
        "channels/chat.toml",
        "type = \"slack\"\nurl_env = \"CRIER_TEST_SLACK_URL\"\ntimeout_secs = 1\n",
    );
    p.write(
        "channels/hooks.toml",
        &format!(
            "type = \"webhook\"\nsecret_env = \"{SECRET_VAR}\"\nper_second = 0\ntimeout_secs = 1\n"
        ),
    );
    let mut csv = String::from("id,email,name,webhook_url\n");
    for n in 1..=10 {
        let host = if n % 2 == 0 {
            receiver
        } else {
            "http://127.0.0.1:1"
        };
        csv.push_str(&format!(
            "cus_{n},customer{n}@example.com,Customer {n},{host}/hook/cus_{n}\n"
        ));
    }
    p.write("audience.csv", &csv);
    p
}

/// `crier ARGS` in `root` with the canary secrets (`webhook_secret` as the signing secret and
/// `slack` as the Slack URL) and trace logging asked for.
fn canary_crier(
    root: &Path,
    args: &[&str],
    webhook_secret: &str,
    slack: &str,
) -> std::process::Command {
    let mut cmd = crier(root, args);
    cmd.env("CRIER_TEST_SMTP_USERNAME", SMTP_USERNAME)
        .env("CRIER_TEST_SMTP_PASSWORD", SMTP_PASSWORD)
        .env("CRIER_TEST_SLACK_URL", slack)
        .env(SECRET_VAR, webhook_secret)
        .env("RUST_LOG", "trace")
        .env("RUST_BACKTRACE", "1");
    cmd
}

#[test]
fn no_secret_reaches_the_screen_the_journal_or_a_file() {
    let receiver = Receiver::keeping_raw();
    let p = canary_project(&receiver.uri());
    let dir = scratch(&p);
    let secret = format!("whsec_{}", webhook_key_base64());
    let slack = slack_url();
    let run = |args: &[&str]| {
        canary_crier(p.root(), args, &secret, &slack)
            .output()
            .unwrap()
    };
    let mut outputs: Vec<(String, Output)> = Vec::new();

    let checked = run(&["check"]);
    assert!(checked.status.success(), "{}", stderr(&checked));
    outputs.push(("check".into(), checked));
    outputs.push(("check --json".into(), run(&["check", "--json"])));
    let blast_args = [&crate::support::OUTAGE[..], &["--yes"]].concat();
    outputs.push((
        "blast --dry-run".into(),
        run(&[&blast_args[..], &["--dry-run"]].concat()),
    ));

    // The blast: refused connections are retried with back-off (timeout 1 s); after 5 s it is
    // asked to stop (SIGTERM), as an operator's Ctrl-C would.
    let mut blast = spawn(
        canary_crier(p.root(), &blast_args, &secret, &slack),
        &dir,
        "blast",
    );
    let started = Instant::now();
    while blast.child.try_wait().unwrap().is_none() && started.elapsed() < Duration::from_secs(5) {
        std::thread::sleep(Duration::from_millis(50));
    }
    if blast.child.try_wait().unwrap().is_none() {
        let pid = blast.child.id().to_string();
        let _ = std::process::Command::new("kill")
            .args(["-TERM", &pid])
            .status();
    }
    let blast = blast.wait_at_most(Duration::from_secs(20));
    assert!(
        stdout(&blast).contains("INC-1 update 1 (outage-notice):"),
        "{}{}",
        stdout(&blast),
        stderr(&blast)
    );
    outputs.push(("blast".into(), blast));
    assert!(
        receiver.count() >= 5,
        "the reachable webhooks got {} requests",
        receiver.count()
    );
    let status = run(&["status", "INC-1", "--json"]);
    let json: serde_json::Value = serde_json::from_slice(&status.stdout).unwrap();
    assert_eq!(json["channels"]["hooks"]["sent"], 5, "{json}");
    outputs.push(("status --json".into(), status));
    outputs.push(("status".into(), run(&["status", "INC-1"])));

    // Values that are refused: errors name the variable, never the value.
    let bad_secret = "whsec_CANARY-NOT-BASE64-1c9e";
    let bad_slack = "ftp://CANARY-BAD-URL-2d7f";
    let refused = canary_crier(p.root(), &["check"], bad_secret, bad_slack)
        .output()
        .unwrap();
    assert_eq!(refused.status.code(), Some(2), "{}", stderr(&refused));
    assert!(
        stderr(&refused).contains(SECRET_VAR),
        "{}",
        stderr(&refused)
    );
    outputs.push(("check with refused values".into(), refused));
    let refused = canary_crier(p.root(), &blast_args, bad_secret, bad_slack)
        .output()
        .unwrap();
    assert_eq!(refused.status.code(), Some(2), "{}", stderr(&refused));
    outputs.push(("blast with refused values".into(), refused));

    for (what, out) in &outputs {
        assert_eq!(
            leaks(&out.stdout),
            Vec::<String>::new(),
            "stdout of `{what}`"
        );
        assert_eq!(
            leaks(&out.stderr),
            Vec::<String>::new(),
            "stderr of `{what}`"
        );
    }
    let all = files(&dir);
    assert!(all.iter().any(|f| f.ends_with("crier.db")));
    for file in &all {
        let bytes = std::fs::read(file).unwrap();
        assert_eq!(leaks(&bytes), Vec::<String>::new(), "{}", file.display());
    }
    // Not on the wire either: the webhook carries a signature, never its key.
    for hit in receiver.hits() {
        assert_eq!(
            leaks(&hit.raw),
            Vec::<String>::new(),
            "a request to {}",
            hit.path
        );
        assert!(String::from_utf8_lossy(&hit.raw).contains("webhook-signature: v1,"));
    }
}
