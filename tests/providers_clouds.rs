//! The OpenAI-compatible clouds (crate elelem-compat-clouds) over real HTTP: every
//! provider is registered under its feature, sends the key as a bearer token to
//! `{base_url}/chat/completions` with its upstream model name, and is billed at
//! its catalogue price; DeepSeek runs the shared JSON scenarios; and each quirk
//! (DeepSeek's cache hits, Perplexity's reported cost with search fees, Mistral's
//! `random_seed` and unrequested stream usage, Gemini's thinking tokens outside
//! `completion_tokens`) is honoured.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[macro_use]
mod scenarios;

use elelem::{ChatRequest, Elelem, ElelemBuilder, Message, ResponseFormat};
use elelem_testkit::wire::{self, Completion};
use elelem_testkit::{ScriptedResponse, TestServer};
use scenarios::{fast_policy, usd, Kit};
use serde_json::{json, Value};

/// The fake key every cloud gets in these tests.
const KEY: &str = "cloud-test-SECRET-123";

fn builder_for(provider: &str, server: &TestServer) -> ElelemBuilder {
    Elelem::builder()
        .without_env_keys()
        .api_key(provider, KEY)
        .base_url(provider, server.url())
        .retry_policy(fast_policy())
}

fn deepseek_answer(text: &str, input: u64, output: u64) -> ScriptedResponse {
    Completion::new("deepseek-chat", text)
        .usage(input, output)
        .into_response()
}

fn deepseek_builder(server: &TestServer) -> ElelemBuilder {
    builder_for("deepseek", server)
}

/// deepseek-chat: 1200 x $0.28 + 300 x $0.42 per million.
const DEEPSEEK: Kit = Kit {
    provider: "deepseek",
    model: "deepseek:deepseek-chat",
    path: "/v1/chat/completions",
    answer: deepseek_answer,
    rate_limited: || wire::rate_limited(None),
    server_error: || wire::server_error(503),
    builder: deepseek_builder,
    answer_cost: Some("0.000462"),
};

json_scenarios!(DEEPSEEK);

fn json_request(model: &str) -> ChatRequest {
    ChatRequest::new(
        model,
        vec![
            Message::system("You extract data."),
            Message::user("Alice is 30."),
        ],
    )
    .response_format(ResponseFormat::JsonObject)
}

fn body_of(server: &TestServer) -> Value {
    serde_json::from_slice(&server.last_request().unwrap().body).unwrap()
}

/// Provider, model string, upstream name, and the cost of 1M input + 1M output
/// tokens at its catalogue price.
const CLOUDS: &[(&str, &str, &str, &str)] = &[
    (
        "mistral",
        "mistral:mistral-small-latest",
        "mistral-small-latest",
        "0.40",
    ),
    (
        "deepseek",
        "deepseek:deepseek-chat",
        "deepseek-chat",
        "0.70",
    ),
    (
        "together",
        "together:meta-llama/Llama-3.3-70B-Instruct-Turbo",
        "meta-llama/Llama-3.3-70B-Instruct-Turbo",
        "1.76",
    ),
    (
        "fireworks",
        "fireworks:llama-v3p3-70b-instruct",
        "accounts/fireworks/models/llama-v3p3-70b-instruct",
        "1.80",
    ),
    (
        "cerebras",
        "cerebras:llama-3.3-70b",
        "llama-3.3-70b",
        "2.05",
    ),
    (
        "sambanova",
        "sambanova:Meta-Llama-3.3-70B-Instruct",
        "Meta-Llama-3.3-70B-Instruct",
        "1.80",
    ),
    (
        "novita",
        "novita:meta-llama/llama-3.3-70b-instruct",
        "meta-llama/llama-3.3-70b-instruct",
        "0.52",
    ),
    (
        "parasail",
        "parasail:parasail-gpt-oss-120b",
        "parasail-gpt-oss-120b",
        "0.75",
    ),
    (
        "baseten",
        "baseten:openai/gpt-oss-120b",
        "openai/gpt-oss-120b",
        "0.60",
    ),
    ("perplexity", "perplexity:sonar", "sonar", "2.00"),
    (
        "gemini-openai",
        "gemini-openai:gemini-2.0-flash",
        "gemini-2.0-flash",
        "0.50",
    ),
];

