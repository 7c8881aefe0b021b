//! One update, sent by this process: the run lock (one live sender per update, a dead one's
//! lock taken over), the transports built, planning from the audience alongside sending when
//! the update is not fully planned, one worker per channel, and progress reported to the
//! caller's callback. Used by `blast`, `resume`, `retry`, the worker and the trigger API; the
//! commands print, this module never does.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use super::blast;
use super::plan;
use super::worker::{Blast, Stats};
use crate::audience;
use crate::channels::Channel;
use crate::diag::{Diagnostic, Diagnostics, Invalid};
use crate::project::Project;
use crate::store::{Backend, Counts, Run, Store, Update};
use crate::template::{Fill, slots};

/// A run stale for this long is taken to be dead (its process was killed).
const STALE_MS: i64 = 10_000;

/// How often the progress callback is called.
pub const TICK: Duration = Duration::from_millis(500);

/// What to send.
pub struct Delivery {
    pub project: Arc<Project>,
    pub store: Arc<Backend>,
    pub update: Update,
    pub channels: Vec<Channel>,
    /// Plan from the audience file while sending, when the update is not fully planned yet.
    pub plan: bool,
    pub stop: Arc<AtomicBool>,
    /// The journal's counts of this update, when the caller has just taken them (a count is a
    /// scan of the journal: not done twice on a large blast).
    pub counted: Option<BTreeMap<String, Counts>>,
    /// Wait for rows due to retry later (a person is watching); `false` (the worker): they are
    /// left for its next pass.
    pub wait_retries: bool,
    /// Called every [`TICK`] while sending, with where each channel stands.
    pub progress: Option<Progress>,
}

/// The caller's view of a run in progress.
pub type Progress = Box<dyn FnMut(&Snapshot) + Send>;

/// Where a run stands, for progress display.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Snapshot {
    /// Per channel, by name.
    pub channels: BTreeMap<String, ChannelProgress>,
    /// `crier halt` is in force.
    pub halted: bool,
}

/// One channel's counts: the journal's when the run started, plus this run's.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ChannelProgress {
    /// Messages in the journal, the planner's new rows included.
    pub total: u64,
    /// Sent, before this run and in it.
    pub sent: u64,
    /// Sent, failed or skipped: finished, before this run and in it.
    pub done: u64,
    /// Failed in this run.
    pub failed: u64,
    /// Waiting to be tried again.
    pub retrying: u64,
}

impl Delivery {
    /// A send nobody watches (the worker, the trigger API): planning as needed, no progress,
    /// rows due to retry later left for the next pass.
    pub fn unattended(
        project: Arc<Project>,
        store: Arc<Backend>,
        update: Update,
        channels: Vec<Channel>,
        stop: Arc<AtomicBool>,
    ) -> Delivery {
        Delivery {
            project,
            store,
            update,
            channels,
            plan: true,
            stop,
            counted: None,
            wait_retries: false,
            progress: None,
        }
    }
}

/// The channels of `update`, as configured now; a channel that no longer exists is an error.
pub fn channels_of(project: &Project, update: &Update) -> Result<Vec<Channel>, Invalid> {
    let mut found = Vec::new();
    let mut problems = Diagnostics::default();
    for name in &update.channels {
        match project.channels.iter().find(|c| &c.name == name) {
            Some(c) => found.push(c.clone()),
            None => problems.push(
                Diagnostic::new(format!(
                    "update {} of `{}` was sent on channel `{name}`, which is no longer configured",
                    update.seq, update.incident_id
                ))
                .hint(format!("restore `channels/{name}.toml` to finish sending")),
            ),
        }
    }
    problems.into_result(found).map_err(|e| Invalid(e.0))
}

/// What one run came to.
#[derive(Debug)]
pub struct Sent {
    /// Messages this run attempted (sent, failed, or left to retry).
    pub attempted: u64,
    /// Messages found in doubt after an interrupted run (resent, or skipped).
    pub in_doubt: usize,
    /// What this run's planning found, when it planned.
    pub planned: Option<plan::Planned>,
    /// The folder a `file` channel wrote to.
    pub outbox: Option<PathBuf>,
}

