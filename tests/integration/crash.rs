//! Crash safety, the acceptance criterion of sending: a blast of 2,000 webhooks killed with
//! SIGKILL at a random moment and then run again loses no message, and every message that
//! arrived twice carried the same `webhook-id` both times and was reported in doubt.
//!
//! Also the harness the sending tests share (`control.rs` uses it): a real HTTP receiver
//! (wiremock on 127.0.0.1) that records every request, and a project whose `hooks` channel
//! posts to each recipient's `webhook_url` on that receiver.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine as _;
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

use crate::support::{Project, stderr, stdout};

/// Recipients in every sending test.
pub const RECIPIENTS: usize = 2_000;

/// The environment variable holding the `hooks` channel's signing secret.
pub const SECRET_VAR: &str = "CRIER_TEST_WEBHOOK_SECRET";

/// `blast outage-notice` to incident INC-1 on the `hooks` channel, without a question.
pub const BLAST: [&str; 13] = crate::support::outage_on("hooks");

/// A valid Standard Webhooks secret: `whsec_` + base64 of 32 bytes.
pub fn webhook_secret() -> String {
    format!(
        "whsec_{}",
        base64::engine::general_purpose::STANDARD.encode([7u8; 32])
    )
}

// ---------------------------------------------------------------------------------------------
// The receiver

/// One request the receiver saw.
#[derive(Debug, Clone)]
pub struct Hit {
    pub path: String,
    /// The `webhook-id` header (empty when missing).
    pub id: String,
    pub at: Instant,
    /// Every header and the body, when the receiver keeps them ([`Receiver::keeping_raw`]).
    pub raw: Vec<u8>,
}

/// Answers every request with 200 after `delay`, recording it when it arrives.
struct Record {
    hits: Arc<Mutex<Vec<Hit>>>,
    delay: Duration,
    keep_raw: bool,
}

impl Respond for Record {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let id = request
            .headers
            .get("webhook-id")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string();
        let mut raw = Vec::new();
        if self.keep_raw {
            for (name, value) in &request.headers {
                raw.extend_from_slice(format!("{name}: ").as_bytes());
                raw.extend_from_slice(value.as_bytes());
                raw.push(b'\n');
            }
            raw.extend_from_slice(&request.body);
        }
        self.hits.lock().unwrap().push(Hit {
            path: request.url.path().to_string(),
            id,
            at: Instant::now(),
            raw,
        });
        ResponseTemplate::new(200).set_delay(self.delay)
    }
}

/// A real HTTP server on 127.0.0.1 (wiremock runs it on its own thread).
pub struct Receiver {
    server: MockServer,
    hits: Arc<Mutex<Vec<Hit>>>,
    _runtime: tokio::runtime::Runtime,
}

impl Receiver {
    /// A receiver answering 200 to every POST after `delay`.
    pub fn start(delay: Duration) -> Receiver {
        Receiver::new(delay, false)
    }

    /// A receiver that also keeps every request's headers and body.
    pub fn keeping_raw() -> Receiver {
        Receiver::new(Duration::ZERO, true)
    }

    fn new(delay: Duration, keep_raw: bool) -> Receiver {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let hits = Arc::new(Mutex::new(Vec::new()));
        let server = runtime.block_on(async {
            let server = MockServer::builder()
                .disable_request_recording()
                .start()
                .await;
            Mock::given(wiremock::matchers::method("POST"))
                .respond_with(Record {
                    hits: hits.clone(),
                    delay,
                    keep_raw,
                })
                .mount(&server)
                .await;
            server
        });
        Receiver {
            server,
            hits,
            _runtime: runtime,
        }
    }

    /// `http://127.0.0.1:PORT`.
    pub fn uri(&self) -> String {
        self.server.uri()
    }

    /// Requests seen so far.
    pub fn count(&self) -> usize {
        self.hits.lock().unwrap().len()
    }

