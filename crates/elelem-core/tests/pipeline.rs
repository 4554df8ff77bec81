//! The pipeline's decisions, branch by branch, against mocked providers and sinks.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::{Arc, Mutex};
use std::time::Duration;

use elelem_core::cost::{
    AttemptOutcome, CostSink, InMemoryStatsSink, RetryCause, StatsQuery, UsageRecord,
};
use elelem_core::provider::{
    HttpError, Provider, ProviderError, ProviderErrorKind, ProviderResponse, WireRequest,
};
use elelem_core::retry::DefaultRetryPolicy;
use elelem_core::{
    async_trait, ChatCompletion, ChatRequest, Elelem, ElelemError, Message, ResponseFormat, Usd,
};
use mockall::predicate::always;
use serde_json::{json, Value};

mockall::mock! {
    pub Prov {}
    #[async_trait]
    impl Provider for Prov {
        async fn chat_completion(&self, request: WireRequest) -> Result<ProviderResponse, ProviderError>;
    }
}

mockall::mock! {
    pub Sink {}
    impl CostSink for Sink {
        fn record(&self, record: &UsageRecord);
    }
}

impl std::fmt::Debug for MockProv {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MockProv")
    }
}

impl std::fmt::Debug for MockSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MockSink")
    }
}

const CATALOGUE: &str = r#"
[provider]
name = "mock"
base_url = "http://127.0.0.1:1/v1"
fallback_model = "mock:backup"

[[models]]
id = "mock:main"
upstream = "vendor/main"
price = { input = "1.00", output = "2.00", cached_input = "0.50" }

[[models]]
id = "mock:backup"
upstream = "vendor/backup"
price = { input = "3.00", output = "6.00" }

[[models]]
id = "mock:reasoner"
capabilities = { temperature = false, json_schema = true }
max_tokens_field = "max_completion_tokens"
price = { input = "1", output = "4" }

[[models]]
id = "mock:unpriced"
"#;

/// A policy with no waiting, so tests run instantly.
fn fast_policy() -> DefaultRetryPolicy {
    DefaultRetryPolicy::default()
        .rate_limit_backoff(vec![Duration::ZERO])
        .transient_backoff(vec![Duration::ZERO])
}

fn client(provider: impl Provider + 'static, sink: Arc<dyn CostSink>) -> Elelem {
    Elelem::builder()
        .without_env_keys()
        .provider("mock", Arc::new(provider))
        .models_toml("test catalogue", CATALOGUE)
        .retry_policy(Arc::new(fast_policy()))
        .cost_sink(sink)
        .build()
        .unwrap()
}

fn answer(content: &str, prompt: u64, completion: u64) -> Result<ProviderResponse, ProviderError> {
    let body = json!({
        "id": "c", "object": "chat.completion", "created": 1, "model": "vendor/main",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}
    });
    Ok(ProviderResponse::new(
        serde_json::from_value::<ChatCompletion>(body).unwrap(),
    ))
}

fn http_error(
    status: u16,
    code: Option<&str>,
    kind: ProviderErrorKind,
    body: Value,
) -> Result<ProviderResponse, ProviderError> {
    Err(ProviderError::Http(Box::new(HttpError {
        kind,
        message: Some("scripted".into()),
        error_object: body.get("error").cloned(),
        body: body.to_string(),
        ..HttpError::from_status("mock", status, code)
    })))
}

/// A provider that answers from a script and records every request body.
#[derive(Debug, Clone, Default)]
struct Scripted {
    answers: Arc<Mutex<Vec<Result<ProviderResponse, ProviderError>>>>,
    seen: Arc<Mutex<Vec<serde_json::Map<String, Value>>>>,
}

impl Scripted {
    fn new(answers: Vec<Result<ProviderResponse, ProviderError>>) -> Self {
        let mut answers = answers;
        answers.reverse();
        Scripted {
            answers: Arc::new(Mutex::new(answers)),
            seen: Arc::default(),
        }
    }
    fn seen(&self) -> Vec<serde_json::Map<String, Value>> {
        self.seen.lock().unwrap().clone()
    }
}

#[async_trait]
impl Provider for Scripted {
    async fn chat_completion(
        &self,
        request: WireRequest,
    ) -> Result<ProviderResponse, ProviderError> {
        self.seen.lock().unwrap().push(request.to_map());
        self.answers
            .lock()
            .unwrap()
            .pop()
            .unwrap_or_else(|| answer("not json", 1, 1))
    }
}

