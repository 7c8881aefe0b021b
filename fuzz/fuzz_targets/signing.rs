//! Standard Webhooks signing (`channels::signing`): keys from `whsec_<base64>` lists, the
//! three headers, and `verify`. A signature always verifies under each key that made it, and
//! matches an independent HMAC-SHA256 over `{id}.{timestamp}.{body}` (base64, `v1,`); a changed
//! body, id or timestamp, or a key that did not sign, never verifies; a bad secret's error
//! never shows the secret.
#![no_main]

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use crier::channels::signing::{SigningKey, headers, parse_keys, verify};
use hmac::{Hmac, Mac};
use libfuzzer_sys::arbitrary::{self, Arbitrary};
use libfuzzer_sys::fuzz_target;
use sha2::Sha256;

#[path = "common.rs"]
mod common;

/// The numbers, then id 0xFF body 0xFF secrets 0xFF signature header 0xFF up to four raw keys
/// (each cut or padded to 24–64 bytes), 0xFF-separated.
#[derive(Debug, Arbitrary)]
struct Numbers<'a> {
    other_key: [u8; 32],
    timestamp: i64,
    /// Which body byte to change, and how.
    flip: (u32, u8),
    rest: &'a [u8],
}

struct Input<'a> {
    keys: Vec<&'a [u8]>,
    other_key: [u8; 32],
    id: &'a str,
    timestamp: i64,
    body: &'a [u8],
    flip: (usize, u8),
    /// Any text as a secret list, and any text as a signature header.
    secrets: &'a str,
    header: &'a str,
}

fn key_bytes(raw: &[u8]) -> Vec<u8> {
    let mut key = raw.to_vec();
    key.truncate(64);
    while key.len() < 24 {
        key.push(key.len() as u8);
    }
    key
}

fn secret(key: &[u8]) -> String {
    format!("whsec_{}", STANDARD.encode(key))
}

/// The spec's signature, computed with another HMAC implementation than the library's.
fn expected(key: &[u8], id: &str, timestamp: i64, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("any key length");
    mac.update(format!("{id}.{timestamp}.").as_bytes());
    mac.update(body);
    format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()))
}

/// HMAC pads a key shorter than SHA-256's 64-byte block with zeros: `k` and `k\0` are the
/// same key.
fn same_hmac_key(a: &[u8], b: &[u8]) -> bool {
    let padded = |k: &[u8]| {
        let mut k = k.to_vec();
        k.resize(64, 0);
        k
    };
    padded(a) == padded(b)
}

/// An error about the secret list, without any of its text.
fn check_secret_error(error: &str) {
    let rest = match error.strip_prefix("signing secret ") {
        Some(rest) => {
            let (_, message) = rest.split_once(": ").expect("position: message");
            message
        }
        None => error,
    };
    let known = rest == "the signing secret must start with `whsec_`"
        || rest
            == "the signing secret is not valid base64 after `whsec_` (standard alphabet, with `=` padding)"
        || (rest.starts_with("the signing secret decodes to ")
            && rest.ends_with(" bytes; it must be 24 to 64 bytes"));
    assert!(known, "an error that may show the secret: {error:?}");
}

fuzz_target!(|numbers: Numbers<'_>| {
    let [id, body, secrets, header, k1, k2, k3, k4] = common::texts(numbers.rest);
    let (id, secrets, header) = (
        common::text(id),
        common::text(secrets),
        common::text(header),
    );
    let input = Input {
        keys: [k1, k2, k3, k4]
            .into_iter()
            .filter(|k| !k.is_empty())
            .collect(),
        other_key: numbers.other_key,
        id: &id,
        timestamp: numbers.timestamp,
        body,
        flip: (numbers.flip.0 as usize, numbers.flip.1),
        secrets: &secrets,
        header: &header,
    };
    let Input {
        id,
        timestamp,
        body,
        ..
    } = input;
    // Any text as secrets or as a signature header: never a panic, never a leak.
    if let Err(error) = parse_keys(input.secrets) {
        check_secret_error(&error);
    }
    if let Ok(keys) = parse_keys(input.secrets) {
        assert_eq!(keys.len(), input.secrets.split(',').count());
        let _ = verify(&keys, id, timestamp, body, input.header, timestamp, 300);
    }

    let raw: Vec<Vec<u8>> = input.keys.iter().take(4).map(|k| key_bytes(k)).collect();
    if raw.is_empty() {
        return;
    }
    let list = raw.iter().map(|k| secret(k)).collect::<Vec<_>>().join(",");
    let keys = parse_keys(&list).expect("well-formed secrets parse");
    assert_eq!(keys.len(), raw.len());
    let [(_, sent_id), (_, sent_ts), (_, signature)] = headers(&keys, id, timestamp, body);
    assert_eq!(sent_id, id);
    assert_eq!(sent_ts, timestamp.to_string());

    // One entry per key, each the spec's HMAC.
    let entries: Vec<&str> = signature.split(' ').collect();
    assert_eq!(entries.len(), raw.len());
    for (entry, key) in entries.iter().zip(&raw) {
        assert_eq!(*entry, expected(key, id, timestamp, body));
    }

    // The round trip holds, for the whole list and for each key alone.
    assert!(verify(&keys, id, timestamp, body, &signature, timestamp, 0));
    for (i, key) in keys.iter().enumerate() {
        let one = std::slice::from_ref(key);
        assert!(verify(one, id, timestamp, body, &signature, timestamp, 0));
        assert!(verify(one, id, timestamp, body, entries[i], timestamp, 0));
    }

    // A changed body never verifies.
    let mut changed = body.to_vec();
    if changed.is_empty() {
        changed.push(input.flip.1);
    } else {
        let at = input.flip.0 % changed.len();
        changed[at] ^= input.flip.1.max(1);
    }
    assert!(!verify(
        &keys, id, timestamp, &changed, &signature, timestamp, 0
    ));
    let mut longer = body.to_vec();
    longer.push(b'\n');
    assert!(!verify(
        &keys, id, timestamp, &longer, &signature, timestamp, 0
    ));
    // Nor a changed id or timestamp (inside the tolerance).
    assert!(!verify(
        &keys,
        &format!("{id}x"),
        timestamp,
        body,
        &signature,
        timestamp,
        0
    ));
    if let Some(other) = timestamp.checked_add(1) {
        assert!(!verify(&keys, id, other, body, &signature, timestamp, 10));
    }
    // Nor a key that did not sign.
    let stranger = key_bytes(&input.other_key);
    if !raw.iter().any(|k| same_hmac_key(k, &stranger)) {
        let key = SigningKey::parse(&secret(&stranger)).expect("a 32-byte key");
        assert!(!verify(
            &[key],
            id,
            timestamp,
            body,
            &signature,
            timestamp,
            0
        ));
    }
    // Nor a signature outside the time tolerance.
    if let Some(later) = timestamp.checked_add(301) {
        assert!(!verify(&keys, id, timestamp, body, &signature, later, 300));
    }
});
