//! The config every chat platform reached through an incoming webhook shares
//! (Slack, Teams, Discord, Mattermost, Google Chat). The webhook URL is a secret: anyone who
//! has it can post, so it lives in the environment, named by `url_env`.

use serde::Deserialize;

use super::channel_type::{Build, ChannelType, Defaults, Knobs, knobs_of};
use super::{FormatError, Meta, Output};
use crate::network::Guard;
use crate::secret::{Scrubber, Secret};
use crate::template::{Engine, Message};

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

/// The registry entry of the chat platform `P`: the five share the config, the transport and
/// the checks, and differ in the payload and the pace.
pub struct On<P>(std::marker::PhantomData<P>);

/// A marker type naming a [`Platform`] in the registry (`On<Slack>` is `type = "slack"`).
pub trait OnPlatform {
    const PLATFORM: Platform;
}

macro_rules! platforms {
    ($($platform:ident),*) => {$(
        #[doc = concat!("`", stringify!($platform), "` in the registry.")]
        pub struct $platform;

        impl OnPlatform for $platform {
            const PLATFORM: Platform = Platform::$platform;
        }
    )*};
}

platforms!(Slack, Teams, Discord, Mattermost, GoogleChat);

impl<P: OnPlatform> ChannelType for On<P> {
    const NAME: &'static str = P::PLATFORM.type_name();
    const DEFAULTS: Defaults = P::PLATFORM.defaults();
    type Config = Config;
    type Transport = Chat;

    fn build(config: &Config, at: &Build<'_>) -> Result<Chat, String> {
        Chat::new(P::PLATFORM, config, at.timeout, at.guard)
    }

    fn knobs(config: &Config) -> Knobs {
        knobs_of!(config)
    }

    fn outputs(_: &Engine, m: &Message, meta: &Meta<'_>) -> Result<Vec<Output>, FormatError> {
        let value = P::PLATFORM.payload(m, meta, None)?;
        Ok(vec![Output::json(P::PLATFORM.file(), &value)])
    }

    fn is_internal(config: &Config) -> bool {
        config.internal
    }

    fn secret_vars(config: &Config) -> Vec<(&'static str, &str)> {
        vec![("url_env", config.url_env.as_str())]
    }

    fn check_values(config: &Config, guard: &Guard) -> Vec<(&'static str, String)> {
        let var = &config.url_env;
        let Ok(url) = crate::secret::from_env(var, "url_env") else {
            return Vec::new(); // a missing secret is reported by the secrets check
        };
        let problem = match crate::config::check_url(url.expose()) {
            Err(_) => {
                format!("the value of `{var}` is not a web address (it must start with `https://`)")
            }
            Ok(url) => match guard.check_url(&url) {
                Ok(()) => return Vec::new(),
                Err(refused) => format!("the value of `{var}`: {refused}"),
            },
        };
        vec![("url_env", problem)]
    }
}

impl Platform {
    /// The channel type, as written in `type = "…"`.
    pub const fn type_name(self) -> &'static str {
        match self {
            Platform::Slack => "slack",
            Platform::Teams => "teams",
            Platform::Discord => "discord",
            Platform::Mattermost => "mattermost",
            Platform::GoogleChat => "google-chat",
        }
    }

    /// The platform's documented pace: Slack 1 message per second per webhook, Discord 5 per
    /// 2 s; the others are held to Slack's.
    pub const fn defaults(self) -> Defaults {
        let (per_second, burst) = match self {
            Platform::Discord => (2.5, 5),
            _ => (1.0, 1),
        };
        Defaults {
            per_second: Some(per_second),
            burst,
            max_in_flight: 1,
            timeout_secs: 15,
        }
    }

    /// The file `preview` writes the payload to.
    const fn file(self) -> &'static str {
        match self {
            Platform::Slack => "slack.json",
            Platform::Teams => "teams.json",
            Platform::Discord => "discord.json",
            Platform::Mattermost => "mattermost.json",
            Platform::GoogleChat => "google-chat.json",
        }
    }

    /// The JSON the platform's webhook is posted, for `message`.
    fn payload(
        self,
        message: &Message,
        meta: &Meta<'_>,
        username: Option<&str>,
    ) -> Result<serde_json::Value, FormatError> {
        match self {
            Platform::Slack => super::slack::payload(message, meta),
            Platform::Teams => super::teams::payload(message, meta),
            Platform::Discord => super::discord::payload(message, meta, username),
            Platform::Mattermost => super::mattermost::payload(message, meta, username),
            Platform::GoogleChat => super::google_chat::payload(message, meta),
        }
    }

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

    fn prepare(&self, job: &super::transport::Job<'_>) -> Result<Vec<u8>, FormatError> {
        let message = job.rendered.message_for(self.platform.type_name());
        let value = self
            .platform
            .payload(message, &job.meta, self.username.as_deref())?;
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
