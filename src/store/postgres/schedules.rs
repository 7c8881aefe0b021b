//! Schedules (and the one update each becomes), the holding update, promises due, and
//! nudges.

use super::PostgresStore;
use super::rows::{no_nul, schedule_from, select_updates, update_from};
use super::timeline::{insert_schedule, schedule_in, tell_in, update_in};
use crate::store::{NewSchedule, Result, Schedule, ScheduleState, Telling, Told, Update, millis};

pub(super) async fn add_schedule(
    store: &PostgresStore,
    new: &NewSchedule,
    now: jiff::Timestamp,
) -> Result<Schedule> {
    let mut tx = super::begin_immediate(&store.pool).await?;
    let schedule = insert_schedule(&mut tx, new, millis(now)).await?;
    tx.commit().await?;
    Ok(schedule)
}

pub(super) async fn add_holding(
    store: &PostgresStore,
    new: &NewSchedule,
    now: jiff::Timestamp,
) -> Result<Option<Schedule>> {
    let mut tx = super::begin_immediate(&store.pool).await?;
    let exists: Option<i64> = sqlx::query_scalar(
        "SELECT id FROM schedules WHERE incident_id = $1 AND typed = $2 AND origin = 'holding'",
    )
    .bind(&new.incident_id)
    .bind(&new.typed)
    .fetch_optional(&mut *tx)
    .await?;
    if exists.is_some() {
        return Ok(None);
    }
    let schedule = insert_schedule(&mut tx, new, millis(now)).await?;
    tx.commit().await?;
    Ok(Some(schedule))
}

pub(super) async fn promises_due(
    store: &PostgresStore,
    until: jiff::Timestamp,
) -> Result<Vec<Update>> {
    let rows = sqlx::query(select_updates!(
        "WHERE next_update_at IS NOT NULL AND next_update_at <= $1
           AND seq = (SELECT MAX(seq) FROM updates l WHERE l.incident_id = updates.incident_id)
           AND incident_id IN (SELECT id FROM incidents WHERE status != 'resolved')
         ORDER BY next_update_at, id"
    ))
    .bind(millis(until))
    .fetch_all(&store.pool)
    .await?;
    rows.iter().map(update_from).collect()
}

pub(super) async fn take_nudge(
    store: &PostgresStore,
    about: &str,
    channel: &str,
    incident: &str,
    now: jiff::Timestamp,
    retry_after_ms: i64,
    max_attempts: u32,
) -> Result<bool> {
    let now = millis(now);
    let taken = sqlx::query(
        "INSERT INTO nudges (about, channel, incident_id, state, attempts, created_at, updated_at)
         VALUES ($1, $2, $3, 'sending', 1, $4, $4)
         ON CONFLICT (about, channel) DO UPDATE SET state = 'sending',
           attempts = nudges.attempts + 1, updated_at = $4
         WHERE nudges.state != 'sent' AND nudges.attempts < $6 AND nudges.updated_at <= $4 - $5",
    )
    .bind(about)
    .bind(channel)
    .bind(incident)
    .bind(now)
    .bind(retry_after_ms)
    .bind(i64::from(max_attempts))
    .execute(&store.pool)
    .await?;
    Ok(taken.rows_affected() == 1)
}

pub(super) async fn end_nudge(
    store: &PostgresStore,
    about: &str,
    channel: &str,
    error: Option<&str>,
    now: jiff::Timestamp,
) -> Result<()> {
    sqlx::query(
        "UPDATE nudges SET state = $1, error = $2, updated_at = $3 WHERE about = $4 AND channel = $5",
    )
    .bind(if error.is_some() { "failed" } else { "sent" })
    .bind(error.map(no_nul))
    .bind(millis(now))
    .bind(about)
    .bind(channel)
    .execute(&store.pool)
    .await?;
    Ok(())
}

