//! One update, sent: build each channel's transport, start one worker per channel, keep the
//! halt flag and the run's heartbeat fresh, and report what happened. Used by `blast`,
//! `resume` and `retry`.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use super::retry::RetryPolicy;
use super::worker::{self, Blast, Settings, Stats};
use crate::channels::chat::{Chat, Platform};
use crate::channels::{Channel, Config, InDoubt, file, intercom, smtp, webhook, widget};
use crate::store::{self, Store};

/// A channel's transport, built (secrets read, addresses parsed) before anything is sent.
pub enum Built {
    Email(smtp::Smtp),
    Chat(Chat),
    Webhook(webhook::Webhooks),
    Intercom(intercom::Intercom),
    Widget(widget::Widget),
    File(file::Files),
}

/// Build the transport of `channel` for update `seq` of `incident`.
/// Files are written under the project's folder; every address the HTTP channels send to
/// passes the project's network guard.
pub fn build(
    channel: &Channel,
    project: &crate::config::Config,
    incident: &str,
    seq: u32,
) -> Result<Built, String> {
    let timeout = settings(channel).timeout;
    let guard = &project.network;
    let root = &project.root;
    let chat = |platform, c| Chat::new(platform, c, timeout, guard).map(Built::Chat);
    Ok(match &channel.config {
        Config::Email(c) => Built::Email(smtp::Smtp::new(c, timeout)?),
        Config::Slack(c) => chat(Platform::Slack, c)?,
        Config::Teams(c) => chat(Platform::Teams, c)?,
        Config::Discord(c) => chat(Platform::Discord, c)?,
        Config::Mattermost(c) => chat(Platform::Mattermost, c)?,
        Config::GoogleChat(c) => chat(Platform::GoogleChat, c)?,
        Config::Webhook(c) => Built::Webhook(webhook::Webhooks::new(c, timeout, guard)?),
        Config::Intercom(c) => Built::Intercom(intercom::Intercom::new(c, timeout, guard)?),
        Config::Widget(_) => Built::Widget(widget::Widget),
        Config::File(c) => Built::File(file::Files::new(c, root, incident, seq)?),
    })
}

/// Rate, concurrency, timeout and in-doubt handling of `channel`, with defaults that respect
/// each provider: Slack 1/s per webhook, Discord 5 per 2 s, Intercom 10,000/min.
pub fn settings(channel: &Channel) -> Settings {
    // (per_second, burst, max_in_flight, timeout_secs, in_doubt, max_attempts) as configured.
    type Knobs = (
        Option<f64>,
        Option<u32>,
        Option<u32>,
        Option<u64>,
        InDoubt,
        Option<u32>,
    );
    // Every sending config has these keys, with the same names.
    macro_rules! knobs {
        ($c:expr) => {
            (
                $c.per_second,
                $c.burst,
                $c.max_in_flight,
                $c.timeout_secs,
                $c.in_doubt,
                $c.max_attempts,
            )
        };
    }
    let knobs: Knobs = match &channel.config {
        Config::Email(c) => knobs!(c),
        Config::Slack(c)
        | Config::Teams(c)
        | Config::Discord(c)
        | Config::Mattermost(c)
        | Config::GoogleChat(c) => knobs!(c),
        Config::Intercom(c) => knobs!(c),
        Config::Webhook(c) => knobs!(c),
        Config::Widget(_) | Config::File(_) => (None, None, None, None, InDoubt::Resend, None),
    };
    // Defaults: (per second, burst, in flight, timeout).
    let (rate, burst, in_flight, timeout) = match channel.type_name() {
        "email" => (Some(50.0), 10, 8, 30),
        "discord" => (Some(2.5), 5, 1, 15),
        "slack" | "teams" | "mattermost" | "google-chat" => (Some(1.0), 1, 1, 15),
        "intercom" => (Some(10_000.0 / 60.0), 20, 16, 30),
        "webhook" => (Some(20.0), 20, 64, 15),
        _ => (None, 1, 16, 30),
    };
    let per_second = match knobs.0 {
        Some(r) if r <= 0.0 => None,
        Some(r) => Some(r),
        None => rate,
    };
    Settings {
        per_second,
        burst: knobs.1.unwrap_or(burst),
        max_in_flight: knobs.2.unwrap_or(in_flight) as usize,
        timeout: Duration::from_secs(knobs.3.unwrap_or(timeout)),
        policy: RetryPolicy {
            resend_in_doubt: knobs.4 == InDoubt::Resend,
            max_attempts: knobs
                .5
                .unwrap_or(RetryPolicy::default().max_attempts)
                .max(1),
            ..RetryPolicy::default()
        },
    }
}

