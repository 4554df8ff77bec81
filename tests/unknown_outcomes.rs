//! Attempts whose outcome is unknown and answers that are errors in disguise
//! (issue 12, #3 and #4): a timed-out attempt may have been billed, so it is
//! recorded as of unknown cost and the budgets are charged its worst case; a 200
//! body holding `{"error": ...}` is a failed attempt, retried, not an empty answer.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::{Arc, Mutex};
use std::time::Duration;

use elelem::budget::Budget;
use elelem::cost::{AttemptOutcome, CostSink, UsageRecord};
use elelem::retry::DefaultRetryPolicy;
use elelem::{ChatRequest, Elelem, Message, Usd};
use elelem_testkit::{wire, ScriptedResponse, TestServer};
use serde_json::json;

/// Keeps every record.
#[derive(Debug, Default)]
struct Records(Mutex<Vec<UsageRecord>>);

impl CostSink for Records {
    fn record(&self, record: &UsageRecord) {
        self.0.lock().unwrap().push(record.clone());
    }
}

fn client(server: &TestServer, records: Arc<Records>) -> Elelem {
    Elelem::builder()
        .without_env_keys()
        .api_key("openai", "sk-test")
        .base_url("openai", server.url())
        .timeout(Duration::from_millis(200))
        .retry_policy(Arc::new(
            DefaultRetryPolicy::default().transient_backoff(vec![Duration::from_millis(5)]),
        ))
        .cost_sink(records)
        .budget(Budget::new("1".parse().unwrap()))
        .build()
        .unwrap()
}

fn request() -> ChatRequest {
    ChatRequest::new("openai:gpt-4.1-mini", vec![Message::user("Hi")]).max_tokens(100)
}

#[tokio::test]
async fn a_timed_out_attempt_is_of_unknown_cost_and_charged_its_worst_case() {
    let server = TestServer::start().await.unwrap();
    let records = Arc::new(Records::default());
    let elelem = client(&server, records.clone());
    server.push(wire::completion("gpt-4.1-mini", "late").delay(Duration::from_secs(2)));
    server.push(wire::completion("gpt-4.1-mini", "Hello!"));
    let response = elelem.create_chat_completion(request()).await.unwrap();
    assert_eq!(response.content(), Some("Hello!"));
    assert_eq!(response.elelem.attempts, 2);

    let records = records.0.lock().unwrap().clone();
    assert_eq!(records.len(), 2);
    assert!(records[0].cost_unknown);
    assert!(matches!(records[0].outcome, AttemptOutcome::Retried(_)));
    assert!(!records[1].cost_unknown);
    assert_eq!(records[1].outcome, AttemptOutcome::Success);

    // The answered attempt at its cost, the timed-out one at its worst case.
    let status = &elelem.budget_status()[0];
    assert_eq!(status.reserved, Usd::ZERO);
    assert!(
        status.spent > response.elelem.cost,
        "{} <= {}",
        status.spent,
        response.elelem.cost
    );
}

#[tokio::test]
async fn a_plain_body_cut_mid_way_is_of_unknown_cost_and_charged_its_worst_case() {
    let server = TestServer::start().await.unwrap();
    let records = Arc::new(Records::default());
    let elelem = client(&server, records.clone());
    let full = wire::completion("gpt-4.1-mini", "Hello!");
    let body = full.body().cloned().unwrap();
    let cut = body.len() / 2;
    server.push(ScriptedResponse::truncated_body(200, body, cut));
    server.push(wire::completion("gpt-4.1-mini", "Hello!"));
    let response = elelem.create_chat_completion(request()).await.unwrap();
    assert_eq!(response.elelem.attempts, 2);

    let records = records.0.lock().unwrap().clone();
    assert_eq!(records.len(), 2);
    assert!(records[0].cost_unknown, "a cut body was taken as known");
    assert_eq!(records[0].cost.total(), Usd::ZERO);
    assert!(!records[1].cost_unknown);
    let status = &elelem.budget_status()[0];
    assert_eq!(status.reserved, Usd::ZERO);
    assert!(status.spent > response.elelem.cost);

    // A refused connection never reached the provider: known, nothing charged.
    let elelem = Elelem::builder()
        .without_env_keys()
        .api_key("openai", "sk-test")
        .base_url("openai", "http://127.0.0.1:9/v1")
        .retry_policy(Arc::new(
            DefaultRetryPolicy::default().transient_backoff(vec![Duration::from_millis(1)]),
        ))
        .budget(Budget::new("1".parse().unwrap()))
        .build()
        .unwrap();
    elelem.create_chat_completion(request()).await.unwrap_err();
    assert_eq!(elelem.budget_status()[0].spent, Usd::ZERO);
    assert_eq!(elelem.get_stats().calls_cost_unknown, 0);
}

#[tokio::test]
async fn a_200_body_holding_an_error_is_a_failed_attempt_and_retried() {
    let server = TestServer::start().await.unwrap();
    let records = Arc::new(Records::default());
    let elelem = client(&server, records.clone());
    server.push(ScriptedResponse::json(
        200,
        json!({"error": {"message": "Upstream provider error", "code": 502}}),
    ));
    server.push(wire::completion("gpt-4.1-mini", "Hello!"));
    let response = elelem.create_chat_completion(request()).await.unwrap();
    assert_eq!(response.content(), Some("Hello!"));
    assert_eq!(response.elelem.attempts, 2);
    let records = records.0.lock().unwrap().clone();
    assert!(matches!(records[0].outcome, AttemptOutcome::Retried(_)));
    assert!(!records[0].cost_unknown);

    // With nothing else to answer, the call fails with the error the body held.
    for _ in 0..10 {
        server.push(ScriptedResponse::json(
            200,
            json!({"error": {"message": "Invalid model", "code": 400}}),
        ));
    }
    let error = elelem.create_chat_completion(request()).await.unwrap_err();
    assert!(error.to_string().contains("Invalid model"), "{error}");
}

#[tokio::test]
async fn opening_a_stream_has_a_time_limit_and_a_silent_server_is_retried() {
    let server = TestServer::start().await.unwrap();
    let records = Arc::new(Records::default());
    let elelem = Elelem::builder()
        .without_env_keys()
        .api_key("openai", "sk-test")
        .base_url("openai", server.url())
        .stream_idle_timeout(Duration::from_millis(300))
        .retry_policy(Arc::new(
            DefaultRetryPolicy::default().transient_backoff(vec![Duration::from_millis(5)]),
        ))
        .cost_sink(records.clone())
        .build()
        .unwrap();
    // The first server never sends its headers in time.
    let stream = elelem_testkit::sse::ChunkStream::new("gpt-4.1-mini", &["Hel", "lo"]).usage(5, 2);
    server.push(
        stream
            .clone()
            .into_response()
            .delay(Duration::from_secs(30)),
    );
    server.push(stream.into_response());
    let started = std::time::Instant::now();
    let opened = elelem.stream_chat_completion(request()).await.unwrap();
    assert!(started.elapsed() < Duration::from_secs(10));
    assert_eq!(opened.summary().attempts, 2);
    let collected = opened.collect_completion().await.unwrap();
    assert_eq!(collected.content(), Some("Hello"));
    let records = records.0.lock().unwrap().clone();
    assert!(records[0].cost_unknown, "a timed-out opening may be billed");
    assert_eq!(records[1].outcome, AttemptOutcome::Success);
}
