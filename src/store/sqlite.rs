//! The embedded store: one SQLite file in WAL mode. Durable against a killed process (every
//! state change is a committed transaction); after a power loss the last commits may be
//! lost, which can only cause a resend with the same Message-ID, never a lost message.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::str::FromStr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteRow,
    SqliteSynchronous,
};
use sqlx::{Row, Sqlite, Transaction};

use super::{
    BadRow, Counts, Delivery, Failure, IncidentRow, Maintenance, NewSchedule, Outcome, PlanBatch,
    Result, Run, Schedule, ScheduleState, Store, StoreError, Telling, Told, Update, millis,
    timestamp,
};
use crate::template::{Incident, PastUpdate};

/// Versioned migrations: `PRAGMA user_version` says how many ran.
const MIGRATIONS: &[&str] = &[
    include_str!("schema_sqlite.sql"),
    include_str!("schema_sqlite_2.sql"),
    include_str!("schema_sqlite_3.sql"),
    include_str!("schema_sqlite_4.sql"),
    include_str!("schema_sqlite_5.sql"),
];

/// The start of a query for due rows of a channel, as a claim hands them out (`?1`: now,
/// `?2`: update, `?3`: channel).
macro_rules! due_rows {
    () => {
        "SELECT id, channel, recipient_id, key, target, attempts + 1 AS attempts,
           COALESCE(first_attempt_at, ?1) AS first_attempt_at, in_doubt, next_attempt_at
         FROM deliveries WHERE update_id = ?2 AND channel = ?3 AND state IN ('pending', 'retry') "
    };
}

/// `SELECT <every update column> FROM updates <rest>`, as a `&'static str`.
macro_rules! select_updates {
    ($rest:literal) => {
        concat!(
            "SELECT id, incident_id, seq, kind, status, slots, fingerprint, content_sha256, approved_by, ",
            "sent_by, channels, audience, headline, summary, created_at, planned, planned_rows, ",
            "next_update_at FROM updates ",
            $rest
        )
    };
}

/// The SQLite journal.
#[derive(Debug, Clone)]
pub struct SqliteStore {
    pool: SqlitePool,
    held: Arc<Mutex<Held>>,
}

/// Rows this process claimed and has not recorded yet, per (update, channel).
///
/// A claim lives here, not in the journal: only one process sends an update (`start_run`
/// refuses a second), so no other worker needs to see it, and a crash loses nothing (the rows
/// were never sent and are still due). That saves one of a send's three journal writes.
#[derive(Debug, Default)]
struct Held {
    lanes: HashMap<(i64, String), Lane>,
}

#[derive(Debug, Default)]
struct Lane {
    ids: HashSet<i64>,
    /// The last row claimed, as (next_attempt_at, id): the next claim starts after it, past
    /// the rows still held. Forgotten when nothing is held, so that a row made due again at an
    /// earlier point of that order (it can only tie in the same millisecond) is found then.
    after: Option<(i64, i64)>,
}

impl SqliteStore {
    /// Open (creating if needed) the database at `url` (`sqlite:crier.db`) and migrate it.
    pub async fn open(url: &str) -> Result<SqliteStore> {
        let options = SqliteConnectOptions::from_str(url)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(Duration::from_secs(10))
            // 16 MiB of page cache (the default is 2 MiB): a blast's working set stays in it.
            .pragma("cache_size", "-16384")
            // Checkpoint every 32 MiB of WAL instead of 4 MiB: each checkpoint syncs the disk
            // twice while the journal waits, and a send waits for the journal.
            .pragma("wal_autocheckpoint", "8192")
            .foreign_keys(true);
        let pool = SqlitePoolOptions::new()
            .max_connections(1)
            .connect_with(options)
            .await?;
        let store = SqliteStore {
            pool,
            held: Arc::default(),
        };
        store.migrate().await?;
        Ok(store)
    }

