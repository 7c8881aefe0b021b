//! The delivery journal: planning rows, recording attempts and outcomes, recovering after a
//! crash, and counting.

use std::collections::{BTreeMap, HashSet};

use sqlx::{Row, Sqlite, Transaction};

use super::SqliteStore;
use crate::store::{
    BadRow, Counts, Failure, NewDelivery, Outcome, PlanBatch, Result, StoreError, millis, timestamp,
};

/// Journal rows written per statement by `record` (6 parameters each; SQLite allows 32,766).
/// A worker's group has at most 512, so it is one statement.
pub(super) const RECORD_ROWS: usize = 1_024;

/// A journal write of `record`: (id, what, next_attempt_at, last_error, provider_id, in_doubt).
type RecordRow<'a> = (
    i64,
    &'a str,
    Option<i64>,
    Option<&'a str>,
    Option<&'a str>,
    bool,
);

/// The statement writing `rows` (at most [`RECORD_ROWS`]), padded with empty rows to a power
/// of two so that a few prepared statements serve every group size.
fn record_rows<'q>(
    rows: &[RecordRow<'q>],
    now: i64,
) -> sqlx::query::Query<'q, Sqlite, sqlx::sqlite::SqliteArguments> {
    let padded = rows.len().next_power_of_two().max(16);
    let values = vec!["(?, ?, ?, ?, ?, ?)"; padded].join(", ");
    let sql = format!(
        "WITH o (id, what, at, error, provider_id, in_doubt) AS MATERIALIZED (VALUES {values})
         UPDATE deliveries SET
           state = CASE o.what
             WHEN 'begin' THEN 'attempting'
             WHEN 'released' THEN CASE WHEN attempts > 0 THEN 'retry' ELSE 'pending' END
             ELSE o.what END,
           attempts = attempts + (o.what = 'begin'),
           first_attempt_at = CASE WHEN o.what = 'begin'
             THEN COALESCE(first_attempt_at, ?) ELSE first_attempt_at END,
           next_attempt_at = COALESCE(o.at, next_attempt_at),
           last_error = COALESCE(o.error, last_error),
           provider_id = CASE WHEN o.what = 'sent' THEN o.provider_id ELSE deliveries.provider_id END,
           sent_at = CASE WHEN o.what = 'sent' THEN ? ELSE sent_at END,
           in_doubt = deliveries.in_doubt OR o.in_doubt,
           updated_at = ?
         FROM o
         WHERE deliveries.id = o.id
           AND (o.what <> 'begin' OR deliveries.state IN ('pending', 'retry'))"
    );
    let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
    for row in rows {
        query = query
            .bind(row.0)
            .bind(row.1)
            .bind(row.2)
            .bind(row.3)
            .bind(row.4)
            .bind(row.5);
    }
    for _ in rows.len()..padded {
        query = query
            .bind(None::<i64>)
            .bind("")
            .bind(None::<i64>)
            .bind(None::<&str>)
            .bind(None::<&str>)
            .bind(false);
    }
    query.bind(now).bind(now).bind(now)
}

/// Journal rows inserted per statement while planning (7 parameters each; SQLite allows 32,766).
const INSERT_ROWS: usize = 500;

