//! Generated audiences: 10,000 rows with one hostile row at a random place, one case per kind of
//! damage. The place comes from a seed printed with every failure; set `CRIER_TEST_SEED` to
//! replay one.

use std::io::Write;

use super::*;

/// Rows in each generated audience.
const ROWS: u64 = 10_000;

const HEADER: &str = "id,email,name,locale,segments,intercom_user_id,webhook_url,note";

/// The seed of this run: `CRIER_TEST_SEED`, or a random one.
fn seed() -> u64 {
    std::env::var("CRIER_TEST_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| fastrand::u64(..))
}

/// The values of good row `n`, in [`HEADER`]'s order.
fn good_values(n: u64) -> Vec<Vec<u8>> {
    [
        format!("cus_{n}"),
        format!("user{n}@example.com"),
        format!("User {n}"),
        "en".to_string(),
        "eu;pro".to_string(),
        format!("icu_{n}"),
        format!("https://hooks.example.com/{n}"),
        format!("note {n}"),
    ]
    .map(String::into_bytes)
    .into()
}

/// One kind of damage: what it does to the values of row `n` (CSV, before joining), and the
/// bad row it must give, if any.
struct Case {
    name: &'static str,
    damage: fn(u64, &mut Vec<Vec<u8>>),
    /// The bad row's field and its text, for row `n`; `None` when the damage is legal.
    expect: fn(u64) -> Option<(&'static str, String)>,
    /// The line ending.
    ending: &'static str,
    /// Written before the header.
    prefix: &'static [u8],
}

fn cases() -> Vec<Case> {
    vec![
        Case {
            name: "unbalanced quote",
            damage: |_, v| v[2].insert(0, b'"'),
            expect: |n| {
                Some((
                    "name",
                    format!(
                        "row {n} (`cus_{n}`): `name` has an unbalanced quote: it opens with `\"` \
                         that is not closed on the same line (close the quote, and write a quote \
                         inside a quoted value as `\"\"`; a value cannot span lines)"
                    ),
                ))
            },
            ending: "\n",
            prefix: b"",
        },
        Case {
            name: "NUL",
            damage: |_, v| v[0].insert(4, b'\0'),
            expect: |n| {
                Some((
                    "id",
                    format!("row {n}: `id` `cus_\\0{n}` contains a control character"),
                ))
            },
            ending: "\n",
            prefix: b"",
        },
        Case {
            name: "invalid UTF-8",
            damage: |_, v| v[2].insert(2, 0xFF),
            expect: |n| {
                Some((
                    "name",
                    format!(
                        "row {n} (`cus_{n}`): `name` `Us\u{FFFD}er {n}` is not valid UTF-8 \
                         (save the file as UTF-8)"
                    ),
                ))
            },
            ending: "\n",
            prefix: b"",
        },
        Case {
            name: "100 KB field",
            damage: |_, v| v[7] = vec![b'n'; 100 * 1024],
            expect: |n| {
                Some((
                    "note",
                    format!(
                        "row {n} (`cus_{n}`): `note` is 102,400 characters; the limit is 4,096 \
                         (shorten the value)"
                    ),
                ))
            },
            ending: "\n",
            prefix: b"",
        },
        Case {
            name: "byte-order mark in the middle",
            damage: |_, v| v[0].splice(0..0, *b"\xEF\xBB\xBF").for_each(drop),
            expect: |n| {
                Some((
                    "id",
                    format!(
                        "row {n}: `id` `\\u{{feff}}cus_{n}` contains a byte-order mark (U+FEFF), \
                         an invisible character (delete it; it is often left where two files \
                         were joined)"
                    ),
                ))
            },
            ending: "\n",
            prefix: b"",
        },
        Case {
            name: "byte-order mark at the start",
            damage: |_, _| {},
            expect: |_| None,
            ending: "\n",
            prefix: b"\xEF\xBB\xBF",
        },
        Case {
            name: "CRLF line endings",
            damage: |_, _| {},
            expect: |_| None,
            ending: "\r\n",
            prefix: b"",
        },
        Case {
            name: "bad email",
            damage: |n, v| v[1] = format!("user{n}.example.com").into_bytes(),
            expect: |n| {
                Some((
                    "email",
                    format!(
                        "row {n} (`cus_{n}`): `email` `user{n}.example.com` is not an email \
                         address"
                    ),
                ))
            },
            ending: "\n",
            prefix: b"",
        },
        Case {
            name: "bad URL",
            damage: |n, v| v[6] = format!("hooks.example.com/{n}").into_bytes(),
            expect: |n| {
                Some((
                    "webhook_url",
                    format!(
                        "row {n} (`cus_{n}`): `webhook_url` `hooks.example.com/{n}` is not an \
                         absolute http or https URL"
                    ),
                ))
            },
            ending: "\n",
            prefix: b"",
        },
    ]
}

/// Write a CSV audience of [`ROWS`] good rows, row `hostile` damaged by `case`.
fn write_csv(path: &Path, case: &Case, hostile: u64) {
    let mut out = io::BufWriter::new(File::create(path).unwrap());
    out.write_all(case.prefix).unwrap();
    write!(out, "{HEADER}{}", case.ending).unwrap();
    for n in 1..=ROWS {
        let mut values = good_values(n);
        if n == hostile {
            (case.damage)(n, &mut values);
        }
        out.write_all(&values.join(&b","[..])).unwrap();
        out.write_all(case.ending.as_bytes()).unwrap();
    }
    out.flush().unwrap();
}

#[test]
fn one_hostile_row_in_10_000_is_named_exactly_and_every_other_row_is_read() {
    let seed = seed();
    eprintln!("seed {seed} (replay with CRIER_TEST_SEED={seed})");
    let mut rng = fastrand::Rng::with_seed(seed);
    let dir = tempfile::tempdir().unwrap();
    for case in cases() {
        let hostile = rng.u64(1..=ROWS);
        let context = format!("{}, row {hostile}, CRIER_TEST_SEED={seed}", case.name);
        let path = dir.path().join("audience.csv");
        write_csv(&path, &case, hostile);
        let (mut members, mut bad) = (0, Vec::new());
        for item in open(&path).unwrap() {
            match item {
                Ok(m) => {
                    members += 1;
                    // Row numbers are honest: row N holds cus_N.
                    assert_eq!(m.recipient.id, format!("cus_{}", m.row), "{context}");
                }
                Err(b) => bad.push((b.field.clone(), b.to_string())),
            }
        }
        let expected: Vec<(String, String)> = (case.expect)(hostile)
            .map(|(field, text)| (field.to_string(), text))
            .into_iter()
            .collect();
        let good = ROWS - expected.len() as u64;
        assert_eq!((members, bad), (good, expected), "{context}");
    }
}
