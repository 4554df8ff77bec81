//! `create_embeddings` over real HTTP: OpenAI's `/embeddings` (floats and
//! base64), DeepInfra, Scaleway, Ollama's `/api/embed` and Gemini's
//! `batchEmbedContents`; batching within each model's limits with the vectors
//! in input order and exact summed usage; retries, budgets, the cache, cost to
//! the femto-dollar by tag, and the usage records.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::sync::Arc;

use common::*;
use elelem::budget::Budget;
use elelem::cost::AttemptOutcome;
use elelem::provider::ProviderError;
use elelem::{ElelemError, EmbeddingRequest, EmbeddingResponse, EncodingFormat, TokenCounter, Usd};
use elelem_testkit::wire::{self, embedding_vectors};
use elelem_testkit::TestServer;
use serde_json::json;

const SMALL: &str = "openai:text-embedding-3-small";
const UPSTREAM: &str = "text-embedding-3-small";

/// `tokens` at `per_million` USD per 1M tokens, exactly.
fn cost(tokens: u64, per_million: &str) -> Usd {
    Usd::from_femtos(usd(per_million).femtos() * i128::from(tokens) / 1_000_000)
}

fn texts(n: usize) -> Vec<String> {
    (0..n).map(|i| format!("text number {i}")).collect()
}

/// Every vector belongs to its input: vector `i` starts with `i`.
fn assert_in_order(response: &EmbeddingResponse, n: usize) {
    assert_eq!(response.data.len(), n);
    for (i, item) in response.data.iter().enumerate() {
        assert_eq!(item.index, i);
        assert_eq!(item.embedding[0], i as f32, "vector {i} is another input's");
    }
}

fn with_capture(provider: &str, server: &TestServer) -> (elelem::Elelem, Arc<Capture>) {
    let capture = Arc::new(Capture::default());
    let elelem = builder(provider, server)
        .cost_sink(capture.clone())
        .build()
        .unwrap();
    (elelem, capture)
}

#[tokio::test]
async fn openai_embeddings_come_back_in_openais_shape_billed_exactly_by_tag() {
    let server = TestServer::start().await.unwrap();
    server.strict(true);
    server.push(wire::openai_embeddings(
        UPSTREAM,
        &embedding_vectors(0, 2, 4),
        1_234,
    ));
    let (elelem, capture) = with_capture("openai", &server);

    let request = EmbeddingRequest::new(SMALL, vec!["a cat", "a dog"])
        .dimensions(4)
        .tags(["search"]);
    let response = elelem.create_embeddings(request).await.unwrap();

    assert_in_order(&response, 2);
    assert_eq!(response.model, UPSTREAM);
    assert_eq!(response.usage.prompt_tokens, 1_234);
    assert_eq!(response.usage.total_tokens, 1_234);
    assert_eq!(response.elelem.cost, cost(1_234, "0.02"));
    assert_eq!(response.elelem.batches, 1);
    assert_eq!(response.elelem.attempts, 1);
    assert_eq!(
        serde_json::to_value(&response).unwrap(),
        json!({
            "object": "list",
            "data": [
                {"object": "embedding", "index": 0, "embedding": [0.0, 0.5, -0.25, 0.5]},
                {"object": "embedding", "index": 1, "embedding": [1.0, 0.5, -0.25, 0.5]}
            ],
            "model": UPSTREAM,
            "usage": {"prompt_tokens": 1_234, "total_tokens": 1_234}
        })
    );

    let sent = server.last_request().unwrap();
    assert_eq!(sent.path, "/v1/embeddings");
    assert_eq!(
        sent.headers["authorization"],
        format!("Bearer {OPENAI_KEY}")
    );
    assert_eq!(
        body_of(&sent),
        json!({"model": UPSTREAM, "input": ["a cat", "a dog"], "dimensions": 4})
    );

    let stats = elelem.get_stats_by_tag("search");
    assert_eq!(stats.total_calls, 1);
    assert_eq!(stats.total_input_tokens, 1_234);
    assert_eq!(stats.total_output_tokens, 0);
    assert_eq!(stats.total_cost_usd, cost(1_234, "0.02"));
    assert_eq!(stats.total_input_cost_usd, cost(1_234, "0.02"));
    assert!(elelem.get_stats_by_tag("other").total_calls == 0);

    let records = capture.records();
    assert_eq!(records.len(), 1);
    let record = &records[0];
    assert_eq!(record.model, SMALL);
    assert_eq!(record.provider, "openai");
    assert_eq!(&*record.tags, &["search".to_owned()]);
    assert_eq!(record.tokens.input, Some(1_234));
    assert_eq!(record.tokens.output, Some(0));
    assert_eq!(record.cost.total(), cost(1_234, "0.02"));
    assert_eq!(record.outcome, AttemptOutcome::Success);
    assert!(record.price_known);
    let line = serde_json::to_string(record).unwrap();
    assert!(!line.contains(OPENAI_KEY), "the key never reaches a ledger");
}

