//! Embeddings: the request (`create_embeddings`) and the response, in OpenAI's
//! `/v1/embeddings` shape whatever the provider.

use base64::Engine as _;
use serde::{Deserialize, Deserializer, Serialize};

use crate::cache::CacheMode;
use crate::money::Usd;

/// What to embed: one text or many (OpenAI's `input`).
///
/// ```
/// use elelem_core::EmbeddingInput;
/// let one: EmbeddingInput = serde_json::from_str(r#""hello""#).unwrap();
/// let many: EmbeddingInput = serde_json::from_str(r#"["a", "b"]"#).unwrap();
/// assert_eq!(one.into_texts(), vec!["hello".to_owned()]);
/// assert_eq!(many.into_texts().len(), 2);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum EmbeddingInput {
    /// One text.
    One(String),
    /// Several texts, embedded in order.
    Many(Vec<String>),
}

impl EmbeddingInput {
    /// The texts, in order.
    pub fn into_texts(self) -> Vec<String> {
        match self {
            EmbeddingInput::One(text) => vec![text],
            EmbeddingInput::Many(texts) => texts,
        }
    }

    /// The texts, in order, borrowed.
    ///
    /// ```
    /// let input = elelem_core::EmbeddingInput::from(vec!["a", "b"]);
    /// assert_eq!(input.texts(), vec!["a", "b"]);
    /// ```
    pub fn texts(&self) -> Vec<&str> {
        match self {
            EmbeddingInput::One(text) => vec![text.as_str()],
            EmbeddingInput::Many(texts) => texts.iter().map(String::as_str).collect(),
        }
    }
}

impl From<&str> for EmbeddingInput {
    fn from(text: &str) -> Self {
        EmbeddingInput::One(text.to_owned())
    }
}

impl From<String> for EmbeddingInput {
    fn from(text: String) -> Self {
        EmbeddingInput::One(text)
    }
}

impl<S: Into<String>> From<Vec<S>> for EmbeddingInput {
    fn from(texts: Vec<S>) -> Self {
        EmbeddingInput::Many(texts.into_iter().map(Into::into).collect())
    }
}

/// How the provider sends the vectors: JSON floats, or base64 of little-endian
/// `f32`s (smaller on the wire). Elelem decodes both: a response always holds
/// floats.
///
/// ```
/// use elelem_core::EncodingFormat;
/// assert_eq!(serde_json::to_string(&EncodingFormat::Base64).unwrap(), r#""base64""#);
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EncodingFormat {
    /// JSON arrays of numbers.
    #[default]
    Float,
    /// Base64 of the little-endian `f32` bytes.
    Base64,
}

/// A request for embeddings of one or many texts.
///
/// Inputs above the model's per-request limits (its catalogue entry's
/// `embeddings.max_inputs` and `embeddings.max_request_tokens`) are sent in
/// several requests and re-assembled in input order.
///
/// ```
/// use elelem_core::{EmbeddingRequest, EncodingFormat};
/// let request = EmbeddingRequest::new("openai:text-embedding-3-small", vec!["a cat", "a dog"])
///     .dimensions(256)
///     .encoding_format(EncodingFormat::Base64)
///     .tags(["search"]);
/// assert_eq!(request.input.texts().len(), 2);
/// assert_eq!(request.dimensions, Some(256));
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EmbeddingRequest {
    /// The `provider:model` string.
    pub model: String,
    /// The text or texts to embed.
    pub input: EmbeddingInput,
    /// The size of the vectors, for models that can shorten them
    /// (`text-embedding-3-*`, Gemini's `outputDimensionality`, Ollama's
    /// `dimensions`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dimensions: Option<u32>,
    /// How the vectors travel from an OpenAI-compatible provider (decoded either
    /// way).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encoding_format: Option<EncodingFormat>,
    /// OpenAI's end-user id, passed on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// Tags the cost is counted under.
    #[serde(skip)]
    pub tags: Vec<String>,
    /// How the request uses the response cache (when the client has one).
    #[serde(skip)]
    pub cache: CacheMode,
}

