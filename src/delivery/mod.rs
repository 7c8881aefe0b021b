//! Delivery: plan, journal, send.
//!
//! A blast is planned into the journal (one row per recipient × channel, keyed for
//! idempotency), then per-channel workers claim due rows, send them and record the
//! outcome: `plan` writes the rows, `worker` sends one channel, `transport` is the trait
//! each channel type implements to send. This module holds what every sender returns — a
//! [`Receipt`] or a [`SendError`] classified where it happened — and [`retry`], the one
//! place that turns a [`SendError`] into the next journal state.

pub mod blast;
pub mod plan;
pub mod rehearsal;
pub mod request;
pub mod retry;
pub mod transport;
pub mod worker;

use std::time::Duration;

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