fn json_request(model: &str) -> ChatRequest {
    ChatRequest::new(
        model,
        vec![
            Message::system("You are terse."),
            Message::user("Give me a person"),
        ],
    )
    .response_format(ResponseFormat::JsonObject)
    .json_schema(
        json!({"type": "object", "properties": {"name": {"type": "string"}}, "required": ["name"]}),
    )
    .temperature(1.0)
    .tags(["people"])
}

#[tokio::test]
async fn a_clean_answer_costs_exactly_its_tokens_and_is_one_call() {
    let provider = Scripted::new(vec![answer(
        "<think>\nplan\n</think>\n```json\n{\"name\": \"Ada\"}\n```",
        1_000,
        500,
    )]);
    let sink = Arc::new(InMemoryStatsSink::new());
    let elelem = client(provider.clone(), sink.clone());
    let response = elelem
        .create_chat_completion(json_request("mock:main"))
        .await
        .unwrap();

    assert_eq!(response.content(), Some("{\"name\": \"Ada\"}"));
    assert_eq!(response.elelem.reasoning.as_deref(), Some("plan"));
    assert_eq!(response.elelem.json, Some(json!({"name": "Ada"})));
    assert_eq!(response.elelem.attempts, 1);
    assert_eq!(response.elelem.answered_by, "mock:main");
    // 1000 x $1/M + 500 x $2/M = $0.002
    assert_eq!(response.elelem.cost, "0.002".parse::<Usd>().unwrap());

    let sent = provider.seen();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0]["model"], "vendor/main");
    assert_eq!(sent[0]["temperature"], 1.0);
    assert_eq!(sent[0]["response_format"], json!({"type": "json_object"}));
    let system = sent[0]["messages"][0]["content"].as_str().unwrap();
    assert!(system.starts_with("You are terse."), "{system}");
    assert!(
        system.contains("\"required\""),
        "the schema is in the instructions: {system}"
    );

    let stats = elelem.get_stats_by_tag("people");
    assert_eq!(stats.total_calls, 1);
    assert_eq!(stats.total_input_tokens, 1_000);
    assert_eq!(stats.total_output_tokens, 500);
    assert_eq!(stats.total_input_cost_usd, "0.001".parse::<Usd>().unwrap());
    assert_eq!(stats.total_cost_usd, "0.002".parse::<Usd>().unwrap());
    assert_eq!(stats.retry_analytics.total_retries, 0);
    assert_eq!(elelem.get_stats(), stats);
}

#[tokio::test]
async fn an_unparseable_answer_is_retried_cooler_with_feedback() {
    let provider = Scripted::new(vec![
        answer("Sure! Here is a person: Ada", 10, 5),
        answer("{\"name\": \"Ada\"}", 20, 5),
    ]);
    let sink = Arc::new(InMemoryStatsSink::new());
    let elelem = client(provider.clone(), sink);
    let response = elelem
        .create_chat_completion(json_request("mock:main"))
        .await
        .unwrap();
    assert_eq!(response.elelem.attempts, 2);

    let sent = provider.seen();
    assert_eq!(sent[1]["temperature"], 0.9);
    let messages = sent[1]["messages"].as_array().unwrap();
    assert_eq!(
        messages[messages.len() - 2],
        json!({"role": "assistant", "content": "Sure! Here is a person: Ada"})
    );
    let feedback = messages[messages.len() - 1]["content"].as_str().unwrap();
    assert!(feedback.to_lowercase().contains("json"), "{feedback}");

    let r = elelem.get_stats().retry_analytics;
    assert_eq!(
        (
            r.json_parse_retries,
            r.temperature_reductions,
            r.total_retries
        ),
        (1, 1, 1)
    );
    assert_eq!(r.json_schema_retries, 0);
    // Both attempts are paid for.
    assert_eq!(elelem.get_stats().total_input_tokens, 30);
    assert_eq!(elelem.get_stats().total_calls, 1);
}

#[tokio::test]
async fn a_schema_violation_is_retried_with_the_violations() {
    let provider = Scripted::new(vec![
        answer("{\"age\": 3}", 10, 5),
        answer("{\"name\": \"Ada\"}", 10, 5),
    ]);
    let elelem = client(provider.clone(), Arc::new(InMemoryStatsSink::new()));
    elelem
        .create_chat_completion(json_request("mock:main"))
        .await
        .unwrap();
    let sent = provider.seen();
    let feedback = sent[1]["messages"].as_array().unwrap().last().unwrap()["content"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        feedback.contains("name"),
        "the violation is quoted: {feedback}"
    );
    let r = elelem.get_stats().retry_analytics;
    assert_eq!(
        (r.json_schema_retries, r.json_parse_retries, r.total_retries),
        (1, 0, 1)
    );
}

