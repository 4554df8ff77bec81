//! Property-based fuzzing of every provider's response and chunk parsers, through
//! the public API over real HTTP: the test server answers with arbitrary bytes,
//! or with each protocol's real shapes holding odd values (negative, huge, float
//! or string token counts, missing or empty parts, odd finish reasons), framed
//! as one body, server-sent events or NDJSON lines, with arbitrary rate-limit and
//! retry-after headers. Every call must end (within 20 s) with an answer or a
//! typed error: never a panic or a hang.
//!
//! A quick run is part of `cargo test` (256 cases per target); before a release,
//! `scripts/fuzz-long.sh` runs 10 million (`FUZZ_CASES`).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::OnceLock;
use std::time::Duration;

use elelem::providers::openai::{Framing, SseFraming};
use elelem::{ChatRequest, Elelem, Message};
use elelem_testkit::{ScriptedResponse, TestServer};
use futures_util::StreamExt;
use proptest::prelude::*;
use serde_json::{json, Value};

/// Cases per target: `FUZZ_CASES` or 256.
fn config() -> ProptestConfig {
    let cases = std::env::var("FUZZ_CASES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(256);
    ProptestConfig {
        cases,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

/// One runtime and one server for every case.
fn kit() -> &'static (tokio::runtime::Runtime, TestServer) {
    static KIT: OnceLock<(tokio::runtime::Runtime, TestServer)> = OnceLock::new();
    KIT.get_or_init(|| {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let server = runtime.block_on(TestServer::start()).unwrap();
        (runtime, server)
    })
}

#[derive(Debug, Clone, Copy)]
enum Protocol {
    OpenAi,
    Anthropic,
    Gemini,
    Ollama,
}

impl Protocol {
    fn model(self) -> &'static str {
        match self {
            Protocol::OpenAi => "openai:gpt-4.1-mini",
            Protocol::Anthropic => "anthropic:claude-haiku-4-5",
            Protocol::Gemini => "gemini:gemini-2.5-flash",
            Protocol::Ollama => "ollama:llama3.2",
        }
    }

    /// A fresh client (a rate-limit view from an odd header must not slow the
    /// next case), one attempt per call.
    fn client(self, server: &TestServer) -> Elelem {
        Elelem::builder()
            .without_env_keys()
            .api_key("openai", "sk-fuzz")
            .api_key("anthropic", "sk-ant-fuzz")
            .api_key("gemini", "fuzz-key")
            .base_url("openai", server.url())
            .base_url("anthropic", server.url())
            .base_url("gemini", format!("{}/v1beta", server.root_url()))
            .base_url("ollama", server.root_url())
            .max_attempts(1)
            .build()
            .unwrap()
    }
}

fn protocol() -> impl Strategy<Value = Protocol> {
    prop_oneof![
        Just(Protocol::OpenAi),
        Just(Protocol::Anthropic),
        Just(Protocol::Gemini),
        Just(Protocol::Ollama),
    ]
}

/// A number field as a provider might (mis)send it.
fn odd_number() -> impl Strategy<Value = Value> {
    prop_oneof![
        4 => (0u64..100_000).prop_map(Value::from),
        1 => Just(json!(-1)),
        1 => Just(json!(i64::MIN)),
        1 => Just(json!(u64::MAX)),
        1 => Just(json!(1e300)),
        1 => Just(json!(1.5)),
        1 => Just(json!("12")),
        1 => Just(Value::Null),
        1 => Just(json!([])),
    ]
}

fn odd_text() -> impl Strategy<Value = Value> {
    prop_oneof![
        4 => ".{0,24}".prop_map(Value::from),
        1 => Just(json!("<think>plan</think>{\"a\": 1}")),
        1 => Just(json!("<think>never closed")),
        1 => Just(Value::Null),
        1 => Just(json!(7)),
        1 => Just(json!({"nested": true})),
    ]
}

fn odd_reason() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(json!("stop")),
        Just(json!("length")),
        Just(json!("content_filter")),
        Just(json!("tool_calls")),
        Just(json!("end_turn")),
        Just(json!("max_tokens")),
        Just(json!("refusal")),
        Just(json!("STOP")),
        Just(json!("MAX_TOKENS")),
        Just(json!("SAFETY")),
        Just(Value::Null),
        Just(json!(3)),
    ]
}

