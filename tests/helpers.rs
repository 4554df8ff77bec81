//! The async one-line helpers against the test server: the requests they send, what
//! they return, and that they go through the full pipeline (retries, tags, cost).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::sync::Arc;

use common::*;
use elelem::cost::InMemoryStatsSink;
use elelem::{ChatRequest, Message, TextPiece};
use elelem_testkit::sse::ChunkStream;
use elelem_testkit::wire::{rate_limited_ms, Completion};
use elelem_testkit::TestServer;
use futures_util::StreamExt;
use serde_json::json;

const MODEL: &str = "groq:openai/gpt-oss-20b";

#[tokio::test]
async fn chat_retries_a_rate_limit_and_counts_both_attempts() {
    let server = TestServer::start().await.unwrap();
    server.push(rate_limited_ms(1));
    server.push(
        Completion::new("openai/gpt-oss-20b", "Eleven.")
            .groq()
            .usage(1_000, 200),
    );
    let elelem = builder("groq", &server)
        .cost_sink(Arc::new(InMemoryStatsSink::new()))
        .build()
        .unwrap();
    assert_eq!(
        elelem.chat(MODEL, "A prime above 10").await.unwrap(),
        "Eleven."
    );
    assert_eq!(server.request_count(), 2);
    let stats = elelem.get_stats();
    assert_eq!(stats.total_calls, 1);
    assert_eq!(stats.retry_analytics.rate_limit_retries, 1);
    // $0.075 in, $0.30 out per 1M: 75 + 60 micro-dollars.
    assert_eq!(stats.total_cost_usd, usd("0.000135"));
}

#[tokio::test]
async fn chat_with_system_and_json_send_the_expected_bodies() {
    let server = TestServer::start().await.unwrap();
    let elelem = client("groq", &server);
    server.push(
        Completion::new("openai/gpt-oss-20b", "Bonjour")
            .groq()
            .usage(5, 1),
    );
    let answer = elelem
        .chat_with_system(MODEL, "Answer in French.", "Good morning")
        .await
        .unwrap();
    assert_eq!(answer, "Bonjour");
    let body = server.last_request().unwrap().json().unwrap();
    assert_eq!(
        body["messages"],
        json!([
            {"role": "system", "content": "Answer in French."},
            {"role": "user", "content": "Good morning"}
        ])
    );

    let schema =
        json!({"type": "object", "properties": {"n": {"type": "integer"}}, "required": ["n"]});
    server.push(Completion::new("openai/gpt-oss-20b", "```json\n{\"n\": \"seven\"}\n```").groq());
    server.push(Completion::new("openai/gpt-oss-20b", "{\"n\": 7}").groq());
    let value = elelem.json(MODEL, "A number", schema).await.unwrap();
    assert_eq!(value, json!({"n": 7}));
    // The second attempt carried the validation problem back to the model.
    let body = server.last_request().unwrap().json().unwrap();
    let last = body["messages"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(last["role"], "user");
    assert!(
        last["content"].as_str().unwrap().contains("seven"),
        "{last}"
    );
    assert_eq!(elelem.get_stats().retry_analytics.json_schema_retries, 1);
}

#[tokio::test]
async fn text_stream_yields_answer_and_reasoning_apart() {
    let server = TestServer::start().await.unwrap();
    let elelem = client("groq", &server);
    server.push(
        ChunkStream::new(
            "openai/gpt-oss-20b",
            &["<think>Six", " sevens</think>", "4", "2"],
        )
        .groq()
        .usage(10, 20),
    );
    let request = ChatRequest::new(MODEL, vec![Message::user("6 x 7?")]).tags(["pieces"]);
    let mut stream = elelem.text_stream(request).await.unwrap();
    let mut pieces = Vec::new();
    while let Some(piece) = stream.next().await {
        pieces.push(piece.unwrap());
    }
    let answer: String = pieces.iter().filter_map(TextPiece::answer).collect();
    let reasoning: String = pieces
        .iter()
        .filter(|p| p.answer().is_none())
        .map(TextPiece::text)
        .collect();
    assert_eq!(answer, "42");
    assert_eq!(reasoning, "Six sevens");
    // 10 x $0.075/1M + 20 x $0.30/1M.
    assert_eq!(stream.summary().cost, usd("0.00000675"));
    drop(stream);
    let stats = elelem.get_stats_by_tag("pieces");
    assert_eq!(stats.total_calls, 1);
    assert_eq!(stats.total_cost_usd, usd("0.00000675"));
}
