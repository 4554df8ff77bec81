//! The JSON-mode scenario suite every provider runs against the testkit server
//! emulating its wire format: a clean answer costed exactly, JSON in a fence after
//! prose, a schema violation retried, a 429 and a 5xx retried, and exact per-tag
//! stats.
//!
//! A provider's test file describes its wire in a [`Kit`] and expands
//! [`json_scenarios!`] to get one `#[tokio::test]` per scenario.

#![allow(dead_code)]

use std::sync::Arc;
use std::time::Duration;

use elelem::retry::DefaultRetryPolicy;
use elelem::{ChatRequest, Elelem, ElelemBuilder, Message, ResponseFormat, Stats, Usd};
use elelem_testkit::{ScriptedResponse, TestServer};
use serde_json::{json, Value};

/// Input tokens of every scripted answer of the suite.
pub const INPUT_TOKENS: u64 = 1_200;
/// Output tokens of every scripted answer of the suite.
pub const OUTPUT_TOKENS: u64 = 300;

/// The answer the schema accepts.
pub const VALID: &str = r#"{"name": "Alice", "age": 30}"#;
/// An answer that is JSON but violates the schema (`age` is a string).
pub const INVALID: &str = r#"{"name": "Alice", "age": "thirty"}"#;

/// How one provider looks on the wire.
pub struct Kit {
    /// The provider's name in model strings.
    pub provider: &'static str,
    /// The `provider:model` the suite calls.
    pub model: &'static str,
    /// The path suffix of its chat endpoint on the test server.
    pub path: &'static str,
    /// A successful answer with this text and token counts, in the provider's shape.
    pub answer: fn(text: &str, input: u64, output: u64) -> ScriptedResponse,
    /// The provider's 429.
    pub rate_limited: fn() -> ScriptedResponse,
    /// The provider's transient server failure.
    pub server_error: fn() -> ScriptedResponse,
    /// A builder wired to the test server (no environment keys, fake key).
    pub builder: fn(&TestServer) -> ElelemBuilder,
    /// The exact cost of one answer of [`INPUT_TOKENS`] / [`OUTPUT_TOKENS`]
    /// (catalogue price, or the cost the provider reports); `None` when the model
    /// has no price (the cost is then unknown and counted as zero).
    pub answer_cost: Option<&'static str>,
}

impl Kit {
    /// A client on `server`.
    pub fn client(&self, server: &TestServer) -> Elelem {
        (self.builder)(server)
            .retry_policy(fast_policy())
            .build()
            .expect("the client builds")
    }

    /// A successful answer of the suite's size.
    pub fn answer(&self, text: &str) -> ScriptedResponse {
        (self.answer)(text, INPUT_TOKENS, OUTPUT_TOKENS)
    }

    /// The cost of `n` answers.
    pub fn cost_of(&self, n: i128) -> Usd {
        let one: Usd = self.answer_cost.map_or(Usd::ZERO, usd);
        Usd::from_femtos(one.femtos() * n)
    }

    /// The number of calls of `n` that have no price.
    fn unpriced(&self, n: u64) -> u64 {
        if self.answer_cost.is_some() {
            0
        } else {
            n
        }
    }
}

/// The default policy with millisecond waits.
pub fn fast_policy() -> Arc<DefaultRetryPolicy> {
    Arc::new(
        DefaultRetryPolicy::default()
            .rate_limit_backoff(vec![Duration::from_millis(5)])
            .transient_backoff(vec![Duration::from_millis(5)]),
    )
}

/// An exact amount.
pub fn usd(text: &str) -> Usd {
    text.parse().expect("a decimal amount")
}

/// The schema of the suite.
pub fn schema() -> Value {
    json!({
        "type": "object",
        "properties": {"name": {"type": "string"}, "age": {"type": "integer"}},
        "required": ["name", "age"]
    })
}

/// A JSON-mode request with the suite's schema.
pub fn request(kit: &Kit) -> ChatRequest {
    ChatRequest::new(
        kit.model,
        vec![
            Message::system("You extract people."),
            Message::user("Alice is 30."),
        ],
    )
    .response_format(ResponseFormat::JsonObject)
    .json_schema(schema())
    .temperature(1.0)
}

async fn server() -> TestServer {
    TestServer::start().await.expect("the test server starts")
}