#[tokio::test]
async fn base64_vectors_are_decoded_into_floats() {
    let server = TestServer::start().await.unwrap();
    let vectors = vec![vec![0.125f32, -7.5, 3.0e-5]];
    server.push(wire::openai_embeddings_base64(UPSTREAM, &vectors, 3));
    let elelem = client("openai", &server);

    let request = EmbeddingRequest::new(SMALL, "hello").encoding_format(EncodingFormat::Base64);
    let response = elelem.create_embeddings(request).await.unwrap();

    assert_eq!(response.data[0].embedding, vectors[0]);
    assert_eq!(
        body_of(&server.last_request().unwrap())["encoding_format"],
        "base64"
    );
    assert_eq!(
        elelem::embedding_to_base64(&response.data[0].embedding),
        wire::openai_embeddings_base64(UPSTREAM, &vectors, 3)
            .json_body()
            .unwrap()["data"][0]["embedding"]
    );
}

#[tokio::test]
async fn inputs_above_the_model_limit_go_in_batches_reassembled_in_order_with_summed_usage() {
    let server = TestServer::start().await.unwrap();
    server.strict(true);
    let n = 2_048 + 5;
    server.push_many([
        wire::openai_embeddings(UPSTREAM, &embedding_vectors(0, 2_048, 2), 40_000),
        wire::openai_embeddings(UPSTREAM, &embedding_vectors(2_048, 5, 2), 77),
    ]);
    let (elelem, capture) = with_capture("openai", &server);

    let request = EmbeddingRequest::new(SMALL, texts(n)).tags(["bulk"]);
    let response = elelem.create_embeddings(request).await.unwrap();

    assert_in_order(&response, n);
    assert_eq!(response.elelem.batches, 2);
    assert_eq!(response.elelem.attempts, 2);
    assert_eq!(response.usage.prompt_tokens, 40_077);
    assert_eq!(response.usage.total_tokens, 40_077);
    assert_eq!(
        response.elelem.cost,
        cost(40_000, "0.02") + cost(77, "0.02")
    );
    let bodies = bodies(&server);
    assert_eq!(bodies.len(), 2, "the strict server accepted both batches");
    assert_eq!(bodies[0]["input"].as_array().unwrap().len(), 2_048);
    assert_eq!(bodies[1]["input"], json!(texts(n)[2_048..]));
    assert_eq!(bodies[0]["input"][0], "text number 0");

    let records = capture.records();
    assert_eq!(records.len(), 2, "one record per batch");
    assert_ne!(records[0].call_id, records[1].call_id);
    let stats = elelem.get_stats_by_tag("bulk");
    assert_eq!(stats.total_input_tokens, 40_077);
    assert_eq!(stats.total_cost_usd, response.elelem.cost);
}

#[tokio::test]
async fn the_strict_server_refuses_too_many_inputs_like_openai() {
    let server = TestServer::start().await.unwrap();
    server.strict(true);
    // A user entry without limits: nothing is split, and the API refuses.
    let unlimited =
        "[[models]]\nid = \"openai:my-embed\"\nupstream = \"text-embedding-3-small\"\ncapabilities = { embedding = true }\n";
    let elelem = builder("openai", &server)
        .models_toml("unlimited", unlimited)
        .build()
        .unwrap();
    let error = elelem
        .create_embeddings(EmbeddingRequest::new("openai:my-embed", texts(2_049)))
        .await
        .unwrap_err();
    assert!(error.to_string().contains("Too many inputs"), "{error}");
    assert_eq!(server.request_count(), 1, "a 400 is not retried");
}

