//! Ollama's native /api/chat over real HTTP: the shared JSON scenarios (Ollama
//! models have no price: every call is counted as unpriced), and its own shapes:
//! `format` "json" or a schema, options, thinking, token counts, any local model,
//! and the model list from /api/tags.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[macro_use]
mod scenarios;

use std::time::Duration;

use elelem::provider::{ProviderErrorKind, ProviderSettings};
use elelem::{ChatRequest, Elelem, ElelemBuilder, ElelemError, Message, ResponseFormat, Usd};
use elelem_testkit::wire::{self, OllamaChat};
use elelem_testkit::{ScriptedResponse, TestServer};
use scenarios::{fast_policy, Kit};
use serde_json::json;

const MODEL: &str = "ollama:llama3.2";

fn answer(text: &str, input: u64, output: u64) -> ScriptedResponse {
    OllamaChat::new("llama3.2", text)
        .counts(input, output)
        .into_response()
}

fn rate_limited() -> ScriptedResponse {
    wire::ollama_error(429, "too many requests, please retry later")
}

fn server_error() -> ScriptedResponse {
    wire::ollama_error(500, "llama runner process has terminated: exit status 2")
}

fn builder(server: &TestServer) -> ElelemBuilder {
    Elelem::builder()
        .without_env_keys()
        .base_url("ollama", server.root_url())
}

fn client(server: &TestServer) -> Elelem {
    builder(server).retry_policy(fast_policy()).build().unwrap()
}

/// No price: local models' cost is unknown.
const KIT: Kit = Kit {
    provider: "ollama",
    model: MODEL,
    path: "/api/chat",
    answer,
    rate_limited,
    server_error,
    builder,
    answer_cost: None,
};

json_scenarios!(KIT);

fn json_request(model: &str) -> ChatRequest {
    ChatRequest::new(
        model,
        vec![
            Message::system("You extract people."),
            Message::user("Alice is 30."),
        ],
    )
    .response_format(ResponseFormat::JsonObject)
    .temperature(0.2)
}

