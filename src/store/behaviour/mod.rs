//! The behaviour every [`Store`] backend owes: each test is a generic function over a [`Db`],
//! and `behaviours!` makes it one `#[tokio::test]` per backend (the `mod` lines at the end:
//! a new backend adds its line and its `Db`). The behaviours are split by concern, as
//! `sqlite/` is: `timeline` (incidents, updates, telling), `journal` (planning, claiming,
//! recording, counting), `schedules` (schedules, promises, nudges), `control` (runs, halts,
//! maintenance, the audit log); `sharing` is what a store several processes share owes
//! besides (PostgreSQL only). They check what a caller sees through the trait (what
//! `crier status`, `report`, the worker or `halt` would show), never a backend's tables;
//! tests of one backend's own details (its files, its statements) stay beside that backend.

mod control;
mod journal;
mod schedules;
mod sharing;
mod timeline;

use std::collections::BTreeMap;

use super::postgres::scratch::ScratchDb;
use super::{
    Delivery, IncidentRow, NewDelivery, NewSchedule, NewUpdate, Origin, Outcome, PlanBatch,
    Schedule, Store, Telling, Told, Update,
};
use crate::template::{Impact, Status};

/// A fresh database for one test: empty (no incident, schedule, halt or switch), since some
/// behaviours read what the whole journal holds (every incident, the totals, every due
/// schedule). Row ids need not start at 1. `open` can be called again: the store it gives
/// then is the next process's (after a crash, say).
pub(crate) trait Db {
    type Store: Store;
    fn open(&self) -> impl Future<Output = Self::Store>;
}

/// A SQLite file in a folder of its own, opened as crier.toml would name it.
pub(crate) struct SqliteDb(tempfile::TempDir);

impl SqliteDb {
    pub(crate) fn new() -> SqliteDb {
        SqliteDb(tempfile::tempdir().unwrap())
    }
}

impl Db for SqliteDb {
    type Store = super::Backend;

    async fn open(&self) -> super::Backend {
        super::open("sqlite:crier.db", self.0.path()).await.unwrap()
    }
}

/// A database of its own on the tests' PostgreSQL server ([`ScratchDb`]: the server
/// `CRIER_TEST_POSTGRES_URL` names, else this machine's), created empty and dropped when the
/// test ends.
pub(crate) struct PostgresDb(ScratchDb);

impl PostgresDb {
    /// Create the database, or `None` when no variable names a server and this machine's does
    /// not answer: the test is then not run (it returns early) and says so on stderr.
    pub(crate) async fn new() -> Option<PostgresDb> {
        ScratchDb::create().await.map(PostgresDb)
    }

    pub(crate) fn url(&self) -> &str {
        self.0.url()
    }
}

impl Db for PostgresDb {
    type Store = super::Backend;

    async fn open(&self) -> super::Backend {
        super::open(self.url(), std::path::Path::new("/nonexistent"))
            .await
            .unwrap()
    }
}

/// `secs` seconds into the tests' day.
pub(crate) fn at(secs: i64) -> jiff::Timestamp {
    jiff::Timestamp::from_second(1_795_000_000 + secs).unwrap()
}

/// `secs` seconds after the lease of a claim made at `at(1)` ran out.
pub(crate) fn past_lease(secs: i64) -> jiff::Timestamp {
    at(1)
        + jiff::SignedDuration::from_millis(super::LEASE_MS)
        + jiff::SignedDuration::from_secs(secs)
}

/// Incident `id`, investigating a major outage, started at `started`.
fn incident(id: &str, started: jiff::Timestamp) -> IncidentRow {
    IncidentRow {
        id: id.into(),
        title: "Checkout is failing".into(),
        status: Status::Investigating,
        impact: Impact::Major,
        components: Vec::new(),
        started_at: started,
        resolved_at: None,
    }
}

/// An update on `channel`; `fingerprint` tells one command from another.
fn new_update(channel: &str, fingerprint: &str) -> NewUpdate {
    NewUpdate {
        kind: "outage-notice".into(),
        status: Status::Investigating,
        slots: BTreeMap::new(),
        fingerprint: fingerprint.into(),
        content_sha256: "c".into(),
        approved_by: "test".into(),
        sent_by: "test".into(),
        channels: vec![channel.into()],
        audience: None,
        headline: "h".into(),
        summary: "s".into(),
        next_update_at: None,
    }
}

/// Telling `update` with the facts `incident`, and nothing done to schedules.
fn telling<'a>(incident: &'a IncidentRow, update: &'a NewUpdate) -> Telling<'a> {
    Telling {
        incident,
        update,
        follow_up: None,
        cancel_follow_ups: None,
    }
}

/// Tell update `fingerprint` (on channel `hooks`) of incident `id` (started at `at(0)`) at
/// `now`.
async fn tell<S: Store>(store: &S, id: &str, fingerprint: &str, now: jiff::Timestamp) -> Told {
    let (incident, new) = (incident(id, at(0)), new_update("hooks", fingerprint));
    store.tell(telling(&incident, &new), now).await.unwrap()
}