#[test]
fn every_cloud_is_registered_with_its_endpoint_and_key_variable() {
    let registered = elelem::providers::registered();
    let elelem = Elelem::builder().without_env_keys().build().unwrap();
    for (provider, base_url, key_env) in [
        ("mistral", "https://api.mistral.ai/v1", "MISTRAL_API_KEY"),
        (
            "deepseek",
            "https://api.deepseek.com/v1",
            "DEEPSEEK_API_KEY",
        ),
        (
            "together",
            "https://api.together.xyz/v1",
            "TOGETHER_API_KEY",
        ),
        (
            "fireworks",
            "https://api.fireworks.ai/inference/v1",
            "FIREWORKS_API_KEY",
        ),
        ("cerebras", "https://api.cerebras.ai/v1", "CEREBRAS_API_KEY"),
        (
            "sambanova",
            "https://api.sambanova.ai/v1",
            "SAMBANOVA_API_KEY",
        ),
        (
            "novita",
            "https://api.novita.ai/v3/openai",
            "NOVITA_API_KEY",
        ),
        ("parasail", "https://api.parasail.io/v1", "PARASAIL_API_KEY"),
        (
            "baseten",
            "https://inference.baseten.co/v1",
            "BASETEN_API_KEY",
        ),
        (
            "perplexity",
            "https://api.perplexity.ai",
            "PERPLEXITY_API_KEY",
        ),
        (
            "gemini-openai",
            "https://generativelanguage.googleapis.com/v1beta/openai",
            "GEMINI_API_KEY",
        ),
    ] {
        assert!(
            registered.contains(&provider),
            "{provider} is not registered"
        );
        let entry = elelem.catalogue().provider(provider).unwrap();
        assert_eq!(entry.base_url, base_url, "{provider}");
        assert_eq!(entry.api_key_env.as_deref(), Some(key_env), "{provider}");
    }
    assert_eq!(CLOUDS.len(), 11);
}

