//! The quick start on a PostgreSQL journal: `[store] url = "postgres://…"`, a real blast to the
//! `file` channel, `status` reading it back, and a re-run finding the update.

use crier::store::Store;
use crier::store::postgres::scratch::ScratchDb;

use crate::support::{Project, stderr, stdout};

/// A database of its own on the tests' PostgreSQL server (`CRIER_TEST_POSTGRES_URL`, else this
/// machine's), dropped at the end, with a runtime to reach it from this blocking test.
pub struct Database {
    scratch: ScratchDb,
    pub rt: tokio::runtime::Runtime,
}

impl Database {
    /// `None` when no server is named and this machine's does not answer (the test is then
    /// not run, and says so on stderr).
    pub fn create() -> Option<Database> {
        let rt = tokio::runtime::Runtime::new().unwrap();
        let scratch = rt.block_on(ScratchDb::create())?;
        Some(Database { scratch, rt })
    }

    pub fn url(&self) -> &str {
        self.scratch.url()
    }
}

/// The quick start's blast, without a question.
fn blast() -> Vec<&'static str> {
    [&crate::blast_file::BLAST[..], &["--yes"]].concat()
}

#[test]
fn a_blast_on_a_postgres_journal_sends_every_message_once() {
    let Some(db) = Database::create() else {
        return;
    };
    let p = Project::init();
    p.edit(
        "crier.toml",
        "url = \"sqlite:crier.db\"",
        &format!("url = \"{}\"", db.url()),
    );

    let out = p.crier(&blast());
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

    let again = p.crier(&blast());
    assert!(again.status.success(), "{}", stderr(&again));
    assert!(
        stdout(&again).contains("Update 1 of DEMO-1 was already sent; nothing new to send."),
        "{}",
        stdout(&again)
    );

    // The journal is the database, not a file beside crier.toml.
    assert!(!p.root().join("crier.db").exists());
    let updates = db.rt.block_on(async {
        let store = crier::store::open(db.url(), p.root()).await.unwrap();
        store.updates("DEMO-1").await.unwrap()
    });
    assert_eq!(updates.len(), 1, "the re-run made no second update");
}
