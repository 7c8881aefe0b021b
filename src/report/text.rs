//! The report in words, for people: Markdown to paste into a review document, or one
//! self-contained HTML page. Both say the same things in the same order ([`Words`]); each
//! escapes every text that came from outside crier for its format.

use std::collections::BTreeMap;

use jiff::SignedDuration;
use jiff::Timestamp;
use jiff::tz::TimeZone;

use super::{FailureLine, Outcome, Report, Tally, UpdateReport, minutes};
use crate::template::markdown::{escape_html, escape_str};
use crate::time::display_moment;

const TALLY_HEAD: [&str; 4] = ["channel", "sent", "failed", "not sent yet"];
const PROMISE_HEAD: [&str; 4] = ["update", "next update promised for", "next update", "kept"];
const FOLLOW_UP_HEAD: [&str; 3] = ["schedule", "due", "state"];

/// The report's words, shared by the text formats; `esc` makes text from outside crier safe
/// for the format.
struct Words<'a> {
    r: &'a Report,
    tz: &'a TimeZone,
    esc: &'a dyn Fn(&str) -> String,
}

impl Words<'_> {
    fn at(&self, t: Timestamp) -> String {
        display_moment(t, self.r.as_of, self.tz)
    }

    fn title(&self) -> String {
        let i = &self.r.incident;
        format!("{}: {}", (self.esc)(&i.id), (self.esc)(&i.title))
    }

    fn facts(&self) -> Vec<(&'static str, String)> {
        let i = &self.r.incident;
        let mut facts = vec![
            ("Impact", i.impact.as_str().to_string()),
            ("Status", i.status.as_str().to_string()),
            ("Started", self.at(i.started_at)),
        ];
        match i.resolved_at {
            Some(end) => {
                facts.push(("Resolved", self.at(end)));
                facts.push(("Duration", minutes(end.duration_since(i.started_at))));
            }
            None => facts.push(("Resolved", "still open".into())),
        }
        let first = match self.r.first_notice_after_secs {
            Some(secs) => minutes(SignedDuration::from_secs(secs)),
            None => "no notice sent yet".into(),
        };
        facts.push(("Time to first notice", first));
        facts
    }

    /// "#1 outage-notice (investigating), 14:05 CET".
    fn update_title(&self, u: &UpdateReport) -> String {
        format!(
            "#{} {} ({}), {}",
            u.seq,
            (self.esc)(&u.kind),
            (self.esc)(&u.status),
            self.at(u.created_at)
        )
    }

    fn update_facts(&self, u: &UpdateReport) -> Vec<(&'static str, String)> {
        let short = u.content_sha256.get(..12).unwrap_or(&u.content_sha256);
        let mut facts = vec![
            ("Sent by", (self.esc)(&u.sent_by)),
            (
                "Wording",
                format!(
                    "approved by {} (sha256 {})",
                    (self.esc)(&u.approved_by),
                    (self.esc)(short)
                ),
            ),
            ("Channels", (self.esc)(&u.channels.join(", "))),
        ];
        if let Some(at) = u.next_update_at {
            facts.push(("Next update promised for", self.at(at)));
        }
        facts
    }

    /// "mail cus_1003: SMTP 550: … (1 attempt)".
    fn failure(&self, f: &FailureLine) -> String {
        let who = if f.recipient_id == "*" {
            "everyone"
        } else {
            &f.recipient_id
        };
        let attempts = match f.attempts {
            1 => "1 attempt".to_string(),
            n => format!("{n} attempts"),
        };
        let skipped = if f.state == "skipped" {
            "skipped, "
        } else {
            ""
        };
        format!(
            "{} {}: {} ({skipped}{attempts})",
            (self.esc)(&f.channel),
            (self.esc)(who),
            (self.esc)(&f.error)
        )
    }

    fn tally_rows(&self, tallies: &BTreeMap<String, Tally>) -> Vec<Vec<String>> {
        tallies
            .iter()
            .map(|(channel, t)| {
                vec![
                    (self.esc)(channel),
                    t.sent.to_string(),
                    t.failed.to_string(),
                    t.not_sent_yet.to_string(),
                ]
            })
            .collect()
    }

    fn promise_rows(&self) -> Vec<Vec<String>> {
        self.r
            .promises
            .iter()
            .map(|p| {
                let next = match (p.next_seq, p.next_at) {
                    (Some(seq), Some(at)) => format!("#{seq} at {}", self.at(at)),
                    _ if p.outcome == Outcome::StillDue => "not yet".into(),
                    _ => "none".into(),
                };
                vec![
                    format!("#{}", p.seq),
                    self.at(p.promised_at),
                    next,
                    p.outcome.describe(),
                ]
            })
            .collect()
    }

    fn follow_up_rows(&self) -> Vec<Vec<String>> {
        self.r
            .follow_ups
            .iter()
            .map(|f| {
                let mut state = f.state.as_str().to_string();
                if let Some(error) = &f.error {
                    state = format!("{state}: {}", (self.esc)(error));
                }
                if let Some(seq) = f.update_seq {
                    state = format!("{state}, as update #{seq}");
                }
                vec![f.id.to_string(), self.at(f.due_at), state]
            })
            .collect()
    }
}

