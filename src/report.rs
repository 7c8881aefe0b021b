//! The look-back report of one incident, for the post-incident review (`crier report ID`):
//! when customers first heard, every update with what it reached on each channel, whether
//! each promised update came on time, the follow-up, and totals per channel.
//!
//! [`Report::load`] reads everything from the store once, as of one moment; [`Report::new`]
//! turns that into the report without I/O. [`markdown`] and [`html`] write it for people (times
//! in the company's zone, to the minute, as customers read them); its `Serialize` is the JSON.
//! Text that came from outside crier (titles, headlines, names, errors) is escaped for the
//! format, so it is always shown as written and never becomes markup.

use std::collections::BTreeMap;

use jiff::{SignedDuration, Timestamp};
use serde::Serialize;

use crate::lifecycle::FOLLOW_UP;
use crate::store::{self, Counts, Failure, IncidentRow, Origin, Schedule, ScheduleState, Store};
use crate::time::describe_minutes;

mod text;
pub use text::{html, markdown};

/// The formats of `crier report --format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Markdown,
    Html,
    Json,
}

/// Failures listed per update; the others are counted ("and N more").
pub const FAILURES_SHOWN: u32 = 10;

/// A promised update less than this after the promised time is on time: customers read
/// times to the minute.
const GRACE: SignedDuration = SignedDuration::from_secs(60);

/// An update as the store holds it: the update, its journal counts per channel, and its
/// failures as [`Store::failures`] lists them.
pub type Stored = (store::Update, BTreeMap<String, Counts>, Vec<Failure>);

/// One incident, looked back on at `as_of`.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub incident: IncidentRow,
    /// The moment the report describes: "still due" and "pending" are as of then.
    pub as_of: Timestamp,
    /// From the incident's start to its first update; `None` before any update.
    pub first_notice_after_secs: Option<i64>,
    pub updates: Vec<UpdateReport>,
    /// One per update that promised the next one.
    pub promises: Vec<Promise>,
    /// The incident's schedules of kind `follow-up`, by due time.
    pub follow_ups: Vec<FollowUp>,
    /// Per channel, over every update.
    pub totals: BTreeMap<String, Tally>,
}

/// Messages of one channel: sent, failed for good, not sent yet.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Tally {
    pub sent: u64,
    /// Failed for good, or skipped as in doubt after a crash (not sent again).
    pub failed: u64,
    /// Due, being sent, or waiting to retry.
    pub not_sent_yet: u64,
}

impl Tally {
    pub fn of(c: &Counts) -> Tally {
        Tally {
            sent: c.sent,
            failed: c.undelivered(),
            not_sent_yet: c.unsent(),
        }
    }

    fn add(&mut self, other: Tally) {
        self.sent += other.sent;
        self.failed += other.failed;
        self.not_sent_yet += other.not_sent_yet;
    }
}

/// One update on the timeline, with what it reached.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct UpdateReport {
    pub seq: u32,
    pub kind: String,
    pub status: String,
    pub created_at: Timestamp,
    pub sent_by: String,
    pub approved_by: String,
    /// The approved wording's digest.
    pub content_sha256: String,
    pub headline: String,
    pub channels: Vec<String>,
    /// The next update this one promised.
    pub next_update_at: Option<Timestamp>,
    /// Every channel it was sent on, including those it had nobody to send to.
    pub deliveries: BTreeMap<String, Tally>,
    /// Up to [`FAILURES_SHOWN`] messages that failed for good, in journal order.
    pub failures: Vec<FailureLine>,
    /// Failed messages not in `failures`.
    pub more_failures: u64,
}

