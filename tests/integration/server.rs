//! `crier serve`: every route through the router (`oneshot`, no socket), with nothing open,
//! with an open incident whose title is hostile HTML, and in maintenance; `crier page --out`
//! writes what `/` serves; the real server shows a blast from the CLI within its refresh.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::{Request, StatusCode};
use crier::server::{AppState, app};
use tower::ServiceExt;

use crate::crash::{scratch, spawn};
use crate::support::{OUTAGE, Project, now, stderr, stdout};

/// The answer to `GET path`: status, headers, body.
async fn get(state: &AppState, path: &str) -> (StatusCode, axum::http::HeaderMap, String) {
    send(state, Request::get(path).body(Body::empty()).unwrap()).await
}

async fn state(p: &Project) -> AppState {
    let project = Arc::new(p.load());
    let store = crier::store::open(&project.config.store_url, &project.config.root)
        .await
        .unwrap();
    AppState::new(project, Arc::new(store), Default::default(), now())
        .await
        .unwrap()
}

/// The state with the support page on, signed in with `token`.
async fn state_with_support(p: &Project, token: &str) -> AppState {
    let project = Arc::new(p.load());
    let store = crier::store::open(&project.config.store_url, &project.config.root)
        .await
        .unwrap();
    let access = crier::server::Access {
        support: Some(crier::server::support::Auth::new(token)),
        api: None,
    };
    AppState::new(project, Arc::new(store), access, now())
        .await
        .unwrap()
}

/// The answer to `request`: status, headers, body.
async fn send(
    state: &AppState,
    request: Request<Body>,
) -> (StatusCode, axum::http::HeaderMap, String) {
    let response = app(state.clone()).oneshot(request).await.unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = axum::body::to_bytes(response.into_body(), 1 << 20)
        .await
        .unwrap();
    (status, headers, String::from_utf8(bytes.to_vec()).unwrap())
}

