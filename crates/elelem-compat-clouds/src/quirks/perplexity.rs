//! Perplexity: the exact cost of a web-grounded answer, search fees included.

use serde::Deserialize;

use elelem_core::{Usage, Usd};
use elelem_openai::Quirks;

/// Perplexity's deviation: a request costs its tokens plus a request fee that
/// depends on `search_context_size` (and, for deep research, citation tokens and
/// `num_search_queries`). Each response reports the whole of it in
/// `usage.cost.total_cost` (USD), which is recorded instead of the price table's
/// token cost. `search_context_size`, `citation_tokens` and `num_search_queries`
/// stay in `usage.extra`.
///
/// ```
/// use elelem_openai::Quirks;
/// let usage: elelem_core::Usage = serde_json::from_str(r#"{"prompt_tokens":8,"completion_tokens":120,
///     "total_tokens":128, "search_context_size":"low",
///     "cost":{"input_tokens_cost":0.000008,"output_tokens_cost":0.00012,
///             "request_cost":0.005,"total_cost":0.005128}}"#).unwrap();
/// let cost = elelem_compat_clouds::PerplexityQuirks.reported_cost(&usage);
/// assert_eq!(cost, Some("0.005128".parse().unwrap()));
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct PerplexityQuirks;

impl Quirks for PerplexityQuirks {
    fn reported_cost(&self, usage: &Usage) -> Option<Usd> {
        let total = usage.extra.get("cost")?.get("total_cost")?;
        // The number's shortest decimal text, parsed exactly.
        Usd::deserialize(total).ok()
    }
}
