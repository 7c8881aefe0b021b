//! Checking a project before anything is sent: slot declarations, every kind rendered for a
//! person and for a broadcast, every configured channel's format and limits, the call script
//! in every format, and the secrets the channels name. Every problem is collected.

use std::collections::{BTreeMap, BTreeSet};

use crate::channels::{self, FORMATS, Meta};
use crate::diag::{Diagnostic, Diagnostics, backticked, closest};
use crate::project::Project;
use crate::script;
use crate::template::slots::{self, Fill};
use crate::template::{ApprovalState, Incident, Inputs, Kind, Recipient};

/// What `check` found out about one kind.
#[derive(Debug, Clone, serde::Serialize)]
pub struct KindReport {
    pub kind: String,
    pub approval: ApprovalState,
    /// Formats rendered and found within limits.
    pub formats: Vec<String>,
}

/// Check the whole project: every kind against every configured channel, and the channels' secrets.
pub fn project(p: &Project, now: jiff::Timestamp) -> (Vec<KindReport>, Diagnostics) {
    let mut problems = Diagnostics::default();
    let targets = target_formats(p, &mut problems);
    let mut reports = Vec::new();
    for kind in p.engine.kinds().values() {
        let incident = Incident::sample(None, now);
        problems.extend(kind_with(
            p,
            kind,
            &BTreeMap::new(),
            Fill::Examples,
            &incident,
            &targets,
            now,
        ));
        reports.push(KindReport {
            kind: kind.name.clone(),
            approval: p.approvals.state(&p.engine, kind),
            formats: targets.iter().cloned().collect(),
        });
    }
    problems.extend(holding_update(p, &targets, now));
    for channel in &p.channels {
        for d in channel
            .check_secrets()
            .into_iter()
            .chain(channel.check_values(&p.config.network))
        {
            problems.push(d);
        }
    }
    (reports, dedup(problems))
}

/// With `auto_holding_update`, the holding update must be sendable as configured: its kind,
/// approved, with `holding_set` filling its slots (checked now, not when a promise is missed).
fn holding_update(p: &Project, targets: &BTreeSet<String>, now: jiff::Timestamp) -> Diagnostics {
    let mut problems = Diagnostics::default();
    let promises = &p.config.promises;
    if !promises.auto_holding_update {
        return problems;
    }
    let in_config = |d: Diagnostic| {
        let d = d.in_file(&p.config.path);
        Diagnostic {
            message: format!(
                "the holding update (`[promises] auto_holding_update = true`): {}",
                d.message
            ),
            field: d
                .field
                .map(|f| f.replace("--set ", "promises.holding_set.")),
            hint: d.hint.map(|h| {
                if h.contains("`--set ") {
                    format!(
                        "{} (in `[promises.holding_set]`)",
                        h.replace("`--set ", "`")
                    )
                } else {
                    h
                }
            }),
            ..d
        }
    };
    let kind = match p.engine.kind(&promises.holding_kind) {
        Ok(k) => k,
        Err(d) => {
            problems.push(in_config(d.field("promises.holding_kind")));
            return problems;
        }
    };
    if let Some(d) = crate::template::approval::refusal(
        kind,
        &p.approvals.state(&p.engine, kind),
        p.approvals.path(),
    ) {
        problems.push(in_config(d));
    }
    let incident = Incident::sample(None, now);
    // Sent as any blast is: without a `next_update`, it promises `[promises] default`.
    let mut holding_set = promises.holding_set.clone();
    p.promise_default(kind, &mut holding_set);
    problems.extend(
        kind_with(
            p,
            kind,
            &holding_set,
            Fill::Defaults,
            &incident,
            targets,
            now,
        )
        .map(in_config),
    );
    problems
}

