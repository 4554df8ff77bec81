//! The OpenAI Responses API over HTTP (`POST {base}/responses`), plain and
//! streamed, for every provider that speaks it: the body, the reply decoding
//! and the typed event records of the stream (its end checked: a stream cut
//! before the response ended is an error, not a silent end).

use std::sync::Arc;

use elelem_core::provider::{
    responses_body, ProviderError, ResponseEventStream, ResponseReply, WireRequest,
};
use elelem_core::{Response, ResponseEvent, ResponseUsage};

use crate::{decode_records, HttpClient, Records, SseFraming};

/// Adapts a provider's Responses usage to OpenAI's convention (xAI's
/// reasoning tokens), on plain and streamed responses alike.
pub type UsageAdapter = Arc<dyn Fn(&mut ResponseUsage) + Send + Sync>;

/// The usage of a final response, adapted.
fn adapt(response: &mut Response, adapter: Option<&UsageAdapter>) {
    if let (Some(adapter), Some(usage)) = (adapter, response.usage.as_mut()) {
        adapter(usage);
    }
}

/// `POST`s one Responses request to `url` and decodes the response.
///
/// ```no_run
/// # async fn demo(client: elelem_transport::HttpClient) -> Result<(), elelem_core::provider::ProviderError> {
/// let mut request = elelem_core::provider::WireRequest::default();
/// request.model = "gpt-4.1-mini".into();
/// request.set("input", serde_json::json!("Hi"));
/// let url = format!("{}/responses", client.base_url());
/// let reply = elelem_transport::send_response(&client, &url, &request, None).await?;
/// println!("{}", reply.response.output_text());
/// # Ok(()) }
/// ```
pub async fn send_response(
    client: &HttpClient,
    url: &str,
    request: &WireRequest,
    adapter: Option<&UsageAdapter>,
) -> Result<ResponseReply, ProviderError> {
    let reply = client.post_json(url, &responses_body(request)).await?;
    let mut response: Response = client.decode(&reply)?;
    adapt(&mut response, adapter);
    let mut answer = ResponseReply::new(response);
    answer.headers = reply.headers;
    Ok(answer)
}

/// `POST`s one streamed Responses request to `url` (`stream: true` added) and
/// decodes its events lazily.
///
/// ```no_run
/// # async fn demo(client: elelem_transport::HttpClient, request: elelem_core::provider::WireRequest) -> Result<(), elelem_core::provider::ProviderError> {
/// let url = format!("{}/responses", client.base_url());
/// let stream = elelem_transport::open_response_stream(&client, &url, &request, None).await?;
/// # let _ = stream; Ok(()) }
/// ```
pub async fn open_response_stream(
    client: &HttpClient,
    url: &str,
    request: &WireRequest,
    adapter: Option<UsageAdapter>,
) -> Result<ResponseEventStream, ProviderError> {
    let mut body = responses_body(request);
    body.insert("stream".into(), serde_json::Value::Bool(true));
    let opened = client.post_json_stream(url, &body).await?;
    let framing = SseFraming::with_limit(client.settings().max_response_bytes);
    let records = ResponseRecords {
        client: client.clone(),
        adapter,
        ended: false,
    };
    let decoded = decode_records(opened, framing, records);
    Ok(ResponseEventStream {
        events: decoded.items,
        headers: decoded.headers,
        alive: decoded.alive,
    })
}

/// The events of a streamed response, one per SSE event.
struct ResponseRecords {
    client: HttpClient,
    adapter: Option<UsageAdapter>,
    /// Whether the event ending the response came.
    ended: bool,
}

impl Records for ResponseRecords {
    type Item = ResponseEvent;

    fn record(&mut self, record: &str) -> Result<Vec<ResponseEvent>, ProviderError> {
        let mut event = ResponseEvent::parse(record)
            .map_err(|e| self.client.invalid_piece(e.to_string(), record))?;
        match &mut event {
            ResponseEvent::Completed { response }
            | ResponseEvent::Incomplete { response }
            | ResponseEvent::Failed { response } => adapt(response, self.adapter.as_ref()),
            _ => {}
        }
        self.ended |= event.is_terminal();
        Ok(vec![event])
    }

    fn done(&mut self) -> Result<Vec<ResponseEvent>, ProviderError> {
        self.finish()
    }

    fn finish(&mut self) -> Result<Vec<ResponseEvent>, ProviderError> {
        if self.ended {
            return Ok(Vec::new());
        }
        Err(self
            .client
            .stream_cut("the stream ended before the response did (no response.completed)"))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::time::Duration;

    use elelem_core::provider::ProviderSettings;

    use super::*;

    fn records(adapter: Option<UsageAdapter>) -> ResponseRecords {
        let client = HttpClient::new(ProviderSettings {
            name: "openai".into(),
            base_url: "http://127.0.0.1:9/v1".into(),
            api_key: Some("sk-secret-key-1234".into()),
            api_key_env: None,
            timeout: Duration::from_secs(5),
            max_response_bytes: 1 << 20,
        })
        .unwrap();
        ResponseRecords {
            client,
            adapter,
            ended: false,
        }
    }

    #[test]
    fn a_stream_cut_before_its_final_event_is_an_error() {
        let mut events = records(None);
        events
            .record(r#"{"type":"response.output_text.delta","delta":"Hi"}"#)
            .unwrap();
        assert!(events.finish().is_err());
        events
            .record(r#"{"type":"response.completed","response":{"id":"r"}}"#)
            .unwrap();
        assert!(events.finish().unwrap().is_empty());
    }

    #[test]
    fn the_final_usage_is_adapted_and_bad_data_is_redacted() {
        let adapter: UsageAdapter = Arc::new(|usage: &mut ResponseUsage| {
            usage.output_tokens = usage.output_tokens.map(|n| n + 1);
        });
        let mut events = records(Some(adapter));
        let out = events
            .record(r#"{"type":"response.completed","response":{"usage":{"output_tokens":4}}}"#)
            .unwrap();
        let usage = out[0].final_response().unwrap().usage.clone().unwrap();
        assert_eq!(usage.output_tokens, Some(5));
        let error = events.record("not json sk-secret-key-1234").unwrap_err();
        assert!(!error.to_string().contains("sk-secret-key-1234"), "{error}");
    }
}