/// The values one structured answer is built from.
#[derive(Debug, Clone)]
struct Parts {
    texts: Vec<Value>,
    numbers: Vec<Value>,
    reason: Value,
    drop_field: Option<usize>,
}

fn parts() -> impl Strategy<Value = Parts> {
    (
        prop::collection::vec(odd_text(), 1..4),
        prop::collection::vec(odd_number(), 5),
        odd_reason(),
        prop::option::of(0usize..8),
    )
        .prop_map(|(texts, numbers, reason, drop_field)| Parts {
            texts,
            numbers,
            reason,
            drop_field,
        })
}

impl Parts {
    fn n(&self, i: usize) -> Value {
        self.numbers.get(i).cloned().unwrap_or(Value::Null)
    }

    fn text(&self, i: usize) -> Value {
        self.texts
            .get(i % self.texts.len())
            .cloned()
            .unwrap_or(Value::Null)
    }

    /// Removes one top-level field, if asked to.
    fn maybe_drop(&self, mut value: Value) -> Value {
        if let (Some(i), Some(object)) = (self.drop_field, value.as_object_mut()) {
            let keys: Vec<String> = object.keys().cloned().collect();
            if let Some(key) = keys.get(i % keys.len().max(1)) {
                object.remove(key);
            }
        }
        value
    }

    fn openai(&self) -> Value {
        self.maybe_drop(json!({
            "id": "chatcmpl-fuzz", "object": "chat.completion", "created": 1, "model": "gpt-4.1-mini",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": self.text(0),
                "tool_calls": [{"id": "c", "type": "function", "function": {"name": "f", "arguments": self.text(1)}}]},
                "finish_reason": self.reason}],
            "usage": {"prompt_tokens": self.n(0), "completion_tokens": self.n(1), "total_tokens": self.n(2),
                "prompt_tokens_details": {"cached_tokens": self.n(3)},
                "completion_tokens_details": {"reasoning_tokens": self.n(4)},
                "cost": self.n(2)}
        }))
    }

    fn openai_chunks(&self) -> Vec<Value> {
        let mut chunks: Vec<Value> = self
            .texts
            .iter()
            .map(|t| {
                json!({"id": "c", "object": "chat.completion.chunk", "created": 1, "model": "m",
                "choices": [{"index": 0, "delta": {"content": t}, "finish_reason": null}]})
            })
            .collect();
        chunks.push(
            json!({"id": "c", "object": "chat.completion.chunk", "created": 1, "model": "m",
            "choices": [{"index": 0, "delta": {}, "finish_reason": self.reason}], "error": null}),
        );
        chunks.push(self.maybe_drop(
            json!({"id": "c", "object": "chat.completion.chunk", "created": 1, "model": "m",
            "choices": [], "usage": {"prompt_tokens": self.n(0), "completion_tokens": self.n(1),
            "completion_tokens_details": {"reasoning_tokens": self.n(4)}, "cost": self.n(3)}}),
        ));
        chunks
    }

    fn anthropic(&self) -> Value {
        self.maybe_drop(json!({
            "id": "msg_fuzz", "type": "message", "role": "assistant", "model": "claude-haiku-4-5",
            "content": [{"type": "thinking", "thinking": self.text(1), "signature": "s"},
                {"type": "text", "text": self.text(0)},
                {"type": "tool_use", "id": "t", "name": "f", "input": self.text(2)}],
            "stop_reason": self.reason, "stop_sequence": null,
            "usage": {"input_tokens": self.n(0), "output_tokens": self.n(1),
                "cache_creation_input_tokens": self.n(2), "cache_read_input_tokens": self.n(3)}
        }))
    }

    fn anthropic_events(&self) -> Vec<(String, Value)> {
        let mut events = vec![
            (
                "message_start".to_owned(),
                json!({"type": "message_start", "message": {"id": "m", "type": "message",
                "role": "assistant", "model": "claude", "content": [], "usage": {"input_tokens": self.n(0),
                "output_tokens": self.n(4), "cache_read_input_tokens": self.n(3)}}}),
            ),
            (
                "content_block_start".to_owned(),
                json!({"type": "content_block_start", "index": self.n(2),
                "content_block": {"type": "text", "text": ""}}),
            ),
            ("ping".to_owned(), json!({"type": "ping"})),
        ];
        for t in &self.texts {
            events.push((
                "content_block_delta".to_owned(),
                json!({"type": "content_block_delta", "index": 0,
                "delta": {"type": "text_delta", "text": t}}),
            ));
        }
        events.push((
            "content_block_delta".to_owned(),
            json!({"type": "content_block_delta", "index": 1,
            "delta": {"type": "input_json_delta", "partial_json": self.text(1)}}),
        ));
        events.push((
            "message_delta".to_owned(),
            self.maybe_drop(json!({"type": "message_delta",
            "delta": {"stop_reason": self.reason}, "usage": {"output_tokens": self.n(1)}})),
        ));
        events.push(("message_stop".to_owned(), json!({"type": "message_stop"})));
        events
    }

    fn gemini(&self) -> Value {
        self.maybe_drop(json!({
            "candidates": [{"content": {"role": "model", "parts": [
                {"text": self.text(1), "thought": true}, {"text": self.text(0)},
                {"functionCall": {"name": "f", "args": self.text(2)}}]},
                "finishReason": self.reason, "index": 0}],
            "usageMetadata": {"promptTokenCount": self.n(0), "candidatesTokenCount": self.n(1),
                "thoughtsTokenCount": self.n(4), "cachedContentTokenCount": self.n(3), "totalTokenCount": self.n(2)},
            "modelVersion": "gemini-2.5-flash"
        }))
    }

    fn ollama(&self, done: bool, text: Value) -> Value {
        let base = json!({"model": "llama3.2", "created_at": "2025-01-01T00:00:00Z",
            "message": {"role": "assistant", "content": text, "thinking": self.text(1)}, "done": done});
        if !done {
            return base;
        }
        let mut last = base;
        if let Some(object) = last.as_object_mut() {
            object.insert("done_reason".into(), self.reason.clone());
            object.insert("prompt_eval_count".into(), self.n(0));
            object.insert("eval_count".into(), self.n(1));
            object.insert("total_duration".into(), self.n(2));
        }
        self.maybe_drop(last)
    }
}

