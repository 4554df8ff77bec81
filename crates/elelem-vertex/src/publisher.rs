//! One wrapper for every Vertex AI publisher: a provider's own [`Mapping`]
//! (Gemini's, Anthropic's) sent to the publisher's URL with a bearer token.

use elelem_core::provider::{ProviderError, ProviderResponse, ProviderSettings, WireRequest};
use elelem_core::ElelemError;
use elelem_transport::{HttpClient, HttpReply, HttpRequest, Mapping};

/// A mapping Vertex AI serves through one of its publishers: how it is built,
/// and how its request is turned into Vertex's (by default, unchanged).
pub trait Publisher: Mapping + Sized {
    /// The mapping for `settings` (`base_url`: the publisher's URL).
    fn for_vertex(settings: ProviderSettings) -> Result<Self, ElelemError>;

    /// The request Vertex expects: the mapping's own unless a publisher moves
    /// things around (Claude: the model in the URL). `http` is the wrapper's
    /// client (its base URL, its errors).
    fn vertex_request(
        &self,
        _http: &HttpClient,
        request: &WireRequest,
        stream: bool,
    ) -> Result<HttpRequest, ProviderError> {
        self.chat_request(request, stream)
    }
}

/// A publisher's mapping on Vertex AI: its requests and answers, sent with
/// `Authorization: Bearer <access token>` (the token is the settings' key,
/// given by `BearerMapped`).
///
/// ```
/// # use std::time::Duration;
/// let settings = elelem_core::provider::ProviderSettings {
///     name: "vertex".into(),
///     base_url: "https://us-central1-aiplatform.googleapis.com/v1/projects/p/locations/us-central1/publishers/google".into(),
///     api_key: Some("ya29.token".into()), api_key_env: None,
///     timeout: Duration::from_secs(60), max_response_bytes: 1 << 20,
/// };
/// let gemini = elelem_vertex::VertexGemini::new(settings).unwrap();
/// assert!(!format!("{gemini:?}").contains("ya29.token"));
/// ```
#[derive(Debug, Clone)]
pub struct OnVertex<M> {
    mapping: M,
    http: HttpClient,
}

impl<M: Publisher> OnVertex<M> {
    /// The wrapper for `settings`: `base_url` the publisher URL, `api_key` the
    /// access token.
    pub fn new(settings: ProviderSettings) -> Result<Self, ElelemError> {
        let http =
            HttpClient::new(settings.clone())?.with_key_header("authorization", "Bearer ")?;
        Ok(OnVertex {
            mapping: M::for_vertex(settings)?,
            http,
        })
    }
}

impl<M: Publisher> Mapping for OnVertex<M> {
    type Framing = M::Framing;
    type Records = M::Records;

    fn client(&self) -> &HttpClient {
        &self.http
    }

    fn chat_request(
        &self,
        request: &WireRequest,
        stream: bool,
    ) -> Result<HttpRequest, ProviderError> {
        self.mapping.vertex_request(&self.http, request, stream)
    }

    fn chat_response(&self, reply: HttpReply) -> Result<ProviderResponse, ProviderError> {
        self.mapping.chat_response(reply)
    }

    fn stream(&self) -> (Self::Framing, Self::Records) {
        self.mapping.stream()
    }

    fn error(&self, error: ProviderError) -> ProviderError {
        self.mapping.error(error)
    }
}

/// Gemini on Vertex: Gemini's mapping as it is (the publisher URL already names
/// the model's route).
impl Publisher for elelem_gemini::Gemini {
    fn for_vertex(settings: ProviderSettings) -> Result<Self, ElelemError> {
        elelem_gemini::Gemini::new(settings)
    }
}
