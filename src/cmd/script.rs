//! `crier script KIND`: the call script, from the same source and values as the message.

use std::path::Path;
use std::process::ExitCode;

use crate::cli::ScriptArgs;
use crate::diag::Invalid;
use crate::script;
use crate::template::{Fill, Inputs, Recipient};

pub fn run(config: Option<&Path>, args: &ScriptArgs) -> anyhow::Result<ExitCode> {
    let project = super::load_project(config)?;
    let now = super::now()?;
    let kind = project.engine.kind(&args.kind).map_err(Invalid::from)?;
    // Staff read this aloud: real values only, never the examples.
    let values = super::slot_values(&project, kind, &args.sample.sets, Fill::Defaults, now)?;
    let incident = super::sample_incident(&args.sample, now);
    let everyone = Recipient::default();
    let inputs = Inputs {
        incident: &incident,
        slots: &values.display,
        recipient: &everyone,
        company: &project.config.company,
        now,
        tz: &project.config.time_zone,
    };
    let rendered = project.engine.render(kind, &inputs).map_err(Invalid)?;
    let script = project
        .engine
        .render_script(kind, &inputs)
        .map_err(Invalid)?;
    let approval = project.approvals.state(&project.engine, kind);
    if let Some(banner) = super::approval_banner(&kind.name, &approval) {
        eprintln!("warning: {banner}");
    }
    let parts = script::Parts {
        kind: &kind.name,
        message: rendered.message_for("email"),
        script: &script,
        inputs,
        approval: &approval,
    };
    print!(
        "{}",
        script::render(&project.engine, &parts, args.format).map_err(Invalid::from)?
    );
    Ok(ExitCode::SUCCESS)
}
