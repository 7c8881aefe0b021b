//! `crier approve KIND --by NAME`: record the sha256 of the kind's file and layouts.
//! A kind is approved only if it renders for every configured channel with its examples.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::ExitCode;

use anyhow::Context as _;

use crate::check;
use crate::cli::ApproveArgs;
use crate::diag::{Diagnostic, Diagnostics, Invalid};
use crate::template::{Fill, Incident};

pub fn run(config: Option<&Path>, args: &ApproveArgs) -> anyhow::Result<ExitCode> {
    let mut project = super::load_project(config)?;
    let now = super::now()?;
    let by = args.by.trim();
    if by.is_empty() || by.contains(['\r', '\n']) {
        return Err(Invalid::from(
            Diagnostic::new("`--by` must name who approves, on one line")
                .field("--by")
                .hint("use `--by \"Dana Ortiz (Comms)\"`"),
        )
        .into());
    }
    let mut problems = Diagnostics::default();
    let targets = check::target_formats(&project, &mut problems);
    let incident = Incident::sample(None, now);
    for name in &args.kinds {
        match project.engine.kind(name) {
            Ok(kind) => problems.extend(check::kind_with(
                &project,
                kind,
                &BTreeMap::new(),
                Fill::Examples,
                &incident,
                &targets,
                now,
            )),
            Err(d) => problems.push(d),
        }
    }
    if !problems.is_empty() {
        return Err(Invalid(problems).into());
    }
    for name in &args.kinds {
        let kind = &project.engine.kinds()[name];
        let approval = project
            .approvals
            .approve(&project.engine, kind, by, now)
            .clone();
        println!(
            "Approved `{name}`: {by} (sha256 {}…, covering {}).",
            &approval.sha256[..12],
            approval.files.join(", ")
        );
    }
    project
        .approvals
        .save()
        .with_context(|| format!("cannot write `{}`", project.approvals.path().display()))?;
    Ok(ExitCode::SUCCESS)
}
