//! Input layout shared by the structured targets: the fixed-size numbers first (read by
//! `Arbitrary`), then the texts, separated by the byte 0xFF (which UTF-8 never uses), so a
//! seed is easy to write by hand: `printf '…numbers…in 30 minutes\xffEurope/Berlin'`.

use std::borrow::Cow;

/// The texts of `rest`, split at 0xFF; missing ones are empty.
pub fn texts<const N: usize>(rest: &[u8]) -> [&[u8]; N] {
    let mut parts = rest.split(|&b| b == 0xFF);
    std::array::from_fn(|_| parts.next().unwrap_or_default())
}

/// Bytes as text, invalid UTF-8 replaced.
pub fn text(bytes: &[u8]) -> Cow<'_, str> {
    String::from_utf8_lossy(bytes)
}
