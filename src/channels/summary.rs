//! The summary: at most 160 characters that stand alone as an SMS, a banner or a chat preview.

use super::limits::{self, FormatError};
use crate::template::Message;

/// The longest summary, in characters.
pub const LIMIT: usize = 160;

/// The summary, checked against [`LIMIT`].
pub fn text(m: &Message) -> Result<String, FormatError> {
    limits::chars("the summary", "summary", &m.summary, LIMIT)?;
    Ok(m.summary.clone())
}
