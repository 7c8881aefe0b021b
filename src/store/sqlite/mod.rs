//! The embedded store: one SQLite file in WAL mode. Durable against a killed process (every
//! state change is a committed transaction); after a power loss the last commits may be
//! lost, which can only cause a resend with the same Message-ID, never a lost message.
//!
//! This file opens and migrates the database, and its `impl Store` names the file that does
//! each method: `timeline` (incidents, updates, telling), `journal` (planning, recording,
//! recovering, counting), `claims` (due rows held in memory), `schedules` (schedules,
//! promises, nudges), `control` (runs, halts, the maintenance switch, the audit log); `rows`
//! reads rows back into the store's types.

mod claims;
mod control;
mod journal;
mod rows;
mod schedules;
mod timeline;

use std::collections::BTreeMap;
use std::str::FromStr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use sqlx::{Sqlite, Transaction};

use super::{
    BadRow, Counts, Delivery, Failure, IncidentRow, Maintenance, NewSchedule, Outcome, PlanBatch,
    Result, Run, Schedule, ScheduleState, Store, StoreError, Telling, Told, Update,
};
use crate::template::Incident;

/// Versioned migrations: `PRAGMA user_version` says how many ran.
const MIGRATIONS: &[&str] = &[
    include_str!("../schema_sqlite.sql"),
    include_str!("../schema_sqlite_2.sql"),
    include_str!("../schema_sqlite_3.sql"),
    include_str!("../schema_sqlite_4.sql"),
    include_str!("../schema_sqlite_5.sql"),
];

/// The SQLite journal.
#[derive(Debug, Clone)]
pub struct SqliteStore {
    pool: SqlitePool,
    held: Arc<Mutex<crate::store::claims::Held>>,
}

type Tx = Transaction<'static, Sqlite>;

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

impl Store for SqliteStore {
    async fn tell(&self, t: Telling<'_>, now: jiff::Timestamp) -> Result<Told> {
        timeline::tell(self, t, now).await
    }

    async fn incident(&self, id: &str) -> Result<Option<IncidentRow>> {
        timeline::incident(self, id).await
    }

    async fn incidents(&self) -> Result<Vec<IncidentRow>> {
        timeline::incidents(self).await
    }

    async fn incident_with_timeline(&self, id: &str) -> Result<Option<Incident>> {
        timeline::incident_with_timeline(self, id).await
    }

    async fn latest_update(&self, incident: Option<&str>) -> Result<Option<Update>> {
        timeline::latest_update(self, incident).await
    }

    async fn updates(&self, incident: &str) -> Result<Vec<Update>> {
        timeline::updates(self, incident).await
    }

    async fn update(&self, id: i64) -> Result<Option<Update>> {
        timeline::update(self, id).await
    }

    async fn retries_due(&self, now: jiff::Timestamp) -> Result<Vec<i64>> {
        journal::retries_due(self, now).await
    }

    async fn plan(
        &self,
        update: i64,
        batch: &PlanBatch,
        now: jiff::Timestamp,
    ) -> Result<Vec<usize>> {
        journal::plan(self, update, batch, now).await
    }

    async fn finish_plan(&self, update: i64) -> Result<()> {
        journal::finish_plan(self, update).await
    }

    async fn recover(
        &self,
        update: i64,
        channel: &str,
        resend: bool,
        now: jiff::Timestamp,
    ) -> Result<Vec<String>> {
        journal::recover(self, update, channel, resend, now).await
    }

    async fn claim(
        &self,
        update: i64,
        channel: &str,
        limit: u32,
        now: jiff::Timestamp,
    ) -> Result<Vec<Delivery>> {
        claims::claim(self, update, channel, limit, now).await
    }

    async fn record(
        &self,
        outcomes: &[(i64, Outcome)],
        begin: &[i64],
        now: jiff::Timestamp,
    ) -> Result<()> {
        journal::record(self, outcomes, begin, now).await
    }

    async fn next_due(&self, update: i64, channel: &str) -> Result<Option<jiff::Timestamp>> {
        journal::next_due(self, update, channel).await
    }

    async fn counts(&self, update: i64) -> Result<BTreeMap<String, Counts>> {
        journal::counts(self, update).await
    }

