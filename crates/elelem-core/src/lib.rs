//! The core of Elelem: one API over many LLM providers, built for reliable JSON
//! output and exact cost accounting.
//!
//! Most users depend on the `elelem` facade crate, which re-exports this crate and
//! switches providers on with Cargo features. Provider crates depend on this crate
//! and register a [`provider::ProviderPlugin`] through [`inventory`].
//!
//! ```
//! use elelem_core::{ChatRequest, Message, ResponseFormat};
//! let request = ChatRequest::new("openai:gpt-4.1-mini", vec![Message::user("Hi")])
//!     .response_format(ResponseFormat::JsonObject);
//! assert!(request.is_json_mode());
//! ```

pub mod catalogue;
mod client;
pub mod cost;
mod error;
pub mod json;
mod money;
pub mod provider;
pub mod retry;
mod secret;
mod types;

pub use client::{Elelem, ElelemBuilder};
pub use cost::{CostSink, Stats};
pub use error::{AttemptError, AttemptProblem, ElelemError};
pub use money::{DecimalError, PricePerMillion, Usd};
pub use provider::Provider;
pub use retry::RetryPolicy;
pub use secret::ApiKey;
pub use types::*;

/// Re-exported for implementing [`Provider`] without a direct dependency.
pub use async_trait::async_trait;
/// Re-exported so provider crates and user code can `inventory::submit!` without
/// depending on `inventory` themselves.
pub use inventory;
