//! Schedules and the one update each becomes, the holding update, promises due, and nudges:
//! what `crier schedule` and the worker see.

use super::*;
use crate::store::ScheduleState;

/// Start schedule `id` as the worker does, as update `fingerprint` of `INC-1`, at `now`.
async fn start<S: Store>(
    store: &S,
    id: i64,
    fingerprint: &str,
    now: jiff::Timestamp,
) -> Option<Told> {
    let (i, new) = (incident("INC-1", at(0)), new_update("hooks", fingerprint));
    store
        .start_schedule(id, telling(&i, &new), now)
        .await
        .unwrap()
}

/// A schedule of `INC-1` (told already) due at `due`, brought to `state` as the worker or
/// an operator would.
async fn in_state<S: Store>(store: &S, due: jiff::Timestamp, state: ScheduleState) -> Schedule {
    let s = add(store, new_schedule("INC-1", "update", due), at(0)).await;
    let fingerprint = format!("schedule:{}", s.id);
    match state {
        ScheduleState::Pending => {}
        ScheduleState::Sending => {
            start(store, s.id, &fingerprint, due).await.unwrap();
        }
        ScheduleState::Sent => {
            start(store, s.id, &fingerprint, due).await.unwrap();
            assert!(store.end_schedule(s.id, state, None, due).await.unwrap());
        }
        ScheduleState::Failed => {
            let why = Some("the kind `update` is not configured");
            assert!(store.end_schedule(s.id, state, why, due).await.unwrap());
        }
        ScheduleState::Cancelled => {
            store.cancel_schedule(s.id, due).await.unwrap();
        }
    }
    let s = store.schedule(s.id).await.unwrap().unwrap();
    assert_eq!(s.state, state);
    s
}

async fn state_of<S: Store>(store: &S, id: i64) -> ScheduleState {
    store.schedule(id).await.unwrap().unwrap().state
}

fn ids_of(schedules: &[Schedule]) -> Vec<i64> {
    schedules.iter().map(|s| s.id).collect()
}

pub(super) async fn a_schedule_is_kept_as_made_and_pending(db: impl Db) {
    let store = db.open().await;
    tell(&store, "INC-1", "f1", at(0)).await;
    let new = NewSchedule {
        slots: BTreeMap::from([("progress".into(), "the fix is rolling out".into())]),
        channels: Some(vec!["hooks".into(), "email".into()]),
        audience: Some("eu".into()),
        typed: "tomorrow 10:00".into(),
        created_by: "alice".into(),
        ..new_schedule("INC-1", "update", at(3_600))
    };
    let s = store.add_schedule(&new, at(10)).await.unwrap();
    let expected = Schedule {
        id: s.id,
        incident_id: new.incident_id,
        kind: new.kind,
        slots: new.slots,
        channels: new.channels,
        audience: new.audience,
        due_at: new.due_at,
        typed: new.typed,
        state: ScheduleState::Pending,
        origin: Origin::Operator,
        created_by: new.created_by,
        created_at: at(10),
        update_id: None,
        error: None,
    };
    assert_eq!(s, expected);
    assert_eq!(store.schedule(s.id).await.unwrap(), Some(expected));
    // No channels named: every customer channel when it is due.
    let every = add(&store, new_schedule("INC-1", "update", at(7_200)), at(10)).await;
    let every = store.schedule(every.id).await.unwrap().unwrap();
    assert_eq!(every.channels, None);
    assert_eq!(store.schedule(-1).await.unwrap(), None);
}

pub(super) async fn schedules_are_listed_by_due_time_for_one_incident_or_all(db: impl Db) {
    let store = db.open().await;
    assert!(store.schedules(None).await.unwrap().is_empty());
    tell(&store, "INC-1", "f1", at(0)).await;
    tell(&store, "INC-2", "f1", at(0)).await;
    let late = add(&store, new_schedule("INC-1", "update", at(300)), at(0)).await;
    let soon = add(&store, new_schedule("INC-1", "update", at(100)), at(0)).await;
    let other = add(&store, new_schedule("INC-2", "update", at(200)), at(0)).await;
    let called_off = in_state(&store, at(50), ScheduleState::Cancelled).await;

    let all = store.schedules(None).await.unwrap();
    assert_eq!(ids_of(&all), [called_off.id, soon.id, other.id, late.id]);
    let one = store.schedules(Some("INC-1")).await.unwrap();
    assert_eq!(ids_of(&one), [called_off.id, soon.id, late.id]);
    assert!(store.schedules(Some("INC-3")).await.unwrap().is_empty());
}

