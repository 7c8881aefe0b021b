//! The embedded store: one SQLite file in WAL mode. Durable against a killed process (every
//! state change is a committed transaction); after a power loss the last commits may be
//! lost, which can only cause a resend with the same Message-ID, never a lost message.
//!
//! This file opens and migrates the database; its `impl Store` (`store::by_concern`) names the file
//! that does each method: `timeline` (incidents, updates, telling), `journal` (planning, recording,
//! recovering, counting), `claims` (due rows held in memory), `schedules` (schedules, promises,
//! nudges), `control` (runs, halts, the maintenance switch, the audit log); `rows` reads rows back
//! into the store's types.

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
    Result, Run, Schedule, ScheduleState, StoreError, Telling, Told, Update,
};
use crate::template::Incident;

/// Versioned migrations: `PRAGMA user_version` says how many ran.
const MIGRATIONS: &[&str] = &[
    include_str!("../schema_sqlite.sql"),
    include_str!("../schema_sqlite_2.sql"),
    include_str!("../schema_sqlite_3.sql"),
    include_str!("../schema_sqlite_4.sql"),
    include_str!("../schema_sqlite_5.sql"),
    include_str!("../schema_sqlite_6.sql"),
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

// The `impl Store`: each method is the function of the same name in its concern's file.
crate::store::by_concern::store_by_concern!(SqliteStore);

#[cfg(test)]
mod tests;
