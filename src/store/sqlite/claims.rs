//! Claims: the due rows this process hands its workers, read with this backend's SQL and held
//! in memory (`store::claims`) until recorded. One process sends an update (`start_run`
//! refuses a second), so no other process needs to see them.

use std::sync::MutexGuard;

use sqlx::Row;

use super::SqliteStore;
use crate::store::claims::Held;
use crate::store::{Delivery, LEASE_MS, Result, millis, timestamp};

/// One process sends an update.
pub(super) const MANY_SENDERS: bool = false;

/// The start of a query for due rows of a channel, as a claim hands them out (`?1`: now,
/// `?2`: update, `?3`: channel).
macro_rules! due_rows {
    () => {
        "SELECT id, channel, recipient_id, key, target, attempts + 1 AS attempts,
           COALESCE(first_attempt_at, ?1) AS first_attempt_at, in_doubt, next_attempt_at
         FROM deliveries WHERE update_id = ?2 AND channel = ?3 AND state IN ('pending', 'retry') "
    };
}

/// The claims of this process.
fn held(store: &SqliteStore) -> MutexGuard<'_, Held> {
    store.held.lock().expect("the claims are never poisoned")
}

/// Rows recorded: no longer held by their lane.
pub(super) fn release(store: &SqliteStore, ids: impl Iterator<Item = i64>) {
    held(store).release(ids);
}

pub(super) async fn claim(
    store: &SqliteStore,
    update: i64,
    channel: &str,
    limit: u32,
    now: jiff::Timestamp,
) -> Result<Vec<Delivery>> {
    let now = millis(now);
    let after = held(store).after(update, channel);
    // Due rows in due order, starting after the last one handed out: first those due at
    // that same millisecond, then the later ones (two index seeks; a single row-value
    // comparison would step over every row still held).
    let (after_at, after_id) = after.unwrap_or((i64::MIN, i64::MIN));
    let due = async |sql, wanted: usize| {
        sqlx::query(sql)
            .bind(now)
            .bind(update)
            .bind(channel)
            .bind(wanted as i64)
            .bind(after_at)
            .bind(after_id)
            .fetch_all(&store.pool)
            .await
    };
    let limit = limit as usize;
    let mut rows = Vec::with_capacity(limit);
    if after.is_some() {
        let same_time = concat!(
            due_rows!(),
            "AND next_attempt_at = ?5 AND id > ?6 ORDER BY id LIMIT ?4"
        );
        rows = due(same_time, limit).await?;
    }
    if rows.len() < limit {
        let later = concat!(
            due_rows!(),
            "AND next_attempt_at > ?5 AND next_attempt_at <= ?1 ORDER BY next_attempt_at, id LIMIT ?4"
        );
        rows.extend(due(later, limit - rows.len()).await?);
    }
    let mut found = Vec::with_capacity(rows.len());
    for r in &rows {
        let delivery = Delivery {
            id: r.try_get("id")?,
            channel: r.try_get("channel")?,
            recipient_id: r.try_get("recipient_id")?,
            key: r.try_get("key")?,
            target: r.try_get("target")?,
            attempts: r.try_get::<i64, _>("attempts")? as u32,
            first_attempt_at: timestamp(r.try_get("first_attempt_at")?),
            in_doubt: r.try_get::<i64, _>("in_doubt")? != 0,
        };
        found.push((r.try_get("next_attempt_at")?, delivery));
    }
    Ok(held(store).hold(update, channel, found))
}

/// Queued updates with rows due, or whose sender died: its run was never ended and its
/// heartbeat is older than a lease (its `attempting` rows are in doubt).
pub(super) async fn queued_due(store: &SqliteStore, now: jiff::Timestamp) -> Result<Vec<i64>> {
    Ok(sqlx::query_scalar(
        "SELECT u.id FROM updates u WHERE u.queued AND (
           EXISTS (SELECT 1 FROM deliveries d WHERE d.update_id = u.id
                   AND d.state IN ('pending', 'retry') AND d.next_attempt_at <= ?1)
           OR EXISTS (SELECT 1 FROM runs r WHERE r.update_id = u.id AND r.heartbeat_at < ?2))
         ORDER BY u.id",
    )
    .bind(millis(now))
    .bind(millis(now) - LEASE_MS)
    .fetch_all(&store.pool)
    .await?)
}

/// The only process sending an update owns its channels.
pub(super) async fn own_channel(
    _store: &SqliteStore,
    _channel: &str,
    _now: jiff::Timestamp,
) -> Result<bool> {
    Ok(true)
}

pub(super) async fn release_channel(_store: &SqliteStore, _channel: &str) -> Result<()> {
    Ok(())
}