/// The tokens and cost of `n` successful answers, and nothing else spent.
#[track_caller]
fn assert_spent(kit: &Kit, stats: &Stats, answers: u64, calls: u64) {
    assert_eq!(
        stats.total_input_tokens,
        INPUT_TOKENS * answers,
        "{stats:?}"
    );
    assert_eq!(
        stats.total_output_tokens,
        OUTPUT_TOKENS * answers,
        "{stats:?}"
    );
    assert_eq!(stats.total_tokens, (INPUT_TOKENS + OUTPUT_TOKENS) * answers);
    assert_eq!(
        stats.total_cost_usd,
        kit.cost_of(i128::from(answers)),
        "{stats:?}"
    );
    assert_eq!(
        stats.total_input_cost_usd + stats.total_output_cost_usd,
        stats.total_cost_usd
    );
    assert_eq!(stats.total_calls, calls);
    assert_eq!(stats.unpriced_calls, kit.unpriced(calls), "{stats:?}");
}

/// (a) A clean JSON answer: parsed, validated, costed exactly.
pub async fn clean_json_answer(kit: &Kit) {
    let server = server().await;
    server.push(kit.answer(VALID));
    let elelem = kit.client(&server);

    let response = elelem
        .create_chat_completion(request(kit).tags(["clean"]))
        .await
        .expect("the call succeeds");
    assert_eq!(
        response.elelem.json,
        Some(json!({"name": "Alice", "age": 30}))
    );
    assert_eq!(response.content(), Some(VALID));
    assert_eq!(response.elelem.attempts, 1);
    assert_eq!(response.elelem.answered_by, kit.model);
    assert_eq!(response.elelem.cost, kit.cost_of(1));
    let usage = response.usage.as_ref().expect("usage is reported");
    assert_eq!(usage.prompt_tokens, Some(INPUT_TOKENS));
    assert_eq!(usage.completion_tokens, Some(OUTPUT_TOKENS));

    let stats = elelem.get_stats();
    assert_spent(kit, &stats, 1, 1);
    assert_eq!(stats.retry_analytics.total_retries, 0);
    assert_eq!(elelem.get_stats_by_tag("clean"), stats);

    let requests = server.requests();
    assert_eq!(requests.len(), 1);
    assert_eq!(requests[0].method, "POST");
    assert!(
        requests[0].path.ends_with(kit.path),
        "{} does not end with {}",
        requests[0].path,
        kit.path
    );
}

/// (b) JSON in a markdown fence after prose is extracted.
pub async fn fenced_answer_after_prose(kit: &Kit) {
    let server = server().await;
    server.push(kit.answer(&format!(
        "Here is the person you asked for:\n\n```json\n{VALID}\n```\n\nAnything else?"
    )));
    let elelem = kit.client(&server);

    let response = elelem
        .create_chat_completion(request(kit))
        .await
        .expect("the call succeeds");
    assert_eq!(
        response.elelem.json,
        Some(json!({"name": "Alice", "age": 30}))
    );
    assert_eq!(response.content(), Some(VALID));
    assert_eq!(response.elelem.attempts, 1);
    assert_eq!(elelem.get_stats().retry_analytics.total_retries, 0);
    assert_eq!(server.request_count(), 1);
}

/// (c) A schema violation is fed back and retried once at a lower temperature.
pub async fn schema_violation_then_valid(kit: &Kit) {
    let server = server().await;
    server.push_many([kit.answer(INVALID), kit.answer(VALID)]);
    let elelem = kit.client(&server);

    let response = elelem
        .create_chat_completion(request(kit).tags(["schema"]))
        .await
        .expect("the call succeeds");
    assert_eq!(
        response.elelem.json,
        Some(json!({"name": "Alice", "age": 30}))
    );
    assert_eq!(response.elelem.attempts, 2);
    // Both answers were paid for.
    assert_eq!(response.elelem.cost, kit.cost_of(2));

    let stats = elelem.get_stats();
    let retries = &stats.retry_analytics;
    assert_eq!(retries.json_schema_retries, 1);
    assert_eq!(retries.json_parse_retries, 0);
    assert_eq!(retries.rate_limit_retries, 0);
    assert_eq!(retries.total_retries, 1);
    assert_eq!(retries.final_failures, 0);
    assert_spent(kit, &stats, 2, 1);
    assert_eq!(elelem.get_stats_by_tag("schema"), stats);

    // The rejected answer went back to the model with the schema error.
    let requests = server.requests();
    assert_eq!(requests.len(), 2);
    let first = String::from_utf8_lossy(&requests[0].body).into_owned();
    let second = String::from_utf8_lossy(&requests[1].body).into_owned();
    assert!(!first.contains("thirty"), "{first}");
    assert!(second.contains("thirty"), "{second}");
}

