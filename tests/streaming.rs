//! Streaming through real HTTP: chunks, usage accounting, broken and stalled
//! streams, think tags split across chunks, retries before the first chunk, and
//! collecting a stream into the completion a plain call returns.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::time::Duration;

use common::{builder, client};
use elelem::{ChatCompletionChunk, ChatRequest, ElelemError, Message, ResponseFormat, Usd};
use elelem_testkit::sse::ChunkStream;
use elelem_testkit::{wire, ScriptedResponse, TestServer};
use futures_util::StreamExt;
use serde_json::json;

async fn drain(mut stream: elelem::ChatStream) -> (Vec<ChatCompletionChunk>, Option<ElelemError>) {
    let mut chunks = Vec::new();
    while let Some(item) = stream.next().await {
        match item {
            Ok(chunk) => chunks.push(chunk),
            Err(error) => return (chunks, Some(error)),
        }
    }
    (chunks, None)
}

fn text_of(chunks: &[ChatCompletionChunk]) -> String {
    chunks
        .iter()
        .flat_map(|c| c.choices.iter())
        .filter_map(|c| c.delta.content.clone())
        .collect()
}

fn plain(model: &str) -> ChatRequest {
    ChatRequest::new(model, vec![Message::user("Tell me a short story")]).tags(["stream"])
}

#[tokio::test]
async fn a_streamed_answer_arrives_in_openai_chunks_and_is_billed_from_the_final_usage() {
    let server = TestServer::start().await.unwrap();
    server.push(ChunkStream::new("gpt-4.1-mini", &["Once ", "upon ", "a time."]).usage(1_000, 500));
    let elelem = client("openai", &server);
    let stream = elelem
        .stream_chat_completion(plain("openai:gpt-4.1-mini"))
        .await
        .unwrap();
    let (chunks, error) = drain(stream).await;
    assert!(error.is_none(), "{error:?}");
    assert_eq!(text_of(&chunks), "Once upon a time.");
    let json = serde_json::to_value(&chunks[1]).unwrap();
    assert_eq!(json["object"], "chat.completion.chunk");
    // Whitespace that may end the answer waits for the next text (the answer is trimmed,
    // as the plain call's is).
    assert_eq!(json["choices"][0]["delta"]["content"], "Once");

    let body = server.last_request().unwrap().json().unwrap();
    assert_eq!(body["stream"], true);
    assert_eq!(body["stream_options"], json!({"include_usage": true}));

    let stats = elelem.get_stats_by_tag("stream");
    assert_eq!(
        (
            stats.total_calls,
            stats.total_input_tokens,
            stats.total_output_tokens
        ),
        (1, 1_000, 500)
    );
    // gpt-4.1-mini: $0.40 in, $1.60 out per 1M tokens.
    assert_eq!(stats.total_cost_usd, "0.0012".parse::<Usd>().unwrap());
    assert_eq!(stats.interrupted_streams, 0);
}

#[tokio::test]
async fn a_stream_without_usage_still_counts_the_call_with_unknown_tokens() {
    let server = TestServer::start().await.unwrap();
    server.push(ChunkStream::new("gpt-4.1-mini", &["Hi"]));
    let elelem = client("openai", &server);
    let (chunks, error) = drain(
        elelem
            .stream_chat_completion(plain("openai:gpt-4.1-mini"))
            .await
            .unwrap(),
    )
    .await;
    assert!(error.is_none());
    assert_eq!(text_of(&chunks), "Hi");
    let stats = elelem.get_stats();
    assert_eq!(
        (
            stats.total_calls,
            stats.total_input_tokens,
            stats.interrupted_streams
        ),
        (1, 0, 0)
    );
}

#[tokio::test]
async fn a_stream_cut_off_midway_ends_with_a_typed_error_and_one_interrupted_record() {
    let server = TestServer::start().await.unwrap();
    let full = ChunkStream::new("gpt-4.1-mini", &["Once ", "upon ", "a time."])
        .usage(10, 5)
        .to_bytes();
    let cut = full.len() / 2;
    server.push(
        ScriptedResponse::truncated_body(200, full, cut)
            .header("content-type", "text/event-stream"),
    );
    let elelem = client("openai", &server);
    let (chunks, error) = drain(
        elelem
            .stream_chat_completion(plain("openai:gpt-4.1-mini"))
            .await
            .unwrap(),
    )
    .await;
    assert!(!chunks.is_empty());
    match error {
        Some(ElelemError::Stream { model, .. }) => assert_eq!(model, "openai:gpt-4.1-mini"),
        other => panic!("expected a stream error, got {other:?}"),
    }
    let stats = elelem.get_stats();
    assert_eq!(stats.total_calls, 1);
    assert_eq!(stats.interrupted_streams, 1);
    assert_eq!(stats.retry_analytics.final_failures, 1);
    assert_eq!(
        stats.total_input_tokens, 0,
        "no usage arrived, so none is invented"
    );
    assert_eq!(
        server.request_count(),
        1,
        "nothing is retried after the first chunk"
    );
}