/// Insert `deliveries` (in `tx`); rows whose key exists (already, or earlier in the same batch)
/// are left alone, and their indexes returned.
async fn insert_deliveries(
    tx: &mut Transaction<'_, Sqlite>,
    update: i64,
    deliveries: &[NewDelivery],
    now: i64,
) -> Result<Vec<usize>> {
    if deliveries.is_empty() {
        return Ok(Vec::new());
    }
    // Plain parameters, many rows per statement: SQLite parses no JSON, and the statement of a
    // full chunk is prepared once and cached.
    let mut fresh = HashSet::with_capacity(deliveries.len());
    for chunk in deliveries.chunks(INSERT_ROWS) {
        // Anonymous parameters only: sqlx looks each numbered one up by name, in a list as long
        // as the statement.
        let values = vec!["(?, ?, ?, ?, ?, 'pending', ?, ?)"; chunk.len()].join(", ");
        let sql = format!(
            "INSERT INTO deliveries (update_id, channel, recipient_id, key, target, state, next_attempt_at, updated_at)
             VALUES {values} ON CONFLICT (key) DO NOTHING RETURNING key"
        );
        let mut query = sqlx::query_scalar(sqlx::AssertSqlSafe(sql));
        for d in chunk {
            query = query
                .bind(update)
                .bind(&d.channel)
                .bind(&d.recipient_id)
                .bind(&d.key)
                .bind(&d.target)
                .bind(now)
                .bind(now);
        }
        let keys: Vec<String> = query.fetch_all(&mut **tx).await?;
        fresh.extend(keys);
    }
    Ok(deliveries
        .iter()
        .enumerate()
        .filter(|(_, d)| !fresh.remove(&d.key))
        .map(|(i, _)| i)
        .collect())
}

pub(super) async fn retries_due(store: &SqliteStore, now: jiff::Timestamp) -> Result<Vec<i64>> {
    Ok(sqlx::query_scalar(
        "SELECT DISTINCT d.update_id FROM deliveries d JOIN updates u ON u.id = d.update_id
         WHERE d.state = 'retry' AND d.next_attempt_at <= ? AND u.planned = 1
           AND NOT EXISTS (SELECT 1 FROM deliveries o WHERE o.update_id = d.update_id
                           AND o.state IN ('pending', 'attempting'))
         ORDER BY d.update_id",
    )
    .bind(millis(now))
    .fetch_all(&store.pool)
    .await?)
}

pub(super) async fn plan(
    store: &SqliteStore,
    update: i64,
    batch: &PlanBatch,
    now: jiff::Timestamp,
) -> Result<Vec<usize>> {
    let now = millis(now);
    let mut tx = store.pool.begin().await?;
    let skipped = insert_deliveries(&mut tx, update, &batch.deliveries, now).await?;
    for b in &batch.bad_rows {
        sqlx::query(
            "INSERT INTO bad_rows (update_id, row, recipient_id, field, reason) VALUES (?, ?, ?, ?, ?)
             ON CONFLICT DO NOTHING",
        )
        .bind(update)
        .bind(b.row as i64)
        .bind(&b.recipient_id)
        .bind(&b.field)
        .bind(&b.reason)
        .execute(&mut *tx)
        .await?;
    }
    sqlx::query("UPDATE updates SET planned_rows = ? WHERE id = ?")
        .bind(batch.planned_rows as i64)
        .bind(update)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(skipped)
}

pub(super) async fn finish_plan(store: &SqliteStore, update: i64) -> Result<()> {
    sqlx::query("UPDATE updates SET planned = 1 WHERE id = ?")
        .bind(update)
        .execute(&store.pool)
        .await?;
    Ok(())
}

pub(super) async fn recover(
    store: &SqliteStore,
    update: i64,
    channel: &str,
    resend: bool,
    now: jiff::Timestamp,
) -> Result<Vec<String>> {
    let mut tx = store.pool.begin().await?;
    sqlx::query(
        "UPDATE deliveries SET state = CASE WHEN attempts > 0 THEN 'retry' ELSE 'pending' END,
           updated_at = ? WHERE update_id = ? AND channel = ? AND state = 'claimed'",
    )
    .bind(millis(now))
    .bind(update)
    .bind(channel)
    .execute(&mut *tx)
    .await?;
    let state = if resend { "pending" } else { "skipped" };
    let error = if resend {
        "in doubt after a crash: sent again with the same id"
    } else {
        "in doubt after a crash: skipped (in_doubt = \"skip\"); check with the receiver"
    };
    let rows = sqlx::query(
        "UPDATE deliveries SET state = ?, in_doubt = 1, last_error = ?, next_attempt_at = ?, updated_at = ?
         WHERE update_id = ? AND channel = ? AND state = 'attempting' RETURNING key",
    )
    .bind(state)
    .bind(error)
    .bind(millis(now))
    .bind(millis(now))
    .bind(update)
    .bind(channel)
    .fetch_all(&mut *tx)
    .await?;
    tx.commit().await?;
    rows.iter().map(|r| Ok(r.try_get("key")?)).collect()
}

