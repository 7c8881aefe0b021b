//! Mattermost incoming webhooks: Markdown text with the headline as a heading. Mattermost has
//! no switch to turn mentions off, so `@` starting a word gets a zero-width space after it:
//! `@channel` still reads the same but notifies nobody.

use serde_json::{Value, json};

use super::Meta;
use super::limits::{self, FormatError};
use crate::template::{Message, markdown};

/// Characters in one post.
pub const TEXT_LIMIT: usize = 16_383;

/// The webhook payload for `m`.
pub fn payload(m: &Message, meta: &Meta<'_>, username: Option<&str>) -> Result<Value, FormatError> {
    let headline = markdown::defuse_mentions(&markdown::escape_inline(&m.headline));
    let c = meta.inputs.company;
    // The body's text comes defused; the status page's address is left as it is.
    let text = format!(
        "#### {headline}\n\n{}\n\n[Live status]({}) · {}",
        m.body.chat_markdown_blocks().join("\n\n"),
        c.status_url,
        meta.inputs.incident.id
    );
    limits::chars("Mattermost", "text", &text, TEXT_LIMIT)?;
    let mut value = json!({ "text": text });
    if let Some(name) = username {
        value["username"] = json!(name);
    }
    Ok(value)
}