/// Send `d.update`, unless another live process is sending it: then `Err(its run)`.
pub async fn deliver_unless_busy(d: Delivery) -> anyhow::Result<Result<Sent, Run>> {
    let me = Run {
        pid: std::process::id(),
        host: hostname(),
        started_at: jiff::Timestamp::now(),
        heartbeat_at: jiff::Timestamp::now(),
    };
    let mut started = d.store.start_run(d.update.id, &me, STALE_MS).await?;
    if let Err(other) = &started
        && other.host == me.host
        && process_gone(other.pid)
    {
        // Killed (kill -9, a crash, a reboot) less than STALE_MS ago: its rows left
        // `attempting` are recovered as in doubt when the workers start.
        d.store.end_run(d.update.id, other.pid, &other.host).await?;
        started = d.store.start_run(d.update.id, &me, STALE_MS).await?;
    }
    if let Err(other) = started {
        return Ok(Err(other));
    }
    let (store, id) = (d.store.clone(), d.update.id);
    let result = run(d).await;
    store.end_run(id, me.pid, &me.host).await?;
    result.map(Ok)
}

async fn run(mut d: Delivery) -> anyhow::Result<Sent> {
    let project = &d.project;
    let kind = project.engine.kind(&d.update.kind).map_err(Invalid::from)?;
    let clock = project.clock(d.update.created_at);
    let values = slots::resolve(
        &kind.name,
        &kind.slots,
        &d.update.slots,
        Fill::Defaults,
        clock,
    )
    .map_err(Invalid)?;
    let mut built = Vec::new();
    let mut problems = Diagnostics::default();
    for channel in &d.channels {
        match blast::build(
            channel,
            &project.config,
            &d.update.incident_id,
            d.update.seq,
        ) {
            Ok(b) => built.push((channel.clone(), b)),
            Err(e) => problems.push(
                Diagnostic::new(format!("channel `{}`: {e}", channel.name)).in_file(&channel.path),
            ),
        }
    }
    if !problems.is_empty() {
        return Err(Invalid(problems).into());
    }
    let outbox = built
        .iter()
        .find_map(|(_, b)| b.outbox().map(std::path::Path::to_path_buf));
    let blast = Arc::new(Blast {
        store: d.store.clone(),
        project: project.clone(),
        update: d.update.clone(),
        incident: crate::store::incident_before(d.store.as_ref(), &d.update).await?,
        slots: values.display,
        stop: d.stop.clone(),
        halted: Arc::new(AtomicBool::new(false)),
        planning: Arc::new(AtomicBool::new(d.plan && !d.update.planned)),
        planned: Arc::default(),
        wait_retries: d.wait_retries,
        run: (std::process::id(), hostname()),
    });
    let stats: BTreeMap<String, Arc<Stats>> = d
        .channels
        .iter()
        .map(|c| (c.name.clone(), Arc::default()))
        .collect();
    let planner = spawn_planner(&d, &blast, &stats);
    let progress = match d.progress.take() {
        // Counted once, before the planner adds rows: from here on progress counts in memory
        // (a count of the journal is a scan, and would hold up the sends on a large blast).
        Some(report) => {
            let before = match d.counted.take() {
                Some(counts) => counts,
                None => d.store.counts(d.update.id).await?,
            };
            Some(tokio::spawn(watch(
                blast.clone(),
                stats.clone(),
                before,
                report,
            )))
        }
        None => None,
    };
    let reports = blast::send(blast.clone(), built, &stats).await;
    let planned = match planner {
        Some(p) => Some(p.await.expect("the planner never panics")?),
        None => None,
    };
    if let Some(p) = progress {
        p.abort();
    }
    let reports = reports?;
    let attempted = stats
        .values()
        .map(|s| {
            s.sent.load(Ordering::Relaxed)
                + s.failed.load(Ordering::Relaxed)
                + s.retrying.load(Ordering::Relaxed)
        })
        .sum();
    Ok(Sent {
        attempted,
        in_doubt: reports.values().map(|r| r.in_doubt.len()).sum(),
        planned,
        outbox,
    })
}

