//! The blocking client from plain threads against the test server: every mirrored
//! operation, the one-line helpers, streams as iterators, exact totals across 100
//! threads sharing one client, and a clear error inside an async runtime.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::sync::Arc;
use std::thread;

use common::*;
use elelem::budget::Budget;
use elelem::cost::InMemoryStatsSink;
use elelem::{blocking, ChatRequest, CompletionRequest, ElelemError, Message, TextPiece, Usd};
use elelem_testkit::sse::ChunkStream;
use elelem_testkit::wire::Completion;
use elelem_testkit::{ScriptedResponse, TestServer};
use serde_json::json;

const MINI: &str = "openai:gpt-4.1-mini";

/// A test server running on a runtime of its own, so the test threads stay plain.
struct Server {
    server: TestServer,
    _runtime: tokio::runtime::Runtime,
}

fn start() -> Server {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let server = runtime.block_on(TestServer::start()).unwrap();
    Server {
        server,
        _runtime: runtime,
    }
}

fn blocking_client(provider: &str, server: &TestServer) -> blocking::Elelem {
    blocking::ElelemBuilder::from(builder(provider, server))
        .cost_sink(Arc::new(InMemoryStatsSink::new()))
        .build()
        .unwrap()
}

/// gpt-4.1-mini's cost of `prompt` input and `completion` output tokens:
/// $0.40 and $1.60 per 1M.
fn mini_cost(prompt: u64, completion: u64) -> Usd {
    let input: elelem::PricePerMillion = "0.40".parse().unwrap();
    let output: elelem::PricePerMillion = "1.60".parse().unwrap();
    input.cost_of(prompt) + output.cost_of(completion)
}

#[test]
fn a_hundred_threads_share_one_client_with_exact_totals() {
    const THREADS: u64 = 100;
    let s = start();
    s.server
        .set_fallback(Completion::new("gpt-4.1-mini", "Hello!").usage(1_000, 500));
    let elelem = blocking_client("openai", &s.server);
    let handles: Vec<_> = (0..THREADS)
        .map(|i| {
            let elelem = elelem.clone();
            thread::spawn(move || {
                let request = ChatRequest::new(MINI, vec![Message::user(format!("call {i}"))])
                    .extra("seed", i)
                    .tags(["load"]);
                elelem.create_chat_completion(request)
            })
        })
        .collect();
    let mut summed = Usd::ZERO;
    for handle in handles {
        let response = handle.join().unwrap().unwrap();
        assert_eq!(response.content(), Some("Hello!"));
        assert_eq!(response.elelem.attempts, 1);
        summed += response.elelem.cost;
    }
    assert_eq!(s.server.request_count(), THREADS as usize);
    let mut seeds: Vec<u64> = bodies(&s.server)
        .iter()
        .map(|b| b["seed"].as_u64().unwrap())
        .collect();
    seeds.sort_unstable();
    assert_eq!(seeds, (0..THREADS).collect::<Vec<_>>());

    // 1 000 x $0.40/1M + 500 x $1.60/1M = $0.0012 a call, $0.12 in all.
    assert_eq!(mini_cost(1_000, 500), usd("0.0012"));
    assert_eq!(summed, usd("0.12"));
    for stats in [elelem.get_stats(), elelem.get_stats_by_tag("load")] {
        assert_eq!(stats.total_calls, THREADS);
        assert_eq!(stats.total_input_tokens, 1_000 * THREADS);
        assert_eq!(stats.total_output_tokens, 500 * THREADS);
        assert_eq!(stats.total_input_cost_usd, usd("0.04"));
        assert_eq!(stats.total_output_cost_usd, usd("0.08"));
        assert_eq!(stats.total_cost_usd, summed);
    }
}

