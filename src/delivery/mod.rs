//! Delivery: plan, journal, send.
//!
//! A blast is planned into the journal (one row per recipient × channel, keyed for
//! idempotency), then per-channel workers claim due rows, send them through the channel's
//! [`Transport`](crate::channels::transport::Transport) and record the outcome: `plan` writes
//! the rows, `worker` sends one channel, and [`retry`] is the one place that turns a
//! [`SendError`](crate::channels::transport::SendError) into the next journal state.

pub mod blast;
pub mod plan;
pub mod rehearsal;
pub mod request;
pub mod retry;
pub mod run;
pub mod worker;
