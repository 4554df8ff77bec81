//! The xAI provider for Elelem: Grok through the OpenAI protocol at
//! `https://api.x.ai/v1`, key in `XAI_API_KEY`.
//!
//! xAI's quirks:
//!
//! * Its `completion_tokens` leave the reasoning tokens out (`total_tokens` is
//!   prompt + completion + reasoning), unlike OpenAI where reasoning is part of
//!   the completion. Elelem adds them back, so `completion_tokens` counts every
//!   billed output token, reasoning included, and the cost and stats are right.
//! * When a response reports its cost in `usage.cost_in_usd_ticks` (1 USD =
//!   10^10 ticks), that exact figure is recorded instead of the price table's.
//! * Grok 4 reasoning models reject `presence_penalty`, `frequency_penalty`,
//!   `stop` and `reasoning_effort`; Elelem sends them only if you do.
//!
//! ```
//! use elelem_xai as _;
//! let plugin = elelem_core::provider::ProviderPlugin::all().find(|p| p.name == "xai");
//! assert!(plugin.is_some());
//! ```

use std::sync::Arc;

use elelem_core::provider::{Provider, ProviderPlugin, ProviderSettings};
use elelem_core::{CompletionTokensDetails, ElelemError, Usage, Usd};
use elelem_openai::{OpenAiCompatible, Quirks};

/// The xAI catalogue.
pub const CATALOGUE: &str = include_str!("../../../models/xai.toml");

/// Femto-dollars in one xAI cost tick (10^-10 USD).
const FEMTOS_PER_TICK: i128 = 100_000;

/// xAI's deviations from OpenAI: reasoning tokens outside `completion_tokens`,
/// and the cost in ticks.
///
/// ```
/// use elelem_openai::Quirks;
/// let mut usage: elelem_core::Usage = serde_json::from_str(
///     r#"{"prompt_tokens":32,"completion_tokens":9,"total_tokens":135,
///         "completion_tokens_details":{"reasoning_tokens":94},
///         "cost_in_usd_ticks":232856000}"#).unwrap();
/// elelem_xai::XaiQuirks.adapt_usage(&mut usage);
/// assert_eq!(usage.completion_tokens, Some(103));
/// assert_eq!(elelem_xai::XaiQuirks.reported_cost(&usage), Some("0.0232856".parse().unwrap()));
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct XaiQuirks;

impl Quirks for XaiQuirks {
    fn adapt_usage(&self, usage: &mut Usage) {
        let reasoning = usage.reasoning_tokens().unwrap_or(0);
        let (Some(prompt), Some(output)) = (usage.prompt_tokens, usage.completion_tokens) else {
            return;
        };
        // Only when xAI's total shows the reasoning was left out, so an answer that
        // already follows OpenAI's convention is not counted twice.
        // Counts are the provider's bytes: add without overflow.
        let all = prompt
            .checked_add(output)
            .and_then(|sum| sum.checked_add(reasoning));
        if reasoning > 0 && all.is_some() && usage.total_tokens == all {
            usage.completion_tokens = Some(output.saturating_add(reasoning));
            usage
                .completion_tokens_details
                .get_or_insert_with(CompletionTokensDetails::default)
                .reasoning_tokens = Some(reasoning);
        }
    }

    fn reported_cost(&self, usage: &Usage) -> Option<Usd> {
        let ticks = usage.extra.get("cost_in_usd_ticks")?.as_i64()?;
        Some(Usd::from_femtos(
            i128::from(ticks).saturating_mul(FEMTOS_PER_TICK),
        ))
    }
}

/// Builds the `xai` provider.
///
/// ```
/// # use std::time::Duration;
/// let settings = elelem_core::provider::ProviderSettings {
///     name: "xai".into(), base_url: "https://api.x.ai/v1".into(),
///     api_key: Some("xai-test".into()), api_key_env: Some("XAI_API_KEY".into()),
///     timeout: Duration::from_secs(60), max_response_bytes: 1 << 20,
/// };
/// assert!(elelem_xai::build(settings).is_ok());
/// ```
pub fn build(settings: ProviderSettings) -> Result<Arc<dyn Provider>, ElelemError> {
    OpenAiCompatible::provider(settings, Arc::new(XaiQuirks))
}

elelem_core::inventory::submit! {
    ProviderPlugin { name: "xai", catalogue: CATALOGUE, build }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn completion(usage: &str) -> Usage {
        serde_json::from_str(usage).unwrap()
    }

    #[test]
    fn reasoning_is_added_to_the_output_only_when_it_was_left_out() {
        let mut additive = completion(
            r#"{"prompt_tokens":10120,"completion_tokens":1499,"total_tokens":14428,
                "completion_tokens_details":{"reasoning_tokens":2809}}"#,
        );
        XaiQuirks.adapt_usage(&mut additive);
        assert_eq!(additive.completion_tokens, Some(4308));

        let mut included = completion(
            r#"{"prompt_tokens":10,"completion_tokens":100,"total_tokens":110,
                "completion_tokens_details":{"reasoning_tokens":80}}"#,
        );
        XaiQuirks.adapt_usage(&mut included);
        assert_eq!(included.completion_tokens, Some(100));

        let mut plain =
            completion(r#"{"prompt_tokens":10,"completion_tokens":5,"total_tokens":15}"#);
        XaiQuirks.adapt_usage(&mut plain);
        assert_eq!(plain.completion_tokens, Some(5));
    }

    #[test]
    fn huge_counts_do_not_overflow() {
        let mut huge = completion(&format!(
            r#"{{"prompt_tokens":{max},"completion_tokens":{max},"total_tokens":{max},
                "completion_tokens_details":{{"reasoning_tokens":{max}}}}}"#,
            max = u64::MAX
        ));
        XaiQuirks.adapt_usage(&mut huge);
        assert_eq!(huge.completion_tokens, Some(u64::MAX));
    }

    #[test]
    fn ticks_are_exact_dollars() {
        let c = completion(r#"{"prompt_tokens":1,"cost_in_usd_ticks":1}"#);
        assert_eq!(
            XaiQuirks.reported_cost(&c),
            Some("0.0000000001".parse().unwrap())
        );
        assert_eq!(
            XaiQuirks.reported_cost(&completion(r#"{"prompt_tokens":1}"#)),
            None
        );
    }
}
