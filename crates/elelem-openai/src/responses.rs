//! The OpenAI Responses API (`POST {base}/responses`) of OpenAI-protocol
//! providers (OpenAI, xAI, compatible servers whose catalogue entry has
//! `responses = true`), through the transport's shared Responses code, with the
//! provider's usage quirks applied to plain and streamed responses alike.

use std::sync::Arc;

use elelem_core::provider::{ProviderError, ResponseEventStream, ResponseReply, WireRequest};
use elelem_core::ResponseUsage;
use elelem_transport::{open_response_stream, send_response, UsageAdapter};

use crate::transport::OpenAiCompatible;
use crate::Quirks;

/// The provider's usage quirks on a Responses usage: the counts go through
/// [`Quirks::adapt_usage`] as chat usage and come back.
fn adapter(quirks: Arc<dyn Quirks>) -> UsageAdapter {
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

impl OpenAiCompatible {
    /// The Responses API URL.
    fn responses_url(&self) -> String {
        format!("{}/responses", self.client().base_url())
    }

    /// `POST {base}/responses`.
    pub(crate) async fn response(
        &self,
        request: WireRequest,
    ) -> Result<ResponseReply, ProviderError> {
        let adapter = adapter(self.quirks().clone());
        send_response(
            self.client(),
            &self.responses_url(),
            &request,
            Some(&adapter),
        )
        .await
    }

    /// `POST {base}/responses` with `stream: true`.
    pub(crate) async fn response_stream(
        &self,
        request: WireRequest,
    ) -> Result<ResponseEventStream, ProviderError> {
        let adapter = adapter(self.quirks().clone());
        open_response_stream(
            self.client(),
            &self.responses_url(),
            &request,
            Some(adapter),
        )
        .await
    }
}
