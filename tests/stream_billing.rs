//! The engine bills a stream exactly like the plain call of the same answer:
//! provider-reported costs (OpenRouter `usage.cost`, xAI `cost_in_usd_ticks`) and
//! usage corrections (xAI reasoning tokens outside `completion_tokens`) apply to
//! both; a stream gets the same context-window check as a plain call; a stream cut
//! before its usage charges the budgets its worst case; keep-alive comments
//! while a slow model thinks keep one stream alive (billed once); a flex or
//! priority answer is billed at its tier's prices.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use elelem::budget::Budget;
use elelem::{ChatRequest, Elelem, ElelemError, Message, Stats, Usd};
use elelem_testkit::{ScriptedResponse, TestServer};
use futures_util::StreamExt;
use serde_json::{json, Value};

fn usd(text: &str) -> Usd {
    text.parse().unwrap()
}

/// A plain answer with this exact `usage` object.
fn plain(model: &str, text: &str, usage: &Value) -> ScriptedResponse {
    ScriptedResponse::json(
        200,
        json!({
            "id": "chatcmpl-1", "object": "chat.completion", "created": 1_741_569_952,
            "model": model,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": text},
                         "logprobs": null, "finish_reason": "stop"}],
            "usage": usage
        }),
    )
}

/// The same answer streamed as OpenAI streams it: a role chunk, the text, the
/// finish reason, then a chunk with no choices holding `usage`, then `[DONE]`.
fn streamed(model: &str, text: &str, usage: &Value) -> ScriptedResponse {
    let chunk = |choices: Value| {
        json!({"id": "chatcmpl-1", "object": "chat.completion.chunk",
               "created": 1_741_569_952, "model": model, "choices": choices})
    };
    let mut tail = chunk(json!([]));
    tail["usage"] = usage.clone();
    let chunks = [
        chunk(
            json!([{"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": null}]),
        ),
        chunk(json!([{"index": 0, "delta": {"content": text}, "finish_reason": null}])),
        chunk(json!([{"index": 0, "delta": {}, "finish_reason": "stop"}])),
        tail,
    ];
    let mut body = String::new();
    for chunk in chunks {
        body.push_str(&format!("data: {chunk}\n\n"));
    }
    body.push_str("data: [DONE]\n\n");
    ScriptedResponse::raw(200, "text/event-stream", body)
}

fn client(provider: &str, base_url: String) -> Elelem {
    Elelem::builder()
        .without_env_keys()
        .api_key(provider, "test-SECRET-key")
        .base_url(provider, base_url)
        .build()
        .unwrap()
}

/// Sends the same answer plain (tag "plain") and streamed (tag "stream") and
/// returns both tags' stats and the collected stream's cost.
async fn plain_and_streamed(
    server: &TestServer,
    elelem: &Elelem,
    model: &str,
    upstream: &str,
    usage: Value,
) -> (Stats, Stats, Usd) {
    let request = |tag: &str| ChatRequest::new(model, vec![Message::user("Hi")]).tags([tag]);
    server.push(plain(upstream, "Hello!", &usage));
    let response = elelem
        .create_chat_completion(request("plain"))
        .await
        .unwrap();
    server.push(streamed(upstream, "Hello!", &usage));
    let stream = elelem
        .stream_chat_completion(request("stream"))
        .await
        .unwrap();
    let collected = stream.collect_completion().await.unwrap();
    assert_eq!(collected.content(), Some("Hello!"));
    assert_eq!(collected.usage, response.usage, "the same corrected usage");
    assert_eq!(collected.elelem.cost, response.elelem.cost);
    (
        elelem.get_stats_by_tag("plain"),
        elelem.get_stats_by_tag("stream"),
        collected.elelem.cost,
    )
}

fn assert_same_bill(plain: &Stats, stream: &Stats) {
    assert_eq!(plain.total_input_tokens, stream.total_input_tokens);
    assert_eq!(plain.total_output_tokens, stream.total_output_tokens);
    assert_eq!(plain.reasoning_tokens, stream.reasoning_tokens);
    assert_eq!(plain.total_input_cost_usd, stream.total_input_cost_usd);
    assert_eq!(plain.total_output_cost_usd, stream.total_output_cost_usd);
    assert_eq!(plain.reasoning_cost_usd, stream.reasoning_cost_usd);
    assert_eq!(plain.total_cost_usd, stream.total_cost_usd);
    assert_eq!(plain.unpriced_calls, stream.unpriced_calls);
    assert_eq!(stream.interrupted_streams, 0);
}

