//! The store: incidents, their timeline of updates, the delivery journal (one row per
//! recipient × channel), halts, running blasts and the audit log.
//!
//! [`Store`] is the one interface callers use. [`open`] gives the [`Backend`] that
//! `[store] url` names, an enum that passes each call on to its backend (the trait returns
//! `impl Future`, so there is no `dyn Store`): [`sqlite::SqliteStore`], the embedded default
//! (one file, WAL, one folder split by concern), or [`postgres::PostgresStore`], a journal
//! several machines share (split the same way). Every backend passes the
//! same behaviour suite (`behaviour/`). The store knows no rule of how an incident's status
//! moves: what an update does to schedules comes in with it, in [`Telling`].
//!
//! A delivery row moves `pending → attempting → sent | retry | failed`. A worker claims rows
//! ahead of sending them (held by that worker, nothing sent yet). Where one process sends an
//! update (SQLite: `start_run` refuses a second), claims are held in memory (`claims.rs`); where
//! several processes share an update's rows (PostgreSQL, [`Store::many_senders`]), a claim is
//! committed (`claimed`, by this process, `FOR UPDATE SKIP LOCKED`) with a lease of
//! [`LEASE_MS`] that the process's heartbeat renews. The move to `attempting` is committed just
//! before each send and the result after it, so a crash leaves `attempting` rows, exactly
//! those whose message may have gone out, that the next run (or, on a shared store, any other
//! process once the lease has run out) reports as in doubt, while claimed rows simply are
//! still due. Times are Unix milliseconds.

mod backend;
#[cfg(test)]
pub(crate) mod behaviour;
pub(crate) mod by_concern;
pub mod claims;
pub mod postgres;
pub mod sqlite;

pub use backend::{Backend, open};

use std::collections::BTreeMap;
use std::future::Future;

use serde::{Deserialize, Serialize};

use crate::template::{Impact, Incident, Status};

/// What can go wrong in the store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("the journal database failed: {0}")]
    Db(#[from] sqlx::Error),
    /// An error whose text named a secret (the password of `[store] url`): its text, with
    /// the secret cut out.
    #[error("{0}")]
    Scrubbed(String),
    #[error("the journal holds something crier cannot read: {0}")]
    Corrupt(String),
    #[error(
        "`[store] url = \"{url}\"` is not a store crier knows; write `url = \"sqlite:crier.db\"` (a file next to crier.toml) or `url = \"postgres://…\"`"
    )]
    UnknownUrl { url: String },
}

pub type Result<T> = std::result::Result<T, StoreError>;

/// How long rows claimed on a shared store stay held by their process without its
/// heartbeat ([`Store::heartbeat`] renews them, every 2 s while it sends): once it has run out
/// (the process was killed, its machine is gone), any other process recovers them, claimed rows
/// as due and `attempting` rows as in doubt. The machines' clocks must agree to well within it.
pub const LEASE_MS: i64 = 10_000;

/// The incident as `update` tells it: its facts now, and the updates before this one
/// (the timeline is in sequence order, from 1).
pub async fn incident_before<S: Store>(store: &S, update: &Update) -> Result<Incident> {
    let mut incident = store
        .incident_with_timeline(&update.incident_id)
        .await?
        .ok_or_else(|| {
            StoreError::Corrupt(format!(
                "the journal has update {} but no incident `{}`",
                update.seq, update.incident_id
            ))
        })?;
    incident
        .updates
        .truncate(update.seq.saturating_sub(1) as usize);
    Ok(incident)
}

/// Milliseconds since the Unix epoch.
pub fn millis(t: jiff::Timestamp) -> i64 {
    t.as_millisecond()
}

/// The timestamp of `ms` milliseconds since the Unix epoch.
pub fn timestamp(ms: i64) -> jiff::Timestamp {
    jiff::Timestamp::from_millisecond(ms).unwrap_or(jiff::Timestamp::UNIX_EPOCH)
}

/// A new update to put on an incident's timeline.
#[derive(Debug, Clone)]
pub struct NewUpdate {
    pub kind: String,
    pub status: Status,
    /// The slot values as typed (or defaulted).
    pub slots: BTreeMap<String, String>,
    /// Identifies "the same command": a re-run finds this update instead of making a new one.
    pub fingerprint: String,
    pub content_sha256: String,
    pub approved_by: String,
    pub sent_by: String,
    pub channels: Vec<String>,
    pub audience: Option<String>,
    pub headline: String,
    pub summary: String,
    /// When the next customer update is due, as this one promises.
    pub next_update_at: Option<jiff::Timestamp>,
}

