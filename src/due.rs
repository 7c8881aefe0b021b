//! Due work, one pass at a time: the engine of `crier worker` and `crier run-due`.
//!
//! A pass at `now` (the caller's clock, so tests can move it) starts, each on its own task:
//! - every due schedule: its preflight runs again, then it becomes exactly one update (the
//!   store sets the schedule's update in the transaction that adds it, so two workers, a
//!   restart or a crash never make a second one) and is sent through the normal blast path;
//!   a schedule whose preflight fails is marked failed and nothing of it is sent;
//! - every finished blast with rows due to retry (a blast someone stopped half-way is left to
//!   them: `crier resume`).
//!
//! An update this process is sending is never started twice; one another process is sending
//! (its run is live) is left to it. Rows due to retry later are left for a later pass.

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use tokio::task::JoinSet;

use crate::cmd::deliver::{self, Delivery};
use crate::delivery::request::{self, Request};
use crate::diag::Invalid;
use crate::project::Project;
use crate::store::sqlite::SqliteStore;
use crate::store::{Schedule, ScheduleState, Store, Update};
use crate::time;

/// What one pass started.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Pass {
    /// Schedules turned into updates (or continued) and being sent.
    pub schedules: Vec<i64>,
    /// Schedules whose preflight failed: nothing sent.
    pub failed: Vec<i64>,
    /// Updates whose due retries are being sent.
    pub retries: Vec<i64>,
}

/// Runs due work; keeps the tasks it started until [`Due::drain`].
pub struct Due {
    project: Arc<Project>,
    store: Arc<SqliteStore>,
    stop: Arc<AtomicBool>,
    /// Updates this process is sending now.
    busy: Arc<Mutex<HashSet<i64>>>,
    tasks: JoinSet<()>,
}

impl Due {
    pub fn new(project: Arc<Project>, store: Arc<SqliteStore>, stop: Arc<AtomicBool>) -> Due {
        Due {
            project,
            store,
            stop,
            busy: Arc::default(),
            tasks: JoinSet::new(),
        }
    }

    /// Start everything due at `now`.
    pub async fn pass(&mut self, now: jiff::Timestamp) -> anyhow::Result<Pass> {
        let mut pass = Pass::default();
        while self.tasks.try_join_next().is_some() {}
        for s in self.store.due_schedules(now).await? {
            if self.stop.load(Ordering::Relaxed) {
                return Ok(pass);
            }
            match self.start_schedule(&s, now).await? {
                Started::Sending => pass.schedules.push(s.id),
                Started::Failed => pass.failed.push(s.id),
                Started::Nothing => {}
            }
        }
        for id in self.store.retries_due(now).await? {
            let Some(update) = self.store.update(id).await? else {
                continue;
            };
            if self.store.halted(&update.incident_id).await? {
                continue;
            }
            if self.send(update, None, now).await? {
                pass.retries.push(id);
            }
        }
        Ok(pass)
    }

    /// Wait until everything started has finished (or stopped, after a stop).
    pub async fn drain(&mut self) {
        while self.tasks.join_next().await.is_some() {}
    }

    async fn start_schedule(
        &mut self,
        s: &Schedule,
        now: jiff::Timestamp,
    ) -> anyhow::Result<Started> {
        if let Some(update) = s.update_id {
            // Turned into its update before (by this worker, another, or before a restart).
            return match self.store.update(update).await? {
                Some(u) if self.store.halted(&u.incident_id).await? => Ok(Started::Nothing),
                Some(u) => Ok(started(self.send(u, Some(s.id), now).await?)),
                None => Ok(Started::Nothing),
            };
        }
        let existing = self.store.incident(&s.incident_id).await?;
        let req = Request {
            kind: s.kind.clone(),
            incident: s.incident_id.clone(),
            slots: s.slots.clone(),
            channels: s.channels.clone(),
            audience: s.audience.clone(),
            // A scheduled resolution does not schedule a follow-up of its own: nobody is there
            // to give its values.
            no_follow_up: true,
            scheduled: true,
            sent_by: format!("crier (schedule {})", s.id),
            source: Some(format!("schedule:{}", s.id)),
            ..Request::default()
        };
        let ready = match existing {
            None => Err(Invalid::from(crate::diag::Diagnostic::new(format!(
                "incident `{}` is no longer in the journal",
                s.incident_id
            )))),
            Some(ref i) => request::preflight(&self.project, &req, Some(i), now),
        };
        let ready = match ready {
            Ok(r) => r,
            Err(Invalid(problems)) => {
                let why: Vec<String> = problems.iter().map(|d| d.message.clone()).collect();
                let why = why.join("; ");
                self.store
                    .end_schedule(s.id, ScheduleState::Failed, Some(&why), now)
                    .await?;
                log(
                    now,
                    &self.project,
                    &format!(
                        "schedule {} (`{}` for {}) failed its preflight; nothing was sent: {why}",
                        s.id, s.kind, s.incident_id
                    ),
                );
                return Ok(Started::Failed);
            }
        };
        let Some(told) = self
            .store
            .start_schedule(s.id, ready.telling(), now)
            .await?
        else {
            return Ok(Started::Nothing);
        };
        Ok(started(self.send(told.update, Some(s.id), now).await?))
    }

