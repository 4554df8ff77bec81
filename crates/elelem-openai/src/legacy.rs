//! The OpenAI protocol's legacy `/completions` endpoint and `GET /models`.

use serde_json::Value;

use elelem_core::provider::{ProviderError, TextCompletionResponse, WireRequest};
use elelem_core::{ModelInfo, ModelList, TextCompletion};

use crate::http_error::{kept_headers, redact};
use crate::transport::OpenAiCompatible;

impl OpenAiCompatible {
    /// The base URL (the chat URL without `/chat/completions`).
    fn base_url(&self) -> &str {
        self.chat_url()
            .strip_suffix("/chat/completions")
            .unwrap_or(self.chat_url())
    }

    /// `POST {base}/completions`.
    pub(crate) async fn legacy_completion(
        &self,
        request: WireRequest,
    ) -> Result<TextCompletionResponse, ProviderError> {
        let mut body = request.body;
        self.quirks().adapt_request(&mut body);
        let payload = serde_json::to_vec(&body).map_err(|e| {
            ProviderError::invalid_body(self.name(), format!("cannot encode the request: {e}"), "")
        })?;
        let url = format!("{}/completions", self.base_url());
        let response = self
            .post(&url, payload)
            .timeout(self.settings().timeout)
            .send()
            .await
            .map_err(|e| self.connection_error(&e))?;
        if !response.status().is_success() {
            return Err(self.status_error(response).await);
        }
        let headers = kept_headers(response.headers());
        let bytes = self.read_body(response).await?;
        let completion: TextCompletion = serde_json::from_slice(&bytes).map_err(|e| {
            let text = redact(
                &String::from_utf8_lossy(&bytes),
                self.settings().api_key.as_ref(),
            );
            ProviderError::invalid_body(self.name(), e.to_string(), &text)
        })?;
        Ok(TextCompletionResponse {
            completion,
            headers,
        })
    }

    /// `GET {base}/models`, as `provider:model` ids.
    pub(crate) async fn live_models(&self) -> Result<ModelList, ProviderError> {
        let url = format!("{}/models", self.base_url());
        let response = self
            .get(&url)
            .timeout(self.settings().timeout)
            .send()
            .await
            .map_err(|e| self.connection_error(&e))?;
        if !response.status().is_success() {
            return Err(self.status_error(response).await);
        }
        let bytes = self.read_body(response).await?;
        let body: Value = serde_json::from_slice(&bytes).map_err(|e| {
            ProviderError::invalid_body(
                self.name(),
                e.to_string(),
                &String::from_utf8_lossy(&bytes),
            )
        })?;
        let data = body
            .get("data")
            .and_then(Value::as_array)
            .map(|models| {
                models
                    .iter()
                    .filter_map(|m| m.get("id")?.as_str())
                    .map(|id| ModelInfo {
                        id: format!("{}:{id}", self.name()),
                        object: "model".into(),
                        created: 0,
                        owned_by: self.name().to_owned(),
                        available: true,
                    })
                    .collect()
            })
            .unwrap_or_default();
        Ok(ModelList {
            object: "list".into(),
            data,
        })
    }
}
