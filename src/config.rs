//! `crier.toml`: the company, where templates, channels and the audience live, the store, the
//! follow-up delay. Found by `--config`, `CRIER_CONFIG`, or `./crier.toml`; parsed strictly.

use std::path::{Path, PathBuf};

use serde::Deserialize;
use toml::Spanned;

use crate::diag::{Diagnostic, Diagnostics, Location};
use crate::{time, toml_file};

/// The file name looked for in the current directory.
pub const FILE_NAME: &str = "crier.toml";

/// The parsed `crier.toml`, with paths resolved against its folder.
#[derive(Debug, Clone)]
pub struct Config {
    /// The file this came from.
    pub path: PathBuf,
    /// The folder holding `crier.toml` (empty for the current folder); relative paths are read from here.
    pub root: PathBuf,
    pub company: Company,
    pub time_zone: jiff::tz::TimeZone,
    pub templates_dir: PathBuf,
    pub channels_dir: PathBuf,
    pub audience_path: PathBuf,
    pub store_url: String,
    /// When the follow-up goes out after a resolution; `None`: not scheduled automatically.
    pub follow_up_after: Option<String>,
    pub promises: Promises,
    /// How often `crier worker` looks for due work.
    pub poll: std::time::Duration,
    /// Where `crier serve` listens.
    pub listen: std::net::SocketAddr,
    /// What the HTTP channels may reach: `[network] allow_private`.
    pub network: crate::network::Guard,
}

/// `[promises]`: when the next customer update is due, and what happens when it is missed.
#[derive(Debug, Clone)]
pub struct Promises {
    /// The next update promised by a blast that names none, while the incident is open.
    pub default: jiff::SignedDuration,
    /// The people on duty are nudged this long before a promised update is due.
    pub nudge_before: jiff::SignedDuration,
    /// Send the holding update when a promise is missed by `holding_after`.
    pub auto_holding_update: bool,
    pub holding_after: jiff::SignedDuration,
    /// The kind sent as the holding update, and its slot values.
    pub holding_kind: String,
    pub holding_set: std::collections::BTreeMap<String, String>,
}

/// `[company]`: who is speaking, and where customers get help.
#[derive(Debug, Clone, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct Company {
    /// Shown in every message: "Acme".
    pub name: String,
    /// Read out by support staff and printed in every message footer.
    #[serde(default)]
    pub support_phone: String,
    /// Where customers can write for help.
    #[serde(default)]
    pub support_email: String,
    /// The public status page.
    pub status_url: String,
    /// The sign-off of every message: "Dana and the Acme support team".
    pub signature: String,
    /// IANA zone in which times are read and shown: "Europe/Berlin".
    #[serde(default = "default_zone")]
    pub time_zone: String,
}

fn default_zone() -> String {
    "UTC".into()
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    /// Folder of message kinds (`*.toml`) and `layouts/`.
    #[serde(default = "default_templates")]
    templates: String,
    /// Folder of channel files, one per configured channel.
    #[serde(default = "default_channels")]
    channels: String,
    /// When the follow-up goes out after a resolution: a duration (`24h`) or a moment
    /// relative to the resolution (`next business day 10:00`).
    #[serde(default = "default_follow_up")]
    follow_up_after: Spanned<String>,
    company: RawCompany,
    #[serde(default)]
    promises: RawPromises,
    #[serde(default)]
    worker: RawWorker,
    #[serde(default)]
    server: RawServer,
    #[serde(default)]
    network: RawNetwork,
    #[serde(default)]
    audience: Audience,
    #[serde(default)]
    store: Store,
}

/// `[company]` with the positions of the values we check ourselves.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCompany {
    name: String,
    #[serde(default)]
    support_phone: String,
    #[serde(default)]
    support_email: String,
    status_url: Spanned<String>,
    signature: String,
    #[serde(default = "default_spanned_zone")]
    time_zone: Spanned<String>,
}

/// `[promises]` as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPromises {
    #[serde(default = "default_promise")]
    default: Spanned<String>,
    #[serde(default = "default_nudge_before")]
    nudge_before: Spanned<String>,
    #[serde(default)]
    auto_holding_update: bool,
    #[serde(default = "default_holding_after")]
    holding_after: Spanned<String>,
    #[serde(default = "default_holding_kind")]
    holding_kind: String,
    #[serde(default = "default_holding_set")]
    holding_set: std::collections::BTreeMap<String, String>,
}

