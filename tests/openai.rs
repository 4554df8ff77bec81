//! OpenAI over real HTTP: exact costs with cached and reasoning tokens, what goes on
//! the wire (auth, path, JSON mode, reasoning-model parameters), non-retryable
//! failures, and the response's OpenAI JSON shape.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::*;
use elelem::provider::{ProviderError, ProviderErrorKind};
use elelem::{ElelemError, Message};
use elelem_testkit::wire::{self, Completion};
use elelem_testkit::TestServer;
use serde_json::json;

#[tokio::test]
async fn gpt_4_1_mini_json_call_costs_exactly_and_sends_the_right_request() {
    let server = TestServer::start().await.unwrap();
    server.push(
        Completion::new("gpt-4.1-mini-2025-04-14", r#"{"name": "Alice", "age": 30}"#)
            .usage(2_000, 300)
            .cached(1_500)
            .reasoning(100),
    );
    let elelem = client("openai", &server);

    let response = elelem
        .create_chat_completion(json_request("openai:gpt-4.1-mini").temperature(0.7))
        .await
        .unwrap();

    // models/openai.toml: input 0.40, cached 0.10, output 1.60 USD per 1M tokens.
    // 500 uncached x 0.40 + 1500 cached x 0.10 + 300 output x 1.60 = 830 micro-dollars.
    let prices = elelem
        .catalogue()
        .model("openai:gpt-4.1-mini")
        .unwrap()
        .prices
        .unwrap();
    assert_eq!(prices.input.to_string(), "0.4");
    assert_eq!(prices.cached_input.to_string(), "0.1");
    assert_eq!(prices.output.to_string(), "1.6");
    assert_eq!(response.elelem.cost, usd("0.00083"));
    assert_eq!(
        response.elelem.cost,
        prices.input.cost_of(500) + prices.cached_input.cost_of(1_500) + prices.output.cost_of(300)
    );
    assert_eq!(response.elelem.attempts, 1);
    assert_eq!(response.elelem.requested_model, "openai:gpt-4.1-mini");
    assert_eq!(response.elelem.answered_by, "openai:gpt-4.1-mini");
    assert_eq!(
        response.elelem.json,
        Some(json!({"name": "Alice", "age": 30}))
    );

    let stats = elelem.get_stats();
    assert_eq!(stats.total_calls, 1);
    assert_eq!(stats.total_input_tokens, 2_000);
    assert_eq!(stats.total_output_tokens, 300);
    assert_eq!(stats.total_tokens, 2_300);
    assert_eq!(stats.total_input_cost_usd, usd("0.00035"));
    assert_eq!(stats.total_output_cost_usd, usd("0.00048"));
    assert_eq!(stats.total_cost_usd, usd("0.00083"));
    assert_eq!(stats.reasoning_tokens, 100);
    assert_eq!(stats.reasoning_cost_usd, usd("0.00016"));

    let request = server.last_request().unwrap();
    assert_eq!(request.method, "POST");
    assert_eq!(request.path, "/v1/chat/completions");
    assert_eq!(
        request.header("authorization"),
        Some(format!("Bearer {OPENAI_KEY}").as_str())
    );
    assert_eq!(request.header("content-type"), Some("application/json"));
    let body = body_of(&request);
    assert_eq!(body["model"], "gpt-4.1-mini");
    assert_eq!(body["response_format"], json!({"type": "json_object"}));
    assert_eq!(body["temperature"], json!(0.7));
    let messages = body["messages"].as_array().unwrap();
    assert_eq!(messages.len(), 2);
    assert_eq!(messages[0]["role"], "system");
    let system = messages[0]["content"].as_str().unwrap();
    assert!(system.starts_with(SYSTEM_PROMPT), "{system}");
    assert!(
        system.contains("Respond with only a valid JSON object"),
        "{system}"
    );
    assert_eq!(messages[1], json!({"role": "user", "content": USER_PROMPT}));
}

#[tokio::test]
async fn gpt_5_gets_no_temperature_and_max_completion_tokens() {
    let server = TestServer::start().await.unwrap();
    server.push(
        Completion::new("gpt-5-2025-08-07", r#"{"ok": true}"#)
            .usage(100, 900)
            .reasoning(850),
    );
    let elelem = client("openai", &server);

    let response = elelem
        .create_chat_completion(
            json_request("openai:gpt-5")
                .temperature(0.2)
                .max_tokens(1_000),
        )
        .await
        .unwrap();
    assert_eq!(response.elelem.json, Some(json!({"ok": true})));
    // 100 x 1.25 + 900 x 10.00 = 9125 micro-dollars.
    assert_eq!(response.elelem.cost, usd("0.009125"));

    let body = body_of(&server.last_request().unwrap());
    assert_eq!(body["model"], "gpt-5");
    assert!(body.get("temperature").is_none(), "{body}");
    assert!(body.get("max_tokens").is_none(), "{body}");
    assert_eq!(body["max_completion_tokens"], 1_000);
    assert_eq!(body["response_format"], json!({"type": "json_object"}));

    // gpt-4.1 keeps both, under the classic name.
    server.push(Completion::new("gpt-4.1", r#"{"ok": true}"#));
    elelem
        .create_chat_completion(
            json_request("openai:gpt-4.1")
                .temperature(0.2)
                .max_tokens(1_000),
        )
        .await
        .unwrap();
    let body = body_of(&server.last_request().unwrap());
    assert_eq!(body["temperature"], json!(0.2));
    assert_eq!(body["max_tokens"], 1_000);
    assert!(body.get("max_completion_tokens").is_none(), "{body}");
}

#[tokio::test]
async fn insufficient_quota_is_never_retried() {
    let server = TestServer::start().await.unwrap();
    server.push(wire::insufficient_quota());
    server.set_fallback(Completion::new("gpt-4.1-mini", r#"{"late": true}"#));
    let elelem = client("openai", &server);

    let error = elelem
        .create_chat_completion(json_request("openai:gpt-4.1-mini"))
        .await
        .unwrap_err();
    assert_eq!(server.request_count(), 1);
    assert!(!error.is_retryable());
    match &error {
        ElelemError::Provider {
            model,
            error: ProviderError::Http(http),
            attempts,
        } => {
            assert_eq!(model, "openai:gpt-4.1-mini");
            assert_eq!(http.status, 429);
            assert_eq!(http.kind, ProviderErrorKind::QuotaExhausted);
            assert_eq!(http.code.as_deref(), Some("insufficient_quota"));
            assert_eq!(attempts.len(), 1);
        }
        other => panic!("expected a provider error, got {other:?}"),
    }
    let text = error.to_string();
    assert!(text.contains("quota"), "{text}");
    assert!(text.contains("retrying will not help"), "{text}");

    let stats = elelem.get_stats();
    assert_eq!(stats.total_calls, 1);
    assert_eq!(stats.retry_analytics.final_failures, 1);
    assert_eq!(stats.retry_analytics.rate_limit_retries, 0);
    assert_eq!(stats.retry_analytics.total_retries, 0);
}

#[tokio::test]
async fn an_invalid_key_fails_at_once_and_says_to_check_the_key() {
    let server = TestServer::start().await.unwrap();
    server.push(wire::invalid_api_key());
    server.set_fallback(Completion::new("gpt-4.1-mini", "late"));
    let elelem = client("openai", &server);

    let error = elelem
        .create_chat_completion(text_request("openai:gpt-4.1-mini"))
        .await
        .unwrap_err();
    assert_eq!(server.request_count(), 1);
    assert!(!error.is_retryable());
    let ElelemError::Provider {
        error: ProviderError::Http(http),
        attempts,
        ..
    } = &error
    else {
        panic!("expected an HTTP provider error, got {error:?}");
    };
    assert_eq!(http.status, 401);
    assert_eq!(http.kind, ProviderErrorKind::Authentication);
    assert_eq!(http.code.as_deref(), Some("invalid_api_key"));
    assert_eq!(attempts.len(), 1);
    let text = error.to_string();
    assert!(text.contains("HTTP 401"), "{text}");
    assert!(text.contains("check the provider's API key"), "{text}");
}

#[tokio::test]
async fn the_response_serializes_as_an_openai_chat_completion() {
    let server = TestServer::start().await.unwrap();
    server.push(
        Completion::new(
            "gpt-4.1-mini-2025-04-14",
            "```json\n{\"city\": \"Paris\"}\n```",
        )
        .id("chatcmpl-roundtrip")
        .created(1_741_569_952)
        .usage(40, 12)
        .cached(32)
        .reasoning(3),
    );
    let elelem = client("openai", &server);
    let response = elelem
        .create_chat_completion(json_request("openai:gpt-4.1-mini"))
        .await
        .unwrap();
    assert_eq!(response.content(), Some("{\"city\": \"Paris\"}"));

    let value = serde_json::to_value(&response).unwrap();
    assert_eq!(value["id"], "chatcmpl-roundtrip");
    assert_eq!(value["object"], "chat.completion");
    assert_eq!(value["created"], 1_741_569_952);
    assert_eq!(value["model"], "gpt-4.1-mini-2025-04-14");
    let choice = &value["choices"][0];
    assert_eq!(choice["index"], 0);
    assert_eq!(choice["finish_reason"], "stop");
    assert_eq!(choice["message"]["role"], "assistant");
    // The content is the cleaned JSON text, as callers get it.
    assert_eq!(choice["message"]["content"], "{\"city\": \"Paris\"}");
    assert_eq!(value["usage"]["prompt_tokens"], 40);
    assert_eq!(value["usage"]["completion_tokens"], 12);
    assert_eq!(value["usage"]["total_tokens"], 52);
    assert_eq!(value["usage"]["prompt_tokens_details"]["cached_tokens"], 32);
    assert_eq!(
        value["usage"]["completion_tokens_details"]["reasoning_tokens"],
        3
    );
    assert_eq!(value["service_tier"], "default");
    assert_eq!(value["system_fingerprint"], "fp_testkit");

    // Nothing of Elelem's own bookkeeping leaks into the OpenAI JSON.
    let top: Vec<&str> = value
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        top,
        [
            "id",
            "object",
            "created",
            "model",
            "choices",
            "usage",
            "system_fingerprint",
            "service_tier"
        ]
    );
    let text = value.to_string();
    for elelem_only in [
        "elelem",
        "requested_model",
        "answered_by",
        "attempts",
        "\"cost\"",
        "\"json\"",
        "\"reasoning\"",
    ] {
        assert!(!text.contains(elelem_only), "{elelem_only} in {text}");
    }

    // And it reads back as the same completion (minus Elelem's facts).
    let back: elelem::ChatCompletion = serde_json::from_value(value.clone()).unwrap();
    assert_eq!(serde_json::to_value(&back).unwrap(), value);
    assert_eq!(back.elelem, elelem::ElelemMeta::default());
}

#[tokio::test]
async fn a_user_message_only_request_gets_a_system_instruction_first() {
    let server = TestServer::start().await.unwrap();
    server.push(wire::completion("gpt-4.1-mini", r#"{"a": 1}"#));
    let elelem = client("openai", &server);
    let request = elelem::ChatRequest::new("openai:gpt-4.1-mini", vec![Message::user("hi")])
        .json_schema(json!({"type": "object", "required": ["a"]}));
    let response = elelem.create_chat_completion(request).await.unwrap();
    assert_eq!(response.elelem.json, Some(json!({"a": 1})));

    let body = body_of(&server.last_request().unwrap());
    let messages = body["messages"].as_array().unwrap();
    assert_eq!(messages.len(), 2);
    assert_eq!(messages[0]["role"], "system");
    let instruction = messages[0]["content"].as_str().unwrap();
    assert!(
        instruction.contains("The JSON must conform to this JSON schema"),
        "{instruction}"
    );
    assert!(instruction.contains("\"required\""), "{instruction}");
    assert_eq!(messages[1], json!({"role": "user", "content": "hi"}));
    // A schema given only for validation still asks for JSON mode on the wire.
    assert_eq!(body["response_format"], json!({"type": "json_object"}));
    assert!(body.get("stream").is_none());
}

/// gpt-4.1-mini is not a reasoning model (`reasoning = false` in models/openai.toml):
/// its answers hold no think blocks, so text that merely mentions a think tag must
/// reach the caller untouched, and valid JSON must be accepted at once.
#[tokio::test]
async fn think_tag_text_from_a_non_reasoning_model_is_kept_verbatim() {
    let server = TestServer::start().await.unwrap();
    let answer = r#"{"closing_tag": "</think>", "opening_tag": "<think>"}"#;
    server.push(wire::completion("gpt-4.1-mini", answer));
    server.set_fallback(wire::completion("gpt-4.1-mini", r#"{"other": true}"#));
    let elelem = client("openai", &server);
    assert!(
        !elelem
            .catalogue()
            .model("openai:gpt-4.1-mini")
            .unwrap()
            .capabilities
            .reasoning
    );

    let response = elelem
        .create_chat_completion(json_request("openai:gpt-4.1-mini"))
        .await
        .unwrap();
    assert_eq!(
        response.elelem.json,
        Some(json!({"closing_tag": "</think>", "opening_tag": "<think>"}))
    );
    assert_eq!(response.elelem.attempts, 1);
    assert_eq!(response.content(), Some(answer));
    assert_eq!(response.elelem.reasoning, None);

    server.push(wire::completion(
        "gpt-4.1-mini",
        "Wrap the chain of thought in <think> and </think> tags.",
    ));
    let response = elelem
        .create_chat_completion(text_request("openai:gpt-4.1-mini"))
        .await
        .unwrap();
    assert_eq!(
        response.content(),
        Some("Wrap the chain of thought in <think> and </think> tags.")
    );
    assert_eq!(response.elelem.reasoning, None);
}
