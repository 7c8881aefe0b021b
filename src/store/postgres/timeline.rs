//! The timeline: incidents, their updates, and telling a new update with its effects (the
//! follow-up it schedules, the follow-ups it cancels).

use super::rows::{incident_from, json, schedule_from, select_updates, update_from};
use super::{PostgresStore, Tx};
use crate::store::{
    IncidentRow, NewSchedule, Result, Schedule, StoreError, Telling, Told, Update, millis,
};
use crate::template::{Incident, PastUpdate};

pub(super) async fn update_in(tx: &mut Tx, id: i64) -> Result<Update> {
    let row = sqlx::query(select_updates!("WHERE id = $1"))
        .bind(id)
        .fetch_one(&mut **tx)
        .await?;
    update_from(&row)
}

/// [`Store::tell`](crate::store::Store::tell) inside `tx`.
pub(super) async fn tell_in(tx: &mut Tx, t: Telling<'_>, now: i64) -> Result<Told> {
    let i = t.incident;
    let new = t.update;
    // Only the latest update can be continued: the same words sent again after another update
    // (resolved, reopened, resolved again) are a new update.
    let latest = sqlx::query_as::<_, (i64, String)>(
        "SELECT id, fingerprint FROM updates WHERE incident_id = $1 ORDER BY seq DESC LIMIT 1",
    )
    .bind(&i.id)
    .fetch_optional(&mut **tx)
    .await?;
    if let Some((id, _)) = latest.filter(|(_, f)| *f == new.fingerprint) {
        return Ok(Told {
            update: update_in(tx, id).await?,
            continued: true,
            scheduled: None,
            cancelled: Vec::new(),
        });
    }
    sqlx::query(
        "INSERT INTO incidents (id, title, status, impact, components, started_at, resolved_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
         ON CONFLICT (id) DO UPDATE SET title = excluded.title, status = excluded.status,
           impact = excluded.impact, components = excluded.components,
           resolved_at = excluded.resolved_at, updated_at = excluded.updated_at",
    )
    .bind(&i.id)
    .bind(&i.title)
    .bind(i.status.as_str())
    .bind(i.impact.as_str())
    .bind(json(&i.components))
    .bind(millis(i.started_at))
    .bind(i.resolved_at.map(millis))
    .bind(now)
    .execute(&mut **tx)
    .await?;
    let seq: i64 =
        sqlx::query_scalar("SELECT COALESCE(MAX(seq), 0) + 1 FROM updates WHERE incident_id = $1")
            .bind(&i.id)
            .fetch_one(&mut **tx)
            .await?;
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO updates (incident_id, seq, kind, status, slots, fingerprint, content_sha256, approved_by,
           sent_by, channels, audience, headline, summary, created_at, next_update_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15) RETURNING id",
    )
    .bind(&i.id)
    .bind(seq)
    .bind(&new.kind)
    .bind(new.status.as_str())
    .bind(json(&new.slots))
    .bind(&new.fingerprint)
    .bind(&new.content_sha256)
    .bind(&new.approved_by)
    .bind(&new.sent_by)
    .bind(json(&new.channels))
    .bind(&new.audience)
    .bind(&new.headline)
    .bind(&new.summary)
    .bind(now)
    .bind(new.next_update_at.map(millis))
    .fetch_one(&mut **tx)
    .await?;
    let mut cancelled = Vec::new();
    if let Some(kind) = t.cancel_follow_ups {
        let ids: Vec<i64> = sqlx::query_scalar(
            "UPDATE schedules SET state = 'cancelled', updated_at = $1
             WHERE incident_id = $2 AND kind = $3 AND state = 'pending' RETURNING id",
        )
        .bind(now)
        .bind(&i.id)
        .bind(kind)
        .fetch_all(&mut **tx)
        .await?;
        for id in ids {
            cancelled.extend(schedule_in(tx, id).await?);
        }
    }
    let mut scheduled = None;
    if let Some(f) = t.follow_up {
        let pending: Option<i64> = sqlx::query_scalar(
            "SELECT id FROM schedules WHERE incident_id = $1 AND kind = $2 AND origin = $3 AND state = 'pending'",
        )
        .bind(&f.incident_id)
        .bind(&f.kind)
        .bind(json(&f.origin).trim_matches('"'))
        .fetch_optional(&mut **tx)
        .await?;
        if pending.is_none() {
            scheduled = Some(insert_schedule(tx, f, now).await?);
        }
    }
    Ok(Told {
        update: update_in(tx, id).await?,
        continued: false,
        scheduled,
        cancelled,
    })
}