/// What one channel came to.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct ChannelReport {
    /// Keys of messages found in doubt after an interrupted run.
    pub in_doubt: Vec<String>,
}

/// Send every due row of `blast.update` on `channels`, one worker per channel, until done or
/// stopped. `stats` receives live counts per channel (for progress display).
pub async fn send<S: Store + 'static>(
    blast: Arc<Blast<S>>,
    channels: Vec<(Channel, Built)>,
    stats: &BTreeMap<String, Arc<Stats>>,
) -> store::Result<BTreeMap<String, ChannelReport>> {
    let keeper = tokio::spawn(keep_fresh(blast.clone()));
    let mut tasks = Vec::new();
    for (channel, built) in channels {
        let s = settings(&channel);
        let per_endpoint = matches!(&channel.config, Config::Webhook(c) if c.url.is_none());
        let stat = stats.get(&channel.name).cloned().unwrap_or_default();
        let b = blast.clone();
        let name = channel.name.clone();
        let task = match built {
            Built::Email(t) => tokio::spawn(worker::run(b, name, t, s, per_endpoint, stat)),
            Built::Chat(t) => tokio::spawn(worker::run(b, name, t, s, per_endpoint, stat)),
            Built::Webhook(t) => tokio::spawn(worker::run(b, name, t, s, per_endpoint, stat)),
            Built::Intercom(t) => tokio::spawn(worker::run(b, name, t, s, per_endpoint, stat)),
            Built::Widget(t) => tokio::spawn(worker::run(b, name, t, s, per_endpoint, stat)),
            Built::File(t) => tokio::spawn(worker::run(b, name, t, s, per_endpoint, stat)),
        };
        tasks.push((channel.name, task));
    }
    let mut reports = BTreeMap::new();
    let mut first_error = None;
    for (name, task) in tasks {
        match task.await.expect("a channel worker never panics") {
            Ok(in_doubt) => {
                reports.insert(name, ChannelReport { in_doubt });
            }
            Err(e) => first_error = first_error.or(Some(e)),
        }
    }
    keeper.abort();
    match first_error {
        Some(e) => Err(e),
        None => Ok(reports),
    }
}

/// Every 250 ms: read `crier halt` from the store; every 2 s: the run's heartbeat.
async fn keep_fresh<S: Store + 'static>(blast: Arc<Blast<S>>) {
    let pid = std::process::id();
    let mut ticks = 0u32;
    loop {
        if let Ok(halted) = blast.store.halted(&blast.update.incident_id).await {
            blast.halted.store(halted, Ordering::Relaxed);
        }
        if ticks.is_multiple_of(8) {
            let _ = blast
                .store
                .heartbeat(blast.update.id, pid, jiff::Timestamp::now())
                .await;
        }
        ticks = ticks.wrapping_add(1);
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// Flags a caller sets up once: stop on Ctrl-C / SIGTERM.
pub fn stop_on_signals() -> Arc<AtomicBool> {
    stop_on_signals_saying(
        "stopping: finishing the messages in flight; run the same command again to continue",
    )
}

/// [`stop_on_signals`], printing `message` when a signal comes.
pub fn stop_on_signals_saying(message: &'static str) -> Arc<AtomicBool> {
    let stop = Arc::new(AtomicBool::new(false));
    let flag = stop.clone();
    tokio::spawn(async move {
        let ctrl_c = tokio::signal::ctrl_c();
        #[cfg(unix)]
        {
            let mut term =
                tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
                    .expect("SIGTERM can be watched");
            tokio::select! {
                _ = ctrl_c => {}
                _ = term.recv() => {}
            }
        }
        #[cfg(not(unix))]
        let _ = ctrl_c.await;
        flag.store(true, Ordering::Relaxed);
        eprintln!("\n{message}");
    });
    stop
}
