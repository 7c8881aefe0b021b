//! The audience reader (`audience::open`, CSV and JSON Lines): the first input byte picks the
//! format, the rest is the file, written to a temporary file (the reader streams a file).
//! Any file is a diagnostic or a stream of members and bad rows, never a panic; rows come in
//! order, one per line at most; every member passes the documented checks; every bad row reads
//! on one line.
#![no_main]

use std::path::PathBuf;
use std::sync::OnceLock;

use crier::audience::{self, BadRow, Member, WHOLE_ROW};
use libfuzzer_sys::fuzz_target;

/// One folder per fuzzing process, reused by every input.
fn folder() -> &'static PathBuf {
    static FOLDER: OnceLock<PathBuf> = OnceLock::new();
    FOLDER.get_or_init(|| {
        let base = if std::path::Path::new("/dev/shm").is_dir() {
            PathBuf::from("/dev/shm")
        } else {
            std::env::temp_dir()
        };
        let dir = base.join(format!("crier-fuzz-audience-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("a temporary folder");
        dir
    })
}

fn chars(s: &str) -> usize {
    s.chars().count()
}

fn check_member(m: &Member) {
    let r = &m.recipient;
    assert!(!r.id.is_empty() && r.id.trim() == r.id, "id {:?}", r.id);
    assert!(chars(&r.id) <= audience::MAX_ID_CHARS);
    assert!(!r.id.chars().any(char::is_control) && !r.id.contains('\u{FEFF}'));
    assert_eq!(r.email.trim(), r.email);
    if !r.email.is_empty() {
        assert!(chars(&r.email) <= audience::MAX_EMAIL_CHARS);
        assert!(!r.email.chars().any(char::is_control));
        assert!(r.email.parse::<lettre::Address>().is_ok());
    }
    assert!(chars(&r.name) <= audience::MAX_NAME_CHARS);
    assert!(!r.name.chars().any(char::is_control) && !r.name.contains('\u{FEFF}'));
    assert!(chars(&r.locale) <= audience::MAX_LOCALE_CHARS);
    for s in &m.segments {
        assert!(!s.is_empty() && s.trim() == s && !s.contains(';'));
    }
    let joined: usize = m.segments.iter().map(|s| chars(s) + 1).sum();
    assert!(joined.saturating_sub(1) <= audience::MAX_SEGMENTS_CHARS);
    if let Some(id) = &m.intercom_user_id {
        assert!(!id.is_empty() && chars(id) <= audience::MAX_INTERCOM_USER_ID_CHARS);
    }
    if let Some(url) = &m.webhook_url {
        assert!(matches!(url.scheme(), "http" | "https"));
        assert!(url.host_str().is_some_and(|h| !h.is_empty()));
    }
    for (key, value) in &r.fields {
        assert!(!audience::KNOWN_COLUMNS.contains(&key.as_str()));
        assert!(chars(value) <= audience::MAX_FIELD_CHARS);
    }
}

fn check_bad(bad: &BadRow) {
    // `field` may be empty: a JSON Lines key can be `""`.
    assert!(!bad.reason.is_empty());
    let shown = bad.to_string();
    assert!(
        !shown.contains(['\n', '\r']),
        "a bad row reads on one line: {shown:?}"
    );
    if let Some(id) = &bad.id {
        assert!(!id.is_empty() && !id.chars().any(char::is_control));
    }
    if bad.field == WHOLE_ROW {
        assert!(bad.reason.starts_with("the ") || bad.reason.starts_with("value "));
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&pick, file)) = data.split_first() else {
        return;
    };
    let name = match pick % 3 {
        0 => "audience.csv",
        1 => "audience.jsonl",
        _ => "audience.ndjson",
    };
    let path = folder().join(name);
    std::fs::write(&path, file).expect("the temporary file is written");
    let reader = match audience::open(&path) {
        Ok(reader) => reader,
        Err(problem) => {
            assert!(
                name.ends_with(".csv"),
                "only a CSV header is checked on opening"
            );
            assert!(problem.to_string().starts_with("error: "));
            return;
        }
    };
    // Lines as the reader counts them: `\n`, `\r\n`, and for CSV a lone `\r`.
    let lines = file.iter().filter(|&&b| b == b'\n' || b == b'\r').count() as u64 + 1;
    let mut last = 0;
    for item in reader {
        let row = match &item {
            Ok(member) => {
                check_member(member);
                member.row
            }
            Err(bad) => {
                check_bad(bad);
                bad.row
            }
        };
        assert!(row > last, "row {row} after row {last}");
        assert!(row <= lines, "row {row} of a file of {lines} lines");
        last = row;
    }
});
