//! Due work, one pass at a time: the engine of `crier worker` and `crier run-due`.
//!
//! A pass at `now` (the caller's clock, so tests can move it) starts, each on its own task:
//! - every due schedule: its preflight runs again, then it becomes exactly one update (the
//!   store sets the schedule's update in the transaction that adds it, so two workers, a
//!   restart or a crash never make a second one) and is sent through the normal blast path;
//!   a schedule whose preflight fails is marked failed and nothing of it is sent;
//! - every finished blast with rows due to retry (a blast someone stopped half-way is left to
//!   them: `crier resume`);
//! - every update left to the workers (`crier blast --enqueue-only`) with rows to send.
//!
//! An update this process is sending is never started twice. One another process is sending
//! (its run is live) is left to it, except on a store several processes share
//! ([`Store::many_senders`]): there every worker joins a fully planned update, each claiming
//! its own rows. Rows due to retry later are left for a later pass.

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use tokio::task::JoinSet;

use crate::delivery::request::{self, Request};
use crate::delivery::run::{self, Delivery};
use crate::diag::Invalid;
use crate::nudge::{self, Nudge};
use crate::project::Project;
use crate::store::Backend;
use crate::store::{NewSchedule, Origin, Schedule, ScheduleState, Store, Update};
use crate::time;

/// How the timeline names the sender of a holding update (then `, schedule N)`).
const HOLDING_SENDER: &str = "crier (holding update";

/// What one pass started.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Pass {
    /// Schedules turned into updates (or continued) and being sent.
    pub schedules: Vec<i64>,
    /// Schedules whose preflight failed: nothing sent.
    pub failed: Vec<i64>,
    /// Updates whose due retries are being sent.
    pub retries: Vec<i64>,
    /// Updates left to the workers whose rows are being sent.
    pub queued: Vec<i64>,
    /// Nudges this pass sent (or logged), by what they are about.
    pub nudges: Vec<String>,
}

/// Where a pass reports what it did, one line at a time, with the pass's time: the worker
/// prints it; the library never does.
pub type Log = Arc<dyn Fn(jiff::Timestamp, &str) + Send + Sync>;

/// Runs due work; keeps the tasks it started until [`Due::drain`].
pub struct Due {
    project: Arc<Project>,
    store: Arc<Backend>,
    stop: Arc<AtomicBool>,
    log: Log,
    /// Updates this process is sending now.
    busy: Arc<Mutex<HashSet<i64>>>,
    tasks: JoinSet<()>,
}

impl Due {
    pub fn new(project: Arc<Project>, store: Arc<Backend>, stop: Arc<AtomicBool>, log: Log) -> Due {
        Due {
            project,
            store,
            stop,
            log,
            busy: Arc::default(),
            tasks: JoinSet::new(),
        }
    }

    /// Start everything due at `now`.
    pub async fn pass(&mut self, now: jiff::Timestamp) -> anyhow::Result<Pass> {
        let mut pass = Pass::default();
        while self.tasks.try_join_next().is_some() {}
        self.promises(now, &mut pass).await?;
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
        let retries = self.store.retries_due(now).await?;
        pass.retries = self.send_each(retries, Sending::Retries, now).await?;
        let queued = self.store.queued_due(now).await?;
        pass.queued = self.send_each(queued, Sending::Queued, now).await?;
        for s in self.store.failed_schedules(nudge::MAX_ATTEMPTS).await? {
            let Some(incident) = self.store.incident(&s.incident_id).await? else {
                continue;
            };
            let n = words::schedule_failed(&self.project, &s, incident, now);
            self.nudge(&n, now, &mut pass).await?;
        }
        Ok(pass)
    }

    /// Nudge the people on duty before a promised update is due and when it is missed; send
    /// the holding update (as a schedule, so exactly once) when it is missed by
    /// `holding_after`, if `auto_holding_update` is on.
    async fn promises(&mut self, now: jiff::Timestamp, pass: &mut Pass) -> anyhow::Result<()> {
        let promises = self.project.config.promises.clone();
        let until = now.checked_add(promises.nudge_before)?;
        for u in self.store.promises_due(until).await? {
            let Some(due) = u.next_update_at else {
                continue;
            };
            let Some(incident) = self.store.incident(&u.incident_id).await? else {
                continue;
            };
            let holding_at = due.checked_add(promises.holding_after)?;
            // One holding update in a row at most: a promise the holding update made and nobody
            // kept is for the people on duty to answer, not for crier to repeat every half hour.
            let by_crier = u.sent_by.starts_with(HOLDING_SENDER);
            let holding = (promises.auto_holding_update && !by_crier).then_some(holding_at);
            let n = words::promise(&self.project, &u, incident.clone(), holding, now);
            self.nudge(&n, now, pass).await?;
            if holding.is_some_and(|at| now >= at) {
                let new = NewSchedule {
                    incident_id: u.incident_id.clone(),
                    kind: promises.holding_kind.clone(),
                    slots: promises.holding_set.clone(),
                    channels: Some(u.channels.clone()),
                    audience: u.audience.clone(),
                    due_at: now,
                    typed: format!("the promise of update {}", u.seq),
                    origin: Origin::Holding,
                    created_by: "crier".into(),
                };
                if let Some(s) = self.store.add_holding(&new, now).await? {
                    (self.log)(
                        now,
                        &format!(
                            "{}: the update promised for {} was missed; sending the holding update (schedule {})",
                            u.incident_id,
                            time::display_moment(due, now, &self.project.config.time_zone),
                            s.id
                        ),
                    );
                }
            }
        }
        Ok(())
    }

