//! Claude on Vertex AI (Model Garden): Anthropic's Messages API at
//! `.../publishers/anthropic/models/{model}:rawPredict` (`:streamRawPredict`
//! for a stream), the model in the URL rather than the body, and
//! `anthropic_version: "vertex-2023-10-16"` in the body. The conversion is
//! `elelem-anthropic`'s.

use serde_json::Value;

use elelem_anthropic::Anthropic;
use elelem_core::provider::{ProviderError, ProviderSettings, WireRequest};
use elelem_core::ElelemError;
use elelem_transport::{HttpClient, HttpRequest, Mapping};

use crate::publisher::{OnVertex, Publisher};

/// The `anthropic_version` Vertex AI expects in the body.
pub const VERTEX_ANTHROPIC_VERSION: &str = "vertex-2023-10-16";

/// Whether a Vertex model id names a Claude model (served by the `anthropic`
/// publisher).
///
/// ```
/// assert!(elelem_vertex::is_claude("claude-sonnet-4-5@20250929"));
/// assert!(!elelem_vertex::is_claude("gemini-2.5-flash"));
/// ```
pub fn is_claude(model: &str) -> bool {
    model.starts_with("claude-")
}

/// Claude through Vertex: Anthropic's mapping, rerouted and sent with a bearer
/// token.
pub type VertexClaude = OnVertex<Anthropic>;

/// Anthropic's request, with the model moved from the body to the URL and
/// Vertex's `anthropic_version`.
impl Publisher for Anthropic {
    fn for_vertex(settings: ProviderSettings) -> Result<Self, ElelemError> {
        Anthropic::new(settings)
    }

    fn vertex_request(
        &self,
        http: &HttpClient,
        request: &WireRequest,
        stream: bool,
    ) -> Result<HttpRequest, ProviderError> {
        let messages = self.chat_request(request, stream)?;
        let mut body: Value = serde_json::from_slice(&messages.body)
            .map_err(|e| http.invalid_piece(format!("cannot re-encode the request: {e}"), ""))?;
        if let Value::Object(fields) = &mut body {
            fields.remove("model");
            fields.insert(
                "anthropic_version".into(),
                Value::String(VERTEX_ANTHROPIC_VERSION.into()),
            );
        }
        let method = if stream {
            "streamRawPredict"
        } else {
            "rawPredict"
        };
        let url = format!("{}/models/{}:{method}", http.base_url(), request.model);
        HttpRequest::json(url, &body)
            .map_err(|e| http.invalid_piece(format!("cannot encode the request: {e}"), ""))
    }
}
