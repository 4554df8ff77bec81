//! Typed structured output over real HTTP: the schema derived from a Rust type goes
//! on the wire (natively and strict where supported, as instructions elsewhere),
//! wrong answers are retried with the problem fed back, and the answer comes back
//! as the type. User checks join schema validation.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::*;
use elelem::{ChatRequest, ElelemError, Message};
use elelem_testkit::wire::Completion;
use elelem_testkit::TestServer;
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::json;

#[derive(Debug, PartialEq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
enum Department {
    Engineering,
    Research,
}

#[derive(Debug, PartialEq, Deserialize, JsonSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
enum Contact {
    Email { address: String },
    Phone { number: String, mobile: bool },
}

#[derive(Debug, PartialEq, Deserialize, JsonSchema)]
struct Address {
    city: String,
    country: Option<String>,
}

#[derive(Debug, PartialEq, Deserialize, JsonSchema)]
struct Employee {
    name: String,
    age: u32,
    department: Department,
    address: Address,
    nickname: Option<String>,
    contacts: Vec<Contact>,
}

fn expected() -> Employee {
    Employee {
        name: "Ada".into(),
        age: 36,
        department: Department::Research,
        address: Address {
            city: "London".into(),
            country: None,
        },
        nickname: Some("Countess".into()),
        contacts: vec![
            Contact::Email {
                address: "ada@example.com".into(),
            },
            Contact::Phone {
                number: "+44 1".into(),
                mobile: false,
            },
        ],
    }
}

const GOOD: &str = r#"{"name": "Ada", "age": 36, "department": "research",
    "address": {"city": "London", "country": null}, "nickname": "Countess",
    "contacts": [{"kind": "email", "address": "ada@example.com"},
                 {"kind": "phone", "number": "+44 1", "mobile": false}]}"#;

/// Wrong twice over: an unknown department, and an age that is a string.
const WRONG: &str = r#"{"name": "Ada", "age": "thirty-six", "department": "poetry",
    "address": {"city": "London"}, "contacts": []}"#;

fn request(model: &str) -> ChatRequest {
    ChatRequest::new(
        model,
        vec![
            Message::system("You extract employee records."),
            Message::user("Ada, 36, research, London; ada@example.com, +44 1 (landline)."),
        ],
    )
    .temperature(0.8)
    .tags(["typed"])
}

#[tokio::test]
async fn a_nested_struct_with_enums_and_options_is_generated_after_a_retry() {
    let server = TestServer::start().await.unwrap();
    server.push(Completion::new("gpt-4.1-mini", WRONG).usage(100, 20));
    server.push(Completion::new("gpt-4.1-mini", GOOD).usage(150, 40));
    let elelem = client("openai", &server);

    let generated = elelem
        .generate::<Employee>(request("openai:gpt-4.1-mini"))
        .await
        .unwrap();

    assert_eq!(generated.value, expected());
    assert_eq!(generated.completion.elelem.attempts, 2);
    // 250 input x 0.40 + 60 output x 1.60 per 1M tokens.
    assert_eq!(generated.cost(), usd("0.000196"));
    let stats = elelem.get_stats_by_tag("typed");
    assert_eq!(stats.total_calls, 1);
    assert_eq!(stats.retry_analytics.json_schema_retries, 1);
    assert_eq!(stats.total_cost_usd, usd("0.000196"));

    let sent = bodies(&server);
    assert_eq!(sent.len(), 2);
    // gpt-4.1-mini supports json_schema: the derived schema goes natively, strict.
    let format = &sent[0]["response_format"];
    assert_eq!(format["type"], "json_schema");
    assert_eq!(format["json_schema"]["name"], "Employee");
    assert_eq!(format["json_schema"]["strict"], true);
    let schema = &format["json_schema"]["schema"];
    assert_eq!(schema["additionalProperties"], false);
    assert_eq!(
        schema["required"],
        json!([
            "name",
            "age",
            "department",
            "address",
            "nickname",
            "contacts"
        ])
    );
    assert_eq!(
        schema["$defs"]["Address"]["required"],
        json!(["city", "country"])
    );
    // The retry quotes the rejected answer and says what was wrong with it.
    let retry = sent[1]["messages"].as_array().unwrap();
    let n = retry.len();
    assert_eq!(retry[n - 2]["role"], "assistant");
    assert!(retry[n - 2]["content"].as_str().unwrap().contains("poetry"));
    let feedback = retry[n - 1]["content"].as_str().unwrap();
    assert!(
        feedback.contains("does not satisfy the JSON schema"),
        "{feedback}"
    );
    assert!(feedback.contains("thirty-six"), "{feedback}");
}

