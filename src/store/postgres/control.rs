//! What operators and processes switch: the run sending an update, halts, the maintenance
//! switch, and the audit log.

use sqlx::Row;

use super::PostgresStore;
use super::rows::run_from;
use crate::store::{LEASE_MS, Maintenance, Result, Run, millis, timestamp};

/// Every process may send a planned update (claims are committed with a lease): this one is
/// recorded beside the others. Planning is one process's: while the update is not fully
/// planned, a second live process is refused, as on SQLite.
pub(super) async fn start_run(
    store: &PostgresStore,
    update: i64,
    me: &Run,
    stale_after_ms: i64,
) -> Result<std::result::Result<(), Run>> {
    // Under the write lock: two processes starting an unplanned update at once are
    // serialised, and the second sees the first's run.
    let mut tx = super::begin_immediate(&store.pool).await?;
    let planned: Option<bool> = sqlx::query_scalar("SELECT planned FROM updates WHERE id = $1")
        .bind(update)
        .fetch_optional(&mut *tx)
        .await?;
    if planned == Some(false) {
        let other = sqlx::query(
            "SELECT pid, host, started_at, heartbeat_at FROM runs
             WHERE update_id = $1 AND NOT (pid = $2 AND host = $3) AND heartbeat_at > $4
             ORDER BY heartbeat_at DESC LIMIT 1",
        )
        .bind(update)
        .bind(i64::from(me.pid))
        .bind(&me.host)
        .bind(millis(me.heartbeat_at) - stale_after_ms)
        .fetch_optional(&mut *tx)
        .await?;
        if let Some(r) = other {
            return Ok(Err(run_from(&r)?));
        }
    }
    sqlx::query(
        "INSERT INTO runs (update_id, pid, host, started_at, heartbeat_at) VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (update_id, pid, host) DO UPDATE SET
           started_at = excluded.started_at, heartbeat_at = excluded.heartbeat_at",
    )
    .bind(update)
    .bind(i64::from(me.pid))
    .bind(&me.host)
    .bind(millis(me.started_at))
    .bind(millis(me.heartbeat_at))
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(Ok(()))
}

pub(super) async fn runs(store: &PostgresStore, update: i64) -> Result<Vec<Run>> {
    let rows = sqlx::query(
        "SELECT pid, host, started_at, heartbeat_at FROM runs WHERE update_id = $1
         ORDER BY heartbeat_at DESC, pid, host",
    )
    .bind(update)
    .fetch_all(&store.pool)
    .await?;
    rows.iter().map(run_from).collect()
}

/// The run's heartbeat, and the lease of every row of `update` and every channel this process
/// holds, in one transaction.
pub(super) async fn heartbeat(
    store: &PostgresStore,
    update: i64,
    pid: u32,
    host: &str,
    now: jiff::Timestamp,
) -> Result<()> {
    let mut tx = store.pool.begin().await?;
    sqlx::query(
        "UPDATE runs SET heartbeat_at = $1 WHERE update_id = $2 AND pid = $3 AND host = $4",
    )
    .bind(millis(now))
    .bind(update)
    .bind(i64::from(pid))
    .bind(host)
    .execute(&mut *tx)
    .await?;
    // Rows the journal writer is recording right now are skipped, not waited for: both
    // statements lock many of this process's rows, in no common order, and waiting here
    // deadlocked them (seen on `crier halt`, which releases every claimed row at once). Those
    // rows are let go or begun (keeping their lease) by the writer; the next heartbeat renews.
    sqlx::query(
        "UPDATE deliveries SET lease_until = $1 WHERE id IN (
           SELECT id FROM deliveries WHERE update_id = $2 AND holder = $3
             AND state IN ('claimed', 'attempting')
           FOR UPDATE SKIP LOCKED)",
    )
    .bind(millis(now) + LEASE_MS)
    .bind(update)
    .bind(&store.holder)
    .execute(&mut *tx)
    .await?;
    sqlx::query("UPDATE channel_owners SET lease_until = $1 WHERE holder = $2")
        .bind(millis(now) + LEASE_MS)
        .bind(&store.holder)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(())
}

pub(super) async fn end_run(
    store: &PostgresStore,
    update: i64,
    pid: u32,
    host: &str,
) -> Result<()> {
    sqlx::query("DELETE FROM runs WHERE update_id = $1 AND pid = $2 AND host = $3")
        .bind(update)
        .bind(i64::from(pid))
        .bind(host)
        .execute(&store.pool)
        .await?;
    Ok(())
}

pub(super) async fn enqueue(store: &PostgresStore, update: i64) -> Result<()> {
    sqlx::query("UPDATE updates SET queued = TRUE WHERE id = $1")
        .bind(update)
        .execute(&store.pool)
        .await?;
    Ok(())
}

pub(super) async fn halt(store: &PostgresStore, scope: &str, now: jiff::Timestamp) -> Result<()> {
    sqlx::query("INSERT INTO halts (scope, at) VALUES ($1, $2) ON CONFLICT (scope) DO UPDATE SET at = excluded.at")
        .bind(scope)
        .bind(millis(now))
        .execute(&store.pool)
        .await?;
    Ok(())
}

pub(super) async fn resume(store: &PostgresStore, scope: &str) -> Result<bool> {
    let done = sqlx::query("DELETE FROM halts WHERE scope = $1")
        .bind(scope)
        .execute(&store.pool)
        .await?;
    Ok(done.rows_affected() > 0)
}

pub(super) async fn halted(store: &PostgresStore, incident: &str) -> Result<bool> {
    let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM halts WHERE scope = $1 OR scope = '*'")
        .bind(incident)
        .fetch_one(&store.pool)
        .await?;
    Ok(n > 0)
}

pub(super) async fn set_maintenance(store: &PostgresStore, on: Option<&Maintenance>) -> Result<()> {
    match on {
        Some(m) => sqlx::query(
            "INSERT INTO maintenance (id, incident_id, since, \"by\") VALUES (1, $1, $2, $3)
             ON CONFLICT (id) DO UPDATE SET incident_id = excluded.incident_id,
               since = excluded.since, \"by\" = excluded.\"by\"",
        )
        .bind(&m.incident_id)
        .bind(millis(m.since))
        .bind(&m.by),
        None => sqlx::query("DELETE FROM maintenance"),
    }
    .execute(&store.pool)
    .await?;
    Ok(())
}

pub(super) async fn maintenance(store: &PostgresStore) -> Result<Option<Maintenance>> {
    let row = sqlx::query("SELECT incident_id, since, \"by\" FROM maintenance WHERE id = 1")
        .fetch_optional(&store.pool)
        .await?;
    row.map(|r| {
        Ok(Maintenance {
            incident_id: r.try_get("incident_id")?,
            since: timestamp(r.try_get("since")?),
            by: r.try_get("by")?,
        })
    })
    .transpose()
}

pub(super) async fn audit(
    store: &PostgresStore,
    actor: &str,
    command: &str,
    detail: &str,
    now: jiff::Timestamp,
) -> Result<()> {
    sqlx::query("INSERT INTO audit (at, actor, command, detail) VALUES ($1, $2, $3, $4)")
        .bind(millis(now))
        .bind(actor)
        .bind(command)
        .bind(detail)
        .execute(&store.pool)
        .await?;
    Ok(())
}
