//! The OpenRouter provider for Elelem: the OpenAI protocol at
//! `https://openrouter.ai/api/v1`, key in `OPENROUTER_API_KEY`.
//!
//! OpenRouter's quirk is the one that matters for accounting: every response
//! reports what it cost in `usage.cost` (credits, where one credit is one US
//! dollar), whichever upstream provider served it and whatever discounts applied.
//! Elelem records that figure, exactly, instead of a price-table estimate; the
//! catalogue's prices are used only to split it between input and output. The
//! decimal is read from the JSON number's text, never through float arithmetic.
//!
//! A 402 (credits used up) is classified as
//! [`ProviderErrorKind::QuotaExhausted`] and never retried.
//!
//! ```
//! use elelem_openrouter as _;
//! let plugin = elelem_core::provider::ProviderPlugin::all().find(|p| p.name == "openrouter");
//! assert!(plugin.is_some());
//! ```

use std::sync::Arc;

use serde::Deserialize;
use serde_json::Value;

use elelem_core::provider::{Provider, ProviderErrorKind, ProviderPlugin, ProviderSettings};
use elelem_core::{ElelemError, Usage, Usd};
use elelem_openai::{OpenAiCompatible, Quirks};

/// The OpenRouter catalogue.
pub const CATALOGUE: &str = include_str!("../../../models/openrouter.toml");

/// OpenRouter's deviations from OpenAI: the reported cost, and 402 for exhausted
/// credits.
///
/// ```
/// use elelem_openai::Quirks;
/// use elelem_openrouter::OpenRouterQuirks;
///
/// let usage: elelem_core::Usage = serde_json::from_str(
///     r#"{"prompt_tokens":10,"completion_tokens":5,"cost":0.0001234}"#,
/// ).unwrap();
/// assert_eq!(OpenRouterQuirks.reported_cost(&usage), Some("0.0001234".parse().unwrap()));
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct OpenRouterQuirks;

impl Quirks for OpenRouterQuirks {
    fn classify_error(&self, status: u16, _error: Option<&Value>) -> Option<ProviderErrorKind> {
        (status == 402).then_some(ProviderErrorKind::QuotaExhausted)
    }

    fn reported_cost(&self, usage: &Usage) -> Option<Usd> {
        let cost = usage.extra.get("cost")?;
        // The number's shortest decimal text, parsed exactly (exponent form too).
        Usd::deserialize(cost).ok()
    }
}

/// Builds the `openrouter` provider.
///
/// ```
/// # use std::time::Duration;
/// let settings = elelem_core::provider::ProviderSettings {
///     name: "openrouter".into(), base_url: "https://openrouter.ai/api/v1".into(),
///     api_key: Some("sk-or-test".into()), api_key_env: Some("OPENROUTER_API_KEY".into()),
///     timeout: Duration::from_secs(60), max_response_bytes: 1 << 20,
/// };
/// assert!(elelem_openrouter::build(settings).is_ok());
/// ```
pub fn build(settings: ProviderSettings) -> Result<Arc<dyn Provider>, ElelemError> {
    OpenAiCompatible::provider(settings, Arc::new(OpenRouterQuirks))
}

elelem_core::inventory::submit! {
    ProviderPlugin { name: "openrouter", catalogue: CATALOGUE, build }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn completion(usage: &str) -> Usage {
        serde_json::from_str(usage).unwrap()
    }

    #[test]
    fn the_reported_cost_is_read_exactly() {
        let q = OpenRouterQuirks;
        for (text, expected) in [
            ("0.0001234", "0.0001234"),
            ("1.5e-7", "0.00000015"),
            ("0", "0"),
            ("0.95", "0.95"),
            ("0.000000000000001", "0.000000000000001"),
        ] {
            let c = completion(&format!(r#"{{"prompt_tokens":1,"cost":{text}}}"#));
            assert_eq!(
                q.reported_cost(&c),
                Some(expected.parse().unwrap()),
                "{text}"
            );
        }
        assert_eq!(q.reported_cost(&completion(r#"{"prompt_tokens":1}"#)), None);
        assert_eq!(q.reported_cost(&completion(r#"{"cost":"free"}"#)), None);
    }

    #[test]
    fn exhausted_credits_are_not_retried() {
        assert_eq!(
            OpenRouterQuirks.classify_error(402, None),
            Some(ProviderErrorKind::QuotaExhausted)
        );
        assert_eq!(OpenRouterQuirks.classify_error(429, None), None);
    }
}
