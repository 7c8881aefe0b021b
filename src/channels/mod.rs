//! Channels: one module per channel type, each with its config (a file in `channels/`) and a
//! pure `payload` function that adapts one rendered [`Message`] to the platform's format and
//! checks the platform's hard limits. Nothing here touches the network.
//!
//! The registry is closed and explicit: [`TYPES`] lists every type, [`load`] maps a file's
//! `type` to its config, and [`formats`] maps a type to the outputs it produces.

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
use crate::template::{Engine, Inputs, Message, Rendered};
use crate::toml_file;

pub use limits::FormatError;

/// Every channel type, as written in `type = "…"`.
pub const TYPES: [&str; 10] = [
    "email",
    "slack",
    "teams",
    "discord",
    "mattermost",
    "google-chat",
    "intercom",
    "webhook",
    "widget",
    "file",
];

/// The channel types a kind's `[channels.TYPE]` table can give its own wording: every type
/// that sends the message in its own format (`file` only imitates the others).
pub const OVERRIDABLE: [&str; 9] = [
    "email",
    "slack",
    "teams",
    "discord",
    "mattermost",
    "google-chat",
    "intercom",
    "webhook",
    "widget",
];

/// What to do with a message that may or may not have arrived.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum InDoubt {
    #[default]
    Resend,
    Skip,
}

/// The config of one channel file, by type.
#[derive(Debug, Clone)]
pub enum Config {
    Email(email::Config),
    Slack(chat::Config),
    Teams(chat::Config),
    Discord(chat::Config),
    Mattermost(chat::Config),
    GoogleChat(chat::Config),
    Intercom(intercom::Config),
    Webhook(webhook::Config),
    Widget(widget::Config),
    File(file::Config),
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
        match &self.config {
            Config::Email(_) => "email",
            Config::Slack(_) => "slack",
            Config::Teams(_) => "teams",
            Config::Discord(_) => "discord",
            Config::Mattermost(_) => "mattermost",
            Config::GoogleChat(_) => "google-chat",
            Config::Intercom(_) => "intercom",
            Config::Webhook(_) => "webhook",
            Config::Widget(_) => "widget",
            Config::File(_) => "file",
        }
    }

    /// Internal channels reach the people on duty, never customers.
    pub fn is_internal(&self) -> bool {
        match &self.config {
            Config::Slack(c)
            | Config::Teams(c)
            | Config::Discord(c)
            | Config::Mattermost(c)
            | Config::GoogleChat(c) => c.internal,
            _ => false,
        }
    }

    /// The environment variables this channel reads secrets from, with the key naming each.
    pub fn secret_vars(&self) -> Vec<(&'static str, &str)> {
        match &self.config {
            Config::Email(c) => c.secret_vars(),
            Config::Slack(c)
            | Config::Teams(c)
            | Config::Discord(c)
            | Config::Mattermost(c)
            | Config::GoogleChat(c) => vec![("url_env", c.url_env.as_str())],
            Config::Intercom(c) => vec![("token_env", c.token_env.as_str())],
            Config::Webhook(c) => c
                .secret_env
                .iter()
                .map(|v| ("secret_env", v.as_str()))
                .collect(),
            Config::Widget(_) | Config::File(_) => Vec::new(),
        }
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
        let mut problems: Vec<(&str, String)> = Vec::new();
        let mut mailbox = |field: &'static str, value: &str| {
            if let Err(e) = value.parse::<lettre::message::Mailbox>() {
                problems.push((field, format!("`{field} = \"{value}\"` is not a mailbox ({e}); write it like `Acme Status <status@acme.example>`")));
            }
        };
        let address = |value: &str| {
            let url = crate::config::check_url(value)?;
            guard.check_url(&url).map_err(|refused| refused.to_string())
        };
        match &self.config {
            Config::Email(c) => {
                mailbox("from", &c.from);
                if let Some(r) = &c.reply_to {
                    mailbox("reply_to", r);
                }
                if let Err(e) = smtp::server(&c.smtp_url) {
                    problems.push(("smtp_url", e));
                }
            }
            Config::File(c) => mailbox("from", &c.from),
            Config::Webhook(c) => {
                if let Some(Err(e)) = c.url.as_deref().map(address) {
                    problems.push(("url", e));
                }
                if let Some(Ok(keys)) = c
                    .secret_env
                    .as_deref()
                    .map(|var| crate::secret::from_env(var, "secret_env"))
                    && let Err(e) = signing::parse_keys(keys.expose())
                {
                    let var = c.secret_env.as_deref().unwrap_or_default();
                    problems.push((
                        "secret_env",
                        format!("the value of `{var}` is not usable: {e}"),
                    ));
                }
            }
            Config::Intercom(c) => {
                if let Err(e) = address(&c.api_base) {
                    problems.push(("api_base", e));
                }
            }
            Config::Slack(c)
            | Config::Teams(c)
            | Config::Discord(c)
            | Config::Mattermost(c)
            | Config::GoogleChat(c) => {
                let var = &c.url_env;
                if let Ok(url) = crate::secret::from_env(var, "url_env") {
                    match crate::config::check_url(url.expose()) {
                        Err(_) => problems.push(("url_env", format!("the value of `{var}` is not a web address (it must start with `https://`)"))),
                        Ok(url) => if let Err(refused) = guard.check_url(&url) {
                            problems.push(("url_env", format!("the value of `{var}`: {refused}")));
                        },
                    }
                }
            }
            Config::Widget(_) => {}
        }
        problems
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
        match &self.config {
            Config::Webhook(webhook::Config { url: None, .. }) => {
                guard.check_url(member.webhook_url.as_ref()?).err()
            }
            _ => None,
        }
    }
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
    let config = match ty.get_ref().as_str() {
        "email" => Config::Email(toml_file::parse(path, source)?),
        "slack" => Config::Slack(toml_file::parse(path, source)?),
        "teams" => Config::Teams(toml_file::parse(path, source)?),
        "discord" => Config::Discord(toml_file::parse(path, source)?),
        "mattermost" => Config::Mattermost(toml_file::parse(path, source)?),
        "google-chat" => Config::GoogleChat(toml_file::parse(path, source)?),
        "intercom" => Config::Intercom(toml_file::parse(path, source)?),
        "webhook" => Config::Webhook(toml_file::parse(path, source)?),
        "widget" => Config::Widget(toml_file::parse(path, source)?),
        "file" => Config::File(toml_file::parse(path, source)?),
        other => {
            let hint = match closest(other, TYPES) {
                Some(best) => format!("did you mean `{best}`?"),
                None => format!("use one of {}", backticked(TYPES)),
            };
            return Err(Diagnostic::new(format!("`{other}` is not a channel type"))
                .at(Location::at_offset(path, source, ty.span().start))
                .field("type")
                .hint(hint));
        }
    };
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

