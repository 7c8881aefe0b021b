//! `crier blast KIND --incident ID`: preflight (every problem listed, nothing sent), a summary
//! and a confirmation, then plan and send with live progress, then the per-channel summary.
//! Re-running the same command finds the same update and continues it.

use std::io::{BufRead, IsTerminal, Write};
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;

use super::deliver::{self, Delivery};
use crate::audience;
use crate::channels::Channel;
use crate::cli::BlastArgs;
use crate::delivery::blast::{settings, stop_on_signals};
use crate::delivery::plan;
use crate::delivery::request::{Ready, Request, preflight};
use crate::diag::Invalid;
use crate::lifecycle::Change;
use crate::project::Project;
use crate::store::{self, Store, Told};
use crate::template::slots;
use crate::time;

pub fn run(config: Option<&Path>, args: &BlastArgs) -> anyhow::Result<ExitCode> {
    let project = Arc::new(super::load_project(config)?);
    super::runtime()?.block_on(blast(project, args))
}

/// The request `args` make.
fn request(args: &BlastArgs) -> Result<Request, Invalid> {
    Ok(Request {
        kind: args.kind.clone(),
        incident: args.incident.clone(),
        title: args.title.clone(),
        status: args.status,
        impact: args.impact,
        slots: slots::parse_assignments(&args.sets).map_err(Invalid)?,
        audience: args.audience.clone(),
        channels: args.channels.clone(),
        next_update_in: args.next_update_in.clone(),
        follow_up_slots: slots::parse_assignments(&args.follow_up_sets).map_err(Invalid)?,
        no_follow_up: args.no_follow_up,
        scheduled: false,
        sent_by: super::actor(),
        source: None,
    })
}

async fn blast(project: Arc<Project>, args: &BlastArgs) -> anyhow::Result<ExitCode> {
    let now = super::now()?;
    let store = Arc::new(store::open(&project.config.store_url, &project.config.root).await?);
    let existing = store.incident(&args.incident).await?;
    let ready = preflight(&project, &request(args)?, existing.as_ref(), now)?;
    if args.dry_run {
        return dry_run(&project, &ready, args, now);
    }
    if !args.yes && std::io::stdin().is_terminal() && !confirm(&project, &ready, args, now)? {
        println!("Nothing was sent.");
        return Ok(ExitCode::SUCCESS);
    }
    let told = store.tell(ready.telling(), now).await?;
    let update = told.update.clone();
    if told.continued {
        eprintln!(
            "Continuing update {} of {} (the same command ran before).",
            update.seq, update.incident_id
        );
    } else {
        print_effects(&project, &ready, &told, now);
    }
    let detail = serde_json::json!({ "kind": update.kind, "seq": update.seq, "channels": update.channels, "audience": update.audience });
    store
        .audit(&super::actor(), "blast", &detail.to_string(), now)
        .await?;
    if args.plan_only {
        return plan_only(&project, &store, &update, &ready).await;
    }
    let counts = store.counts(update.id).await?;
    if update.planned && !counts.is_empty() && counts.values().all(|c| c.finished()) {
        println!(
            "Update {} of {} was already sent; nothing new to send.",
            update.seq, update.incident_id
        );
        println!("See it with `crier status {}`.", update.incident_id);
        return Ok(ExitCode::SUCCESS);
    }
    deliver::deliver(Delivery {
        project: project.clone(),
        store,
        update,
        channels: ready.channels.clone(),
        plan: true,
        stop: stop_on_signals(),
        counted: Some(counts),
        attended: true,
    })
    .await
}

/// `--plan-only`: write every journal row, send nothing.
async fn plan_only(
    project: &Project,
    store: &store::sqlite::SqliteStore,
    update: &store::Update,
    ready: &Ready,
) -> anyhow::Result<ExitCode> {
    let reader = audience::open(&project.config.audience_path)
        .map_err(Invalid::from)?
        .segment(update.audience.clone());
    let channels: Vec<&Channel> = ready.channels.iter().collect();
    let planned = plan::plan(store, update, &channels, reader, |_, _| {}).await?;
    println!(
        "Planned update {} of {}: {} messages for {} recipients ({} rows not usable, {} duplicate ids). Nothing was sent.",
        update.seq,
        update.incident_id,
        planned.rows,
        planned.members,
        planned.bad_rows,
        planned.duplicates
    );
    println!("Send it with `crier resume {}`.", update.incident_id);
    Ok(ExitCode::SUCCESS)
}

