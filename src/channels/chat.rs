//! The config every chat platform reached through an incoming webhook shares
//! (Slack, Teams, Discord, Mattermost, Google Chat). The webhook URL is a secret: anyone who
//! has it can post, so it lives in the environment, named by `url_env`.

use serde::Deserialize;

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
}
