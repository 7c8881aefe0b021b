//! What the public side of `crier serve` is made from, read from the journal: the open
//! incidents with their timelines, the recent ones, the maintenance switch. Plain data: the
//! status page (`page`), the support page (`support`), `/metrics` and the snapshot's JSON
//! (`snapshot`) are all made from a [`Public`].

use crate::store::{IncidentRow, Maintenance, Store, Update};
use crate::template::{Impact, Status};

/// Resolved incidents stay in "recent" this long.
const RECENT_DAYS: i64 = 14;
/// At most this many recent incidents are shown.
const RECENT_MAX: usize = 10;

/// One incident as the public sees it: its facts and its updates, newest first.
#[derive(Debug, Clone)]
pub struct Shown {
    pub incident: IncidentRow,
    pub updates: Vec<Update>,
}

/// Everything the public pages are made from.
#[derive(Debug, Clone)]
pub struct Public {
    pub as_of: jiff::Timestamp,
    /// Open incidents, the most recently started first.
    pub open: Vec<Shown>,
    /// Resolved in the last [`RECENT_DAYS`] days, the most recent first.
    pub recent: Vec<Shown>,
    /// The switch, with the incident the maintenance page speaks for (if any).
    pub maintenance: Option<(Maintenance, Option<Shown>)>,
}

impl Public {
    /// Read the public state from `store` as of `now`.
    pub async fn load<S: Store>(store: &S, now: jiff::Timestamp) -> anyhow::Result<Public> {
        let since = now - jiff::SignedDuration::from_hours(24 * RECENT_DAYS);
        let mut open = Vec::new();
        let mut recent = Vec::new();
        for incident in store.incidents().await? {
            let resolved = incident.status == Status::Resolved;
            if resolved && (recent.len() >= RECENT_MAX || incident.resolved_at < Some(since)) {
                continue;
            }
            let mut updates = store.updates(&incident.id).await?;
            if updates.is_empty() {
                continue;
            }
            updates.reverse();
            let shown = Shown { incident, updates };
            if resolved {
                recent.push(shown);
            } else {
                open.push(shown);
            }
        }
        let maintenance = match store.maintenance().await? {
            None => None,
            Some(m) => {
                let about = match &m.incident_id {
                    Some(id) => open
                        .iter()
                        .chain(&recent)
                        .find(|s| &s.incident.id == id)
                        .cloned(),
                    None => open.first().cloned(),
                };
                Some((m, about))
            }
        };
        Ok(Public {
            as_of: now,
            open,
            recent,
            maintenance,
        })
    }

    /// When the last update of an open or recent incident went out.
    pub fn last_update_at(&self) -> Option<jiff::Timestamp> {
        self.open
            .iter()
            .chain(&self.recent)
            .filter_map(|s| s.updates.first().map(|u| u.created_at))
            .max()
    }

    /// The worst impact of the open incidents (`none` when all is well).
    pub fn indicator(&self) -> &'static str {
        if self.maintenance.is_some() {
            return "maintenance";
        }
        let worst = self
            .open
            .iter()
            .map(|s| s.incident.impact)
            .max_by_key(|i| rank(*i));
        match worst {
            None | Some(Impact::None) => "none",
            Some(i) => i.as_str(),
        }
    }
}

fn rank(i: Impact) -> u8 {
    match i {
        Impact::None => 0,
        Impact::Minor => 1,
        Impact::Major => 2,
        Impact::Critical => 3,
    }
}
