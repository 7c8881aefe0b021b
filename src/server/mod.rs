//! `crier serve`: one axum server for the public status page (`/`), its JSON
//! (`/v1/status.json`, shaped like Statuspage's `summary.json`), the embeddable widget
//! (`/widget.js`, fed live by `/v1/events`), the maintenance switch's answer for load
//! balancers (`/maintenance`), `/metrics` (Prometheus) and `/healthz`. Every route is listed
//! in [`app`].
//!
//! Public answers come from a [`Snapshot`] the server refreshes from the journal every second
//! (a blast from any terminal shows within about a second); requests never touch the database.
//! Event streams wait on the snapshot's watch channel and send the widget's state when it
//! changes.

pub mod api;
pub mod metrics;
pub mod page;
pub mod public;
pub mod snapshot;
pub mod support;

use std::convert::Infallible;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::{Form, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};

pub use snapshot::Snapshot;

use crate::project::Project;
use crate::store::Backend;

/// How often the snapshot is read again from the journal.
pub const REFRESH: Duration = Duration::from_secs(1);
/// What `/maintenance` asks a client to wait before trying again, in seconds.
pub const RETRY_AFTER_SECS: u32 = 120;
/// How long clients and caches may keep a public answer: 5 s.
const PUBLIC_CACHE: &str = "public, max-age=5";

/// What every route shares.
#[derive(Clone)]
pub struct AppState {
    inner: Arc<Inner>,
}

/// Who may use the private routes: staff (`/support`) and alerting tools (`POST /v1/blasts`,
/// with how the server sends what they start). `None`: that route is off.
#[derive(Default)]
pub struct Access {
    pub support: Option<support::Auth>,
    pub api: Option<(support::Auth, api::Launch)>,
}

struct Inner {
    access: Access,
    project: Arc<Project>,
    store: Arc<Backend>,
    snapshot: tokio::sync::watch::Sender<Arc<Snapshot>>,
    /// Set when the server stops: event streams end, so the graceful shutdown is not held up
    /// by clients that never hang up.
    closing: tokio::sync::watch::Sender<bool>,
}

impl AppState {
    /// The state with its first snapshot, as of `now`, and who may use the private routes.
    pub async fn new(
        project: Arc<Project>,
        store: Arc<Backend>,
        access: Access,
        now: jiff::Timestamp,
    ) -> anyhow::Result<AppState> {
        let first = Snapshot::load(&project, store.as_ref(), now).await?;
        Ok(AppState {
            inner: Arc::new(Inner {
                access,
                project,
                store,
                snapshot: tokio::sync::watch::Sender::new(Arc::new(first)),
                closing: tokio::sync::watch::Sender::new(false),
            }),
        })
    }

    /// Read the journal again, as of `now`.
    pub async fn refresh(&self, now: jiff::Timestamp) -> anyhow::Result<()> {
        let fresh = Snapshot::load(&self.inner.project, self.inner.store.as_ref(), now).await?;
        self.inner.snapshot.send_replace(Arc::new(fresh));
        Ok(())
    }

    /// The latest snapshot.
    pub fn snapshot(&self) -> Arc<Snapshot> {
        self.inner.snapshot.borrow().clone()
    }
}

/// Every route of `crier serve`.
pub fn app(state: AppState) -> Router {
    Router::new()
        .route("/", get(status_page))
        .route("/v1/status.json", get(status_json))
        .route("/widget.js", get(widget_js))
        .route("/v1/events", get(events))
        .route("/v1/blasts", post(blasts))
        .route("/support", get(support_page))
        .route("/support/sign-in", post(sign_in))
        .route("/support/events", get(support_events))
        .route("/maintenance", get(maintenance))
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics_text))
        .layer(axum::middleware::from_fn(log_request))
        .with_state(state)
}

/// `crier worker --metrics`: `/metrics` (the journal's, and this worker's own attempts) and
/// `/healthz`, nothing else, on `listener` until `stop` completes.
pub async fn serve_metrics(
    store: Arc<Backend>,
    listener: tokio::net::TcpListener,
    stop: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let app = Router::new()
        .route("/metrics", get(worker_metrics))
        .route("/healthz", get(|| async { "ok\n" }))
        .with_state(store);
    axum::serve(listener, app)
        .with_graceful_shutdown(stop)
        .await
}

async fn worker_metrics(State(store): State<Arc<Backend>>) -> Response {
    metrics_response(store.as_ref()).await
}