/// (d) A 429 is waited out and counted.
pub async fn rate_limit_then_success(kit: &Kit) {
    let server = server().await;
    server.push_many([(kit.rate_limited)(), kit.answer(VALID)]);
    let elelem = kit.client(&server);

    let response = elelem
        .create_chat_completion(request(kit).tags(["limited"]))
        .await
        .expect("the call succeeds");
    assert_eq!(response.elelem.attempts, 2);
    assert_eq!(response.elelem.cost, kit.cost_of(1));

    let stats = elelem.get_stats();
    assert_eq!(stats.retry_analytics.rate_limit_retries, 1);
    assert_eq!(stats.retry_analytics.total_retries, 1);
    assert_eq!(stats.retry_analytics.temperature_reductions, 0);
    assert_spent(kit, &stats, 1, 1);
    assert_eq!(elelem.get_stats_by_tag("limited"), stats);
    assert_eq!(server.request_count(), 2);
}

/// (e) A transient server failure is retried.
pub async fn server_error_then_success(kit: &Kit) {
    let server = server().await;
    server.push_many([(kit.server_error)(), kit.answer(VALID)]);
    let elelem = kit.client(&server);

    let response = elelem
        .create_chat_completion(request(kit))
        .await
        .expect("the call succeeds");
    assert_eq!(response.elelem.attempts, 2);

    let stats = elelem.get_stats();
    assert_eq!(stats.retry_analytics.total_retries, 1);
    assert_eq!(stats.retry_analytics.rate_limit_retries, 0);
    assert_eq!(stats.retry_analytics.json_schema_retries, 0);
    assert_eq!(stats.retry_analytics.final_failures, 0);
    assert_spent(kit, &stats, 1, 1);
    assert_eq!(server.request_count(), 2);
}

/// (f) Stats per tag are exact sums of the calls that carry the tag.
pub async fn exact_per_tag_stats(kit: &Kit) {
    let server = server().await;
    server.push_many([
        kit.answer(VALID),
        kit.answer(INVALID),
        kit.answer(VALID),
        kit.answer(VALID),
    ]);
    let elelem = kit.client(&server);

    // "a": one call; "b": a call with a schema retry; "a" and "b": one call.
    for tags in [vec!["a"], vec!["b"], vec!["a", "b"]] {
        elelem
            .create_chat_completion(request(kit).tags(tags))
            .await
            .expect("the call succeeds");
    }

    let a = elelem.get_stats_by_tag("a");
    assert_spent(kit, &a, 2, 2);
    assert_eq!(a.retry_analytics.total_retries, 0);

    let b = elelem.get_stats_by_tag("b");
    assert_spent(kit, &b, 3, 2);
    assert_eq!(b.retry_analytics.json_schema_retries, 1);
    assert_eq!(b.retry_analytics.total_retries, 1);

    let all = elelem.get_stats();
    assert_spent(kit, &all, 4, 3);
    assert_eq!(all.retry_analytics.json_schema_retries, 1);

    let none = elelem.get_stats_by_tag("nobody");
    assert_eq!(none.total_calls, 0);
    assert_eq!(none.total_cost_usd, Usd::ZERO);
}

/// One `#[tokio::test]` per scenario for the [`Kit`] expression given (bring it
/// in with `#[macro_use] mod scenarios;`).
macro_rules! json_scenarios {
    ($kit:expr) => {
        #[tokio::test]
        async fn scenario_a_clean_json_answer_is_costed_exactly() {
            scenarios::clean_json_answer(&$kit).await;
        }

        #[tokio::test]
        async fn scenario_b_json_in_a_fence_after_prose_is_extracted() {
            scenarios::fenced_answer_after_prose(&$kit).await;
        }

        #[tokio::test]
        async fn scenario_c_a_schema_violation_is_retried_once() {
            scenarios::schema_violation_then_valid(&$kit).await;
        }

        #[tokio::test]
        async fn scenario_d_a_rate_limit_is_retried_and_counted() {
            scenarios::rate_limit_then_success(&$kit).await;
        }

        #[tokio::test]
        async fn scenario_e_a_server_error_is_retried() {
            scenarios::server_error_then_success(&$kit).await;
        }

        #[tokio::test]
        async fn scenario_f_per_tag_stats_are_exact() {
            scenarios::exact_per_tag_stats(&$kit).await;
        }
    };
}
