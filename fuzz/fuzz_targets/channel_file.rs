//! The channel file parser (`channels::parse`, what `channels::load` runs on a file's text):
//! two passes, `type` and then the concrete config. Any text is a channel or one diagnostic,
//! never a panic; a channel's type is the `type` the file names; checking its values (without
//! any network I/O) never panics either.
#![no_main]

use std::path::Path;

use crier::channels::{self, TYPES};
use crier::network::Guard;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(source) = std::str::from_utf8(data) else {
        return;
    };
    let path = Path::new("channels/ops-chat.toml");
    match channels::parse(path, source) {
        Ok(channel) => {
            assert_eq!(channel.name, "ops-chat");
            assert!(TYPES.contains(&channel.type_name()));
            // The first pass read the same `type` the second pass accepted.
            let table: toml::Table = source.parse().expect("a loaded file is TOML");
            assert_eq!(table["type"].as_str(), Some(channel.type_name()));
            for (key, var) in channel.secret_vars() {
                assert!(key.ends_with("_env"));
                let _ = var;
            }
            // Reads environment variables (absent here) and parses addresses; sends nothing.
            for problem in channel.check_values(&Guard::default()) {
                assert!(problem.message.starts_with("channel `ops-chat`: "));
            }
        }
        Err(problem) => {
            assert!(problem.to_string().starts_with("error: "));
            if let Some(location) = problem.location {
                assert_eq!(location.file, path);
                assert!(location.line <= source.lines().count() + 1);
            }
        }
    }
});
