//! The registry: the machinery of the one table of channel types (the `registry!` call in
//! `channels/mod.rs`), and what the rest of crier may ask of a type through it.
//!
//! A channel type is a marker type implementing [`ChannelType`] (`channel_type.rs`) in its
//! own module: its name, its config (a `channels/NAME.toml` file), its transport and how to build it, its default
//! pace (the provider's documented limits), its outputs for `preview` and `check`, who it
//! addresses, and the checks of its values and secrets. The table generates the [`Config`]
//! enum (one variant per type), [`Built`] (the built transports) and the lists [`TYPES`],
//! [`OVERRIDABLE`] and [`FORMATS`], and dispatches every question to the type's impl, so
//! adding a channel type is one module and one line in the table.

#[cfg(doc)]
use super::channel_type::ChannelType;

/// Expands the table (in `channels/mod.rs`). Each line: the variant of `Config` and `Built`,
/// then the type implementing [`ChannelType`]. The order is the order of `TYPES` and of
/// `preview`'s formats.
macro_rules! registry {
    ($($variant:ident => $ty:ty),* $(,)?) => {
        /// The config of one channel file, by type.
        #[derive(Debug, Clone)]
        pub enum Config {
            $($variant(<$ty as $crate::channels::channel_type::ChannelType>::Config)),*
        }

        /// A channel's transport, built (secrets read, addresses parsed) before anything is sent.
        pub enum Built {
            $($variant(<$ty as $crate::channels::channel_type::ChannelType>::Transport)),*
        }

        const ENTRIES: &[(&str, bool)] = &[$((<$ty as $crate::channels::channel_type::ChannelType>::NAME, <$ty as $crate::channels::channel_type::ChannelType>::OWN_FORMAT)),*];

        /// Every channel type, as written in `type = "…"`.
        pub const TYPES: [&str; ENTRIES.len()] = $crate::channels::registry::names(ENTRIES, false, None);

        /// The channel types a kind's `[channels.TYPE]` table can give its own wording: every
        /// type that sends the message in its own format.
        pub const OVERRIDABLE: [&str; $crate::channels::registry::own_formats(ENTRIES)] =
            $crate::channels::registry::names(ENTRIES, true, None);

        /// The formats `preview` writes and `check` verifies, in order: each type's own, then
        /// `summary`.
        pub const FORMATS: [&str; $crate::channels::registry::own_formats(ENTRIES) + 1] =
            $crate::channels::registry::names(ENTRIES, true, Some("summary"));

        impl Config {
            /// The config of type `ty` read from `source`, or `None` when `ty` is no type.
            pub fn parse(ty: &str, path: &std::path::Path, source: &str) -> Option<Result<Config, crate::diag::Diagnostic>> {
                $(if ty == <$ty as $crate::channels::channel_type::ChannelType>::NAME {
                    return Some(crate::toml_file::parse(path, source).map(Config::$variant));
                })*
                None
            }

            /// The type name, as in [`TYPES`].
            pub fn type_name(&self) -> &'static str {
                match self { $(Config::$variant(_) => <$ty as $crate::channels::channel_type::ChannelType>::NAME),* }
            }

            /// The transport of this channel.
            pub fn build(&self, at: &$crate::channels::channel_type::Build<'_>) -> Result<Built, String> {
                match self { $(Config::$variant(c) => <$ty as $crate::channels::channel_type::ChannelType>::build(c, at).map(Built::$variant)),* }
            }

            pub fn defaults(&self) -> $crate::channels::channel_type::Defaults {
                match self { $(Config::$variant(_) => <$ty as $crate::channels::channel_type::ChannelType>::DEFAULTS),* }
            }

            pub fn knobs(&self) -> $crate::channels::channel_type::Knobs {
                match self { $(Config::$variant(c) => <$ty as $crate::channels::channel_type::ChannelType>::knobs(c)),* }
            }

            pub fn sends(&self) -> Vec<String> {
                match self { $(Config::$variant(c) => <$ty as $crate::channels::channel_type::ChannelType>::sends(c)),* }
            }

            pub fn addressing(&self) -> $crate::channels::channel_type::Addressing {
                match self { $(Config::$variant(c) => <$ty as $crate::channels::channel_type::ChannelType>::addressing(c)),* }
            }

            pub fn reaches(&self, member: &$crate::audience::Member) -> bool {
                match self { $(Config::$variant(c) => <$ty as $crate::channels::channel_type::ChannelType>::reaches(c, member)),* }
            }

            pub fn per_endpoint(&self) -> bool {
                match self { $(Config::$variant(c) => <$ty as $crate::channels::channel_type::ChannelType>::per_endpoint(c)),* }
            }

            pub fn refused(&self, member: &$crate::audience::Member, guard: &$crate::network::Guard) -> Option<$crate::network::Refused> {
                match self { $(Config::$variant(c) => <$ty as $crate::channels::channel_type::ChannelType>::refused(c, member, guard)),* }
            }

            pub fn is_internal(&self) -> bool {
                match self { $(Config::$variant(c) => <$ty as $crate::channels::channel_type::ChannelType>::is_internal(c)),* }
            }

            pub fn secret_vars(&self) -> Vec<(&'static str, &str)> {
                match self { $(Config::$variant(c) => <$ty as $crate::channels::channel_type::ChannelType>::secret_vars(c)),* }
            }

            pub fn check_values(&self, guard: &$crate::network::Guard) -> Vec<(&'static str, String)> {
                match self { $(Config::$variant(c) => <$ty as $crate::channels::channel_type::ChannelType>::check_values(c, guard)),* }
            }
        }

        impl Built {
            /// Do `d` with the concrete transport.
            pub fn drive<D: $crate::channels::channel_type::Drive>(self, d: D) -> D::Output {
                match self { $(Built::$variant(t) => d.drive(t)),* }
            }

            /// The folder this transport writes to instead of sending, if it does.
            pub fn outbox(&self) -> Option<&std::path::Path> {
                match self { $(Built::$variant(t) => <$ty as $crate::channels::channel_type::ChannelType>::outbox(t)),* }
            }
        }

        /// Whether the format `ty` is written for one person (rendered with a recipient).
        pub fn personal(ty: &str) -> bool {
            $(ty == <$ty as $crate::channels::channel_type::ChannelType>::NAME && <$ty as $crate::channels::channel_type::ChannelType>::PERSONAL)||*
        }

        /// Every output of the format `ty` (a type with a format of its own), or `None`.
        pub fn outputs(ty: &str, engine: &$crate::template::Engine, message: &$crate::template::Message, meta: &$crate::channels::Meta<'_>) -> Option<Result<Vec<$crate::channels::Output>, $crate::channels::FormatError>> {
            $(if ty == <$ty as $crate::channels::channel_type::ChannelType>::NAME && <$ty as $crate::channels::channel_type::ChannelType>::OWN_FORMAT {
                return Some(<$ty as $crate::channels::channel_type::ChannelType>::outputs(engine, message, meta));
            })*
            None
        }
    };
}
pub(crate) use registry;

/// The names of `entries` (name, has a format of its own), only those with a format of their
/// own when `own`, then `extra`.
pub(super) const fn names<const N: usize>(
    entries: &[(&'static str, bool)],
    own: bool,
    extra: Option<&'static str>,
) -> [&'static str; N] {
    let mut out = [""; N];
    let (mut i, mut j) = (0, 0);
    while i < entries.len() {
        if !own || entries[i].1 {
            out[j] = entries[i].0;
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
pub(super) const fn own_formats(entries: &[(&str, bool)]) -> usize {
    let (mut i, mut n) = (0, 0);
    while i < entries.len() {
        if entries[i].1 {
            n += 1;
        }
        i += 1;
    }
    n
}

#[cfg(test)]
mod tests {
    use super::super::*;
    use std::path::Path;

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