impl UpdateReport {
    /// `update` with its journal counts and its `failures` as the store lists them (those
    /// waiting to retry are left out: they are not sent yet).
    pub fn new(
        update: store::Update,
        counts: &BTreeMap<String, Counts>,
        failures: Vec<Failure>,
    ) -> UpdateReport {
        let mut deliveries: BTreeMap<String, Tally> = update
            .channels
            .iter()
            .map(|c| (c.clone(), Tally::default()))
            .collect();
        deliveries.extend(counts.iter().map(|(c, n)| (c.clone(), Tally::of(n))));
        let failures: Vec<FailureLine> = failures
            .into_iter()
            .filter(|f| f.state != "retry")
            .take(FAILURES_SHOWN as usize)
            .map(FailureLine::from)
            .collect();
        let failed: u64 = deliveries.values().map(|t| t.failed).sum();
        UpdateReport {
            more_failures: failed.saturating_sub(failures.len() as u64),
            failures,
            deliveries,
            seq: update.seq,
            kind: update.kind,
            status: update.status,
            created_at: update.created_at,
            sent_by: update.sent_by,
            approved_by: update.approved_by,
            content_sha256: update.content_sha256,
            headline: update.headline,
            channels: update.channels,
            next_update_at: update.next_update_at,
        }
    }
}

/// A message that failed for good, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FailureLine {
    pub channel: String,
    /// `*` for a message to everyone.
    pub recipient_id: String,
    /// `failed`, or `skipped` (in doubt after a crash).
    pub state: String,
    pub attempts: u32,
    pub error: String,
}

impl From<Failure> for FailureLine {
    fn from(f: Failure) -> FailureLine {
        FailureLine {
            channel: f.channel,
            recipient_id: f.recipient_id,
            state: f.state,
            attempts: f.attempts,
            error: f.error,
        }
    }
}

/// An update's promise of the next one, and what became of it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Promise {
    /// The update that made the promise.
    pub seq: u32,
    pub promised_at: Timestamp,
    /// The update that came next, if any.
    pub next_seq: Option<u32>,
    pub next_at: Option<Timestamp>,
    #[serde(flatten)]
    pub outcome: Outcome,
}

/// Whether a promised update came on time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum Outcome {
    /// The next update went out before the promised time, or less than a minute after it.
    OnTime,
    /// The next update went out `late_by_secs` after the promised time.
    Late { late_by_secs: i64 },
    /// The promised time passed (or the incident was resolved) and no update followed.
    NotKept,
    /// The incident is open and the promised time has not come yet.
    StillDue,
}

impl Outcome {
    /// The outcome of a promise of `promised`, when the next update went out at `next`, and
    /// the incident is `open` at `now`.
    pub fn judge(promised: Timestamp, next: Option<Timestamp>, open: bool, now: Timestamp) -> Self {
        match next {
            Some(at) => {
                let late = at.duration_since(promised);
                if late < GRACE {
                    Outcome::OnTime
                } else {
                    Outcome::Late {
                        late_by_secs: late.as_secs(),
                    }
                }
            }
            None if open && now.duration_since(promised) < GRACE => Outcome::StillDue,
            None => Outcome::NotKept,
        }
    }

    /// How it reads: "on time", "15 minutes late", "not kept: no update followed", "still due".
    pub fn describe(self) -> String {
        match self {
            Outcome::OnTime => "on time".into(),
            Outcome::Late { late_by_secs } => {
                format!("{} late", minutes(SignedDuration::from_secs(late_by_secs)))
            }
            Outcome::NotKept => "not kept: no update followed".into(),
            Outcome::StillDue => "still due".into(),
        }
    }
}

/// A follow-up schedule of the incident.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FollowUp {
    /// The schedule's id (`crier schedule cancel ID`).
    pub id: i64,
    pub due_at: Timestamp,
    pub state: ScheduleState,
    pub origin: Origin,
    /// Why it failed.
    pub error: Option<String>,
    /// The update it became, once due.
    pub update_seq: Option<u32>,
}

impl Report {
    /// The report of incident `id` as of `now`; `None` when there is no such incident.
    pub async fn load<S: Store>(
        store: &S,
        id: &str,
        now: Timestamp,
    ) -> store::Result<Option<Report>> {
        let Some(incident) = store.incident(id).await? else {
            return Ok(None);
        };
        let mut updates = Vec::new();
        for update in store.updates(&incident.id).await? {
            let counts = store.counts(update.id).await?;
            let failures = store.failures(update.id, FAILURES_SHOWN).await?;
            updates.push((update, counts, failures));
        }
        let schedules = store.schedules(Some(&incident.id)).await?;
        Ok(Some(Report::new(incident, updates, &schedules, now)))
    }

