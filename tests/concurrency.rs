//! A thousand concurrent calls through real HTTP: the stats stay exact.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::sync::Arc;

use common::*;
use elelem::cost::InMemoryStatsSink;
use elelem::{PricePerMillion, Usd};
use elelem_testkit::wire::Completion;
use elelem_testkit::TestServer;
use tokio::task::JoinSet;

const MODEL: &str = "groq:openai/gpt-oss-20b";
const CALLS: u64 = 1_000;
const PROMPT: u64 = 123;
const COMPLETION: u64 = 45;
const REASONING: u64 = 7;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_concurrent_calls_sum_exactly() {
    let server = TestServer::start().await.unwrap();
    server.set_fallback(
        Completion::new("openai/gpt-oss-20b", r#"{"ok": true}"#)
            .groq()
            .usage(PROMPT, COMPLETION)
            .reasoning(REASONING),
    );
    let elelem = builder("groq", &server)
        .cost_sink(Arc::new(InMemoryStatsSink::new()))
        .build()
        .unwrap();

    let mut tasks = JoinSet::new();
    for i in 0..CALLS {
        let elelem = elelem.clone();
        tasks.spawn(async move {
            let request = json_request(MODEL)
                .temperature(0.5)
                .extra("seed", i)
                .tags(["load"]);
            elelem.create_chat_completion(request).await
        });
    }
    let mut per_call = Usd::ZERO;
    let mut done = 0u64;
    while let Some(joined) = tasks.join_next().await {
        let response = joined.unwrap().unwrap();
        assert_eq!(response.elelem.attempts, 1);
        per_call += response.elelem.cost;
        done += 1;
    }
    assert_eq!(done, CALLS);
    assert_eq!(server.request_count(), CALLS as usize);

    // Every request went out once, with its own seed.
    let mut seeds: Vec<u64> = bodies(&server)
        .iter()
        .map(|b| b["seed"].as_u64().unwrap())
        .collect();
    seeds.sort_unstable();
    assert_eq!(seeds, (0..CALLS).collect::<Vec<_>>());

    // 0.075 in / 0.30 out per 1M tokens, in nano-dollars per 1M tokens.
    let input_price: PricePerMillion = "0.075".parse().unwrap();
    let output_price: PricePerMillion = "0.30".parse().unwrap();
    let input_cost = Usd::from_femtos(i128::from(input_price.nanos()) * i128::from(PROMPT * CALLS));
    let output_cost =
        Usd::from_femtos(i128::from(output_price.nanos()) * i128::from(COMPLETION * CALLS));
    // 123 000 x 0.075 = 9225 micro-dollars; 45 000 x 0.30 = 13 500 micro-dollars.
    assert_eq!(input_cost, usd("0.009225"));
    assert_eq!(output_cost, usd("0.0135"));
    assert_eq!(per_call, usd("0.022725"));

    let stats = elelem.get_stats();
    assert_eq!(stats.total_calls, CALLS);
    assert_eq!(stats.total_input_tokens, PROMPT * CALLS);
    assert_eq!(stats.total_output_tokens, COMPLETION * CALLS);
    assert_eq!(stats.total_tokens, (PROMPT + COMPLETION) * CALLS);
    assert_eq!(stats.reasoning_tokens, REASONING * CALLS);
    assert_eq!(stats.total_input_cost_usd, input_cost);
    assert_eq!(stats.total_output_cost_usd, output_cost);
    assert_eq!(stats.total_cost_usd, input_cost + output_cost);
    assert_eq!(stats.total_cost_usd, per_call);
    // 7 000 reasoning tokens x 0.30 = 2100 micro-dollars.
    assert_eq!(stats.reasoning_cost_usd, usd("0.0021"));
    assert_eq!(stats.retry_analytics.total_retries, 0);
    assert_eq!(stats.retry_analytics.final_failures, 0);
    assert!(stats.total_duration_seconds > 0.0);

    assert_eq!(elelem.get_stats_by_tag("load"), stats);
}
