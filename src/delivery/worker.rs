//! Sending one channel of one update: a pipeline that claims due journal rows (held by this
//! worker), sends them concurrently within the channel's rate limit and in-flight cap,
//! and records outcomes in groups (committed after the sends). Each row is committed as
//! `attempting` just before its own send, so after a crash only rows whose message may really
//! have gone out are in doubt; rows claimed but not yet sent become due again. One journal
//! task per channel writes both, in groups: every row about to be sent and every outcome
//! waiting at that moment share one transaction.
//!
//! Each channel runs on its own task, so a slow or dead channel never holds up another. For
//! per-recipient webhooks, rate limits, `Retry-After` back-off and `410 Gone` apply per
//! endpoint, so one slow customer never slows the rest.
//!
//! On a store several processes share, each claims its own rows; when it finds nothing due it
//! recovers the rows of a process whose lease ran out; and a channel with a channel-wide rate
//! limit is sent only by the process that owns it (`Store::own_channel`), so the limit holds
//! across all of them.

use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use governor::{DefaultDirectRateLimiter, DefaultKeyedRateLimiter, Quota};
use tokio::sync::{Semaphore, mpsc, oneshot, watch};

use super::retry::{Decision, RetryPolicy};
use crate::audience::Member;
use crate::channels::Meta;
use crate::channels::transport::{Job, Receipt, SendError, Transport};
use crate::project::Project;
use crate::store::{self, Delivery, Outcome, Store, Update};
use crate::template::{Engine, Incident, Inputs, Recipient};

/// Sends in this process that had to wait for a rate limit (for `/metrics`).
pub static LIMITER_WAITS: AtomicU64 = AtomicU64::new(0);

/// How the attempts this process made ended (for `/metrics`: each worker's own share).
#[derive(Debug)]
pub struct Attempts {
    pub sent: AtomicU64,
    pub retry: AtomicU64,
    pub failed: AtomicU64,
    pub in_doubt: AtomicU64,
}

/// The attempts of this process.
pub static ATTEMPTS: Attempts = Attempts {
    sent: AtomicU64::new(0),
    retry: AtomicU64::new(0),
    failed: AtomicU64::new(0),
    in_doubt: AtomicU64::new(0),
};

/// Rows claimed but not yet recorded, per channel.
const WINDOW: u32 = 4_096;
/// The same where processes share an update: what one holds, the others cannot send, so a
/// worker holds a fraction of a second of its sending, not more.
const SHARED_WINDOW: u32 = 1_024;
/// Sends in flight to one endpoint of a per-recipient channel, at most.
const PER_ENDPOINT: usize = 4;
/// Rows claimed at a time.
const CLAIM: u32 = 256;
/// Journal writes (rows to begin, outcomes) per transaction at most.
const GROUP: usize = 512;
/// How often, at most, a process sending alongside others looks for the rows of one that
/// died (when it finds nothing due).
const RECOVER_EVERY: Duration = Duration::from_millis(500);
/// How often a process sending a channel one process at a time checks that it still owns it,
/// or, waiting, whether it can take it.
const OWNER_CHECK: Duration = Duration::from_secs(1);

/// What the journal task of a channel writes.
enum Write {
    /// A row about to be sent: commit it as `attempting`, then let its send go.
    Begin(i64, oneshot::Sender<()>),
    /// How a row's attempt ended.
    Outcome(i64, Outcome),
}

/// The first journal write that failed in a worker: it stops claiming and returns the error.
#[derive(Debug, Default)]
struct Broken {
    flag: AtomicBool,
    error: Mutex<Option<store::StoreError>>,
}

impl Broken {
    fn is_set(&self) -> bool {
        self.flag.load(Ordering::Relaxed)
    }

    fn set(&self, error: store::StoreError) {
        let mut first = self.error.lock().expect("never poisoned");
        first.get_or_insert(error);
        self.flag.store(true, Ordering::Relaxed);
    }

    fn take(&self) -> Option<store::StoreError> {
        self.error.lock().expect("never poisoned").take()
    }
}