/// Server-sent events of `data` records, with optional `event:` names.
fn sse(events: &[(Option<String>, String)]) -> Vec<u8> {
    let mut out = String::new();
    for (name, data) in events {
        if let Some(name) = name {
            out.push_str(&format!("event: {name}\n"));
        }
        out.push_str(&format!("data: {data}\n\n"));
    }
    out.into_bytes()
}

/// What the server answers: a status, a content type and a body.
fn structured_body(protocol: Protocol, parts: &Parts, stream: bool) -> (String, Vec<u8>) {
    match (protocol, stream) {
        (Protocol::OpenAi, false) => (
            "application/json".into(),
            parts.openai().to_string().into_bytes(),
        ),
        (Protocol::OpenAi, true) => {
            let mut events: Vec<(Option<String>, String)> = parts
                .openai_chunks()
                .iter()
                .map(|c| (None, c.to_string()))
                .collect();
            events.push((None, "[DONE]".into()));
            ("text/event-stream".into(), sse(&events))
        }
        (Protocol::Anthropic, false) => (
            "application/json".into(),
            parts.anthropic().to_string().into_bytes(),
        ),
        (Protocol::Anthropic, true) => {
            let events: Vec<(Option<String>, String)> = parts
                .anthropic_events()
                .into_iter()
                .map(|(name, data)| (Some(name), data.to_string()))
                .collect();
            ("text/event-stream".into(), sse(&events))
        }
        (Protocol::Gemini, false) => (
            "application/json".into(),
            parts.gemini().to_string().into_bytes(),
        ),
        (Protocol::Gemini, true) => {
            let events = vec![
                (None, parts.gemini().to_string()),
                (None, parts.gemini().to_string()),
            ];
            ("text/event-stream".into(), sse(&events))
        }
        (Protocol::Ollama, false) => (
            "application/json".into(),
            parts.ollama(true, parts.text(0)).to_string().into_bytes(),
        ),
        (Protocol::Ollama, true) => {
            let mut lines: Vec<String> = parts
                .texts
                .iter()
                .map(|t| parts.ollama(false, t.clone()).to_string())
                .collect();
            lines.push(parts.ollama(true, json!("")).to_string());
            (
                "application/x-ndjson".into(),
                (lines.join("\n") + "\n").into_bytes(),
            )
        }
    }
}

