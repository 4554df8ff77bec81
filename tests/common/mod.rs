//! Helpers shared by the end-to-end tests: clients wired to a local testkit server,
//! fast retry policies, requests and small assertions.
//!
//! Every client built here ignores the real environment (`without_env_keys`) and
//! uses fake keys, and every base URL points at `127.0.0.1`.

#![allow(dead_code)]

pub mod routed;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use elelem::cost::{CostSink, InMemoryStatsSink, StatsQuery, UsageRecord};
use elelem::retry::DefaultRetryPolicy;
use elelem::{ChatRequest, Elelem, ElelemBuilder, Message, ResponseFormat, Stats, Usd};
use elelem_testkit::{RecordedRequest, TestServer};
use serde_json::Value;

/// Fake keys, one per provider; never real ones.
pub const OPENAI_KEY: &str = "sk-test-SECRET-openai-123";
pub const GROQ_KEY: &str = "gsk-test-SECRET-123";
pub const DEEPINFRA_KEY: &str = "di-test-SECRET-123";
pub const SCALEWAY_KEY: &str = "scw-test-SECRET-123";

/// The system prompt used by [`json_request`].
pub const SYSTEM_PROMPT: &str = "You extract data.";
/// The user prompt used by [`json_request`].
pub const USER_PROMPT: &str = "Alice is 30.";

/// The fake key of a provider.
pub fn key_of(provider: &str) -> &'static str {
    match provider {
        "openai" => OPENAI_KEY,
        "groq" => GROQ_KEY,
        "deepinfra" => DEEPINFRA_KEY,
        "scaleway" => SCALEWAY_KEY,
        other => panic!("no fake key for provider {other}"),
    }
}

/// The base URL a provider gets on the test server: DeepInfra's API lives under
/// `/v1/openai`, the others under `/v1`.
pub fn base_url_of(provider: &str, server: &TestServer) -> String {
    match provider {
        "deepinfra" => format!("{}/v1/openai", server.root_url()),
        _ => server.url(),
    }
}

/// The default retry policy with millisecond waits, so retries cost no time.
pub fn fast_policy() -> Arc<DefaultRetryPolicy> {
    Arc::new(
        DefaultRetryPolicy::default()
            .rate_limit_backoff(vec![Duration::from_millis(5)])
            .transient_backoff(vec![Duration::from_millis(5)]),
    )
}

/// A builder with no environment keys, the fake key of `provider`, its base URL on
/// `server` and the fast retry policy.
pub fn builder(provider: &str, server: &TestServer) -> ElelemBuilder {
    Elelem::builder()
        .without_env_keys()
        .api_key(provider, key_of(provider))
        .base_url(provider, base_url_of(provider, server))
        .retry_policy(fast_policy())
}

/// A client for one provider on the test server (see [`builder`]).
pub fn client(provider: &str, server: &TestServer) -> Elelem {
    builder(provider, server).build().expect("client builds")
}

/// A JSON-mode request (`response_format: json_object`) with a system and a user
/// message.
pub fn json_request(model: &str) -> ChatRequest {
    ChatRequest::new(
        model,
        vec![Message::system(SYSTEM_PROMPT), Message::user(USER_PROMPT)],
    )
    .response_format(ResponseFormat::JsonObject)
}

/// A plain text request with one user message.
pub fn text_request(model: &str) -> ChatRequest {
    ChatRequest::new(model, vec![Message::user(USER_PROMPT)])
}

/// The schema of [`json_request`]'s answer: a person's name and age.
pub fn person_schema() -> Value {
    serde_json::json!({
        "type": "object",
        "properties": {"name": {"type": "string"}, "age": {"type": "integer"}},
        "required": ["name", "age"]
    })
}

/// An exact amount of dollars.
pub fn usd(text: &str) -> Usd {
    text.parse().expect("a valid decimal amount")
}

/// The JSON body of a recorded request.
pub fn body_of(request: &RecordedRequest) -> Value {
    request.json().expect("the request body is JSON")
}

/// The JSON bodies of every request the server saw, in order.
pub fn bodies(server: &TestServer) -> Vec<Value> {
    server.requests().iter().map(body_of).collect()
}

/// Asserts two floats are equal up to rounding noise.
#[track_caller]
pub fn assert_close(actual: f64, expected: f64) {
    assert!(
        (actual - expected).abs() < 1e-9,
        "expected {expected}, got {actual}"
    );
}

/// The wire temperature of a request body, if any.
pub fn temperature_of(body: &Value) -> Option<f64> {
    body.get("temperature").and_then(Value::as_f64)
}

/// A cost sink that keeps every usage record (and the stats of an in-memory sink),
/// to compare what each attempt wrote.
#[derive(Debug, Default)]
pub struct Capture(Mutex<Vec<UsageRecord>>, InMemoryStatsSink);

impl CostSink for Capture {
    fn record(&self, record: &UsageRecord) {
        self.0.lock().expect("capture lock").push(record.clone());
        self.1.record(record);
    }

    fn stats(&self, query: &StatsQuery) -> Option<Stats> {
        self.1.stats(query)
    }
}

impl Capture {
    /// The records so far.
    pub fn records(&self) -> Vec<UsageRecord> {
        self.0.lock().expect("capture lock").clone()
    }

    /// The records so far, forgetting them.
    pub fn take(&self) -> Vec<UsageRecord> {
        std::mem::take(&mut *self.0.lock().expect("capture lock"))
    }
}

/// GROQ, DeepInfra and OpenAI, each emulated on its own test server, for calls
/// that move between providers (virtual models, routing).
pub struct Providers {
    pub groq: TestServer,
    pub deepinfra: TestServer,
    pub openai: TestServer,
    /// Models-file text every client gets (the virtual models under test).
    models: &'static str,
}

impl Providers {
    /// Three fresh servers; clients get `models` as a models file.
    pub async fn start(models: &'static str) -> Providers {
        Providers {
            groq: TestServer::start().await.expect("server starts"),
            deepinfra: TestServer::start().await.expect("server starts"),
            openai: TestServer::start().await.expect("server starts"),
            models,
        }
    }

    /// A builder reaching all three, with the fast retry policy and keys for the
    /// providers in `with_keys` only.
    pub fn builder(&self, with_keys: &[&str]) -> ElelemBuilder {
        let mut builder = Elelem::builder()
            .without_env_keys()
            .retry_policy(fast_policy())
            .models_toml("virtual", self.models);
        for (name, server) in [
            ("groq", &self.groq),
            ("deepinfra", &self.deepinfra),
            ("openai", &self.openai),
        ] {
            builder = builder.base_url(name, base_url_of(name, server));
            if with_keys.contains(&name) {
                builder = builder.api_key(name, key_of(name));
            }
        }
        builder
    }

    /// A client with the keys of all three.
    pub fn client(&self) -> Elelem {
        self.builder(&["groq", "deepinfra", "openai"])
            .build()
            .expect("client builds")
    }
}
