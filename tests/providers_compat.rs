//! Any OpenAI-compatible server (vLLM, llama.cpp, LM Studio, LiteLLM) over real
//! HTTP: the shared JSON scenarios on a model the catalogue does not know, and
//! the configuration paths: in code, in a models file with `kind`, with and
//! without a key; unpriced calls are recorded as unknown cost and counted.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[macro_use]
mod scenarios;

use std::sync::{Arc, Mutex};

use elelem::cost::{CostSink, InMemoryStatsSink, StatsQuery, UsageRecord};
use elelem::{
    ApiKey, ChatRequest, Elelem, ElelemBuilder, ElelemError, Message, ResponseFormat, Stats, Usd,
};
use elelem_testkit::wire::{self, Completion};
use elelem_testkit::{ScriptedResponse, TestServer};
use scenarios::{fast_policy, usd, Kit};

const KEY: &str = "sk-local-test-SECRET-123";
const MODEL: &str = "local:llama-3.1-8b";

fn answer(text: &str, input: u64, output: u64) -> ScriptedResponse {
    Completion::new("meta-llama/Llama-3.1-8B-Instruct", text)
        .usage(input, output)
        .into_response()
}

fn rate_limited() -> ScriptedResponse {
    wire::rate_limited(None)
}

fn server_error() -> ScriptedResponse {
    wire::html_502()
}

fn builder(server: &TestServer) -> ElelemBuilder {
    Elelem::builder().without_env_keys().openai_compatible(
        "local",
        server.url(),
        Some(ApiKey::new(KEY)),
    )
}

/// An unlisted model: no price, so every call is unpriced.
const KIT: Kit = Kit {
    provider: "local",
    model: MODEL,
    path: "/v1/chat/completions",
    answer,
    rate_limited,
    server_error,
    builder,
    answer_cost: None,
};

json_scenarios!(KIT);

/// Keeps every record, and stats through an in-memory sink.
#[derive(Debug, Default)]
struct Recorder {
    records: Mutex<Vec<UsageRecord>>,
    stats: InMemoryStatsSink,
}

impl CostSink for Recorder {
    fn record(&self, record: &UsageRecord) {
        self.records.lock().unwrap().push(record.clone());
        self.stats.record(record);
    }

    fn stats(&self, query: &StatsQuery) -> Option<Stats> {
        self.stats.stats(query)
    }
}

fn json_request(model: &str) -> ChatRequest {
    ChatRequest::new(model, vec![Message::user("Alice is 30.")])
        .response_format(ResponseFormat::JsonObject)
}

