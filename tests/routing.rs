//! Routing by measured speed and cost: virtual models order their candidates by
//! price, measured tokens per second or a score of both, re-ranked as
//! measurements arrive; `performance()` reports what was measured.
//!
//! Speeds come from scripted token counts (the same tiny answer time, very
//! different output tokens) or injected records, never from wall-clock races.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::time::{Duration, SystemTime};

use common::routed::*;
use common::*;
use elelem::cost::{AttemptOutcome, TokenCounts, UsageRecord};
use elelem::routing::{RouteBy, Routing};
use elelem_testkit::sse::ChunkStream;
use elelem_testkit::wire;

/// A record of one accepted attempt of `model`: `output` tokens in `seconds`.
fn measured(model: &str, seconds: f64, output: u64) -> UsageRecord {
    UsageRecord {
        timestamp: SystemTime::now(),
        call_id: 1,
        attempt: 1,
        model: model.into(),
        provider: model.split(':').next().unwrap().into(),
        tags: Vec::new().into(),
        tokens: TokenCounts {
            output: Some(output),
            ..TokenCounts::default()
        },
        cost: Default::default(),
        price_known: true,
        duration: Duration::from_secs_f64(seconds),
        outcome: AttemptOutcome::Success,
        adjustments: Default::default(),
        cache_hit: false,
        saved_cost: Default::default(),
        stream_interrupted: false,
        cost_unknown: false,
        time_to_first_token: None,
    }
}

#[tokio::test]
async fn by_cost_the_cheapest_priced_candidate_answers_and_pins_hold() {
    let p = Providers::start(VIRTUAL).await;
    answer_with(&p, 5, 5, 5);
    let elelem = p.builder(&ALL).build().unwrap();
    // DeepInfra is the cheapest but pinned last: GROQ is the cheapest of the rest.
    assert_eq!(answered_by(&elelem, "virtual:cheapest").await, GROQ);
    // Without the pin (set from code), DeepInfra answers.
    let unpinned = p
        .builder(&ALL)
        .routing("virtual:cheapest", Routing::by(RouteBy::Cost))
        .build()
        .unwrap();
    assert_eq!(answered_by(&unpinned, "virtual:cheapest").await, DEEPINFRA);
    assert_eq!(p.openai.request_count(), 0);
}

#[tokio::test]
async fn by_speed_the_order_follows_measurements_as_they_arrive() {
    let p = Providers::start(VIRTUAL).await;
    // The same answer time everywhere, very different output: DeepInfra's
    // tokens per second are far above GROQ's, which are far above OpenAI's.
    answer_with(&p, 10_000, 10_000_000, 10);
    let elelem = p
        .builder(&ALL)
        .routing("virtual:routed", Routing::by(RouteBy::Speed).min_samples(2))
        .build()
        .unwrap();

    // Nothing measured: the declared order.
    assert_eq!(answered_by(&elelem, "virtual:routed").await, OPENAI);
    // One sample each is still too few (min_samples 2): declared order.
    for model in [GROQ, DEEPINFRA] {
        assert_eq!(answered_by(&elelem, model).await, model);
    }
    assert_eq!(answered_by(&elelem, "virtual:routed").await, OPENAI);
    // A second sample of GROQ and OpenAI ranks them: GROQ takes OpenAI's slot;
    // DeepInfra (one sample) keeps its own.
    assert_eq!(answered_by(&elelem, GROQ).await, GROQ);
    assert_eq!(answered_by(&elelem, "virtual:routed").await, GROQ);
    // DeepInfra's second sample: it is the fastest, it goes first.
    assert_eq!(answered_by(&elelem, DEEPINFRA).await, DEEPINFRA);
    assert_eq!(answered_by(&elelem, "virtual:routed").await, DEEPINFRA);

    let report = elelem.performance();
    let deepinfra = &report[DEEPINFRA];
    assert_eq!((deepinfra.samples, deepinfra.errors), (3, 0));
    assert!(deepinfra.latency_p50.is_some() && deepinfra.latency_p95.is_some());
    let speed = |m: &str| report[m].tokens_per_second.unwrap();
    assert!(speed(DEEPINFRA) > speed(GROQ) && speed(GROQ) > speed(OPENAI));
}

#[tokio::test]
async fn injected_measurements_rerank_and_a_slow_candidate_goes_last() {
    let p = Providers::start(VIRTUAL).await;
    answer_with(&p, 5, 5, 5);
    let routing = Routing::by(RouteBy::Score)
        .min_samples(3)
        .min_tokens_per_second(50.0);
    let elelem = p
        .builder(&ALL)
        .routing("virtual:routed", routing)
        .build()
        .unwrap();
    // Read back from a ledger, say: OpenAI is fast but dear, GROQ and DeepInfra
    // equally fast, DeepInfra cheaper.
    let history: Vec<UsageRecord> = (0..3)
        .flat_map(|_| {
            [
                measured(OPENAI, 1.0, 1_000),
                measured(GROQ, 1.0, 400),
                measured(DEEPINFRA, 1.0, 400),
            ]
        })
        .collect();
    elelem.learn_performance(&history);
    assert_eq!(answered_by(&elelem, "virtual:routed").await, DEEPINFRA);
    // DeepInfra slows below the floor (its median falls to 10 tokens/s): it
    // goes last, and GROQ's score beats OpenAI's.
    let slow: Vec<UsageRecord> = (0..5).map(|_| measured(DEEPINFRA, 10.0, 100)).collect();
    elelem.learn_performance(&slow);
    assert_eq!(answered_by(&elelem, "virtual:routed").await, GROQ);
    assert_eq!(p.openai.request_count(), 0);
}

#[tokio::test]
async fn performance_reports_errors_and_a_streams_time_to_first_token() {
    let p = Providers::start(VIRTUAL).await;
    p.groq.push(wire::server_error(503));
    p.groq.push(
        ChunkStream::new(
            "openai/gpt-oss-20b",
            &[r#"{"name":"#, r#""Alice","age":30}"#],
        )
        .usage(10, 40),
    );
    let elelem = p.builder(&ALL).build().unwrap();
    let stream = elelem
        .stream_chat_completion(json_request(GROQ))
        .await
        .unwrap();
    stream.collect_completion().await.unwrap();

    let groq = &elelem.performance()[GROQ];
    assert_eq!((groq.samples, groq.errors), (2, 1));
    assert_eq!(groq.error_rate, 0.5);
    assert!(groq.first_token_p50.is_some());
    assert!(groq.tokens_per_second.is_some());
    assert_eq!(groq.speed_samples, 1);
    // Serialized for a dashboard: durations in seconds.
    let json = serde_json::to_value(groq).unwrap();
    assert!(json["latency_p50"].as_f64().unwrap() >= 0.0);
}

#[tokio::test]
async fn cache_hits_are_not_measured() {
    let p = Providers::start(VIRTUAL).await;
    answer_with(&p, 5, 5, 5);
    let elelem = p.builder(&ALL).memory_cache(100).build().unwrap();
    for _ in 0..3 {
        answered_by(&elelem, GROQ).await;
    }
    assert_eq!(p.groq.request_count(), 1);
    assert_eq!(elelem.performance()[GROQ].samples, 1);
}

#[test]
fn the_blocking_client_reports_performance_too() {
    let blocking = elelem::blocking::Elelem::builder().build().unwrap();
    assert!(blocking.performance().is_empty());
}
