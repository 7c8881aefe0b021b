//! The delivery journal: planning rows, recording attempts and outcomes, recovering after a
//! crash, and counting.

use std::collections::{BTreeMap, HashSet};

use sqlx::Row;

use super::rows::no_nul;
use super::{PostgresStore, Tx};
use crate::store::{
    BadRow, Counts, Failure, NewDelivery, Outcome, PlanBatch, Result, StoreError, millis, timestamp,
};

/// A journal write of `record`: (id, what, next_attempt_at, last_error, provider_id, in_doubt).
type RecordRow<'a> = (
    i64,
    &'a str,
    Option<i64>,
    Option<&'a str>,
    Option<&'a str>,
    bool,
);

/// Write `rows` of rows `holder` holds, one statement for any number of them (each column is
/// one array parameter): the rows begun.
async fn record_rows(
    pool: &sqlx::PgPool,
    rows: &[RecordRow<'_>],
    holder: &str,
    now: i64,
) -> Result<Vec<i64>> {
    let mut ids = Vec::with_capacity(rows.len());
    let mut whats = Vec::with_capacity(rows.len());
    let mut ats = Vec::with_capacity(rows.len());
    let mut errors = Vec::with_capacity(rows.len());
    let mut providers = Vec::with_capacity(rows.len());
    let mut doubts = Vec::with_capacity(rows.len());
    for row in rows {
        ids.push(row.0);
        whats.push(row.1);
        ats.push(row.2);
        errors.push(row.3.map(|e| no_nul(e).into_owned()));
        providers.push(row.4.map(|p| no_nul(p).into_owned()));
        doubts.push(row.5);
    }
    // A begun row keeps its holder and lease (renewed by the heartbeat) until its outcome;
    // an outcome lets go of it.
    Ok(sqlx::query_scalar(
        "WITH done AS (
         UPDATE deliveries SET
           state = CASE o.what
             WHEN 'begin' THEN 'attempting'
             WHEN 'released' THEN CASE WHEN deliveries.attempts > 0 THEN 'retry' ELSE 'pending' END
             ELSE o.what END,
           attempts = deliveries.attempts + CASE WHEN o.what = 'begin' THEN 1 ELSE 0 END,
           first_attempt_at = CASE WHEN o.what = 'begin'
             THEN COALESCE(deliveries.first_attempt_at, $7) ELSE deliveries.first_attempt_at END,
           next_attempt_at = COALESCE(o.at, deliveries.next_attempt_at),
           last_error = COALESCE(o.error, deliveries.last_error),
           provider_id = CASE WHEN o.what = 'sent' THEN o.provider_id ELSE deliveries.provider_id END,
           sent_at = CASE WHEN o.what = 'sent' THEN $7 ELSE deliveries.sent_at END,
           in_doubt = deliveries.in_doubt OR o.in_doubt,
           holder = CASE WHEN o.what = 'begin' THEN deliveries.holder END,
           lease_until = CASE WHEN o.what = 'begin' THEN deliveries.lease_until END,
           updated_at = $7
         FROM UNNEST($1::BIGINT[], $2::TEXT[], $3::BIGINT[], $4::TEXT[], $5::TEXT[], $6::BOOLEAN[])
           AS o (id, what, at, error, provider_id, in_doubt)
         WHERE deliveries.id = o.id AND deliveries.holder = $8
           AND deliveries.state IN ('claimed', 'attempting')
           AND (o.what <> 'begin' OR deliveries.state = 'claimed')
         RETURNING deliveries.id, o.what)
         SELECT id FROM done WHERE what = 'begin'",
    )
    .bind(ids)
    .bind(whats)
    .bind(ats)
    .bind(errors)
    .bind(providers)
    .bind(doubts)
    .bind(now)
    .bind(holder)
    .fetch_all(pool)
    .await?)
}

