//! What operators and processes switch: the run sending an update, halts, the maintenance
//! switch, and the audit log.

use sqlx::Row;

use super::SqliteStore;
use super::rows::run_from;
use crate::store::{Maintenance, Result, Run, millis, timestamp};

pub(super) async fn start_run(
    store: &SqliteStore,
    update: i64,
    me: &Run,
    stale_after_ms: i64,
) -> Result<std::result::Result<(), Run>> {
    // IMMEDIATE: the write lock is taken before the read, so two processes starting the
    // same update at once are serialised and the second sees the first's row (a deferred
    // transaction would fail the second with "database is locked" instead).
    let mut tx = store.pool.begin_with("BEGIN IMMEDIATE").await?;
    let existing =
        sqlx::query("SELECT pid, host, started_at, heartbeat_at FROM runs WHERE update_id = ?")
            .bind(update)
            .fetch_optional(&mut *tx)
            .await?;
    if let Some(r) = existing {
        let other = run_from(&r)?;
        let alive = millis(me.heartbeat_at) - millis(other.heartbeat_at) < stale_after_ms;
        // A process is its pid on its host: in containers, every worker may be process 1.
        let me_again = other.pid == me.pid && other.host == me.host;
        if alive && !me_again {
            return Ok(Err(other));
        }
    }
    sqlx::query(
        "INSERT INTO runs (update_id, pid, host, started_at, heartbeat_at) VALUES (?, ?, ?, ?, ?)
         ON CONFLICT (update_id) DO UPDATE SET pid = excluded.pid, host = excluded.host,
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

pub(super) async fn runs(store: &SqliteStore, update: i64) -> Result<Vec<Run>> {
    let rows =
        sqlx::query("SELECT pid, host, started_at, heartbeat_at FROM runs WHERE update_id = ?")
            .bind(update)
            .fetch_all(&store.pool)
            .await?;
    rows.iter().map(run_from).collect()
}

pub(super) async fn heartbeat(
    store: &SqliteStore,
    update: i64,
    pid: u32,
    host: &str,
    now: jiff::Timestamp,
) -> Result<()> {
    sqlx::query("UPDATE runs SET heartbeat_at = ? WHERE update_id = ? AND pid = ? AND host = ?")
        .bind(millis(now))
        .bind(update)
        .bind(i64::from(pid))
        .bind(host)
        .execute(&store.pool)
        .await?;
    Ok(())
}

pub(super) async fn end_run(store: &SqliteStore, update: i64, pid: u32, host: &str) -> Result<()> {
    sqlx::query("DELETE FROM runs WHERE update_id = ? AND pid = ? AND host = ?")
        .bind(update)
        .bind(i64::from(pid))
        .bind(host)
        .execute(&store.pool)
        .await?;
    Ok(())
}

pub(super) async fn enqueue(store: &SqliteStore, update: i64) -> Result<()> {
    sqlx::query("UPDATE updates SET queued = 1 WHERE id = ?")
        .bind(update)
        .execute(&store.pool)
        .await?;
    Ok(())
}

pub(super) async fn halt(store: &SqliteStore, scope: &str, now: jiff::Timestamp) -> Result<()> {
    sqlx::query("INSERT INTO halts (scope, at) VALUES (?, ?) ON CONFLICT (scope) DO UPDATE SET at = excluded.at")
        .bind(scope)
        .bind(millis(now))
        .execute(&store.pool)
        .await?;
    Ok(())
}

pub(super) async fn resume(store: &SqliteStore, scope: &str) -> Result<bool> {
    let done = sqlx::query("DELETE FROM halts WHERE scope = ?")
        .bind(scope)
        .execute(&store.pool)
        .await?;
    Ok(done.rows_affected() > 0)
}

pub(super) async fn halted(store: &SqliteStore, incident: &str) -> Result<bool> {
    let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM halts WHERE scope = ? OR scope = '*'")
        .bind(incident)
        .fetch_one(&store.pool)
        .await?;
    Ok(n > 0)
}

pub(super) async fn set_maintenance(store: &SqliteStore, on: Option<&Maintenance>) -> Result<()> {
    match on {
        Some(m) => sqlx::query(
            "INSERT INTO maintenance (id, incident_id, since, by) VALUES (1, ?, ?, ?)
             ON CONFLICT (id) DO UPDATE SET incident_id = excluded.incident_id,
               since = excluded.since, by = excluded.by",
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

pub(super) async fn maintenance(store: &SqliteStore) -> Result<Option<Maintenance>> {
    let row = sqlx::query("SELECT incident_id, since, by FROM maintenance WHERE id = 1")
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
    store: &SqliteStore,
    actor: &str,
    command: &str,
    detail: &str,
    now: jiff::Timestamp,
) -> Result<()> {
    sqlx::query("INSERT INTO audit (at, actor, command, detail) VALUES (?, ?, ?, ?)")
        .bind(millis(now))
        .bind(actor)
        .bind(command)
        .bind(detail)
        .execute(&store.pool)
        .await?;
    Ok(())
}
