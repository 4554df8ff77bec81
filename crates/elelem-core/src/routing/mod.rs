//! Routing by measured speed and cost.
//!
//! - [`Performance`]: every attempt's latency, time to first token (streams),
//!   output tokens per second and outcome, per model, over a fixed window.
//! - [`Routing`]: how a virtual model orders its candidates on each call
//!   (`by = "cost" | "speed" | "score"`, pins, a speed floor), re-ranked as
//!   measurements arrive.

mod config;
pub(crate) mod order;
mod performance;
mod window;

pub use config::{RouteBy, Routing, DEFAULT_MIN_SAMPLES};
pub use performance::{Performance, MAX_MODELS};
pub use window::{ModelPerformance, WINDOW};
