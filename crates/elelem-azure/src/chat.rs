//! Azure OpenAI's chat completions as a [`Mapping`]: OpenAI's request and
//! answer shapes at Azure's URLs, with Azure's content-filter refusal classified.

use std::sync::Arc;

use serde_json::Value;

use elelem_core::provider::{
    ProviderError, ProviderErrorKind, ProviderResponse, ProviderSettings, WireRequest,
};
use elelem_core::{ChatCompletion, ChatCompletionChunk, ElelemError};
use elelem_transport::{
    HttpClient, HttpReply, HttpRequest, Mapping, ModelUrls, RecordMapper, SseFraming,
};

use crate::config::Route;

/// The header carrying the credential.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum KeyHeader {
    /// `api-key: {key}`.
    ApiKey,
    /// `Authorization: Bearer {token}`.
    Bearer,
}

/// Azure's refusal of a filtered prompt: a 400 whose `error.code` is
/// `content_filter` (the details in `innererror.content_filter_result`).
pub(crate) fn classify(status: u16, error: Option<&Value>) -> Option<ProviderErrorKind> {
    let code = error?.get("code")?.as_str()?;
    (status == 400 && code == "content_filter").then_some(ProviderErrorKind::ContentFilter)
}

/// One Azure OpenAI resource, authenticated by one credential.
#[derive(Debug, Clone)]
pub struct AzureChat {
    http: HttpClient,
    endpoint: reqwest::Url,
    route: Route,
    /// The chat URL of each deployment, parsed once.
    chat_urls: ModelUrls,
}

impl AzureChat {
    /// The mapping for `settings` (its `base_url` the resource endpoint, its
    /// `api_key` the credential sent in `header`).
    pub(crate) fn new(
        settings: ProviderSettings,
        route: Route,
        header: KeyHeader,
    ) -> Result<Self, ElelemError> {
        let http = HttpClient::new(settings)?.with_error_hook(Arc::new(classify));
        let http = match header {
            KeyHeader::ApiKey => http.with_key_header("api-key", "")?,
            KeyHeader::Bearer => http.with_key_header("authorization", "Bearer ")?,
        };
        let endpoint = reqwest::Url::parse(http.base_url()).map_err(|e| ElelemError::Config {
            reason: format!(
                "the Azure OpenAI endpoint {:?} is not a URL ({e}); it looks like https://<resource>.openai.azure.com",
                http.base_url()
            ),
        })?;
        Ok(AzureChat {
            http,
            endpoint,
            route,
            chat_urls: ModelUrls::default(),
        })
    }

    /// The chat URL of a deployment.
    pub(crate) fn chat_url(&self, deployment: &str) -> String {
        let mut url = self.endpoint.clone();
        if let Ok(mut path) = url.path_segments_mut() {
            path.pop_if_empty().push("openai");
            match &self.route {
                Route::Deployments { .. } => {
                    path.push("deployments").push(deployment);
                }
                Route::V1 => {
                    path.push("v1");
                }
            }
            path.push("chat").push("completions");
        }
        if let Route::Deployments { api_version } = &self.route {
            url.query_pairs_mut()
                .append_pair("api-version", api_version);
        }
        url.into()
    }
}

impl Mapping for AzureChat {
    type Framing = SseFraming;
    type Records = Chunks;

    fn client(&self) -> &HttpClient {
        &self.http
    }

    fn chat_request(
        &self,
        request: &WireRequest,
        stream: bool,
    ) -> Result<HttpRequest, ProviderError> {
        let mut body = request.clone();
        if stream {
            body.stream = Some(true);
            if body.stream_options.is_none() {
                body.stream_options = Some(serde_json::json!({"include_usage": true}));
            }
        } else {
            body.stream = None;
            body.stream_options = None;
        }
        let deployment = &request.model;
        let http = self
            .chat_urls
            .json_request(deployment, || self.chat_url(deployment), &body);
        http.map_err(|e| {
            self.http
                .invalid_piece(format!("cannot encode the request: {e}"), "")
        })
    }

