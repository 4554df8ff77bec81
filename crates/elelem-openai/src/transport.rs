//! The OpenAI-protocol transport: one HTTP round trip per attempt.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use bytes::BytesMut;
use reqwest::header::{HeaderValue, AUTHORIZATION, CONTENT_TYPE};

use elelem_core::provider::{
    Provider, ProviderError, ProviderResponse, ProviderSettings, ProviderStream,
    TextCompletionResponse, WireRequest,
};
use elelem_core::{ChatCompletion, ElelemError};

use crate::http_error::{http_error, kept_headers, redact};
use crate::Quirks;

/// A provider that speaks the OpenAI chat completions protocol at a base URL.
/// GROQ, DeepInfra, Scaleway and OpenAI itself are this with different [`Quirks`].
///
/// ```
/// use std::sync::Arc;
/// use std::time::Duration;
/// use elelem_core::provider::ProviderSettings;
/// use elelem_openai::{NoQuirks, OpenAiCompatible};
///
/// let provider = OpenAiCompatible::new(ProviderSettings {
///     name: "local".into(),
///     base_url: "http://127.0.0.1:8000/v1".into(),
///     api_key: None,
///     api_key_env: None,
///     timeout: Duration::from_secs(30),
///     max_response_bytes: 1 << 20,
/// }, Arc::new(NoQuirks)).unwrap();
/// assert_eq!(provider.chat_url(), "http://127.0.0.1:8000/v1/chat/completions");
/// ```
#[derive(Debug, Clone)]
pub struct OpenAiCompatible {
    settings: ProviderSettings,
    chat_url: String,
    auth: Option<HeaderValue>,
    http: reqwest::Client,
    quirks: Arc<dyn Quirks>,
}

impl OpenAiCompatible {
    /// A transport for these settings.
    pub fn new(settings: ProviderSettings, quirks: Arc<dyn Quirks>) -> Result<Self, ElelemError> {
        let config_error = |reason: String| ElelemError::Config { reason };
        let base = settings.base_url.trim_end_matches('/');
        if !(base.starts_with("http://") || base.starts_with("https://")) {
            return Err(config_error(format!(
                "base URL of {} must start with http:// or https://, got {:?}",
                settings.name, settings.base_url
            )));
        }
        let chat_url = format!("{base}/chat/completions");
        let auth = match &settings.api_key {
            Some(key) => {
                let mut value = HeaderValue::from_str(&format!("Bearer {}", key.expose()))
                    .map_err(|_| {
                        config_error(format!(
                            "the API key of {} contains characters not allowed in an HTTP header",
                            settings.name
                        ))
                    })?;
                value.set_sensitive(true);
                Some(value)
            }
            None => None,
        };
        let http = reqwest::Client::builder()
            .connect_timeout(settings.timeout.min(Duration::from_secs(30)))
            .pool_idle_timeout(Duration::from_secs(90))
            .build()
            .map_err(|e| {
                config_error(format!(
                    "cannot build the HTTP client for {}: {e}",
                    settings.name
                ))
            })?;
        Ok(OpenAiCompatible {
            settings,
            chat_url,
            auth,
            http,
            quirks,
        })
    }

    /// The chat completions URL.
    pub fn chat_url(&self) -> &str {
        &self.chat_url
    }

    pub(crate) fn name(&self) -> &str {
        &self.settings.name
    }

    pub(crate) fn connection_error(&self, error: &reqwest::Error) -> ProviderError {
        if error.is_timeout() {
            return ProviderError::Timeout {
                provider: self.name().to_owned(),
                after: self.settings.timeout,
            };
        }
        // reqwest errors carry the URL, never the headers; the key stays out.
        let mut message = error.to_string();
        let mut source = std::error::Error::source(error);
        while let Some(cause) = source {
            message.push_str(": ");
            message.push_str(&cause.to_string());
            source = cause.source();
        }
        ProviderError::Connection {
            provider: self.name().to_owned(),
            message: redact(&message, self.settings.api_key.as_ref()),
        }
    }

