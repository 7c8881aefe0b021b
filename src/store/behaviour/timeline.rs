//! The timeline: telling updates (and what a telling does to schedules), the incidents and
//! their updates as `crier incident`, `report` and the status page read them.

use super::*;
use crate::store::ScheduleState;
use crate::template::PastUpdate;

pub(super) async fn a_telling_cancels_the_pending_schedules_of_the_kind_it_names(db: impl Db) {
    let store = db.open().await;
    tell_one_update(&store, "hooks", at(0)).await;
    let follow_up = add(
        &store,
        new_schedule("INC-1", "follow-up", at(86_400)),
        at(1),
    )
    .await;
    let other = add(&store, new_schedule("INC-1", "update", at(86_400)), at(1)).await;
    let i = incident("INC-1", at(0));

    // Naming no kind cancels nothing.
    let second = new_update("hooks", "f2");
    let told = store.tell(telling(&i, &second), at(2)).await.unwrap();
    assert!(told.cancelled.is_empty(), "{told:?}");
    // Naming one cancels the pending schedules of that kind only, and says which.
    let third = new_update("hooks", "f3");
    let t = Telling {
        cancel_follow_ups: Some("follow-up"),
        ..telling(&i, &third)
    };
    let told = store.tell(t, at(3)).await.unwrap();
    let cancelled: Vec<(i64, ScheduleState)> =
        told.cancelled.iter().map(|s| (s.id, s.state)).collect();
    assert_eq!(cancelled, [(follow_up.id, ScheduleState::Cancelled)]);
    let states: Vec<(i64, ScheduleState)> = store
        .schedules(Some("INC-1"))
        .await
        .unwrap()
        .iter()
        .map(|s| (s.id, s.state))
        .collect();
    assert_eq!(
        states,
        [
            (follow_up.id, ScheduleState::Cancelled),
            (other.id, ScheduleState::Pending)
        ]
    );
}

pub(super) async fn a_first_telling_opens_the_incident_with_its_facts_and_update_1(db: impl Db) {
    let store = db.open().await;
    assert_eq!(store.incident("INC-1").await.unwrap(), None);
    let facts = IncidentRow {
        components: vec!["checkout".into(), "api".into()],
        ..incident("INC-1", at(0))
    };
    let new = NewUpdate {
        slots: BTreeMap::from([("cause".into(), "a bad deploy".into())]),
        channels: vec!["hooks".into(), "email".into()],
        audience: Some("eu".into()),
        next_update_at: Some(at(1_800)),
        ..new_update("hooks", "f1")
    };
    let told = store.tell(telling(&facts, &new), at(5)).await.unwrap();
    assert!(!told.continued);
    assert_eq!((told.scheduled, told.cancelled), (None, Vec::new()));

    let u = &told.update;
    assert_eq!((u.incident_id.as_str(), u.seq), ("INC-1", 1));
    assert_eq!(
        (u.kind.as_str(), u.status.as_str()),
        ("outage-notice", "investigating")
    );
    assert_eq!(
        (&u.slots, &u.channels, &u.audience),
        (&new.slots, &new.channels, &new.audience)
    );
    assert_eq!(
        (
            &u.fingerprint,
            &u.content_sha256,
            &u.approved_by,
            &u.sent_by
        ),
        (
            &new.fingerprint,
            &new.content_sha256,
            &new.approved_by,
            &new.sent_by
        )
    );
    assert_eq!((&u.headline, &u.summary), (&new.headline, &new.summary));
    assert_eq!((u.created_at, u.next_update_at), (at(5), Some(at(1_800))));
    assert_eq!(
        (u.planned, u.planned_rows),
        (false, 0),
        "nothing planned yet"
    );
    assert_eq!(store.incident("INC-1").await.unwrap(), Some(facts));
    assert_eq!(store.update(u.id).await.unwrap().as_ref(), Some(u));
}

