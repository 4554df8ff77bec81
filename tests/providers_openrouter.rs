//! OpenRouter over real HTTP: the shared JSON scenarios, and its run-time cost:
//! the `usage.cost` each response reports is recorded exactly, whatever the price
//! table says, for listed and unlisted models.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[macro_use]
mod scenarios;

use elelem::provider::ProviderErrorKind;
use elelem::{ChatRequest, Elelem, ElelemBuilder, ElelemError, Message, ResponseFormat, Usd};
use elelem_testkit::wire::{self, OpenRouterCompletion};
use elelem_testkit::{ScriptedResponse, TestServer};
use scenarios::{fast_policy, usd, Kit};

const KEY: &str = "sk-or-v1-test-SECRET-123";
const MODEL: &str = "openrouter:openai/gpt-4.1-mini";
/// What every scripted answer of the suite reports.
const REPORTED: &str = "0.000987654321";

fn answer(text: &str, input: u64, output: u64) -> ScriptedResponse {
    OpenRouterCompletion::new("openai/gpt-4.1-mini", text)
        .usage(input, output)
        .cost(REPORTED)
        .into_response()
}

fn rate_limited() -> ScriptedResponse {
    wire::openrouter_error(
        429,
        "openai/gpt-4.1-mini is temporarily rate-limited upstream. Please retry shortly.",
    )
}

fn server_error() -> ScriptedResponse {
    wire::openrouter_error(502, "Provider returned error")
}

fn base_url(server: &TestServer) -> String {
    format!("{}/api/v1", server.root_url())
}

fn builder(server: &TestServer) -> ElelemBuilder {
    Elelem::builder()
        .without_env_keys()
        .api_key("openrouter", KEY)
        .base_url("openrouter", base_url(server))
}

fn client(server: &TestServer) -> Elelem {
    builder(server).retry_policy(fast_policy()).build().unwrap()
}

/// The reported cost, not the table's 1200 x $0.40 + 300 x $1.60 = $0.00096.
const KIT: Kit = Kit {
    provider: "openrouter",
    model: MODEL,
    path: "/api/v1/chat/completions",
    answer,
    rate_limited,
    server_error,
    builder,
    answer_cost: Some(REPORTED),
};

json_scenarios!(KIT);

fn json_request(model: &str) -> ChatRequest {
    ChatRequest::new(model, vec![Message::user("Alice is 30.")])
        .response_format(ResponseFormat::JsonObject)
}

#[tokio::test]
async fn the_reported_cost_is_recorded_exactly_not_the_table_price() {
    let server = TestServer::start().await.unwrap();
    server.push(answer(r#"{"ok": true}"#, 1_200, 300));
    let elelem = client(&server);
    let response = elelem
        .create_chat_completion(json_request(MODEL).tags(["routed"]))
        .await
        .unwrap();

    let table = elelem
        .catalogue()
        .model(MODEL)
        .unwrap()
        .prices
        .unwrap()
        .cost(response.usage.as_ref().unwrap())
        .total();
    assert_eq!(table, usd("0.00096"));
    assert_eq!(response.elelem.cost, usd(REPORTED));
    assert_ne!(response.elelem.cost, table);

    let stats = elelem.get_stats_by_tag("routed");
    assert_eq!(stats.total_cost_usd, usd(REPORTED));
    // The split follows the table's proportions and adds up exactly.
    assert_eq!(
        stats.total_input_cost_usd + stats.total_output_cost_usd,
        usd(REPORTED)
    );
    assert_eq!(stats.total_input_cost_usd, usd("0.0004938271605"));
    assert_eq!(stats.unpriced_calls, 0);

    let request = server.last_request().unwrap();
    assert_eq!(request.path, "/api/v1/chat/completions");
    assert_eq!(
        request.header("authorization"),
        Some(format!("Bearer {KEY}").as_str())
    );
    let body = request.json().unwrap();
    assert_eq!(body["model"], "openai/gpt-4.1-mini");
    assert_eq!(
        body["response_format"],
        serde_json::json!({"type": "json_object"})
    );
}

#[tokio::test]
async fn small_costs_in_exponent_form_are_exact() {
    let server = TestServer::start().await.unwrap();
    server.push(
        OpenRouterCompletion::new("openai/gpt-4.1-mini", r#"{"ok": true}"#)
            .usage(3, 1)
            .cost("1.5e-7"),
    );
    let elelem = client(&server);
    let response = elelem
        .create_chat_completion(json_request(MODEL))
        .await
        .unwrap();
    assert_eq!(response.elelem.cost, usd("0.00000015"));
}

#[tokio::test]
async fn unlisted_models_are_allowed_and_costed_by_the_report() {
    let server = TestServer::start().await.unwrap();
    server.push_many([
        OpenRouterCompletion::new("acme/unlisted-chat-model", r#"{"ok": true}"#)
            .provider("Groq")
            .usage(500, 100)
            .cost("0.0003745")
            .into_response(),
        OpenRouterCompletion::new("deepseek/deepseek-r1:free", r#"{"ok": true}"#)
            .usage(500, 100)
            .cost("0")
            .into_response(),
    ]);
    let elelem = client(&server);
    let response = elelem
        .create_chat_completion(json_request("openrouter:acme/unlisted-chat-model"))
        .await
        .unwrap();
    assert_eq!(response.elelem.cost, usd("0.0003745"));
    assert_eq!(response.extra["provider"], "Groq");
    let free = elelem
        .create_chat_completion(json_request("openrouter:deepseek/deepseek-r1:free"))
        .await
        .unwrap();
    assert_eq!(free.elelem.cost, Usd::ZERO);
    assert_eq!(
        server.last_request().unwrap().json().unwrap()["model"],
        "deepseek/deepseek-r1:free"
    );

    // A reported cost is a known cost, even for a model without a table price.
    let stats = elelem.get_stats();
    assert_eq!(stats.unpriced_calls, 0);
    assert_eq!(stats.total_cost_usd, usd("0.0003745"));
    // Both calls' input is costed from the report (no table: all of it is input).
    assert_eq!(stats.total_input_cost_usd, usd("0.0003745"));
}

#[tokio::test]
async fn exhausted_credits_are_not_retried() {
    let server = TestServer::start().await.unwrap();
    server.set_fallback(wire::openrouter_error(
        402,
        "Insufficient credits. Add more using https://openrouter.ai/credits",
    ));
    let elelem = client(&server);
    let error = elelem
        .create_chat_completion(json_request(MODEL))
        .await
        .unwrap_err();
    assert_eq!(server.request_count(), 1);
    match &error {
        ElelemError::Provider { error, .. } => {
            assert_eq!(error.kind(), Some(ProviderErrorKind::QuotaExhausted));
        }
        other => panic!("expected a provider error, got {other:?}"),
    }
}