/// How one channel sends.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Messages per second; `None`: no limit.
    pub per_second: Option<f64>,
    pub burst: u32,
    pub max_in_flight: usize,
    pub timeout: Duration,
    /// Retries, and what happens to rows found in doubt (after a crash or a timeout).
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
    /// Told each time the planner commits rows (and when it is done), so workers waiting for
    /// rows start at once.
    pub planned: Arc<tokio::sync::Notify>,
    /// Wait for rows due to retry later (a blast); `false`: end when nothing is due now, and
    /// leave later retries to the next pass (`crier worker`, `crier run-due`).
    pub wait_retries: bool,
    /// This process in the journal's runs: its pid on this host.
    pub run: (u32, String),
}

/// Live counts of one channel, for progress display.
#[derive(Debug, Default)]
pub struct Stats {
    pub sent: AtomicU64,
    /// Rows waiting to be tried again (goes down when they are).
    pub retrying: AtomicU64,
    pub failed: AtomicU64,
    pub in_doubt: AtomicU64,
    /// Journal rows the planner of this run added (so far).
    pub planned: AtomicU64,
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
        // Try first: a send that had to wait is counted.
        match (self, endpoint) {
            (Limiter::Channel(l), _) if l.check().is_err() => {
                LIMITER_WAITS.fetch_add(1, Ordering::Relaxed);
                l.until_ready().await;
            }
            (Limiter::PerEndpoint(l), Some(e)) if l.check_key(e).is_err() => {
                LIMITER_WAITS.fetch_add(1, Ordering::Relaxed);
                l.until_key_ready(e).await;
            }
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
    /// Per endpoint, at most [`PER_ENDPOINT`] sends at once: hanging customers can take a few
    /// slots each, never all of them.
    per_endpoint: Mutex<HashMap<String, Arc<Semaphore>>>,
    endpoints: Mutex<Endpoints>,
    stats: Arc<Stats>,
    /// To the journal task.
    journal: mpsc::Sender<Write>,
    broken: Arc<Broken>,
    /// [`Lane::stopping`], kept current by a watcher, for sends waiting on the rate limit.
    stopped: watch::Sender<bool>,
    /// The template context of this update, built once; each message adds its recipient.
    context: Result<tera::Context, String>,
    /// Rows claimed and not recorded at most ([`WINDOW`], or [`SHARED_WINDOW`]).
    window_size: u32,
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
        .recover(update, &channel, settings.policy.resend_in_doubt, now)
        .await?;
    stats
        .in_doubt
        .fetch_add(in_doubt.len() as u64, Ordering::Relaxed);
    let broken = Arc::new(Broken::default());
    let shared = blast.store.many_senders().await;
    let window_size = if shared { SHARED_WINDOW } else { WINDOW };
    let window = Arc::new(Semaphore::new(window_size as usize));
    let (journal_tx, rx) = mpsc::channel::<Write>(window_size as usize);
    let writer = tokio::spawn(journal(
        blast.store.clone(),
        rx,
        window.clone(),
        broken.clone(),
    ));
    let context = context(&blast);
    let lane = Arc::new(Lane {
        context,
        limiter: Limiter::new(&settings, per_endpoint),
        sending: Semaphore::new(settings.max_in_flight.max(1)),
        per_endpoint: Mutex::new(HashMap::new()),
        endpoints: Mutex::new(Endpoints::default()),
        blast,
        channel,
        transport: Arc::new(transport),
        settings,
        stats,
        journal: journal_tx,
        broken: broken.clone(),
        stopped: watch::Sender::new(false),
        window_size,
    });
    let watcher = tokio::spawn(watch_stopping(lane.clone()));
    // A channel-wide rate limit holds across processes by having one sender at a time.
    let one_sender = shared && matches!(lane.limiter, Limiter::Channel(_));
    let mut in_doubt = in_doubt;
    let claimed = claim_loop(&lane, &window, shared.then_some(&mut in_doubt), one_sender).await;
    if one_sender {
        // Failing to let go only makes the next owner wait for the lease to run out.
        let _ = lane.blast.store.release_channel(&lane.channel).await;
    }
    let _all_recorded = window.acquire_many(window_size).await;
    // Every outcome is written, so no send waits for the journal task any more.
    writer.abort();
    watcher.abort();
    claimed?;
    match broken.take() {
        Some(error) => Err(error),
        None => Ok(in_doubt),
    }
}

/// `recovered`: on a store several processes share, where the keys of rows found in doubt
/// go when a process sending alongside this one dies (its rows are recovered once its lease
/// has run out, whenever this one finds nothing due).
/// `one_sender`: the channel is sent by one process at a time (its rate limit is
/// channel-wide and the store shared): rows are claimed only while this process owns it.
async fn claim_loop<S: Store + 'static, T: Transport>(
    lane: &Arc<Lane<S, T>>,
    window: &Arc<Semaphore>,
    mut recovered: Option<&mut Vec<String>>,
    one_sender: bool,
) -> store::Result<()> {
    let update = lane.blast.update.id;
    let mut recovered_at = tokio::time::Instant::now();
    let mut owned_at: Option<tokio::time::Instant> = None;
    loop {
        if lane.blast.stop.load(Ordering::Relaxed) || lane.broken.is_set() {
            return Ok(());
        }
        if lane.blast.halted.load(Ordering::Relaxed) {
            tokio::time::sleep(Duration::from_millis(100)).await;
            continue;
        }
        if one_sender && owned_at.is_none_or(|at| at.elapsed() >= OWNER_CHECK) {
            let store = &lane.blast.store;
            if store
                .own_channel(&lane.channel, jiff::Timestamp::now())
                .await?
            {
                owned_at = Some(tokio::time::Instant::now());
            } else {
                owned_at = None;
                if lane.claimed(window) == 0 && !lane.blast.wait_retries {
                    // Another process sends this channel; what is left is its (or, if it
                    // dies, the next pass's).
                    return Ok(());
                }
                tokio::time::sleep(OWNER_CHECK).await;
                continue;
            }
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
            if lane.claimed(window) > 0 {
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            }
            if let Some(keys) = recovered.as_deref_mut()
                && recovered_at.elapsed() >= RECOVER_EVERY
            {
                recovered_at = tokio::time::Instant::now();
                let resend = lane.settings.policy.resend_in_doubt;
                let now = jiff::Timestamp::now();
                let found = lane.blast.store.recover(update, &lane.channel, resend, now);
                let found = found.await?;
                if !found.is_empty() {
                    lane.stats
                        .in_doubt
                        .fetch_add(found.len() as u64, Ordering::Relaxed);
                    keys.extend(found);
                    continue;
                }
            }
            match lane.blast.store.next_due(update, &lane.channel).await? {
                None if !lane.blast.planning.load(Ordering::Acquire) => return Ok(()),
                None => {
                    let planned = lane.blast.planned.notified();
                    let _ = tokio::time::timeout(Duration::from_millis(20), planned).await;
                }
                // Due already: rows another process had locked a moment ago, or let go of.
                Some(at) if at <= jiff::Timestamp::now() => {
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
                Some(_)
                    if !lane.blast.wait_retries && !lane.blast.planning.load(Ordering::Acquire) =>
                {
                    return Ok(());
                }
                Some(at) => wait_until(at, &lane.blast.stop).await,
            }
            continue;
        }
        for delivery in batch {
            let lane = lane.clone();
            tokio::spawn(async move {
                let outcome = attempt(&lane, &delivery).await;
                lane.count(&outcome, delivery.attempts > 1);
                let _ = lane
                    .journal
                    .send(Write::Outcome(delivery.id, outcome))
                    .await;
            });
        }
    }
}

/// Keep `lane.stopped` equal to [`Lane::stopping`] (polled every 50 ms).
async fn watch_stopping<S: Store + 'static, T: Transport>(lane: Arc<Lane<S, T>>) {
    loop {
        let now = lane.stopping();
        lane.stopped
            .send_if_modified(|was| std::mem::replace(was, now) != now);
        tokio::time::sleep(Duration::from_millis(50)).await;
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

/// Write the journal in groups, one transaction per group: rows about to be sent become
/// `attempting` (and their sends go once that is committed), outcomes are recorded (and their
/// window slots freed). After a failed write nothing more is written and no send goes: rows
/// stay as the journal has them for the next run to recover, and slots are still freed so the
/// worker can wind down.
async fn journal<S: Store>(
    store: Arc<S>,
    mut rx: mpsc::Receiver<Write>,
    window: Arc<Semaphore>,
    broken: Arc<Broken>,
) {
    let mut group = Vec::with_capacity(GROUP);
    let mut outcomes = Vec::new();
    let mut begin = Vec::new();
    let mut go = Vec::new();
    while rx.recv_many(&mut group, GROUP).await > 0 {
        for write in group.drain(..) {
            match write {
                Write::Begin(id, tell) => {
                    begin.push(id);
                    go.push(tell);
                }
                Write::Outcome(id, outcome) => outcomes.push((id, outcome)),
            }
        }
        if !broken.is_set() {
            match store
                .record(&outcomes, &begin, jiff::Timestamp::now())
                .await
            {
                // A row no longer held (its lease ran out, another process took it) is not
                // told to go: its send is dropped, and the row is that process's now.
                Ok(not_begun) => begin.iter().zip(go.drain(..)).for_each(|(id, tell)| {
                    if !not_begun.contains(id) {
                        let _ = tell.send(());
                    }
                }),
                Err(e) => broken.set(e),
            }
        }
        window.add_permits(outcomes.len());
        outcomes.clear();
        begin.clear();
        go.clear();
    }
}

impl<S: Store + 'static, T: Transport> Lane<S, T> {
    /// Rows claimed and not recorded yet: the window's permits out.
    fn claimed(&self, window: &Semaphore) -> usize {
        self.window_size as usize - window.available_permits()
    }

    fn stopping(&self) -> bool {
        self.blast.stop.load(Ordering::Relaxed)
            || self.blast.halted.load(Ordering::Relaxed)
            || self.broken.is_set()
    }

    /// Wait for the rate limit to allow a send to `endpoint`; false when the blast stops or
    /// is halted meanwhile. Without this, after Ctrl-C or a halt every claimed row would wait
    /// its turn at the channel's rate only to be released: minutes for a few thousand emails.
    async fn wait_turn(&self, endpoint: Option<&String>) -> bool {
        if matches!(self.limiter, Limiter::None) {
            return true;
        }
        let mut stopped = self.stopped.subscribe();
        tokio::select! {
            () = self.limiter.wait(endpoint) => true,
            _ = stopped.wait_for(|stopped| *stopped) => false,
        }
    }

    /// Commit `id` as `attempting` (the attempt counted) before its send; false when that
    /// could not be done, and the row must not be sent.
    async fn begin(&self, id: i64) -> bool {
        let (go, committed) = oneshot::channel();
        self.journal.send(Write::Begin(id, go)).await.is_ok() && committed.await.is_ok()
    }

    /// Update the live counts; `retried`: this row was waiting to retry (so it leaves that count
    /// unless it has to wait again).
    fn count(&self, outcome: &Outcome, retried: bool) {
        let (counter, total) = match outcome {
            Outcome::Sent { .. } => (&self.stats.sent, &ATTEMPTS.sent),
            Outcome::Retry { .. } => (&self.stats.retrying, &ATTEMPTS.retry),
            Outcome::Failed { .. } => (&self.stats.failed, &ATTEMPTS.failed),
            Outcome::InDoubt { .. } => (&self.stats.in_doubt, &ATTEMPTS.in_doubt),
            Outcome::Released { .. } => return,
        };
        counter.fetch_add(1, Ordering::Relaxed);
        total.fetch_add(1, Ordering::Relaxed);
        if retried {
            let _ = self
                .stats
                .retrying
                .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1));
        }
    }

    /// The semaphore bounding sends in flight to `endpoint`.
    fn endpoint_slot(&self, endpoint: &str) -> Arc<Semaphore> {
        let mut all = self.per_endpoint.lock().expect("never poisoned");
        all.entry(endpoint.to_string())
            .or_insert_with(|| Arc::new(Semaphore::new(PER_ENDPOINT)))
            .clone()
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
    let released = || Outcome::Released {
        at: jiff::Timestamp::now(),
    };
    if lane.stopping() {
        return released();
    }
    let member: Member = match serde_json::from_str(&d.target) {
        Ok(m) => m,
        Err(e) => {
            return Outcome::Failed {
                error: format!("the journal row cannot be read ({e}); re-plan the blast"),
            };
        }
    };
    let endpoint = lane.transport.endpoint(&member);
    let cooling_key = endpoint.clone().or_else(|| Some("*".to_string()));
    if let Err(outcome) = lane.endpoint_open(cooling_key.as_ref()) {
        return outcome;
    }
    if !lane.wait_turn(endpoint.as_ref()).await {
        return released();
    }
    let _endpoint_slot = match &endpoint {
        Some(e) => Some(
            lane.endpoint_slot(e)
                .acquire_owned()
                .await
                .expect("never closed"),
        ),
        None => None,
    };
    let _slot = lane
        .sending
        .acquire()
        .await
        .expect("the send semaphore is never closed");
    // The endpoint may have answered `429` or `410` while this row waited for its turn.
    if let Err(outcome) = lane.endpoint_open(cooling_key.as_ref()) {
        return outcome;
    }
    if lane.stopping() {
        return released();
    }
    // Rendered only now, holding a send slot: at most `max_in_flight` payloads in memory.
    let payload = match prepare(lane, d, &member) {
        Ok(p) => p,
        Err(error) => return Outcome::Failed { error },
    };
    if !lane.begin(d.id).await {
        return released();
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
        Decision::InDoubt { reason, resend, at } => Outcome::InDoubt {
            resend,
            at,
            error: reason,
        },
    }
}

