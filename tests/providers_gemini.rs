//! Gemini's native generateContent API over real HTTP: the shared JSON scenarios,
//! and its own shapes: systemInstruction and contents, responseMimeType and
//! responseSchema for JSON mode, thinking tokens billed as output, cached tokens,
//! RetryInfo delays and finish reasons.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[macro_use]
mod scenarios;

use std::time::{Duration, Instant};

use elelem::{ChatRequest, Elelem, ElelemBuilder, FinishReason, Message, ResponseFormat};
use elelem_testkit::wire::{self, GeminiResponse};
use elelem_testkit::{ScriptedResponse, TestServer};
use scenarios::{fast_policy, usd, Kit};
use serde_json::json;

const KEY: &str = "AIza-test-SECRET-123";
const MODEL: &str = "gemini:gemini-2.5-flash";
const UPSTREAM: &str = "gemini-2.5-flash";

fn answer(text: &str, input: u64, output: u64) -> ScriptedResponse {
    GeminiResponse::new(UPSTREAM, text)
        .usage(input, output)
        .into_response()
}

fn rate_limited() -> ScriptedResponse {
    wire::gemini_rate_limited(None)
}

fn base_url(server: &TestServer) -> String {
    format!("{}/v1beta", server.root_url())
}

fn builder(server: &TestServer) -> ElelemBuilder {
    Elelem::builder()
        .without_env_keys()
        .api_key("gemini", KEY)
        .base_url("gemini", base_url(server))
}

fn client(server: &TestServer) -> Elelem {
    builder(server).retry_policy(fast_policy()).build().unwrap()
}

/// gemini-2.5-flash: 1200 x $0.30 + 300 x $2.50 per million.
const KIT: Kit = Kit {
    provider: "gemini",
    model: MODEL,
    path: "/v1beta/models/gemini-2.5-flash:generateContent",
    answer,
    rate_limited,
    server_error: wire::gemini_overloaded,
    builder,
    answer_cost: Some("0.00111"),
};

json_scenarios!(KIT);

fn person_schema() -> serde_json::Value {
    json!({
        "type": "object",
        "properties": {"name": {"type": "string"}, "age": {"type": "integer"}},
        "required": ["name", "age"]
    })
}

fn json_request() -> ChatRequest {
    ChatRequest::new(
        MODEL,
        vec![
            Message::system("You extract people."),
            Message::user("Alice is 30."),
        ],
    )
    .response_format(ResponseFormat::JsonObject)
    .temperature(0.5)
}