pub(super) async fn the_same_command_again_continues_the_latest_update_and_changes_nothing(
    db: impl Db,
) {
    let store = db.open().await;
    let first = tell(&store, "INC-1", "f1", at(0)).await.update;
    let pending = add(
        &store,
        new_schedule("INC-1", "follow-up", at(86_400)),
        at(1),
    )
    .await;

    // The same command again, with other facts and effects: it made the latest update.
    let facts = IncidentRow {
        title: "Checkout is back".into(),
        status: Status::Resolved,
        resolved_at: Some(at(10)),
        ..incident("INC-1", at(0))
    };
    let again = new_update("hooks", "f1");
    let follow_up = NewSchedule {
        origin: Origin::Resolution,
        ..new_schedule("INC-1", "follow-up", at(90_000))
    };
    let t = Telling {
        follow_up: Some(&follow_up),
        cancel_follow_ups: Some("follow-up"),
        ..telling(&facts, &again)
    };
    let told = store.tell(t, at(10)).await.unwrap();
    assert!(told.continued);
    assert_eq!(told.update, first, "the update it made before, as it was");
    assert_eq!((told.scheduled, told.cancelled), (None, Vec::new()));

    assert_eq!(
        store.incident("INC-1").await.unwrap(),
        Some(incident("INC-1", at(0))),
        "the facts are those of the first telling"
    );
    assert_eq!(store.updates("INC-1").await.unwrap(), [first]);
    assert_eq!(store.schedules(None).await.unwrap(), [pending]);
}

pub(super) async fn the_same_words_after_another_update_are_a_new_update(db: impl Db) {
    let store = db.open().await;
    tell(&store, "INC-1", "resolved", at(0)).await;
    tell(&store, "INC-1", "reopened", at(1)).await;
    // Resolved again with the same words: only the latest update can be continued.
    let told = tell(&store, "INC-1", "resolved", at(2)).await;
    assert!(!told.continued);
    assert_eq!(told.update.seq, 3);
    assert_eq!(store.updates("INC-1").await.unwrap().len(), 3);
}

pub(super) async fn sequence_numbers_count_from_1_per_incident(db: impl Db) {
    let store = db.open().await;
    let tellings = [
        ("INC-1", "f1"),
        ("INC-2", "f1"),
        ("INC-1", "f2"),
        ("INC-1", "f3"),
        ("INC-2", "f2"),
    ];
    let mut seqs = Vec::new();
    for (i, (id, fingerprint)) in tellings.into_iter().enumerate() {
        let told = tell(&store, id, fingerprint, at(i as i64)).await;
        assert!(
            !told.continued,
            "`{fingerprint}` of another incident is new"
        );
        seqs.push((id, told.update.seq));
    }
    assert_eq!(
        seqs,
        [
            ("INC-1", 1),
            ("INC-2", 1),
            ("INC-1", 2),
            ("INC-1", 3),
            ("INC-2", 2)
        ]
    );
    let timeline = |updates: Vec<Update>| updates.iter().map(|u| u.seq).collect::<Vec<_>>();
    assert_eq!(timeline(store.updates("INC-1").await.unwrap()), [1, 2, 3]);
    assert_eq!(timeline(store.updates("INC-2").await.unwrap()), [1, 2]);
}

pub(super) async fn a_later_telling_sets_the_incidents_facts_and_keeps_its_start(db: impl Db) {
    let store = db.open().await;
    tell(&store, "INC-1", "f1", at(0)).await;
    let facts = IncidentRow {
        id: "INC-1".into(),
        title: "Checkout was failing".into(),
        status: Status::Resolved,
        impact: Impact::Minor,
        components: vec!["checkout".into()],
        started_at: at(40),
        resolved_at: Some(at(50)),
    };
    let resolution = new_update("hooks", "f2");
    store
        .tell(telling(&facts, &resolution), at(50))
        .await
        .unwrap();
    assert_eq!(
        store.incident("INC-1").await.unwrap(),
        Some(IncidentRow {
            started_at: at(0),
            ..facts
        }),
        "it started when it was first told"
    );
}

