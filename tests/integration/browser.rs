//! A real browser: headless Chromium, driven through chromedriver's WebDriver API (spoken with
//! reqwest, no driver crate), loads a page of another site that embeds `/widget.js` from
//! `crier serve`. The banner shows the current headline; a blast from the CLI changes it within
//! 2 s, in the same document (no reload). Screenshots of the banner and of `/support` go to the
//! scratch folder, or to `docs/` with `CRIER_SCREENSHOTS=1` (how the README's were made).
//!
//! Chromium and chromedriver are Debian's `chromium` and `chromium-driver`; when they are
//! missing the test installs them with apt (as `.ci/run` does), or says how.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine as _;
use serde_json::{Value, json};

use crate::crash::scratch;
use crate::support::{OUTAGE, Project, stderr};

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
const TOKEN: &str = "browser-test-token";

/// Chromium and chromedriver, installed with apt if they are missing and we may.
fn browser() {
    if Path::new(CHROMIUM).exists() && Path::new(CHROMEDRIVER).exists() {
        return;
    }
    let installed = Command::new("apt-get")
        .args(["install", "-y", "chromium", "chromium-driver"])
        .env("DEBIAN_FRONTEND", "noninteractive")
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    assert!(
        installed && Path::new(CHROMEDRIVER).exists(),
        "this test needs a real browser: install Debian's `chromium` and `chromium-driver` \
         (`sudo apt-get install chromium chromium-driver`), as .ci/run does"
    );
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A WebDriver session on chromedriver at `base`.
struct Browser {
    client: reqwest::Client,
    session: String,
    base: String,
}

impl Browser {
    async fn start(base: &str) -> Browser {
        let client = crate::support::http_client(Duration::from_secs(30));
        let caps = json!({ "capabilities": { "alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": CHROMIUM,
                "args": ["--headless=new", "--no-sandbox", "--disable-gpu",
                         "--disable-dev-shm-usage", "--window-size=900,600"]
            }
        }}});
        let answer = post(&client, &format!("{base}/session"), &caps).await;
        let session = answer["value"]["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no session: {answer}"))
            .to_string();
        Browser {
            client,
            session,
            base: base.to_string(),
        }
    }

    fn url(&self, rest: &str) -> String {
        format!("{}/session/{}/{rest}", self.base, self.session)
    }

    async fn go(&self, url: &str) {
        post(&self.client, &self.url("url"), &json!({ "url": url })).await;
    }

    async fn run(&self, script: &str) -> Value {
        let answer = post(
            &self.client,
            &self.url("execute/sync"),
            &json!({ "script": script, "args": [] }),
        )
        .await;
        answer["value"].clone()
    }

    async fn screenshot(&self, to: &Path) {
        let answer: Value = serde_json::from_slice(
            &self
                .client
                .get(self.url("screenshot"))
                .send()
                .await
                .unwrap()
                .bytes()
                .await
                .unwrap(),
        )
        .unwrap();
        let png = base64::engine::general_purpose::STANDARD
            .decode(answer["value"].as_str().unwrap())
            .unwrap();
        std::fs::write(to, png).unwrap();
    }

    async fn quit(&self) {
        let _ = self
            .client
            .delete(format!("{}/session/{}", self.base, self.session))
            .send()
            .await;
    }
}

async fn post(client: &reqwest::Client, url: &str, body: &Value) -> Value {
    let bytes = client
        .post(url)
        .header("content-type", "application/json")
        .body(body.to_string())
        .send()
        .await
        .unwrap_or_else(|e| panic!("{url}: {e}"))
        .bytes()
        .await
        .unwrap();
    serde_json::from_slice(&bytes).unwrap()
}