#[tokio::test]
async fn every_cloud_answers_over_its_wire_at_its_catalogue_price() {
    for (provider, model, upstream, cost) in CLOUDS {
        let server = TestServer::start().await.unwrap();
        server.push(Completion::new(upstream, r#"{"name": "Alice"}"#).usage(1_000_000, 1_000_000));
        let elelem = builder_for(provider, &server).build().unwrap();
        let response = elelem
            .create_chat_completion(json_request(model))
            .await
            .unwrap_or_else(|e| panic!("{model}: {e}"));
        assert_eq!(
            response.elelem.json,
            Some(json!({"name": "Alice"})),
            "{model}"
        );
        assert_eq!(response.elelem.cost, usd(cost), "{model}");
        let request = server.last_request().unwrap();
        assert_eq!(request.path, "/v1/chat/completions", "{model}");
        assert_eq!(
            request.header("authorization"),
            Some(format!("Bearer {KEY}").as_str()),
            "{model}"
        );
        let body = body_of(&server);
        assert_eq!(body["model"], *upstream, "{model}");
        // Perplexity has no json_object mode: JSON is asked for in the instructions.
        let format = body.get("response_format").cloned();
        if *provider == "perplexity" {
            assert_eq!(format, None, "{model}");
        } else {
            assert_eq!(format, Some(json!({"type": "json_object"})), "{model}");
        }
    }
}

#[tokio::test]
async fn a_model_missing_from_a_marketplace_catalogue_is_called_unpriced() {
    let server = TestServer::start().await.unwrap();
    server.push(Completion::new("Qwen/Qwen3-Coder-480B", r#"{"ok": true}"#).usage(10, 10));
    let elelem = builder_for("together", &server).build().unwrap();
    let response = elelem
        .create_chat_completion(json_request("together:Qwen/Qwen3-Coder-480B"))
        .await
        .unwrap();
    assert_eq!(response.elelem.cost, usd("0"));
    assert_eq!(elelem.get_stats().unpriced_calls, 1);
    assert_eq!(body_of(&server)["model"], "Qwen/Qwen3-Coder-480B");
}

#[tokio::test]
async fn deepseek_cache_hits_are_billed_at_the_cached_price() {
    let server = TestServer::start().await.unwrap();
    let mut body = Completion::new("deepseek-chat", r#"{"ok": true}"#)
        .usage(1_000_000, 1_000_000)
        .to_json();
    let usage = body["usage"].as_object_mut().unwrap();
    usage.insert("prompt_cache_hit_tokens".into(), json!(600_000));
    usage.insert("prompt_cache_miss_tokens".into(), json!(400_000));
    server.push(ScriptedResponse::json(200, body));
    let elelem = builder_for("deepseek", &server).build().unwrap();
    let response = elelem
        .create_chat_completion(json_request("deepseek:deepseek-chat"))
        .await
        .unwrap();
    // 400k x 0.28 + 600k x 0.028 + 1M x 0.42.
    assert_eq!(response.elelem.cost, usd("0.5488"));
    assert_eq!(response.usage.unwrap().cached_tokens(), Some(600_000));
}

#[tokio::test]
async fn perplexity_records_the_cost_it_reports_search_fees_included() {
    let server = TestServer::start().await.unwrap();
    let mut body = Completion::new("sonar-pro", r#"{"ok": true}"#)
        .usage(1_000, 2_000)
        .to_json();
    let usage = body["usage"].as_object_mut().unwrap();
    usage.insert("search_context_size".into(), json!("medium"));
    usage.insert("citation_tokens".into(), json!(0));
    usage.insert("num_search_queries".into(), json!(1));
    // Tokens: 1k x $3 + 2k x $15 per million = 0.033; request fee (medium) 0.010.
    usage.insert(
        "cost".into(),
        json!({"input_tokens_cost": 0.003, "output_tokens_cost": 0.03,
               "request_cost": 0.01, "total_cost": 0.043}),
    );
    body["citations"] = json!(["https://example.com/a"]);
    server.push(ScriptedResponse::json(200, body.clone()));
    let elelem = builder_for("perplexity", &server).build().unwrap();
    let response = elelem
        .create_chat_completion(json_request("perplexity:sonar-pro").tags(["search"]))
        .await
        .unwrap();
    assert_eq!(response.elelem.cost, usd("0.043"));
    assert_eq!(
        elelem.get_stats_by_tag("search").total_cost_usd,
        usd("0.043")
    );
    assert_eq!(
        response.extra["citations"],
        json!(["https://example.com/a"])
    );

    // Without a reported cost, the table's token prices apply (no request fee).
    body["usage"].as_object_mut().unwrap().remove("cost");
    server.push(ScriptedResponse::json(200, body));
    let response = elelem
        .create_chat_completion(json_request("perplexity:sonar-pro"))
        .await
        .unwrap();
    assert_eq!(response.elelem.cost, usd("0.033"));
}

#[tokio::test]
async fn mistral_gets_random_seed_and_no_stream_options() {
    let server = TestServer::start().await.unwrap();
    server.push(Completion::new("mistral-small-latest", r#"{"ok": true}"#).usage(10, 10));
    let elelem = builder_for("mistral", &server).build().unwrap();
    elelem
        .create_chat_completion(
            json_request("mistral:mistral-small-latest").extra("seed", json!(42)),
        )
        .await
        .unwrap();
    let body = body_of(&server);
    assert_eq!(body["random_seed"], 42);
    assert!(body.get("seed").is_none(), "{body}");
    assert!(body.get("stream_options").is_none(), "{body}");
}

#[tokio::test]
async fn gemini_openai_thinking_tokens_are_billed_as_output() {
    let server = TestServer::start().await.unwrap();
    let mut body = Completion::new("gemini-2.5-flash", r#"{"ok": true}"#)
        .usage(1_000_000, 500_000)
        .to_json();
    // Google's endpoint: completion_tokens without the 500k thinking tokens.
    body["usage"]["total_tokens"] = json!(2_000_000);
    server.push(ScriptedResponse::json(200, body));
    let elelem = builder_for("gemini-openai", &server).build().unwrap();
    let response = elelem
        .create_chat_completion(json_request("gemini-openai:gemini-2.5-flash"))
        .await
        .unwrap();
    // 1M x 0.30 + (500k + 500k) x 2.50.
    assert_eq!(response.elelem.cost, usd("2.80"));
    let usage = response.usage.unwrap();
    assert_eq!(usage.completion_tokens, Some(1_000_000));
    assert_eq!(usage.reasoning_tokens(), Some(500_000));
}
