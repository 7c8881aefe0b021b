//! Sending email over SMTP with lettre: a small pool of connections we open ourselves, with
//! `TCP_NODELAY` set (lettre writes the body and the final dot separately; without it every
//! message waits on Nagle's algorithm). `smtp://` upgrades with STARTTLS (required unless the
//! host is loopback), `smtps://` uses implicit TLS.

use std::sync::Mutex;
use std::time::Duration;

use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{AsyncSmtpConnection, TlsParameters};
use lettre::transport::smtp::extension::ClientId;

use super::FormatError;
use super::email::{self, Config};
use crate::delivery::retry::classify_smtp;
use crate::delivery::transport::{Job, Transport};
use crate::delivery::{Receipt, SendError};
use crate::secret::{self, Secret};

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
        Ok(Smtp {
            server,
            from,
            reply_to,
            credentials,
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
            conn.auth(&mechanisms, &creds).await.map_err(smtp_error)?;
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

/// A lettre error: an SMTP reply is classified by its code; a broken connection is transient.
fn smtp_error(e: lettre::transport::smtp::Error) -> SendError {
    match e.status() {
        Some(code) => {
            let code: u16 = code.to_string().parse().unwrap_or(500);
            let text = e.to_string();
            classify_smtp(code, &text)
                .err()
                .unwrap_or_else(|| transient(text))
        }
        None => transient(format!("SMTP connection failed: {e}")),
    }
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
            _ => self.connect().await?,
        };
        let result = conn.send(&out.envelope, &out.bytes).await;
        match result {
            Ok(response) => {
                self.idle
                    .lock()
                    .expect("the pool is never poisoned")
                    .push(conn);
                let id = response.message().next().map(str::to_string);
                Ok(Receipt { provider_id: id })
            }
            Err(e) => {
                if !conn.has_broken() && e.status().is_some() {
                    self.idle
                        .lock()
                        .expect("the pool is never poisoned")
                        .push(conn);
                }
                Err(smtp_error(e))
            }
        }
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
