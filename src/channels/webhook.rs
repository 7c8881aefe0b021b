//! Customer webhooks: a documented, versioned JSON event (see `docs/webhook-event.md`), or the
//! `statuspage` profile shaped like Atlassian Statuspage's incident webhook so existing
//! consumers can switch without code changes.

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::channel_type::{Addressing, Build, ChannelType, Defaults, Knobs, knobs_of};
use super::{FormatError, Meta, Output};
use crate::audience::Member;
use crate::network::{Guard, Refused};
use crate::template::{Engine, Impact, Message};

/// `type = "webhook"` in the registry: signed events to one address, or to each recipient's
/// `webhook_url` (then paced, backed off and disabled per endpoint).
pub struct Type;

impl ChannelType for Type {
    const NAME: &'static str = "webhook";
    const PERSONAL: bool = true;
    const DEFAULTS: Defaults = Defaults {
        per_second: Some(20.0),
        burst: 20,
        max_in_flight: 64,
        timeout_secs: 15,
    };
    type Config = Config;
    type Transport = Webhooks;

    fn build(config: &Config, at: &Build<'_>) -> Result<Webhooks, String> {
        Webhooks::new(config, at.timeout, at.guard)
    }

    fn knobs(config: &Config) -> Knobs {
        knobs_of!(config)
    }

    fn outputs(_: &Engine, m: &Message, meta: &Meta<'_>) -> Result<Vec<Output>, FormatError> {
        let event = serde_json::to_value(event(m, meta)).expect("an event always serializes");
        Ok(vec![
            Output::json("webhook.json", &event),
            Output::json("webhook-statuspage.json", &statuspage_event(m, meta)),
        ])
    }

    fn addressing(config: &Config) -> Addressing {
        match config.url {
            Some(_) => Addressing::Everyone,
            None => Addressing::PerRecipient,
        }
    }

    fn reaches(config: &Config, member: &Member) -> bool {
        config.url.is_some() || member.webhook_url.is_some()
    }

    fn per_endpoint(config: &Config) -> bool {
        config.url.is_none()
    }

    fn refused(config: &Config, member: &Member, guard: &Guard) -> Option<Refused> {
        match config.url {
            Some(_) => None, // the channel's own address, checked when the transport is built
            None => guard.check_url(member.webhook_url.as_ref()?).err(),
        }
    }

    fn secret_vars(config: &Config) -> Vec<(&'static str, &str)> {
        config
            .secret_env
            .iter()
            .map(|v| ("secret_env", v.as_str()))
            .collect()
    }

    fn check_values(config: &Config, guard: &Guard) -> Vec<(&'static str, String)> {
        let mut problems = Vec::new();
        if let Some(Err(e)) = config
            .url
            .as_deref()
            .map(|u| super::check_address(u, guard))
        {
            problems.push(("url", e));
        }
        if let Some(var) = config.secret_env.as_deref()
            && let Ok(keys) = crate::secret::from_env(var, "secret_env")
            && let Err(e) = super::signing::parse_keys(keys.expose())
        {
            problems.push((
                "secret_env",
                format!("the value of `{var}` is not usable: {e}"),
            ));
        }
        problems
    }
}

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
    /// A message whose send was interrupted (crash, timeout after writing): `resend` it with the
    /// same id (default; receivers can recognise it), or `skip` it and list it for the operator.
    #[serde(default)]
    pub in_doubt: super::InDoubt,
    /// Attempts per message before it fails for good (default 8; back-off doubles from 1 s).
    pub max_attempts: Option<u32>,
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
/// Borrowed and serialized directly: it is built once per recipient on the hot path. Fields are
/// in alphabetical order, as documented examples show them.
#[derive(Debug, Serialize)]
pub struct Event<'a> {
    data: Data<'a>,
    timestamp: String,
    #[serde(rename = "type")]
    ty: String,
}

#[derive(Debug, Serialize)]
struct Data<'a> {
    company: CompanyData<'a>,
    id: &'a str,
    incident: IncidentData<'a>,
    message: MessageData<'a>,
    /// Only when the event is addressed to one recipient.
    #[serde(skip_serializing_if = "Option::is_none")]
    recipient: Option<RecipientData<'a>>,
    version: u32,
}

#[derive(Debug, Serialize)]
struct CompanyData<'a> {
    name: &'a str,
    status_url: &'a str,
    support_email: &'a str,
    support_phone: &'a str,
}

#[derive(Debug, Serialize)]
struct IncidentData<'a> {
    components: &'a [String],
    id: &'a str,
    impact: &'static str,
    started_at: String,
    status: &'static str,
    status_url: &'a str,
    title: &'a str,
}

#[derive(Debug, Serialize)]
struct MessageData<'a> {
    body_html: &'a str,
    body_markdown: &'a str,
    body_text: &'a str,
    headline: &'a str,
    kind: &'a str,
    sequence: u32,
    subject: &'a str,
    summary: &'a str,
}

