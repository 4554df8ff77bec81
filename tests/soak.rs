//! Soak with faults (issue 12): many calls at 64 concurrency against a test
//! server that answers 10 % of requests (seeded) with a fault (500, 503, 429, a
//! dropped connection, a body cut mid-way). Every total must equal the server's
//! own count: calls, tokens and cost (from the answers it really served), per tag
//! too, and memory must stay flat (resident size sampled at 10 %, 50 % and 100 %).
//!
//! CI runs 5,000 calls. The full run, 200,000 calls, is `scripts/soak.sh`
//! (release mode, `SOAK_CALLS` to change the count); its result is in the
//! README's reliability section.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use elelem::retry::DefaultRetryPolicy;
use elelem::{ChatRequest, Elelem, Message, Usd};
use elelem_testkit::{wire, RandomFaults, ScriptedResponse, TestServer};
use futures_util::StreamExt;

const CONCURRENCY: usize = 64;
const TAGS: [&str; 4] = ["alpha", "beta", "gamma", "delta"];
const PROMPT_TOKENS: u64 = 12;
const ANSWER_TOKENS: u64 = 7;

/// The resident set size of this process, in KiB (0 where /proc is missing).
fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|n| n.parse().ok())
        })
        .unwrap_or(0)
}

fn answer() -> ScriptedResponse {
    wire::Completion::new("gpt-4.1-mini", "Hello!")
        .usage(PROMPT_TOKENS, ANSWER_TOKENS)
        .into_response()
}

fn faults() -> Vec<ScriptedResponse> {
    let body = answer().body().cloned().unwrap();
    let cut = body.len() / 2;
    vec![
        wire::server_error(500),
        wire::server_error(503),
        wire::rate_limited_ms(1),
        ScriptedResponse::drop_connection(),
        ScriptedResponse::truncated_body(200, body, cut),
    ]
}

fn client(server: &TestServer) -> Elelem {
    Elelem::builder()
        .without_env_keys()
        .api_key("openai", "sk-test")
        .base_url("openai", server.url())
        .retry_policy(Arc::new(
            DefaultRetryPolicy::default()
                .transient_backoff(vec![Duration::from_millis(1)])
                .rate_limit_backoff(vec![Duration::from_millis(1)]),
        ))
        .build()
        .unwrap()
}

fn request(i: usize) -> ChatRequest {
    ChatRequest::new("openai:gpt-4.1-mini", vec![Message::user("Hi")])
        .max_tokens(20)
        .tags([TAGS[i % TAGS.len()]])
}

/// What a soak run measured.
#[derive(Debug)]
struct Soak {
    calls: usize,
    elapsed: Duration,
    rss_kib: [u64; 3],
    served_answers: u64,
    served_faults: u64,
    failed_calls: u64,
}

