//! Claims shared by every process: a claim is committed (`claimed`, `holder` = this process,
//! `lease_until`), taken with `FOR UPDATE SKIP LOCKED` so that processes claiming at once get
//! different rows without waiting for each other.

use sqlx::Row;

use super::PostgresStore;
use crate::store::{Delivery, LEASE_MS, Result, millis, timestamp};

/// Many processes send one update, each claiming its own rows.
pub(super) const MANY_SENDERS: bool = true;

pub(super) async fn claim(
    store: &PostgresStore,
    update: i64,
    channel: &str,
    limit: u32,
    now: jiff::Timestamp,
) -> Result<Vec<Delivery>> {
    let now = millis(now);
    let rows = sqlx::query(
        "WITH picked AS (
           SELECT id FROM deliveries
           WHERE update_id = $2 AND channel = $3 AND state IN ('pending', 'retry')
             AND next_attempt_at <= $1
           ORDER BY next_attempt_at, id LIMIT $4
           FOR UPDATE SKIP LOCKED)
         UPDATE deliveries d SET state = 'claimed', holder = $5, lease_until = $6, updated_at = $1
         FROM picked WHERE d.id = picked.id
         RETURNING d.id, d.channel, d.recipient_id, d.key, d.target, d.attempts + 1 AS attempts,
           COALESCE(d.first_attempt_at, $1) AS first_attempt_at, d.in_doubt",
    )
    .bind(now)
    .bind(update)
    .bind(channel)
    .bind(i64::from(limit))
    .bind(&store.holder)
    .bind(now + LEASE_MS)
    .fetch_all(&store.pool)
    .await?;
    let mut claimed = rows
        .iter()
        .map(|r| {
            Ok(Delivery {
                id: r.try_get("id")?,
                channel: r.try_get("channel")?,
                recipient_id: r.try_get("recipient_id")?,
                key: r.try_get("key")?,
                target: r.try_get("target")?,
                attempts: r.try_get::<i64, _>("attempts")? as u32,
                first_attempt_at: timestamp(r.try_get("first_attempt_at")?),
                in_doubt: r.try_get("in_doubt")?,
            })
        })
        .collect::<Result<Vec<_>>>()?;
    claimed.sort_by_key(|d| d.id);
    Ok(claimed)
}

/// Queued updates with rows due, or held by a process whose lease ran out.
pub(super) async fn queued_due(store: &PostgresStore, now: jiff::Timestamp) -> Result<Vec<i64>> {
    Ok(sqlx::query_scalar(
        "SELECT u.id FROM updates u WHERE u.queued AND (
           EXISTS (SELECT 1 FROM deliveries d WHERE d.update_id = u.id
                   AND d.state IN ('pending', 'retry') AND d.next_attempt_at <= $1)
           OR EXISTS (SELECT 1 FROM deliveries d WHERE d.update_id = u.id
                   AND d.state IN ('claimed', 'attempting')
                   AND (d.lease_until IS NULL OR d.lease_until <= $1)))
         ORDER BY u.id",
    )
    .bind(millis(now))
    .fetch_all(&store.pool)
    .await?)
}

/// Take `channel` if nobody has it or its owner's lease ran out; keep it if this process has
/// it. One statement, so two processes taking it at once cannot both get it.
pub(super) async fn own_channel(
    store: &PostgresStore,
    channel: &str,
    now: jiff::Timestamp,
) -> Result<bool> {
    let now = millis(now);
    let owner: Option<String> = sqlx::query_scalar(
        "INSERT INTO channel_owners (channel, holder, lease_until) VALUES ($1, $2, $3)
         ON CONFLICT (channel) DO UPDATE SET holder = excluded.holder, lease_until = excluded.lease_until
           WHERE channel_owners.holder = excluded.holder OR channel_owners.lease_until <= $4
         RETURNING holder",
    )
    .bind(channel)
    .bind(&store.holder)
    .bind(now + LEASE_MS)
    .bind(now)
    .fetch_optional(&store.pool)
    .await?;
    Ok(owner.is_some())
}

pub(super) async fn release_channel(store: &PostgresStore, channel: &str) -> Result<()> {
    sqlx::query("DELETE FROM channel_owners WHERE channel = $1 AND holder = $2")
        .bind(channel)
        .bind(&store.holder)
        .execute(&store.pool)
        .await?;
    Ok(())
}
