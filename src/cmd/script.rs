//! `crier script KIND` / `crier script --incident ID`: the call script, from the same source
//! and values as the message — a rehearsal, or exactly what the latest update told customers.

use std::path::Path;
use std::process::ExitCode;

use crate::cli::ScriptArgs;
use crate::diag::{Diagnostic, Invalid};
use crate::project::Project;
use crate::script;
use crate::store::{self, Store};
use crate::template::Fill;

pub fn run(config: Option<&Path>, args: &ScriptArgs) -> anyhow::Result<ExitCode> {
    let project = super::load_project(config)?;
    let (text, approval, kind) = match &args.incident {
        Some(id) => super::runtime()?.block_on(from_journal(&project, id, args))?,
        None => rehearsal(&project, args)?,
    };
    if let Some(banner) = super::approval_banner(&kind, &approval) {
        eprintln!("warning: {banner}");
    }
    print!("{text}");
    Ok(ExitCode::SUCCESS)
}

/// The script of `KIND` with the operator's values and a sample incident, as of now.
fn rehearsal(
    project: &Project,
    args: &ScriptArgs,
) -> anyhow::Result<(String, crate::template::ApprovalState, String)> {
    let now = super::now()?;
    let kind = project
        .engine
        .kind(args.kind.as_deref().unwrap_or_default())
        .map_err(Invalid::from)?;
    // Staff read this aloud: real values only, never the examples.
    let values = super::slot_values(project, kind, &args.sample.sets, Fill::Defaults, now)?;
    let incident = super::sample_incident(&args.sample, now);
    let (text, approval) =
        script::of_kind(project, kind, &values.display, &incident, now, args.format)?;
    Ok((text, approval, kind.name.clone()))
}

/// The script of incident `id`'s latest update: its kind, its values, the incident as it was
/// told, its time.
async fn from_journal(
    project: &Project,
    id: &str,
    args: &ScriptArgs,
) -> anyhow::Result<(String, crate::template::ApprovalState, String)> {
    let store = store::open(&project.config.store_url, &project.config.root).await?;
    let Some(update) = store.latest_update(Some(id)).await? else {
        return Err(Invalid::from(
            Diagnostic::new(format!("nothing has been sent for incident `{id}`"))
                .hint("for a rehearsal, name the kind instead: `crier script update --set …`"),
        )
        .into());
    };
    if let Some(k) = args.kind.as_deref().filter(|k| *k != update.kind) {
        return Err(Invalid::from(
            Diagnostic::new(format!(
                "the latest update of `{id}` is `{}`, not `{k}`",
                update.kind
            ))
            .hint(format!("run `crier script --incident {id}`")),
        )
        .into());
    }
    let incident = store::incident_before(&store, &update).await?;
    let told = script::Told {
        kind: &update.kind,
        slots: &update.slots,
        at: update.created_at,
        incident: &incident,
    };
    let (text, approval) = script::of_update(project, told, args.format)?;
    Ok((text, approval, update.kind))
}