pub(super) async fn a_follow_up_is_scheduled_with_its_telling_once_while_one_is_pending(
    db: impl Db,
) {
    let store = db.open().await;
    let i = incident("INC-1", at(0));
    let follow_up = NewSchedule {
        slots: BTreeMap::from([("summary_of_cause".into(), "a bad deploy".into())]),
        channels: Some(vec!["hooks".into()]),
        audience: Some("eu".into()),
        typed: "follow_up_after = \"2 days\"".into(),
        origin: Origin::Resolution,
        created_by: "alice".into(),
        ..new_schedule("INC-1", "follow-up", at(172_800))
    };
    let resolve = |fingerprint: &str| new_update("hooks", fingerprint);
    let (first, second, third) = (resolve("r1"), resolve("r2"), resolve("r3"));
    let with_follow_up = |update| Telling {
        follow_up: Some(&follow_up),
        ..telling(&i, update)
    };

    let told = store.tell(with_follow_up(&first), at(10)).await.unwrap();
    let s = told.scheduled.expect("the follow-up is scheduled");
    assert_eq!(
        (&s.incident_id, &s.kind, &s.slots, &s.channels, &s.audience),
        (
            &follow_up.incident_id,
            &follow_up.kind,
            &follow_up.slots,
            &follow_up.channels,
            &follow_up.audience
        )
    );
    assert_eq!(
        (s.due_at, &s.typed, s.origin, &s.created_by),
        (
            at(172_800),
            &follow_up.typed,
            Origin::Resolution,
            &follow_up.created_by
        )
    );
    assert_eq!((s.state, s.created_at), (ScheduleState::Pending, at(10)));
    assert_eq!((s.update_id, &s.error), (None, &None));
    assert_eq!(store.schedule(s.id).await.unwrap().as_ref(), Some(&s));

    // Resolved again while it is pending: no second one.
    let told = store.tell(with_follow_up(&second), at(20)).await.unwrap();
    assert_eq!(told.scheduled, None);
    assert_eq!(
        store.schedules(Some("INC-1")).await.unwrap(),
        std::slice::from_ref(&s)
    );

    // Once it is no longer pending, the next resolution schedules another.
    store.cancel_schedule(s.id, at(30)).await.unwrap();
    let told = store.tell(with_follow_up(&third), at(40)).await.unwrap();
    let again = told.scheduled.expect("a new follow-up");
    assert_ne!(again.id, s.id);
    assert_eq!(again.state, ScheduleState::Pending);
}

pub(super) async fn a_follow_up_is_scheduled_beside_pending_ones_of_another_kind_or_origin(
    db: impl Db,
) {
    let store = db.open().await;
    tell(&store, "INC-2", "f1", at(0)).await;
    let resolution = |id: &str, kind: &str| NewSchedule {
        origin: Origin::Resolution,
        ..new_schedule(id, kind, at(86_400))
    };
    tell(&store, "INC-1", "f1", at(0)).await;
    // The operator's own follow-up, the resolution's reminder, and another incident's.
    add(
        &store,
        new_schedule("INC-1", "follow-up", at(86_400)),
        at(1),
    )
    .await;
    add(&store, resolution("INC-1", "reminder"), at(1)).await;
    add(&store, resolution("INC-2", "follow-up"), at(1)).await;

    let (i, resolve) = (incident("INC-1", at(0)), new_update("hooks", "f2"));
    let follow_up = resolution("INC-1", "follow-up");
    let t = Telling {
        follow_up: Some(&follow_up),
        ..telling(&i, &resolve)
    };
    let told = store.tell(t, at(2)).await.unwrap();
    let s = told
        .scheduled
        .expect("none of the same kind and origin is pending");
    assert_eq!(
        (s.kind.as_str(), s.origin),
        ("follow-up", Origin::Resolution)
    );
    assert_eq!(store.schedules(Some("INC-1")).await.unwrap().len(), 3);
}

pub(super) async fn a_telling_cancels_only_its_incidents_pending_schedules(db: impl Db) {
    let store = db.open().await;
    tell(&store, "INC-1", "f1", at(0)).await;
    tell(&store, "INC-2", "f1", at(0)).await;
    let follow_up = |id: &str| new_schedule(id, "follow-up", at(86_400));
    let pending = add(&store, follow_up("INC-1"), at(1)).await;
    let sent = add(&store, follow_up("INC-1"), at(1)).await;
    let failed = add(&store, follow_up("INC-1"), at(1)).await;
    let elsewhere = add(&store, follow_up("INC-2"), at(1)).await;
    store
        .end_schedule(sent.id, ScheduleState::Sent, None, at(2))
        .await
        .unwrap();
    store
        .end_schedule(
            failed.id,
            ScheduleState::Failed,
            Some("no such kind"),
            at(2),
        )
        .await
        .unwrap();

    let (i, reopen) = (incident("INC-1", at(0)), new_update("hooks", "f2"));
    let t = Telling {
        cancel_follow_ups: Some("follow-up"),
        ..telling(&i, &reopen)
    };
    let told = store.tell(t, at(3)).await.unwrap();
    let cancelled: Vec<i64> = told.cancelled.iter().map(|s| s.id).collect();
    assert_eq!(cancelled, [pending.id]);
    let state = async |id| store.schedule(id).await.unwrap().unwrap().state;
    assert_eq!(state(sent.id).await, ScheduleState::Sent);
    assert_eq!(state(failed.id).await, ScheduleState::Failed);
    assert_eq!(state(elsewhere.id).await, ScheduleState::Pending);
}

