//! Sending one planned (or planning) update and reporting it: shared by `blast`, `resume`
//! and `retry`. Shows live progress per channel on stderr (bars on a terminal; otherwise a
//! line when a channel's counts changed, at most every 5 s) and ends with a per-channel summary and the exit code.

use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use crate::audience;
use crate::channels::Channel;
use crate::delivery::blast;
use crate::delivery::plan;
use crate::delivery::worker::{Blast, Stats};
use crate::diag::{Diagnostic, Diagnostics, Invalid};
use crate::project::Project;
use crate::store::Backend;
use crate::store::{Counts, Run, Store, Update};
use crate::template::{Fill, slots};

/// A run stale for this long is taken to be dead (its process was killed).
const STALE_MS: i64 = 10_000;

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
    /// For a person at a terminal: live progress, a summary, and waiting for retries. `false`
    /// (the worker): none of it; rows due to retry later are left for its next pass.
    pub attended: bool,
}

impl Delivery {
    /// A send nobody watches (the worker, the trigger API): planning as needed, no progress
    /// or summary, rows due to retry later left for the next pass.
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
            attended: false,
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

/// Finish sending an update planned before (`resume`, `retry`), on its channels as configured now.
pub async fn continue_update(
    project: Arc<Project>,
    store: Arc<Backend>,
    update: Update,
) -> anyhow::Result<ExitCode> {
    let channels = channels_of(&project, &update)?;
    deliver(Delivery {
        project,
        store,
        update,
        channels,
        plan: true,
        stop: crate::delivery::blast::stop_on_signals(),
        counted: None,
        attended: true,
    })
    .await
}

/// Send `d.update` and report; the exit code says whether everyone got it. Another process
/// sending it right now is bad input (exit 2), with how to wait for it or stop it.
pub async fn deliver(d: Delivery) -> anyhow::Result<ExitCode> {
    let (seq, incident) = (d.update.seq, d.update.incident_id.clone());
    match deliver_unless_busy(d).await? {
        Ok(sent) => Ok(sent.code),
        Err(other) => Err(Invalid::from(
            Diagnostic::new(format!(
                "update {seq} of `{incident}` is being sent right now by process {} on `{}` (since {})",
                other.pid,
                other.host,
                crate::time::rfc3339(other.started_at)
            ))
            .hint(format!(
                "wait for it (`crier status {incident}`), or stop it with `crier halt {incident}`"
            )),
        )
        .into()),
    }
}

/// What one run of [`deliver_unless_busy`] came to.
#[derive(Debug)]
pub struct Sent {
    pub code: ExitCode,
    /// Messages this run attempted (sent, failed, or left to retry).
    pub attempted: u64,
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
        d.store.end_run(d.update.id, other.pid).await?;
        started = d.store.start_run(d.update.id, &me, STALE_MS).await?;
    }
    if let Err(other) = started {
        return Ok(Err(other));
    }
    let result = run(&d).await;
    d.store.end_run(d.update.id, me.pid).await?;
    result.map(Ok)
}

async fn run(d: &Delivery) -> anyhow::Result<Sent> {
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
        wait_retries: d.attended,
    });
    let stats: BTreeMap<String, Arc<Stats>> = d
        .channels
        .iter()
        .map(|c| (c.name.clone(), Arc::default()))
        .collect();
    // Counted once, before the planner adds rows: from here on the bars count in memory (a
    // count of the journal is a scan, and would hold up the sends on a large blast).
    let before = match &d.counted {
        Some(counts) => counts.clone(),
        None if d.attended => d.store.counts(d.update.id).await?,
        None => BTreeMap::new(),
    };
    let planner = spawn_planner(d, &blast, &stats);
    let progress = d
        .attended
        .then(|| tokio::spawn(progress(blast.clone(), stats.clone(), before)));
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
    let code = if d.attended {
        let in_doubt: usize = reports.values().map(|r| r.in_doubt.len()).sum();
        summary(d, planned.as_ref(), in_doubt, outbox.as_deref()).await?
    } else {
        ExitCode::SUCCESS
    };
    Ok(Sent { code, attempted })
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

/// How often progress is looked at: the bars on a terminal move at this pace.
const TICK: Duration = Duration::from_millis(500);
/// Without a terminal, a channel's line is printed at most this often.
const LINE_EVERY: Duration = Duration::from_secs(5);
/// Without a terminal, a channel whose line has not changed for this long says so.
const STILL_EVERY: Duration = Duration::from_secs(60);

