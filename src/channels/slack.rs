//! Slack incoming webhooks: Block Kit (a header, mrkdwn sections, a context line) with the
//! summary as the `text` fallback for notifications. `&`, `<`, `>` are escaped in all mrkdwn,
//! so nobody's text can become `<!channel>` or a link.

use serde_json::{Value, json};

use super::Meta;
use super::limits::{self, FormatError};
use crate::template::Message;

const PLATFORM: &str = "Slack";
/// Characters in a header block's text.
pub const HEADER_LIMIT: usize = 150;
/// Characters in a section block's text.
pub const SECTION_LIMIT: usize = 3000;
/// Blocks in one message.
pub const BLOCK_LIMIT: usize = 50;

/// The webhook payload for `m`.
pub fn payload(m: &Message, meta: &Meta<'_>) -> Result<Value, FormatError> {
    limits::chars(
        PLATFORM,
        "blocks[0].text (headline)",
        &m.headline,
        HEADER_LIMIT,
    )?;
    let mut blocks = vec![json!({
        "type": "header",
        "text": { "type": "plain_text", "text": m.headline, "emoji": false }
    })];
    for (i, text) in sections(m.body.mrkdwn_blocks())?.into_iter().enumerate() {
        limits::chars(
            PLATFORM,
            &format!("blocks[{}].text", i + 1),
            &text,
            SECTION_LIMIT,
        )?;
        blocks.push(json!({ "type": "section", "text": { "type": "mrkdwn", "text": text } }));
    }
    blocks.push(json!({
        "type": "context",
        "elements": [{ "type": "mrkdwn", "text": footer(meta) }]
    }));
    limits::within(PLATFORM, "blocks", blocks.len(), BLOCK_LIMIT, "blocks")?;
    Ok(json!({ "text": escape(&m.summary), "blocks": blocks }))
}

/// Pack paragraphs into as few sections as fit [`SECTION_LIMIT`]; a paragraph over it stays
/// alone (and is then refused), never cut.
fn sections(blocks: Vec<String>) -> Result<Vec<String>, FormatError> {
    let mut out: Vec<String> = Vec::new();
    for block in blocks {
        match out.last_mut() {
            Some(last) if last.chars().count() + 2 + block.chars().count() <= SECTION_LIMIT => {
                last.push_str("\n\n");
                last.push_str(&block);
            }
            _ => out.push(block),
        }
    }
    Ok(out)
}

fn footer(meta: &Meta<'_>) -> String {
    let c = meta.inputs.company;
    let url = c.status_url.replace('|', "%7C").replace('>', "%3E");
    format!(
        "{} · <{url}|Live status> · {}",
        escape(&c.name),
        escape(&meta.inputs.incident.id)
    )
}

/// Escape text for mrkdwn: `&`, `<`, `>`.
pub fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}
