//! `/metrics` in the Prometheus text format: the journal's messages per channel and state,
//! what is not sent yet, open incidents, and how old the last update is. Read from the journal
//! when scraped (every 15–60 s), unlike the public pages.

use std::fmt::Write;

use super::public::Public;
use crate::store::Store;

/// The exposition of the journal as of `now`.
pub async fn render<S: Store>(store: &S, now: jiff::Timestamp) -> anyhow::Result<String> {
    let totals = store.totals().await?;
    let public = Public::load(store, now).await?;
    let mut out = String::new();
    let mut family = |name: &str, kind: &str, help: &str| {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
    };
    family(
        "crier_messages",
        "gauge",
        "Messages in the journal by channel and state (sent, failed, skipped, retry, pending, attempting).",
    );
    let mut lines = String::new();
    let mut backlog = 0;
    for ((channel, state), n) in &totals {
        if matches!(state.as_str(), "pending" | "attempting" | "retry") {
            backlog += n;
        }
        let _ = writeln!(
            lines,
            "crier_messages{{channel=\"{}\",state=\"{}\"}} {n}",
            label(channel),
            label(state)
        );
    }
    out.push_str(&lines);
    let _ = writeln!(
        out,
        "# HELP crier_limiter_waits_total Sends by this process (a worker's, or the trigger API's blasts) that waited for a channel's rate limit.\n\
         # TYPE crier_limiter_waits_total counter\ncrier_limiter_waits_total {}",
        crate::delivery::worker::LIMITER_WAITS.load(std::sync::atomic::Ordering::Relaxed)
    );
    let _ = writeln!(
        out,
        "# HELP crier_attempts_total Attempts this process made, by how they ended: with several workers, each one's own share.\n\
         # TYPE crier_attempts_total counter"
    );
    let attempts = &crate::delivery::worker::ATTEMPTS;
    for (outcome, n) in [
        ("sent", &attempts.sent),
        ("retry", &attempts.retry),
        ("failed", &attempts.failed),
        ("in_doubt", &attempts.in_doubt),
    ] {
        let n = n.load(std::sync::atomic::Ordering::Relaxed);
        let _ = writeln!(out, "crier_attempts_total{{outcome=\"{outcome}\"}} {n}");
    }
    let mut gauge = |name: &str, help: &str, value: String| {
        let _ = writeln!(
            out,
            "# HELP {name} {help}\n# TYPE {name} gauge\n{name} {value}"
        );
    };
    gauge(
        "crier_journal_backlog",
        "Messages not sent yet: due, being sent, or waiting to retry.",
        backlog.to_string(),
    );
    gauge(
        "crier_open_incidents",
        "Incidents not resolved.",
        public.open.len().to_string(),
    );
    gauge(
        "crier_maintenance",
        "1 while the maintenance page is on.",
        u8::from(public.maintenance.is_some()).to_string(),
    );
    let last = public.last_update_at();
    if let Some(t) = last {
        gauge(
            "crier_last_update_age_seconds",
            "Seconds since the last update went out (open and recent incidents).",
            now.duration_since(t).as_secs().to_string(),
        );
    }
    Ok(out)
}

/// A label value as the text format wants it: backslash, quote and newline escaped.
fn label(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}
