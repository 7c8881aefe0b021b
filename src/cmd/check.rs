//! `crier check`: validate the whole project and render every kind for every configured channel.

use std::path::Path;
use std::process::ExitCode;

use crate::check;
use crate::cli::CheckArgs;
use crate::diag::Invalid;

pub fn run(config: Option<&Path>, args: &CheckArgs) -> anyhow::Result<ExitCode> {
    let project = super::load_project(config)?;
    let (reports, problems) = check::project(&project, super::now()?);
    if args.json {
        let value = serde_json::json!({ "ok": problems.is_empty(), "kinds": reports, "problems": problems });
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
    let unapproved = reports.iter().filter(|r| !r.approval.is_approved()).count();
    if unapproved > 0 {
        eprintln!("note: {}", super::unapproved_note(unapproved));
    }
    Ok(ExitCode::SUCCESS)
}
