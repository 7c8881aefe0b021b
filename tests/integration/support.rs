//! Helpers: a fresh project from `crier init` in a temp folder, and running the real binary in it.

use std::path::{Path, PathBuf};
use std::process::Output;

use assert_cmd::Command;

/// `crier blast outage-notice` to incident `INC-1`: what the delivery tests send.
pub const OUTAGE: [&str; 10] = [
    "blast",
    "outage-notice",
    "--incident",
    "INC-1",
    "--title",
    "Checkout is failing",
    "--set",
    "affected=complete a checkout",
    "--set",
    "next_update=in 30 minutes",
];

/// [`OUTAGE`] on `channel` only, without a question.
pub const fn outage_on(channel: &'static str) -> [&'static str; 13] {
    let o = OUTAGE;
    [
        o[0],
        o[1],
        o[2],
        o[3],
        o[4],
        o[5],
        o[6],
        o[7],
        o[8],
        o[9],
        "--channels",
        channel,
        "--yes",
    ]
}

/// Every test runs at this moment (a Thursday, 14:05 in Berlin).
pub const NOW: &str = "2026-11-26T13:05:00Z";

/// A project created by `crier init`, deleted when dropped.
pub struct Project {
    _dir: tempfile::TempDir,
    root: PathBuf,
}

impl Project {
    pub fn init() -> Project {
        let dir = tempfile::tempdir().expect("temp dir");
        let root = dir.path().join("project");
        let out = crier_in(dir.path(), &["init", "project"]);
        assert!(
            out.status.success(),
            "init failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        Project { _dir: dir, root }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Run `crier ARGS` in the project folder.
    pub fn crier(&self, args: &[&str]) -> Output {
        crier_in(&self.root, args)
    }

    /// Run `crier ARGS` in the project folder with extra environment variables.
    pub fn crier_env(&self, args: &[&str], env: &[(&str, &str)]) -> Output {
        command(&self.root, args)
            .envs(env.iter().copied())
            .output()
            .expect("crier runs")
    }

    pub fn read(&self, rel: &str) -> String {
        std::fs::read_to_string(self.root.join(rel)).expect("read project file")
    }

    pub fn write(&self, rel: &str, contents: &str) {
        let path = self.root.join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, contents).expect("write project file");
    }

    /// Add `text` at the end of file `rel` (a table to `crier.toml`, say).
    pub fn append(&self, rel: &str, text: &str) {
        let before = self.read(rel);
        self.write(rel, &format!("{before}{text}"));
    }

    /// Replace the one occurrence of `from` in file `rel` with `to`.
    pub fn edit(&self, rel: &str, from: &str, to: &str) {
        let text = self.read(rel);
        assert_eq!(
            text.matches(from).count(),
            1,
            "`{from}` must occur once in {rel}"
        );
        self.write(rel, &text.replacen(from, to, 1));
    }

    /// The project as the library loads it.
    pub fn load(&self) -> crier::project::Project {
        crier::project::Project::load(&self.root.join("crier.toml")).expect("project loads")
    }
}

/// Run the real binary in `dir` at [`NOW`], with nothing inherited that changes its behaviour.
pub fn crier_in(dir: &Path, args: &[&str]) -> Output {
    command(dir, args).output().expect("crier runs")
}

fn command(dir: &Path, args: &[&str]) -> Command {
    let mut cmd = Command::cargo_bin("crier").expect("binary built");
    cmd.current_dir(dir)
        .args(args)
        .env("CRIER_NOW", NOW)
        .env_remove("CRIER_CONFIG")
        .env("NO_COLOR", "1");
    cmd
}

pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

pub fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The moment tests run at.
pub fn now() -> jiff::Timestamp {
    NOW.parse().unwrap()
}

/// A plain HTTP client for the tests' own requests (to `crier serve`, to chromedriver): not
/// crier's guarded client, which refuses this machine's addresses unless a project allows them.
pub fn http_client(timeout: std::time::Duration) -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .timeout(timeout)
        .no_proxy()
        .build()
        .expect("the test client builds")
}

/// Every file under `dir`, recursively.
pub fn files(dir: &Path) -> Vec<PathBuf> {
    let mut all = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            all.extend(files(&path));
        } else {
            all.push(path);
        }
    }
    all
}
