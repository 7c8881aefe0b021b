//! Secrets: read from the environment only, never printed. [`Secret`] has a redacted `Debug`
//! and `Display`, no `Serialize`, and gives its value only through [`Secret::expose`].

use std::fmt;

use crate::diag::Diagnostic;

/// A value that must never reach a log, the journal or the screen.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: String) -> Self {
        Secret(value)
    }

    /// The value, for the one call that sends it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

/// Read the secret named by `var` (the value of a `*_env` key in `field` of a channel file).
pub fn from_env(var: &str, field: &str) -> Result<Secret, Diagnostic> {
    match std::env::var(var) {
        Ok(v) if !v.trim().is_empty() => Ok(Secret(v)),
        Ok(_) => Err(
            Diagnostic::new(format!("the environment variable `{var}` is empty"))
                .field(field.to_string())
                .hint(format!("set `{var}` to the secret before running crier")),
        ),
        Err(_) => Err(
            Diagnostic::new(format!("the environment variable `{var}` is not set"))
                .field(field.to_string())
                .hint(format!(
                    "export `{var}=…` (secrets live in the environment, never in channel files)"
                )),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn never_prints_its_value() {
        let s = Secret::new("hunter2".into());
        assert_eq!(format!("{s} {s:?}"), "*** Secret(***)");
        assert_eq!(s.expose(), "hunter2");
    }
}
