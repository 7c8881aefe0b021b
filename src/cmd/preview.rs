//! `crier preview KIND`: the kind rendered for every channel format and the call script,
//! printed, written to a folder (`--out`), or as JSON.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::ExitCode;

use anyhow::Context as _;

use crate::channels::{FORMATS, Output};
use crate::cli::PreviewArgs;
use crate::diag::{Diagnostic, Invalid, backticked, closest};
use crate::preview;
use crate::template::Fill;

pub fn run(config: Option<&Path>, args: &PreviewArgs) -> anyhow::Result<ExitCode> {
    let project = super::load_project(config)?;
    let now = super::now()?;
    let kind = project.engine.kind(&args.kind).map_err(Invalid::from)?;
    let wanted = selection(args.channel.as_deref())?;
    let values = super::slot_values(&project, kind, &args.sample.sets, Fill::Examples, now)?;
    let incident = super::sample_incident(&args.sample, now);
    let (outputs, problems) = preview::outputs(&project, kind, &values, &incident, &wanted, now)?;
    let approval = project.approvals.state(&project.engine, kind);
    let banner = super::approval_banner(&kind.name, &approval);
    if let Some(banner) = &banner {
        eprintln!("warning: {banner}\n");
    }
    if args.json {
        let files: BTreeMap<&str, &str> = outputs
            .iter()
            .map(|o| (o.file, o.content.as_str()))
            .collect();
        let value = serde_json::json!({
            "kind": kind.name, "approval": approval, "files": files, "problems": problems,
        });
        println!("{}", serde_json::to_string_pretty(&value)?);
    } else if let Some(dir) = &args.out {
        write_all(dir, &outputs)?;
    } else {
        for o in &outputs {
            println!("──── {} ────\n{}", o.file, o.content.trim_end());
            println!();
        }
    }
    if problems.is_empty() {
        Ok(ExitCode::SUCCESS)
    } else {
        Err(Invalid(problems).into())
    }
}

/// The formats to show: all, or the one `--channel` names.
fn selection(channel: Option<&str>) -> Result<Vec<&'static str>, Invalid> {
    let all: Vec<&'static str> = FORMATS.iter().copied().chain(["call-script"]).collect();
    let Some(wanted) = channel else {
        return Ok(all);
    };
    if let Some(found) = all.iter().find(|f| **f == wanted) {
        return Ok(vec![found]);
    }
    let d = Diagnostic::new(format!(
        "`{wanted}` is not a channel type crier can preview"
    ))
    .field("--channel");
    Err(match closest(wanted, all.iter().copied()) {
        Some(best) => d.hint(format!("did you mean `{best}`?")),
        None => d.hint(format!("use one of {}", backticked(all.iter().copied()))),
    }
    .into())
}

fn write_all(dir: &Path, outputs: &[Output]) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create `{}`", dir.display()))?;
    for o in outputs {
        let path = dir.join(o.file);
        std::fs::write(&path, &o.content)
            .with_context(|| format!("cannot write `{}`", path.display()))?;
    }
    println!("Wrote {} files to {}:", outputs.len(), dir.display());
    for o in outputs {
        println!("  {}", dir.join(o.file).display());
    }
    Ok(())
}