pub(super) async fn failed_schedules(
    store: &PostgresStore,
    max_attempts: u32,
) -> Result<Vec<Schedule>> {
    let rows = sqlx::query(
        "SELECT * FROM schedules WHERE state = 'failed'
           AND (NOT EXISTS (SELECT 1 FROM nudges
                 WHERE about = 'schedule:' || CAST(schedules.id AS TEXT) || ':failed')
             OR EXISTS (SELECT 1 FROM nudges
                 WHERE about = 'schedule:' || CAST(schedules.id AS TEXT) || ':failed'
                   AND state != 'sent' AND attempts < $1))
         ORDER BY id",
    )
    .bind(i64::from(max_attempts))
    .fetch_all(&store.pool)
    .await?;
    rows.iter().map(schedule_from).collect()
}

pub(super) async fn schedule(store: &PostgresStore, id: i64) -> Result<Option<Schedule>> {
    let row = sqlx::query("SELECT * FROM schedules WHERE id = $1")
        .bind(id)
        .fetch_optional(&store.pool)
        .await?;
    row.as_ref().map(schedule_from).transpose()
}

pub(super) async fn schedules(
    store: &PostgresStore,
    incident: Option<&str>,
) -> Result<Vec<Schedule>> {
    let rows = sqlx::query(
        "SELECT * FROM schedules WHERE $1 IS NULL OR incident_id = $1 ORDER BY due_at, id",
    )
    .bind(incident)
    .fetch_all(&store.pool)
    .await?;
    rows.iter().map(schedule_from).collect()
}

pub(super) async fn due_schedules(
    store: &PostgresStore,
    now: jiff::Timestamp,
) -> Result<Vec<Schedule>> {
    let rows = sqlx::query(
        "SELECT * FROM schedules WHERE state IN ('pending', 'sending') AND due_at <= $1
         ORDER BY due_at, id",
    )
    .bind(millis(now))
    .fetch_all(&store.pool)
    .await?;
    rows.iter().map(schedule_from).collect()
}

pub(super) async fn cancel_schedule(
    store: &PostgresStore,
    id: i64,
    now: jiff::Timestamp,
) -> Result<Option<Schedule>> {
    let mut tx = super::begin_immediate(&store.pool).await?;
    sqlx::query(
        "UPDATE schedules SET state = 'cancelled', updated_at = $1 WHERE id = $2 AND state = 'pending'",
    )
    .bind(millis(now))
    .bind(id)
    .execute(&mut *tx)
    .await?;
    let schedule = schedule_in(&mut tx, id).await?;
    tx.commit().await?;
    Ok(schedule)
}

pub(super) async fn start_schedule(
    store: &PostgresStore,
    id: i64,
    t: Telling<'_>,
    now: jiff::Timestamp,
) -> Result<Option<Told>> {
    // IMMEDIATE: two workers starting the same schedule are serialised, and the second
    // finds the update the first added.
    let mut tx = super::begin_immediate(&store.pool).await?;
    let Some(schedule) = schedule_in(&mut tx, id).await? else {
        return Ok(None);
    };
    if let Some(update) = schedule.update_id {
        let update = update_in(&mut tx, update).await?;
        return Ok(Some(Told {
            update,
            continued: true,
            scheduled: None,
            cancelled: Vec::new(),
        }));
    }
    if schedule.state != ScheduleState::Pending {
        return Ok(None);
    }
    let told = tell_in(&mut tx, t, millis(now)).await?;
    sqlx::query(
        "UPDATE schedules SET update_id = $1, state = 'sending', updated_at = $2 WHERE id = $3",
    )
    .bind(told.update.id)
    .bind(millis(now))
    .bind(id)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(Some(told))
}

pub(super) async fn end_schedule(
    store: &PostgresStore,
    id: i64,
    state: ScheduleState,
    error: Option<&str>,
    now: jiff::Timestamp,
) -> Result<bool> {
    let changed = sqlx::query(
        "UPDATE schedules SET state = $1, error = $2, updated_at = $3
         WHERE id = $4 AND state IN ('pending', 'sending')",
    )
    .bind(state.as_str())
    .bind(error.map(no_nul))
    .bind(millis(now))
    .bind(id)
    .execute(&store.pool)
    .await?;
    Ok(changed.rows_affected() == 1)
}
