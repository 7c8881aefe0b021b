//! `crier blast KIND --incident ID`: preflight (every problem listed, nothing sent), a summary
//! and a confirmation, then plan and send with live progress, then the per-channel summary.
//! Re-running the same command finds the same update and continues it.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, IsTerminal, Write};
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;

use super::deliver::{self, Delivery};
use crate::audience;
use crate::channels::Channel;
use crate::check;
use crate::cli::BlastArgs;
use crate::delivery::blast::{build, settings, stop_on_signals};
use crate::delivery::plan;
use crate::diag::{Diagnostic, Diagnostics, Invalid, backticked, closest};
use crate::digest::Sha256;
use crate::project::Project;
use crate::store::{self, IncidentRow, NewUpdate, Store};
use crate::template::approval::{self, ApprovalState};
use crate::template::{Fill, Impact, Kind, Status, slots};

pub fn run(config: Option<&Path>, args: &BlastArgs) -> anyhow::Result<ExitCode> {
    let project = Arc::new(super::load_project(config)?);
    super::runtime()?.block_on(blast(project, args))
}

async fn blast(project: Arc<Project>, args: &BlastArgs) -> anyhow::Result<ExitCode> {
    let now = super::now()?;
    let store = Arc::new(store::open(&project.config.store_url, &project.config.root).await?);
    let existing = store.incident(&args.incident).await?;
    let ready = preflight(&project, args, existing.as_ref(), now)?;
    if args.dry_run {
        return dry_run(&project, &ready, args);
    }
    if !args.yes && std::io::stdin().is_terminal() && !confirm(&project, &ready, args)? {
        println!("Nothing was sent.");
        return Ok(ExitCode::SUCCESS);
    }
    store.put_incident(&ready.incident, now).await?;
    let fingerprint = fingerprint(&ready, args);
    let update = match store.find_update(&args.incident, &fingerprint).await? {
        Some(u) => {
            eprintln!(
                "Continuing update {} of {} (the same command ran before).",
                u.seq, u.incident_id
            );
            u
        }
        None => {
            store
                .add_update(
                    &args.incident,
                    &new_update(&project, &ready, args, fingerprint),
                    now,
                )
                .await?
        }
    };
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

/// What preflight established: everything needed to plan and send.
struct Ready {
    kind: Kind,
    slots: BTreeMap<String, String>,
    approval: ApprovalState,
    channels: Vec<Channel>,
    incident: IncidentRow,
}

/// Every check before anything is sent; all problems are reported together.
fn preflight(
    project: &Project,
    args: &BlastArgs,
    existing: Option<&IncidentRow>,
    now: jiff::Timestamp,
) -> Result<Ready, Invalid> {
    let mut problems = Diagnostics::default();
    let kind = project.engine.kind(&args.kind)?.clone();
    let approval = project.approvals.state(&project.engine, &kind);
    if let Some(d) = approval::refusal(&kind, &approval, project.approvals.path()) {
        problems.push(d);
    }
    let given = slots::parse_assignments(&args.sets).map_err(Invalid)?;
    let channels = select_channels(project, args.channels.as_deref()).unwrap_or_else(|e| {
        problems.extend(e.0);
        Vec::new()
    });
    for c in &channels {
        for d in c.check_secrets().into_iter().chain(c.check_values()) {
            problems.push(d);
        }
        if let Err(e) = build(c, &project.config.root, &args.incident, 1) {
            problems.push(Diagnostic::new(format!("channel `{}`: {e}", c.name)).in_file(&c.path));
        }
    }
    if let Err(d) = audience::open(&project.config.audience_path) {
        problems.push(d);
    }
    let incident = incident_row(args, existing, now).unwrap_or_else(|d| {
        problems.push(d);
        IncidentRow {
            id: args.incident.clone(),
            title: String::new(),
            status: Status::Investigating,
            impact: Impact::Major,
            components: Vec::new(),
            started_at: now,
            resolved_at: None,
        }
    });
    let sample = incident.told(Vec::new());
    let targets = targets(project, &channels);
    problems.extend(check::kind_with(
        project,
        &kind,
        &given,
        Fill::Defaults,
        &sample,
        &targets,
        now,
    ));
    if !problems.is_empty() {
        return Err(Invalid(problems));
    }
    Ok(Ready {
        kind,
        slots: given,
        approval,
        channels,
        incident,
    })
}

/// The formats the chosen channels send, plus the summary.
fn targets(project: &Project, channels: &[Channel]) -> BTreeSet<String> {
    let mut scratch = Diagnostics::default();
    let all = check::target_formats(project, &mut scratch);
    let mut wanted = BTreeSet::from(["summary".to_string()]);
    for c in channels {
        match &c.config {
            crate::channels::Config::File(f) => {
                wanted.extend(f.formats.iter().filter(|f| all.contains(*f)).cloned())
            }
            _ => {
                wanted.insert(c.type_name().to_string());
            }
        }
    }
    wanted
}

/// `--channels a,b`, or every customer channel. Internal channels never get customer messages.
fn select_channels(project: &Project, names: Option<&[String]>) -> Result<Vec<Channel>, Invalid> {
    let Some(names) = names else {
        let all: Vec<Channel> = project.customer_channels().cloned().collect();
        if all.is_empty() {
            return Err(Diagnostic::new("no customer channel is configured")
                .hint("add a file to `channels/` (copy one from `channels/examples/`), or keep `channels/file.toml`")
                .into());
        }
        return Ok(all);
    };
    let mut problems = Diagnostics::default();
    let mut chosen = Vec::new();
    for name in names {
        match project.channels.iter().find(|c| &c.name == name) {
            Some(c) if c.is_internal() => problems.push(
                Diagnostic::new(format!("channel `{name}` is internal (for the people on duty) and never receives customer messages"))
                    .in_file(&c.path)
                    .hint("leave it out of `--channels`"),
            ),
            Some(c) => chosen.push(c.clone()),
            None => {
                let known = project.channels.iter().map(|c| c.name.as_str());
                let d = Diagnostic::new(format!("there is no channel `{name}`")).field("--channels");
                problems.push(match closest(name, known.clone()) {
                    Some(best) => d.hint(format!("did you mean `{best}`?")),
                    None => d.hint(format!("the channels are {}", backticked(known))),
                });
            }
        }
    }
    problems.into_result(chosen).map_err(|e| Invalid(e.0))
}

/// The incident's facts after this blast: what the operator said, else what it was.
fn incident_row(
    args: &BlastArgs,
    existing: Option<&IncidentRow>,
    now: jiff::Timestamp,
) -> Result<IncidentRow, Diagnostic> {
    let title = match (&args.title, existing) {
        (Some(t), _) if t.trim().is_empty() || t.contains(['\r', '\n', '\0']) => {
            return Err(Diagnostic::new("`--title` must be one line of text")
                .field("--title")
                .hint("use `--title \"Checkout is failing\"`"));
        }
        (Some(t), _) => t.trim().to_string(),
        (None, Some(i)) => i.title.clone(),
        (None, None) => {
            return Err(Diagnostic::new(format!(
                "incident `{}` is new and needs a title",
                args.incident
            ))
            .field("--title")
            .hint(
                "add `--title \"…\"`, in the customer's terms: `--title \"Checkout is failing\"`",
            ));
        }
    };
    let status = args
        .status
        .or(existing.map(|i| i.status))
        .unwrap_or(Status::Investigating);
    Ok(IncidentRow {
        id: args.incident.clone(),
        title,
        status,
        impact: args
            .impact
            .or(existing.map(|i| i.impact))
            .unwrap_or(Impact::Major),
        components: existing.map(|i| i.components.clone()).unwrap_or_default(),
        started_at: existing.map_or(now, |i| i.started_at),
        resolved_at: (status == Status::Resolved).then_some(now),
    })
}

/// The same command (kind, facts, values, channels, audience) gives the same fingerprint.
fn fingerprint(ready: &Ready, args: &BlastArgs) -> String {
    let value = serde_json::json!({
        "kind": ready.kind.name,
        "title": ready.incident.title,
        "status": ready.incident.status,
        "impact": ready.incident.impact,
        "slots": ready.slots,
        "channels": ready.channels.iter().map(|c| &c.name).collect::<Vec<_>>(),
        "audience": args.audience,
    });
    let mut h = Sha256::new();
    h.update(value.to_string().as_bytes());
    h.hex(32)
}

fn new_update(
    project: &Project,
    ready: &Ready,
    args: &BlastArgs,
    fingerprint: String,
) -> NewUpdate {
    let approved_by = match &ready.approval {
        ApprovalState::Approved { by, .. } => by.clone(),
        _ => String::new(),
    };
    let (headline, summary) = timeline_text(project, ready);
    NewUpdate {
        kind: ready.kind.name.clone(),
        status: ready.incident.status,
        slots: ready.slots.clone(),
        fingerprint,
        content_sha256: approval::digest(&project.engine, &ready.kind).0,
        approved_by,
        sent_by: super::actor(),
        channels: ready.channels.iter().map(|c| c.name.clone()).collect(),
        audience: args.audience.clone(),
        headline,
        summary,
    }
}

/// The headline and summary as everyone reads them, for the timeline.
fn timeline_text(project: &Project, ready: &Ready) -> (String, String) {
    let now = jiff::Timestamp::now();
    let values = slots::resolve(
        &ready.kind.name,
        &ready.kind.slots,
        &ready.slots,
        Fill::Defaults,
        project.clock(now),
    );
    let incident = ready.incident.told(Vec::new());
    let everyone = crate::template::Recipient::default();
    let rendered = values.ok().and_then(|v| {
        let inputs = crate::template::Inputs {
            incident: &incident,
            slots: &v.display,
            recipient: &everyone,
            company: &project.config.company,
            now,
            tz: &project.config.time_zone,
        };
        project.engine.render(&ready.kind, &inputs).ok()
    });
    rendered.map_or_else(Default::default, |r| (r.base.headline, r.base.summary))
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

fn print_estimate(project: &Project, ready: &Ready, args: &BlastArgs) -> anyhow::Result<()> {
    println!(
        "`{}` to incident {} ({}), approved ({}).",
        ready.kind.name,
        ready.incident.id,
        ready.incident.title,
        ready.approval.label()
    );
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

fn dry_run(project: &Project, ready: &Ready, args: &BlastArgs) -> anyhow::Result<ExitCode> {
    print_estimate(project, ready, args)?;
    println!("\nDry run: everything checks out; nothing was planned or sent.");
    Ok(ExitCode::SUCCESS)
}

fn confirm(project: &Project, ready: &Ready, args: &BlastArgs) -> anyhow::Result<bool> {
    print_estimate(project, ready, args)?;
    print!("\nSend now? [y/N] ");
    std::io::stdout().flush()?;
    let mut answer = String::new();
    std::io::stdin().lock().read_line(&mut answer)?;
    Ok(matches!(answer.trim(), "y" | "Y" | "yes" | "Yes"))
}
