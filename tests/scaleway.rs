//! Scaleway over real HTTP: EUR prices converted once at the table rate, native
//! `json_schema` response format, and schema-violation retries.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::*;
use elelem::{ChatRequest, ElelemError, Message, ResponseFormat};
use elelem_testkit::wire::Completion;
use elelem_testkit::TestServer;
use serde_json::{json, Value};

const MODEL: &str = "scaleway:gpt-oss-120b";

fn person_schema() -> Value {
    json!({
        "type": "object",
        "properties": {
            "name": {"type": "string"},
            "age": {"type": "integer", "minimum": 0}
        },
        "required": ["name", "age"],
        "additionalProperties": false
    })
}

fn schema_request(model: &str) -> ChatRequest {
    ChatRequest::new(
        model,
        vec![Message::system(SYSTEM_PROMPT), Message::user(USER_PROMPT)],
    )
    .response_format(ResponseFormat::JsonSchema {
        name: "person".into(),
        schema: person_schema(),
        strict: Some(true),
    })
}

#[tokio::test]
async fn eur_prices_are_converted_at_the_table_rate_for_an_exact_usd_cost() {
    let server = TestServer::start().await.unwrap();
    server.push(
        Completion::new("gpt-oss-120b", r#"{"name": "Alice", "age": 30}"#)
            .usage(1_000, 500)
            .cached(400),
    );
    let elelem = client("scaleway", &server);

    let model = elelem.catalogue().model(MODEL).unwrap();
    assert_eq!(model.currency, "EUR");
    let prices = model.prices.unwrap();
    // EUR 0.15 / 0.60 x 1.16 USD per EUR.
    assert_eq!(prices.input.to_string(), "0.174");
    assert_eq!(prices.output.to_string(), "0.696");
    // No cached price in the catalogue: cached input is billed as input.
    assert_eq!(prices.cached_input, prices.input);

    let response = elelem
        .create_chat_completion(json_request(MODEL).tags(["eu"]))
        .await
        .unwrap();
    // 1000 x 0.174 + 500 x 0.696 = 174 + 348 = 522 micro-dollars.
    assert_eq!(response.elelem.cost, usd("0.000522"));
    let stats = elelem.get_stats_by_tag("eu");
    assert_eq!(stats.total_input_cost_usd, usd("0.000174"));
    assert_eq!(stats.total_output_cost_usd, usd("0.000348"));
    assert_eq!(stats.total_cost_usd, usd("0.000522"));

    let request = server.last_request().unwrap();
    assert_eq!(request.path, "/v1/chat/completions");
    assert_eq!(
        request.header("authorization"),
        Some(format!("Bearer {SCALEWAY_KEY}").as_str())
    );
    assert_eq!(body_of(&request)["model"], "gpt-oss-120b");
}

#[tokio::test]
async fn a_user_rate_changes_the_conversion() {
    let server = TestServer::start().await.unwrap();
    server.push(
        Completion::new("mistral-small-3.2-24b-instruct-2506", "{}").usage(1_000_000, 1_000_000),
    );
    let elelem = builder("scaleway", &server)
        .models_toml("rates", "[currencies]\nEUR = \"1.5\"")
        .build()
        .unwrap();
    let prices = elelem
        .catalogue()
        .model("scaleway:mistral-small-3.2-24b-instruct-2506")
        .unwrap()
        .prices
        .unwrap();
    assert_eq!(prices.input.to_string(), "0.225");
    assert_eq!(prices.output.to_string(), "0.525");
    let response = elelem
        .create_chat_completion(json_request("scaleway:mistral-small-3.2-24b-instruct-2506"))
        .await
        .unwrap();
    // One million tokens each way: EUR (0.15 + 0.35) x 1.5.
    assert_eq!(response.elelem.cost, usd("0.75"));
}

#[tokio::test]
async fn json_schema_is_sent_natively() {
    let server = TestServer::start().await.unwrap();
    server.push(Completion::new(
        "gemma-3-27b-it",
        r#"{"name": "Alice", "age": 30}"#,
    ));
    let elelem = client("scaleway", &server);

    let response = elelem
        .create_chat_completion(schema_request("scaleway:gemma-3-27b-it"))
        .await
        .unwrap();
    assert_eq!(
        response.elelem.json,
        Some(json!({"name": "Alice", "age": 30}))
    );

    let body = body_of(&server.last_request().unwrap());
    assert_eq!(
        body["response_format"],
        json!({
            "type": "json_schema",
            "json_schema": {"name": "person", "schema": person_schema(), "strict": true}
        })
    );
    // The instructions carry the schema as well.
    let system = body["messages"][0]["content"].as_str().unwrap();
    assert!(
        system.contains("The JSON must conform to this JSON schema"),
        "{system}"
    );
}

#[tokio::test]
async fn a_schema_violation_is_retried_then_the_valid_answer_is_returned() {
    let server = TestServer::start().await.unwrap();
    let wrong = r#"{"name": "Alice", "age": "thirty"}"#;
    server.push_many([
        Completion::new("gpt-oss-120b", wrong)
            .usage(100, 10)
            .into_response(),
        Completion::new("gpt-oss-120b", r#"{"name": "Alice", "age": 30}"#)
            .usage(150, 10)
            .into_response(),
    ]);
    let elelem = client("scaleway", &server);

    let response = elelem
        .create_chat_completion(schema_request(MODEL).temperature(0.8))
        .await
        .unwrap();
    assert_eq!(response.elelem.attempts, 2);
    assert_eq!(
        response.elelem.json,
        Some(json!({"name": "Alice", "age": 30}))
    );
    // Both attempts are paid for: 250 x 0.174 + 20 x 0.696 = 43.5 + 13.92 micro-dollars.
    assert_eq!(response.elelem.cost, usd("0.00005742"));

    let stats = elelem.get_stats();
    assert_eq!(stats.retry_analytics.json_schema_retries, 1);
    assert_eq!(stats.retry_analytics.json_parse_retries, 0);
    assert_eq!(stats.retry_analytics.temperature_reductions, 1);
    assert_eq!(stats.retry_analytics.total_retries, 1);
    assert_eq!(stats.total_calls, 1);
    assert_eq!(stats.total_input_tokens, 250);
    assert_eq!(stats.total_cost_usd, usd("0.00005742"));

    let bodies = bodies(&server);
    assert_eq!(bodies.len(), 2);
    assert_close(temperature_of(&bodies[0]).unwrap(), 0.8);
    assert_close(temperature_of(&bodies[1]).unwrap(), 0.7);
    for body in &bodies {
        assert_eq!(body["response_format"]["type"], "json_schema");
    }
    let messages = bodies[1]["messages"].as_array().unwrap();
    assert_eq!(messages.len(), 4);
    assert_eq!(messages[2], json!({"role": "assistant", "content": wrong}));
    let feedback = messages[3]["content"].as_str().unwrap();
    assert!(feedback.contains("/age"), "{feedback}");
    assert!(feedback.contains("integer"), "{feedback}");
}

#[tokio::test]
async fn an_answer_that_never_fits_the_schema_ends_in_invalid_json() {
    let server = TestServer::start().await.unwrap();
    server.set_fallback(Completion::new("gpt-oss-120b", r#"{"name": 7}"#));
    let elelem = client("scaleway", &server);

    let error = elelem
        .create_chat_completion(schema_request(MODEL).temperature(1.0))
        .await
        .unwrap_err();
    // The requested model is the provider's fallback: 3 JSON retries, then without
    // response_format, then give up.
    let ElelemError::InvalidJson { model, attempts } = &error else {
        panic!("expected InvalidJson, got {error:?}");
    };
    assert_eq!(model, MODEL);
    assert_eq!(attempts.len(), 5);
    assert_eq!(server.request_count(), 5);
    let stats = elelem.get_stats();
    assert_eq!(stats.retry_analytics.json_schema_retries, 4);
    assert_eq!(stats.retry_analytics.response_format_removals, 1);
    assert_eq!(stats.retry_analytics.fallback_model_usage, 0);
    assert_eq!(stats.retry_analytics.final_failures, 1);
    let text = error.to_string();
    assert!(text.contains("violates the schema"), "{text}");
}