#[tokio::test]
async fn the_whole_ladder_runs_in_order_and_then_fails_with_every_attempt() {
    let provider = Scripted::new(vec![]); // always "not json"
    let elelem = client(provider.clone(), Arc::new(InMemoryStatsSink::new()));
    let error = elelem
        .create_chat_completion(json_request("mock:main"))
        .await
        .unwrap_err();

    let sent = provider.seen();
    let trail: Vec<(String, Option<f64>, bool)> = sent
        .iter()
        .map(|b| {
            (
                b["model"].as_str().unwrap().to_owned(),
                b.get("temperature").and_then(Value::as_f64),
                b.contains_key("response_format"),
            )
        })
        .collect();
    let main = "vendor/main".to_string();
    let backup = "vendor/backup".to_string();
    assert_eq!(
        trail,
        vec![
            (main.clone(), Some(1.0), true),
            (main.clone(), Some(0.9), true),
            (main.clone(), Some(0.7), true),
            (main.clone(), Some(0.3), true),
            (main.clone(), Some(1.0), false), // response_format removed, temperature reset
            (backup.clone(), Some(1.0), true), // fallback model, fresh ladder
            (backup.clone(), Some(0.9), true),
            (backup.clone(), Some(0.7), true),
            (backup.clone(), Some(0.3), true),
            (backup.clone(), Some(1.0), false),
        ]
    );
    match &error {
        ElelemError::InvalidJson { model, attempts } => {
            assert_eq!(model, "mock:backup");
            assert_eq!(attempts.len(), 10);
        }
        other => panic!("expected InvalidJson, got {other:?}"),
    }
    let r = elelem.get_stats().retry_analytics;
    assert_eq!(r.json_parse_retries, 9);
    assert_eq!(r.temperature_reductions, 6);
    assert_eq!(r.response_format_removals, 2);
    assert_eq!(r.fallback_model_usage, 1);
    assert_eq!(r.final_failures, 1);
    assert_eq!(r.total_retries, 9);
    assert_eq!(elelem.get_stats().total_calls, 1);
    // 5 attempts at main (1+1 tokens at $1/$2) and 5 at backup ($3/$6): 5x3 + 5x9 = 60 micro-dollars.
    assert_eq!(
        elelem.get_stats().total_cost_usd,
        "0.00006".parse::<Usd>().unwrap()
    );
}

#[tokio::test]
async fn rate_limits_wait_and_count() {
    let provider = Scripted::new(vec![
        http_error(
            429,
            Some("rate_limit_exceeded"),
            ProviderErrorKind::RateLimited,
            json!({}),
        ),
        http_error(
            429,
            Some("rate_limit_exceeded"),
            ProviderErrorKind::RateLimited,
            json!({}),
        ),
        answer("{\"name\": \"x\"}", 1, 1),
    ]);
    let elelem = client(provider.clone(), Arc::new(InMemoryStatsSink::new()));
    let response = elelem
        .create_chat_completion(json_request("mock:main"))
        .await
        .unwrap();
    assert_eq!(response.elelem.attempts, 3);
    // A rate-limit retry resends the same request: no temperature change, no feedback.
    let sent = provider.seen();
    assert_eq!(sent[0], sent[2]);
    let r = elelem.get_stats().retry_analytics;
    assert_eq!(
        (
            r.rate_limit_retries,
            r.total_retries,
            r.temperature_reductions
        ),
        (2, 2, 0)
    );
}

#[tokio::test]
async fn exhausted_quota_fails_at_once() {
    let provider = Scripted::new(vec![http_error(
        429,
        Some("insufficient_quota"),
        ProviderErrorKind::QuotaExhausted,
        json!({}),
    )]);
    let elelem = client(provider.clone(), Arc::new(InMemoryStatsSink::new()));
    let error = elelem
        .create_chat_completion(json_request("mock:main"))
        .await
        .unwrap_err();
    assert!(
        matches!(&error, ElelemError::Provider { attempts, .. } if attempts.len() == 1),
        "{error:?}"
    );
    assert!(!error.is_retryable());
    assert_eq!(provider.seen().len(), 1);
    let r = elelem.get_stats().retry_analytics;
    assert_eq!(
        (r.final_failures, r.rate_limit_retries, r.total_retries),
        (1, 0, 0)
    );
}

