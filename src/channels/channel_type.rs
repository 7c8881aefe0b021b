//! What one channel type is, for the registry: the [`ChannelType`] trait each type's module
//! implements, and what it answers with ([`Addressing`], [`Defaults`], [`Knobs`]) or is given
//! ([`Build`]). [`Drive`] does something with a built transport whatever its type.

use std::path::Path;
use std::time::Duration;

use serde::de::DeserializeOwned;

use super::transport::Transport;
use super::{FormatError, InDoubt, Meta, Output};
use crate::audience::Member;
use crate::network::{Guard, Refused};
use crate::template::{Engine, Message};

/// One channel type.
pub trait ChannelType {
    /// The type's name, as written in `type = "…"`.
    const NAME: &'static str;
    /// Whether the type sends in a format of its own: `preview` shows it and a kind's
    /// `[channels.NAME]` may give it its own wording (`file` only imitates the others).
    const OWN_FORMAT: bool = true;
    /// Whether the type's format is written for one person (rendered with a recipient; the
    /// others go to everyone at once).
    const PERSONAL: bool = false;
    /// Rate, burst, concurrency and timeout when the channel file says nothing.
    const DEFAULTS: Defaults;

    /// What `channels/NAME.toml` holds (serde, `deny_unknown_fields`).
    type Config: DeserializeOwned + std::fmt::Debug + Clone + Send + Sync;
    /// How the type sends.
    type Transport: Transport;

    /// The transport of `config` (secrets read, addresses parsed and guarded); the error is a
    /// sentence naming the key at fault.
    fn build(config: &Self::Config, at: &Build<'_>) -> Result<Self::Transport, String>;

    /// The sending keys as the channel file sets them.
    fn knobs(_config: &Self::Config) -> Knobs {
        Knobs::default()
    }

    /// Every output of the type's own format for `message` (what `preview` writes).
    fn outputs(
        _engine: &Engine,
        _message: &Message,
        _meta: &Meta<'_>,
    ) -> Result<Vec<Output>, FormatError> {
        Ok(Vec::new())
    }

    /// The formats a channel of this type sends (rendered and checked before a blast).
    fn sends(_config: &Self::Config) -> Vec<String> {
        vec![Self::NAME.to_string()]
    }

    /// Who one message goes to.
    fn addressing(_config: &Self::Config) -> Addressing {
        Addressing::Everyone
    }

    /// Whether `member` has the address a per-recipient message needs.
    fn reaches(_config: &Self::Config, _member: &Member) -> bool {
        true
    }

    /// Whether rate limits, back-off and `410 Gone` apply per endpoint (per-recipient
    /// webhooks) rather than to the channel as a whole.
    fn per_endpoint(_config: &Self::Config) -> bool {
        false
    }

    /// Why the address `member` is reached at is refused as written, when it comes from the
    /// audience (a per-recipient webhook's `webhook_url`).
    fn refused(_config: &Self::Config, _member: &Member, _guard: &Guard) -> Option<Refused> {
        None
    }

    /// Internal channels reach the people on duty, never customers.
    fn is_internal(_config: &Self::Config) -> bool {
        false
    }

    /// The environment variables the channel reads secrets from, with the key naming each.
    fn secret_vars(_config: &Self::Config) -> Vec<(&'static str, &str)> {
        Vec::new()
    }

    /// Problems with the file's values, found without sending: `(key, sentence)`.
    fn check_values(_config: &Self::Config, _guard: &Guard) -> Vec<(&'static str, String)> {
        Vec::new()
    }

    /// The folder a transport writes to instead of sending (the `file` channel).
    fn outbox(_transport: &Self::Transport) -> Option<&Path> {
        None
    }
}

/// Who one message of a channel goes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Addressing {
    /// One message for everyone (a chat post, a News item).
    Everyone,
    /// One message per recipient who has the address (email, per-recipient webhooks).
    PerRecipient,
    /// Both: the `file` channel writes everyone's files and each person's.
    Both,
}

impl Addressing {
    /// Whether the channel has one row per recipient.
    pub fn per_recipient(self) -> bool {
        self != Addressing::Everyone
    }

    /// Whether the channel has one row for everyone.
    pub fn for_everyone(self) -> bool {
        self != Addressing::PerRecipient
    }
}

/// What building a transport needs besides the channel's config.
#[derive(Debug, Clone, Copy)]
pub struct Build<'a> {
    pub timeout: Duration,
    /// Every address an HTTP channel sends to passes it.
    pub guard: &'a Guard,
    /// The folder holding crier.toml (files are written under it).
    pub root: &'a Path,
    pub incident: &'a str,
    pub seq: u32,
}

/// A type's pace when its file says nothing: the provider's documented limits.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Defaults {
    /// Messages per second; `None`: no limit.
    pub per_second: Option<f64>,
    pub burst: u32,
    pub max_in_flight: u32,
    pub timeout_secs: u64,
}

impl Defaults {
    /// Local writes: no limit, 16 at a time.
    pub const LOCAL: Defaults = Defaults {
        per_second: None,
        burst: 1,
        max_in_flight: 16,
        timeout_secs: 30,
    };
}

/// The sending keys of a channel file (`None`: the type's default).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Knobs {
    pub per_second: Option<f64>,
    pub burst: Option<u32>,
    pub max_in_flight: Option<u32>,
    pub timeout_secs: Option<u64>,
    pub in_doubt: InDoubt,
    pub max_attempts: Option<u32>,
}

/// The [`Knobs`] of a config holding the six keys under their usual names (every type that
/// sends over the network).
macro_rules! knobs_of {
    ($config:expr) => {{
        let c = $config;
        $crate::channels::channel_type::Knobs {
            per_second: c.per_second,
            burst: c.burst,
            max_in_flight: c.max_in_flight,
            timeout_secs: c.timeout_secs,
            in_doubt: c.in_doubt,
            max_attempts: c.max_attempts,
        }
    }};
}
pub(crate) use knobs_of;

/// Something to do with a built transport, whatever its type: `worker::run` for a blast, one
/// post for a nudge. [`Built::drive`] calls it with the concrete transport.
pub trait Drive {
    type Output;
    fn drive<T: Transport>(self, transport: T) -> Self::Output;
}
