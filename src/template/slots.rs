//! Slots: the typed inputs an operator fills at blast time (`--set progress="…"`).
//!
//! A kind declares its slots; [`resolve`] checks what the operator typed against them (unknown
//! names, missing required values, length, choices, times, addresses, durations), fills in
//! defaults, and returns the values as they read in a message.

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::config::check_url;
use crate::diag::{Diagnostic, Diagnostics, backticked, closest, thousands};
use crate::time;

/// Longest `choice` value, in characters. A choice is one of a few short words declared in the
/// kind file, so a longer value can only be a mistake; it is refused before it is echoed in a
/// message, and a declared value may not be longer.
pub const MAX_CHOICE_CHARS: usize = 200;

/// Longest `time` value, in characters: the longest form crier reads
/// (`2026-11-27T10:00:00.123456789+01:00`, `next business day at 10:00`) is well under it.
pub const MAX_TIME_CHARS: usize = 100;

/// Longest `duration` value, in characters: `1 week 2 days 3 hours and 4 minutes` is 35.
pub const MAX_DURATION_CHARS: usize = 100;

/// Longest `url` value, in characters: what browsers, proxies and chat platforms reliably carry
/// (the same bound as an audience's `webhook_url`).
pub const MAX_URL_CHARS: usize = 2_000;

/// The type of a slot and its constraints.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SlotType {
    /// Free text up to `max_len` characters.
    Text,
    /// One of `values`.
    Choice,
    /// A moment: `14:30`, `in 30 minutes`, `tomorrow 10:00`; shown in the company's zone.
    Time,
    /// An `http(s)` address.
    Url,
    /// A length of time: `30m`, `2h 15m`; shown as "2 hours 15 minutes".
    Duration,
}

impl SlotType {
    pub fn name(self) -> &'static str {
        match self {
            SlotType::Text => "text",
            SlotType::Choice => "choice",
            SlotType::Time => "time",
            SlotType::Url => "url",
            SlotType::Duration => "duration",
        }
    }
}

/// One `[slots.NAME]` entry of a kind file.
#[derive(Debug, Clone, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct SlotSpec {
    #[serde(rename = "type")]
    pub ty: SlotType,
    /// Longest text allowed, in characters (required for `text`).
    pub max_len: Option<usize>,
    /// Allowed values (required for `choice`).
    pub values: Option<Vec<String>>,
    /// The operator must give a value (or the slot must have a default).
    #[serde(default)]
    pub required: bool,
    /// Used when the operator gives no value.
    pub default: Option<String>,
    /// A realistic value for `crier check` and `crier preview`.
    pub example: Option<String>,
    /// `time` only: the moment must not be in the past (a promised next update).
    #[serde(default)]
    pub future: bool,
    /// One sentence for the operator: what to write here.
    pub help: Option<String>,
}

/// What a value is checked against, besides the slot itself.
#[derive(Debug, Clone, Copy)]
pub struct Clock<'a> {
    pub now: jiff::Timestamp,
    pub tz: &'a jiff::tz::TimeZone,
}

/// Where values come from when the operator gave none.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fill {
    /// A real blast: only defaults.
    Defaults,
    /// A preview or check: defaults, then each slot's `example`.
    Examples,
}

