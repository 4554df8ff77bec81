//! How some of these clouds deviate from the OpenAI protocol.

/// Implements `Quirks` for a provider whose only deviation is in its usage
/// counts: `$fix` adjusts the usage of every response and of the final chunk.
macro_rules! usage_quirks {
    ($quirks:ty, $fix:path) => {
        impl elelem_openai::Quirks for $quirks {
            fn adapt_response(&self, completion: &mut elelem_core::ChatCompletion) {
                if let Some(usage) = completion.usage.as_mut() {
                    $fix(usage);
                }
            }

            fn adapt_chunk(&self, chunk: &mut elelem_core::ChatCompletionChunk) {
                if let Some(usage) = chunk.usage.as_mut() {
                    $fix(usage);
                }
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