pub(super) async fn due_schedules_are_the_pending_and_sending_ones_whose_time_has_come(
    db: impl Db,
) {
    let store = db.open().await;
    tell(&store, "INC-1", "f1", at(0)).await;
    let pending = in_state(&store, at(100), ScheduleState::Pending).await;
    in_state(&store, at(200), ScheduleState::Pending).await;
    in_state(&store, at(50), ScheduleState::Cancelled).await;
    in_state(&store, at(60), ScheduleState::Failed).await;
    let sending = in_state(&store, at(70), ScheduleState::Sending).await;
    in_state(&store, at(80), ScheduleState::Sent).await;

    assert!(store.due_schedules(at(69)).await.unwrap().is_empty());
    let due = store.due_schedules(at(99)).await.unwrap();
    assert_eq!(
        due,
        std::slice::from_ref(&sending),
        "its update may not be finished"
    );
    let due = store.due_schedules(at(100)).await.unwrap();
    assert_eq!(due, [sending, pending]);
}

pub(super) async fn cancelling_a_pending_schedule_calls_it_off(db: impl Db) {
    let store = db.open().await;
    tell(&store, "INC-1", "f1", at(0)).await;
    let s = in_state(&store, at(100), ScheduleState::Pending).await;
    let cancelled = store.cancel_schedule(s.id, at(10)).await.unwrap();
    let expected = Schedule {
        state: ScheduleState::Cancelled,
        ..s.clone()
    };
    assert_eq!(cancelled, Some(expected.clone()));
    assert_eq!(store.schedule(s.id).await.unwrap(), Some(expected));
    assert!(store.due_schedules(at(100)).await.unwrap().is_empty());
    assert!(start(&store, s.id, "f2", at(100)).await.is_none());
}

pub(super) async fn cancelling_a_schedule_no_longer_pending_returns_it_unchanged(db: impl Db) {
    let store = db.open().await;
    tell(&store, "INC-1", "f1", at(0)).await;
    for state in [
        ScheduleState::Sending,
        ScheduleState::Sent,
        ScheduleState::Failed,
        ScheduleState::Cancelled,
    ] {
        let s = in_state(&store, at(100), state).await;
        let after = store.cancel_schedule(s.id, at(200)).await.unwrap();
        assert_eq!(after.as_ref(), Some(&s), "{state:?}");
        assert_eq!(store.schedule(s.id).await.unwrap(), Some(s));
    }
    assert_eq!(store.cancel_schedule(-1, at(200)).await.unwrap(), None);
}

pub(super) async fn a_due_schedule_becomes_the_next_update_and_is_being_sent(db: impl Db) {
    let store = db.open().await;
    tell(&store, "INC-1", "f1", at(0)).await;
    let s = in_state(&store, at(100), ScheduleState::Pending).await;
    let told = start(&store, s.id, "schedule", at(100)).await.unwrap();
    assert!(!told.continued);
    assert_eq!((told.update.seq, told.update.created_at), (2, at(100)));
    let after = store.schedule(s.id).await.unwrap().unwrap();
    assert_eq!(
        (after.state, after.update_id),
        (ScheduleState::Sending, Some(told.update.id))
    );
    assert_eq!(
        store.latest_update(Some("INC-1")).await.unwrap(),
        Some(told.update)
    );
}

pub(super) async fn a_second_start_of_the_same_schedule_finds_its_update(db: impl Db) {
    let store = db.open().await;
    tell(&store, "INC-1", "f1", at(0)).await;
    let s = in_state(&store, at(100), ScheduleState::Pending).await;
    let first = start(&store, s.id, "worker 1", at(100)).await.unwrap();
    // Another worker (or this one after a restart), with a telling of its own.
    let second = start(&store, s.id, "worker 2", at(101)).await.unwrap();
    assert!(second.continued);
    assert_eq!(second.update, first.update);
    assert_eq!((second.scheduled, second.cancelled), (None, Vec::new()));
    assert_eq!(store.updates("INC-1").await.unwrap().len(), 2);
    // Sent in full, it still names its update.
    store
        .end_schedule(s.id, ScheduleState::Sent, None, at(102))
        .await
        .unwrap();
    let third = start(&store, s.id, "worker 3", at(103)).await.unwrap();
    assert_eq!((third.continued, third.update), (true, first.update));
    assert_eq!(store.updates("INC-1").await.unwrap().len(), 2);
}

