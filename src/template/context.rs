//! What templates can see: `incident`, `slots`, `recipient`, `company`, `now`.
//!
//! Times are formatted here, in Rust, in the company's zone ("14:30 CET"): Tera 2 has no date
//! filters, and one place that formats times keeps every channel saying the same thing.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::config::Company;
use crate::time;

/// Incident status, in the order an incident normally moves through them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Investigating,
    Identified,
    Monitoring,
    Resolved,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Investigating => "investigating",
            Status::Identified => "identified",
            Status::Monitoring => "monitoring",
            Status::Resolved => "resolved",
        }
    }
}

/// How bad it is, as Statuspage names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Impact {
    None,
    Minor,
    Major,
    Critical,
}

impl Impact {
    pub fn as_str(self) -> &'static str {
        match self {
            Impact::None => "none",
            Impact::Minor => "minor",
            Impact::Major => "major",
            Impact::Critical => "critical",
        }
    }
}

/// The facts about an incident that messages are rendered from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Incident {
    pub id: String,
    pub title: String,
    pub status: Status,
    pub impact: Impact,
    pub components: Vec<String>,
    pub started_at: jiff::Timestamp,
    /// Earlier updates, oldest first.
    pub updates: Vec<PastUpdate>,
}

/// One update customers already received.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PastUpdate {
    pub kind: String,
    pub at: jiff::Timestamp,
    pub headline: String,
    pub summary: String,
}

impl Incident {
    /// Stand-in facts for `preview` and `check` when there is no incident yet.
    pub fn sample(title: Option<&str>, now: jiff::Timestamp) -> Incident {
        Incident {
            id: "INC-1".into(),
            title: title.unwrap_or("Checkout is failing").to_string(),
            status: Status::Investigating,
            impact: Impact::Major,
            components: vec!["Checkout".into()],
            started_at: now - jiff::SignedDuration::from_mins(20),
            updates: Vec::new(),
        }
    }
}

/// The person (or, for chat channels and broadcasts, nobody in particular) a message is for.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(default)]
pub struct Recipient {
    pub id: String,
    pub name: String,
    pub email: String,
    pub locale: String,
    pub fields: BTreeMap<String, String>,
}

impl Recipient {
    /// A sample customer for previews of per-person channels.
    pub fn sample() -> Recipient {
        Recipient {
            id: "cus_1042".into(),
            name: "Sam Rivera".into(),
            email: "sam@example.com".into(),
            locale: "en".into(),
            fields: BTreeMap::new(),
        }
    }
}

/// The context a kind's strings are rendered with.
#[derive(Debug, Clone, Serialize)]
pub struct Context<'a> {
    pub incident: IncidentView<'a>,
    pub slots: &'a BTreeMap<String, String>,
    pub recipient: &'a Recipient,
    pub company: &'a Company,
    pub now: String,
}

/// `incident` as templates see it: times as display strings.
#[derive(Debug, Clone, Serialize)]
pub struct IncidentView<'a> {
    pub id: &'a str,
    pub title: &'a str,
    pub status: &'static str,
    pub impact: &'static str,
    pub components: &'a [String],
    pub started_at: String,
    pub updates: Vec<PastUpdateView<'a>>,
}

/// One earlier update as templates see it.
#[derive(Debug, Clone, Serialize)]
pub struct PastUpdateView<'a> {
    pub kind: &'a str,
    pub at: String,
    pub headline: &'a str,
    pub summary: &'a str,
}

/// Everything a render needs besides the kind itself.
#[derive(Debug, Clone, Copy)]
pub struct Inputs<'a> {
    pub incident: &'a Incident,
    pub slots: &'a BTreeMap<String, String>,
    pub recipient: &'a Recipient,
    pub company: &'a Company,
    pub now: jiff::Timestamp,
    pub tz: &'a jiff::tz::TimeZone,
}

impl<'a> Inputs<'a> {
    /// The template context for these inputs.
    pub fn context(&self) -> Context<'a> {
        let show = |t: jiff::Timestamp| time::display_moment(t, self.now, self.tz);
        let i = self.incident;
        Context {
            incident: IncidentView {
                id: &i.id,
                title: &i.title,
                status: i.status.as_str(),
                impact: i.impact.as_str(),
                components: &i.components,
                started_at: show(i.started_at),
                updates: i
                    .updates
                    .iter()
                    .map(|u| PastUpdateView {
                        kind: &u.kind,
                        at: show(u.at),
                        headline: &u.headline,
                        summary: &u.summary,
                    })
                    .collect(),
            },
            slots: self.slots,
            recipient: self.recipient,
            company: self.company,
            now: show(self.now),
        }
    }
}
