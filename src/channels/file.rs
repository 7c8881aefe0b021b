//! The `file` channel, the embedded default: instead of sending, it writes what would be sent
//! into a folder, so a fresh checkout can run a real blast with no accounts. Per recipient:
//! their email as an `.eml` file (the exact bytes SMTP would carry) and, where they have one,
//! their webhook and Intercom JSON; once per blast: every chat platform's JSON, the widget
//! state and the summary. Files are written whole (temp file, then rename) and named after the
//! recipient, so sending again rewrites the same file instead of adding one.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::channel_type::{Addressing, Build, ChannelType, Defaults};
use super::transport::{Job, Receipt, SendError, Transport};
use super::{FORMATS, FormatError, email, personal};
use crate::network::Guard;

/// `type = "file"` in the registry: writes what the other types would send, per recipient and
/// for everyone, into a folder.
pub struct Type;

impl ChannelType for Type {
    const NAME: &'static str = "file";
    const OWN_FORMAT: bool = false;
    const DEFAULTS: Defaults = Defaults::LOCAL;
    type Config = Config;
    type Transport = Files;

    fn build(config: &Config, at: &Build<'_>) -> Result<Files, String> {
        Files::new(config, at.root, at.incident, at.seq)
    }

    fn sends(config: &Config) -> Vec<String> {
        config.formats.clone()
    }

    fn addressing(_: &Config) -> Addressing {
        Addressing::Both
    }

    fn check_values(config: &Config, _: &Guard) -> Vec<(&'static str, String)> {
        email::check_mailbox("from", &config.from)
            .into_iter()
            .collect()
    }

    fn outbox(files: &Files) -> Option<&Path> {
        Some(files.dir())
    }
}

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
    /// The sender of the `.eml` files.
    #[serde(default = "default_from")]
    pub from: String,
}

fn default_dir() -> String {
    "outbox".into()
}

fn default_from() -> String {
    "Status <status@localhost>".into()
}

fn all_formats() -> Vec<String> {
    FORMATS.iter().map(|s| s.to_string()).collect()
}

/// Writes into `<dir>/<incident>-<update>/`.
#[derive(Debug)]
pub struct Files {
    dir: PathBuf,
    formats: Vec<String>,
    from: lettre::message::Mailbox,
}

impl Files {
    /// The transport writing update `seq` of `incident` under `root`/`config.dir`.
    pub fn new(config: &Config, root: &Path, incident: &str, seq: u32) -> Result<Files, String> {
        let from = config
            .from
            .parse()
            .map_err(|e| format!("`from = \"{}\"` is not a mailbox: {e}", config.from))?;
        Ok(Files {
            dir: root
                .join(&config.dir)
                .join(format!("{}-{seq}", safe_name(incident))),
            formats: config.formats.clone(),
            from,
        })
    }

    /// The folder this update is written to.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn wants(&self, format: &str) -> bool {
        self.formats.iter().any(|f| f == format)
    }

    fn for_everyone(&self, job: &Job<'_>) -> Result<Vec<(PathBuf, Vec<u8>)>, FormatError> {
        let mut files = Vec::new();
        for format in FORMATS.iter().filter(|f| !personal(f) && self.wants(f)) {
            for o in super::formats(format, job.engine, job.rendered, &job.meta)? {
                files.push((
                    self.dir.join("everyone").join(o.file),
                    o.content.into_bytes(),
                ));
            }
        }
        Ok(files)
    }

    fn for_person(&self, job: &Job<'_>) -> Result<Vec<(PathBuf, Vec<u8>)>, FormatError> {
        let member = job.member;
        let r = &member.recipient;
        let name = file_name(&r.id, job.key);
        let mut files = Vec::new();
        if self.wants("email") && !r.email.is_empty() {
            let e = email::payload(job.engine, job.rendered.message_for("email"), &job.meta)?;
            let to = email::mailbox(&r.name, &r.email).map_err(FormatError::Layout)?;
            let m =
                email::message(&self.from, None, to, &e, job.key).map_err(FormatError::Layout)?;
            files.push((
                self.dir.join("email").join(format!("{name}.eml")),
                m.formatted(),
            ));
        }
        for (format, wanted) in [
            ("webhook", member.webhook_url.is_some()),
            ("intercom", member.intercom_user_id.is_some()),
        ] {
            if wanted && self.wants(format) {
                let outputs = super::formats(format, job.engine, job.rendered, &job.meta)?;
                if let Some(o) = outputs.into_iter().find(|o| o.file.ends_with(".json")) {
                    files.push((
                        self.dir.join(format).join(format!("{name}.json")),
                        o.content.into_bytes(),
                    ));
                }
            }
        }
        Ok(files)
    }
}

/// `[A-Za-z0-9._-]` only, never starting with a dot.
fn safe_name(s: &str) -> String {
    let mut name: String = s
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
                c
            } else {
                '_'
            }
        })
        .collect();
    if name.starts_with('.') || name.is_empty() {
        name.insert(0, '_');
    }
    name
}

/// The recipient's id as a file name; when it had to be changed, a piece of the key keeps it unique.
fn file_name(id: &str, key: &str) -> String {
    let safe = safe_name(id);
    if safe == id {
        safe
    } else {
        format!("{safe}-{}", &key[..8.min(key.len())])
    }
}

impl Transport for Files {
    type Payload = Vec<(PathBuf, Vec<u8>)>;

    fn prepare(&self, job: &Job<'_>) -> Result<Self::Payload, FormatError> {
        if job.member.recipient.id.is_empty() {
            self.for_everyone(job)
        } else {
            self.for_person(job)
        }
    }

    async fn send(&self, files: Self::Payload) -> Result<Receipt, SendError> {
        let first = files.first().map(|(p, _)| p.display().to_string());
        for (path, bytes) in files {
            write_whole(&path, &bytes)
                .await
                .map_err(|e| SendError::Transient {
                    reason: format!("cannot write `{}`: {e}", path.display()),
                    retry_after: None,
                })?;
        }
        Ok(Receipt { provider_id: first })
    }
}

async fn write_whole(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    if let Some(parent) = path.parent() {
        tokio::fs::create_dir_all(parent).await?;
    }
    let tmp = path.with_extension("tmp");
    tokio::fs::write(&tmp, bytes).await?;
    tokio::fs::rename(&tmp, path).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_safe_and_stable() {
        assert_eq!(file_name("cus_1001", "abcdef0123"), "cus_1001");
        assert_eq!(
            file_name("../etc/passwd", "abcdef0123"),
            "_.._etc_passwd-abcdef01"
        );
        assert_eq!(safe_name(".hidden"), "_.hidden");
    }
}
