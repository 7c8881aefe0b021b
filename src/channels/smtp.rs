//! Sending email over SMTP with lettre: a small pool of connections we open ourselves, with
//! `TCP_NODELAY` set (lettre writes the body and the final dot separately; without it every
//! message waits on Nagle's algorithm). `smtp://` upgrades with STARTTLS (required unless the
//! host is loopback), `smtps://` uses implicit TLS. A message goes out step by step (`MAIL`,
//! `RCPT`, `DATA`, content), so a connection lost after the content was written is told apart
//! (in doubt: the server may have it) from one lost before (transient: it cannot have it).

use std::sync::Mutex;
use std::time::Duration;

use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{AsyncSmtpConnection, TlsParameters};
use lettre::transport::smtp::commands::{Data, Mail, Rcpt};
use lettre::transport::smtp::extension::{ClientId, Extension, MailBodyParameter, MailParameter};
use lettre::transport::smtp::response::Response;

use super::channel_type::{Addressing, Build, ChannelType, Defaults, Knobs, knobs_of};
use super::classify::classify_smtp;
use super::email::{self, Config};
use super::transport::{Job, Receipt, SendError, Transport};
use super::{FormatError, Meta, Output};
use crate::audience::Member;
use crate::network::Guard;
use crate::secret::{self, Secret};
use crate::template::{Engine, Message};

/// How to reach the SMTP server, from `smtp_url`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Server {
    pub host: String,
    pub port: u16,
    pub security: Security,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Security {
    /// Plain SMTP: only to a loopback host.
    Plain,
    StartTls,
    Implicit,
}

/// Parse `smtp://host:587` / `smtps://host:465`; plain SMTP is allowed only to loopback.
pub fn server(url: &str) -> Result<Server, String> {
    let parsed =
        url::Url::parse(url).map_err(|e| format!("`{url}` is not an SMTP address: {e}"))?;
    let host = parsed
        .host_str()
        .ok_or_else(|| format!("`{url}` has no host"))?
        .to_string();
    let loopback = host == "localhost"
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback());
    let (security, default_port) = match parsed.scheme() {
        "smtp" if loopback => (Security::Plain, 25),
        "smtp" => (Security::StartTls, 587),
        "smtps" => (Security::Implicit, 465),
        other => {
            return Err(format!(
                "`{url}` must start with `smtp://` or `smtps://`, not `{other}://`"
            ));
        }
    };
    Ok(Server {
        port: parsed.port().unwrap_or(default_port),
        host,
        security,
    })
}

/// The email channel's transport.
pub struct Smtp {
    server: Server,
    from: lettre::message::Mailbox,
    reply_to: Option<lettre::message::Mailbox>,
    credentials: Option<(Secret, Secret)>,
    /// The credentials, cut out of any server reply kept as a reason.
    secrets: secret::Scrubber,
    hello: ClientId,
    timeout: Duration,
    idle: Mutex<Vec<AsyncSmtpConnection>>,
}

impl std::fmt::Debug for Smtp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Smtp")
            .field("server", &self.server)
            .finish_non_exhaustive()
    }
}

/// One email on its way: envelope and RFC 5322 bytes.
pub struct Outgoing {
    envelope: lettre::address::Envelope,
    bytes: Vec<u8>,
}

/// `type = "email"` in the registry: the config and the payload are in [`super::email`]; this
/// module sends them, one message per recipient, over SMTP.
pub struct Type;

impl ChannelType for Type {
    const NAME: &'static str = "email";
    const PERSONAL: bool = true;
    const DEFAULTS: Defaults = Defaults {
        per_second: Some(50.0),
        burst: 10,
        max_in_flight: 8,
        timeout_secs: 30,
    };
    type Config = email::Config;
    type Transport = Smtp;

    fn build(config: &email::Config, at: &Build<'_>) -> Result<Smtp, String> {
        Smtp::new(config, at.timeout)
    }

    fn knobs(config: &email::Config) -> Knobs {
        knobs_of!(config)
    }

    fn outputs(engine: &Engine, m: &Message, meta: &Meta<'_>) -> Result<Vec<Output>, FormatError> {
        let e = email::payload(engine, m, meta)?;
        Ok(vec![
            Output {
                file: "email.html",
                content: e.html,
            },
            Output {
                file: "email.txt",
                content: format!("Subject: {}\n\n{}", e.subject, e.text),
            },
        ])
    }

    fn addressing(_: &email::Config) -> Addressing {
        Addressing::PerRecipient
    }

    fn reaches(_: &email::Config, member: &Member) -> bool {
        !member.recipient.email.is_empty()
    }

    fn secret_vars(config: &email::Config) -> Vec<(&'static str, &str)> {
        let mut vars = Vec::new();
        if let Some(v) = &config.username_env {
            vars.push(("username_env", v.as_str()));
        }
        if let Some(v) = &config.password_env {
            vars.push(("password_env", v.as_str()));
        }
        vars
    }

