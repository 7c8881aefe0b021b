//! From a row's values to a [`Member`] or a [`BadRow`]'s reason: the known columns, each
//! column's limit, the checks of `id`, `email`, `name` and `webhook_url` (control characters,
//! byte-order marks, invisible characters that change how text reads), segments, and values
//! shown in messages.

use std::collections::BTreeMap;

use super::{
    BadRow, MAX_EMAIL_CHARS, MAX_FIELD_CHARS, MAX_ID_CHARS, MAX_INTERCOM_USER_ID_CHARS,
    MAX_LOCALE_CHARS, MAX_NAME_CHARS, MAX_SEGMENTS_CHARS, MAX_WEBHOOK_URL_CHARS, Member,
};
use crate::diag::thousands;
use crate::template::Recipient;

/// Values longer than this many characters are cut short (with `…`) in messages.
const MAX_SHOWN_CHARS: usize = 80;

/// The known columns, as an enum so rows need no string comparisons.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Key {
    Id,
    Email,
    Name,
    Locale,
    Segments,
    IntercomUserId,
    WebhookUrl,
}

impl Key {
    /// The longest value, in characters, of the known column `key`, or of a further one
    /// (`None`).
    fn limit(key: Option<Key>) -> usize {
        match key {
            Some(Key::Id) => MAX_ID_CHARS,
            Some(Key::Email) => MAX_EMAIL_CHARS,
            Some(Key::Name) => MAX_NAME_CHARS,
            Some(Key::Locale) => MAX_LOCALE_CHARS,
            Some(Key::Segments) => MAX_SEGMENTS_CHARS,
            Some(Key::IntercomUserId) => MAX_INTERCOM_USER_ID_CHARS,
            Some(Key::WebhookUrl) => MAX_WEBHOOK_URL_CHARS,
            None => MAX_FIELD_CHARS,
        }
    }

    /// The known column called exactly `name`, if any.
    pub(super) fn of(name: &str) -> Option<Key> {
        Some(match name {
            "id" => Key::Id,
            "email" => Key::Email,
            "name" => Key::Name,
            "locale" => Key::Locale,
            "segments" => Key::Segments,
            "intercom_user_id" => Key::IntercomUserId,
            "webhook_url" => Key::WebhookUrl,
            _ => return None,
        })
    }
}

/// One row as read, before validation: known columns as given (untrimmed), segments split.
#[derive(Debug, Default)]
pub(super) struct RawRow {
    row: u64,
    id: Option<String>,
    email: Option<String>,
    name: Option<String>,
    locale: Option<String>,
    pub(super) segments: Vec<String>,
    intercom_user_id: Option<String>,
    webhook_url: Option<String>,
    fields: BTreeMap<String, String>,
}

impl RawRow {
    pub(super) fn new(row: u64) -> RawRow {
        RawRow {
            row,
            ..RawRow::default()
        }
    }

    /// Store the text `value` of the column (or key) `name`.
    pub(super) fn set(&mut self, name: &str, value: String) {
        let slot = match Key::of(name) {
            None => {
                self.fields.insert(name.to_string(), value);
                return;
            }
            Some(Key::Segments) => {
                self.segments = split_segments(&value);
                return;
            }
            Some(Key::Id) => &mut self.id,
            Some(Key::Email) => &mut self.email,
            Some(Key::Name) => &mut self.name,
            Some(Key::Locale) => &mut self.locale,
            Some(Key::IntercomUserId) => &mut self.intercom_user_id,
            Some(Key::WebhookUrl) => &mut self.webhook_url,
        };
        *slot = Some(value);
    }
}

/// A value of `len` bytes in column `name` within the column's limit, or the reason it is not.
/// `chars` counts its characters, only when needed (a value has at least as many bytes).
pub(super) fn check_length(
    name: &str,
    len: usize,
    chars: impl FnOnce() -> usize,
) -> Result<(), String> {
    let max = Key::limit(Key::of(name));
    if len <= max {
        return Ok(());
    }
    let count = chars();
    if count <= max {
        return Ok(());
    }
    Err(format!(
        "`{}` is {} characters; the limit is {} (shorten the value)",
        show(name),
        thousands(count),
        thousands(max)
    ))
}

