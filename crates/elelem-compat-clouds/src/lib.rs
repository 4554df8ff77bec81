//! OpenAI-compatible inference clouds for Elelem, one plugin per provider, each
//! behind its own Cargo feature (the same name on the `elelem` facade):
//!
//! | feature / provider | base URL | key variable | quirks |
//! |---|---|---|---|
//! | `mistral` | `https://api.mistral.ai/v1` | `MISTRAL_API_KEY` | [`MistralQuirks`] |
//! | `deepseek` | `https://api.deepseek.com/v1` | `DEEPSEEK_API_KEY` | [`DeepSeekQuirks`] |
//! | `together` | `https://api.together.xyz/v1` | `TOGETHER_API_KEY` | none |
//! | `fireworks` | `https://api.fireworks.ai/inference/v1` | `FIREWORKS_API_KEY` | none |
//! | `cerebras` | `https://api.cerebras.ai/v1` | `CEREBRAS_API_KEY` | none |
//! | `sambanova` | `https://api.sambanova.ai/v1` | `SAMBANOVA_API_KEY` | none |
//! | `novita` | `https://api.novita.ai/v3/openai` | `NOVITA_API_KEY` | none |
//! | `parasail` | `https://api.parasail.io/v1` | `PARASAIL_API_KEY` | none |
//! | `baseten` | `https://inference.baseten.co/v1` | `BASETEN_API_KEY` | none |
//! | `perplexity` | `https://api.perplexity.ai` | `PERPLEXITY_API_KEY` | [`PerplexityQuirks`] |
//! | `gemini-openai` | `https://generativelanguage.googleapis.com/v1beta/openai` | `GEMINI_API_KEY` | [`GoogleQuirks`] |
//!
//! Each catalogue is `models/<provider>.toml`; the model string is
//! `"<provider>:<model>"` (`"deepseek:deepseek-chat"`, `"perplexity:sonar-pro"`).
//!
//! ```
//! use elelem_compat_clouds as _;
//! let names: Vec<&str> = elelem_core::provider::ProviderPlugin::all().map(|p| p.name).collect();
//! # #[cfg(all(feature = "mistral", feature = "perplexity"))]
//! assert!(names.contains(&"mistral") && names.contains(&"perplexity"));
//! ```

mod quirks;

pub use quirks::{DeepSeekQuirks, GoogleQuirks, MistralQuirks, PerplexityQuirks};

use std::sync::Arc;

use elelem_core::provider::{Provider, ProviderSettings};
use elelem_core::ElelemError;
use elelem_openai::{OpenAiCompatible, Quirks};

/// An OpenAI-protocol provider for `settings` with `quirks`: what every plugin of
/// this crate builds.
///
/// ```
/// # use std::time::Duration;
/// let settings = elelem_core::provider::ProviderSettings {
///     name: "deepseek".into(), base_url: "https://api.deepseek.com/v1".into(),
///     api_key: Some("sk-test".into()), api_key_env: Some("DEEPSEEK_API_KEY".into()),
///     timeout: Duration::from_secs(60), max_response_bytes: 1 << 20,
/// };
/// assert!(elelem_compat_clouds::openai_protocol(settings, elelem_compat_clouds::DeepSeekQuirks).is_ok());
/// ```
pub fn openai_protocol(
    settings: ProviderSettings,
    quirks: impl Quirks + 'static,
) -> Result<Arc<dyn Provider>, ElelemError> {
    OpenAiCompatible::provider(settings, Arc::new(quirks))
}

/// Declares one provider plugin: a module with its catalogue and `build`, and its
/// registration, compiled only with its feature.
macro_rules! plugin {
    ($feature:literal, $module:ident, $title:literal, $quirks:expr) => {
        #[cfg(feature = $feature)]
        #[doc = concat!("The `", $feature, "` provider: ", $title, ", catalogue `models/", $feature, ".toml`.")]
        ///
        /// ```
        /// use elelem_compat_clouds as _;
        #[doc = concat!("let plugin = elelem_core::provider::ProviderPlugin::all().find(|p| p.name == \"", $feature, "\");")]
        /// assert!(plugin.is_some_and(|p| p.catalogue.contains("[provider]")));
        /// ```
        pub mod $module {
            use std::sync::Arc;

            use elelem_core::provider::{Provider, ProviderPlugin, ProviderSettings};
            use elelem_core::ElelemError;

            /// The provider's catalogue.
            pub const CATALOGUE: &str = include_str!(concat!("../../../models/", $feature, ".toml"));

            /// Builds the provider for these settings.
            pub fn build(settings: ProviderSettings) -> Result<Arc<dyn Provider>, ElelemError> {
                crate::openai_protocol(settings, $quirks)
            }

            elelem_core::inventory::submit! {
                ProviderPlugin { name: $feature, catalogue: CATALOGUE, build }
            }
        }
    };
}

plugin!("mistral", mistral, "Mistral AI", crate::MistralQuirks);
plugin!("deepseek", deepseek, "DeepSeek", crate::DeepSeekQuirks);
plugin!("together", together, "Together AI", elelem_openai::NoQuirks);
plugin!(
    "fireworks",
    fireworks,
    "Fireworks AI",
    elelem_openai::NoQuirks
);
plugin!("cerebras", cerebras, "Cerebras", elelem_openai::NoQuirks);
plugin!(
    "sambanova",
    sambanova,
    "SambaNova Cloud",
    elelem_openai::NoQuirks
);
plugin!("novita", novita, "Novita AI", elelem_openai::NoQuirks);
plugin!("parasail", parasail, "Parasail", elelem_openai::NoQuirks);
plugin!(
    "baseten",
    baseten,
    "Baseten Model APIs",
    elelem_openai::NoQuirks
);
plugin!(
    "perplexity",
    perplexity,
    "Perplexity (Sonar)",
    crate::PerplexityQuirks
);
plugin!(
    "gemini-openai",
    gemini_openai,
    "Google Gemini through its OpenAI-compatible endpoint",
    crate::GoogleQuirks
);
