//! Approvals: `templates/approvals.toml` records, per kind, the sha256 of the kind file and the
//! layouts it is rendered into, who approved it and when. A kind whose files changed since is
//! "changed since approval", and `blast` refuses it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::APPROVALS_FILE;
use super::engine::Engine;
use super::kind::Kind;
use crate::diag::Diagnostic;
use crate::digest::Sha256;
use crate::toml_file;

/// One recorded approval.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Approval {
    /// sha256 (hex) over the kind file and its layouts, see [`digest`].
    pub sha256: String,
    pub approved_by: String,
    /// RFC 3339, UTC.
    pub approved_at: String,
    /// The files the digest covers, relative to the templates folder.
    pub files: Vec<String>,
}

/// Where a kind stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum ApprovalState {
    Approved { by: String, at: String },
    ChangedSinceApproval { by: String, at: String },
    NeverApproved,
}

impl ApprovalState {
    pub fn is_approved(&self) -> bool {
        matches!(self, ApprovalState::Approved { .. })
    }

    /// A short label: "approved by Dana on 2026-11-26".
    pub fn label(&self) -> String {
        match self {
            ApprovalState::Approved { by, at } => format!("approved by {by} at {at}"),
            ApprovalState::ChangedSinceApproval { by, at } => {
                format!("changed since {by} approved it at {at}")
            }
            ApprovalState::NeverApproved => "never approved".into(),
        }
    }
}

/// The approvals of a project.
#[derive(Debug, Clone)]
pub struct Approvals {
    path: PathBuf,
    entries: BTreeMap<String, Approval>,
}

impl Approvals {
    /// Read `approvals.toml` in `templates_dir`; a missing file means nothing is approved.
    pub fn load(templates_dir: &Path) -> Result<Approvals, Diagnostic> {
        let path = templates_dir.join(APPROVALS_FILE);
        let entries = if path.exists() {
            let source = toml_file::read(&path)?;
            toml_file::parse(&path, &source)?
        } else {
            BTreeMap::new()
        };
        Ok(Approvals { path, entries })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The recorded approval of `kind`, if any.
    pub fn get(&self, kind: &str) -> Option<&Approval> {
        self.entries.get(kind)
    }

    /// Whether `kind`'s files still match its approval.
    pub fn state(&self, engine: &Engine, kind: &Kind) -> ApprovalState {
        match self.entries.get(&kind.name) {
            None => ApprovalState::NeverApproved,
            Some(a) if a.sha256 == digest(engine, kind).0 => ApprovalState::Approved {
                by: a.approved_by.clone(),
                at: a.approved_at.clone(),
            },
            Some(a) => ApprovalState::ChangedSinceApproval {
                by: a.approved_by.clone(),
                at: a.approved_at.clone(),
            },
        }
    }

    /// Record that `by` approved `kind` as its files are now, at `now`.
    pub fn approve(
        &mut self,
        engine: &Engine,
        kind: &Kind,
        by: &str,
        now: jiff::Timestamp,
    ) -> &Approval {
        let (sha256, files) = digest(engine, kind);
        let approval = Approval {
            sha256,
            approved_by: by.to_string(),
            approved_at: crate::time::rfc3339(now),
            files,
        };
        self.entries.insert(kind.name.clone(), approval);
        &self.entries[&kind.name]
    }

    /// Write the file back.
    pub fn save(&self) -> std::io::Result<()> {
        let body = toml::to_string(&self.entries).map_err(std::io::Error::other)?;
        let text = format!(
            "# Written by `crier approve KIND --by NAME`. Do not edit by hand: crier compares the\n\
             # sha256 of each kind's file and layouts with what was approved, and refuses to blast\n\
             # wording that changed since.\n\n{body}"
        );
        std::fs::write(&self.path, text)
    }
}

/// The sha256 (hex) over `kind`'s file and every layout, and the file names it covers.
/// Each file contributes its name, its length and its bytes, so no two sets of files collide.
pub fn digest(engine: &Engine, kind: &Kind) -> (String, Vec<String>) {
    let mut hasher = Sha256::new();
    let mut files = Vec::new();
    let kind_name = format!("{}.toml", kind.name);
    let mut add = |name: &str, bytes: &[u8]| {
        hasher.update(name.as_bytes());
        hasher.update(&[0]);
        hasher.update(&(bytes.len() as u64).to_le_bytes());
        hasher.update(bytes);
        files.push(name.to_string());
    };
    add(&kind_name, kind.source.as_bytes());
    for (name, _, bytes) in engine.layouts() {
        add(&format!("layouts/{name}"), bytes);
    }
    (hasher.hex(32), files)
}

/// The error `blast` gives for a kind that is not approved as it is now.
pub fn refusal(kind: &Kind, state: &ApprovalState, approvals_path: &Path) -> Option<Diagnostic> {
    let fix = format!(
        "have the wording reviewed, then run `crier approve {} --by NAME`",
        kind.name
    );
    match state {
        ApprovalState::Approved { .. } => None,
        ApprovalState::ChangedSinceApproval { by, at } => Some(
            Diagnostic::new(format!(
                "`{}` changed since {by} approved it at {at}",
                kind.path.display()
            ))
            .in_file(approvals_path)
            .field(kind.name.clone())
            .hint(fix),
        ),
        ApprovalState::NeverApproved => Some(
            Diagnostic::new(format!("`{}` has never been approved", kind.path.display()))
                .in_file(approvals_path)
                .field(kind.name.clone())
                .hint(fix),
        ),
    }
}
