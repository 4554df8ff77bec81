//! The API key goes on the wire and nowhere else: not in `Debug` output, not in
//! errors (even when the server echoes it), not in usage records, not in logs.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::io::Write;
use std::sync::{Arc, Mutex};

use common::*;
use elelem::cost::{CostSink, InMemoryStatsSink, StatsQuery, UsageRecord};
use elelem::{Elelem, ElelemError, Stats};
use elelem_testkit::wire::{self, Completion};
use elelem_testkit::{ScriptedResponse, TestServer};
use serde_json::json;
use tracing_subscriber::fmt::format::FmtSpan;

const KEY: &str = GROQ_KEY;
const MODEL: &str = "groq:openai/gpt-oss-20b";

/// A cost sink that keeps every record as JSON text, and stats.
#[derive(Debug, Default)]
struct SerializingSink {
    records: Mutex<Vec<String>>,
    stats: InMemoryStatsSink,
}

impl CostSink for SerializingSink {
    fn record(&self, record: &UsageRecord) {
        let text = serde_json::to_string(record).unwrap();
        self.records.lock().unwrap().push(text);
        self.stats.record(record);
    }

    fn stats(&self, query: &StatsQuery) -> Option<Stats> {
        self.stats.stats(query)
    }
}

/// An in-memory log: what a `tracing_subscriber::fmt` subscriber writes.
#[derive(Clone, Default)]
struct LogBuffer(Arc<Mutex<Vec<u8>>>);

impl Write for LogBuffer {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl LogBuffer {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

fn good_answer() -> ScriptedResponse {
    Completion::new("openai/gpt-oss-20b", r#"{"ok": true}"#)
        .groq()
        .into_response()
}

/// Every way an error can be printed.
fn renderings(error: &ElelemError) -> Vec<String> {
    let mut out = vec![
        error.to_string(),
        format!("{error:?}"),
        format!("{error:#?}"),
    ];
    for attempt in error.attempts() {
        out.push(attempt.to_string());
        out.push(format!("{attempt:?}"));
        out.push(attempt.problem.to_string());
    }
    out
}

#[test]
fn debug_output_of_the_builder_and_the_client_hides_the_key() {
    let builder = Elelem::builder()
        .without_env_keys()
        .api_key("groq", KEY)
        .api_key("openai", OPENAI_KEY)
        .base_url("groq", "http://127.0.0.1:9/v1");
    let text = format!("{builder:?}");
    assert!(text.contains("ElelemBuilder"), "{text}");
    assert!(text.contains("***"), "{text}");
    assert!(!text.contains(KEY), "{text}");
    assert!(!text.contains(OPENAI_KEY), "{text}");
    assert!(!format!("{builder:#?}").contains(KEY));

    let elelem = builder.build().unwrap();
    for text in [format!("{elelem:?}"), format!("{elelem:#?}")] {
        // The Debug output does describe the providers...
        assert!(text.contains("127.0.0.1:9"), "{text}");
        // ...but not their keys.
        assert!(!text.contains(KEY), "{text}");
        assert!(!text.contains(OPENAI_KEY), "{text}");
        assert!(!text.contains("SECRET"), "{text}");
    }
}

#[tokio::test]
async fn the_key_is_sent_but_never_leaks_into_errors_records_or_logs() {
    let log = LogBuffer::default();
    let writer = log.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .with_span_events(FmtSpan::FULL)
        .with_writer(move || writer.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let server = TestServer::start().await.unwrap();
    let sink = Arc::new(SerializingSink::default());
    let elelem = builder("groq", &server)
        .cost_sink(sink.clone())
        .build()
        .unwrap();
    let echo_401 = ScriptedResponse::json(
        401,
        json!({"error": {"message": format!("Incorrect API key provided: {KEY}"), "type": "invalid_request_error", "code": "invalid_api_key"}}),
    )
    .header("x-request-id", format!("req-{KEY}"));
    let echo_500 = ScriptedResponse::raw(500, "text/plain", format!("upstream refused key {KEY}"));
    let echo_200 = ScriptedResponse::raw(
        200,
        "text/plain",
        format!("debug dump: authorization=Bearer {KEY}"),
    );
    server.push_many([
        // 1. Success at once.
        good_answer(),
        // 2. Rate limited, then success.
        wire::rate_limited_ms(5),
        good_answer(),
        // 3. A 401 echoing the key: fails at once.
        echo_401,
        // 4. A 500 echoing the key in a plain-text body, every time.
        echo_500.clone(),
        echo_500.clone(),
        echo_500.clone(),
        echo_500,
        // 5. A 200 whose non-JSON body echoes the key, every time.
        echo_200.clone(),
        echo_200.clone(),
        echo_200.clone(),
        echo_200,
        // 6. GROQ's JSON failure echoing the key as its failed generation, then success.
        wire::groq_json_validate_failed(&format!("{{\"key\": \"{KEY}\"")),
        good_answer(),
    ]);

    let mut errors = Vec::new();
    let mut outputs = Vec::new();
    for call in 0..6 {
        let request = json_request(MODEL)
            .temperature(0.9)
            .tags([format!("call-{call}")]);
        match elelem.create_chat_completion(request).await {
            Ok(response) => outputs.push(format!("{response:?}")),
            Err(error) => errors.push(error),
        }
    }
    assert_eq!(outputs.len(), 3);
    assert_eq!(errors.len(), 3);
    assert_eq!(server.request_count(), 14);
    assert_eq!(server.pending(), 0);

    // The key did go on the wire, on every request.
    for request in server.requests() {
        assert_eq!(
            request.header("authorization"),
            Some(format!("Bearer {KEY}").as_str())
        );
    }

    // Errors: the echoed key is redacted wherever the error is printed.
    assert!(
        matches!(&errors[0], ElelemError::Provider { error, .. } if error.to_string().contains("HTTP 401")),
        "{:?}",
        errors[0]
    );
    assert!(errors[0]
        .to_string()
        .contains("Incorrect API key provided: ***"));
    assert!(errors[1].to_string().contains("upstream refused key"));
    assert!(errors[2].to_string().contains("debug dump"));
    for error in &errors {
        for text in renderings(error) {
            assert!(!text.contains(KEY), "key leaked: {text}");
        }
    }
    for output in &outputs {
        assert!(!output.contains(KEY), "{output}");
    }

    // Usage records: one per attempt, none with the key.
    let records = sink.records.lock().unwrap().clone();
    assert_eq!(records.len(), 14);
    assert!(records.iter().all(|r| r.contains("\"provider\":\"groq\"")));
    for record in &records {
        assert!(!record.contains(KEY), "{record}");
    }

    // Logs: something was logged about success, retries and failures, without the key.
    drop(_guard);
    let text = log.text();
    assert!(!text.is_empty());
    assert!(text.contains("call succeeded"), "{text}");
    assert!(text.contains("attempt failed"), "{text}");
    assert!(text.contains("HTTP 401"), "{text}");
    // The echoed key was there, and was masked rather than dropped.
    assert!(text.contains("Incorrect API key provided: ***"), "{text}");
    assert!(text.contains("upstream refused key ***"), "{text}");
    assert!(!text.contains(KEY), "key leaked into the logs:\n{text}");
    assert!(
        !text.contains("SECRET"),
        "key leaked into the logs:\n{text}"
    );
}