impl EmbeddingRequest {
    /// A request for `model` (`provider:model`) and `input` (a text or a `Vec`).
    pub fn new(model: impl Into<String>, input: impl Into<EmbeddingInput>) -> Self {
        EmbeddingRequest {
            model: model.into(),
            input: input.into(),
            dimensions: None,
            encoding_format: None,
            user: None,
            tags: Vec::new(),
            cache: CacheMode::default(),
        }
    }

    /// Sets the size of the vectors.
    pub fn dimensions(mut self, dimensions: u32) -> Self {
        self.dimensions = Some(dimensions);
        self
    }

    /// Sets how the vectors travel on the wire.
    pub fn encoding_format(mut self, format: EncodingFormat) -> Self {
        self.encoding_format = Some(format);
        self
    }

    /// Sets the end-user id.
    pub fn user(mut self, user: impl Into<String>) -> Self {
        self.user = Some(user.into());
        self
    }

    /// Sets the tags.
    pub fn tags<I, S>(mut self, tags: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.tags = tags.into_iter().map(Into::into).collect();
        self
    }

    /// Sets how the request uses the response cache.
    ///
    /// ```
    /// use elelem_core::{cache::CacheMode, EmbeddingRequest};
    /// let request = EmbeddingRequest::new("openai:text-embedding-3-small", "x").cache(CacheMode::Ignore);
    /// assert_eq!(request.cache, CacheMode::Ignore);
    /// ```
    pub fn cache(mut self, mode: CacheMode) -> Self {
        self.cache = mode;
        self
    }
}

/// One vector of an [`EmbeddingResponse`].
///
/// Reads OpenAI's `embedding` as a float array or as a base64 string.
///
/// ```
/// let one: elelem_core::Embedding = serde_json::from_str(
///     r#"{"object": "embedding", "index": 0, "embedding": "AACAPwAAAMA="}"#,
/// ).unwrap();
/// assert_eq!(one.embedding, vec![1.0, -2.0]);
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Embedding {
    /// Always `"embedding"`.
    #[serde(default = "embedding_object")]
    pub object: String,
    /// The position of its text in the request's input.
    pub index: usize,
    /// The vector.
    #[serde(deserialize_with = "floats_or_base64")]
    pub embedding: Vec<f32>,
}

fn embedding_object() -> String {
    "embedding".to_owned()
}

fn list_object() -> String {
    "list".to_owned()
}

/// The token counts of an embeddings call (input only: embeddings have no output).
///
/// ```
/// let usage = elelem_core::EmbeddingUsage { prompt_tokens: 8, total_tokens: 8 };
/// assert_eq!(serde_json::to_value(usage).unwrap()["total_tokens"], 8);
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EmbeddingUsage {
    /// Input tokens.
    #[serde(default)]
    pub prompt_tokens: u64,
    /// Input tokens again (there is no output).
    #[serde(default)]
    pub total_tokens: u64,
}

/// Elelem's facts about a finished embeddings call (not serialized).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct EmbeddingMeta {
    /// The `provider:model` asked for.
    pub requested_model: String,
    /// How many requests the inputs were split into.
    pub batches: u32,
    /// How many requests were sent, retries included.
    pub attempts: u32,
    /// The exact cost of every attempt of every batch.
    pub cost: Usd,
    /// Served from the response cache (nothing sent, `cost` zero).
    pub cache_hit: bool,
    /// The provider did not report token counts (Gemini's `batchEmbedContents`):
    /// `usage` holds Elelem's estimate, which was billed.
    pub usage_estimated: bool,
}

/// Embeddings in OpenAI's `/v1/embeddings` shape, whatever the provider; one
/// vector per input, in input order.
///
/// ```
/// let response: elelem_core::EmbeddingResponse = serde_json::from_str(r#"{
///   "object": "list",
///   "data": [{"object": "embedding", "index": 0, "embedding": [0.25, -0.5]}],
///   "model": "text-embedding-3-small",
///   "usage": {"prompt_tokens": 5, "total_tokens": 5}
/// }"#).unwrap();
/// assert_eq!(response.vectors(), vec![&[0.25f32, -0.5][..]]);
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EmbeddingResponse {
    /// Always `"list"`.
    #[serde(default = "list_object")]
    pub object: String,
    /// The vectors, by input index.
    pub data: Vec<Embedding>,
    /// The upstream model that answered.
    #[serde(default)]
    pub model: String,
    /// The token counts.
    #[serde(default)]
    pub usage: EmbeddingUsage,
    /// Elelem's facts (cost, batches, attempts), not serialized.
    #[serde(skip)]
    pub elelem: EmbeddingMeta,
}

