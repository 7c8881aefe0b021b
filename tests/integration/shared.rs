//! What holds on SQLite holds with three real `crier worker` processes on one PostgreSQL
//! journal (each polling every 200 ms): every due schedule becomes exactly one update, sent
//! once to each recipient; a promise's nudges reach each internal channel once and the holding
//! update goes out once; and `crier halt` stops every worker within a second, `crier resume`
//! finishing the blast with every recipient reached once (twice only when in doubt, same id).
//! Counted at real receivers on 127.0.0.1 and in the journal.

use std::collections::{BTreeMap, BTreeSet};
use std::process::Output;
use std::time::{Duration, Instant};

use jiff::{SignedDuration, Timestamp};

use crate::crash::{
    BLAST, Receiver, Running, by_path, check_deliveries_of, crier, hooks_project, hooks_project_of,
    scratch, spawn, status_json,
};
use crate::postgres::Database;
use crate::schedules::terminate;
use crate::support::{Project, stderr, stdout};
use crate::workers::Journal;

/// Workers in every test.
const WORKERS: usize = 3;
/// The workers' `[worker] poll`.
const POLL: Duration = Duration::from_millis(200);

/// Held by the tests whose several workers load both cores for many seconds, or which measure
/// time: one at a time, so a blast of thousands does not bunch another test's rate limit.
pub fn alone() -> std::sync::MutexGuard<'static, ()> {
    static HEAVY: std::sync::Mutex<()> = std::sync::Mutex::new(());
    HEAVY.lock().unwrap_or_else(|e| e.into_inner())
}

/// `p`'s journal on `db`, its workers polling every [`POLL`].
pub fn on_postgres(p: &Project, db: &Database) {
    p.edit(
        "crier.toml",
        "url = \"sqlite:crier.db\"",
        &format!("url = \"{}\"", db.url()),
    );
    p.edit(
        "crier.toml",
        "# [worker]\n# poll = \"1s\"",
        "[worker]\npoll = \"200ms\"",
    );
}

/// `n` recipients, each with a webhook at `{receiver}/hook/cus_N`.
fn small_audience(p: &Project, receiver: &str, n: usize) {
    let mut csv = String::from("id,email,name,webhook_url\n");
    for i in 1..=n {
        csv.push_str(&format!(
            "cus_{i},customer{i}@example.com,Customer {i},{receiver}/hook/cus_{i}\n"
        ));
    }
    p.write("audience.csv", &csv);
}

/// [`WORKERS`] `crier worker` processes in `p`, at the real time, with `env`.
fn start_workers(p: &Project, env: &[(&str, &str)]) -> Vec<Running> {
    let dir = scratch(p);
    (0..WORKERS)
        .map(|i| {
            let mut cmd = crier(p.root(), &["worker"]);
            cmd.envs(env.iter().copied());
            spawn(cmd, &dir, &format!("worker{i}"))
        })
        .collect()
}

/// Stop every worker with SIGTERM; each must have run until then and stop cleanly.
fn stop_workers(mut workers: Vec<Running>) -> Vec<Output> {
    for w in &mut workers {
        assert!(w.child.try_wait().unwrap().is_none(), "a worker stopped");
        terminate(w);
    }
    workers
        .into_iter()
        .map(|w| {
            let out = w.wait_at_most(Duration::from_secs(20));
            assert!(out.status.success(), "{:?}\n{}", out.status, stderr(&out));
            assert!(
                stderr(&out).contains("crier worker: stopped."),
                "{}",
                stderr(&out)
            );
            out
        })
        .collect()
}

