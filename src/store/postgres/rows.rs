//! Rows read back into the store's types, and the JSON that some columns hold.

use sqlx::Row;
use sqlx::postgres::PgRow;

use crate::store::{IncidentRow, Result, Run, Schedule, StoreError, Update, timestamp};

pub(super) fn json<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_string(value).expect("plain data always serializes")
}

pub(super) fn from_json<T: serde::de::DeserializeOwned>(text: &str, what: &str) -> Result<T> {
    serde_json::from_str(text).map_err(|e| StoreError::Corrupt(format!("{what}: {e}")))
}

pub(super) fn parse<T: serde::de::DeserializeOwned>(word: &str, what: &str) -> Result<T> {
    from_json(&format!("\"{word}\""), what)
}

/// `text` as PostgreSQL can store it: a NUL (which a `TEXT` cannot hold, and SQLite can) made
/// U+FFFD.
pub(super) fn no_nul(text: &str) -> std::borrow::Cow<'_, str> {
    if text.contains('\0') {
        text.replace('\0', "\u{fffd}").into()
    } else {
        text.into()
    }
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
pub(super) use select_updates;

pub(super) fn update_from(row: &PgRow) -> Result<Update> {
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
        planned: row.try_get("planned")?,
        planned_rows: row.try_get::<i64, _>("planned_rows")? as u64,
        next_update_at: row
            .try_get::<Option<i64>, _>("next_update_at")?
            .map(timestamp),
    })
}

pub(super) fn schedule_from(row: &PgRow) -> Result<Schedule> {
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

pub(super) fn incident_from(row: &PgRow) -> Result<IncidentRow> {
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

pub(super) fn run_from(row: &PgRow) -> Result<Run> {
    Ok(Run {
        pid: row.try_get::<i64, _>("pid")? as u32,
        host: row.try_get("host")?,
        started_at: timestamp(row.try_get("started_at")?),
        heartbeat_at: timestamp(row.try_get("heartbeat_at")?),
    })
}
