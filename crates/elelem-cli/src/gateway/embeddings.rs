//! `POST /v1/embeddings`: OpenAI's embeddings endpoint over `create_embeddings`
//! (batching, retries, budgets, cache and cost by tag), answering floats or,
//! when the client asks `encoding_format: "base64"` (the OpenAI SDKs' default),
//! base64 vectors.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::response::Response;
use elelem::{embedding_to_base64, EmbeddingRequest, EmbeddingResponse, EncodingFormat};
use serde_json::{json, Value};

use super::admission::{admit, Admitted, Routed};
use super::{ApiError, Gateway};

/// The request in the body: OpenAI's fields, plus Elelem's `tags`.
fn parse(mut json: Value) -> Result<EmbeddingRequest, ApiError> {
    let tags = match json.as_object_mut().and_then(|m| m.remove("tags")) {
        None | Some(Value::Null) => Vec::new(),
        Some(tags) => serde_json::from_value::<Vec<String>>(tags)
            .map_err(|_| ApiError::invalid("tags", "`tags` must be an array of strings"))?,
    };
    let request: EmbeddingRequest = serde_json::from_value(json).map_err(|e| {
        ApiError::invalid(
            "input",
            format!("the embeddings request is not valid: {e}; send `model` and `input` (a string or an array of strings)"),
        )
    })?;
    Ok(request.tags(tags))
}

/// The response body in OpenAI's shape (vectors as base64 when asked), and the
/// `elelem` object.
fn body_of(response: &EmbeddingResponse, format: Option<EncodingFormat>) -> (Value, Value) {
    let data: Vec<Value> = response
        .data
        .iter()
        .map(|item| {
            let embedding = match format {
                Some(EncodingFormat::Base64) => json!(embedding_to_base64(&item.embedding)),
                _ => json!(item.embedding),
            };
            json!({"object": "embedding", "index": item.index, "embedding": embedding})
        })
        .collect();
    let meta = &response.elelem;
    let body = json!({
        "object": "list",
        "data": data,
        "model": response.model,
        "usage": response.usage,
    });
    let elelem = json!({
        "cost_usd": meta.cost,
        "attempts": meta.attempts,
        "batches": meta.batches,
        "requested_model": meta.requested_model,
        "cache_hit": meta.cache_hit,
        "usage_estimated": meta.usage_estimated,
    });
    (body, elelem)
}

impl Routed for EmbeddingRequest {
    fn models(&self) -> Vec<&str> {
        vec![self.model.as_str()]
    }

    fn tags_mut(&mut self) -> &mut Vec<String> {
        &mut self.tags
    }
}

/// `POST /v1/embeddings`.
pub(crate) async fn embeddings(State(gateway): State<Arc<Gateway>>, request: Request) -> Response {
    let admitted = admit("embeddings", &gateway, request, |_, body| {
        parse(crate::openai_body::json(body)?)
    })
    .await;
    let Admitted {
        loaded,
        request,
        mut call,
    } = match admitted {
        Ok(admitted) => admitted,
        Err(response) => return response,
    };
    let model = request.model.clone();
    let format = request.encoding_format;
    // Boxed, so this handler's future stays small (see chat.rs).
    match Box::pin(loaded.elelem.create_embeddings(request)).await {
        Ok(response) => {
            let (body, meta) = body_of(&response, format);
            call.answer(&gateway, &model, &body, &meta)
        }
        Err(error) => call.fail(ApiError::from_elelem(&error)),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn bodies_are_read_and_answered_in_openais_shape() {
        let request = parse(
            json!({"model": "m", "input": ["a"], "tags": ["t"], "encoding_format": "base64"}),
        )
        .unwrap();
        assert_eq!(request.tags, vec!["t".to_owned()]);
        assert_eq!(request.encoding_format, Some(EncodingFormat::Base64));
        assert_eq!(
            parse(json!({"model": "m"})).unwrap_err().status.as_u16(),
            400
        );
        assert!(parse(json!({"model": "m", "input": "x", "tags": "t"})).is_err());

        let response = EmbeddingResponse::new("m", vec![vec![1.0, -2.0]], 3);
        let (floats, meta) = body_of(&response, None);
        assert_eq!(meta["attempts"], 0);
        assert_eq!(floats["data"][0]["embedding"], json!([1.0, -2.0]));
        assert_eq!(
            floats["usage"],
            json!({"prompt_tokens": 3, "total_tokens": 3})
        );
        let (base64, _) = body_of(&response, Some(EncodingFormat::Base64));
        assert_eq!(base64["data"][0]["embedding"], "AACAPwAAAMA=");
    }
}
