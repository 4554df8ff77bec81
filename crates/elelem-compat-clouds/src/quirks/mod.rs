//! How some of these clouds deviate from the OpenAI protocol.

mod deepseek;
mod google;
mod mistral;
mod perplexity;

pub use deepseek::DeepSeekQuirks;
pub use google::GoogleQuirks;
pub use mistral::MistralQuirks;
pub use perplexity::PerplexityQuirks;
