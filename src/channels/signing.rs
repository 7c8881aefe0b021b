//! Webhook signing per Standard Webhooks (<https://www.standardwebhooks.com>).
//!
//! Every webhook request carries three headers: `webhook-id` (stable across retries, so a
//! receiver can drop duplicates), `webhook-timestamp` (Unix seconds, so it can refuse old
//! replays) and `webhook-signature`: `v1,<base64 HMAC-SHA256>` of `{id}.{timestamp}.{body}`
//! under each of the endpoint's keys, space-separated, so that during a key rotation a
//! receiver holding either the old or the new key accepts the message. [`verify`] checks
//! a request the way a receiver does.

use std::fmt;
use std::ops::RangeInclusive;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use ring::hmac;

/// What every signing secret starts with.
const PREFIX: &str = "whsec_";

/// How long a decoded key may be, in bytes (the spec's bounds).
const KEY_BYTES: RangeInclusive<usize> = 24..=64;

/// A signing key from `whsec_<base64>`, ready for HMAC-SHA256 (ring's, about twice as fast as
/// a portable one where the CPU has no SHA instructions: the largest single CPU cost of a
/// webhook).
/// Its bytes never print: `Debug` shows `SigningKey(***)`, and there is no `Display`.
#[derive(Clone)]
pub struct SigningKey(hmac::Key);

impl SigningKey {
    /// Read `whsec_<base64>` (standard alphabet, with padding; surrounding whitespace is
    /// ignored). The key must decode to 24–64 bytes. The error never contains the value.
    pub fn parse(value: &str) -> Result<SigningKey, String> {
        let Some(encoded) = value.trim().strip_prefix(PREFIX) else {
            return Err("the signing secret must start with `whsec_`".into());
        };
        let key = STANDARD.decode(encoded).map_err(|_| {
            "the signing secret is not valid base64 after `whsec_` \
             (standard alphabet, with `=` padding)"
                .to_string()
        })?;
        if !KEY_BYTES.contains(&key.len()) {
            return Err(format!(
                "the signing secret decodes to {} bytes; it must be 24 to 64 bytes",
                key.len()
            ));
        }
        Ok(SigningKey(hmac::Key::new(hmac::HMAC_SHA256, &key)))
    }

    /// The HMAC of `{id}.{timestamp}.{body}` under this key.
    fn mac(&self, id: &str, timestamp: i64, body: &[u8]) -> hmac::Tag {
        let mut mac = hmac::Context::with_key(&self.0);
        mac.update(id.as_bytes());
        mac.update(b".");
        mac.update(timestamp.to_string().as_bytes());
        mac.update(b".");
        mac.update(body);
        mac.sign()
    }
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SigningKey(***)")
    }
}

/// Parse a comma-separated list of keys (several during a rotation); every one must parse.
/// The error names the key by position, never by value.
pub fn parse_keys(value: &str) -> Result<Vec<SigningKey>, String> {
    let parts: Vec<&str> = value.split(',').collect();
    let count = parts.len();
    parts
        .iter()
        .enumerate()
        .map(|(i, part)| {
            SigningKey::parse(part).map_err(|e| {
                if count == 1 {
                    e
                } else {
                    format!("signing secret {} of {count}: {e}", i + 1)
                }
            })
        })
        .collect()
}

