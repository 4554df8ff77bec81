//! Google's OpenAI-compatible Gemini endpoint: thinking tokens outside
//! `completion_tokens`.

use elelem_core::{CompletionTokensDetails, Usage};

/// The Gemini endpoint's deviation: `completion_tokens` leaves the thinking
/// tokens out (they only show in `total_tokens`). The difference is added back as
/// reasoning tokens, so thinking is billed at the output price as Google bills it.
///
/// ```
/// use elelem_openai::Quirks;
/// let mut usage: elelem_core::Usage = serde_json::from_str(
///     r#"{"prompt_tokens":10,"completion_tokens":5,"total_tokens":115}"#).unwrap();
/// elelem_compat_clouds::GoogleQuirks.adapt_usage(&mut usage);
/// assert_eq!(usage.completion_tokens, Some(105));
/// assert_eq!(usage.reasoning_tokens(), Some(100));
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct GoogleQuirks;

fn adapt_usage(usage: &mut Usage) {
    let (Some(prompt), Some(output), Some(total)) = (
        usage.prompt_tokens,
        usage.completion_tokens,
        usage.total_tokens,
    ) else {
        return;
    };
    // Only a total above prompt + completion shows thoughts left out; an answer
    // already counting them (or reporting them) is left as it is.
    let thoughts = total.saturating_sub(prompt.saturating_add(output));
    if thoughts == 0 || usage.reasoning_tokens().is_some_and(|r| r > 0) {
        return;
    }
    usage.completion_tokens = Some(output + thoughts);
    usage
        .completion_tokens_details
        .get_or_insert_with(CompletionTokensDetails::default)
        .reasoning_tokens = Some(thoughts);
}

usage_quirks!(GoogleQuirks, adapt_usage);