/// Insert `deliveries` (in `tx`); rows whose key exists (already, or earlier in the same batch)
/// are left alone, and their indexes returned.
async fn insert_deliveries(
    tx: &mut Tx,
    update: i64,
    deliveries: &[NewDelivery],
    now: i64,
) -> Result<Vec<usize>> {
    if deliveries.is_empty() {
        return Ok(Vec::new());
    }
    // One statement, each column an array parameter, inserted in the batch's order (so ids,
    // and the journal's order, follow it).
    let channels: Vec<&str> = deliveries.iter().map(|d| d.channel.as_str()).collect();
    let recipients: Vec<&str> = deliveries.iter().map(|d| d.recipient_id.as_str()).collect();
    let keys: Vec<&str> = deliveries.iter().map(|d| d.key.as_str()).collect();
    let targets: Vec<&str> = deliveries.iter().map(|d| d.target.as_str()).collect();
    let inserted = sqlx::query(
        "INSERT INTO deliveries (update_id, channel, recipient_id, key, target, state, next_attempt_at, updated_at)
         SELECT $1, channel, recipient_id, key, target, 'pending', $6, $6
         FROM UNNEST($2::TEXT[], $3::TEXT[], $4::TEXT[], $5::TEXT[])
           WITH ORDINALITY AS d (channel, recipient_id, key, target, n)
         ORDER BY n
         ON CONFLICT (key) DO NOTHING",
    )
    .bind(update)
    .bind(channels)
    .bind(recipients)
    .bind(&keys)
    .bind(targets)
    .bind(now)
    .execute(&mut **tx)
    .await?
    .rows_affected();
    if inserted == deliveries.len() as u64 {
        return Ok(Vec::new());
    }
    // Some keys existed (rare: an id repeated in the audience): those this transaction did
    // not write.
    let existed: HashSet<String> = sqlx::query_scalar(
        "SELECT key FROM deliveries WHERE key = ANY($1) AND xmin <> pg_current_xact_id()::xid",
    )
    .bind(&keys)
    .fetch_all(&mut **tx)
    .await?
    .into_iter()
    .collect();
    // A key repeated within the batch: its first row was written, the others not.
    let mut seen = HashSet::new();
    Ok(deliveries
        .iter()
        .enumerate()
        .filter(|(_, d)| existed.contains(&d.key) || !seen.insert(d.key.as_str()))
        .map(|(i, _)| i)
        .collect())
}

pub(super) async fn retries_due(store: &PostgresStore, now: jiff::Timestamp) -> Result<Vec<i64>> {
    Ok(sqlx::query_scalar(
        "SELECT DISTINCT d.update_id FROM deliveries d JOIN updates u ON u.id = d.update_id
         WHERE d.state = 'retry' AND d.next_attempt_at <= $1 AND u.planned
           AND NOT EXISTS (SELECT 1 FROM deliveries o WHERE o.update_id = d.update_id
                           AND o.state IN ('pending', 'claimed', 'attempting'))
         ORDER BY d.update_id",
    )
    .bind(millis(now))
    .fetch_all(&store.pool)
    .await?)
}

