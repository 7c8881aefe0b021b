//! An incident's status, update by update: investigating → identified → monitoring →
//! resolved. A blast may set the status (`--status`); `resolution-thanks` resolves; a later
//! customer update on a resolved incident reopens it. What follows a resolution (`apology`,
//! `follow-up`) keeps it resolved. Contradictions are refused before anything is sent.

use crate::diag::Diagnostic;
use crate::store::IncidentRow;
use crate::template::Status;

/// The kind that resolves an incident.
pub const RESOLVING: &str = "resolution-thanks";
/// The kind scheduled after a resolution, and cancelled by a reopening.
pub const FOLLOW_UP: &str = "follow-up";
/// Kinds that belong after a resolution: sent on a resolved incident, they keep it resolved.
const AFTERWARDS: [&str; 2] = ["apology", FOLLOW_UP];
/// The kind that announces a problem: it cannot resolve one.
const ANNOUNCING: &str = "outage-notice";

/// What a blast does to the incident's status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    /// A new incident, starting in this status.
    Opens(Status),
    /// The status stays as it is.
    Stays(Status),
    /// From one open status to another.
    Moves { from: Status, to: Status },
    /// From open to resolved.
    Resolves { from: Status },
    /// From resolved to open again.
    Reopens { to: Status },
}

impl Change {
    /// The status after the blast.
    pub fn status(self) -> Status {
        match self {
            Change::Opens(s) | Change::Stays(s) => s,
            Change::Moves { to, .. } | Change::Reopens { to } => to,
            Change::Resolves { .. } => Status::Resolved,
        }
    }
}

/// The status after sending `kind` to `current` (None: a new incident), with `--status asked`.
pub fn change(
    kind: &str,
    asked: Option<Status>,
    current: Option<&IncidentRow>,
) -> Result<Change, Diagnostic> {
    let id = current.map_or("", |i| i.id.as_str());
    if kind == RESOLVING && asked.is_some_and(|s| s != Status::Resolved) {
        return Err(contradiction(kind, asked)
            .hint(format!("`{RESOLVING}` resolves the incident: leave out `--status`, or send `update` to report progress")));
    }
    if kind == ANNOUNCING && asked == Some(Status::Resolved) {
        return Err(
            contradiction(kind, asked).hint(format!("to say it is fixed, send `{RESOLVING}`"))
        );
    }
    let wanted = if kind == RESOLVING {
        Some(Status::Resolved)
    } else {
        asked
    };
    let Some(current) = current else {
        return match wanted {
            Some(Status::Resolved) => Err(Diagnostic::new(
                "a new incident cannot start out resolved: there is nothing to resolve yet",
            )
            .field("--status")
            .hint(
                "start it with `outage-notice` (status `investigating`), or check the incident id",
            )),
            s => Ok(Change::Opens(s.unwrap_or(Status::Investigating))),
        };
    };
    let from = current.status;
    if from == Status::Resolved {
        let afterwards = AFTERWARDS.contains(&kind);
        return match wanted {
            None | Some(Status::Resolved) if afterwards || wanted.is_some() => {
                Ok(Change::Stays(Status::Resolved))
            }
            Some(open) if afterwards => Err(Diagnostic::new(format!(
                "`{kind}` follows a resolution and does not reopen incident `{id}`; `--status {}` contradicts it",
                open.as_str()
            ))
            .field("--status")
            .hint(format!("to reopen `{id}`, send `update --status {}`", open.as_str()))),
            open => Ok(Change::Reopens {
                to: open.unwrap_or(Status::Investigating),
            }),
        };
    }
    Ok(match wanted {
        None => Change::Stays(from),
        Some(to) if to == from => Change::Stays(from),
        Some(Status::Resolved) => Change::Resolves { from },
        Some(to) => Change::Moves { from, to },
    })
}

fn contradiction(kind: &str, asked: Option<Status>) -> Diagnostic {
    Diagnostic::new(format!(
        "`{kind}` cannot be sent with `--status {}`",
        asked.map_or("", Status::as_str)
    ))
    .field("--status")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::template::Impact;

    fn incident(status: Status) -> IncidentRow {
        IncidentRow {
            id: "INC-1".into(),
            title: "Checkout is failing".into(),
            status,
            impact: Impact::Major,
            components: Vec::new(),
            started_at: jiff::Timestamp::UNIX_EPOCH,
            resolved_at: None,
        }
    }

    use Status::{Identified as Id, Investigating as Inv, Monitoring as Mon, Resolved as Res};

    /// (kind, `--status`, the incident's status now, what happens).
    type Case = (
        &'static str,
        Option<Status>,
        Option<Status>,
        Result<Change, &'static str>,
    );

    #[test]
    fn transitions() {
        let cases: Vec<Case> = vec![
            ("outage-notice", None, None, Ok(Change::Opens(Inv))),
            ("outage-notice", Some(Id), None, Ok(Change::Opens(Id))),
            ("update", None, Some(Inv), Ok(Change::Stays(Inv))),
            (
                "update",
                Some(Id),
                Some(Inv),
                Ok(Change::Moves { from: Inv, to: Id }),
            ),
            // A fix that did not hold: back to identified is allowed.
            (
                "update",
                Some(Id),
                Some(Mon),
                Ok(Change::Moves { from: Mon, to: Id }),
            ),
            (
                "update",
                Some(Res),
                Some(Mon),
                Ok(Change::Resolves { from: Mon }),
            ),
            (
                "resolution-thanks",
                None,
                Some(Mon),
                Ok(Change::Resolves { from: Mon }),
            ),
            (
                "resolution-thanks",
                Some(Res),
                Some(Inv),
                Ok(Change::Resolves { from: Inv }),
            ),
            ("resolution-thanks", None, Some(Res), Ok(Change::Stays(Res))),
            ("follow-up", None, Some(Res), Ok(Change::Stays(Res))),
            ("apology", None, Some(Res), Ok(Change::Stays(Res))),
            ("apology", None, Some(Id), Ok(Change::Stays(Id))),
            ("update", None, Some(Res), Ok(Change::Reopens { to: Inv })),
            (
                "update",
                Some(Id),
                Some(Res),
                Ok(Change::Reopens { to: Id }),
            ),
            ("update", Some(Res), Some(Res), Ok(Change::Stays(Res))),
            (
                "outage-notice",
                None,
                Some(Res),
                Ok(Change::Reopens { to: Inv }),
            ),
            (
                "resolution-thanks",
                Some(Mon),
                Some(Inv),
                Err("`resolution-thanks` cannot be sent with `--status monitoring`"),
            ),
            (
                "outage-notice",
                Some(Res),
                Some(Inv),
                Err("`outage-notice` cannot be sent with `--status resolved`"),
            ),
            (
                "update",
                Some(Res),
                None,
                Err("a new incident cannot start out resolved: there is nothing to resolve yet"),
            ),
            (
                "follow-up",
                Some(Inv),
                Some(Res),
                Err(
                    "`follow-up` follows a resolution and does not reopen incident `INC-1`; `--status investigating` contradicts it",
                ),
            ),
        ];
        for (kind, asked, current, expected) in cases {
            let current = current.map(incident);
            let got = change(kind, asked, current.as_ref()).map_err(|d| d.message);
            assert_eq!(
                got,
                expected.map_err(String::from),
                "{kind} --status {asked:?} on {:?}",
                current.map(|c| c.status)
            );
        }
    }
}
