//! Previews: a kind rendered for every channel format and the call script, for a sample person
//! (per-recipient formats) and for everyone (broadcast formats). Used by `crier preview` and
//! the snapshot tests.

use crate::channels::{self, Meta, Output};
use crate::diag::{Diagnostics, Invalid};
use crate::project::Project;
use crate::script::{self, Format};
use crate::template::{Incident, Inputs, Kind, Recipient, SlotValues};

/// The call script's files, after the channel formats.
pub const SCRIPT_FILES: [(&str, Format); 3] = [
    ("call-script.txt", Format::Text),
    ("call-script.md", Format::Markdown),
    ("call-script.html", Format::Html),
];

/// Every wanted output; formats that do not fit become problems, the rest are still shown.
pub fn outputs(
    project: &Project,
    kind: &Kind,
    values: &SlotValues,
    incident: &Incident,
    wanted: &[&str],
    now: jiff::Timestamp,
) -> Result<(Vec<Output>, Diagnostics), Invalid> {
    let (person, everyone) = (Recipient::sample(), Recipient::default());
    let inputs = |recipient| Inputs {
        incident,
        slots: &values.display,
        recipient,
        company: &project.config.company,
        now,
        tz: &project.config.time_zone,
    };
    let (person, everyone) = (inputs(&person), inputs(&everyone));
    let for_person = project.engine.render(kind, &person).map_err(Invalid)?;
    let for_everyone = project.engine.render(kind, &everyone).map_err(Invalid)?;
    let mut outputs = Vec::new();
    let mut problems = Diagnostics::default();
    for format in wanted.iter().filter(|f| **f != "call-script") {
        let (rendered, inputs) = if channels::personal(format) {
            (&for_person, person)
        } else {
            (&for_everyone, everyone)
        };
        let meta = Meta {
            kind: &kind.name,
            inputs,
            message_id: "preview",
            sequence: 1,
        };
        match channels::formats(format, &project.engine, rendered, &meta) {
            Ok(o) => outputs.extend(o),
            Err(e) => problems.push(e.diagnostic(&kind.name, format)),
        }
    }
    if wanted.contains(&"call-script") {
        let script = project
            .engine
            .render_script(kind, &everyone)
            .map_err(Invalid)?;
        let approval = project.approvals.state(&project.engine, kind);
        let parts = script::Parts {
            kind: &kind.name,
            message: for_everyone.message_for("email"),
            script: &script,
            inputs: everyone,
            approval: &approval,
        };
        for (file, format) in SCRIPT_FILES {
            match script::render(&project.engine, &parts, format) {
                Ok(content) => outputs.push(Output { file, content }),
                Err(d) => problems.push(d),
            }
        }
    }
    Ok((outputs, problems))
}
