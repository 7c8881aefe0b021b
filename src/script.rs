//! The call script support staff read aloud, from the same source as the customer message:
//! plain text readable at 80 columns, Markdown, or a printable HTML page
//! (`templates/layouts/call-script.html`).

use std::collections::BTreeMap;

use serde::Serialize;

use crate::diag::{Diagnostic, Invalid};
use crate::project::Project;
use crate::template::context::Context;
use crate::template::{
    ApprovalState, Engine, Fill, Incident, Inputs, Kind, Message, MessageView, Recipient, Script,
    slots,
};

/// The formats of `crier script --format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Text,
    Markdown,
    Html,
}

/// The width the text form wraps to.
pub const WIDTH: usize = 80;

/// What a call script is made of.
#[derive(Debug, Clone, Copy)]
pub struct Parts<'a> {
    pub kind: &'a str,
    pub message: &'a Message,
    pub script: &'a Script,
    pub inputs: Inputs<'a>,
    pub approval: &'a ApprovalState,
}

const NOT_APPROVED: &str =
    "NOT APPROVED: do not read this wording to customers until it is approved.";

/// What an update told customers, as its call script needs it: the kind and the slot values
/// as the operator gave them, when it was sent, and the incident as it was told then (the
/// caller reads it from the journal: `store::incident_before`).
#[derive(Debug, Clone, Copy)]
pub struct Told<'a> {
    pub kind: &'a str,
    pub slots: &'a BTreeMap<String, String>,
    pub at: jiff::Timestamp,
    pub incident: &'a Incident,
}

/// The call script of an update as it went out — its kind and values, the incident as it was
/// told then, at the time it was sent — in `format`, with its wording's approval state now.
pub fn of_update(
    project: &Project,
    told: Told<'_>,
    format: Format,
) -> Result<(String, ApprovalState), Invalid> {
    let kind = project.engine.kind(told.kind).map_err(Invalid::from)?;
    let clock = project.clock(told.at);
    let values = slots::resolve(&kind.name, &kind.slots, told.slots, Fill::Defaults, clock)
        .map_err(Invalid)?;
    of_kind(
        project,
        kind,
        &values.display,
        told.incident,
        told.at,
        format,
    )
}

/// The call script of `kind` with slot values `slots` (as they read), for `incident` at `now`,
/// in `format`, with the wording's approval state.
pub fn of_kind(
    project: &Project,
    kind: &Kind,
    slots: &BTreeMap<String, String>,
    incident: &Incident,
    now: jiff::Timestamp,
    format: Format,
) -> Result<(String, ApprovalState), Invalid> {
    let everyone = Recipient::default();
    let inputs = Inputs {
        incident,
        slots,
        recipient: &everyone,
        company: &project.config.company,
        now,
        tz: &project.config.time_zone,
    };
    let rendered = project.engine.render(kind, &inputs).map_err(Invalid)?;
    let script = project
        .engine
        .render_script(kind, &inputs)
        .map_err(Invalid)?;
    let approval = project.approvals.state(&project.engine, kind);
    let parts = Parts {
        kind: &kind.name,
        message: rendered.message_for("email"),
        script: &script,
        inputs,
        approval: &approval,
    };
    let text = render(&project.engine, &parts, format).map_err(Invalid::from)?;
    Ok((text, approval))
}

/// The call script in `format`.
pub fn render(engine: &Engine, parts: &Parts<'_>, format: Format) -> Result<String, Diagnostic> {
    match format {
        Format::Text => Ok(text(parts)),
        Format::Markdown => Ok(markdown(parts)),
        Format::Html => html(engine, parts),
    }
}

/// What `layouts/call-script.html` sees.
#[derive(Serialize)]
struct LayoutContext<'a> {
    #[serde(flatten)]
    base: Context<'a>,
    message: MessageView<'a>,
    script: &'a Script,
    kind: &'a str,
    approved: bool,
    approval: String,
}

fn html(engine: &Engine, p: &Parts<'_>) -> Result<String, Diagnostic> {
    let ctx = LayoutContext {
        base: p.inputs.context(),
        message: MessageView::of(p.message),
        script: p.script,
        kind: p.kind,
        approved: p.approval.is_approved(),
        approval: p.approval.label(),
    };
    engine.render_layout("call-script.html", &ctx)
}

fn title(p: &Parts<'_>) -> String {
    let i = p.inputs.incident;
    format!("Call script: {} ({}, {})", i.title, p.kind, i.id)
}

fn last_update(p: &Parts<'_>) -> String {
    p.inputs.context().now
}

