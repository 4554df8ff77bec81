//! Model variants in ids: `openai:o3-mini?reasoning=high` sends a reasoning
//! effort (a thinking budget to Anthropic, a `thinkingBudget` to Gemini) without
//! a catalogue entry of its own; a variant a model cannot take is refused before
//! any request.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::*;
use elelem::{ChatRequest, Elelem, ElelemError, Message};
use elelem_testkit::wire::{self, AnthropicMessage, GeminiResponse};
use elelem_testkit::TestServer;

fn request(model: &str) -> ChatRequest {
    ChatRequest::new(model, vec![Message::user("Hi")])
}

#[tokio::test]
async fn an_openai_variant_sends_its_effort_and_tier_and_is_billed_as_its_model() {
    let server = TestServer::start().await.unwrap();
    server.push(wire::completion("o3-mini-2025-01-31", "Hello"));
    let elelem = client("openai", &server);
    let done = elelem
        .create_chat_completion(request("openai:o3-mini?reasoning=high"))
        .await
        .unwrap();
    let body = body_of(&server.last_request().unwrap());
    assert_eq!(body["model"], "o3-mini");
    assert_eq!(body["reasoning_effort"], "high");
    assert_eq!(done.elelem.answered_by, "openai:o3-mini?reasoning=high");
    // 10 input + 5 output tokens at o3-mini's prices ($1.10 / $4.40 per million).
    assert_eq!(done.elelem.cost, usd("0.000033"));
    // A request's own setting wins over the variant's.
    server.push(wire::completion("o3-mini", "Hello"));
    let own = request("openai:o3-mini?reasoning=high").extra("reasoning_effort", "low");
    elelem.create_chat_completion(own).await.unwrap();
    assert_eq!(
        body_of(&server.last_request().unwrap())["reasoning_effort"],
        "low"
    );
    // Two keys: an effort and the flex tier (priced in gpt-5's entry).
    server.push(wire::completion("gpt-5", "Hello"));
    let flex = request("openai:gpt-5?reasoning=minimal&service_tier=flex");
    elelem.create_chat_completion(flex).await.unwrap();
    let body = body_of(&server.last_request().unwrap());
    assert_eq!(body["model"], "gpt-5");
    assert_eq!(body["reasoning_effort"], "minimal");
    assert_eq!(body["service_tier"], "flex");
}

#[tokio::test]
async fn anthropic_gets_a_thinking_budget_and_gemini_a_thinking_budget() {
    let anthropic = TestServer::start().await.unwrap();
    anthropic.push(AnthropicMessage::new("claude-sonnet-4-5", "Hello").into_response());
    let elelem = Elelem::builder()
        .without_env_keys()
        .api_key("anthropic", "sk-ant-test")
        .base_url("anthropic", anthropic.url())
        .build()
        .unwrap();
    elelem
        .create_chat_completion(request("anthropic:claude-sonnet-4-5?reasoning=medium"))
        .await
        .unwrap();
    let body = body_of(&anthropic.last_request().unwrap());
    assert_eq!(body["thinking"]["type"], "enabled");
    assert_eq!(body["thinking"]["budget_tokens"], 8192);
    assert!(body["max_tokens"].as_u64().unwrap() > 8192);

    let gemini = TestServer::start().await.unwrap();
    gemini.push(GeminiResponse::new("gemini-2.5-flash", "Hello").into_response());
    let elelem = Elelem::builder()
        .without_env_keys()
        .api_key("gemini", "gemini-test-key")
        .base_url("gemini", format!("{}/v1beta", gemini.root_url()))
        .build()
        .unwrap();
    elelem
        .create_chat_completion(request("gemini:gemini-2.5-flash?reasoning=low"))
        .await
        .unwrap();
    let body = body_of(&gemini.last_request().unwrap());
    let budget = &body["generationConfig"]["thinkingConfig"]["thinkingBudget"];
    assert!(budget.as_u64().is_some(), "{body}");
}

#[tokio::test]
async fn a_variant_the_model_cannot_take_is_refused_before_any_request() {
    let server = TestServer::start().await.unwrap();
    let elelem = client("openai", &server);
    for (id, expected) in [
        ("openai:gpt-4.1-mini?reasoning=high", "does not reason"),
        ("openai:o3-mini?reasoning=max", "not one of"),
        ("openai:o3-mini?colour=blue", "unknown key"),
    ] {
        let error = elelem
            .create_chat_completion(request(id))
            .await
            .unwrap_err();
        assert!(
            matches!(&error, ElelemError::InvalidRequest { reason } if reason.contains(expected)),
            "{id}: {error}"
        );
    }
    assert_eq!(server.request_count(), 0);
}
