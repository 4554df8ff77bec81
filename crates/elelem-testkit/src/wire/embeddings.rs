//! Embeddings answers of the real APIs: OpenAI-compatible `POST /embeddings`
//! (floats or base64), Ollama's `POST /api/embed` and Gemini's
//! `batchEmbedContents`. Errors are the providers' usual ones
//! ([`rate_limited`](super::rate_limited), [`gemini_error`](super::gemini_error), ...).

use base64::Engine as _;
use serde_json::{json, Value};

use crate::ScriptedResponse;

/// Deterministic vectors for `count` inputs starting at input `start`: vector
/// `i` is `[start + i, 0.5, -0.25, ...]` (`dimensions` values), so a test can
/// tell which input a vector belongs to.
///
/// ```
/// let v = elelem_testkit::wire::embedding_vectors(3, 2, 3);
/// assert_eq!(v, vec![vec![3.0, 0.5, -0.25], vec![4.0, 0.5, -0.25]]);
/// ```
pub fn embedding_vectors(start: usize, count: usize, dimensions: usize) -> Vec<Vec<f32>> {
    (start..start + count)
        .map(|i| {
            let mut v = vec![i as f32];
            v.extend(
                [0.5f32, -0.25]
                    .iter()
                    .cycle()
                    .take(dimensions.saturating_sub(1)),
            );
            v
        })
        .collect()
}

/// OpenAI's answer with each vector written by `encode`.
fn openai_answer(
    model: &str,
    vectors: &[Vec<f32>],
    prompt_tokens: u64,
    encode: impl Fn(&[f32]) -> Value,
) -> ScriptedResponse {
    let data: Vec<Value> = vectors
        .iter()
        .enumerate()
        .map(|(index, v)| json!({"object": "embedding", "index": index, "embedding": encode(v)}))
        .collect();
    ScriptedResponse::json(
        200,
        json!({
            "object": "list",
            "data": data,
            "model": model,
            "usage": {"prompt_tokens": prompt_tokens, "total_tokens": prompt_tokens}
        }),
    )
}

/// OpenAI's `/embeddings` answer (HTTP 200) with `vectors` as float arrays, in
/// its field order.
///
/// ```
/// use elelem_testkit::wire;
/// let body = wire::openai_embeddings("text-embedding-3-small", &[vec![0.5, 1.0]], 7)
///     .json_body().unwrap_or_default();
/// assert_eq!(body["object"], "list");
/// assert_eq!(body["data"][0]["object"], "embedding");
/// assert_eq!(body["data"][0]["index"], 0);
/// assert_eq!(body["usage"]["total_tokens"], 7);
/// ```
pub fn openai_embeddings(
    model: &str,
    vectors: &[Vec<f32>],
    prompt_tokens: u64,
) -> ScriptedResponse {
    openai_answer(model, vectors, prompt_tokens, |v| json!(v))
}

/// OpenAI's `/embeddings` answer to `encoding_format: "base64"`: each vector as
/// base64 of its little-endian `f32` bytes.
///
/// ```
/// use elelem_testkit::wire;
/// let body = wire::openai_embeddings_base64("text-embedding-3-small", &[vec![1.0, -2.0]], 3)
///     .json_body().unwrap_or_default();
/// assert_eq!(body["data"][0]["embedding"], "AACAPwAAAMA=");
/// ```
pub fn openai_embeddings_base64(
    model: &str,
    vectors: &[Vec<f32>],
    prompt_tokens: u64,
) -> ScriptedResponse {
    openai_answer(model, vectors, prompt_tokens, |v| {
        let bytes: Vec<u8> = v.iter().flat_map(|f| f.to_le_bytes()).collect();
        json!(base64::engine::general_purpose::STANDARD.encode(bytes))
    })
}

/// Ollama's `/api/embed` answer (HTTP 200): `model`, `embeddings`,
/// `total_duration`, `load_duration` (nanoseconds), `prompt_eval_count`.
///
/// ```
/// use elelem_testkit::wire;
/// let body = wire::ollama_embed("nomic-embed-text", &[vec![0.25]], 4).json_body().unwrap_or_default();
/// assert_eq!(body["embeddings"], serde_json::json!([[0.25]]));
/// assert_eq!(body["prompt_eval_count"], 4);
/// ```
pub fn ollama_embed(model: &str, vectors: &[Vec<f32>], prompt_eval_count: u64) -> ScriptedResponse {
    ScriptedResponse::json(
        200,
        json!({
            "model": model,
            "embeddings": vectors,
            "total_duration": 14_143_917_u64,
            "load_duration": 1_019_500_u64,
            "prompt_eval_count": prompt_eval_count
        }),
    )
}

/// Gemini's `batchEmbedContents` answer (HTTP 200): `{embeddings: [{values}]}`,
/// with no token counts (Gemini reports none for embeddings).
///
/// ```
/// use elelem_testkit::wire;
/// let body = wire::gemini_embeddings(&[vec![0.5], vec![1.5]]).json_body().unwrap_or_default();
/// assert_eq!(body["embeddings"][1]["values"], serde_json::json!([1.5]));
/// ```
pub fn gemini_embeddings(vectors: &[Vec<f32>]) -> ScriptedResponse {
    let embeddings: Vec<Value> = vectors.iter().map(|v| json!({"values": v})).collect();
    ScriptedResponse::json(200, json!({"embeddings": embeddings}))
}
