//! `crier blast` on the email channel, against a real SMTP server on 127.0.0.1 started by each
//! test (see `smtp_server.rs`): every recipient gets the message exactly once, through
//! refusals, retries and dropped connections.

use std::collections::{BTreeMap, BTreeSet};
use std::process::Output;
use std::time::Duration;

use crate::smtp_server::{Received, SmtpServer, Stage, Times};
use crate::support::{self, Project, stderr, stdout};

/// The longest one `crier` run may take before the test fails (it is killed).
const RUN_LIMIT: Duration = Duration::from_secs(25);

const BLAST: [&str; 13] = crate::support::outage_on("mail");

fn address(i: usize) -> String {
    format!("user{i:04}@example.com")
}

fn recipient_id(i: usize) -> String {
    format!("cus_{i:04}")
}

/// A project from `crier init` whose only channel is `mail`, pointing at `server`, with
/// `recipients` people in the audience.
fn email_project(server: &SmtpServer, recipients: usize) -> Project {
    let p = Project::init();
    std::fs::remove_file(p.root().join("channels/file.toml")).expect("remove file channel");
    p.write(
        "channels/mail.toml",
        &format!(
            "type = \"email\"\n\
             smtp_url = \"{}\"\n\
             from = \"Acme Status <status@acme.example>\"\n\
             per_second = 0\n\
             max_in_flight = 8\n",
            server.url()
        ),
    );
    let mut csv = String::from("id,email,name\n");
    for i in 1..=recipients {
        csv.push_str(&format!("{},{},User {i}\n", recipient_id(i), address(i)));
    }
    p.write("audience.csv", &csv);
    p
}

/// Run the real binary in the project, as `support` does, but killed after [`RUN_LIMIT`].
fn crier(p: &Project, args: &[&str]) -> Output {
    assert_cmd::Command::cargo_bin("crier")
        .expect("binary built")
        .current_dir(p.root())
        .args(args)
        .env("CRIER_NOW", support::NOW)
        .env_remove("CRIER_CONFIG")
        .env("NO_COLOR", "1")
        .timeout(RUN_LIMIT)
        .output()
        .expect("crier runs")
}

fn blast(p: &Project) -> Output {
    let out = crier(p, &BLAST);
    assert!(
        out.status.code().is_some(),
        "crier blast did not finish within {RUN_LIMIT:?}\nstdout:\n{}\nstderr:\n{}",
        stdout(&out),
        stderr(&out)
    );
    out
}