/// The three headers to send with `body`: `webhook-id`, `webhook-timestamp` (Unix seconds)
/// and `webhook-signature` (one space-separated `v1,<base64>` entry per key, in key order).
pub fn headers(
    keys: &[SigningKey],
    id: &str,
    timestamp: i64,
    body: &[u8],
) -> [(&'static str, String); 3] {
    let signature = keys
        .iter()
        .map(|key| format!("v1,{}", STANDARD.encode(key.mac(id, timestamp, body))))
        .collect::<Vec<_>>()
        .join(" ");
    [
        ("webhook-id", id.to_string()),
        ("webhook-timestamp", timestamp.to_string()),
        ("webhook-signature", signature),
    ]
}

/// Verify a request like a receiver would: true if `|now - timestamp| <= tolerance_secs`
/// and any `v1` entry of `signature_header` matches any key. Entries of other versions are
/// ignored. Tags are compared in constant time.
pub fn verify(
    keys: &[SigningKey],
    id: &str,
    timestamp: i64,
    body: &[u8],
    signature_header: &str,
    now: i64,
    tolerance_secs: i64,
) -> bool {
    let Ok(tolerance) = u64::try_from(tolerance_secs) else {
        return false;
    };
    if now.abs_diff(timestamp) > tolerance {
        return false;
    }
    let signed = [
        id.as_bytes(),
        b".",
        timestamp.to_string().as_bytes(),
        b".",
        body,
    ]
    .concat();
    signature_header
        .split_whitespace()
        .filter_map(|entry| entry.strip_prefix("v1,"))
        .filter_map(|tag| STANDARD.decode(tag).ok())
        .any(|tag| {
            keys.iter()
                .any(|key| hmac::verify(&key.0, &signed, &tag).is_ok())
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    // The Standard Webhooks specification's published test vector (the expected signature
    // was recomputed independently with Python's `hmac` and `base64`).
    const SPEC_SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    const SPEC_ID: &str = "msg_p5jXN8AQM9LWM0D4loKWxJek";
    const SPEC_TIMESTAMP: i64 = 1_614_265_330;
    const SPEC_BODY: &[u8] = br#"{"test": 2432232314}"#;
    const SPEC_SIGNATURE: &str = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";

    /// A second, valid secret: 32 bytes 0x00..0x1f.
    const OTHER_SECRET: &str = "whsec_AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";

    fn key(secret: &str) -> SigningKey {
        SigningKey::parse(secret).unwrap()
    }

    fn signature_of(keys: &[SigningKey], id: &str, timestamp: i64, body: &[u8]) -> String {
        let [_, _, (_, signature)] = headers(keys, id, timestamp, body);
        signature
    }

    #[test]
    fn matches_the_spec_test_vector() {
        let keys = [key(SPEC_SECRET)];
        assert_eq!(
            headers(&keys, SPEC_ID, SPEC_TIMESTAMP, SPEC_BODY),
            [
                ("webhook-id", SPEC_ID.to_string()),
                ("webhook-timestamp", "1614265330".to_string()),
                ("webhook-signature", SPEC_SIGNATURE.to_string()),
            ]
        );
        assert!(verify(
            &keys,
            SPEC_ID,
            SPEC_TIMESTAMP,
            SPEC_BODY,
            SPEC_SIGNATURE,
            SPEC_TIMESTAMP,
            300
        ));
    }

    #[test]
    fn another_key_matches_python() {
        // python3: base64(hmac.new(bytes(range(32)), b'msg_1.1700000000.{"a":1}', sha256))
        assert_eq!(
            signature_of(&[key(OTHER_SECRET)], "msg_1", 1_700_000_000, br#"{"a":1}"#),
            "v1,AMaOha7DUT/0J0JMycRuYOBSvbx3WtwLd2khXXbaVj4="
        );
    }

    #[test]
    fn both_keys_verify_during_rotation() {
        let keys = parse_keys(&format!("{SPEC_SECRET}, {OTHER_SECRET}")).unwrap();
        let signature = signature_of(&keys, SPEC_ID, SPEC_TIMESTAMP, SPEC_BODY);
        let entries: Vec<&str> = signature.split(' ').collect();
        assert_eq!(entries.len(), 2);
        assert_eq!(entries[0], SPEC_SIGNATURE);
        for receiver in [SPEC_SECRET, OTHER_SECRET] {
            assert!(
                verify(
                    &[key(receiver)],
                    SPEC_ID,
                    SPEC_TIMESTAMP,
                    SPEC_BODY,
                    &signature,
                    SPEC_TIMESTAMP + 5,
                    300
                ),
                "a receiver holding only one of the keys accepts"
            );
        }
    }

    #[test]
    fn wrong_key_or_changed_message_fails() {
        let wrong = key("whsec_c2VjcmV0LW9mLWEtcm90YXRlZC1lbmRwb2ludA==");
        let spec = [key(SPEC_SECRET)];
        let check = |keys: &[SigningKey], id, body, signature| {
            verify(
                keys,
                id,
                SPEC_TIMESTAMP,
                body,
                signature,
                SPEC_TIMESTAMP,
                300,
            )
        };
        assert!(!check(&[wrong], SPEC_ID, SPEC_BODY, SPEC_SIGNATURE));
        assert!(!check(
            &spec,
            SPEC_ID,
            br#"{"test": 2432232315}"#,
            SPEC_SIGNATURE
        ));
        assert!(!check(&spec, "msg_other", SPEC_BODY, SPEC_SIGNATURE));
        assert!(!check(&[], SPEC_ID, SPEC_BODY, SPEC_SIGNATURE));
        // Another version, a truncated tag, bad base64 and an empty header all fail.
        for header in [
            "v2,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
            "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1O==",
            "v1,g0hM9SsE",
            "v1,not base64!",
            "",
        ] {
            assert!(!check(&spec, SPEC_ID, SPEC_BODY, header), "{header:?}");
        }
        // A matching entry after a foreign one still verifies.
        let mixed = format!("v1a,xyz {SPEC_SIGNATURE}");
        assert!(check(&spec, SPEC_ID, SPEC_BODY, &mixed));
    }

    #[test]
    fn old_or_future_timestamps_fail() {
        let keys = [key(SPEC_SECRET)];
        let at = |now| {
            verify(
                &keys,
                SPEC_ID,
                SPEC_TIMESTAMP,
                SPEC_BODY,
                SPEC_SIGNATURE,
                now,
                300,
            )
        };
        assert!(at(SPEC_TIMESTAMP + 300));
        assert!(at(SPEC_TIMESTAMP - 300));
        assert!(!at(SPEC_TIMESTAMP + 301));
        assert!(!at(SPEC_TIMESTAMP - 301));
        assert!(!at(i64::MAX));
        assert!(!verify(
            &keys,
            SPEC_ID,
            SPEC_TIMESTAMP,
            SPEC_BODY,
            SPEC_SIGNATURE,
            SPEC_TIMESTAMP,
            -1
        ));
    }

    #[test]
    fn parse_rejects_bad_secrets_without_quoting_them() {
        let cases = [
            (
                "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
                "must start with `whsec_`",
            ),
            ("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaS!", "not valid base64"),
            ("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaS", "not valid base64"),
            ("whsec_c2hvcnQta2V5LTE2Ynl0ZQ==", "decodes to 16 bytes"),
            (
                &format!("whsec_{}", STANDARD.encode([7u8; 65])),
                "decodes to 65 bytes",
            ),
            ("whsec_", "decodes to 0 bytes"),
            ("", "must start with `whsec_`"),
        ];
        for (value, expected) in cases {
            let error = SigningKey::parse(value).unwrap_err();
            assert!(error.contains(expected), "{value:?}: {error}");
            let encoded = value.trim_start_matches(PREFIX);
            if !encoded.is_empty() {
                assert!(!error.contains(encoded), "{error}");
            }
        }
        assert!(SigningKey::parse(&format!("whsec_{}", STANDARD.encode([7u8; 64]))).is_ok());
        assert!(SigningKey::parse(&format!(" {SPEC_SECRET}\n")).is_ok());
    }

    #[test]
    fn parse_keys_needs_every_key() {
        assert_eq!(parse_keys(SPEC_SECRET).unwrap().len(), 1);
        assert_eq!(
            parse_keys(&format!("{SPEC_SECRET},{OTHER_SECRET}"))
                .unwrap()
                .len(),
            2
        );
        let bad = "whsec_c2hvcnQta2V5LTE2Ynl0ZQ==";
        let error = parse_keys(&format!("{SPEC_SECRET},{bad}")).unwrap_err();
        assert_eq!(
            error,
            "signing secret 2 of 2: the signing secret decodes to 16 bytes; it must be 24 to 64 bytes"
        );
        assert_eq!(
            parse_keys("").unwrap_err(),
            "the signing secret must start with `whsec_`"
        );
        assert!(parse_keys(&format!("{SPEC_SECRET},")).is_err());
    }

    #[test]
    fn the_key_never_prints() {
        let keys = parse_keys(&format!("{SPEC_SECRET},{OTHER_SECRET}")).unwrap();
        let shown = format!("{keys:?} {:#?}", keys[0]);
        assert_eq!(shown, "[SigningKey(***), SigningKey(***)] SigningKey(***)");
        assert!(!shown.contains("MfKQ"));
    }
}
