//! `crier serve`, `crier maintenance on|off` and `crier page --out DIR`: the public status page
//! served live, switched to maintenance, or written as static files.

use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;

use crate::cli::{MaintenanceArgs, PageArgs, ServeArgs, Switch};
use crate::diag::{Diagnostic, Invalid};
use crate::server::{self, AppState, Snapshot};
use crate::store::{self, Maintenance, Store};

pub fn serve(config: Option<&Path>, args: &ServeArgs) -> anyhow::Result<ExitCode> {
    let project = Arc::new(super::load_project(config)?);
    super::runtime()?.block_on(async {
        let store = Arc::new(store::open(&project.config.store_url, &project.config.root).await?);
        let support = server::support::Auth::from_env(server::support::TOKEN_ENV);
        if support.is_none() {
            eprintln!(
                "crier serve: the support page (/support) is off; set {} to turn it on.",
                server::support::TOKEN_ENV
            );
        }
        let stop = super::stop_on_signals_saying("crier serve: stopping");
        let api = server::support::Auth::from_env(server::api::TOKEN_ENV)
            .map(|auth| (auth, launcher(project.clone(), store.clone(), stop.clone())));
        let access = server::Access { support, api };
        let state = AppState::new(project.clone(), store, access, jiff::Timestamp::now()).await?;
        let addr = args.listen.unwrap_or(project.config.listen);
        let listener = tokio::net::TcpListener::bind(addr).await.map_err(|e| {
            Invalid::from(
                Diagnostic::new(format!("cannot listen on {addr}: {e}"))
                    .field("--listen")
                    .hint("choose a free port with `--listen 127.0.0.1:8081` (or `[server] listen` in crier.toml)"),
            )
        })?;
        eprintln!(
            "crier serve: the status page is at http://{}/ (JSON at /v1/status.json); stop with Ctrl-C or SIGTERM.",
            listener.local_addr()?
        );
        let stopped = async move {
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            }
        };
        server::serve(state, listener, stopped, |w| eprintln!("crier serve: {w}")).await?;
        eprintln!("crier serve: stopped.");
        Ok(ExitCode::SUCCESS)
    })
}

/// How the server sends an update the trigger API added: the normal delivery path, on a task
/// of its own; what must be retried later is left to `crier worker` / `crier run-due`.
fn launcher(
    project: Arc<crate::project::Project>,
    store: Arc<crate::store::Backend>,
    stop: Arc<std::sync::atomic::AtomicBool>,
) -> server::api::Launch {
    Arc::new(move |update: crate::store::Update| {
        let (project, store, stop) = (project.clone(), store.clone(), stop.clone());
        tokio::spawn(async move {
            let channels = match crate::delivery::run::channels_of(&project, &update) {
                Ok(c) => c,
                Err(e) => {
                    eprintln!(
                        "crier serve: update {} of {} cannot be sent: {e}",
                        update.seq, update.incident_id
                    );
                    return;
                }
            };
            let what = format!("update {} of {}", update.seq, update.incident_id);
            let delivery =
                crate::delivery::run::Delivery::unattended(project, store, update, channels, stop);
            match crate::delivery::run::deliver_unless_busy(delivery).await {
                Ok(Ok(sent)) => eprintln!(
                    "crier serve: {what} (trigger API): {} messages attempted",
                    sent.attempted
                ),
                Ok(Err(_)) => {}
                Err(e) => eprintln!("crier serve: {what} (trigger API): {e:#}"),
            }
        });
    })
}

pub fn maintenance(config: Option<&Path>, args: &MaintenanceArgs) -> anyhow::Result<ExitCode> {
    let project = super::load_project(config)?;
    super::runtime()?.block_on(async {
        let store = store::open(&project.config.store_url, &project.config.root).await?;
        let now = super::now()?;
        if let Some(id) = &args.incident
            && store.incident(id).await?.is_none()
        {
            return Err(Invalid::from(
                Diagnostic::new(format!("there is no incident `{id}`"))
                    .field("--incident")
                    .hint("`crier incident list` shows every incident"),
            )
            .into());
        }
        match args.switch {
            Switch::On => {
                let m = Maintenance {
                    incident_id: args.incident.clone(),
                    since: now,
                    by: super::actor(),
                };
                store.set_maintenance(Some(&m)).await?;
                store.audit(&super::actor(), "maintenance on", &args.incident.clone().unwrap_or_default(), now).await?;
                println!(
                    "Maintenance is on: the status page shows the maintenance page, and /maintenance answers 503 (Retry-After: {} s) within a second.",
                    server::RETRY_AFTER_SECS
                );
                println!("Turn it off with `crier maintenance off`.");
            }
            Switch::Off => {
                store.set_maintenance(None).await?;
                store.audit(&super::actor(), "maintenance off", "", now).await?;
                println!("Maintenance is off: the status page is back, and /maintenance answers 200.");
            }
        }
        Ok(ExitCode::SUCCESS)
    })
}

pub fn page(config: Option<&Path>, args: &PageArgs) -> anyhow::Result<ExitCode> {
    let project = super::load_project(config)?;
    super::runtime()?.block_on(async {
        let store = store::open(&project.config.store_url, &project.config.root).await?;
        let snapshot = Snapshot::load(&project, &store, super::now()?).await?;
        std::fs::create_dir_all(&args.out).map_err(|e| {
            Invalid::from(
                Diagnostic::new(format!("cannot create `{}`: {e}", args.out.display()))
                    .field("--out")
                    .hint("choose a folder you can write to"),
            )
        })?;
        for (name, body) in [
            ("index.html", &snapshot.page),
            ("status.json", &snapshot.status_json),
        ] {
            let path = args.out.join(name);
            std::fs::write(&path, body)
                .map_err(|e| anyhow::anyhow!("writing `{}`: {e}", path.display()))?;
        }
        println!(
            "Wrote {0}/index.html and {0}/status.json; upload the folder to any static host.",
            args.out.display()
        );
        Ok(ExitCode::SUCCESS)
    })
}
