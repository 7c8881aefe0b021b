//! A JSON Lines audience: each non-blank line one JSON object, its values read as text, and
//! `segments` as a `;`-separated string or an array of strings.

use std::fs::File;

use serde_json::{Map, Value};

use super::columns::{
    Key, RawRow, check_id, check_length, check_text_length, show, split_segments,
};
use super::lines::{Lines, MAX_LINE_BYTES, line_too_long};
use super::{BadRow, MAX_COLUMN_NAME_CHARS, WHOLE_ROW};

/// A JSON Lines audience: its lines, one at a time.
#[derive(Debug)]
pub(super) struct JsonLinesSource {
    lines: Lines,
    done: bool,
}

impl JsonLinesSource {
    pub(super) fn new(file: File) -> JsonLinesSource {
        JsonLinesSource {
            lines: Lines::new(file, false),
            done: false,
        }
    }

    /// The next non-blank line as a raw row, a broken line, or `None` at the end.
    pub(super) fn next_raw(&mut self) -> Option<Result<RawRow, BadRow>> {
        while !self.done {
            let (row, length) = match self.lines.next_row(0) {
                Ok(Some(line)) => line,
                Ok(None) => break,
                Err(bad) => {
                    self.done = true;
                    return Some(Err(bad));
                }
            };
            if length > MAX_LINE_BYTES {
                return Some(Err(line_too_long(row, length)));
            }
            if self.lines.buffer.iter().all(u8::is_ascii_whitespace) {
                continue;
            }
            return Some(json_row(&self.lines.buffer, row));
        }
        self.done = true;
        None
    }
}

/// Line number `row`, `bytes`, as a raw row: it must be UTF-8 and one JSON object.
fn json_row(bytes: &[u8], row: u64) -> Result<RawRow, BadRow> {
    let whole_row = |reason: String| BadRow {
        row,
        id: None,
        field: WHOLE_ROW.into(),
        reason,
    };
    let text = std::str::from_utf8(bytes)
        .map_err(|_| whole_row("the line is not valid UTF-8 (save the file as UTF-8)".into()))?;
    match serde_json::from_str::<Value>(text) {
        Ok(Value::Object(object)) => object_row(object, row),
        Ok(other) => Err(whole_row(format!(
            "the line is {}, not a JSON object",
            json_kind(&other)
        ))),
        Err(e) => Err(whole_row(format!("the line is not valid JSON: {e}"))),
    }
}

/// A JSON object as a raw row: every value must be a scalar, except `segments`, which may also
/// be an array of strings.
fn object_row(object: Map<String, Value>, row: u64) -> Result<RawRow, BadRow> {
    let id = object
        .get("id")
        .and_then(|v| scalar_text(v).ok().flatten())
        .and_then(|text| check_id(Some(&text)).ok());
    let mut raw = RawRow::new(row);
    for (key, value) in object {
        if key == WHOLE_ROW {
            return Err(BadRow {
                row,
                id,
                field: WHOLE_ROW.into(),
                reason: format!(
                    "the key `{WHOLE_ROW}` cannot name a field: crier uses it for problems with a whole row (rename the key)"
                ),
            });
        }
        let length = key.chars().count();
        if length > MAX_COLUMN_NAME_CHARS {
            return Err(BadRow {
                row,
                id,
                field: WHOLE_ROW.into(),
                reason: format!(
                    "the key `{}` is {} characters long; the limit is {MAX_COLUMN_NAME_CHARS} (shorten the key)",
                    show(&key),
                    crate::diag::thousands(length)
                ),
            });
        }
        let bad = |reason: String| BadRow {
            row,
            id: id.clone(),
            field: key.clone(),
            reason,
        };
        match (Key::of(&key), value) {
            (Some(Key::Segments), Value::Array(items)) => {
                raw.segments = segment_list(items).map_err(|kind| {
                    bad(format!(
                        "`segments` must be a string or an array of strings, not an array with {kind} in it"
                    ))
                })?;
                let joined = |f: fn(&str) -> usize| {
                    raw.segments
                        .iter()
                        .map(|s| f(s) + 1)
                        .sum::<usize>()
                        .saturating_sub(1)
                };
                check_length(&key, joined(str::len), || joined(|s| s.chars().count()))
                    .map_err(bad)?;
            }
            (known, value) => match scalar_text(&value) {
                Ok(Some(text)) => {
                    check_text_length(&key, &text).map_err(bad)?;
                    raw.set(&key, text);
                }
                Ok(None) if known.is_none() => raw.set(&key, String::new()),
                Ok(None) => {}
                Err(kind) => return Err(bad(wrong_type(&key, known, kind))),
            },
        }
    }
    Ok(raw)
}

/// The text of a scalar JSON value (`None` for null), or the kind of value it is instead.
fn scalar_text(value: &Value) -> Result<Option<String>, &'static str> {
    match value {
        Value::Null => Ok(None),
        Value::String(s) => Ok(Some(s.clone())),
        Value::Bool(_) | Value::Number(_) => Ok(Some(value.to_string())),
        other => Err(json_kind(other)),
    }
}

/// The segments in a JSON array: strings, trimmed, empty ones dropped; or the kind of the first
/// item that is not a string.
fn segment_list(items: Vec<Value>) -> Result<Vec<String>, &'static str> {
    let mut segments = Vec::with_capacity(items.len());
    for item in items {
        match item {
            // Split as a CSV `segments` value is: `"pro;us"` is two segments, never one that
            // `--audience pro` cannot match (found by the audience fuzz target).
            Value::String(s) => segments.extend(split_segments(&s)),
            other => return Err(json_kind(&other)),
        }
    }
    Ok(segments)
}

