//! `crier script KIND` / `crier script --incident ID`: the call script, from the same source
//! and values as the message — a rehearsal, or exactly what the latest update told customers.

use std::path::Path;
use std::process::ExitCode;

use crate::cli::ScriptArgs;
use crate::diag::{Diagnostic, Invalid};
use crate::project::Project;
use crate::script;
use crate::store::{self, Store};
use crate::template::{Fill, Incident, Inputs, Recipient, SlotValues, slots};

pub fn run(config: Option<&Path>, args: &ScriptArgs) -> anyhow::Result<ExitCode> {
    let project = super::load_project(config)?;
    let (kind, values, incident, now) = match &args.incident {
        Some(id) => super::runtime()?.block_on(from_journal(&project, id, args.kind.as_deref()))?,
        None => {
            let now = super::now()?;
            let kind = args.kind.clone().unwrap_or_default();
            let k = project.engine.kind(&kind).map_err(Invalid::from)?;
            // Staff read this aloud: real values only, never the examples.
            let values = super::slot_values(&project, k, &args.sample.sets, Fill::Defaults, now)?;
            (kind, values, super::sample_incident(&args.sample, now), now)
        }
    };
    let kind = project.engine.kind(&kind).map_err(Invalid::from)?;
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

/// The latest update of incident `id`: its kind, its values, the incident as it was told, its time.
async fn from_journal(
    project: &Project,
    id: &str,
    kind: Option<&str>,
) -> anyhow::Result<(String, SlotValues, Incident, jiff::Timestamp)> {
    let store = store::open(&project.config.store_url, &project.config.root).await?;
    let Some(update) = store.latest_update(Some(id)).await? else {
        return Err(Invalid::from(
            Diagnostic::new(format!("nothing has been sent for incident `{id}`"))
                .hint("for a rehearsal, name the kind instead: `crier script update --set …`"),
        )
        .into());
    };
    if let Some(k) = kind.filter(|k| *k != update.kind) {
        return Err(Invalid::from(
            Diagnostic::new(format!(
                "the latest update of `{id}` is `{}`, not `{k}`",
                update.kind
            ))
            .hint(format!("run `crier script --incident {id}`")),
        )
        .into());
    }
    let k = project.engine.kind(&update.kind).map_err(Invalid::from)?;
    let clock = project.clock(update.created_at);
    let values =
        slots::resolve(&k.name, &k.slots, &update.slots, Fill::Defaults, clock).map_err(Invalid)?;
    let incident = super::deliver::incident_before(&store, &update).await?;
    Ok((update.kind.clone(), values, incident, update.created_at))
}
