//! Nudges: short messages to the people on duty, on every internal channel (a chat channel
//! file with `internal = true`), never to customers. Each says what is due and the exact
//! command to run. The journal's `nudges` table makes each go out once per channel, however
//! many workers poll; a failed send is tried again on a later pass.

use crate::audience::Member;
use crate::channels::channel_type::Drive;
use crate::channels::transport::{Job, Transport};
use crate::channels::{Channel, Meta};
use crate::delivery::blast::build;
use crate::project::Project;
use crate::store::{IncidentRow, Store};
use crate::template::{Inputs, Markdown, Message, Recipient, Rendered};

/// A nudge not sent (or not finished) is tried again after this long.
const RETRY_AFTER_MS: i64 = 60_000;
/// Attempts per nudge and channel.
pub const MAX_ATTEMPTS: u32 = 5;
/// The stand-in channel name when no internal channel is configured: the worker's log only.
pub const LOG_ONLY: &str = "-";

/// What to tell the people on duty.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Nudge {
    /// What it is about, unique: `promise:12:missed`, `schedule:3:failed`.
    pub about: String,
    pub incident: IncidentRow,
    /// One line: the chat preview and the log line.
    pub headline: String,
    /// Markdown: what is due, and the command to run.
    pub body: String,
}

/// Send `nudge` on every internal channel it was not sent on yet. Returns whether this
/// process took it anywhere (then the caller logs it), and the channels that failed, with why.
pub async fn send<S: Store>(
    project: &Project,
    store: &S,
    nudge: &Nudge,
    now: jiff::Timestamp,
) -> anyhow::Result<(bool, Vec<(String, String)>)> {
    let internal: Vec<&Channel> = project
        .channels
        .iter()
        .filter(|c| c.is_internal())
        .collect();
    let incident = &nudge.incident.id;
    if internal.is_empty() {
        let taken = store
            .take_nudge(&nudge.about, LOG_ONLY, incident, now, i64::MAX, 1)
            .await?;
        if taken {
            store.end_nudge(&nudge.about, LOG_ONLY, None, now).await?;
        }
        return Ok((taken, Vec::new()));
    }
    let mut took = false;
    let mut failed = Vec::new();
    for channel in internal {
        let taken = store
            .take_nudge(
                &nudge.about,
                &channel.name,
                incident,
                now,
                RETRY_AFTER_MS,
                MAX_ATTEMPTS,
            )
            .await?;
        if !taken {
            continue;
        }
        took = true;
        let result = post(project, channel, nudge, now).await;
        store
            .end_nudge(
                &nudge.about,
                &channel.name,
                result.as_ref().err().map(String::as_str),
                now,
            )
            .await?;
        if let Err(e) = result {
            failed.push((channel.name.clone(), e));
        }
    }
    Ok((took, failed))
}

/// Post `nudge` to one internal channel through its own transport.
async fn post(
    project: &Project,
    channel: &Channel,
    nudge: &Nudge,
    now: jiff::Timestamp,
) -> Result<(), String> {
    let built = build(channel, &project.config, &nudge.incident.id, 0)?;
    let message = Message {
        subject: nudge.headline.clone(),
        headline: nudge.headline.clone(),
        summary: nudge.headline.clone(),
        body: Markdown::parse(&nudge.body),
    };
    let rendered = Rendered {
        kind: "nudge".into(),
        base: message,
        overrides: Default::default(),
    };
    let incident = nudge.incident.told(Vec::new());
    let slots = Default::default();
    let recipient = Recipient::default();
    let inputs = Inputs {
        incident: &incident,
        slots: &slots,
        recipient: &recipient,
        company: &project.config.company,
        now,
        tz: &project.config.time_zone,
    };
    let member = Member {
        row: 0,
        recipient: recipient.clone(),
        segments: Vec::new(),
        intercom_user_id: None,
        webhook_url: None,
    };
    let job = Job {
        key: &nudge.about,
        member: &member,
        rendered: &rendered,
        meta: Meta {
            kind: "nudge",
            inputs,
            message_id: &nudge.about,
            sequence: 0,
        },
        engine: &project.engine,
    };
    built.drive(Post(&job)).await
}

/// One nudge, posted through the channel's own transport.
struct Post<'a>(&'a Job<'a>);

impl<'a> Drive for Post<'a> {
    type Output = std::pin::Pin<Box<dyn Future<Output = Result<(), String>> + Send + 'a>>;

    fn drive<T: Transport>(self, transport: T) -> Self::Output {
        let job = self.0;
        Box::pin(async move {
            let payload = transport.prepare(job).map_err(|e| e.to_string())?;
            transport
                .send(payload)
                .await
                .map(|_| ())
                .map_err(|e| e.to_string())
        })
    }
}
