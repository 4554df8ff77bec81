//! Criterion benchmarks of start-up: `Elelem::builder()...build()` with every
//! provider plugin linked (the peers bench's `startup` client), then what its first
//! call needs of the catalogue (one model), and what a full listing needs (every
//! plugin's models read).
//!
//! `cargo bench --bench builder`

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion};
use elelem::Elelem;

fn build() -> Elelem {
    Elelem::builder()
        .without_env_keys()
        .api_key("openai", "sk-bench-not-a-key")
        .base_url("openai", "http://127.0.0.1:9/v1")
        .build()
        .unwrap()
}

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("builder");
    group.bench_function("build", |b| b.iter(|| black_box(build())));
    group.bench_function("build_then_one_model", |b| {
        b.iter(|| {
            let elelem = build();
            let model = elelem.catalogue().model("openai:gpt-4.1-mini").is_some();
            black_box((elelem, model))
        })
    });
    group.bench_function("build_then_every_model", |b| {
        b.iter(|| {
            let elelem = build();
            let count = elelem.catalogue().models().count();
            black_box((elelem, count))
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
