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
//!
//! The files: this one opens the file and holds the reader, [`Member`], [`BadRow`] and the
//! limits; `lines.rs` splits the bytes into lines (a byte-order mark, `\r\n`, the 8 MiB cap);
//! `csv.rs` reads the header and splits a CSV line into values; `jsonl.rs` reads a JSON Lines
//! line as an object; `columns.rs` turns the values into a member or a bad row (the column
//! limits, control and invisible characters, the email, `webhook_url`, segments). `csv.rs` and
//! `jsonl.rs` use `lines.rs` and `columns.rs`, which use neither. Each file's tests sit in it,
//! with their helpers in `testing.rs`; `generated.rs` reads 10,000-row audiences with one
//! hostile row.

mod columns;
mod csv;
mod jsonl;
mod lines;

use std::fmt;
use std::fs::File;
use std::io;
use std::path::Path;

use self::columns::{RawRow, show, validate};
use self::csv::CsvSource;
use self::jsonl::JsonLinesSource;
use crate::diag::Diagnostic;
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

#[cfg(test)]
mod generated;

#[cfg(test)]
mod testing;

#[cfg(test)]
mod tests {
    use super::testing::{open_err, read, read_segment};
    use super::*;
    use std::io::Write;
    use std::path::PathBuf;

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
