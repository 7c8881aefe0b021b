//! The audience: the customers to notify, streamed from a CSV or JSON Lines file.
//!
//! Data flow: [`open`] checks the file itself (extension, that it can be opened, and for CSV the
//! header row) and returns a [`Reader`]; anything wrong at that level is a
//! [`Diagnostic`](crate::diag::Diagnostic) and nothing is read. The [`Reader`] is an iterator that
//! reads one row at a time, turns it into a raw row (column name → text), drops rows outside the
//! wanted segment ([`Reader::segment`]), validates the rest and yields either a [`Member`] or a
//! [`BadRow`]. A bad row never stops the stream: the caller reports it and carries on with the
//! next row.
//!
//! Formats, chosen by extension:
//! - `.csv`: a header row naming the columns
//!   (`id,email,name,locale,segments,intercom_user_id,webhook_url`, in any order; only `id` is
//!   required). Further columns become `recipient.fields`. `segments` is `;`-separated.
//! - `.jsonl` / `.ndjson`: one JSON object per line with the same keys. `segments` may be a
//!   string `"a;b"` or an array of strings. Other keys become fields; numbers and booleans are
//!   kept as their JSON text, `null` as an empty string. Blank lines are skipped.
//!
//! Every column has a longest value (`MAX_ID_CHARS`, `MAX_NAME_CHARS`… and `MAX_FIELD_CHARS` for
//! further columns), short enough for every header and screen it reaches; a longer value makes
//! the row a [`BadRow`] naming the column and the limit, never a value cut short. `id`, `email`
//! and `name` may not contain control characters or a byte-order mark.
//!
//! Each customer is one line: a CSV value may be quoted (to hold `,` or `""`) but cannot span
//! lines, so a quote left open makes its own line a bad row ("unbalanced quote") and swallows
//! nothing; the next line is the next row. Lines end with `\n`, `\r\n` or (CSV) `\r`; a line
//! longer than 8 MiB is a bad row, never held in memory.
//!
//! Row numbers are 1-based and count lines, blank ones included: for CSV row N is N lines below
//! the header (line N + 1 when the header is the first line); for JSON Lines row N is line N.
//!
//! Memory stays flat however long the file is: the reader holds one record (or one line) at a
//! time. That is also why **duplicate ids are not detected here**: the store rejects them when it
//! plans deliveries, without holding every id in memory.

use std::collections::BTreeMap;
use std::fmt;
use std::fs::File;
use std::io::{self, BufRead, BufReader};
use std::path::Path;

use serde_json::{Map, Value};

use crate::diag::{Diagnostic, Location, thousands};
use crate::template::Recipient;

/// The columns (CSV) or keys (JSON Lines) crier understands; any other becomes a field.
pub const KNOWN_COLUMNS: [&str; 7] = [
    "id",
    "email",
    "name",
    "locale",
    "segments",
    "intercom_user_id",
    "webhook_url",
];

/// The extensions [`open`] accepts, without the dot.
pub const EXTENSIONS: [&str; 3] = ["csv", "jsonl", "ndjson"];

/// Longest `id`, in characters. An id is printed by `crier status`, in every list of bad rows
/// and in the journal; the ids of CRMs and billing systems (a UUID is 36) are far shorter.
pub const MAX_ID_CHARS: usize = 200;

/// Longest `email`, in characters: 254, the longest address that fits SMTP's 256-octet path
/// with its angle brackets (RFC 5321, section 4.5.3.1.3).
pub const MAX_EMAIL_CHARS: usize = 254;

/// Longest `name`, in characters. It goes in the `To:` header beside the address: quoted and
/// escaped, with the longest address, it stays well within RFC 5322's 998 characters per line,
/// and it fits on a screen.
pub const MAX_NAME_CHARS: usize = 200;

/// Longest `locale`, in characters: 35, the length RFC 5646 (section 4.4.1) asks every
/// implementation to accept for a language tag.
pub const MAX_LOCALE_CHARS: usize = 35;

/// Longest `segments`, in characters (the whole `;`-separated list, or a JSON array's items
/// joined with `;`): segments are matched, never shown, and 1,000 holds dozens of names.
pub const MAX_SEGMENTS_CHARS: usize = 1_000;

/// Longest `intercom_user_id`, in characters: an id of another system, bounded like `id`.
pub const MAX_INTERCOM_USER_ID_CHARS: usize = 200;

/// Longest `webhook_url`, in characters: 2,000, what browsers, proxies and HTTP servers
/// reliably carry.
pub const MAX_WEBHOOK_URL_CHARS: usize = 2_000;

/// Longest value of a further column (`recipient.fields.NAME`), in characters: room for a
/// postal address or a note, while one row stays small in the journal and on a screen.
pub const MAX_FIELD_CHARS: usize = 4_096;

/// Longest name of a further column (a CSV header name, a JSON Lines key), in characters: it
/// becomes `recipient.fields.NAME` in templates and is kept with every row in the journal.
pub const MAX_COLUMN_NAME_CHARS: usize = 64;

/// [`BadRow::field`] for problems with the row as a whole (wrong number of fields, not JSON…).
pub const WHOLE_ROW: &str = "*";

/// Values longer than this many characters are cut short (with `…`) in messages.
const MAX_SHOWN_CHARS: usize = 80;

/// Read buffer for the file: big enough that reading is not the bottleneck.
const BUFFER_BYTES: usize = 64 * 1024;