impl Default for RawPromises {
    fn default() -> Self {
        RawPromises {
            default: default_promise(),
            nudge_before: default_nudge_before(),
            auto_holding_update: false,
            holding_after: default_holding_after(),
            holding_kind: default_holding_kind(),
            holding_set: default_holding_set(),
        }
    }
}

fn default_promise() -> Spanned<String> {
    Spanned::new(0..0, "60m".into())
}
fn default_nudge_before() -> Spanned<String> {
    Spanned::new(0..0, "10m".into())
}
fn default_holding_after() -> Spanned<String> {
    Spanned::new(0..0, "5m".into())
}
fn default_holding_kind() -> String {
    "update".into()
}
/// The holding update's words: honest that there is no news, and that we have not gone away.
fn default_holding_set() -> std::collections::BTreeMap<String, String> {
    std::collections::BTreeMap::from([
        (
            "progress".to_string(),
            "We're still working on this. We don't have news to share yet, and we haven't forgotten you.".to_string(),
        ),
        ("next_update".to_string(), "in 30 minutes".to_string()),
    ])
}

/// `[worker]` as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawWorker {
    #[serde(default = "default_poll")]
    poll: Spanned<String>,
}

impl Default for RawWorker {
    fn default() -> Self {
        RawWorker {
            poll: default_poll(),
        }
    }
}

/// `[network]` as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawNetwork {
    /// Internal address ranges the HTTP channels may reach anyway (`127.0.0.2/32`, `10.0.0.0/8`).
    #[serde(default)]
    allow_private: Vec<Spanned<String>>,
}

/// `[server]` as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawServer {
    #[serde(default = "default_listen")]
    listen: Spanned<String>,
}

impl Default for RawServer {
    fn default() -> Self {
        RawServer {
            listen: default_listen(),
        }
    }
}

fn default_listen() -> Spanned<String> {
    Spanned::new(0..0, "127.0.0.1:8080".into())
}

/// `250ms` as 250: a number of milliseconds.
fn millis(value: &str) -> Option<u64> {
    value.trim().strip_suffix("ms")?.trim().parse().ok()
}

fn default_poll() -> Spanned<String> {
    Spanned::new(0..0, "1s".into())
}

