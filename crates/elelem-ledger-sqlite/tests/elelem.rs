//! `Elelem::get_stats` works unchanged on top of the ledger, and survives a restart.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use elelem_core::cost::{CostSink, FanOutSink, InMemoryStatsSink, StatsQuery};
use elelem_core::provider::{Provider, ProviderError, ProviderResponse, WireRequest};
use elelem_core::retry::DefaultRetryPolicy;
use elelem_core::{async_trait, ChatCompletion, ChatRequest, Elelem, Message, ResponseFormat};
use elelem_ledger_sqlite::{LedgerOptions, SqliteLedger};
use serde_json::json;

const CATALOGUE: &str = r#"
[provider]
name = "mock"
base_url = "http://127.0.0.1:1/v1"

[[models]]
id = "mock:main"
upstream = "vendor/main"
price = { input = "1.25", output = "2.0000001", cached_input = "0.5" }

[[models]]
id = "mock:unpriced"
"#;

/// Answers every fourth request with prose instead of JSON (a JSON retry), the
/// others with valid JSON; token counts vary with the request number.
#[derive(Debug, Default)]
struct Flaky {
    requests: AtomicU64,
}

#[async_trait]
impl Provider for Flaky {
    async fn chat_completion(&self, _: WireRequest) -> Result<ProviderResponse, ProviderError> {
        let n = self.requests.fetch_add(1, Ordering::SeqCst);
        let content = if n % 4 == 3 {
            "sorry, no JSON"
        } else {
            "{\"name\": \"Ada\"}"
        };
        let body = json!({
            "id": "c", "object": "chat.completion", "created": 1, "model": "vendor/main",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 100 + n, "completion_tokens": 7 + n % 5, "total_tokens": 107 + n + n % 5}
        });
        Ok(ProviderResponse::new(
            serde_json::from_value::<ChatCompletion>(body).unwrap(),
        ))
    }
}

fn client(sink: Arc<dyn CostSink>) -> Elelem {
    Elelem::builder()
        .without_env_keys()
        .provider("mock", Arc::new(Flaky::default()))
        .models_toml("test catalogue", CATALOGUE)
        .retry_policy(Arc::new(
            DefaultRetryPolicy::default()
                .rate_limit_backoff(vec![Duration::ZERO])
                .transient_backoff(vec![Duration::ZERO]),
        ))
        .cost_sink(sink)
        .build()
        .unwrap()
}

fn request(model: &str, tag: &str) -> ChatRequest {
    ChatRequest::new(model, vec![Message::user("Who wrote the first program?")])
        .response_format(ResponseFormat::JsonObject)
        .json_schema(json!({"type": "object", "properties": {"name": {"type": "string"}}, "required": ["name"]}))
        .temperature(1.0)
        .tags([tag])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn get_stats_answers_from_the_ledger_and_survives_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("usage.db");
    let ledger = Arc::new(
        SqliteLedger::open_with(
            &path,
            LedgerOptions::default().flush_interval(Duration::from_millis(20)),
        )
        .unwrap(),
    );
    let memory = Arc::new(InMemoryStatsSink::new());
    // The ledger first: it answers get_stats; memory checks it.
    let elelem = client(Arc::new(
        FanOutSink::new().with(ledger.clone()).with(memory.clone()),
    ));
    let tasks: Vec<_> = (0..60)
        .map(|i| {
            let elelem = elelem.clone();
            tokio::spawn(async move {
                let (model, tag) = match i % 3 {
                    0 => ("mock:main", "people"),
                    1 => ("mock:main", "facts"),
                    _ => ("mock:unpriced", "people"),
                };
                elelem.create_chat_completion(request(model, tag)).await
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap().unwrap();
    }
    let stats = elelem.get_stats();
    assert_eq!(stats, memory.stats(&StatsQuery::All).unwrap());
    assert_eq!(stats.total_calls, 60);
    assert_eq!(stats.unpriced_calls, 20);
    assert!(stats.retry_analytics.json_parse_retries > 0);
    assert!(!stats.total_cost_usd.is_zero());
    for tag in ["people", "facts", "other"] {
        assert_eq!(
            elelem.get_stats_by_tag(tag),
            memory.stats(&StatsQuery::Tag(tag.into())).unwrap()
        );
    }
    for query in [
        StatsQuery::Model("mock:main".into()),
        StatsQuery::Provider("mock".into()),
    ] {
        assert_eq!(ledger.stats(&query), memory.stats(&query), "{query:?}");
    }
    drop(elelem);
    ledger.close().unwrap();

    // A new process: the spend is still there.
    let reopened = Arc::new(SqliteLedger::open(&path).unwrap());
    let restarted = client(reopened);
    assert_eq!(restarted.get_stats(), stats);
    assert_eq!(
        restarted.get_stats_by_tag("facts"),
        memory.stats(&StatsQuery::Tag("facts".into())).unwrap()
    );
}
