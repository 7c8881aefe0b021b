//! The channels of one update, sending: each channel's transport built through the registry
//! and its settings (its file's keys over its type's defaults), one worker per channel, the
//! halt flag and the run's heartbeat kept fresh, and what each channel came to. Driven by
//! `run.rs`.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use super::retry::RetryPolicy;
use super::worker::{self, Blast, Settings, Stats};
use crate::channels::channel_type::{self, Drive};
use crate::channels::transport::Transport;
use crate::channels::{Built, Channel, InDoubt};
use crate::store::{self, Store};

/// Build the transport of `channel` for update `seq` of `incident`.
/// Files are written under the project's folder; every address the HTTP channels send to
/// passes the project's network guard.
pub fn build(
    channel: &Channel,
    project: &crate::config::Config,
    incident: &str,
    seq: u32,
) -> Result<Built, String> {
    channel.config.build(&channel_type::Build {
        timeout: settings(channel).timeout,
        guard: &project.network,
        root: &project.root,
        incident,
        seq,
    })
}

/// Rate, concurrency, timeout and retries of `channel`: its file's keys, else its type's
/// defaults, which respect each provider (Slack 1/s per webhook, Discord 5 per 2 s,
/// Intercom 10,000/min).
pub fn settings(channel: &Channel) -> Settings {
    let knobs = channel.config.knobs();
    let defaults = channel.config.defaults();
    let per_second = match knobs.per_second {
        Some(r) if r <= 0.0 => None,
        Some(r) => Some(r),
        None => defaults.per_second,
    };
    Settings {
        per_second,
        burst: knobs.burst.unwrap_or(defaults.burst),
        max_in_flight: knobs.max_in_flight.unwrap_or(defaults.max_in_flight) as usize,
        timeout: Duration::from_secs(knobs.timeout_secs.unwrap_or(defaults.timeout_secs)),
        policy: RetryPolicy {
            resend_in_doubt: knobs.in_doubt == InDoubt::Resend,
            max_attempts: knobs
                .max_attempts
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
        let task = built.drive(Spawn {
            blast: blast.clone(),
            name: channel.name.clone(),
            settings: settings(&channel),
            per_endpoint: channel.config.per_endpoint(),
            stats: stats.get(&channel.name).cloned().unwrap_or_default(),
        });
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

/// Starts one channel's worker on its own task, with the channel's concrete transport.
struct Spawn<S> {
    blast: Arc<Blast<S>>,
    name: String,
    settings: Settings,
    per_endpoint: bool,
    stats: Arc<Stats>,
}

impl<S: Store + 'static> Drive for Spawn<S> {
    type Output = tokio::task::JoinHandle<store::Result<Vec<String>>>;

    fn drive<T: Transport>(self, transport: T) -> Self::Output {
        let Spawn {
            blast,
            name,
            settings,
            per_endpoint,
            stats,
        } = self;
        tokio::spawn(worker::run(
            blast,
            name,
            transport,
            settings,
            per_endpoint,
            stats,
        ))
    }
}

/// Every 250 ms: read `crier halt` from the store; every 2 s: the run's heartbeat.
async fn keep_fresh<S: Store + 'static>(blast: Arc<Blast<S>>) {
    let (pid, host) = &blast.run;
    let mut ticks = 0u32;
    loop {
        if let Ok(halted) = blast.store.halted(&blast.update.incident_id).await {
            blast.halted.store(halted, Ordering::Relaxed);
        }
        if ticks.is_multiple_of(8) {
            let _ = blast
                .store
                .heartbeat(blast.update.id, *pid, host, jiff::Timestamp::now())
                .await;
        }
        ticks = ticks.wrapping_add(1);
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}
