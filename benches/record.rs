//! Criterion benchmarks of the remaining hot pieces: parsing a real-shaped OpenAI
//! `chat.completion` body into `ChatCompletion`, and cost recording into the
//! default in-memory stats sink from 1, 2 and 8 threads at once (contention on its
//! lock).
//!
//! `cargo bench --bench record`

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant, SystemTime};

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use elelem::cost::{AttemptOutcome, CostSink, InMemoryStatsSink, UsageRecord};
use elelem::ChatCompletion;
use serde_json::json;

/// A body shaped like OpenAI's answer to a JSON-mode call (every field it sends).
fn openai_body() -> Vec<u8> {
    let content = json!({"name": "Ada Lovelace", "age": 36}).to_string();
    json!({
        "id": "chatcmpl-BENCH0000000000000000000001",
        "object": "chat.completion",
        "created": 1_763_900_000u64,
        "model": "gpt-4.1-mini-2025-04-14",
        "choices": [{
            "index": 0,
            "message": {"role": "assistant", "content": content, "refusal": null, "annotations": []},
            "logprobs": null,
            "finish_reason": "stop"
        }],
        "usage": {
            "prompt_tokens": 87, "completion_tokens": 12, "total_tokens": 99,
            "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
            "completion_tokens_details": {"reasoning_tokens": 0, "audio_tokens": 0,
                "accepted_prediction_tokens": 0, "rejected_prediction_tokens": 0}
        },
        "service_tier": "default",
        "system_fingerprint": "fp_bench000"
    })
    .to_string()
    .into_bytes()
}

fn parse(c: &mut Criterion) {
    let body = openai_body();
    let mut group = c.benchmark_group("parse");
    group.throughput(Throughput::Bytes(body.len() as u64));
    group.bench_function("chat_completion_from_openai_body", |b| {
        b.iter(|| serde_json::from_slice::<ChatCompletion>(black_box(&body)).unwrap())
    });
    group.bench_function("serde_json_value_from_openai_body", |b| {
        b.iter(|| serde_json::from_slice::<serde_json::Value>(black_box(&body)).unwrap())
    });
    group.finish();
}

fn record(i: u64) -> UsageRecord {
    UsageRecord {
        timestamp: SystemTime::now(),
        call_id: i,
        attempt: 1,
        model: "openai:gpt-4.1-mini".into(),
        provider: "openai".into(),
        tags: vec!["bench".to_string(), format!("worker-{}", i % 4)].into(),
        tokens: Default::default(),
        cost: Default::default(),
        price_known: true,
        duration: Duration::from_millis(3),
        outcome: AttemptOutcome::Success,
        adjustments: Default::default(),
        cache_hit: false,
        saved_cost: Default::default(),
        stream_interrupted: false,
        cost_unknown: false,
        time_to_first_token: None,
    }
}

/// Time per record with `threads` threads recording at once into one sink.
fn contended(sink: &Arc<InMemoryStatsSink>, threads: usize, per_thread: u64) -> Duration {
    let barrier = Arc::new(Barrier::new(threads + 1));
    let handles: Vec<_> = (0..threads)
        .map(|t| {
            let sink = sink.clone();
            let barrier = barrier.clone();
            let records: Vec<UsageRecord> = (0..per_thread).map(|i| record(i + t as u64)).collect();
            std::thread::spawn(move || {
                barrier.wait();
                for r in &records {
                    sink.record(black_box(r));
                }
            })
        })
        .collect();
    barrier.wait();
    let start = Instant::now();
    for h in handles {
        h.join().unwrap();
    }
    start.elapsed()
}

fn recording(c: &mut Criterion) {
    let mut group = c.benchmark_group("cost_recording");
    group.throughput(Throughput::Elements(1));
    for threads in [1usize, 2, 8] {
        let sink = Arc::new(InMemoryStatsSink::new());
        group.bench_function(format!("in_memory_sink_{threads}_threads"), |b| {
            b.iter_custom(|iters| {
                let per_thread = iters.div_ceil(threads as u64).max(1);
                let total = contended(&sink, threads, per_thread);
                total.mul_f64(iters as f64 / (per_thread * threads as u64) as f64)
            })
        });
    }
    group.finish();
}

criterion_group!(benches, parse, recording);
criterion_main!(benches);