#[tokio::test]
async fn a_stalled_stream_times_out() {
    let server = TestServer::start().await.unwrap();
    let first = "data: {\"id\":\"c\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"m\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hel\"},\"finish_reason\":null}]}\n\n";
    server.push(ScriptedResponse::stalled_body(
        200,
        "text/event-stream",
        first,
        Duration::from_secs(10),
    ));
    let elelem = builder("openai", &server)
        .stream_idle_timeout(Duration::from_millis(300))
        .build()
        .unwrap();
    let started = std::time::Instant::now();
    let (chunks, error) = drain(
        elelem
            .stream_chat_completion(plain("openai:gpt-4.1-mini"))
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(text_of(&chunks), "Hel");
    assert!(
        matches!(
            error,
            Some(ElelemError::Stream {
                error: elelem::provider::ProviderError::Timeout { .. },
                ..
            })
        ),
        "{error:?}"
    );
    assert!(started.elapsed() < Duration::from_secs(5));
    assert_eq!(elelem.get_stats().interrupted_streams, 1);
}

#[tokio::test]
async fn think_tags_split_across_chunks_never_reach_the_content() {
    let server = TestServer::start().await.unwrap();
    let pieces = [
        "<thi",
        "nk>Weigh",
        " it.</th",
        "ink>\n",
        "{\"answer\"",
        ": 42}",
    ];
    server.push(ChunkStream::new("deepseek-ai/DeepSeek-R1-0528", &pieces).usage(20, 30));
    let elelem = client("deepinfra", &server);
    let request = ChatRequest::new(
        "deepinfra:deepseek-ai/DeepSeek-R1-0528",
        vec![Message::user("6 x 7?")],
    )
    .response_format(ResponseFormat::JsonObject);
    let stream = elelem.stream_chat_completion(request).await.unwrap();
    let (chunks, error) = drain(stream).await;
    assert!(error.is_none());
    assert_eq!(text_of(&chunks), "{\"answer\": 42}");
    let reasoning: String = chunks
        .iter()
        .flat_map(|c| c.choices.iter())
        .filter_map(|c| c.delta.reasoning_content.clone())
        .collect();
    assert_eq!(reasoning, "Weigh it.");
    for chunk in &chunks {
        for choice in &chunk.choices {
            assert!(
                !choice
                    .delta
                    .content
                    .clone()
                    .unwrap_or_default()
                    .contains('<'),
                "{chunk:?}"
            );
        }
    }
}

#[tokio::test]
async fn rate_limits_before_the_first_chunk_are_retried() {
    let server = TestServer::start().await.unwrap();
    server.push(wire::rate_limited_ms(20));
    server.push(wire::server_error(503));
    server.push(ChunkStream::new("gpt-4.1-mini", &["ok"]).usage(3, 1));
    let elelem = client("openai", &server);
    let stream = elelem
        .stream_chat_completion(plain("openai:gpt-4.1-mini"))
        .await
        .unwrap();
    assert_eq!(stream.summary().attempts, 3);
    let (chunks, error) = drain(stream).await;
    assert!(error.is_none());
    assert_eq!(text_of(&chunks), "ok");
    let r = elelem.get_stats().retry_analytics;
    assert_eq!(
        (r.rate_limit_retries, r.total_retries, r.final_failures),
        (1, 2, 0)
    );
    assert_eq!(elelem.get_stats().total_calls, 1);
}

#[tokio::test]
async fn a_stream_dropped_early_is_recorded_once() {
    let server = TestServer::start().await.unwrap();
    server.push(ChunkStream::new("gpt-4.1-mini", &["a", "b", "c"]).usage(3, 3));
    let elelem = client("openai", &server);
    let mut stream = elelem
        .stream_chat_completion(plain("openai:gpt-4.1-mini"))
        .await
        .unwrap();
    let first = stream.next().await;
    assert!(matches!(first, Some(Ok(_))));
    drop(stream);
    let stats = elelem.get_stats();
    assert_eq!((stats.total_calls, stats.interrupted_streams), (1, 1));
}

#[tokio::test]
async fn groq_streams_are_billed_from_x_groq_usage() {
    let server = TestServer::start().await.unwrap();
    server.push(
        ChunkStream::new("openai/gpt-oss-20b", &["{\"a\":", "1}"])
            .usage(1_000_000, 1_000_000)
            .groq(),
    );
    let elelem = client("groq", &server);
    let completion = elelem
        .stream_chat_completion(plain("groq:openai/gpt-oss-20b"))
        .await
        .unwrap()
        .collect_completion()
        .await
        .unwrap();
    assert!(server
        .last_request()
        .unwrap()
        .json()
        .unwrap()
        .get("stream_options")
        .is_none());
    // $0.075 + $0.30 per 1M tokens.
    assert_eq!(completion.elelem.cost, "0.375".parse::<Usd>().unwrap());
    assert_eq!(
        elelem.get_stats().total_cost_usd,
        "0.375".parse::<Usd>().unwrap()
    );
}

#[tokio::test]
async fn collecting_a_stream_gives_what_the_plain_call_gives() {
    let server = TestServer::start().await.unwrap();
    let content = "<think>Check the ages.</think>\n```json\n{\"name\": \"Ada\", \"age\": 36}\n```";
    server.push(wire::Completion::new("deepseek-ai/DeepSeek-R1-0528", content).usage(40, 20));
    let pieces: Vec<String> = content
        .chars()
        .collect::<Vec<_>>()
        .chunks(3)
        .map(|c| c.iter().collect())
        .collect();
    let refs: Vec<&str> = pieces.iter().map(String::as_str).collect();
    server.push(ChunkStream::new("deepseek-ai/DeepSeek-R1-0528", &refs).usage(40, 20));
    let elelem = client("deepinfra", &server);
    let request = ChatRequest::new(
        "deepinfra:deepseek-ai/DeepSeek-R1-0528",
        vec![Message::user("Ada?")],
    )
    .response_format(ResponseFormat::JsonObject);
    let plain_call = elelem
        .create_chat_completion(request.clone())
        .await
        .unwrap();
    let streamed = elelem
        .stream_chat_completion(request)
        .await
        .unwrap()
        .collect_completion()
        .await
        .unwrap();
    assert_eq!(streamed.content(), plain_call.content());
    assert_eq!(streamed.elelem.reasoning, plain_call.elelem.reasoning);
    assert_eq!(streamed.elelem.json, plain_call.elelem.json);
    assert_eq!(streamed.elelem.cost, plain_call.elelem.cost);
    assert_eq!(
        streamed.usage.as_ref().and_then(|u| u.prompt_tokens),
        Some(40)
    );
    assert_eq!(
        streamed.choices[0].finish_reason,
        plain_call.choices[0].finish_reason
    );
}

#[tokio::test]
async fn streamed_tool_calls_are_assembled() {
    let server = TestServer::start().await.unwrap();
    let deltas = vec![
        json!({"index": 0, "id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": ""}}),
        json!({"index": 0, "function": {"arguments": "{\"city\":"}}),
        json!({"index": 0, "function": {"arguments": "\"Paris\"}"}}),
    ];
    server.push(
        ChunkStream::new("gpt-4.1-mini", &[])
            .tool_call_deltas(deltas)
            .finish_reason("tool_calls"),
    );
    let elelem = client("openai", &server);
    let completion = elelem
        .stream_chat_completion(plain("openai:gpt-4.1-mini"))
        .await
        .unwrap()
        .collect_completion()
        .await
        .unwrap();
    let calls = &completion.choices[0].message.extra["tool_calls"];
    assert_eq!(
        calls,
        &json!([{"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": "{\"city\":\"Paris\"}"}}])
    );
    assert_eq!(
        completion.choices[0].finish_reason,
        Some(elelem::FinishReason::ToolCalls)
    );
}