pub(super) async fn record(
    store: &SqliteStore,
    outcomes: &[(i64, Outcome)],
    begin: &[i64],
    now: jiff::Timestamp,
) -> Result<Vec<i64>> {
    // One statement (so one transaction, and one trip to the connection's thread) for the
    // whole group, `what` being `begin` for a row about to be sent; plain parameters, so
    // SQLite parses no JSON.
    let mut rows: Vec<RecordRow<'_>> = Vec::with_capacity(begin.len() + outcomes.len());
    rows.extend(
        begin
            .iter()
            .map(|id| (*id, "begin", None, None, None, false)),
    );
    for (id, outcome) in outcomes {
        rows.push(match outcome {
            Outcome::Sent { provider_id } => {
                (*id, "sent", None, None, provider_id.as_deref(), false)
            }
            Outcome::Retry { at, error } => {
                (*id, "retry", Some(millis(*at)), Some(error), None, false)
            }
            Outcome::Failed { error } => (*id, "failed", None, Some(error), None, false),
            Outcome::InDoubt { resend, at, error } => {
                let state = if *resend { "retry" } else { "skipped" };
                (*id, state, Some(millis(*at)), Some(error), None, true)
            }
            Outcome::Released { at } => (*id, "released", Some(millis(*at)), None, None, false),
        });
    }
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    let now = millis(now);
    let changed = if rows.len() <= RECORD_ROWS {
        record_rows(&rows, now)
            .execute(&store.pool)
            .await?
            .rows_affected()
    } else {
        let mut tx = store.pool.begin().await?;
        let mut changed = 0;
        for chunk in rows.chunks(RECORD_ROWS) {
            changed += record_rows(chunk, now)
                .execute(&mut *tx)
                .await?
                .rows_affected();
        }
        tx.commit().await?;
        changed
    };
    super::claims::release(store, outcomes.iter().map(|(id, _)| *id));
    // Every outcome changes its row: when fewer rows changed, a row of `begin` was not begun
    // (it was recorded already). Rare, so looked for only then.
    if changed < rows.len() as u64 {
        not_attempting(&store.pool, begin).await
    } else {
        Ok(Vec::new())
    }
}

/// The rows of `ids` that are not `attempting`.
async fn not_attempting(pool: &sqlx::SqlitePool, ids: &[i64]) -> Result<Vec<i64>> {
    let mut found = Vec::new();
    for id in ids {
        let state: Option<String> = sqlx::query_scalar("SELECT state FROM deliveries WHERE id = ?")
            .bind(id)
            .fetch_optional(pool)
            .await?;
        if state.as_deref() != Some("attempting") {
            found.push(*id);
        }
    }
    Ok(found)
}

pub(super) async fn next_due(
    store: &SqliteStore,
    update: i64,
    channel: &str,
) -> Result<Option<jiff::Timestamp>> {
    let at: Option<i64> = sqlx::query_scalar(
        "SELECT MIN(next_attempt_at) FROM deliveries WHERE update_id = ? AND channel = ? AND state IN ('pending', 'retry')",
    )
    .bind(update)
    .bind(channel)
    .fetch_one(&store.pool)
    .await?;
    Ok(at.map(timestamp))
}