#[derive(Debug, Serialize)]
struct RecipientData<'a> {
    id: &'a str,
}

/// The crier event of message `m`.
pub fn event<'a>(m: &'a Message, meta: &'a Meta<'_>) -> Event<'a> {
    let i = meta.inputs.incident;
    let c = meta.inputs.company;
    let recipient = &meta.inputs.recipient.id;
    Event {
        data: Data {
            company: CompanyData {
                name: &c.name,
                status_url: &c.status_url,
                support_email: &c.support_email,
                support_phone: &c.support_phone,
            },
            id: meta.message_id,
            incident: IncidentData {
                components: &i.components,
                id: &i.id,
                impact: i.impact.as_str(),
                started_at: crate::time::rfc3339(i.started_at),
                status: i.status.as_str(),
                status_url: &c.status_url,
                title: &i.title,
            },
            message: MessageData {
                body_html: m.body.html(),
                body_markdown: m.body.source(),
                body_text: m.body.text(),
                headline: &m.headline,
                kind: meta.kind,
                sequence: meta.sequence,
                subject: &m.subject,
                summary: &m.summary,
            },
            recipient: (!recipient.is_empty()).then_some(RecipientData { id: recipient }),
            version: EVENT_VERSION,
        },
        timestamp: crate::time::rfc3339(meta.inputs.now),
        ty: format!("incident.{}", meta.kind),
    }
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

/// Posts signed events to one fixed URL or to each recipient's `webhook_url`.
pub struct Webhooks {
    url: Option<url::Url>,
    keys: Vec<super::signing::SigningKey>,
    profile: Profile,
    client: super::http::Client,
}

impl std::fmt::Debug for Webhooks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Webhooks")
            .field("url", &self.url)
            .finish_non_exhaustive()
    }
}

/// One signed POST on its way.
pub struct Post {
    url: url::Url,
    id: String,
    body: Vec<u8>,
}

impl Webhooks {
    /// The transport for `config`, reading the signing secrets from the environment.
    pub fn new(
        config: &Config,
        timeout: std::time::Duration,
        guard: &crate::network::Guard,
    ) -> Result<Webhooks, String> {
        let keys = match &config.secret_env {
            Some(var) => {
                let value = crate::secret::from_env(var, "secret_env").map_err(|d| d.message)?;
                super::signing::parse_keys(value.expose())?
            }
            None => Vec::new(),
        };
        let url = match &config.url {
            Some(u) => {
                let url = url::Url::parse(u).map_err(|e| format!("`url` is not a URL: {e}"))?;
                guard
                    .check_url(&url)
                    .map_err(|refused| format!("`url`: {refused}"))?;
                Some(url)
            }
            None => None,
        };
        Ok(Webhooks {
            url,
            keys,
            profile: config.profile,
            client: super::http::client(timeout, guard)?,
        })
    }
}

/// `msg_<key>`: the Standard Webhooks id, the same on every attempt.
pub fn webhook_id(key: &str) -> String {
    format!("msg_{key}")
}

impl super::transport::Transport for Webhooks {
    type Payload = Post;

    fn prepare(&self, job: &super::transport::Job<'_>) -> Result<Post, super::FormatError> {
        let m = job.rendered.message_for("webhook");
        // Sized for a typical event (2–3 KB), so it is not copied over and over as it grows.
        let mut body = Vec::with_capacity(4096);
        match self.profile {
            Profile::Crier => serde_json::to_writer(&mut body, &event(m, &job.meta)),
            Profile::Statuspage => {
                serde_json::to_writer(&mut body, &statuspage_event(m, &job.meta))
            }
        }
        .expect("an event always serializes");
        let url = match (&self.url, &job.member.webhook_url) {
            (Some(u), _) | (None, Some(u)) => u.clone(),
            (None, None) => {
                return Err(super::FormatError::Layout(
                    "the recipient has no `webhook_url`".into(),
                ));
            }
        };
        Ok(Post {
            url,
            id: webhook_id(job.key),
            body,
        })
    }

    fn endpoint(&self, member: &crate::audience::Member) -> Option<String> {
        let url = self.url.as_ref().or(member.webhook_url.as_ref())?;
        Some(format!(
            "{}:{}",
            url.host_str()?,
            url.port_or_known_default()?
        ))
    }

    async fn send(
        &self,
        post: Post,
    ) -> Result<super::transport::Receipt, super::transport::SendError> {
        let timestamp = jiff::Timestamp::now().as_second();
        let mut headers: Vec<(&str, String)> = vec![("webhook-id", post.id.clone())];
        if !self.keys.is_empty() {
            headers = super::signing::headers(&self.keys, &post.id, timestamp, &post.body).into();
        }
        let answer =
            super::http::post(&self.client, post.url, &headers, post.body, "the webhook").await?;
        super::http::check(&answer, true)?;
        Ok(super::transport::Receipt {
            provider_id: Some(post.id),
        })
    }
}
