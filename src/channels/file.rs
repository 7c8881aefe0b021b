//! The `file` channel, the embedded default: instead of sending, it writes what would be sent
//! into a folder, so a fresh checkout can run a real blast with no accounts.

use serde::Deserialize;

/// `channels/NAME.toml` for `type = "file"`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    #[serde(rename = "type")]
    pub ty: String,
    /// Folder to write into, relative to `crier.toml`.
    #[serde(default = "default_dir")]
    pub dir: String,
    /// Which channel formats to write (default: all).
    #[serde(default = "all_formats")]
    pub formats: Vec<String>,
}

fn default_dir() -> String {
    "outbox".into()
}

fn all_formats() -> Vec<String> {
    super::FORMATS.iter().map(|s| s.to_string()).collect()
}