/// An update to add, with what it does to its incident: all of it is one transaction.
#[derive(Debug, Clone, Copy)]
pub struct Telling<'a> {
    /// The incident's facts after this update (its `started_at` stays that of its first
    /// telling).
    pub incident: &'a IncidentRow,
    pub update: &'a NewUpdate,
    /// Schedule this too (the follow-up of a resolution), unless the incident has a pending
    /// schedule of the same kind and origin already (one no longer pending does not count).
    pub follow_up: Option<&'a NewSchedule>,
    /// Cancel the incident's pending schedules of this kind, whatever their origin: its
    /// follow-ups, when it reopens (the caller decides which kind, and when).
    pub cancel_follow_ups: Option<&'a str>,
}

/// What [`Store::tell`] did.
#[derive(Debug, Clone)]
pub struct Told {
    pub update: Update,
    /// The same command made this update before: nothing was changed now.
    pub continued: bool,
    pub scheduled: Option<Schedule>,
    pub cancelled: Vec<Schedule>,
}

/// Where a schedule stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ScheduleState {
    /// Waiting for its time.
    Pending,
    /// Due and turned into an update, which is being sent.
    Sending,
    Sent,
    Cancelled,
    /// Its preflight failed when due: nothing was sent.
    Failed,
}

impl ScheduleState {
    pub fn as_str(self) -> &'static str {
        match self {
            ScheduleState::Pending => "pending",
            ScheduleState::Sending => "sending",
            ScheduleState::Sent => "sent",
            ScheduleState::Cancelled => "cancelled",
            ScheduleState::Failed => "failed",
        }
    }
}

/// Who made a schedule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Origin {
    /// `crier schedule`.
    Operator,
    /// The follow-up a resolution schedules (`follow_up_after`).
    Resolution,
    /// The holding update the worker sends when a promise is missed (`auto_holding_update`).
    Holding,
}

/// `crier maintenance on`: the status page shows the maintenance page, `/maintenance`
/// answers 503.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Maintenance {
    /// The incident whose latest update the maintenance page shows.
    pub incident_id: Option<String>,
    pub since: jiff::Timestamp,
    pub by: String,
}

/// A blast to run later.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewSchedule {
    pub incident_id: String,
    pub kind: String,
    pub slots: BTreeMap<String, String>,
    /// `None`: every customer channel configured when it is due.
    pub channels: Option<Vec<String>>,
    pub audience: Option<String>,
    pub due_at: jiff::Timestamp,
    /// The time as written (`tomorrow 10:00`, `next business day 10:00`).
    pub typed: String,
    pub origin: Origin,
    pub created_by: String,
}

/// A scheduled blast, as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Schedule {
    pub id: i64,
    pub incident_id: String,
    pub kind: String,
    pub slots: BTreeMap<String, String>,
    pub channels: Option<Vec<String>>,
    pub audience: Option<String>,
    pub due_at: jiff::Timestamp,
    pub typed: String,
    pub state: ScheduleState,
    pub origin: Origin,
    pub created_by: String,
    pub created_at: jiff::Timestamp,
    /// The update it became, once due.
    pub update_id: Option<i64>,
    /// Why it failed.
    pub error: Option<String>,
}

/// An update on the timeline.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Update {
    pub id: i64,
    pub incident_id: String,
    pub seq: u32,
    pub kind: String,
    pub status: String,
    pub slots: BTreeMap<String, String>,
    pub fingerprint: String,
    pub content_sha256: String,
    pub approved_by: String,
    pub sent_by: String,
    pub channels: Vec<String>,
    pub audience: Option<String>,
    pub headline: String,
    pub summary: String,
    pub created_at: jiff::Timestamp,
    /// Planning finished: every journal row exists.
    pub planned: bool,
    /// Audience rows consumed so far, to resume planning after a crash.
    pub planned_rows: u64,
    /// When the next customer update is due, as this one promised.
    pub next_update_at: Option<jiff::Timestamp>,
}

/// A journal row to create.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewDelivery {
    pub channel: String,
    /// `*` for one message to everyone.
    pub recipient_id: String,
    /// Stable id of the logical message: Message-ID, webhook-id.
    pub key: String,
    /// What the sender needs about the recipient (JSON), frozen at plan time.
    pub target: String,
}

/// An audience row that could not be used.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BadRow {
    pub row: u64,
    pub recipient_id: Option<String>,
    pub field: String,
    pub reason: String,
}