fn text(p: &Parts<'_>) -> String {
    let mut out = String::new();
    let rule = "=".repeat(WIDTH);
    out.push_str(&wrap(&title(p), "", ""));
    out.push_str(&format!("{rule}\n"));
    if !p.approval.is_approved() {
        out.push_str(&wrap(&format!("!! {NOT_APPROVED} !!"), "", ""));
        out.push_str(&format!("{rule}\n"));
    }
    let s = p.script;
    let m = p.message;
    section(&mut out, "OPEN");
    out.push_str(&wrap(&s.opening, "  ", "  "));
    section(
        &mut out,
        &format!("THE FACTS (as customers were told at {})", last_update(p)),
    );
    out.push_str(&wrap(&m.headline, "  ", "  "));
    out.push('\n');
    for para in m.body.text().split("\n\n") {
        for line in para.lines() {
            let (first, rest) = if let Some(item) = line.strip_prefix("- ") {
                (format!("  - {item}"), "    ")
            } else {
                (format!("  {line}"), "  ")
            };
            out.push_str(&wrap(
                first.trim_start(),
                &first[..first.len() - first.trim_start().len()],
                rest,
            ));
        }
        out.push('\n');
    }
    section(&mut out, "WHAT THE CALLER SHOULD DO NOW");
    for point in &s.key_points {
        out.push_str(&wrap(point, "  - ", "    "));
    }
    section(&mut out, "IF THEY ASK...");
    for faq in &s.faq {
        out.push_str(&wrap(&format!("\"{}\"", faq.q), "  ", "  "));
        out.push_str(&wrap(&faq.a, "    ", "    "));
        out.push('\n');
    }
    section(&mut out, "DON'T SAY");
    for item in &s.do_not_say {
        out.push_str(&wrap(item, "  x ", "    "));
    }
    section(&mut out, "ESCALATE WHEN");
    for item in &s.escalate {
        out.push_str(&wrap(item, "  > ", "    "));
    }
    section(&mut out, "CLOSE");
    out.push_str(&wrap(&s.closing, "  ", "  "));
    out
}

fn section(out: &mut String, name: &str) {
    if !out.ends_with("\n\n") && !out.ends_with("=\n") {
        out.push('\n');
    }
    out.push_str(name);
    out.push('\n');
}

/// Wrap `text` to [`WIDTH`] columns, the first line after `first`, the others after `rest`.
pub fn wrap(text: &str, first: &str, rest: &str) -> String {
    let mut out = String::new();
    let mut line = first.to_string();
    let mut empty = true;
    for word in text.split_whitespace() {
        let width = line.chars().count();
        if !empty && width + 1 + word.chars().count() > WIDTH {
            out.push_str(line.trim_end());
            out.push('\n');
            line = rest.to_string();
            empty = true;
        }
        if !empty {
            line.push(' ');
        }
        line.push_str(word);
        empty = false;
    }
    out.push_str(line.trim_end());
    out.push('\n');
    out
}

fn markdown(p: &Parts<'_>) -> String {
    let esc = |s: &str| crate::template::markdown::escape_str(s);
    let s = p.script;
    let m = p.message;
    let mut out = format!("# {}\n\n", esc(&title(p)));
    if !p.approval.is_approved() {
        out.push_str(&format!("> **{NOT_APPROVED}**\n\n"));
    }
    out.push_str(&format!("## Open\n\n{}\n\n", esc(&s.opening)));
    out.push_str(&format!(
        "## The facts\n\n_As customers were told at {}._\n\n**{}**\n\n{}\n\n",
        last_update(p),
        esc(&m.headline),
        m.body.source().trim()
    ));
    out.push_str("## What the caller should do now\n\n");
    list(&mut out, s.key_points.iter().map(|k| esc(k)));
    out.push_str("## If they ask…\n\n");
    for faq in &s.faq {
        out.push_str(&format!("**“{}”**  \n{}\n\n", esc(&faq.q), esc(&faq.a)));
    }
    out.push_str("## Don't say\n\n");
    list(&mut out, s.do_not_say.iter().map(|k| esc(k)));
    out.push_str("## Escalate when\n\n");
    list(&mut out, s.escalate.iter().map(|k| esc(k)));
    out.push_str(&format!("## Close\n\n{}\n", esc(&s.closing)));
    out
}

fn list(out: &mut String, items: impl Iterator<Item = String>) {
    for item in items {
        out.push_str(&format!("- {item}\n"));
    }
    out.push('\n');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrap_keeps_lines_within_width() {
        let long = "word ".repeat(60);
        let wrapped = wrap(&long, "  - ", "    ");
        assert!(wrapped.lines().all(|l| l.chars().count() <= WIDTH));
        assert!(wrapped.starts_with("  - word"));
        assert!(wrapped.lines().nth(1).unwrap().starts_with("    word"));
    }
}
