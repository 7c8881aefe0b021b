//! Message kinds and their rendering: one TOML file per kind is the single source of every
//! channel's wording and of the call script.
//!
//! Data flow: `kind` loads a file (strings kept with their place in the file) → `engine`
//! compiles every string with Tera → `slots` checks the operator's values → `context` builds
//! what templates see → `engine` renders a [`Message`] (Markdown body parsed once by `markdown`)
//! and a [`Script`] → channel adapters in `crate::channels` turn the message into each format.
//! `approval` says whether the kind's files are the ones that were approved.

pub mod approval;
pub mod context;
pub mod engine;
pub mod kind;
pub mod markdown;
pub mod slots;

/// The approvals file (read by `approval`): the one `*.toml` of the templates folder that is
/// not a kind, so the engine skips it. It lives here, below both.
pub const APPROVALS_FILE: &str = "approvals.toml";

pub use approval::{ApprovalState, Approvals};
pub use context::{Impact, Incident, Inputs, PastUpdate, Recipient, Status};
pub use engine::{Engine, Message, MessageView, Rendered, Script};
pub use kind::Kind;
pub use markdown::Markdown;
pub use slots::{Clock, Fill, SlotSpec, SlotType, SlotValues};
