//! Streaming through the native providers over real HTTP: Anthropic's events,
//! Gemini's `streamGenerateContent?alt=sse` and Ollama's newline-delimited JSON
//! become OpenAI chunks; a collected stream equals the plain call (content,
//! reasoning, tool calls, exact cost), and a stream cut off before its end marker
//! is a typed error recorded as interrupted.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;
use std::time::Duration;

use elelem::retry::DefaultRetryPolicy;
use elelem::{ChatRequest, Elelem, ElelemError, FinishReason, Message};
use elelem_testkit::wire::{AnthropicMessage, GeminiResponse, OllamaChat};
use elelem_testkit::{ScriptedResponse, TestServer};
use futures_util::StreamExt;
use serde_json::json;

/// The first `len` bytes of `body`, to send as a complete (cleanly ended) answer.
fn prefix(body: &[u8], len: usize) -> Vec<u8> {
    body[..len].to_vec()
}

const ANTHROPIC: &str = "anthropic:claude-haiku-4-5";
const ANTHROPIC_UPSTREAM: &str = "claude-haiku-4-5-20251001";
const GEMINI: &str = "gemini:gemini-2.5-flash";
const GEMINI_UPSTREAM: &str = "gemini-2.5-flash";
const OLLAMA: &str = "ollama:llama3.2";

fn client(provider: &str, server: &TestServer) -> Elelem {
    let policy = Arc::new(
        DefaultRetryPolicy::default()
            .rate_limit_backoff(vec![Duration::from_millis(5)])
            .transient_backoff(vec![Duration::from_millis(5)]),
    );
    let builder = Elelem::builder().without_env_keys().retry_policy(policy);
    let builder = match provider {
        "anthropic" => builder
            .api_key("anthropic", "sk-ant-test-SECRET-123")
            .base_url("anthropic", server.url()),
        "gemini" => builder
            .api_key("gemini", "AIza-test-SECRET-123")
            .base_url("gemini", format!("{}/v1beta", server.root_url())),
        _ => builder.base_url("ollama", server.root_url()),
    };
    builder.build().unwrap()
}

fn request(model: &str) -> ChatRequest {
    ChatRequest::new(model, vec![Message::user("Tell me a short story")])
}

/// Streams `model`'s answer (already scripted) to its end and returns the error
/// it ended with, if any.
async fn drain(elelem: &Elelem, model: &str) -> (String, Option<ElelemError>) {
    let mut stream = elelem.stream_chat_completion(request(model)).await.unwrap();
    let mut text = String::new();
    while let Some(item) = stream.next().await {
        match item {
            Ok(chunk) => {
                for choice in &chunk.choices {
                    text.push_str(choice.delta.content.as_deref().unwrap_or_default());
                }
            }
            Err(error) => return (text, Some(error)),
        }
    }
    (text, None)
}

/// Plain call then streamed call of the same answer: both must agree.
async fn assert_stream_equals_plain(
    provider: &str,
    model: &str,
    plain: ScriptedResponse,
    streamed: ScriptedResponse,
) -> elelem::ChatCompletion {
    let server = TestServer::start().await.unwrap();
    server.push(plain);
    server.push(streamed);
    let elelem = client(provider, &server);
    let plain_call = elelem.create_chat_completion(request(model)).await.unwrap();
    let streamed = elelem
        .stream_chat_completion(request(model))
        .await
        .unwrap()
        .collect_completion()
        .await
        .unwrap();
    assert_eq!(streamed.content(), plain_call.content());
    assert_eq!(streamed.elelem.reasoning, plain_call.elelem.reasoning);
    assert_eq!(streamed.elelem.cost, plain_call.elelem.cost);
    assert_eq!(streamed.usage, plain_call.usage);
    assert_eq!(
        streamed.choices[0].finish_reason,
        plain_call.choices[0].finish_reason
    );
    let stats = elelem.get_stats();
    assert_eq!((stats.total_calls, stats.interrupted_streams), (2, 0));
    streamed
}