/// The formats the configured customer channels use, plus `summary`, which every channel relies on.
pub fn target_formats(p: &Project, problems: &mut Diagnostics) -> BTreeSet<String> {
    let mut targets = BTreeSet::from(["summary".to_string()]);
    for channel in p.customer_channels() {
        for format in channel.config.sends() {
            if FORMATS.contains(&format.as_str()) {
                targets.insert(format);
            } else {
                problems.push(unknown_format(channel, &format));
            }
        }
    }
    targets
}

fn unknown_format(channel: &channels::Channel, format: &str) -> Diagnostic {
    let hint = match closest(format, FORMATS) {
        Some(best) => format!("did you mean `{best}`?"),
        None => format!("use any of {}", backticked(FORMATS)),
    };
    Diagnostic::new(format!(
        "channel `{}` lists an unknown format `{format}`",
        channel.name
    ))
    .in_file(&channel.path)
    .field("formats")
    .hint(hint)
}

/// Check one kind with the operator's values (or examples): slots, rendering for a person and
/// for everyone, every format in `targets`, and the call script.
pub fn kind_with(
    p: &Project,
    kind: &Kind,
    given: &BTreeMap<String, String>,
    fill: Fill,
    incident: &Incident,
    targets: &BTreeSet<String>,
    now: jiff::Timestamp,
) -> Diagnostics {
    let mut problems = declarations(p, kind, now);
    let values = match slots::resolve(&kind.name, &kind.slots, given, fill, p.clock(now)) {
        Ok(v) => v,
        Err(e) => {
            problems.extend(e);
            return problems;
        }
    };
    let person = Recipient::sample();
    let everyone = Recipient::default();
    // A format that does not fit is reported once, for whichever recipient found it first.
    let mut misfits = BTreeSet::new();
    for recipient in [&person, &everyone] {
        let inputs = Inputs {
            incident,
            slots: &values.display,
            recipient,
            company: &p.config.company,
            now,
            tz: &p.config.time_zone,
        };
        let rendered = match p.engine.render(kind, &inputs) {
            Ok(r) => r,
            Err(e) => {
                problems.extend(e);
                continue;
            }
        };
        let meta = Meta {
            kind: &kind.name,
            inputs,
            message_id: "check",
            sequence: 1,
        };
        for format in targets {
            if misfits.contains(format) {
                continue;
            }
            if let Err(e) = channels::formats(format, &p.engine, &rendered, &meta) {
                problems.push(e.diagnostic(&kind.name, format));
                misfits.insert(format.clone());
            }
        }
        match p.engine.render_script(kind, &inputs) {
            Ok(s) => {
                let approval = p.approvals.state(&p.engine, kind);
                let parts = script::Parts {
                    kind: &kind.name,
                    message: rendered.message_for("email"),
                    script: &s,
                    inputs,
                    approval: &approval,
                };
                if let Err(d) = script::render(&p.engine, &parts, script::Format::Html) {
                    problems.push(d);
                }
            }
            Err(e) => problems.extend(e),
        }
    }
    dedup(problems)
}

/// Problems in the `[slots]` declarations of `kind`, at their place in the file.
fn declarations(p: &Project, kind: &Kind, now: jiff::Timestamp) -> Diagnostics {
    let mut problems = Diagnostics::default();
    for (name, spec) in &kind.slots {
        for (message, hint) in spec.check_declaration(p.clock(now)) {
            let offset = kind.slot_spans.get(name).map_or(0, |s| s.start);
            problems.push(
                Diagnostic::new(format!("slot `{name}` of `{}`: {message}", kind.name))
                    .at(kind.location(offset))
                    .field(format!("slots.{name}"))
                    .hint(hint),
            );
        }
    }
    problems
}

/// The same problem found twice (for a person and for everyone) is reported once.
fn dedup(problems: Diagnostics) -> Diagnostics {
    let mut seen = BTreeSet::new();
    let mut out = Diagnostics::default();
    for d in problems.iter() {
        if seen.insert(d.to_string()) {
            out.push(d.clone());
        }
    }
    out
}