fn status(p: &Project) -> serde_json::Value {
    let out = crier(p, &["status", "INC-1", "--json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    serde_json::from_slice(&out.stdout).expect("status --json is JSON")
}

/// `sent`, `failed`, `retry`, `pending` of the `mail` channel in `status --json`.
fn mail_counts(status: &serde_json::Value) -> [u64; 4] {
    let c = &status["channels"]["mail"];
    ["sent", "failed", "retry", "pending"].map(|k| {
        c[k].as_u64()
            .unwrap_or_else(|| panic!("no `{k}` in {status:#}"))
    })
}

/// The `attempts` column of the journal row of `recipient` on `mail`, read from the SQLite
/// journal the way an operator would with `sqlite3 crier.db`.
fn journal_attempts(p: &Project, recipient: &str) -> i64 {
    use sqlx::ConnectOptions;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    runtime.block_on(async {
        let mut conn = sqlx::sqlite::SqliteConnectOptions::new()
            .filename(p.root().join("crier.db"))
            .connect()
            .await
            .expect("open the journal");
        sqlx::query_scalar(
            "SELECT attempts FROM deliveries WHERE channel = 'mail' AND recipient_id = ?",
        )
        .bind(recipient)
        .fetch_one(&mut conn)
        .await
        .expect("the row of the recipient")
    })
}

/// The messages the server accepted, by envelope recipient.
fn by_recipient(received: &[Received]) -> BTreeMap<String, Vec<&Received>> {
    let mut map: BTreeMap<String, Vec<&Received>> = BTreeMap::new();
    for m in received {
        assert_eq!(
            m.to.len(),
            1,
            "one envelope recipient per message: {:?}",
            m.to
        );
        map.entry(m.to[0].clone()).or_default().push(m);
    }
    map
}

/// Exactly one accepted message for each of `expected`, none for anyone else, and no two
/// with the same Message-ID.
fn assert_exactly_once(server: &SmtpServer, expected: &BTreeSet<String>) {
    let received = server.received();
    let by_to = by_recipient(&received);
    let duplicated: Vec<_> = by_to
        .iter()
        .filter(|(_, ms)| ms.len() > 1)
        .map(|(to, ms)| format!("{to} ×{}", ms.len()))
        .collect();
    assert!(duplicated.is_empty(), "delivered twice: {duplicated:?}");
    let got: BTreeSet<String> = by_to.keys().cloned().collect();
    let missing: Vec<_> = expected.difference(&got).collect();
    let unexpected: Vec<_> = got.difference(expected).collect();
    assert!(missing.is_empty(), "never delivered: {missing:?}");
    assert!(
        unexpected.is_empty(),
        "delivered to someone else: {unexpected:?}"
    );
    let ids: BTreeSet<&str> = received
        .iter()
        .map(|m| {
            m.message_id
                .as_deref()
                .expect("every message has a Message-ID")
        })
        .collect();
    assert_eq!(ids.len(), received.len(), "Message-IDs are distinct");
    assert_eq!(received.len(), expected.len());
    assert_eq!(server.protocol_errors(), Vec::<String>::new());
}

fn everyone(n: usize) -> BTreeSet<String> {
    (1..=n).map(address).collect()
}

/// Bare CR or LF anywhere in `raw`, as `(offset, byte)`.
fn bare_line_breaks(raw: &[u8]) -> Vec<(usize, u8)> {
    let mut bad = Vec::new();
    for (i, &b) in raw.iter().enumerate() {
        let ok = match b {
            b'\r' => raw.get(i + 1) == Some(&b'\n'),
            b'\n' => i > 0 && raw[i - 1] == b'\r',
            _ => true,
        };
        if !ok {
            bad.push((i, b));
        }
    }
    bad
}

/// The header section of a raw message, unfolded, as `(lowercase name, value)`.
fn headers(raw: &[u8]) -> Vec<(String, String)> {
    let text = String::from_utf8_lossy(raw);
    let head = text.split("\r\n\r\n").next().unwrap_or_default();
    let mut out: Vec<(String, String)> = Vec::new();
    for line in head.split("\r\n") {
        if line.starts_with([' ', '\t']) {
            if let Some(last) = out.last_mut() {
                last.1.push(' ');
                last.1.push_str(line.trim());
            }
        } else if let Some((name, value)) = line.split_once(':') {
            out.push((name.trim().to_ascii_lowercase(), value.trim().to_string()));
        }
    }
    out
}

fn header<'a>(headers: &'a [(String, String)], name: &str) -> Vec<&'a str> {
    headers
        .iter()
        .filter(|(n, _)| n == name)
        .map(|(_, v)| v.as_str())
        .collect()
}

