//! Sending one update and reporting it, for `blast`, `resume` and `retry`: the engine is
//! `delivery::run`; this shows its live progress per channel on stderr (bars on a terminal;
//! otherwise a line when a channel's counts changed, at most every 5 s) and ends with a
//! per-channel summary and the exit code.

use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use crate::delivery::run::{self, Delivery, Progress, Sent, Snapshot, TICK};
use crate::diag::{Diagnostic, Invalid};
use crate::project::Project;
use crate::store::{Backend, Store, Update};

/// Without a terminal, a channel's line is printed at most this often.
const LINE_EVERY: Duration = Duration::from_secs(5);
/// Without a terminal, a channel whose line has not changed for this long says so.
const STILL_EVERY: Duration = Duration::from_secs(60);

/// Finish sending an update planned before (`resume`, `retry`), on its channels as configured now.
pub async fn continue_update(
    project: Arc<Project>,
    store: Arc<Backend>,
    update: Update,
) -> anyhow::Result<ExitCode> {
    let channels = run::channels_of(&project, &update)?;
    deliver(Delivery {
        project,
        store,
        update,
        channels,
        plan: true,
        stop: super::stop_on_signals(),
        counted: None,
        wait_retries: true,
        progress: None,
    })
    .await
}

/// Send `d.update` with a person watching — live progress, waiting for retries, a summary —
/// and say whether everyone got it (the exit code). Another process sending it right now is
/// bad input (exit 2), with how to wait for it or stop it.
pub async fn deliver(mut d: Delivery) -> anyhow::Result<ExitCode> {
    let (seq, incident) = (d.update.seq, d.update.incident_id.clone());
    let (store, update, stop) = (d.store.clone(), d.update.clone(), d.stop.clone());
    d.wait_retries = true;
    d.progress = Some(progress(d.channels.iter().map(|c| c.name.clone())));
    match run::deliver_unless_busy(d).await? {
        Ok(sent) => summary(&store, &update, &sent, stop.load(Ordering::Relaxed)).await,
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

/// Live progress of the channels named `names`: bars on a terminal; otherwise (a log, CI) a
/// line per channel when it has something new to say, at most every [`LINE_EVERY`] (see
/// [`Lines`]).
fn progress(names: impl Iterator<Item = String>) -> Progress {
    let terminal = std::io::stderr().is_terminal();
    let bars = indicatif::MultiProgress::new();
    let style = indicatif::ProgressStyle::with_template(
        "{prefix:>14} {bar:28} {pos:>7}/{len:7} {per_sec:>9} ETA {eta:>4} {msg}",
    )
    .expect("the progress template is valid");
    let bar_of: BTreeMap<String, indicatif::ProgressBar> = names
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
    Box::new(move |now: &Snapshot| {
        let _keep = &bars;
        let halted = if now.halted { " HALTED" } else { "" };
        for (name, c) in &now.channels {
            let msg = format!("{} retrying, {} failed{halted}", c.retrying, c.failed);
            if let Some(bar) = bar_of.get(name) {
                bar.set_length(c.total);
                bar.set_position(c.done);
                bar.set_message(msg.clone());
            }
            if !terminal && tick > 0 && tick.is_multiple_of(ticks_per_line) {
                let state = format!("{} of {} sent, {msg}", c.sent, c.total);
                if let Some(line) = lines.line(name, state, std::time::Instant::now()) {
                    eprintln!("{line}");
                }
            }
        }
        tick = tick.wrapping_add(1);
    })
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
    store: &Backend,
    u: &Update,
    sent: &Sent,
    stopped: bool,
) -> anyhow::Result<ExitCode> {
    let counts = store.counts(u.id).await?;
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
    if let Some(p) = &sent.planned
        && p.bad_rows + p.duplicates > 0
    {
        let (total, rows) = store.bad_rows(u.id, 5).await?;
        println!(
            "\n{total} audience rows could not be used (see `crier status {}`):",
            u.incident_id
        );
        for r in rows {
            println!("  row {}: {}", r.row, r.reason);
        }
    }
    let in_doubt = sent.in_doubt;
    if in_doubt > 0 {
        println!(
            "\n{in_doubt} messages were in doubt after an interrupted run: sent again with the same Message-ID / webhook-id (or skipped where `in_doubt = \"skip\"`)."
        );
    }
    if let Some(dir) = &sent.outbox {
        println!(
            "\nWritten to {}/ (email/*.eml, everyone/*.json, …).",
            dir.display()
        );
    }
    println!(
        "Call script for support staff: crier script --incident {}",
        u.incident_id
    );
    if stopped || unfinished > 0 {
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
