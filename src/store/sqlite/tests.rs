//! The SQLite store's own details: what the columns hold, and groups larger than one
//! statement. Its behaviour as a [`Store`] is tested in `store::behaviour`.

use super::journal::RECORD_ROWS;
use super::*;
use crate::store::Store;
use crate::store::behaviour::{at, ids, planned, record_every_outcome};
use crate::store::millis;

/// The store of a SQLite file in `dir`.
async fn open_in(dir: &std::path::Path) -> SqliteStore {
    let url = format!("sqlite:{}", dir.join("crier.db").display());
    SqliteStore::open(&url).await.unwrap()
}

#[tokio::test]
async fn every_outcome_is_written_to_its_columns() {
    let dir = tempfile::tempdir().unwrap();
    let store = open_in(dir.path()).await;
    let update = planned(&store, 7).await;
    record_every_outcome(&store, &update).await;

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
}

#[tokio::test]
async fn a_group_larger_than_one_statement_is_recorded_whole() {
    let dir = tempfile::tempdir().unwrap();
    let n = RECORD_ROWS + 100;
    let store = open_in(dir.path()).await;
    let update = planned(&store, n).await;
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