/// Live progress: bars on a terminal; otherwise (a log, CI) a line per channel when it has
/// something new to say, at most every [`LINE_EVERY`] (see [`Lines`]).
/// `before`: the journal's counts when this run started.
async fn progress(
    blast: Arc<Blast<Backend>>,
    stats: BTreeMap<String, Arc<Stats>>,
    before: BTreeMap<String, Counts>,
) {
    let terminal = std::io::stderr().is_terminal();
    let bars = indicatif::MultiProgress::new();
    let style = indicatif::ProgressStyle::with_template(
        "{prefix:>14} {bar:28} {pos:>7}/{len:7} {per_sec:>9} ETA {eta:>4} {msg}",
    )
    .expect("the progress template is valid");
    let bar_of: BTreeMap<&String, indicatif::ProgressBar> = stats
        .keys()
        .map(|name| {
            let bar = bars.add(
                indicatif::ProgressBar::new(0)
                    .with_style(style.clone())
                    .with_prefix(name.clone()),
            );
            (name, bar)
        })
        .collect();
    if !terminal {
        bars.set_draw_target(indicatif::ProgressDrawTarget::hidden());
    }
    let mut lines = Lines::default();
    let mut tick = 0u32;
    let ticks_per_line = (LINE_EVERY.as_millis() / TICK.as_millis()) as u32;
    loop {
        for (name, stat) in &stats {
            let counted = before.get(name).cloned().unwrap_or_default();
            let total = counted.total() + stat.planned.load(Ordering::Relaxed);
            let sent = stat.sent.load(Ordering::Relaxed);
            let failed = stat.failed.load(Ordering::Relaxed);
            let retrying = stat.retrying.load(Ordering::Relaxed);
            let halted = if blast.halted.load(Ordering::Relaxed) {
                " HALTED"
            } else {
                ""
            };
            let msg = format!("{retrying} retrying, {failed} failed{halted}");
            if let Some(bar) = bar_of.get(name) {
                bar.set_length(total);
                let done_before = counted.sent + counted.failed + counted.skipped;
                bar.set_position((sent + failed).max(done_before));
                bar.set_message(msg.clone());
            }
            if !terminal && tick > 0 && tick.is_multiple_of(ticks_per_line) {
                let state = format!("{} of {total} sent, {msg}", counted.sent + sent);
                if let Some(line) = lines.line(name, state, std::time::Instant::now()) {
                    eprintln!("{line}");
                }
            }
        }
        tick = tick.wrapping_add(1);
        tokio::time::sleep(TICK).await;
    }
}

/// The progress lines of a run without a terminal. A line is printed when a channel's state
/// changed since its last line, so a log reads as a story, not the same line over and over;
/// and when nothing changed for [`STILL_EVERY`], a line says so with how long, so a stalled
/// blast (a receiver that hangs, retries minutes away) can be told from a dead process, and CI
/// systems that end jobs silent for ten minutes do not end this one.
#[derive(Debug, Default)]
struct Lines {
    /// Per channel: the last state printed, when it was first printed, when a line last went out.
    last: BTreeMap<String, (String, std::time::Instant, std::time::Instant)>,
}

impl Lines {
    /// The line to print for `channel` in `state` at `now`, if any.
    fn line(&mut self, channel: &str, state: String, now: std::time::Instant) -> Option<String> {
        match self.last.get_mut(channel) {
            Some((last, since, printed)) if *last == state => {
                if now.duration_since(*printed) < STILL_EVERY {
                    return None;
                }
                *printed = now;
                let still =
                    jiff::SignedDuration::try_from(now.duration_since(*since)).unwrap_or_default();
                let still = crate::time::describe_minutes(still, false);
                Some(format!("{channel}: {state} (no change for {still})"))
            }
            _ => {
                let line = format!("{channel}: {state}");
                self.last.insert(channel.to_string(), (state, now, now));
                Some(line)
            }
        }
    }
}

