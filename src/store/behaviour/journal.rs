//! The delivery journal: planning rows, claiming and recording them, recovering after a
//! crash, and what `crier status` counts.

use super::*;

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
    // A late begin for a row already recorded changes nothing.
    store.record(&[], &[rows[0].id], at(3)).await.unwrap();
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
    // out in due order. Not found while the other two are held...
    store
        .record(&[(rows[0].id, Outcome::Released { at: at(0) })], &[], at(1))
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

    let store = db.open().await;
    let in_doubt = store
        .recover(update.id, "hooks", true, at(2))
        .await
        .unwrap();
    assert_eq!(in_doubt, ["key_0"], "only the row begun may have been sent");
    let again = store.claim(update.id, "hooks", 10, at(3)).await.unwrap();
    assert_eq!(keys(&again), ["key_0", "key_1", "key_2"]);
    assert_eq!(ids(&again), ids(&rows), "the same rows");
    assert!(again[0].in_doubt && !again[1].in_doubt);
}