    fn check_values(config: &email::Config, _: &Guard) -> Vec<(&'static str, String)> {
        let mut problems = Vec::new();
        problems.extend(email::check_mailbox("from", &config.from));
        if let Some(r) = &config.reply_to {
            problems.extend(email::check_mailbox("reply_to", r));
        }
        if let Err(e) = server(&config.smtp_url) {
            problems.push(("smtp_url", e));
        }
        problems
    }
}

impl Smtp {
    /// The transport for `config`, reading its secrets from the environment.
    pub fn new(config: &Config, timeout: Duration) -> Result<Smtp, String> {
        let server = server(&config.smtp_url)?;
        let from: lettre::message::Mailbox = config
            .from
            .parse()
            .map_err(|e| format!("`from = \"{}\"` is not a mailbox: {e}", config.from))?;
        let reply_to = match &config.reply_to {
            Some(r) => Some(
                r.parse()
                    .map_err(|e| format!("`reply_to = \"{r}\"` is not a mailbox: {e}"))?,
            ),
            None => None,
        };
        let credentials = match (&config.username_env, &config.password_env) {
            (Some(u), Some(p)) => Some((
                secret::from_env(u, "username_env").map_err(|d| d.message)?,
                secret::from_env(p, "password_env").map_err(|d| d.message)?,
            )),
            _ => None,
        };
        let mut secrets = secret::Scrubber::default();
        for s in credentials.iter().flat_map(|(u, p)| [u, p]) {
            secrets.add(s.expose());
        }
        Ok(Smtp {
            server,
            from,
            reply_to,
            credentials,
            secrets,
            hello: ClientId::default(),
            timeout,
            idle: Mutex::new(Vec::new()),
        })
    }

    async fn connect(&self) -> Result<AsyncSmtpConnection, SendError> {
        let s = &self.server;
        let mut conn = match s.security {
            Security::Implicit => {
                let tls = TlsParameters::new(s.host.clone()).map_err(transient)?;
                AsyncSmtpConnection::connect_tokio1(
                    (s.host.as_str(), s.port),
                    Some(self.timeout),
                    &self.hello,
                    Some(tls),
                    None,
                )
                .await
                .map_err(smtp_error)?
            }
            Security::Plain | Security::StartTls => {
                let tcp = tokio::time::timeout(
                    self.timeout,
                    tokio::net::TcpStream::connect((s.host.as_str(), s.port)),
                )
                .await
                .map_err(|_| {
                    transient(format!(
                        "no connection to {}:{} within {:?}",
                        s.host, s.port, self.timeout
                    ))
                })?
                .map_err(|e| transient(format!("cannot connect to {}:{}: {e}", s.host, s.port)))?;
                tcp.set_nodelay(true).map_err(transient)?;
                AsyncSmtpConnection::connect_with_transport(Box::new(tcp), &self.hello)
                    .await
                    .map_err(smtp_error)?
            }
        };
        if s.security == Security::StartTls {
            let tls = TlsParameters::new(s.host.clone()).map_err(transient)?;
            conn.starttls(tls, &self.hello).await.map_err(smtp_error)?;
        }
        if let Some((user, pass)) = &self.credentials {
            let creds = Credentials::new(user.expose().to_string(), pass.expose().to_string());
            let mechanisms = [
                lettre::transport::smtp::authentication::Mechanism::Plain,
                lettre::transport::smtp::authentication::Mechanism::Login,
            ];
            // A server may quote what it was sent when it refuses it.
            conn.auth(&mechanisms, &creds)
                .await
                .map_err(|e| smtp_error(e).scrubbed(&self.secrets))?;
        }
        Ok(conn)
    }
}

fn transient(e: impl std::fmt::Display) -> SendError {
    SendError::Transient {
        reason: e.to_string(),
        retry_after: None,
    }
}

/// A lettre error: an SMTP reply is classified by its code (the reason quotes the server's
/// own text); a refusal by lettre itself before anything was sent (no STARTTLS offered, no
/// usable AUTH mechanism) is permanent, as trying again cannot help; a broken connection is
/// transient.
fn smtp_error(e: lettre::transport::smtp::Error) -> SendError {
    use std::error::Error as _;
    let detail = e.source().map(|s| s.to_string()).unwrap_or_default();
    match e.status() {
        Some(code) => {
            let code: u16 = code.to_string().parse().unwrap_or(500);
            classify_smtp(code, &detail)
                .err()
                .unwrap_or_else(|| transient(e))
        }
        None if e.is_client() => SendError::Permanent {
            reason: format!("not sent over SMTP: {detail}"),
            disable_endpoint: false,
        },
        None => transient(format!("SMTP connection failed: {e}")),
    }
}