/// Serve `app(state)` on `listener` until `stop` completes; in-flight requests finish. The
/// snapshot is refreshed every [`REFRESH`]; a failed refresh keeps the last one and is
/// reported through `warn`.
pub async fn serve(
    state: AppState,
    listener: tokio::net::TcpListener,
    stop: impl Future<Output = ()> + Send + 'static,
    warn: impl Fn(String) + Send + 'static,
) -> std::io::Result<()> {
    let refresher = {
        let state = state.clone();
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(REFRESH).await;
                if let Err(e) = state.refresh(jiff::Timestamp::now()).await {
                    warn(format!(
                        "the status could not be read from the journal: {e:#}"
                    ));
                }
            }
        })
    };
    let closing = state.inner.closing.clone();
    let stop = async move {
        stop.await;
        closing.send_replace(true);
    };
    let served = axum::serve(listener, app(state))
        .with_graceful_shutdown(stop)
        .await;
    refresher.abort();
    served
}

fn public(body: impl Into<axum::body::Body>, content_type: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, HeaderValue::from_static(content_type)),
            (
                header::CACHE_CONTROL,
                HeaderValue::from_static(PUBLIC_CACHE),
            ),
        ],
        body.into(),
    )
        .into_response()
}

async fn status_page(State(state): State<AppState>) -> Response {
    public(state.snapshot().page.clone(), "text/html; charset=utf-8")
}

async fn status_json(State(state): State<AppState>) -> Response {
    let mut response = public(state.snapshot().status_json.clone(), "application/json");
    response.headers_mut().insert(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        HeaderValue::from_static("*"),
    );
    response
}

/// The widget: one small script, no dependencies (`assets/widget.js`).
async fn widget_js() -> Response {
    let mut response = public(
        include_str!("assets/widget.js"),
        "text/javascript; charset=utf-8",
    );
    response.headers_mut().insert(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        HeaderValue::from_static("*"),
    );
    response
}

/// Nothing about the script without the token: the page is off, or the sign-in form.
fn refused(state: &AppState, headers: &axum::http::HeaderMap) -> Option<Response> {
    let private = |code: StatusCode, body: String| {
        let mut r = (code, body).into_response();
        let h = r.headers_mut();
        h.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/html; charset=utf-8"),
        );
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        r
    };
    match &state.inner.access.support {
        None => Some(private(
            StatusCode::SERVICE_UNAVAILABLE,
            support::frame(
                "Call script",
                &format!(
                    "<main><h1>The support page is off</h1><p>Set <code>{}</code> and restart <code>crier serve</code>.</p></main>",
                    support::TOKEN_ENV
                ),
            ),
        )),
        Some(auth) if auth.allows(headers) => None,
        Some(_) => {
            let mut r = private(StatusCode::UNAUTHORIZED, support::sign_in(false));
            r.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"crier support\""),
            );
            Some(r)
        }
    }
}

async fn support_page(State(state): State<AppState>, headers: axum::http::HeaderMap) -> Response {
    if let Some(r) = refused(&state, &headers) {
        return r;
    }
    let mut r = (StatusCode::OK, state.snapshot().support.clone()).into_response();
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

/// `POST /v1/blasts` (see [`api`]).
async fn blasts(
    State(state): State<AppState>,
    headers: axum::http::HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let Some((auth, launch)) = &state.inner.access.api else {
        return api::refused(true).into_response();
    };
    if !auth.bearer(&headers) {
        return api::refused(false).into_response();
    }
    let request: api::BlastRequest = match serde_json::from_slice(&body) {
        Ok(r) => r,
        Err(e) => {
            let error = format!(
                "the body is not a blast request ({e}); send JSON like {{\"kind\": \"outage-notice\", \"incident\": \"INC-42\", \"title\": \"Checkout is failing\", \"slots\": {{\"affected\": \"complete a checkout\"}}}}"
            );
            return (
                StatusCode::BAD_REQUEST,
                axum::Json(serde_json::json!({ "error": error })),
            )
                .into_response();
        }
    };
    let i = &state.inner;
    match api::blast(
        &i.project,
        &i.store,
        launch,
        request,
        jiff::Timestamp::now(),
    )
    .await
    {
        Ok((code, value)) => (code, axum::Json(value)).into_response(),
        Err(e) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            axum::Json(serde_json::json!({ "error": format!("{e:#}") })),
        )
            .into_response(),
    }
}

/// The sign-in form's answer.
#[derive(serde::Deserialize)]
struct SignIn {
    token: String,
}

