//! Helpers for blasts over real HTTP: a project whose channels post to wiremock servers on
//! 127.0.0.1, the real binary run with a hard time limit, the journal read back with SQL, and
//! a Standard Webhooks verifier written from the spec (not crier's own).

use std::process::Output;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use assert_cmd::Command;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use wiremock::{Request, ResponseTemplate};

use crate::support::{NOW, Project};

/// The signing secret every test webhook channel uses: `whsec_` + base64 of 32 bytes.
pub const SECRET: &str = "whsec_AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";

/// No single `crier` run may take longer than this; a hang fails the test instead of blocking.
pub const RUN_LIMIT: Duration = Duration::from_secs(25);

/// A `crier init` project with only `channels` (name, file contents) and an audience of `rows`
/// (`id,email,name,webhook_url,intercom_user_id`).
pub fn project(channels: &[(&str, String)], rows: &[String]) -> Project {
    let p = Project::init();
    allow_loopback(&p);
    std::fs::remove_file(p.root().join("channels/file.toml")).expect("file.toml exists");
    for (name, toml) in channels {
        p.write(&format!("channels/{name}.toml"), toml);
    }
    let mut csv = String::from("id,email,name,webhook_url,intercom_user_id\n");
    for row in rows {
        csv.push_str(row);
        csv.push('\n');
    }
    p.write("audience.csv", &csv);
    p
}

/// The receivers of these tests listen on 127.0.0.1: the network guard lets crier reach them
/// because the project allows that one address, as an on-premise install allows its hosts.
pub fn allow_loopback(p: &Project) {
    p.append(
        "crier.toml",
        "\n[network]\nallow_private = [\"127.0.0.1/32\"]\n",
    );
}

/// One audience row: `id`, an email, a name, and the optional webhook URL and Intercom id.
pub fn row(id: &str, webhook_url: Option<&str>, intercom_user_id: Option<&str>) -> String {
    format!(
        "{id},{id}@example.com,Customer {id},{},{}",
        webhook_url.unwrap_or_default(),
        intercom_user_id.unwrap_or_default()
    )
}

/// A per-recipient webhook channel signed with [`SECRET`], with `extra` TOML lines.
pub fn webhook_channel(extra: &str) -> String {
    format!("type = \"webhook\"\nsecret_env = \"HOOK_SECRET\"\n{extra}\n")
}

/// A finished `crier blast`.
pub struct Run {
    pub out: Output,
    pub elapsed: Duration,
}

impl Run {
    pub fn code(&self) -> Option<i32> {
        self.out.status.code()
    }

    pub fn text(&self) -> String {
        format!(
            "exit {:?} after {:?}\n--- stdout\n{}\n--- stderr\n{}",
            self.out.status.code(),
            self.elapsed,
            String::from_utf8_lossy(&self.out.stdout),
            String::from_utf8_lossy(&self.out.stderr)
        )
    }
}

