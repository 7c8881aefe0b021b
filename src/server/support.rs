//! `/support`: the live call script for support staff — the current incident's script, from
//! the same source as the messages (the call-script layout), the timeline of what customers
//! were told, when the last update went out and when the next one is promised. It follows new
//! blasts without a reload (`/support/events`) and shows "Updated just now".
//!
//! Staff only: the token in `CRIER_SUPPORT_TOKEN`, as `Authorization: Bearer …` or through the
//! sign-in form, which sets a session cookie (`HttpOnly; Secure; SameSite=Strict`) derived from
//! the token, so nothing is stored and changing the token signs everyone out. Tokens and
//! cookies are compared in constant time (HMAC verification). Without them: 401 and the form,
//! nothing of the script. With no token configured the page is off.

use ring::hmac;
use ring::rand::SystemRandom;

use super::public::{Public, Shown};
use crate::project::Project;
use crate::script;
use crate::store::Store;
use crate::template::markdown::escape_html as esc;
use crate::time::display_moment;

/// The environment variable holding the staff token.
pub const TOKEN_ENV: &str = "CRIER_SUPPORT_TOKEN";
/// The session cookie's name.
pub const COOKIE: &str = "crier_support";
/// How long a sign-in lasts, in seconds (12 hours: a shift).
const SESSION_SECS: u32 = 12 * 3600;

/// How staff are recognised.
pub struct Auth {
    /// A key made at start, to compare presented values with the expected ones in constant time.
    check: hmac::Key,
    token: hmac::Tag,
    session: String,
    session_tag: hmac::Tag,
}

impl Auth {
    /// From the environment variable `var` (`CRIER_SUPPORT_TOKEN`, `CRIER_API_TOKEN`); `None`
    /// when it is not set (what it guards is off).
    pub fn from_env(var: &str) -> Option<Auth> {
        let token = crate::secret::from_env(var, "token").ok()?;
        Some(Auth::new(token.expose()))
    }