#[test]
fn helpers_send_the_expected_requests_and_return_text_and_json() {
    let s = start();
    let elelem = blocking_client("openai", &s.server);

    s.server
        .push(Completion::new("gpt-4.1-mini", "Eleven.").usage(10, 2));
    assert_eq!(elelem.chat(MINI, "A prime above 10").unwrap(), "Eleven.");
    let body = s.server.last_request().unwrap().json().unwrap();
    assert_eq!(
        body["messages"],
        json!([{"role": "user", "content": "A prime above 10"}])
    );

    s.server
        .push(Completion::new("gpt-4.1-mini", "Bonjour").usage(20, 3));
    let answer = elelem
        .chat_with_system(MINI, "Answer in French.", "Good morning")
        .unwrap();
    assert_eq!(answer, "Bonjour");
    let body = s.server.last_request().unwrap().json().unwrap();
    assert_eq!(body["messages"][0]["role"], "system");
    assert_eq!(body["messages"][0]["content"], "Answer in French.");
    assert_eq!(body["messages"][1]["content"], "Good morning");

    // A first answer that breaks the schema is retried with the problem fed back.
    let schema = json!({
        "type": "object",
        "properties": {"city": {"type": "string"}},
        "required": ["city"]
    });
    s.server
        .push(Completion::new("gpt-4.1-mini", r#"{"town": "Paris"}"#).usage(100, 10));
    s.server
        .push(Completion::new("gpt-4.1-mini", r#"{"city": "Paris"}"#).usage(150, 10));
    let value = elelem
        .json(MINI, "Where is the Louvre?", schema.clone())
        .unwrap();
    assert_eq!(value, json!({"city": "Paris"}));
    let body = s.server.last_request().unwrap().json().unwrap();
    // gpt-4.1-mini takes json_schema natively.
    assert_eq!(body["response_format"]["type"], "json_schema");
    assert_eq!(body["response_format"]["json_schema"]["schema"], schema);

    let stats = elelem.get_stats();
    assert_eq!(stats.total_calls, 3);
    assert_eq!(stats.retry_analytics.json_schema_retries, 1);
    assert_eq!(
        stats.total_cost_usd,
        mini_cost(10, 2) + mini_cost(20, 3) + mini_cost(100, 10) + mini_cost(150, 10)
    );
}

#[derive(Debug, serde::Deserialize, schemars::JsonSchema, PartialEq)]
struct City {
    name: String,
    country: String,
}

#[test]
fn generate_generate_json_and_legacy_completions_block() {
    let s = start();
    let elelem = blocking_client("openai", &s.server);

    s.server.push(
        Completion::new("gpt-4.1-mini", r#"{"name": "Lima", "country": "Peru"}"#).usage(40, 12),
    );
    let city = elelem
        .generate::<City>(ChatRequest::new(
            MINI,
            vec![Message::user("Capital of Peru")],
        ))
        .unwrap();
    assert_eq!(
        city.value,
        City {
            name: "Lima".into(),
            country: "Peru".into()
        }
    );
    assert_eq!(city.cost(), mini_cost(40, 12));

    s.server
        .push(Completion::new("gpt-4.1-mini", r#"{"n": 7}"#).usage(30, 5));
    let value = elelem
        .generate_json(ChatRequest::new(MINI, vec![Message::user("A number")]))
        .unwrap();
    assert_eq!(value, json!({"n": 7}));
    let body = s.server.last_request().unwrap().json().unwrap();
    assert_eq!(body["response_format"], json!({"type": "json_object"}));

    s.server.push(ScriptedResponse::json(
        200,
        json!({
            "id": "cmpl-1", "object": "text_completion", "created": 1, "model": "gpt-4.1-mini",
            "choices": [{"text": " there!", "index": 0, "logprobs": null, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 1000, "completion_tokens": 1000, "total_tokens": 2000}
        }),
    ));
    let done = elelem
        .create_completion(CompletionRequest::new(MINI, "Hello").tags(["legacy"]))
        .unwrap();
    assert_eq!(done.choices[0].text, " there!");
    assert!(s
        .server
        .last_request()
        .unwrap()
        .path
        .ends_with("/v1/completions"));
    assert_eq!(
        elelem.get_stats_by_tag("legacy").total_cost_usd,
        usd("0.002")
    );
    assert_eq!(
        elelem.get_stats().total_cost_usd,
        mini_cost(40, 12) + mini_cost(30, 5) + usd("0.002")
    );
}

#[test]
fn streams_are_iterators_with_usage_recorded_once() {
    let s = start();
    let elelem = blocking_client("deepinfra", &s.server);
    let model = "deepinfra:deepseek-ai/DeepSeek-R1-0528";
    let pieces = ["<think>Weigh", " it.</think>", "Forty", "-two"];
    s.server
        .push(ChunkStream::new("deepseek-ai/DeepSeek-R1-0528", &pieces).usage(20, 30));
    let request = ChatRequest::new(model, vec![Message::user("6 x 7?")]).tags(["s"]);
    let mut stream = elelem.stream_chat_completion(request).unwrap();
    let mut content = String::new();
    for chunk in &mut stream {
        let chunk = chunk.unwrap();
        for choice in &chunk.choices {
            content.push_str(choice.delta.content.as_deref().unwrap_or_default());
        }
    }
    assert_eq!(content, "Forty-two");
    // DeepSeek-R1 on DeepInfra: $0.50 in, $2.15 out per 1M.
    let expected = usd("0.0000100") + usd("0.0000645");
    assert_eq!(stream.summary().unwrap().cost, expected);
    drop(stream);

    // The text stream keeps the reasoning apart from the answer.
    s.server
        .push(ChunkStream::new("deepseek-ai/DeepSeek-R1-0528", &pieces).usage(20, 30));
    let request = ChatRequest::new(model, vec![Message::user("6 x 7?")]).tags(["s"]);
    let pieces: Vec<TextPiece> = elelem
        .text_stream(request)
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    let reasoning: String = pieces
        .iter()
        .filter(|p| matches!(p, TextPiece::Reasoning(_)))
        .map(TextPiece::text)
        .collect();
    let answer: String = pieces.iter().filter_map(TextPiece::answer).collect();
    assert_eq!(reasoning, "Weigh it.");
    assert_eq!(answer, "Forty-two");

    // collect_completion assembles the whole answer.
    s.server
        .push(ChunkStream::new("deepseek-ai/DeepSeek-R1-0528", &["4", "2"]).usage(20, 30));
    let completion = elelem
        .stream_chat_completion(ChatRequest::new(model, vec![Message::user("6 x 7?")]))
        .unwrap()
        .collect_completion()
        .unwrap();
    assert_eq!(completion.content(), Some("42"));
    assert_eq!(completion.elelem.cost, expected);

    let stats = elelem.get_stats_by_tag("s");
    assert_eq!(stats.total_calls, 2);
    assert_eq!(stats.total_cost_usd, expected + expected);
    assert_eq!(stats.interrupted_streams, 0);
    assert_eq!(
        elelem.get_stats().total_cost_usd,
        expected + expected + expected
    );
}

#[test]
fn a_stream_dropped_early_is_recorded_as_interrupted() {
    let s = start();
    let elelem = blocking_client("openai", &s.server);
    s.server
        .push(ChunkStream::new("gpt-4.1-mini", &["a", "b", "c"]).usage(5, 5));
    let mut stream = elelem
        .stream_chat_completion(ChatRequest::new(MINI, vec![Message::user("Hi")]))
        .unwrap();
    assert!(stream.next().unwrap().is_ok());
    drop(stream);
    let stats = elelem.get_stats();
    assert_eq!(stats.total_calls, 1);
    assert_eq!(stats.interrupted_streams, 1);
}

#[test]
fn budgets_models_and_provider_errors_are_mirrored() {
    let s = start();
    let elelem = blocking::ElelemBuilder::from(builder("openai", &s.server))
        .budget(Budget::total(usd("0.000001")))
        .build()
        .unwrap();
    let error = elelem
        .create_chat_completion(
            ChatRequest::new(MINI, vec![Message::user("Hi")]).max_tokens(10_000),
        )
        .unwrap_err();
    assert!(matches!(error, ElelemError::BudgetExceeded(_)), "{error}");
    assert_eq!(s.server.request_count(), 0, "nothing was sent");
    assert_eq!(elelem.budget_status().len(), 1);
    assert!(elelem.budget_status()[0].spent.is_zero());
    assert!(elelem
        .list_models()
        .data
        .iter()
        .any(|m| m.id == MINI && m.available));
    assert!(elelem
        .models()
        .provider("openai")
        .ids()
        .contains(&MINI.to_owned()));

    let elelem = blocking_client("openai", &s.server);
    s.server
        .set_fallback(elelem_testkit::wire::invalid_api_key());
    let error = elelem.chat(MINI, "Hi").unwrap_err();
    assert!(matches!(error, ElelemError::Provider { .. }), "{error}");
}

#[tokio::test]
async fn inside_an_async_runtime_it_refuses_with_an_error() {
    let server = TestServer::start().await.unwrap();
    server.set_fallback(Completion::new("gpt-4.1-mini", "Hi").usage(1, 1));
    let elelem = blocking::ElelemBuilder::from(builder("openai", &server))
        .build()
        .unwrap();
    let error = elelem.chat(MINI, "Hi").unwrap_err();
    assert!(
        matches!(
            error,
            ElelemError::BlockingInAsyncContext { operation: "chat" }
        ),
        "{error}"
    );
    assert!(error.to_string().contains("async runtime"), "{error}");
    let error = elelem
        .stream_chat_completion(ChatRequest::new(MINI, vec![Message::user("Hi")]))
        .unwrap_err();
    assert!(matches!(error, ElelemError::BlockingInAsyncContext { .. }));
    assert_eq!(server.request_count(), 0);
    // Dropping the client (and its runtime) here does not panic.
    drop(elelem);
}

#[test]
fn a_client_built_on_one_thread_serves_another_and_is_dropped_on_a_third() {
    let s = start();
    s.server
        .set_fallback(Completion::new("gpt-4.1-mini", "Hi").usage(3, 4));
    let elelem = thread::spawn({
        let b = builder("openai", &s.server);
        move || blocking::ElelemBuilder::from(b).build().unwrap()
    })
    .join()
    .unwrap();
    let answered = thread::spawn({
        let elelem = elelem.clone();
        move || elelem.chat(MINI, "Hi").unwrap()
    })
    .join()
    .unwrap();
    assert_eq!(answered, "Hi");
    thread::spawn(move || drop(elelem)).join().unwrap();
}
