//! A message kind file (`templates/update.toml`): its slots, its message fields, its call script,
//! and optional per-channel overrides, each template string kept with its place in the file.

use std::collections::BTreeMap;
use std::ops::Range;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use toml::Spanned;

use super::slots::SlotSpec;
use crate::diag::{Diagnostic, Location, backticked, closest};
use crate::toml_file;

/// The message fields every kind has.
pub const MESSAGE_FIELDS: [&str; 4] = ["subject", "headline", "summary", "body"];

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct KindFile {
    description: String,
    #[serde(default)]
    slots: BTreeMap<String, Spanned<SlotSpec>>,
    message: MessageSource,
    call_script: ScriptSource,
    #[serde(default)]
    channels: BTreeMap<String, OverrideSource>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct MessageSource {
    subject: Spanned<String>,
    headline: Spanned<String>,
    summary: Spanned<String>,
    body: Spanned<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct OverrideSource {
    subject: Option<Spanned<String>>,
    headline: Option<Spanned<String>>,
    summary: Option<Spanned<String>>,
    body: Option<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ScriptSource {
    opening: Spanned<String>,
    #[serde(default)]
    key_points: Vec<Spanned<String>>,
    #[serde(default)]
    faq: Vec<FaqSource>,
    #[serde(default)]
    do_not_say: Vec<Spanned<String>>,
    #[serde(default)]
    escalate: Vec<Spanned<String>>,
    closing: Spanned<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FaqSource {
    q: Spanned<String>,
    a: Spanned<String>,
}

/// A template string of a kind file: its Tera name (`templates/update.toml:message.body`),
/// its text, and where the text starts in the file.
#[derive(Debug, Clone)]
pub struct Field {
    pub name: String,
    pub text: String,
    pub span: Range<usize>,
}

/// The call script's template strings.
#[derive(Debug, Clone)]
pub struct ScriptFields {
    pub opening: Field,
    pub key_points: Vec<Field>,
    pub faq: Vec<(Field, Field)>,
    pub do_not_say: Vec<Field>,
    pub escalate: Vec<Field>,
    pub closing: Field,
}

/// One loaded kind.
#[derive(Debug, Clone)]
pub struct Kind {
    /// The file stem: `update`.
    pub name: String,
    pub path: PathBuf,
    /// The file's text, for error locations.
    pub source: String,
    pub description: String,
    pub slots: BTreeMap<String, SlotSpec>,
    /// Where each slot is declared, for errors in its declaration.
    pub slot_spans: BTreeMap<String, Range<usize>>,
    /// subject, headline, summary, body — in [`MESSAGE_FIELDS`] order.
    pub message: [Field; 4],
    /// Per channel type: replacements for some of the message fields.
    pub overrides: BTreeMap<String, Vec<(usize, Field)>>,
    pub script: ScriptFields,
}

impl Kind {
    /// Every template string of this kind.
    pub fn fields(&self) -> impl Iterator<Item = &Field> {
        let s = &self.script;
        self.message
            .iter()
            .chain(self.overrides.values().flatten().map(|(_, f)| f))
            .chain([&s.opening, &s.closing])
            .chain(s.key_points.iter())
            .chain(s.faq.iter().flat_map(|(q, a)| [q, a]))
            .chain(s.do_not_say.iter())
            .chain(s.escalate.iter())
    }

    /// The location of byte `offset` of this kind's file.
    pub fn location(&self, offset: usize) -> Location {
        Location::at_offset(&self.path, &self.source, offset)
    }
}

/// Load the kind file at `path`, checking that `[channels.X]` names a known channel type.
pub fn load(path: &Path, channel_types: &[&str]) -> Result<Kind, Vec<Diagnostic>> {
    let source = toml_file::read(path).map_err(|d| vec![d])?;
    parse(path, source, channel_types)
}

/// Parse `source`, the text of the kind file at `path` (which names the kind and its fields
/// and locates problems; nothing is read from it), as [`load`] does.
pub fn parse(path: &Path, source: String, channel_types: &[&str]) -> Result<Kind, Vec<Diagnostic>> {
    let file: KindFile = toml_file::parse(path, &source).map_err(|d| vec![d])?;
    let name = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let field = |label: String, s: Spanned<String>| {
        let span = s.span();
        Field {
            name: format!("{}:{label}", path.display()),
            text: s.into_inner(),
            span,
        }
    };
    let mut problems = Vec::new();
    let mut overrides = BTreeMap::new();
    for (channel, o) in file.channels {
        if !channel_types.contains(&channel.as_str()) {
            problems.push(unknown_channel(path, &source, &channel, channel_types));
            continue;
        }
        let fields = [o.subject, o.headline, o.summary, o.body]
            .into_iter()
            .enumerate()
            .filter_map(|(i, f)| {
                f.map(|f| {
                    (
                        i,
                        field(format!("channels.{channel}.{}", MESSAGE_FIELDS[i]), f),
                    )
                })
            })
            .collect();
        overrides.insert(channel, fields);
    }
    let m = file.message;
    let s = file.call_script;
    let list = |label: &str, items: Vec<Spanned<String>>| {
        items
            .into_iter()
            .enumerate()
            .map(|(i, f)| field(format!("call_script.{label}[{i}]"), f))
            .collect::<Vec<_>>()
    };
    let script = ScriptFields {
        opening: field("call_script.opening".into(), s.opening),
        key_points: list("key_points", s.key_points),
        faq: s
            .faq
            .into_iter()
            .enumerate()
            .map(|(i, f)| {
                (
                    field(format!("call_script.faq[{i}].q"), f.q),
                    field(format!("call_script.faq[{i}].a"), f.a),
                )
            })
            .collect(),
        do_not_say: list("do_not_say", s.do_not_say),
        escalate: list("escalate", s.escalate),
        closing: field("call_script.closing".into(), s.closing),
    };
    let slot_spans = file
        .slots
        .iter()
        .map(|(n, s)| (n.clone(), s.span()))
        .collect();
    let kind = Kind {
        name,
        path: path.to_path_buf(),
        description: file.description,
        slots: file
            .slots
            .into_iter()
            .map(|(n, s)| (n, s.into_inner()))
            .collect(),
        slot_spans,
        message: [
            field("message.subject".into(), m.subject),
            field("message.headline".into(), m.headline),
            field("message.summary".into(), m.summary),
            field("message.body".into(), m.body),
        ],
        overrides,
        script,
        source,
    };
    if problems.is_empty() {
        Ok(kind)
    } else {
        Err(problems)
    }
}

fn unknown_channel(path: &Path, source: &str, channel: &str, types: &[&str]) -> Diagnostic {
    let offset = source
        .find(&format!("[channels.{channel}"))
        .or_else(|| source.find("channels"))
        .unwrap_or(0);
    let hint = match closest(channel, types.iter().copied()) {
        Some(best) => format!("did you mean `{best}`?"),
        None => format!(
            "overrides are per channel type: {}",
            backticked(types.iter().copied())
        ),
    };
    Diagnostic::new(format!("`[channels.{channel}]` names no channel type"))
        .at(Location::at_offset(path, source, offset))
        .field(format!("channels.{channel}"))
        .hint(hint)
}

/// Byte offset in the file where the text of a string value spanning `span` begins:
/// after the opening quote(s) and, for a multi-line string, the newline right after them.
pub fn content_start(source: &str, span: &Range<usize>) -> usize {
    let value = source.get(span.clone()).unwrap_or("");
    let quotes = if value.starts_with("\"\"\"") || value.starts_with("'''") {
        3
    } else if value.starts_with('"') || value.starts_with('\'') {
        1
    } else {
        0
    };
    let after = &value[quotes.min(value.len())..];
    let newline = if quotes == 3 {
        if after.starts_with("\r\n") {
            2
        } else {
            usize::from(after.starts_with('\n'))
        }
    } else {
        0
    };
    span.start + quotes + newline
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_start_skips_quotes_and_first_newline() {
        let src = "a = \"x\"\nb = \"\"\"\nline\"\"\"\n";
        assert_eq!(content_start(src, &(4..7)), 5);
        assert_eq!(&src[content_start(src, &(12..24))..][..4], "line");
    }
}