#[tokio::test]
async fn a_cached_answer_is_replayed_as_a_stream_without_a_provider_call() {
    let server = TestServer::start().await.unwrap();
    server.push(wire::Completion::new("gpt-4.1-mini", "{\"name\": \"Ada\"}").usage(100, 10));
    let elelem = builder("openai", &server).memory_cache(16).build().unwrap();
    let request = ChatRequest::new("openai:gpt-4.1-mini", vec![Message::user("Ada?")])
        .response_format(ResponseFormat::JsonObject)
        .tags(["cached"]);
    let first = elelem
        .create_chat_completion(request.clone())
        .await
        .unwrap();
    assert_eq!(elelem.request_count("openai"), 1);

    let stream = elelem.stream_chat_completion(request).await.unwrap();
    assert_eq!(stream.summary().attempts, 0);
    let replayed = stream.collect_completion().await.unwrap();
    assert_eq!(replayed.content(), first.content());
    assert_eq!(replayed.elelem.json, first.elelem.json);
    assert_eq!(
        server.request_count(),
        1,
        "the stream was served from the cache"
    );
    assert_eq!(elelem.request_count("openai"), 1);
    let stats = elelem.get_stats_by_tag("cached");
    assert_eq!(stats.cache_hits, 1);
    assert_eq!(stats.cache_saved_cost_usd, first.elelem.cost);
}

#[tokio::test]
async fn streamed_requests_are_counted_per_provider() {
    let server = TestServer::start().await.unwrap();
    server.push(wire::server_error(502));
    server.push(ChunkStream::new("gpt-4.1-mini", &["ok"]));
    let elelem = client("openai", &server);
    let (_, error) = drain(
        elelem
            .stream_chat_completion(plain("openai:gpt-4.1-mini"))
            .await
            .unwrap(),
    )
    .await;
    assert!(error.is_none());
    assert_eq!(elelem.request_count("openai"), 2);
}
