//! Claims held in memory, for the backends where one process sends an update (`start_run`
//! refuses a second): the due rows this process handed its workers and has not recorded yet,
//! per (update, channel). A claim lives here, not in the journal: no other worker needs to see
//! it, and a crash loses nothing (the rows were never sent and are still due). That saves one
//! of a send's three journal writes. Each backend reads the due rows with its own SQL; this
//! decides where the next claim starts and never hands out a row twice.

use std::collections::{HashMap, HashSet};

use super::Delivery;

/// Rows this process claimed and has not recorded yet, per (update, channel).
#[derive(Debug, Default)]
pub struct Held {
    lanes: HashMap<(i64, String), Lane>,
}

#[derive(Debug, Default)]
struct Lane {
    ids: HashSet<i64>,
    /// The last row claimed, as (next_attempt_at, id): the next claim starts after it, past
    /// the rows still held. Forgotten when nothing is held, so that a row made due again at an
    /// earlier point of that order (it can only tie in the same millisecond) is found then.
    after: Option<(i64, i64)>,
}

impl Held {
    /// Where the next claim of `update` on `channel` starts: after this (next_attempt_at, id),
    /// first among the rows due at that same millisecond, then the later ones.
    pub fn after(&self, update: i64, channel: &str) -> Option<(i64, i64)> {
        self.lanes
            .get(&(update, channel.to_string()))
            .and_then(|l| l.after)
    }

    /// Hold `rows` (each with its `next_attempt_at`, in due order) for `update` on `channel`:
    /// the rows not held already, by id.
    pub fn hold(
        &mut self,
        update: i64,
        channel: &str,
        rows: impl IntoIterator<Item = (i64, Delivery)>,
    ) -> Vec<Delivery> {
        let lane = self.lanes.entry((update, channel.to_string())).or_default();
        let mut claimed: Vec<Delivery> = rows
            .into_iter()
            .filter_map(|(due_at, d)| {
                lane.after = Some((due_at, d.id));
                // Held already: never hand out a row twice.
                lane.ids.insert(d.id).then_some(d)
            })
            .collect();
        claimed.sort_by_key(|d| d.id);
        claimed
    }

    /// Rows recorded: no longer held by their lane.
    pub fn release(&mut self, ids: impl Iterator<Item = i64>) {
        for id in ids {
            for lane in self.lanes.values_mut() {
                if lane.ids.remove(&id) && lane.ids.is_empty() {
                    lane.after = None;
                }
            }
        }
    }
}
