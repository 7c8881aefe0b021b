//! Customer webhooks: a documented, versioned JSON event (see `docs/webhook-event.md`), or the
//! `statuspage` profile shaped like Atlassian Statuspage's incident webhook so existing
//! consumers can switch without code changes.

use serde::Deserialize;
use serde_json::{Value, json};

use super::Meta;
use crate::template::{Impact, Message};

/// The `version` of the crier event schema.
pub const EVENT_VERSION: u32 = 1;

/// `channels/NAME.toml` for `type = "webhook"`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    #[serde(rename = "type")]
    pub ty: String,
    /// One fixed address; omit it to post to each recipient's `webhook_url`.
    pub url: Option<String>,
    /// Environment variable holding the signing secret(s) `whsec_…`, comma-separated during rotation.
    pub secret_env: Option<String>,
    /// `crier` (default) or `statuspage`.
    #[serde(default)]
    pub profile: Profile,
    pub per_second: Option<f64>,
    pub burst: Option<u32>,
    pub max_in_flight: Option<u32>,
    pub timeout_secs: Option<u64>,
}

/// The shape of the JSON body.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Profile {
    #[default]
    Crier,
    Statuspage,
}

/// The crier event: `{type, timestamp, data}` as the Standard Webhooks spec recommends.
pub fn event(m: &Message, meta: &Meta<'_>) -> Value {
    let i = meta.inputs.incident;
    let c = meta.inputs.company;
    let mut data = json!({
        "version": EVENT_VERSION,
        "id": meta.message_id,
        "incident": {
            "id": i.id,
            "title": i.title,
            "status": i.status.as_str(),
            "impact": i.impact.as_str(),
            "components": i.components,
            "started_at": crate::time::rfc3339(i.started_at),
            "status_url": c.status_url,
        },
        "message": {
            "kind": meta.kind,
            "sequence": meta.sequence,
            "subject": m.subject,
            "headline": m.headline,
            "summary": m.summary,
            "body_markdown": m.body.source(),
            "body_html": m.body.html(),
            "body_text": m.body.text(),
        },
        "company": {
            "name": c.name,
            "status_url": c.status_url,
            "support_phone": c.support_phone,
            "support_email": c.support_email,
        },
    });
    if !meta.inputs.recipient.id.is_empty() {
        data["recipient"] = json!({ "id": meta.inputs.recipient.id });
    }
    json!({
        "type": format!("incident.{}", meta.kind),
        "timestamp": crate::time::rfc3339(meta.inputs.now),
        "data": data,
    })
}

/// The body Atlassian Statuspage sends for an incident update.
pub fn statuspage_event(m: &Message, meta: &Meta<'_>) -> Value {
    let i = meta.inputs.incident;
    let now = crate::time::rfc3339(meta.inputs.now);
    let status = i.status.as_str();
    let resolved_at = (status == "resolved").then(|| now.clone());
    let monitoring_at = (status == "monitoring").then(|| now.clone());
    json!({
        "meta": { "unsubscribe": null, "documentation": null, "generated_at": now },
        "page": {
            "id": meta.inputs.company.name,
            "status_indicator": i.impact.as_str(),
            "status_description": description(i.impact),
        },
        "incident": {
            "id": i.id,
            "name": i.title,
            "status": status,
            "impact": i.impact.as_str(),
            "impact_override": null,
            "backfilled": false,
            "created_at": crate::time::rfc3339(i.started_at),
            "updated_at": now,
            "monitoring_at": monitoring_at,
            "resolved_at": resolved_at,
            "scheduled_for": null,
            "shortlink": meta.inputs.company.status_url,
            "components": i.components.iter().map(|c| json!({ "name": c })).collect::<Vec<_>>(),
            "incident_updates": [{
                "id": meta.message_id,
                "incident_id": i.id,
                "status": status,
                "body": format!("{}\n\n{}", m.headline, m.body.text()),
                "created_at": now,
                "updated_at": now,
                "display_at": now,
                "affected_components": null,
                "deliver_notifications": true,
                "wants_twitter_update": false,
                "twitter_updated_at": null,
                "custom_tweet": null,
            }],
        }
    })
}

fn description(impact: Impact) -> &'static str {
    match impact {
        Impact::None => "All Systems Operational",
        Impact::Minor => "Minor Service Outage",
        Impact::Major => "Partial System Outage",
        Impact::Critical => "Major System Outage",
    }
}