/// `crier blast outage-notice --incident INC-1 … --channels CHANNELS --yes` with `env`, the
/// real binary at [`NOW`], killed after [`RUN_LIMIT`]. `HOOK_SECRET` is always set.
pub fn blast(p: &Project, channels: &str, env: &[(&str, String)]) -> Run {
    let mut cmd = Command::cargo_bin("crier").expect("binary built");
    cmd.current_dir(p.root())
        .args(crate::support::OUTAGE)
        .args(["--channels", channels, "--yes"])
        .env("CRIER_NOW", NOW)
        .env_remove("CRIER_CONFIG")
        .env("NO_COLOR", "1")
        .env("HOOK_SECRET", SECRET)
        .timeout(RUN_LIMIT);
    for (name, value) in env {
        cmd.env(name, value);
    }
    let started = Instant::now();
    let out = cmd.output().expect("crier runs");
    let elapsed = started.elapsed();
    assert!(
        elapsed < RUN_LIMIT,
        "crier was killed after {RUN_LIMIT:?}: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    Run { out, elapsed }
}

/// `crier status INC-1 --json`.
pub fn status_json(p: &Project) -> serde_json::Value {
    let out = p.crier(&["status", "INC-1", "--json"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("status --json prints JSON")
}

/// One journal row, read straight from the SQLite file.
#[derive(Debug, Clone)]
pub struct JournalRow {
    pub recipient_id: String,
    pub key: String,
    pub state: String,
    pub attempts: i64,
    pub last_error: Option<String>,
    pub in_doubt: bool,
}

/// Every journal row of `channel`, in planning order.
pub async fn journal(p: &Project, channel: &str) -> Vec<JournalRow> {
    let url = format!("sqlite:{}", p.root().join("crier.db").display());
    let pool = sqlx::sqlite::SqlitePoolOptions::new()
        .max_connections(1)
        .connect(&url)
        .await
        .expect("the journal opens");
    let rows: Vec<(String, String, String, i64, Option<String>, i64)> = sqlx::query_as(
        "SELECT recipient_id, key, state, attempts, last_error, in_doubt FROM deliveries
         WHERE channel = ? ORDER BY id",
    )
    .bind(channel)
    .fetch_all(&pool)
    .await
    .expect("the journal reads");
    pool.close().await;
    rows.into_iter()
        .map(
            |(recipient_id, key, state, attempts, last_error, in_doubt)| JournalRow {
                recipient_id,
                key,
                state,
                attempts,
                last_error,
                in_doubt: in_doubt != 0,
            },
        )
        .collect()
}

/// A header of `request` as text; panics when it is missing.
pub fn header(request: &Request, name: &str) -> String {
    request
        .headers
        .get(name)
        .unwrap_or_else(|| panic!("no `{name}` header on {}", request.url))
        .to_str()
        .expect("an ASCII header")
        .to_string()
}

/// Verify a webhook request as a Standard Webhooks receiver does, written from the spec: the
/// key is the base64 after `whsec_`; the signed content is `{id}.{timestamp}.{body}`; the
/// header holds space-separated `v1,<base64 HMAC-SHA256>` entries; the timestamp must be within
/// five minutes of now.
pub fn signature_verifies(secret: &str, request: &Request) -> bool {
    let key = STANDARD
        .decode(secret.strip_prefix("whsec_").expect("a whsec_ secret"))
        .expect("base64 secret");
    let id = header(request, "webhook-id");
    let timestamp = header(request, "webhook-timestamp");
    let Ok(seconds) = timestamp.parse::<i64>() else {
        return false;
    };
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("after 1970")
        .as_secs() as i64;
    if (now - seconds).abs() > 300 {
        return false;
    }
    let mut mac = Hmac::<Sha256>::new_from_slice(&key).expect("any key length");
    mac.update(id.as_bytes());
    mac.update(b".");
    mac.update(timestamp.as_bytes());
    mac.update(b".");
    mac.update(&request.body);
    let expected = format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()));
    header(request, "webhook-signature")
        .split(' ')
        .any(|entry| entry == expected)
}

/// The path of `request`: `/hook/cus_1`.
pub fn path_of(request: &Request) -> String {
    request.url.path().to_string()
}

/// A request as a responder saw it: when it arrived, its path, what it was answered.
#[derive(Debug, Clone)]
pub struct Seen {
    pub at: Instant,
    pub path: String,
    pub status: u16,
}

/// An answer a [`Clock`] responder gives: status, extra headers, a delay before answering.
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(&'static str, String)>,
    pub delay: Option<Duration>,
}

impl Reply {
    pub fn status(status: u16) -> Reply {
        Reply {
            status,
            headers: Vec::new(),
            delay: None,
        }
    }

    pub fn header(mut self, name: &'static str, value: &str) -> Reply {
        self.headers.push((name, value.to_string()));
        self
    }

    pub fn after(mut self, delay: Duration) -> Reply {
        self.delay = Some(delay);
        self
    }
}

/// Arrival times of requests (wiremock does not keep them), recorded by a responder.
#[derive(Debug, Clone, Default)]
pub struct Clock(Arc<Mutex<Vec<Seen>>>);

impl Clock {
    /// A responder that records each request, then answers `answer(n)`, where `n` is how many
    /// requests this responder saw before.
    pub fn responder(
        &self,
        answer: impl Fn(usize) -> Reply + Send + Sync + 'static,
    ) -> impl Fn(&Request) -> ResponseTemplate + Send + Sync + 'static {
        let log = self.0.clone();
        move |request: &Request| {
            let mut log = log.lock().expect("log lock");
            let reply = answer(log.len());
            log.push(Seen {
                at: Instant::now(),
                path: request.url.path().to_string(),
                status: reply.status,
            });
            let mut template = ResponseTemplate::new(reply.status);
            for (name, value) in reply.headers {
                template = template.insert_header(name, value.as_str());
            }
            if let Some(delay) = reply.delay {
                template = template.set_delay(delay);
            }
            template
        }
    }

    pub fn seen(&self) -> Vec<Seen> {
        self.0.lock().expect("log lock").clone()
    }
}