pub(super) async fn counts(store: &SqliteStore, update: i64) -> Result<BTreeMap<String, Counts>> {
    let rows = sqlx::query(
        "SELECT channel, state, COUNT(*) AS n, SUM(in_doubt) AS doubt FROM deliveries WHERE update_id = ?
         GROUP BY channel, state",
    )
    .bind(update)
    .fetch_all(&store.pool)
    .await?;
    let mut all: BTreeMap<String, Counts> = BTreeMap::new();
    for r in &rows {
        let c = all.entry(r.try_get("channel")?).or_default();
        let n = r.try_get::<i64, _>("n")? as u64;
        c.in_doubt += r.try_get::<i64, _>("doubt")? as u64;
        match r.try_get::<&str, _>("state")? {
            "pending" | "claimed" => c.pending += n,
            "attempting" => c.attempting += n,
            "sent" => c.sent += n,
            "retry" => c.retry += n,
            "failed" => c.failed += n,
            "skipped" => c.skipped += n,
            other => {
                return Err(StoreError::Corrupt(format!(
                    "unknown delivery state `{other}`"
                )));
            }
        }
    }
    Ok(all)
}

pub(super) async fn failures(store: &SqliteStore, update: i64, limit: u32) -> Result<Vec<Failure>> {
    let rows = sqlx::query(
        "SELECT * FROM (SELECT id, channel, recipient_id, key, state, attempts, next_attempt_at,
             COALESCE(last_error, '') AS error FROM deliveries
           WHERE update_id = ?1 AND state IN ('failed', 'skipped') ORDER BY id LIMIT ?2)
         UNION ALL
         SELECT * FROM (SELECT id, channel, recipient_id, key, state, attempts, next_attempt_at,
             COALESCE(last_error, '') AS error FROM deliveries
           WHERE update_id = ?1 AND state = 'retry' AND last_error IS NOT NULL ORDER BY id LIMIT ?2)",
    )
    .bind(update)
    .bind(i64::from(limit))
    .fetch_all(&store.pool)
    .await?;
    rows.iter()
        .map(|r| {
            let state: String = r.try_get("state")?;
            let next = (state == "retry")
                .then(|| r.try_get("next_attempt_at").map(timestamp))
                .transpose()?;
            Ok(Failure {
                channel: r.try_get("channel")?,
                recipient_id: r.try_get("recipient_id")?,
                key: r.try_get("key")?,
                state,
                attempts: r.try_get::<i64, _>("attempts")? as u32,
                error: r.try_get("error")?,
                next_attempt_at: next,
            })
        })
        .collect()
}

pub(super) async fn bad_rows(
    store: &SqliteStore,
    update: i64,
    limit: u32,
) -> Result<(u64, Vec<BadRow>)> {
    let total: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM bad_rows WHERE update_id = ?")
        .bind(update)
        .fetch_one(&store.pool)
        .await?;
    let rows = sqlx::query("SELECT row, recipient_id, field, reason FROM bad_rows WHERE update_id = ? ORDER BY row LIMIT ?")
        .bind(update)
        .bind(i64::from(limit))
        .fetch_all(&store.pool)
        .await?;
    let list = rows
        .iter()
        .map(|r| {
            Ok(BadRow {
                row: r.try_get::<i64, _>("row")? as u64,
                recipient_id: r.try_get("recipient_id")?,
                field: r.try_get("field")?,
                reason: r.try_get("reason")?,
            })
        })
        .collect::<Result<Vec<_>>>()?;
    Ok((total as u64, list))
}

pub(super) async fn requeue_failed(
    store: &SqliteStore,
    update: i64,
    now: jiff::Timestamp,
) -> Result<u64> {
    let done = sqlx::query(
        "UPDATE deliveries SET state = 'pending', attempts = 0, first_attempt_at = NULL, next_attempt_at = ?1, updated_at = ?1
         WHERE update_id = ?2 AND state IN ('failed', 'skipped')",
    )
    .bind(millis(now))
    .bind(update)
    .execute(&store.pool)
    .await?;
    Ok(done.rows_affected())
}

pub(super) async fn totals(store: &SqliteStore) -> Result<BTreeMap<(String, String), u64>> {
    let rows: Vec<(String, String, i64)> =
        sqlx::query_as("SELECT channel, state, COUNT(*) FROM deliveries GROUP BY channel, state")
            .fetch_all(&store.pool)
            .await?;
    Ok(rows
        .into_iter()
        .map(|(c, s, n)| ((c, s), n as u64))
        .collect())
}
