//! [`Backend`]: the store `[store] url` names, opened by [`open`]. [`Store`] returns
//! `impl Future`, so it cannot be a `dyn Store`; callers hold this enum, and each of its
//! methods goes to the backend of its variant.

use std::collections::BTreeMap;
use std::path::Path;

use super::{
    BadRow, Counts, Delivery, Failure, IncidentRow, Maintenance, NewSchedule, Outcome, PlanBatch,
    Result, Run, Schedule, ScheduleState, Store, StoreError, Telling, Told, Update, postgres,
    sqlite,
};
use crate::template::Incident;

/// The store crier.toml names: one variant per backend.
#[derive(Debug, Clone)]
pub enum Backend {
    /// `sqlite:PATH`: one file, the embedded default.
    Sqlite(sqlite::SqliteStore),
    /// `postgres://…` (or `postgresql://…`): a PostgreSQL database several machines share.
    Postgres(postgres::PostgresStore),
}

/// Open the store named by `url` (`[store] url` in crier.toml); a relative SQLite path is
/// read from `root`, the folder holding crier.toml. An error never shows the URL's password.
pub async fn open(url: &str, root: &Path) -> Result<Backend> {
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        return Ok(Backend::Postgres(postgres::PostgresStore::open(url).await?));
    }
    let Some(path) = url.strip_prefix("sqlite:") else {
        return Err(StoreError::UnknownUrl {
            url: shown_url(url),
        });
    };
    let path = path.trim_start_matches("//");
    let full = if Path::new(path).is_absolute() || path == ":memory:" {
        path.to_string()
    } else {
        root.join(path).display().to_string()
    };
    let store = sqlite::SqliteStore::open(&format!("sqlite:{full}")).await?;
    Ok(Backend::Sqlite(store))
}

/// `url` as an error may show it: without a password (`user:password@`).
fn shown_url(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut parsed) if parsed.password().is_some() => {
            let _ = parsed.set_password(Some("********"));
            parsed.to_string()
        }
        _ => url.to_string(),
    }
}

/// `impl Store for Backend`, each method written once here as its signature, and passed on
/// to the backend of the variant (one arm per variant).
macro_rules! delegate {
    ($(fn $name:ident(&self $(, $arg:ident: $ty:ty)* $(,)?) -> $out:ty;)*) => {
        impl Store for Backend {
            $(
                async fn $name(&self $(, $arg: $ty)*) -> $out {
                    match self {
                        Backend::Sqlite(store) => store.$name($($arg),*).await,
                        Backend::Postgres(store) => store.$name($($arg),*).await,
                    }
                }
            )*
        }
    };
}