/// Poll `check` every 50 ms until it gives a value, for at most `limit`.
async fn within<T>(limit: Duration, mut check: impl AsyncFnMut() -> Option<T>) -> Option<T> {
    let started = Instant::now();
    while started.elapsed() < limit {
        if let Some(v) = check().await {
            return Some(v);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    None
}

/// The widget's banner text, when it shows.
const BANNER: &str = "var r = document.querySelector('[aria-label=\"Service status\"]');\
                      return r && r.style.display !== 'none' ? r.innerText : null;";

/// Where screenshots go: `docs/` with `CRIER_SCREENSHOTS=1`, else the scratch folder.
fn shots(p: &Project) -> PathBuf {
    if std::env::var("CRIER_SCREENSHOTS").is_ok_and(|v| v == "1") {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("docs")
    } else {
        scratch(p)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_widget_in_a_real_browser_follows_a_blast_without_a_reload() {
    browser();
    let p = Project::init();
    let out = p.crier(&[&OUTAGE[..], &["--yes"]].concat());
    assert!(out.status.success(), "{}", stderr(&out));

    // crier serve, with the support page on.
    let (server, crier_at) = crate::server::serve(&p, &[("CRIER_SUPPORT_TOKEN", TOKEN)]);

    // The customer's own site, on another origin, embedding the widget with one tag.
    let widget_at = crier_at.clone();
    let host = axum::Router::new().route(
        "/",
        axum::routing::get(move || async move {
            axum::response::Html(format!(
                "<!doctype html><html lang=\"en\"><head><title>Acme shop</title></head><body>\
                 <h1>Acme shop</h1><p>Everything for your home.</p>\
                 <script src=\"http://{widget_at}/widget.js\" async></script></body></html>"
            ))
        }),
    );
    let host_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let host_url = format!("http://{}/", host_listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(host_listener, host).await });

    let driver_port = free_port();
    let mut driver = Command::new(CHROMEDRIVER)
        .arg(format!("--port={driver_port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("chromedriver starts");
    let driver_base = format!("http://127.0.0.1:{driver_port}");
    let client = crate::support::http_client(Duration::from_secs(5));
    let ready = within(Duration::from_secs(20), async || {
        let up = client
            .get(format!("{driver_base}/status"))
            .send()
            .await
            .ok()?;
        let crier_up = client
            .get(format!("http://{crier_at}/healthz"))
            .send()
            .await
            .ok()?;
        (up.status().is_success() && crier_up.status().is_success()).then_some(())
    })
    .await;
    assert!(ready.is_some(), "chromedriver or crier serve did not start");

    let b = Browser::start(&driver_base).await;
    b.go(&host_url).await;
    let first = within(Duration::from_secs(10), async || {
        b.run(BANNER).await.as_str().map(String::from)
    })
    .await
    .expect("the banner shows");
    assert!(
        first.contains("You can't complete a checkout right now, and we're working on it"),
        "{first}"
    );
    assert!(first.contains("Major impact"), "{first}");
    b.run("window.__sameDocument = true; return true;").await;
    b.screenshot(&shots(&p).join("widget.png")).await;

    // A new update from the CLI: the banner follows within 2 s, in the same document.
    let out = p.crier_env(
        &[
            "blast",
            "update",
            "--incident",
            "INC-1",
            "--status",
            "identified",
            "--set",
            "progress=We found the cause and are rolling back.",
            "--next-update-in",
            "30m",
            "--yes",
        ],
        &[("CRIER_NOW", "2026-11-26T13:20:00Z")],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let changed = within(Duration::from_secs(2), async || {
        let text = b.run(BANNER).await;
        text.as_str()
            .filter(|t| t.contains("we've found the cause and we're fixing it"))
            .map(String::from)
    })
    .await;
    assert!(changed.is_some(), "the banner did not change within 2 s");
    assert_eq!(b.run("return window.__sameDocument === true;").await, true);

    // The support page, signed in through its form.
    b.go(&format!("http://{crier_at}/support")).await;
    b.run(&format!(
        "document.getElementById('token').value = '{TOKEN}'; document.querySelector('form').submit(); return true;"
    ))
    .await;
    let signed_in = within(Duration::from_secs(10), async || {
        let title = b.run("return document.title;").await;
        title
            .as_str()
            .filter(|t| t.starts_with("Call script:"))
            .map(String::from)
    })
    .await;
    assert!(
        signed_in.is_some(),
        "the support page did not open after signing in"
    );
    b.screenshot(&shots(&p).join("support.png")).await;

    b.quit().await;
    let _ = driver.kill();
    let _ = driver.wait();
    let _ = server.kill();
}
