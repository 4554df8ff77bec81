//! Sampling settings and constrained decoding: the typed setters on
//! [`ChatRequest`](crate::ChatRequest), the [`Grammar`] a vLLM-style server can
//! constrain the answer to, the portable thinking budget, and the rules that fit
//! them to each model's catalogue entry before anything is sent.

mod body;
mod grammar;
mod setters;
mod thinking;

pub(crate) use body::{check_request, fit_body};
pub use grammar::Grammar;
pub(crate) use thinking::enabled as thinking_enabled;
pub use thinking::MIN_THINKING_BUDGET;
