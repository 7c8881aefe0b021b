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

/// Read the secret named by `var` (the value of a `*_env` key in `field` of a channel file):
/// the variable itself, or else the file named by `{var}_FILE` (how Docker and Kubernetes
/// hand secrets over), without its final line break.
pub fn from_env(var: &str, field: &str) -> Result<Secret, Diagnostic> {
    read(var, field, |name| std::env::var_os(name))
}

/// [`from_env`] with the environment given as `env`.
fn read(
    var: &str,
    field: &str,
    env: impl Fn(&str) -> Option<std::ffi::OsString>,
) -> Result<Secret, Diagnostic> {
    let file_var = format!("{var}_FILE");
    let (value, from) = match (env(var), env(&file_var)) {
        (Some(v), _) => (
            v.into_string().unwrap_or_default(),
            format!("the environment variable `{var}`"),
        ),
        (None, Some(path)) => {
            let path = std::path::PathBuf::from(path);
            let text = std::fs::read_to_string(&path).map_err(|e| {
                Diagnostic::new(format!(
                    "cannot read the secret file `{}` named by `{file_var}`: {e}",
                    path.display()
                ))
                .field(field.to_string())
                .hint(format!(
                    "point `{file_var}` at a readable file, or set `{var}` itself"
                ))
            })?;
            let text = text.strip_suffix('\n').unwrap_or(&text);
            let text = text.strip_suffix('\r').unwrap_or(text).to_string();
            (
                text,
                format!("the file `{}` named by `{file_var}`", path.display()),
            )
        }
        (None, None) => {
            return Err(
                Diagnostic::new(format!("the environment variable `{var}` is not set"))
                    .field(field.to_string())
                    .hint(format!(
                        "export `{var}=…` or `{file_var}=/path/to/secret` (secrets live in the environment, never in channel files)"
                    )),
            );
        }
    };
    if value.trim().is_empty() {
        return Err(Diagnostic::new(format!("{from} is empty"))
            .field(field.to_string())
            .hint(format!("set `{var}` to the secret before running crier")));
    }
    Ok(Secret(value))
}

/// Cuts secrets out of text that came from outside — a provider's error answer, an SMTP reply
/// — before crier keeps or shows it: a receiver that echoes the URL it was called on would
/// otherwise put a chat webhook's credential into the journal. Each secret is cut in the forms
/// an answer may carry it: as given, URL-encoded, JSON-escaped, and base64.
#[derive(Clone, Default)]
pub struct Scrubber {
    /// Longest first, so a secret inside another is not cut half-way.
    needles: Vec<String>,
}

/// Secrets shorter than this are not cut (a path segment like `services` is no secret, and
/// cutting every short string would mangle the text).
const SHORTEST: usize = 8;

impl Scrubber {
    /// Cut `secret` in every form.
    pub fn add(&mut self, secret: &str) {
        use base64::Engine as _;
        use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
        if secret.chars().count() < SHORTEST {
            return;
        }
        let forms = [
            secret.to_string(),
            url::form_urlencoded::byte_serialize(secret.as_bytes()).collect(),
            secret.replace('/', "\\/"),
            STANDARD.encode(secret).trim_end_matches('=').to_string(),
            URL_SAFE_NO_PAD.encode(secret),
        ];
        for form in forms {
            if !self.needles.contains(&form) {
                self.needles.push(form);
            }
        }
        self.needles.sort_by_key(|n| std::cmp::Reverse(n.len()));
    }

    /// Cut a URL whose path or query is the credential: the whole URL, its path and query,
    /// and each long path segment and query value (a token echoed on its own).
    pub fn add_url(&mut self, url: &url::Url) {
        self.add(url.as_str());
        self.add(url.path());
        if let Some(query) = url.query() {
            self.add(query);
        }
        for segment in url.path_segments().into_iter().flatten() {
            self.add(segment);
        }
        for (_, value) in url.query_pairs() {
            self.add(&value);
        }
    }

    /// `text` with every secret replaced by `***`.
    pub fn scrub(&self, text: &str) -> String {
        let mut text = text.to_string();
        for needle in &self.needles {
            if text.contains(needle.as_str()) {
                text = text.replace(needle.as_str(), "***");
            }
        }
        text
    }
}

impl fmt::Debug for Scrubber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Scrubber({} forms of secrets)", self.needles.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_scrubber_cuts_every_form_of_a_secret_url() {
        let url =
            url::Url::parse("https://hooks.example.com/services/T0A1/B0B2/S3CRETt0ken123").unwrap();
        let mut scrubber = Scrubber::default();
        scrubber.add_url(&url);
        let echoed = [
            "no such hook: https://hooks.example.com/services/T0A1/B0B2/S3CRETt0ken123",
            "path /services/T0A1/B0B2/S3CRETt0ken123 not found",
            "{\"url\":\"https:\\/\\/hooks.example.com\\/services\\/T0A1\\/B0B2\\/S3CRETt0ken123\"}",
            "bad token S3CRETt0ken123",
            "url=https%3A%2F%2Fhooks.example.com%2Fservices%2FT0A1%2FB0B2%2FS3CRETt0ken123",
        ];
        for text in echoed {
            let cut = scrubber.scrub(text);
            assert!(!cut.contains("S3CRETt0ken123"), "{cut}");
            assert!(!cut.contains("S3CRET"), "{cut}");
            assert!(cut.contains("***"), "{cut}");
        }
        assert_eq!(scrubber.scrub("HTTP 500: try again"), "HTTP 500: try again");
        assert!(!format!("{scrubber:?}").contains("S3CRET"));
    }

    #[test]
    fn a_scrubber_cuts_base64_and_leaves_short_strings() {
        use base64::Engine as _;
        let mut scrubber = Scrubber::default();
        scrubber.add("CANARY-PASSWORD-77");
        scrubber.add("short");
        let b64 = base64::engine::general_purpose::STANDARD.encode("CANARY-PASSWORD-77");
        assert_eq!(scrubber.scrub(&format!("535 bad {b64}")), "535 bad ***");
        assert_eq!(scrubber.scrub("a short text"), "a short text");
    }

    /// `NAME_FILE` is read when `NAME` is not set; `NAME` wins when both are.
    #[test]
    fn a_secret_comes_from_the_variable_or_the_file_it_names() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("token");
        std::fs::write(&path, "s3cret-from-a-file\n").unwrap();
        let missing = dir.path().join("missing");
        let env = |name: &str| -> Option<std::ffi::OsString> {
            match name {
                "A_FILE" | "B_FILE" => Some(path.clone().into()),
                "B" => Some("from-the-variable".into()),
                "C_FILE" => Some(missing.clone().into()),
                "E" => Some("  ".into()),
                _ => None,
            }
        };
        assert_eq!(
            read("A", "token_env", env).unwrap().expose(),
            "s3cret-from-a-file"
        );
        assert_eq!(
            read("B", "token_env", env).unwrap().expose(),
            "from-the-variable"
        );
        let c = read("C", "token_env", env).unwrap_err();
        assert!(
            c.message.starts_with("cannot read the secret file `")
                && c.message.contains("named by `C_FILE`"),
            "{}",
            c.message
        );
        assert_eq!(
            read("D", "token_env", env).unwrap_err().message,
            "the environment variable `D` is not set"
        );
        assert_eq!(
            read("E", "token_env", env).unwrap_err().message,
            "the environment variable `E` is empty"
        );
    }

    #[test]
    fn never_prints_its_value() {
        let s = Secret::new(String::from("hunter2"));
        assert_eq!(format!("{s} {s:?}"), "*** Secret(***)");
        assert_eq!(s.expose(), "hunter2");
    }
}
