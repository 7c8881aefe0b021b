//! Sending one channel of one update: a pipeline that claims due journal rows (committed as
//! `attempting` before any send), sends them concurrently within the channel's rate limit and
//! in-flight cap, and records outcomes in groups (committed after the sends).
//!
//! Each channel runs on its own task, so a slow or dead channel never holds up another. For
//! per-recipient webhooks, rate limits, `Retry-After` back-off and `410 Gone` apply per
//! endpoint, so one slow customer never slows the rest.

use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use governor::{DefaultDirectRateLimiter, DefaultKeyedRateLimiter, Quota};
use tokio::sync::{Semaphore, mpsc};

use super::retry::{Decision, RetryPolicy};
use super::transport::{Job, Transport};
use super::{Receipt, SendError};
use crate::audience::Member;
use crate::channels::Meta;
use crate::project::Project;
use crate::store::{self, Delivery, Outcome, Store, Update};
use crate::template::{Incident, Inputs};

/// Rows claimed but not yet recorded, per channel.
const WINDOW: u32 = 4_096;
/// Rows claimed per transaction.
const CLAIM: u32 = 256;
/// Outcomes recorded per transaction at most.
const RECORD: usize = 512;

/// How one channel sends.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Messages per second; `None`: no limit.
    pub per_second: Option<f64>,
    pub burst: u32,
    pub max_in_flight: usize,
    pub timeout: Duration,
    /// Rows found in doubt (after a crash or a timeout) are sent again with the same id;
    /// `false`: skipped and listed for the operator.
    pub resend_in_doubt: bool,
    pub policy: RetryPolicy,
}

/// What every channel of one blast shares.
pub struct Blast<S> {
    pub store: Arc<S>,
    pub project: Arc<Project>,
    pub update: Update,
    /// The incident as this update tells it: earlier updates only.
    pub incident: Incident,
    /// Slot values as they read in messages.
    pub slots: std::collections::BTreeMap<String, String>,
    /// Ctrl-C / SIGTERM: stop claiming, finish what is in flight.
    pub stop: Arc<AtomicBool>,
    /// `crier halt`, refreshed from the store by the caller.
    pub halted: Arc<AtomicBool>,
    /// Planning still adds rows: a channel with nothing due is not finished yet.
    pub planning: Arc<AtomicBool>,
}

/// Live counts of one channel, for progress display.
#[derive(Debug, Default)]
pub struct Stats {
    pub sent: AtomicU64,
    pub retrying: AtomicU64,
    pub failed: AtomicU64,
    pub in_doubt: AtomicU64,
}

/// Per-endpoint state: back-off after `Retry-After`, disabled after `410 Gone`.
#[derive(Debug, Default)]
struct Endpoints {
    cooling: HashMap<String, jiff::Timestamp>,
    gone: HashMap<String, String>,
}

enum Limiter {
    None,
    Channel(DefaultDirectRateLimiter),
    PerEndpoint(DefaultKeyedRateLimiter<String>),
}

impl Limiter {
    fn new(settings: &Settings, per_endpoint: bool) -> Limiter {
        let Some(quota) = quota(settings.per_second, settings.burst) else {
            return Limiter::None;
        };
        if per_endpoint {
            Limiter::PerEndpoint(governor::RateLimiter::keyed(quota))
        } else {
            Limiter::Channel(governor::RateLimiter::direct(quota))
        }
    }

    async fn wait(&self, endpoint: Option<&String>) {
        match (self, endpoint) {
            (Limiter::Channel(l), _) => l.until_ready().await,
            (Limiter::PerEndpoint(l), Some(e)) => l.until_key_ready(e).await,
            _ => {}
        }
    }
}

/// The governor quota for `per_second` messages with bursts of `burst`; `None` for no limit.
pub fn quota(per_second: Option<f64>, burst: u32) -> Option<Quota> {
    let rate = per_second.filter(|r| r.is_finite() && *r > 0.0)?;
    let period = Duration::from_secs_f64(1.0 / rate);
    Quota::with_period(period)
        .map(|q| q.allow_burst(NonZeroU32::new(burst.max(1)).expect("max(1) is non-zero")))
}

/// What the pipeline of one channel shares between its tasks.
struct Lane<S, T> {
    blast: Arc<Blast<S>>,
    channel: String,
    transport: Arc<T>,
    settings: Settings,
    limiter: Limiter,
    sending: Semaphore,
    endpoints: Mutex<Endpoints>,
    stats: Arc<Stats>,
}

