//! The PostgreSQL store's own details: opening, migrating, and what an error may show. Its
//! behaviour as a [`Store`] is tested in `store::behaviour`.

use super::*;
use crate::store::Store;
use crate::store::behaviour::PostgresDb;

#[tokio::test]
async fn a_journal_newer_than_this_crier_is_refused() {
    let Some(db) = PostgresDb::new().await else {
        return;
    };
    let store = PostgresStore::open(db.url()).await.unwrap();
    sqlx::query("UPDATE crier_schema SET version = version + 1")
        .execute(&store.pool)
        .await
        .unwrap();
    let known = MIGRATIONS.len();
    let error = PostgresStore::open(db.url()).await.unwrap_err();
    assert_eq!(
        error.to_string(),
        format!(
            "the journal holds something crier cannot read: the journal is at version {}, newer than this crier ({known}); upgrade crier",
            known + 1
        )
    );
}

#[tokio::test]
async fn opening_again_finds_the_journal_migrated() {
    let Some(db) = PostgresDb::new().await else {
        return;
    };
    let first = PostgresStore::open(db.url()).await.unwrap();
    let second = PostgresStore::open(db.url()).await.unwrap();
    let version: i64 = sqlx::query_scalar("SELECT version FROM crier_schema")
        .fetch_one(&second.pool)
        .await
        .unwrap();
    assert_eq!(version, MIGRATIONS.len() as i64);
    drop(first);
}

#[tokio::test]
async fn a_connection_error_never_shows_the_password() {
    // Nothing listens on port 1.
    refused_without_the_password("postgres://crier:s3cret%2Dpw@127.0.0.1:1/crier").await;
    // The user does not exist on the tests' server.
    let Some(db) = PostgresDb::new().await else {
        return;
    };
    let mut unknown = url::Url::parse(db.url()).unwrap();
    unknown.set_username("nobody_here").unwrap();
    unknown.set_password(Some("s3cret-pw")).unwrap();
    refused_without_the_password(unknown.as_str()).await;
}

/// Opening `url` (whose password holds `s3cret`) fails, and the error never shows it.
async fn refused_without_the_password(url: &str) {
    let error = PostgresStore::open(url).await.unwrap_err();
    let (shown, debug) = (error.to_string(), format!("{error:?}"));
    assert!(!shown.contains("s3cret"), "{shown}");
    assert!(!debug.contains("s3cret"), "{debug}");
    assert!(
        shown.starts_with("the journal database failed: "),
        "{shown}"
    );
}

#[tokio::test]
async fn a_nul_in_a_providers_answer_is_kept_as_a_replacement_character() {
    use crate::store::behaviour::{at, ids, planned};
    let Some(db) = PostgresDb::new().await else {
        return;
    };
    let store = PostgresStore::open(db.url()).await.unwrap();
    let update = planned(&store, 1).await;
    let rows = store.claim(update.id, "hooks", 1, at(1)).await.unwrap();
    store.record(&[], &ids(&rows), at(2)).await.unwrap();
    let failed = Outcome::Failed {
        error: "400: bad\0byte".into(),
    };
    store
        .record(&[(rows[0].id, failed)], &[], at(3))
        .await
        .unwrap();
    let failures = store.failures(update.id, 10).await.unwrap();
    assert_eq!(failures[0].error, "400: bad\u{fffd}byte");
}

#[test]
fn the_password_is_cut_out_of_an_error_as_written_and_decoded() {
    let url = "postgres://crier:s3cret%2Dpw@db.internal/crier";
    for text in ["auth failed for s3cret%2Dpw", "auth failed for s3cret-pw"] {
        let shown = scrub(StoreError::Corrupt(text.into()), url).to_string();
        assert_eq!(
            shown,
            "the journal holds something crier cannot read: auth failed for ********"
        );
    }
    let plain = scrub(StoreError::Corrupt("no secret here".into()), url);
    assert!(matches!(plain, StoreError::Corrupt(_)), "left as it was");
}

#[tokio::test]
async fn a_group_of_thousands_is_recorded_in_one_statement() {
    use crate::store::behaviour::{at, ids, planned};
    let n = 3_000;
    let Some(db) = PostgresDb::new().await else {
        return;
    };
    let store = PostgresStore::open(db.url()).await.unwrap();
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

#[tokio::test]
async fn commits_do_not_wait_for_the_disk_unless_the_url_says_so() {
    let Some(db) = PostgresDb::new().await else {
        return;
    };
    let setting = async |url: &str| -> String {
        let store = PostgresStore::open(url).await.unwrap();
        sqlx::query_scalar("SHOW synchronous_commit")
            .fetch_one(&store.pool)
            .await
            .unwrap()
    };
    assert_eq!(setting(db.url()).await, "off");
    let waiting = format!("{}?options=-c%20synchronous_commit%3Don", db.url());
    assert_eq!(setting(&waiting).await, "on");
}
