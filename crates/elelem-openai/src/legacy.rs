//! The OpenAI protocol's legacy `/completions` endpoint and `GET /models`.

use serde_json::Value;

use elelem_core::provider::{ProviderError, TextCompletionResponse};
use elelem_core::{ModelInfo, ModelList, TextCompletion};
use elelem_transport::{HttpReply, Mapping};

use crate::transport::OpenAiCompatible;

impl OpenAiCompatible {
    /// `{base}/completions`.
    pub(crate) fn completions_url(&self) -> String {
        format!("{}/completions", self.client().base_url())
    }

    /// The legacy completion in a successful `/completions` reply.
    pub(crate) fn text_completion(
        &self,
        reply: HttpReply,
    ) -> Result<TextCompletionResponse, ProviderError> {
        let completion: TextCompletion = self.client().decode(&reply)?;
        Ok(TextCompletionResponse {
            completion,
            headers: reply.headers,
        })
    }

    /// `{base}/models`.
    pub(crate) fn models_list_url(&self) -> String {
        format!("{}/models", self.client().base_url())
    }

    /// The `provider:model` ids of a successful `GET /models` reply.
    pub(crate) fn model_list(&self, reply: HttpReply) -> Result<ModelList, ProviderError> {
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
