//! Channels: one module per channel type, each with its config (a file in `channels/`), a
//! pure `payload` function that adapts one rendered [`Message`] to the platform's format and
//! checks the platform's hard limits, and its [`transport::Transport`], which sends it (the
//! only I/O here, with [`http`] and [`smtp`]) and classifies the answer ([`classify`]).
//!
//! The registry is closed and explicit: [`registry`] holds the one table of types; [`load`]
//! reads a file's `type` and asks the table for its config, and [`formats`] asks it for the
//! outputs of a format.

pub mod channel_type;
pub mod chat;
pub mod classify;
pub mod discord;
pub mod email;
pub mod file;
pub mod google_chat;
pub mod http;
pub mod intercom;
pub mod limits;
pub mod mattermost;
pub mod registry;
pub mod signing;
pub mod slack;
pub mod smtp;
pub mod summary;
pub mod teams;
pub mod transport;
pub mod webhook;
pub mod widget;

use std::path::{Path, PathBuf};

use serde::Deserialize;
use toml::Spanned;

use crate::diag::{Diagnostic, Diagnostics, Location, backticked, closest};
use crate::template::{Engine, Inputs, Rendered};
use crate::toml_file;

pub use limits::FormatError;

// The table of channel types: each line names a type's variant and the marker type implementing
// `ChannelType` in its module. It generates `Config`, `Built`, `TYPES`, `OVERRIDABLE`,
// `FORMATS`, `personal` and `outputs` (see `registry.rs`).
registry::registry! {
    Email => smtp::Type,
    Slack => chat::On<chat::Slack>,
    Teams => chat::On<chat::Teams>,
    Discord => chat::On<chat::Discord>,
    Mattermost => chat::On<chat::Mattermost>,
    GoogleChat => chat::On<chat::GoogleChat>,
    Intercom => intercom::Type,
    Webhook => webhook::Type,
    Widget => widget::Type,
    File => file::Type,
}

/// What to do with a message that may or may not have arrived.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum InDoubt {
    #[default]
    Resend,
    Skip,
}

/// A configured channel: `channels/ops-slack.toml` is the channel `ops-slack`.
#[derive(Debug, Clone)]
pub struct Channel {
    pub name: String,
    pub path: PathBuf,
    pub config: Config,
}

impl Channel {
    /// The type name, as in [`TYPES`].
    pub fn type_name(&self) -> &'static str {
        self.config.type_name()
    }

    /// Internal channels reach the people on duty, never customers.
    pub fn is_internal(&self) -> bool {
        self.config.is_internal()
    }

    /// The environment variables this channel reads secrets from, with the key naming each.
    pub fn secret_vars(&self) -> Vec<(&'static str, &str)> {
        self.config.secret_vars()
    }

    /// Every secret this channel needs is set: no value is read into memory beyond the check.
    pub fn check_secrets(&self) -> Vec<Diagnostic> {
        self.secret_vars()
            .into_iter()
            .filter_map(|(key, var)| crate::secret::from_env(var, key).err())
            .map(|d| {
                let message = format!("channel `{}`: {}", self.name, d.message);
                Diagnostic { message, ..d }.in_file(&self.path)
            })
            .collect()
    }
}

impl Channel {
    /// Problems with the values of this channel file (addresses, mailboxes, signing secrets),
    /// found without sending anything; every web address as `guard` sees it as written.
    /// Secret values are never shown.
    pub fn check_values(&self, guard: &crate::network::Guard) -> Vec<Diagnostic> {
        self.config
            .check_values(guard)
            .into_iter()
            .map(|(field, message)| {
                Diagnostic::new(format!("channel `{}`: {message}", self.name))
                    .in_file(&self.path)
                    .field(field)
            })
            .collect()
    }
}

impl Channel {
    /// Why the address `member` is reached at on this channel is refused as written, if it
    /// is: a per-recipient webhook's `webhook_url`. Every other address is the channel's own,
    /// checked when its transport is built.
    pub fn refused(
        &self,
        member: &crate::audience::Member,
        guard: &crate::network::Guard,
    ) -> Option<crate::network::Refused> {
        self.config.refused(member, guard)
    }
}

