//! `crier approvals`: every kind and whether its wording is approved as it is now.

use std::path::Path;
use std::process::ExitCode;

use crate::cli::JsonArgs;

pub fn run(config: Option<&Path>, args: &JsonArgs) -> anyhow::Result<ExitCode> {
    let project = super::load_project(config)?;
    let states: Vec<_> = project
        .engine
        .kinds()
        .values()
        .map(|k| (k, project.approvals.state(&project.engine, k)))
        .collect();
    if args.json {
        let list: Vec<_> = states
            .iter()
            .map(|(k, s)| serde_json::json!({ "kind": k.name, "file": k.path, "approval": s }))
            .collect();
        println!("{}", serde_json::to_string_pretty(&list)?);
        return Ok(ExitCode::SUCCESS);
    }
    for (kind, state) in &states {
        println!("{}", super::approval_line(&kind.name, state));
    }
    let pending = states.iter().filter(|(_, s)| !s.is_approved()).count();
    if pending > 0 {
        println!("\n{}", super::unapproved_note(pending));
    }
    Ok(ExitCode::SUCCESS)
}
