//! The OpenAI provider for Elelem, and the OpenAI-protocol transport that GROQ,
//! DeepInfra, Scaleway and other compatible providers share.
//!
//! The HTTP client, error classification and stream framing live in
//! `elelem-transport`; they are re-exported here under the names users import.
//!
//! With its `provider` feature (on by default), linking this crate registers the
//! `openai` provider; its models come from `models/openai.toml`.
//!
//! ```
//! use elelem_openai as _;
//! # #[cfg(feature = "provider")]
//! # {
//! let plugin = elelem_core::provider::ProviderPlugin::all().find(|p| p.name == "openai");
//! assert!(plugin.is_some());
//! # }
//! ```

mod embeddings;
mod legacy;
pub mod native;
mod quirks;
mod responses;
mod stream;
mod transport;

use std::sync::Arc;

#[cfg(feature = "provider")]
use elelem_core::provider::ProviderPlugin;
use elelem_core::provider::{Provider, ProviderSettings};
use elelem_core::ElelemError;

pub use elelem_transport::{
    decode_stream, record_stream, ErrorHook, Framing, HttpClient, HttpReply, HttpRequest,
    HttpStream, Mapped, Mapping, NdjsonFraming, Record, RecordMapper, SseFraming,
};
pub use quirks::{NoQuirks, Quirks};
pub use transport::OpenAiCompatible;

/// The OpenAI catalogue.
pub const CATALOGUE: &str = include_str!("../../../models/openai.toml");

/// Builds the `openai` provider.
///
/// ```
/// # use std::time::Duration;
/// let settings = elelem_core::provider::ProviderSettings {
///     name: "openai".into(), base_url: "https://api.openai.com/v1".into(),
///     api_key: Some("sk-test".into()), api_key_env: Some("OPENAI_API_KEY".into()),
///     timeout: Duration::from_secs(60), max_response_bytes: 1 << 20,
/// };
/// assert!(elelem_openai::build(settings).is_ok());
/// ```
pub fn build(settings: ProviderSettings) -> Result<Arc<dyn Provider>, ElelemError> {
    OpenAiCompatible::provider(settings, Arc::new(NoQuirks))
}

#[cfg(feature = "provider")]
elelem_core::inventory::submit! {
    ProviderPlugin { name: "openai", catalogue: CATALOGUE, build }
}