pub(super) async fn a_schedule_no_longer_pending_becomes_no_update(db: impl Db) {
    let store = db.open().await;
    tell(&store, "INC-1", "f1", at(0)).await;
    let cancelled = in_state(&store, at(100), ScheduleState::Cancelled).await;
    let failed = in_state(&store, at(100), ScheduleState::Failed).await;
    assert!(start(&store, cancelled.id, "f2", at(100)).await.is_none());
    assert!(start(&store, failed.id, "f3", at(100)).await.is_none());
    assert!(start(&store, -1, "f4", at(100)).await.is_none());
    assert_eq!(store.updates("INC-1").await.unwrap().len(), 1);
    assert_eq!(
        state_of(&store, cancelled.id).await,
        ScheduleState::Cancelled
    );
    assert_eq!(state_of(&store, failed.id).await, ScheduleState::Failed);
}

pub(super) async fn a_schedule_starts_with_the_effects_of_its_telling(db: impl Db) {
    let store = db.open().await;
    tell(&store, "INC-1", "f1", at(0)).await;
    let follow_up = add(&store, new_schedule("INC-1", "follow-up", at(900)), at(0)).await;
    let s = in_state(&store, at(100), ScheduleState::Pending).await;
    let facts = IncidentRow {
        status: Status::Identified,
        ..incident("INC-1", at(0))
    };
    let (new, next) = (
        new_update("hooks", "scheduled"),
        NewSchedule {
            origin: Origin::Resolution,
            ..new_schedule("INC-1", "follow-up", at(9_000))
        },
    );
    let t = Telling {
        follow_up: Some(&next),
        cancel_follow_ups: Some("follow-up"),
        ..telling(&facts, &new)
    };
    let told = store
        .start_schedule(s.id, t, at(100))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(ids_of(&told.cancelled), [follow_up.id]);
    assert_eq!(told.scheduled.map(|s| s.due_at), Some(at(9_000)));
    assert_eq!(store.incident("INC-1").await.unwrap(), Some(facts));
}

pub(super) async fn a_schedule_ends_once(db: impl Db) {
    let store = db.open().await;
    tell(&store, "INC-1", "f1", at(0)).await;
    let sending = in_state(&store, at(100), ScheduleState::Sending).await;
    let end = async |id, state, error| store.end_schedule(id, state, error, at(200)).await;
    assert!(end(sending.id, ScheduleState::Sent, None).await.unwrap());
    let sent = store.schedule(sending.id).await.unwrap().unwrap();
    assert_eq!((sent.state, sent.error), (ScheduleState::Sent, None));
    assert!(!end(sending.id, ScheduleState::Sent, None).await.unwrap());
    assert!(
        !end(sending.id, ScheduleState::Failed, Some("late"))
            .await
            .unwrap()
    );
    assert_eq!(state_of(&store, sending.id).await, ScheduleState::Sent);

    // A pending one fails its preflight: nothing of it is sent.
    let pending = in_state(&store, at(100), ScheduleState::Pending).await;
    let why = "slot `progress` is missing";
    assert!(
        end(pending.id, ScheduleState::Failed, Some(why))
            .await
            .unwrap()
    );
    let failed = store.schedule(pending.id).await.unwrap().unwrap();
    assert_eq!(
        (failed.state, failed.error.as_deref()),
        (ScheduleState::Failed, Some(why))
    );

    let cancelled = in_state(&store, at(100), ScheduleState::Cancelled).await;
    assert!(!end(cancelled.id, ScheduleState::Sent, None).await.unwrap());
    assert_eq!(
        state_of(&store, cancelled.id).await,
        ScheduleState::Cancelled
    );
}

pub(super) async fn failed_schedules_are_listed_until_their_nudge_is_sent_or_given_up(db: impl Db) {
    let store = db.open().await;
    assert!(store.failed_schedules(5).await.unwrap().is_empty());
    tell(&store, "INC-1", "f1", at(0)).await;
    let first = in_state(&store, at(100), ScheduleState::Failed).await;
    let second = in_state(&store, at(100), ScheduleState::Failed).await;
    in_state(&store, at(100), ScheduleState::Pending).await;
    in_state(&store, at(100), ScheduleState::Sent).await;
    in_state(&store, at(100), ScheduleState::Cancelled).await;
    let failed = || async { ids_of(&store.failed_schedules(5).await.unwrap()) };
    let mut listed = failed().await;
    listed.sort();
    assert_eq!(listed, [first.id, second.id]);
    assert_eq!(
        store.failed_schedules(5).await.unwrap()[0].error,
        first.error
    );

    // The worker's nudge about the first (`schedule:ID:failed`) is taken on a channel: it is
    // still listed while it is being sent, and no longer once it was.
    let about = format!("schedule:{}:failed", first.id);
    let taken = store.take_nudge(&about, "ops", "INC-1", at(200), 60_000, 5);
    assert!(taken.await.unwrap());
    let taken = store.take_nudge("promise:1:soon", "ops", "INC-1", at(200), 60_000, 5);
    assert!(taken.await.unwrap());
    assert_eq!(failed().await, [first.id, second.id]);
    store.end_nudge(&about, "ops", None, at(201)).await.unwrap();
    assert_eq!(failed().await, [second.id]);

    // The second's post failed: listed again for a retry until its attempts run out.
    let about = format!("schedule:{}:failed", second.id);
    let taken = store.take_nudge(&about, "ops", "INC-1", at(200), 60_000, 5);
    assert!(taken.await.unwrap());
    let error = Some("HTTP 500 Internal Server Error");
    store
        .end_nudge(&about, "ops", error, at(201))
        .await
        .unwrap();
    assert_eq!(failed().await, [second.id]);
    let once = store.failed_schedules(1).await.unwrap();
    assert!(once.is_empty(), "its one attempt was made");
}