/// Odd rate-limit and retry headers.
fn odd_headers() -> impl Strategy<Value = Vec<(String, String)>> {
    let name = prop::sample::select(vec![
        "x-ratelimit-limit-requests",
        "x-ratelimit-limit-tokens",
        "x-ratelimit-remaining-requests",
        "x-ratelimit-remaining-tokens",
        "x-ratelimit-reset-requests",
        "x-ratelimit-reset-tokens",
        "retry-after",
        "retry-after-ms",
    ]);
    let value = prop_oneof![
        Just("99999999999999h".to_owned()),
        Just("1e300s".to_owned()),
        Just("-1".to_owned()),
        Just("18446744073709551615".to_owned()),
        Just("6m0s".to_owned()),
        Just("0".to_owned()),
        "[0-9a-z.]{0,12}",
    ];
    prop::collection::vec((name.prop_map(String::from), value), 0..4)
}

/// Runs one call (plain, or a stream read to its end) against `answer`.
fn call(protocol: Protocol, answer: ScriptedResponse, stream: bool) {
    let (runtime, server) = kit();
    runtime.block_on(async {
        let elelem = protocol.client(server);
        server.push(answer);
        let request = ChatRequest::new(protocol.model(), vec![Message::user("fuzz")]);
        let run = async {
            if stream {
                if let Ok(mut chunks) = elelem.stream_chat_completion(request).await {
                    while let Some(chunk) = chunks.next().await {
                        if chunk.is_err() {
                            break;
                        }
                    }
                }
            } else {
                let _ = elelem.create_chat_completion(request).await;
            }
        };
        let ended = tokio::time::timeout(Duration::from_secs(20), run).await;
        assert!(ended.is_ok(), "{protocol:?} (stream: {stream}) did not end");
        // Whatever the call did not take is not served to the next case.
        while server.pending() > 0 {
            let _ = elelem
                .create_chat_completion(ChatRequest::new(
                    protocol.model(),
                    vec![Message::user("drain")],
                ))
                .await;
        }
    });
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn arbitrary_bodies_end_in_an_answer_or_a_typed_error(
        protocol in protocol(),
        stream in any::<bool>(),
        status in prop_oneof![Just(200u16), Just(429), Just(500), Just(529), 100u16..600],
        body in prop::collection::vec(any::<u8>(), 0..512),
        content_type in prop::sample::select(vec!["application/json", "text/event-stream", "application/x-ndjson", "text/html"]),
        headers in odd_headers(),
    ) {
        let mut answer = ScriptedResponse::raw(status, content_type, body);
        for (name, value) in headers {
            answer = answer.header(name, value);
        }
        call(protocol, answer, stream);
    }

    #[test]
    fn real_shapes_with_odd_values_end_in_an_answer_or_a_typed_error(
        protocol in protocol(),
        stream in any::<bool>(),
        parts in parts(),
        cut in prop::option::of(any::<prop::sample::Index>()),
        headers in odd_headers(),
    ) {
        let (content_type, body) = structured_body(protocol, &parts, stream);
        let mut answer = match cut {
            Some(at) => ScriptedResponse::truncated_body(200, body.clone(), at.index(body.len() + 1)),
            None => ScriptedResponse::raw(200, content_type.clone(), body),
        };
        answer = answer.header("content-type", content_type);
        for (name, value) in headers {
            answer = answer.header(name, value);
        }
        call(protocol, answer, stream);
    }

    #[test]
    fn sse_framing_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..512), cut in any::<prop::sample::Index>()) {
        let mut framing = SseFraming::default();
        let at = cut.index(bytes.len() + 1);
        framing.push(&bytes[..at]);
        let mut records = 0;
        while framing.next_record().is_some() {
            records += 1;
        }
        framing.push(&bytes[at..]);
        framing.end();
        while framing.next_record().is_some() {
            records += 1;
            prop_assert!(records <= bytes.len() + 1);
        }
    }
}