    /// The report from what the store holds: each update with its counts and failures, and
    /// the incident's schedules.
    pub fn new(
        incident: IncidentRow,
        updates: Vec<Stored>,
        schedules: &[Schedule],
        now: Timestamp,
    ) -> Report {
        let follow_ups = follow_ups(schedules, &updates);
        let updates: Vec<UpdateReport> = updates
            .into_iter()
            .map(|(u, counts, failures)| UpdateReport::new(u, &counts, failures))
            .collect();
        let open = incident.resolved_at.is_none();
        Report {
            first_notice_after_secs: updates
                .first()
                .map(|u| u.created_at.duration_since(incident.started_at).as_secs()),
            promises: promises(&updates, open, now),
            totals: totals(&updates),
            follow_ups,
            updates,
            incident,
            as_of: now,
        }
    }
}

/// Each update's promise, judged by the update that followed it.
pub fn promises(updates: &[UpdateReport], open: bool, now: Timestamp) -> Vec<Promise> {
    updates
        .iter()
        .enumerate()
        .filter_map(|(i, u)| {
            let promised_at = u.next_update_at?;
            let next = updates.get(i + 1);
            let next_at = next.map(|n| n.created_at);
            Some(Promise {
                seq: u.seq,
                promised_at,
                next_seq: next.map(|n| n.seq),
                next_at,
                outcome: Outcome::judge(promised_at, next_at, open, now),
            })
        })
        .collect()
}

fn follow_ups(schedules: &[Schedule], updates: &[Stored]) -> Vec<FollowUp> {
    schedules
        .iter()
        .filter(|s| s.kind == FOLLOW_UP)
        .map(|s| FollowUp {
            id: s.id,
            due_at: s.due_at,
            state: s.state,
            origin: s.origin,
            error: s.error.clone(),
            update_seq: s
                .update_id
                .and_then(|id| updates.iter().find(|(u, ..)| u.id == id))
                .map(|(u, ..)| u.seq),
        })
        .collect()
}

fn totals(updates: &[UpdateReport]) -> BTreeMap<String, Tally> {
    let mut totals: BTreeMap<String, Tally> = BTreeMap::new();
    for (channel, tally) in updates.iter().flat_map(|u| &u.deliveries) {
        totals.entry(channel.clone()).or_default().add(*tally);
    }
    totals
}