#[tokio::test]
async fn provider_json_validation_failures_use_the_json_ladder_with_the_failed_generation() {
    let body =
        json!({"error": {"code": "json_validate_failed", "failed_generation": "{name: Ada"}});
    let provider = Scripted::new(vec![
        http_error(
            400,
            Some("json_validate_failed"),
            ProviderErrorKind::ApiJsonValidation,
            body,
        ),
        answer("{\"name\": \"Ada\"}", 1, 1),
    ]);
    let elelem = client(provider.clone(), Arc::new(InMemoryStatsSink::new()));
    elelem
        .create_chat_completion(json_request("mock:main"))
        .await
        .unwrap();
    let sent = provider.seen();
    assert_eq!(sent[1]["temperature"], 0.9);
    let messages = sent[1]["messages"].as_array().unwrap();
    assert_eq!(messages[messages.len() - 2]["content"], "{name: Ada");
    let r = elelem.get_stats().retry_analytics;
    assert_eq!(
        (
            r.api_json_validation_retries,
            r.temperature_reductions,
            r.total_retries
        ),
        (1, 1, 1)
    );
}

#[tokio::test]
async fn server_errors_are_retried_and_counted_only_in_total_retries() {
    let provider = Scripted::new(vec![
        http_error(503, None, ProviderErrorKind::Server, json!({})),
        Err(ProviderError::Connection {
            provider: "mock".into(),
            message: "reset".into(),
        }),
        answer("{\"name\": \"x\"}", 1, 1),
    ]);
    let elelem = client(provider, Arc::new(InMemoryStatsSink::new()));
    elelem
        .create_chat_completion(json_request("mock:main"))
        .await
        .unwrap();
    let r = elelem.get_stats().retry_analytics;
    assert_eq!(r.total_retries, 2);
    assert_eq!(
        r.rate_limit_retries
            + r.json_parse_retries
            + r.json_schema_retries
            + r.api_json_validation_retries,
        0
    );
}

#[tokio::test]
async fn transient_failures_give_up_after_the_limit_with_a_provider_error() {
    let provider = Scripted::new(
        (0..10)
            .map(|_| http_error(502, None, ProviderErrorKind::Server, json!({})))
            .collect(),
    );
    let elelem = client(provider.clone(), Arc::new(InMemoryStatsSink::new()));
    let error = elelem
        .create_chat_completion(json_request("mock:main"))
        .await
        .unwrap_err();
    assert_eq!(provider.seen().len(), 4, "1 attempt + 3 retries");
    assert!(
        matches!(error, ElelemError::Provider { ref attempts, .. } if attempts.len() == 4),
        "{error}"
    );
    assert!(error.to_string().contains("HTTP 502"), "{error}");
}

#[tokio::test]
async fn models_without_temperature_never_get_one_and_use_their_token_field() {
    let provider = Scripted::new(vec![
        answer("nope", 1, 1),
        answer("{\"name\": \"x\"}", 1, 1),
    ]);
    let elelem = client(provider.clone(), Arc::new(InMemoryStatsSink::new()));
    elelem
        .create_chat_completion(json_request("mock:reasoner").max_tokens(64))
        .await
        .unwrap();
    for body in provider.seen() {
        assert!(!body.contains_key("temperature"));
        assert_eq!(body["max_completion_tokens"], 64);
        assert!(!body.contains_key("max_tokens"));
    }
    let r = elelem.get_stats().retry_analytics;
    assert_eq!((r.json_parse_retries, r.temperature_reductions), (1, 0));
}

#[tokio::test]
async fn text_mode_does_not_parse_json_but_strips_think_blocks() {
    let provider = Scripted::new(vec![answer("<think>hmm</think>Just text.", 1, 1)]);
    let elelem = client(provider.clone(), Arc::new(InMemoryStatsSink::new()));
    let response = elelem
        .create_chat_completion(ChatRequest::new("mock:main", vec![Message::user("hi")]))
        .await
        .unwrap();
    assert_eq!(response.content(), Some("Just text."));
    assert!(response.elelem.json.is_none());
    assert!(!provider.seen()[0].contains_key("response_format"));
}

#[tokio::test]
async fn unpriced_models_record_zero_cost_and_say_so() {
    let records = Arc::new(Mutex::new(Vec::new()));
    let mut sink = MockSink::new();
    let seen = records.clone();
    sink.expect_record()
        .with(always())
        .times(1)
        .returning(move |r| seen.lock().unwrap().push(r.clone()));
    let elelem = client(Scripted::new(vec![answer("hi", 5, 5)]), Arc::new(sink));
    elelem
        .create_chat_completion(ChatRequest::new("mock:unpriced", vec![Message::user("hi")]))
        .await
        .unwrap();
    let records = records.lock().unwrap();
    assert!(!records[0].price_known);
    assert_eq!(records[0].total_cost(), Usd::ZERO);
    assert_eq!(records[0].tokens.input, Some(5));
}