/// Whitespace (line breaks included) folded to single spaces: a table cell is one line.
fn fold(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The report in Markdown: headings, lists and tables, to paste into a review document.
pub fn markdown(r: &Report, tz: &TimeZone) -> String {
    let esc = |s: &str| escape_str(&fold(s));
    let w = Words { r, tz, esc: &esc };
    let mut out = format!(
        "# {}\n\nIncident report as of {}.\n\n",
        w.title(),
        w.at(r.as_of)
    );
    md_facts(&mut out, &w.facts());
    out.push_str("## Timeline\n\n");
    if r.updates.is_empty() {
        out.push_str("Nothing has been sent for this incident yet.\n\n");
    }
    for u in &r.updates {
        out.push_str(&format!("### {}\n\n", w.update_title(u)));
        out.push_str(&format!("> {}\n\n", esc(&u.headline)));
        md_facts(&mut out, &w.update_facts(u));
        md_table(&mut out, &TALLY_HEAD, &w.tally_rows(&u.deliveries), true);
        if !u.failures.is_empty() {
            out.push_str("Failed:\n\n");
            for f in &u.failures {
                out.push_str(&format!("- {}\n", w.failure(f)));
            }
            if u.more_failures > 0 {
                out.push_str(&format!("- and {} more\n", u.more_failures));
            }
            out.push('\n');
        }
    }
    md_section(
        &mut out,
        "Promises",
        &PROMISE_HEAD,
        &w.promise_rows(),
        false,
    );
    md_section(
        &mut out,
        "Follow-up",
        &FOLLOW_UP_HEAD,
        &w.follow_up_rows(),
        false,
    );
    let totals = w.tally_rows(&r.totals);
    md_section(&mut out, "Totals per channel", &TALLY_HEAD, &totals, true);
    out.truncate(out.trim_end().len());
    out.push('\n');
    out
}

fn md_facts(out: &mut String, facts: &[(&str, String)]) {
    for (label, value) in facts {
        out.push_str(&format!("- **{label}:** {value}\n"));
    }
    out.push('\n');
}

fn md_section(out: &mut String, name: &str, head: &[&str], rows: &[Vec<String>], numeric: bool) {
    out.push_str(&format!("## {name}\n\n"));
    if rows.is_empty() {
        out.push_str(&format!("{}\n\n", empty_section(name)));
    } else {
        md_table(out, head, rows, numeric);
    }
}

/// What a section says when it has nothing to list.
fn empty_section(name: &str) -> &'static str {
    match name {
        "Promises" => "No update promised a next one.",
        "Follow-up" => "None scheduled.",
        _ => "Nothing has been sent yet.",
    }
}

/// A table; with `numeric`, every column after the first is a number, aligned right.
fn md_table(out: &mut String, head: &[&str], rows: &[Vec<String>], numeric: bool) {
    out.push_str(&format!("| {} |\n", head.join(" | ")));
    let align: Vec<&str> = (0..head.len())
        .map(|i| if numeric && i > 0 { "---:" } else { "---" })
        .collect();
    out.push_str(&format!("|{}|\n", align.join("|")));
    for row in rows {
        out.push_str(&format!("| {} |\n", row.join(" | ")));
    }
    out.push('\n');
}

