//! `crier retry ID --failed`: requeue what failed for good (and what was skipped as in doubt)
//! after the operator fixed the cause, and send it.

use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;

use super::deliver;
use crate::cli::RetryArgs;
use crate::diag::{Diagnostic, Invalid};
use crate::store::{self, Store};

pub fn run(config: Option<&Path>, args: &RetryArgs) -> anyhow::Result<ExitCode> {
    if !args.failed {
        return Err(Invalid::from(
            Diagnostic::new("`crier retry` needs `--failed`: it sends again what failed for good")
                .hint(format!(
                    "check why with `crier status {}`, fix it, then `crier retry {} --failed`",
                    args.incident, args.incident
                )),
        )
        .into());
    }
    let project = Arc::new(super::load_project(config)?);
    super::runtime()?.block_on(async {
        let store = Arc::new(store::open(&project.config.store_url, &project.config.root).await?);
        let Some(update) = store.latest_update(Some(&args.incident)).await? else {
            return Err(Invalid::from(Diagnostic::new(format!(
                "nothing has been sent for incident `{}`",
                args.incident
            )))
            .into());
        };
        let now = jiff::Timestamp::now();
        let requeued = store.requeue_failed(update.id, now).await?;
        store
            .audit(
                &super::actor(),
                "retry",
                &format!(
                    "{} update {}: {requeued} requeued",
                    update.incident_id, update.seq
                ),
                now,
            )
            .await?;
        println!(
            "Requeued {requeued} messages of update {} of {}.",
            update.seq, update.incident_id
        );
        deliver::continue_update(project.clone(), store, update).await
    })
}
