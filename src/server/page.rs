//! The public status page (`/`, and `index.html` of `crier page --out`): the open incidents
//! with their timelines, the recent ones, or — while maintenance is on — the maintenance page.
//! One self-contained HTML file: styles inline, no scripts, no outside requests, so it works
//! from any static host and from disk. Every text is escaped: what an operator typed never
//! becomes markup.

use super::public::{Public, Shown};
use crate::project::Project;
use crate::template::markdown::escape_html as esc;
use crate::time::display_moment;

const STYLE: &str = "\
:root{color-scheme:light;--ink:#1b1f24;--muted:#57606a;--line:#d0d7de;--ok:#1a7f37;--minor:#9a6700;--major:#bc4c00;--critical:#cf222e;--maintenance:#0969da}\
*{box-sizing:border-box}body{margin:0;font:16px/1.5 system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;color:var(--ink);background:#f6f8fa}\
main{max-width:46rem;margin:0 auto;padding:2rem 1rem 4rem}header h1{font-size:1.5rem;margin:0 0 1rem}\
.banner{border-radius:8px;padding:1rem 1.25rem;color:#fff;font-weight:600;font-size:1.15rem;margin:0 0 2rem}\
.banner small{display:block;font-weight:400;font-size:1rem;opacity:.95}\
.impact-none{background:var(--ok)}.impact-minor{background:var(--minor)}.impact-major{background:var(--major)}\
.impact-critical{background:var(--critical)}.impact-maintenance{background:var(--maintenance)}\
section{background:#fff;border:1px solid var(--line);border-radius:8px;padding:1rem 1.25rem;margin:0 0 1.5rem}\
h2{font-size:1.15rem;margin:0 0 .25rem}.meta{color:var(--muted);margin:0 0 1rem;font-size:.95rem}\
ol{list-style:none;margin:0;padding:0}li{border-top:1px solid var(--line);padding:.75rem 0}\
li:first-child{border-top:0}.when{color:var(--muted);font-size:.9rem}.headline{font-weight:600;margin:.1rem 0}\
p{margin:.25rem 0}footer{color:var(--muted);font-size:.9rem;margin-top:2rem}\
@media print{body{background:#fff}section{border:0;padding:0}}";

/// The page for `public`, in the company's time zone.
pub fn render(project: &Project, public: &Public) -> String {
    let company = &project.config.company;
    let mut out = format!(
        "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>{} status</title>\n<style>{STYLE}</style>\n</head>\n<body>\n<main>\n\
         <header><h1>{} status</h1></header>\n",
        esc(&company.name),
        esc(&company.name)
    );
    match &public.maintenance {
        Some((_, about)) => maintenance(&mut out, project, public, about.as_ref()),
        None => status(&mut out, project, public),
    }
    let contact = match (&company.support_phone, &company.support_email) {
        (p, _) if !p.is_empty() => format!(" Need help? Call {}.", esc(p)),
        (_, e) if !e.is_empty() => format!(" Need help? Write to {}.", esc(e)),
        _ => String::new(),
    };
    out.push_str(&format!(
        "<footer>Updated {}.{contact}</footer>\n</main>\n</body>\n</html>\n",
        at(project, public, public.as_of)
    ));
    out
}

fn at(project: &Project, public: &Public, t: jiff::Timestamp) -> String {
    esc(&display_moment(t, public.as_of, &project.config.time_zone))
}

fn status(out: &mut String, project: &Project, public: &Public) {
    match public.open.first() {
        None => out.push_str(
            "<div class=\"banner impact-none\" role=\"status\">Everything is working normally.</div>\n",
        ),
        Some(first) => {
            let latest = &first.updates[0];
            out.push_str(&format!(
                "<div class=\"banner impact-{}\" role=\"status\">{}<small>{}</small></div>\n",
                public.indicator(),
                esc(&latest.headline),
                esc(&latest.summary)
            ));
        }
    }
    for shown in &public.open {
        incident(out, project, public, shown);
    }
    if !public.recent.is_empty() {
        out.push_str("<h2>Recent incidents</h2>\n");
        for shown in &public.recent {
            incident(out, project, public, shown);
        }
    }
}

fn incident(out: &mut String, project: &Project, public: &Public, s: &Shown) {
    let i = &s.incident;
    let span = match i.resolved_at {
        Some(r) => format!(
            "{} · started {}, resolved {}",
            i.status.as_str(),
            at(project, public, i.started_at),
            at(project, public, r)
        ),
        None => format!(
            "{} · {} impact · started {}",
            i.status.as_str(),
            i.impact.as_str(),
            at(project, public, i.started_at)
        ),
    };
    out.push_str(&format!(
        "<section aria-labelledby=\"{id}\">\n<h2 id=\"{id}\">{}</h2>\n<p class=\"meta\">{span}</p>\n<ol>\n",
        esc(&i.title),
        id = esc(&format!("incident-{}", i.id)),
    ));
    for u in &s.updates {
        out.push_str(&format!(
            "<li><div class=\"when\">{} · {}</div><p class=\"headline\">{}</p><p>{}</p></li>\n",
            at(project, public, u.created_at),
            esc(&u.status),
            esc(&u.headline),
            esc(&u.summary)
        ));
    }
    out.push_str("</ol>\n</section>\n");
}

fn maintenance(out: &mut String, project: &Project, public: &Public, about: Option<&Shown>) {
    let (headline, summary) = match about.and_then(|s| s.updates.first()) {
        Some(u) => (u.headline.as_str(), u.summary.as_str()),
        None => (
            "We're doing maintenance right now",
            "Some things may not work for a little while. We'll be back as soon as we can.",
        ),
    };
    out.push_str(&format!(
        "<div class=\"banner impact-maintenance\" role=\"status\">{}<small>{}</small></div>\n",
        esc(headline),
        esc(summary)
    ));
    if let Some(s) = about {
        incident(out, project, public, s);
    }
}