/// For tests across the crate: tell one update of incident `INC-1` on `channel` at `now`
/// (not planned yet), as the first update of `store`.
pub(crate) async fn tell_one_update<S: Store>(
    store: &S,
    channel: &str,
    now: jiff::Timestamp,
) -> Update {
    let (incident, new) = (incident("INC-1", now), new_update(channel, "f"));
    store
        .tell(telling(&incident, &new), now)
        .await
        .unwrap()
        .update
}

/// A schedule of `kind` for incident `id`, due at `due`, made by an operator.
fn new_schedule(id: &str, kind: &str, due: jiff::Timestamp) -> NewSchedule {
    NewSchedule {
        incident_id: id.into(),
        kind: kind.into(),
        slots: BTreeMap::new(),
        channels: None,
        audience: None,
        due_at: due,
        typed: "in 24h".into(),
        origin: Origin::Operator,
        created_by: "test".into(),
    }
}

/// Add `new` as an operator would (`crier schedule`), at `now`.
async fn add<S: Store>(store: &S, new: NewSchedule, now: jiff::Timestamp) -> Schedule {
    store.add_schedule(&new, now).await.unwrap()
}

/// A journal row of `channel` for `recipient`, keyed `key`.
fn row(channel: &str, recipient: &str, key: &str) -> NewDelivery {
    NewDelivery {
        channel: channel.into(),
        recipient_id: recipient.into(),
        key: key.into(),
        target: "{}".into(),
    }
}

/// One update planned for `n` recipients on channel `hooks` (keys `key_0`…), in `store`.
pub(crate) async fn planned<S: Store>(store: &S, n: usize) -> Update {
    let update = tell_one_update(store, "hooks", at(0)).await;
    let batch = PlanBatch {
        deliveries: (0..n)
            .map(|i| row("hooks", &format!("cus_{i}"), &format!("key_{i}")))
            .collect(),
        bad_rows: Vec::new(),
        planned_rows: n as u64,
    };
    store.plan(update.id, &batch, at(0)).await.unwrap();
    update
}

pub(crate) fn ids(rows: &[Delivery]) -> Vec<i64> {
    rows.iter().map(|d| d.id).collect()
}

fn keys(rows: &[Delivery]) -> Vec<&str> {
    rows.iter().map(|d| d.key.as_str()).collect()
}

/// Claim the 7 rows of `update` (planned by [`planned`]), begin 6 and record one outcome of
/// each kind: `cus_0` sent (with a provider id), `cus_1` to retry, `cus_2` failed, `cus_3` in
/// doubt and resent, `cus_4` in doubt and skipped, `cus_5` sent, `cus_6` let go unattempted.
pub(crate) async fn record_every_outcome<S: Store>(store: &S, update: &Update) {
    let rows = store.claim(update.id, "hooks", 10, at(1)).await.unwrap();
    assert_eq!(rows.len(), 7);
    let id = |i: usize| rows[i].id;
    // Six are about to be sent; the seventh is let go without an attempt.
    let begun: Vec<i64> = (0..6).map(id).collect();
    store.record(&[], &begun, at(2)).await.unwrap();
    let outcomes = [
        (
            id(0),
            Outcome::Sent {
                provider_id: Some("msg_key_0".into()),
            },
        ),
        (
            id(1),
            Outcome::Retry {
                at: at(60),
                error: "503 from the endpoint".into(),
            },
        ),
        (
            id(2),
            Outcome::Failed {
                error: "404 from the endpoint".into(),
            },
        ),
        (
            id(3),
            Outcome::InDoubt {
                resend: true,
                at: at(30),
                error: "no answer within 15 s".into(),
            },
        ),
        (
            id(4),
            Outcome::InDoubt {
                resend: false,
                at: at(30),
                error: "no answer within 15 s".into(),
            },
        ),
        (id(5), Outcome::Sent { provider_id: None }),
        (id(6), Outcome::Released { at: at(5) }),
    ];
    store.record(&outcomes, &[], at(3)).await.unwrap();
}

