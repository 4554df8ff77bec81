//! The OpenAI protocol's legacy `/completions` endpoint and `GET /models`.

use serde_json::Value;

use elelem_core::provider::{ProviderError, TextCompletionResponse, WireRequest};
use elelem_core::{ModelInfo, ModelList, TextCompletion};

use crate::transport::OpenAiCompatible;

impl OpenAiCompatible {
    /// The base URL (the chat URL without `/chat/completions`).
    fn base_url(&self) -> &str {
        self.client().base_url()
    }

    /// `POST {base}/completions`.
    pub(crate) async fn legacy_completion(
        &self,
        request: WireRequest,
    ) -> Result<TextCompletionResponse, ProviderError> {
        let url = format!("{}/completions", self.base_url());
        let reply = self
            .client()
            .post_json(&url, &self.adapted(request))
            .await?;
        let completion: TextCompletion = self.client().decode(&reply)?;
        Ok(TextCompletionResponse {
            completion,
            headers: reply.headers,
        })
    }

    /// `GET {base}/models`, as `provider:model` ids.
    pub(crate) async fn live_models(&self) -> Result<ModelList, ProviderError> {
        let url = format!("{}/models", self.base_url());
        let reply = self.client().get(&url).await?;
        let body: Value = self.client().decode(&reply)?;
        let name = self.client().name();
        let data = body
            .get("data")
            .and_then(Value::as_array)
            .map(|models| {
                models
                    .iter()
                    .filter_map(|m| m.get("id")?.as_str())
                    .map(|id| ModelInfo {
                        id: format!("{name}:{id}"),
                        object: "model".into(),
                        created: 0,
                        owned_by: name.to_owned(),
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
