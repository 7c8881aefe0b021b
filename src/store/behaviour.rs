//! The behaviour every [`Store`] backend owes: each test is a generic function over a [`Db`],
//! and `behaviours!` makes it one `#[tokio::test]` per backend (the `mod` lines at the end:
//! a new backend adds its line and its `Db`). Tests of one backend's own details (its files,
//! its statements) stay beside that backend.

use std::collections::BTreeMap;

use super::{
    Delivery, IncidentRow, NewDelivery, NewSchedule, NewUpdate, Origin, Outcome, PlanBatch,
    ScheduleState, Store, Telling, Update,
};
use crate::template::{Impact, Status};

/// A fresh database for one test (its row ids start at 1). `open` can be called again: the
/// store it gives then is the next process's (after a crash, say).
pub(crate) trait Db {
    type Store: Store;
    fn open(&self) -> impl Future<Output = Self::Store>;
}

/// A SQLite file in a folder of its own, opened as crier.toml would name it.
pub(crate) struct SqliteDb(tempfile::TempDir);

impl SqliteDb {
    pub(crate) fn new() -> SqliteDb {
        SqliteDb(tempfile::tempdir().unwrap())
    }
}

impl Db for SqliteDb {
    type Store = super::Backend;

    async fn open(&self) -> super::Backend {
        super::open("sqlite:crier.db", self.0.path()).await.unwrap()
    }
}

pub(crate) fn at(secs: i64) -> jiff::Timestamp {
    jiff::Timestamp::from_second(1_795_000_000 + secs).unwrap()
}

/// Incident `INC-1`, opened at `now`.
fn incident(now: jiff::Timestamp) -> IncidentRow {
    IncidentRow {
        id: "INC-1".into(),
        title: "Checkout is failing".into(),
        status: Status::Investigating,
        impact: Impact::Major,
        components: Vec::new(),
        started_at: now,
        resolved_at: None,
    }
}

/// An update on `channel`; `fingerprint` tells one command from another.
fn new_update(channel: &str, fingerprint: &str) -> NewUpdate {
    NewUpdate {
        kind: "outage-notice".into(),
        status: Status::Investigating,
        slots: BTreeMap::new(),
        fingerprint: fingerprint.into(),
        content_sha256: "c".into(),
        approved_by: "test".into(),
        sent_by: "test".into(),
        channels: vec![channel.into()],
        audience: None,
        headline: "h".into(),
        summary: "s".into(),
        next_update_at: None,
    }
}

/// For tests across the crate: tell one update of incident `INC-1` on `channel` at `now`
/// (not planned yet), as the first update of `store`.
pub(crate) async fn tell_one_update<S: Store>(
    store: &S,
    channel: &str,
    now: jiff::Timestamp,
) -> Update {
    let (incident, new) = (incident(now), new_update(channel, "f"));
    let told = Telling {
        incident: &incident,
        update: &new,
        follow_up: None,
        cancel_follow_ups: None,
    };
    store.tell(told, now).await.unwrap().update
}

/// One update planned for `n` recipients on channel `hooks` (keys `key_0`…), in `store`.
pub(crate) async fn planned<S: Store>(store: &S, n: usize) -> Update {
    let update = tell_one_update(store, "hooks", at(0)).await;
    let batch = PlanBatch {
        deliveries: (0..n)
            .map(|i| NewDelivery {
                channel: "hooks".into(),
                recipient_id: format!("cus_{i}"),
                key: format!("key_{i}"),
                target: "{}".into(),
            })
            .collect(),
        bad_rows: Vec::new(),
        planned_rows: n as u64,
    };
    store.plan(update.id, &batch, at(0)).await.unwrap();
    update
}

pub(crate) fn ids(rows: &[Delivery]) -> Vec<i64> {
    rows.iter().map(|d| d.id).collect()
}