async fn sign_in(State(state): State<AppState>, Form(form): Form<SignIn>) -> Response {
    let Some(auth) = &state.inner.access.support else {
        return refused(&state, &axum::http::HeaderMap::new()).expect("off without a token");
    };
    if !auth.token_matches(form.token.trim()) {
        let mut r = (StatusCode::UNAUTHORIZED, support::sign_in(true)).into_response();
        r.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/html; charset=utf-8"),
        );
        return r;
    }
    let mut r = (StatusCode::SEE_OTHER, "").into_response();
    let h = r.headers_mut();
    h.insert(header::LOCATION, HeaderValue::from_static("/support"));
    h.insert(
        header::SET_COOKIE,
        HeaderValue::from_str(&auth.cookie()).expect("a valid cookie"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

/// Server-Sent Events for the support page: `event: update` with what identifies the latest
/// update, at once and on every new one.
async fn support_events(State(state): State<AppState>, headers: axum::http::HeaderMap) -> Response {
    if let Some(r) = refused(&state, &headers) {
        return r;
    }
    changes(&state, "update", |s| s.support_key.clone())
}

/// Server-Sent Events: the widget's state now (`event: state`), then again whenever it
/// changes; a comment every 15 s keeps proxies from closing the stream. Browsers reconnect by
/// themselves and get the state at once.
async fn events(State(state): State<AppState>) -> Response {
    let mut response = changes(&state, "state", |s| s.widget_json.clone());
    response.headers_mut().insert(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        HeaderValue::from_static("*"),
    );
    response
}

/// An event stream of `pick(snapshot)`: at once, then each time it changes; a comment every
/// 15 s keeps proxies from closing it.
fn changes(state: &AppState, name: &'static str, pick: fn(&Snapshot) -> String) -> Response {
    let watch = state.inner.snapshot.subscribe();
    let closing = state.inner.closing.subscribe();
    let stream = futures_util::stream::unfold(
        (watch, closing, None::<String>),
        move |(mut watch, mut closing, last)| async move {
            loop {
                if *closing.borrow() {
                    return None;
                }
                if last.is_some() {
                    tokio::select! {
                        changed = watch.changed() => if changed.is_err() { return None; },
                        _ = closing.changed() => return None,
                    }
                }
                let now = pick(&watch.borrow_and_update());
                if last.as_ref() != Some(&now) {
                    let event = Event::default().event(name).data(now.clone());
                    return Some((Ok::<_, Infallible>(event), (watch, closing, Some(now))));
                }
            }
        },
    );
    Sse::new(stream)
        .keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
        .into_response()
}

/// 503 with `Retry-After` while maintenance is on (point a load balancer here), else 200.
async fn maintenance(State(state): State<AppState>) -> Response {
    let snapshot = state.snapshot();
    if !snapshot.maintenance {
        return (StatusCode::OK, "No maintenance is going on.\n").into_response();
    }
    let mut response = (StatusCode::SERVICE_UNAVAILABLE, snapshot.page.clone()).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    headers.insert(header::RETRY_AFTER, HeaderValue::from(RETRY_AFTER_SECS));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

async fn metrics_text(State(state): State<AppState>) -> Response {
    metrics_response(state.inner.store.as_ref()).await
}

async fn metrics_response(store: &Backend) -> Response {
    match metrics::render(store, jiff::Timestamp::now()).await {
        Ok(text) => (
            [(
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
            )],
            text,
        )
            .into_response(),
        Err(e) => (
            StatusCode::SERVICE_UNAVAILABLE,
            format!("the journal could not be read: {e:#}\n"),
        )
            .into_response(),
    }
}

/// One logfmt line on stderr for each request to a private route (sign-ins, the trigger API)
/// and each failed one; public answers that went well are not logged (they come by the
/// hundred thousand). Never a header, a body or a query: no token reaches the log.
async fn log_request(request: axum::extract::Request, next: axum::middleware::Next) -> Response {
    let method = request.method().clone();
    let uri = request.uri().clone();
    let path = uri.path();
    let private = path.starts_with("/support") || path.starts_with("/v1/blasts");
    let started = std::time::Instant::now();
    let response = next.run(request).await;
    let status = response.status();
    if private || status.is_server_error() {
        eprintln!(
            "at={} level={} msg=request method={method} path={path:?} status={} ms={:.1}",
            crate::time::rfc3339(jiff::Timestamp::now()),
            if status.is_server_error() {
                "error"
            } else {
                "info"
            },
            status.as_u16(),
            started.elapsed().as_secs_f64() * 1000.0
        );
    }
    response
}

async fn healthz() -> &'static str {
    "ok\n"
}
