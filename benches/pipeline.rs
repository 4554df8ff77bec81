//! Criterion benchmarks of the hot pieces: think-tag removal, JSON extraction,
//! schema validation with a cached compiled validator, and the whole pipeline's
//! overhead per call against an in-memory provider (no network).
//!
//! `cargo bench --bench pipeline`

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;
use std::sync::Arc;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use elelem::json::{extract_json, split_think, SchemaCache};
use elelem::provider::{Provider, ProviderError, ProviderResponse, WireRequest};
use elelem::{async_trait, ChatCompletion, ChatRequest, Elelem, Message, ResponseFormat};
use serde_json::json;

fn answer_text() -> String {
    let thought = "Let me think about the structure of the answer. ".repeat(40);
    format!("<think>\n{thought}\n</think>\nHere is the JSON you asked for:\n```json\n{}\n```\nAnything else?", person_json())
}

fn person_json() -> String {
    json!({
        "name": "Ada Lovelace",
        "age": 36,
        "languages": ["English", "French"],
        "notes": "Wrote the first published algorithm {for a machine}",
        "address": {"city": "London", "street": "St James's Square", "number": 12}
    })
    .to_string()
}

fn schema() -> serde_json::Value {
    json!({
        "type": "object",
        "properties": {
            "name": {"type": "string"},
            "age": {"type": "integer", "minimum": 0},
            "languages": {"type": "array", "items": {"type": "string"}},
            "address": {"type": "object", "required": ["city"]}
        },
        "required": ["name", "age"]
    })
}

fn json_pieces(c: &mut Criterion) {
    let text = answer_text();
    let mut group = c.benchmark_group("json");
    group.throughput(Throughput::Bytes(text.len() as u64));
    group.bench_function("split_think", |b| b.iter(|| split_think(black_box(&text))));
    let answer = split_think(&text).answer.into_owned();
    group.bench_function("extract_json_from_prose_and_fence", |b| {
        b.iter(|| extract_json(black_box(&answer)))
    });
    let cache = SchemaCache::new();
    let schema = schema();
    let value: serde_json::Value = serde_json::from_str(&person_json()).unwrap();
    group.bench_function("validate_with_cached_validator", |b| {
        b.iter(|| {
            cache
                .validator(black_box(&schema))
                .map(|v| v.is_valid(black_box(&value)))
        })
    });
    group.finish();
}

/// Answers instantly from a pre-built completion.
#[derive(Debug)]
struct Instant(ChatCompletion);

#[async_trait]
impl Provider for Instant {
    async fn chat_completion(
        &self,
        _request: WireRequest,
    ) -> Result<ProviderResponse, ProviderError> {
        Ok(ProviderResponse::new(self.0.clone()))
    }
}

fn pipeline(c: &mut Criterion) {
    let completion: ChatCompletion = serde_json::from_value(json!({
        "id": "c", "object": "chat.completion", "created": 1, "model": "m",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": answer_text()}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 120, "completion_tokens": 80, "total_tokens": 200,
                  "prompt_tokens_details": {"cached_tokens": 20}, "completion_tokens_details": {"reasoning_tokens": 30}}
    }))
    .unwrap();
    let elelem = Elelem::builder()
        .without_env_keys()
        .provider("bench", Arc::new(Instant(completion)))
        .models_toml(
            "bench",
            "[provider]\nname = \"bench\"\nbase_url = \"memory://\"\n[[models]]\nid = \"bench:m\"\nprice = { input = \"0.15\", output = \"0.60\", cached_input = \"0.075\" }\n[[models]]\nid = \"bench:gpt-4.1-mini\"\nprice = { input = \"0.15\", output = \"0.60\", cached_input = \"0.075\" }\n",
        )
        .build()
        .unwrap();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let request = ChatRequest::new(
        "bench:m",
        vec![
            Message::system("Extract."),
            Message::user("Ada Lovelace, 36"),
        ],
    )
    .response_format(ResponseFormat::JsonObject)
    .json_schema(schema())
    .temperature(0.7)
    .tags(["bench"]);
    c.bench_function("pipeline/json_call_overhead", |b| {
        b.iter(|| runtime.block_on(elelem.create_chat_completion(black_box(request.clone()))))
    });
    // A model whose prompt tiktoken counts (o200k_base): the call must not tokenize
    // the prompt when no rate limit or budget needs it (that was 300k instructions).
    let tokenized = ChatRequest {
        model: "bench:gpt-4.1-mini".into(),
        ..request.clone()
    };
    c.bench_function("pipeline/json_call_overhead_tiktoken_model", |b| {
        b.iter(|| runtime.block_on(elelem.create_chat_completion(black_box(tokenized.clone()))))
    });
}

criterion_group!(benches, json_pieces, pipeline);
criterion_main!(benches);