impl SlotSpec {
    /// Problems with the declaration itself (missing `max_len`, a default of the wrong type…).
    pub fn check_declaration(&self, clock: Clock<'_>) -> Vec<(String, String)> {
        let mut problems = Vec::new();
        match self.ty {
            SlotType::Text if self.max_len.is_none() => problems.push((
                "a `text` slot needs `max_len`".to_string(),
                "add `max_len = 400` (or the longest text that fits your channels)".to_string(),
            )),
            SlotType::Choice if self.values.as_ref().is_none_or(Vec::is_empty) => problems.push((
                "a `choice` slot needs `values`".to_string(),
                "add `values = [\"first\", \"second\"]`".to_string(),
            )),
            _ => {}
        }
        let long_values = self.values.iter().flatten();
        for value in long_values.filter(|v| v.chars().count() > MAX_CHOICE_CHARS) {
            problems.push((
                format!(
                    "the value `{}…` is {} characters long; a `choice` value can be at most {}",
                    value.chars().take(40).collect::<String>(),
                    thousands(value.chars().count()),
                    MAX_CHOICE_CHARS
                ),
                "shorten it: a choice is a word or two, the message says the rest".to_string(),
            ));
        }
        if self.max_len.is_some() && self.ty != SlotType::Text {
            problems.push((
                format!(
                    "`max_len` only applies to `text` slots, not `{}`",
                    self.ty.name()
                ),
                "remove `max_len`".to_string(),
            ));
        }
        if self.future && self.ty != SlotType::Time {
            problems.push((
                format!(
                    "`future` only applies to `time` slots, not `{}`",
                    self.ty.name()
                ),
                "remove `future`".to_string(),
            ));
        }
        if self.values.is_some() && self.ty != SlotType::Choice {
            problems.push((
                format!(
                    "`values` only applies to `choice` slots, not `{}`",
                    self.ty.name()
                ),
                "remove `values`, or set `type = \"choice\"`".to_string(),
            ));
        }
        for (what, value) in [("default", &self.default), ("example", &self.example)] {
            if let Some(v) = value
                && let Err(e) = self.format(v, clock)
            {
                problems.push((
                    format!("the `{what}` is not valid: {e}"),
                    format!("fix `{what}`"),
                ));
            }
        }
        problems
    }

    /// The longest value the slot takes, in characters: `max_len` for `text` (none when it is
    /// not declared, which [`check_declaration`](Self::check_declaration) refuses), a fixed
    /// bound for every other type.
    pub fn limit(&self) -> Option<usize> {
        match self.ty {
            SlotType::Text => self.max_len,
            SlotType::Choice => Some(MAX_CHOICE_CHARS),
            SlotType::Time => Some(MAX_TIME_CHARS),
            SlotType::Url => Some(MAX_URL_CHARS),
            SlotType::Duration => Some(MAX_DURATION_CHARS),
        }
    }

    /// Check `value` and turn it into how it reads in a message.
    pub fn format(&self, value: &str, clock: Clock<'_>) -> Result<String, String> {
        if value.contains('\0') {
            return Err("it contains a NUL character".into());
        }
        self.check_length(value)?;
        match self.ty {
            SlotType::Text => Ok(value.to_string()),
            SlotType::Choice => {
                let values = self.values.as_deref().unwrap_or_default();
                if values.iter().any(|v| v == value) {
                    Ok(value.to_string())
                } else {
                    Err(format!(
                        "`{value}` is not one of {}",
                        backticked(values.iter().map(String::as_str))
                    ))
                }
            }
            SlotType::Time => {
                let parse = if self.future {
                    time::parse_future
                } else {
                    time::parse_moment
                };
                parse(value, clock.now, clock.tz)
                    .map(|t| time::display_moment(t, clock.now, clock.tz))
                    .map_err(|e| e.to_string())
            }
            SlotType::Url => check_url(value).map(|_| value.to_string()),
            SlotType::Duration => time::parse_duration(value)
                .map(time::describe_duration)
                .map_err(|e| e.to_string()),
        }
    }
}

impl SlotSpec {
    /// `value` within [`limit`](Self::limit), or by how much it is over; checked before
    /// anything else reads the value, so a long one is never parsed, echoed or rendered.
    fn check_length(&self, value: &str) -> Result<(), String> {
        let Some(max) = self.limit() else {
            return Ok(());
        };
        // A value has at least as many bytes as characters: most need no count.
        let len = if value.len() <= max {
            0
        } else {
            value.chars().count()
        };
        if len <= max {
            return Ok(());
        }
        let over = format!(
            "it is {} characters long, {} over the limit of {}",
            thousands(len),
            thousands(len - max),
            thousands(max)
        );
        match self.ty {
            SlotType::Text => Err(over),
            ty => Err(format!("{over} for a `{}` slot", ty.name())),
        }
    }
}

/// Slot values ready for a template: what the operator typed, and how each reads.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct SlotValues {
    /// As typed (or defaulted): what the timeline records.
    pub raw: BTreeMap<String, String>,
    /// As shown in messages: times in the company zone, durations in words; "" when empty.
    pub display: BTreeMap<String, String>,
}

