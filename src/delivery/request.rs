//! A blast asked for — by `crier blast`, by a schedule when it is due, or by the worker's
//! holding update — checked before anything is sent: [`preflight`] lists every problem
//! (approval, slots, channels, secrets, rendering, the status change, the next-update promise,
//! the follow-up a resolution schedules) and returns what is needed to add the update.

use std::collections::{BTreeMap, BTreeSet};

use crate::channels::Channel;
use crate::check;
use crate::delivery::blast::build;
use crate::diag::{Diagnostic, Diagnostics, Invalid, backticked, closest};
use crate::digest::Sha256;
use crate::lifecycle::{self, Change};
use crate::project::Project;
use crate::store::{IncidentRow, NewSchedule, NewUpdate, Origin, Telling};
use crate::template::approval::{self, ApprovalState};
use crate::template::{Fill, Impact, Kind, SlotType, Status, slots};
use crate::time;

pub use crate::project::NEXT_UPDATE_SLOT;

/// A blast to check and send.
#[derive(Debug, Clone, Default)]
pub struct Request {
    pub kind: String,
    pub incident: String,
    /// The title (required for a new incident).
    pub title: Option<String>,
    pub status: Option<Status>,
    pub impact: Option<Impact>,
    /// Slot values as given.
    pub slots: BTreeMap<String, String>,
    /// Only recipients of this segment.
    pub audience: Option<String>,
    /// Only these channels; `None`: every customer channel.
    pub channels: Option<Vec<String>>,
    /// `--next-update-in`: when the next customer update is due, from now.
    pub next_update_in: Option<String>,
    /// Slot values of the follow-up a resolution schedules.
    pub follow_up_slots: BTreeMap<String, String>,
    /// Do not schedule the follow-up when this resolves the incident.
    pub no_follow_up: bool,
    /// A schedule: it may not reopen a resolved incident (nobody is there to decide that).
    pub scheduled: bool,
    /// Who sends it, for the timeline.
    pub sent_by: String,
    /// What makes two requests "the same command": `None` for the operator's own command
    /// (its content decides), `schedule:N` for a schedule.
    pub source: Option<String>,
}

/// What preflight established: everything needed to add the update and send it.
#[derive(Debug)]
pub struct Ready {
    pub kind: Kind,
    pub slots: BTreeMap<String, String>,
    pub approval: ApprovalState,
    pub channels: Vec<Channel>,
    /// The incident's facts after this update.
    pub incident: IncidentRow,
    pub change: Change,
    /// When the next customer update is due, as this one promises.
    pub next_update_at: Option<jiff::Timestamp>,
    /// The follow-up this resolution schedules.
    pub follow_up: Option<NewSchedule>,
    pub update: NewUpdate,
}

impl Ready {
    /// The update with its effects, for [`crate::store::Store::tell`].
    pub fn telling(&self) -> Telling<'_> {
        Telling {
            incident: &self.incident,
            update: &self.update,
            follow_up: self.follow_up.as_ref(),
            cancel_follow_ups: matches!(self.change, Change::Reopens { .. })
                .then_some(lifecycle::FOLLOW_UP),
        }
    }
}

/// Every check before anything is sent; all problems are reported together.
pub fn preflight(
    project: &Project,
    req: &Request,
    existing: Option<&IncidentRow>,
    now: jiff::Timestamp,
) -> Result<Ready, Invalid> {
    let mut problems = Diagnostics::default();
    let kind = project.engine.kind(&req.kind)?.clone();
    let approval = project.approvals.state(&project.engine, &kind);
    let channels = select_channels(project, req.channels.as_deref()).unwrap_or_else(|e| {
        problems.extend(e.0);
        Vec::new()
    });
    problems.extend(channel_problems(project, &channels, &req.incident));
    if let Err(d) = crate::audience::open(&project.config.audience_path) {
        problems.push(d);
    }
    let change = lifecycle::change(&kind.name, req.status, existing).unwrap_or_else(|d| {
        problems.push(d);
        Change::Stays(existing.map_or(Status::Investigating, |i| i.status))
    });
    if req.scheduled && matches!(change, Change::Reopens { .. }) {
        problems.push(
            Diagnostic::new(format!(
                "incident `{}` is resolved, and a scheduled `{}` would reopen it",
                req.incident, kind.name
            ))
            .hint(format!(
                "if it is broken again, reopen it now with `crier blast update --incident {} --status investigating …`",
                req.incident
            )),
        );
    }
    let incident = incident_row(req, existing, change.status(), now).unwrap_or_else(|d| {
        problems.push(d);
        IncidentRow {
            id: req.incident.clone(),
            title: String::new(),
            status: change.status(),
            impact: Impact::Major,
            components: Vec::new(),
            started_at: now,
            resolved_at: None,
        }
    });
    let mut given = req.slots.clone();
    let next_update_at = promise(project, &kind, req, &mut given, change.status(), now)
        .unwrap_or_else(|d| {
            problems.push(d);
            None
        });
    problems.extend(kind_problems(
        project, &kind, &approval, &given, &channels, &incident, now,
    ));
    let follow_up = match follow_up(project, req, &incident, &change, &channels, now) {
        Ok(f) => f,
        Err(e) => {
            problems.extend(e);
            None
        }
    };
    if !problems.is_empty() {
        return Err(Invalid(problems));
    }
    let update = new_update(
        project,
        req,
        &kind,
        &approval,
        &given,
        &channels,
        &incident,
        next_update_at,
        now,
    );
    Ok(Ready {
        kind,
        slots: given,
        approval,
        channels,
        incident,
        change,
        next_update_at,
        follow_up,
        update,
    })
}

