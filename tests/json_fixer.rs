//! `.json_fixer(model)`: an answer that is not JSON (and that local repair
//! cannot mend) goes to a cheap second model before the main model is retried.
//! The fixer's call is billed, budgeted and recorded like any call, tagged
//! `json_fix`; its output is judged like the main model's answer.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::sync::Arc;

use common::*;
use elelem::{Elelem, JSON_FIX_TAG};
use elelem_testkit::wire;
use elelem_testkit::TestServer;
use serde_json::json;

const MAIN: &str = "groq:openai/gpt-oss-20b";
const FIXER: &str = "openai:gpt-4.1-nano";
const NOT_JSON: &str = "The person is called Alice; she is thirty years old.";
const FIXED: &str = r#"{"name":"Alice","age":30}"#;

struct Servers {
    groq: TestServer,
    openai: TestServer,
}

async fn servers() -> Servers {
    Servers {
        groq: TestServer::start().await.unwrap(),
        openai: TestServer::start().await.unwrap(),
    }
}

fn client(s: &Servers, sink: Arc<Capture>) -> Elelem {
    Elelem::builder()
        .without_env_keys()
        .retry_policy(fast_policy())
        .cost_sink(sink)
        .api_key("groq", key_of("groq"))
        .base_url("groq", base_url_of("groq", &s.groq))
        .api_key("openai", key_of("openai"))
        .base_url("openai", base_url_of("openai", &s.openai))
        .json_fixer(FIXER)
        .build()
        .unwrap()
}

fn schema() -> serde_json::Value {
    person_schema()
}

#[tokio::test]
async fn a_broken_answer_is_fixed_by_the_fixer_instead_of_a_retry() {
    let s = servers().await;
    s.groq
        .push(wire::completion("openai/gpt-oss-20b", NOT_JSON));
    s.openai.push(wire::completion("gpt-4.1-nano", FIXED));
    let sink = Arc::new(Capture::default());
    let elelem = client(&s, sink.clone());

    let request = json_request(MAIN).json_schema(schema()).tags(["people"]);
    let done = elelem.create_chat_completion(request).await.unwrap();

    assert_eq!(done.elelem.json, Some(json!({"name": "Alice", "age": 30})));
    assert_eq!(done.content(), Some(FIXED));
    assert_eq!(done.elelem.answered_by, MAIN);
    assert_eq!((s.groq.request_count(), s.openai.request_count()), (1, 1));
    // The fixer saw the broken answer and the schema.
    let fix_body = body_of(&s.openai.last_request().unwrap());
    assert_eq!(fix_body["messages"][1]["content"], NOT_JSON);
    let instructions = fix_body["messages"][0]["content"].as_str().unwrap();
    assert!(
        instructions.contains(r#""required":["name","age"]"#),
        "{instructions}"
    );

    // Two calls recorded: the fixer's (tagged json_fix) and the main one, whose
    // success record says it was fixed.
    let records = sink.records();
    assert_eq!(records.len(), 2);
    let (fix, main) = (&records[0], &records[1]);
    assert_eq!(fix.model, FIXER);
    assert_eq!(&*fix.tags, ["people", JSON_FIX_TAG]);
    assert!(main.adjustments.json_fixed && !fix.adjustments.json_fixed);
    assert_ne!(fix.call_id, main.call_id);
    // The answer's cost is both calls': 10 input + 5 output tokens of each.
    assert_eq!(done.elelem.cost, fix.total_cost() + main.total_cost());
    assert!(fix.total_cost() > elelem::Usd::ZERO);

    let stats = elelem.get_stats();
    assert_eq!(stats.json_fixes, 1);
    assert_eq!(stats.total_calls, 2);
    assert_eq!(stats.retry_analytics.json_parse_retries, 0);
    assert_eq!(elelem.get_stats_by_tag(JSON_FIX_TAG).total_calls, 1);
    let shown = serde_json::to_value(&stats).unwrap();
    assert_eq!(shown["json_fixes"], 1);
    let plain = serde_json::to_value(elelem.get_stats_by_tag(JSON_FIX_TAG)).unwrap();
    assert!(
        plain.get("json_fixes").is_none(),
        "shown only when non-zero"
    );
}

#[tokio::test]
async fn a_fix_that_fails_the_schema_is_refused_and_the_main_model_retried() {
    let s = servers().await;
    s.groq
        .push(wire::completion("openai/gpt-oss-20b", NOT_JSON));
    s.groq.push(wire::completion("openai/gpt-oss-20b", FIXED));
    // Valid JSON, wrong shape: the fixer's own ladder retries it, then gives up.
    s.openai
        .set_fallback(wire::completion("gpt-4.1-nano", r#"{"name":"Alice"}"#));
    let sink = Arc::new(Capture::default());
    let elelem = client(&s, sink.clone());

    let request = json_request(MAIN).json_schema(schema());
    let done = elelem.create_chat_completion(request).await.unwrap();

    assert_eq!(done.elelem.json, Some(json!({"name": "Alice", "age": 30})));
    assert_eq!(s.groq.request_count(), 2, "the main model was retried");
    assert!(s.openai.request_count() >= 1);
    let stats = elelem.get_stats();
    assert_eq!(stats.json_fixes, 0);
    assert_eq!(stats.retry_analytics.json_parse_retries, 1);
    // Every fixer attempt was recorded and billed under json_fix.
    let fixer_attempts = sink
        .records()
        .iter()
        .filter(|r| r.tags.iter().any(|t| t == JSON_FIX_TAG))
        .count();
    assert_eq!(fixer_attempts, s.openai.request_count());
}

#[tokio::test]
async fn a_schema_violation_is_not_sent_to_the_fixer() {
    let s = servers().await;
    s.groq.push(wire::completion(
        "openai/gpt-oss-20b",
        r#"{"name":"Alice"}"#,
    ));
    s.groq.push(wire::completion("openai/gpt-oss-20b", FIXED));
    let elelem = client(&s, Arc::new(Capture::default()));
    let request = json_request(MAIN).json_schema(schema());
    elelem.create_chat_completion(request).await.unwrap();
    assert_eq!(s.openai.request_count(), 0);
    assert_eq!(s.groq.request_count(), 2);
}

#[test]
fn an_unknown_fixer_model_is_refused_at_build() {
    let error = Elelem::builder()
        .without_env_keys()
        .json_fixer("openai:gpt-nonexistent")
        .build()
        .unwrap_err();
    assert!(error.to_string().contains("json_fixer"), "{error}");
}
