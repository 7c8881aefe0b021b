//! The file's bytes as lines: one at a time in one reused buffer, counted, without their
//! endings (`\n`, `\r\n`, and for CSV `\r`) or a byte-order mark at the start; a line over
//! 8 MiB is measured, never held.

use std::fs::File;
use std::io::{self, BufRead, BufReader};

use super::{BadRow, WHOLE_ROW};
use crate::diag::thousands;

/// Read buffer for the file: big enough that reading is not the bottleneck.
const BUFFER_BYTES: usize = 64 * 1024;

/// Longest line read, in bytes: far beyond every column's limit together. A longer line is a
/// bad row without being held in memory, so one broken line cannot take the machine's memory.
pub(super) const MAX_LINE_BYTES: usize = 8 * 1024 * 1024;

/// The physical lines of a file, one at a time in one reused buffer, counted from 1, without
/// their endings, and without a byte-order mark at the start of the file.
#[derive(Debug)]
pub(super) struct Lines {
    input: BufReader<File>,
    /// A `\r` alone also ends a line (CSV, as the csv crate and old spreadsheets have it); JSON
    /// Lines ends lines with `\n` only, and a `\r` before it is dropped.
    cr_ends_line: bool,
    /// The last line ended with `\r`: a `\n` right after it is the same line ending.
    after_cr: bool,
    /// Lines read so far: the number of the one in `buffer`.
    pub(super) number: u64,
    /// The line's first [`MAX_LINE_BYTES`] bytes.
    pub(super) buffer: Vec<u8>,
}

impl Lines {
    pub(super) fn new(file: File, cr_ends_line: bool) -> Lines {
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
    pub(super) fn next_row(&mut self, before: u64) -> Result<Option<(u64, usize)>, BadRow> {
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
    pub(super) fn read(&mut self) -> io::Result<Option<usize>> {
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
pub(super) fn line_too_long(row: u64, length: usize) -> BadRow {
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

#[cfg(test)]
mod tests {
    use super::super::open;
    use super::super::testing::{file, read, rows, split};
    use super::*;

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
    fn csv_byte_order_mark_is_ignored() {
        let (_dir, path) = file("a.csv", b"\xEF\xBB\xBFid,email\nc1,a@example.com\n");
        let (members, bad) = split(open(&path).unwrap());
        assert!(bad.is_empty());
        assert_eq!(members[0].recipient.id, "c1");
    }
}