/// What a schedule will send when due, checked now (with `due` as the time it runs): the same
/// checks as a blast, so a problem is found when scheduling, not at 10:00 the next day.
pub fn check_schedule(
    project: &Project,
    s: &NewSchedule,
    incident: &IncidentRow,
) -> Result<(), Invalid> {
    let req = Request::scheduled(&s.kind, &s.incident_id, &s.slots, &s.channels, &s.audience);
    preflight(project, &req, Some(incident), s.due_at).map(|_| ())
}

impl Request {
    /// The blast a schedule makes: it may not reopen a resolved incident, and a scheduled
    /// resolution schedules no follow-up of its own (nobody is there to give its values).
    pub fn scheduled(
        kind: &str,
        incident: &str,
        slots: &BTreeMap<String, String>,
        channels: &Option<Vec<String>>,
        audience: &Option<String>,
    ) -> Request {
        Request {
            kind: kind.to_string(),
            incident: incident.to_string(),
            slots: slots.clone(),
            channels: channels.clone(),
            audience: audience.clone(),
            no_follow_up: true,
            scheduled: true,
            ..Request::default()
        }
    }
}

/// Approval, slots and rendering of `kind` for `channels`, with `given` values.
fn kind_problems(
    project: &Project,
    kind: &Kind,
    approval: &ApprovalState,
    given: &BTreeMap<String, String>,
    channels: &[Channel],
    incident: &IncidentRow,
    now: jiff::Timestamp,
) -> Diagnostics {
    let mut problems = Diagnostics::default();
    if let Some(d) = approval::refusal(kind, approval, project.approvals.path()) {
        problems.push(d);
    }
    let sample = incident.told(Vec::new());
    let targets = targets(project, channels);
    problems.extend(check::kind_with(
        project,
        kind,
        given,
        Fill::Defaults,
        &sample,
        &targets,
        now,
    ));
    problems
}

/// Secrets, values and transports of `channels`.
fn channel_problems(project: &Project, channels: &[Channel], incident: &str) -> Diagnostics {
    let mut problems = Diagnostics::default();
    for c in channels {
        let values = c.check_values(&project.config.network);
        let values_ok = values.is_empty();
        for d in c.check_secrets().into_iter().chain(values) {
            problems.push(d);
        }
        // Building reads the same values: a problem already named is not named twice.
        if values_ok && let Err(e) = build(c, &project.config, incident, 1) {
            problems.push(Diagnostic::new(format!("channel `{}`: {e}", c.name)).in_file(&c.path));
        }
    }
    problems
}

/// When the next customer update is due: `--next-update-in`, else the kind's `next_update`
/// value (`--set next_update=…` or the slot's default), else `[promises] default` from now;
/// none once resolved. `--next-update-in` and `[promises] default` also fill the kind's
/// `next_update` slot, so the message promises the same time: `crier blast update` needs no
/// next update typed, as `--help` says.
fn promise(
    project: &Project,
    kind: &Kind,
    req: &Request,
    given: &mut BTreeMap<String, String>,
    status: Status,
    now: jiff::Timestamp,
) -> Result<Option<jiff::Timestamp>, Diagnostic> {
    let slot = kind
        .slots
        .get(NEXT_UPDATE_SLOT)
        .filter(|s| s.ty == SlotType::Time);
    if let Some(typed) = &req.next_update_in {
        let field = |d: Diagnostic| d.field("--next-update-in");
        if status == Status::Resolved {
            return Err(field(Diagnostic::new(
                "`--next-update-in` promises another update, but this update resolves the incident",
            ))
            .hint("leave out `--next-update-in`"));
        }
        let d = time::parse_duration(typed).map_err(|e| field(Diagnostic::new(e.to_string())))?;
        if slot.is_some() {
            if given.contains_key(NEXT_UPDATE_SLOT) {
                return Err(field(Diagnostic::new(format!(
                    "both `--next-update-in` and `--set {NEXT_UPDATE_SLOT}=…` say when the next update comes"
                )))
                .hint("keep one of them"));
            }
            given.insert(NEXT_UPDATE_SLOT.to_string(), format!("+{}", typed.trim()));
        }
        return Ok(now.checked_add(d).ok());
    }
    if status == Status::Resolved {
        return Ok(None);
    }
    let default = project.config.promises.default;
    if let Some(spec) = slot {
        let value = given.get(NEXT_UPDATE_SLOT).or(spec.default.as_ref());
        if let Some(v) = value {
            // A wrong value (or `--set next_update=`, cleared) is reported by the slot check,
            // with its fix.
            return Ok(time::parse_moment(v, now, &project.config.time_zone).ok());
        }
        project.promise_default(kind, given);
    }
    Ok(now.checked_add(default).ok())
}

