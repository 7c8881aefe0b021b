//! The timeline: telling updates (and what a telling does to schedules), the incidents and
//! their updates as `crier incident`, `report` and the status page read them.

use super::*;
use crate::store::ScheduleState;

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
