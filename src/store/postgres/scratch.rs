//! Test support, not part of crier's interface: a scratch database for one test on the
//! PostgreSQL server the tests use, created empty and dropped when the test ends. The store's
//! own tests (`store::behaviour`, `postgres::tests`) and the integration tests share it.
//!
//! The server is the one `CRIER_TEST_POSTGRES_URL` names (the URL of its maintenance database,
//! `postgres://postgres@127.0.0.1:5432/test`); a scratch database is that URL with its
//! database replaced. When the variable is unset, the tests try this machine's server at that
//! same URL and, if none answers, say on stderr that they were not run and pass; when it is
//! set, a server that does not answer fails the test, so CI never skips them silently. Either
//! way, a URL that names another machine is refused before anything connects.

use std::io::Write;
use std::net::IpAddr;
use std::str::FromStr;

use sqlx::postgres::PgConnectOptions;
use sqlx::{Connection, PgConnection};

/// The variable that names the tests' server.
pub const VAR: &str = "CRIER_TEST_POSTGRES_URL";

/// The server tried when [`VAR`] is unset: this machine's, trust auth for user `postgres`.
pub const DEFAULT: &str = "postgres://postgres@127.0.0.1:5432/test";

/// A database of its own (`crier_t_<created>_<hex>`) on the tests' server, dropped when this
/// is dropped (or by a test an hour later, if this one was killed).
pub struct ScratchDb {
    name: String,
    /// The maintenance database's URL, from which this one is created and dropped.
    server: String,
    url: String,
}

impl ScratchDb {
    /// Create the database, or `None` when [`VAR`] is unset and no server answers at
    /// [`DEFAULT`]: the test is then not run, and one line on stderr says so.
    ///
    /// # Panics
    ///
    /// When [`VAR`] names a server that is not on this machine or does not answer.
    pub async fn create() -> Option<ScratchDb> {
        let (server, required) = match std::env::var(VAR) {
            Ok(url) => (url, true),
            Err(std::env::VarError::NotPresent) => (DEFAULT.to_owned(), false),
            Err(e) => panic!("{VAR} cannot be read: {e}"),
        };
        if let Err(why) = on_this_machine(&server) {
            panic!("{VAR} {why}; the tests connect only to a PostgreSQL server on this machine");
        }
        let mut admin = match PgConnection::connect(&server).await {
            Ok(admin) => admin,
            Err(e) if required => panic!(
                "{VAR} names a PostgreSQL server that does not answer ({e}); start it, or unset \
                 {VAR} to try this machine's default server ({DEFAULT})"
            ),
            Err(e) => {
                not_run(&e);
                return None;
            }
        };
        let secs = jiff::Timestamp::now().as_second();
        let name = format!("crier_t_{secs}_{:08x}", fastrand::u32(..));
        drop_stale(&mut admin, secs).await;
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(&mut admin)
            .await
            .unwrap();
        admin.close().await.unwrap();
        let url = scratch_url(&server, &name);
        Some(ScratchDb { name, server, url })
    }

    /// The scratch database's URL, as `[store] url` would name it.
    pub fn url(&self) -> &str {
        &self.url
    }
}

/// Say on stderr that the running test was not run: written to stderr itself, not with
/// `eprintln!`, which the test harness captures and shows only for a failed test.
fn not_run(error: &sqlx::Error) {
    let thread = std::thread::current();
    let test = thread.name().unwrap_or("a PostgreSQL test");
    let line = format!(
        "{test}: not run: this test needs PostgreSQL and none answers at {DEFAULT} ({error}); \
         set {VAR}=postgres://USER@127.0.0.1:5432/DB (see README, Testing), or start the local \
         server: pg_ctlcluster --skip-systemctl-redirect 15 main start\n"
    );
    // One write, so that other tests' output does not cut the line.
    let _ = std::io::stderr().write_all(line.as_bytes());
}

/// `Ok` when `url` is a PostgreSQL URL whose server is on this machine (a loopback address,
/// `localhost` or a Unix socket), as sqlx reads it (its `host` and `hostaddr` parameters and
/// `PGHOST` too); otherwise what is wrong with it.
fn on_this_machine(url: &str) -> Result<(), String> {
    let scheme = url.split_once("://").map(|(scheme, _)| scheme);
    if !matches!(scheme, Some("postgres" | "postgresql")) {
        return Err("is not a postgres:// URL".into());
    }
    let options =
        PgConnectOptions::from_str(url).map_err(|e| format!("is not a valid URL ({e})"))?;
    if options.get_socket().is_some() {
        return Ok(());
    }
    let host = options.get_host();
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    let loopback = bare.eq_ignore_ascii_case("localhost")
        || bare.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback());
    if loopback {
        Ok(())
    } else {
        Err(format!(
            "names the host `{host}`, which is not this machine"
        ))
    }
}

