//! What the public side of `crier serve` shows, read from the journal once and kept: the
//! [`Public`] state made into ready-to-send bytes — `/v1/status.json`, the status page, the
//! widget's state and the support page. Requests are answered from the last snapshot, never
//! from the database, so a busy status page puts no load on the journal; the server refreshes
//! it every second.

use serde_json::{Value, json};

use super::public::{Public, Shown};
use super::{page, support};
use crate::project::Project;
use crate::store::Store;
use crate::template::{Impact, Status};
use crate::time;

/// The public state ready to send: `/v1/status.json`, the status page, the maintenance switch.
#[derive(Debug, Clone)]
pub struct Snapshot {
    /// Bytes, so that answering a request copies nothing.
    pub status_json: axum::body::Bytes,
    pub page: axum::body::Bytes,
    pub maintenance: bool,
    /// What the widget shows (`/v1/events`).
    pub widget_json: String,
    /// The support page (staff only) and what identifies its content (`/support/events`).
    pub support: String,
    pub support_key: String,
}

impl Snapshot {
    /// Everything the public routes answer, as of `now`.
    pub async fn load<S: Store>(
        project: &Project,
        store: &S,
        now: jiff::Timestamp,
    ) -> anyhow::Result<Snapshot> {
        let public = Public::load(store, now).await?;
        let (support, support_key) = match support::page(project, store, &public).await {
            Ok(page) => page,
            Err(e) => (
                support::frame(
                    "Call script",
                    &format!(
                        "<main><h1>The call script could not be shown</h1><p>{}</p></main>",
                        crate::template::markdown::escape_html(&format!("{e:#}"))
                    ),
                ),
                "error".to_string(),
            ),
        };
        Ok(Snapshot {
            support,
            support_key,
            status_json: serde_json::to_vec(&summary(project, &public))?.into(),
            page: page::render(project, &public).into(),
            maintenance: public.maintenance.is_some(),
            widget_json: serde_json::to_string(&widget(project, &public))?,
        })
    }
}

/// `/v1/status.json`: shaped like Statuspage's public `summary.json` where the concepts match
/// (page, status indicator, unresolved incidents with their updates), so existing consumers
/// work; `crier` adds what the widget shows.
pub fn summary(project: &Project, p: &Public) -> Value {
    let company = &project.config.company;
    let indicator = p.indicator();
    let description = match indicator {
        "none" => "All Systems Operational",
        "minor" => "Minor Service Outage",
        "major" => "Partial System Outage",
        "critical" => "Major Service Outage",
        _ => "Service Under Maintenance",
    };
    let updated_at = p.last_update_at();
    let latest = p
        .open
        .first()
        .and_then(|s| s.updates.first().map(|u| (s, u)));
    json!({
        "page": {
            "id": "crier",
            "name": company.name,
            "url": company.status_url,
            "time_zone": company.time_zone,
            "updated_at": updated_at.map(time::rfc3339),
        },
        "status": { "indicator": indicator, "description": description },
        "components": [],
        "incidents": p.open.iter().map(|s| incident(company, s)).collect::<Vec<_>>(),
        "scheduled_maintenances": [],
        "crier": {
            "maintenance": p.maintenance.is_some(),
            "current": latest.map(|(s, u)| json!({
                "incident_id": s.incident.id,
                "title": s.incident.title,
                "status": s.incident.status.as_str(),
                "impact": s.incident.impact.as_str(),
                "sequence": u.seq,
                "kind": u.kind,
                "headline": u.headline,
                "summary": u.summary,
                "updated_at": time::rfc3339(u.created_at),
                "next_update_at": u.next_update_at.map(time::rfc3339),
            })),
        },
    })
}

/// The widget's state: the open incident started last (or the maintenance page's), its latest
/// headline and summary, its severity, when it was last updated; `open: false` when nothing is.
pub fn widget(project: &Project, p: &Public) -> Value {
    let company = &project.config.company;
    let shown = match &p.maintenance {
        Some((_, about)) => about.as_ref(),
        None => p.open.first(),
    };
    let Some((s, u)) = shown.and_then(|s| s.updates.first().map(|u| (s, u))) else {
        return json!({ "open": p.maintenance.is_some(), "maintenance": p.maintenance.is_some(),
                       "status_url": company.status_url });
    };
    let severity = match (&p.maintenance, s.incident.impact) {
        (Some(_), _) => "maintenance",
        (None, Impact::None) => "minor",
        (None, i) => i.as_str(),
    };
    json!({
        "open": true,
        "maintenance": p.maintenance.is_some(),
        "incident_id": s.incident.id,
        "sequence": u.seq,
        "title": s.incident.title,
        "status": s.incident.status.as_str(),
        "severity": severity,
        "headline": u.headline,
        "summary": u.summary,
        "updated_at": time::rfc3339(u.created_at),
        "updated": time::display_moment(u.created_at, p.as_of, &project.config.time_zone),
        "status_url": company.status_url,
    })
}

/// One incident as Statuspage's `incidents[]` entry.
fn incident(company: &crate::config::Company, s: &Shown) -> Value {
    let i = &s.incident;
    let at_status = |status: Status| {
        s.updates
            .iter()
            .rev()
            .find(|u| u.status == status.as_str())
            .map(|u| time::rfc3339(u.created_at))
    };
    json!({
        "id": i.id,
        "name": i.title,
        "status": i.status.as_str(),
        "impact": i.impact.as_str(),
        "created_at": time::rfc3339(i.started_at),
        "started_at": time::rfc3339(i.started_at),
        "updated_at": s.updates.first().map(|u| time::rfc3339(u.created_at)),
        "monitoring_at": at_status(Status::Monitoring),
        "resolved_at": i.resolved_at.map(time::rfc3339),
        "shortlink": company.status_url,
        "page_id": "crier",
        "components": [],
        "incident_updates": s.updates.iter().map(|u| json!({
            "id": format!("{}-{}", i.id, u.seq),
            "incident_id": i.id,
            "status": u.status,
            "body": u.summary,
            "created_at": time::rfc3339(u.created_at),
            "updated_at": time::rfc3339(u.created_at),
            "display_at": time::rfc3339(u.created_at),
            "affected_components": [],
        })).collect::<Vec<_>>(),
    })
}
