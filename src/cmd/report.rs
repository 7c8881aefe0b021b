//! `crier report ID [--format markdown|html|json]`: the look-back report of one incident for
//! the post-incident review, as of now (or `CRIER_NOW`).

use std::path::Path;
use std::process::ExitCode;

use crate::cli::ReportArgs;
use crate::diag::{Diagnostic, Invalid};
use crate::report::{self, Format, Report};
use crate::store;

pub fn run(config: Option<&Path>, args: &ReportArgs) -> anyhow::Result<ExitCode> {
    let project = super::load_project(config)?;
    let now = super::now()?;
    super::runtime()?.block_on(async {
        let store = store::open(&project.config.store_url, &project.config.root).await?;
        let Some(report) = Report::load(&store, &args.incident, now).await? else {
            return Err(Invalid::from(
                Diagnostic::new(format!("there is no incident `{}`", args.incident))
                    .hint("`crier incident list` shows every incident crier knows"),
            )
            .into());
        };
        let tz = &project.config.time_zone;
        match args.format {
            Format::Markdown => print!("{}", report::markdown(&report, tz)),
            Format::Html => print!("{}", report::html(&report, tz)),
            Format::Json => println!("{}", serde_json::to_string_pretty(&report)?),
        }
        Ok(ExitCode::SUCCESS)
    })
}