/// A stream cut off at `cut` bytes: once by a broken connection, once by a body
/// that ends cleanly without the end marker. Both are `ElelemError::Stream` and
/// one interrupted stream each.
async fn assert_cut_off_is_interrupted(provider: &str, model: &str, body: &[u8], cut: usize) {
    for answer in [
        ScriptedResponse::truncated_body(200, body.to_vec(), cut),
        ScriptedResponse::raw(200, "text/event-stream", prefix(body, cut)),
    ] {
        let server = TestServer::start().await.unwrap();
        server.push(answer);
        let elelem = client(provider, &server);
        let (text, error) = drain(&elelem, model).await;
        assert!(!text.is_empty(), "some text arrived before the cut");
        match error {
            Some(ElelemError::Stream { model: by, .. }) => assert_eq!(by, model),
            other => panic!("expected a stream error, got {other:?}"),
        }
        assert_eq!(elelem.get_stats().interrupted_streams, 1);
    }
}

fn cut_before(body: &[u8], marker: &str) -> usize {
    let text = String::from_utf8_lossy(body);
    text.find(marker).unwrap()
}

// ---- Anthropic ----

fn anthropic_answer() -> AnthropicMessage {
    AnthropicMessage::new(ANTHROPIC_UPSTREAM, "Once upon a time, a llama.")
        .usage(1_200, 300)
        .cache(2_000, 5_000)
}

#[tokio::test]
async fn anthropic_stream_collects_to_the_plain_answer_with_the_exact_cost() {
    let streamed = assert_stream_equals_plain(
        "anthropic",
        ANTHROPIC,
        anthropic_answer().into_response(),
        anthropic_answer().into_stream_response(),
    )
    .await;
    assert_eq!(streamed.content(), Some("Once upon a time, a llama."));
    let usage = streamed.usage.unwrap();
    assert_eq!(usage.prompt_tokens, Some(8_200));
    assert_eq!(usage.completion_tokens, Some(300));
    assert!(streamed.elelem.cost > elelem::Usd::ZERO);
}

#[tokio::test]
async fn anthropic_thinking_is_streamed_into_reasoning() {
    let answer = || anthropic_answer().thinking("The user wants a story.");
    let streamed = assert_stream_equals_plain(
        "anthropic",
        ANTHROPIC,
        answer().into_response(),
        answer().into_stream_response(),
    )
    .await;
    assert_eq!(
        streamed.elelem.reasoning.as_deref(),
        Some("The user wants a story.")
    );
}

#[tokio::test]
async fn anthropic_tool_use_is_streamed_into_tool_calls() {
    let server = TestServer::start().await.unwrap();
    let answer = AnthropicMessage::new(ANTHROPIC_UPSTREAM, "Let me check.")
        .tool_use("get_weather", json!({"city": "Paris", "unit": "celsius"}));
    server.push(answer.into_stream_response());
    let elelem = client("anthropic", &server);
    let completion = elelem
        .stream_chat_completion(request(ANTHROPIC))
        .await
        .unwrap()
        .collect_completion()
        .await
        .unwrap();
    let calls = &completion.choices[0].message.extra["tool_calls"];
    assert_eq!(calls[0]["type"], "function");
    assert_eq!(calls[0]["function"]["name"], "get_weather");
    let arguments: serde_json::Value =
        serde_json::from_str(calls[0]["function"]["arguments"].as_str().unwrap()).unwrap();
    assert_eq!(arguments, json!({"city": "Paris", "unit": "celsius"}));
    assert_eq!(calls.as_array().unwrap().len(), 1);
    assert!(calls[0]["id"].is_string());
    assert_eq!(
        completion.choices[0].finish_reason,
        Some(FinishReason::ToolCalls)
    );
}

#[tokio::test]
async fn anthropic_stream_cut_off_is_interrupted() {
    let body = anthropic_answer().to_stream_bytes();
    let cut = cut_before(&body, "event: message_stop");
    assert_cut_off_is_interrupted("anthropic", ANTHROPIC, &body, cut).await;
}

#[tokio::test]
async fn anthropic_overloaded_event_mid_stream_is_a_stream_error() {
    let server = TestServer::start().await.unwrap();
    let body = anthropic_answer().to_stream_bytes();
    let cut = cut_before(&body, "event: message_delta");
    let mut broken = prefix(&body, cut);
    broken.extend_from_slice(
        b"event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\",\"message\":\"Overloaded\"}}\n\n",
    );
    server.push(ScriptedResponse::raw(200, "text/event-stream", broken));
    let elelem = client("anthropic", &server);
    let (_, error) = drain(&elelem, ANTHROPIC).await;
    match error {
        Some(ElelemError::Stream { error, .. }) => {
            assert_eq!(
                error.kind(),
                Some(elelem::provider::ProviderErrorKind::Server)
            );
        }
        other => panic!("expected a stream error, got {other:?}"),
    }
    assert_eq!(elelem.get_stats().interrupted_streams, 1);
}

