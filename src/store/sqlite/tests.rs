//! The SQLite store's own tests.

use super::journal::RECORD_ROWS;
use super::*;
use crate::store::NewDelivery;
use crate::store::millis;

fn at(secs: i64) -> jiff::Timestamp {
    jiff::Timestamp::from_second(1_795_000_000 + secs).unwrap()
}

/// A store with one update planned for `n` recipients on channel `hooks`.
async fn planned(dir: &std::path::Path, n: usize) -> (SqliteStore, Update) {
    let url = format!("sqlite:{}", dir.join("crier.db").display());
    let store = SqliteStore::open(&url).await.unwrap();
    let update = tell_one_update(&store, "hooks", at(0)).await;
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
    (store, update)
}

#[tokio::test]
async fn every_outcome_lands_in_the_journal_as_written() {
    let dir = tempfile::tempdir().unwrap();
    let (store, update) = planned(dir.path(), 7).await;
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
    /// state, attempts, provider_id, sent_at, next_attempt_at
    type Journal = (String, i64, Option<String>, Option<i64>, Option<i64>);
    let state: Vec<Journal> = sqlx::query_as(
        "SELECT state, attempts, provider_id, sent_at, next_attempt_at FROM deliveries ORDER BY id",
    )
    .fetch_all(&store.pool)
    .await
    .unwrap();
    assert_eq!(
        state[0],
        (
            "sent".into(),
            1,
            Some("msg_key_0".into()),
            Some(millis(at(3))),
            Some(millis(at(0)))
        )
    );
    assert_eq!(state[1].0, "retry");
    assert_eq!(state[1].4, Some(millis(at(60))));
    assert_eq!(
        state[6],
        ("pending".into(), 0, None, None, Some(millis(at(5)))),
        "released: no attempt"
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

#[tokio::test]
async fn a_late_begin_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let (store, update) = planned(dir.path(), 1).await;
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

fn ids(rows: &[Delivery]) -> Vec<i64> {
    rows.iter().map(|d| d.id).collect()
}

#[tokio::test]
async fn claims_hand_out_each_due_row_once_while_it_is_held() {
    let dir = tempfile::tempdir().unwrap();
    let (store, update) = planned(dir.path(), 5).await;
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

#[tokio::test]
async fn a_row_due_again_at_the_same_millisecond_is_claimed_once_the_lane_drains() {
    let dir = tempfile::tempdir().unwrap();
    let (store, update) = planned(dir.path(), 3).await;
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

#[tokio::test]
async fn rows_claimed_before_a_crash_are_due_for_the_next_run() {
    let dir = tempfile::tempdir().unwrap();
    let (store, update) = planned(dir.path(), 3).await;
    let rows = store.claim(update.id, "hooks", 3, at(1)).await.unwrap();
    store.record(&[], &[rows[0].id], at(1)).await.unwrap();
    drop(store);

    let url = format!("sqlite:{}", dir.path().join("crier.db").display());
    let store = SqliteStore::open(&url).await.unwrap();
    let in_doubt = store
        .recover(update.id, "hooks", true, at(2))
        .await
        .unwrap();
    assert_eq!(in_doubt, ["key_0"], "only the row begun may have been sent");
    let again = store.claim(update.id, "hooks", 10, at(3)).await.unwrap();
    assert_eq!(ids(&again), [1, 2, 3]);
    assert!(again[0].in_doubt && !again[1].in_doubt);
}

#[tokio::test]
async fn a_group_larger_than_one_statement_is_recorded_whole() {
    let dir = tempfile::tempdir().unwrap();
    let n = RECORD_ROWS + 100;
    let (store, update) = planned(dir.path(), n).await;
    let rows = store
        .claim(update.id, "hooks", n as u32, at(1))
        .await
        .unwrap();
    store.record(&[], &ids(&rows), at(2)).await.unwrap();
    let sent: Vec<(i64, Outcome)> = rows
        .iter()
        .map(|d| (d.id, Outcome::Sent { provider_id: None }))
        .collect();
    store.record(&sent, &[], at(3)).await.unwrap();
    let c = &store.counts(update.id).await.unwrap()["hooks"];
    assert_eq!((c.sent, c.attempting, c.pending), (n as u64, 0, 0));
}
