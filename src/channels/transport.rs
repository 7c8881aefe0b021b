//! The send contract: the one trait every channel type implements to send — a pure `prepare`
//! (rendered message → payload, with the platform's limits) and an I/O-only `send` — and what
//! a send comes to: a [`Receipt`], or a [`SendError`] classified where it happened (see
//! [`super::classify`]). The delivery engine (`src/delivery/`, a layer above) drives it and
//! decides, in its retry policy, what each error means for the journal.

use std::future::Future;
use std::time::Duration;

use super::{FormatError, Meta};
use crate::audience::Member;
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

/// What one send attempt came to, classified where it happened.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SendError {
    /// Worth trying again: SMTP 4xx, HTTP 408/429/5xx except 501, connection failures
    /// before the request was written.
    #[error("{reason}")]
    Transient {
        reason: String,
        /// How long the receiver asked us to wait (`Retry-After`, Discord's `retry_after`).
        retry_after: Option<Duration>,
    },
    /// Trying again will not help: SMTP 5xx, other HTTP 4xx. `disable_endpoint`: HTTP 410
    /// Gone — stop sending to that endpoint for this blast.
    #[error("{reason}")]
    Permanent {
        reason: String,
        disable_endpoint: bool,
    },
    /// The request was written but no answer came (timeout after writing): the receiver
    /// may have it.
    #[error("{reason}")]
    InDoubt { reason: String },
}

impl SendError {
    /// The same error with `secrets` cut out of its reason.
    pub fn scrubbed(self, secrets: &crate::secret::Scrubber) -> SendError {
        match self {
            SendError::Transient {
                reason,
                retry_after,
            } => SendError::Transient {
                reason: secrets.scrub(&reason),
                retry_after,
            },
            SendError::Permanent {
                reason,
                disable_endpoint,
            } => SendError::Permanent {
                reason: secrets.scrub(&reason),
                disable_endpoint,
            },
            SendError::InDoubt { reason } => SendError::InDoubt {
                reason: secrets.scrub(&reason),
            },
        }
    }
}

/// A successful send: the provider's id for the message, when it gives one.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Receipt {
    pub provider_id: Option<String>,
}