#[tokio::test]
async fn a_server_configured_in_code_takes_any_model_and_records_unknown_cost() {
    let server = TestServer::start().await.unwrap();
    server.push(answer(r#"{"ok": true}"#, 100, 20));
    let recorder = Arc::new(Recorder::default());
    let elelem = Elelem::builder()
        .without_env_keys()
        .openai_compatible("local", server.url(), Some(ApiKey::new(KEY)))
        .cost_sink(recorder.clone())
        .retry_policy(fast_policy())
        .build()
        .unwrap();
    let response = elelem
        .create_chat_completion(json_request(MODEL).tags(["local"]))
        .await
        .unwrap();
    assert_eq!(response.elelem.answered_by, MODEL);
    assert_eq!(response.elelem.cost, Usd::ZERO);

    let request = server.last_request().unwrap();
    assert_eq!(request.path, "/v1/chat/completions");
    assert_eq!(
        request.header("authorization"),
        Some(format!("Bearer {KEY}").as_str())
    );
    let body = request.json().unwrap();
    assert_eq!(body["model"], "llama-3.1-8b");
    assert_eq!(
        body["response_format"],
        serde_json::json!({"type": "json_object"})
    );

    let records = recorder.records.lock().unwrap().clone();
    assert_eq!(records.len(), 1);
    assert!(!records[0].price_known);
    assert_eq!(records[0].provider, "local");
    assert_eq!(records[0].tokens.input, Some(100));
    assert_eq!(records[0].total_cost(), Usd::ZERO);

    let stats = elelem.get_stats_by_tag("local");
    assert_eq!(stats.unpriced_calls, 1);
    assert_eq!(stats.total_calls, 1);
    assert_eq!(stats.total_input_tokens, 100);
    // The extension counter appears in the stats JSON only when non-zero.
    let json = serde_json::to_value(&stats).unwrap();
    assert_eq!(json["unpriced_calls"], 1);
    assert!(serde_json::to_value(Stats::default())
        .unwrap()
        .get("unpriced_calls")
        .is_none());
}

#[tokio::test]
async fn without_a_key_no_authorization_is_sent() {
    let server = TestServer::start().await.unwrap();
    server.push(answer(r#"{"ok": true}"#, 10, 5));
    let elelem = Elelem::builder()
        .without_env_keys()
        .openai_compatible("lmstudio", server.url(), None)
        .build()
        .unwrap();
    elelem
        .create_chat_completion(json_request("lmstudio:qwen2.5-7b-instruct"))
        .await
        .unwrap();
    let request = server.last_request().unwrap();
    assert_eq!(request.header("authorization"), None);
    assert_eq!(request.json().unwrap()["model"], "qwen2.5-7b-instruct");
}

#[tokio::test]
async fn a_models_file_provider_with_kind_and_priced_models() {
    let server = TestServer::start().await.unwrap();
    server.push_many([
        answer(r#"{"ok": true}"#, 1_000_000, 1_000_000),
        answer(r#"{"ok": true}"#, 10, 5),
    ]);
    let toml = format!(
        r#"
[[providers]]
name = "gateway"
kind = "openai-compatible"
base_url = "{}"
api_key_env = "ELELEM_TEST_GATEWAY_KEY_UNSET"
allow_unknown_models = true

[[models]]
id = "gateway:llama-70b"
upstream = "meta-llama/Llama-3.3-70B-Instruct"
price = {{ input = "0.60", output = "0.80" }}
capabilities = {{ json_mode = false }}
"#,
        server.url()
    );
    let elelem = Elelem::builder()
        .without_env_keys()
        .api_key("gateway", KEY)
        .models_toml("gateway.toml", toml.clone())
        .retry_policy(fast_policy())
        .build()
        .unwrap();

    // A listed model: its upstream id, its capabilities, its exact price.
    let response = elelem
        .create_chat_completion(json_request("gateway:llama-70b"))
        .await
        .unwrap();
    assert_eq!(response.elelem.cost, usd("1.40"));
    let body = server.requests()[0].json().unwrap();
    assert_eq!(body["model"], "meta-llama/Llama-3.3-70B-Instruct");
    // json_mode = false: JSON by instructions only.
    assert!(body.get("response_format").is_none(), "{body}");
    assert_eq!(
        server.requests()[0].header("authorization"),
        Some(format!("Bearer {KEY}").as_str())
    );
    // An unlisted one is allowed and unpriced.
    elelem
        .create_chat_completion(json_request("gateway:mixtral"))
        .await
        .unwrap();
    let stats = elelem.get_stats();
    assert_eq!(stats.total_calls, 2);
    assert_eq!(stats.unpriced_calls, 1);
    assert_eq!(stats.total_cost_usd, usd("1.40"));

    // With an api_key_env and no key, the provider names the variable to set.
    let keyless = Elelem::builder()
        .without_env_keys()
        .models_toml("gateway.toml", toml)
        .build()
        .unwrap();
    let error = keyless
        .create_chat_completion(json_request("gateway:llama-70b"))
        .await
        .unwrap_err();
    assert!(
        matches!(&error, ElelemError::MissingApiKey { env_var: Some(var), .. } if var == "ELELEM_TEST_GATEWAY_KEY_UNSET"),
        "{error:?}"
    );
}

#[tokio::test]
async fn unknown_kinds_and_unknown_models_elsewhere_are_refused() {
    let error = Elelem::builder()
        .without_env_keys()
        .models_toml(
            "bad.toml",
            "[[providers]]\nname = \"x\"\nkind = \"no-such-plugin\"\nbase_url = \"http://127.0.0.1:9/v1\"\n",
        )
        .build()
        .unwrap_err();
    assert!(error.to_string().contains("no-such-plugin"), "{error}");

    // Providers without allow_unknown_models still refuse unlisted models.
    let elelem = Elelem::builder()
        .without_env_keys()
        .api_key("groq", "gsk-test")
        .build()
        .unwrap();
    let error = elelem
        .create_chat_completion(json_request("groq:no-such-model"))
        .await
        .unwrap_err();
    assert!(
        matches!(error, ElelemError::UnknownModel { .. }),
        "{error:?}"
    );
}