/// Claim the 7 rows of `update` (planned by [`planned`]), begin 6 and record one outcome of
/// each kind: `cus_0` sent (with a provider id), `cus_1` to retry, `cus_2` failed, `cus_3` in
/// doubt and resent, `cus_4` in doubt and skipped, `cus_5` sent, `cus_6` let go unattempted.
pub(crate) async fn record_every_outcome<S: Store>(store: &S, update: &Update) {
    let rows = store.claim(update.id, "hooks", 10, at(1)).await.unwrap();
    assert_eq!(rows.len(), 7);
    let id = |i: usize| rows[i].id;
    // Six are about to be sent; the seventh is let go without an attempt.
    let begun: Vec<i64> = (0..6).map(id).collect();
    store.record(&[], &begun, at(2)).await.unwrap();
    let outcomes = [
        (
            id(0),
            Outcome::Sent {
                provider_id: Some("msg_key_0".into()),
            },
        ),
        (
            id(1),
            Outcome::Retry {
                at: at(60),
                error: "503 from the endpoint".into(),
            },
        ),
        (
            id(2),
            Outcome::Failed {
                error: "404 from the endpoint".into(),
            },
        ),
        (
            id(3),
            Outcome::InDoubt {
                resend: true,
                at: at(30),
                error: "no answer within 15 s".into(),
            },
        ),
        (
            id(4),
            Outcome::InDoubt {
                resend: false,
                at: at(30),
                error: "no answer within 15 s".into(),
            },
        ),
        (id(5), Outcome::Sent { provider_id: None }),
        (id(6), Outcome::Released { at: at(5) }),
    ];
    store.record(&outcomes, &[], at(3)).await.unwrap();
}

async fn every_outcome_lands_in_the_journal_as_written(db: impl Db) {
    let store = db.open().await;
    let update = planned(&store, 7).await;
    record_every_outcome(&store, &update).await;

    let counts = store.counts(update.id).await.unwrap();
    let c = &counts["hooks"];
    assert_eq!(
        (
            c.sent,
            c.retry,
            c.failed,
            c.skipped,
            c.pending,
            c.attempting,
            c.in_doubt
        ),
        (2, 2, 1, 1, 1, 0, 2),
        "{c:?}"
    );

    let why = store.failures(update.id, 50).await.unwrap();
    let summary: Vec<(&str, &str, &str)> = why
        .iter()
        .map(|f| (f.recipient_id.as_str(), f.state.as_str(), f.error.as_str()))
        .collect();
    assert_eq!(
        summary,
        [
            ("cus_2", "failed", "404 from the endpoint"),
            ("cus_4", "skipped", "no answer within 15 s"),
            ("cus_1", "retry", "503 from the endpoint"),
            ("cus_3", "retry", "no answer within 15 s"),
        ]
    );
    assert_eq!(why[2].next_attempt_at, Some(at(60)));
    assert_eq!(why[0].next_attempt_at, None);
}

async fn a_late_begin_changes_nothing(db: impl Db) {
    let store = db.open().await;
    let update = planned(&store, 1).await;
    let rows = store.claim(update.id, "hooks", 10, at(1)).await.unwrap();
    store
        .record(
            &[(rows[0].id, Outcome::Sent { provider_id: None })],
            &[],
            at(2),
        )
        .await
        .unwrap();
    // A late begin for a row already recorded changes nothing.
    store.record(&[], &[rows[0].id], at(3)).await.unwrap();
    let c = &store.counts(update.id).await.unwrap()["hooks"];
    assert_eq!((c.sent, c.attempting), (1, 0));
}

async fn claims_hand_out_each_due_row_once_while_it_is_held(db: impl Db) {
    let store = db.open().await;
    let update = planned(&store, 5).await;
    let first = store.claim(update.id, "hooks", 2, at(1)).await.unwrap();
    let second = store.claim(update.id, "hooks", 2, at(1)).await.unwrap();
    let third = store.claim(update.id, "hooks", 2, at(1)).await.unwrap();
    assert_eq!(ids(&first), [1, 2]);
    assert_eq!(ids(&second), [3, 4]);
    assert_eq!(ids(&third), [5]);
    assert!(
        store
            .claim(update.id, "hooks", 2, at(1))
            .await
            .unwrap()
            .is_empty()
    );

    // Row 1 is let go and due again at once; 2 is sent. While 3, 4 and 5 are held, the
    // next claim hands out row 1 and nothing held.
    let released = [
        (1, Outcome::Released { at: at(1) }),
        (2, Outcome::Sent { provider_id: None }),
    ];
    store.record(&[], &[2], at(1)).await.unwrap();
    store.record(&released, &[], at(1)).await.unwrap();
    assert_eq!(
        ids(&store.claim(update.id, "hooks", 10, at(2)).await.unwrap()),
        [1]
    );
}