    async fn failures(&self, update: i64, limit: u32) -> Result<Vec<Failure>> {
        journal::failures(self, update, limit).await
    }

    async fn bad_rows(&self, update: i64, limit: u32) -> Result<(u64, Vec<BadRow>)> {
        journal::bad_rows(self, update, limit).await
    }

    async fn requeue_failed(&self, update: i64, now: jiff::Timestamp) -> Result<u64> {
        journal::requeue_failed(self, update, now).await
    }

    async fn start_run(
        &self,
        update: i64,
        me: &Run,
        stale_after_ms: i64,
    ) -> Result<std::result::Result<(), Run>> {
        control::start_run(self, update, me, stale_after_ms).await
    }

    async fn current_run(&self, update: i64) -> Result<Option<Run>> {
        control::current_run(self, update).await
    }

    async fn heartbeat(
        &self,
        update: i64,
        pid: u32,
        host: &str,
        now: jiff::Timestamp,
    ) -> Result<()> {
        control::heartbeat(self, update, pid, host, now).await
    }

    async fn end_run(&self, update: i64, pid: u32, host: &str) -> Result<()> {
        control::end_run(self, update, pid, host).await
    }

    async fn halt(&self, scope: &str, now: jiff::Timestamp) -> Result<()> {
        control::halt(self, scope, now).await
    }

    async fn resume(&self, scope: &str) -> Result<bool> {
        control::resume(self, scope).await
    }

    async fn halted(&self, incident: &str) -> Result<bool> {
        control::halted(self, incident).await
    }

    async fn add_schedule(&self, new: &NewSchedule, now: jiff::Timestamp) -> Result<Schedule> {
        schedules::add_schedule(self, new, now).await
    }

    async fn add_holding(
        &self,
        new: &NewSchedule,
        now: jiff::Timestamp,
    ) -> Result<Option<Schedule>> {
        schedules::add_holding(self, new, now).await
    }

    async fn promises_due(&self, until: jiff::Timestamp) -> Result<Vec<Update>> {
        schedules::promises_due(self, until).await
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
        schedules::take_nudge(
            self,
            about,
            channel,
            incident,
            now,
            retry_after_ms,
            max_attempts,
        )
        .await
    }

    async fn end_nudge(
        &self,
        about: &str,
        channel: &str,
        error: Option<&str>,
        now: jiff::Timestamp,
    ) -> Result<()> {
        schedules::end_nudge(self, about, channel, error, now).await
    }

    async fn failed_schedules(&self, max_attempts: u32) -> Result<Vec<Schedule>> {
        schedules::failed_schedules(self, max_attempts).await
    }

    async fn schedule(&self, id: i64) -> Result<Option<Schedule>> {
        schedules::schedule(self, id).await
    }

    async fn schedules(&self, incident: Option<&str>) -> Result<Vec<Schedule>> {
        schedules::schedules(self, incident).await
    }

    async fn due_schedules(&self, now: jiff::Timestamp) -> Result<Vec<Schedule>> {
        schedules::due_schedules(self, now).await
    }

    async fn cancel_schedule(&self, id: i64, now: jiff::Timestamp) -> Result<Option<Schedule>> {
        schedules::cancel_schedule(self, id, now).await
    }

    async fn start_schedule(
        &self,
        id: i64,
        t: Telling<'_>,
        now: jiff::Timestamp,
    ) -> Result<Option<Told>> {
        schedules::start_schedule(self, id, t, now).await
    }

    async fn end_schedule(
        &self,
        id: i64,
        state: ScheduleState,
        error: Option<&str>,
        now: jiff::Timestamp,
    ) -> Result<bool> {
        schedules::end_schedule(self, id, state, error, now).await
    }

    async fn totals(&self) -> Result<BTreeMap<(String, String), u64>> {
        journal::totals(self).await
    }

    async fn set_maintenance(&self, on: Option<&Maintenance>) -> Result<()> {
        control::set_maintenance(self, on).await
    }

    async fn maintenance(&self) -> Result<Option<Maintenance>> {
        control::maintenance(self).await
    }

    async fn audit(
        &self,
        actor: &str,
        command: &str,
        detail: &str,
        now: jiff::Timestamp,
    ) -> Result<()> {
        control::audit(self, actor, command, detail, now).await
    }
}

#[cfg(test)]
mod tests;
