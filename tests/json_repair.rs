//! Nearly valid JSON is repaired locally before a parse failure costs a retry:
//! one attempt, the repaired value parsed and still schema-validated, and the
//! repair counted in `json_repairs` (serialized only when non-zero).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::*;
use elelem_testkit::wire::Completion;
use elelem_testkit::TestServer;
use serde_json::json;

const MODEL: &str = "groq:openai/gpt-oss-20b";
const UPSTREAM: &str = "openai/gpt-oss-20b";

/// A GROQ answer with this text (100 tokens in, 20 out).
fn answer(text: &str) -> elelem_testkit::ScriptedResponse {
    Completion::new(UPSTREAM, text)
        .groq()
        .usage(100, 20)
        .into_response()
}

fn schema() -> serde_json::Value {
    person_schema()
}

#[tokio::test]
async fn a_nearly_valid_answer_is_repaired_without_a_retry() {
    let server = TestServer::start().await.unwrap();
    server.push_many([
        // Python literals, single quotes, an unquoted key, a trailing comma.
        answer("{name: 'Alice', 'age': 30, 'member': True,}"),
        // Cut off before the closing bracket.
        answer("```json\n{\"name\": \"Bob\", \"age\": 41"),
    ]);
    let elelem = client("groq", &server);
    let first = elelem
        .create_chat_completion(json_request(MODEL).json_schema(schema()).tags(["repair"]))
        .await
        .unwrap();
    assert_eq!(
        first.elelem.json,
        Some(json!({"name": "Alice", "age": 30, "member": true}))
    );
    assert_eq!(first.elelem.attempts, 1);
    // The content is the repaired JSON text.
    let content: serde_json::Value = serde_json::from_str(first.content().unwrap()).unwrap();
    assert_eq!(Some(content), first.elelem.json);

    let second = elelem
        .create_chat_completion(json_request(MODEL).json_schema(schema()).tags(["repair"]))
        .await
        .unwrap();
    assert_eq!(second.elelem.json, Some(json!({"name": "Bob", "age": 41})));
    assert_eq!(server.requests().len(), 2, "no retry was sent");

    let stats = elelem.get_stats_by_tag("repair");
    assert_eq!(stats.json_repairs, 2);
    assert_eq!(stats.retry_analytics.json_parse_retries, 0);
    assert_eq!(stats.total_calls, 2);
    assert_eq!(serde_json::to_value(&stats).unwrap()["json_repairs"], 2);
}

/// Calls the model once with the schema while it answers `first`, then a valid
/// answer; returns the stats after the call, which must have taken two attempts.
async fn stats_after_a_retry_of(first: &str) -> elelem::Stats {
    let server = TestServer::start().await.unwrap();
    server.push_many([answer(first), answer(r#"{"name": "Alice", "age": 30}"#)]);
    let elelem = client("groq", &server);
    let response = elelem
        .create_chat_completion(json_request(MODEL).json_schema(schema()))
        .await
        .unwrap();
    assert_eq!(
        response.elelem.json,
        Some(json!({"name": "Alice", "age": 30}))
    );
    assert_eq!(response.elelem.attempts, 2);
    elelem.get_stats()
}

#[tokio::test]
async fn a_repaired_answer_is_still_validated_against_the_schema() {
    let stats = stats_after_a_retry_of("{'name': 'Alice', 'age': 'thirty',}").await;
    assert_eq!(stats.retry_analytics.json_schema_retries, 1);
    // The repaired-but-invalid answer was retried, not counted as a repair that
    // answered the call.
    assert_eq!(stats.json_repairs, 0);
    let value = serde_json::to_value(&stats).unwrap();
    assert!(value.get("json_repairs").is_none(), "{value}");
}

#[tokio::test]
async fn prose_is_not_repaired_and_is_retried_as_before() {
    let stats = stats_after_a_retry_of("{name: Alice, age: thirty}").await;
    assert_eq!(stats.retry_analytics.json_parse_retries, 1);
    assert_eq!(stats.json_repairs, 0);
}

#[tokio::test]
async fn yaml_mode_parses_and_validates_like_json() {
    use elelem::ResponseFormat;
    let server = TestServer::start().await.unwrap();
    server.push_many([
        // Violates the schema: retried with the problem fed back.
        answer("name: Alice\nage: thirty\n"),
        answer("```yaml\nname: Alice\nage: 30\n```"),
    ]);
    let elelem = client("groq", &server);
    let request = json_request(MODEL)
        .response_format(ResponseFormat::Yaml)
        .json_schema(schema());
    let response = elelem.create_chat_completion(request).await.unwrap();
    assert_eq!(
        response.elelem.json,
        Some(json!({"name": "Alice", "age": 30}))
    );
    assert_eq!(response.elelem.attempts, 2);
    assert_eq!(elelem.get_stats().retry_analytics.json_schema_retries, 1);
    let body = body_of(&server.requests()[0]);
    // No response_format on the wire; the instructions ask for YAML.
    assert!(body.get("response_format").is_none(), "{body}");
    let system = body["messages"][0]["content"].as_str().unwrap();
    assert!(system.contains("valid YAML document"), "{system}");
    assert!(system.contains("\"age\""), "{system}");
}
