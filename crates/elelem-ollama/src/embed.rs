//! Ollama's `POST /api/embed`: `{model, input, dimensions?}` ->
//! `{model, embeddings: [[...]], prompt_eval_count}`, as OpenAI's shape.

use serde::{Deserialize, Serialize};

use elelem_core::provider::{EmbeddingReply, EmbeddingWireRequest, ProviderError};
use elelem_core::EmbeddingResponse;
use elelem_transport::{HttpClient, HttpReply};

/// Ollama's embed body.
#[derive(Debug, Serialize)]
pub(crate) struct EmbedBody<'a> {
    model: &'a str,
    input: &'a [String],
    #[serde(skip_serializing_if = "Option::is_none")]
    dimensions: Option<u32>,
}

/// The body of one request (the encoding format is OpenAI's only: Ollama
/// always answers floats).
pub(crate) fn body(request: &EmbeddingWireRequest) -> EmbedBody<'_> {
    EmbedBody {
        model: &request.model,
        input: &request.input,
        dimensions: request.dimensions,
    }
}

#[derive(Debug, Deserialize)]
struct Answer {
    #[serde(default)]
    model: String,
    embeddings: Vec<Vec<f32>>,
    #[serde(default)]
    prompt_eval_count: Option<u64>,
}

/// The reply as OpenAI's response.
pub(crate) fn response(
    client: &HttpClient,
    reply: HttpReply,
) -> Result<EmbeddingReply, ProviderError> {
    let answer: Answer = client.decode(&reply)?;
    let tokens = answer.prompt_eval_count.unwrap_or(0);
    Ok(EmbeddingReply {
        response: EmbeddingResponse::new(answer.model, answer.embeddings, tokens),
        usage_reported: answer.prompt_eval_count.is_some(),
        headers: reply.headers,
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use serde_json::json;

    #[test]
    fn the_body_and_answer_are_ollamas() {
        let mut request = EmbeddingWireRequest::new("nomic-embed-text", vec!["a".into()]);
        request.dimensions = Some(4);
        request.encoding_format = Some(elelem_core::EncodingFormat::Base64);
        assert_eq!(
            serde_json::to_value(body(&request)).unwrap(),
            json!({"model": "nomic-embed-text", "input": ["a"], "dimensions": 4})
        );
        let answer: Answer = serde_json::from_value(json!({
            "model": "nomic-embed-text", "embeddings": [[0.5, 0.25]],
            "total_duration": 14143917, "load_duration": 1019500, "prompt_eval_count": 8
        }))
        .unwrap();
        assert_eq!(answer.prompt_eval_count, Some(8));
        assert_eq!(answer.embeddings, vec![vec![0.5, 0.25]]);
    }
}
