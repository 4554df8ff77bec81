//! A streamed request is chosen by the URL alone: Gemini refuses unknown body
//! fields, `stream` included.

#![allow(clippy::unwrap_used, missing_docs)]

use std::time::Duration;

use elelem_core::provider::{Provider, ProviderSettings, WireRequest};
use elelem_core::Message;
use elelem_testkit::{ScriptedResponse, TestServer};
use futures_util::StreamExt;

#[tokio::test]
async fn the_stream_body_has_no_stream_field_and_the_url_says_sse() {
    let server = TestServer::start().await.unwrap();
    server.push(ScriptedResponse::raw(
        200,
        "text/event-stream",
        "data: {\"candidates\": [{\"content\": {\"parts\": [{\"text\": \"Hi\"}], \"role\": \"model\"}, \"finishReason\": \"STOP\"}]}\n\n",
    ));
    let gemini = elelem_gemini::Gemini::new(ProviderSettings {
        name: "gemini".into(),
        base_url: server.url(),
        api_key: Some("AIza-test-key".into()),
        api_key_env: None,
        timeout: Duration::from_secs(10),
        max_response_bytes: 1 << 20,
    })
    .unwrap();
    let provider = elelem_transport::Mapped::new(gemini);
    let mut request = WireRequest::chat("gemini-2.5-flash", vec![Message::user("Hi")]);
    request.stream = Some(true);
    request.stream_options = Some(serde_json::json!({"include_usage": true}));
    let mut stream = provider.chat_completion_stream(request).await.unwrap();
    let mut content = String::new();
    while let Some(chunk) = stream.chunks.next().await {
        let chunk = chunk.unwrap();
        for choice in &chunk.choices {
            content.push_str(choice.delta.content.as_deref().unwrap_or_default());
        }
    }
    assert_eq!(content, "Hi");
    let sent = server.last_request().unwrap();
    assert!(
        sent.path.ends_with(":streamGenerateContent"),
        "{}",
        sent.path
    );
    let body = sent.json().unwrap();
    assert!(body.get("stream").is_none(), "{body}");
    assert!(body.get("stream_options").is_none(), "{body}");
}
