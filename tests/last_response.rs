//! `last_response()`: the completion a provider sent, as it decoded it (quirks'
//! usage corrections included), before the pipeline's edits, for every kind of
//! provider: OpenAI-protocol providers keep the reply body and decode it on
//! demand, native ones keep the completion they mapped.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::*;
use elelem_testkit::wire::{self, Completion};
use elelem_testkit::TestServer;
use serde_json::json;

/// A client of `provider` on the test server with a fake key.
fn native_client(provider: &str, server: &TestServer) -> elelem::Elelem {
    elelem::Elelem::builder()
        .without_env_keys()
        .api_key(provider, "test-key-not-real")
        .base_url(provider, server.url())
        .retry_policy(fast_policy())
        .build()
        .unwrap()
}

#[tokio::test]
async fn an_openai_protocol_answer_is_kept_as_received_with_its_usage_corrections() {
    let server = TestServer::start().await.unwrap();
    // xAI counts reasoning outside `completion_tokens`; its quirk folds it in.
    let mut body = Completion::new("grok-3-mini", "<think>hmm</think>{\"a\": 1}")
        .usage(1_000, 100)
        .reasoning(400)
        .to_json();
    body["usage"]["total_tokens"] = json!(1_500);
    server.push(elelem_testkit::ScriptedResponse::json(200, body));
    let elelem = native_client("xai", &server);

    let done = elelem
        .create_chat_completion(json_request("xai:grok-3-mini"))
        .await
        .unwrap();
    assert_eq!(done.content(), Some("{\"a\": 1}"));
    assert_eq!(done.elelem.attempts, 1);

    let last = elelem.last_response().unwrap();
    assert_eq!(last.content(), Some("<think>hmm</think>{\"a\": 1}"));
    let usage = last.usage.as_ref().unwrap();
    assert_eq!(usage.completion_tokens, Some(500), "the quirk's correction");
    assert_eq!(usage, done.usage.as_ref().unwrap());
    assert_eq!(last.id, done.id);
    assert_eq!(last.created, done.created);
    // The pipeline's own fields are not the provider's.
    assert_eq!(last.elelem.attempts, 0);
    assert!(last.elelem.answered_by.is_empty());
    // Reading it twice gives the same completion.
    assert_eq!(elelem.last_response().unwrap(), last);
}

#[tokio::test]
async fn each_call_replaces_the_last_response() {
    let server = TestServer::start().await.unwrap();
    server.push(Completion::new("gpt-4.1-mini", "{\"n\": 1}"));
    server.push(Completion::new("gpt-4.1-mini", "{\"n\": 2}"));
    let elelem = client("openai", &server);
    for n in 1..=2 {
        elelem
            .create_chat_completion(json_request("openai:gpt-4.1-mini"))
            .await
            .unwrap();
        let last = elelem.last_response().unwrap();
        assert_eq!(last.content(), Some(format!("{{\"n\": {n}}}").as_str()));
    }
}

#[tokio::test]
async fn a_native_provider_answer_is_kept_as_mapped() {
    let server = TestServer::start().await.unwrap();
    server.push(wire::anthropic_message(
        "claude-sonnet-4-5",
        "<think>x</think>{\"a\": 2}",
    ));
    let elelem = native_client("anthropic", &server);
    let done = elelem
        .create_chat_completion(json_request("anthropic:claude-sonnet-4-5"))
        .await
        .unwrap();
    assert_eq!(done.content(), Some("{\"a\": 2}"));
    let last = elelem.last_response().unwrap();
    assert_eq!(last.content(), Some("<think>x</think>{\"a\": 2}"));
    assert_eq!(last.created, done.created);
    assert_eq!(last.elelem.attempts, 0);
}
