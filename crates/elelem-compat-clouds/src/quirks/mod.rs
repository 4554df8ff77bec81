//! How some of these clouds deviate from the OpenAI protocol.

/// Implements `Quirks` for a provider whose only deviation is in its usage
/// counts: `$fix` adjusts the usage of every response and every chunk (through
/// `Quirks::adapt_usage`, so plain and streamed answers are billed alike).
macro_rules! usage_quirks {
    ($quirks:ty, $fix:path) => {
        impl elelem_openai::Quirks for $quirks {
            fn adapt_usage(&self, usage: &mut elelem_core::Usage) {
                $fix(usage);
            }
        }
    };
}

mod deepseek;
mod google;
mod mistral;
mod perplexity;

pub use deepseek::DeepSeekQuirks;
pub use google::GoogleQuirks;
pub use mistral::MistralQuirks;
pub use perplexity::PerplexityQuirks;