async fn soak(calls: usize) -> Soak {
    let server = TestServer::start().await.unwrap();
    server.set_fallback(answer());
    // The cost of one answer, from a client of its own.
    let unit = {
        let one = client(&server);
        one.create_chat_completion(request(0))
            .await
            .unwrap()
            .elelem
            .cost
    };
    assert!(unit > Usd::ZERO);
    let random = Arc::new(RandomFaults::new(10, 0x5eed, faults()));
    server.set_random_faults(Some(random.clone()));
    server.clear_requests();
    let elelem = client(&server);

    let started = Instant::now();
    let mut rss = [0u64; 3];
    let mut requests = 0u64;
    let mut failed = 0u64;
    let phases = 10;
    let per_phase = calls.div_ceil(phases);
    let mut done = 0;
    for phase in 0..phases {
        let end = (done + per_phase).min(calls);
        let results: Vec<bool> = futures_util::stream::iter(done..end)
            .map(|i| {
                let elelem = &elelem;
                async move { elelem.create_chat_completion(request(i)).await.is_ok() }
            })
            .buffer_unordered(CONCURRENCY)
            .collect()
            .await;
        failed += results.iter().filter(|ok| !**ok).count() as u64;
        done = end;
        // The server's request log is read and emptied between phases, so it
        // does not grow with the run.
        requests += server.request_count() as u64;
        server.clear_requests();
        match phase {
            0 => rss[0] = rss_kib(),
            4 => rss[1] = rss_kib(),
            _ => {}
        }
    }
    rss[2] = rss_kib();
    let elapsed = started.elapsed();

    // Every total equals the server's own count.
    let served_answers = random.served_answers();
    let served_faults = random.served_faults();
    assert_eq!(requests, served_answers + served_faults);
    let stats = elelem.get_stats();
    assert_eq!(stats.total_calls, calls as u64);
    assert_eq!(stats.retry_analytics.final_failures, failed);
    // One attempt per request the server saw, give or take requests lost in
    // transit: an attempt whose connection fails before the server reads the
    // request (the scripted drops and cut bodies make the client open hundreds
    // of new connections) is a transient failure the server never logs. CI
    // under full load once saw 5 such attempts of 5,522 (not reproduced since,
    // the mechanism not pinned down); a systematic miscount (an attempt counted
    // twice, a retry not counted) would be off by hundreds, since a tenth of
    // the requests fail.
    let attempts = stats.total_calls + stats.retry_analytics.total_retries;
    let sent = elelem.request_counts().get("openai").copied().unwrap_or(0);
    assert!(
        attempts >= sent && sent >= requests,
        "{attempts} attempts, {sent} sent, {requests} seen by the server"
    );
    assert!(
        attempts - requests <= calls as u64 / 500,
        "{attempts} attempts but {requests} requests seen by the server: {:?}",
        stats.retry_analytics
    );
    assert_eq!(stats.total_input_tokens, served_answers * PROMPT_TOKENS);
    assert_eq!(stats.total_output_tokens, served_answers * ANSWER_TOKENS);
    let served: i128 = i128::from(served_answers);
    assert_eq!(stats.total_cost_usd.femtos(), unit.femtos() * served);
    // Per tag: calls as issued, and the tags' totals add up to the whole.
    let by_tag: Vec<_> = TAGS.iter().map(|t| elelem.get_stats_by_tag(t)).collect();
    for (i, tag) in by_tag.iter().enumerate() {
        let issued = (0..calls).filter(|c| c % TAGS.len() == i).count() as u64;
        assert_eq!(tag.total_calls, issued, "calls of tag {}", TAGS[i]);
    }
    let sum = |f: fn(&elelem::Stats) -> u64| by_tag.iter().map(f).sum::<u64>();
    assert_eq!(sum(|s| s.total_input_tokens), stats.total_input_tokens);
    assert_eq!(sum(|s| s.total_output_tokens), stats.total_output_tokens);
    assert_eq!(
        sum(|s| s.retry_analytics.total_retries),
        stats.retry_analytics.total_retries
    );
    assert_eq!(
        by_tag.iter().map(|s| s.total_cost_usd).sum::<Usd>(),
        stats.total_cost_usd
    );
    // A body cut mid-way is an attempt of unknown cost.
    assert!(stats.calls_cost_unknown > 0);
    server.shutdown().await;
    Soak {
        calls,
        elapsed,
        rss_kib: rss,
        served_answers,
        served_faults,
        failed_calls: failed,
    }
}

/// Memory is flat: once warmed up (the allocator's arenas, the test server's
/// per-phase request log of the same process at its largest), the last sample
/// is within 10 % (plus 16 MiB of allocator slack) of the one at 50 %. A leak
/// of a few hundred bytes per call over the second half fails it.
fn assert_flat(soak: &Soak) {
    let [_, middle, last] = soak.rss_kib;
    assert!(
        last <= middle + middle / 10 + 16 * 1024,
        "resident size grew: {:?} KiB",
        soak.rss_kib
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn soak_5000_calls_with_10_percent_faults() {
    let soak = soak(5_000).await;
    println!("{soak:?}");
    assert_flat(&soak);
}

/// The full soak: `scripts/soak.sh` (release mode).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "long: run by scripts/soak.sh in release mode"]
async fn soak_full() {
    let calls = std::env::var("SOAK_CALLS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(200_000);
    let soak = soak(calls).await;
    println!(
        "SOAK calls={} duration={:.1}s served_answers={} served_faults={} failed_calls={} rss_kib_10%={} rss_kib_50%={} rss_kib_100%={}",
        soak.calls,
        soak.elapsed.as_secs_f64(),
        soak.served_answers,
        soak.served_faults,
        soak.failed_calls,
        soak.rss_kib[0],
        soak.rss_kib[1],
        soak.rss_kib[2]
    );
    assert_flat(&soak);
}