pub(super) async fn a_holding_update_is_scheduled_once_per_promise(db: impl Db) {
    let store = db.open().await;
    tell(&store, "INC-1", "f1", at(0)).await;
    tell(&store, "INC-2", "f1", at(0)).await;
    let holding = |id: &str, typed: &str| NewSchedule {
        typed: typed.into(),
        origin: Origin::Holding,
        created_by: "crier".into(),
        ..new_schedule(id, "holding", at(600))
    };
    let promise_1 = holding("INC-1", "the promise of update 1");
    let s = store.add_holding(&promise_1, at(600)).await.unwrap();
    let s = s.expect("the first holding update of this promise");
    assert_eq!(
        (s.state, s.origin),
        (ScheduleState::Pending, Origin::Holding)
    );
    assert_eq!(store.schedule(s.id).await.unwrap(), Some(s.clone()));
    assert_eq!(store.add_holding(&promise_1, at(630)).await.unwrap(), None);
    // Sent, it still stands for its promise.
    start(&store, s.id, "holding", at(640)).await.unwrap();
    store
        .end_schedule(s.id, ScheduleState::Sent, None, at(650))
        .await
        .unwrap();
    assert_eq!(store.add_holding(&promise_1, at(660)).await.unwrap(), None);

    // Another promise, the same promise of another incident, and a promise that only an
    // operator's schedule has the words of.
    let promise_2 = holding("INC-1", "the promise of update 2");
    assert!(
        store
            .add_holding(&promise_2, at(700))
            .await
            .unwrap()
            .is_some()
    );
    let elsewhere = holding("INC-2", "the promise of update 1");
    assert!(
        store
            .add_holding(&elsewhere, at(700))
            .await
            .unwrap()
            .is_some()
    );
    let typed = "the promise of update 3";
    let by_hand = NewSchedule {
        typed: typed.into(),
        ..new_schedule("INC-1", "update", at(700))
    };
    add(&store, by_hand, at(700)).await;
    let promise_3 = holding("INC-1", typed);
    assert!(
        store
            .add_holding(&promise_3, at(700))
            .await
            .unwrap()
            .is_some()
    );
    assert_eq!(store.schedules(Some("INC-1")).await.unwrap().len(), 4);
}

/// Tell update `fingerprint` of incident `id` at `now`, promising the next one at `promise`,
/// with the incident `status` after it.
async fn promise<S: Store>(
    store: &S,
    id: &str,
    fingerprint: &str,
    status: Status,
    promise: Option<jiff::Timestamp>,
    now: jiff::Timestamp,
) -> Update {
    let facts = IncidentRow {
        status,
        ..incident(id, at(0))
    };
    let new = NewUpdate {
        next_update_at: promise,
        ..new_update("hooks", fingerprint)
    };
    store.tell(telling(&facts, &new), now).await.unwrap().update
}

pub(super) async fn promises_due_are_the_latest_updates_of_open_incidents_by_promised_time(
    db: impl Db,
) {
    let store = db.open().await;
    let open = Status::Investigating;
    let later = promise(&store, "INC-1", "f1", open, Some(at(600)), at(0)).await;
    let sooner = promise(&store, "INC-2", "f1", open, Some(at(300)), at(0)).await;
    promise(&store, "INC-3", "f1", open, None, at(0)).await;

    assert!(store.promises_due(at(299)).await.unwrap().is_empty());
    let due = store.promises_due(at(300)).await.unwrap();
    assert_eq!(due, std::slice::from_ref(&sooner));
    let due = store.promises_due(at(10_000)).await.unwrap();
    assert_eq!(due, [sooner, later]);
}