/// The reason for a key whose value is an array or object (`kind`) where text was expected.
fn wrong_type(key: &str, known: Option<Key>, kind: &str) -> String {
    match known {
        Some(Key::Segments) => {
            format!("`segments` must be a string or an array of strings, not {kind}")
        }
        Some(_) => format!("`{}` must be a string, not {kind}", show(key)),
        None => format!(
            "`{}` must be a string, number or boolean, not {kind}",
            show(key)
        ),
    }
}

/// "an array", "an object"… for messages.
fn json_kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::super::open;
    use super::super::testing::{file, open_err, read, split};
    use super::*;

    #[test]
    fn a_segments_array_is_measured_as_its_joined_list() {
        let item = "s".repeat(499);
        let line = |n: usize| format!("{{\"id\":\"c1\",\"segments\":{:?}}}\n", vec![&item; n]);
        let (members, bad) = read("a.jsonl", &line(2));
        assert_eq!((members.len(), bad), (1, Vec::<String>::new()));
        let (_, bad) = read("a.jsonl", &line(3));
        assert_eq!(
            bad,
            [
                "row 1 (`c1`): `segments` is 1,499 characters; the limit is 1,000 (shorten the value)"
            ]
        );
    }

    #[test]
    fn jsonl_reads_arrays_numbers_and_skips_blank_lines() {
        let (members, bad) = read(
            "a.jsonl",
            "{\"id\":\"c1\",\"segments\":[\"eu\",\" pro \",\"\"],\"seats\":12,\"vip\":true,\"note\":null}\n\
             \n\
             [1,2]\n\
             {\"id\":42,\"segments\":\"us;pro\",\"email\":\"b@example.com\",\"webhook_url\":\"http://h.example/x\"}\r\n\
             {\"id\":\"c3\"\n\
             \"c4\"\n\
             {\"id\":\"c5\",\"meta\":{\"a\":1}}\n\
             {\"id\":\"c6\",\"segments\":[1]}\n\
             {\"id\":\"c7\",\"email\":[\"a@example.com\"]}\n",
        );
        assert_eq!(
            bad,
            [
                "row 3: the line is an array, not a JSON object",
                "row 5: the line is not valid JSON: EOF while parsing an object at line 1 column 10",
                "row 6: the line is a string, not a JSON object",
                "row 7 (`c5`): `meta` must be a string, number or boolean, not an object",
                "row 8 (`c6`): `segments` must be a string or an array of strings, \
                 not an array with a number in it",
                "row 9 (`c7`): `email` must be a string, not an array",
            ]
        );
        assert_eq!(members.len(), 2);
        let first = &members[0];
        assert_eq!((first.row, first.recipient.id.as_str()), (1, "c1"));
        assert_eq!(first.segments, ["eu", "pro"]);
        let fields: Vec<_> = first
            .recipient
            .fields
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        assert_eq!(fields, [("note", ""), ("seats", "12"), ("vip", "true")]);
        let second = &members[1];
        assert_eq!((second.row, second.recipient.id.as_str()), (4, "42"));
        assert_eq!(second.segments, ["us", "pro"]);
        assert_eq!(
            second.webhook_url.as_ref().map(url::Url::as_str),
            Some("http://h.example/x")
        );
    }

    #[test]
    fn jsonl_invalid_utf8_and_byte_order_mark() {
        let (_dir, path) = file(
            "a.ndjson",
            b"\xEF\xBB\xBF{\"id\":\"c1\"}\n{\"id\":\"c\xFF\"}\n",
        );
        let (members, bad) = split(open(&path).unwrap());
        assert_eq!(members[0].recipient.id, "c1");
        assert_eq!(
            bad,
            ["row 2: the line is not valid UTF-8 (save the file as UTF-8)"]
        );
    }

    #[test]
    fn a_segment_in_a_json_array_is_split_on_semicolons_as_in_csv() {
        let (members, bad) = read(
            "a.jsonl",
            "{\"id\":\"c1\",\"segments\":[\"eu\",\" pro; us \",\";\",\"\"]}\n",
        );
        assert_eq!(bad, Vec::<String>::new());
        assert_eq!(members[0].segments, ["eu", "pro", "us"]);
    }

    /// `*` marks a problem with a whole row (`BadRow::field`), so it cannot name a field too
    /// (found by the audience fuzz target: `{"*":{"":1}}` read as a whole-row problem).
    #[test]
    fn a_column_or_key_named_like_the_whole_row_marker_is_refused() {
        let (path, d) = open_err("a.csv", "id,*\n");
        assert_eq!(
            d.message,
            format!(
                "column 2 of the header of `{}` is named `*`, which crier uses for problems with a whole row",
                path.display()
            )
        );
        let (members, bad) = read("a.jsonl", "{\"*\":{\"\":1}}\n{\"id\":\"c2\",\"*\":\"x\"}\n");
        assert!(members.is_empty());
        assert_eq!(
            bad,
            [
                "row 1: the key `*` cannot name a field: crier uses it for problems with a whole row (rename the key)",
                "row 2 (`c2`): the key `*` cannot name a field: crier uses it for problems with a whole row (rename the key)",
            ]
        );
    }

    #[test]
    fn a_json_key_over_the_limit_is_a_bad_row() {
        let long = "k".repeat(MAX_COLUMN_NAME_CHARS + 1);
        let (members, bad) = read(
            "a.jsonl",
            &format!("{{\"id\":\"c1\",\"{long}\":\"v\"}}\n{{\"id\":\"c2\"}}\n"),
        );
        assert_eq!(members.len(), 1);
        assert_eq!(
            bad,
            [format!(
                "row 1 (`c1`): the key `{}` is 65 characters long; the limit is 64 (shorten the key)",
                show(&long)
            )]
        );
    }
}
