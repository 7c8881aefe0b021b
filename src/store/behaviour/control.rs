//! What operators and processes switch: the run sending an update (one process at a time),
//! halts, the maintenance switch, and the audit log.

use super::*;
use crate::store::{Maintenance, Run};

/// How long a run's heartbeat stays fresh, in these behaviours.
const STALE_MS: i64 = 30_000;

/// Process `pid` on `host`, whose heartbeat (and start) is `now`.
fn process(pid: u32, host: &str, now: jiff::Timestamp) -> Run {
    Run {
        pid,
        host: host.into(),
        started_at: now,
        heartbeat_at: now,
    }
}

/// `run` starts sending `update`, unless a live process does (then `Err(that run)`).
async fn start<S: Store>(store: &S, update: &Update, run: &Run) -> Result<(), Run> {
    store.start_run(update.id, run, STALE_MS).await.unwrap()
}

pub(super) async fn a_run_refuses_another_process_while_its_heartbeat_is_fresh(db: impl Db) {
    let store = db.open().await;
    let update = tell_one_update(&store, "hooks", at(0)).await;
    assert_eq!(store.runs(update.id).await.unwrap().first().cloned(), None);
    let first = process(100, "worker-a", at(0));
    let started = start(&store, &update, &first).await;
    assert_eq!(started, Ok(()));
    assert_eq!(
        store.runs(update.id).await.unwrap().first().cloned(),
        Some(first.clone())
    );

    for other in [
        process(200, "worker-a", at(29)),
        process(200, "worker-b", at(29)),
    ] {
        let started = start(&store, &update, &other).await;
        assert_eq!(started, Err(first.clone()), "{other:?}");
    }
    assert_eq!(
        store.runs(update.id).await.unwrap().first().cloned(),
        Some(first)
    );
    // Another update is another run.
    let other = tell(&store, "INC-2", "f1", at(1)).await.update;
    let started = start(&store, &other, &process(200, "worker-a", at(1))).await;
    assert_eq!(started, Ok(()));
}

pub(super) async fn a_run_whose_heartbeat_is_stale_is_taken_over(db: impl Db) {
    let store = db.open().await;
    let update = tell_one_update(&store, "hooks", at(0)).await;
    let gone = process(100, "worker-a", at(0));
    start(&store, &update, &gone).await.unwrap();
    // Its heartbeat is `STALE_MS` older than the newcomer's.
    let next = process(200, "worker-b", at(30));
    let started = start(&store, &update, &next).await;
    assert_eq!(started, Ok(()));
    assert_eq!(
        store.runs(update.id).await.unwrap().first().cloned(),
        Some(next)
    );
}

pub(super) async fn a_heartbeat_keeps_a_run_fresh(db: impl Db) {
    let store = db.open().await;
    let update = tell_one_update(&store, "hooks", at(0)).await;
    let running = process(100, "worker-a", at(0));
    start(&store, &update, &running).await.unwrap();
    store
        .heartbeat(update.id, 100, "worker-a", at(25))
        .await
        .unwrap();
    let alive = Run {
        heartbeat_at: at(25),
        ..running
    };
    let refused = start(&store, &update, &process(200, "worker-b", at(50))).await;
    assert_eq!(refused, Err(alive.clone()));
    // Another process's heartbeat is not this run's, nor that of the same pid on another host.
    store
        .heartbeat(update.id, 200, "worker-b", at(70))
        .await
        .unwrap();
    store
        .heartbeat(update.id, 100, "worker-b", at(70))
        .await
        .unwrap();
    assert_eq!(
        store.runs(update.id).await.unwrap().first().cloned(),
        Some(alive)
    );
    let next = process(200, "worker-b", at(55));
    let started = start(&store, &update, &next).await;
    assert_eq!(started, Ok(()));
}

pub(super) async fn an_ended_run_lets_the_next_one_start(db: impl Db) {
    let store = db.open().await;
    let update = tell_one_update(&store, "hooks", at(0)).await;
    let first = process(100, "worker-a", at(0));
    start(&store, &update, &first).await.unwrap();
    // Only the process that runs it ends it: not another pid, nor its pid on another host.
    store.end_run(update.id, 200, "worker-b").await.unwrap();
    store.end_run(update.id, 100, "worker-b").await.unwrap();
    assert_eq!(
        store.runs(update.id).await.unwrap().first().cloned(),
        Some(first)
    );
    store.end_run(update.id, 100, "worker-a").await.unwrap();
    assert_eq!(store.runs(update.id).await.unwrap().first().cloned(), None);
    let next = process(200, "worker-b", at(1));
    let started = start(&store, &update, &next).await;
    assert_eq!(started, Ok(()));
}

pub(super) async fn the_same_process_may_start_its_run_again(db: impl Db) {
    let store = db.open().await;
    let update = tell_one_update(&store, "hooks", at(0)).await;
    let first = process(100, "worker-a", at(0));
    start(&store, &update, &first).await.unwrap();
    let again = process(100, "worker-a", at(5));
    let started = start(&store, &update, &again).await;
    assert_eq!(started, Ok(()));
    assert_eq!(
        store.runs(update.id).await.unwrap().first().cloned(),
        Some(again)
    );
}

