//! `crier halt [ID]` and `crier resume [ID]`: stop all sending within a second (the running
//! blast checks before every send), and lift the stop and finish the latest update.

use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;

use super::deliver;
use crate::cli::ScopeArgs;
use crate::store::{self, Store};

pub fn halt(config: Option<&Path>, args: &ScopeArgs) -> anyhow::Result<ExitCode> {
    let project = super::load_project(config)?;
    super::runtime()?.block_on(async {
        let store = store::open(&project.config.store_url, &project.config.root).await?;
        let scope = args.incident.as_deref().unwrap_or("*");
        let now = jiff::Timestamp::now();
        store.halt(scope, now).await?;
        store.audit(&super::actor(), "halt", scope, now).await?;
        let what = args
            .incident
            .as_deref()
            .map_or("all incidents".to_string(), |i| format!("incident {i}"));
        println!(
            "Halted sending for {what}. Messages already in flight finish; nothing new goes out."
        );
        println!(
            "Continue with `crier resume{}`.",
            args.incident
                .as_deref()
                .map(|i| format!(" {i}"))
                .unwrap_or_default()
        );
        Ok(ExitCode::SUCCESS)
    })
}

pub fn resume(config: Option<&Path>, args: &ScopeArgs) -> anyhow::Result<ExitCode> {
    let project = Arc::new(super::load_project(config)?);
    super::runtime()?.block_on(async {
        let store = Arc::new(store::open(&project.config.store_url, &project.config.root).await?);
        let scope = args.incident.as_deref().unwrap_or("*");
        let lifted = store.resume(scope).await?;
        store
            .audit(&super::actor(), "resume", scope, jiff::Timestamp::now())
            .await?;
        if lifted {
            println!(
                "Lifted the halt on {}.",
                args.incident.as_deref().unwrap_or("all incidents")
            );
        }
        let Some(update) = store.latest_update(args.incident.as_deref()).await? else {
            println!("Nothing to resume.");
            return Ok(ExitCode::SUCCESS);
        };
        if store.halted(&update.incident_id).await? {
            println!(
                "Incident {} is still halted (`crier resume {}` lifts that).",
                update.incident_id, update.incident_id
            );
            return Ok(ExitCode::FAILURE);
        }
        let counts = store.counts(update.id).await?;
        if update.planned && counts.values().all(|c| c.finished()) {
            println!(
                "Update {} of {} is fully sent; nothing to resume.",
                update.seq, update.incident_id
            );
            return Ok(ExitCode::SUCCESS);
        }
        // On a store several processes share, a planned update is joined, not left.
        let join = update.planned && store.many_senders().await;
        if !join && let Some(run) = crate::delivery::run::live_run(&store, &update).await? {
            println!(
                "Update {} of {} is being sent by process {} on `{}`; it continues now.",
                update.seq, update.incident_id, run.pid, run.host
            );
            println!("Follow it with `crier status {}`.", update.incident_id);
            return Ok(ExitCode::SUCCESS);
        }
        deliver::continue_update(project.clone(), store, update).await
    })
}