/// A duration to the whole minute, as the report reads it: "0 minutes", "12 minutes",
/// "2 hours 15 minutes".
pub fn minutes(d: SignedDuration) -> String {
    describe_minutes(d, false)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::template::{Impact, Status};

    pub(super) fn ts(s: &str) -> Timestamp {
        s.parse().expect("test timestamp")
    }

    pub(super) fn update(seq: u32, at: &str, next: Option<&str>) -> store::Update {
        store::Update {
            id: i64::from(seq) + 100,
            incident_id: "INC-1".into(),
            seq,
            kind: "update".into(),
            status: "investigating".into(),
            slots: BTreeMap::new(),
            fingerprint: format!("f{seq}"),
            content_sha256: "0123456789abcdef0123".into(),
            approved_by: "Dana".into(),
            sent_by: "sam".into(),
            channels: vec!["mail".into()],
            audience: None,
            headline: "Checkout is failing".into(),
            summary: String::new(),
            created_at: ts(at),
            planned: true,
            planned_rows: 0,
            next_update_at: next.map(ts),
        }
    }

    pub(super) fn incident(resolved: Option<&str>) -> IncidentRow {
        IncidentRow {
            id: "INC-1".into(),
            title: "Checkout is failing".into(),
            status: if resolved.is_some() {
                Status::Resolved
            } else {
                Status::Investigating
            },
            impact: Impact::Major,
            components: vec![],
            started_at: ts("2026-11-26T13:00:00Z"),
            resolved_at: resolved.map(ts),
        }
    }

    pub(super) fn mail(sent: u64, failed: u64) -> BTreeMap<String, Counts> {
        let counts = Counts {
            sent,
            failed,
            ..Counts::default()
        };
        BTreeMap::from([("mail".to_string(), counts)])
    }

    pub(super) fn failure(recipient: &str, error: &str) -> Failure {
        Failure {
            channel: "mail".into(),
            recipient_id: recipient.into(),
            key: "k".into(),
            state: "failed".into(),
            attempts: 1,
            error: error.into(),
            next_attempt_at: None,
        }
    }

    #[test]
    fn a_promise_is_on_time_late_not_kept_or_still_due() {
        let promised = ts("2026-11-26T13:35:00Z");
        let judge =
            |next: Option<&str>, open, now| Outcome::judge(promised, next.map(ts), open, ts(now));
        let now = "2026-11-26T15:00:00Z";
        assert_eq!(
            judge(Some("2026-11-26T13:20:00Z"), true, now),
            Outcome::OnTime
        );
        assert_eq!(
            judge(Some("2026-11-26T13:35:59Z"), true, now),
            Outcome::OnTime
        );
        assert_eq!(
            judge(Some("2026-11-26T13:50:00Z"), true, now),
            Outcome::Late { late_by_secs: 900 }
        );
        assert_eq!(judge(None, false, now), Outcome::NotKept);
        assert_eq!(judge(None, true, now), Outcome::NotKept);
        assert_eq!(judge(None, true, "2026-11-26T13:30:00Z"), Outcome::StillDue);
        assert_eq!(
            Outcome::Late { late_by_secs: 900 }.describe(),
            "15 minutes late"
        );
        assert_eq!(
            Outcome::Late {
                late_by_secs: 8_130
            }
            .describe(),
            "2 hours 15 minutes late"
        );
        assert_eq!(Outcome::NotKept.describe(), "not kept: no update followed");
    }

    #[test]
    fn durations_read_to_the_minute() {
        assert_eq!(minutes(SignedDuration::ZERO), "0 minutes");
        assert_eq!(minutes(SignedDuration::from_secs(59)), "0 minutes");
        assert_eq!(
            minutes(SignedDuration::from_secs(12 * 60 + 30)),
            "12 minutes"
        );
    }

    #[test]
    fn each_promise_is_judged_by_the_update_that_followed() {
        let updates = vec![
            (
                update(1, "2026-11-26T13:05:00Z", Some("2026-11-26T13:35:00Z")),
                mail(3, 0),
                vec![],
            ),
            (
                update(2, "2026-11-26T13:50:00Z", Some("2026-11-26T14:20:00Z")),
                mail(3, 0),
                vec![],
            ),
            (
                update(3, "2026-11-26T14:10:00Z", Some("2026-11-26T14:40:00Z")),
                mail(3, 0),
                vec![],
            ),
        ];
        let r = Report::new(incident(None), updates, &[], ts("2026-11-26T14:30:00Z"));
        let outcomes: Vec<(u32, Option<u32>, Outcome)> = r
            .promises
            .iter()
            .map(|p| (p.seq, p.next_seq, p.outcome))
            .collect();
        assert_eq!(
            outcomes,
            [
                (1, Some(2), Outcome::Late { late_by_secs: 900 }),
                (2, Some(3), Outcome::OnTime),
                (3, None, Outcome::StillDue)
            ]
        );
        assert_eq!(r.first_notice_after_secs, Some(300));
        assert_eq!(
            r.totals["mail"],
            Tally {
                sent: 9,
                failed: 0,
                not_sent_yet: 0
            }
        );
    }

    #[test]
    fn failures_beyond_ten_are_counted_and_retries_are_not_failures() {
        let mut failures: Vec<Failure> = (0..10)
            .map(|i| failure(&format!("cus_{i}"), "SMTP 550: no such user"))
            .collect();
        failures.push(Failure {
            state: "retry".into(),
            ..failure("cus_x", "SMTP 451: later")
        });
        let u = UpdateReport::new(
            update(1, "2026-11-26T13:05:00Z", None),
            &mail(5, 14),
            failures,
        );
        assert_eq!(u.failures.len(), 10);
        assert!(u.failures.iter().all(|f| f.state == "failed"));
        assert_eq!(u.more_failures, 4);
    }
}