/// How many messages each channel would send, and how long the rate limits make it take.
fn estimate(
    project: &Project,
    ready: &Ready,
    args: &BlastArgs,
) -> anyhow::Result<Vec<(String, u64, f64)>> {
    let reader = audience::open(&project.config.audience_path)
        .map_err(Invalid::from)?
        .segment(args.audience.clone());
    let mut counts: Vec<u64> = ready
        .channels
        .iter()
        .map(|c| u64::from(plan::for_everyone(c)))
        .collect();
    for member in reader.flatten() {
        for (i, c) in ready.channels.iter().enumerate() {
            if plan::per_recipient(c) && plan::reaches(c, &member) {
                counts[i] += 1;
            }
        }
    }
    Ok(ready
        .channels
        .iter()
        .zip(counts)
        .map(|(c, n)| {
            let secs = settings(c).per_second.map_or(0.0, |r| n as f64 / r);
            (c.name.clone(), n, secs)
        })
        .collect())
}

/// What the update did to the incident: its status, the promise, schedules made or cancelled.
fn print_effects(project: &Project, ready: &Ready, told: &Told, now: jiff::Timestamp) {
    let tz = &project.config.time_zone;
    let id = &ready.incident.id;
    if let Some(line) = status_line(id, ready.change) {
        println!("{line}");
    }
    for s in &told.cancelled {
        println!(
            "The {} scheduled for {} (schedule {}) is cancelled: the incident is open again.",
            s.kind,
            time::display_moment(s.due_at, now, tz),
            s.id
        );
    }
    if let Some(s) = &told.scheduled {
        println!(
            "The {} is scheduled for {} (schedule {}, `follow_up_after = \"{}\"`); `crier schedule cancel {}` to call it off.",
            s.kind,
            time::display_moment(s.due_at, now, tz),
            s.id,
            s.typed,
            s.id
        );
    }
    if let Some(at) = ready.next_update_at {
        println!(
            "Next update promised for {}; `crier worker` reminds the people on duty.",
            time::display_moment(at, now, tz)
        );
    }
}

/// How the status changes, in a sentence (nothing when it stays).
fn status_line(id: &str, change: Change) -> Option<String> {
    match change {
        Change::Opens(s) => Some(format!("{id} is open: {}.", s.as_str())),
        Change::Stays(_) => None,
        Change::Moves { from, to } => Some(format!("{id}: {} → {}.", from.as_str(), to.as_str())),
        Change::Resolves { from } => Some(format!("{id}: {} → resolved.", from.as_str())),
        Change::Reopens { to } => Some(format!(
            "{id} was resolved and is reopened: {}.",
            to.as_str()
        )),
    }
}

fn print_estimate(
    project: &Project,
    ready: &Ready,
    args: &BlastArgs,
    now: jiff::Timestamp,
) -> anyhow::Result<()> {
    println!(
        "`{}` to incident {} ({}), approved ({}).",
        ready.kind.name,
        ready.incident.id,
        ready.incident.title,
        ready.approval.label()
    );
    if let Some(line) = status_line(&ready.incident.id, ready.change) {
        println!("{line}");
    }
    if let Some(s) = &ready.follow_up {
        println!(
            "Schedules the {} for {}.",
            s.kind,
            time::display_moment(s.due_at, now, &project.config.time_zone)
        );
    }
    if let Some(seg) = &args.audience {
        println!(
            "Audience: segment `{seg}` of {}.",
            project.config.audience_path.display()
        );
    }
    for (name, n, secs) in estimate(project, ready, args)? {
        println!("  {name:<16} {n:>7} messages  (about {})", duration(secs));
    }
    Ok(())
}

fn duration(secs: f64) -> String {
    match secs {
        s if s < 1.0 => "under a second".into(),
        s if s < 90.0 => format!("{} s", s.ceil()),
        s if s < 5400.0 => format!("{} min", (s / 60.0).ceil()),
        s => format!("{:.1} h", s / 3600.0),
    }
}

fn dry_run(
    project: &Project,
    ready: &Ready,
    args: &BlastArgs,
    now: jiff::Timestamp,
) -> anyhow::Result<ExitCode> {
    print_estimate(project, ready, args, now)?;
    println!("\nDry run: everything checks out; nothing was planned or sent.");
    Ok(ExitCode::SUCCESS)
}

fn confirm(
    project: &Project,
    ready: &Ready,
    args: &BlastArgs,
    now: jiff::Timestamp,
) -> anyhow::Result<bool> {
    print_estimate(project, ready, args, now)?;
    print!("\nSend now? [y/N] ");
    std::io::stdout().flush()?;
    let mut answer = String::new();
    std::io::stdin().lock().read_line(&mut answer)?;
    Ok(matches!(answer.trim(), "y" | "Y" | "yes" | "Yes"))
}