impl EmbeddingResponse {
    /// A response of `vectors` (indexed in order) from `model`.
    ///
    /// ```
    /// let r = elelem_core::EmbeddingResponse::new("m", vec![vec![1.0], vec![2.0]], 3);
    /// assert_eq!(r.data[1].index, 1);
    /// assert_eq!(r.usage.total_tokens, 3);
    /// ```
    pub fn new(model: impl Into<String>, vectors: Vec<Vec<f32>>, prompt_tokens: u64) -> Self {
        EmbeddingResponse {
            object: list_object(),
            data: vectors
                .into_iter()
                .enumerate()
                .map(|(index, embedding)| Embedding {
                    object: embedding_object(),
                    index,
                    embedding,
                })
                .collect(),
            model: model.into(),
            usage: EmbeddingUsage {
                prompt_tokens,
                total_tokens: prompt_tokens,
            },
            elelem: EmbeddingMeta::default(),
        }
    }

    /// The vectors, in input order.
    pub fn vectors(&self) -> Vec<&[f32]> {
        self.data.iter().map(|d| d.embedding.as_slice()).collect()
    }
}

/// A vector's bytes as OpenAI's base64 form (little-endian `f32`s), what a
/// client that asked for `encoding_format: "base64"` expects.
///
/// ```
/// assert_eq!(elelem_core::embedding_to_base64(&[1.0, -2.0]), "AACAPwAAAMA=");
/// ```
pub fn embedding_to_base64(vector: &[f32]) -> String {
    let bytes: Vec<u8> = vector.iter().flat_map(|f| f.to_le_bytes()).collect();
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// The vector a base64 string of little-endian `f32`s holds, or why it holds none.
///
/// ```
/// assert_eq!(elelem_core::embedding_from_base64("AACAPwAAAMA=").unwrap(), vec![1.0, -2.0]);
/// assert!(elelem_core::embedding_from_base64("AAA=").is_err());
/// ```
pub fn embedding_from_base64(text: &str) -> Result<Vec<f32>, String> {
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(text)
        .map_err(|e| format!("the embedding is not valid base64: {e}"))?;
    if bytes.len() % 4 != 0 {
        return Err(format!(
            "the base64 embedding holds {} bytes, not a whole number of 4-byte floats",
            bytes.len()
        ));
    }
    Ok(bytes
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect())
}

fn floats_or_base64<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<f32>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Vector {
        Floats(Vec<f32>),
        Base64(String),
    }
    match Vector::deserialize(deserializer)? {
        Vector::Floats(floats) => Ok(floats),
        Vector::Base64(text) => embedding_from_base64(&text).map_err(serde::de::Error::custom),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn base64_round_trips_and_odd_lengths_are_refused() {
        let vector = vec![0.1f32, -3.5, 1e-7, f32::MAX];
        assert_eq!(
            embedding_from_base64(&embedding_to_base64(&vector)).unwrap(),
            vector
        );
        assert!(embedding_from_base64("not base64!").is_err());
        let bad: Result<Embedding, _> =
            serde_json::from_str(r#"{"index": 0, "embedding": "AAAA AA"}"#);
        assert!(bad.is_err());
        let bad: Result<Embedding, _> = serde_json::from_str(r#"{"index": 0, "embedding": 5}"#);
        assert!(bad.is_err());
    }

    #[test]
    fn the_request_reads_openai_bodies() {
        let request: EmbeddingRequest = serde_json::from_str(
            r#"{"model": "openai:text-embedding-3-small", "input": ["a"], "encoding_format": "base64", "dimensions": 8}"#,
        )
        .unwrap();
        assert_eq!(request.encoding_format, Some(EncodingFormat::Base64));
        assert_eq!(request.input, EmbeddingInput::Many(vec!["a".into()]));
        assert!(serde_json::from_str::<EmbeddingRequest>(r#"{"model": "m", "input": 5}"#).is_err());
    }
}