#[tokio::test]
async fn the_sink_gets_one_record_per_attempt_in_order() {
    let outcomes = Arc::new(Mutex::new(Vec::new()));
    let mut sink = MockSink::new();
    let seen = outcomes.clone();
    sink.expect_record().times(3).returning(move |r| {
        seen.lock()
            .unwrap()
            .push((r.attempt, r.outcome, r.tags.to_vec()))
    });
    let provider = Scripted::new(vec![
        http_error(429, None, ProviderErrorKind::RateLimited, json!({})),
        answer("{}", 1, 1),
        answer("{\"name\": \"x\"}", 1, 1),
    ]);
    let elelem = client(provider, Arc::new(sink));
    elelem
        .create_chat_completion(json_request("mock:main"))
        .await
        .unwrap();
    let tags = vec!["people".to_string()];
    assert_eq!(
        *outcomes.lock().unwrap(),
        vec![
            (
                1,
                AttemptOutcome::Retried(RetryCause::RateLimit),
                tags.clone()
            ),
            (
                2,
                AttemptOutcome::Retried(RetryCause::JsonSchema),
                tags.clone()
            ),
            (3, AttemptOutcome::Success, tags),
        ]
    );
}

#[tokio::test]
async fn bad_input_fails_before_anything_is_sent() {
    let mut provider = MockProv::new();
    provider.expect_chat_completion().never();
    let elelem = client(provider, Arc::new(InMemoryStatsSink::new()));
    let cases: Vec<(ChatRequest, &str)> = vec![
        (
            ChatRequest::new("gpt-4.1", vec![Message::user("x")]),
            "malformed model string",
        ),
        (
            ChatRequest::new("nobody:x", vec![Message::user("x")]),
            "unknown provider",
        ),
        (
            ChatRequest::new("mock:nope", vec![Message::user("x")]),
            "mock:main",
        ),
        (ChatRequest::new("mock:main", vec![]), "no messages"),
        (
            ChatRequest::new("mock:main", vec![Message::user("x")])
                .json_schema(json!({"type": "wrong"})),
            "invalid JSON schema",
        ),
    ];
    for (request, expected) in cases {
        let error = elelem.create_chat_completion(request).await.unwrap_err();
        assert!(error.to_string().contains(expected), "{error}");
    }
    assert_eq!(elelem.get_stats().total_calls, 0);
}

#[tokio::test]
async fn a_runaway_custom_policy_is_capped() {
    #[derive(Debug)]
    struct Forever;
    impl elelem_core::RetryPolicy for Forever {
        fn decide(
            &self,
            _: &elelem_core::retry::Failure<'_>,
            _: &elelem_core::retry::RetryState,
        ) -> elelem_core::retry::RetryDecision {
            elelem_core::retry::RetryDecision::Retry {
                after: Duration::ZERO,
            }
        }
    }
    let provider = Scripted::new(vec![]);
    let elelem = Elelem::builder()
        .without_env_keys()
        .provider("mock", Arc::new(provider.clone()))
        .models_toml("t", CATALOGUE)
        .retry_policy(Arc::new(Forever))
        .max_attempts(5)
        .build()
        .unwrap();
    assert!(elelem
        .create_chat_completion(json_request("mock:main"))
        .await
        .is_err());
    assert_eq!(provider.seen().len(), 5);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_concurrent_calls_sum_exactly() {
    let provider = Scripted::new(
        (0..1_000)
            .map(|i| answer("{\"name\": \"x\"}", 1_000 + i, 7))
            .collect(),
    );
    let elelem = client(provider, Arc::new(InMemoryStatsSink::new()));
    let tasks: Vec<_> = (0..1_000)
        .map(|_| {
            let elelem = elelem.clone();
            tokio::spawn(async move {
                elelem
                    .create_chat_completion(json_request("mock:main"))
                    .await
                    .map(|r| r.elelem.cost)
            })
        })
        .collect();
    let mut sum = Usd::ZERO;
    for task in tasks {
        sum += task.await.unwrap().unwrap();
    }
    let stats = elelem.get_stats_by_tag("people");
    let input: u64 = (0..1_000).map(|i| 1_000 + i).sum();
    assert_eq!(stats.total_calls, 1_000);
    assert_eq!(stats.total_input_tokens, input);
    assert_eq!(stats.total_output_tokens, 7_000);
    // input at $1/M, output at $2/M, exactly.
    let expected = Usd::from_femtos(i128::from(input) * 1_000_000_000 + 7_000 * 2_000_000_000);
    assert_eq!(stats.total_cost_usd, expected);
    assert_eq!(sum, expected);
    assert_eq!(elelem.get_stats(), stats);
    let _ = StatsQuery::All;
}
