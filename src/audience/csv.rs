//! A CSV audience: the header (its column names checked) and each line split into values,
//! one customer per line.

use std::fs::File;
use std::path::Path;

use super::columns::{RawRow, check_id, check_text_length, show};
use super::lines::{Lines, MAX_LINE_BYTES, line_too_long};
use super::{BadRow, KNOWN_COLUMNS, MAX_COLUMN_NAME_CHARS, WHOLE_ROW};
use crate::diag::{Diagnostic, Location, thousands};

/// A CSV audience: its lines, the header's columns, and one reused record.
///
/// Each record is one line: a quoted value may hold commas and quotes (`""`) but not a line
/// break. A value that spans lines is far more often a quote left open by mistake, which would
/// swallow the customers on the lines after it, than a note with a line break in it; so the
/// line where the quote opens is a bad row, and the next line is read as the next row. Row N
/// is then always N lines below the header.
#[derive(Debug)]
pub(super) struct CsvSource {
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
    pub(super) fn new(path: &Path, file: File) -> Result<CsvSource, Diagnostic> {
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
    pub(super) fn next_raw(&mut self) -> Option<Result<RawRow, BadRow>> {
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

#[cfg(test)]
mod tests {
    use super::super::testing::{file, open_err, read, rows, split};
    use super::super::{MAX_COLUMN_NAME_CHARS, open};
    use super::*;

    /// The reason given for a quote left open in `column`.
    fn unbalanced(column: &str) -> String {
        format!(
            "{column} has an unbalanced quote: it opens with `\"` that is not closed on the same \
             line (close the quote, and write a quote inside a quoted value as `\"\"`; a value \
             cannot span lines)"
        )
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
}