const STYLE: &str = "
  :root { color-scheme: light; }
  * { box-sizing: border-box; }
  body { margin: 0; background: #f2f4f7; color: #101828; font-family: -apple-system, BlinkMacSystemFont, \"Segoe UI\", Roboto, Helvetica, Arial, sans-serif; font-size: 16px; line-height: 1.5; }
  main { max-width: 60rem; margin: 0 auto; padding: 24px 32px 64px; background: #ffffff; min-height: 100vh; }
  header { border-bottom: 3px solid #101828; padding-bottom: 12px; }
  .eyebrow, .meta { margin: 0; color: #475467; }
  h1 { margin: 4px 0 8px; font-size: 28px; line-height: 1.25; }
  h2 { margin: 32px 0 12px; padding-top: 8px; font-size: 22px; border-top: 2px solid #d0d5dd; }
  h3 { margin: 24px 0 8px; font-size: 18px; }
  .status { display: inline-block; padding: 0 10px; border-radius: 12px; font-weight: 700; border: 2px solid currentColor; }
  .status-investigating { color: #b42318; background: #fef3f2; }
  .status-identified { color: #b54708; background: #fffaeb; }
  .status-monitoring { color: #175cd3; background: #eff8ff; }
  .status-resolved { color: #067647; background: #ecfdf3; }
  dl { display: grid; grid-template-columns: max-content 1fr; gap: 4px 16px; margin: 12px 0; }
  dt { font-weight: 700; }
  dd { margin: 0; }
  blockquote { margin: 0 0 12px; padding: 8px 16px; border-left: 6px solid #2e90fa; background: #f5faff; }
  table { border-collapse: collapse; margin: 8px 0 16px; }
  th, td { padding: 4px 12px; border-bottom: 1px solid #d0d5dd; text-align: left; vertical-align: top; }
  td.n, th.n { text-align: right; font-variant-numeric: tabular-nums; }
  .failures li { margin: 0 0 4px; }
  @media print {
    body { background: #ffffff; font-size: 11pt; }
    main { max-width: none; padding: 0; min-height: 0; }
    h2, h3 { break-after: avoid; page-break-after: avoid; }
    table, .update { break-inside: avoid; page-break-inside: avoid; }
  }
";

/// The report as one self-contained HTML page: styles inline, no scripts, every piece of text
/// escaped.
pub fn html(r: &Report, tz: &TimeZone) -> String {
    let esc = |s: &str| escape_html(s);
    let w = Words { r, tz, esc: &esc };
    let i = &r.incident;
    let mut out = format!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>Incident report: {}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n<main>\n",
        w.title()
    );
    out.push_str(&format!(
        "<header>\n<p class=\"eyebrow\">Incident report · {}</p>\n<h1>{}</h1>\n\
         <p class=\"meta\"><span class=\"status status-{status}\">{status}</span> · as of {}</p>\n</header>\n",
        esc(&i.id),
        esc(&i.title),
        w.at(r.as_of),
        status = i.status.as_str(),
    ));
    html_facts(&mut out, &w.facts());
    out.push_str("<section>\n<h2>Timeline</h2>\n");
    if r.updates.is_empty() {
        out.push_str("<p>Nothing has been sent for this incident yet.</p>\n");
    }
    for u in &r.updates {
        html_update(&mut out, &w, u);
    }
    out.push_str("</section>\n");
    html_section(
        &mut out,
        "Promises",
        &PROMISE_HEAD,
        &w.promise_rows(),
        false,
    );
    html_section(
        &mut out,
        "Follow-up",
        &FOLLOW_UP_HEAD,
        &w.follow_up_rows(),
        false,
    );
    let totals = w.tally_rows(&r.totals);
    html_section(&mut out, "Totals per channel", &TALLY_HEAD, &totals, true);
    out.push_str("</main>\n</body>\n</html>\n");
    out
}

fn html_update(out: &mut String, w: &Words<'_>, u: &UpdateReport) {
    out.push_str(&format!(
        "<article class=\"update\">\n<h3>{}</h3>\n<blockquote>{}</blockquote>\n",
        w.update_title(u),
        (w.esc)(&u.headline)
    ));
    html_facts(out, &w.update_facts(u));
    html_table(out, &TALLY_HEAD, &w.tally_rows(&u.deliveries), true);
    if !u.failures.is_empty() {
        out.push_str("<p>Failed:</p>\n<ul class=\"failures\">\n");
        for f in &u.failures {
            out.push_str(&format!("<li>{}</li>\n", w.failure(f)));
        }
        if u.more_failures > 0 {
            out.push_str(&format!("<li>and {} more</li>\n", u.more_failures));
        }
        out.push_str("</ul>\n");
    }
    out.push_str("</article>\n");
}

fn html_facts(out: &mut String, facts: &[(&str, String)]) {
    out.push_str("<dl>\n");
    for (label, value) in facts {
        out.push_str(&format!("<dt>{label}</dt><dd>{value}</dd>\n"));
    }
    out.push_str("</dl>\n");
}

fn html_section(out: &mut String, name: &str, head: &[&str], rows: &[Vec<String>], numeric: bool) {
    out.push_str(&format!("<section>\n<h2>{name}</h2>\n"));
    if rows.is_empty() {
        out.push_str(&format!("<p>{}</p>\n", empty_section(name)));
    } else {
        html_table(out, head, rows, numeric);
    }
    out.push_str("</section>\n");
}

fn html_table(out: &mut String, head: &[&str], rows: &[Vec<String>], numeric: bool) {
    let class = |i: usize| if numeric && i > 0 { " class=\"n\"" } else { "" };
    out.push_str("<table>\n<thead><tr>");
    for (i, h) in head.iter().enumerate() {
        out.push_str(&format!("<th{}>{h}</th>", class(i)));
    }
    out.push_str("</tr></thead>\n<tbody>\n");
    for row in rows {
        out.push_str("<tr>");
        for (i, cell) in row.iter().enumerate() {
            out.push_str(&format!("<td{}>{cell}</td>", class(i)));
        }
        out.push_str("</tr>\n");
    }
    out.push_str("</tbody>\n</table>\n");
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::tests::{failure, incident, mail, ts, update};

    fn utc() -> TimeZone {
        TimeZone::UTC
    }

    #[test]
    fn a_failure_names_channel_recipient_reason_and_attempts() {
        let r = Report::new(incident(None), vec![], &[], ts("2026-11-26T14:00:00Z"));
        let w = Words {
            r: &r,
            tz: &utc(),
            esc: &|s: &str| s.to_string(),
        };
        let f = FailureLine::from(failure("cus_0", "SMTP 550: no such user"));
        assert_eq!(
            w.failure(&f),
            "mail cus_0: SMTP 550: no such user (1 attempt)"
        );
        let everyone = FailureLine {
            recipient_id: "*".into(),
            state: "skipped".into(),
            attempts: 2,
            ..f
        };
        assert_eq!(
            w.failure(&everyone),
            "mail everyone: SMTP 550: no such user (skipped, 2 attempts)"
        );
    }

    fn hostile_report() -> Report {
        let mut i = incident(Some("2026-11-26T15:15:00Z"));
        i.title = "<script>alert(1)</script> | *all* & more".into();
        let mut u = update(1, "2026-11-26T13:05:00Z", None);
        u.headline = "<img src=x onerror=alert(1)>\n# not a heading".into();
        u.sent_by = "<b>sam</b>".into();
        let failures = vec![failure("cus_1", "550 <user@example.com> \"rejected\"")];
        Report::new(
            i,
            vec![(u, mail(1, 1), failures)],
            &[],
            ts("2026-11-26T16:00:00Z"),
        )
    }

    #[test]
    fn html_never_turns_operator_text_into_markup() {
        let page = html(&hostile_report(), &utc());
        for raw in ["<script", "<img", "<b>", "<user@"] {
            assert!(!page.contains(raw), "{raw} in\n{page}");
        }
        assert!(page.contains("&lt;script&gt;alert(1)&lt;/script&gt; | *all* &amp; more"));
        assert!(page.contains("&lt;b&gt;sam&lt;/b&gt;"));
        assert!(page.contains("&quot;rejected&quot;"));
        assert!(page.contains("<dt>Duration</dt><dd>2 hours 15 minutes</dd>"));
    }

    #[test]
    fn markdown_keeps_operator_text_as_text_on_one_line() {
        let text = markdown(&hostile_report(), &utc());
        assert!(
            text.starts_with("# INC-1: \\<script\\>alert(1)\\</script\\> \\| \\*all\\* \\& more\n")
        );
        assert!(text.contains("> \\<img src=x onerror=alert(1)\\> \\# not a heading\n"));
        assert!(text.contains("- **Sent by:** \\<b\\>sam\\</b\\>\n"));
        assert!(text.contains("| mail | 1 | 1 | 0 |\n"));
        assert!(text.contains("- **Resolved:** 15:15 UTC\n- **Duration:** 2 hours 15 minutes\n"));
        assert!(text.contains("## Follow-up\n\nNone scheduled.\n"));
    }
}