    fn held(&self) -> std::sync::MutexGuard<'_, Held> {
        self.held.lock().expect("the claims are never poisoned")
    }

    /// Rows recorded: no longer held by their lane.
    fn release(&self, ids: impl Iterator<Item = i64>) {
        let mut held = self.held();
        for id in ids {
            for lane in held.lanes.values_mut() {
                if lane.ids.remove(&id) && lane.ids.is_empty() {
                    lane.after = None;
                }
            }
        }
    }

    async fn migrate(&self) -> Result<()> {
        // IMMEDIATE: two processes opening a new journal at once (two workers) are serialised;
        // the second finds it migrated.
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        let version: i64 = sqlx::query_scalar("PRAGMA user_version")
            .fetch_one(&mut *tx)
            .await?;
        let known = MIGRATIONS.len() as i64;
        if version > known {
            return Err(StoreError::Corrupt(format!(
                "the journal is at version {version}, newer than this crier ({known}); upgrade crier"
            )));
        }
        for (i, sql) in MIGRATIONS.iter().enumerate().skip(version as usize) {
            sqlx::raw_sql(sqlx::AssertSqlSafe(*sql))
                .execute(&mut *tx)
                .await?;
            let set = format!("PRAGMA user_version = {}", i + 1);
            sqlx::raw_sql(sqlx::AssertSqlSafe(set))
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }
}

fn json<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_string(value).expect("plain data always serializes")
}

fn from_json<T: serde::de::DeserializeOwned>(text: &str, what: &str) -> Result<T> {
    serde_json::from_str(text).map_err(|e| StoreError::Corrupt(format!("{what}: {e}")))
}

fn parse<T: serde::de::DeserializeOwned>(word: &str, what: &str) -> Result<T> {
    from_json(&format!("\"{word}\""), what)
}

fn update_from(row: &SqliteRow) -> Result<Update> {
    Ok(Update {
        id: row.try_get("id")?,
        incident_id: row.try_get("incident_id")?,
        seq: row.try_get::<i64, _>("seq")? as u32,
        kind: row.try_get("kind")?,
        status: row.try_get("status")?,
        slots: from_json(row.try_get("slots")?, "update slots")?,
        fingerprint: row.try_get("fingerprint")?,
        content_sha256: row.try_get("content_sha256")?,
        approved_by: row.try_get("approved_by")?,
        sent_by: row.try_get("sent_by")?,
        channels: from_json(row.try_get("channels")?, "update channels")?,
        audience: row.try_get("audience")?,
        headline: row.try_get("headline")?,
        summary: row.try_get("summary")?,
        created_at: timestamp(row.try_get("created_at")?),
        planned: row.try_get::<i64, _>("planned")? != 0,
        planned_rows: row.try_get::<i64, _>("planned_rows")? as u64,
        next_update_at: row
            .try_get::<Option<i64>, _>("next_update_at")?
            .map(timestamp),
    })
}

fn schedule_from(row: &SqliteRow) -> Result<Schedule> {
    let channels: Option<&str> = row.try_get("channels")?;
    Ok(Schedule {
        id: row.try_get("id")?,
        incident_id: row.try_get("incident_id")?,
        kind: row.try_get("kind")?,
        slots: from_json(row.try_get("slots")?, "schedule slots")?,
        channels: channels
            .map(|c| from_json(c, "schedule channels"))
            .transpose()?,
        audience: row.try_get("audience")?,
        due_at: timestamp(row.try_get("due_at")?),
        typed: row.try_get("typed")?,
        state: parse(row.try_get("state")?, "schedule state")?,
        origin: parse(row.try_get("origin")?, "schedule origin")?,
        created_by: row.try_get("created_by")?,
        created_at: timestamp(row.try_get("created_at")?),
        update_id: row.try_get("update_id")?,
        error: row.try_get("error")?,
    })
}

type Tx = Transaction<'static, Sqlite>;

async fn schedule_in(tx: &mut Tx, id: i64) -> Result<Option<Schedule>> {
    let row = sqlx::query("SELECT * FROM schedules WHERE id = ?")
        .bind(id)
        .fetch_optional(&mut **tx)
        .await?;
    row.as_ref().map(schedule_from).transpose()
}

async fn update_in(tx: &mut Tx, id: i64) -> Result<Update> {
    let row = sqlx::query(select_updates!("WHERE id = ?"))
        .bind(id)
        .fetch_one(&mut **tx)
        .await?;
    update_from(&row)
}