pub(super) async fn plan(
    store: &PostgresStore,
    update: i64,
    batch: &PlanBatch,
    now: jiff::Timestamp,
) -> Result<Vec<usize>> {
    let now = millis(now);
    let mut tx = store.pool.begin().await?;
    let skipped = insert_deliveries(&mut tx, update, &batch.deliveries, now).await?;
    for b in &batch.bad_rows {
        sqlx::query(
            "INSERT INTO bad_rows (update_id, \"row\", recipient_id, field, reason) VALUES ($1, $2, $3, $4, $5)
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
    sqlx::query("UPDATE updates SET planned_rows = $1 WHERE id = $2")
        .bind(batch.planned_rows as i64)
        .bind(update)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(skipped)
}

pub(super) async fn finish_plan(store: &PostgresStore, update: i64) -> Result<()> {
    sqlx::query("UPDATE updates SET planned = TRUE WHERE id = $1")
        .bind(update)
        .execute(&store.pool)
        .await?;
    Ok(())
}

/// Rows whose holder's lease ran out before `now` (or that have none: left by a journal of
/// version 1): claimed ones are due again, attempting ones in doubt. A row another transaction
/// is writing (its late holder recording it, another process recovering it) is skipped, not
/// waited for: waiting on many rows locked in another order can deadlock.
pub(super) async fn recover(
    store: &PostgresStore,
    update: i64,
    channel: &str,
    resend: bool,
    now: jiff::Timestamp,
) -> Result<Vec<String>> {
    let mut tx = store.pool.begin().await?;
    sqlx::query(
        "UPDATE deliveries SET state = CASE WHEN attempts > 0 THEN 'retry' ELSE 'pending' END,
           holder = NULL, lease_until = NULL, updated_at = $1
         WHERE id IN (SELECT id FROM deliveries
           WHERE update_id = $2 AND channel = $3 AND state = 'claimed'
             AND (lease_until IS NULL OR lease_until <= $1)
           FOR UPDATE SKIP LOCKED)",
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
        "UPDATE deliveries SET state = $1, in_doubt = TRUE, last_error = $2, next_attempt_at = $3,
           holder = NULL, lease_until = NULL, updated_at = $3
         WHERE id IN (SELECT id FROM deliveries
           WHERE update_id = $4 AND channel = $5 AND state = 'attempting'
             AND (lease_until IS NULL OR lease_until <= $3)
           FOR UPDATE SKIP LOCKED)
         RETURNING key",
    )
    .bind(state)
    .bind(error)
    .bind(millis(now))
    .bind(update)
    .bind(channel)
    .fetch_all(&mut *tx)
    .await?;
    tx.commit().await?;
    rows.iter().map(|r| Ok(r.try_get("key")?)).collect()
}

pub(super) async fn record(
    store: &PostgresStore,
    outcomes: &[(i64, Outcome)],
    begin: &[i64],
    now: jiff::Timestamp,
) -> Result<Vec<i64>> {
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
    // One statement (so one transaction) for the whole group, `what` being `begin` for a row
    // about to be sent.
    let begun: HashSet<i64> = record_rows(&store.pool, &rows, &store.holder, millis(now))
        .await?
        .into_iter()
        .collect();
    Ok(begin
        .iter()
        .copied()
        .filter(|id| !begun.contains(id))
        .collect())
}

pub(super) async fn next_due(
    store: &PostgresStore,
    update: i64,
    channel: &str,
) -> Result<Option<jiff::Timestamp>> {
    // A row another process holds is this one's to send if that process dies: when its
    // lease runs out.
    let at: Option<i64> = sqlx::query_scalar(
        "SELECT LEAST(
           (SELECT MIN(next_attempt_at) FROM deliveries
             WHERE update_id = $1 AND channel = $2 AND state IN ('pending', 'retry')),
           (SELECT MIN(lease_until) FROM deliveries
             WHERE update_id = $1 AND channel = $2 AND state IN ('claimed', 'attempting')))",
    )
    .bind(update)
    .bind(channel)
    .fetch_one(&store.pool)
    .await?;
    Ok(at.map(timestamp))
}

pub(super) async fn counts(store: &PostgresStore, update: i64) -> Result<BTreeMap<String, Counts>> {
    let rows = sqlx::query(
        "SELECT channel, state, COUNT(*) AS n, COUNT(*) FILTER (WHERE in_doubt) AS doubt FROM deliveries WHERE update_id = $1
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

pub(super) async fn failures(
    store: &PostgresStore,
    update: i64,
    limit: u32,
) -> Result<Vec<Failure>> {
    let rows = sqlx::query(
        "SELECT * FROM (
           (SELECT 0 AS part, id, channel, recipient_id, key, state, attempts, next_attempt_at,
               COALESCE(last_error, '') AS error FROM deliveries
             WHERE update_id = $1 AND state IN ('failed', 'skipped') ORDER BY id LIMIT $2)
           UNION ALL
           (SELECT 1 AS part, id, channel, recipient_id, key, state, attempts, next_attempt_at,
               COALESCE(last_error, '') AS error FROM deliveries
             WHERE update_id = $1 AND state = 'retry' AND last_error IS NOT NULL ORDER BY id LIMIT $2)
         ) f ORDER BY part, id",
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
    store: &PostgresStore,
    update: i64,
    limit: u32,
) -> Result<(u64, Vec<BadRow>)> {
    let total: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM bad_rows WHERE update_id = $1")
        .bind(update)
        .fetch_one(&store.pool)
        .await?;
    let rows = sqlx::query("SELECT \"row\", recipient_id, field, reason FROM bad_rows WHERE update_id = $1 ORDER BY \"row\" LIMIT $2")
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
    store: &PostgresStore,
    update: i64,
    now: jiff::Timestamp,
) -> Result<u64> {
    let done = sqlx::query(
        "UPDATE deliveries SET state = 'pending', attempts = 0, first_attempt_at = NULL, next_attempt_at = $1, updated_at = $1
         WHERE update_id = $2 AND state IN ('failed', 'skipped')",
    )
    .bind(millis(now))
    .bind(update)
    .execute(&store.pool)
    .await?;
    Ok(done.rows_affected())
}

pub(super) async fn totals(store: &PostgresStore) -> Result<BTreeMap<(String, String), u64>> {
    let rows: Vec<(String, String, i64)> = sqlx::query_as(
        "SELECT channel, CASE state WHEN 'claimed' THEN 'pending' ELSE state END AS s, COUNT(*)
             FROM deliveries GROUP BY channel, s",
    )
    .fetch_all(&store.pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(c, s, n)| ((c, s), n as u64))
        .collect())
}
