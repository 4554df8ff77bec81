//! The DeepInfra provider for Elelem: the OpenAI protocol at
//! `https://api.deepinfra.com/v1/openai` (a plain `/v1` is a 404), key in
//! `DEEPINFRA_API_KEY`.
//!
//! DeepInfra's quirks live in its catalogue: as in the original Elelem, no model
//! gets `response_format` (JSON comes from the prompt instructions and local
//! validation), and DeepSeek-R1 answers with `<think>` blocks, which the pipeline
//! removes. On the wire, DeepInfra rejects OpenAI's newer `max_completion_tokens`
//! on its OpenAI endpoint for most models, so it is sent as `max_tokens`.
//!
//! ```
//! use elelem_deepinfra as _;
//! let plugin = elelem_core::provider::ProviderPlugin::all().find(|p| p.name == "deepinfra");
//! assert!(plugin.is_some());
//! ```

use std::sync::Arc;

use elelem_core::provider::WireRequest;

use elelem_core::provider::{Provider, ProviderPlugin, ProviderSettings};
use elelem_core::ElelemError;
use elelem_openai::{OpenAiCompatible, Quirks};

/// The DeepInfra catalogue.
pub const CATALOGUE: &str = include_str!("../../../models/deepinfra.toml");

/// DeepInfra's deviations from OpenAI.
///
/// ```
/// use elelem_openai::Quirks;
/// let mut request = elelem_core::provider::WireRequest::default();
/// request.max_completion_tokens = Some(10);
/// elelem_deepinfra::DeepInfraQuirks.adapt_request(&mut request);
/// assert_eq!(request.max_tokens, Some(10));
/// assert_eq!(request.max_completion_tokens, None);
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct DeepInfraQuirks;

impl Quirks for DeepInfraQuirks {
    fn adapt_request(&self, request: &mut WireRequest) {
        if let Some(limit) = request.remove("max_completion_tokens") {
            if request.get("max_tokens").is_none() {
                request.set("max_tokens", limit);
            }
        }
    }
}

/// Builds the `deepinfra` provider.
///
/// ```
/// # use std::time::Duration;
/// let settings = elelem_core::provider::ProviderSettings {
///     name: "deepinfra".into(), base_url: "https://api.deepinfra.com/v1/openai".into(),
///     api_key: Some("di-test".into()), api_key_env: Some("DEEPINFRA_API_KEY".into()),
///     timeout: Duration::from_secs(60), max_response_bytes: 1 << 20,
/// };
/// assert!(elelem_deepinfra::build(settings).is_ok());
/// ```
pub fn build(settings: ProviderSettings) -> Result<Arc<dyn Provider>, ElelemError> {
    OpenAiCompatible::provider(settings, Arc::new(DeepInfraQuirks))
}

elelem_core::inventory::submit! {
    ProviderPlugin { name: "deepinfra", catalogue: CATALOGUE, build }
}