async fn insert_schedule(tx: &mut Tx, new: &NewSchedule, now: i64) -> Result<Schedule> {
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO schedules (incident_id, kind, slots, channels, audience, due_at, typed, state,
           origin, created_by, created_at, updated_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, 'pending', ?, ?, ?, ?) RETURNING id",
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

/// [`Store::tell`] inside `tx`.
async fn tell_in(tx: &mut Tx, t: Telling<'_>, now: i64) -> Result<Told> {
    let i = t.incident;
    let new = t.update;
    // Only the latest update can be continued: the same words sent again after another update
    // (resolved, reopened, resolved again) are a new update.
    let latest = sqlx::query_as::<_, (i64, String)>(
        "SELECT id, fingerprint FROM updates WHERE incident_id = ? ORDER BY seq DESC LIMIT 1",
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
         VALUES (?, ?, ?, ?, ?, ?, ?, ?)
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
        sqlx::query_scalar("SELECT COALESCE(MAX(seq), 0) + 1 FROM updates WHERE incident_id = ?")
            .bind(&i.id)
            .fetch_one(&mut **tx)
            .await?;
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO updates (incident_id, seq, kind, status, slots, fingerprint, content_sha256, approved_by,
           sent_by, channels, audience, headline, summary, created_at, next_update_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
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
            "UPDATE schedules SET state = 'cancelled', updated_at = ?
             WHERE incident_id = ? AND kind = ? AND state = 'pending' RETURNING id",
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
            "SELECT id FROM schedules WHERE incident_id = ? AND kind = ? AND origin = ? AND state = 'pending'",
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

fn incident_from(row: &SqliteRow) -> Result<IncidentRow> {
    Ok(IncidentRow {
        id: row.try_get("id")?,
        title: row.try_get("title")?,
        status: parse(row.try_get("status")?, "incident status")?,
        impact: parse(row.try_get("impact")?, "incident impact")?,
        components: from_json(row.try_get("components")?, "incident components")?,
        started_at: timestamp(row.try_get("started_at")?),
        resolved_at: row.try_get::<Option<i64>, _>("resolved_at")?.map(timestamp),
    })
}

fn run_from(row: &SqliteRow) -> Result<Run> {
    Ok(Run {
        pid: row.try_get::<i64, _>("pid")? as u32,
        host: row.try_get("host")?,
        started_at: timestamp(row.try_get("started_at")?),
        heartbeat_at: timestamp(row.try_get("heartbeat_at")?),
    })
}

/// Journal rows written per statement by `record` (6 parameters each; SQLite allows 32,766).
/// A worker's group has at most 512, so it is one statement.
const RECORD_ROWS: usize = 1_024;

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
    deliveries: &[super::NewDelivery],
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

impl Store for SqliteStore {
    async fn tell(&self, t: Telling<'_>, now: jiff::Timestamp) -> Result<Told> {
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        let told = tell_in(&mut tx, t, millis(now)).await?;
        tx.commit().await?;
        Ok(told)
    }

    async fn incident(&self, id: &str) -> Result<Option<IncidentRow>> {
        let row = sqlx::query("SELECT * FROM incidents WHERE id = ?")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(incident_from).transpose()
    }

    async fn incidents(&self) -> Result<Vec<IncidentRow>> {
        let rows = sqlx::query("SELECT * FROM incidents ORDER BY started_at DESC, id")
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(incident_from).collect()
    }

    async fn incident_with_timeline(&self, id: &str) -> Result<Option<Incident>> {
        let Some(i) = self.incident(id).await? else {
            return Ok(None);
        };
        let updates = self
            .updates(id)
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

    async fn latest_update(&self, incident: Option<&str>) -> Result<Option<Update>> {
        let sql = select_updates!(
            "WHERE ?1 IS NULL OR incident_id = ?1 ORDER BY created_at DESC, id DESC LIMIT 1"
        );
        let row = sqlx::query(sql)
            .bind(incident)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(update_from).transpose()
    }

    async fn updates(&self, incident: &str) -> Result<Vec<Update>> {
        let sql = select_updates!("WHERE incident_id = ? ORDER BY seq");
        let rows = sqlx::query(sql)
            .bind(incident)
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(update_from).collect()
    }

    async fn update(&self, id: i64) -> Result<Option<Update>> {
        let row = sqlx::query(select_updates!("WHERE id = ?"))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(update_from).transpose()
    }

    async fn retries_due(&self, now: jiff::Timestamp) -> Result<Vec<i64>> {
        Ok(sqlx::query_scalar(
            "SELECT DISTINCT d.update_id FROM deliveries d JOIN updates u ON u.id = d.update_id
             WHERE d.state = 'retry' AND d.next_attempt_at <= ? AND u.planned = 1
               AND NOT EXISTS (SELECT 1 FROM deliveries o WHERE o.update_id = d.update_id
                               AND o.state IN ('pending', 'attempting'))
             ORDER BY d.update_id",
        )
        .bind(millis(now))
        .fetch_all(&self.pool)
        .await?)
    }

    async fn plan(
        &self,
        update: i64,
        batch: &PlanBatch,
        now: jiff::Timestamp,
    ) -> Result<Vec<usize>> {
        let now = millis(now);
        let mut tx = self.pool.begin().await?;
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

    async fn finish_plan(&self, update: i64) -> Result<()> {
        sqlx::query("UPDATE updates SET planned = 1 WHERE id = ?")
            .bind(update)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn recover(
        &self,
        update: i64,
        channel: &str,
        resend: bool,
        now: jiff::Timestamp,
    ) -> Result<Vec<String>> {
        let mut tx = self.pool.begin().await?;
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

    async fn claim(
        &self,
        update: i64,
        channel: &str,
        limit: u32,
        now: jiff::Timestamp,
    ) -> Result<Vec<Delivery>> {
        let now = millis(now);
        let lane = (update, channel.to_string());
        let after = self.held().lanes.get(&lane).and_then(|l| l.after);
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
                .fetch_all(&self.pool)
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
        let mut held = self.held();
        let lane = held.lanes.entry(lane).or_default();
        let mut claimed = Vec::with_capacity(rows.len());
        for r in &rows {
            let id: i64 = r.try_get("id")?;
            lane.after = Some((r.try_get("next_attempt_at")?, id));
            if !lane.ids.insert(id) {
                continue; // held already: never hand out a row twice
            }
            claimed.push(Delivery {
                id,
                channel: r.try_get("channel")?,
                recipient_id: r.try_get("recipient_id")?,
                key: r.try_get("key")?,
                target: r.try_get("target")?,
                attempts: r.try_get::<i64, _>("attempts")? as u32,
                first_attempt_at: timestamp(r.try_get("first_attempt_at")?),
                in_doubt: r.try_get::<i64, _>("in_doubt")? != 0,
            });
        }
        claimed.sort_by_key(|d| d.id);
        Ok(claimed)
    }

    async fn record(
        &self,
        outcomes: &[(i64, Outcome)],
        begin: &[i64],
        now: jiff::Timestamp,
    ) -> Result<()> {
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
            return Ok(());
        }
        let now = millis(now);
        if rows.len() <= RECORD_ROWS {
            record_rows(&rows, now).execute(&self.pool).await?;
        } else {
            let mut tx = self.pool.begin().await?;
            for chunk in rows.chunks(RECORD_ROWS) {
                record_rows(chunk, now).execute(&mut *tx).await?;
            }
            tx.commit().await?;
        }
        self.release(outcomes.iter().map(|(id, _)| *id));
        Ok(())
    }

    async fn next_due(&self, update: i64, channel: &str) -> Result<Option<jiff::Timestamp>> {
        let at: Option<i64> = sqlx::query_scalar(
            "SELECT MIN(next_attempt_at) FROM deliveries WHERE update_id = ? AND channel = ? AND state IN ('pending', 'retry')",
        )
        .bind(update)
        .bind(channel)
        .fetch_one(&self.pool)
        .await?;
        Ok(at.map(timestamp))
    }

    async fn counts(&self, update: i64) -> Result<BTreeMap<String, Counts>> {
        let rows = sqlx::query(
            "SELECT channel, state, COUNT(*) AS n, SUM(in_doubt) AS doubt FROM deliveries WHERE update_id = ?
             GROUP BY channel, state",
        )
        .bind(update)
        .fetch_all(&self.pool)
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

    async fn failures(&self, update: i64, limit: u32) -> Result<Vec<Failure>> {
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
        .fetch_all(&self.pool)
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

    async fn bad_rows(&self, update: i64, limit: u32) -> Result<(u64, Vec<BadRow>)> {
        let total: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM bad_rows WHERE update_id = ?")
            .bind(update)
            .fetch_one(&self.pool)
            .await?;
        let rows = sqlx::query("SELECT row, recipient_id, field, reason FROM bad_rows WHERE update_id = ? ORDER BY row LIMIT ?")
            .bind(update)
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
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

    async fn requeue_failed(&self, update: i64, now: jiff::Timestamp) -> Result<u64> {
        let done = sqlx::query(
            "UPDATE deliveries SET state = 'pending', attempts = 0, first_attempt_at = NULL, next_attempt_at = ?1, updated_at = ?1
             WHERE update_id = ?2 AND state IN ('failed', 'skipped')",
        )
        .bind(millis(now))
        .bind(update)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected())
    }

    async fn start_run(
        &self,
        update: i64,
        me: &Run,
        stale_after_ms: i64,
    ) -> Result<std::result::Result<(), Run>> {
        // IMMEDIATE: the write lock is taken before the read, so two processes starting the
        // same update at once are serialised and the second sees the first's row (a deferred
        // transaction would fail the second with "database is locked" instead).
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        let existing =
            sqlx::query("SELECT pid, host, started_at, heartbeat_at FROM runs WHERE update_id = ?")
                .bind(update)
                .fetch_optional(&mut *tx)
                .await?;
        if let Some(r) = existing {
            let other = run_from(&r)?;
            let alive = millis(me.heartbeat_at) - millis(other.heartbeat_at) < stale_after_ms;
            if alive && other.pid != me.pid {
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

    async fn current_run(&self, update: i64) -> Result<Option<Run>> {
        let row =
            sqlx::query("SELECT pid, host, started_at, heartbeat_at FROM runs WHERE update_id = ?")
                .bind(update)
                .fetch_optional(&self.pool)
                .await?;
        row.as_ref().map(run_from).transpose()
    }

    async fn heartbeat(&self, update: i64, pid: u32, now: jiff::Timestamp) -> Result<()> {
        sqlx::query("UPDATE runs SET heartbeat_at = ? WHERE update_id = ? AND pid = ?")
            .bind(millis(now))
            .bind(update)
            .bind(i64::from(pid))
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn end_run(&self, update: i64, pid: u32) -> Result<()> {
        sqlx::query("DELETE FROM runs WHERE update_id = ? AND pid = ?")
            .bind(update)
            .bind(i64::from(pid))
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn halt(&self, scope: &str, now: jiff::Timestamp) -> Result<()> {
        sqlx::query("INSERT INTO halts (scope, at) VALUES (?, ?) ON CONFLICT (scope) DO UPDATE SET at = excluded.at")
            .bind(scope)
            .bind(millis(now))
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn resume(&self, scope: &str) -> Result<bool> {
        let done = sqlx::query("DELETE FROM halts WHERE scope = ?")
            .bind(scope)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() > 0)
    }

    async fn halted(&self, incident: &str) -> Result<bool> {
        let n: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM halts WHERE scope = ? OR scope = '*'")
                .bind(incident)
                .fetch_one(&self.pool)
                .await?;
        Ok(n > 0)
    }

    async fn add_schedule(&self, new: &NewSchedule, now: jiff::Timestamp) -> Result<Schedule> {
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        let schedule = insert_schedule(&mut tx, new, millis(now)).await?;
        tx.commit().await?;
        Ok(schedule)
    }

    async fn add_holding(
        &self,
        new: &NewSchedule,
        now: jiff::Timestamp,
    ) -> Result<Option<Schedule>> {
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        let exists: Option<i64> = sqlx::query_scalar(
            "SELECT id FROM schedules WHERE incident_id = ? AND typed = ? AND origin = 'holding'",
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

    async fn promises_due(&self, until: jiff::Timestamp) -> Result<Vec<Update>> {
        let rows = sqlx::query(select_updates!(
            "WHERE next_update_at IS NOT NULL AND next_update_at <= ?
               AND seq = (SELECT MAX(seq) FROM updates l WHERE l.incident_id = updates.incident_id)
               AND incident_id IN (SELECT id FROM incidents WHERE status != 'resolved')
             ORDER BY next_update_at, id"
        ))
        .bind(millis(until))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(update_from).collect()
    }

    async fn take_nudge(
        &self,
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
             VALUES (?1, ?2, ?3, 'sending', 1, ?4, ?4)
             ON CONFLICT (about, channel) DO UPDATE SET state = 'sending',
               attempts = attempts + 1, updated_at = ?4
             WHERE nudges.state != 'sent' AND nudges.attempts < ?6 AND nudges.updated_at <= ?4 - ?5",
        )
        .bind(about)
        .bind(channel)
        .bind(incident)
        .bind(now)
        .bind(retry_after_ms)
        .bind(i64::from(max_attempts))
        .execute(&self.pool)
        .await?;
        Ok(taken.rows_affected() == 1)
    }

    async fn end_nudge(
        &self,
        about: &str,
        channel: &str,
        error: Option<&str>,
        now: jiff::Timestamp,
    ) -> Result<()> {
        sqlx::query(
            "UPDATE nudges SET state = ?, error = ?, updated_at = ? WHERE about = ? AND channel = ?",
        )
        .bind(if error.is_some() { "failed" } else { "sent" })
        .bind(error)
        .bind(millis(now))
        .bind(about)
        .bind(channel)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn failed_schedules(&self) -> Result<Vec<Schedule>> {
        let rows = sqlx::query(
            "SELECT * FROM schedules WHERE state = 'failed'
               AND NOT EXISTS (SELECT 1 FROM nudges WHERE about = 'schedule:' || schedules.id || ':failed')
             ORDER BY id",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(schedule_from).collect()
    }

    async fn schedule(&self, id: i64) -> Result<Option<Schedule>> {
        let row = sqlx::query("SELECT * FROM schedules WHERE id = ?")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(schedule_from).transpose()
    }

    async fn schedules(&self, incident: Option<&str>) -> Result<Vec<Schedule>> {
        let rows = sqlx::query(
            "SELECT * FROM schedules WHERE ?1 IS NULL OR incident_id = ?1 ORDER BY due_at, id",
        )
        .bind(incident)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(schedule_from).collect()
    }

    async fn due_schedules(&self, now: jiff::Timestamp) -> Result<Vec<Schedule>> {
        let rows = sqlx::query(
            "SELECT * FROM schedules WHERE state IN ('pending', 'sending') AND due_at <= ?
             ORDER BY due_at, id",
        )
        .bind(millis(now))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(schedule_from).collect()
    }

    async fn cancel_schedule(&self, id: i64, now: jiff::Timestamp) -> Result<Option<Schedule>> {
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        sqlx::query(
            "UPDATE schedules SET state = 'cancelled', updated_at = ? WHERE id = ? AND state = 'pending'",
        )
        .bind(millis(now))
        .bind(id)
        .execute(&mut *tx)
        .await?;
        let schedule = schedule_in(&mut tx, id).await?;
        tx.commit().await?;
        Ok(schedule)
    }

    async fn start_schedule(
        &self,
        id: i64,
        t: Telling<'_>,
        now: jiff::Timestamp,
    ) -> Result<Option<Told>> {
        // IMMEDIATE: two workers starting the same schedule are serialised, and the second
        // finds the update the first added.
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
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
            "UPDATE schedules SET update_id = ?, state = 'sending', updated_at = ? WHERE id = ?",
        )
        .bind(told.update.id)
        .bind(millis(now))
        .bind(id)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(Some(told))
    }

    async fn end_schedule(
        &self,
        id: i64,
        state: ScheduleState,
        error: Option<&str>,
        now: jiff::Timestamp,
    ) -> Result<bool> {
        let changed = sqlx::query(
            "UPDATE schedules SET state = ?, error = ?, updated_at = ?
             WHERE id = ? AND state IN ('pending', 'sending')",
        )
        .bind(state.as_str())
        .bind(error)
        .bind(millis(now))
        .bind(id)
        .execute(&self.pool)
        .await?;
        Ok(changed.rows_affected() == 1)
    }

    async fn totals(&self) -> Result<BTreeMap<(String, String), u64>> {
        let rows: Vec<(String, String, i64)> = sqlx::query_as(
            "SELECT channel, state, COUNT(*) FROM deliveries GROUP BY channel, state",
        )
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .into_iter()
            .map(|(c, s, n)| ((c, s), n as u64))
            .collect())
    }

    async fn set_maintenance(&self, on: Option<&Maintenance>) -> Result<()> {
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
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn maintenance(&self) -> Result<Option<Maintenance>> {
        let row = sqlx::query("SELECT incident_id, since, by FROM maintenance WHERE id = 1")
            .fetch_optional(&self.pool)
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

    async fn audit(
        &self,
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
            .execute(&self.pool)
            .await?;
        Ok(())
    }
}

/// For tests across the crate: tell one update of incident `INC-1` on `channel` at `now`
/// (not planned yet), as the first update of `store`.
#[cfg(test)]
pub(crate) async fn tell_one_update<S: Store>(
    store: &S,
    channel: &str,
    now: jiff::Timestamp,
) -> Update {
    use crate::store::NewUpdate;
    use crate::template::{Impact, Status};
    let incident = IncidentRow {
        id: "INC-1".into(),
        title: "Checkout is failing".into(),
        status: Status::Investigating,
        impact: Impact::Major,
        components: Vec::new(),
        started_at: now,
        resolved_at: None,
    };
    let new = NewUpdate {
        kind: "outage-notice".into(),
        status: Status::Investigating,
        slots: BTreeMap::new(),
        fingerprint: "f".into(),
        content_sha256: "c".into(),
        approved_by: "test".into(),
        sent_by: "test".into(),
        channels: vec![channel.into()],
        audience: None,
        headline: "h".into(),
        summary: "s".into(),
        next_update_at: None,
    };
    let told = Telling {
        incident: &incident,
        update: &new,
        follow_up: None,
        cancel_follow_ups: None,
    };
    store.tell(told, now).await.unwrap().update
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::NewDelivery;

    fn at(secs: i64) -> jiff::Timestamp {
        jiff::Timestamp::from_second(1_795_000_000 + secs).unwrap()
    }

    /// A store with one update planned for `n` recipients on channel `hooks`.
    async fn planned(dir: &std::path::Path, n: usize) -> (SqliteStore, Update) {
        let url = format!("sqlite:{}", dir.join("crier.db").display());
        let store = SqliteStore::open(&url).await.unwrap();
        let update = tell_one_update(&store, "hooks", at(0)).await;
        let batch = PlanBatch {
            deliveries: (0..n)
                .map(|i| NewDelivery {
                    channel: "hooks".into(),
                    recipient_id: format!("cus_{i}"),
                    key: format!("key_{i}"),
                    target: "{}".into(),
                })
                .collect(),
            bad_rows: Vec::new(),
            planned_rows: n as u64,
        };
        store.plan(update.id, &batch, at(0)).await.unwrap();
        (store, update)
    }

    #[tokio::test]
    async fn every_outcome_lands_in_the_journal_as_written() {
        let dir = tempfile::tempdir().unwrap();
        let (store, update) = planned(dir.path(), 7).await;
        let rows = store.claim(update.id, "hooks", 10, at(1)).await.unwrap();
        assert_eq!(rows.len(), 7);
        let id = |i: usize| rows[i].id;
        // Six are about to be sent; the seventh is let go without an attempt.
        let begun: Vec<i64> = (0..6).map(id).collect();
        store.record(&[], &begun, at(2)).await.unwrap();
        let outcomes = [
            (
                id(0),
                Outcome::Sent {
                    provider_id: Some("msg_key_0".into()),
                },
            ),
            (
                id(1),
                Outcome::Retry {
                    at: at(60),
                    error: "503 from the endpoint".into(),
                },
            ),
            (
                id(2),
                Outcome::Failed {
                    error: "404 from the endpoint".into(),
                },
            ),
            (
                id(3),
                Outcome::InDoubt {
                    resend: true,
                    at: at(30),
                    error: "no answer within 15 s".into(),
                },
            ),
            (
                id(4),
                Outcome::InDoubt {
                    resend: false,
                    at: at(30),
                    error: "no answer within 15 s".into(),
                },
            ),
            (id(5), Outcome::Sent { provider_id: None }),
            (id(6), Outcome::Released { at: at(5) }),
        ];
        store.record(&outcomes, &[], at(3)).await.unwrap();

        let counts = store.counts(update.id).await.unwrap();
        let c = &counts["hooks"];
        assert_eq!(
            (
                c.sent,
                c.retry,
                c.failed,
                c.skipped,
                c.pending,
                c.attempting,
                c.in_doubt
            ),
            (2, 2, 1, 1, 1, 0, 2),
            "{c:?}"
        );
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

        let why = store.failures(update.id, 50).await.unwrap();
        let summary: Vec<(&str, &str, &str)> = why
            .iter()
            .map(|f| (f.recipient_id.as_str(), f.state.as_str(), f.error.as_str()))
            .collect();
        assert_eq!(
            summary,
            [
                ("cus_2", "failed", "404 from the endpoint"),
                ("cus_4", "skipped", "no answer within 15 s"),
                ("cus_1", "retry", "503 from the endpoint"),
                ("cus_3", "retry", "no answer within 15 s"),
            ]
        );
        assert_eq!(why[2].next_attempt_at, Some(at(60)));
        assert_eq!(why[0].next_attempt_at, None);
    }

    #[tokio::test]
    async fn a_late_begin_changes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let (store, update) = planned(dir.path(), 1).await;
        let rows = store.claim(update.id, "hooks", 10, at(1)).await.unwrap();
        store
            .record(
                &[(rows[0].id, Outcome::Sent { provider_id: None })],
                &[],
                at(2),
            )
            .await
            .unwrap();
        // A late begin for a row already recorded changes nothing.
        store.record(&[], &[rows[0].id], at(3)).await.unwrap();
        let c = &store.counts(update.id).await.unwrap()["hooks"];
        assert_eq!((c.sent, c.attempting), (1, 0));
    }

    fn ids(rows: &[Delivery]) -> Vec<i64> {
        rows.iter().map(|d| d.id).collect()
    }

    #[tokio::test]
    async fn claims_hand_out_each_due_row_once_while_it_is_held() {
        let dir = tempfile::tempdir().unwrap();
        let (store, update) = planned(dir.path(), 5).await;
        let first = store.claim(update.id, "hooks", 2, at(1)).await.unwrap();
        let second = store.claim(update.id, "hooks", 2, at(1)).await.unwrap();
        let third = store.claim(update.id, "hooks", 2, at(1)).await.unwrap();
        assert_eq!(ids(&first), [1, 2]);
        assert_eq!(ids(&second), [3, 4]);
        assert_eq!(ids(&third), [5]);
        assert!(
            store
                .claim(update.id, "hooks", 2, at(1))
                .await
                .unwrap()
                .is_empty()
        );

        // Row 1 is let go and due again at once; 2 is sent. While 3, 4 and 5 are held, the
        // next claim hands out row 1 and nothing held.
        let released = [
            (1, Outcome::Released { at: at(1) }),
            (2, Outcome::Sent { provider_id: None }),
        ];
        store.record(&[], &[2], at(1)).await.unwrap();
        store.record(&released, &[], at(1)).await.unwrap();
        assert_eq!(
            ids(&store.claim(update.id, "hooks", 10, at(2)).await.unwrap()),
            [1]
        );
    }

    #[tokio::test]
    async fn a_row_due_again_at_the_same_millisecond_is_claimed_once_the_lane_drains() {
        let dir = tempfile::tempdir().unwrap();
        let (store, update) = planned(dir.path(), 3).await;
        // All three rows were planned at the same millisecond (at(0)).
        let rows = store.claim(update.id, "hooks", 3, at(1)).await.unwrap();
        assert_eq!(ids(&rows), [1, 2, 3]);
        // Row 1 is let go, due at the millisecond it was planned: before the last row handed
        // out in due order. Not found while 2 and 3 are held...
        store
            .record(&[(1, Outcome::Released { at: at(0) })], &[], at(1))
            .await
            .unwrap();
        assert!(
            store
                .claim(update.id, "hooks", 3, at(1))
                .await
                .unwrap()
                .is_empty()
        );
        assert_eq!(
            store.next_due(update.id, "hooks").await.unwrap(),
            Some(at(0))
        );
        // ...but as soon as nothing is held (as the worker waits for when a claim is empty).
        let sent = [
            (2, Outcome::Sent { provider_id: None }),
            (3, Outcome::Sent { provider_id: None }),
        ];
        store.record(&sent, &[], at(1)).await.unwrap();
        assert_eq!(
            ids(&store.claim(update.id, "hooks", 3, at(2)).await.unwrap()),
            [1]
        );
    }

    #[tokio::test]
    async fn rows_claimed_before_a_crash_are_due_for_the_next_run() {
        let dir = tempfile::tempdir().unwrap();
        let (store, update) = planned(dir.path(), 3).await;
        let rows = store.claim(update.id, "hooks", 3, at(1)).await.unwrap();
        store.record(&[], &[rows[0].id], at(1)).await.unwrap();
        drop(store);

        let url = format!("sqlite:{}", dir.path().join("crier.db").display());
        let store = SqliteStore::open(&url).await.unwrap();
        let in_doubt = store
            .recover(update.id, "hooks", true, at(2))
            .await
            .unwrap();
        assert_eq!(in_doubt, ["key_0"], "only the row begun may have been sent");
        let again = store.claim(update.id, "hooks", 10, at(3)).await.unwrap();
        assert_eq!(ids(&again), [1, 2, 3]);
        assert!(again[0].in_doubt && !again[1].in_doubt);
    }

    #[tokio::test]
    async fn a_group_larger_than_one_statement_is_recorded_whole() {
        let dir = tempfile::tempdir().unwrap();
        let n = RECORD_ROWS + 100;
        let (store, update) = planned(dir.path(), n).await;
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
}