    fn chat_response(&self, reply: HttpReply) -> Result<ProviderResponse, ProviderError> {
        let completion: ChatCompletion = self.http.decode(&reply)?;
        let mut response = ProviderResponse::new(completion);
        response.headers = reply.headers;
        Ok(response)
    }

    fn stream(&self) -> (SseFraming, Chunks) {
        (
            SseFraming::with_limit(self.http.settings().max_response_bytes),
            Chunks {
                http: self.http.clone(),
            },
        )
    }
}

/// OpenAI chunks until `data: [DONE]`. Azure's first chunk has no choices and
/// carries `prompt_filter_results`; it is passed on as it is.
#[derive(Debug)]
pub struct Chunks {
    http: HttpClient,
}

impl RecordMapper for Chunks {
    fn record(&mut self, data: &str) -> Result<Vec<ChatCompletionChunk>, ProviderError> {
        // Only a payload with an `"error"` string can be an error object.
        if data.contains("\"error\"") {
            if let Some(error) = serde_json::from_str::<Value>(data)
                .ok()
                .and_then(|v| v.get("error").cloned())
                .filter(|e| !e.is_null())
            {
                let status = match classify(400, Some(&error)) {
                    Some(_) => 400,
                    None => 500,
                };
                let body = serde_json::json!({ "error": error }).to_string();
                return Err(self.http.stream_error(status, body.as_bytes()));
            }
        }
        let chunk: ChatCompletionChunk =
            serde_json::from_str(data).map_err(|e| self.http.invalid_piece(e.to_string(), data))?;
        Ok(vec![chunk])
    }

    fn done(&mut self) -> Result<Vec<ChatCompletionChunk>, ProviderError> {
        Ok(Vec::new())
    }

    fn finish(&mut self) -> Result<Vec<ChatCompletionChunk>, ProviderError> {
        Err(self
            .http
            .stream_cut("the stream ended before `data: [DONE]`"))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::time::Duration;

    use super::*;

    fn chat(route: Route) -> AzureChat {
        AzureChat::new(
            ProviderSettings {
                name: "azure".into(),
                base_url: "https://acme.openai.azure.com/".into(),
                api_key: Some("k-secret-1234".into()),
                api_key_env: None,
                timeout: Duration::from_secs(5),
                max_response_bytes: 1 << 20,
            },
            route,
            KeyHeader::ApiKey,
        )
        .unwrap()
    }

    #[test]
    fn urls_follow_the_route() {
        let deployments = chat(Route::Deployments {
            api_version: "2024-10-21".into(),
        });
        assert_eq!(
            deployments.chat_url("gpt-4o prod"),
            "https://acme.openai.azure.com/openai/deployments/gpt-4o%20prod/chat/completions?api-version=2024-10-21"
        );
        assert_eq!(
            chat(Route::V1).chat_url("gpt-4o"),
            "https://acme.openai.azure.com/openai/v1/chat/completions"
        );
    }

    #[test]
    fn only_a_400_content_filter_is_a_content_filter_refusal() {
        let error = serde_json::json!({"code": "content_filter", "innererror": {"code": "ResponsibleAIPolicyViolation"}});
        assert_eq!(
            classify(400, Some(&error)),
            Some(ProviderErrorKind::ContentFilter)
        );
        assert_eq!(classify(500, Some(&error)), None);
        assert_eq!(
            classify(400, Some(&serde_json::json!({"code": "invalid"}))),
            None
        );
        assert_eq!(classify(400, None), None);
    }

    #[test]
    fn a_stream_error_is_classified_and_redacted() {
        let mut chunks = chat(Route::V1).stream().1;
        let error = chunks
            .record(r#"{"error":{"code":"content_filter","message":"filtered k-secret-1234"}}"#)
            .unwrap_err();
        assert_eq!(error.kind(), Some(ProviderErrorKind::ContentFilter));
        assert!(!format!("{error} {error:?}").contains("k-secret-1234"));
        let first = chunks
            .record(r#"{"choices":[],"created":0,"id":"","model":"","object":"","prompt_filter_results":[{"prompt_index":0,"content_filter_results":{}}]}"#)
            .unwrap();
        assert!(first[0].choices.is_empty());
    }
}