fn spawn_planner(
    d: &Delivery,
    blast: &Arc<Blast<Backend>>,
    stats: &BTreeMap<String, Arc<Stats>>,
) -> Option<tokio::task::JoinHandle<anyhow::Result<plan::Planned>>> {
    if d.update.planned || !d.plan {
        return None;
    }
    let store = d.store.clone();
    let update = d.update.clone();
    let channels = d.channels.clone();
    let blast = blast.clone();
    let path = d.project.config.audience_path.clone();
    let segment = d.update.audience.clone();
    let stats = stats.clone();
    let notify = blast.planned.clone();
    let added = move |channel: &str, rows: u64| {
        if let Some(s) = stats.get(channel) {
            s.planned.fetch_add(rows, Ordering::Relaxed);
        }
        notify.notify_waiters();
    };
    Some(tokio::task::spawn(async move {
        let result = async {
            let reader = audience::open(&path)
                .map_err(Invalid::from)?
                .segment(segment);
            let refs: Vec<&Channel> = channels.iter().collect();
            Ok(plan::plan(store.as_ref(), &update, &refs, reader, added).await?)
        }
        .await;
        blast.planning.store(false, Ordering::Release);
        blast.planned.notify_waiters();
        result
    }))
}

/// Every [`TICK`] until aborted: where each channel stands, to `report`.
/// `before`: the journal's counts when this run started.
async fn watch(
    blast: Arc<Blast<Backend>>,
    stats: BTreeMap<String, Arc<Stats>>,
    before: BTreeMap<String, Counts>,
    mut report: Progress,
) {
    loop {
        report(&snapshot(&blast, &stats, &before));
        tokio::time::sleep(TICK).await;
    }
}

fn snapshot(
    blast: &Blast<Backend>,
    stats: &BTreeMap<String, Arc<Stats>>,
    before: &BTreeMap<String, Counts>,
) -> Snapshot {
    let channels = stats
        .iter()
        .map(|(name, stat)| {
            let counted = before.get(name).cloned().unwrap_or_default();
            let sent = stat.sent.load(Ordering::Relaxed);
            let failed = stat.failed.load(Ordering::Relaxed);
            let done_before = counted.sent + counted.failed + counted.skipped;
            let progress = ChannelProgress {
                total: counted.total() + stat.planned.load(Ordering::Relaxed),
                sent: counted.sent + sent,
                done: (sent + failed).max(done_before),
                failed,
                retrying: stat.retrying.load(Ordering::Relaxed),
            };
            (name.clone(), progress)
        })
        .collect();
    Snapshot {
        channels,
        halted: blast.halted.load(Ordering::Relaxed),
    }
}

/// The process sending `update` right now, other than this one, if any: see [`live_runs`].
pub async fn live_run(store: &Backend, update: &Update) -> crate::store::Result<Option<Run>> {
    Ok(live_runs(store, update).await?.into_iter().next())
}

/// The processes sending `update` right now, other than this one, the latest heartbeat first
/// (a process is its pid on its host: every containerised worker may be process 1): each one's
/// heartbeat is fresh and, when it runs on this machine, it still exists.
pub async fn live_runs(store: &Backend, update: &Update) -> crate::store::Result<Vec<Run>> {
    let now = jiff::Timestamp::now().as_millisecond();
    let this = hostname();
    Ok(store
        .runs(update.id)
        .await?
        .into_iter()
        .filter(|run| {
            let age = now - run.heartbeat_at.as_millisecond();
            let here = run.host == this;
            let me = here && run.pid == std::process::id();
            age < STALE_MS && !me && !(here && process_gone(run.pid))
        })
        .collect())
}

/// Whether process `pid` on this machine has ended (a zombie counts as ended). Where that
/// cannot be told (no `/proc`), it is taken to be alive, and its run goes stale after
/// [`STALE_MS`] without a heartbeat.
fn process_gone(pid: u32) -> bool {
    if pid == std::process::id() || std::fs::metadata("/proc/self/stat").is_err() {
        return false;
    }
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        // `pid (comm) S …`: the state follows the last `)`.
        Ok(stat) => stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.trim_start().chars().next())
            .is_some_and(|state| matches!(state, 'Z' | 'X')),
        Err(e) => e.kind() == std::io::ErrorKind::NotFound,
    }
}

fn hostname() -> String {
    std::env::var("HOSTNAME")
        .ok()
        .or_else(|| {
            std::fs::read_to_string("/etc/hostname")
                .ok()
                .map(|h| h.trim().to_string())
        })
        .unwrap_or_else(|| "this machine".into())
}