delegate! {
    fn tell(&self, t: Telling<'_>, now: jiff::Timestamp) -> Result<Told>;
    fn incident(&self, id: &str) -> Result<Option<IncidentRow>>;
    fn incidents(&self) -> Result<Vec<IncidentRow>>;
    fn incident_with_timeline(&self, id: &str) -> Result<Option<Incident>>;
    fn latest_update(&self, incident: Option<&str>) -> Result<Option<Update>>;
    fn updates(&self, incident: &str) -> Result<Vec<Update>>;
    fn update(&self, id: i64) -> Result<Option<Update>>;
    fn retries_due(&self, now: jiff::Timestamp) -> Result<Vec<i64>>;
    fn plan(&self, update: i64, batch: &PlanBatch, now: jiff::Timestamp) -> Result<Vec<usize>>;
    fn finish_plan(&self, update: i64) -> Result<()>;
    fn recover(
        &self,
        update: i64,
        channel: &str,
        resend: bool,
        now: jiff::Timestamp,
    ) -> Result<Vec<String>>;
    fn claim(
        &self,
        update: i64,
        channel: &str,
        limit: u32,
        now: jiff::Timestamp,
    ) -> Result<Vec<Delivery>>;
    fn record(
        &self,
        outcomes: &[(i64, Outcome)],
        begin: &[i64],
        now: jiff::Timestamp,
    ) -> Result<Vec<i64>>;
    fn next_due(&self, update: i64, channel: &str) -> Result<Option<jiff::Timestamp>>;
    fn counts(&self, update: i64) -> Result<BTreeMap<String, Counts>>;
    fn failures(&self, update: i64, limit: u32) -> Result<Vec<Failure>>;
    fn bad_rows(&self, update: i64, limit: u32) -> Result<(u64, Vec<BadRow>)>;
    fn requeue_failed(&self, update: i64, now: jiff::Timestamp) -> Result<u64>;
    fn start_run(
        &self,
        update: i64,
        me: &Run,
        stale_after_ms: i64,
    ) -> Result<std::result::Result<(), Run>>;
    fn runs(&self, update: i64) -> Result<Vec<Run>>;
    fn many_senders(&self) -> bool;
    fn own_channel(&self, channel: &str, now: jiff::Timestamp) -> Result<bool>;
    fn release_channel(&self, channel: &str) -> Result<()>;
    fn enqueue(&self, update: i64) -> Result<()>;
    fn queued_due(&self, now: jiff::Timestamp) -> Result<Vec<i64>>;
    fn heartbeat(&self, update: i64, pid: u32, host: &str, now: jiff::Timestamp) -> Result<()>;
    fn end_run(&self, update: i64, pid: u32, host: &str) -> Result<()>;
    fn halt(&self, scope: &str, now: jiff::Timestamp) -> Result<()>;
    fn resume(&self, scope: &str) -> Result<bool>;
    fn halted(&self, incident: &str) -> Result<bool>;
    fn add_schedule(&self, new: &NewSchedule, now: jiff::Timestamp) -> Result<Schedule>;
    fn add_holding(&self, new: &NewSchedule, now: jiff::Timestamp) -> Result<Option<Schedule>>;
    fn schedule(&self, id: i64) -> Result<Option<Schedule>>;
    fn promises_due(&self, until: jiff::Timestamp) -> Result<Vec<Update>>;
    fn take_nudge(
        &self,
        about: &str,
        channel: &str,
        incident: &str,
        now: jiff::Timestamp,
        retry_after_ms: i64,
        max_attempts: u32,
    ) -> Result<bool>;
    fn end_nudge(
        &self,
        about: &str,
        channel: &str,
        error: Option<&str>,
        now: jiff::Timestamp,
    ) -> Result<()>;
    fn failed_schedules(&self, max_attempts: u32) -> Result<Vec<Schedule>>;
    fn schedules(&self, incident: Option<&str>) -> Result<Vec<Schedule>>;
    fn due_schedules(&self, now: jiff::Timestamp) -> Result<Vec<Schedule>>;
    fn cancel_schedule(&self, id: i64, now: jiff::Timestamp) -> Result<Option<Schedule>>;
    fn start_schedule(
        &self,
        id: i64,
        t: Telling<'_>,
        now: jiff::Timestamp,
    ) -> Result<Option<Told>>;
    fn end_schedule(
        &self,
        id: i64,
        state: ScheduleState,
        error: Option<&str>,
        now: jiff::Timestamp,
    ) -> Result<bool>;
    fn totals(&self) -> Result<BTreeMap<(String, String), u64>>;
    fn set_maintenance(&self, on: Option<&Maintenance>) -> Result<()>;
    fn maintenance(&self) -> Result<Option<Maintenance>>;
    fn audit(&self, actor: &str, command: &str, detail: &str, now: jiff::Timestamp) -> Result<()>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn an_unknown_store_url_names_the_setting_and_the_fix() {
        let dir = tempfile::tempdir().unwrap();
        for url in ["crier.db", "mysql://x", "postgres:crier"] {
            let Err(error) = open(url, dir.path()).await else {
                panic!("`{url}` was opened");
            };
            assert_eq!(
                error.to_string(),
                format!(
                    "`[store] url = \"{url}\"` is not a store crier knows; write `url = \"sqlite:crier.db\"` (a file next to crier.toml) or `url = \"postgres://…\"`"
                )
            );
        }
        let Err(error) = open("mysql://crier:s3cret@db/crier", dir.path()).await else {
            panic!("mysql was opened");
        };
        assert!(!error.to_string().contains("s3cret"), "{error}");
        assert!(open("sqlite:crier.db", dir.path()).await.is_ok());
        assert!(dir.path().join("crier.db").exists(), "relative to the root");
    }
}
