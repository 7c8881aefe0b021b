//! Google Chat incoming webhooks: a card (cardsV2) with a header and a text paragraph in the
//! small HTML subset Chat renders. All text is HTML-escaped, so `<users/all>` stays text.

use serde_json::{Value, json};

use super::Meta;
use super::limits::{self, FormatError};
use crate::template::Message;

/// Bytes in one Chat message.
pub const PAYLOAD_LIMIT: usize = 32_000;

/// The webhook payload for `m`.
pub fn payload(m: &Message, meta: &Meta<'_>) -> Result<Value, FormatError> {
    let text = m
        .body
        .chat_html_blocks()
        .join("<br><br>")
        .replace('\n', "<br>");
    let c = meta.inputs.company;
    let value = json!({
        "cardsV2": [{
            "cardId": format!("crier-{}", meta.message_id),
            "card": {
                "header": { "title": m.headline, "subtitle": format!("{} · {}", c.name, meta.inputs.incident.id) },
                "sections": [{
                    "widgets": [
                        { "textParagraph": { "text": text } },
                        { "buttonList": { "buttons": [{ "text": "Live status", "onClick": { "openLink": { "url": c.status_url } } }] } }
                    ]
                }]
            }
        }]
    });
    limits::payload_bytes("Google Chat", &value, PAYLOAD_LIMIT)?;
    Ok(value)
}
