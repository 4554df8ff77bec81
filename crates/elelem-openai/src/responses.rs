//! The OpenAI Responses API (`POST {base}/responses`) of OpenAI-protocol
//! providers (OpenAI, xAI, compatible servers whose catalogue entry has
//! `responses = true`), through the transport's shared Responses code, with the
//! provider's usage quirks applied to plain and streamed responses alike.

use std::sync::Arc;

use elelem_core::ResponseUsage;
use elelem_transport::UsageAdapter;

use crate::Quirks;

/// The provider's usage quirks on a Responses usage: the counts go through
/// [`Quirks::adapt_usage`] as chat usage and come back.
pub(crate) fn adapter(quirks: Arc<dyn Quirks>) -> UsageAdapter {
    Arc::new(move |usage: &mut ResponseUsage| {
        let mut chat = usage.to_usage();
        quirks.adapt_usage(&mut chat);
        usage.input_tokens = chat.prompt_tokens;
        usage.output_tokens = chat.completion_tokens;
        if let Some(reasoning) = chat.reasoning_tokens() {
            usage
                .output_tokens_details
                .get_or_insert_with(Default::default)
                .reasoning_tokens = Some(reasoning);
        }
    })
}
