//! Raw body snippets in errors never carry the key, plain or streamed (issue 12 #7).

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::time::Duration;

use elelem_core::provider::{Provider, ProviderError, ProviderSettings, WireRequest};
use elelem_testkit::{ScriptedResponse, TestServer};
use futures_util::StreamExt;

const KEY: &str = "sk-echoed-secret-0042";

fn provider(server: &TestServer) -> impl Provider {
    let gemini = elelem_gemini::Gemini::new(ProviderSettings {
        name: "gemini".into(),
        base_url: server.url(),
        api_key: Some(KEY.into()),
        api_key_env: None,
        timeout: Duration::from_secs(10),
        max_response_bytes: 1 << 20,
    })
    .unwrap();
    elelem_transport::Mapped::new(gemini)
}

fn request() -> WireRequest {
    let body = serde_json::json!({"model": "gemini-2.5-flash", "messages": [{"role": "user", "content": "Hi"}]});
    WireRequest::new(body.as_object().cloned().unwrap())
}

fn assert_redacted(error: &ProviderError) {
    assert!(!error.to_string().contains(KEY), "{error}");
    assert!(!format!("{error:?}").contains(KEY), "{error:?}");
}

#[tokio::test]
async fn a_plain_answer_echoing_the_key_in_a_wrong_shape_is_redacted() {
    let server = TestServer::start().await.unwrap();
    server.push(ScriptedResponse::raw(
        200,
        "application/json",
        format!("<html>bad gateway {KEY}</html>"),
    ));
    let error = provider(&server)
        .chat_completion(request())
        .await
        .unwrap_err();
    assert!(
        matches!(error, ProviderError::InvalidBody { .. }),
        "{error:?}"
    );
    assert_redacted(&error);
}

#[tokio::test]
async fn a_stream_record_echoing_the_key_is_redacted() {
    let server = TestServer::start().await.unwrap();
    server.push(ScriptedResponse::raw(
        200,
        "text/event-stream",
        format!("data: {{\"candidates\": \"{KEY}\n\n"),
    ));
    let mut stream = provider(&server)
        .chat_completion_stream(request())
        .await
        .unwrap();
    let mut error = None;
    while let Some(item) = stream.chunks.next().await {
        if let Err(e) = item {
            error = Some(e);
            break;
        }
    }
    let error = error.expect("the broken record is an error");
    assert_redacted(&error);
}