#[tokio::test]
async fn a_token_cap_splits_batches_too() {
    let server = TestServer::start().await.unwrap();
    let capped = "[[models]]\nid = \"openai:text-embedding-3-small\"\nembeddings = { max_inputs = 10, max_request_tokens = 12 }\n";
    let elelem = builder("openai", &server)
        .models_toml("capped", capped)
        .build()
        .unwrap();
    // Each text is a few tokens: no more than a handful per request.
    let n = 12;
    let counter = TokenCounter::for_upstream(UPSTREAM);
    let per_text: Vec<u64> = texts(n).iter().map(|t| counter.count(t)).collect();
    let mut start = 0;
    let mut sizes = Vec::new();
    while start < n {
        let mut sum = 0;
        let mut end = start;
        while end < n && end - start < 10 && (end == start || sum + per_text[end] <= 12) {
            sum += per_text[end];
            end += 1;
        }
        sizes.push(end - start);
        server.push(wire::openai_embeddings(
            UPSTREAM,
            &embedding_vectors(start, end - start, 2),
            sum,
        ));
        start = end;
    }
    assert!(sizes.len() > 1, "the cap splits: {sizes:?}");
    let response = elelem
        .create_embeddings(EmbeddingRequest::new(SMALL, texts(n)))
        .await
        .unwrap();
    assert_in_order(&response, n);
    assert_eq!(response.elelem.batches as usize, sizes.len());
    assert_eq!(response.usage.prompt_tokens, per_text.iter().sum::<u64>());
    let sent: Vec<usize> = bodies(&server)
        .iter()
        .map(|b| b["input"].as_array().unwrap().len())
        .collect();
    assert_eq!(sent, sizes);
}

#[tokio::test]
async fn rate_limits_and_server_errors_are_retried_and_every_attempt_recorded() {
    let server = TestServer::start().await.unwrap();
    server.push_many([
        wire::rate_limited(Some("0")),
        wire::server_error(503),
        wire::openai_embeddings(UPSTREAM, &embedding_vectors(0, 1, 2), 9),
    ]);
    let (elelem, capture) = with_capture("openai", &server);

    let response = elelem
        .create_embeddings(EmbeddingRequest::new(SMALL, "retry me").tags(["r"]))
        .await
        .unwrap();

    assert_eq!(response.elelem.attempts, 3);
    assert_eq!(response.elelem.cost, cost(9, "0.02"));
    assert_eq!(server.request_count(), 3);
    let records = capture.records();
    assert_eq!(records.len(), 3);
    assert!(records[..2]
        .iter()
        .all(|r| r.outcome != AttemptOutcome::Success && r.cost.total().is_zero()));
    assert_eq!(records[2].outcome, AttemptOutcome::Success);
    let stats = elelem.get_stats_by_tag("r");
    assert_eq!(stats.total_cost_usd, cost(9, "0.02"));
    assert_eq!(stats.retry_analytics.rate_limit_retries, 1);
}

#[tokio::test]
async fn a_budget_refuses_a_call_whose_worst_case_does_not_fit_before_sending() {
    let server = TestServer::start().await.unwrap();
    server.set_fallback(wire::openai_embeddings(
        UPSTREAM,
        &embedding_vectors(0, 1, 2),
        5,
    ));
    let elelem = builder("openai", &server)
        .budget(Budget::new(usd("0.000001")).for_tag("capped"))
        .build()
        .unwrap();

    // 50 tokens at most fit (0.000001 / 0.02 per million); this is far more.
    let long = "lorem ipsum dolor sit amet ".repeat(40);
    let error = elelem
        .create_embeddings(EmbeddingRequest::new(SMALL, long).tags(["capped"]))
        .await
        .unwrap_err();
    assert!(matches!(error, ElelemError::BudgetExceeded(_)), "{error}");
    assert_eq!(server.request_count(), 0);

    // A small one fits, and is settled at its real cost.
    let done = elelem
        .create_embeddings(EmbeddingRequest::new(SMALL, "hi").tags(["capped"]))
        .await
        .unwrap();
    assert_eq!(done.elelem.cost, cost(5, "0.02"));
    let status = &elelem.budget_status()[0];
    assert_eq!(status.spent, cost(5, "0.02"));
    assert!(status.reserved.is_zero());
}

