//! Email: the subject, an HTML part from `templates/layouts/email.html` and a plain-text part.
//! Anything that becomes a header is refused if it holds CR, LF or NUL; bodies have bare CR
//! removed here and every line ending turned into CRLF just before SMTP (RUSTSEC-2026-0561).

use serde::{Deserialize, Serialize};

use super::Meta;
use super::limits::FormatError;
use crate::template::context::Context;
use crate::template::{Engine, Message, MessageView};

/// `channels/NAME.toml` for `type = "email"`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    #[serde(rename = "type")]
    pub ty: String,
    /// `smtp://host:587` (STARTTLS, required unless the host is loopback) or `smtps://host:465`.
    pub smtp_url: String,
    /// Environment variable holding the SMTP user name.
    pub username_env: Option<String>,
    /// Environment variable holding the SMTP password.
    pub password_env: Option<String>,
    /// `Acme Status <status@acme.example>`.
    pub from: String,
    /// Where replies go: `support@acme.example`.
    pub reply_to: Option<String>,
    pub per_second: Option<f64>,
    pub burst: Option<u32>,
    pub max_in_flight: Option<u32>,
    pub timeout_secs: Option<u64>,
    /// A message whose send was interrupted (crash, timeout after writing): `resend` it with the
    /// same id (default; receivers can recognise it), or `skip` it and list it for the operator.
    #[serde(default)]
    pub in_doubt: super::InDoubt,
    /// Attempts per message before it fails for good (default 8; back-off doubles from 1 s).
    pub max_attempts: Option<u32>,
}

/// Why `value`, the value of `key`, is not a mailbox, if it is not.
pub fn check_mailbox(key: &'static str, value: &str) -> Option<(&'static str, String)> {
    let e = value.parse::<lettre::message::Mailbox>().err()?;
    Some((
        key,
        format!(
            "`{key} = \"{value}\"` is not a mailbox ({e}); write it like `Acme Status <status@acme.example>`"
        ),
    ))
}

/// One email, ready to be put into MIME.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Email {
    pub subject: String,
    pub html: String,
    pub text: String,
}

/// What `layouts/email.html` sees: the kind's context plus `message` and `kind`.
#[derive(Serialize)]
struct LayoutContext<'a> {
    #[serde(flatten)]
    base: Context<'a>,
    message: MessageView<'a>,
    kind: &'a str,
}

/// The email for `m`.
pub fn payload(engine: &Engine, m: &Message, meta: &Meta<'_>) -> Result<Email, FormatError> {
    check_header("subject", &m.subject)?;
    let ctx = LayoutContext {
        base: meta.inputs.context(),
        message: MessageView::of(m),
        kind: meta.kind,
    };
    let html = engine
        .render_layout("email.html", &ctx)
        .map_err(|d| FormatError::Layout(d.to_string()))?;
    Ok(Email {
        subject: m.subject.clone(),
        html: no_bare_cr(&html),
        text: no_bare_cr(&text(m, meta)),
    })
}

/// The plain-text part: headline, body (which signs off), where to get help.
fn text(m: &Message, meta: &Meta<'_>) -> String {
    let c = meta.inputs.company;
    let mut t = format!("{}\n\n{}\n\n", m.headline, m.body.text());
    t.push_str(&format!("Live status: {}\n", c.status_url));
    let contact: Vec<&str> = [c.support_phone.as_str(), c.support_email.as_str()]
        .into_iter()
        .filter(|s| !s.is_empty())
        .collect();
    if !contact.is_empty() {
        t.push_str(&format!("Help: {}\n", contact.join(" · ")));
    }
    t.push_str(&format!(
        "Incident {} · You receive this because you use {}.\n",
        meta.inputs.incident.id, c.name
    ));
    t
}

/// Refuse CR, LF and NUL in a value that becomes a header (subject, display names).
pub fn check_header(field: &'static str, value: &str) -> Result<(), FormatError> {
    let what = if value.contains('\0') {
        "a NUL character"
    } else if value.contains(['\r', '\n']) {
        "a line break"
    } else {
        return Ok(());
    };
    Err(FormatError::UnsafeHeader { field, what })
}

/// Line endings as `\n` only: CRLF and lone CR become LF.
pub fn no_bare_cr(s: &str) -> String {
    s.replace("\r\n", "\n").replace('\r', "\n")
}

/// Every line ending as CRLF, for the SMTP wire.
pub fn crlf(s: &str) -> String {
    no_bare_cr(s).replace('\n', "\r\n")
}

/// The MIME message for one recipient: multipart text + HTML, a stable Message-ID derived from
/// the idempotency key, every body line ending as CRLF.
pub fn message(
    from: &lettre::message::Mailbox,
    reply_to: Option<&lettre::message::Mailbox>,
    to: lettre::message::Mailbox,
    email: &Email,
    key: &str,
) -> Result<lettre::Message, String> {
    use lettre::message::{MultiPart, SinglePart, header::ContentType};
    let mut builder = lettre::Message::builder()
        .from(from.clone())
        .to(to)
        .subject(email.subject.clone())
        .message_id(Some(message_id(key, from)));
    if let Some(r) = reply_to {
        builder = builder.reply_to(r.clone());
    }
    let parts = MultiPart::alternative()
        .singlepart(
            SinglePart::builder()
                .header(ContentType::TEXT_PLAIN)
                .body(crlf(&email.text)),
        )
        .singlepart(
            SinglePart::builder()
                .header(ContentType::TEXT_HTML)
                .body(crlf(&email.html)),
        );
    builder
        .multipart(parts)
        .map_err(|e| format!("cannot build the email: {e}"))
}

/// `<key@domain-of-from>`: the same on every attempt, so a resend is recognisable.
pub fn message_id(key: &str, from: &lettre::message::Mailbox) -> String {
    format!("<{key}@{}>", from.email.domain())
}

/// The recipient's mailbox: their name (already refused if it holds a line break) and address.
pub fn mailbox(name: &str, email: &str) -> Result<lettre::message::Mailbox, String> {
    let address: lettre::Address = email
        .parse()
        .map_err(|e| format!("`{email}` is not an email address: {e}"))?;
    let name = (!name.is_empty()).then(|| name.to_string());
    Ok(lettre::message::Mailbox::new(name, address))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_refuse_line_breaks_and_nul() {
        assert!(check_header("subject", "Update: checkout").is_ok());
        assert_eq!(
            check_header("subject", "a\r\nBcc: x@y")
                .unwrap_err()
                .to_string(),
            "the `subject` would become an email header but contains a line break"
        );
        assert!(check_header("subject", "a\0b").is_err());
    }

    #[test]
    fn line_endings_normalise() {
        assert_eq!(crlf("a\nb\rc\r\nd"), "a\r\nb\r\nc\r\nd");
    }
}