    async fn nudge(&self, n: &Nudge, now: jiff::Timestamp, pass: &mut Pass) -> anyhow::Result<()> {
        let (took, failed) = nudge::send(&self.project, self.store.as_ref(), n, now).await?;
        if took {
            (self.log)(now, &format!("nudge: {}", n.headline));
            pass.nudges.push(n.about.clone());
        }
        for (channel, why) in failed {
            (self.log)(
                now,
                &format!("nudge on `{channel}` failed, trying again later: {why}"),
            );
        }
        Ok(())
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
            let Some(u) = self.store.update(update).await? else {
                return Ok(Started::Nothing);
            };
            if self.store.halted(&u.incident_id).await? {
                return Ok(Started::Nothing);
            }
            // Sent in full by a worker that has not marked it yet (or crashed before it could):
            // `finish` marks it; nothing is sent.
            let finished = finish(&self.store, u.id, Some(s.id), 0, now).await?;
            if let Some(line) = finished.line {
                (self.log)(
                    now,
                    &format!("{}: {line}", Sending::Schedule(s.id).what(&u)),
                );
            }
            if finished.done {
                return Ok(Started::Nothing);
            }
            return Ok(started(self.send(u, Sending::Schedule(s.id), now).await?));
        }
        let existing = self.store.incident(&s.incident_id).await?;
        let req = Request {
            sent_by: match s.origin {
                Origin::Holding => format!("{HOLDING_SENDER}, schedule {})", s.id),
                _ => format!("crier (schedule {})", s.id),
            },
            source: Some(format!("schedule:{}", s.id)),
            ..Request::scheduled(&s.kind, &s.incident_id, &s.slots, &s.channels, &s.audience)
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
                (self.log)(
                    now,
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
        Ok(started(
            self.send(told.update, Sending::Schedule(s.id), now).await?,
        ))
    }

    /// Send each of `updates` that is not halted (see [`Due::send`]): those it started.
    async fn send_each(
        &mut self,
        updates: Vec<i64>,
        why: Sending,
        now: jiff::Timestamp,
    ) -> anyhow::Result<Vec<i64>> {
        let mut started = Vec::new();
        for id in updates {
            let Some(update) = self.store.update(id).await? else {
                continue;
            };
            if self.store.halted(&update.incident_id).await? {
                continue;
            }
            if self.send(update, why, now).await? {
                started.push(id);
            }
        }
        Ok(started)
    }

    /// Send `update` on a task of its own, unless this process sends it already, or another
    /// does and this one may not join it (see the module's doc).
    async fn send(
        &mut self,
        update: Update,
        why: Sending,
        now: jiff::Timestamp,
    ) -> anyhow::Result<bool> {
        if !self.busy.lock().expect("never poisoned").insert(update.id) {
            return Ok(false);
        }
        let join = update.planned && self.store.many_senders().await;
        if !join && run::live_run(&self.store, &update).await?.is_some() {
            self.busy.lock().expect("never poisoned").remove(&update.id);
            return Ok(false);
        }
        let channels = match run::channels_of(&self.project, &update) {
            Ok(c) => c,
            Err(Invalid(problems)) => {
                self.busy.lock().expect("never poisoned").remove(&update.id);
                (self.log)(
                    now,
                    &format!(
                        "update {} of {} cannot be sent: {problems}",
                        update.seq, update.incident_id
                    ),
                );
                return Ok(false);
            }
        };
        let (project, store, stop, busy, log) = (
            self.project.clone(),
            self.store.clone(),
            self.stop.clone(),
            self.busy.clone(),
            self.log.clone(),
        );
        self.tasks.spawn(async move {
            let id = update.id;
            let what = why.what(&update);
            let schedule = why.schedule();
            let delivery =
                Delivery::unattended(project.clone(), store.clone(), update, channels, stop);
            let outcome = match run::deliver_unless_busy(delivery).await {
                Ok(Ok(sent)) => finish(&store, id, schedule, sent.attempted, now)
                    .await
                    .map(|f| f.line),
                // Another worker took it between our look and our start: it is theirs.
                Ok(Err(_)) => Ok(None),
                Err(e) => Err(e),
            };
            match outcome {
                Ok(Some(line)) => (log)(now, &format!("{what}: {line}")),
                Ok(None) => {}
                Err(e) => (log)(now, &format!("{what}: {e:#}")),
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

/// Why a pass sends an update.
#[derive(Debug, Clone, Copy)]
enum Sending {
    /// It is schedule N's.
    Schedule(i64),
    /// Rows of a finished blast are due to retry.
    Retries,
    /// It was left to the workers.
    Queued,
}

impl Sending {
    fn schedule(self) -> Option<i64> {
        match self {
            Sending::Schedule(s) => Some(s),
            _ => None,
        }
    }

    /// What is being sent, as the log names it.
    fn what(self, update: &Update) -> String {
        let (seq, incident) = (update.seq, &update.incident_id);
        match self {
            Sending::Schedule(s) => format!(
                "schedule {s}: `{}` as update {seq} of {incident}",
                update.kind
            ),
            Sending::Retries => format!("retries of update {seq} of {incident}"),
            Sending::Queued => format!("update {seq} of {incident}"),
        }
    }
}

/// Where an update stands after a send (or before one).
struct Finished {
    /// Every row is planned and none is left to send now.
    done: bool,
    /// What to log, if anything.
    line: Option<String>,
}

/// After a send: mark the schedule sent once every row is planned and none is left to send
/// now (rows due to retry later are the worker's, not the schedule's); say what happened.
async fn finish(
    store: &Backend,
    update: i64,
    schedule: Option<i64>,
    attempted: u64,
    now: jiff::Timestamp,
) -> anyhow::Result<Finished> {
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
    let done = planned && unsent == 0;
    let mut marked = false;
    if let Some(id) = schedule
        && done
    {
        marked = store
            .end_schedule(id, ScheduleState::Sent, None, now)
            .await?;
    }
    // One line per schedule when it is sent (by whichever worker marks it), one per run that
    // sent part of it and stopped, one per run that sent retries.
    let say = match schedule {
        Some(_) => marked || (attempted > 0 && unsent > 0),
        None => attempted > 0,
    };
    let line = say.then(|| {
        format!("{sent} sent, {failed} failed, {retry} waiting to retry, {unsent} not sent yet")
    });
    Ok(Finished { done, line })
}

/// The words of the worker's nudges.
mod words {
    use super::*;
    use crate::store::IncidentRow;
    use crate::time::display_moment;

    /// Before a promised update is due (`soon`), or once it is missed (`missed`).
    pub fn promise(
        project: &Project,
        u: &Update,
        incident: IncidentRow,
        holding: Option<jiff::Timestamp>,
        now: jiff::Timestamp,
    ) -> Nudge {
        let tz = &project.config.time_zone;
        let due = u.next_update_at.unwrap_or(now);
        let at = display_moment(due, now, tz);
        let id = &incident.id;
        let command = format!(
            "```\ncrier blast update --incident {id} --set progress=\"…\" --next-update-in 30m\n```\n\n\
             Fixed? `crier blast resolution-thanks --incident {id} --set fixed_at=now`"
        );
        let (stage, headline, lead) = if now < due {
            let left = crate::time::describe_minutes(due.duration_since(now), true);
            (
                "soon",
                format!("{id}: the next customer update is due at {at}, in {left}"),
                format!(
                    "Customers of **{id}** ({}) were promised the next update at **{at}**. Send it with:",
                    incident.title
                ),
            )
        } else {
            let holding = holding
                .map(|h| {
                    format!(
                        "\n\nIf nobody does by {}, crier sends the holding update.",
                        display_moment(h, now, tz)
                    )
                })
                .unwrap_or_default();
            (
                "missed",
                format!("{id}: the customer update promised for {at} is overdue"),
                format!(
                    "Customers of **{id}** ({}) were told they would hear from us at **{at}**, and nothing has gone out since.{holding}\n\nSend the update now:",
                    incident.title
                ),
            )
        };
        Nudge {
            about: format!("promise:{}:{stage}", u.id),
            headline,
            body: format!("{lead}\n\n{command}\n"),
            incident,
        }
    }

    /// A schedule whose preflight failed when due: nothing of it was sent.
    pub fn schedule_failed(
        project: &Project,
        s: &Schedule,
        incident: IncidentRow,
        now: jiff::Timestamp,
    ) -> Nudge {
        let at = display_moment(s.due_at, now, &project.config.time_zone);
        let why = s.error.as_deref().unwrap_or("its preflight failed");
        Nudge {
            about: format!("schedule:{}:failed", s.id),
            headline: format!(
                "{}: the `{}` scheduled for {at} was not sent (schedule {})",
                s.incident_id, s.kind, s.id
            ),
            body: format!(
                "Nothing of it went out: {why}\n\nFix that, then send it with `crier blast {} --incident {} …`, \
                 or schedule it again with `crier schedule {} --incident {} --at …`.\n",
                s.kind, s.incident_id, s.kind, s.incident_id
            ),
            incident,
        }
    }
}
