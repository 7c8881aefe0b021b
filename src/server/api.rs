//! `POST /v1/blasts`: an alerting tool starts a pre-approved notice. The same preflight and
//! blast as `crier blast` (kind, incident, values): anything not approved, a missing value, an
//! unknown channel is refused with every problem listed (422), nothing sent. Bearer token
//! `CRIER_API_TOKEN` (constant-time); without it configured the API is off. Every call is in the
//! audit log, refused ones too. The update is sent by the server on a task of its own; messages
//! that must be retried later are sent by `crier worker` or `crier run-due`.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::Json;
use axum::http::StatusCode;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::delivery::request::{Request, preflight};
use crate::diag::Invalid;
use crate::project::Project;
use crate::store::Backend;
use crate::store::{Store, Update};
use crate::template::{Impact, Status};

/// The environment variable holding the API token.
pub const TOKEN_ENV: &str = "CRIER_API_TOKEN";

/// Sends an update the API added (the server gives the normal delivery path).
pub type Launch = Arc<dyn Fn(Update) + Send + Sync>;

/// The body of `POST /v1/blasts`, as `crier blast` takes it.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BlastRequest {
    pub kind: String,
    pub incident: String,
    pub title: Option<String>,
    pub status: Option<Status>,
    pub impact: Option<Impact>,
    #[serde(default)]
    pub slots: BTreeMap<String, String>,
    pub channels: Option<Vec<String>>,
    pub audience: Option<String>,
    pub next_update_in: Option<String>,
    #[serde(default)]
    pub follow_up_slots: BTreeMap<String, String>,
    #[serde(default)]
    pub no_follow_up: bool,
}

/// Check and start the blast `body` asks for, as of `now`: the answer's status and JSON.
pub async fn blast(
    project: &Project,
    store: &Backend,
    launch: &Launch,
    body: BlastRequest,
    now: jiff::Timestamp,
) -> anyhow::Result<(StatusCode, Value)> {
    let existing = store.incident(&body.incident).await?;
    let req = Request {
        kind: body.kind.clone(),
        incident: body.incident.clone(),
        title: body.title,
        status: body.status,
        impact: body.impact,
        slots: body.slots,
        audience: body.audience,
        channels: body.channels,
        next_update_in: body.next_update_in,
        follow_up_slots: body.follow_up_slots,
        no_follow_up: body.no_follow_up,
        scheduled: false,
        sent_by: "api".into(),
        source: None,
    };
    let ready = match preflight(project, &req, existing.as_ref(), now) {
        Ok(r) => r,
        Err(Invalid(problems)) => {
            // Said in the API's terms: `slots.cause`, not `--set cause`.
            let problems = problems.map(|mut d| {
                d.field = d.field.map(|f| f.replace("--set ", "slots."));
                d.hint = d.hint.map(|h| h.replace("`--set ", "`slots."));
                d
            });
            let detail =
                json!({ "kind": body.kind, "incident": body.incident, "refused": problems });
            store
                .audit("api", "blast refused", &detail.to_string(), now)
                .await?;
            return Ok((
                StatusCode::UNPROCESSABLE_ENTITY,
                json!({
                    "error": format!("nothing was sent: {} problem(s); fix them and call again", problems.len()),
                    "problems": problems,
                }),
            ));
        }
    };
    let told = store.tell(ready.telling(), now).await?;
    let u = told.update.clone();
    let detail = json!({ "kind": u.kind, "incident": u.incident_id, "seq": u.seq, "continued": told.continued });
    store
        .audit("api", "blast", &detail.to_string(), now)
        .await?;
    launch(told.update);
    let code = if told.continued {
        StatusCode::OK
    } else {
        StatusCode::ACCEPTED
    };
    Ok((
        code,
        json!({
            "incident": u.incident_id,
            "update": u.seq,
            "kind": u.kind,
            "status": u.status,
            "continued": told.continued,
            "scheduled_follow_up": told.scheduled.map(|s| s.id),
            "next_update_at": u.next_update_at.map(crate::time::rfc3339),
        }),
    ))
}

/// The answer when the call may not blast: 503 (the API is off) or 401.
pub fn refused(off: bool) -> (StatusCode, Json<Value>) {
    if off {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(
                json!({ "error": format!("the trigger API is off: set {TOKEN_ENV} and restart crier serve") }),
            ),
        )
    } else {
        (
            StatusCode::UNAUTHORIZED,
            Json(json!({ "error": "send the API token as `Authorization: Bearer …`" })),
        )
    }
}
