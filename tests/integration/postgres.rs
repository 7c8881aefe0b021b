//! The quick start on a PostgreSQL journal: `[store] url = "postgres://…"`, a real blast to the
//! `file` channel, `status` reading it back, and a re-run finding the update.

use crier::store::Store;
use sqlx::Connection;

use crate::support::{Project, stderr, stdout};

/// The local server the tests use (trust auth), never another machine.
const SERVER: &str = "postgres://postgres@127.0.0.1:5432";

/// A database of its own on the local server, dropped at the end.
pub struct Database {
    name: String,
    pub rt: tokio::runtime::Runtime,
}

impl Database {
    pub fn create() -> Database {
        let rt = tokio::runtime::Runtime::new().unwrap();
        // Named as the store's own tests name theirs, which drop any left over an hour later.
        let secs = jiff::Timestamp::now().as_second();
        let name = format!("crier_t_{secs}_{:08x}", fastrand::u32(..));
        rt.block_on(async {
            let mut admin = sqlx::PgConnection::connect(&format!("{SERVER}/test"))
                .await
                .unwrap_or_else(|e| {
                    panic!(
                        "this test needs PostgreSQL at 127.0.0.1:5432 with trust auth for user \
                         `postgres` and a database `test` ({e}); start it with \
                         `pg_ctlcluster --skip-systemctl-redirect 15 main start`"
                    )
                });
            sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
                .execute(&mut admin)
                .await
                .unwrap();
        });
        Database { name, rt }
    }

    pub fn url(&self) -> String {
        format!("{SERVER}/{}", self.name)
    }
}

impl Drop for Database {
    fn drop(&mut self) {
        let drop = format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name);
        let dropped = self.rt.block_on(async {
            let mut admin = sqlx::PgConnection::connect(&format!("{SERVER}/test")).await?;
            sqlx::raw_sql(sqlx::AssertSqlSafe(drop))
                .execute(&mut admin)
                .await
        });
        if dropped.is_err() && !std::thread::panicking() {
            panic!(
                "the test database {} was not dropped: {dropped:?}",
                self.name
            );
        }
    }
}

const BLAST: [&str; 11] = [
    "blast",
    "outage-notice",
    "--incident",
    "DEMO-1",
    "--title",
    "Checkout is failing",
    "--set",
    "affected=complete a checkout",
    "--set",
    "next_update=in 30 minutes",
    "--yes",
];

#[test]
fn a_blast_on_a_postgres_journal_sends_every_message_once() {
    let db = Database::create();
    let p = Project::init();
    p.edit(
        "crier.toml",
        "url = \"sqlite:crier.db\"",
        &format!("url = \"{}\"", db.url()),
    );

    let out = p.crier(&BLAST);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("file                   6 sent      0 failed      0 not sent yet"),
        "{}",
        stdout(&out)
    );
    let emails = std::fs::read_dir(p.root().join("outbox/DEMO-1-1/email")).unwrap();
    assert_eq!(emails.count(), 5, "one .eml per recipient with an email");

    let status = p.crier(&["status", "DEMO-1", "--json"]);
    assert!(status.status.success(), "{}", stderr(&status));
    let json: serde_json::Value = serde_json::from_slice(&status.stdout).unwrap();
    assert_eq!(json["channels"]["file"]["sent"], 6);
    assert_eq!(json["channels"]["file"]["pending"], 0);
    assert_eq!(json["update"]["seq"], 1);

    let again = p.crier(&BLAST);
    assert!(again.status.success(), "{}", stderr(&again));
    assert!(
        stdout(&again).contains("Update 1 of DEMO-1 was already sent; nothing new to send."),
        "{}",
        stdout(&again)
    );

    // The journal is the database, not a file beside crier.toml.
    assert!(!p.root().join("crier.db").exists());
    let updates = db.rt.block_on(async {
        let store = crier::store::open(&db.url(), p.root()).await.unwrap();
        store.updates("DEMO-1").await.unwrap()
    });
    assert_eq!(updates.len(), 1, "the re-run made no second update");
}