/// One message over `conn`: `MAIL FROM`, `RCPT TO`, `DATA`, then the content and the final
/// dot. Before the content goes out nothing can have been delivered, so a failure is
/// classified by the server's reply (transient without one). From then on, a connection that
/// breaks before the server answers leaves the message in doubt: the server may have it
/// (resent with the same Message-ID, or skipped, by the channel's `in_doubt`). After any
/// failure the connection is closed, as lettre's own `send` does.
async fn transmit(conn: &mut AsyncSmtpConnection, out: &Outgoing) -> Result<Response, SendError> {
    if let Err(e) = envelope(conn, out).await {
        conn.abort().await;
        return Err(e);
    }
    match conn.message(&out.bytes).await {
        Ok(response) => Ok(response),
        Err(e) => {
            conn.abort().await;
            Err(match e.status() {
                Some(_) => smtp_error(e),
                None => SendError::InDoubt {
                    reason: format!(
                        "the SMTP connection broke after the message was sent, before the server \
                         confirmed it: {e}"
                    ),
                },
            })
        }
    }
}

/// `MAIL FROM` (with the parameters the message needs), `RCPT TO`, `DATA`.
async fn envelope(conn: &mut AsyncSmtpConnection, out: &Outgoing) -> Result<(), SendError> {
    let permanent = |reason: String| SendError::Permanent {
        reason,
        disable_endpoint: false,
    };
    let envelope = &out.envelope;
    let info = conn.server_info();
    let mut parameters = Vec::new();
    let addresses = envelope.from().into_iter().chain(envelope.to());
    if let Some(a) = addresses.map(ToString::to_string).find(|a| !a.is_ascii()) {
        if !info.supports_feature(Extension::SmtpUtfEight) {
            return Err(permanent(format!(
                "`{a}` is not ASCII and the SMTP server does not offer SMTPUTF8"
            )));
        }
        parameters.push(MailParameter::SmtpUtfEight);
    }
    if !out.bytes.is_ascii() {
        if !info.supports_feature(Extension::EightBitMime) {
            return Err(permanent(
                "the message is not ASCII and the SMTP server does not offer 8BITMIME".into(),
            ));
        }
        parameters.push(MailParameter::Body(MailBodyParameter::EightBitMime));
    }
    conn.command(Mail::new(envelope.from().cloned(), parameters))
        .await
        .map_err(smtp_error)?;
    for to in envelope.to() {
        conn.command(Rcpt::new(to.clone(), Vec::new()))
            .await
            .map_err(smtp_error)?;
    }
    conn.command(Data).await.map_err(smtp_error)?;
    Ok(())
}

impl Transport for Smtp {
    type Payload = Outgoing;

    fn prepare(&self, job: &Job<'_>) -> Result<Outgoing, FormatError> {
        let email = email::payload(job.engine, job.rendered.message_for("email"), &job.meta)?;
        let r = &job.member.recipient;
        let to = email::mailbox(&r.name, &r.email).map_err(FormatError::Layout)?;
        let message = email::message(&self.from, self.reply_to.as_ref(), to, &email, job.key)
            .map_err(FormatError::Layout)?;
        Ok(Outgoing {
            envelope: message.envelope().clone(),
            bytes: message.formatted(),
        })
    }

    async fn send(&self, out: Outgoing) -> Result<Receipt, SendError> {
        let pooled = self.idle.lock().expect("the pool is never poisoned").pop();
        let mut conn = match pooled {
            Some(c) if !c.has_broken() => c,
            // Connecting gets half the send timeout: nothing is written yet, so running out of
            // time here is an ordinary retry, never "in doubt".
            _ => tokio::time::timeout(self.timeout / 2, self.connect())
                .await
                .map_err(|_| {
                    transient(format!(
                        "the SMTP server did not greet within {:?}",
                        self.timeout / 2
                    ))
                })??,
        };
        // On failure the connection was closed (QUIT) and is dropped here.
        let response = transmit(&mut conn, &out).await?;
        self.idle
            .lock()
            .expect("the pool is never poisoned")
            .push(conn);
        let id = response.message().next().map(str::to_string);
        Ok(Receipt { provider_id: id })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_smtp_only_to_loopback() {
        assert_eq!(
            server("smtp://127.0.0.1:2525").unwrap().security,
            Security::Plain
        );
        assert_eq!(server("smtp://localhost").unwrap().port, 25);
        assert_eq!(
            server("smtp://smtp.example.com").unwrap(),
            Server {
                host: "smtp.example.com".into(),
                port: 587,
                security: Security::StartTls
            }
        );
        assert_eq!(server("smtps://smtp.example.com").unwrap().port, 465);
        assert!(server("http://x").is_err());
    }
}