/// One planning step: rows to add and how far into the audience it got.
#[derive(Debug, Clone, Default)]
pub struct PlanBatch {
    pub deliveries: Vec<NewDelivery>,
    pub bad_rows: Vec<BadRow>,
    /// Audience rows consumed after this batch.
    pub planned_rows: u64,
}

/// A claimed journal row, being attempted now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    pub id: i64,
    pub channel: String,
    pub recipient_id: String,
    pub key: String,
    pub target: String,
    /// Attempts including this one (counted in the journal when it is marked `attempting`).
    pub attempts: u32,
    pub first_attempt_at: jiff::Timestamp,
    /// It was found `attempting` after a crash: the receiver may already have it.
    pub in_doubt: bool,
}

/// How an attempt ended, as the journal records it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Sent {
        provider_id: Option<String>,
    },
    Retry {
        at: jiff::Timestamp,
        error: String,
    },
    Failed {
        error: String,
    },
    /// No answer after the request was written: the receiver may have it. `resend`: due again
    /// at `at` with the same id; otherwise skipped and listed for the operator.
    InDoubt {
        resend: bool,
        at: jiff::Timestamp,
        error: String,
    },
    /// Not attempted after all (halted, shutting down, endpoint backing off): a claimed row
    /// due again at `at`, no attempt counted.
    Released {
        at: jiff::Timestamp,
    },
}

/// Journal rows of one channel, by state. Claimed rows (held by a worker, not sent yet)
/// count as `pending`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Counts {
    pub pending: u64,
    pub attempting: u64,
    pub sent: u64,
    pub retry: u64,
    pub failed: u64,
    pub skipped: u64,
    /// Rows that were in doubt after a crash (resent or skipped).
    pub in_doubt: u64,
}

impl Counts {
    pub fn total(&self) -> u64 {
        self.pending + self.attempting + self.sent + self.retry + self.failed + self.skipped
    }

    /// Rows not sent yet: due, being sent, or waiting to retry.
    pub fn unsent(&self) -> u64 {
        self.pending + self.attempting + self.retry
    }

    /// Rows that will not be delivered: failed or skipped for good.
    pub fn undelivered(&self) -> u64 {
        self.failed + self.skipped
    }

    /// Nothing left to do: every row sent, failed or skipped.
    pub fn finished(&self) -> bool {
        self.unsent() == 0
    }
}

/// A row not delivered (yet), with why: `failed` or `skipped` for good, or waiting to `retry`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Failure {
    pub channel: String,
    pub recipient_id: String,
    pub key: String,
    pub state: String,
    pub attempts: u32,
    pub error: String,
    /// When a `retry` row is tried again.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_attempt_at: Option<jiff::Timestamp>,
}

/// Who is sending an update right now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Run {
    pub pid: u32,
    pub host: String,
    pub started_at: jiff::Timestamp,
    pub heartbeat_at: jiff::Timestamp,
}

/// An incident's current facts, as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IncidentRow {
    pub id: String,
    pub title: String,
    pub status: Status,
    pub impact: Impact,
    pub components: Vec<String>,
    pub started_at: jiff::Timestamp,
    pub resolved_at: Option<jiff::Timestamp>,
}

impl IncidentRow {
    /// The incident as templates see it, with `updates` as its timeline so far.
    pub fn told(&self, updates: Vec<crate::template::PastUpdate>) -> Incident {
        Incident {
            id: self.id.clone(),
            title: self.title.clone(),
            status: self.status,
            impact: self.impact,
            components: self.components.clone(),
            started_at: self.started_at,
            updates,
        }
    }
}

