//! SHA-256 in lowercase hex: approval digests, idempotency keys, blast fingerprints.

use std::fmt::Write as _;

use ring::digest;

/// A SHA-256 being computed.
pub struct Sha256(digest::Context);

impl Sha256 {
    pub fn new() -> Sha256 {
        Sha256(digest::Context::new(&digest::SHA256))
    }

    pub fn update(&mut self, bytes: &[u8]) {
        self.0.update(bytes);
    }

    /// The first `len` bytes of the digest (all 32 at most), as `2 * len` hex digits.
    pub fn hex(self, len: usize) -> String {
        let digest = self.0.finish();
        let mut hex = String::with_capacity(2 * len);
        for b in digest.as_ref().iter().take(len) {
            write!(hex, "{b:02x}").expect("writing to a String never fails");
        }
        hex
    }
}

impl Default for Sha256 {
    fn default() -> Sha256 {
        Sha256::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_the_known_digest_of_abc() {
        let mut h = Sha256::new();
        h.update(b"a");
        h.update(b"bc");
        assert_eq!(
            h.hex(32),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn truncates_to_the_bytes_asked_for() {
        let mut h = Sha256::new();
        h.update(b"abc");
        assert_eq!(h.hex(16), "ba7816bf8f01cfea414140de5dae2223");
    }
}