pub(super) async fn incidents_are_listed_most_recently_started_first(db: impl Db) {
    let store = db.open().await;
    assert!(store.incidents().await.unwrap().is_empty());
    for (id, started) in [("INC-A", at(0)), ("INC-B", at(600)), ("INC-C", at(300))] {
        let (i, new) = (incident(id, started), new_update("hooks", "f1"));
        store.tell(telling(&i, &new), started).await.unwrap();
    }
    let listed: Vec<String> = store
        .incidents()
        .await
        .unwrap()
        .into_iter()
        .map(|i| i.id)
        .collect();
    assert_eq!(listed, ["INC-B", "INC-C", "INC-A"]);
}

pub(super) async fn an_incident_with_its_timeline_has_its_updates_in_order(db: impl Db) {
    let store = db.open().await;
    assert_eq!(store.incident_with_timeline("INC-1").await.unwrap(), None);
    let mut told = Vec::new();
    for (n, kind) in ["outage-notice", "update", "resolution"].iter().enumerate() {
        let i = incident("INC-1", at(0));
        let new = NewUpdate {
            kind: kind.to_string(),
            headline: format!("headline {n}"),
            summary: format!("summary {n}"),
            ..new_update("hooks", kind)
        };
        let now = at(60 * n as i64);
        told.push(store.tell(telling(&i, &new), now).await.unwrap().update);
    }
    tell(&store, "INC-2", "f1", at(30)).await;

    let timeline = store.incident_with_timeline("INC-1").await.unwrap();
    let timeline = timeline.expect("INC-1 is in the journal");
    let expected = incident("INC-1", at(0)).told(
        told.iter()
            .map(|u| PastUpdate {
                kind: u.kind.clone(),
                at: u.created_at,
                headline: u.headline.clone(),
                summary: u.summary.clone(),
            })
            .collect(),
    );
    assert_eq!(timeline, expected);
    // As update 2 told it: the updates before it.
    let before = crate::store::incident_before(&store, &told[1])
        .await
        .unwrap();
    assert_eq!(before.updates, expected.updates[..1]);
}

pub(super) async fn the_latest_update_is_of_one_incident_or_of_all(db: impl Db) {
    let store = db.open().await;
    assert_eq!(store.latest_update(None).await.unwrap(), None);
    tell(&store, "INC-1", "f1", at(0)).await;
    let other = tell(&store, "INC-2", "f1", at(5)).await.update;
    let latest = tell(&store, "INC-1", "f2", at(10)).await.update;
    assert_eq!(
        store.latest_update(None).await.unwrap(),
        Some(latest.clone())
    );
    assert_eq!(
        store.latest_update(Some("INC-1")).await.unwrap(),
        Some(latest)
    );
    assert_eq!(
        store.latest_update(Some("INC-2")).await.unwrap(),
        Some(other)
    );
    assert_eq!(store.latest_update(Some("INC-3")).await.unwrap(), None);
}

pub(super) async fn updates_list_an_incidents_timeline_and_update_finds_one(db: impl Db) {
    let store = db.open().await;
    let first = tell(&store, "INC-1", "f1", at(0)).await.update;
    tell(&store, "INC-2", "f1", at(1)).await;
    let second = tell(&store, "INC-1", "f2", at(2)).await.update;
    assert_eq!(
        store.updates("INC-1").await.unwrap(),
        [first.clone(), second.clone()]
    );
    assert!(store.updates("INC-3").await.unwrap().is_empty());
    assert_eq!(store.update(second.id).await.unwrap(), Some(second));
    assert_eq!(store.update(first.id).await.unwrap(), Some(first));
    assert_eq!(store.update(-1).await.unwrap(), None);
}

pub(super) async fn the_latest_update_of_an_incident_is_the_last_on_its_timeline_whatever_the_clock(
    db: impl Db,
) {
    let store = db.open().await;
    tell(&store, "INC-1", "f1", at(10)).await;
    // Told by a machine whose clock is behind (or after the clock stepped back).
    let second = tell(&store, "INC-1", "f2", at(5)).await.update;
    assert_eq!(second.seq, 2);
    assert_eq!(
        store.latest_update(Some("INC-1")).await.unwrap(),
        Some(second),
        "`crier status INC-1`, `retry` and `resume` speak of the update told last"
    );
}