/// The follow-up to schedule when this update resolves the incident, checked as it will run.
fn follow_up(
    project: &Project,
    req: &Request,
    incident: &IncidentRow,
    change: &Change,
    channels: &[Channel],
    now: jiff::Timestamp,
) -> Result<Option<NewSchedule>, Diagnostics> {
    if !matches!(change, Change::Resolves { .. }) || req.no_follow_up {
        return Ok(None);
    }
    let Some(due_at) = project.config.follow_up_at(now) else {
        return Ok(None);
    };
    let typed = project.config.follow_up_after.clone().unwrap_or_default();
    let schedule = NewSchedule {
        incident_id: incident.id.clone(),
        kind: lifecycle::FOLLOW_UP.to_string(),
        slots: req.follow_up_slots.clone(),
        channels: req
            .channels
            .as_ref()
            .map(|_| channels.iter().map(|c| c.name.clone()).collect()),
        audience: req.audience.clone(),
        due_at,
        typed: typed.clone(),
        origin: Origin::Resolution,
        created_by: req.sent_by.clone(),
    };
    let mut resolved = incident.clone();
    resolved.status = Status::Resolved;
    match check_schedule(project, &schedule, &resolved) {
        Ok(()) => Ok(Some(schedule)),
        Err(Invalid(problems)) => {
            let when = time::display_moment(due_at, now, &project.config.time_zone);
            Err(problems.map(|mut d| {
                d.field = d.field.map(|f| f.replace("--set", "--follow-up-set"));
                d.message = format!(
                    "the follow-up this resolution schedules for {when} (`follow_up_after = \"{typed}\"`): {}",
                    d.message
                );
                d.hint = Some(match d.hint {
                    Some(h) => format!(
                        "{}; or leave it out with `--no-follow-up` and schedule it later with `crier schedule follow-up`",
                        h.replace("--set", "--follow-up-set")
                    ),
                    None => "fix it, or leave the follow-up out with `--no-follow-up` and schedule it later with `crier schedule follow-up`".to_string(),
                });
                d
            }))
        }
    }
}

/// The formats the chosen channels send, plus the summary.
fn targets(project: &Project, channels: &[Channel]) -> BTreeSet<String> {
    let mut scratch = Diagnostics::default();
    let all = check::target_formats(project, &mut scratch);
    let mut wanted = BTreeSet::from(["summary".to_string()]);
    for c in channels {
        wanted.extend(c.config.sends().into_iter().filter(|f| all.contains(f)));
    }
    wanted
}

/// `--channels a,b`, or every customer channel. Internal channels never get customer messages.
pub fn select_channels(
    project: &Project,
    names: Option<&[String]>,
) -> Result<Vec<Channel>, Invalid> {
    let Some(names) = names else {
        let all: Vec<Channel> = project.customer_channels().cloned().collect();
        if all.is_empty() {
            return Err(Diagnostic::new("no customer channel is configured")
                .hint("add a file to `channels/` (copy one from `channels/examples/`), or keep `channels/file.toml`")
                .into());
        }
        return Ok(all);
    };
    let mut problems = Diagnostics::default();
    let mut chosen = Vec::new();
    for name in names {
        match project.channels.iter().find(|c| &c.name == name) {
            Some(c) if c.is_internal() => problems.push(
                Diagnostic::new(format!("channel `{name}` is internal (for the people on duty) and never receives customer messages"))
                    .in_file(&c.path)
                    .hint("leave it out of `--channels`"),
            ),
            Some(c) => chosen.push(c.clone()),
            None => {
                let known = project.channels.iter().map(|c| c.name.as_str());
                let d = Diagnostic::new(format!("there is no channel `{name}`")).field("--channels");
                problems.push(match closest(name, known.clone()) {
                    Some(best) => d.hint(format!("did you mean `{best}`?")),
                    None => d.hint(format!("the channels are {}", backticked(known))),
                });
            }
        }
    }
    problems.into_result(chosen).map_err(|e| Invalid(e.0))
}

