//! A crier project on disk: `crier.toml`, its kinds and layouts, its approvals and its channels,
//! loaded together so every problem in any of them is reported at once.

use std::path::Path;

use crate::channels::{self, Channel};
use crate::config::Config;
use crate::diag::Diagnostics;
use crate::template::{Approvals, Clock, Engine, Kind, SlotType};

/// The slot of a kind that says when the next update comes, when it is a `time` slot.
pub const NEXT_UPDATE_SLOT: &str = "next_update";

/// Everything `crier.toml` points at, loaded and checked.
#[derive(Debug)]
pub struct Project {
    pub config: Config,
    pub engine: Engine,
    pub approvals: Approvals,
    pub channels: Vec<Channel>,
}

impl Project {
    /// Load the project whose configuration is at `config_path`, collecting every problem.
    pub fn load(config_path: &Path) -> Result<Project, Diagnostics> {
        let config = Config::load(config_path)?;
        let mut problems = Diagnostics::default();
        let engine = Engine::load(&config.templates_dir, &channels::OVERRIDABLE);
        let approvals = Approvals::load(&config.templates_dir);
        let channels = channels::load_dir(&config.channels_dir);
        let engine = engine.map_err(|e| problems.extend(e)).ok();
        let approvals = approvals.map_err(|d| problems.push(d)).ok();
        let channels = channels.map_err(|e| problems.extend(e)).ok();
        match (engine, approvals, channels) {
            (Some(engine), Some(approvals), Some(channels)) if problems.is_empty() => Ok(Project {
                config,
                engine,
                approvals,
                channels,
            }),
            _ => Err(problems),
        }
    }

    /// The clock values are read and shown with.
    pub fn clock(&self, now: jiff::Timestamp) -> Clock<'_> {
        Clock {
            now,
            tz: &self.config.time_zone,
        }
    }

    /// Fill `kind`'s `next_update` slot with `[promises] default` from now (`+3600s`) when
    /// neither `given` nor the slot's default says when the next update comes: a blast that names
    /// no next update promises the default, and its message says so. Whether it filled it.
    pub fn promise_default(
        &self,
        kind: &Kind,
        given: &mut std::collections::BTreeMap<String, String>,
    ) -> bool {
        let open = kind
            .slots
            .get(NEXT_UPDATE_SLOT)
            .is_some_and(|s| s.ty == SlotType::Time && s.default.is_none());
        if !open || given.contains_key(NEXT_UPDATE_SLOT) {
            return false;
        }
        let secs = self.config.promises.default.as_secs();
        given.insert(NEXT_UPDATE_SLOT.to_string(), format!("+{secs}s"));
        true
    }

    /// The configured channels that reach customers (not `internal`).
    pub fn customer_channels(&self) -> impl Iterator<Item = &Channel> {
        self.channels.iter().filter(|c| !c.is_internal())
    }
}