/// Send every due row of `channel` until none is left (or the blast stops); retries are
/// waited for. Returns the keys of rows found in doubt after a crash.
pub async fn run<S: Store + 'static, T: Transport>(
    blast: Arc<Blast<S>>,
    channel: String,
    transport: T,
    settings: Settings,
    per_endpoint: bool,
    stats: Arc<Stats>,
) -> store::Result<Vec<String>> {
    let update = blast.update.id;
    let now = jiff::Timestamp::now();
    let in_doubt = blast
        .store
        .recover(update, &channel, settings.resend_in_doubt, now)
        .await?;
    stats
        .in_doubt
        .fetch_add(in_doubt.len() as u64, Ordering::Relaxed);
    let lane = Arc::new(Lane {
        limiter: Limiter::new(&settings, per_endpoint),
        sending: Semaphore::new(settings.max_in_flight.max(1)),
        endpoints: Mutex::new(Endpoints::default()),
        blast,
        channel,
        transport: Arc::new(transport),
        settings,
        stats,
    });
    let window = Arc::new(Semaphore::new(WINDOW as usize));
    let (tx, rx) = mpsc::channel::<(i64, Outcome)>(WINDOW as usize);
    let recorder = tokio::spawn(record(lane.blast.store.clone(), rx, window.clone()));
    let claimed = claim_loop(&lane, &window, &tx).await;
    let _all_recorded = window.acquire_many(WINDOW).await;
    drop(tx);
    recorder.await.expect("the recorder never panics")?;
    claimed?;
    Ok(in_doubt)
}

async fn claim_loop<S: Store + 'static, T: Transport>(
    lane: &Arc<Lane<S, T>>,
    window: &Arc<Semaphore>,
    tx: &mpsc::Sender<(i64, Outcome)>,
) -> store::Result<()> {
    let update = lane.blast.update.id;
    loop {
        if lane.blast.stop.load(Ordering::Relaxed) {
            return Ok(());
        }
        if lane.blast.halted.load(Ordering::Relaxed) {
            tokio::time::sleep(Duration::from_millis(100)).await;
            continue;
        }
        window
            .acquire_many(CLAIM)
            .await
            .expect("the window is never closed")
            .forget();
        let batch = lane
            .blast
            .store
            .claim(update, &lane.channel, CLAIM, jiff::Timestamp::now())
            .await?;
        window.add_permits(CLAIM as usize - batch.len());
        if batch.is_empty() {
            let in_flight = WINDOW as usize - window.available_permits();
            if in_flight > 0 {
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            }
            match lane.blast.store.next_due(update, &lane.channel).await? {
                None if !lane.blast.planning.load(Ordering::Acquire) => return Ok(()),
                None => tokio::time::sleep(Duration::from_millis(20)).await,
                Some(at) => wait_until(at, &lane.blast.stop).await,
            }
            continue;
        }
        for delivery in batch {
            let lane = lane.clone();
            let tx = tx.clone();
            tokio::spawn(async move {
                let outcome = attempt(&lane, &delivery).await;
                lane.count(&outcome);
                let _ = tx.send((delivery.id, outcome)).await;
            });
        }
    }
}

/// Sleep until `at` (at most a second at a time, to notice a stop).
async fn wait_until(at: jiff::Timestamp, stop: &AtomicBool) {
    let wait = at.duration_since(jiff::Timestamp::now());
    let wait = wait.clamp(
        jiff::SignedDuration::from_millis(10),
        jiff::SignedDuration::from_secs(1),
    );
    if !stop.load(Ordering::Relaxed) {
        tokio::time::sleep(wait.unsigned_abs()).await;
    }
}

/// Record outcomes in groups: one transaction per group, each row's window slot freed after.
async fn record<S: Store>(
    store: Arc<S>,
    mut rx: mpsc::Receiver<(i64, Outcome)>,
    window: Arc<Semaphore>,
) -> store::Result<()> {
    let mut group = Vec::with_capacity(RECORD);
    while rx.recv_many(&mut group, RECORD).await > 0 {
        store.record(&group, jiff::Timestamp::now()).await?;
        window.add_permits(group.len());
        group.clear();
    }
    Ok(())
}