    /// Send `update` on a task of its own, unless this process or another sends it already.
    async fn send(
        &mut self,
        update: Update,
        schedule: Option<i64>,
        now: jiff::Timestamp,
    ) -> anyhow::Result<bool> {
        if !self.busy.lock().expect("never poisoned").insert(update.id) {
            return Ok(false);
        }
        if deliver::live_run(&self.store, &update).await?.is_some() {
            self.busy.lock().expect("never poisoned").remove(&update.id);
            return Ok(false);
        }
        let channels = match deliver::channels_of(&self.project, &update) {
            Ok(c) => c,
            Err(Invalid(problems)) => {
                self.busy.lock().expect("never poisoned").remove(&update.id);
                log(
                    now,
                    &self.project,
                    &format!(
                        "update {} of {} cannot be sent: {problems}",
                        update.seq, update.incident_id
                    ),
                );
                return Ok(false);
            }
        };
        let (project, store, stop, busy) = (
            self.project.clone(),
            self.store.clone(),
            self.stop.clone(),
            self.busy.clone(),
        );
        self.tasks.spawn(async move {
            let id = update.id;
            let what = match schedule {
                Some(s) => format!(
                    "schedule {s}: `{}` as update {} of {}",
                    update.kind, update.seq, update.incident_id
                ),
                None => format!("retries of update {} of {}", update.seq, update.incident_id),
            };
            let delivery = Delivery {
                project: project.clone(),
                store: store.clone(),
                update,
                channels,
                plan: true,
                stop,
                counted: None,
                attended: false,
            };
            let outcome = match deliver::deliver_unless_busy(delivery).await {
                Ok(Ok(_)) => finish(&store, id, schedule, now).await.map(Some),
                // Another worker took it between our look and our start: it is theirs.
                Ok(Err(_)) => Ok(None),
                Err(e) => Err(e),
            };
            match outcome {
                Ok(Some(line)) => log(now, &project, &format!("{what}: {line}")),
                Ok(None) => {}
                Err(e) => log(now, &project, &format!("{what}: {e:#}")),
            }
            busy.lock().expect("never poisoned").remove(&id);
        });
        Ok(true)
    }
}

enum Started {
    Sending,
    Failed,
    Nothing,
}

fn started(sending: bool) -> Started {
    if sending {
        Started::Sending
    } else {
        Started::Nothing
    }
}

/// After a send: mark the schedule sent once every row is planned and none is left to send
/// now (rows due to retry later are the worker's, not the schedule's); say what happened.
async fn finish(
    store: &SqliteStore,
    update: i64,
    schedule: Option<i64>,
    now: jiff::Timestamp,
) -> anyhow::Result<String> {
    let counts = store.counts(update).await?;
    let planned = store.update(update).await?.is_some_and(|u| u.planned);
    let (sent, failed, retry, unsent) = counts.values().fold((0, 0, 0, 0), |t, c| {
        (
            t.0 + c.sent,
            t.1 + c.undelivered(),
            t.2 + c.retry,
            t.3 + c.pending + c.attempting,
        )
    });
    if let Some(id) = schedule
        && planned
        && unsent == 0
    {
        store
            .end_schedule(id, ScheduleState::Sent, None, now)
            .await?;
    }
    Ok(format!(
        "{sent} sent, {failed} failed, {retry} waiting to retry, {unsent} not sent yet"
    ))
}

/// One line of the worker's log on stdout: the time in the company's zone, then what happened.
fn log(now: jiff::Timestamp, project: &Project, line: &str) {
    println!(
        "{}  {line}",
        time::display_seconds(now, &project.config.time_zone)
    );
}