#[test]
fn a_thousand_recipients_each_get_one_well_formed_email_and_a_rerun_sends_nothing() {
    const N: usize = 1_000;
    let server = SmtpServer::start();
    let p = email_project(&server, N);

    let out = blast(&p);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}\n{}",
        stdout(&out),
        stderr(&out)
    );
    assert!(
        stdout(&out).contains("mail                1000 sent      0 failed      0 not sent yet"),
        "{}",
        stdout(&out)
    );
    assert_exactly_once(&server, &everyone(N));
    assert!(server.refusals().is_empty());

    for m in server.received() {
        let to = &m.to[0];
        let id = m.message_id.as_deref().unwrap();
        assert!(
            id.starts_with('<') && id.ends_with("@acme.example>"),
            "{to}: Message-ID {id}"
        );
        assert_eq!(m.from, "status@acme.example");
        assert_eq!(
            bare_line_breaks(&m.raw),
            vec![],
            "{to}: bare CR or LF in the DATA"
        );
        let h = headers(&m.raw);
        assert_eq!(
            header(&h, "subject"),
            ["Investigating: Checkout is failing"],
            "{to}"
        );
        assert_eq!(
            header(&h, "message-id"),
            [id],
            "{to}: one Message-ID header"
        );
        assert_eq!(
            header(&h, "from"),
            ["\"Acme Status\" <status@acme.example>"],
            "{to}"
        );
        let to_header = header(&h, "to");
        assert_eq!(to_header.len(), 1, "{to}: {h:?}");
        assert!(
            to_header[0].ends_with(&format!("<{to}>")),
            "{to}: To: {to_header:?}"
        );
        let content_type = header(&h, "content-type");
        assert_eq!(content_type.len(), 1, "{to}: {h:?}");
        assert!(
            content_type[0].starts_with("multipart/alternative;"),
            "{to}: {content_type:?}"
        );
        let boundary = content_type[0]
            .split("boundary=")
            .nth(1)
            .expect("a boundary")
            .trim_matches('"');
        let body = String::from_utf8_lossy(&m.raw);
        let parts: Vec<&str> = body.split(&format!("--{boundary}")).collect();
        // preamble, text, html, epilogue after the closing `--boundary--`
        assert_eq!(parts.len(), 4, "{to}: two parts");
        assert!(
            parts[1]
                .to_ascii_lowercase()
                .contains("\r\ncontent-type: text/plain; charset=utf-8\r\n"),
            "{to}: the first part is text/plain: {}",
            parts[1]
        );
        assert!(
            parts[2]
                .to_ascii_lowercase()
                .contains("\r\ncontent-type: text/html; charset=utf-8\r\n"),
            "{to}: the second part is HTML: {}",
            parts[2]
        );
        assert!(parts[3].starts_with("--"), "{to}: the closing boundary");
    }

    let s = status(&p);
    assert_eq!(mail_counts(&s), [1_000, 0, 0, 0], "{s:#}");

    let again = blast(&p);
    assert_eq!(again.status.code(), Some(0), "{}", stderr(&again));
    assert!(
        stdout(&again).contains("Update 1 of INC-1 was already sent; nothing new to send."),
        "{}",
        stdout(&again)
    );
    assert_eq!(server.received().len(), N, "the rerun sent nothing");
    assert_eq!(mail_counts(&status(&p)), [1_000, 0, 0, 0]);
}

#[test]
fn a_451_at_rcpt_is_retried_and_the_message_arrives_once() {
    const N: usize = 40;
    let server = SmtpServer::start();
    let greylisted = address(7);
    server.refuse(
        Stage::Rcpt,
        &greylisted,
        451,
        "4.7.1 Greylisted, please try again later",
        Times::First(1),
    );
    let p = email_project(&server, N);

    let out = blast(&p);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}\n{}",
        stdout(&out),
        stderr(&out)
    );
    assert_exactly_once(&server, &everyone(N));
    let refusals = server.refusals();
    assert_eq!(refusals.len(), 1, "{refusals:?}");
    assert_eq!((refusals[0].stage, refusals[0].code), (Stage::Rcpt, 451));
    assert_eq!(refusals[0].to, std::slice::from_ref(&greylisted));
    assert_eq!(
        server.rcpt_count(&greylisted),
        2,
        "refused once, then accepted"
    );
    assert_eq!(server.rcpt_count(&address(8)), 1);

    assert_eq!(mail_counts(&status(&p)), [N as u64, 0, 0, 0]);
    assert_eq!(journal_attempts(&p, &recipient_id(7)), 2);
    assert_eq!(journal_attempts(&p, &recipient_id(8)), 1);
}

#[test]
fn a_550_fails_that_recipient_only_and_says_how_to_retry() {
    const N: usize = 40;
    let server = SmtpServer::start();
    let unknown = address(13);
    server.refuse(
        Stage::Rcpt,
        &unknown,
        550,
        "5.1.1 <user0013@example.com>: Recipient address rejected: User unknown",
        Times::Always,
    );
    let p = email_project(&server, N);

    let out = blast(&p);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}\n{}",
        stdout(&out),
        stderr(&out)
    );
    let text = stdout(&out);
    assert!(
        text.contains("mail                  39 sent      1 failed      0 not sent yet"),
        "{text}"
    );
    assert!(text.contains("crier retry INC-1 --failed"), "{text}");

    let mut others = everyone(N);
    others.remove(&unknown);
    assert_exactly_once(&server, &others);
    assert_eq!(
        server.rcpt_count(&unknown),
        1,
        "a permanent refusal is not retried"
    );

    let s = status(&p);
    assert_eq!(mail_counts(&s), [39, 1, 0, 0], "{s:#}");
    let failures = s["failures"].as_array().expect("failures");
    assert_eq!(failures.len(), 1, "{s:#}");
    assert_eq!(failures[0]["recipient_id"], recipient_id(13));
    assert_eq!(failures[0]["channel"], "mail");
    assert_eq!(failures[0]["attempts"], 1);
    // The server's own words, once: not lettre's "permanent error (550): …" around them.
    assert_eq!(
        failures[0]["error"],
        "SMTP 550: 5.1.1 <user0013@example.com>: Recipient address rejected: User unknown"
    );
}