pub(super) async fn a_promise_is_no_longer_due_once_a_later_update_or_the_resolution_is_told(
    db: impl Db,
) {
    let store = db.open().await;
    let open = Status::Investigating;
    // Kept by an update promising nothing more.
    promise(&store, "INC-1", "f1", open, Some(at(300)), at(0)).await;
    promise(&store, "INC-1", "f2", Status::Monitoring, None, at(100)).await;
    // Kept by an update promising the next one later.
    promise(&store, "INC-2", "f1", open, Some(at(300)), at(0)).await;
    let next = promise(&store, "INC-2", "f2", open, Some(at(900)), at(100)).await;
    // Resolved: even a promise its last update made is not due.
    promise(&store, "INC-3", "f1", open, Some(at(300)), at(0)).await;
    promise(
        &store,
        "INC-3",
        "f2",
        Status::Resolved,
        Some(at(400)),
        at(100),
    )
    .await;

    assert!(store.promises_due(at(800)).await.unwrap().is_empty());
    assert_eq!(store.promises_due(at(1_000)).await.unwrap(), [next]);
}

pub(super) async fn a_nudge_is_taken_once_while_it_is_being_sent(db: impl Db) {
    let store = db.open().await;
    let take = async |about: &str, channel: &str, now| {
        let taken = store.take_nudge(about, channel, "INC-1", now, 60_000, 5);
        taken.await.unwrap()
    };
    assert!(take("promise:1:soon", "ops", at(0)).await);
    assert!(
        !take("promise:1:soon", "ops", at(0)).await,
        "another worker"
    );
    assert!(!take("promise:1:soon", "ops", at(59)).await);
    assert!(
        take("promise:1:soon", "oncall", at(0)).await,
        "another channel"
    );
    assert!(
        take("promise:1:missed", "ops", at(0)).await,
        "another nudge"
    );
}

pub(super) async fn an_unfinished_nudge_is_taken_again_after_its_retry_time(db: impl Db) {
    let store = db.open().await;
    let take = async |now| {
        let taken = store.take_nudge("promise:1:soon", "ops", "INC-1", now, 60_000, 5);
        taken.await.unwrap()
    };
    assert!(take(at(0)).await);
    // The worker that took it never said how it ended (it crashed).
    assert!(!take(at(59)).await);
    assert!(take(at(60)).await);
    assert!(!take(at(61)).await, "taken again: held again");
}

pub(super) async fn a_failed_nudge_is_tried_again_after_its_retry_time_up_to_its_attempts(
    db: impl Db,
) {
    let store = db.open().await;
    let about = "schedule:3:failed";
    let take = async |now| {
        let taken = store.take_nudge(about, "ops", "INC-1", now, 60_000, 2);
        taken.await.unwrap()
    };
    let fail = async |now| {
        let ended = store.end_nudge(about, "ops", Some("502 from the chat"), now);
        ended.await.unwrap()
    };
    assert!(take(at(0)).await);
    fail(at(1)).await;
    assert!(
        !take(at(60)).await,
        "a minute after the failure, not the take"
    );
    assert!(take(at(61)).await);
    fail(at(62)).await;
    assert!(!take(at(1_000)).await, "two attempts made");
}

pub(super) async fn a_sent_nudge_is_never_taken_again(db: impl Db) {
    let store = db.open().await;
    let take = async |now, retry_after_ms| {
        let taken = store.take_nudge("promise:1:missed", "ops", "INC-1", now, retry_after_ms, 5);
        taken.await.unwrap()
    };
    assert!(take(at(0), 60_000).await);
    store
        .end_nudge("promise:1:missed", "ops", None, at(1))
        .await
        .unwrap();
    assert!(!take(at(100_000), 60_000).await);
    assert!(!take(at(100_000), 0).await);
}

pub(super) async fn a_nudge_never_retried_is_taken_once(db: impl Db) {
    let store = db.open().await;
    // No internal channel: the worker's log takes it once, never to be tried again.
    let take = async |about: &str, now| {
        let taken = store.take_nudge(about, "-", "INC-1", now, i64::MAX, 1);
        taken.await.unwrap()
    };
    assert!(take("promise:1:soon", at(0)).await);
    assert!(
        !take("promise:1:soon", at(1_000_000)).await,
        "left unfinished"
    );
    assert!(take("promise:1:missed", at(0)).await);
    store
        .end_nudge("promise:1:missed", "-", None, at(0))
        .await
        .unwrap();
    assert!(!take("promise:1:missed", at(1_000_000)).await);
}