/// The per-channel summary and the exit code: 0 when everyone got it, 1 otherwise.
async fn summary(
    d: &Delivery,
    planned: Option<&plan::Planned>,
    in_doubt: usize,
    outbox: Option<&std::path::Path>,
) -> anyhow::Result<ExitCode> {
    let u = &d.update;
    let counts = d.store.counts(u.id).await?;
    println!("\n{} update {} ({}):", u.incident_id, u.seq, u.kind);
    let mut failed = 0;
    let mut skipped = 0;
    let mut unfinished = 0;
    for (channel, c) in &counts {
        failed += c.failed;
        skipped += c.skipped;
        unfinished += c.unsent();
        println!(
            "  {channel:<16} {:>7} sent  {:>5} failed  {:>5} not sent yet",
            c.sent,
            c.undelivered(),
            c.unsent()
        );
    }
    if let Some(p) = planned
        && p.bad_rows + p.duplicates > 0
    {
        let (total, rows) = d.store.bad_rows(u.id, 5).await?;
        println!(
            "\n{total} audience rows could not be used (see `crier status {}`):",
            u.incident_id
        );
        for r in rows {
            println!("  row {}: {}", r.row, r.reason);
        }
    }
    if in_doubt > 0 {
        println!(
            "\n{in_doubt} messages were in doubt after an interrupted run: sent again with the same Message-ID / webhook-id (or skipped where `in_doubt = \"skip\"`)."
        );
    }
    if let Some(dir) = outbox {
        println!(
            "\nWritten to {}/ (email/*.eml, everyone/*.json, …).",
            dir.display()
        );
    }
    println!(
        "Call script for support staff: crier script --incident {}",
        u.incident_id
    );
    if d.stop.load(Ordering::Relaxed) || unfinished > 0 {
        println!(
            "\nStopped before the end: run the same command again, or `crier resume {}`, to continue.",
            u.incident_id
        );
        return Ok(ExitCode::FAILURE);
    }
    if skipped > 0 {
        println!(
            "\n{skipped} messages were skipped as in doubt (`in_doubt = \"skip\"`): they may have arrived. \
             Check with the receivers (`crier status {}` lists them); `crier retry {} --failed` sends them \
             again with the same ids.",
            u.incident_id, u.incident_id
        );
    }
    if failed > 0 {
        println!(
            "\n{failed} messages failed. See why with `crier status {}`; after fixing the cause, `crier retry {} --failed`.",
            u.incident_id, u.incident_id
        );
    }
    if failed + skipped > 0 {
        return Ok(ExitCode::FAILURE);
    }
    Ok(ExitCode::SUCCESS)
}

/// The process sending `update` right now, other than this one: its heartbeat is fresh and,
/// when it runs on this machine, it still exists.
pub async fn live_run(store: &Backend, update: &Update) -> crate::store::Result<Option<Run>> {
    let Some(run) = store.current_run(update.id).await? else {
        return Ok(None);
    };
    let age = jiff::Timestamp::now().as_millisecond() - run.heartbeat_at.as_millisecond();
    let gone = run.host == hostname() && process_gone(run.pid);
    Ok((age < STALE_MS && !gone && run.pid != std::process::id()).then_some(run))
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Instant;

    #[test]
    fn a_line_only_when_something_changed_or_a_minute_passed() {
        let mut lines = Lines::default();
        let t0 = Instant::now();
        let at = |secs: u64| t0 + Duration::from_secs(secs);
        let state = |sent: u32| format!("{sent} of 9 sent, 0 retrying, 0 failed");
        assert_eq!(
            lines.line("hooks", state(1), at(5)).as_deref(),
            Some("hooks: 1 of 9 sent, 0 retrying, 0 failed")
        );
        assert_eq!(lines.line("hooks", state(1), at(10)), None);
        assert_eq!(lines.line("hooks", state(1), at(60)), None);
        assert_eq!(
            lines.line("mail", state(1), at(10)).as_deref(),
            Some("mail: 1 of 9 sent, 0 retrying, 0 failed"),
            "each channel has its own line"
        );
        assert_eq!(
            lines.line("hooks", state(1), at(65)).as_deref(),
            Some("hooks: 1 of 9 sent, 0 retrying, 0 failed (no change for 1 minute)")
        );
        assert_eq!(lines.line("hooks", state(1), at(70)), None);
        assert_eq!(
            lines.line("hooks", state(1), at(125)).as_deref(),
            Some("hooks: 1 of 9 sent, 0 retrying, 0 failed (no change for 2 minutes)")
        );
        assert_eq!(
            lines.line("hooks", state(2), at(130)).as_deref(),
            Some("hooks: 2 of 9 sent, 0 retrying, 0 failed")
        );
        assert_eq!(lines.line("hooks", state(2), at(135)), None);
    }
}
