//! The registry: every channel type crier knows, in one table ([`registry!`] at the end of
//! this file), and what the rest of crier may ask of a type through it.
//!
//! A channel type is a marker type implementing [`ChannelType`] in its own module: its name,
//! its config (a `channels/NAME.toml` file), its transport and how to build it, its default
//! pace (the provider's documented limits), its outputs for `preview` and `check`, who it
//! addresses, and the checks of its values and secrets. The table generates the [`Config`]
//! enum (one variant per type), [`Built`] (the built transports) and the lists [`TYPES`],
//! [`OVERRIDABLE`] and [`FORMATS`], and dispatches every question to the type's impl, so
//! adding a channel type is one module and one line in the table.

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

/// A sending config with the six keys of [`Knobs`] (every type that sends over the network).
pub trait HasKnobs {
    fn knobs(&self) -> Knobs;
}

/// Implements [`HasKnobs`] for configs holding the six keys under their usual names.
macro_rules! has_knobs {
    ($($config:ty),* $(,)?) => {$(
        impl HasKnobs for $config {
            fn knobs(&self) -> Knobs {
                Knobs {
                    per_second: self.per_second,
                    burst: self.burst,
                    max_in_flight: self.max_in_flight,
                    timeout_secs: self.timeout_secs,
                    in_doubt: self.in_doubt,
                    max_attempts: self.max_attempts,
                }
            }
        }
    )*};
}

has_knobs!(
    super::email::Config,
    super::chat::Config,
    super::intercom::Config,
    super::webhook::Config,
);

/// Something to do with a built transport, whatever its type: `worker::run` for a blast, one
/// post for a nudge. [`Built::drive`] calls it with the concrete transport.
pub trait Drive {
    type Output;
    fn drive<T: Transport>(self, transport: T) -> Self::Output;
}

/// The table. Each line: the variant of [`Config`] and [`Built`], then the type implementing
/// [`ChannelType`]. The order is the order of [`TYPES`] and of `preview`'s formats.
macro_rules! registry {
    ($($variant:ident => $ty:ty),* $(,)?) => {
        /// The config of one channel file, by type.
        #[derive(Debug, Clone)]
        pub enum Config {
            $($variant(<$ty as ChannelType>::Config)),*
        }

        /// A channel's transport, built (secrets read, addresses parsed) before anything is sent.
        pub enum Built {
            $($variant(<$ty as ChannelType>::Transport)),*
        }

        const ENTRIES: &[(&str, bool)] = &[$((<$ty as ChannelType>::NAME, <$ty as ChannelType>::OWN_FORMAT)),*];

        impl Config {
            /// The config of type `ty` read from `source`, or `None` when `ty` is no type.
            pub(super) fn parse(ty: &str, path: &Path, source: &str) -> Option<Result<Config, crate::diag::Diagnostic>> {
                $(if ty == <$ty as ChannelType>::NAME {
                    return Some(crate::toml_file::parse(path, source).map(Config::$variant));
                })*
                None
            }

            /// The type name, as in [`TYPES`].
            pub fn type_name(&self) -> &'static str {
                match self { $(Config::$variant(_) => <$ty as ChannelType>::NAME),* }
            }

            /// The transport of this channel.
            pub fn build(&self, at: &Build<'_>) -> Result<Built, String> {
                match self { $(Config::$variant(c) => <$ty as ChannelType>::build(c, at).map(Built::$variant)),* }
            }

            pub fn defaults(&self) -> Defaults {
                match self { $(Config::$variant(_) => <$ty as ChannelType>::DEFAULTS),* }
            }

            pub fn knobs(&self) -> Knobs {
                match self { $(Config::$variant(c) => <$ty as ChannelType>::knobs(c)),* }
            }

            pub fn sends(&self) -> Vec<String> {
                match self { $(Config::$variant(c) => <$ty as ChannelType>::sends(c)),* }
            }

            pub fn addressing(&self) -> Addressing {
                match self { $(Config::$variant(c) => <$ty as ChannelType>::addressing(c)),* }
            }

            pub fn reaches(&self, member: &Member) -> bool {
                match self { $(Config::$variant(c) => <$ty as ChannelType>::reaches(c, member)),* }
            }

            pub fn per_endpoint(&self) -> bool {
                match self { $(Config::$variant(c) => <$ty as ChannelType>::per_endpoint(c)),* }
            }

            pub fn refused(&self, member: &Member, guard: &Guard) -> Option<Refused> {
                match self { $(Config::$variant(c) => <$ty as ChannelType>::refused(c, member, guard)),* }
            }

            pub fn is_internal(&self) -> bool {
                match self { $(Config::$variant(c) => <$ty as ChannelType>::is_internal(c)),* }
            }

            pub fn secret_vars(&self) -> Vec<(&'static str, &str)> {
                match self { $(Config::$variant(c) => <$ty as ChannelType>::secret_vars(c)),* }
            }

            pub fn check_values(&self, guard: &Guard) -> Vec<(&'static str, String)> {
                match self { $(Config::$variant(c) => <$ty as ChannelType>::check_values(c, guard)),* }
            }
        }

        impl Built {
            /// Do `d` with the concrete transport.
            pub fn drive<D: Drive>(self, d: D) -> D::Output {
                match self { $(Built::$variant(t) => d.drive(t)),* }
            }

            /// The folder this transport writes to instead of sending, if it does.
            pub fn outbox(&self) -> Option<&Path> {
                match self { $(Built::$variant(t) => <$ty as ChannelType>::outbox(t)),* }
            }
        }

        /// Whether the format `ty` is written for one person (rendered with a recipient).
        pub fn personal(ty: &str) -> bool {
            $(ty == <$ty as ChannelType>::NAME && <$ty as ChannelType>::PERSONAL)||*
        }

        /// Every output of the format `ty` (a type with a format of its own), or `None`.
        pub(super) fn outputs(ty: &str, engine: &Engine, message: &Message, meta: &Meta<'_>) -> Option<Result<Vec<Output>, FormatError>> {
            $(if ty == <$ty as ChannelType>::NAME && <$ty as ChannelType>::OWN_FORMAT {
                return Some(<$ty as ChannelType>::outputs(engine, message, meta));
            })*
            None
        }
    };
}

