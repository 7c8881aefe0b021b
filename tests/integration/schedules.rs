//! Schedules, the worker and the incident lifecycle: follow-ups due across a DST change sent
//! once each through worker restarts (injected clock), two workers and `run-due` racing on one
//! journal (the real binary), the follow-up a resolution schedules and a reopening cancels.

use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

use crier::delivery::request;
use crier::schedule::Due;
use crier::store::{self, NewSchedule, Origin, ScheduleState, Store};
use jiff::{SignedDuration, Timestamp};

use crate::crash::{Running, scratch, spawn};
use crate::support::{OUTAGE, Project, stderr, stdout};

/// One recipient, so a thousand blasts stay quick.
const ONE_RECIPIENT: &str = "id,email,name,locale,segments,intercom_user_id,webhook_url\n\
                             cus_1,ana@example.com,Ana,en,,,\n";

fn follow_up_slots() -> std::collections::BTreeMap<String, String> {
    [
        (
            "summary_of_cause",
            "Our switch to the backup database failed.",
        ),
        ("changes", "We now test that switch every week."),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect()
}

/// The schedules of `store`, by id.
fn schedules(rt: &tokio::runtime::Runtime, store: &store::Backend) -> Vec<store::Schedule> {
    rt.block_on(store.schedules(None)).unwrap()
}

#[test]
fn a_thousand_follow_ups_across_the_dst_change_go_out_once_each_on_time_through_worker_restarts() {
    let p = Project::init();
    p.write("audience.csv", ONE_RECIPIENT);
    // The incident opened on Saturday 24 October 2026, 11:00 in Berlin (summer time, UTC+2).
    let opened: Timestamp = "2026-10-24T09:00:00Z".parse().unwrap();
    let out = p.crier_env(
        &[&OUTAGE[..], &["--yes"]].concat(),
        &[("CRIER_NOW", "2026-10-24T09:00:00Z")],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let project = Arc::new(p.load());
    let tz = project.config.time_zone.clone();
    let url = project.config.store_url.clone();
    let root = project.config.root.clone();
    let open =
        |rt: &tokio::runtime::Runtime| Arc::new(rt.block_on(store::open(&url, &root)).unwrap());

    // 1,000 follow-ups, scheduled "in 24h" one every 0.75 s from 11:30 CEST: due the next
    // day, after the clocks went back at 03:00 CEST on Sunday 25 October, so due at 10:30 CET
    // onwards (24 hours later is an hour earlier on the wall clock).
    let rt = tokio::runtime::Runtime::new().unwrap();
    let store = open(&rt);
    let incident = rt.block_on(store.incident("INC-1")).unwrap().unwrap();
    let first = opened + SignedDuration::from_mins(30);
    for i in 0..1_000i64 {
        let at = first + SignedDuration::from_millis(750 * i);
        let due_at = crier::time::parse_future("in 24h", at, &tz).unwrap();
        let new = NewSchedule {
            incident_id: "INC-1".into(),
            kind: "follow-up".into(),
            slots: follow_up_slots(),
            channels: None,
            audience: None,
            due_at,
            typed: "in 24h".into(),
            origin: Origin::Operator,
            created_by: "test".into(),
        };
        if i % 100 == 0 {
            // The preflight `crier schedule` runs (it renders every format: a sample is enough).
            request::check_schedule(&project, &new, &incident).unwrap();
        }
        rt.block_on(store.add_schedule(&new, at)).unwrap();
    }
    let planned = schedules(&rt, &store);
    assert_eq!(planned.len(), 1_000);
    let first_due = planned[0].due_at;
    assert_eq!(first_due.to_string(), "2026-10-25T09:30:00Z");
    assert_eq!(
        tz.to_datetime(first_due).to_string(),
        "2026-10-25T10:30:00",
        "24 h after 11:30 CEST is 10:30 CET"
    );
    drop(store);
    drop(rt);

    // The worker polls every second from 10 s before the first due time until 5 s after the
    // last; it is restarted three times while follow-ups are due, the second time killed in
    // the middle of a pass (its sends aborted, as by SIGKILL).
    let poll = SignedDuration::from_secs(1);
    let last_due = planned[999].due_at;
    let restarts = [
        first_due + SignedDuration::from_secs(100),
        first_due + SignedDuration::from_secs(300),
        first_due + SignedDuration::from_secs(500),
    ];
    let mut now = first_due - SignedDuration::from_secs(10);
    let mut life = 0;
    while now <= last_due + SignedDuration::from_secs(5) {
        let rt = tokio::runtime::Runtime::new().unwrap();
        let store = open(&rt);
        let quiet: crier::schedule::Log = Arc::new(|_, _| {});
        let mut due = Due::new(
            project.clone(),
            store,
            Arc::new(AtomicBool::new(false)),
            quiet,
        );
        let end = restarts.get(life).copied().unwrap_or(Timestamp::MAX);
        while now < end && now <= last_due + SignedDuration::from_secs(5) {
            rt.block_on(due.pass(now)).unwrap();
            if life == 1 && now + poll >= end {
                break; // killed: whatever this pass started is aborted below
            }
            rt.block_on(due.drain());
            now += poll;
        }
        if life == 1 {
            now += poll;
        }
        drop(due); // aborts any send still running
        drop(rt);
        life += 1;
    }
    assert_eq!(life, 4, "three restarts");

    let rt = tokio::runtime::Runtime::new().unwrap();
    let store = open(&rt);
    let updates = rt.block_on(store.updates("INC-1")).unwrap();
    let done = schedules(&rt, &store);
    let mut seen = std::collections::BTreeSet::new();
    for s in &done {
        assert_eq!(s.state, ScheduleState::Sent, "schedule {}", s.id);
        let id = s.update_id.expect("sent schedules name their update");
        assert!(seen.insert(id), "update {id} serves two schedules");
        let u = updates.iter().find(|u| u.id == id).unwrap();
        let late = u.created_at.duration_since(s.due_at);
        assert!(
            late >= SignedDuration::ZERO && late <= poll,
            "schedule {} due {} went out at {} ({late:?} after)",
            s.id,
            s.due_at,
            u.created_at
        );
        assert_eq!(u.sent_by, format!("crier (schedule {})", s.id));
        let counts = rt.block_on(store.counts(id)).unwrap();
        let file = &counts["file"];
        assert_eq!((file.sent, file.unsent(), file.undelivered()), (2, 0, 0));
    }
    // One update for the outage notice, one per follow-up: nothing planned twice.
    assert_eq!(updates.len(), 1 + 1_000);
    let outboxes = std::fs::read_dir(p.root().join("outbox")).unwrap().count();
    assert_eq!(outboxes, 1 + 1_000);
}

/// `crier ARGS` in the project at the real time, output to files in the scratch folder.
fn crier_now(p: &Project, args: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_crier"));
    cmd.current_dir(p.root())
        .args(args)
        .env_remove("CRIER_CONFIG")
        .env_remove("CRIER_NOW")
        .env("NO_COLOR", "1")
        .stdin(std::process::Stdio::null());
    cmd
}

fn schedule_list(p: &Project) -> serde_json::Value {
    let out = crier_now(p, &["schedule", "list", "--json"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    serde_json::from_slice(&out.stdout).unwrap()
}

/// Ask `r` to stop, as Ctrl-C would (SIGTERM).
pub fn terminate(r: &Running) {
    let pid = r.child.id().to_string();
    let status = Command::new("kill").args(["-TERM", &pid]).status().unwrap();
    assert!(status.success());
}

#[test]
fn two_workers_and_run_due_plan_every_schedule_once() {
    let p = Project::init();
    // Schedules made an hour ago, due half an hour ago: due for workers running now.
    let hour_ago = (Timestamp::now() - SignedDuration::from_hours(1)).to_string();
    let out = p.crier_env(
        &[&OUTAGE[..], &["--yes"]].concat(),
        &[("CRIER_NOW", &hour_ago)],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    const N: usize = 12;
    for i in 0..N {
        let progress = format!("progress=Step {i}: we are moving checkout back.");
        let out = p.crier_env(
            &[
                "schedule",
                "update",
                "--incident",
                "INC-1",
                "--at",
                "+30m",
                "--set",
                &progress,
                "--set",
                "next_update=in 30 minutes",
            ],
            &[("CRIER_NOW", &hour_ago)],
        );
        assert!(out.status.success(), "{}", stderr(&out));
    }
    let dir = scratch(&p);
    let a = spawn(crier_now(&p, &["worker"]), &dir, "worker-a");
    let b = spawn(crier_now(&p, &["worker"]), &dir, "worker-b");
    let once = crier_now(&p, &["run-due"]).output().unwrap();
    assert!(once.status.success(), "{}", stderr(&once));

    let started = Instant::now();
    let all_sent = |list: &serde_json::Value| {
        list.as_array()
            .unwrap()
            .iter()
            .all(|s| s["state"] == "sent")
    };
    let mut list = schedule_list(&p);
    while !all_sent(&list) && started.elapsed() < Duration::from_secs(60) {
        std::thread::sleep(Duration::from_millis(100));
        list = schedule_list(&p);
    }
    terminate(&a);
    terminate(&b);
    let a = a.wait_at_most(Duration::from_secs(20));
    let b = b.wait_at_most(Duration::from_secs(20));
    assert!(all_sent(&list), "not all sent: {list:#}");
    assert!(
        a.status.success(),
        "worker a: {:?}\n{}",
        a.status,
        stderr(&a)
    );
    assert!(
        b.status.success(),
        "worker b: {:?}\n{}",
        b.status,
        stderr(&b)
    );
    assert!(
        stderr(&a).contains("crier worker: stopped."),
        "{}",
        stderr(&a)
    );

    let out = crier_now(&p, &["incident", "show", "INC-1", "--json"])
        .output()
        .unwrap();
    let shown: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let updates = shown["updates"].as_array().unwrap();
    assert_eq!(updates.len(), 1 + N, "one update per schedule");
    let mut by_schedule = std::collections::BTreeSet::new();
    for u in &updates[1..] {
        assert!(by_schedule.insert(u["sent_by"].as_str().unwrap().to_string()));
        assert_eq!(u["deliveries"]["file"]["sent"], 6, "{u:#}");
    }
    // Each schedule was sent by one of the three, and the logs say so once in all.
    let logs = format!("{}{}{}", stdout(&a), stdout(&b), stdout(&once));
    for s in list.as_array().unwrap() {
        let line = format!("schedule {}: ", s["id"]);
        assert_eq!(logs.matches(&line).count(), 1, "{line}\n{logs}");
    }
}

#[test]
fn resolving_schedules_the_follow_up_and_reopening_cancels_it() {
    let p = Project::init();
    let out = p.crier(&[&OUTAGE[..], &["--yes"]].concat());
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("INC-1 is open: investigating."));

    // The follow-up needs words only a person can give: asked for before anything is sent.
    let resolve = [
        "blast",
        "resolution-thanks",
        "--incident",
        "INC-1",
        "--set",
        "fixed_at=14:00",
        "--yes",
    ];
    let out = p.crier(&resolve);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(
        err.contains("the follow-up this resolution schedules for Fri 27 Nov, 10:00 CET"),
        "{err}"
    );
    assert!(
        err.contains("--follow-up-set summary_of_cause=") && err.contains("--no-follow-up"),
        "{err}"
    );

    let with_follow_up = [
        &resolve[..],
        &[
            "--follow-up-set",
            "summary_of_cause=Our switch to the backup failed.",
            "--follow-up-set",
            "changes=We test it every week now.",
        ],
    ]
    .concat();
    let out = p.crier(&with_follow_up);
    assert!(out.status.success(), "{}", stderr(&out));
    let said = stdout(&out);
    assert!(said.contains("INC-1: investigating → resolved."), "{said}");
    assert!(
        said.contains("The follow-up is scheduled for Fri 27 Nov, 10:00 CET (schedule 1"),
        "{said}"
    );

    // A new customer update reopens it, says so, and calls the follow-up off.
    let out = p.crier(&[
        "blast",
        "update",
        "--incident",
        "INC-1",
        "--set",
        "progress=Checkout fails again.",
        "--next-update-in",
        "30m",
        "--yes",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let said = stdout(&out);
    assert!(
        said.contains("INC-1 was resolved and is reopened: investigating."),
        "{said}"
    );
    assert!(
        said.contains(
            "The follow-up scheduled for Fri 27 Nov, 10:00 CET (schedule 1) is cancelled"
        ),
        "{said}"
    );
    assert!(
        said.contains("Next update promised for 14:35 CET"),
        "{said}"
    );

    // Resolving again schedules a new one.
    let again = [
        &with_follow_up[..],
        &["--set", "check=your orders from today"],
    ]
    .concat();
    let out = p.crier(&again);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("(schedule 2"), "{}", stdout(&out));

    let out = p.crier(&["schedule", "list", "--json"]);
    let list: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let states: Vec<(&str, &str, &str)> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["state"].as_str().unwrap(),
                s["origin"].as_str().unwrap(),
                s["kind"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        states,
        [
            ("cancelled", "resolution", "follow-up"),
            ("pending", "resolution", "follow-up")
        ]
    );

    // The promise is on the timeline; a follow-up on the resolved incident keeps it resolved,
    // and a contradiction is refused.
    let out = p.crier(&["incident", "show", "INC-1", "--json"]);
    let shown: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let updates = shown["updates"].as_array().unwrap();
    let statuses: Vec<&str> = updates
        .iter()
        .map(|u| u["status"].as_str().unwrap())
        .collect();
    assert_eq!(
        statuses,
        ["investigating", "resolved", "investigating", "resolved"]
    );
    assert_eq!(updates[2]["next_update_at"], "2026-11-26T13:35:00Z");
    assert_eq!(updates[3]["next_update_at"], serde_json::Value::Null);
    let out = p.crier(&[
        "blast",
        "follow-up",
        "--incident",
        "INC-1",
        "--status",
        "identified",
        "--set",
        "summary_of_cause=x",
        "--set",
        "changes=y",
        "--yes",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out)
            .contains("`follow-up` follows a resolution and does not reopen incident `INC-1`"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn a_schedule_is_checked_when_made_and_again_when_due() {
    let p = Project::init();
    let out = p.crier(&[&OUTAGE[..], &["--yes"]].concat());
    assert!(out.status.success(), "{}", stderr(&out));

    // Refused now, not at 10:00 tomorrow: a missing slot, a time in the past, no incident.
    let refused = |args: &[&str], says: &str| {
        let out = p.crier(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(stderr(&out).contains(says), "{args:?}: {}", stderr(&out));
    };
    let update = ["schedule", "update", "--set", "progress=x", "--incident"];
    refused(
        &[
            "schedule",
            "follow-up",
            "--incident",
            "INC-1",
            "--at",
            "tomorrow 10:00",
        ],
        "`follow-up` needs a value for slot `changes`",
    );
    refused(
        &[&update[..], &["INC-1", "--at", "09:00"]].concat(),
        "`09:00` means 09:00 CET, which is in the past",
    );
    refused(
        &[&update[..], &["INC-9", "--at", "+1h"]].concat(),
        "there is no incident `INC-9` to schedule for",
    );

    let out = p.crier(&[
        "schedule",
        "update",
        "--incident",
        "INC-1",
        "--at",
        "tomorrow 10:00",
        "--set",
        "progress=We are still on it.",
        "--set",
        "next_update=in 30 minutes",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("Scheduled `update` for INC-1 at Fri 27 Nov, 10:00 CET (2026-11-27T09:00:00Z): schedule 1."),
        "{}",
        stdout(&out)
    );
    let out = p.crier(&[
        "schedule",
        "follow-up",
        "--incident",
        "INC-1",
        "--at",
        "tomorrow 11:00",
        "--set",
        "summary_of_cause=x",
        "--set",
        "changes=y",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));

    // Not due yet at 14:05: nothing happens.
    let out = p.crier(&["run-due"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out), "");

    // The wording changed after scheduling and nobody approved it: when due, the schedule
    // fails and nothing of it is sent.
    p.edit(
        "templates/update.toml",
        "we're still working on it{% endif %}",
        "we keep working on it{% endif %}",
    );
    let out = p.crier_env(&["run-due"], &[("CRIER_NOW", "2026-11-27T09:00:00Z")]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out)
            .contains("schedule 1 (`update` for INC-1) failed its preflight; nothing was sent"),
        "{}",
        stdout(&out)
    );
    // The people on duty hear of it (here, with no internal channel, in the worker's log).
    assert!(
        stdout(&out).contains(
            "nudge: INC-1: the `update` scheduled for 10:00 CET was not sent (schedule 1)"
        ),
        "{}",
        stdout(&out)
    );
    let out = p.crier(&["schedule", "list"]);
    let listed = stdout(&out);
    assert!(listed.contains("   1  failed "), "{listed}");
    assert!(listed.contains("   2  pending "), "{listed}");
    let out = p.crier(&["schedule", "cancel", "2"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out)
            .contains("Schedule 2 (`follow-up` for INC-1 at Fri 27 Nov, 11:00 CET) is cancelled"),
        "{}",
        stdout(&out)
    );
    let out = p.crier(&["schedule", "cancel", "1"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("schedule 1 failed already; there is nothing to cancel"),
        "{}",
        stderr(&out)
    );
    let out = p.crier(&["incident", "show", "INC-1", "--json"]);
    let shown: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        shown["updates"].as_array().unwrap().len(),
        1,
        "nothing scheduled was sent"
    );
}

/// `crier ARGS` at the real time, with the test webhook secret.
fn crier_hooks(p: &Project, args: &[&str]) -> Command {
    let mut cmd = crier_now(p, args);
    cmd.env("HOOK_SECRET", crate::http_support::SECRET);
    cmd
}

/// A blast stopped while its messages wait to retry is finished by `crier run-due` (same
/// webhook-id, once each); a blast stopped before it reached everyone is left to the
/// operator (`crier resume`): the worker never continues what someone stopped.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_due_finishes_retries_of_a_stopped_blast_but_not_a_blast_stopped_half_way() {
    use crate::http_support::{Clock, Reply, header, path_of, project, row, webhook_channel};
    use wiremock::matchers::method;
    use wiremock::{Mock, MockServer};

    let server = MockServer::start().await;
    let clock = Clock::default();
    Mock::given(method("POST"))
        .respond_with(clock.responder(|n| match n {
            0..=2 => Reply::status(503).header("retry-after", "2"),
            _ => Reply::status(200),
        }))
        .mount(&server)
        .await;
    let rows: Vec<String> = (1..=3)
        .map(|i| {
            row(
                &format!("cus_{i}"),
                Some(&format!("{}/hook/{i}", server.uri())),
                None,
            )
        })
        .collect();
    let p = project(&[("hooks", webhook_channel(""))], &rows);
    let dir = scratch(&p);
    let blast_args = [&OUTAGE[..], &["--yes"]].concat();
    let blast = spawn(crier_hooks(&p, &blast_args), &dir, "blast");
    let started = Instant::now();
    while server.received_requests().await.unwrap().len() < 3 {
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "the blast never sent"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // All three were answered 503 and wait 2 s to retry: stop the blast now, as Ctrl-C would.
    terminate(&blast);
    let blast = blast.wait_at_most(Duration::from_secs(20));
    assert_eq!(blast.status.code(), Some(1), "{}", stdout(&blast));

    let mut said = String::new();
    while !said.contains("retries of update 1 of INC-1: 3 sent") {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "run-due never retried: {said}"
        );
        let out = crier_hooks(&p, &["run-due"]).output().unwrap();
        assert!(out.status.success(), "{}", stderr(&out));
        said.push_str(&stdout(&out));
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let requests = server.received_requests().await.unwrap();
    let mut ids = std::collections::BTreeMap::<String, Vec<String>>::new();
    for r in &requests {
        ids.entry(path_of(r))
            .or_default()
            .push(header(r, "webhook-id"));
    }
    assert_eq!(ids.len(), 3);
    for (path, sent) in &ids {
        assert_eq!(sent.len(), 2, "{path}: the first try and one retry");
        assert_eq!(sent[0], sent[1], "{path}: the same webhook-id");
    }

    // A blast stopped before it reached everyone: nothing more goes out on `run-due`.
    let slow = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(Clock::default().responder(|_| Reply::status(200)))
        .mount(&slow)
        .await;
    let rows: Vec<String> = (1..=5)
        .map(|i| {
            row(
                &format!("cus_{i}"),
                Some(&format!("{}/hook/{i}", slow.uri())),
                None,
            )
        })
        .collect();
    let q = project(
        &[("hooks", webhook_channel("per_second = 1\nburst = 1"))],
        &rows,
    );
    let blast = spawn(crier_hooks(&q, &blast_args), &scratch(&q), "blast");
    while slow.received_requests().await.unwrap().is_empty() {
        assert!(
            started.elapsed() < Duration::from_secs(40),
            "the second blast never sent"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    terminate(&blast);
    blast.wait_at_most(Duration::from_secs(20));
    let reached = slow.received_requests().await.unwrap().len();
    assert!(reached < 5, "the blast was stopped before the end");
    let out = crier_hooks(&q, &["run-due"]).output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out), "");
    assert_eq!(slow.received_requests().await.unwrap().len(), reached);
}
