//! `crier schedule KIND --incident ID --at WHEN`, `crier schedule list`, `crier schedule
//! cancel N`: blasts to run later. WHEN is read in the company's time zone and stored in UTC;
//! the blast's preflight runs now (and again when due), so a problem is found while someone
//! is there to fix it. `crier worker` or `crier run-due` sends it.

use std::path::Path;
use std::process::ExitCode;

use crate::cli::{NewScheduleArgs, ScheduleArgs, ScheduleCommand};
use crate::delivery::request;
use crate::diag::{Diagnostic, Invalid};
use crate::project::Project;
use crate::store::{self, NewSchedule, Origin, Schedule, ScheduleState, Store};
use crate::template::slots;
use crate::time::{self, display_moment};

pub fn run(config: Option<&Path>, args: &ScheduleArgs) -> anyhow::Result<ExitCode> {
    let project = super::load_project(config)?;
    super::runtime()?.block_on(async {
        let store = store::open(&project.config.store_url, &project.config.root).await?;
        match &args.command {
            Some(ScheduleCommand::List(list_args)) => {
                list(
                    &project,
                    &store,
                    list_args.incident.as_deref(),
                    list_args.json,
                )
                .await
            }
            Some(ScheduleCommand::Cancel(cancel)) => {
                self::cancel(&project, &store, cancel.id).await
            }
            None => add(&project, &store, &args.new).await,
        }
    })
}

async fn add<S: Store>(
    project: &Project,
    store: &S,
    args: &NewScheduleArgs,
) -> anyhow::Result<ExitCode> {
    let (Some(kind), Some(incident_id), Some(at)) = (&args.kind, &args.incident, &args.at) else {
        return Err(Invalid::from(
            Diagnostic::new("`crier schedule` needs a kind, `--incident` and `--at`").hint(
                "for example `crier schedule follow-up --incident INC-42 --at \"tomorrow 10:00\" --set …`; `crier schedule list` shows what is scheduled",
            ),
        )
        .into());
    };
    let now = super::now()?;
    let tz = &project.config.time_zone;
    let due_at = time::parse_future(at, now, tz)
        .map_err(|e| Invalid::from(Diagnostic::new(e.to_string()).field("--at")))?;
    let Some(incident) = store.incident(incident_id).await? else {
        return Err(Invalid::from(
            Diagnostic::new(format!("there is no incident `{incident_id}` to schedule for"))
                .field("--incident")
                .hint("`crier incident list` shows every incident; a new one starts with `crier blast outage-notice --incident ID --title \"…\"`"),
        )
        .into());
    };
    let new = NewSchedule {
        incident_id: incident.id.clone(),
        kind: kind.clone(),
        slots: slots::parse_assignments(&args.sets).map_err(Invalid)?,
        channels: args.channels.clone(),
        audience: args.audience.clone(),
        due_at,
        typed: at.trim().to_string(),
        origin: Origin::Operator,
        created_by: super::actor(),
    };
    request::check_schedule(project, &new, &incident)?;
    let s = store.add_schedule(&new, now).await?;
    let detail = serde_json::json!({ "schedule": s.id, "incident": s.incident_id, "kind": s.kind, "due_at": s.due_at });
    store
        .audit(&super::actor(), "schedule", &detail.to_string(), now)
        .await?;
    println!(
        "Scheduled `{}` for {} at {} ({}): schedule {}.",
        s.kind,
        s.incident_id,
        display_moment(s.due_at, now, tz),
        time::rfc3339(s.due_at),
        s.id
    );
    println!(
        "`crier worker` (or `crier run-due` from cron) sends it; `crier schedule cancel {}` calls it off.",
        s.id
    );
    Ok(ExitCode::SUCCESS)
}

/// One schedule on one line: id, state, due time, kind, incident, who made it.
pub fn line(s: &Schedule, now: jiff::Timestamp, tz: &jiff::tz::TimeZone) -> String {
    let origin = match s.origin {
        Origin::Operator => format!("by {}", s.created_by),
        Origin::Resolution => "on resolution".to_string(),
        Origin::Holding => "holding update (promise missed)".to_string(),
    };
    let error = s
        .error
        .as_deref()
        .map(|e| format!(" — {e}"))
        .unwrap_or_default();
    format!(
        "{:>4}  {:<9}  {:<24}  {:<18} {:<12} {origin}{error}",
        s.id,
        s.state.as_str(),
        display_moment(s.due_at, now, tz),
        s.kind,
        s.incident_id
    )
}

async fn list<S: Store>(
    project: &Project,
    store: &S,
    incident: Option<&str>,
    json: bool,
) -> anyhow::Result<ExitCode> {
    let schedules = store.schedules(incident).await?;
    if json {
        println!("{}", serde_json::to_string_pretty(&schedules)?);
        return Ok(ExitCode::SUCCESS);
    }
    if schedules.is_empty() {
        println!(
            "Nothing is scheduled. Schedule a blast with `crier schedule KIND --incident ID --at WHEN`."
        );
        return Ok(ExitCode::SUCCESS);
    }
    let now = super::now()?;
    println!(
        "{:>4}  {:<9}  {:<24}  {:<18} {:<12} made",
        "id", "state", "due", "kind", "incident"
    );
    for s in &schedules {
        println!("{}", line(s, now, &project.config.time_zone));
    }
    Ok(ExitCode::SUCCESS)
}

async fn cancel<S: Store>(project: &Project, store: &S, id: i64) -> anyhow::Result<ExitCode> {
    let now = super::now()?;
    let Some(s) = store.cancel_schedule(id, now).await? else {
        return Err(Invalid::from(
            Diagnostic::new(format!("there is no schedule {id}"))
                .hint("`crier schedule list` shows every schedule with its id"),
        )
        .into());
    };
    let tz = &project.config.time_zone;
    match s.state {
        ScheduleState::Cancelled => {
            store
                .audit(&super::actor(), "schedule cancel", &id.to_string(), now)
                .await?;
            println!(
                "Schedule {id} (`{}` for {} at {}) is cancelled; nothing of it will be sent.",
                s.kind,
                s.incident_id,
                display_moment(s.due_at, now, tz)
            );
            Ok(ExitCode::SUCCESS)
        }
        ScheduleState::Sending => Err(Invalid::from(
            Diagnostic::new(format!("schedule {id} is being sent right now"))
                .hint(format!("stop it with `crier halt {}`", s.incident_id)),
        )
        .into()),
        state => Err(Invalid::from(
            Diagnostic::new(format!(
                "schedule {id} {} already; there is nothing to cancel",
                if state == ScheduleState::Sent {
                    "was sent"
                } else {
                    "failed"
                }
            ))
            .hint(format!(
                "`crier incident show {}` shows what was sent",
                s.incident_id
            )),
        )
        .into()),
    }
}