/// `server` with its database replaced by `name` (its `dbname` parameter removed); user,
/// password, host, port and the other parameters kept.
fn scratch_url(server: &str, name: &str) -> String {
    let mut url = url::Url::parse(server).expect("checked by on_this_machine");
    let kept: Vec<(String, String)> = url
        .query_pairs()
        .filter(|(key, _)| key != "dbname")
        .map(|(key, value)| (key.into_owned(), value.into_owned()))
        .collect();
    url.set_path(&format!("/{name}"));
    url.set_query(None);
    if !kept.is_empty() {
        url.query_pairs_mut().extend_pairs(kept);
    }
    url.into()
}

/// Drop the test databases (`crier_t_<created>_<hex>`) made over an hour before `now_secs`:
/// those of a test run that was killed before its own drops.
async fn drop_stale(admin: &mut PgConnection, now_secs: i64) {
    let names: Vec<String> =
        sqlx::query_scalar("SELECT datname FROM pg_database WHERE datname LIKE 'crier\\_t\\_%'")
            .fetch_all(&mut *admin)
            .await
            .unwrap_or_default();
    for name in names {
        let created = name.split('_').nth(2).and_then(|s| s.parse::<i64>().ok());
        if created.is_some_and(|c| c < now_secs - 3600) {
            // Another test run may be dropping it too.
            let drop = format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)");
            let _ = sqlx::raw_sql(sqlx::AssertSqlSafe(drop))
                .execute(&mut *admin)
                .await;
        }
    }
}

impl Drop for ScratchDb {
    /// Drop the database from a thread of its own (this one may be inside the test's
    /// runtime), ending the connections the test's stores left open.
    fn drop(&mut self) {
        let (name, server) = (self.name.clone(), self.server.clone());
        let dropped = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async {
                let mut admin = PgConnection::connect(&server).await?;
                let drop = format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)");
                sqlx::raw_sql(sqlx::AssertSqlSafe(drop))
                    .execute(&mut admin)
                    .await?;
                admin.close().await
            })
        })
        .join();
        if !matches!(dropped, Ok(Ok(()))) && !std::thread::panicking() {
            panic!(
                "the test database {} could not be dropped: {dropped:?}",
                self.name
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_server_on_this_machine_is_accepted() {
        for url in [
            DEFAULT,
            "postgres://postgres@127.0.0.1/test",
            "postgresql://crier:pw@127.8.9.10:6543/crier?sslmode=disable",
            "postgres://postgres@localhost:5432/test",
            "postgres://postgres@LocalHost/test",
            "postgres://postgres@[::1]:5432/test",
            "postgres://postgres@%2Fvar%2Frun%2Fpostgresql/test",
            "postgres://postgres@db.example.com/test?host=/var/run/postgresql",
            "postgres://postgres@db.example.com/test?hostaddr=127.0.0.1",
        ] {
            assert_eq!(on_this_machine(url), Ok(()), "{url}");
        }
        for (url, why) in [
            (
                "postgres://postgres@db.example.com:5432/test",
                "names the host `db.example.com`, which is not this machine",
            ),
            (
                "postgres://postgres@10.0.0.5/test",
                "names the host `10.0.0.5`, which is not this machine",
            ),
            (
                "postgres://postgres@127.0.0.1.example.com/test",
                "names the host `127.0.0.1.example.com`, which is not this machine",
            ),
            (
                "postgres://postgres@[2001:db8::1]/test",
                "names the host `[2001:db8::1]`, which is not this machine",
            ),
            (
                "postgres://postgres@127.0.0.1/test?host=db.example.com",
                "names the host `db.example.com`, which is not this machine",
            ),
            (
                "postgres://postgres@localhost/test?hostaddr=192.0.2.1",
                "names the host `192.0.2.1`, which is not this machine",
            ),
            ("mysql://root@127.0.0.1/test", "is not a postgres:// URL"),
            ("127.0.0.1:5432", "is not a postgres:// URL"),
        ] {
            assert_eq!(on_this_machine(url), Err(why.into()), "{url}");
        }
    }

    #[test]
    fn a_scratch_database_is_on_the_same_server_with_the_same_parameters() {
        let name = "crier_t_1_00000000";
        for (server, scratch) in [
            (
                DEFAULT,
                "postgres://postgres@127.0.0.1:5432/crier_t_1_00000000",
            ),
            (
                "postgres://crier:s%40cret@localhost:6543?sslmode=disable&dbname=test",
                "postgres://crier:s%40cret@localhost:6543/crier_t_1_00000000?sslmode=disable",
            ),
            (
                "postgres://postgres@%2Fvar%2Frun%2Fpostgresql/test",
                "postgres://postgres@%2Fvar%2Frun%2Fpostgresql/crier_t_1_00000000",
            ),
        ] {
            assert_eq!(scratch_url(server, name), scratch, "{server}");
        }
    }
}
