//! Anthropic's native Messages API over real HTTP: the shared JSON scenarios, and
//! its own shapes: top-level system, required max_tokens, tool_use, extended
//! thinking exposed as reasoning, cache reads and writes billed at their own
//! prices, 529 overloaded and 429 with retry-after.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[macro_use]
mod scenarios;

use std::time::{Duration, Instant};

use elelem::provider::ProviderErrorKind;
use elelem::{
    function_tool, ChatRequest, Elelem, ElelemBuilder, ElelemError, FinishReason, Message,
    ResponseFormat,
};
use elelem_testkit::wire::{self, AnthropicMessage};
use elelem_testkit::{ScriptedResponse, TestServer};
use scenarios::{fast_policy, usd, Kit};
use serde_json::json;

const KEY: &str = "sk-ant-test-SECRET-123";
const MODEL: &str = "anthropic:claude-haiku-4-5";
const UPSTREAM: &str = "claude-haiku-4-5-20251001";

fn answer(text: &str, input: u64, output: u64) -> ScriptedResponse {
    AnthropicMessage::new(UPSTREAM, text)
        .usage(input, output)
        .into_response()
}

fn rate_limited() -> ScriptedResponse {
    wire::anthropic_rate_limited(None)
}

fn builder(server: &TestServer) -> ElelemBuilder {
    Elelem::builder()
        .without_env_keys()
        .api_key("anthropic", KEY)
        .base_url("anthropic", server.url())
}

fn client(server: &TestServer) -> Elelem {
    builder(server).retry_policy(fast_policy()).build().unwrap()
}

/// claude-haiku-4-5: 1200 x $1 + 300 x $5 per million.
const KIT: Kit = Kit {
    provider: "anthropic",
    model: MODEL,
    path: "/v1/messages",
    answer,
    rate_limited,
    server_error: wire::anthropic_overloaded,
    builder,
    answer_cost: Some("0.0027"),
};

json_scenarios!(KIT);

fn json_request(model: &str) -> ChatRequest {
    ChatRequest::new(
        model,
        vec![
            Message::system("You extract people."),
            Message::user("Alice is 30."),
        ],
    )
    .response_format(ResponseFormat::JsonObject)
    .temperature(0.7)
}

