//! A blast rehearsed on the audience before anything is sent: the audience is read once, and
//! each channel's messages are counted, each row that cannot be used is kept, and each address
//! the network guard refuses as written is kept with its recipient. `--dry-run` and the
//! confirmation show it; `--strict` sends nothing when it finds a problem.

use crate::audience::{self, BadRow};
use crate::channels::Channel;
use crate::network::{Guard, Refused};

/// How many problems of each sort a rehearsal keeps to show; the totals count them all.
pub const SHOWN: usize = 20;

/// A recipient whose address on a channel is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefusedAddress {
    pub row: u64,
    pub id: String,
    pub channel: String,
    pub refused: Refused,
}

/// What the audience would give.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Rehearsal {
    /// Messages per channel, in the order of the channels given.
    pub messages: Vec<(String, u64)>,
    /// The first [`SHOWN`] rows that cannot be used, and how many there are.
    pub bad_rows: Vec<BadRow>,
    pub bad_total: u64,
    /// The first [`SHOWN`] refused addresses (each also counted in `messages`: it is planned,
    /// and fails for good when sent), and how many there are.
    pub refused: Vec<RefusedAddress>,
    pub refused_total: u64,
}

impl Rehearsal {
    /// No row to skip and no address to refuse.
    pub fn clean(&self) -> bool {
        self.bad_total == 0 && self.refused_total == 0
    }
}

/// Read `reader` once for `channels`.
pub fn rehearse(channels: &[Channel], reader: audience::Reader, guard: &Guard) -> Rehearsal {
    let mut r = Rehearsal {
        messages: channels
            .iter()
            .map(|c| {
                (
                    c.name.clone(),
                    u64::from(c.config.addressing().for_everyone()),
                )
            })
            .collect(),
        ..Rehearsal::default()
    };
    for item in reader {
        let member = match item {
            Ok(member) => member,
            Err(bad) => {
                r.bad_total += 1;
                if r.bad_rows.len() < SHOWN {
                    r.bad_rows.push(bad);
                }
                continue;
            }
        };
        for (c, (_, count)) in channels.iter().zip(&mut r.messages) {
            if !(c.config.addressing().per_recipient() && c.config.reaches(&member)) {
                continue;
            }
            *count += 1;
            if let Some(refused) = c.refused(&member, guard) {
                r.refused_total += 1;
                if r.refused.len() < SHOWN {
                    r.refused.push(RefusedAddress {
                        row: member.row,
                        id: member.recipient.id.clone(),
                        channel: c.name.clone(),
                        refused,
                    });
                }
            }
        }
    }
    r
}
