//! Discord webhooks: one embed (title, description, colour by impact, footer) with the summary
//! as content, and `allowed_mentions: {parse: []}` so no text can ping anyone. Every text is
//! escaped for Discord's Markdown; the content and the title, plain text, also have their
//! mentions defused (a zero-width space after a word-starting `@`), so even a copy of the
//! payload without `allowed_mentions` pings nobody. Limits are checked on the text as sent.

use serde_json::{Value, json};

use super::Meta;
use super::limits::{self, FormatError};
use crate::template::markdown::{defuse_mentions, escape_str};
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
    let content = escape(&m.summary);
    let title = escape(&m.headline);
    let description = m.body.chat_markdown_blocks().join("\n\n");
    let footer = format!("{} · {}", meta.inputs.company.name, meta.inputs.incident.id);
    limits::chars(PLATFORM, "content (summary)", &content, CONTENT_LIMIT)?;
    limits::chars(PLATFORM, "embeds[0].title (headline)", &title, TITLE_LIMIT)?;
    limits::chars(
        PLATFORM,
        "embeds[0].description (body)",
        &description,
        DESCRIPTION_LIMIT,
    )?;
    limits::chars(PLATFORM, "embeds[0].footer.text", &footer, FOOTER_LIMIT)?;
    let total = [&title, &description, &footer]
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
        "content": content,
        "embeds": [{
            "title": title,
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

/// Plain text (the summary, the headline) as Discord shows it: escaped for Markdown as a value
/// in a body is ([`escape_str`]: inline markup anywhere, list and quote markers at the start of
/// a line), so nobody's text becomes a masked link, a mention (`<@id>`, `<#id>`, `<@&id>`) or
/// formatting (titles render Markdown too); and mentions (`@everyone`, `@here`) defused.
fn escape(s: &str) -> String {
    defuse_mentions(&escape_str(s))
}

fn colour(impact: Impact) -> u32 {
    match impact {
        Impact::None => 0x2E7D32,
        Impact::Minor => 0xF9A825,
        Impact::Major => 0xEF6C00,
        Impact::Critical => 0xC62828,
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::config::Company;
    use crate::template::markdown::Markdown;
    use crate::template::{Incident, Inputs, Recipient};

    const HOSTILE: &str = "@everyone @here <@123> <#456> <@&789> [click](http://evil.example) \
                           **bold** `code` ~~gone~~ ||spoiler|| \\ done";

    fn payload_of(headline: &str, summary: &str) -> Result<Value, FormatError> {
        let now: jiff::Timestamp = "2026-11-26T13:05:00Z".parse().unwrap();
        let company = Company {
            name: "Acme".into(),
            support_phone: String::new(),
            support_email: String::new(),
            status_url: "https://status.acme.example".into(),
            signature: "Dana".into(),
            time_zone: "UTC".into(),
        };
        let incident = Incident::sample(None, now);
        let slots = BTreeMap::new();
        let recipient = Recipient::default();
        let meta = Meta {
            kind: "update",
            inputs: Inputs {
                incident: &incident,
                slots: &slots,
                recipient: &recipient,
                company: &company,
                now,
                tz: &jiff::tz::TimeZone::UTC,
            },
            message_id: "m1",
            sequence: 1,
        };
        let message = Message {
            subject: String::new(),
            headline: headline.into(),
            summary: summary.into(),
            body: Markdown::parse("Body."),
        };
        payload(&message, &meta, None)
    }

    /// No mention, masked link or Markdown of a value survives into the content or the title:
    /// every markup character is escaped, and each `@` that starts a word is followed by a
    /// zero-width space.
    #[test]
    fn the_title_and_the_content_are_defused() {
        let value = payload_of(HOSTILE, HOSTILE).unwrap();
        let expected = "@\u{200B}everyone @\u{200B}here \\<@\u{200B}123\\> \\<\\#456\\> \
                        \\<@\u{200B}\\&789\\> \\[click\\](http://evil.example) \\*\\*bold\\*\\* \
                        \\`code\\` \\~\\~gone\\~\\~ \\|\\|spoiler\\|\\| \\\\ done";
        assert_eq!(value["content"], expected);
        assert_eq!(value["embeds"][0]["title"], expected);
        assert_eq!(value["allowed_mentions"]["parse"], json!([]));
    }

    #[test]
    fn a_title_starting_with_a_block_marker_stays_text() {
        for (headline, expected) in [
            ("# Big", "\\# Big"),
            ("- item", "\\- item"),
            ("1. one", "1\\. one"),
            ("> quote", "\\> quote"),
            ("-# subtext", "\\-\\# subtext"),
        ] {
            assert_eq!(
                payload_of(headline, "s").unwrap()["embeds"][0]["title"],
                expected
            );
        }
    }

    /// The limit holds for the title as sent: escaping makes it longer.
    #[test]
    fn the_title_limit_counts_the_escaped_title() {
        let fits = "a".repeat(TITLE_LIMIT);
        assert_eq!(payload_of(&fits, "s").unwrap()["embeds"][0]["title"], fits);
        let stars = "*".repeat(200);
        assert_eq!(
            payload_of(&stars, "s").unwrap_err().to_string(),
            "`embeds[0].title (headline)` is 400 characters long, 144 over Discord's limit of 256"
        );
    }
}