/// Poll `done` every 50 ms until it holds; fail saying `what` (and `state()`) after `limit`.
fn wait_until(
    limit: Duration,
    what: &str,
    mut done: impl FnMut() -> bool,
    state: impl Fn() -> String,
) {
    let start = Instant::now();
    while !done() {
        assert!(
            start.elapsed() < limit,
            "{what}: not after {limit:?}\n{}",
            state()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Lets the workers run ten passes more: what they did not do by then, they will not do.
fn ten_more_passes() {
    std::thread::sleep(POLL * 10);
}

fn json(p: &Project, args: &[&str]) -> serde_json::Value {
    let out = crier(p.root(), args).output().unwrap();
    assert!(out.status.success(), "{args:?}: {}", stderr(&out));
    serde_json::from_slice(&out.stdout).unwrap()
}

/// The lines of every worker's stdout containing `what`.
fn logged(outs: &[Output], what: &str) -> Vec<String> {
    outs.iter()
        .flat_map(|o| {
            stdout(o)
                .lines()
                .filter(|l| l.contains(what))
                .map(str::to_string)
                .collect::<Vec<_>>()
        })
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Schedules

#[test]
fn three_workers_on_postgres_turn_each_due_schedule_into_one_update_sent_once() {
    const N: usize = 20;
    /// Due before the workers start, and due together while they run.
    const OVERDUE: usize = 4;
    const SOON: usize = 4;
    let Some(db) = Database::create() else {
        return;
    };
    let receiver = Receiver::start(Duration::ZERO);
    let p = hooks_project(&receiver.uri(), 8);
    on_postgres(&p, &db);
    small_audience(&p, &receiver.uri(), N);

    let hour_ago = (Timestamp::now() - SignedDuration::from_hours(1)).to_string();
    let out = crier(p.root(), &BLAST)
        .env("CRIER_NOW", &hour_ago)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(receiver.count(), N, "the outage notice");
    let schedule = |i: usize, at: &str, now: Option<&str>| {
        let progress = format!("progress=Step {i}: we are moving checkout back.");
        let mut cmd = crier(
            p.root(),
            &[
                "schedule",
                "update",
                "--incident",
                "INC-1",
                "--at",
                at,
                "--set",
                &progress,
                "--set",
                "next_update=in 30 minutes",
            ],
        );
        if let Some(now) = now {
            cmd.env("CRIER_NOW", now);
        }
        let out = cmd.output().unwrap();
        assert!(out.status.success(), "{}", stderr(&out));
    };
    // Made an hour ago, due half an hour ago.
    for i in 0..OVERDUE {
        schedule(i, "+30m", Some(&hour_ago));
    }
    // Due all at the same moment, a few seconds after the workers start polling.
    let soon = Timestamp::now() + SignedDuration::from_secs(4);
    for i in OVERDUE..OVERDUE + SOON {
        schedule(i, &soon.to_string(), None);
    }

    let workers = start_workers(&p, &[]);
    let total = N * (1 + OVERDUE + SOON);
    let all_sent = || {
        let list = json(&p, &["schedule", "list", "--json"]);
        list.as_array()
            .unwrap()
            .iter()
            .all(|s| s["state"] == "sent")
    };
    wait_until(
        Duration::from_secs(30),
        "every schedule sent",
        || receiver.count() >= total && all_sent(),
        || format!("{} requests of {total}", receiver.count()),
    );
    assert!(
        Timestamp::now() > soon,
        "the later schedules came due while the workers ran"
    );
    ten_more_passes();
    let outs = stop_workers(workers);
    assert_eq!(receiver.count(), total, "requests in all");

    // One update per schedule, each naming its own schedule, each sent to every recipient.
    let shown = json(&p, &["incident", "show", "INC-1", "--json"]);
    let updates = shown["updates"].as_array().unwrap();
    assert_eq!(updates.len(), 1 + OVERDUE + SOON, "one update per schedule");
    let senders: BTreeSet<&str> = updates[1..]
        .iter()
        .map(|u| u["sent_by"].as_str().unwrap())
        .collect();
    let expected: BTreeSet<String> = (1..=OVERDUE + SOON)
        .map(|id| format!("crier (schedule {id})"))
        .collect();
    assert_eq!(
        senders,
        expected.iter().map(String::as_str).collect::<BTreeSet<_>>()
    );
    for u in &updates[1..] {
        assert_eq!(u["deliveries"]["hooks"]["sent"], N, "{u:#}");
    }
    // At the receiver: each recipient got each update once (one webhook-id per update, none
    // repeated), and no two recipients share an id.
    let hits = receiver.hits();
    let paths = by_path(&hits);
    assert_eq!(paths.len(), N);
    let mut every_id = BTreeSet::new();
    for (path, ids) in &paths {
        let distinct: BTreeSet<&String> = ids.iter().collect();
        assert_eq!(ids.len(), 1 + OVERDUE + SOON, "{path}: {ids:?}");
        assert_eq!(distinct.len(), ids.len(), "{path} got one twice: {ids:?}");
        every_id.extend(ids.iter().cloned());
    }
    assert_eq!(every_id.len(), total, "an id sent to two recipients");
    // Each schedule was taken by one worker, and the logs say so once in all.
    let mut by_worker = Vec::new();
    for id in 1..=OVERDUE + SOON {
        let lines = logged(&outs, &format!("schedule {id}: "));
        assert_eq!(lines.len(), 1, "schedule {id}: {lines:#?}");
    }
    for o in &outs {
        by_worker.push(stdout(o).matches("schedule ").count());
    }
    eprintln!(
        "{} schedules ({OVERDUE} overdue, {SOON} due together) × {N} recipients: \
         {total} requests in all, {} updates; log lines per worker {by_worker:?}",
        OVERDUE + SOON,
        updates.len()
    );
}

// ---------------------------------------------------------------------------------------------
// Nudges and the holding update

#[test]
fn three_workers_on_postgres_nudge_each_internal_channel_once_and_send_one_holding_update() {
    const N: usize = 20;
    let Some(db) = Database::create() else {
        return;
    };
    let receiver = Receiver::start(Duration::ZERO);
    // Two internal channels, standing in for the people on duty's chat rooms.
    let chat = Receiver::keeping_raw();
    let p = hooks_project(&receiver.uri(), 8);
    on_postgres(&p, &db);
    small_audience(&p, &receiver.uri(), N);
    for (name, var) in [
        ("ops-slack", "OPS_SLACK_URL"),
        ("ops-mattermost", "OPS_MM_URL"),
    ] {
        p.write(
            &format!("channels/{name}.toml"),
            &format!("type = \"slack\"\nurl_env = \"{var}\"\ninternal = true\n"),
        );
    }
    p.append(
        "crier.toml",
        "\n[promises]\nauto_holding_update = true\nholding_after = \"3s\"\n",
    );
    let slack = format!("{}/services/slack", chat.uri());
    let mattermost = format!("{}/services/mattermost", chat.uri());
    let env = [
        ("OPS_SLACK_URL", slack.as_str()),
        ("OPS_MM_URL", mattermost.as_str()),
    ];

    // The outage notice promises the next update "in 30 minutes" from 30 minutes ago plus a
    // few seconds: due a few seconds after the workers start, the holding update 3 s later.
    let due = Timestamp::from_second(Timestamp::now().as_second() + 5).unwrap();
    let sent_at = (due - SignedDuration::from_mins(30)).to_string();
    let out = crier(p.root(), &BLAST)
        .env("CRIER_NOW", &sent_at)
        .envs(env)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(receiver.count(), N, "the outage notice");
    assert_eq!(
        chat.count(),
        0,
        "customer messages never go to an internal channel"
    );
    let shown = json(&p, &["incident", "show", "INC-1", "--json"]);
    assert_eq!(shown["updates"][0]["next_update_at"], due.to_string());

    let workers = start_workers(&p, &env);
    let joined = Timestamp::now();
    let holding_at = due + SignedDuration::from_secs(3);
    wait_until(
        Duration::from_secs(30),
        "the holding update sent",
        || receiver.count() >= 2 * N && Timestamp::now() > holding_at,
        || format!("{} requests, {} nudges", receiver.count(), chat.count()),
    );
    ten_more_passes();
    let outs = stop_workers(workers);

    // Each internal channel: one nudge before the promised update is due (the workers ran
    // before it was), one when it was missed; none after, though every worker's every pass
    // saw the promise.
    let hits = chat.hits();
    let paths = by_path(&hits);
    let per_channel: BTreeMap<&str, usize> = paths
        .iter()
        .map(|(p, ids)| (p.as_str(), ids.len()))
        .collect();
    eprintln!(
        "nudges per internal channel {per_channel:?}; workers started {:.1} s before the due time",
        due.duration_since(joined).as_secs_f64()
    );
    assert!(
        joined < due,
        "the workers started after the promise was due"
    );
    assert_eq!(
        per_channel,
        BTreeMap::from([("/services/mattermost", 2), ("/services/slack", 2)]),
    );
    for (path, said) in [
        ("/services/slack", "is due at"),
        ("/services/slack", "is overdue"),
        ("/services/mattermost", "is due at"),
        ("/services/mattermost", "is overdue"),
    ] {
        let posts = hits
            .iter()
            .filter(|h| h.path == path && String::from_utf8_lossy(&h.raw).contains(said))
            .count();
        assert_eq!(posts, 1, "{path}: posts saying `{said}`");
    }
    // A worker logs a nudge when it posted it to an internal channel: each of the two was
    // logged by one worker, or by two that took a channel each.
    let nudges = logged(&outs, "nudge: INC-1");
    let distinct: BTreeSet<&str> = nudges
        .iter()
        .map(|l| l.split_once("nudge: ").unwrap().1)
        .collect();
    assert_eq!(distinct.len(), 2, "{nudges:#?}");
    assert!(nudges.len() <= 4, "{nudges:#?}");

    // One holding update: one schedule, one update on the timeline, one message per recipient.
    let holding = logged(&outs, "sending the holding update");
    assert_eq!(holding.len(), 1, "{holding:#?}");
    let list = json(&p, &["schedule", "list", "--json"]);
    assert_eq!(list.as_array().unwrap().len(), 1, "{list:#}");
    assert_eq!(list[0]["state"], "sent", "{list:#}");
    assert_eq!(list[0]["origin"], "holding", "{list:#}");
    let shown = json(&p, &["incident", "show", "INC-1", "--json"]);
    let updates = shown["updates"].as_array().unwrap();
    assert_eq!(updates.len(), 2, "{shown:#}");
    assert_eq!(updates[1]["sent_by"], "crier (holding update, schedule 1)");
    assert_eq!(updates[1]["deliveries"]["hooks"]["sent"], N);
    assert_eq!(receiver.count(), 2 * N, "requests in all");
    for (path, ids) in by_path(&receiver.hits()) {
        assert_eq!(ids.len(), 2, "{path}: {ids:?}");
        assert_ne!(
            ids[0], ids[1],
            "{path}: the holding update is a message of its own"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Halt and resume

/// Each worker claims up to 4,096 rows ahead of its sends (`delivery::worker::WINDOW`): with
/// fewer than 8,193 rows, two workers hold them all and the third has nothing to send.
const RECIPIENTS: usize = 8_500;
/// Slow enough that the halt lands mid-way.
const DELAY: Duration = Duration::from_millis(5);
const IN_FLIGHT: u32 = 16;
/// What `crier halt` promises.
const WITHIN: Duration = Duration::from_secs(1);

#[test]
fn halt_stops_three_workers_on_postgres_within_a_second_and_resume_finishes_once() {
    let Some(db) = Database::create() else {
        return;
    };
    let _alone = alone();
    let receiver = Receiver::start(DELAY);
    let p = hooks_project_of(&receiver.uri(), IN_FLIGHT, RECIPIENTS);
    on_postgres(&p, &db);
    let journal = Journal::new(&db);
    let mut blast = BLAST.to_vec();
    blast.push("--enqueue-only");
    let out = crier(p.root(), &blast).output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(receiver.count(), 0, "nothing sent by the blast");

    let workers = start_workers(&p, &[]);
    let start = Instant::now();
    // All three are sending before the halt.
    wait_until(
        Duration::from_secs(30),
        "three workers sending",
        || journal.runs() >= WORKERS as i64 && receiver.count() >= 300,
        || format!("{} runs, {} requests", journal.runs(), receiver.count()),
    );
    let halt = crier(p.root(), &["halt", "INC-1"]).output().unwrap();
    let halted = Instant::now();
    assert!(halt.status.success(), "{}", stderr(&halt));
    let at_halt = receiver.count();

    // Past the promise (and the requests in flight then, each held `DELAY`), and a little
    // more: whatever a worker would still start, it would have by now.
    let bound = halted + WITHIN + DELAY;
    while Instant::now() < bound + Duration::from_millis(500) {
        std::thread::sleep(Duration::from_millis(50));
    }
    let hits = receiver.hits();
    let late = hits.iter().filter(|h| h.at > bound).count();
    let after: Vec<u128> = hits
        .iter()
        .filter_map(|h| h.at.checked_duration_since(halted))
        .map(|d| d.as_millis())
        .collect();
    eprintln!(
        "halt after {:.1} s: {at_halt} requests when `crier halt` returned, {} after it \
         (the last {} ms after), {} in all of {RECIPIENTS}",
        halted.duration_since(start).as_secs_f64(),
        after.len(),
        after.iter().max().copied().unwrap_or(0),
        hits.len()
    );
    assert_eq!(
        late, 0,
        "requests started more than {WITHIN:?} + {DELAY:?} after the halt"
    );
    let states = journal.states();
    let pending = states
        .get(&("hooks".to_string(), "pending".to_string()))
        .copied()
        .unwrap_or(0);
    assert!(pending > 0, "rows left pending: {states:?}");
    assert!(hits.len() < RECIPIENTS, "the halt stopped nothing");
    assert_eq!(status_json(&p)["halted"], true);

    // Resume: it lifts the halt and joins the workers; together they finish the update.
    let resumed = Instant::now();
    let out = crier(p.root(), &["resume", "INC-1"]).output().unwrap();
    let text = stdout(&out);
    assert!(out.status.success(), "{text}{}", stderr(&out));
    assert!(text.contains("Lifted the halt on INC-1."), "{text}");
    wait_until(
        Duration::from_secs(60),
        "every row sent after the resume",
        || journal.all_sent(RECIPIENTS as i64),
        || format!("{:?}", journal.states()),
    );
    let finished = resumed.elapsed();
    ten_more_passes();
    let outs = stop_workers(workers);
    // No worker's run failed on the way (the halt once deadlocked the heartbeat and the
    // journal writer: the run ended, and its rows waited out the lease to be sent again).
    let failed = logged(&outs, "failed:");
    assert!(failed.is_empty(), "{failed:#?}");
    let ran = outs
        .iter()
        .filter(|o| stdout(o).contains("update 1 of INC-1: "))
        .count();
    assert_eq!(ran, WORKERS, "every worker sent some of it");

    let hits = receiver.hits();
    let twice = check_deliveries_of(&hits, RECIPIENTS);
    let in_doubt = journal.in_doubt("hooks");
    eprintln!(
        "resume: finished {:.1} s after `crier resume` started; {} requests in all, \
         {} recipients twice, {} rows in doubt",
        finished.as_secs_f64(),
        hits.len(),
        twice.len(),
        in_doubt.len()
    );
    assert!(
        twice.is_subset(&in_doubt),
        "got it twice without being in doubt: {:?}",
        twice.difference(&in_doubt).collect::<Vec<_>>()
    );
    assert_eq!(hits.len(), RECIPIENTS + twice.len());
    let status = status_json(&p);
    assert_eq!(status["halted"], false);
    assert_eq!(status["channels"]["hooks"]["sent"], RECIPIENTS as u64);
}