/// What a message of `blast` to `recipient` is rendered from.
fn inputs<'a, S>(blast: &'a Blast<S>, recipient: &'a Recipient) -> Inputs<'a> {
    let config = &blast.project.config;
    Inputs {
        incident: &blast.incident,
        slots: &blast.slots,
        recipient,
        company: &config.company,
        now: blast.update.created_at,
        tz: &config.time_zone,
    }
}

/// The template context every message of `blast` shares (all but the recipient).
fn context<S>(blast: &Blast<S>) -> Result<tera::Context, String> {
    let nobody = Recipient::default();
    blast
        .project
        .engine
        .context_of(&inputs(blast, &nobody))
        .map_err(|d| d.to_string())
}

/// Render the row's message and build its payload; an error here is permanent.
fn prepare<S, T: Transport>(
    lane: &Lane<S, T>,
    d: &Delivery,
    member: &Member,
) -> Result<T::Payload, String> {
    let blast = &lane.blast;
    let project = &blast.project;
    let inputs = inputs(blast, &member.recipient);
    let kind = project
        .engine
        .kind(&blast.update.kind)
        .map_err(|d| d.message)?;
    let context = Engine::with_recipient(lane.context.as_ref()?, &member.recipient);
    let rendered = project
        .engine
        .render_in(kind, &context)
        .map_err(|e| e.to_string())?;
    let job = Job {
        key: &d.key,
        member,
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_of_five_lets_five_messages_go_at_once_and_no_more() {
        for burst in [1, 5, 20] {
            let limiter = governor::RateLimiter::direct(quota(Some(50.0), burst).unwrap());
            let at_once = (0..100).take_while(|_| limiter.check().is_ok()).count();
            assert_eq!(at_once, burst as usize);
        }
    }
}
