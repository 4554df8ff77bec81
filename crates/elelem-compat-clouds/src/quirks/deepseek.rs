//! DeepSeek: prompt-cache hits reported in its own usage fields.

use elelem_core::{PromptTokensDetails, Usage};

/// DeepSeek's deviation: cache hits come as `usage.prompt_cache_hit_tokens` (and
/// `prompt_cache_miss_tokens`), not `prompt_tokens_details.cached_tokens`. They
/// are copied there so cached input is billed at the cached price.
///
/// ```
/// use elelem_openai::Quirks;
/// let mut usage: elelem_core::Usage = serde_json::from_str(r#"{"prompt_tokens":100,
///     "completion_tokens":5,"total_tokens":105,
///     "prompt_cache_hit_tokens":64,"prompt_cache_miss_tokens":36}"#).unwrap();
/// elelem_compat_clouds::DeepSeekQuirks.adapt_usage(&mut usage);
/// assert_eq!(usage.cached_tokens(), Some(64));
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct DeepSeekQuirks;

/// Moves DeepSeek's cache-hit count into OpenAI's field, unless that already
/// counts some.
fn adapt_usage(usage: &mut Usage) {
    if usage.cached_tokens().is_some_and(|cached| cached > 0) {
        return;
    }
    let Some(hits) = usage
        .extra
        .get("prompt_cache_hit_tokens")
        .and_then(serde_json::Value::as_u64)
    else {
        return;
    };
    usage
        .prompt_tokens_details
        .get_or_insert_with(PromptTokensDetails::default)
        .cached_tokens = Some(hits);
}

usage_quirks!(DeepSeekQuirks, adapt_usage);
