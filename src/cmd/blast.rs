//! `crier blast KIND --incident ID`: preflight (every problem listed, nothing sent), a summary
//! and a confirmation, then plan and send with live progress, then the per-channel summary.
//! Re-running the same command finds the same update and continues it.

use std::io::{BufRead, IsTerminal, Write};
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;

use super::deliver;
use super::stop_on_signals;
use crate::audience;
use crate::channels::Channel;
use crate::cli::BlastArgs;
use crate::delivery::blast::settings;
use crate::delivery::plan;
use crate::delivery::rehearsal::{self, Rehearsal};
use crate::delivery::request::{Ready, Request, preflight};
use crate::delivery::run::Delivery;
use crate::diag::{Diagnostic, Invalid};
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
    let ask = !args.yes && std::io::stdin().is_terminal();
    let rehearsal = if args.dry_run || args.strict || ask {
        Some(rehearse(&project, &ready, args)?)
    } else {
        None
    };
    if let Some(r) = &rehearsal {
        if args.dry_run || ask {
            print_estimate(&project, &ready, args, r, now);
        }
        if args.strict && !r.clean() {
            return Err(strict_refusal(&project, r).into());
        }
        if args.dry_run {
            return Ok(dry_run(r));
        }
        if ask && !confirm()? {
            println!("Nothing was sent.");
            return Ok(ExitCode::SUCCESS);
        }
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
    if args.plan_only || args.enqueue_only {
        plan_only(&project, &store, &update, &ready).await?;
        if args.enqueue_only {
            store.enqueue(update.id).await?;
            println!(
                "Left to the workers: every `crier worker` on this journal sends it now (start one with `crier worker` if none runs)."
            );
        } else {
            println!(
                "Nothing was sent. Send it with `crier resume {}`.",
                update.incident_id
            );
        }
        println!(
            "Follow it with `crier status {}` (and `/metrics` of `crier serve`).",
            update.incident_id
        );
        return Ok(ExitCode::SUCCESS);
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
        wait_retries: true,
        progress: None, // `deliver` shows it
    })
    .await
}

/// `--plan-only`, `--enqueue-only`: write every journal row, send nothing.
async fn plan_only(
    project: &Project,
    store: &store::Backend,
    update: &store::Update,
    ready: &Ready,
) -> anyhow::Result<()> {
    let reader = audience::open(&project.config.audience_path)
        .map_err(Invalid::from)?
        .segment(update.audience.clone());
    let channels: Vec<&Channel> = ready.channels.iter().collect();
    let planned = plan::plan(store, update, &channels, reader, |_, _| {}).await?;
    if update.planned {
        println!(
            "Update {} of {} was planned before.",
            update.seq, update.incident_id
        );
    } else {
        println!(
            "Planned update {} of {}: {} messages for {} recipients ({} rows not usable, {} duplicate ids).",
            update.seq,
            update.incident_id,
            planned.rows,
            planned.members,
            planned.bad_rows,
            planned.duplicates
        );
    }
    Ok(())
}

/// The audience read once for the channels of `ready`: messages, unusable rows, refused addresses.
fn rehearse(project: &Project, ready: &Ready, args: &BlastArgs) -> anyhow::Result<Rehearsal> {
    let reader = audience::open(&project.config.audience_path)
        .map_err(Invalid::from)?
        .segment(args.audience.clone());
    Ok(rehearsal::rehearse(
        &ready.channels,
        reader,
        &project.config.network,
    ))
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

/// What the blast will do: the kind, the status change, the messages per channel and how long
/// the rate limits make them take, and every problem the audience has.
fn print_estimate(
    project: &Project,
    ready: &Ready,
    args: &BlastArgs,
    rehearsal: &Rehearsal,
    now: jiff::Timestamp,
) {
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
    for (channel, (name, n)) in ready.channels.iter().zip(&rehearsal.messages) {
        let secs = settings(channel).per_second.map_or(0.0, |r| *n as f64 / r);
        println!("  {name:<16} {n:>7} messages  (about {})", duration(secs));
    }
    let more = |total: u64, shown: usize| {
        if total > shown as u64 {
            println!("  … and {} more", total - shown as u64);
        }
    };
    if rehearsal.bad_total > 0 {
        println!(
            "\n{} cannot be used: skipped by the blast, listed by `crier status`:",
            time::plural(rehearsal.bad_total, "audience row")
        );
        for bad in &rehearsal.bad_rows {
            println!("  {bad}");
        }
        more(rehearsal.bad_total, rehearsal.bad_rows.len());
    }
    if rehearsal.refused_total > 0 {
        println!(
            "\n{} would go to an internal address; each fails without being sent:",
            time::plural(rehearsal.refused_total, "message")
        );
        for r in &rehearsal.refused {
            println!(
                "  row {} (`{}`) on `{}`: {}",
                r.row, r.id, r.channel, r.refused
            );
        }
        more(rehearsal.refused_total, rehearsal.refused.len());
    }
}

/// `--strict` with problems in the audience: each one named, nothing sent.
fn strict_refusal(project: &Project, rehearsal: &Rehearsal) -> Invalid {
    let path = &project.config.audience_path;
    let mut problems = crate::diag::Diagnostics::default();
    for bad in &rehearsal.bad_rows {
        problems.push(
            Diagnostic::new(bad.to_string())
                .in_file(path)
                .field(bad.field.clone()),
        );
    }
    for r in &rehearsal.refused {
        problems.push(
            Diagnostic::new(format!("row {} (`{}`): {}", r.row, r.id, r.refused))
                .in_file(path)
                .field("webhook_url"),
        );
    }
    problems.push(
        Diagnostic::new(format!(
            "`--strict`: {} cannot be used and {} would go to an internal address; nothing was sent",
            time::plural(rehearsal.bad_total, "audience row"),
            time::plural(rehearsal.refused_total, "message")
        ))
        .in_file(path)
        .hint("fix the rows above, or run without `--strict` to skip them and send to everyone else"),
    );
    Invalid(problems)
}

fn duration(secs: f64) -> String {
    match secs {
        s if s < 1.0 => "under a second".into(),
        s if s < 90.0 => format!("{} s", s.ceil()),
        s if s < 5400.0 => format!("{} min", (s / 60.0).ceil()),
        s => format!("{:.1} h", s / 3600.0),
    }
}

fn dry_run(rehearsal: &Rehearsal) -> ExitCode {
    if rehearsal.clean() {
        println!("\nDry run: everything checks out; nothing was planned or sent.");
    } else {
        println!(
            "\nDry run: nothing was planned or sent. The blast will skip the rows above and record the refused messages as failed; `--strict` sends nothing while any remain."
        );
    }
    ExitCode::SUCCESS
}

fn confirm() -> anyhow::Result<bool> {
    print!("\nSend now? [y/N] ");
    std::io::stdout().flush()?;
    let mut answer = String::new();
    std::io::stdin().lock().read_line(&mut answer)?;
    Ok(matches!(answer.trim(), "y" | "Y" | "yes" | "Yes"))
}