pub(super) async fn schedule_in(tx: &mut Tx, id: i64) -> Result<Option<Schedule>> {
    let row = sqlx::query("SELECT * FROM schedules WHERE id = $1")
        .bind(id)
        .fetch_optional(&mut **tx)
        .await?;
    row.as_ref().map(schedule_from).transpose()
}

pub(super) async fn insert_schedule(tx: &mut Tx, new: &NewSchedule, now: i64) -> Result<Schedule> {
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO schedules (incident_id, kind, slots, channels, audience, due_at, typed, state,
           origin, created_by, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, 'pending', $8, $9, $10, $11) RETURNING id",
    )
    .bind(&new.incident_id)
    .bind(&new.kind)
    .bind(json(&new.slots))
    .bind(new.channels.as_ref().map(json))
    .bind(&new.audience)
    .bind(millis(new.due_at))
    .bind(&new.typed)
    .bind(json(&new.origin).trim_matches('"'))
    .bind(&new.created_by)
    .bind(now)
    .bind(now)
    .fetch_one(&mut **tx)
    .await?;
    schedule_in(tx, id)
        .await?
        .ok_or_else(|| StoreError::Corrupt(format!("schedule {id} vanished")))
}

pub(super) async fn tell(
    store: &PostgresStore,
    t: Telling<'_>,
    now: jiff::Timestamp,
) -> Result<Told> {
    let mut tx = super::begin_immediate(&store.pool).await?;
    let told = tell_in(&mut tx, t, millis(now)).await?;
    tx.commit().await?;
    Ok(told)
}

pub(super) async fn incident(store: &PostgresStore, id: &str) -> Result<Option<IncidentRow>> {
    let row = sqlx::query("SELECT * FROM incidents WHERE id = $1")
        .bind(id)
        .fetch_optional(&store.pool)
        .await?;
    row.as_ref().map(incident_from).transpose()
}

pub(super) async fn incidents(store: &PostgresStore) -> Result<Vec<IncidentRow>> {
    let rows = sqlx::query("SELECT * FROM incidents ORDER BY started_at DESC, id")
        .fetch_all(&store.pool)
        .await?;
    rows.iter().map(incident_from).collect()
}

pub(super) async fn incident_with_timeline(
    store: &PostgresStore,
    id: &str,
) -> Result<Option<Incident>> {
    let Some(i) = incident(store, id).await? else {
        return Ok(None);
    };
    let updates = updates(store, id)
        .await?
        .into_iter()
        .map(|u| PastUpdate {
            kind: u.kind,
            at: u.created_at,
            headline: u.headline,
            summary: u.summary,
        })
        .collect();
    Ok(Some(i.told(updates)))
}

pub(super) async fn latest_update(
    store: &PostgresStore,
    incident: Option<&str>,
) -> Result<Option<Update>> {
    // An incident's latest update is the last on its timeline; across incidents there is
    // only the clock of each telling.
    let row = match incident {
        Some(id) => {
            sqlx::query(select_updates!(
                "WHERE incident_id = $1 ORDER BY seq DESC LIMIT 1"
            ))
            .bind(id)
            .fetch_optional(&store.pool)
            .await?
        }
        None => {
            sqlx::query(select_updates!("ORDER BY created_at DESC, id DESC LIMIT 1"))
                .fetch_optional(&store.pool)
                .await?
        }
    };
    row.as_ref().map(update_from).transpose()
}

pub(super) async fn updates(store: &PostgresStore, incident: &str) -> Result<Vec<Update>> {
    let sql = select_updates!("WHERE incident_id = $1 ORDER BY seq");
    let rows = sqlx::query(sql)
        .bind(incident)
        .fetch_all(&store.pool)
        .await?;
    rows.iter().map(update_from).collect()
}

pub(super) async fn update(store: &PostgresStore, id: i64) -> Result<Option<Update>> {
    let row = sqlx::query(select_updates!("WHERE id = $1"))
        .bind(id)
        .fetch_optional(&store.pool)
        .await?;
    row.as_ref().map(update_from).transpose()
}