/// Parse `--set NAME=VALUE` arguments into a map; a malformed one is a diagnostic.
pub fn parse_assignments(sets: &[String]) -> Result<BTreeMap<String, String>, Diagnostics> {
    let mut map = BTreeMap::new();
    let mut problems = Diagnostics::default();
    for set in sets {
        match set.split_once('=') {
            Some((name, value)) if !name.trim().is_empty() => {
                map.insert(name.trim().to_string(), value.to_string());
            }
            _ => problems.push(
                Diagnostic::new(format!("`--set {set}` is not of the form NAME=VALUE"))
                    .hint("write it like `--set progress=\"We found the cause\"`"),
            ),
        }
    }
    problems.into_result(map).map_err(|e| e.0)
}

/// Check the operator's values against the kind's slots, collecting every problem.
pub fn resolve(
    kind: &str,
    specs: &BTreeMap<String, SlotSpec>,
    given: &BTreeMap<String, String>,
    fill: Fill,
    clock: Clock<'_>,
) -> Result<SlotValues, Diagnostics> {
    let mut problems = Diagnostics::default();
    let valid = || backticked(specs.keys().map(String::as_str));
    for name in given.keys().filter(|n| !specs.contains_key(*n)) {
        let d = Diagnostic::new(format!("`{kind}` has no slot named `{name}`"))
            .field(format!("--set {name}"));
        let hint = match closest(name, specs.keys().map(String::as_str)) {
            Some(best) => format!(
                "did you mean `{best}`? The slots of `{kind}` are {}",
                valid()
            ),
            None if specs.is_empty() => format!("`{kind}` takes no slots"),
            None => format!("the slots of `{kind}` are {}", valid()),
        };
        problems.push(d.hint(hint));
    }
    let mut values = SlotValues::default();
    for (name, spec) in specs {
        // `--set eta=` clears a slot: an empty value is no value, and no default fills it.
        let typed = given.get(name).filter(|v| !v.trim().is_empty());
        let cleared = given.contains_key(name) && typed.is_none();
        let example = (fill == Fill::Examples)
            .then_some(spec.example.as_ref())
            .flatten();
        let fallback = if cleared {
            None
        } else {
            spec.default.as_ref().or(example)
        };
        let value = typed.or(fallback);
        let Some(value) = value else {
            if spec.required {
                problems.push(missing(kind, name, spec));
            }
            values.display.insert(name.clone(), String::new());
            continue;
        };
        match spec.format(value, clock) {
            Ok(shown) => {
                values.raw.insert(name.clone(), value.clone());
                values.display.insert(name.clone(), shown);
            }
            Err(e) => problems.push(
                Diagnostic::new(format!("slot `{name}` of `{kind}`: {e}"))
                    .field(format!("--set {name}"))
                    .hint(slot_hint(name, spec)),
            ),
        }
    }
    problems.into_result(values).map_err(|e| e.0)
}

fn missing(kind: &str, name: &str, spec: &SlotSpec) -> Diagnostic {
    let mut hint = slot_hint(name, spec);
    if name == "next_update" {
        // `crier blast --next-update-in` fills this slot too (`delivery::request::promise`).
        hint.push_str(", or with `crier blast`, `--next-update-in 30m`");
    }
    Diagnostic::new(format!("`{kind}` needs a value for slot `{name}`"))
        .field(format!("--set {name}"))
        .hint(hint)
}

/// The slot's own help, its choices, and an example of setting it.
fn slot_hint(name: &str, spec: &SlotSpec) -> String {
    let mut hint = String::new();
    if let Some(help) = &spec.help {
        hint.push_str(help.trim());
        hint.push(' ');
    }
    if let Some(values) = &spec.values {
        hint.push_str(&format!(
            "One of {}. ",
            backticked(values.iter().map(String::as_str))
        ));
    }
    let example = spec
        .example
        .as_deref()
        .or(spec
            .values
            .as_ref()
            .and_then(|v| v.first().map(String::as_str)))
        .unwrap_or("…");
    hint.push_str(&format!("Example: `--set {name}=\"{example}\"`"));
    hint
}

#[cfg(test)]
mod tests {
    use super::*;

    fn specs() -> BTreeMap<String, SlotSpec> {
        let src = r#"
progress = { type = "text", max_len = 10, required = true, example = "Found it" }
severity = { type = "choice", values = ["minor", "major"], default = "major" }
next_update = { type = "time", example = "in 30 minutes" }
lasted = { type = "duration", example = "2h 15m" }
"#;
        toml::from_str(src).unwrap()
    }

