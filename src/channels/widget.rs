//! The embeddable widget: the state `crier serve` feeds to `widget.js` (headline, summary,
//! severity, when, where to read more).

use serde::Deserialize;
use serde_json::{Value, json};

use super::channel_type::{Build, ChannelType, Defaults};
use super::{FormatError, Meta, Output};
use crate::template::{Engine, Message};

/// `type = "widget"` in the registry: the state `crier serve` shows in the widget.
pub struct Type;

impl ChannelType for Type {
    const NAME: &'static str = "widget";
    const DEFAULTS: Defaults = Defaults::LOCAL;
    type Config = Config;
    type Transport = Widget;

    fn build(_: &Config, _: &Build<'_>) -> Result<Widget, String> {
        Ok(Widget)
    }

    fn outputs(_: &Engine, m: &Message, meta: &Meta<'_>) -> Result<Vec<Output>, FormatError> {
        Ok(vec![Output::json("widget.json", &state(m, meta))])
    }
}

/// `channels/NAME.toml` for `type = "widget"`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    #[serde(rename = "type")]
    pub ty: String,
}

/// The widget's JSON state for `m`.
pub fn state(m: &Message, meta: &Meta<'_>) -> Value {
    let i = meta.inputs.incident;
    json!({
        "version": 1,
        "incident": {
            "id": i.id,
            "title": i.title,
            "status": i.status.as_str(),
            "impact": i.impact.as_str(),
            "started_at": crate::time::rfc3339(i.started_at),
        },
        "kind": meta.kind,
        "sequence": meta.sequence,
        "headline": m.headline,
        "summary": m.summary,
        "severity": i.impact.as_str(),
        "updated_at": crate::time::rfc3339(meta.inputs.now),
        "status_url": meta.inputs.company.status_url,
    })
}

/// The widget is fed from the timeline by `crier serve`: "sending" records that this update is
/// the one the widget shows; nothing leaves the machine.
#[derive(Debug, Default)]
pub struct Widget;

impl super::transport::Transport for Widget {
    type Payload = ();

    fn prepare(&self, job: &super::transport::Job<'_>) -> Result<(), super::FormatError> {
        let _ = state(job.rendered.message_for("widget"), &job.meta);
        Ok(())
    }

    async fn send(&self, (): ()) -> Result<super::transport::Receipt, super::transport::SendError> {
        Ok(super::transport::Receipt {
            provider_id: Some("timeline".into()),
        })
    }
}
