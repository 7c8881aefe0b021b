//! The one trait every channel type implements to send: a pure `prepare` (rendered message →
//! payload, with the platform's limits) and an I/O-only `send`. Adding a channel type is one
//! module under `src/channels/` implementing [`Transport`], plus one arm in
//! [`crate::delivery::worker::start`].

use std::future::Future;

use super::{Receipt, SendError};
use crate::audience::Member;
use crate::channels::{FormatError, Meta};
use crate::template::{Engine, Rendered};

/// One journal row to send, with everything needed to build its payload.
#[derive(Debug, Clone, Copy)]
pub struct Job<'a> {
    /// The idempotency key: Message-ID, webhook-id.
    pub key: &'a str,
    pub member: &'a Member,
    pub rendered: &'a Rendered,
    pub meta: Meta<'a>,
    pub engine: &'a Engine,
}

/// How a channel type sends.
pub trait Transport: Send + Sync + 'static {
    /// What `send` puts on the wire.
    type Payload: Send + 'static;

    /// Build the payload of `job` (pure). An error is permanent: the message does not fit.
    fn prepare(&self, job: &Job<'_>) -> Result<Self::Payload, FormatError>;

    /// Send `payload` (I/O only), classifying any failure where it happens.
    fn send(
        &self,
        payload: Self::Payload,
    ) -> impl Future<Output = Result<Receipt, SendError>> + Send;

    /// The endpoint a message to `member` goes to, when rate limits, back-off and `410 Gone`
    /// apply per endpoint (per-recipient webhooks). `None`: the channel is one endpoint.
    /// Known before rendering, so a row waiting for its endpoint holds no payload.
    fn endpoint(&self, _member: &Member) -> Option<String> {
        None
    }
}