#[tokio::test]
async fn an_openrouter_stream_is_billed_its_reported_cost_like_the_plain_call() {
    let server = TestServer::start().await.unwrap();
    let elelem = client("openrouter", format!("{}/api/v1", server.root_url()));
    let usage = json!({"prompt_tokens": 1200, "completion_tokens": 300,
                       "total_tokens": 1500, "cost": 0.000987654321});
    let (plain, stream, cost) = plain_and_streamed(
        &server,
        &elelem,
        "openrouter:openai/gpt-4.1-mini",
        "openai/gpt-4.1-mini",
        usage,
    )
    .await;
    // The reported cost, not the table's $0.00096.
    assert_eq!(cost, usd("0.000987654321"));
    assert_eq!(stream.total_cost_usd, usd("0.000987654321"));
    assert_same_bill(&plain, &stream);
}

#[tokio::test]
async fn an_xai_stream_gets_the_reasoning_correction_and_the_ticks_like_the_plain_call() {
    let server = TestServer::start().await.unwrap();
    let elelem = client("xai", server.url());
    // xAI leaves the 400 reasoning tokens out of completion_tokens.
    let usage = json!({"prompt_tokens": 1000, "completion_tokens": 100, "total_tokens": 1500,
                       "completion_tokens_details": {"reasoning_tokens": 400},
                       "cost_in_usd_ticks": 6_000_000});
    let (plain, stream, cost) =
        plain_and_streamed(&server, &elelem, "xai:grok-3-mini", "grok-3-mini", usage).await;
    assert_eq!(stream.total_output_tokens, 500);
    assert_eq!(stream.reasoning_tokens, 400);
    // The ticks (10^-10 USD each), not the table's $0.00055.
    assert_eq!(cost, usd("0.0006"));
    assert_same_bill(&plain, &stream);
}

#[tokio::test]
async fn a_stream_on_a_prompt_too_large_for_the_window_fails_before_sending() {
    let server = TestServer::start().await.unwrap();
    let elelem = client("openai", server.url());
    let request =
        ChatRequest::new("openai:gpt-4.1-mini", vec![Message::user("Hi")]).max_tokens(u32::MAX);
    let error = elelem.stream_chat_completion(request).await.unwrap_err();
    assert!(
        matches!(error, ElelemError::ContextWindowExceeded { .. }),
        "{error:?}"
    );
    assert_eq!(server.request_count(), 0);
    assert_eq!(elelem.get_stats().total_calls, 0);
}

#[tokio::test]
async fn a_stream_dropped_before_its_usage_charges_the_budget_its_worst_case() {
    let server = TestServer::start().await.unwrap();
    let elelem = Elelem::builder()
        .without_env_keys()
        .api_key("openai", "sk-test")
        .base_url("openai", server.url())
        .budget(Budget::new(usd("1")))
        .build()
        .unwrap();
    server.push(streamed(
        "gpt-4.1-mini",
        "Hello!",
        &json!({"prompt_tokens": 8, "completion_tokens": 2, "total_tokens": 10}),
    ));
    let request =
        ChatRequest::new("openai:gpt-4.1-mini", vec![Message::user("Hi")]).max_tokens(1000);
    let mut stream = elelem.stream_chat_completion(request).await.unwrap();
    let held = elelem.budget_status()[0].reserved;
    assert!(held > Usd::ZERO);
    // The usual loop: stop reading at the finish reason (the usage comes after).
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.unwrap();
        if chunk
            .choices
            .first()
            .is_some_and(|c| c.finish_reason.is_some())
        {
            break;
        }
    }
    drop(stream);
    let status = &elelem.budget_status()[0];
    assert_eq!(status.reserved, Usd::ZERO);
    assert_eq!(status.spent, held, "the worst case, not $0");
    let stats = elelem.get_stats();
    assert_eq!(stats.interrupted_streams, 1);
}