#[tokio::test]
async fn with_nothing_open_every_route_says_all_is_well() {
    let p = Project::init();
    let s = state(&p).await;
    let (code, _, body) = get(&s, "/healthz").await;
    assert_eq!((code, body.as_str()), (StatusCode::OK, "ok\n"));
    let (code, headers, body) = get(&s, "/v1/status.json").await;
    assert_eq!(code, StatusCode::OK);
    assert_eq!(headers["access-control-allow-origin"], "*");
    assert_eq!(headers["cache-control"], "public, max-age=5");
    assert_eq!(headers["content-type"], "application/json");
    let json: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(json["status"]["indicator"], "none");
    assert_eq!(json["status"]["description"], "All Systems Operational");
    assert_eq!(json["incidents"], serde_json::json!([]));
    assert_eq!(json["page"]["name"], "Acme");
    assert_eq!(json["crier"]["current"], serde_json::Value::Null);
    let (code, headers, body) = get(&s, "/").await;
    assert_eq!(code, StatusCode::OK);
    assert_eq!(headers["content-type"], "text/html; charset=utf-8");
    assert!(body.contains("Everything is working normally."), "{body}");
    let (code, _, _) = get(&s, "/maintenance").await;
    assert_eq!(code, StatusCode::OK);
    let (code, headers, metrics) = get(&s, "/metrics").await;
    assert_eq!(code, StatusCode::OK);
    assert_eq!(
        headers["content-type"],
        "text/plain; version=0.0.4; charset=utf-8"
    );
    assert!(
        metrics.contains("# HELP crier_journal_backlog Messages not sent yet: due, being sent, or waiting to retry.\n# TYPE crier_journal_backlog gauge\ncrier_journal_backlog 0\n"),
        "{metrics}"
    );
    assert!(metrics.contains("crier_open_incidents 0\n"), "{metrics}");
    assert!(
        metrics.contains("# TYPE crier_limiter_waits_total counter\ncrier_limiter_waits_total "),
        "{metrics}"
    );
    let (code, _, _) = get(&s, "/nope").await;
    assert_eq!(code, StatusCode::NOT_FOUND);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_open_incident_is_on_the_page_and_in_the_json_and_html_stays_text() {
    let p = Project::init();
    let hostile = "Checkout <script>alert(1)</script> & \"payments\"";
    let blast = [
        "blast",
        "outage-notice",
        "--incident",
        "INC-7",
        "--title",
        hostile,
        "--set",
        "affected=complete a checkout",
        "--set",
        "next_update=in 30 minutes",
        "--yes",
    ];
    let out = p.crier(&blast);
    assert!(out.status.success(), "{}", stderr(&out));
    let s = state(&p).await;

    let (_, _, body) = get(&s, "/v1/status.json").await;
    let json: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(json["status"]["indicator"], "major");
    assert_eq!(json["status"]["description"], "Partial System Outage");
    let incident = &json["incidents"][0];
    assert_eq!(incident["id"], "INC-7");
    assert_eq!(incident["name"], hostile);
    assert_eq!(incident["status"], "investigating");
    assert_eq!(incident["created_at"], "2026-11-26T13:05:00Z");
    assert_eq!(incident["incident_updates"][0]["id"], "INC-7-1");
    let current = &json["crier"]["current"];
    assert_eq!(
        current["headline"],
        "You can't complete a checkout right now, and we're working on it"
    );
    assert_eq!(current["next_update_at"], "2026-11-26T13:35:00Z");

    let (_, _, page) = get(&s, "/").await;
    assert!(!page.contains("<script"), "{page}");
    assert!(
        page.contains("Checkout &lt;script&gt;alert(1)&lt;/script&gt; &amp; &quot;payments&quot;"),
        "{page}"
    );
    assert!(page.contains("started 14:05 CET"), "{page}");
    assert!(
        page.contains("You can&#39;t complete a checkout right now"),
        "{page}"
    );

    let (_, _, metrics) = get(&s, "/metrics").await;
    assert!(
        metrics.contains("crier_messages{channel=\"file\",state=\"sent\"} 6\n"),
        "{metrics}"
    );
    assert!(metrics.contains("crier_open_incidents 1\n"), "{metrics}");
    assert!(
        metrics.contains("\ncrier_last_update_age_seconds "),
        "{metrics}"
    );

    // `crier page --out` writes what `/` and `/v1/status.json` serve at the same moment.
    let site = scratch(&p).join("site");
    let out = p.crier(&["page", "--out", site.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        std::fs::read_to_string(site.join("index.html")).unwrap(),
        page
    );
    assert_eq!(
        std::fs::read_to_string(site.join("status.json")).unwrap(),
        body
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn maintenance_on_answers_503_with_retry_after_and_off_restores() {
    let p = Project::init();
    let out = p.crier(&[&OUTAGE[..], &["--yes"]].concat());
    assert!(out.status.success(), "{}", stderr(&out));
    let s = state(&p).await;
    let out = p.crier(&["maintenance", "on", "--incident", "INC-1"]);
    assert!(out.status.success(), "{}", stderr(&out));
    s.refresh(now()).await.unwrap();
    let (code, headers, body) = get(&s, "/maintenance").await;
    assert_eq!(code, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(headers["retry-after"], "120");
    assert!(
        body.contains("class=\"banner impact-maintenance\""),
        "{body}"
    );
    assert!(
        body.contains("You can&#39;t complete a checkout right now"),
        "{body}"
    );
    let (_, _, json) = get(&s, "/v1/status.json").await;
    assert!(json.contains("\"indicator\":\"maintenance\""), "{json}");

    let out = p.crier(&["maintenance", "off"]);
    assert!(out.status.success(), "{}", stderr(&out));
    s.refresh(now()).await.unwrap();
    let (code, _, _) = get(&s, "/maintenance").await;
    assert_eq!(code, StatusCode::OK);
    let (_, _, page) = get(&s, "/").await;
    assert!(
        !page.contains("class=\"banner impact-maintenance\""),
        "{page}"
    );

    let out = p.crier(&["maintenance", "on", "--incident", "INC-9"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("there is no incident `INC-9`"));
}

/// `crier serve` at the real time on a free port of 127.0.0.1, with `env`: the process and
/// its address.
pub fn serve(p: &Project, env: &[(&str, &str)]) -> (crate::crash::Running, String) {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let listen = format!("127.0.0.1:{port}");
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_crier"));
    cmd.current_dir(p.root())
        .args(["serve", "--listen", &listen])
        .envs(env.iter().copied())
        .env_remove("CRIER_NOW")
        .env_remove("CRIER_CONFIG");
    (spawn(cmd, &scratch(p), "serve"), listen)
}

/// The real server: up on a free port, shows a blast from another terminal within a couple of
/// seconds without a restart, and stops cleanly on SIGTERM.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_server_shows_a_new_blast_without_a_restart_and_stops_on_sigterm() {
    let p = Project::init();
    let (server, listen) = serve(&p, &[]);
    let client = crate::support::http_client(Duration::from_secs(5));
    let url = format!("http://{listen}/v1/status.json");
    let started = Instant::now();
    let status = |client: reqwest::Client, url: String| async move {
        match client.get(&url).send().await {
            Ok(r) => serde_json::from_slice::<serde_json::Value>(&r.bytes().await.ok()?).ok(),
            Err(_) => None,
        }
    };
    let mut seen = None;
    while seen.is_none() {
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "the server never answered"
        );
        seen = status(client.clone(), url.clone()).await;
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(seen.unwrap()["status"]["indicator"], "none");

    let out = p.crier(&[&OUTAGE[..], &["--yes"]].concat());
    assert!(out.status.success(), "{}", stderr(&out));
    let blasted = Instant::now();
    loop {
        let json = status(client.clone(), url.clone())
            .await
            .unwrap_or_default();
        if json["status"]["indicator"] == "major" {
            break;
        }
        assert!(
            blasted.elapsed() < Duration::from_secs(3),
            "the page did not show the blast: {json}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // A widget holding its event stream open does not hold up the shutdown.
    let mut held = client
        .get(format!("http://{listen}/v1/events"))
        .send()
        .await
        .unwrap();
    let first = held.chunk().await.unwrap().unwrap();
    assert!(first.starts_with(b"event: state"));
    let pid = server.child.id().to_string();
    assert!(
        std::process::Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    let out = server.wait_at_most(Duration::from_secs(10));
    assert!(out.status.success(), "{:?} {}", out.status, stderr(&out));
    assert!(
        stderr(&out).contains("crier serve: stopped."),
        "{}",
        stdout(&out)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_widget_is_small_and_its_events_follow_each_blast() {
    use futures_util::StreamExt;

    let p = Project::init();
    let s = state(&p).await;
    let (code, headers, js) = get(&s, "/widget.js").await;
    assert_eq!(code, StatusCode::OK);
    assert_eq!(headers["content-type"], "text/javascript; charset=utf-8");
    assert_eq!(headers["access-control-allow-origin"], "*");
    assert!(js.len() < 10 * 1024, "{} bytes", js.len());
    assert!(!js.contains("document.cookie") && !js.contains("innerHTML"));
    assert!(js.contains("aria-live") && js.contains("/v1/events"));

    // The stream starts with the state now (nothing open), then sends each change.
    let response = app(s.clone())
        .oneshot(Request::get("/v1/events").body(Body::empty()).unwrap())
        .await
        .unwrap();
    assert_eq!(response.headers()["content-type"], "text/event-stream");
    let mut events = response.into_body().into_data_stream();
    let mut next = async || {
        let chunk = tokio::time::timeout(Duration::from_secs(5), events.next())
            .await
            .expect("an event within 5 s")
            .expect("the stream stays open")
            .unwrap();
        String::from_utf8(chunk.to_vec()).unwrap()
    };
    let first = next().await;
    assert!(first.starts_with("event: state\ndata: {"), "{first}");
    assert!(first.contains("\"open\":false"), "{first}");

    let out = p.crier(&[&OUTAGE[..], &["--yes"]].concat());
    assert!(out.status.success(), "{}", stderr(&out));
    s.refresh(now()).await.unwrap();
    let second = next().await;
    let data: serde_json::Value =
        serde_json::from_str(second.trim().strip_prefix("event: state\ndata: ").unwrap()).unwrap();
    assert_eq!(data["open"], true);
    assert_eq!(data["incident_id"], "INC-1");
    assert_eq!(data["sequence"], 1);
    assert_eq!(data["severity"], "major");
    assert_eq!(data["updated"], "14:05 CET");
    assert_eq!(
        data["headline"],
        "You can't complete a checkout right now, and we're working on it"
    );
    assert_eq!(data["status_url"], "https://status.acme.example");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_support_page_is_for_staff_with_the_token_only() {
    let p = Project::init();
    let out = p.crier(&[&OUTAGE[..], &["--yes"]].concat());
    assert!(out.status.success(), "{}", stderr(&out));
    let secret_words = "Checkout is failing";

    // No token configured: the page is off, and says how to turn it on.
    let off = state(&p).await;
    let (code, _, body) = get(&off, "/support").await;
    assert_eq!(code, StatusCode::SERVICE_UNAVAILABLE);
    assert!(
        body.contains("CRIER_SUPPORT_TOKEN") && !body.contains(secret_words),
        "{body}"
    );

    let s = state_with_support(&p, "s3cret-token").await;
    let with = |name: &str, value: &str, path: &str| {
        Request::get(path)
            .header(name, value)
            .body(Body::empty())
            .unwrap()
    };
    // Without the token, or with a wrong one: 401, the sign-in form, nothing of the script.
    for request in [
        Request::get("/support").body(Body::empty()).unwrap(),
        with("authorization", "Bearer wrong", "/support"),
        with("authorization", "Bearer s3cret-token-and-more", "/support"),
        with("cookie", "crier_support=0000", "/support"),
        with("authorization", "Bearer wrong", "/support/events"),
    ] {
        let (code, headers, body) = send(&s, request).await;
        assert_eq!(code, StatusCode::UNAUTHORIZED);
        assert_eq!(
            headers["www-authenticate"],
            "Bearer realm=\"crier support\""
        );
        assert_eq!(headers["cache-control"], "no-store");
        assert!(!body.contains(secret_words), "{body}");
        assert!(body.contains("name=\"token\" type=\"password\""), "{body}");
    }

    // The bearer token: the call script, the timeline and the promise.
    let (code, headers, page) =
        send(&s, with("authorization", "Bearer s3cret-token", "/support")).await;
    assert_eq!(code, StatusCode::OK);
    assert_eq!(headers["cache-control"], "no-store");
    assert!(
        page.contains("<title>Call script: Checkout is failing (INC-1)</title>"),
        "{page}"
    );
    assert!(page.contains("What customers were told"), "{page}");
    assert!(
        page.contains("The next update is promised for <strong>14:35 CET</strong>"),
        "{page}"
    );
    assert!(
        page.contains("new EventSource('/support/events')"),
        "{page}"
    );

    // The form: a wrong token is refused; the right one sets a session cookie that works.
    let form = |token: &str| {
        Request::post("/support/sign-in")
            .header("content-type", "application/x-www-form-urlencoded")
            .body(Body::from(format!("token={token}")))
            .unwrap()
    };
    let (code, _, body) = send(&s, form("nope")).await;
    assert_eq!(code, StatusCode::UNAUTHORIZED);
    assert!(body.contains("That token is not right."), "{body}");
    let (code, headers, _) = send(&s, form("s3cret-token")).await;
    assert_eq!(code, StatusCode::SEE_OTHER);
    assert_eq!(headers["location"], "/support");
    let cookie = headers["set-cookie"].to_str().unwrap().to_string();
    assert!(
        cookie.ends_with("; Path=/support; Max-Age=43200; HttpOnly; Secure; SameSite=Strict"),
        "{cookie}"
    );
    assert!(
        !cookie.contains("s3cret-token"),
        "the cookie is not the token: {cookie}"
    );
    let session = cookie.split(';').next().unwrap();
    let (code, _, page) = send(
        &s,
        with("cookie", &format!("theme=dark; {session}"), "/support"),
    )
    .await;
    assert_eq!(code, StatusCode::OK);
    assert!(page.contains(secret_words));

    // Its events: the latest update at once.
    let response = app(s.clone())
        .oneshot(with("cookie", session, "/support/events"))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let mut events = response.into_body().into_data_stream();
    use futures_util::StreamExt;
    let first = tokio::time::timeout(Duration::from_secs(5), events.next())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(
        String::from_utf8(first.to_vec()).unwrap(),
        "event: update\ndata: INC-1:1\n\n"
    );
}

/// The trigger API on the real server: the token, the same preflight as `crier blast` (an
/// unapproved kind refused with its problems, nothing sent), a notice started and sent, the
/// same call again changing nothing, every call audited.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_trigger_api_runs_the_blast_preflight_and_sends_only_what_is_approved() {
    let p = Project::init();
    // Off without a token.
    let s = state(&p).await;
    let off = send(
        &s,
        Request::post("/v1/blasts").body(Body::from("{}")).unwrap(),
    )
    .await;
    assert_eq!(off.0, StatusCode::SERVICE_UNAVAILABLE);
    assert!(off.2.contains("CRIER_API_TOKEN"), "{}", off.2);

    p.edit(
        "templates/apology.toml",
        "description = \"",
        "description = \"Edited. ",
    );
    let (server, listen) = serve(&p, &[("CRIER_API_TOKEN", "api-token-123")]);
    let client = crate::support::http_client(Duration::from_secs(10));
    let url = format!("http://{listen}/v1/blasts");
    let started = Instant::now();
    while client
        .get(format!("http://{listen}/healthz"))
        .send()
        .await
        .is_err()
    {
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "the server never answered"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let call = |token: &'static str, body: String| {
        let (client, url) = (client.clone(), url.clone());
        async move {
            let r = client
                .post(&url)
                .header("authorization", format!("Bearer {token}"))
                .header("content-type", "application/json")
                .body(body)
                .send()
                .await
                .unwrap();
            let code = r.status().as_u16();
            let json: serde_json::Value =
                serde_json::from_slice(&r.bytes().await.unwrap()).unwrap();
            (code, json)
        }
    };
    let notice = serde_json::json!({
        "kind": "outage-notice", "incident": "INC-1", "title": "Checkout is failing",
        "slots": { "affected": "complete a checkout" }, "next_update_in": "30m"
    })
    .to_string();

    let (code, json) = call("wrong", notice.clone()).await;
    assert_eq!(
        (code, json["error"].as_str().unwrap()),
        (401, "send the API token as `Authorization: Bearer …`")
    );
    let (code, json) = call("api-token-123", "{\"kind\": 1}".into()).await;
    assert_eq!(code, 400);
    assert!(
        json["error"]
            .as_str()
            .unwrap()
            .starts_with("the body is not a blast request"),
        "{json}"
    );

    // Not approved as it is now: refused with the problem, nothing sent.
    p.edit(
        "templates/apology.toml",
        "description = \"",
        "description = \"Edited. ",
    );
    let apology = serde_json::json!({ "kind": "apology", "incident": "INC-1", "title": "Checkout is failing" }).to_string();
    let (code, json) = call("api-token-123", apology).await;
    assert_eq!(code, 422, "{json}");
    assert!(
        json["error"]
            .as_str()
            .unwrap()
            .starts_with("nothing was sent"),
        "{json}"
    );
    let problems = json["problems"].to_string();
    assert!(
        problems.contains("changed since crier init approved it"),
        "{problems}"
    );
    assert!(problems.contains("\"field\":\"slots.cause\""), "{problems}");
    assert!(!p.root().join("outbox").exists(), "nothing was written");

    // An incident crier does not know needs its title, as on the command line.
    let unknown = serde_json::json!({ "kind": "outage-notice", "incident": "INC-404",
        "slots": { "affected": "complete a checkout" } })
    .to_string();
    let (code, json) = call("api-token-123", unknown).await;
    assert_eq!(code, 422, "{json}");
    assert!(
        json["problems"]
            .to_string()
            .contains("incident `INC-404` is new and needs a title"),
        "{json}"
    );

    let (code, json) = call("api-token-123", notice.clone()).await;
    assert_eq!(code, 202, "{json}");
    assert_eq!(
        (json["incident"].as_str(), json["update"].as_u64()),
        (Some("INC-1"), Some(1))
    );
    let mut sent = 0;
    while sent < 6 {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "the API's blast was not sent"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
        let out = p.crier(&["status", "INC-1", "--json"]);
        let status: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_default();
        sent = status["channels"]["file"]["sent"].as_u64().unwrap_or(0);
    }
    let (code, json) = call("api-token-123", notice).await;
    assert_eq!(
        (code, json["continued"].as_bool()),
        (200, Some(true)),
        "{json}"
    );

    let pid = server.child.id().to_string();
    std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap();
    let out = server.wait_at_most(Duration::from_secs(10));
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        api_audit(&p).await,
        [
            "api blast refused",
            "api blast refused",
            "api blast",
            "api blast"
        ]
    );
    // The server's log has a line per call, and never the token.
    let log = stderr(&out);
    assert!(
        log.contains("msg=request method=POST path=\"/v1/blasts\" status=202"),
        "{log}"
    );
    assert!(log.contains("status=401"), "{log}");
    assert!(!log.contains("api-token-123"), "{log}");
}

/// The API's rows of the audit log, read straight from the journal.
async fn api_audit(p: &Project) -> Vec<String> {
    let pool =
        sqlx::SqlitePool::connect(&format!("sqlite:{}", p.root().join("crier.db").display()))
            .await
            .unwrap();
    let rows: Vec<(String, String)> =
        sqlx::query_as("SELECT actor, command FROM audit WHERE actor = 'api' ORDER BY id")
            .fetch_all(&pool)
            .await
            .unwrap();
    rows.into_iter().map(|(a, c)| format!("{a} {c}")).collect()
}