/// Every behaviour, as a `#[tokio::test]` on a fresh database of one backend (`$db`, an
/// `Option`: the test is not run when it is `None`): one module per concern.
macro_rules! behaviours {
    ($db:expr) => {
        behaviours!($db;
            timeline: [
                a_first_telling_opens_the_incident_with_its_facts_and_update_1,
                the_same_command_again_continues_the_latest_update_and_changes_nothing,
                the_same_words_after_another_update_are_a_new_update,
                sequence_numbers_count_from_1_per_incident,
                a_later_telling_sets_the_incidents_facts_and_keeps_its_start,
                a_follow_up_is_scheduled_with_its_telling_once_while_one_is_pending,
                a_follow_up_is_scheduled_beside_pending_ones_of_another_kind_or_origin,
                a_telling_cancels_the_pending_schedules_of_the_kind_it_names,
                a_telling_cancels_only_its_incidents_pending_schedules,
                incidents_are_listed_most_recently_started_first,
                an_incident_with_its_timeline_has_its_updates_in_order,
                the_latest_update_is_of_one_incident_or_of_all,
                updates_list_an_incidents_timeline_and_update_finds_one,
                the_latest_update_of_an_incident_is_the_last_on_its_timeline_whatever_the_clock,
            ],
            journal: [
                every_outcome_lands_in_the_journal_as_written,
                a_late_begin_changes_nothing,
                claims_hand_out_each_due_row_once_while_it_is_held,
                a_row_due_again_at_the_same_millisecond_is_claimed_once_the_lane_drains,
                rows_claimed_before_a_crash_are_due_for_the_next_run,
                planning_adds_rows_per_channel_and_records_how_far_it_got,
                a_key_planned_before_is_left_alone_and_reported_as_a_duplicate,
                bad_rows_are_counted_once_each_and_listed_by_row_up_to_the_limit,
                rows_held_by_a_claim_count_as_pending_until_begun,
                retries_are_due_for_finished_blasts_once_their_time_comes,
                a_blast_still_planning_or_sending_has_no_retries_due,
                the_next_due_row_of_a_channel_is_its_earliest_unsent_one,
                failures_list_up_to_the_limit_of_each_kind_in_journal_order,
                requeued_rows_are_due_again_with_their_attempts_counted_afresh,
                a_crash_leftover_is_skipped_in_doubt_when_the_channel_does_not_resend,
                an_update_left_to_the_workers_is_queued_while_it_has_rows_to_send,
                totals_count_the_rows_of_every_update_by_channel_and_state,
            ],
            schedules: [
                a_schedule_is_kept_as_made_and_pending,
                schedules_are_listed_by_due_time_for_one_incident_or_all,
                due_schedules_are_the_pending_and_sending_ones_whose_time_has_come,
                cancelling_a_pending_schedule_calls_it_off,
                cancelling_a_schedule_no_longer_pending_returns_it_unchanged,
                a_due_schedule_becomes_the_next_update_and_is_being_sent,
                a_second_start_of_the_same_schedule_finds_its_update,
                a_schedule_no_longer_pending_becomes_no_update,
                a_schedule_starts_with_the_effects_of_its_telling,
                a_schedule_ends_once,
                failed_schedules_are_listed_until_their_nudge_is_sent_or_given_up,
                a_holding_update_is_scheduled_once_per_promise,
                promises_due_are_the_latest_updates_of_open_incidents_by_promised_time,
                a_promise_is_no_longer_due_once_a_later_update_or_the_resolution_is_told,
                a_nudge_is_taken_once_while_it_is_being_sent,
                an_unfinished_nudge_is_taken_again_after_its_retry_time,
                a_failed_nudge_is_tried_again_after_its_retry_time_up_to_its_attempts,
                a_sent_nudge_is_never_taken_again,
                a_nudge_never_retried_is_taken_once,
            ],
            control: [
                a_run_refuses_another_process_while_its_heartbeat_is_fresh,
                a_run_whose_heartbeat_is_stale_is_taken_over,
                a_heartbeat_keeps_a_run_fresh,
                an_ended_run_lets_the_next_one_start,
                the_same_process_may_start_its_run_again,
                a_run_of_the_same_pid_on_another_host_is_another_process,
                halting_an_incident_stops_only_it,
                halting_everything_stops_every_incident,
                resuming_lifts_only_the_halt_of_its_scope,
                halting_twice_is_one_halt,
                maintenance_is_off_until_switched_on_and_shows_the_last_switch,
                the_audit_log_takes_any_entry_and_changes_nothing_else,
            ],
        );
    };
    ($db:expr; $($concern:ident: [$($name:ident),* $(,)?]),* $(,)?) => {
        $(
            mod $concern {
                $(
                    #[tokio::test]
                    async fn $name() {
                        let Some(db) = $db else { return };
                        $crate::store::behaviour::$concern::$name(db).await;
                    }
                )*
            }
        )*
    };
}

mod sqlite {
    behaviours!(Some(crate::store::behaviour::SqliteDb::new()));
}

mod postgres {
    behaviours!(crate::store::behaviour::PostgresDb::new().await);
    // A store several processes share.
    behaviours!(crate::store::behaviour::PostgresDb::new().await;
        sharing: [
            processes_claiming_at_once_get_different_rows,
            a_dead_processs_rows_go_to_the_others_once_its_lease_runs_out,
            a_heartbeat_renews_the_lease_of_the_rows_its_process_holds,
            every_process_may_send_a_planned_update,
            a_queued_update_whose_sender_died_is_due_once_its_lease_runs_out,
            a_rate_limited_channel_is_one_processs_at_a_time,
        ],
    );
}