/// One valid recipient, with the row (1-based: the first line after the CSV header is row 1;
/// for JSONL line 1 is row 1) it came from.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Member {
    pub row: u64,
    /// `id` (trimmed), `name`, `email` (empty when absent), `locale`, and the extra columns.
    pub recipient: Recipient,
    pub segments: Vec<String>,
    pub intercom_user_id: Option<String>,
    /// A validated absolute http(s) URL, parsed once here: the journal keeps it, and sending
    /// neither parses it again nor can meet an invalid one.
    pub webhook_url: Option<url::Url>,
}

/// A row that cannot be used: reported with row number and reason, never blocks the valid rows.
///
/// `field` is the column (or JSON key) at fault, or [`WHOLE_ROW`] when the row as a whole is
/// broken. `reason` is a complete clause naming the field and the value, as shown after
/// `row N (`id`): ` by [`Display`](fmt::Display). `id` is the row's id when it could be read and
/// is valid.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct BadRow {
    pub row: u64,
    pub id: Option<String>,
    pub field: String,
    pub reason: String,
}

impl fmt::Display for BadRow {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.id {
            Some(id) => write!(f, "row {} (`{}`): {}", self.row, show(id), self.reason),
            None => write!(f, "row {}: {}", self.row, self.reason),
        }
    }
}

/// Open the audience; problems with the file itself (missing, unreadable, unknown extension, CSV
/// header without `id`, duplicate header names) are a [`Diagnostic`] naming the file (and line 1
/// for the header) with a hint of how to fix it.
pub fn open(path: &Path) -> Result<Reader, Diagnostic> {
    let format = Format::of(path)?;
    let file = open_file(path)?;
    let source = match format {
        Format::Csv => Source::Csv(CsvSource::new(path, file)?),
        Format::JsonLines => Source::JsonLines(JsonLinesSource::new(file)),
    };
    Ok(Reader {
        source,
        segment: None,
    })
}

/// A stream of audience rows; see the [module docs](self). Memory does not grow with the number
/// of rows.
#[derive(Debug)]
pub struct Reader {
    source: Source,
    segment: Option<String>,
}

impl Reader {
    /// Keep only members in `segment` (exact, case-sensitive match on one of their segments).
    /// None = everyone.
    ///
    /// Rows whose segments are readable and do not include `segment` are skipped before
    /// validation, so their problems are not reported; rows too broken to read their segments
    /// are still reported as [`BadRow`]s.
    pub fn segment(mut self, segment: Option<String>) -> Self {
        self.segment = segment;
        self
    }

    /// Whether `raw` belongs to the wanted segment (always, when there is none).
    fn wanted(&self, raw: &RawRow) -> bool {
        match &self.segment {
            None => true,
            Some(wanted) => raw.segments.iter().any(|s| s == wanted),
        }
    }
}

impl Iterator for Reader {
    type Item = Result<Member, BadRow>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            let raw = match self.source.next_raw()? {
                Ok(raw) => raw,
                Err(bad) => return Some(Err(bad)),
            };
            if self.wanted(&raw) {
                return Some(validate(raw));
            }
        }
    }
}

impl std::iter::FusedIterator for Reader {}

// ---------------------------------------------------------------------------------------------
// Opening the file

/// The two file formats, told apart by extension.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    Csv,
    JsonLines,
}

impl Format {
    /// The format of `path` by its extension (case-insensitive), or a diagnostic naming the
    /// accepted ones.
    fn of(path: &Path) -> Result<Format, Diagnostic> {
        let extension = path
            .extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase);
        match extension.as_deref() {
            Some("csv") => Ok(Format::Csv),
            Some("jsonl" | "ndjson") => Ok(Format::JsonLines),
            _ => Err(Diagnostic::new(format!(
                "the audience file `{}` is neither CSV nor JSON Lines: accepted extensions are {}",
                path.display(),
                EXTENSIONS.map(|e| format!("`.{e}`")).join(", "),
            ))
            .in_file(path)
            .hint(
                "use `.csv` for a file with a header row, `.jsonl` or `.ndjson` for one JSON \
                 object per line (rename the file, or fix `path` under `[audience]` in `crier.toml`)",
            )),
        }
    }
}

/// Open `path` for reading, with a diagnostic when it is missing, a directory or unreadable.
fn open_file(path: &Path) -> Result<File, Diagnostic> {
    let not_usable = |message: String| {
        Diagnostic::new(message)
            .in_file(path)
            .hint("check `path` under `[audience]` in `crier.toml`")
    };
    if path.is_dir() {
        return Err(not_usable(format!(
            "the audience file `{}` is a directory",
            path.display()
        )));
    }
    File::open(path).map_err(|e| match e.kind() {
        io::ErrorKind::NotFound => not_usable(format!(
            "the audience file `{}` does not exist",
            path.display()
        )),
        _ => not_usable(format!(
            "cannot read the audience file `{}`: {e}",
            path.display()
        )),
    })
}

/// The open file, in one of the two formats.
#[derive(Debug)]
enum Source {
    Csv(CsvSource),
    JsonLines(JsonLinesSource),
}

