//! Microsoft Teams through a Workflows webhook: an Adaptive Card inside the `message`
//! envelope Workflows accepts (not the retired Office 365 connector card).

use serde_json::{Value, json};

use super::Meta;
use super::limits::{self, FormatError};
use crate::template::Message;

/// Bytes in one Teams message with its card.
pub const PAYLOAD_LIMIT: usize = 28_000;

/// The webhook payload for `m`.
pub fn payload(m: &Message, meta: &Meta<'_>) -> Result<Value, FormatError> {
    let mut body = vec![
        json!({ "type": "TextBlock", "text": plain(&m.headline), "weight": "Bolder", "size": "Large", "wrap": true }),
        json!({ "type": "TextBlock", "text": plain(&m.summary), "isSubtle": true, "wrap": true }),
    ];
    for block in m.body.chat_markdown_blocks() {
        body.push(json!({ "type": "TextBlock", "text": block, "wrap": true }));
    }
    let c = meta.inputs.company;
    body.push(json!({
        "type": "TextBlock",
        "text": plain(&format!("{} · {}", c.name, meta.inputs.incident.id)),
        "isSubtle": true, "size": "Small", "wrap": true
    }));
    let value = json!({
        "type": "message",
        "attachments": [{
            "contentType": "application/vnd.microsoft.card.adaptive",
            "contentUrl": null,
            "content": {
                "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
                "type": "AdaptiveCard",
                "version": "1.4",
                "msteams": { "width": "Full" },
                "body": body,
                "actions": [{ "type": "Action.OpenUrl", "title": "Live status", "url": c.status_url }]
            }
        }]
    });
    limits::payload_bytes("Teams", &value, PAYLOAD_LIMIT)?;
    Ok(value)
}

/// Text for a TextBlock that must not turn into Markdown.
fn plain(s: &str) -> String {
    crate::template::markdown::escape_inline(s)
}