/// [`check_length`] of a text value.
pub(super) fn check_text_length(name: &str, value: &str) -> Result<(), String> {
    check_length(name, value.len(), || value.chars().count())
}

/// `"eu; pro;"` → `["eu", "pro"]`: split on `;`, trimmed, empty parts dropped.
pub(super) fn split_segments(value: &str) -> Vec<String> {
    value
        .split(';')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(String::from)
        .collect()
}

/// Check a raw row and turn it into a member, or say what is wrong with it (the first problem:
/// `id`, then `email`, `name`, `webhook_url`).
pub(super) fn validate(raw: RawRow) -> Result<Member, BadRow> {
    let row = raw.row;
    let id = check_id(raw.id.as_deref()).map_err(|reason| BadRow {
        row,
        id: None,
        field: "id".into(),
        reason,
    })?;
    let bad = |field: &str, reason: String| BadRow {
        row,
        id: Some(id.clone()),
        field: field.into(),
        reason,
    };
    let email = check_email(raw.email.as_deref()).map_err(|r| bad("email", r))?;
    let name = check_name(raw.name.as_deref()).map_err(|r| bad("name", r))?;
    let webhook_url =
        check_webhook_url(raw.webhook_url.as_deref()).map_err(|r| bad("webhook_url", r))?;
    Ok(Member {
        row,
        recipient: Recipient {
            id,
            name,
            email,
            locale: trimmed(raw.locale.as_deref()).unwrap_or_default(),
            fields: raw.fields,
        },
        segments: raw.segments,
        intercom_user_id: trimmed(raw.intercom_user_id.as_deref()),
        webhook_url,
    })
}

/// `value` trimmed, or `None` when absent or blank.
fn trimmed(value: Option<&str>) -> Option<String> {
    value
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .map(String::from)
}

/// The id, trimmed: required, non-empty, without control characters.
pub(super) fn check_id(value: Option<&str>) -> Result<String, String> {
    let Some(value) = value else {
        return Err("`id` is missing".into());
    };
    let id = value.trim();
    if id.is_empty() {
        return Err("`id` is empty".into());
    }
    check_text_length("id", id)?;
    if id.chars().any(char::is_control) {
        return Err(format!("`id` `{}` contains a control character", show(id)));
    }
    refuse_byte_order_mark("id", id)?;
    Ok(id.to_string())
}

/// The email address, trimmed, or empty when absent; otherwise it must parse as an address.
fn check_email(value: Option<&str>) -> Result<String, String> {
    let Some(email) = trimmed(value) else {
        return Ok(String::new());
    };
    if email.chars().any(char::is_control) {
        return Err(format!(
            "`email` `{}` contains a control character",
            show(&email)
        ));
    }
    refuse_byte_order_mark("email", &email)?;
    match email.parse::<lettre::Address>() {
        Ok(_) => Ok(email),
        Err(_) => Err(format!(
            "`email` `{}` is not an email address",
            show(&email)
        )),
    }
}

/// The name, trimmed, or empty; it goes into an email header, so no control character (CR, LF,
/// NUL, tab…) inside, nor an invisible byte-order mark.
fn check_name(value: Option<&str>) -> Result<String, String> {
    let name = trimmed(value).unwrap_or_default();
    if name.contains(['\r', '\n', '\0']) {
        return Err(format!(
            "`name` `{}` contains a line break or NUL, which cannot go in an email header",
            show(&name)
        ));
    }
    if name.chars().any(char::is_control) {
        return Err(format!(
            "`name` `{}` contains a control character, which cannot go in an email header",
            show(&name)
        ));
    }
    refuse_byte_order_mark("name", &name)?;
    Ok(name)
}

/// The byte-order mark, U+FEFF: allowed only as the first bytes of the file.
const BYTE_ORDER_MARK: char = '\u{FEFF}';

