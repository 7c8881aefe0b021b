//! The shared store: a PostgreSQL database, so that several machines' `status`, `report`
//! and `serve` read one journal. Durable as the server is: every state change is a committed
//! transaction.
//!
//! Many processes, on many machines, send one update together: each claims its own rows in
//! batches (`FOR UPDATE SKIP LOCKED`), committed as `claimed` with this process's name
//! (`holder`) and a lease its heartbeat renews (`claims`, `control::heartbeat`). Once a
//! process's lease has run out (killed, its machine gone), any other recovers its rows: the
//! claimed ones are due again, the `attempting` ones in doubt, resent with the same id.
//!
//! This file opens and migrates the database; its `impl Store` (`store::by_concern`) names the file
//! that does each method: `timeline` (incidents, updates, telling), `journal` (planning, recording,
//! recovering, counting), `claims` (claiming due rows with a lease), `schedules` (schedules, promises,
//! nudges), `control` (runs, halts, the maintenance switch, the audit log); `rows` reads rows back
//! into the store's types. Where the SQLite store takes its write lock first (`BEGIN IMMEDIATE`),
//! this one takes a transaction-scoped advisory lock ([`begin_immediate`]), so the same
//! transactions are serialised the same way.

mod claims;
mod control;
mod journal;
mod rows;
mod schedules;
/// Test support (a scratch database per test on the tests' server), not crier's interface.
#[doc(hidden)]
pub mod scratch;
mod timeline;

use std::collections::BTreeMap;
use std::str::FromStr;
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::{Connection, PgConnection, Postgres, Transaction};

use super::{
    BadRow, Counts, Delivery, Failure, IncidentRow, Maintenance, NewSchedule, Outcome, PlanBatch,
    Result, Run, Schedule, ScheduleState, StoreError, Telling, Told, Update,
};
use crate::template::Incident;

/// Versioned migrations: the one row of `crier_schema` says how many ran.
const MIGRATIONS: &[&str] = &[
    include_str!("../schema_postgres1.sql"),
    include_str!("../schema_postgres2.sql"),
];

/// The advisory lock key of crier's writes that must not interleave (telling, starting a
/// schedule or a run, migrating): `crier` in ASCII.
const WRITE_LOCK: i64 = 0x0063_7269_6572;

/// The PostgreSQL journal.
#[derive(Clone)]
pub struct PostgresStore {
    pool: PgPool,
    /// This process, as the rows it claims name it: unique among every process that ever
    /// opened the journal (its pid, and a random part).
    holder: String,
}

impl std::fmt::Debug for PostgresStore {
    // Never the connection options: they hold the password.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresStore").finish_non_exhaustive()
    }
}

type Tx = Transaction<'static, Postgres>;

/// A transaction holding crier's write lock, as SQLite's `BEGIN IMMEDIATE` does: two such
/// transactions run one after the other.
async fn begin_immediate(pool: &PgPool) -> Result<Tx> {
    let mut tx = pool.begin().await?;
    sqlx::query("SELECT pg_advisory_xact_lock($1)")
        .bind(WRITE_LOCK)
        .execute(&mut *tx)
        .await?;
    Ok(tx)
}

impl PostgresStore {
    /// Connect to the database at `url` (`postgres://user:password@host/db`) and migrate it.
    /// An error never shows the URL's password.
    pub async fn open(url: &str) -> Result<PostgresStore> {
        Self::connect(url).await.map_err(|e| scrub(e, url))
    }

    async fn connect(url: &str) -> Result<PostgresStore> {
        // Commits do not wait for the server's disk, as the SQLite journal's do not
        // (`synchronous = NORMAL`): a crash of crier loses nothing, and a crash of the server
        // may lose its last fraction of a second of commits, which can only make a message be
        // sent again under the same id, never lost. A URL that sets it itself is obeyed.
        let mut options = PgConnectOptions::from_str(url)?;
        if !url.contains("synchronous_commit") {
            options = options.options([("synchronous_commit", "off")]);
        }
        // One connection first: the pool retries a refused connection until its timeout and
        // then says only that it timed out; this says why (refused, no such role, database).
        PgConnection::connect_with(&options).await?.close().await?;
        let pool = PgPoolOptions::new()
            .max_connections(8)
            .acquire_timeout(Duration::from_secs(10))
            .connect_with(options)
            .await?;
        let store = PostgresStore {
            pool,
            holder: format!("{}-{:016x}", std::process::id(), fastrand::u64(..)),
        };
        store.migrate().await?;
        Ok(store)
    }

    async fn migrate(&self) -> Result<()> {
        // Under the write lock: two processes opening a new journal at once are serialised;
        // the second finds it migrated.
        let mut tx = begin_immediate(&self.pool).await?;
        sqlx::raw_sql(
            "CREATE TABLE IF NOT EXISTS crier_schema (version BIGINT NOT NULL);
             INSERT INTO crier_schema (version) SELECT 0 WHERE NOT EXISTS (SELECT 1 FROM crier_schema)",
        )
        .execute(&mut *tx)
        .await?;
        let version: i64 = sqlx::query_scalar("SELECT version FROM crier_schema")
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
            sqlx::query("UPDATE crier_schema SET version = $1")
                .bind(i as i64 + 1)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }
}

/// `error` as it may be shown: without the password of `url`, as written or URL-decoded.
fn scrub(error: StoreError, url: &str) -> StoreError {
    let Some(password) = url::Url::parse(url)
        .ok()
        .and_then(|u| u.password().map(str::to_string))
        .filter(|p| !p.is_empty())
    else {
        return error;
    };
    let text = error.to_string();
    let mut shown = text.replace(&password, "********");
    let decoded = percent_encoding::percent_decode_str(&password).decode_utf8_lossy();
    if !decoded.is_empty() {
        shown = shown.replace(decoded.as_ref(), "********");
    }
    if shown == text {
        error
    } else {
        StoreError::Scrubbed(shown)
    }
}

// The `impl Store`: each method is the function of the same name in its concern's file.
crate::store::by_concern::store_by_concern!(PostgresStore);

#[cfg(test)]
mod tests;