    /// Reads the body, refusing more than the configured limit.
    pub(crate) async fn read_body(
        &self,
        mut response: reqwest::Response,
    ) -> Result<BytesMut, ProviderError> {
        let limit = self.settings.max_response_bytes;
        let too_large = || ProviderError::BodyTooLarge {
            provider: self.name().to_owned(),
            limit,
        };
        let expected = response.content_length().unwrap_or(0);
        if expected > limit as u64 {
            return Err(too_large());
        }
        let mut body = BytesMut::with_capacity(expected as usize);
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|e| self.connection_error(&e))?
        {
            if body.len() + chunk.len() > limit {
                return Err(too_large());
            }
            body.extend_from_slice(&chunk);
        }
        Ok(body)
    }
}

impl OpenAiCompatible {
    /// The settings this transport was built from.
    pub(crate) fn settings(&self) -> &ProviderSettings {
        &self.settings
    }

    /// The quirks in use.
    pub(crate) fn quirks(&self) -> &Arc<dyn Quirks> {
        &self.quirks
    }

    /// Sends a POST with the key and JSON body to `url`.
    pub(crate) fn post(&self, url: &str, payload: Vec<u8>) -> reqwest::RequestBuilder {
        let mut builder = self
            .http
            .post(url)
            .header(CONTENT_TYPE, "application/json")
            .body(payload);
        if let Some(auth) = &self.auth {
            builder = builder.header(AUTHORIZATION, auth.clone());
        }
        builder
    }

    /// Sends a GET with the key to `url`.
    pub(crate) fn get(&self, url: &str) -> reqwest::RequestBuilder {
        let builder = self.http.get(url);
        match &self.auth {
            Some(auth) => builder.header(AUTHORIZATION, auth.clone()),
            None => builder,
        }
    }

    /// The error for a non-success status, with the body read and classified.
    pub(crate) async fn status_error(&self, response: reqwest::Response) -> ProviderError {
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        match self.read_body(response).await {
            Ok(body) => ProviderError::Http(Box::new(http_error(
                self.name(),
                status,
                &headers,
                &body,
                self.settings.api_key.as_ref(),
                self.quirks.as_ref(),
            ))),
            Err(error) => error,
        }
    }
}

#[async_trait]
impl Provider for OpenAiCompatible {
    async fn completion(
        &self,
        request: WireRequest,
    ) -> Result<TextCompletionResponse, ProviderError> {
        self.legacy_completion(request).await
    }

    async fn list_models(&self) -> Result<elelem_core::ModelList, ProviderError> {
        self.live_models().await
    }

    async fn chat_completion_stream(
        &self,
        request: WireRequest,
    ) -> Result<ProviderStream, ProviderError> {
        crate::stream::open(Arc::new(self.clone()), request).await
    }

    async fn chat_completion(
        &self,
        request: WireRequest,
    ) -> Result<ProviderResponse, ProviderError> {
        let mut body = request.body;
        self.quirks.adapt_request(&mut body);
        let payload = serde_json::to_vec(&body).map_err(|e| {
            ProviderError::invalid_body(self.name(), format!("cannot encode the request: {e}"), "")
        })?;
        let mut builder = self
            .http
            .post(&self.chat_url)
            // The whole-request limit applies to plain calls; streams have an idle limit.
            .timeout(self.settings.timeout)
            .header(CONTENT_TYPE, "application/json")
            .body(payload);
        if let Some(auth) = &self.auth {
            builder = builder.header(AUTHORIZATION, auth.clone());
        }
        let response = builder
            .send()
            .await
            .map_err(|e| self.connection_error(&e))?;
        let status = response.status();
        let headers = response.headers().clone();
        let body = self.read_body(response).await?;
        tracing::debug!(
            provider = self.name(),
            status = status.as_u16(),
            bytes = body.len(),
            "response received"
        );
        if !status.is_success() {
            let error = http_error(
                self.name(),
                status.as_u16(),
                &headers,
                &body,
                self.settings.api_key.as_ref(),
                self.quirks.as_ref(),
            );
            return Err(ProviderError::Http(Box::new(error)));
        }
        let mut completion: ChatCompletion = serde_json::from_slice(&body).map_err(|e| {
            ProviderError::invalid_body(
                self.name(),
                e.to_string(),
                &redact(
                    &String::from_utf8_lossy(&body),
                    self.settings.api_key.as_ref(),
                ),
            )
        })?;
        self.quirks.adapt_response(&mut completion);
        let reported_cost = self.quirks.reported_cost(&completion);
        Ok(ProviderResponse {
            completion,
            headers: kept_headers(&headers),
            reported_cost,
        })
    }
}