#[test]
fn a_421_and_dropped_connections_mid_run_still_deliver_everyone_once() {
    const N: usize = 300;
    let server = SmtpServer::start();
    server.disconnect_after(60);
    server.disconnect_after(180);
    let p = email_project(&server, N);

    let out = blast(&p);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}\n{}",
        stdout(&out),
        stderr(&out)
    );
    assert!(
        server.forced_disconnects() >= 2,
        "the server closed connections mid-run ({} times)",
        server.forced_disconnects()
    );
    assert_exactly_once(&server, &everyone(N));
    // Every connection open when a 421 was given was closed, so the messages after it came
    // over connections crier opened again.
    let received = server.received();
    for at in [60, 180] {
        let before: BTreeSet<u64> = received[..at].iter().map(|m| m.connection).collect();
        assert!(
            received[at..]
                .iter()
                .any(|m| !before.contains(&m.connection)),
            "crier reconnected after the 421 at message {at}"
        );
    }
    assert_eq!(mail_counts(&status(&p)), [N as u64, 0, 0, 0]);
}

#[test]
fn a_454_after_data_is_retried_with_the_same_message_id() {
    const N: usize = 40;
    let server = SmtpServer::start();
    let unlucky = address(21);
    server.refuse(
        Stage::DataEnd,
        &unlucky,
        454,
        "4.3.0 Temporary failure, try again",
        Times::First(1),
    );
    let p = email_project(&server, N);

    let out = blast(&p);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}\n{}",
        stdout(&out),
        stderr(&out)
    );
    assert_exactly_once(&server, &everyone(N));

    let refusals = server.refusals();
    assert_eq!(refusals.len(), 1, "{refusals:?}");
    assert_eq!((refusals[0].stage, refusals[0].code), (Stage::DataEnd, 454));
    assert_eq!(refusals[0].to, std::slice::from_ref(&unlucky));
    let refused_id = refusals[0]
        .message_id
        .clone()
        .expect("the refused DATA had a Message-ID");
    let received = server.received();
    let by_to = by_recipient(&received);
    let delivered = &by_to[&unlucky];
    assert_eq!(delivered.len(), 1);
    assert_eq!(
        delivered[0].message_id.as_deref(),
        Some(refused_id.as_str()),
        "the retry carries the Message-ID of the refused attempt"
    );
    assert_eq!(server.rcpt_count(&unlucky), 2);
    assert_eq!(mail_counts(&status(&p)), [N as u64, 0, 0, 0]);
    assert_eq!(journal_attempts(&p, &recipient_id(21)), 2);
}

#[test]
fn an_address_the_server_cannot_take_fails_at_once_and_is_not_retried() {
    // `zoë@…` needs SMTPUTF8, which this server does not offer: lettre refuses to send it.
    // Retrying cannot help, so it fails on its first attempt with the reason.
    let server = SmtpServer::start();
    let p = email_project(&server, 0);
    p.write(
        "audience.csv",
        "id,email,name\ncus_0001,user0001@example.com,User 1\ncus_0002,zoë@example.com,Zoë\n\
         cus_0003,user0003@example.com,User 3\n",
    );

    let out = blast(&p);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}\n{}",
        stdout(&out),
        stderr(&out)
    );
    assert!(
        stdout(&out).contains("mail                   2 sent      1 failed      0 not sent yet"),
        "{}",
        stdout(&out)
    );
    assert_exactly_once(&server, &[address(1), address(3)].into());
    assert_eq!(server.rcpt_count("zoë@example.com"), 0);

    let s = status(&p);
    let failures = s["failures"].as_array().expect("failures");
    assert_eq!(failures.len(), 1, "{s:#}");
    assert_eq!(failures[0]["recipient_id"], "cus_0002");
    assert_eq!(failures[0]["attempts"], 1, "not retried: {s:#}");
    assert_eq!(
        failures[0]["error"],
        "`zoë@example.com` is not ASCII and the SMTP server does not offer SMTPUTF8"
    );
}

