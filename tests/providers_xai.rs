//! xAI (Grok) over real HTTP: the shared JSON scenarios, and its usage quirks:
//! reasoning tokens reported outside `completion_tokens` are billed as output,
//! and `usage.cost_in_usd_ticks` is recorded as the cost when present.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[macro_use]
mod scenarios;

use elelem::{ChatRequest, Elelem, ElelemBuilder, Message, ResponseFormat};
use elelem_testkit::wire::{self, Completion};
use elelem_testkit::{ScriptedResponse, TestServer};
use scenarios::{fast_policy, usd, Kit};
use serde_json::{json, Value};

const KEY: &str = "xai-test-SECRET-123";
const MODEL: &str = "xai:grok-4-1-fast-non-reasoning";

fn answer(text: &str, input: u64, output: u64) -> ScriptedResponse {
    Completion::new("grok-4-1-fast-non-reasoning", text)
        .usage(input, output)
        .into_response()
}

fn rate_limited() -> ScriptedResponse {
    wire::rate_limited(None)
}

fn server_error() -> ScriptedResponse {
    wire::server_error(503)
}

fn builder(server: &TestServer) -> ElelemBuilder {
    Elelem::builder()
        .without_env_keys()
        .api_key("xai", KEY)
        .base_url("xai", server.url())
}

fn client(server: &TestServer) -> Elelem {
    builder(server).retry_policy(fast_policy()).build().unwrap()
}

/// grok-4-1-fast: 1200 x $0.20 + 300 x $0.50 per million.
const KIT: Kit = Kit {
    provider: "xai",
    model: MODEL,
    path: "/v1/chat/completions",
    answer,
    rate_limited,
    server_error,
    builder,
    answer_cost: Some("0.00039"),
};

json_scenarios!(KIT);

/// An xAI answer: `completion_tokens` without the reasoning, `total_tokens` with
/// it, `num_sources_used`, and optionally the cost in ticks.
fn xai_answer(
    model: &str,
    content: &str,
    (prompt, completion, reasoning): (u64, u64, u64),
    ticks: Option<u64>,
) -> ScriptedResponse {
    let mut body = Completion::new(model, content)
        .usage(prompt, completion)
        .reasoning(reasoning)
        .message_field("reasoning_content", json!("Thinking it over."))
        .to_json();
    let usage = body["usage"].as_object_mut().unwrap();
    usage.insert(
        "total_tokens".into(),
        json!(prompt + completion + reasoning),
    );
    usage.insert("num_sources_used".into(), json!(0));
    if let Some(ticks) = ticks {
        usage.insert("cost_in_usd_ticks".into(), json!(ticks));
    }
    ScriptedResponse::json(200, body)
}

fn json_request(model: &str) -> ChatRequest {
    ChatRequest::new(model, vec![Message::user("Alice is 30.")])
        .response_format(ResponseFormat::JsonObject)
}

#[tokio::test]
async fn reasoning_tokens_left_out_of_completion_tokens_are_billed() {
    let server = TestServer::start().await.unwrap();
    server.push(xai_answer(
        "grok-3-mini",
        r#"{"ok": true}"#,
        (1_000, 100, 400),
        None,
    ));
    let elelem = client(&server);
    let response = elelem
        .create_chat_completion(json_request("xai:grok-3-mini").tags(["grok"]))
        .await
        .unwrap();
    let usage = response.usage.as_ref().unwrap();
    assert_eq!(usage.completion_tokens, Some(500));
    assert_eq!(usage.reasoning_tokens(), Some(400));
    assert_eq!(usage.total_tokens, Some(1_500));
    assert_eq!(usage.extra["num_sources_used"], 0);
    assert_eq!(
        response.elelem.reasoning.as_deref(),
        Some("Thinking it over.")
    );
    // 1000 x $0.30 + (100 + 400) x $0.50 per million.
    assert_eq!(response.elelem.cost, usd("0.00055"));
    let stats = elelem.get_stats_by_tag("grok");
    assert_eq!(stats.total_output_tokens, 500);
    assert_eq!(stats.reasoning_tokens, 400);
    assert_eq!(stats.reasoning_cost_usd, usd("0.0002"));

    let request = server.last_request().unwrap();
    assert_eq!(request.path, "/v1/chat/completions");
    assert_eq!(
        request.header("authorization"),
        Some(format!("Bearer {KEY}").as_str())
    );
}

#[tokio::test]
async fn the_cost_in_ticks_is_recorded_even_without_a_table_price() {
    let server = TestServer::start().await.unwrap();
    server.push(xai_answer(
        "grok-4.20-0309-reasoning",
        r#"{"ok": true}"#,
        (10_120, 1_499, 2_809),
        Some(232_856_000),
    ));
    let elelem = client(&server);
    let model = "xai:grok-4.20-0309-reasoning";
    assert!(elelem.catalogue().model(model).unwrap().prices.is_none());
    let response = elelem
        .create_chat_completion(json_request(model))
        .await
        .unwrap();
    assert_eq!(response.elelem.cost, usd("0.0232856"));
    let stats = elelem.get_stats();
    assert_eq!(stats.unpriced_calls, 0);
    assert_eq!(stats.total_output_tokens, 4_308);
    let body: Value = server.last_request().unwrap().json().unwrap();
    assert_eq!(body["model"], "grok-4.20-0309-reasoning");
}
