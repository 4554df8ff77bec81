//! Gemini's `POST {base}/models/{model}:batchEmbedContents`:
//! `{requests: [{model: "models/{model}", content: {parts: [{text}]},
//! outputDimensionality?}]}` -> `{embeddings: [{values: [...]}]}`, as OpenAI's
//! shape. Gemini reports no token counts for embeddings: the reply says so, and
//! the pipeline bills its own count of the input.

use serde::{Deserialize, Serialize};

use elelem_core::provider::{EmbeddingReply, EmbeddingWireRequest, ProviderError};
use elelem_core::EmbeddingResponse;
use elelem_transport::{HttpClient, HttpReply};

#[derive(Debug, Serialize)]
struct Part<'a> {
    text: &'a str,
}

#[derive(Debug, Serialize)]
struct Content<'a> {
    parts: [Part<'a>; 1],
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct EmbedContent<'a> {
    model: &'a str,
    content: Content<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    output_dimensionality: Option<u32>,
}

/// Gemini's batch body.
#[derive(Debug, Serialize)]
pub(crate) struct BatchBody<'a> {
    requests: Vec<EmbedContent<'a>>,
}

/// The upstream model without a `models/` prefix.
pub(crate) fn bare_model(model: &str) -> &str {
    model.strip_prefix("models/").unwrap_or(model)
}

/// The body of one batch; `model` is `models/{model}`, as each request names it.
pub(crate) fn body<'a>(request: &'a EmbeddingWireRequest, model: &'a str) -> BatchBody<'a> {
    BatchBody {
        requests: request
            .input
            .iter()
            .map(|text| EmbedContent {
                model,
                content: Content {
                    parts: [Part { text }],
                },
                output_dimensionality: request.dimensions,
            })
            .collect(),
    }
}

#[derive(Debug, Deserialize)]
struct Values {
    values: Vec<f32>,
}

#[derive(Debug, Deserialize)]
struct Answer {
    #[serde(default)]
    embeddings: Vec<Values>,
}

/// The reply as OpenAI's response (no usage: Gemini reports none).
pub(crate) fn response(
    client: &HttpClient,
    request: &EmbeddingWireRequest,
    reply: HttpReply,
) -> Result<EmbeddingReply, ProviderError> {
    let answer: Answer = client.decode(&reply)?;
    let vectors = answer.embeddings.into_iter().map(|e| e.values).collect();
    Ok(EmbeddingReply {
        response: EmbeddingResponse::new(bare_model(&request.model), vectors, 0),
        usage_reported: false,
        headers: reply.headers,
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use serde_json::json;

    #[test]
    fn the_body_is_geminis() {
        let mut request =
            EmbeddingWireRequest::new("gemini-embedding-001", vec!["a".into(), "b".into()]);
        request.dimensions = Some(768);
        let model = format!("models/{}", bare_model(&request.model));
        assert_eq!(
            serde_json::to_value(body(&request, &model)).unwrap(),
            json!({"requests": [
                {"model": "models/gemini-embedding-001", "content": {"parts": [{"text": "a"}]}, "outputDimensionality": 768},
                {"model": "models/gemini-embedding-001", "content": {"parts": [{"text": "b"}]}, "outputDimensionality": 768}
            ]})
        );
    }
}