pub(super) async fn halting_an_incident_stops_only_it(db: impl Db) {
    let store = db.open().await;
    assert!(!store.halted("INC-1").await.unwrap());
    store.halt("INC-1", at(0)).await.unwrap();
    assert!(store.halted("INC-1").await.unwrap());
    assert!(!store.halted("INC-2").await.unwrap());
}

pub(super) async fn halting_everything_stops_every_incident(db: impl Db) {
    let store = db.open().await;
    tell(&store, "INC-1", "f1", at(0)).await;
    store.halt("*", at(0)).await.unwrap();
    for incident in ["INC-1", "INC-2", "one not told yet"] {
        assert!(store.halted(incident).await.unwrap(), "{incident}");
    }
}

pub(super) async fn resuming_lifts_only_the_halt_of_its_scope(db: impl Db) {
    let store = db.open().await;
    store.halt("*", at(0)).await.unwrap();
    store.halt("INC-1", at(1)).await.unwrap();
    // INC-2 has no halt of its own: it stays halted with everything.
    assert!(!store.resume("INC-2").await.unwrap());
    assert!(store.halted("INC-2").await.unwrap());
    assert!(store.resume("INC-1").await.unwrap());
    assert!(
        store.halted("INC-1").await.unwrap(),
        "still halted with everything"
    );
    assert!(store.resume("*").await.unwrap());
    assert!(!store.halted("INC-1").await.unwrap());
    assert!(!store.halted("INC-2").await.unwrap());
    assert!(!store.resume("*").await.unwrap());

    // Lifting the halt on everything leaves an incident's own halt.
    store.halt("INC-1", at(2)).await.unwrap();
    assert!(!store.resume("*").await.unwrap());
    assert!(store.halted("INC-1").await.unwrap());
}

pub(super) async fn halting_twice_is_one_halt(db: impl Db) {
    let store = db.open().await;
    store.halt("INC-1", at(0)).await.unwrap();
    store.halt("INC-1", at(1)).await.unwrap();
    assert!(store.resume("INC-1").await.unwrap());
    assert!(!store.halted("INC-1").await.unwrap());
    assert!(!store.resume("INC-1").await.unwrap());
}

pub(super) async fn maintenance_is_off_until_switched_on_and_shows_the_last_switch(db: impl Db) {
    let store = db.open().await;
    assert_eq!(store.maintenance().await.unwrap(), None);
    let on = Maintenance {
        incident_id: Some("INC-1".into()),
        since: at(0),
        by: "alice".into(),
    };
    store.set_maintenance(Some(&on)).await.unwrap();
    assert_eq!(store.maintenance().await.unwrap(), Some(on));
    let again = Maintenance {
        incident_id: None,
        since: at(60),
        by: "bob".into(),
    };
    store.set_maintenance(Some(&again)).await.unwrap();
    assert_eq!(store.maintenance().await.unwrap(), Some(again));
    store.set_maintenance(None).await.unwrap();
    assert_eq!(store.maintenance().await.unwrap(), None);
    store.set_maintenance(None).await.unwrap();
    assert_eq!(store.maintenance().await.unwrap(), None);
}

pub(super) async fn the_audit_log_takes_any_entry_and_changes_nothing_else(db: impl Db) {
    let store = db.open().await;
    let update = tell_one_update(&store, "hooks", at(0)).await;
    let refused = r#"{"kind":"update","refused":[{"message":"`--set cause` is missing — “why”"}]}"#;
    for (actor, command, detail) in [
        ("alice", "halt", "*"),
        ("api", "blast refused", refused),
        ("api", "blast refused", refused),
        ("", "", ""),
    ] {
        store.audit(actor, command, detail, at(1)).await.unwrap();
    }
    assert!(!store.halted("INC-1").await.unwrap());
    assert_eq!(store.latest_update(None).await.unwrap(), Some(update));
    assert_eq!(store.incidents().await.unwrap().len(), 1);
    assert!(store.schedules(None).await.unwrap().is_empty());
    assert!(store.totals().await.unwrap().is_empty());
    assert_eq!(store.maintenance().await.unwrap(), None);
}

pub(super) async fn a_run_of_the_same_pid_on_another_host_is_another_process(db: impl Db) {
    let store = db.open().await;
    let update = tell_one_update(&store, "hooks", at(0)).await;
    // Two workers in containers, each its namespace's process 1.
    let first = process(1, "worker-a", at(0));
    start(&store, &update, &first).await.unwrap();
    let second = process(1, "worker-b", at(1));
    assert_eq!(
        start(&store, &update, &second).await,
        Err(first.clone()),
        "two processes would send the same update"
    );
    assert_eq!(
        store.runs(update.id).await.unwrap().first().cloned(),
        Some(first)
    );
}