#[tokio::test]
async fn models_without_native_schemas_get_instructions_and_local_validation() {
    let server = TestServer::start().await.unwrap();
    server.push(
        Completion::new(
            "moonshotai/kimi-k2-instruct",
            &format!("```json\n{GOOD}\n```"),
        )
        .groq(),
    );
    let elelem = client("groq", &server);

    let generated = elelem
        .generate::<Employee>(request("groq:moonshotai/kimi-k2-instruct"))
        .await
        .unwrap();

    assert_eq!(generated.value, expected());
    let body = body_of(&server.last_request().unwrap());
    assert_eq!(body["response_format"], json!({"type": "json_object"}));
    let system = body["messages"][0]["content"].as_str().unwrap();
    assert!(system.contains("JSON schema"), "{system}");
    assert!(system.contains("\"department\""), "{system}");
}

/// Seats come in pairs: the schema says "an integer", serde says more.
#[derive(Debug, PartialEq, Deserialize)]
#[serde(try_from = "u32")]
struct EvenSeats(u32);

impl TryFrom<u32> for EvenSeats {
    type Error = String;
    fn try_from(n: u32) -> Result<Self, String> {
        if n.is_multiple_of(2) {
            Ok(EvenSeats(n))
        } else {
            Err(format!("{n} seats cannot be split into pairs"))
        }
    }
}

#[derive(Debug, PartialEq, Deserialize, JsonSchema)]
struct Booking {
    #[schemars(with = "u32")]
    seats: EvenSeats,
}

#[tokio::test]
async fn an_answer_that_validates_but_does_not_deserialize_is_retried_with_the_serde_error() {
    let server = TestServer::start().await.unwrap();
    server.push(Completion::new("gpt-4.1-mini", r#"{"seats": 3}"#));
    server.push(Completion::new("gpt-4.1-mini", r#"{"seats": 4}"#));
    let elelem = client("openai", &server);

    let booking = elelem
        .generate::<Booking>(request("openai:gpt-4.1-mini"))
        .await
        .unwrap();

    assert_eq!(
        booking.value,
        Booking {
            seats: EvenSeats(4)
        }
    );
    assert_eq!(elelem.get_stats().retry_analytics.json_schema_retries, 1);
    let retry = &bodies(&server)[1];
    let feedback = retry["messages"].as_array().unwrap().last().unwrap()["content"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        feedback.contains("cannot be read as a Booking"),
        "{feedback}"
    );
    assert!(
        feedback.contains("3 seats cannot be split into pairs"),
        "{feedback}"
    );
}

#[tokio::test]
async fn a_user_check_feeds_its_message_back_and_counts_as_a_schema_retry() {
    let server = TestServer::start().await.unwrap();
    server.push(Completion::new(
        "gpt-4.1-mini",
        r#"{"name": "Bob", "age": 3}"#,
    ));
    server.push(Completion::new(
        "gpt-4.1-mini",
        r#"{"name": "Bob", "age": 30}"#,
    ));
    let elelem = client("openai", &server);

    let request = json_request("openai:gpt-4.1-mini").check(|v| match v["age"].as_u64() {
        Some(age) if age >= 18 => Ok(()),
        _ => Err("`age` must be at least 18: only adults are listed".into()),
    });
    let value = elelem.generate_json(request).await.unwrap();

    assert_eq!(value, json!({"name": "Bob", "age": 30}));
    let stats = elelem.get_stats();
    assert_eq!(stats.retry_analytics.json_schema_retries, 1);
    assert_eq!(stats.retry_analytics.total_retries, 1);
    let retry = &bodies(&server)[1];
    let feedback = retry["messages"].as_array().unwrap().last().unwrap()["content"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(feedback.contains("only adults are listed"), "{feedback}");
}

#[tokio::test]
async fn a_check_that_never_passes_ends_in_invalid_json_with_its_message() {
    let server = TestServer::start().await.unwrap();
    server.set_fallback(Completion::new("gpt-4.1-mini", r#"{"n": 1}"#));
    let elelem = builder("openai", &server).max_attempts(3).build().unwrap();

    let request = json_request("openai:gpt-4.1-mini").check(|_| Err("never good enough".into()));
    let error = elelem.generate_json(request).await.unwrap_err();

    match &error {
        ElelemError::InvalidJson { attempts, .. } => {
            assert_eq!(attempts.len(), 3);
            assert!(attempts[0]
                .problem
                .to_string()
                .contains("never good enough"));
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn generate_json_turns_json_mode_on() {
    let server = TestServer::start().await.unwrap();
    server.push(Completion::new("gpt-4.1-mini", "Sure! {\"ok\": true}"));
    let elelem = client("openai", &server);

    let value = elelem
        .generate_json(text_request("openai:gpt-4.1-mini"))
        .await
        .unwrap();

    assert_eq!(value, json!({"ok": true}));
    let body = body_of(&server.last_request().unwrap());
    assert_eq!(body["response_format"], json!({"type": "json_object"}));
}