fn default_spanned_zone() -> Spanned<String> {
    Spanned::new(0..0, default_zone())
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Audience {
    /// CSV or JSON Lines file of recipients.
    #[serde(default = "default_audience")]
    path: String,
}

impl Default for Audience {
    fn default() -> Self {
        Audience {
            path: default_audience(),
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Store {
    /// `sqlite:crier.db` (the default; a relative path is read from the folder of crier.toml).
    #[serde(default = "default_store")]
    url: String,
}

impl Default for Store {
    fn default() -> Self {
        Store {
            url: default_store(),
        }
    }
}

fn default_templates() -> String {
    "templates".into()
}
fn default_channels() -> String {
    "channels".into()
}
fn default_follow_up() -> Spanned<String> {
    Spanned::new(0..0, "next business day 10:00".into())
}
fn default_audience() -> String {
    "audience.csv".into()
}
fn default_store() -> String {
    "sqlite:crier.db".into()
}

/// Where to read the configuration from: an explicit path (`--config` / `CRIER_CONFIG`) or `./crier.toml`.
pub fn locate(explicit: Option<&Path>) -> Result<PathBuf, Diagnostic> {
    let path = explicit.map_or_else(|| PathBuf::from(FILE_NAME), Path::to_path_buf);
    if path.is_file() {
        return Ok(path);
    }
    let d = Diagnostic::new(format!("no crier configuration at `{}`", path.display()));
    Err(match explicit {
        Some(_) => d.hint("check the path given with `--config` or `CRIER_CONFIG`"),
        None => d.hint("run crier in a project folder, pass `--config PATH`, or create one with `crier init DIR`"),
    })
}

impl Config {
    /// Load and check `crier.toml` at `path`, collecting every problem.
    pub fn load(path: &Path) -> Result<Config, Diagnostics> {
        let mut problems = Diagnostics::default();
        let source = toml_file::read(path).map_err(one)?;
        let raw: RawConfig = toml_file::parse(path, &source).map_err(one)?;
        let at = |span: std::ops::Range<usize>| Location::at_offset(path, &source, span.start);

        let time_zone = match time::zone(raw.company.time_zone.get_ref()) {
            Ok(tz) => tz,
            Err(e) => {
                problems.push(
                    Diagnostic::new(e.to_string())
                        .at(at(raw.company.time_zone.span()))
                        .field("company.time_zone"),
                );
                jiff::tz::TimeZone::UTC
            }
        };
        if let Err(e) = check_url(raw.company.status_url.get_ref()) {
            problems.push(
                Diagnostic::new(e)
                    .at(at(raw.company.status_url.span()))
                    .field("company.status_url")
                    .hint("write the full address, like `https://status.example.com`"),
            );
        }
        if let Err(e) = check_follow_up(raw.follow_up_after.get_ref(), &time_zone) {
            problems.push(
                Diagnostic::new(e)
                    .at(at(raw.follow_up_after.span()))
                    .field("follow_up_after")
                    .hint("use a duration like `24h`, a moment like `next business day 10:00`, or `off`"),
            );
        }
        let mut duration = |value: &Spanned<String>, field: &str| {
            time::parse_duration(value.get_ref()).unwrap_or_else(|e| {
                problems.push(
                    Diagnostic::new(e.to_string())
                        .at(at(value.span()))
                        .field(field),
                );
                jiff::SignedDuration::from_secs(60)
            })
        };
        let promises = Promises {
            default: duration(&raw.promises.default, "promises.default"),
            nudge_before: duration(&raw.promises.nudge_before, "promises.nudge_before"),
            auto_holding_update: raw.promises.auto_holding_update,
            holding_after: duration(&raw.promises.holding_after, "promises.holding_after"),
            holding_kind: raw.promises.holding_kind,
            holding_set: raw.promises.holding_set,
        };
        // A worker may poll more often than every second: `200ms` too.
        let poll = match millis(raw.worker.poll.get_ref()) {
            Some(ms) => std::time::Duration::from_millis(ms),
            None => duration(&raw.worker.poll, "worker.poll").unsigned_abs(),
        }
        .max(std::time::Duration::from_millis(100));
        let listen = raw.server.listen.get_ref().parse().unwrap_or_else(|e| {
            problems.push(
                Diagnostic::new(format!(
                    "`{}` is not an address to listen on: {e}",
                    raw.server.listen.get_ref()
                ))
                .at(at(raw.server.listen.span()))
                .field("server.listen")
                .hint("use an IP address and a port, like `127.0.0.1:8080` or `0.0.0.0:8080`"),
            );
            std::net::SocketAddr::from(([127, 0, 0, 1], 8080))
        });
        let mut allow = Vec::new();
        for range in &raw.network.allow_private {
            match range.get_ref().parse::<crate::network::Cidr>() {
                Ok(cidr) => allow.push(cidr),
                Err(e) => problems.push(
                    Diagnostic::new(e)
                        .at(at(range.span()))
                        .field("network.allow_private")
                        .hint("list address ranges, like `allow_private = [\"10.0.0.0/8\"]`"),
                ),
            }
        }
        // `crier.toml` in the current folder: keep paths relative, as the operator writes them.
        let root = path.parent().map_or_else(PathBuf::new, Path::to_path_buf);
        let config = Config {
            path: path.to_path_buf(),
            templates_dir: root.join(&raw.templates),
            channels_dir: root.join(&raw.channels),
            audience_path: root.join(&raw.audience.path),
            store_url: raw.store.url,
            follow_up_after: Some(raw.follow_up_after.into_inner())
                .filter(|v| !matches!(v.trim(), "off" | "never")),
            promises,
            poll,
            listen,
            network: crate::network::Guard::new(allow),
            company: Company {
                name: raw.company.name,
                support_phone: raw.company.support_phone,
                support_email: raw.company.support_email,
                status_url: raw.company.status_url.into_inner(),
                signature: raw.company.signature,
                time_zone: raw.company.time_zone.into_inner(),
            },
            time_zone,
            root,
        };
        if problems.is_empty() {
            Ok(config)
        } else {
            Err(problems)
        }
    }
}

impl Config {
    /// When the follow-up of an incident resolved at `resolved` is due, if one is scheduled
    /// automatically: `follow_up_after` after it (`24h`), or the moment it names from then
    /// (`next business day 10:00`, in the company's zone).
    pub fn follow_up_at(&self, resolved: jiff::Timestamp) -> Option<jiff::Timestamp> {
        let after = self.follow_up_after.as_deref()?;
        match time::parse_duration(after) {
            Ok(d) => resolved.checked_add(d).ok(),
            Err(_) => time::parse_moment(after, resolved, &self.time_zone).ok(),
        }
    }
}

fn one(d: Diagnostic) -> Diagnostics {
    let mut all = Diagnostics::default();
    all.push(d);
    all
}

/// An absolute `http` or `https` address, or a sentence saying what is wrong with it.
pub fn check_url(value: &str) -> Result<url::Url, String> {
    match url::Url::parse(value) {
        Ok(u) if matches!(u.scheme(), "http" | "https") && u.host().is_some() => Ok(u),
        Ok(u) => Err(format!(
            "`{value}` is not a web address: it must start with `https://` (it starts with `{}:`)",
            u.scheme()
        )),
        Err(e) => Err(format!("`{value}` is not a web address: {e}")),
    }
}

fn check_follow_up(value: &str, tz: &jiff::tz::TimeZone) -> Result<(), String> {
    if matches!(value.trim(), "off" | "never") || time::parse_duration(value).is_ok() {
        return Ok(());
    }
    time::parse_moment(value, jiff::Timestamp::now(), tz)
        .map(|_| ())
        .map_err(|e| format!("`follow_up_after` is not a duration or a moment: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(src: &str) -> Result<Config, Diagnostics> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("crier.toml");
        std::fs::write(&path, src).unwrap();
        Config::load(&path)
    }

    const GOOD: &str = r#"
[company]
name = "Acme"
status_url = "https://status.acme.example"
signature = "The Acme team"
time_zone = "Europe/Berlin"
"#;

    #[test]
    fn defaults_fill_the_rest() {
        let c = load(GOOD).unwrap();
        assert_eq!(c.store_url, "sqlite:crier.db");
        assert!(c.templates_dir.ends_with("templates"));
        assert_eq!(
            c.follow_up_after.as_deref(),
            Some("next business day 10:00")
        );
        assert_eq!(c.promises.default, jiff::SignedDuration::from_mins(60));
        assert_eq!(c.poll, std::time::Duration::from_secs(1));
        assert_eq!(millis("200ms"), Some(200));
        assert_eq!(millis(" 250 ms "), Some(250));
        assert_eq!(millis("2s"), None);
        assert!(c.network.allowed().is_empty());
    }

    #[test]
    fn a_poll_can_be_under_a_second_but_not_under_100_ms() {
        let poll = |v: &str| {
            load(&format!("{GOOD}\n[worker]\npoll = \"{v}\"\n"))
                .unwrap()
                .poll
        };
        assert_eq!(poll("200ms"), std::time::Duration::from_millis(200));
        assert_eq!(poll("20ms"), std::time::Duration::from_millis(100));
        assert_eq!(poll("2s"), std::time::Duration::from_secs(2));
        assert!(load(&format!("{GOOD}\n[worker]\npoll = \"fast\"\n")).is_err());
    }

    #[test]
    fn allowed_ranges_are_read_and_a_bad_one_is_located() {
        let c = load(&format!(
            "{GOOD}\n[network]\nallow_private = [\"127.0.0.2/32\", \"fd00::/8\"]\n"
        ))
        .unwrap();
        let allowed: Vec<String> = c
            .network
            .allowed()
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(allowed, ["127.0.0.2/32", "fd00::/8"]);
        let problems = load(&format!(
            "{GOOD}\n[network]\nallow_private = [\"10.0.0.1/8\"]\n"
        ))
        .unwrap_err();
        let d = problems.iter().next().unwrap();
        assert_eq!(d.field.as_deref(), Some("network.allow_private"));
        assert_eq!(d.location.as_ref().unwrap().line, 9);
        assert!(
            d.message.contains("did you mean `10.0.0.0/8`?"),
            "{}",
            d.message
        );
    }

    #[test]
    fn bad_zone_and_url_are_both_reported() {
        let src = GOOD
            .replace("Europe/Berlin", "Europe/Berln")
            .replace("https://status.acme.example", "status.acme.example");
        let problems = load(&src).unwrap_err();
        assert_eq!(problems.len(), 2);
        let fields: Vec<_> = problems.iter().map(|d| d.field.clone().unwrap()).collect();
        assert_eq!(fields, ["company.time_zone", "company.status_url"]);
        let zone = problems.iter().next().unwrap();
        assert_eq!(zone.location.as_ref().unwrap().line, 6);
    }
}
