//! crier: one approved source per message kind, rendered for every channel and for the call script.
//!
//! See `ARCHITECTURE.md` for the map of modules and how a message flows through them.

pub mod audience;
pub mod channels;
pub mod check;
pub mod cli;
pub mod cmd;
pub mod config;
pub mod delivery;
pub mod diag;
pub mod digest;
pub mod lifecycle;
pub mod network;
pub mod nudge;
pub mod preview;
pub mod project;
pub mod report;
pub mod schedule;
pub mod script;
pub mod secret;
pub mod server;
pub mod store;
pub mod template;
pub mod time;
pub mod toml_file;