#[tokio::test]
async fn identical_requests_hit_the_cache_and_cost_nothing() {
    let server = TestServer::start().await.unwrap();
    server.set_fallback(wire::openai_embeddings(
        UPSTREAM,
        &embedding_vectors(0, 2, 3),
        50,
    ));
    let elelem = builder("openai", &server).memory_cache(10).build().unwrap();
    let request = || EmbeddingRequest::new(SMALL, vec!["x", "y"]).tags(["c"]);

    let miss = elelem.create_embeddings(request()).await.unwrap();
    assert!(!miss.elelem.cache_hit);
    let hit = elelem.create_embeddings(request()).await.unwrap();
    assert!(hit.elelem.cache_hit);
    assert_eq!(server.request_count(), 1, "a hit sends nothing");
    assert!(hit.elelem.cost.is_zero());
    assert_eq!(hit.data, miss.data);
    assert_eq!(hit.usage, miss.usage);

    let stats = elelem.get_stats_by_tag("c");
    assert_eq!(stats.cache_hits, 1);
    assert_eq!(stats.cache_saved_cost_usd, cost(50, "0.02"));
    assert_eq!(stats.total_cost_usd, cost(50, "0.02"));

    // Other dimensions, or the cache ignored: sent again.
    elelem
        .create_embeddings(request().dimensions(3))
        .await
        .unwrap();
    elelem
        .create_embeddings(request().cache(elelem::cache::CacheMode::Ignore))
        .await
        .unwrap();
    assert_eq!(server.request_count(), 3);
}

#[tokio::test]
async fn deepinfra_and_scaleway_serve_embeddings_at_their_paths() {
    let server = TestServer::start().await.unwrap();
    server.push(wire::openai_embeddings(
        "BAAI/bge-m3",
        &embedding_vectors(0, 1, 2),
        300,
    ));
    let elelem = client("deepinfra", &server);
    let response = elelem
        .create_embeddings(EmbeddingRequest::new("deepinfra:BAAI/bge-m3", "hallo"))
        .await
        .unwrap();
    assert_eq!(response.elelem.cost, cost(300, "0.01"));
    assert_eq!(server.last_request().unwrap().path, "/v1/openai/embeddings");

    server.push(wire::openai_embeddings(
        "bge-multilingual-gemma2",
        &embedding_vectors(0, 1, 2),
        1_000_000,
    ));
    let elelem = client("scaleway", &server);
    let model = "scaleway:bge-multilingual-gemma2";
    let response = elelem
        .create_embeddings(EmbeddingRequest::new(model, "bonjour"))
        .await
        .unwrap();
    let sent = server.last_request().unwrap();
    assert_eq!(sent.path, "/v1/embeddings");
    assert_eq!(body_of(&sent)["model"], "bge-multilingual-gemma2");
    // One million tokens cost the catalogue's input price (EUR 0.10, in USD).
    let prices = elelem.catalogue().model(model).unwrap().prices.unwrap();
    assert_eq!(response.elelem.cost, prices.input.cost_of(1_000_000));
}

#[tokio::test]
async fn ollama_embeds_through_api_embed() {
    let server = TestServer::start().await.unwrap();
    server.push(wire::ollama_embed(
        "nomic-embed-text",
        &embedding_vectors(0, 2, 3),
        11,
    ));
    let capture = Arc::new(Capture::default());
    let elelem = elelem::Elelem::builder()
        .without_env_keys()
        .base_url("ollama", server.root_url())
        .cost_sink(capture.clone())
        .build()
        .unwrap();

    let response = elelem
        .create_embeddings(
            EmbeddingRequest::new("ollama:nomic-embed-text", vec!["a", "b"]).dimensions(3),
        )
        .await
        .unwrap();

    assert_in_order(&response, 2);
    assert_eq!(response.usage.prompt_tokens, 11);
    assert!(response.elelem.cost.is_zero(), "local models have no price");
    let sent = server.last_request().unwrap();
    assert_eq!(sent.path, "/api/embed");
    assert_eq!(
        body_of(&sent),
        json!({"model": "nomic-embed-text", "input": ["a", "b"], "dimensions": 3})
    );
    let records = capture.records();
    assert_eq!(records[0].tokens.input, Some(11));
    assert!(!records[0].price_known);
}