    /// Whether `headers` carry the token as `Authorization: Bearer …`.
    pub fn bearer(&self, headers: &axum::http::HeaderMap) -> bool {
        headers
            .get(axum::http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .is_some_and(|t| self.token_matches(t.trim()))
    }

    pub fn new(token: &str) -> Auth {
        let check = hmac::Key::generate(hmac::HMAC_SHA256, &SystemRandom::new())
            .expect("the system has randomness");
        let derive = hmac::Key::new(hmac::HMAC_SHA256, token.as_bytes());
        let session = hex(hmac::sign(&derive, b"crier support session v1").as_ref());
        Auth {
            token: hmac::sign(&check, token.as_bytes()),
            session_tag: hmac::sign(&check, session.as_bytes()),
            session,
            check,
        }
    }

    /// Whether `presented` is the token.
    pub fn token_matches(&self, presented: &str) -> bool {
        hmac::verify(&self.check, presented.as_bytes(), self.token.as_ref()).is_ok()
    }

    /// Whether the request carries the token (bearer) or a session cookie.
    pub fn allows(&self, headers: &axum::http::HeaderMap) -> bool {
        if self.bearer(headers) {
            return true;
        }
        headers
            .get_all(axum::http::header::COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(';'))
            .filter_map(|pair| pair.trim().strip_prefix(&format!("{COOKIE}=")))
            .any(|value| {
                hmac::verify(&self.check, value.as_bytes(), self.session_tag.as_ref()).is_ok()
            })
    }

    /// The `Set-Cookie` value after a successful sign-in.
    pub fn cookie(&self) -> String {
        format!(
            "{COOKIE}={}; Path=/support; Max-Age={SESSION_SECS}; HttpOnly; Secure; SameSite=Strict",
            self.session
        )
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The support page as of the snapshot: the call script of the open incident updated last,
/// with the timeline and the promise, and the script that follows new blasts. `key` changes
/// with every new update, for `/support/events`.
pub async fn page<S: Store>(
    project: &Project,
    store: &S,
    public: &Public,
) -> anyhow::Result<(String, String)> {
    let tz = &project.config.time_zone;
    let Some(shown) = public.open.first() else {
        let body = "<main><h1>Nothing is open right now</h1>\
                    <p>When an incident starts, its call script appears here by itself.</p></main>";
        return Ok((frame("Call script", body), "none".to_string()));
    };
    let latest = &shown.updates[0];
    let key = format!("{}:{}", shown.incident.id, latest.seq);
    let incident = crate::store::incident_before(store, latest).await?;
    let told = script::Told {
        kind: &latest.kind,
        slots: &latest.slots,
        at: latest.created_at,
        incident: &incident,
    };
    let (script, _) = script::of_update(project, told, script::Format::Html)?;
    let mut extra = String::from("<section id=\"timeline\"><h2>What customers were told</h2>\n");
    extra.push_str(&promise_line(shown, public, tz));
    extra.push_str("<ol>\n");
    for u in &shown.updates {
        extra.push_str(&format!(
            "<li><strong>{}</strong> · {} ({}) — {}<br>{}</li>\n",
            esc(&display_moment(u.created_at, public.as_of, tz)),
            esc(&u.kind),
            esc(&u.status),
            esc(&u.headline),
            esc(&u.summary)
        ));
    }
    extra.push_str("</ol></section>\n");
    Ok((inject(&script, &extra), key))
}

fn promise_line(shown: &Shown, public: &Public, tz: &jiff::tz::TimeZone) -> String {
    let latest = &shown.updates[0];
    let last = display_moment(latest.created_at, public.as_of, tz);
    let next = latest
        .next_update_at
        .map(|t| {
            format!(
                " The next update is promised for <strong>{}</strong>.",
                esc(&display_moment(t, public.as_of, tz))
            )
        })
        .unwrap_or_default();
    format!(
        "<p class=\"hint\">Last update: <strong>{}</strong>.{next}</p>\n",
        esc(&last)
    )
}

/// The live part: follow `/support/events`, fetch the page again and swap it in without a
/// reload, then say "Updated just now". No outside code; runs only on this page.
const LIVE: &str = "<div id=\"crier-live\" role=\"status\" aria-live=\"polite\" \
style=\"position:fixed;top:8px;right:8px;padding:6px 12px;border-radius:6px;background:#067647;color:#fff;font:600 16px system-ui,sans-serif;display:none\"></div>\n\
<script>(function(){var seen=null;function mark(){var m=document.getElementById('crier-live');if(!m)return;\
m.textContent='Updated just now';m.style.display='block';setTimeout(function(){m.textContent='Updated a minute ago';},60000);}\
var es=new EventSource('/support/events');es.addEventListener('update',function(e){if(seen===null){seen=e.data;return;}\
if(e.data===seen)return;seen=e.data;fetch('/support',{credentials:'same-origin',cache:'no-store'}).then(function(r){return r.ok?r.text():null;})\
.then(function(html){if(!html)return;var doc=new DOMParser().parseFromString(html,'text/html');document.title=doc.title;\
document.body.replaceWith(doc.body);mark();});});})();</script>\n<style>@media print{#crier-live{display:none!important}}</style>\n";

/// `extra` before `</main>` (or `</body>`), and the live script before `</body>`.
fn inject(page: &str, extra: &str) -> String {
    let mut out = page.to_string();
    let at = out
        .rfind("</main>")
        .or_else(|| out.rfind("</body>"))
        .unwrap_or(out.len());
    out.insert_str(at, extra);
    let at = out.rfind("</body>").unwrap_or(out.len());
    out.insert_str(at, LIVE);
    out
}

/// A small page of our own (nothing open, signing in).
pub fn frame(title: &str, body: &str) -> String {
    format!(
        "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>{}</title>\n<style>body{{font:18px/1.5 system-ui,sans-serif;max-width:36rem;margin:3rem auto;padding:0 1rem;color:#101828}}\
         input,button{{font:inherit;padding:.4rem .6rem}}.error{{color:#b42318;font-weight:600}}</style>\n</head>\n<body>\n{body}\n</body>\n</html>\n",
        esc(title)
    )
}

/// The sign-in form, with `error` when a token was wrong.
pub fn sign_in(error: bool) -> String {
    let note = if error {
        "<p class=\"error\" role=\"alert\">That token is not right. Ask the incident lead for the current one.</p>"
    } else {
        ""
    };
    frame(
        "Sign in: call script",
        &format!(
            "<main><h1>Call script for support staff</h1>{note}\
             <form method=\"post\" action=\"/support/sign-in\">\
             <label for=\"token\">Support token</label><br>\
             <input id=\"token\" name=\"token\" type=\"password\" autocomplete=\"current-password\" required autofocus> \
             <button type=\"submit\">Sign in</button></form></main>"
        ),
    )
}
