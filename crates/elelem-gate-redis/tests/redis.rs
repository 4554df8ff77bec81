//! `RedisGate` against a real Redis server started for the test on 127.0.0.1
//! (skipped, loudly, only when `redis-server` is not installed), with real calls
//! over HTTP to `elelem-testkit` servers.
//!
//! 3 processes (this test binary run again) x 30 concurrent calls against a
//! provider that allows 10 per second never collect a 429; a provider put in
//! cool-down by one client is skipped by another (its own gate, its own
//! connection) on its next call; with Redis down, calls go through the local
//! gate and the fall-back is logged once.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "../../elelem-ledger-postgres/tests/common/child.rs"]
mod child;
mod common;

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use child::{wait_for_parent, Child};
use common::RedisServer;
use elelem_core::gate::{CooldownPolicy, RateLimit};
use elelem_core::provider::ProviderError;
use elelem_core::{ChatRequest, Elelem, ElelemBuilder, ElelemError, Message};
use elelem_gate_redis::RedisGate;
use elelem_testkit::wire;
use elelem_testkit::TestServer;

// Links the OpenAI provider (it registers itself).
use elelem_openai as _;

const MODEL: &str = "openai:gpt-4.1-mini";
const PROCESSES: usize = 3;
const CALLS_PER_CHILD: usize = 30;
const LIMIT: u64 = 10;
const WINDOW: Duration = Duration::from_secs(1);

const CHILD_REDIS: &str = "ELELEM_GATE_CHILD_REDIS";
const CHILD_PROVIDER: &str = "ELELEM_GATE_CHILD_PROVIDER";

fn builder(provider_url: &str) -> ElelemBuilder {
    Elelem::builder()
        .without_env_keys()
        .api_key("openai", "sk-test-gate")
        .base_url("openai", provider_url)
}

fn request() -> ChatRequest {
    ChatRequest::new(MODEL, vec![Message::user("Hello")])
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(4)
        .enable_all()
        .build()
        .unwrap()
}

/// The child's side; does nothing in a normal test run.
#[test]
fn gate_child() {
    let (Ok(redis), Ok(provider)) = (std::env::var(CHILD_REDIS), std::env::var(CHILD_PROVIDER))
    else {
        return;
    };
    runtime().block_on(async move {
        let elelem = builder(&provider)
            .rate_limit("openai", RateLimit::per(WINDOW).requests(LIMIT))
            .gate_store(Arc::new(RedisGate::new(&redis).unwrap()))
            .build()
            .unwrap();
        println!("READY");
        assert_eq!(wait_for_parent(), "GO");
        let tasks: Vec<_> = (0..CALLS_PER_CHILD)
            .map(|_| {
                let elelem = elelem.clone();
                tokio::spawn(async move { elelem.create_chat_completion(request()).await })
            })
            .collect();
        let mut ok = 0;
        for task in tasks {
            task.await.unwrap().unwrap();
            ok += 1;
        }
        let stats = elelem.get_stats();
        println!("RESULT {ok} {}", stats.retry_analytics.rate_limit_retries);
    });
}

#[test]
fn redis_gate() {
    let Some(mut redis) = RedisServer::start() else {
        return;
    };
    eprintln!("redis scenario: three processes");
    three_processes_share_one_rate_limit(&redis);
    eprintln!("redis scenario: cool-down");
    a_cool_down_seen_by_one_client_is_seen_by_all(&redis);
    eprintln!("redis scenario: keys expire");
    keys_expire_on_their_own(&redis);
    eprintln!("redis scenario: redis down");
    redis.stop();
    with_redis_down_each_process_uses_its_own_gate_and_says_so_once(&redis);
}

fn three_processes_share_one_rate_limit(redis: &RedisServer) {
    let rt = runtime();
    let provider = rt.block_on(TestServer::start()).unwrap();
    provider.set_fallback(wire::completion("gpt-4.1-mini", "fine"));
    let url = redis.url(0);
    let mut children: Vec<Child> = (0..PROCESSES)
        .map(|_| {
            Child::spawn(
                "gate_child",
                &[(CHILD_REDIS, &url), (CHILD_PROVIDER, &provider.url())],
            )
        })
        .collect();
    for child in &children {
        child.wait_for("READY");
    }
    // The provider's windows start now, before any request.
    provider.rate_limit(Some((LIMIT, WINDOW)));
    let started = Instant::now();
    for child in &mut children {
        child.tell("GO");
    }
    let mut ok = 0;
    for child in children {
        let result = child.wait_for("RESULT");
        let numbers: Vec<u64> = result
            .split_whitespace()
            .skip(1)
            .map(|n| n.parse().unwrap())
            .collect();
        ok += numbers[0];
        assert_eq!(numbers[1], 0, "no rate-limit retries");
        child.wait_success();
    }
    let took = started.elapsed();
    assert_eq!(ok, 90);
    assert_eq!(
        provider.rate_limited_count(),
        0,
        "zero 429s across the processes"
    );
    assert_eq!(provider.request_count(), 90);
    // 90 requests at 10 per second: the limit was shared, not 10 per process.
    assert!(took >= Duration::from_secs(8), "{took:?}");
}