// ---- Gemini ----

fn gemini_answer() -> GeminiResponse {
    GeminiResponse::new(GEMINI_UPSTREAM, "Once upon a time, a llama.").usage(1_000, 100)
}

#[tokio::test]
async fn gemini_stream_collects_to_the_plain_answer_with_the_exact_cost() {
    let server_answer = gemini_answer();
    let streamed = assert_stream_equals_plain(
        "gemini",
        GEMINI,
        server_answer.clone().into_response(),
        server_answer.into_stream_response(),
    )
    .await;
    assert_eq!(streamed.content(), Some("Once upon a time, a llama."));
    assert_eq!(
        streamed.usage.as_ref().and_then(|u| u.completion_tokens),
        Some(100)
    );
    assert!(streamed.elelem.cost > elelem::Usd::ZERO);
}

#[tokio::test]
async fn gemini_streams_from_stream_generate_content_with_sse() {
    let server = TestServer::start().await.unwrap();
    server.push(gemini_answer().into_stream_response());
    let elelem = client("gemini", &server);
    let (text, error) = drain(&elelem, GEMINI).await;
    assert!(error.is_none(), "{error:?}");
    assert_eq!(text, "Once upon a time, a llama.");
    let last = server.last_request().unwrap();
    assert_eq!(
        last.path,
        "/v1beta/models/gemini-2.5-flash:streamGenerateContent"
    );
}

#[tokio::test]
async fn gemini_thoughts_are_streamed_into_reasoning() {
    let answer = || {
        gemini_answer()
            .thought_text("The user wants a story.")
            .thoughts(50)
    };
    let streamed = assert_stream_equals_plain(
        "gemini",
        GEMINI,
        answer().into_response(),
        answer().into_stream_response(),
    )
    .await;
    assert_eq!(
        streamed.elelem.reasoning.as_deref(),
        Some("The user wants a story.")
    );
    assert_eq!(
        streamed.usage.as_ref().and_then(|u| u.completion_tokens),
        Some(150)
    );
}

#[tokio::test]
async fn gemini_stream_cut_off_is_interrupted() {
    let body = gemini_answer().to_stream_bytes();
    let cut = String::from_utf8_lossy(&body).rfind("data: ").unwrap();
    assert_cut_off_is_interrupted("gemini", GEMINI, &body, cut).await;
}

// ---- Ollama ----

fn ollama_answer() -> OllamaChat {
    OllamaChat::new("llama3.2", "Once upon a time, a llama.").counts(26, 12)
}

#[tokio::test]
async fn ollama_stream_collects_to_the_plain_answer_with_the_same_cost() {
    let streamed = assert_stream_equals_plain(
        "ollama",
        OLLAMA,
        ollama_answer().into_response(),
        ollama_answer().into_stream_response(),
    )
    .await;
    assert_eq!(streamed.content(), Some("Once upon a time, a llama."));
    let usage = streamed.usage.unwrap();
    assert_eq!(
        (usage.prompt_tokens, usage.completion_tokens),
        (Some(26), Some(12))
    );
}

#[tokio::test]
async fn ollama_streams_with_stream_true_and_thinking_into_reasoning() {
    let answer = || ollama_answer().thinking("The user wants a story.");
    let server = TestServer::start().await.unwrap();
    server.push(answer().into_stream_response());
    let elelem = client("ollama", &server);
    let streamed = elelem
        .stream_chat_completion(request(OLLAMA))
        .await
        .unwrap()
        .collect_completion()
        .await
        .unwrap();
    assert_eq!(
        streamed.elelem.reasoning.as_deref(),
        Some("The user wants a story.")
    );
    assert_eq!(streamed.content(), Some("Once upon a time, a llama."));
    let body = server.last_request().unwrap().json().unwrap();
    assert_eq!(body["stream"], true);
}

#[tokio::test]
async fn ollama_stream_cut_off_is_interrupted() {
    let body = ollama_answer().to_stream_bytes();
    // Before the last record (the one with `done: true`).
    let cut = String::from_utf8_lossy(&body).rfind("{\"model\"").unwrap();
    assert_cut_off_is_interrupted("ollama", OLLAMA, &body, cut).await;
}