#[tokio::test]
async fn the_request_is_a_native_chat_request_with_format_json() {
    let server = TestServer::start().await.unwrap();
    server.push(answer(r#"{"name": "Alice"}"#, 30, 8));
    let elelem = client(&server);
    elelem
        .create_chat_completion(json_request(MODEL).max_tokens(50).extra("seed", 1))
        .await
        .unwrap();

    let request = server.last_request().unwrap();
    assert_eq!(request.path, "/api/chat");
    // No key is needed, so none is sent.
    assert_eq!(request.header("authorization"), None);
    let body = request.json().unwrap();
    assert_eq!(body["model"], "llama3.2");
    assert_eq!(body["stream"], false);
    assert_eq!(body["format"], "json");
    assert_eq!(
        body["options"],
        json!({"temperature": 0.2, "num_predict": 50, "seed": 1})
    );
    let messages = body["messages"].as_array().unwrap();
    assert_eq!(messages[0]["role"], "system");
    assert!(messages[0]["content"]
        .as_str()
        .unwrap()
        .starts_with("You extract people."));
    assert_eq!(
        messages[1],
        json!({"role": "user", "content": "Alice is 30."})
    );
    assert!(body.get("response_format").is_none() && body.get("temperature").is_none());
}

#[tokio::test]
async fn a_native_schema_is_sent_as_format() {
    let server = TestServer::start().await.unwrap();
    server.push(answer(r#"{"name": "Alice", "age": 30}"#, 30, 8));
    let elelem = client(&server);
    let schema = json!({
        "type": "object",
        "properties": {"name": {"type": "string"}, "age": {"type": "integer"}},
        "required": ["name", "age"]
    });
    let response = elelem
        .create_chat_completion(
            ChatRequest::new(MODEL, vec![Message::user("Alice is 30.")]).response_format(
                ResponseFormat::JsonSchema {
                    name: "person".into(),
                    schema: schema.clone(),
                    strict: None,
                },
            ),
        )
        .await
        .unwrap();
    assert_eq!(
        response.elelem.json,
        Some(json!({"name": "Alice", "age": 30}))
    );
    assert_eq!(
        server.last_request().unwrap().json().unwrap()["format"],
        schema
    );
}

#[tokio::test]
async fn any_local_model_can_be_called_and_is_unpriced() {
    let server = TestServer::start().await.unwrap();
    server.push(
        OllamaChat::new("mistral-nemo:latest", r#"{"ok": true}"#)
            .counts(40, 6)
            .thinking("Short answer."),
    );
    let elelem = client(&server);
    let response = elelem
        .create_chat_completion(json_request("ollama:mistral-nemo:latest").tags(["local"]))
        .await
        .unwrap();
    assert_eq!(response.elelem.answered_by, "ollama:mistral-nemo:latest");
    assert_eq!(response.elelem.reasoning.as_deref(), Some("Short answer."));
    assert_eq!(response.elelem.cost, Usd::ZERO);
    assert_eq!(response.model, "mistral-nemo:latest");
    assert!(response.created > 1_700_000_000);
    assert!(response.extra["x_ollama"]["eval_duration"]
        .as_u64()
        .is_some());
    let body = server.last_request().unwrap().json().unwrap();
    assert_eq!(body["model"], "mistral-nemo:latest");

    let stats = elelem.get_stats_by_tag("local");
    assert_eq!(stats.total_input_tokens, 40);
    assert_eq!(stats.total_output_tokens, 6);
    assert_eq!(stats.unpriced_calls, 1);
    assert_eq!(stats.total_cost_usd, Usd::ZERO);
}

#[tokio::test]
async fn a_missing_prompt_count_is_unknown_not_zero() {
    let server = TestServer::start().await.unwrap();
    server.push(
        OllamaChat::new("llama3.2", r#"{"ok": true}"#)
            .counts(0, 9)
            .without_prompt_count(),
    );
    let elelem = client(&server);
    let response = elelem
        .create_chat_completion(json_request(MODEL))
        .await
        .unwrap();
    let usage = response.usage.as_ref().unwrap();
    assert_eq!(usage.prompt_tokens, None);
    assert_eq!(usage.completion_tokens, Some(9));
    assert_eq!(usage.total_tokens, None);
}

#[tokio::test]
async fn a_model_that_is_not_pulled_is_a_clear_error() {
    let server = TestServer::start().await.unwrap();
    server.set_fallback(wire::ollama_error(
        404,
        "model \"llama9\" not found, try pulling it first",
    ));
    let elelem = client(&server);
    let error = elelem
        .create_chat_completion(json_request("ollama:llama9"))
        .await
        .unwrap_err();
    assert_eq!(server.request_count(), 1);
    match &error {
        ElelemError::Provider { error, .. } => {
            assert_eq!(error.kind(), Some(ProviderErrorKind::NotFound));
            assert!(
                error.to_string().contains("try pulling it first"),
                "{error}"
            );
        }
        other => panic!("expected a provider error, got {other:?}"),
    }
}

#[tokio::test]
async fn list_models_reads_api_tags() {
    let server = TestServer::start().await.unwrap();
    server.set_models(["qwen3:8b", "llama3.2:latest"]);
    // A base URL with Ollama's OpenAI prefix is trimmed to the root.
    let provider = elelem::providers::ollama::build(ProviderSettings {
        name: "ollama".into(),
        base_url: server.url(),
        api_key: None,
        api_key_env: None,
        timeout: Duration::from_secs(10),
        max_response_bytes: 1 << 20,
    })
    .unwrap();
    let list = provider.list_models().await.unwrap();
    assert_eq!(list.object, "list");
    let ids: Vec<&str> = list.data.iter().map(|m| m.id.as_str()).collect();
    assert_eq!(ids, ["ollama:llama3.2:latest", "ollama:qwen3:8b"]);
    assert!(list
        .data
        .iter()
        .all(|m| m.available && m.owned_by == "ollama"));
    assert_eq!(list.data[0].created, 1_746_405_464);
    let request = server.last_request().unwrap();
    assert_eq!(
        (request.method.as_str(), request.path.as_str()),
        ("GET", "/api/tags")
    );
}
