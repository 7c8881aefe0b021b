//! `crier incident list` and `crier incident show ID`: the incidents in the journal and the
//! timeline of one, update by update, with what each update reached on every channel.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::ExitCode;

use serde::Serialize;

use crate::cli::{IncidentCommand, ListArgs, ShowArgs};
use crate::diag::{Diagnostic, Invalid};
use crate::project::Project;
use crate::store::{self, Counts, IncidentRow, Store, Update};
use crate::time::display_moment;

pub fn run(config: Option<&Path>, command: &IncidentCommand) -> anyhow::Result<ExitCode> {
    let project = super::load_project(config)?;
    super::runtime()?.block_on(async {
        let store = store::open(&project.config.store_url, &project.config.root).await?;
        match command {
            IncidentCommand::List(args) => list(&project, &store, args).await,
            IncidentCommand::Show(args) => show(&project, &store, args).await,
        }
    })
}

/// One incident in `crier incident list --json`.
#[derive(Serialize)]
struct Listed {
    #[serde(flatten)]
    incident: IncidentRow,
    updates: usize,
    last_update_at: Option<jiff::Timestamp>,
}

async fn list<S: Store>(project: &Project, store: &S, args: &ListArgs) -> anyhow::Result<ExitCode> {
    let mut listed = Vec::new();
    for incident in store.incidents().await? {
        let updates = store.updates(&incident.id).await?;
        listed.push(Listed {
            last_update_at: updates.last().map(|u| u.created_at),
            updates: updates.len(),
            incident,
        });
    }
    if args.json {
        println!("{}", serde_json::to_string_pretty(&listed)?);
        return Ok(ExitCode::SUCCESS);
    }
    if listed.is_empty() {
        println!(
            "No incidents yet. Send the first notice with `crier blast outage-notice --incident ID --title \"…\"`."
        );
        return Ok(ExitCode::SUCCESS);
    }
    let (now, tz) = (super::now()?, &project.config.time_zone);
    println!(
        "{:<14} {:<13} {:<8} {:<24} {:>7}  title",
        "incident", "status", "impact", "started", "updates"
    );
    for l in &listed {
        let i = &l.incident;
        println!(
            "{:<14} {:<13} {:<8} {:<24} {:>7}  {}",
            i.id,
            i.status.as_str(),
            i.impact.as_str(),
            display_moment(i.started_at, now, tz),
            l.updates,
            i.title
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// One update in `crier incident show ID --json`: the update and its deliveries per channel.
#[derive(Serialize)]
struct Shown {
    #[serde(flatten)]
    update: Update,
    deliveries: BTreeMap<String, Counts>,
}

async fn show<S: Store>(project: &Project, store: &S, args: &ShowArgs) -> anyhow::Result<ExitCode> {
    let Some(incident) = store.incident(&args.incident).await? else {
        return Err(Invalid::from(
            Diagnostic::new(format!("there is no incident `{}`", args.incident))
                .hint("`crier incident list` shows every incident crier knows"),
        )
        .into());
    };
    let mut timeline = Vec::new();
    for update in store.updates(&incident.id).await? {
        let deliveries = store.counts(update.id).await?;
        timeline.push(Shown { update, deliveries });
    }
    if args.json {
        let schedules = store.schedules(Some(&incident.id)).await?;
        let value = serde_json::json!({ "incident": incident, "updates": timeline, "schedules": schedules });
        println!("{}", serde_json::to_string_pretty(&value)?);
        return Ok(ExitCode::SUCCESS);
    }
    let (now, tz) = (super::now()?, &project.config.time_zone);
    println!("{} — {}", incident.id, incident.title);
    let resolved = incident
        .resolved_at
        .map(|t| format!(", resolved {}", display_moment(t, now, tz)))
        .unwrap_or_default();
    println!(
        "  {}, {} impact, started {}{resolved}",
        incident.status.as_str(),
        incident.impact.as_str(),
        display_moment(incident.started_at, now, tz)
    );
    if !incident.components.is_empty() {
        println!("  components: {}", incident.components.join(", "));
    }
    for Shown {
        update: u,
        deliveries,
    } in &timeline
    {
        println!(
            "\n#{} {} ({}) — {} by {}",
            u.seq,
            u.kind,
            u.status,
            display_moment(u.created_at, now, tz),
            u.sent_by
        );
        println!("  {}", u.headline);
        let short = u.content_sha256.get(..12).unwrap_or(&u.content_sha256);
        println!("  wording approved by {} (sha256 {short}…)", u.approved_by);
        if !u.slots.is_empty() {
            let values: Vec<String> = u.slots.iter().map(|(k, v)| format!("{k}={v}")).collect();
            println!("  values: {}", values.join(", "));
        }
        if let Some(at) = u.next_update_at {
            println!(
                "  promised the next update for {}",
                display_moment(at, now, tz)
            );
        }
        for (channel, c) in deliveries {
            println!(
                "  {channel:<16} {} sent, {} failed, {} not sent yet",
                c.sent,
                c.undelivered(),
                c.unsent()
            );
        }
    }
    if timeline.is_empty() {
        println!("\nNothing has been sent for this incident yet.");
    }
    let schedules = store.schedules(Some(&incident.id)).await?;
    if !schedules.is_empty() {
        println!("\nScheduled:");
        for s in &schedules {
            println!("  {}", super::schedule::line(s, now, tz));
        }
    }
    Ok(ExitCode::SUCCESS)
}