/// The journal. Every method is one transaction.
pub trait Store: Send + Sync {
    /// Add an update to the timeline (next sequence number of its incident, from 1) with its
    /// effects on the incident, in one transaction; or, when the same command (same
    /// fingerprint) made the incident's latest update, return that one as it was (`continued`)
    /// and change nothing: not the facts, no follow-up, no cancelling. The same fingerprint
    /// after another update is a new update.
    fn tell(
        &self,
        t: Telling<'_>,
        now: jiff::Timestamp,
    ) -> impl Future<Output = Result<Told>> + Send;
    fn incident(&self, id: &str) -> impl Future<Output = Result<Option<IncidentRow>>> + Send;
    /// Every incident, the most recently started first.
    fn incidents(&self) -> impl Future<Output = Result<Vec<IncidentRow>>> + Send;
    /// The incident with its timeline, as templates see it.
    fn incident_with_timeline(
        &self,
        id: &str,
    ) -> impl Future<Output = Result<Option<Incident>>> + Send;
    /// The latest update of `incident`: the last on its timeline (highest sequence number),
    /// whatever the clocks of the machines that told them said. Without `incident`, the
    /// update told last of any incident, by `created_at`.
    fn latest_update(
        &self,
        incident: Option<&str>,
    ) -> impl Future<Output = Result<Option<Update>>> + Send;
    /// The timeline of `incident`, in sequence order (empty when there is no such incident).
    fn updates(&self, incident: &str) -> impl Future<Output = Result<Vec<Update>>> + Send;
    fn update(&self, id: i64) -> impl Future<Output = Result<Option<Update>>> + Send;
    /// Updates with rows waiting to retry that are due at `now`, and no row left unsent
    /// otherwise (nothing pending, held by a claim or being attempted) and planning finished:
    /// blasts that ran to the end.
    fn retries_due(&self, now: jiff::Timestamp) -> impl Future<Output = Result<Vec<i64>>> + Send;
    /// Add journal rows and bad rows, and record the audience position (`planned_rows`), in one
    /// transaction. Rows whose key exists already (planned before, or earlier in the batch)
    /// are left alone: returns their indexes in `batch.deliveries`. A bad row recorded again
    /// (the same row and field: planning resumed after a crash) is kept once.
    fn plan(
        &self,
        update: i64,
        batch: &PlanBatch,
        now: jiff::Timestamp,
    ) -> impl Future<Output = Result<Vec<usize>>> + Send;
    /// Planning is over: every journal row of `update` exists (`Update::planned`).
    fn finish_plan(&self, update: i64) -> impl Future<Output = Result<()>> + Send;
    /// Rows of `channel` left `attempting` by a crash: mark them in doubt, and make them due
    /// again (`resend`) or `skipped`. Returns their keys. Rows left `claimed` were never sent:
    /// they become due again, not in doubt. On a shared store ([`Store::many_senders`]) only rows
    /// whose lease ran out before `now` are left over (another live process holds the rest);
    /// otherwise every such row is (one process sends an update).
    fn recover(
        &self,
        update: i64,
        channel: &str,
        resend: bool,
        now: jiff::Timestamp,
    ) -> impl Future<Output = Result<Vec<String>>> + Send;
    /// Claim up to `limit` due rows of `channel`, in due order: held by this process (not sent
    /// yet) and not handed out again, to it or to any other, until recorded (or, on a shared
    /// store, until its lease runs out). After a crash they are simply due.
    fn claim(
        &self,
        update: i64,
        channel: &str,
        limit: u32,
        now: jiff::Timestamp,
    ) -> impl Future<Output = Result<Vec<Delivery>>> + Send;
    /// Record outcomes of rows this process holds (no longer held then), and mark the rows
    /// `begin` it holds as `attempting` (about to be sent; the attempt counted), in one
    /// transaction: committed before any of them is sent. Returns the rows of `begin` that
    /// were not begun because this process no longer holds them (recorded already, or, on a
    /// shared store, taken over after its lease ran out): they must not be sent. On a shared
    /// store, an outcome of a row this process no longer holds changes nothing.
    fn record(
        &self,
        outcomes: &[(i64, Outcome)],
        begin: &[i64],
        now: jiff::Timestamp,
    ) -> impl Future<Output = Result<Vec<i64>>> + Send;
    /// When the next row of `channel` not sent yet (pending, or waiting to retry) is due, if
    /// any; on a shared store, a row another process holds counts as due when its lease runs
    /// out (if that process dies, it is this one's to send). The worker asks when it holds
    /// none of the channel's rows.
    fn next_due(
        &self,
        update: i64,
        channel: &str,
    ) -> impl Future<Output = Result<Option<jiff::Timestamp>>> + Send;
    /// The rows of `update` per channel, by state (channels without rows are not named).
    fn counts(&self, update: i64) -> impl Future<Output = Result<BTreeMap<String, Counts>>> + Send;
    /// Up to `limit` rows that failed or were skipped for good, then up to `limit` waiting
    /// to retry after an error, in journal order.
    fn failures(
        &self,
        update: i64,
        limit: u32,
    ) -> impl Future<Output = Result<Vec<Failure>>> + Send;
    /// How many audience rows of `update` could not be used, and the first `limit` of them
    /// by audience row.
    fn bad_rows(
        &self,
        update: i64,
        limit: u32,
    ) -> impl Future<Output = Result<(u64, Vec<BadRow>)>> + Send;
    /// Make failed (and skipped) rows due again at `now`, as if never attempted: their
    /// attempts and first attempt start again, so the retry policy applies afresh. A row
    /// skipped in doubt stays in doubt (it is sent again with the same id). Returns how many.
    fn requeue_failed(
        &self,
        update: i64,
        now: jiff::Timestamp,
    ) -> impl Future<Output = Result<u64>> + Send;
    /// Whether several processes may send one update at once, each claiming its own rows with
    /// a lease (PostgreSQL); otherwise one process sends an update (SQLite), and
    /// [`Store::start_run`] refuses a second.
    fn many_senders(&self) -> impl Future<Output = bool> + Send;
    /// Take (or keep) `channel` for this process: on a shared store a channel with a rate
    /// limit is sent by one process at a time, so that its limit holds across all of them.
    /// `true` when this process has it now (always, where one process sends an update); it
    /// stays this process's while its heartbeat renews it, until [`Store::release_channel`],
    /// or for [`LEASE_MS`] after its last renewal.
    fn own_channel(
        &self,
        channel: &str,
        now: jiff::Timestamp,
    ) -> impl Future<Output = Result<bool>> + Send;
    /// This process no longer sends `channel`: another may take it at once.
    fn release_channel(&self, channel: &str) -> impl Future<Output = Result<()>> + Send;
    /// Leave `update` to the workers (`crier blast --enqueue-only`): every `crier worker` on
    /// this journal sends it.
    fn enqueue(&self, update: i64) -> impl Future<Output = Result<()>> + Send;
    /// Updates left to the workers with rows to send at `now`: rows due, or a process that
    /// died sending it (where one process sends an update: its run went stale, a lease ago;
    /// on a shared store: rows held under a lease that ran out). By id.
    fn queued_due(&self, now: jiff::Timestamp) -> impl Future<Output = Result<Vec<i64>>> + Send;
    /// Record that this process sends `update`, unless another live one does (then
    /// `Err(that run)`). On a shared store ([`Store::many_senders`]) every process may send a
    /// fully planned update, each recorded beside the others; planning stays one process's
    /// (while the update is not fully planned, a second live process is refused). A process is its pid on its host (the same pid on another host is
    /// another process); the same process may start again. A run is live while its
    /// heartbeat is less than `stale_after_ms` older than `me.heartbeat_at`.
    fn start_run(
        &self,
        update: i64,
        me: &Run,
        stale_after_ms: i64,
    ) -> impl Future<Output = Result<std::result::Result<(), Run>>> + Send;
    /// The processes recorded as sending `update` (alive or not: one at most where one
    /// process sends an update), the latest heartbeat first.
    fn runs(&self, update: i64) -> impl Future<Output = Result<Vec<Run>>> + Send;
    /// The run of process `pid` on `host` on `update` is alive at `now` (another process's
    /// run, the same pid on another host included, is left alone); on a shared store, the
    /// lease of every row of `update` and of every channel this store's process holds is
    /// renewed from `now`.
    fn heartbeat(
        &self,
        update: i64,
        pid: u32,
        host: &str,
        now: jiff::Timestamp,
    ) -> impl Future<Output = Result<()>> + Send;
    /// The run of process `pid` on `host` on `update` is over (another process's run, the
    /// same pid on another host included, is left alone).
    fn end_run(&self, update: i64, pid: u32, host: &str)
    -> impl Future<Output = Result<()>> + Send;
    /// `crier halt`: stop sending for `scope` (an incident id, or `*` for every incident,
    /// including those not told yet). Halting a scope twice is one halt.
    fn halt(&self, scope: &str, now: jiff::Timestamp) -> impl Future<Output = Result<()>> + Send;
    /// `crier resume`: lift the halt on `scope` itself. Returns whether there was one. The
    /// scopes are separate: lifting `*` leaves an incident's own halt, and lifting an
    /// incident's leaves `*` (it is still halted then).
    fn resume(&self, scope: &str) -> impl Future<Output = Result<bool>> + Send;
    /// Whether sending for `incident` is halted (by its own halt or `*`).
    fn halted(&self, incident: &str) -> impl Future<Output = Result<bool>> + Send;
    /// Add a pending schedule, as `new` says.
    fn add_schedule(
        &self,
        new: &NewSchedule,
        now: jiff::Timestamp,
    ) -> impl Future<Output = Result<Schedule>> + Send;
    /// Add a holding-update schedule unless the incident has a holding one with the same
    /// `typed` (the promise it stands for), whatever became of it: `None` then.
    fn add_holding(
        &self,
        new: &NewSchedule,
        now: jiff::Timestamp,
    ) -> impl Future<Output = Result<Option<Schedule>>> + Send;
    fn schedule(&self, id: i64) -> impl Future<Output = Result<Option<Schedule>>> + Send;
    /// The latest update of each open (not resolved) incident, when it promised the next
    /// update for `until` or earlier; the earliest promise first.
    fn promises_due(
        &self,
        until: jiff::Timestamp,
    ) -> impl Future<Output = Result<Vec<Update>>> + Send;
    /// Take nudge `about` on `channel` to send: `true` when it is new, or an earlier attempt
    /// failed (since its [`Store::end_nudge`]) or was left unfinished (since it was taken)
    /// `retry_after_ms` ago or more, and fewer than `max_attempts` were made. One that was sent
    /// is never taken again. `retry_after_ms` may be `i64::MAX`: never again.
    fn take_nudge(
        &self,
        about: &str,
        channel: &str,
        incident: &str,
        now: jiff::Timestamp,
        retry_after_ms: i64,
        max_attempts: u32,
    ) -> impl Future<Output = Result<bool>> + Send;
    /// How sending a nudge ended: sent (`None`), or why not (it may be taken again).
    fn end_nudge(
        &self,
        about: &str,
        channel: &str,
        error: Option<&str>,
        now: jiff::Timestamp,
    ) -> impl Future<Output = Result<()>> + Send;
    /// Schedules that failed when due and whose nudge (`schedule:ID:failed`) is not finished:
    /// taken on no channel yet, or, on a channel that took it, neither sent nor out of its
    /// `max_attempts` (a post that failed is tried again, as [`Store::take_nudge`] allows).
    fn failed_schedules(
        &self,
        max_attempts: u32,
    ) -> impl Future<Output = Result<Vec<Schedule>>> + Send;
    /// Schedules of `incident` (or of every incident), in every state, by due time.
    fn schedules(
        &self,
        incident: Option<&str>,
    ) -> impl Future<Output = Result<Vec<Schedule>>> + Send;
    /// Schedules due at `now` that are pending, or sending (their update may not be
    /// finished), by due time.
    fn due_schedules(
        &self,
        now: jiff::Timestamp,
    ) -> impl Future<Output = Result<Vec<Schedule>>> + Send;
    /// Cancel a pending schedule. Returns it as it is after (cancelled, or as it was when it
    /// was no longer pending); `None` when there is no such schedule.
    fn cancel_schedule(
        &self,
        id: i64,
        now: jiff::Timestamp,
    ) -> impl Future<Output = Result<Option<Schedule>>> + Send;
    /// Turn due schedule `id` into its update (as [`Store::tell`], with the telling's effects)
    /// and mark it `sending`, exactly once: the update it became before, if any, whatever its
    /// state now (`continued`, nothing changed); `None` when it became none and is no longer
    /// pending (cancelled, failed), or there is no such schedule.
    fn start_schedule(
        &self,
        id: i64,
        t: Telling<'_>,
        now: jiff::Timestamp,
    ) -> impl Future<Output = Result<Option<Told>>> + Send;
    /// A schedule ends: `Sent`, or `Failed` with why. Only a pending or sending one changes:
    /// returns whether this call changed it.
    fn end_schedule(
        &self,
        id: i64,
        state: ScheduleState,
        error: Option<&str>,
        now: jiff::Timestamp,
    ) -> impl Future<Output = Result<bool>> + Send;
    /// Journal rows of every update, by (channel, state), for `/metrics`: the states of
    /// [`Counts`], rows held by a claim being `pending`.
    fn totals(&self) -> impl Future<Output = Result<BTreeMap<(String, String), u64>>> + Send;
    /// Turn maintenance on (`Some`, replacing the switch before) or off (`None`).
    fn set_maintenance(&self, on: Option<&Maintenance>) -> impl Future<Output = Result<()>> + Send;
    fn maintenance(&self) -> impl Future<Output = Result<Option<Maintenance>>> + Send;
    /// Add an entry to the audit log. Nothing in crier reads it back (the operator reads the
    /// store itself).
    fn audit(
        &self,
        actor: &str,
        command: &str,
        detail: &str,
        now: jiff::Timestamp,
    ) -> impl Future<Output = Result<()>> + Send;
}