    fn clock_parts() -> (jiff::Timestamp, jiff::tz::TimeZone) {
        (
            "2026-11-26T13:00:00Z".parse().unwrap(),
            jiff::tz::TimeZone::get("Europe/Berlin").unwrap(),
        )
    }

    #[test]
    fn examples_fill_a_preview() {
        let (now, tz) = clock_parts();
        let v = resolve(
            "update",
            &specs(),
            &BTreeMap::new(),
            Fill::Examples,
            Clock { now, tz: &tz },
        )
        .unwrap();
        assert_eq!(v.display["next_update"], "14:30 CET");
        assert_eq!(v.display["lasted"], "2 hours 15 minutes");
        assert_eq!(v.display["severity"], "major");
    }

    #[test]
    fn every_problem_is_reported() {
        let (now, tz) = clock_parts();
        let given = BTreeMap::from([
            ("progres".to_string(), "x".to_string()),
            ("severity".to_string(), "huge".to_string()),
        ]);
        let problems = resolve(
            "update",
            &specs(),
            &given,
            Fill::Defaults,
            Clock { now, tz: &tz },
        )
        .unwrap_err();
        let text = problems.to_string();
        assert_eq!(problems.len(), 3, "{text}");
        assert!(text.contains("did you mean `progress`?"));
        assert!(text.contains("`huge` is not one of `minor`, `major`"));
        assert!(text.contains("`update` needs a value for slot `progress`"));
    }

    #[test]
    fn every_slot_type_refuses_a_100_kb_value_naming_the_slot_and_the_limit() {
        let (now, tz) = clock_parts();
        let src = r#"
note = { type = "text", max_len = 400 }
severity = { type = "choice", values = ["minor", "major"] }
next_update = { type = "time" }
lasted = { type = "duration" }
status_page = { type = "url" }
"#;
        let specs: BTreeMap<String, SlotSpec> = toml::from_str(src).unwrap();
        let long = "x".repeat(100 * 1024);
        let page = "https://status.example.com/";
        let long_url = format!("{page}{}", "a".repeat(100 * 1024 - page.len()));
        let given: BTreeMap<String, String> = specs
            .keys()
            .map(|name| {
                let value = if name == "status_page" {
                    &long_url
                } else {
                    &long
                };
                (name.clone(), value.clone())
            })
            .collect();
        let clock = Clock { now, tz: &tz };
        let problems = resolve("update", &specs, &given, Fill::Defaults, clock).unwrap_err();
        let messages: Vec<&str> = problems.iter().map(|d| d.message.as_str()).collect();
        assert_eq!(
            messages,
            [
                "slot `lasted` of `update`: it is 102,400 characters long, 102,300 over the \
                 limit of 100 for a `duration` slot",
                "slot `next_update` of `update`: it is 102,400 characters long, 102,300 over the \
                 limit of 100 for a `time` slot",
                "slot `note` of `update`: it is 102,400 characters long, 102,000 over the limit \
                 of 400",
                "slot `severity` of `update`: it is 102,400 characters long, 102,200 over the \
                 limit of 200 for a `choice` slot",
                "slot `status_page` of `update`: it is 102,400 characters long, 100,400 over the \
                 limit of 2,000 for a `url` slot",
            ]
        );
        let at_limit = format!("{page}{}", "a".repeat(MAX_URL_CHARS - page.len()));
        assert_eq!(specs["status_page"].format(&at_limit, clock), Ok(at_limit));
    }

    #[test]
    fn a_choice_value_longer_than_the_limit_is_a_declaration_problem() {
        let (now, tz) = clock_parts();
        let long = "y".repeat(MAX_CHOICE_CHARS + 1);
        let spec: SlotSpec = toml::from_str(&format!(
            "type = \"choice\"\nvalues = [\"minor\", \"{long}\"]"
        ))
        .unwrap();
        let problems = spec.check_declaration(Clock { now, tz: &tz });
        assert_eq!(
            problems,
            [(
                format!(
                    "the value `{}…` is 201 characters long; a `choice` value can be at most 200",
                    "y".repeat(40)
                ),
                "shorten it: a choice is a word or two, the message says the rest".to_string()
            )]
        );
    }
}
