//! The delivery journal: planning rows, claiming and recording them, recovering after a
//! crash, and what `crier status` counts.

use super::*;
use crate::store::{BadRow, Counts, Failure};

pub(super) async fn every_outcome_lands_in_the_journal_as_written(db: impl Db) {
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

pub(super) async fn a_late_begin_changes_nothing(db: impl Db) {
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
    // A late begin for a row already recorded changes nothing, and says the row must not go.
    let not_begun = store.record(&[], &[rows[0].id], at(3)).await.unwrap();
    assert_eq!(not_begun, [rows[0].id]);
    let c = &store.counts(update.id).await.unwrap()["hooks"];
    assert_eq!((c.sent, c.attempting), (1, 0));
}

pub(super) async fn claims_hand_out_each_due_row_once_while_it_is_held(db: impl Db) {
    let store = db.open().await;
    let update = planned(&store, 5).await;
    let first = store.claim(update.id, "hooks", 2, at(1)).await.unwrap();
    let second = store.claim(update.id, "hooks", 2, at(1)).await.unwrap();
    let third = store.claim(update.id, "hooks", 2, at(1)).await.unwrap();
    assert_eq!(keys(&first), ["key_0", "key_1"]);
    assert_eq!(keys(&second), ["key_2", "key_3"]);
    assert_eq!(keys(&third), ["key_4"]);
    assert!(
        store
            .claim(update.id, "hooks", 2, at(1))
            .await
            .unwrap()
            .is_empty()
    );

    // The first row is let go and due again at once; the second is sent. While the other
    // three are held, the next claim hands out the first and nothing held.
    let released = [
        (first[0].id, Outcome::Released { at: at(1) }),
        (first[1].id, Outcome::Sent { provider_id: None }),
    ];
    store.record(&[], &[first[1].id], at(1)).await.unwrap();
    store.record(&released, &[], at(1)).await.unwrap();
    assert_eq!(
        keys(&store.claim(update.id, "hooks", 10, at(2)).await.unwrap()),
        ["key_0"]
    );
}

pub(super) async fn a_row_due_again_at_the_same_millisecond_is_claimed_once_the_lane_drains(
    db: impl Db,
) {
    let store = db.open().await;
    let update = planned(&store, 3).await;
    // All three rows were planned at the same millisecond (at(0)).
    let rows = store.claim(update.id, "hooks", 3, at(1)).await.unwrap();
    assert_eq!(keys(&rows), ["key_0", "key_1", "key_2"]);
    // The first is let go, due at the millisecond it was planned: before the last row handed
    // out in due order. Where one process sends (claims held in memory, each starting after
    // the last row handed out), it is not found while the other two are held; where claims
    // are rows, at once...
    store
        .record(&[(rows[0].id, Outcome::Released { at: at(0) })], &[], at(1))
        .await
        .unwrap();
    let meanwhile = store.claim(update.id, "hooks", 3, at(1)).await.unwrap();
    if store.many_senders().await {
        assert_eq!(keys(&meanwhile), ["key_0"]);
        return;
    }
    assert!(meanwhile.is_empty());
    assert_eq!(
        store.next_due(update.id, "hooks").await.unwrap(),
        Some(at(0))
    );
    // ...and always as soon as nothing is held (as the worker waits for when a claim is empty).
    let sent = [
        (rows[1].id, Outcome::Sent { provider_id: None }),
        (rows[2].id, Outcome::Sent { provider_id: None }),
    ];
    store.record(&sent, &[], at(1)).await.unwrap();
    assert_eq!(
        keys(&store.claim(update.id, "hooks", 3, at(2)).await.unwrap()),
        ["key_0"]
    );
}

pub(super) async fn rows_claimed_before_a_crash_are_due_for_the_next_run(db: impl Db) {
    let store = db.open().await;
    let update = planned(&store, 3).await;
    let rows = store.claim(update.id, "hooks", 3, at(1)).await.unwrap();
    store.record(&[], &[rows[0].id], at(1)).await.unwrap();
    drop(store);

    // The next process, once the crashed one's lease has run out (a store several processes
    // share cannot tell a dead one from a slow one before).
    let store = db.open().await;
    let in_doubt = store
        .recover(update.id, "hooks", true, past_lease(2))
        .await
        .unwrap();
    assert_eq!(in_doubt, ["key_0"], "only the row begun may have been sent");
    let again = store
        .claim(update.id, "hooks", 10, past_lease(3))
        .await
        .unwrap();
    assert_eq!(keys(&again), ["key_0", "key_1", "key_2"]);
    assert_eq!(ids(&again), ids(&rows), "the same rows");
    assert!(again[0].in_doubt && !again[1].in_doubt);
}

/// Plan one row per (channel, key) for `update` in one batch (recipient `cus_<key>`), as far
/// as audience row `planned_rows`: the indexes the store left alone.
async fn plan<S: Store>(
    store: &S,
    update: &Update,
    rows: &[(&str, &str)],
    planned_rows: u64,
) -> Vec<usize> {
    let batch = PlanBatch {
        deliveries: rows
            .iter()
            .map(|(channel, key)| row(channel, &format!("cus_{key}"), key))
            .collect(),
        bad_rows: Vec::new(),
        planned_rows,
    };
    store.plan(update.id, &batch, at(0)).await.unwrap()
}

/// An update of incident `id` planned in full, one `hooks` row per key, the first `begun`
/// rows claimed and begun (being sent) at `at(1)`: those rows, in key order.
async fn sending<S: Store>(
    store: &S,
    id: &str,
    keys: &[&str],
    begun: usize,
) -> (Update, Vec<Delivery>) {
    let update = tell(store, id, "f1", at(0)).await.update;
    let rows: Vec<(&str, &str)> = keys.iter().map(|k| ("hooks", *k)).collect();
    plan(store, &update, &rows, keys.len() as u64).await;
    store.finish_plan(update.id).await.unwrap();
    let rows = store.claim(update.id, "hooks", begun as u32, at(1));
    let rows = rows.await.unwrap();
    store.record(&[], &ids(&rows), at(1)).await.unwrap();
    (update, rows)
}

fn sent(row: &Delivery) -> (i64, Outcome) {
    (row.id, Outcome::Sent { provider_id: None })
}

fn retry(row: &Delivery, at: jiff::Timestamp) -> (i64, Outcome) {
    let error = "503 from the endpoint".into();
    (row.id, Outcome::Retry { at, error })
}

fn sorted(mut ids: Vec<i64>) -> Vec<i64> {
    ids.sort();
    ids
}

pub(super) async fn planning_adds_rows_per_channel_and_records_how_far_it_got(db: impl Db) {
    let store = db.open().await;
    let update = tell_one_update(&store, "hooks", at(0)).await;
    assert!(store.counts(update.id).await.unwrap().is_empty());
    let email = NewDelivery {
        target: r#"{"email":"ada@example.com"}"#.into(),
        ..row("email", "cus_1", "e1")
    };
    let first = PlanBatch {
        deliveries: vec![row("hooks", "cus_1", "h1"), email.clone()],
        bad_rows: Vec::new(),
        planned_rows: 2,
    };
    assert!(
        store
            .plan(update.id, &first, at(1))
            .await
            .unwrap()
            .is_empty()
    );
    let u = store.update(update.id).await.unwrap().unwrap();
    assert_eq!((u.planned, u.planned_rows), (false, 2), "planning goes on");

    let second = PlanBatch {
        deliveries: vec![row("hooks", "cus_2", "h2"), row("hooks", "cus_3", "h3")],
        bad_rows: Vec::new(),
        planned_rows: 5,
    };
    assert!(
        store
            .plan(update.id, &second, at(1))
            .await
            .unwrap()
            .is_empty()
    );
    store.finish_plan(update.id).await.unwrap();
    let u = store.update(update.id).await.unwrap().unwrap();
    assert_eq!((u.planned, u.planned_rows), (true, 5));

    let pending = |n| Counts {
        pending: n,
        ..Counts::default()
    };
    let counts = store.counts(update.id).await.unwrap();
    let expected = BTreeMap::from([
        ("email".to_string(), pending(1)),
        ("hooks".into(), pending(3)),
    ]);
    assert_eq!(counts, expected);
    // A row is handed out as it was planned, this being its first attempt.
    let claimed = store.claim(update.id, "email", 10, at(2)).await.unwrap();
    let expected = Delivery {
        id: claimed[0].id,
        channel: email.channel,
        recipient_id: email.recipient_id,
        key: email.key,
        target: email.target,
        attempts: 1,
        first_attempt_at: at(2),
        in_doubt: false,
    };
    assert_eq!(claimed, [expected]);
}

pub(super) async fn a_key_planned_before_is_left_alone_and_reported_as_a_duplicate(db: impl Db) {
    let store = db.open().await;
    let update = tell_one_update(&store, "hooks", at(0)).await;
    let first = [("hooks", "k1"), ("hooks", "k2")];
    assert!(plan(&store, &update, &first, 2).await.is_empty());
    // k2 again (another audience row with the same id), and k3 twice in one batch.
    let second = PlanBatch {
        deliveries: vec![
            NewDelivery {
                target: "the later row".into(),
                ..row("hooks", "cus_2", "k2")
            },
            row("hooks", "cus_3", "k3"),
            row("hooks", "cus_3", "k3"),
        ],
        bad_rows: Vec::new(),
        planned_rows: 5,
    };
    assert_eq!(store.plan(update.id, &second, at(0)).await.unwrap(), [0, 2]);
    // Planning resumed after a crash plans a batch again: nothing is added twice.
    assert_eq!(plan(&store, &update, &first, 2).await, [0, 1]);

    assert_eq!(store.counts(update.id).await.unwrap()["hooks"].pending, 3);
    let rows = store.claim(update.id, "hooks", 10, at(1)).await.unwrap();
    assert_eq!(keys(&rows), ["k1", "k2", "k3"]);
    assert_eq!(rows[1].target, "{}", "the row planned first");
}

pub(super) async fn bad_rows_are_counted_once_each_and_listed_by_row_up_to_the_limit(db: impl Db) {
    let store = db.open().await;
    let update = tell_one_update(&store, "hooks", at(0)).await;
    let other = tell(&store, "INC-2", "f1", at(0)).await.update;
    let bad = |row: u64, field: &str| BadRow {
        row,
        recipient_id: Some(format!("cus_{row}")),
        field: field.into(),
        reason: format!("`{field}` is not valid"),
    };
    let first = PlanBatch {
        deliveries: Vec::new(),
        bad_rows: vec![bad(7, "email"), bad(3, "email"), bad(5, "segments")],
        planned_rows: 8,
    };
    store.plan(update.id, &first, at(0)).await.unwrap();
    // A duplicate found later, and row 7 again (planning resumed after a crash).
    let second = PlanBatch {
        deliveries: Vec::new(),
        bad_rows: vec![bad(9, "id"), bad(7, "email")],
        planned_rows: 10,
    };
    store.plan(update.id, &second, at(0)).await.unwrap();

    assert_eq!(
        store.bad_rows(update.id, 2).await.unwrap(),
        (4, vec![bad(3, "email"), bad(5, "segments")])
    );
    let (total, all) = store.bad_rows(update.id, 50).await.unwrap();
    let rows: Vec<u64> = all.iter().map(|b| b.row).collect();
    assert_eq!((total, rows), (4, vec![3, 5, 7, 9]));
    assert_eq!(store.bad_rows(other.id, 50).await.unwrap(), (0, Vec::new()));
}

pub(super) async fn rows_held_by_a_claim_count_as_pending_until_begun(db: impl Db) {
    let store = db.open().await;
    let update = planned(&store, 3).await;
    let rows = store.claim(update.id, "hooks", 2, at(1)).await.unwrap();
    let c = store.counts(update.id).await.unwrap()["hooks"].clone();
    assert_eq!((c.pending, c.attempting, c.total()), (3, 0, 3));
    store.record(&[], &[rows[0].id], at(1)).await.unwrap();
    let c = store.counts(update.id).await.unwrap()["hooks"].clone();
    assert_eq!((c.pending, c.attempting, c.unsent()), (2, 1, 3));
    assert!(!c.finished());
}

pub(super) async fn retries_are_due_for_finished_blasts_once_their_time_comes(db: impl Db) {
    let store = db.open().await;
    assert!(store.retries_due(at(0)).await.unwrap().is_empty());
    let (first, rows) = sending(&store, "INC-1", &["a1", "a2"], 2).await;
    let outcomes = [sent(&rows[0]), retry(&rows[1], at(60))];
    store.record(&outcomes, &[], at(2)).await.unwrap();
    assert!(store.retries_due(at(59)).await.unwrap().is_empty());
    assert_eq!(store.retries_due(at(60)).await.unwrap(), [first.id]);

    let (second, rows) = sending(&store, "INC-2", &["b1"], 1).await;
    store
        .record(&[retry(&rows[0], at(30))], &[], at(2))
        .await
        .unwrap();
    assert_eq!(store.retries_due(at(30)).await.unwrap(), [second.id]);
    assert_eq!(
        sorted(store.retries_due(at(60)).await.unwrap()),
        sorted(vec![first.id, second.id])
    );
}

pub(super) async fn a_blast_still_planning_or_sending_has_no_retries_due(db: impl Db) {
    let store = db.open().await;
    // Planning has not finished.
    let planning = tell(&store, "INC-1", "f1", at(0)).await.update;
    plan(&store, &planning, &[("hooks", "a1")], 1).await;
    let a = store.claim(planning.id, "hooks", 10, at(1)).await.unwrap();
    store.record(&[], &ids(&a), at(1)).await.unwrap();
    store
        .record(&[retry(&a[0], at(10))], &[], at(2))
        .await
        .unwrap();
    // A row was never claimed.
    let (unclaimed, b) = sending(&store, "INC-2", &["b1", "b2"], 1).await;
    store
        .record(&[retry(&b[0], at(10))], &[], at(2))
        .await
        .unwrap();
    // A row is being attempted.
    let (attempting, c) = sending(&store, "INC-3", &["c1", "c2"], 2).await;
    store
        .record(&[retry(&c[0], at(10))], &[], at(2))
        .await
        .unwrap();
    // A row is held by a claim, not begun yet.
    let (held, d) = sending(&store, "INC-4", &["d1", "d2"], 1).await;
    store
        .record(&[retry(&d[0], at(10))], &[], at(2))
        .await
        .unwrap();
    let d2 = store.claim(held.id, "hooks", 10, at(3)).await.unwrap();
    assert_eq!(keys(&d2), ["d2"]);
    assert!(store.retries_due(at(100)).await.unwrap().is_empty());

    // Each runs to its end: then its retries are due.
    store.finish_plan(planning.id).await.unwrap();
    let b2 = store.claim(unclaimed.id, "hooks", 10, at(3)).await.unwrap();
    assert_eq!(keys(&b2), ["b2"]);
    store.record(&[], &ids(&b2), at(3)).await.unwrap();
    store.record(&[sent(&b2[0])], &[], at(4)).await.unwrap();
    store.record(&[sent(&c[1])], &[], at(4)).await.unwrap();
    store.record(&[], &ids(&d2), at(3)).await.unwrap();
    store.record(&[sent(&d2[0])], &[], at(4)).await.unwrap();
    assert_eq!(
        sorted(store.retries_due(at(100)).await.unwrap()),
        sorted(vec![planning.id, unclaimed.id, attempting.id, held.id])
    );
}

pub(super) async fn the_next_due_row_of_a_channel_is_its_earliest_unsent_one(db: impl Db) {
    let store = db.open().await;
    let update = planned(&store, 7).await;
    // Not sent yet: cus_6 let go until 5 s, cus_3 to retry at 30 s, cus_1 at 60 s.
    record_every_outcome(&store, &update).await;
    assert_eq!(
        store.next_due(update.id, "hooks").await.unwrap(),
        Some(at(5))
    );
    assert_eq!(store.next_due(update.id, "email").await.unwrap(), None);

    for (now, key, next) in [
        (at(10), "key_6", Some(at(30))),
        (at(30), "key_3", Some(at(60))),
        (at(60), "key_1", None),
    ] {
        let rows = store.claim(update.id, "hooks", 10, now).await.unwrap();
        assert_eq!(keys(&rows), [key]);
        store.record(&[], &ids(&rows), now).await.unwrap();
        store.record(&[sent(&rows[0])], &[], now).await.unwrap();
        assert_eq!(store.next_due(update.id, "hooks").await.unwrap(), next);
    }
}

pub(super) async fn failures_list_up_to_the_limit_of_each_kind_in_journal_order(db: impl Db) {
    let store = db.open().await;
    let update = planned(&store, 7).await;
    record_every_outcome(&store, &update).await;
    let why = store.failures(update.id, 1).await.unwrap();
    let failed = Failure {
        channel: "hooks".into(),
        recipient_id: "cus_2".into(),
        key: "key_2".into(),
        state: "failed".into(),
        attempts: 1,
        error: "404 from the endpoint".into(),
        next_attempt_at: None,
    };
    let retrying = Failure {
        recipient_id: "cus_1".into(),
        key: "key_1".into(),
        state: "retry".into(),
        error: "503 from the endpoint".into(),
        next_attempt_at: Some(at(60)),
        ..failed.clone()
    };
    assert_eq!(why, [failed, retrying]);
    let other = tell(&store, "INC-2", "f1", at(0)).await.update;
    assert!(store.failures(other.id, 50).await.unwrap().is_empty());
}

pub(super) async fn requeued_rows_are_due_again_with_their_attempts_counted_afresh(db: impl Db) {
    let store = db.open().await;
    let update = planned(&store, 7).await;
    record_every_outcome(&store, &update).await;
    // cus_2 failed, cus_4 was skipped in doubt: both are due again.
    assert_eq!(store.requeue_failed(update.id, at(100)).await.unwrap(), 2);
    let c = store.counts(update.id).await.unwrap()["hooks"].clone();
    assert_eq!(
        (c.failed, c.skipped, c.pending, c.retry, c.sent, c.in_doubt),
        (0, 0, 3, 2, 2, 2),
        "{c:?}"
    );
    let still: Vec<String> = store
        .failures(update.id, 50)
        .await
        .unwrap()
        .into_iter()
        .map(|f| f.key)
        .collect();
    assert_eq!(still, ["key_1", "key_3"], "only those waiting to retry");

    let rows = store.claim(update.id, "hooks", 10, at(100)).await.unwrap();
    let row = |key: &str| rows.iter().find(|d| d.key == key).unwrap();
    let (failed, skipped, retrying) = (row("key_2"), row("key_4"), row("key_1"));
    // The retry policy starts again (attempts, and the age of the first attempt)...
    assert_eq!((failed.attempts, failed.first_attempt_at), (1, at(100)));
    assert_eq!((skipped.attempts, skipped.first_attempt_at), (1, at(100)));
    // ...and a row that may have arrived is still sent again with the same id.
    assert!(skipped.in_doubt && !failed.in_doubt);
    assert_eq!((retrying.attempts, retrying.first_attempt_at), (2, at(2)));
    assert_eq!(store.requeue_failed(update.id, at(101)).await.unwrap(), 0);
}

pub(super) async fn a_crash_leftover_is_skipped_in_doubt_when_the_channel_does_not_resend(
    db: impl Db,
) {
    let store = db.open().await;
    let update = planned(&store, 2).await;
    let rows = store.claim(update.id, "hooks", 10, at(1)).await.unwrap();
    store.record(&[], &ids(&rows), at(1)).await.unwrap();
    drop(store);

    let store = db.open().await;
    assert!(
        store
            .recover(update.id, "email", false, past_lease(5))
            .await
            .unwrap()
            .is_empty()
    );
    let mut skipped = store
        .recover(update.id, "hooks", false, past_lease(5))
        .await
        .unwrap();
    skipped.sort();
    assert_eq!(skipped, ["key_0", "key_1"]);
    let c = store.counts(update.id).await.unwrap()["hooks"].clone();
    assert_eq!((c.skipped, c.in_doubt, c.attempting), (2, 2, 0));
    let why = store.failures(update.id, 50).await.unwrap();
    assert!(
        why.iter()
            .all(|f| f.state == "skipped" && !f.error.is_empty()),
        "{why:?}"
    );
    assert!(
        store
            .claim(update.id, "hooks", 10, past_lease(6))
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        store
            .recover(update.id, "hooks", false, past_lease(7))
            .await
            .unwrap()
            .is_empty()
    );
}

pub(super) async fn an_update_left_to_the_workers_is_queued_while_it_has_rows_to_send(db: impl Db) {
    let store = db.open().await;
    let update = planned(&store, 2).await;
    store.finish_plan(update.id).await.unwrap();
    assert!(
        store.queued_due(at(1)).await.unwrap().is_empty(),
        "not left to them"
    );
    store.enqueue(update.id).await.unwrap();
    assert_eq!(store.queued_due(at(1)).await.unwrap(), [update.id]);

    // One row sent, one to retry at at(60): nothing to send until then.
    let rows = store.claim(update.id, "hooks", 2, at(1)).await.unwrap();
    assert!(
        store
            .record(&[], &ids(&rows), at(1))
            .await
            .unwrap()
            .is_empty()
    );
    let outcomes = [
        (rows[0].id, Outcome::Sent { provider_id: None }),
        (
            rows[1].id,
            Outcome::Retry {
                at: at(60),
                error: "503".into(),
            },
        ),
    ];
    store.record(&outcomes, &[], at(2)).await.unwrap();
    assert!(store.queued_due(at(59)).await.unwrap().is_empty());
    assert_eq!(store.queued_due(at(60)).await.unwrap(), [update.id]);

    // Another update, not left to the workers, is never theirs.
    let other = tell(&store, "INC-2", "f1", at(0)).await.update;
    plan(&store, &other, &[("hooks", "o1")], 1).await;
    assert_eq!(store.queued_due(at(60)).await.unwrap(), [update.id]);
}

pub(super) async fn totals_count_the_rows_of_every_update_by_channel_and_state(db: impl Db) {
    let store = db.open().await;
    assert!(store.totals().await.unwrap().is_empty());
    let update = planned(&store, 7).await;
    record_every_outcome(&store, &update).await;
    let other = tell(&store, "INC-2", "f1", at(0)).await.update;
    plan(
        &store,
        &other,
        &[("email", "e1"), ("email", "e2"), ("hooks", "h1")],
        3,
    )
    .await;
    // One email row held by a claim, the hooks row being attempted.
    store.claim(other.id, "email", 1, at(1)).await.unwrap();
    let h1 = store.claim(other.id, "hooks", 1, at(1)).await.unwrap();
    store.record(&[], &ids(&h1), at(1)).await.unwrap();

    let totals = store.totals().await.unwrap();
    let expected = [
        ("email", "pending", 2),
        ("hooks", "attempting", 1),
        ("hooks", "failed", 1),
        ("hooks", "pending", 1),
        ("hooks", "retry", 2),
        ("hooks", "sent", 2),
        ("hooks", "skipped", 1),
    ]
    .map(|(c, s, n)| ((c.to_string(), s.to_string()), n));
    assert_eq!(totals, BTreeMap::from(expected));
}