#[tokio::test]
async fn gemini_batches_by_100_and_bills_its_own_token_count() {
    let server = TestServer::start().await.unwrap();
    server.strict(true);
    let n = 150;
    server.push_many([
        wire::gemini_embeddings(&embedding_vectors(0, 100, 3)),
        wire::gemini_embeddings(&embedding_vectors(100, 50, 3)),
    ]);
    let key = "AIza-test-SECRET-123";
    let elelem = elelem::Elelem::builder()
        .without_env_keys()
        .api_key("gemini", key)
        .base_url("gemini", format!("{}/v1beta", server.root_url()))
        .build()
        .unwrap();
    let model = "gemini:gemini-embedding-001";

    let response = elelem
        .create_embeddings(
            EmbeddingRequest::new(model, texts(n))
                .dimensions(3)
                .tags(["g"]),
        )
        .await
        .unwrap();

    assert_in_order(&response, n);
    assert_eq!(response.elelem.batches, 2);
    assert!(response.elelem.usage_estimated);
    let entry = elelem.catalogue().model(model).unwrap();
    let counter = TokenCounter::for_model(entry);
    let tokens: u64 = texts(n).iter().map(|t| counter.count(t)).sum();
    assert_eq!(response.usage.prompt_tokens, tokens);
    assert_eq!(response.elelem.cost, cost(tokens, "0.15"));
    let requests = server.requests();
    assert_eq!(
        requests[0].path,
        "/v1beta/models/gemini-embedding-001:batchEmbedContents"
    );
    assert_eq!(requests[0].headers["x-goog-api-key"], key);
    let first = body_of(&requests[0]);
    assert_eq!(first["requests"].as_array().unwrap().len(), 100);
    assert_eq!(
        first["requests"][0],
        json!({"model": "models/gemini-embedding-001", "content": {"parts": [{"text": "text number 0"}]}, "outputDimensionality": 3})
    );
    assert_eq!(elelem.get_stats_by_tag("g").total_input_tokens, tokens);
}

#[tokio::test]
async fn bad_requests_are_refused_before_anything_is_sent() {
    let server = TestServer::start().await.unwrap();
    let elelem = client("openai", &server);
    let invalid = |e: &ElelemError| matches!(e, ElelemError::InvalidRequest { .. });

    let chat_model = elelem
        .create_embeddings(EmbeddingRequest::new("openai:gpt-4.1-mini", "x"))
        .await
        .unwrap_err();
    assert!(invalid(&chat_model), "{chat_model}");
    assert!(chat_model.to_string().contains(SMALL), "{chat_model}");

    let empty: Vec<String> = Vec::new();
    let none = elelem
        .create_embeddings(EmbeddingRequest::new(SMALL, empty))
        .await
        .unwrap_err();
    assert!(invalid(&none), "{none}");
    let blank = elelem
        .create_embeddings(EmbeddingRequest::new(SMALL, vec!["a", ""]))
        .await
        .unwrap_err();
    assert!(blank.to_string().contains("input 1"), "{blank}");
    let too_long = elelem
        .create_embeddings(EmbeddingRequest::new(SMALL, "word ".repeat(20_000)))
        .await
        .unwrap_err();
    assert!(too_long.to_string().contains("8191"), "{too_long}");
    let virtual_model = elelem
        .create_embeddings(EmbeddingRequest::new("virtual:x", "x"))
        .await
        .unwrap_err();
    assert!(invalid(&virtual_model), "{virtual_model}");
    assert_eq!(server.request_count(), 0);
}

#[tokio::test]
async fn a_provider_without_embeddings_refuses_with_a_typed_error_once() {
    let server = TestServer::start().await.unwrap();
    let fake = "[[models]]\nid = \"anthropic:fake-embed\"\ncapabilities = { embedding = true }\n";
    let elelem = elelem::Elelem::builder()
        .without_env_keys()
        .api_key("anthropic", "sk-ant-test")
        .base_url("anthropic", server.url())
        .models_toml("fake", fake)
        .retry_policy(fast_policy())
        .build()
        .unwrap();
    let error = elelem
        .create_embeddings(EmbeddingRequest::new("anthropic:fake-embed", "x"))
        .await
        .unwrap_err();
    match &error {
        ElelemError::Provider {
            error: ProviderError::Unsupported { operation },
            attempts,
            ..
        } => {
            assert_eq!(*operation, "embeddings");
            assert_eq!(attempts.len(), 1, "not retried");
        }
        other => panic!("expected Unsupported, got {other:?}"),
    }
    assert_eq!(server.request_count(), 0);
}

#[test]
fn the_blocking_client_embeds_from_a_plain_thread() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let server = runtime.block_on(TestServer::start()).unwrap();
    server.push(wire::openai_embeddings(
        UPSTREAM,
        &embedding_vectors(0, 1, 2),
        4,
    ));
    let url = server.url();
    let elelem = elelem::blocking::Elelem::builder()
        .without_env_keys()
        .api_key("openai", OPENAI_KEY)
        .base_url("openai", url)
        .build()
        .unwrap();
    let response = std::thread::spawn(move || {
        elelem
            .create_embeddings(EmbeddingRequest::new(SMALL, "x"))
            .unwrap()
    })
    .join()
    .unwrap();
    assert_eq!(response.elelem.cost, cost(4, "0.02"));
    drop(server);
}
