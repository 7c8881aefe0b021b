//! `crier check`: validate the whole project and render every kind for every configured channel.

use std::path::Path;
use std::process::ExitCode;

use crate::check;
use crate::cli::CheckArgs;
use crate::diag::Invalid;

pub fn run(config: Option<&Path>, args: &CheckArgs) -> anyhow::Result<ExitCode> {
    let project = super::load_project(config)?;
    let (reports, problems) = check::project(&project, super::now()?);
    let allowed: Vec<String> = project
        .config
        .network
        .allowed()
        .iter()
        .map(ToString::to_string)
        .collect();
    if args.json {
        let network = serde_json::json!({ "allow_private": allowed });
        let value = serde_json::json!({ "ok": problems.is_empty(), "kinds": reports, "problems": problems, "network": network });
        println!("{}", serde_json::to_string_pretty(&value)?);
        return Ok(if problems.is_empty() {
            ExitCode::SUCCESS
        } else {
            ExitCode::from(super::BAD_INPUT)
        });
    }
    if !problems.is_empty() {
        return Err(Invalid(problems).into());
    }
    let channels: Vec<&str> = project.channels.iter().map(|c| c.name.as_str()).collect();
    for r in &reports {
        println!("{}", super::approval_line(&r.kind, &r.approval));
    }
    println!(
        "\nAll {} kinds render for {} ({}). Nothing was sent.",
        reports.len(),
        if channels.is_empty() {
            "no configured channels".to_string()
        } else {
            channels.join(", ")
        },
        reports
            .first()
            .map(|r| r.formats.join(", "))
            .unwrap_or_default()
    );
    if !allowed.is_empty() {
        eprintln!(
            "note: `[network] allow_private` lets the web channels reach {} on purpose; every other internal address is refused.",
            allowed.join(", ")
        );
    }
    let unapproved = reports.iter().filter(|r| !r.approval.is_approved()).count();
    if unapproved > 0 {
        eprintln!("note: {}", super::unapproved_note(unapproved));
    }
    Ok(ExitCode::SUCCESS)
}
