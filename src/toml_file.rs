//! Strict TOML files: read, deserialize with `deny_unknown_fields`, and turn serde's complaint
//! into a [`Diagnostic`] with file, line, column, the field, and the closest valid key.

use std::path::Path;

use serde::de::DeserializeOwned;

use crate::diag::{Diagnostic, Location, backticked, closest};

/// Read `path` as text; a missing or unreadable file becomes a diagnostic naming it.
pub fn read(path: &Path) -> Result<String, Diagnostic> {
    std::fs::read_to_string(path).map_err(|e| {
        Diagnostic::new(format!("cannot read `{}`: {e}", path.display())).in_file(path)
    })
}

/// Deserialize `source` (read from `path`) into `T`, reporting the first problem precisely.
pub fn parse<T: DeserializeOwned>(path: &Path, source: &str) -> Result<T, Diagnostic> {
    toml::from_str(source).map_err(|e| diagnose(path, source, &e))
}

/// Turn a toml error into a diagnostic: location, and for unknown keys the closest valid one.
pub fn diagnose(path: &Path, source: &str, error: &toml::de::Error) -> Diagnostic {
    let message = error.message().trim_end_matches('\n');
    let mut d = match unknown_field(message) {
        Some((field, expected)) => {
            let d = Diagnostic::new(format!("unknown key `{field}` in `{}`", file_name(path)))
                .field(field);
            match closest(field, expected.iter().map(String::as_str)) {
                Some(best) => d.hint(format!("did you mean `{best}`?")),
                None if expected.is_empty() => d.hint("remove it: nothing is allowed here"),
                None => d.hint(format!(
                    "remove it, or use one of {}",
                    backticked(expected.iter().map(String::as_str))
                )),
            }
        }
        None => Diagnostic::new(format!(
            "`{}`: {}",
            file_name(path),
            first_sentence(message)
        )),
    };
    if let Some(field) = missing_field(message) {
        d = d.field(field).hint(format!("add `{field} = …`"));
    }
    match error.span() {
        Some(span) => d.at(Location::at_offset(path, source, span.start)),
        None => d.in_file(path),
    }
}

fn file_name(path: &Path) -> String {
    path.display().to_string()
}

fn first_sentence(message: &str) -> String {
    message.lines().next().unwrap_or(message).to_string()
}

/// Parses serde's "unknown field `x`, expected one of `a`, `b`" / "expected `a`" / "there are no fields".
fn unknown_field(message: &str) -> Option<(&str, Vec<String>)> {
    let rest = message.strip_prefix("unknown field `")?;
    let (field, rest) = rest.split_once('`')?;
    let expected = rest
        .split('`')
        .skip(1)
        .step_by(2)
        .map(str::to_string)
        .collect();
    Some((field, expected))
}

fn missing_field(message: &str) -> Option<&str> {
    let rest = message.strip_prefix("missing field `")?;
    rest.split_once('`').map(|(f, _)| f)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Company {
        name: String,
        support_phone: Option<String>,
    }

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct File {
        company: Company,
    }

    #[test]
    fn unknown_key_suggests_closest_with_location() {
        let src = "[company]\nname = \"Acme\"\nsuport_phone = \"1\"\n";
        let d = parse::<File>(Path::new("crier.toml"), src).unwrap_err();
        assert_eq!(
            d.to_string(),
            "error: unknown key `suport_phone` in `crier.toml`\n  --> crier.toml:3:1\n   = field: suport_phone\n   = help: did you mean `support_phone`?"
        );
    }

    #[test]
    fn missing_key_names_it() {
        let d = parse::<File>(Path::new("c.toml"), "[company]\n").unwrap_err();
        assert_eq!(d.field.as_deref(), Some("name"));
        assert_eq!(d.hint.as_deref(), Some("add `name = …`"));
    }
}