#[tokio::test]
async fn the_request_is_a_native_generate_content_request() {
    let server = TestServer::start().await.unwrap();
    server.push(answer(r#"{"name": "Alice", "age": 30}"#, 10, 5));
    let elelem = client(&server);
    elelem
        .create_chat_completion(json_request().max_tokens(200).extra("seed", 4))
        .await
        .unwrap();

    let request = server.last_request().unwrap();
    assert_eq!(
        request.path,
        "/v1beta/models/gemini-2.5-flash:generateContent"
    );
    assert_eq!(request.header("x-goog-api-key"), Some(KEY));
    assert_eq!(request.header("authorization"), None);
    let body = request.json().unwrap();
    let system = body["systemInstruction"]["parts"][0]["text"]
        .as_str()
        .unwrap();
    assert!(system.starts_with("You extract people."), "{system}");
    assert_eq!(
        body["contents"],
        json!([{"role": "user", "parts": [{"text": "Alice is 30."}]}])
    );
    assert_eq!(
        body["generationConfig"],
        json!({"temperature": 0.5, "maxOutputTokens": 200, "seed": 4,
            "responseMimeType": "application/json"})
    );
    assert!(body.get("model").is_none() && body.get("messages").is_none());
}

#[tokio::test]
async fn a_native_schema_is_sent_as_response_schema() {
    let server = TestServer::start().await.unwrap();
    server.push(answer(r#"{"name": "Alice", "age": 30}"#, 10, 5));
    let elelem = client(&server);
    let response = elelem
        .create_chat_completion(
            ChatRequest::new(MODEL, vec![Message::user("Alice is 30.")]).response_format(
                ResponseFormat::JsonSchema {
                    name: "person".into(),
                    schema: person_schema(),
                    strict: Some(true),
                },
            ),
        )
        .await
        .unwrap();
    assert_eq!(
        response.elelem.json,
        Some(json!({"name": "Alice", "age": 30}))
    );
    let config = &server.last_request().unwrap().json().unwrap()["generationConfig"];
    assert_eq!(config["responseMimeType"], "application/json");
    assert_eq!(config["responseSchema"], person_schema());
}

#[tokio::test]
async fn thinking_tokens_are_billed_as_output_and_thoughts_are_reasoning() {
    let server = TestServer::start().await.unwrap();
    server.push(
        GeminiResponse::new(UPSTREAM, r#"{"name": "Alice", "age": 30}"#)
            .usage(1_000, 50)
            .thoughts(200)
            .thought_text("Alice, thirty."),
    );
    let elelem = client(&server);
    let response = elelem
        .create_chat_completion(json_request().tags(["think"]))
        .await
        .unwrap();
    assert_eq!(response.elelem.reasoning.as_deref(), Some("Alice, thirty."));
    assert_eq!(response.content(), Some(r#"{"name": "Alice", "age": 30}"#));
    let usage = response.usage.as_ref().unwrap();
    assert_eq!(usage.prompt_tokens, Some(1_000));
    assert_eq!(usage.completion_tokens, Some(250));
    assert_eq!(usage.reasoning_tokens(), Some(200));
    assert_eq!(usage.total_tokens, Some(1_250));
    // 1000 x $0.30 + (50 + 200) x $2.50 per million.
    assert_eq!(response.elelem.cost, usd("0.000925"));

    let stats = elelem.get_stats_by_tag("think");
    assert_eq!(stats.total_output_tokens, 250);
    assert_eq!(stats.reasoning_tokens, 200);
    assert_eq!(stats.reasoning_cost_usd, usd("0.0005"));
    assert_eq!(stats.total_cost_usd, usd("0.000925"));
}

#[tokio::test]
async fn cached_content_tokens_are_billed_at_the_cached_price() {
    let server = TestServer::start().await.unwrap();
    server.push(
        GeminiResponse::new(UPSTREAM, r#"{"ok": true}"#)
            .usage(1_000, 50)
            .cached(600),
    );
    let elelem = client(&server);
    let response = elelem.create_chat_completion(json_request()).await.unwrap();
    assert_eq!(response.usage.as_ref().unwrap().cached_tokens(), Some(600));
    // 400 x $0.30 + 600 x $0.03 + 50 x $2.50 per million.
    assert_eq!(response.elelem.cost, usd("0.000263"));
}

#[tokio::test]
async fn resource_exhausted_waits_for_the_retry_info_delay() {
    let server = TestServer::start().await.unwrap();
    server.push_many([
        wire::gemini_rate_limited(Some("0.3s")),
        answer(r#"{"ok": true}"#, 10, 5),
    ]);
    let elelem = client(&server);
    let started = Instant::now();
    let response = elelem.create_chat_completion(json_request()).await.unwrap();
    // The fast policy would wait 5 ms; Gemini asked for 300 ms in the body.
    assert!(started.elapsed() >= Duration::from_millis(300));
    assert_eq!(response.elelem.attempts, 2);
    assert_eq!(elelem.get_stats().retry_analytics.rate_limit_retries, 1);
}

#[tokio::test]
async fn finish_reasons_and_function_calls_map_to_openai() {
    let server = TestServer::start().await.unwrap();
    server.push_many([
        GeminiResponse::new(UPSTREAM, "A long sto")
            .finish_reason("MAX_TOKENS")
            .into_response(),
        GeminiResponse::new(UPSTREAM, "")
            .finish_reason("SAFETY")
            .into_response(),
        GeminiResponse::new(UPSTREAM, "")
            .function_call("get_weather", json!({"city": "Paris"}))
            .into_response(),
    ]);
    let elelem = client(&server);
    let mut finishes = Vec::new();
    let mut last = None;
    for _ in 0..3 {
        let response = elelem
            .create_chat_completion(ChatRequest::new(MODEL, vec![Message::user("Go")]))
            .await
            .unwrap();
        finishes.push(response.choices[0].finish_reason.clone());
        last = Some(response);
    }
    assert_eq!(
        finishes,
        [
            Some(FinishReason::Length),
            Some(FinishReason::ContentFilter),
            Some(FinishReason::ToolCalls)
        ]
    );
    let call = &last.unwrap().choices[0].message.extra["tool_calls"][0];
    assert_eq!(call["function"]["name"], "get_weather");
    assert_eq!(call["function"]["arguments"], r#"{"city":"Paris"}"#);
}