impl<S: Store + 'static, T: Transport> Lane<S, T> {
    fn stopping(&self) -> bool {
        self.blast.stop.load(Ordering::Relaxed) || self.blast.halted.load(Ordering::Relaxed)
    }

    fn count(&self, outcome: &Outcome) {
        let counter = match outcome {
            Outcome::Sent { .. } => &self.stats.sent,
            Outcome::Retry { .. } => &self.stats.retrying,
            Outcome::Failed { .. } => &self.stats.failed,
            Outcome::InDoubt { .. } => &self.stats.in_doubt,
            Outcome::Released { .. } => return,
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// Whether `endpoint` may be sent to now: `Err` with the outcome when it may not.
    fn endpoint_open(&self, endpoint: Option<&String>) -> Result<(), Outcome> {
        let Some(e) = endpoint else { return Ok(()) };
        let endpoints = self
            .endpoints
            .lock()
            .expect("endpoint state is never poisoned");
        if let Some(reason) = endpoints.gone.get(e) {
            return Err(Outcome::Failed {
                error: format!("not sent: this endpoint answered earlier in this blast: {reason}"),
            });
        }
        match endpoints.cooling.get(e) {
            Some(until) if *until > jiff::Timestamp::now() => Err(Outcome::Released { at: *until }),
            _ => Ok(()),
        }
    }

    /// Remember what `error` says about `endpoint` (back off, or give up on it).
    fn learn(&self, endpoint: Option<String>, error: &SendError) {
        let key = endpoint.unwrap_or_else(|| "*".to_string());
        let mut endpoints = self
            .endpoints
            .lock()
            .expect("endpoint state is never poisoned");
        match error {
            SendError::Transient {
                retry_after: Some(wait),
                ..
            } => {
                let wait = (*wait).min(self.settings.policy.retry_after_cap);
                let until = jiff::Timestamp::now()
                    + jiff::SignedDuration::try_from(wait).unwrap_or_default();
                endpoints.cooling.insert(key, until);
            }
            SendError::Permanent {
                disable_endpoint: true,
                reason,
            } => {
                endpoints.gone.insert(key, reason.clone());
            }
            _ => {}
        }
    }
}

/// One attempt of one row, from the journal row to the outcome to record.
async fn attempt<S: Store + 'static, T: Transport>(lane: &Lane<S, T>, d: &Delivery) -> Outcome {
    if lane.stopping() {
        return Outcome::Released {
            at: jiff::Timestamp::now(),
        };
    }
    let payload = match prepare(lane, d) {
        Ok(p) => p,
        Err(error) => return Outcome::Failed { error },
    };
    let endpoint = lane.transport.endpoint(&payload);
    let cooling_key = endpoint.clone().or_else(|| Some("*".to_string()));
    if let Err(outcome) = lane.endpoint_open(cooling_key.as_ref()) {
        return outcome;
    }
    lane.limiter.wait(endpoint.as_ref()).await;
    let _slot = lane
        .sending
        .acquire()
        .await
        .expect("the send semaphore is never closed");
    if lane.stopping() {
        return Outcome::Released {
            at: jiff::Timestamp::now(),
        };
    }
    let result =
        match tokio::time::timeout(lane.settings.timeout, lane.transport.send(payload)).await {
            Ok(result) => result,
            Err(_) => Err(SendError::InDoubt {
                reason: format!("no answer within {} s", lane.settings.timeout.as_secs()),
            }),
        };
    match result {
        Ok(Receipt { provider_id }) => Outcome::Sent { provider_id },
        Err(error) => {
            lane.learn(endpoint.clone(), &error);
            decide(lane, d, &error)
        }
    }
}

fn decide<S, T>(lane: &Lane<S, T>, d: &Delivery, error: &SendError) -> Outcome {
    let now = jiff::Timestamp::now();
    let mut rng = fastrand::Rng::new();
    match lane
        .settings
        .policy
        .decide(error, d.attempts, d.first_attempt_at, now, &mut rng)
    {
        Decision::RetryAt(at) => Outcome::Retry {
            at,
            error: error.to_string(),
        },
        Decision::Fail { reason } => Outcome::Failed { error: reason },
        Decision::InDoubt { reason } => Outcome::InDoubt {
            resend: lane.settings.resend_in_doubt,
            at: now,
            error: reason,
        },
    }
}

/// Render the row's message and build its payload; an error here is permanent.
fn prepare<S, T: Transport>(lane: &Lane<S, T>, d: &Delivery) -> Result<T::Payload, String> {
    let member: Member = serde_json::from_str(&d.target)
        .map_err(|e| format!("the journal row cannot be read ({e}); re-plan the blast"))?;
    let blast = &lane.blast;
    let project = &blast.project;
    let inputs = Inputs {
        incident: &blast.incident,
        slots: &blast.slots,
        recipient: &member.recipient,
        company: &project.config.company,
        now: blast.update.created_at,
        tz: &project.config.time_zone,
    };
    let kind = project
        .engine
        .kind(&blast.update.kind)
        .map_err(|d| d.message)?;
    let rendered = project
        .engine
        .render(kind, &inputs)
        .map_err(|e| e.to_string())?;
    let job = Job {
        key: &d.key,
        member: &member,
        rendered: &rendered,
        meta: Meta {
            kind: &kind.name,
            inputs,
            message_id: &d.key,
            sequence: blast.update.seq,
        },
        engine: &project.engine,
    };
    lane.transport
        .prepare(&job)
        .map_err(|e| e.diagnostic(&kind.name, &lane.channel).message)
}
