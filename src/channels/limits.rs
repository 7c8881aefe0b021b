//! Platform limits, and the error a message that does not fit (or is unsafe) turns into.
//! crier never cuts a message to fit: the operator shortens it, knowing by how much.

use crate::diag::Diagnostic;

/// What a channel adapter can refuse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FormatError {
    #[error(
        "`{field}` is {actual} {unit} long, {over} over {platform}'s limit of {limit}",
        over = actual - limit
    )]
    TooLong {
        platform: &'static str,
        field: String,
        actual: usize,
        limit: usize,
        unit: &'static str,
    },
    #[error("the `{field}` would become an email header but contains {what}")]
    UnsafeHeader {
        field: &'static str,
        what: &'static str,
    },
    #[error("{0}")]
    Layout(String),
}

impl FormatError {
    /// The error as a diagnostic about `kind` on channel type `channel`.
    pub fn diagnostic(&self, kind: &str, channel: &str) -> Diagnostic {
        let d = Diagnostic::new(format!("`{kind}` does not fit `{channel}`: {self}"));
        match self {
            FormatError::TooLong { field, .. } if channel == "summary" => d.field(field.clone()).hint(
                "shorten the kind's `summary` or the values in it: it must stand alone in 160 characters \
                 (crier never cuts a message)",
            ),
            FormatError::TooLong { field, .. } => d.field(field.clone()).hint(format!(
                "shorten the slot values or the template (crier never cuts a message), or give \
                 `{channel}` shorter wording in a `[channels.{channel}]` table of the kind file"
            )),
            FormatError::UnsafeHeader { field, .. } => d
                .field(*field)
                .hint("remove line breaks from the values that go into the subject"),
            FormatError::Layout(_) => d.hint("fix the layout in `templates/layouts/`"),
        }
    }
}

/// Err when `actual` exceeds `limit` characters.
pub fn chars(
    platform: &'static str,
    field: &str,
    value: &str,
    limit: usize,
) -> Result<(), FormatError> {
    within(platform, field, value.chars().count(), limit, "characters")
}

/// Err when `actual` exceeds `limit` in `unit`.
pub fn within(
    platform: &'static str,
    field: &str,
    actual: usize,
    limit: usize,
    unit: &'static str,
) -> Result<(), FormatError> {
    if actual > limit {
        Err(FormatError::TooLong {
            platform,
            field: field.to_string(),
            actual,
            limit,
            unit,
        })
    } else {
        Ok(())
    }
}

/// Err when a serialized payload is over `limit` bytes.
pub fn payload_bytes(
    platform: &'static str,
    value: &serde_json::Value,
    limit: usize,
) -> Result<(), FormatError> {
    let size = serde_json::to_vec(value).map_or(0, |v| v.len());
    within(platform, "payload", size, limit, "bytes")
}
