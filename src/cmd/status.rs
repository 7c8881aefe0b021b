//! `crier status [ID]`: the latest update of an incident, per channel by state, with the
//! failures and the audience rows that could not be used.

use std::path::Path;
use std::process::ExitCode;

use crate::cli::StatusArgs;
use crate::diag::{Diagnostic, Invalid};
use crate::store::{self, Store};
use crate::time::describe_minutes;

pub fn run(config: Option<&Path>, args: &StatusArgs) -> anyhow::Result<ExitCode> {
    let project = super::load_project(config)?;
    super::runtime()?.block_on(async {
        let store = store::open(&project.config.store_url, &project.config.root).await?;
        let Some(update) = store.latest_update(args.incident.as_deref()).await? else {
            let what = args
                .incident
                .as_deref()
                .map_or("anything".to_string(), |i| format!("incident `{i}`"));
            return Err(Invalid::from(
                Diagnostic::new(format!("nothing has been sent for {what}"))
                    .hint("send an update with `crier blast KIND --incident ID`"),
            )
            .into());
        };
        let counts = store.counts(update.id).await?;
        let (retrying, failures): (Vec<_>, Vec<_>) = store
            .failures(update.id, 50)
            .await?
            .into_iter()
            .partition(|f| f.state == "retry");
        let (bad_total, bad_rows) = store.bad_rows(update.id, 50).await?;
        let halted = store.halted(&update.incident_id).await?;
        let senders = crate::delivery::run::live_runs(&store, &update).await?;
        if args.json {
            let value = serde_json::json!({
                "update": update, "halted": halted, "senders": senders, "channels": counts,
                "failures": failures, "retrying": retrying,
                "bad_rows": { "total": bad_total, "first": bad_rows },
            });
            println!("{}", serde_json::to_string_pretty(&value)?);
            return Ok(ExitCode::SUCCESS);
        }
        println!(
            "{} update {} ({}) at {}, by {}{}",
            update.incident_id,
            update.seq,
            update.kind,
            crate::time::rfc3339(update.created_at),
            update.sent_by,
            if halted { " — HALTED" } else { "" }
        );
        println!("  {}", update.headline);
        if let Some(line) = promise_line(&store, &update, &project.config.time_zone).await? {
            println!("  {line}");
        }
        if !senders.is_empty() {
            let who: Vec<String> = senders
                .iter()
                .map(|r| format!("process {} on `{}`", r.pid, r.host))
                .collect();
            println!("  Being sent now by {}", who.join(", "));
        }
        println!(
            "\n  {:<16} {:>7} {:>7} {:>9} {:>7} {:>7} {:>8}",
            "channel", "sent", "retry", "pending", "failed", "skipped", "in doubt"
        );
        for (name, c) in &counts {
            println!(
                "  {name:<16} {:>7} {:>7} {:>9} {:>7} {:>7} {:>8}",
                c.sent,
                c.retry,
                c.pending + c.attempting,
                c.failed,
                c.skipped,
                c.in_doubt
            );
        }
        if !failures.is_empty() {
            println!("\nNot delivered:");
            for f in &failures {
                println!(
                    "  {:<16} {:<24} after {} attempt(s): {}",
                    f.channel, f.recipient_id, f.attempts, f.error
                );
            }
            println!(
                "After fixing the cause: crier retry {} --failed",
                update.incident_id
            );
        }
        if !retrying.is_empty() {
            println!("\nWaiting to retry:");
            for f in &retrying {
                let at = f
                    .next_attempt_at
                    .map(|t| crate::time::display_seconds(t, &project.config.time_zone))
                    .unwrap_or_default();
                println!(
                    "  {:<16} {:<24} next try {at}, after {} attempt(s): {}",
                    f.channel, f.recipient_id, f.attempts, f.error
                );
            }
        }
        if bad_total > 0 {
            println!("\n{bad_total} audience rows could not be used:");
            for r in &bad_rows {
                println!(
                    "  row {}{}: {}",
                    r.row,
                    r.recipient_id
                        .as_deref()
                        .map(|i| format!(" (`{i}`)"))
                        .unwrap_or_default(),
                    r.reason
                );
            }
        }
        Ok(ExitCode::SUCCESS)
    })
}

/// When the next customer update is due, while the incident is open: "Next update promised
/// for 14:35 CET (in 25 minutes)", or "… (overdue by 5 minutes)".
async fn promise_line(
    store: &impl Store,
    update: &crate::store::Update,
    tz: &jiff::tz::TimeZone,
) -> anyhow::Result<Option<String>> {
    let Some(at) = update.next_update_at else {
        return Ok(None);
    };
    let open = store
        .incident(&update.incident_id)
        .await?
        .is_some_and(|i| i.status != crate::template::Status::Resolved);
    if !open {
        return Ok(None);
    }
    let now = super::now()?;
    let shown = crate::time::display_moment(at, now, tz);
    let when = if now < at {
        format!("in {}", describe_minutes(at.duration_since(now), true))
    } else if now.duration_since(at).as_secs() < 60 {
        "due now".to_string()
    } else {
        format!(
            "overdue by {}",
            describe_minutes(now.duration_since(at), false)
        )
    };
    Ok(Some(format!("Next update promised for {shown} ({when})")))
}