/// The incident's facts after this blast: what the operator said, else what it was.
fn incident_row(
    req: &Request,
    existing: Option<&IncidentRow>,
    status: Status,
    now: jiff::Timestamp,
) -> Result<IncidentRow, Diagnostic> {
    let title = match (&req.title, existing) {
        (Some(t), _) if t.trim().is_empty() || t.contains(['\r', '\n', '\0']) => {
            return Err(Diagnostic::new("`--title` must be one line of text")
                .field("--title")
                .hint("use `--title \"Checkout is failing\"`"));
        }
        (Some(t), _) => t.trim().to_string(),
        (None, Some(i)) => i.title.clone(),
        (None, None) => {
            return Err(Diagnostic::new(format!(
                "incident `{}` is new and needs a title",
                req.incident
            ))
            .field("--title")
            .hint(
                "add `--title \"…\"`, in the customer's terms: `--title \"Checkout is failing\"`",
            ));
        }
    };
    let resolved_at = match existing {
        _ if status != Status::Resolved => None,
        Some(i) if i.status == Status::Resolved => i.resolved_at.or(Some(now)),
        _ => Some(now),
    };
    Ok(IncidentRow {
        id: req.incident.clone(),
        title,
        status,
        impact: req
            .impact
            .or(existing.map(|i| i.impact))
            .unwrap_or(Impact::Major),
        components: existing.map(|i| i.components.clone()).unwrap_or_default(),
        started_at: existing.map_or(now, |i| i.started_at),
        resolved_at,
    })
}

/// The same command (kind, facts, values, channels, audience, source) gives the same
/// fingerprint.
fn fingerprint(
    req: &Request,
    kind: &Kind,
    slots: &BTreeMap<String, String>,
    channels: &[Channel],
    incident: &IncidentRow,
) -> String {
    let mut value = serde_json::json!({
        "kind": kind.name,
        "title": incident.title,
        "status": incident.status,
        "impact": incident.impact,
        "slots": slots,
        "channels": channels.iter().map(|c| &c.name).collect::<Vec<_>>(),
        "audience": req.audience,
    });
    if let Some(source) = &req.source {
        value["source"] = source.clone().into();
    }
    let mut h = Sha256::new();
    h.update(value.to_string().as_bytes());
    h.hex(32)
}

#[allow(clippy::too_many_arguments)]
fn new_update(
    project: &Project,
    req: &Request,
    kind: &Kind,
    approval: &ApprovalState,
    slots: &BTreeMap<String, String>,
    channels: &[Channel],
    incident: &IncidentRow,
    next_update_at: Option<jiff::Timestamp>,
    now: jiff::Timestamp,
) -> NewUpdate {
    let approved_by = match approval {
        ApprovalState::Approved { by, .. } => by.clone(),
        _ => String::new(),
    };
    let (headline, summary) = timeline_text(project, kind, slots, incident, now);
    NewUpdate {
        kind: kind.name.clone(),
        status: incident.status,
        slots: slots.clone(),
        fingerprint: fingerprint(req, kind, slots, channels, incident),
        content_sha256: approval::digest(&project.engine, kind).0,
        approved_by,
        sent_by: req.sent_by.clone(),
        channels: channels.iter().map(|c| c.name.clone()).collect(),
        audience: req.audience.clone(),
        headline,
        summary,
        next_update_at,
    }
}

/// The headline and summary as everyone reads them, for the timeline.
fn timeline_text(
    project: &Project,
    kind: &Kind,
    given: &BTreeMap<String, String>,
    incident: &IncidentRow,
    now: jiff::Timestamp,
) -> (String, String) {
    let values = slots::resolve(
        &kind.name,
        &kind.slots,
        given,
        Fill::Defaults,
        project.clock(now),
    );
    let incident = incident.told(Vec::new());
    let everyone = crate::template::Recipient::default();
    let rendered = values.ok().and_then(|v| {
        let inputs = crate::template::Inputs {
            incident: &incident,
            slots: &v.display,
            recipient: &everyone,
            company: &project.config.company,
            now,
            tz: &project.config.time_zone,
        };
        project.engine.render(kind, &inputs).ok()
    });
    rendered.map_or_else(Default::default, |r| (r.base.headline, r.base.summary))
}
