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

pub mod budget;
pub mod cache;
pub mod catalogue;
mod client;
pub mod cost;
mod error;
pub mod json;
mod keys;
mod later;
mod money;
mod presets;
pub mod provider;
pub mod retry;
pub mod routing;
pub mod sampling;
mod secret;
pub mod sse;
mod tokens;
mod types;

pub use client::gate;
pub use client::Generated;
pub use client::ResponseStream;
pub use client::JSON_FIX_TAG;
pub use client::{ChatStream, Elelem, ElelemBuilder, StreamSummary, DEFAULT_STREAM_IDLE_TIMEOUT};
pub use client::{TextPiece, TextStream};
pub use cost::{CostSink, Stats};
pub use error::{AttemptError, AttemptProblem, ElelemError};
pub use json::JsonSchema;
pub use keys::default_key_dir;
pub use later::LONGEST_WAIT;
pub use money::{DecimalError, PricePerMillion, Usd};
pub use presets::Preset;
pub use provider::Provider;
pub use retry::RetryPolicy;
pub use sampling::Grammar;
pub use secret::ApiKey;
pub use tokens::{
    estimate_tokens, image_tokens_bound, prompt_upper_bound, TokenCounter, TokenEstimate,
    LONG_TEXT_BYTES,
};
pub use types::*;

/// Re-exported for implementing [`Provider`] without a direct dependency.
pub use async_trait::async_trait;
/// Re-exported so provider crates and user code can `inventory::submit!` without
/// depending on `inventory` themselves.
pub use inventory;
/// Re-exported for deriving `JsonSchema` for [`Elelem::generate`] (with
/// `#[schemars(crate = "elelem_core::schemars")]`, or depend on `schemars` 1.x).
pub use schemars;