impl Source {
    /// The next row as raw text, a broken row, or `None` at the end of the file.
    fn next_raw(&mut self) -> Option<Result<RawRow, BadRow>> {
        match self {
            Source::Csv(csv) => csv.next_raw(),
            Source::JsonLines(jsonl) => jsonl.next_raw(),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Raw rows and validation

/// The known columns, as an enum so rows need no string comparisons.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Key {
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
    fn of(name: &str) -> Option<Key> {
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
struct RawRow {
    row: u64,
    id: Option<String>,
    email: Option<String>,
    name: Option<String>,
    locale: Option<String>,
    segments: Vec<String>,
    intercom_user_id: Option<String>,
    webhook_url: Option<String>,
    fields: BTreeMap<String, String>,
}

impl RawRow {
    fn new(row: u64) -> RawRow {
        RawRow {
            row,
            ..RawRow::default()
        }
    }

    /// Store the text `value` of the column (or key) `name`.
    fn set(&mut self, name: &str, value: String) {
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
fn check_length(name: &str, len: usize, chars: impl FnOnce() -> usize) -> Result<(), String> {
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
fn check_text_length(name: &str, value: &str) -> Result<(), String> {
    check_length(name, value.len(), || value.chars().count())
}

/// `"eu; pro;"` → `["eu", "pro"]`: split on `;`, trimmed, empty parts dropped.
fn split_segments(value: &str) -> Vec<String> {
    value
        .split(';')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(String::from)
        .collect()
}

/// Check a raw row and turn it into a member, or say what is wrong with it (the first problem:
/// `id`, then `email`, `name`, `webhook_url`).
fn validate(raw: RawRow) -> Result<Member, BadRow> {
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
fn check_id(value: Option<&str>) -> Result<String, String> {
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
fn show(value: &str) -> String {
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

// ---------------------------------------------------------------------------------------------
// Lines

/// Longest line read, in bytes: far beyond every column's limit together. A longer line is a
/// bad row without being held in memory, so one broken line cannot take the machine's memory.
const MAX_LINE_BYTES: usize = 8 * 1024 * 1024;

/// The physical lines of a file, one at a time in one reused buffer, counted from 1, without
/// their endings, and without a byte-order mark at the start of the file.
#[derive(Debug)]
struct Lines {
    input: BufReader<File>,
    /// A `\r` alone also ends a line (CSV, as the csv crate and old spreadsheets have it); JSON
    /// Lines ends lines with `\n` only, and a `\r` before it is dropped.
    cr_ends_line: bool,
    /// The last line ended with `\r`: a `\n` right after it is the same line ending.
    after_cr: bool,
    /// Lines read so far: the number of the one in `buffer`.
    number: u64,
    /// The line's first [`MAX_LINE_BYTES`] bytes.
    buffer: Vec<u8>,
}

impl Lines {
    fn new(file: File, cr_ends_line: bool) -> Lines {
        Lines {
            input: BufReader::with_capacity(BUFFER_BYTES, file),
            cr_ends_line,
            after_cr: false,
            number: 0,
            buffer: Vec::new(),
        }
    }

    /// The next line as row `number - before` (the lines before the first row: the header's)
    /// and its length, `None` at the end, or the row that says the rest cannot be read.
    fn next_row(&mut self, before: u64) -> Result<Option<(u64, usize)>, BadRow> {
        match self.read() {
            Ok(line) => Ok(line.map(|length| (self.number - before, length))),
            Err(e) => Err(BadRow {
                row: self.number + 1 - before,
                id: None,
                field: WHOLE_ROW.into(),
                reason: format!("the rest of the file cannot be read: {e}"),
            }),
        }
    }

    /// Read the next line: its length in bytes (all of it, also when longer than what
    /// `buffer` keeps), or `None` at the end of the file.
    fn read(&mut self) -> io::Result<Option<usize>> {
        self.buffer.clear();
        let (mut length, mut any) = (0, false);
        loop {
            let available = match self.input.fill_buf() {
                Ok(bytes) => bytes,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            if available.is_empty() {
                break;
            }
            if std::mem::take(&mut self.after_cr) && available[0] == b'\n' {
                self.input.consume(1);
                continue;
            }
            let cr_ends_line = self.cr_ends_line;
            let end = available
                .iter()
                .position(|&b| b == b'\n' || (cr_ends_line && b == b'\r'));
            let chunk = &available[..end.unwrap_or(available.len())];
            let room = MAX_LINE_BYTES.saturating_sub(self.buffer.len());
            self.buffer
                .extend_from_slice(&chunk[..chunk.len().min(room)]);
            (length, any) = (length + chunk.len(), true);
            let Some(end) = end else {
                let consumed = available.len();
                self.input.consume(consumed);
                continue;
            };
            self.after_cr = available[end] == b'\r';
            self.input.consume(end + 1);
            return Ok(Some(self.counted(length)));
        }
        Ok(any.then(|| self.counted(length)))
    }

    /// Count the line just read, of `length` bytes, and drop a byte-order mark that starts the
    /// file and a `\r` that ends the line.
    fn counted(&mut self, mut length: usize) -> usize {
        self.number += 1;
        if self.number == 1 && self.buffer.starts_with(b"\xEF\xBB\xBF") {
            self.buffer.drain(..3);
            length -= 3;
        }
        if self.buffer.ends_with(b"\r") && length <= MAX_LINE_BYTES {
            self.buffer.pop();
            length -= 1;
        }
        length
    }
}

/// The bad row for line `row` of `length` bytes, beyond [`MAX_LINE_BYTES`].
fn line_too_long(row: u64, length: usize) -> BadRow {
    BadRow {
        row,
        id: None,
        field: WHOLE_ROW.into(),
        reason: format!(
            "the line is {} bytes long, more than every column's limit together (a line break \
             may be missing; each customer goes on a line of their own)",
            thousands(length)
        ),
    }
}

// ---------------------------------------------------------------------------------------------
// CSV

/// A CSV audience: its lines, the header's columns, and one reused record.
///
/// Each record is one line: a quoted value may hold commas and quotes (`""`) but not a line
/// break. A value that spans lines is far more often a quote left open by mistake, which would
/// swallow the customers on the lines after it, than a note with a line break in it; so the
/// line where the quote opens is a bad row, and the next line is read as the next row. Row N
/// is then always N lines below the header.
#[derive(Debug)]
struct CsvSource {
    lines: Lines,
    /// The line the header is on (1 unless blank lines come before it).
    header_line: u64,
    /// The header's names, trimmed.
    columns: Vec<String>,
    /// Index of the `id` column.
    id_column: usize,
    record: csv::ByteRecord,
    /// The value being split out of a line.
    value: Vec<u8>,
    done: bool,
}

impl CsvSource {
    /// Read and check the header of `file` (read from `path`).
    fn new(path: &Path, file: File) -> Result<CsvSource, Diagnostic> {
        let mut lines = Lines::new(file, true);
        let (mut record, mut value) = (csv::ByteRecord::new(), Vec::new());
        let cannot_read = |reason: String| {
            Diagnostic::new(format!(
                "cannot read the audience file `{}`: {reason}",
                path.display()
            ))
            .in_file(path)
        };
        loop {
            match lines.read().map_err(|e| cannot_read(e.to_string()))? {
                Some(0) => continue,
                Some(length) if length > MAX_LINE_BYTES => {
                    return Err(cannot_read(format!(
                        "its header is {} bytes long",
                        thousands(length)
                    )));
                }
                Some(_) => {
                    if let Some(open) = split_line(&lines.buffer, &mut record, &mut value) {
                        return Err(header_problem(
                            path,
                            format!(
                                "column {} of the header of `{}` has an unbalanced quote",
                                open + 1,
                                path.display()
                            ),
                        )
                        .hint("close the quote: the header is one line of column names"));
                    }
                }
                None => {}
            }
            break;
        }
        let columns = header_columns(path, &record)?;
        let id_column = id_column(path, &columns)?;
        Ok(CsvSource {
            header_line: lines.number,
            lines,
            columns,
            id_column,
            record,
            value,
            done: false,
        })
    }

    /// The next line as a raw row, a broken row, or `None` at the end. Blank lines are skipped
    /// (and counted).
    fn next_raw(&mut self) -> Option<Result<RawRow, BadRow>> {
        while !self.done {
            let (row, length) = match self.lines.next_row(self.header_line) {
                Ok(Some(line)) => line,
                Ok(None) => break,
                Err(bad) => {
                    self.done = true;
                    return Some(Err(bad));
                }
            };
            if length == 0 {
                continue;
            }
            if length > MAX_LINE_BYTES {
                return Some(Err(line_too_long(row, length)));
            }
            let open = split_line(&self.lines.buffer, &mut self.record, &mut self.value);
            return Some(match open {
                Some(column) => Err(self.unbalanced_quote(row, column)),
                None if self.record.len() != self.columns.len() => Err(self.wrong_length(row)),
                None => self.raw_row(row),
            });
        }
        self.done = true;
        None
    }

    /// The current record as a raw row; a value that is not UTF-8 makes it a bad row.
    fn raw_row(&self, row: u64) -> Result<RawRow, BadRow> {
        let mut raw = RawRow::new(row);
        for (name, bytes) in self.columns.iter().zip(self.record.iter()) {
            match std::str::from_utf8(bytes) {
                Ok(value) => {
                    check_text_length(name, value).map_err(|reason| BadRow {
                        row,
                        id: self.record_id(),
                        field: name.clone(),
                        reason,
                    })?;
                    raw.set(name, value.to_string());
                }
                Err(_) => {
                    return Err(BadRow {
                        row,
                        id: self.record_id(),
                        field: name.clone(),
                        reason: format!(
                            "`{name}` `{}` is not valid UTF-8 (save the file as UTF-8)",
                            show(&String::from_utf8_lossy(bytes))
                        ),
                    });
                }
            }
        }
        Ok(raw)
    }

    /// The bad row for line `row`, whose value number `column` (0-based) opens a quote that the
    /// line does not close.
    fn unbalanced_quote(&self, row: u64, column: usize) -> BadRow {
        let (field, named) = match self.columns.get(column) {
            Some(name) => (name.clone(), format!("`{name}`")),
            None => (WHOLE_ROW.to_string(), format!("value {}", column + 1)),
        };
        BadRow {
            row,
            // The id is whole only when its value comes before the quote.
            id: (self.id_column < column)
                .then(|| self.record_id())
                .flatten(),
            field,
            reason: format!(
                "{named} has an unbalanced quote: it opens with `\"` that is not closed on the \
                 same line (close the quote, and write a quote inside a quoted value as `\"\"`; \
                 a value cannot span lines)"
            ),
        }
    }

    /// The bad row for line `row`, whose number of values differs from the header's.
    fn wrong_length(&self, row: u64) -> BadRow {
        BadRow {
            row,
            id: self.record_id(),
            field: WHOLE_ROW.into(),
            reason: format!(
                "the row has {} but the header has {} \
                 (put values containing commas in double quotes)",
                fields(self.record.len()),
                self.columns.len()
            ),
        }
    }

    /// The current record's id, when it can be read and is valid (for bad-row reports).
    fn record_id(&self) -> Option<String> {
        let bytes = self.record.get(self.id_column)?;
        let text = std::str::from_utf8(bytes).ok()?;
        check_id(Some(text)).ok()
    }
}

/// Split one line into `record`, reading values as the csv crate does: separated by `,`; a
/// value that starts with `"` is quoted, may hold `,`, and `""` in it is one `"`; text after its
/// closing quote is kept; a `"` inside an unquoted value is kept as it is. `value` is scratch
/// space. Returns the index of the value whose quote is still open at the end of the line
/// (its text so far is in `record`), if any.
fn split_line(line: &[u8], record: &mut csv::ByteRecord, value: &mut Vec<u8>) -> Option<usize> {
    record.clear();
    if !line.contains(&b'"') {
        for part in line.split(|&b| b == b',') {
            record.push_field(part);
        }
        return None;
    }
    #[derive(PartialEq)]
    enum State {
        Start,
        Unquoted,
        Quoted,
        /// A `"` inside a quoted value: the end of it, or the first of `""`.
        QuoteInQuoted,
    }
    let mut state = State::Start;
    value.clear();
    for &b in line {
        state = match (state, b) {
            (State::Start, b'"') => State::Quoted,
            (State::Start | State::Unquoted | State::QuoteInQuoted, b',') => {
                record.push_field(value);
                value.clear();
                State::Start
            }
            (State::Quoted, b'"') => State::QuoteInQuoted,
            (State::Quoted, _) => {
                value.push(b);
                State::Quoted
            }
            (State::QuoteInQuoted, b'"') => {
                value.push(b'"');
                State::Quoted
            }
            (_, _) => {
                value.push(b);
                State::Unquoted
            }
        };
    }
    let open = (state == State::Quoted).then_some(record.len());
    record.push_field(value);
    open
}

/// "1 field", "3 fields".
fn fields(count: usize) -> String {
    match count {
        1 => "1 field".into(),
        n => format!("{n} fields"),
    }
}

/// The header's column names, trimmed; a diagnostic when they are not UTF-8, empty, blank,
/// repeated, or a known column in the wrong case.
fn header_columns(path: &Path, header: &csv::ByteRecord) -> Result<Vec<String>, Diagnostic> {
    if header.is_empty() {
        return Err(header_problem(
            path,
            format!("the audience file `{}` is empty", path.display()),
        )
        .hint(format!(
            "start it with a header row naming the columns, like `{}`",
            KNOWN_COLUMNS.join(",")
        )));
    }
    let mut columns: Vec<String> = Vec::with_capacity(header.len());
    for (i, bytes) in header.iter().enumerate() {
        let name = std::str::from_utf8(bytes)
            .map_err(|_| {
                header_problem(
                    path,
                    format!("the header of `{}` is not valid UTF-8", path.display()),
                )
                .hint("save the file as UTF-8")
            })?
            .trim()
            .to_string();
        check_column_name(path, i, &name, &columns)?;
        columns.push(name);
    }
    Ok(columns)
}

/// Check header column number `index` (0-based), called `name`, against the ones before it.
fn check_column_name(
    path: &Path,
    index: usize,
    name: &str,
    before: &[String],
) -> Result<(), Diagnostic> {
    let file = path.display();
    if name.is_empty() {
        return Err(header_problem(
            path,
            format!("column {} of the header of `{file}` has no name", index + 1),
        )
        .hint("name the column, or delete it and its values"));
    }
    if name == WHOLE_ROW {
        return Err(header_problem(
            path,
            format!(
                "column {} of the header of `{file}` is named `{WHOLE_ROW}`, which crier uses for problems with a whole row",
                index + 1
            ),
        )
        .hint("rename the column"));
    }
    let length = name.chars().count();
    if length > MAX_COLUMN_NAME_CHARS {
        return Err(header_problem(
            path,
            format!(
                "column {} of the header of `{file}` has a name of {} characters (`{}`); the limit is {MAX_COLUMN_NAME_CHARS}",
                index + 1,
                crate::diag::thousands(length),
                show(name)
            ),
        )
        .hint("shorten the column name"));
    }
    if before.iter().any(|b| b == name) {
        return Err(
            header_problem(path, format!("the header of `{file}` names `{name}` twice"))
                .field(name)
                .hint(format!(
                    "each column name may appear once: rename or remove one of the `{name}` columns"
                )),
        );
    }
    let miscased = KNOWN_COLUMNS
        .iter()
        .find(|known| known.eq_ignore_ascii_case(name) && **known != name);
    if let Some(known) = miscased {
        return Err(header_problem(
            path,
            format!("the header of `{file}` has `{name}`, which should be `{known}`"),
        )
        .field(name)
        .hint(format!(
            "column names are case-sensitive: rename it to `{known}` (as written it would be an \
             extra field, not the recipient's `{known}`)"
        )));
    }
    Ok(())
}

/// The index of the `id` column, or a diagnostic saying the header has none.
fn id_column(path: &Path, columns: &[String]) -> Result<usize, Diagnostic> {
    columns.iter().position(|c| c == "id").ok_or_else(|| {
        header_problem(
            path,
            format!("the header of `{}` has no `id` column", path.display()),
        )
        .field("id")
        .hint(format!(
            "add an `id` column with a unique id for each customer; the header can name `{}` \
             and further columns of your own",
            KNOWN_COLUMNS.join(",")
        ))
    })
}

/// A diagnostic about the header: at line 1 of `path`.
fn header_problem(path: &Path, message: String) -> Diagnostic {
    Diagnostic::new(message).at(Location {
        file: path.to_path_buf(),
        line: 1,
        column: 1,
    })
}

// ---------------------------------------------------------------------------------------------
// JSON Lines

/// A JSON Lines audience: its lines, one at a time.
#[derive(Debug)]
struct JsonLinesSource {
    lines: Lines,
    done: bool,
}

impl JsonLinesSource {
    fn new(file: File) -> JsonLinesSource {
        JsonLinesSource {
            lines: Lines::new(file, false),
            done: false,
        }
    }

    /// The next non-blank line as a raw row, a broken line, or `None` at the end.
    fn next_raw(&mut self) -> Option<Result<RawRow, BadRow>> {
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
mod generated;

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use std::path::PathBuf;

    /// A temporary directory holding `name` with `content`; keep the directory alive.
    fn file(name: &str, content: &[u8]) -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(name);
        std::fs::write(&path, content).unwrap();
        (dir, path)
    }

    /// Every row of `content` in a file called `name`: members, and bad rows as text.
    fn read(name: &str, content: &str) -> (Vec<Member>, Vec<String>) {
        read_segment(name, content, None)
    }

    fn read_segment(
        name: &str,
        content: &str,
        segment: Option<&str>,
    ) -> (Vec<Member>, Vec<String>) {
        let (_dir, path) = file(name, content.as_bytes());
        split(open(&path).unwrap().segment(segment.map(String::from)))
    }

    fn split(reader: Reader) -> (Vec<Member>, Vec<String>) {
        let (mut members, mut bad) = (Vec::new(), Vec::new());
        for item in reader {
            match item {
                Ok(m) => members.push(m),
                Err(b) => bad.push(b.to_string()),
            }
        }
        (members, bad)
    }

    /// The one bad row of a CSV file with header `id,email,name,webhook_url` and `row`.
    fn bad_csv_row(row: &str) -> String {
        let (members, bad) = read("a.csv", &format!("id,email,name,webhook_url\n{row}\n"));
        assert!(members.is_empty(), "{members:?}");
        assert_eq!(bad.len(), 1, "{bad:?}");
        bad.into_iter().next().unwrap()
    }

    fn open_err(name: &str, content: &str) -> (PathBuf, Diagnostic) {
        let (_dir, path) = file(name, content.as_bytes());
        (path.clone(), open(&path).unwrap_err())
    }

    #[test]
    fn csv_reads_known_columns_and_keeps_extra_ones_as_fields() {
        let (members, bad) = read(
            "a.csv",
            "id,email,name,locale,segments,intercom_user_id,webhook_url,plan,region\n\
             cus_1, ana@example.com ,Ana López,es,eu;pro,icu_1, https://hooks.example.com/a ,pro,\n",
        );
        assert!(bad.is_empty(), "{bad:?}");
        let m = &members[0];
        assert_eq!(m.row, 1);
        assert_eq!(m.recipient.id, "cus_1");
        assert_eq!(m.recipient.email, "ana@example.com");
        assert_eq!(m.recipient.name, "Ana López");
        assert_eq!(m.recipient.locale, "es");
        assert_eq!(m.segments, ["eu", "pro"]);
        assert_eq!(m.intercom_user_id.as_deref(), Some("icu_1"));
        assert_eq!(
            m.webhook_url.as_ref().map(url::Url::as_str),
            Some("https://hooks.example.com/a")
        );
        let fields: Vec<_> = m
            .recipient
            .fields
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        assert_eq!(fields, [("plan", "pro"), ("region", "")]);
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
    fn segments_are_split_and_filtered_exactly() {
        let csv = "id,segments\nc1,eu; pro\nc2,us;pro\nc3,EU\nc4,\nc5,eu\n";
        let ids = |segment| {
            read_segment("a.csv", csv, segment)
                .0
                .into_iter()
                .map(|m| m.recipient.id)
                .collect::<Vec<_>>()
        };
        assert_eq!(ids(Some("eu")), ["c1", "c5"]);
        assert_eq!(ids(Some("pro")), ["c1", "c2"]);
        assert_eq!(ids(Some("apac")), Vec::<String>::new());
        assert_eq!(ids(None), ["c1", "c2", "c3", "c4", "c5"]);
        let (members, _) = read("a.csv", csv);
        assert_eq!(members[0].segments, ["eu", "pro"]);
    }

    #[test]
    fn segment_filter_skips_bad_rows_of_other_segments_but_not_broken_ones() {
        let csv = "id,email,segments\nc1,bad,us\nc2,bad,eu\nc3,x@example.com,eu,extra\n";
        let (_, bad) = read_segment("a.csv", csv, Some("eu"));
        assert_eq!(
            bad,
            [
                "row 2 (`c2`): `email` `bad` is not an email address",
                "row 3 (`c3`): the row has 4 fields but the header has 3 \
                 (put values containing commas in double quotes)",
            ]
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

    #[test]
    fn csv_row_with_wrong_field_count_is_reported_and_the_stream_goes_on() {
        let (members, bad) = read(
            "a.csv",
            "id,email\ncus_1,a@example.com\ncus_2,b@example.com,extra\ncus_3\ncus_4,d@example.com\n",
        );
        assert_eq!(
            bad,
            [
                "row 2 (`cus_2`): the row has 3 fields but the header has 2 \
                 (put values containing commas in double quotes)",
                "row 3 (`cus_3`): the row has 1 field but the header has 2 \
                 (put values containing commas in double quotes)",
            ]
        );
        let rows: Vec<_> = members
            .iter()
            .map(|m| (m.row, m.recipient.id.as_str()))
            .collect();
        assert_eq!(rows, [(1, "cus_1"), (4, "cus_4")]);
    }

    /// The reason given for a quote left open in `column`.
    fn unbalanced(column: &str) -> String {
        format!(
            "{column} has an unbalanced quote: it opens with `\"` that is not closed on the same \
             line (close the quote, and write a quote inside a quoted value as `\"\"`; a value \
             cannot span lines)"
        )
    }

    /// (row, id) of each member.
    fn rows(members: &[Member]) -> Vec<(u64, &str)> {
        members
            .iter()
            .map(|m| (m.row, m.recipient.id.as_str()))
            .collect()
    }

    #[test]
    fn a_quote_left_open_is_its_row_only() {
        // Before, the quote swallowed rows 2 and 3 into `name`: one problem, two customers lost.
        let (members, bad) = read(
            "a.csv",
            "id,email,name\n\
             cus_1,a@example.com,\"Ana\n\
             cus_2,b@example.com,Ben\n\
             cus_3,c@example.com,Cat\n",
        );
        assert_eq!(bad, [format!("row 1 (`cus_1`): {}", unbalanced("`name`"))]);
        assert_eq!(rows(&members), [(2, "cus_2"), (3, "cus_3")]);
    }

    #[test]
    fn a_quote_closed_lines_later_does_not_swallow_them() {
        // Before, `note` of cus_1 was "VIP\ncus_2,b@example.com,x" and cus_2 was lost silently.
        let (members, bad) = read(
            "a.csv",
            "id,email,note\n\
             cus_1,a@example.com,\"VIP\n\
             cus_2,b@example.com,x\"\n\
             \"cus_4,d@example.com,y\n\
             cus_5,e@example.com,ok,\"z\n",
        );
        assert_eq!(
            bad,
            [
                format!("row 1 (`cus_1`): {}", unbalanced("`note`")),
                format!("row 3: {}", unbalanced("`id`")),
                format!("row 4 (`cus_5`): {}", unbalanced("value 4")),
            ]
        );
        assert_eq!(rows(&members), [(2, "cus_2")]);
        assert_eq!(members[0].recipient.fields["note"], "x\"");
    }

    #[test]
    fn a_value_with_a_line_break_is_refused_and_its_lines_are_rows() {
        // The choice made: a quoted value may not span lines, even in a further column, so that
        // a quote left open never hides a customer; both lines are named.
        let (members, bad) = read(
            "a.csv",
            "id,address\ncus_1,\"1 Main St\nSpringfield\"\ncus_2,\"2 Elm St, Shelbyville\"\n",
        );
        assert_eq!(
            bad,
            [
                format!("row 1 (`cus_1`): {}", unbalanced("`address`")),
                "row 2 (`Springfield\"`): the row has 1 field but the header has 2 \
                 (put values containing commas in double quotes)"
                    .to_string(),
            ]
        );
        assert_eq!(rows(&members), [(3, "cus_2")]);
        assert_eq!(
            members[0].recipient.fields["address"],
            "2 Elm St, Shelbyville"
        );
    }

    #[test]
    fn quoted_values_read_as_the_csv_crate_reads_them() {
        let (members, bad) = read(
            "a.csv",
            "id,name,plan,note\n\
             \"cus_1\",\"López, Ana \"\"Anita\"\"\",\"pro\"plus,say \"hi\"\n\
             cus_2,,\"\",\n",
        );
        assert!(bad.is_empty(), "{bad:?}");
        let m = &members[0];
        assert_eq!(
            (
                m.recipient.name.as_str(),
                m.recipient.fields["plan"].as_str()
            ),
            ("López, Ana \"Anita\"", "proplus")
        );
        assert_eq!(m.recipient.fields["note"], "say \"hi\"");
        let fields: Vec<_> = members[1].recipient.fields.values().collect();
        assert_eq!(fields, ["", ""]);
    }

    #[test]
    fn row_n_is_n_lines_below_the_header_whatever_the_line_endings() {
        let (members, bad) = read("a.csv", "\nid,email\r\nc1,\r\n\r\nc2,\rc3,\nc4,x\r\nc5,");
        assert_eq!(bad, ["row 5 (`c4`): `email` `x` is not an email address"]);
        assert_eq!(rows(&members), [(1, "c1"), (3, "c2"), (4, "c3"), (6, "c5")]);
    }

    #[test]
    fn a_line_too_long_to_hold_is_a_bad_row_and_the_next_is_read() {
        let long = "x".repeat(MAX_LINE_BYTES + 10);
        let csv_line = format!("cus_1,{long}");
        let json_line = format!("{{\"id\":\"{long}\"}}");
        for (name, line, next) in [
            ("a.csv", &csv_line, "cus_2,ok"),
            ("a.jsonl", &json_line, "{\"id\":\"cus_2\"}"),
        ] {
            let header = if name == "a.csv" { "id,note\n" } else { "" };
            let (members, bad) = read(name, &format!("{header}{line}\n{next}\n"));
            assert_eq!(
                bad,
                [format!(
                    "row 1: the line is {} bytes long, more than every column's limit together \
                     (a line break may be missing; each customer goes on a line of their own)",
                    thousands(line.len())
                )],
                "{name}"
            );
            assert_eq!(rows(&members), [(2, "cus_2")], "{name}");
        }
    }

    #[test]
    fn a_header_with_a_quote_left_open_is_an_error() {
        let (path, d) = open_err("a.csv", "id,\"email\nc1,a@example.com\n");
        assert_eq!(
            d.message,
            format!(
                "column 2 of the header of `{}` has an unbalanced quote",
                path.display()
            )
        );
    }

    #[test]
    fn csv_row_with_invalid_utf8_is_reported() {
        let (_dir, path) = file("a.csv", b"id,name\ncus_1,Ana L\xF3pez\ncus_2,Ben\n");
        let (members, bad) = split(open(&path).unwrap());
        assert_eq!(
            bad,
            [
                "row 1 (`cus_1`): `name` `Ana L\u{FFFD}pez` is not valid UTF-8 (save the file as UTF-8)"
            ]
        );
        assert_eq!(members.len(), 1);
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
    fn member_round_trips_through_json() {
        let (members, _) = read("a.csv", "id,email,plan\nc1,a@example.com,pro\n");
        let json = serde_json::to_string(&members[0]).unwrap();
        let back: Member = serde_json::from_str(&json).unwrap();
        assert_eq!(back, members[0]);
    }

    #[test]
    fn unknown_extension_is_an_error() {
        let (path, d) = open_err("people.txt", "id\nc1\n");
        assert_eq!(
            d.message,
            format!(
                "the audience file `{}` is neither CSV nor JSON Lines: accepted extensions are \
                 `.csv`, `.jsonl`, `.ndjson`",
                path.display()
            )
        );
        assert!(open_err("people", "").1.message.contains("neither CSV"));
        assert!(
            open(&PathBuf::from("UPPER.CSV"))
                .unwrap_err()
                .message
                .contains("does not exist")
        );
    }

    #[test]
    fn missing_file_is_an_error() {
        let d = open(Path::new("/nonexistent/audience.jsonl")).unwrap_err();
        assert_eq!(
            d.to_string(),
            "error: the audience file `/nonexistent/audience.jsonl` does not exist\n  \
             --> /nonexistent/audience.jsonl\n   = help: check `path` under `[audience]` in `crier.toml`"
        );
    }

    #[test]
    fn header_without_id_is_an_error() {
        let (path, d) = open_err("a.csv", "email,name\na@example.com,Ana\n");
        assert_eq!(
            d.to_string(),
            format!(
                "error: the header of `{0}` has no `id` column\n  --> {0}:1:1\n   = field: id\n   \
                 = help: add an `id` column with a unique id for each customer; the header can \
                 name `id,email,name,locale,segments,intercom_user_id,webhook_url` and further \
                 columns of your own",
                path.display()
            )
        );
    }

    #[test]
    fn header_problems_are_errors() {
        let (path, d) = open_err("a.csv", "id,email, email\n");
        assert_eq!(
            d.message,
            format!("the header of `{}` names `email` twice", path.display())
        );
        assert_eq!(d.location.unwrap().line, 1);
        let (path, d) = open_err("a.csv", "ID,Email\n");
        assert_eq!(
            d.message,
            format!(
                "the header of `{}` has `ID`, which should be `id`",
                path.display()
            )
        );
        let (path, d) = open_err("a.csv", "id,email,\n");
        assert_eq!(
            d.message,
            format!("column 3 of the header of `{}` has no name", path.display())
        );
        let (path, d) = open_err("a.csv", "");
        assert_eq!(
            d.message,
            format!("the audience file `{}` is empty", path.display())
        );
        let long = "x".repeat(MAX_COLUMN_NAME_CHARS + 1);
        let (path, d) = open_err("a.csv", &format!("id,{long}\n"));
        assert_eq!(
            d.message,
            format!(
                "column 2 of the header of `{}` has a name of 65 characters (`{}`); the limit is 64",
                path.display(),
                show(&long)
            )
        );
        let fits = "x".repeat(MAX_COLUMN_NAME_CHARS);
        let (members, bad) = read("a.csv", &format!("id,{fits}\nc1,v\n"));
        assert_eq!((members.len(), bad), (1, Vec::<String>::new()));
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

    #[test]
    fn csv_byte_order_mark_is_ignored() {
        let (_dir, path) = file("a.csv", b"\xEF\xBB\xBFid,email\nc1,a@example.com\n");
        let (members, bad) = split(open(&path).unwrap());
        assert!(bad.is_empty());
        assert_eq!(members[0].recipient.id, "c1");
    }

    #[test]
    fn streams_a_large_file_without_collecting() {
        const ROWS: u64 = 200_000;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("big.csv");
        let mut out = std::io::BufWriter::new(File::create(&path).unwrap());
        writeln!(out, "id,email,name,locale,segments,webhook_url,plan").unwrap();
        for i in 0..ROWS {
            let segment = if i % 2 == 0 { "eu" } else { "us" };
            writeln!(
                out,
                "cus_{i},user{i}@example.com,User {i},en,{segment};pro,https://h.example.com/{i},pro"
            )
            .unwrap();
        }
        out.flush().unwrap();
        drop(out);
        let (mut members, mut bad) = (0u64, 0u64);
        for item in open(&path).unwrap().segment(Some("eu".into())) {
            match item {
                Ok(_) => members += 1,
                Err(_) => bad += 1,
            }
        }
        assert_eq!((members, bad), (ROWS / 2, 0));
    }
}
