//! `crier worker` (runs until SIGTERM or Ctrl-C, a pass every `[worker] poll`) and
//! `crier run-due` (one pass, waiting for what it started): the CLI around [`super::due`].

use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use anyhow::Context;

use super::stop_on_signals_saying;
use crate::cli::WorkerArgs;
use crate::schedule::Due;
use crate::store;

/// How long to run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// `crier run-due`: one pass.
    Once,
    /// `crier worker`: until stopped.
    Forever,
}

pub fn run(config: Option<&Path>, mode: Mode, args: &WorkerArgs) -> anyhow::Result<ExitCode> {
    if mode == Mode::Once && args.metrics.is_some() {
        return Err(crate::diag::Invalid::from(
            crate::diag::Diagnostic::new(
                "`--metrics` serves a worker's metrics while it runs, and `crier run-due` ends after one pass",
            )
            .hint("use it with `crier worker`"),
        )
        .into());
    }
    let project = Arc::new(super::load_project(config)?);
    super::runtime()?.block_on(async {
        let store = Arc::new(store::open(&project.config.store_url, &project.config.root).await?);
        let stop = stop_on_signals_saying(
            "stopping: finishing the messages in flight; what is left is sent by the next worker or `crier run-due`",
        );
        let metrics = match args.metrics {
            Some(addr) => Some(serve_metrics(store.clone(), addr, stop.clone()).await?),
            None => None,
        };
        let poll = project.config.poll;
        let tz = project.config.time_zone.clone();
        let log: crate::schedule::Log = Arc::new(move |at, line| {
            println!("{}  {line}", crate::time::display_seconds(at, &tz));
        });
        let mut due = Due::new(project.clone(), store, stop.clone(), log);
        if mode == Mode::Once {
            due.pass(super::now()?).await?;
            due.drain().await;
            return Ok(ExitCode::SUCCESS);
        }
        eprintln!(
            "crier worker: sending due schedules and retries every {} s; stop with Ctrl-C or SIGTERM.",
            poll.as_secs_f64()
        );
        while !stop.load(Ordering::Relaxed) {
            if let Err(e) = due.pass(super::now()?).await {
                // The journal may be busy or briefly unreachable: say so, and try again.
                eprintln!("crier worker: this pass failed, trying again: {e:#}");
            }
            let deadline = tokio::time::Instant::now() + poll;
            while !stop.load(Ordering::Relaxed) && tokio::time::Instant::now() < deadline {
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            }
        }
        due.drain().await;
        if let Some(server) = metrics {
            let _ = server.await;
        }
        eprintln!("crier worker: stopped.");
        Ok(ExitCode::SUCCESS)
    })
}

/// Serve `/metrics` on `addr` until `stop` is set, on a task of its own.
async fn serve_metrics(
    store: Arc<store::Backend>,
    addr: std::net::SocketAddr,
    stop: Arc<std::sync::atomic::AtomicBool>,
) -> anyhow::Result<tokio::task::JoinHandle<std::io::Result<()>>> {
    let listener = tokio::net::TcpListener::bind(addr).await.with_context(|| {
        format!("cannot listen on {addr} for `--metrics`; choose a free address and port")
    })?;
    eprintln!("crier worker: /metrics on http://{addr}/metrics");
    let stopped = async move {
        while !stop.load(Ordering::Relaxed) {
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
    };
    Ok(tokio::spawn(crate::server::serve_metrics(
        store, listener, stopped,
    )))
}
