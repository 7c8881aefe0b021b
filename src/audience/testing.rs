//! Helpers for the audience's tests: a file in a temporary directory, and what reading it
//! gives.

use std::path::PathBuf;

use super::{Member, Reader, open};
use crate::diag::Diagnostic;

/// A temporary directory holding `name` with `content`; keep the directory alive.
pub(super) fn file(name: &str, content: &[u8]) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(name);
    std::fs::write(&path, content).unwrap();
    (dir, path)
}

/// Every row of `content` in a file called `name`: members, and bad rows as text.
pub(super) fn read(name: &str, content: &str) -> (Vec<Member>, Vec<String>) {
    read_segment(name, content, None)
}

pub(super) fn read_segment(
    name: &str,
    content: &str,
    segment: Option<&str>,
) -> (Vec<Member>, Vec<String>) {
    let (_dir, path) = file(name, content.as_bytes());
    split(open(&path).unwrap().segment(segment.map(String::from)))
}

pub(super) fn split(reader: Reader) -> (Vec<Member>, Vec<String>) {
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
pub(super) fn bad_csv_row(row: &str) -> String {
    let (members, bad) = read("a.csv", &format!("id,email,name,webhook_url\n{row}\n"));
    assert!(members.is_empty(), "{members:?}");
    assert_eq!(bad.len(), 1, "{bad:?}");
    bad.into_iter().next().unwrap()
}

pub(super) fn open_err(name: &str, content: &str) -> (PathBuf, Diagnostic) {
    let (_dir, path) = file(name, content.as_bytes());
    (path.clone(), open(&path).unwrap_err())
}

/// (row, id) of each member.
pub(super) fn rows(members: &[Member]) -> Vec<(u64, &str)> {
    members
        .iter()
        .map(|m| (m.row, m.recipient.id.as_str()))
        .collect()
}