/// The names of the entries, those with a format of their own first filtered when `own`.
const fn names<const N: usize>(own: bool, extra: Option<&'static str>) -> [&'static str; N] {
    let mut out = [""; N];
    let (mut i, mut j) = (0, 0);
    while i < ENTRIES.len() {
        if !own || ENTRIES[i].1 {
            out[j] = ENTRIES[i].0;
            j += 1;
        }
        i += 1;
    }
    if let Some(extra) = extra {
        out[j] = extra;
    }
    out
}

/// How many entries have a format of their own.
const fn own_formats() -> usize {
    let (mut i, mut n) = (0, 0);
    while i < ENTRIES.len() {
        if ENTRIES[i].1 {
            n += 1;
        }
        i += 1;
    }
    n
}

/// Every channel type, as written in `type = "…"`.
pub const TYPES: [&str; ENTRIES.len()] = names(false, None);

/// The channel types a kind's `[channels.TYPE]` table can give its own wording: every type
/// that sends the message in its own format.
pub const OVERRIDABLE: [&str; own_formats()] = names(true, None);

/// The formats `preview` writes and `check` verifies, in order: each type's own, then `summary`.
pub const FORMATS: [&str; own_formats() + 1] = names(true, Some("summary"));

use super::{chat, email, file, intercom, webhook, widget};
use super::{discord, google_chat, mattermost, slack, teams};

registry! {
    Email => email::Type,
    Slack => chat::On<slack::Type>,
    Teams => chat::On<teams::Type>,
    Discord => chat::On<discord::Type>,
    Mattermost => chat::On<mattermost::Type>,
    GoogleChat => chat::On<google_chat::Type>,
    Intercom => intercom::Type,
    Webhook => webhook::Type,
    Widget => widget::Type,
    File => file::Type,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_lists_come_from_the_table_in_its_order() {
        assert_eq!(
            TYPES,
            [
                "email",
                "slack",
                "teams",
                "discord",
                "mattermost",
                "google-chat",
                "intercom",
                "webhook",
                "widget",
                "file"
            ]
        );
        assert_eq!(
            OVERRIDABLE,
            TYPES[..9],
            "every type but `file` has its own format"
        );
        assert_eq!(FORMATS[..9], OVERRIDABLE);
        assert_eq!(FORMATS[9], "summary");
        let personal_formats: Vec<&str> = FORMATS.into_iter().filter(|f| personal(f)).collect();
        assert_eq!(personal_formats, ["email", "intercom", "webhook"]);
    }

    #[test]
    fn every_type_parses_as_itself() {
        let path = Path::new("channels/x.toml");
        for ty in TYPES {
            // Parsing fails on missing keys for most types, but it is this type's config that
            // complains, with this type's keys.
            match Config::parse(ty, path, &format!("type = \"{ty}\"\n")) {
                Some(Ok(config)) => assert_eq!(config.type_name(), ty),
                Some(Err(d)) => assert!(d.message.contains("missing"), "{ty}: {}", d.message),
                None => panic!("`{ty}` is not in the table"),
            }
        }
        assert!(Config::parse("sms", path, "type = \"sms\"\n").is_none());
    }
}