/// Why `value`, a web address in a channel file, is not one crier sends to, if it is not: not
/// a URL, or refused by `guard` as written.
pub fn check_address(value: &str, guard: &crate::network::Guard) -> Result<(), String> {
    let url = crate::config::check_url(value)?;
    guard.check_url(&url).map_err(|refused| refused.to_string())
}

/// Load every `*.toml` in `dir`, collecting every problem. A missing folder is no channels.
pub fn load_dir(dir: &Path) -> Result<Vec<Channel>, Diagnostics> {
    let mut problems = Diagnostics::default();
    let mut channels = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Ok(channels);
    };
    let mut paths: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    paths.sort();
    for path in paths {
        match load(&path) {
            Ok(c) => channels.push(c),
            Err(d) => problems.push(d),
        }
    }
    problems.into_result(channels).map_err(|e| e.0)
}

#[derive(Deserialize)]
struct TypeOnly {
    #[serde(rename = "type")]
    ty: Option<Spanned<String>>,
}

/// Load one channel file: read `type` first, then the concrete config with unknown keys refused.
pub fn load(path: &Path) -> Result<Channel, Diagnostic> {
    let source = toml_file::read(path)?;
    parse(path, &source)
}

/// Parse `source`, the text of the channel file at `path` (which names the channel and
/// locates problems; nothing is read from it), as [`load`] does.
pub fn parse(path: &Path, source: &str) -> Result<Channel, Diagnostic> {
    let name = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let head: TypeOnly = toml_file::parse(path, source)?;
    let Some(ty) = head.ty else {
        return Err(
            Diagnostic::new(format!("channel file `{}` has no `type`", path.display()))
                .at(Location::at_offset(path, source, 0))
                .field("type")
                .hint(format!("add `type = \"…\"`, one of {}", backticked(TYPES))),
        );
    };
    let Some(config) = Config::parse(ty.get_ref(), path, source) else {
        let other = ty.get_ref();
        let hint = match closest(other, TYPES) {
            Some(best) => format!("did you mean `{best}`?"),
            None => format!("use one of {}", backticked(TYPES)),
        };
        return Err(Diagnostic::new(format!("`{other}` is not a channel type"))
            .at(Location::at_offset(path, source, ty.span().start))
            .field("type")
            .hint(hint));
    };
    let config = config?;
    Ok(Channel {
        name,
        path: path.to_path_buf(),
        config,
    })
}

/// What a payload is built from besides the message: the facts and this delivery's identity.
#[derive(Debug, Clone, Copy)]
pub struct Meta<'a> {
    pub kind: &'a str,
    pub inputs: Inputs<'a>,
    /// Stable id of this logical message (the idempotency key when sending).
    pub message_id: &'a str,
    /// Which update of the incident this is, from 1.
    pub sequence: u32,
}

/// One output file of a channel type, as `crier preview --out` writes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Output {
    pub file: &'static str,
    pub content: String,
}

impl Output {
    /// `value` as a pretty JSON file.
    pub fn json(file: &'static str, value: &serde_json::Value) -> Output {
        Output {
            file,
            content: pretty(value),
        }
    }
}

/// Every output of format `ty` (one of [`FORMATS`]) for `rendered`: what `preview` shows and
/// `check` verifies.
pub fn formats(
    ty: &str,
    engine: &Engine,
    rendered: &Rendered,
    meta: &Meta<'_>,
) -> Result<Vec<Output>, FormatError> {
    let message = rendered.message_for(ty);
    if ty == "summary" {
        return Ok(vec![Output {
            file: "summary.txt",
            content: summary::text(message)? + "\n",
        }]);
    }
    outputs(ty, engine, message, meta)
        .unwrap_or_else(|| unreachable!("`{ty}` has no formats of its own"))
}

/// JSON as written to files: pretty, with a final newline.
pub fn pretty(value: &serde_json::Value) -> String {
    let mut s = serde_json::to_string_pretty(value).expect("a JSON value always serializes");
    s.push('\n');
    s
}