async fn a_row_due_again_at_the_same_millisecond_is_claimed_once_the_lane_drains(db: impl Db) {
    let store = db.open().await;
    let update = planned(&store, 3).await;
    // All three rows were planned at the same millisecond (at(0)).
    let rows = store.claim(update.id, "hooks", 3, at(1)).await.unwrap();
    assert_eq!(ids(&rows), [1, 2, 3]);
    // Row 1 is let go, due at the millisecond it was planned: before the last row handed
    // out in due order. Not found while 2 and 3 are held...
    store
        .record(&[(1, Outcome::Released { at: at(0) })], &[], at(1))
        .await
        .unwrap();
    assert!(
        store
            .claim(update.id, "hooks", 3, at(1))
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        store.next_due(update.id, "hooks").await.unwrap(),
        Some(at(0))
    );
    // ...but as soon as nothing is held (as the worker waits for when a claim is empty).
    let sent = [
        (2, Outcome::Sent { provider_id: None }),
        (3, Outcome::Sent { provider_id: None }),
    ];
    store.record(&sent, &[], at(1)).await.unwrap();
    assert_eq!(
        ids(&store.claim(update.id, "hooks", 3, at(2)).await.unwrap()),
        [1]
    );
}

async fn rows_claimed_before_a_crash_are_due_for_the_next_run(db: impl Db) {
    let store = db.open().await;
    let update = planned(&store, 3).await;
    let rows = store.claim(update.id, "hooks", 3, at(1)).await.unwrap();
    store.record(&[], &[rows[0].id], at(1)).await.unwrap();
    drop(store);

    let store = db.open().await;
    let in_doubt = store
        .recover(update.id, "hooks", true, at(2))
        .await
        .unwrap();
    assert_eq!(in_doubt, ["key_0"], "only the row begun may have been sent");
    let again = store.claim(update.id, "hooks", 10, at(3)).await.unwrap();
    assert_eq!(ids(&again), [1, 2, 3]);
    assert!(again[0].in_doubt && !again[1].in_doubt);
}

async fn a_telling_cancels_the_pending_schedules_of_the_kind_it_names(db: impl Db) {
    let store = db.open().await;
    tell_one_update(&store, "hooks", at(0)).await;
    let schedule = |kind: &str| NewSchedule {
        incident_id: "INC-1".into(),
        kind: kind.into(),
        slots: BTreeMap::new(),
        channels: None,
        audience: None,
        due_at: at(86_400),
        typed: "in 24h".into(),
        origin: Origin::Operator,
        created_by: "test".into(),
    };
    let follow_up = store.add_schedule(&schedule("follow-up"), at(1)).await;
    let other = store.add_schedule(&schedule("update"), at(1)).await;
    let (follow_up, other) = (follow_up.unwrap(), other.unwrap());
    let i = incident(at(0));

    // Naming no kind cancels nothing.
    let second = new_update("hooks", "f2");
    let telling = Telling {
        incident: &i,
        update: &second,
        follow_up: None,
        cancel_follow_ups: None,
    };
    let told = store.tell(telling, at(2)).await.unwrap();
    assert!(told.cancelled.is_empty(), "{told:?}");
    // Naming one cancels the pending schedules of that kind only, and says which.
    let third = new_update("hooks", "f3");
    let telling = Telling {
        incident: &i,
        update: &third,
        follow_up: None,
        cancel_follow_ups: Some("follow-up"),
    };
    let told = store.tell(telling, at(3)).await.unwrap();
    let cancelled: Vec<(i64, ScheduleState)> =
        told.cancelled.iter().map(|s| (s.id, s.state)).collect();
    assert_eq!(cancelled, [(follow_up.id, ScheduleState::Cancelled)]);
    let states: Vec<(i64, ScheduleState)> = store
        .schedules(Some("INC-1"))
        .await
        .unwrap()
        .iter()
        .map(|s| (s.id, s.state))
        .collect();
    assert_eq!(
        states,
        [
            (follow_up.id, ScheduleState::Cancelled),
            (other.id, ScheduleState::Pending)
        ]
    );
}

/// Every behaviour above, as a `#[tokio::test]` on a fresh database `$db` of one backend.
macro_rules! behaviours {
    ($db:expr) => {
        behaviours!($db;
            every_outcome_lands_in_the_journal_as_written,
            a_late_begin_changes_nothing,
            claims_hand_out_each_due_row_once_while_it_is_held,
            a_row_due_again_at_the_same_millisecond_is_claimed_once_the_lane_drains,
            rows_claimed_before_a_crash_are_due_for_the_next_run,
            a_telling_cancels_the_pending_schedules_of_the_kind_it_names,
        );
    };
    ($db:expr; $($name:ident),* $(,)?) => {
        $(
            #[tokio::test]
            async fn $name() {
                super::$name($db).await;
            }
        )*
    };
}

mod sqlite {
    behaviours!(super::SqliteDb::new());
}
