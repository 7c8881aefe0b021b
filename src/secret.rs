//! Secrets: read from the environment only, never printed. [`Secret`] has a redacted `Debug`
//! and `Display`, no `Serialize`, and gives its value only through [`Secret::expose`].

use std::fmt;

use crate::diag::Diagnostic;

/// A value that must never reach a log, the journal or the screen: a password, a token, or a
/// URL whose path is the credential (`Secret<url::Url>`, a chat webhook).
#[derive(Clone, PartialEq, Eq)]
pub struct Secret<T = String>(T);

impl<T> Secret<T> {
    pub fn new(value: T) -> Self {
        Secret(value)
    }

    /// The value, for the one call that sends it.
    pub fn expose(&self) -> &T {
        &self.0
    }
}

impl<T> fmt::Debug for Secret<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

impl<T> fmt::Display for Secret<T> {
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
        let s = Secret::new(String::from("hunter2"));
        assert_eq!(format!("{s} {s:?}"), "*** Secret(***)");
        assert_eq!(s.expose(), "hunter2");
    }
}