#[test]
fn a_connection_lost_after_data_is_resent_with_the_same_message_id() {
    // The server keeps the message but the connection breaks before its `250` arrives: crier
    // cannot know, so it sends again (`in_doubt = "resend"`, the default) with the same
    // Message-ID, by which the receiver recognises the copy.
    const N: usize = 20;
    let server = SmtpServer::start();
    let lost = address(5);
    server.hang_up_after_data(&lost, Times::First(1));
    let p = email_project(&server, N);

    let out = blast(&p);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}\n{}",
        stdout(&out),
        stderr(&out)
    );
    let received = server.received();
    let by_to = by_recipient(&received);
    let copies = &by_to[&lost];
    assert_eq!(copies.len(), 2, "the kept message and the resend");
    assert!(copies[0].message_id.is_some());
    assert_eq!(copies[0].message_id, copies[1].message_id);
    for (to, messages) in &by_to {
        if *to != lost {
            assert_eq!(messages.len(), 1, "{to}");
        }
    }
    assert_eq!(by_to.len(), N);
    let s = status(&p);
    assert_eq!(mail_counts(&s), [N as u64, 0, 0, 0], "{s:#}");
    assert_eq!(s["channels"]["mail"]["in_doubt"], 1, "{s:#}");
}

#[test]
fn with_in_doubt_skip_a_connection_lost_after_data_is_listed_not_resent() {
    // The same broken connection, on a channel whose operator chose `in_doubt = "skip"`: the
    // message is not sent again but listed, for someone to check with the receiver.
    const N: usize = 20;
    let server = SmtpServer::start();
    let lost = address(5);
    server.hang_up_after_data(&lost, Times::First(1));
    let p = email_project(&server, N);
    let config = p.read("channels/mail.toml");
    p.write(
        "channels/mail.toml",
        &format!("{config}in_doubt = \"skip\"\n"),
    );

    let out = blast(&p);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}\n{}",
        stdout(&out),
        stderr(&out)
    );
    assert!(
        stdout(&out).contains("crier status INC-1"),
        "{}",
        stdout(&out)
    );
    // The server kept the one copy it got; nobody got two.
    assert_exactly_once(&server, &everyone(N));
    assert_eq!(server.rcpt_count(&lost), 1, "not sent again");

    let s = status(&p);
    let mail = &s["channels"]["mail"];
    assert_eq!(
        (&mail["sent"], &mail["skipped"], &mail["in_doubt"]),
        (&(N - 1).into(), &1.into(), &1.into()),
        "{s:#}"
    );
    let failures = s["failures"].as_array().expect("failures");
    assert_eq!(failures.len(), 1, "{s:#}");
    assert_eq!(failures[0]["recipient_id"], recipient_id(5));
    assert_eq!(failures[0]["attempts"], 1);
    let reason = failures[0]["error"].as_str().unwrap();
    assert!(
        reason.starts_with(
            "the SMTP connection broke after the message was sent, before the server confirmed it"
        ),
        "{reason}"
    );
}

/// The decoded `text/plain` part of a raw message: as sent (7bit, 8bit), quoted-printable or
/// base64, as a mail reader decodes it.
fn text_part(raw: &[u8]) -> String {
    use base64::Engine as _;
    let h = headers(raw);
    let boundary = header(&h, "content-type")[0]
        .split("boundary=")
        .nth(1)
        .expect("a boundary")
        .trim_matches('"')
        .to_string();
    let body = String::from_utf8_lossy(raw);
    let part = body.split(&format!("--{boundary}")).nth(1).expect("a part");
    let (head, content) = part.split_once("\r\n\r\n").expect("part headers");
    assert!(head.to_ascii_lowercase().contains("text/plain"), "{head}");
    let content = content.strip_suffix("\r\n").unwrap_or(content);
    let encoding = head
        .lines()
        .find_map(|l| {
            let (name, value) = l.split_once(':')?;
            name.eq_ignore_ascii_case("content-transfer-encoding")
                .then(|| value.trim().to_ascii_lowercase())
        })
        .unwrap_or_else(|| "7bit".into());
    let bytes = match encoding.as_str() {
        "base64" => base64::engine::general_purpose::STANDARD
            .decode(content.replace("\r\n", ""))
            .expect("base64"),
        "quoted-printable" => {
            let joined = content.replace("=\r\n", "");
            let mut out = Vec::new();
            let mut rest = joined.as_bytes();
            while let Some((&b, tail)) = rest.split_first() {
                if b == b'=' && tail.len() >= 2 {
                    let hex = std::str::from_utf8(&tail[..2]).expect("hex");
                    out.push(u8::from_str_radix(hex, 16).expect("=XX"));
                    rest = &tail[2..];
                } else {
                    out.push(b);
                    rest = tail;
                }
            }
            out
        }
        _ => content.as_bytes().to_vec(),
    };
    String::from_utf8(bytes).expect("UTF-8 text")
}

