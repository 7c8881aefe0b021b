//! What a store several processes share owes ([`Store::many_senders`]): claims are rows every
//! process sees, held under a lease that the holder's heartbeat renews; a process that stops
//! renewing (killed, its machine gone) loses its rows to the others. Each `db.open()` is
//! another process.

use super::*;
use crate::store::{LEASE_MS, Run};

pub(super) async fn processes_claiming_at_once_get_different_rows(db: impl Db) {
    let (a, b) = (db.open().await, db.open().await);
    assert!(a.many_senders().await);
    let update = planned(&a, 10).await;
    let (first, second) = tokio::join!(
        a.claim(update.id, "hooks", 4, at(1)),
        b.claim(update.id, "hooks", 10, at(1))
    );
    let (first, second) = (first.unwrap(), second.unwrap());
    let mut all: Vec<&str> = keys(&first).into_iter().chain(keys(&second)).collect();
    all.sort();
    let mut every: Vec<String> = (0..10).map(|i| format!("key_{i}")).collect();
    every.sort();
    assert_eq!(all, every, "each row once, to one process");
    // Rows locked by the other claim are skipped, not waited for: `a` may get fewer.
    assert!(first.len() <= 4, "{}", first.len());
}

pub(super) async fn a_dead_processs_rows_go_to_the_others_once_its_lease_runs_out(db: impl Db) {
    let (a, b) = (db.open().await, db.open().await);
    let update = planned(&a, 3).await;
    let rows = a.claim(update.id, "hooks", 3, at(1)).await.unwrap();
    assert!(
        a.record(&[], &[rows[0].id], at(1))
            .await
            .unwrap()
            .is_empty()
    );

    // `a` stops: while its lease runs, its rows are its own, and due to the others only when
    // it runs out.
    assert!(
        b.recover(update.id, "hooks", true, at(5))
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        b.claim(update.id, "hooks", 10, at(5))
            .await
            .unwrap()
            .is_empty()
    );
    let lease_end = at(1) + jiff::SignedDuration::from_millis(LEASE_MS);
    assert_eq!(
        b.next_due(update.id, "hooks").await.unwrap(),
        Some(lease_end)
    );

    let in_doubt = b
        .recover(update.id, "hooks", true, past_lease(0))
        .await
        .unwrap();
    assert_eq!(in_doubt, ["key_0"], "only the row begun may have been sent");
    let taken = b
        .claim(update.id, "hooks", 10, past_lease(1))
        .await
        .unwrap();
    assert_eq!(ids(&taken), ids(&rows), "the same rows, so the same ids");
    assert!(taken[0].in_doubt && !taken[1].in_doubt);

    // `a` wakes up: its begin is refused, its outcome changes nothing.
    let late = a.record(&[], &[rows[1].id], past_lease(2)).await.unwrap();
    assert_eq!(late, [rows[1].id], "not `a`'s to send any more");
    let sent = [(rows[2].id, Outcome::Sent { provider_id: None })];
    a.record(&sent, &[], past_lease(2)).await.unwrap();
    let c = &b.counts(update.id).await.unwrap()["hooks"];
    assert_eq!((c.pending, c.attempting, c.sent), (3, 0, 0), "all `b`'s");
    assert!(
        b.record(&[], &ids(&taken), past_lease(3))
            .await
            .unwrap()
            .is_empty()
    );
}

pub(super) async fn a_heartbeat_renews_the_lease_of_the_rows_its_process_holds(db: impl Db) {
    let (a, b) = (db.open().await, db.open().await);
    let update = planned(&a, 2).await;
    let rows = a.claim(update.id, "hooks", 1, at(1)).await.unwrap();
    a.record(&[], &ids(&rows), at(1)).await.unwrap();
    b.claim(update.id, "hooks", 1, at(1)).await.unwrap();
    // `a` is alive at at(9); `b`, the same pid on the same host, has stopped.
    a.heartbeat(update.id, 1, "h", at(9)).await.unwrap();
    let c = db.open().await;
    assert!(
        c.recover(update.id, "hooks", true, past_lease(1))
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        keys(
            &c.claim(update.id, "hooks", 10, past_lease(1))
                .await
                .unwrap()
        ),
        ["key_1"]
    );
    let renewed_end = at(9) + jiff::SignedDuration::from_millis(LEASE_MS);
    assert_eq!(
        c.recover(
            update.id,
            "hooks",
            true,
            renewed_end + jiff::SignedDuration::from_secs(1)
        )
        .await
        .unwrap(),
        ["key_0"]
    );
}

pub(super) async fn every_process_may_send_a_planned_update(db: impl Db) {
    let (a, b) = (db.open().await, db.open().await);
    let update = planned(&a, 2).await;
    let run = |pid, secs| Run {
        pid,
        host: "h".into(),
        started_at: at(secs),
        heartbeat_at: at(secs),
    };
    // Planning is one process's...
    assert_eq!(
        a.start_run(update.id, &run(1, 1), LEASE_MS).await.unwrap(),
        Ok(())
    );
    assert_eq!(
        b.start_run(update.id, &run(2, 2), LEASE_MS).await.unwrap(),
        Err(run(1, 1))
    );
    // ...sending everyone's.
    a.finish_plan(update.id).await.unwrap();
    assert_eq!(
        b.start_run(update.id, &run(2, 2), LEASE_MS).await.unwrap(),
        Ok(())
    );
    assert_eq!(a.runs(update.id).await.unwrap(), [run(2, 2), run(1, 1)]);
    b.end_run(update.id, 2, "h").await.unwrap();
    assert_eq!(
        b.runs(update.id).await.unwrap().first().cloned(),
        Some(run(1, 1))
    );
}

pub(super) async fn a_queued_update_whose_sender_died_is_due_once_its_lease_runs_out(db: impl Db) {
    let a = db.open().await;
    let update = planned(&a, 1).await;
    a.finish_plan(update.id).await.unwrap();
    a.enqueue(update.id).await.unwrap();
    let rows = a.claim(update.id, "hooks", 1, at(1)).await.unwrap();
    a.record(&[], &ids(&rows), at(1)).await.unwrap();
    drop(a);
    let b = db.open().await;
    assert!(
        b.queued_due(at(5)).await.unwrap().is_empty(),
        "its sender may be alive"
    );
    assert_eq!(b.queued_due(past_lease(0)).await.unwrap(), [update.id]);
}

pub(super) async fn a_rate_limited_channel_is_one_processs_at_a_time(db: impl Db) {
    let (a, b) = (db.open().await, db.open().await);
    let update = planned(&a, 1).await;
    assert!(a.own_channel("mail", at(1)).await.unwrap());
    assert!(!b.own_channel("mail", at(2)).await.unwrap(), "`a` has it");
    assert!(a.own_channel("mail", at(3)).await.unwrap(), "and keeps it");
    assert!(
        b.own_channel("hooks", at(3)).await.unwrap(),
        "another channel is free"
    );

    // `a`'s heartbeat at at(9) keeps it past its first lease; once it stops, `b` takes it.
    a.heartbeat(update.id, 1, "h", at(9)).await.unwrap();
    assert!(!b.own_channel("mail", past_lease(1)).await.unwrap());
    let renewed_end = at(9) + jiff::SignedDuration::from_millis(LEASE_MS);
    assert!(b.own_channel("mail", renewed_end).await.unwrap());
    assert!(
        !a.own_channel("mail", renewed_end).await.unwrap(),
        "`a` lost it"
    );

    // Let go of, it is free at once.
    b.release_channel("mail").await.unwrap();
    assert!(a.own_channel("mail", renewed_end).await.unwrap());
}