/// Every output of format `ty` (a channel type but `file`, or `summary`) for `rendered`:
/// what `preview` shows and `check` verifies.
pub fn formats(
    ty: &str,
    engine: &Engine,
    rendered: &Rendered,
    meta: &Meta<'_>,
) -> Result<Vec<Output>, FormatError> {
    let m: &Message = rendered.message_for(ty);
    let json = |file, value: serde_json::Value| Output {
        file,
        content: pretty(&value),
    };
    Ok(match ty {
        "email" => {
            let e = email::payload(engine, m, meta)?;
            vec![
                Output {
                    file: "email.html",
                    content: e.html,
                },
                Output {
                    file: "email.txt",
                    content: format!("Subject: {}\n\n{}", e.subject, e.text),
                },
            ]
        }
        "slack" => vec![json("slack.json", slack::payload(m, meta)?)],
        "teams" => vec![json("teams.json", teams::payload(m, meta)?)],
        "discord" => vec![json("discord.json", discord::payload(m, meta, None)?)],
        "mattermost" => vec![json("mattermost.json", mattermost::payload(m, meta, None)?)],
        "google-chat" => vec![json("google-chat.json", google_chat::payload(m, meta)?)],
        "intercom" => {
            let html = intercom::body_html(m);
            vec![
                json(
                    "intercom.json",
                    intercom::message_payload(m, &html, "123", "intercom-user-id"),
                ),
                Output {
                    file: "intercom.html",
                    content: html,
                },
            ]
        }
        "webhook" => vec![
            json(
                "webhook.json",
                serde_json::to_value(webhook::event(m, meta)).expect("an event always serializes"),
            ),
            json(
                "webhook-statuspage.json",
                webhook::statuspage_event(m, meta),
            ),
        ],
        "widget" => vec![json("widget.json", widget::state(m, meta))],
        "summary" => vec![Output {
            file: "summary.txt",
            content: summary::text(m)? + "\n",
        }],
        other => unreachable!("`{other}` has no formats of its own"),
    })
}

/// The formats [`formats`] knows, in preview order: each channel type's own, then `summary`.
pub const FORMATS: [&str; 10] = [
    "email",
    "slack",
    "teams",
    "discord",
    "mattermost",
    "google-chat",
    "intercom",
    "webhook",
    "widget",
    "summary",
];

/// Formats addressed to one person (rendered with a recipient); the others go to everyone at once.
pub fn per_recipient(format: &str) -> bool {
    matches!(format, "email" | "intercom" | "webhook")
}

/// JSON as written to files: pretty, with a final newline.
pub fn pretty(value: &serde_json::Value) -> String {
    let mut s = serde_json::to_string_pretty(value).expect("a JSON value always serializes");
    s.push('\n');
    s
}