#[tokio::test]
async fn the_request_is_a_native_messages_request() {
    let server = TestServer::start().await.unwrap();
    server.push(answer(r#"{"name": "Alice"}"#, 10, 5));
    let elelem = client(&server);
    elelem
        .create_chat_completion(json_request(MODEL).extra("seed", 3))
        .await
        .unwrap();

    let request = server.last_request().unwrap();
    assert_eq!(request.path, "/v1/messages");
    assert_eq!(request.header("x-api-key"), Some(KEY));
    assert_eq!(request.header("anthropic-version"), Some("2023-06-01"));
    assert_eq!(request.header("authorization"), None);
    let body = request.json().unwrap();
    assert_eq!(body["model"], "claude-haiku-4-5");
    // max_tokens is required: the catalogue's default for the model.
    assert_eq!(body["max_tokens"], 8192);
    assert_eq!(body["temperature"], 0.7);
    // The system prompt, with Elelem's JSON instruction, is top-level.
    let system = body["system"].as_str().unwrap();
    assert!(system.starts_with("You extract people."), "{system}");
    assert!(system.contains("JSON"), "{system}");
    assert_eq!(
        body["messages"],
        json!([{"role": "user", "content": "Alice is 30."}])
    );
    // No OpenAI-only fields: JSON mode is by instructions.
    for field in ["response_format", "seed", "service_tier"] {
        assert!(body.get(field).is_none(), "{field} was sent: {body}");
    }

    // An explicit limit wins.
    server.push(answer("{}", 10, 5));
    elelem
        .create_chat_completion(json_request(MODEL).max_tokens(100))
        .await
        .unwrap();
    assert_eq!(
        server.last_request().unwrap().json().unwrap()["max_tokens"],
        100
    );
}

#[tokio::test]
async fn tool_use_blocks_become_tool_calls() {
    let server = TestServer::start().await.unwrap();
    server.push(
        AnthropicMessage::new(UPSTREAM, "Let me check.")
            .tool_use("get_weather", json!({"city": "Paris"}))
            .usage(50, 20),
    );
    let elelem = client(&server);
    let request = ChatRequest::new(MODEL, vec![Message::user("Weather in Paris?")])
        .extra(
            "tools",
            json!([function_tool(
                "get_weather",
                "Weather",
                json!({"type": "object", "properties": {"city": {"type": "string"}}})
            )]),
        )
        .extra("tool_choice", "auto");
    let response = elelem.create_chat_completion(request).await.unwrap();

    let choice = &response.choices[0];
    assert_eq!(choice.finish_reason, Some(FinishReason::ToolCalls));
    assert_eq!(choice.message.content.as_deref(), Some("Let me check."));
    let calls = &choice.message.extra["tool_calls"];
    assert!(calls[0]["id"].as_str().unwrap().starts_with("toolu_"));
    assert_eq!(calls[0]["type"], "function");
    assert_eq!(calls[0]["function"]["name"], "get_weather");
    let arguments: serde_json::Value =
        serde_json::from_str(calls[0]["function"]["arguments"].as_str().unwrap()).unwrap();
    assert_eq!(arguments, json!({"city": "Paris"}));

    let body = server.last_request().unwrap().json().unwrap();
    assert_eq!(
        body["tools"],
        json!([{"name": "get_weather", "description": "Weather",
            "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}}}])
    );
    assert_eq!(body["tool_choice"], json!({"type": "auto"}));

    // The tool call and its result go back as tool_use and tool_result blocks.
    let id = calls[0]["id"].as_str().unwrap().to_owned();
    let assistant: Message = serde_json::from_value(json!({
        "role": "assistant", "content": null, "tool_calls": calls
    }))
    .unwrap();
    server.push(answer("It is 18C in Paris.", 80, 10));
    elelem
        .create_chat_completion(ChatRequest::new(
            MODEL,
            vec![
                Message::user("Weather in Paris?"),
                assistant,
                Message::tool(&id, "18C"),
            ],
        ))
        .await
        .unwrap();
    let body = server.last_request().unwrap().json().unwrap();
    assert_eq!(
        body["messages"][1]["content"][0],
        json!({"type": "tool_use", "id": id, "name": "get_weather", "input": {"city": "Paris"}})
    );
    assert_eq!(
        body["messages"][2],
        json!({"role": "user", "content": [{"type": "tool_result", "tool_use_id": id, "content": "18C"}]})
    );
}

#[tokio::test]
async fn extended_thinking_is_requested_and_exposed_as_reasoning() {
    let server = TestServer::start().await.unwrap();
    server.push(
        AnthropicMessage::new(UPSTREAM, r#"{"name": "Alice", "age": 30}"#)
            .thinking("The user gave a name and an age.")
            .usage(100, 400),
    );
    let elelem = client(&server);
    let response = elelem
        .create_chat_completion(json_request(MODEL).extra(
            "thinking",
            json!({"type": "enabled", "budget_tokens": 2048}),
        ))
        .await
        .unwrap();
    assert_eq!(
        response.elelem.reasoning.as_deref(),
        Some("The user gave a name and an age.")
    );
    assert_eq!(
        response.elelem.json,
        Some(json!({"name": "Alice", "age": 30}))
    );
    let blocks = &response.choices[0].message.extra["thinking_blocks"];
    assert_eq!(blocks[0]["type"], "thinking");
    assert!(blocks[0]["signature"].as_str().is_some());
    // Thinking tokens are output tokens: 100 x $1 + 400 x $5.
    assert_eq!(response.elelem.cost, usd("0.0021"));

    let body = server.last_request().unwrap().json().unwrap();
    assert_eq!(
        body["thinking"],
        json!({"type": "enabled", "budget_tokens": 2048})
    );
    // Anthropic refuses temperature changes with thinking.
    assert!(body.get("temperature").is_none(), "{body}");
    assert!(body["max_tokens"].as_u64().unwrap() > 2048);
}

#[tokio::test]
async fn cache_reads_and_writes_are_billed_at_their_own_prices() {
    let server = TestServer::start().await.unwrap();
    server.push(
        AnthropicMessage::new("claude-sonnet-4-5-20250929", r#"{"ok": true}"#)
            .usage(100, 50)
            .cache(2_000, 5_000),
    );
    let elelem = client(&server);
    let response = elelem
        .create_chat_completion(json_request("anthropic:claude-sonnet-4-5").tags(["cache"]))
        .await
        .unwrap();

    let usage = response.usage.as_ref().unwrap();
    assert_eq!(usage.prompt_tokens, Some(7_100));
    assert_eq!(usage.completion_tokens, Some(50));
    assert_eq!(usage.total_tokens, Some(7_150));
    assert_eq!(usage.cached_tokens(), Some(5_000));
    assert_eq!(usage.cache_write_tokens(), Some(2_000));
    // 100 x $3 + 5000 read x $0.30 + 2000 written x $3.75 + 50 x $15, per million.
    assert_eq!(response.elelem.cost, usd("0.01005"));

    let stats = elelem.get_stats_by_tag("cache");
    assert_eq!(stats.total_input_tokens, 7_100);
    assert_eq!(stats.total_input_cost_usd, usd("0.0093"));
    assert_eq!(stats.total_output_cost_usd, usd("0.00075"));
    assert_eq!(stats.total_cost_usd, usd("0.01005"));
}

#[tokio::test]
async fn stop_reasons_become_openai_finish_reasons() {
    let server = TestServer::start().await.unwrap();
    server.push_many([
        AnthropicMessage::new(UPSTREAM, "A long sto")
            .stop_reason("max_tokens")
            .into_response(),
        AnthropicMessage::new(UPSTREAM, "")
            .stop_reason("refusal")
            .into_response(),
        AnthropicMessage::new(UPSTREAM, "Done")
            .stop_reason("stop_sequence")
            .into_response(),
    ]);
    let elelem = client(&server);
    for expected in [
        FinishReason::Length,
        FinishReason::ContentFilter,
        FinishReason::Stop,
    ] {
        let response = elelem
            .create_chat_completion(ChatRequest::new(MODEL, vec![Message::user("Tell me")]))
            .await
            .unwrap();
        assert_eq!(response.choices[0].finish_reason, Some(expected));
    }
}

#[tokio::test]
async fn overloaded_529_is_retried_like_a_5xx() {
    let server = TestServer::start().await.unwrap();
    server.push_many([
        wire::anthropic_overloaded(),
        wire::anthropic_overloaded(),
        answer(r#"{"ok": true}"#, 10, 5),
    ]);
    let elelem = client(&server);
    let response = elelem
        .create_chat_completion(json_request(MODEL))
        .await
        .unwrap();
    assert_eq!(response.elelem.attempts, 3);
    let stats = elelem.get_stats();
    assert_eq!(stats.retry_analytics.total_retries, 2);
    assert_eq!(stats.retry_analytics.rate_limit_retries, 0);

    // Beyond the transient budget, the call fails with the classified error.
    server.set_fallback(wire::anthropic_overloaded());
    let error = elelem
        .create_chat_completion(json_request(MODEL))
        .await
        .unwrap_err();
    match &error {
        ElelemError::Provider { error, .. } => {
            assert_eq!(error.kind(), Some(ProviderErrorKind::Server));
            assert!(error.to_string().contains("529"), "{error}");
            assert!(error.to_string().contains("Overloaded"), "{error}");
        }
        other => panic!("expected a provider error, got {other:?}"),
    }
}

#[tokio::test]
async fn a_rate_limit_waits_for_retry_after() {
    let server = TestServer::start().await.unwrap();
    server.push_many([
        wire::anthropic_rate_limited(Some("1")),
        answer(r#"{"ok": true}"#, 10, 5),
    ]);
    let elelem = client(&server);
    let started = Instant::now();
    elelem
        .create_chat_completion(json_request(MODEL))
        .await
        .unwrap();
    // The fast policy would wait 5 ms; Anthropic asked for a second.
    assert!(started.elapsed() >= Duration::from_secs(1));
    assert_eq!(elelem.get_stats().retry_analytics.rate_limit_retries, 1);
}

#[tokio::test]
async fn a_bad_key_is_not_retried_and_never_leaks() {
    let server = TestServer::start().await.unwrap();
    server.set_fallback(wire::anthropic_error(
        401,
        "authentication_error",
        "invalid x-api-key",
    ));
    let elelem = client(&server);
    let error = elelem
        .create_chat_completion(json_request(MODEL))
        .await
        .unwrap_err();
    assert_eq!(server.request_count(), 1);
    match &error {
        ElelemError::Provider { error, .. } => {
            assert_eq!(error.kind(), Some(ProviderErrorKind::Authentication));
        }
        other => panic!("expected a provider error, got {other:?}"),
    }
    assert!(!format!("{error:?} {error}").contains(KEY));
}
