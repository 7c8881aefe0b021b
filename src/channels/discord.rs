//! Discord webhooks: one embed (title, description, colour by impact, footer) with the summary
//! as content, and `allowed_mentions: {parse: []}` so no text can ping anyone.

use serde_json::{Value, json};

use super::Meta;
use super::limits::{self, FormatError};
use crate::template::{Impact, Message};

const PLATFORM: &str = "Discord";
pub const CONTENT_LIMIT: usize = 2000;
pub const TITLE_LIMIT: usize = 256;
pub const DESCRIPTION_LIMIT: usize = 4096;
pub const FOOTER_LIMIT: usize = 2048;
/// Characters across all of an embed's text.
pub const EMBED_TOTAL_LIMIT: usize = 6000;

/// The webhook payload for `m`, posted with `?wait=true`.
pub fn payload(m: &Message, meta: &Meta<'_>, username: Option<&str>) -> Result<Value, FormatError> {
    let description = m.body.chat_markdown_blocks().join("\n\n");
    let footer = format!("{} · {}", meta.inputs.company.name, meta.inputs.incident.id);
    limits::chars(PLATFORM, "content (summary)", &m.summary, CONTENT_LIMIT)?;
    limits::chars(
        PLATFORM,
        "embeds[0].title (headline)",
        &m.headline,
        TITLE_LIMIT,
    )?;
    limits::chars(
        PLATFORM,
        "embeds[0].description (body)",
        &description,
        DESCRIPTION_LIMIT,
    )?;
    limits::chars(PLATFORM, "embeds[0].footer.text", &footer, FOOTER_LIMIT)?;
    let total = [&m.headline, &description, &footer]
        .iter()
        .map(|s| s.chars().count())
        .sum();
    limits::within(
        PLATFORM,
        "embeds[0] (all text)",
        total,
        EMBED_TOTAL_LIMIT,
        "characters",
    )?;
    let mut value = json!({
        "content": escape(&m.summary),
        "embeds": [{
            "title": m.headline,
            "description": description,
            "url": meta.inputs.company.status_url,
            "color": colour(meta.inputs.incident.impact),
            "footer": { "text": footer },
            "timestamp": crate::time::rfc3339(meta.inputs.now),
        }],
        "allowed_mentions": { "parse": [] }
    });
    if let Some(name) = username {
        value["username"] = json!(name);
    }
    Ok(value)
}

/// The summary as Discord content: Markdown characters escaped so nobody's text becomes a link
/// or formatting. (Embed titles are shown as written: Discord renders no Markdown there.)
fn escape(s: &str) -> String {
    let lead = if s.starts_with('-') { "\\" } else { "" };
    format!("{lead}{}", crate::template::markdown::escape_inline(s))
}

fn colour(impact: Impact) -> u32 {
    match impact {
        Impact::None => 0x2E7D32,
        Impact::Minor => 0xF9A825,
        Impact::Major => 0xEF6C00,
        Impact::Critical => 0xC62828,
    }
}