/// Refuse a byte-order mark inside the value of `column`: invisible, it would make an id, a
/// name or an address differ from the one on screen. It is usually left where two files were
/// joined. The same for the other characters that are invisible yet change what a value is
/// or how it reads ([`misleading`]).
fn refuse_byte_order_mark(column: &str, value: &str) -> Result<(), String> {
    if value.contains(BYTE_ORDER_MARK) {
        return Err(format!(
            "`{column}` `{}` contains a byte-order mark (U+FEFF), an invisible character \
             (delete it; it is often left where two files were joined)",
            show(value)
        ));
    }
    if let Some(c) = value.chars().find(|c| misleading(*c)) {
        return Err(format!(
            "`{column}` `{}` contains U+{:04X}, an invisible character that changes how the \
             text around it reads (delete it)",
            show(value),
            u32::from(c)
        ));
    }
    Ok(())
}

/// The zero-width space and word joiner, and the bidirectional embeddings, overrides and
/// isolates: invisible, they make an id or a sender's name read otherwise than it is (a name
/// shown reversed, two ids that look the same). Joiners that scripts need (U+200C, U+200D) and
/// the direction marks (U+200E, U+200F) stay allowed.
fn misleading(c: char) -> bool {
    matches!(c, '\u{200B}' | '\u{2060}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

/// The webhook URL, trimmed, when present: it must be an absolute http or https URL with a host.
fn check_webhook_url(value: Option<&str>) -> Result<Option<url::Url>, String> {
    let Some(text) = trimmed(value) else {
        return Ok(None);
    };
    let usable = url::Url::parse(&text).ok().filter(|url| {
        matches!(url.scheme(), "http" | "https") && url.host_str().is_some_and(|h| !h.is_empty())
    });
    if let Some(url) = usable {
        Ok(Some(url))
    } else {
        Err(format!(
            "`webhook_url` `{}` is not an absolute http or https URL",
            show(&text)
        ))
    }
}

/// `value` for a message: control characters and byte-order marks escaped (so the message stays on one line), and
/// cut to [`MAX_SHOWN_CHARS`] characters with `…`.
pub(super) fn show(value: &str) -> String {
    let mut shown = String::new();
    for (i, c) in value.chars().enumerate() {
        if i == MAX_SHOWN_CHARS {
            shown.push('…');
            break;
        }
        if c.is_control() || c == BYTE_ORDER_MARK || misleading(c) {
            shown.extend(c.escape_debug());
        } else {
            shown.push(c);
        }
    }
    shown
}

#[cfg(test)]
mod tests {
    use super::super::testing::{bad_csv_row, read};
    use super::*;
    use serde_json::{Map, Value};

    /// The row `cus_1,…` of a CSV file with every known column and `note`, with `value` in
    /// `column` (the others valid), read as CSV and, the same values, as JSON Lines: the bad
    /// rows of each, which must be the same.
    fn with_value(column: &str, value: &str) -> Vec<String> {
        let mut row: Vec<(&str, String)> = [
            ("id", "cus_1"),
            ("email", "ana@example.com"),
            ("name", "Ana"),
            ("locale", "es"),
            ("segments", "eu;pro"),
            ("intercom_user_id", "icu_1"),
            ("webhook_url", "https://hooks.example.com/a"),
            ("note", "hello"),
        ]
        .map(|(k, v)| (k, v.to_string()))
        .into();
        row.iter_mut().find(|(k, _)| *k == column).unwrap().1 = value.to_string();
        let header: Vec<&str> = row.iter().map(|(k, _)| *k).collect();
        let values: Vec<&str> = row.iter().map(|(_, v)| v.as_str()).collect();
        let csv = format!("{}\n{}\n", header.join(","), values.join(","));
        let object: Map<String, Value> = row
            .iter()
            .map(|(k, v)| (k.to_string(), Value::String(v.clone())))
            .collect();
        let (_, from_csv) = read("a.csv", &csv);
        let (_, from_jsonl) = read("a.jsonl", &format!("{}\n", Value::Object(object)));
        assert_eq!(from_csv, from_jsonl);
        from_csv
    }

    #[test]
    fn only_id_is_required_and_a_member_without_contacts_is_valid() {
        let (members, bad) = read("a.csv", "id\ncus_1\n");
        assert!(bad.is_empty());
        assert_eq!(members.len(), 1);
        let m = &members[0];
        assert_eq!(m.recipient.email, "");
        assert_eq!(m.segments, Vec::<String>::new());
        assert_eq!(
            (m.intercom_user_id.as_ref(), m.webhook_url.as_ref()),
            (None, None)
        );
    }

    #[test]
    fn bad_id_rows() {
        assert_eq!(bad_csv_row(" ,a@example.com,,"), "row 1: `id` is empty");
        assert_eq!(
            bad_csv_row("\"cus\t1\",a@example.com,,"),
            "row 1: `id` `cus\\t1` contains a control character"
        );
        let (_, bad) = read("a.jsonl", "{\"email\":\"a@example.com\"}\n");
        assert_eq!(bad, ["row 1: `id` is missing"]);
    }

    #[test]
    fn bad_email_name_and_webhook_rows() {
        assert_eq!(
            bad_csv_row("cus_42,not-an-email,,"),
            "row 1 (`cus_42`): `email` `not-an-email` is not an email address"
        );
        // In CSV a value cannot span lines (see `a_quote_left_open_is_its_row_only`).
        let (_, bad) = read(
            "a.jsonl",
            "{\"id\":\"cus_42\",\"name\":\"Ana\\nBcc: all@example.com\"}\n",
        );
        assert_eq!(
            bad,
            [
                "row 1 (`cus_42`): `name` `Ana\\nBcc: all@example.com` contains a line break or NUL, \
              which cannot go in an email header"
            ]
        );
        assert_eq!(
            bad_csv_row("cus_42,,Ana\0,"),
            "row 1 (`cus_42`): `name` `Ana\\0` contains a line break or NUL, \
             which cannot go in an email header"
        );
        for url in [
            "/hooks/a",
            "ftp://example.com/a",
            "https://",
            "mailto:a@example.com",
        ] {
            assert_eq!(
                bad_csv_row(&format!("cus_42,,,{url}")),
                format!(
                    "row 1 (`cus_42`): `webhook_url` `{url}` is not an absolute http or https URL"
                )
            );
        }
    }

    #[test]
    fn values_over_their_column_limit_are_bad_rows_naming_the_limit() {
        let cases = [
            (
                "id",
                MAX_ID_CHARS,
                "row 1: `id` is 201 characters; the limit is 200",
            ),
            (
                "name",
                1_000_000 - 1,
                "row 1 (`cus_1`): `name` is 1,000,000 characters; the limit is 200",
            ),
            (
                "locale",
                MAX_LOCALE_CHARS,
                "row 1 (`cus_1`): `locale` is 36 characters; the limit is 35",
            ),
            (
                "segments",
                MAX_SEGMENTS_CHARS,
                "row 1 (`cus_1`): `segments` is 1,001 characters; the limit is 1,000",
            ),
            (
                "intercom_user_id",
                MAX_INTERCOM_USER_ID_CHARS,
                "row 1 (`cus_1`): `intercom_user_id` is 201 characters; the limit is 200",
            ),
            (
                "note",
                100 * 1024 - 1,
                "row 1 (`cus_1`): `note` is 102,400 characters; the limit is 4,096",
            ),
        ];
        for (column, max, message) in cases {
            // Non-ASCII, so that characters are counted, not bytes.
            let at_limit = "é".repeat(Key::limit(Key::of(column)));
            assert_eq!(
                with_value(column, &at_limit),
                Vec::<String>::new(),
                "{column}"
            );
            let over = "é".repeat(max + 1);
            assert_eq!(
                with_value(column, &over),
                [format!("{message} (shorten the value)")],
                "{column}"
            );
        }
        let domain = "@example.com";
        let email = format!("{}{domain}", "a".repeat(MAX_EMAIL_CHARS + 1 - domain.len()));
        assert_eq!(
            with_value("email", &email),
            ["row 1 (`cus_1`): `email` is 255 characters; the limit is 254 (shorten the value)"]
        );
        let site = "https://hooks.example.com/";
        let url = format!("{site}{}", "a".repeat(MAX_WEBHOOK_URL_CHARS - site.len()));
        assert_eq!(with_value("webhook_url", &url), Vec::<String>::new());
        assert_eq!(
            with_value("webhook_url", &format!("{url}a")),
            [
                "row 1 (`cus_1`): `webhook_url` is 2,001 characters; the limit is 2,000 \
                 (shorten the value)"
            ]
        );
    }

    #[test]
    fn control_characters_and_byte_order_marks_in_id_name_and_email_are_refused() {
        let cases = [
            (
                "id",
                "cus\0_1",
                "row 1: `id` `cus\\0_1` contains a control character",
            ),
            (
                "id",
                "\u{FEFF}cus_1",
                "row 1: `id` `\\u{feff}cus_1` contains a byte-order mark \
              (U+FEFF), an invisible character (delete it; it is often left where two files were \
              joined)",
            ),
            (
                "email",
                "ana\0@example.com",
                "row 1 (`cus_1`): `email` `ana\\0@example.com` contains a control character",
            ),
            (
                "email",
                "ana@exam\u{FEFF}ple.com",
                "row 1 (`cus_1`): `email` `ana@exam\\u{feff}ple.com` contains a byte-order mark \
                 (U+FEFF), an invisible character (delete it; it is often left where two files \
                 were joined)",
            ),
            (
                "name",
                "Ana\tLópez",
                "row 1 (`cus_1`): `name` `Ana\\tLópez` contains a control character, which cannot \
                 go in an email header",
            ),
            (
                "name",
                "Ana\u{1b}[31m",
                "row 1 (`cus_1`): `name` `Ana\\u{1b}[31m` contains a control character, which \
                 cannot go in an email header",
            ),
            (
                "name",
                "Ana\u{FEFF}",
                "row 1 (`cus_1`): `name` `Ana\\u{feff}` contains a byte-order mark (U+FEFF), an \
                 invisible character (delete it; it is often left where two files were joined)",
            ),
        ];
        for (column, value, message) in cases {
            assert_eq!(with_value(column, value), [message], "{column}: {value:?}");
        }
    }

    #[test]
    fn long_values_are_cut_short_in_messages() {
        let long = "x".repeat(100);
        assert_eq!(
            bad_csv_row(&format!("cus_1,{long},,")),
            format!(
                "row 1 (`cus_1`): `email` `{}…` is not an email address",
                "x".repeat(80)
            )
        );
    }

    /// A right-to-left override would show `cus_1<U+202E>txt.exe` as `cus_1exe.txt`; a
    /// zero-width space makes two ids that look the same.
    #[test]
    fn invisible_characters_that_change_how_text_reads_are_refused() {
        let (members, bad) = read(
            "a.csv",
            "id,email,name\n\
             cus_\u{202E}1,a@example.com,A\n\
             cus_2,b\u{200B}@example.com,B\n\
             cus_3,c@example.com,Mal\u{2066}lory\n\
             cus_4,d@example.com,\u{645}\u{62D}\u{645}\u{200C}\u{62F}\u{200F}\n",
        );
        assert_eq!(members.len(), 1, "joiners and direction marks stay allowed");
        assert_eq!(
            bad,
            [
                "row 1: `id` `cus_\\u{202e}1` contains U+202E, an invisible character that changes how the text around it reads (delete it)",
                "row 2 (`cus_2`): `email` `b\\u{200b}@example.com` contains U+200B, an invisible character that changes how the text around it reads (delete it)",
                "row 3 (`cus_3`): `name` `Mal\\u{2066}lory` contains U+2066, an invisible character that changes how the text around it reads (delete it)",
            ]
        );
    }
}
