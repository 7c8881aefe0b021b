//! `crier init [DIR]`: write a working project. The files are the ones this repository runs
//! on (it is itself a crier project), built into the binary; the five kinds are approved by
//! `crier init` so the new project can blast at once.

use std::path::Path;
use std::process::ExitCode;

use anyhow::Context as _;

use crate::cli::InitArgs;
use crate::diag::{Diagnostic, Invalid};
use crate::project::Project;

/// Every file of a new project: path relative to DIR, contents.
const FILES: &[(&str, &str)] = &[
    ("crier.toml", include_str!("../../crier.toml")),
    ("audience.csv", include_str!("../../audience.csv")),
    (
        "templates/outage-notice.toml",
        include_str!("../../templates/outage-notice.toml"),
    ),
    (
        "templates/update.toml",
        include_str!("../../templates/update.toml"),
    ),
    (
        "templates/apology.toml",
        include_str!("../../templates/apology.toml"),
    ),
    (
        "templates/resolution-thanks.toml",
        include_str!("../../templates/resolution-thanks.toml"),
    ),
    (
        "templates/follow-up.toml",
        include_str!("../../templates/follow-up.toml"),
    ),
    (
        "templates/layouts/email.html",
        include_str!("../../templates/layouts/email.html"),
    ),
    (
        "templates/layouts/call-script.html",
        include_str!("../../templates/layouts/call-script.html"),
    ),
    (
        "channels/file.toml",
        include_str!("../../channels/file.toml"),
    ),
    (
        "channels/examples/README.md",
        include_str!("../../channels/examples/README.md"),
    ),
    (
        "channels/examples/email.toml",
        include_str!("../../channels/examples/email.toml"),
    ),
    (
        "channels/examples/slack.toml",
        include_str!("../../channels/examples/slack.toml"),
    ),
    (
        "channels/examples/teams.toml",
        include_str!("../../channels/examples/teams.toml"),
    ),
    (
        "channels/examples/discord.toml",
        include_str!("../../channels/examples/discord.toml"),
    ),
    (
        "channels/examples/mattermost.toml",
        include_str!("../../channels/examples/mattermost.toml"),
    ),
    (
        "channels/examples/google-chat.toml",
        include_str!("../../channels/examples/google-chat.toml"),
    ),
    (
        "channels/examples/intercom.toml",
        include_str!("../../channels/examples/intercom.toml"),
    ),
    (
        "channels/examples/webhook.toml",
        include_str!("../../channels/examples/webhook.toml"),
    ),
    (
        "channels/examples/widget.toml",
        include_str!("../../channels/examples/widget.toml"),
    ),
    ("docs/writing.md", include_str!("../../docs/writing.md")),
    (".gitignore", "/outbox\n/crier.db*\n/out\n"),
];

/// Who the kinds of a new project are approved by.
pub const APPROVER: &str = "crier init";

pub fn run(args: &InitArgs) -> anyhow::Result<ExitCode> {
    let dir = &args.dir;
    let config = dir.join(crate::config::FILE_NAME);
    if config.exists() {
        return Err(Invalid::from(
            Diagnostic::new(format!("`{}` already exists", config.display()))
                .hint("crier init never overwrites a project; pick a new folder, like `crier init status-comms`"),
        )
        .into());
    }
    for (path, contents) in FILES {
        write(&dir.join(path), contents)?;
    }
    let mut project = Project::load(&config).map_err(Invalid)?;
    let now = super::now()?;
    let kinds: Vec<_> = project.engine.kinds().keys().cloned().collect();
    for name in &kinds {
        let kind = &project.engine.kinds()[name];
        project
            .approvals
            .approve(&project.engine, kind, APPROVER, now);
    }
    project
        .approvals
        .save()
        .context("cannot write the approvals")?;
    let shown = dir.display();
    println!(
        "Created a crier project in {shown} with {} approved kinds: {}.",
        kinds.len(),
        kinds.join(", ")
    );
    println!("\nNext:");
    if dir != Path::new(".") {
        println!("  cd {shown}");
    }
    println!("  crier check                      # everything renders, nothing is sent");
    println!("  crier preview update --out out/  # every channel's rendering, one file each");
    println!(
        "  crier script outage-notice --set affected=\"complete a checkout\" --set next_update=\"in 30 minutes\""
    );
    println!(
        "\nEdit crier.toml (company, time zone) and templates/*.toml, then `crier approve KIND --by NAME`."
    );
    println!("To add a real channel, copy a file from channels/examples/ into channels/.");
    Ok(ExitCode::SUCCESS)
}

fn write(path: &Path, contents: &str) -> anyhow::Result<()> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("cannot create `{}`", parent.display()))?;
    }
    std::fs::write(path, contents).with_context(|| format!("cannot write `{}`", path.display()))
}