fn a_cool_down_seen_by_one_client_is_seen_by_all(redis: &RedisServer) {
    runtime().block_on(async {
        let provider = TestServer::start().await.unwrap();
        provider.set_fallback(wire::server_error(503));
        // Two clients, each with its own gate and connection: only Redis is shared.
        let client = || {
            builder(&provider.url())
                .provider_cooldown(CooldownPolicy::new(3, Duration::from_secs(30)))
                .gate_store(Arc::new(RedisGate::new(&redis.url(1)).unwrap()))
                .build()
                .unwrap()
        };
        let (first, second) = (client(), client());
        let failed = first.create_chat_completion(request()).await.unwrap_err();
        assert!(!matches!(failed, ElelemError::BudgetExceeded(_)));
        let sent = provider.request_count();
        assert!(sent >= 3, "the first client's attempts failed: {sent}");
        // The failures reach Redis within one round trip of the last attempt.
        tokio::time::sleep(Duration::from_millis(100)).await;
        let refused = second.create_chat_completion(request()).await.unwrap_err();
        assert_eq!(provider.request_count(), sent, "the second client sent nothing");
        let ElelemError::Provider { error, .. } = &refused else {
            panic!("expected a provider error, got {refused}");
        };
        assert!(
            matches!(error, ProviderError::CoolingDown { provider, failures, .. } if provider == "openai" && *failures >= 3),
            "{error}"
        );
        assert_eq!(second.cooling_down("openai"), None, "the second client's own gate never saw a failure");
    });
}

fn keys_expire_on_their_own(redis: &RedisServer) {
    runtime().block_on(async {
        let provider = TestServer::start().await.unwrap();
        provider.set_fallback(wire::completion("gpt-4.1-mini", "fine"));
        let elelem = builder(&provider.url())
            .rate_limit(
                "openai",
                RateLimit::per(Duration::from_millis(200)).requests(5),
            )
            .gate_store(Arc::new(
                RedisGate::new(&redis.url(2)).unwrap().with_prefix("expiry"),
            ))
            .build()
            .unwrap();
        elelem.create_chat_completion(request()).await.unwrap();
        let client = redis::Client::open(redis.url(2)).unwrap();
        let mut conn = client.get_multiplexed_async_connection().await.unwrap();
        let ttl: i64 = redis::cmd("PTTL")
            .arg("expiry:openai:log")
            .query_async(&mut conn)
            .await
            .unwrap();
        assert!(
            ttl > 0 && ttl <= 1_200,
            "the log expires a moment after its window: {ttl}"
        );
        tokio::time::sleep(Duration::from_millis(1_400)).await;
        let keys: Vec<String> = redis::cmd("KEYS")
            .arg("expiry:*")
            .query_async(&mut conn)
            .await
            .unwrap();
        assert!(!keys.contains(&"expiry:openai:log".to_owned()), "{keys:?}");
    });
}

/// Log lines written by the subscriber of the Redis-down scenario.
#[derive(Clone, Default)]
struct Logs(Arc<Mutex<Vec<u8>>>);

impl Write for Logs {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn with_redis_down_each_process_uses_its_own_gate_and_says_so_once(redis: &RedisServer) {
    let logs = Logs::default();
    let writer = logs.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(move || writer.clone())
        .with_max_level(tracing::Level::WARN)
        .with_ansi(false)
        .finish();
    // One thread: every task logs to this subscriber.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    tracing::subscriber::with_default(subscriber, || {
        rt.block_on(async {
            let provider = TestServer::start().await.unwrap();
            provider.set_fallback(wire::completion("gpt-4.1-mini", "fine"));
            provider.rate_limit(Some((LIMIT, WINDOW)));
            let elelem = builder(&provider.url())
                .rate_limit("openai", RateLimit::per(WINDOW).requests(LIMIT))
                .gate_store(Arc::new(RedisGate::new(&redis.url(0)).unwrap()))
                .build()
                .unwrap();
            let calls = (0..25).map(|_| elelem.create_chat_completion(request()));
            for done in futures_util::future::join_all(calls).await {
                done.unwrap();
            }
            assert_eq!(
                provider.rate_limited_count(),
                0,
                "the local gate paced them"
            );
            assert_eq!(provider.request_count(), 25);
        });
    });
    let text = String::from_utf8(logs.0.lock().unwrap().clone()).unwrap();
    let warnings = text.matches("shared gate store unreachable").count();
    assert_eq!(warnings, 1, "logged once:\n{text}");
}