    pub fn hits(&self) -> Vec<Hit> {
        self.hits.lock().unwrap().clone()
    }

    /// Wait until at least `n` requests arrived; false if `child` exited first or `timeout`
    /// passed.
    pub fn wait_for(&self, n: usize, child: &mut Child, timeout: Duration) -> bool {
        let start = Instant::now();
        while self.count() < n {
            if start.elapsed() > timeout || child.try_wait().unwrap().is_some() {
                return self.count() >= n;
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        true
    }
}

/// Requests per path.
pub fn by_path(hits: &[Hit]) -> BTreeMap<String, Vec<String>> {
    let mut paths: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for h in hits {
        paths.entry(h.path.clone()).or_default().push(h.id.clone());
    }
    paths
}

/// What the receiver saw, checked: no recipient lost, every id of the form `msg_<32 hex>`,
/// one id per recipient (the same on every request), no id shared by two recipients.
/// Returns the recipients that got more than one request.
pub fn check_deliveries(hits: &[Hit]) -> BTreeSet<String> {
    check_deliveries_of(hits, RECIPIENTS)
}

/// [`check_deliveries`] for `n` recipients, `/hook/cus_1` … `/hook/cus_{n}`.
pub fn check_deliveries_of(hits: &[Hit], n: usize) -> BTreeSet<String> {
    let paths = by_path(hits);
    let lost: Vec<String> = (1..=n)
        .map(|i| format!("/hook/cus_{i}"))
        .filter(|p| !paths.contains_key(p))
        .collect();
    assert!(
        lost.is_empty(),
        "lost {} recipients, first {:?}",
        lost.len(),
        &lost[..lost.len().min(5)]
    );
    assert_eq!(paths.len(), n, "requests to unexpected paths");
    let mut owners: BTreeMap<&str, &str> = BTreeMap::new();
    let mut duplicated = BTreeSet::new();
    for (path, ids) in &paths {
        let id = &ids[0];
        assert!(
            id.len() == 36
                && id.starts_with("msg_")
                && id[4..].bytes().all(|b| b.is_ascii_hexdigit()),
            "{path}: webhook-id `{id}`"
        );
        assert!(
            ids.iter().all(|i| i == id),
            "{path} got different webhook-ids: {ids:?}"
        );
        if let Some(other) = owners.insert(id, path) {
            panic!("{path} and {other} got the same webhook-id {id}");
        }
        if ids.len() > 1 {
            duplicated.insert(path.trim_start_matches("/hook/").to_string());
        }
    }
    duplicated
}

// ---------------------------------------------------------------------------------------------
// The project and the binary

/// A project from `crier init` whose only channel, `hooks`, posts a signed event to each of
/// [`RECIPIENTS`] recipients at `{receiver}/hook/cus_N`.
pub fn hooks_project(receiver: &str, max_in_flight: u32) -> Project {
    hooks_project_of(receiver, max_in_flight, RECIPIENTS)
}

/// [`hooks_project`] with `n` recipients.
pub fn hooks_project_of(receiver: &str, max_in_flight: u32, n: usize) -> Project {
    let p = Project::init();
    crate::http_support::allow_loopback(&p);
    std::fs::remove_file(p.root().join("channels/file.toml")).unwrap();
    p.write(
        "channels/hooks.toml",
        &format!(
            "type = \"webhook\"\nsecret_env = \"{SECRET_VAR}\"\nper_second = 0\nmax_in_flight = {max_in_flight}\n"
        ),
    );
    let mut csv = String::from("id,email,name,webhook_url\n");
    for i in 1..=n {
        csv.push_str(&format!(
            "cus_{i},customer{i}@example.com,Customer {i},{receiver}/hook/cus_{i}\n"
        ));
    }
    p.write("audience.csv", &csv);
    p
}

/// `crier ARGS` in `root`, with the webhook secret set and nothing inherited that changes
/// its behaviour; output goes to files (see [`Running`]) so a child never blocks on a pipe.
pub fn crier(root: &Path, args: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_crier"));
    cmd.current_dir(root)
        .args(args)
        .env_remove("CRIER_CONFIG")
        .env_remove("CRIER_NOW")
        .env("NO_COLOR", "1")
        .env(SECRET_VAR, webhook_secret())
        .stdin(Stdio::null());
    cmd
}

/// A `crier` child process whose stdout and stderr go to files outside the project.
pub struct Running {
    pub child: Child,
    out: PathBuf,
    err: PathBuf,
}

/// A test that fails while its child runs (a `crier serve`, a blast) does not leave it running.
impl Drop for Running {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Start `cmd`, its output into `{dir}/{name}.out` and `.err`.
pub fn spawn(mut cmd: Command, dir: &Path, name: &str) -> Running {
    let out = dir.join(format!("{name}.out"));
    let err = dir.join(format!("{name}.err"));
    cmd.stdout(std::fs::File::create(&out).unwrap())
        .stderr(std::fs::File::create(&err).unwrap());
    Running {
        child: cmd.spawn().expect("crier starts"),
        out,
        err,
    }
}

impl Running {
    /// Kill it with SIGKILL (on Unix) and reap it.
    pub fn kill(mut self) -> Output {
        let _ = self.child.kill();
        self.wait()
    }

    /// Wait for it to exit.
    pub fn wait(mut self) -> Output {
        let status = self.child.wait().unwrap();
        Output {
            status,
            stdout: std::fs::read(&self.out).unwrap(),
            stderr: std::fs::read(&self.err).unwrap(),
        }
    }

    /// Wait for it to exit, at most `timeout`; kill it and fail after that.
    pub fn wait_at_most(mut self, timeout: Duration) -> Output {
        let start = Instant::now();
        while self.child.try_wait().unwrap().is_none() {
            if start.elapsed() > timeout {
                let out = self.kill();
                panic!(
                    "crier ran longer than {timeout:?}\nstdout:\n{}\nstderr:\n{}",
                    stdout(&out),
                    stderr(&out)
                );
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        self.wait()
    }
}

/// Where a test keeps the output of its processes: the temp folder around the project.
pub fn scratch(p: &Project) -> PathBuf {
    p.root().parent().unwrap().to_path_buf()
}

/// `crier status INC-1 --json`.
pub fn status_json(p: &Project) -> serde_json::Value {
    let out = crier(p.root(), &["status", "INC-1", "--json"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    serde_json::from_slice(&out.stdout).unwrap()
}

/// How many messages the summary says were in doubt after an interrupted run (0 if none).
pub fn reported_in_doubt(text: &str) -> u64 {
    text.lines()
        .find_map(|l| l.split_once(" messages were in doubt after an interrupted run"))
        .map_or(0, |(n, _)| n.trim().parse().expect("a count"))
}

/// The recipients the journal marks in doubt (found `attempting` after a crash, or timed out).
pub fn in_doubt_in_journal(root: &Path) -> BTreeSet<String> {
    use sqlx::Connection as _;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let options = sqlx::sqlite::SqliteConnectOptions::new().filename(root.join("crier.db"));
        let mut db = sqlx::SqliteConnection::connect_with(&options)
            .await
            .unwrap();
        let ids: Vec<String> =
            sqlx::query_scalar("SELECT recipient_id FROM deliveries WHERE in_doubt = 1")
                .fetch_all(&mut db)
                .await
                .unwrap();
        db.close().await.unwrap();
        ids.into_iter().collect()
    })
}

// ---------------------------------------------------------------------------------------------
// The test

/// Per-request delay of the receiver: long enough that a blast can be killed mid-way.
const DELAY: Duration = Duration::from_millis(2);

/// Runs (each on a fresh project and receiver), and how many of them must have killed the
/// blast before it finished: odd runs always do, even runs nearly always.
const RUNS: u64 = 7;
const CRASHES: u64 = 5;

#[test]
fn a_blast_killed_at_any_moment_and_run_again_loses_nothing_and_reports_every_duplicate() {
    let started = Instant::now();
    // A full run, uninterrupted: every recipient exactly once, nothing in doubt. Its length
    // bounds the random kill delays below.
    let receiver = Receiver::start(DELAY);
    let p = hooks_project(&receiver.uri(), 16);
    let t0 = Instant::now();
    let out = crier(p.root(), &BLAST).output().unwrap();
    let full = t0.elapsed();
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
    let hits = receiver.hits();
    assert_eq!(hits.len(), RECIPIENTS, "{}", stdout(&out));
    assert!(check_deliveries(&hits).is_empty());
    assert_eq!(reported_in_doubt(&stdout(&out)), 0);
    eprintln!("full run: {} ms", full.as_millis());

    let mut crashes = 0;
    for run in 1..=RUNS {
        let mut rng = fastrand::Rng::with_seed(run);
        let receiver = Receiver::start(DELAY);
        let p = hooks_project(&receiver.uri(), 16);
        let dir = scratch(&p);
        let mut first = spawn(crier(p.root(), &BLAST), &dir, "first");
        // Odd runs: kill once the receiver has seen a random number of requests; even runs:
        // after a random delay (which may fall before sending starts, while planning).
        let when = if run % 2 == 1 {
            let n = rng.usize(1..RECIPIENTS);
            assert!(
                receiver.wait_for(n, &mut first.child, Duration::from_secs(60)),
                "run {run}: the blast ended before {n} requests"
            );
            format!("after {n} requests")
        } else {
            let max = (full.as_millis() as u64 * 7 / 10).max(60);
            let ms = rng.u64(50..max);
            std::thread::sleep(Duration::from_millis(ms));
            format!("after {ms} ms")
        };
        let killed = first.kill();
        let before = receiver.count();
        if killed.status.code().is_some() {
            // It finished first (a slow machine ran it faster than the calibration run).
            assert!(killed.status.success(), "run {run}: {}", stderr(&killed));
            let again = crier(p.root(), &BLAST).output().unwrap();
            assert!(stdout(&again).contains("was already sent; nothing new to send"));
            assert!(check_deliveries(&receiver.hits()).is_empty());
            eprintln!("run {run}: finished before the kill {when}");
            continue;
        }
        crashes += 1;

        let second = crier(p.root(), &BLAST).output().unwrap();
        assert!(
            second.status.success(),
            "run {run}: {}{}",
            stdout(&second),
            stderr(&second)
        );
        let hits = receiver.hits();
        let duplicated = check_deliveries(&hits);
        let reported = reported_in_doubt(&stdout(&second));
        let journal = in_doubt_in_journal(p.root());
        let status = status_json(&p);
        let hooks = &status["channels"]["hooks"];
        assert_eq!(hooks["sent"], RECIPIENTS as u64, "run {run}: {status}");
        assert_eq!(
            hooks["in_doubt"],
            journal.len() as u64,
            "run {run}: {status}"
        );
        assert_eq!(
            reported,
            journal.len() as u64,
            "run {run}: {}",
            stdout(&second)
        );
        assert!(duplicated.len() as u64 <= reported, "run {run}");
        let unreported: Vec<&String> = duplicated.difference(&journal).collect();
        assert!(
            unreported.is_empty(),
            "run {run}: duplicates not reported in doubt: {unreported:?}"
        );
        eprintln!(
            "run {run}: killed {when} ({before} requests), then {} more; {} duplicated, {} in doubt",
            hits.len() - before,
            duplicated.len(),
            reported
        );
    }
    assert!(
        crashes >= CRASHES,
        "only {crashes} runs were killed mid-way"
    );
    eprintln!("crash test: {} ms", started.elapsed().as_millis());
}