/// `s` with every line ending as CRLF, as crier writes a body to SMTP.
fn on_the_wire(s: &str) -> String {
    s.replace("\r\n", "\n")
        .replace('\r', "\n")
        .replace('\n', "\r\n")
}

/// Bodies that could end DATA early or be cut: `\n.\n`, `\r.\r`, lines starting with `.`, and
/// a paragraph far over SMTP's 998-character line limit. Each blast is exactly one SMTP
/// transaction per recipient, with no bare CR or LF on the wire (RUSTSEC-2026-0561: crier
/// writes every line ending as CRLF), and the text part, decoded, holds the message whole.
#[test]
fn bodies_with_dots_and_long_lines_arrive_whole_in_one_transaction_each() {
    let server = SmtpServer::start();
    let p = email_project(&server, 2);
    // The operator's own wording may have a long paragraph: one line of the text part.
    let long = format!(
        "Here is the whole story. {}The end.",
        "All of it, ".repeat(150)
    );
    p.edit(
        "templates/outage-notice.toml",
        "We're sorry — this is our fault, and we know it's costing you.",
        &long,
    );
    let out = crier(&p, &["approve", "outage-notice", "--by", "Tester"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let cases = [
        "pay\n.\nagain",
        "pay\r.\ragain",
        "pay\r\n.\r\nagain",
        ".pay\n..again\n. and .",
        "pay\n.",
    ];
    for (n, value) in cases.iter().enumerate() {
        let incident = format!("INC-{}", n + 1);
        let set = format!("affected={value} now");
        let out = crier(
            &p,
            &[
                "blast",
                "outage-notice",
                "--incident",
                &incident,
                "--title",
                "Checkout is failing",
                "--set",
                &set,
                "--set",
                "next_update=in 30 minutes",
                "--channels",
                "mail",
                "--yes",
            ],
        );
        assert_eq!(out.status.code(), Some(0), "{value:?}: {}", stderr(&out));
        let received = server.received();
        assert_eq!(received.len(), 2 * (n + 1), "{value:?}: one message each");
        assert_eq!(server.protocol_errors(), Vec::<String>::new(), "{value:?}");
        for m in &received[2 * n..] {
            assert_eq!(bare_line_breaks(&m.raw), vec![], "{value:?}");
            let text = text_part(&m.raw);
            let headline = on_the_wire(&format!("You can't {value} now right now"));
            assert!(text.contains(&headline), "{value:?}: {text}");
            assert!(
                text.contains(&long),
                "{value:?}: the long line was cut: {text}"
            );
            assert!(
                text.trim_end()
                    .ends_with("You receive this because you use Acme."),
                "{value:?}: the end of the message is missing: {text}"
            );
        }
    }
    assert_exactly_once_per_incident(&server, 2, cases.len());
}

/// Each of the `people` got exactly one message for each of `incidents` incidents.
fn assert_exactly_once_per_incident(server: &SmtpServer, people: usize, incidents: usize) {
    let received = server.received();
    let by_to = by_recipient(&received);
    for i in 1..=people {
        assert_eq!(by_to[&address(i)].len(), incidents, "{}", address(i));
    }
    assert_eq!(by_to.len(), people);
}

/// A line break typed into a value never makes a header: in the title (it becomes the subject)
/// the blast is refused and nothing is sent; in a slot, it stays in the body; in an audience
/// `name` (it becomes the `To` display name) that row is set aside and the others are sent.
/// Quotes, commas and angle brackets in a name stay in the display name.
#[test]
fn a_line_break_in_a_value_or_a_name_never_makes_a_header() {
    let server = SmtpServer::start();
    let p = email_project(&server, 0);
    p.write(
        "audience.csv",
        "id,email,name\n\
         cus_1,user0001@example.com,\"Ana\r\nBcc: x@evil.example\"\n\
         cus_2,user0002@example.com,\"Ben\nBcc: x@evil.example\"\n\
         cus_3,user0003@example.com,\"\"\"Eve\"\" <x@evil.example>, Bcc: x@evil.example\"\n\
         cus_4,user0004@example.com,Dana\n",
    );
    let run = |title: &str, set: &str| {
        crier(
            &p,
            &[
                "blast",
                "outage-notice",
                "--incident",
                "INC-1",
                "--title",
                title,
                "--set",
                set,
                "--set",
                "next_update=in 30 minutes",
                "--channels",
                "mail",
                "--yes",
            ],
        )
    };
    let out = run("Checkout is failing\r\nBcc: x@evil.example", "affected=pay");
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("error: `--title` must be one line of text"),
        "{}",
        stderr(&out)
    );
    assert!(server.received().is_empty(), "nothing was sent");

    let out = run("Checkout is failing", "affected=pay\r\nBcc: x@evil.example");
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let bad_rows = status(&p)["bad_rows"]["total"].as_u64().unwrap();
    // A CSV value cannot span lines: each name's two lines are set aside, each as a row.
    assert_eq!(
        bad_rows, 4,
        "both lines of the two names with a line break are listed"
    );
    let received = server.received();
    let to: BTreeSet<&str> = received.iter().map(|m| m.to[0].as_str()).collect();
    assert_eq!(
        to,
        BTreeSet::from(["user0003@example.com", "user0004@example.com"]),
        "the rows whose name holds a line break are set aside"
    );
    assert_eq!(received.len(), 2, "one transaction each");
    for m in &received {
        assert_eq!(m.to.len(), 1, "{:?}", m.to);
        let h = headers(&m.raw);
        let names: Vec<&str> = h.iter().map(|(n, _)| n.as_str()).collect();
        assert!(
            !names.contains(&"bcc") && !names.contains(&"cc"),
            "{names:?}"
        );
        assert_eq!(header(&h, "to").len(), 1, "{h:?}");
        let to_header = header(&h, "to")[0];
        assert!(
            to_header.ends_with(&format!("<{}>", m.to[0])),
            "one address in To: {to_header}"
        );
        assert_eq!(bare_line_breaks(&m.raw), vec![]);
        assert!(
            text_part(&m.raw).contains("You can't pay\r\nBcc: x@evil.example right now"),
            "the value stays in the body"
        );
    }
    // A slot in the subject: a line break in its value is refused before anything is sent.
    p.edit(
        "templates/outage-notice.toml",
        "{% endif %}: {{ incident.title }}\"",
        "{% endif %}: {{ incident.title }} ({{ slots.affected }})\"",
    );
    let out = crier(&p, &["approve", "outage-notice", "--by", "Tester"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let out = run(
        "Checkout is failing again",
        "affected=pay\r\nBcc: x@evil.example",
    );
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out)
            .contains("the `subject` would become an email header but contains a line break"),
        "{}",
        stderr(&out)
    );
    assert_eq!(server.received().len(), 2, "nothing more was sent");

    let eve = received
        .iter()
        .find(|m| m.to[0] == "user0003@example.com")
        .unwrap();
    let to_header = header(&headers(&eve.raw), "to")[0].to_string();
    // `=?utf-8?b?…?= =?utf-8?b?…?= <user0003@example.com>`: the name as encoded words, so its
    // quotes, comma and angle brackets are not syntax; one address.
    let (words, address) = to_header.rsplit_once(' ').expect("name and address");
    assert_eq!(address, "<user0003@example.com>", "{to_header}");
    let name: Vec<u8> = words
        .split(' ')
        .flat_map(|w| {
            use base64::Engine as _;
            let payload = w
                .strip_prefix("=?utf-8?b?")
                .and_then(|w| w.strip_suffix("?="))
                .unwrap_or_else(|| panic!("`{w}` is not an encoded word: {to_header}"));
            base64::engine::general_purpose::STANDARD
                .decode(payload)
                .expect("base64")
        })
        .collect();
    assert_eq!(
        String::from_utf8(name).unwrap(),
        "\"Eve\" <x@evil.example>, Bcc: x@evil.example"
    );
}
