//! Streaming over the OpenAI protocol: SSE `data:` chunks until `data: [DONE]`,
//! decoded by the transport's one stream loop with the mapper below.

use std::sync::Arc;

use serde::Deserialize;
use serde_json::Value;

use elelem_core::provider::ProviderError;
use elelem_core::ChatCompletionChunk;
use elelem_transport::{HttpClient, RecordMapper};

use crate::Quirks;

/// Whether an SSE `data:` payload can be an error object: it has an `"error"` string
/// (as a key, or as a value). Text in a chunk's content has its quotes escaped.
fn may_hold_error(data: &str) -> bool {
    data.contains("\"error\"")
}

/// The `error` of a payload that is an error object; `"error": null` (sent by some
/// servers in every chunk) is no error.
#[derive(Deserialize)]
struct ErrorPayload {
    #[serde(default)]
    error: Option<Value>,
}

/// OpenAI chunks, with the provider's quirks applied to each.
#[derive(Debug)]
pub struct Chunks {
    client: HttpClient,
    quirks: Arc<dyn Quirks>,
}

impl Chunks {
    /// A mapper for one stream of `client`'s provider.
    pub(crate) fn new(client: HttpClient, quirks: Arc<dyn Quirks>) -> Self {
        Chunks { client, quirks }
    }

    fn error_in_stream(&self, data: &str) -> Option<ProviderError> {
        // Parsing every chunk into a `Value` first cost more than the chunk itself
        // (issue 7's profile): only a chunk that has an `"error"` string somewhere
        // (a key, or a value) can be an error object, and only it is looked at.
        if !may_hold_error(data) {
            return None;
        }
        let error = serde_json::from_str::<ErrorPayload>(data)
            .ok()?
            .error
            .filter(|error| !error.is_null())?;
        let message = error
            .get("message")
            .and_then(Value::as_str)
            .or_else(|| error.as_str())
            .unwrap_or("no message");
        Some(self.client.invalid_piece(
            format!("the provider reported an error mid-stream: {message}"),
            data,
        ))
    }
}

impl RecordMapper for Chunks {
    fn record(&mut self, data: &str) -> Result<Vec<ChatCompletionChunk>, ProviderError> {
        // An error object is looked for only where there can be one: a payload
        // that is no chunk, or a chunk with a top-level `error` key (kept in
        // `extra`). Every payload whose `error` `error_in_stream` reads is one
        // of these, so no chunk is searched for it.
        let mut chunk: ChatCompletionChunk = match serde_json::from_str(data) {
            Ok(chunk) => chunk,
            Err(e) => {
                return Err(self
                    .error_in_stream(data)
                    .unwrap_or_else(|| self.client.invalid_piece(e.to_string(), data)))
            }
        };
        if chunk.extra.contains_key("error") {
            if let Some(error) = self.error_in_stream(data) {
                return Err(error);
            }
        }
        self.quirks.adapt_chunk(&mut chunk);
        if let Some(usage) = chunk.usage.as_mut() {
            self.quirks.adapt_usage(usage);
        }
        Ok(vec![chunk])
    }

    fn done(&mut self) -> Result<Vec<ChatCompletionChunk>, ProviderError> {
        Ok(Vec::new())
    }

    fn finish(&mut self) -> Result<Vec<ChatCompletionChunk>, ProviderError> {
        Err(self
            .client
            .stream_cut("the stream ended before `data: [DONE]`"))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::time::Duration;

    use elelem_core::provider::ProviderSettings;

    use super::*;
    use crate::NoQuirks;

    fn chunks(key: Option<&str>) -> Chunks {
        let client = HttpClient::new(ProviderSettings {
            name: "openai".into(),
            base_url: "http://127.0.0.1:9/v1".into(),
            api_key: key.map(Into::into),
            api_key_env: None,
            timeout: Duration::from_secs(5),
            max_response_bytes: 1 << 20,
        })
        .unwrap();
        Chunks::new(client, Arc::new(NoQuirks))
    }

    #[test]
    fn only_payloads_with_an_error_string_are_parsed_for_one() {
        assert!(may_hold_error(r#"{"error":{"message":"overloaded"}}"#));
        assert!(may_hold_error(
            r#"{ "error" : { "message": "overloaded" } }"#
        ));
        assert!(!may_hold_error(
            r#"{"choices":[{"index":0,"delta":{"content":"an \"error\" here"}}]}"#
        ));
        // A value that is exactly "error" is looked at too (and found to be no error).
        assert!(may_hold_error(
            r#"{"choices":[{"index":0,"delta":{"content":"error"}}]}"#
        ));
        assert!(!may_hold_error(
            r#"{"choices":[{"index":0,"delta":{"content":"errors"}}]}"#
        ));
    }

    #[test]
    fn a_null_error_is_no_error_and_a_real_one_ends_the_stream() {
        let mut mapper = chunks(None);
        let out = mapper
            .record(r#"{"id":"c","error":null,"choices":[{"index":0,"delta":{"content":"Hi"}}]}"#)
            .unwrap();
        assert_eq!(out[0].choices[0].delta.content.as_deref(), Some("Hi"));
        let error = mapper
            .record(r#"{"error":{"message":"overloaded"}}"#)
            .unwrap_err();
        assert!(error.to_string().contains("overloaded"), "{error}");
    }

    #[test]
    fn an_error_is_found_whether_or_not_its_payload_decodes_as_a_chunk() {
        let mut mapper = chunks(None);
        // Not a chunk (`choices` is no list): still the provider's error.
        let error = mapper
            .record(r#"{"choices":7,"error":{"message":"overloaded"}}"#)
            .unwrap_err();
        assert!(error.to_string().contains("overloaded"), "{error}");
        let error = mapper.record(r#"{"error":"rate limited"}"#).unwrap_err();
        assert!(error.to_string().contains("rate limited"), "{error}");
        // "error" as text, or nested below the top level, is no error.
        for data in [
            r#"{"choices":[{"index":0,"delta":{"content":"error"}}]}"#,
            r#"{"choices":[{"index":0,"delta":{"content":"a","error":{"message":"x"}}}]}"#,
        ] {
            assert_eq!(mapper.record(data).unwrap().len(), 1, "{data}");
        }
        // A payload that is neither a chunk nor an error is an invalid piece.
        let error = mapper.record(r#"{"choices":7}"#).unwrap_err();
        assert!(
            matches!(error, ProviderError::InvalidBody { .. }),
            "{error}"
        );
    }

    #[test]
    fn raw_snippets_in_stream_errors_are_redacted() {
        let mut mapper = chunks(Some("sk-secret-key-1234"));
        let error = mapper
            .record(r#"{"error":{"message":"bad key sk-secret-key-1234"}}"#)
            .unwrap_err();
        assert!(!error.to_string().contains("sk-secret-key-1234"), "{error}");
        let error = mapper
            .record(r#"{"choices": "sk-secret-key-1234"}"#)
            .unwrap_err();
        assert!(!error.to_string().contains("sk-secret-key-1234"), "{error}");
        assert!(!format!("{error:?}").contains("sk-secret-key-1234"));
    }
}
