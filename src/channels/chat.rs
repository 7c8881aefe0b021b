//! The config every chat platform reached through an incoming webhook shares
//! (Slack, Teams, Discord, Mattermost, Google Chat). The webhook URL is a secret: anyone who
//! has it can post, so it lives in the environment, named by `url_env`.

use serde::Deserialize;

use crate::network::Guard;
use crate::secret::{Scrubber, Secret};

/// `channels/NAME.toml` for `type = "slack" | "teams" | "discord" | "mattermost" | "google-chat"`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// The channel type.
    #[serde(rename = "type")]
    pub ty: String,
    /// Environment variable holding the incoming-webhook URL.
    pub url_env: String,
    /// `true`: for nudges to the people on duty; never receives customer messages.
    #[serde(default)]
    pub internal: bool,
    /// Name shown as the sender where the platform allows it (Discord, Mattermost).
    pub username: Option<String>,
    /// Messages per second (defaults respect each platform: Slack 1/s, Discord 5 per 2 s).
    pub per_second: Option<f64>,
    /// Messages allowed at once above the steady rate.
    pub burst: Option<u32>,
    /// Requests in flight at once.
    pub max_in_flight: Option<u32>,
    /// Seconds before a request is given up.
    pub timeout_secs: Option<u64>,
    /// A message whose send was interrupted (crash, timeout after writing): `resend` it with the
    /// same id (default; receivers can recognise it), or `skip` it and list it for the operator.
    #[serde(default)]
    pub in_doubt: super::InDoubt,
    /// Attempts per message before it fails for good (default 8; back-off doubles from 1 s).
    pub max_attempts: Option<u32>,
}

/// Which platform a chat channel posts to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Platform {
    Slack,
    Teams,
    Discord,
    Mattermost,
    GoogleChat,
}

impl Platform {
    fn name(self) -> &'static str {
        match self {
            Platform::Slack => "the Slack webhook",
            Platform::Teams => "the Teams webhook",
            Platform::Discord => "the Discord webhook",
            Platform::Mattermost => "the Mattermost webhook",
            Platform::GoogleChat => "the Google Chat webhook",
        }
    }
}

/// Posts one message per blast to a chat platform's incoming webhook.
pub struct Chat {
    platform: Platform,
    url: Secret<url::Url>,
    username: Option<String>,
    client: super::http::Client,
}

impl std::fmt::Debug for Chat {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Chat")
            .field("platform", &self.platform)
            .finish_non_exhaustive()
    }
}

impl Chat {
    /// The transport for `config`, reading the webhook URL from the environment.
    /// The URL is checked here, before anything is sent, and never shown.
    pub fn new(
        platform: Platform,
        config: &Config,
        timeout: std::time::Duration,
        guard: &Guard,
    ) -> Result<Chat, String> {
        let var = &config.url_env;
        let text = crate::secret::from_env(var, "url_env").map_err(|d| d.message)?;
        let mut url = match url::Url::parse(text.expose()) {
            Ok(u) if matches!(u.scheme(), "https" | "http") && u.host().is_some() => u,
            _ => {
                return Err(format!(
                    "the value of `{var}` is not a web address (it must start with `https://`)"
                ));
            }
        };
        guard
            .check_url(&url)
            .map_err(|refused| format!("the value of `{var}`: {refused}"))?;
        let mut secrets = Scrubber::default();
        secrets.add_url(&url);
        if platform == Platform::Discord && !url.query_pairs().any(|(k, _)| k == "wait") {
            url.query_pairs_mut().append_pair("wait", "true");
        }
        Ok(Chat {
            platform,
            url: Secret::new(url),
            username: config.username.clone(),
            client: super::http::client(timeout, guard)?.scrubbing(secrets),
        })
    }
}

impl super::transport::Transport for Chat {
    type Payload = Vec<u8>;

    fn prepare(&self, job: &super::transport::Job<'_>) -> Result<Vec<u8>, super::FormatError> {
        let ty = match self.platform {
            Platform::Slack => "slack",
            Platform::Teams => "teams",
            Platform::Discord => "discord",
            Platform::Mattermost => "mattermost",
            Platform::GoogleChat => "google-chat",
        };
        let message = job.rendered.message_for(ty);
        let username = self.username.as_deref();
        let value = match self.platform {
            Platform::Slack => super::slack::payload(message, &job.meta)?,
            Platform::Teams => super::teams::payload(message, &job.meta)?,
            Platform::Discord => super::discord::payload(message, &job.meta, username)?,
            Platform::Mattermost => super::mattermost::payload(message, &job.meta, username)?,
            Platform::GoogleChat => super::google_chat::payload(message, &job.meta)?,
        };
        Ok(serde_json::to_vec(&value).expect("a JSON value always serializes"))
    }

    async fn send(
        &self,
        body: Vec<u8>,
    ) -> Result<super::transport::Receipt, super::transport::SendError> {
        let answer = super::http::post(
            &self.client,
            self.url.expose().clone(),
            &[],
            body,
            self.platform.name(),
        )
        .await?;
        super::http::check(&answer, false)?;
        Ok(super::http::receipt(&answer))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A panic prints what it is given with `{:?}`: a chat transport shown that way, in a
    /// panic, shows no part of its webhook URL.
    #[test]
    fn a_panic_showing_the_transport_shows_no_part_of_its_url() {
        let url =
            url::Url::parse("https://hooks.example.com/services/T0CANARY/B0CANARY/CANARY-t0ken")
                .unwrap();
        let mut secrets = Scrubber::default();
        secrets.add_url(&url);
        let guard = Guard::default();
        let chat = Chat {
            platform: Platform::Slack,
            url: Secret::new(url),
            username: None,
            client: super::super::http::client(std::time::Duration::from_secs(1), &guard)
                .unwrap()
                .scrubbing(secrets),
        };
        let shown = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            panic!("sending failed with {chat:?}")
        }))
        .unwrap_err();
        let message = shown.downcast_ref::<String>().expect("a formatted panic");
        assert!(
            message.starts_with("sending failed with Chat {"),
            "{message}"
        );
        assert!(!message.contains("CANARY"), "{message}");
        assert!(!message.contains("hooks.example.com"), "{message}");
    }
}
