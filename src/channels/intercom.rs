//! Intercom: the message as Intercom HTML, sent per contact as an in-app message
//! (`mode = "messages"`) or once as a News item for everyone (`mode = "news"`).

use serde::Deserialize;
use serde_json::{Value, json};

use crate::template::Message;

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
