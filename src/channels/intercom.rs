//! Intercom: the message as Intercom HTML, sent per contact as an in-app message
//! (`mode = "messages"`) or once as a News item for everyone (`mode = "news"`).

use serde::Deserialize;
use serde_json::{Value, json};

use super::channel_type::{Addressing, Build, ChannelType, Defaults, Knobs, knobs_of};
use super::{FormatError, Meta, Output};
use crate::audience::Member;
use crate::network::Guard;
use crate::template::{Engine, Message};

/// `type = "intercom"` in the registry: in-app messages per contact, or one News item.
pub struct Type;

impl ChannelType for Type {
    const NAME: &'static str = "intercom";
    const PERSONAL: bool = true;
    /// Intercom allows 10,000 requests per minute.
    const DEFAULTS: Defaults = Defaults {
        per_second: Some(10_000.0 / 60.0),
        burst: 20,
        max_in_flight: 16,
        timeout_secs: 30,
    };
    type Config = Config;
    type Transport = Intercom;

    fn build(config: &Config, at: &Build<'_>) -> Result<Intercom, String> {
        Intercom::new(config, at.timeout, at.guard)
    }

    fn knobs(config: &Config) -> Knobs {
        knobs_of!(config)
    }

    fn outputs(_: &Engine, m: &Message, _: &Meta<'_>) -> Result<Vec<Output>, FormatError> {
        let html = body_html(m);
        let message = message_payload(m, &html, "123", "intercom-user-id");
        Ok(vec![
            Output::json("intercom.json", &message),
            Output {
                file: "intercom.html",
                content: html,
            },
        ])
    }

    fn addressing(config: &Config) -> Addressing {
        match config.mode {
            Mode::Messages => Addressing::PerRecipient,
            Mode::News => Addressing::Everyone,
        }
    }

    fn reaches(_: &Config, member: &Member) -> bool {
        member.intercom_user_id.is_some()
    }

    fn secret_vars(config: &Config) -> Vec<(&'static str, &str)> {
        vec![("token_env", config.token_env.as_str())]
    }

    fn check_values(config: &Config, guard: &Guard) -> Vec<(&'static str, String)> {
        match super::check_address(&config.api_base, guard) {
            Ok(()) => Vec::new(),
            Err(e) => vec![("api_base", e)],
        }
    }
}

/// `channels/NAME.toml` for `type = "intercom"`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    #[serde(rename = "type")]
    pub ty: String,
    /// Environment variable holding the access token.
    pub token_env: String,
    /// The admin (teammate) id messages are sent as.
    pub admin_id: String,
    /// `messages`: one in-app message per contact with an Intercom user id; `news`: one News item.
    #[serde(default)]
    pub mode: Mode,
    /// API address; change it only for a regional workspace or a test server.
    #[serde(default = "default_api")]
    pub api_base: String,
    /// Requests per second (Intercom allows 10,000 per minute).
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

/// How messages reach Intercom users.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    #[default]
    Messages,
    News,
}

fn default_api() -> String {
    "https://api.intercom.io".into()
}

/// The body as Intercom renders it: the headline in bold, then the body HTML.
pub fn body_html(m: &Message) -> String {
    format!(
        "<p><b>{}</b></p>\n{}",
        crate::template::markdown::escape_html(&m.headline),
        m.body.html()
    )
}

/// `POST /messages` for one contact.
pub fn message_payload(m: &Message, html: &str, admin_id: &str, user_id: &str) -> Value {
    json!({
        "message_type": "inapp",
        "subject": m.subject,
        "body": html,
        "template": "plain",
        "from": { "type": "admin", "id": admin_id },
        "to": { "type": "user", "id": user_id }
    })
}

/// `POST /news/news_items` for everyone.
pub fn news_payload(m: &Message, html: &str, admin_id: &str) -> Value {
    json!({
        "title": m.headline,
        "body": html,
        "sender_id": admin_id,
        "state": "live",
        "deliver_silently": false,
        "labels": ["Status"]
    })
}

/// Sends to Intercom's REST API: one in-app message per contact, or one News item.
pub struct Intercom {
    token: crate::secret::Secret,
    admin_id: String,
    mode: Mode,
    api_base: String,
    client: super::http::Client,
}

impl std::fmt::Debug for Intercom {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Intercom")
            .field("mode", &self.mode)
            .finish_non_exhaustive()
    }
}

impl Intercom {
    /// The transport for `config`, reading the access token from the environment.
    pub fn new(
        config: &Config,
        timeout: std::time::Duration,
        guard: &crate::network::Guard,
    ) -> Result<Intercom, String> {
        let api_base = crate::config::check_url(config.api_base.trim_end_matches('/'))
            .map_err(|e| format!("`api_base`: {e}"))?;
        guard
            .check_url(&api_base)
            .map_err(|refused| format!("`api_base`: {refused}"))?;
        let token =
            crate::secret::from_env(&config.token_env, "token_env").map_err(|d| d.message)?;
        let mut secrets = crate::secret::Scrubber::default();
        secrets.add(token.expose());
        Ok(Intercom {
            token,
            admin_id: config.admin_id.clone(),
            mode: config.mode,
            api_base: api_base.as_str().trim_end_matches('/').to_string(),
            client: super::http::client(timeout, guard)?.scrubbing(secrets),
        })
    }
}

impl super::transport::Transport for Intercom {
    type Payload = (String, Vec<u8>);

    fn prepare(
        &self,
        job: &super::transport::Job<'_>,
    ) -> Result<Self::Payload, super::FormatError> {
        let m = job.rendered.message_for("intercom");
        let html = body_html(m);
        let (path, value) = match (self.mode, &job.member.intercom_user_id) {
            (Mode::Messages, Some(user)) => {
                ("/messages", message_payload(m, &html, &self.admin_id, user))
            }
            (Mode::Messages, None) => {
                return Err(super::FormatError::Layout(
                    "the recipient has no `intercom_user_id`".into(),
                ));
            }
            (Mode::News, _) => ("/news/news_items", news_payload(m, &html, &self.admin_id)),
        };
        let body = serde_json::to_vec(&value).expect("a JSON value always serializes");
        Ok((format!("{}{path}", self.api_base), body))
    }

    async fn send(
        &self,
        (url, body): Self::Payload,
    ) -> Result<super::transport::Receipt, super::transport::SendError> {
        let headers = [
            ("authorization", format!("Bearer {}", self.token.expose())),
            ("intercom-version", "2.11".to_string()),
            ("accept", "application/json".to_string()),
        ];
        let url = url::Url::parse(&url).map_err(|e| super::transport::SendError::Permanent {
            reason: format!("cannot make the request to the Intercom API: {e}"),
            disable_endpoint: false,
        })?;
        let answer =
            super::http::post(&self.client, url, &headers, body, "the Intercom API").await?;
        super::http::check(&answer, false)?;
        Ok(super::http::receipt(&answer))
    }
}
