//! The OpenAI protocol's `POST {base}/embeddings` (OpenAI, DeepInfra, Scaleway,
//! Mistral and any compatible server): the body and the answer, as pure
//! functions, and the one round trip.

use serde::{Deserialize, Serialize};

use elelem_core::provider::{EmbeddingReply, EmbeddingWireRequest, ProviderError};
use elelem_core::{Embedding, EmbeddingResponse, EmbeddingUsage, EncodingFormat};

use crate::{HttpClient, HttpReply};

/// OpenAI's embeddings body.
#[derive(Debug, Serialize)]
pub(crate) struct EmbeddingsBody<'a> {
    model: &'a str,
    input: &'a [String],
    #[serde(skip_serializing_if = "Option::is_none")]
    dimensions: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    encoding_format: Option<EncodingFormat>,
    #[serde(skip_serializing_if = "Option::is_none")]
    user: Option<&'a str>,
}

/// OpenAI's answer; `usage` is missing from some compatible servers' answers.
#[derive(Debug, Deserialize)]
struct Answer {
    data: Vec<Embedding>,
    #[serde(default)]
    model: String,
    #[serde(default)]
    usage: Option<EmbeddingUsage>,
}

/// The body of one request.
pub(crate) fn body(request: &EmbeddingWireRequest) -> EmbeddingsBody<'_> {
    EmbeddingsBody {
        model: &request.model,
        input: &request.input,
        dimensions: request.dimensions,
        encoding_format: request.encoding_format,
        user: request.user.as_deref(),
    }
}

/// The reply as OpenAI's response (vectors as floats or base64, both decoded).
pub(crate) fn response(
    client: &HttpClient,
    reply: HttpReply,
) -> Result<EmbeddingReply, ProviderError> {
    let answer: Answer = client.decode(&reply)?;
    let mut response = EmbeddingResponse::new(answer.model, Vec::new(), 0);
    response.data = answer.data;
    response.usage = answer.usage.unwrap_or_default();
    Ok(EmbeddingReply {
        response,
        usage_reported: answer.usage.is_some(),
        headers: reply.headers,
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn the_body_is_openais() {
        let mut request = EmbeddingWireRequest::new("text-embedding-3-small", vec!["a".into()]);
        request.dimensions = Some(8);
        request.encoding_format = Some(EncodingFormat::Base64);
        assert_eq!(
            serde_json::to_value(body(&request)).unwrap(),
            serde_json::json!({"model": "text-embedding-3-small", "input": ["a"], "dimensions": 8, "encoding_format": "base64"})
        );
        let plain = EmbeddingWireRequest::new("m", vec!["a".into(), "b".into()]);
        assert_eq!(
            serde_json::to_value(body(&plain)).unwrap(),
            serde_json::json!({"model": "m", "input": ["a", "b"]})
        );
    }
}