#[tokio::test]
async fn keep_alive_comments_longer_than_the_idle_timeout_keep_one_stream_alive() {
    let server = TestServer::start().await.unwrap();
    let elelem = Elelem::builder()
        .without_env_keys()
        .api_key("openrouter", "test-SECRET-key")
        .base_url("openrouter", format!("{}/api/v1", server.root_url()))
        .stream_idle_timeout(std::time::Duration::from_millis(200))
        .build()
        .unwrap();
    let usage = json!({"prompt_tokens": 1200, "completion_tokens": 300,
                       "total_tokens": 1500, "cost": 0.000987654321});
    let answer = streamed("openai/gpt-4.1-mini", "Hello!", &usage);
    // OpenRouter's comments every 50 ms for 600 ms (three idle timeouts), then
    // the answer.
    let mut parts: Vec<Vec<u8>> = (0..12)
        .map(|_| b": OPENROUTER PROCESSING\n\n".to_vec())
        .collect();
    parts.push(answer.body().unwrap().to_vec());
    server.push(ScriptedResponse::drip(
        200,
        "text/event-stream",
        parts,
        std::time::Duration::from_millis(50),
    ));
    let request = ChatRequest::new("openrouter:openai/gpt-4.1-mini", vec![Message::user("Hi")]);
    let stream = elelem.stream_chat_completion(request).await.unwrap();
    let collected = stream.collect_completion().await.unwrap();
    assert_eq!(collected.content(), Some("Hello!"));
    assert_eq!(
        server.request_count(),
        1,
        "one request, not cut and retried"
    );
    assert_eq!(collected.elelem.cost, usd("0.000987654321"));
    let stats = elelem.get_stats();
    assert_eq!(stats.total_cost_usd, usd("0.000987654321"), "billed once");
    assert_eq!(stats.interrupted_streams, 0);
}

/// The same response answered in a service tier: `service_tier` on the plain
/// answer, or on every chunk of a stream (as OpenAI sends it).
fn in_tier(response: &ScriptedResponse, tier: &str) -> ScriptedResponse {
    let body = String::from_utf8(response.body().unwrap().to_vec()).unwrap();
    let tiered = |text: &str| {
        let mut value: Value = serde_json::from_str(text).unwrap();
        value["service_tier"] = json!(tier);
        value
    };
    if !body.starts_with("data:") {
        return ScriptedResponse::json(200, tiered(&body));
    }
    let mut sse = String::new();
    for event in body.split("\n\n").filter(|e| !e.is_empty()) {
        let data = event.strip_prefix("data: ").unwrap();
        match data {
            "[DONE]" => sse.push_str("data: [DONE]\n\n"),
            chunk => sse.push_str(&format!("data: {}\n\n", tiered(chunk))),
        }
    }
    ScriptedResponse::raw(200, "text/event-stream", sse)
}

#[tokio::test]
async fn flex_and_priority_answers_are_billed_at_their_tier_prices_plain_and_streamed() {
    let server = TestServer::start().await.unwrap();
    let elelem = client("openai", server.url());
    let usage = json!({"prompt_tokens": 1000, "completion_tokens": 200, "total_tokens": 1200});
    // gpt-5-mini: $0.25/$2.00 per million; flex $0.125/$1.00; priority $0.45/$3.60.
    let cases = [
        (Some("flex"), "0.000325"),
        (Some("priority"), "0.00117"),
        (Some("default"), "0.00065"),
        (None, "0.00065"),
    ];
    for (tier, expected) in cases {
        for stream in [false, true] {
            let answer = if stream {
                streamed("gpt-5-mini", "Hello!", &usage)
            } else {
                plain("gpt-5-mini", "Hello!", &usage)
            };
            server.push(match tier {
                Some(tier) => in_tier(&answer, tier),
                None => answer,
            });
            let tag = format!("{tier:?}-{stream}");
            let request =
                ChatRequest::new("openai:gpt-5-mini", vec![Message::user("Hi")]).tags([&tag]);
            let cost = if stream {
                let s = elelem.stream_chat_completion(request).await.unwrap();
                s.collect_completion().await.unwrap().elelem.cost
            } else {
                elelem
                    .create_chat_completion(request)
                    .await
                    .unwrap()
                    .elelem
                    .cost
            };
            assert_eq!(cost, usd(expected), "{tag}");
            assert_eq!(
                elelem.get_stats_by_tag(&tag).total_cost_usd,
                usd(expected),
                "{tag}"
            );
        }
    }
}
