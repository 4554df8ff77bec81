//! `PostgresCache` against a real PostgreSQL server started for the test on
//! 127.0.0.1 (skipped, loudly, only when no PostgreSQL server is installed), with
//! real calls over HTTP to one `elelem-testkit` server shared by child processes
//! (this test binary run again).
//!
//! Single flight across processes: 3 processes x 50 concurrent identical requests
//! make exactly one provider call and 149 cache hits, and the shared ledger's
//! stats say so to the femto-dollar. Entries expire after their TTL, the oldest
//! are evicted beyond the size cap, a failed claimant lets a waiter call, and a
//! waiter gives up after the flight timeout.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::child::{wait_for_parent, Child};
use common::PgServer;
use elelem_core::cache::{Cache, CacheKey, CachedResponse, Lookup};
use elelem_core::cost::StatsQuery;
use elelem_core::{ChatRequest, Elelem, ElelemBuilder, Message, Usd};
use elelem_ledger_postgres::{CacheOptions, LedgerOptions, PostgresCache, PostgresLedger};
use elelem_testkit::wire::Completion;
use elelem_testkit::TestServer;

// Links the OpenAI provider (it registers itself).
use elelem_openai as _;

/// A model at $1 per million tokens in and out.
const PRICED: &str = "[[models]]\nid = \"openai:cache-m\"\nupstream = \"gpt-4.1-mini\"\ncontext_window = 100000\nprice = { input = \"1\", output = \"1\" }\n";
const MODEL: &str = "openai:cache-m";
const PROCESSES: usize = 3;
const CALLS_PER_CHILD: usize = 50;

const CHILD_DB: &str = "ELELEM_CACHE_CHILD_DB";
const CHILD_PROVIDER: &str = "ELELEM_CACHE_CHILD_PROVIDER";

fn builder(provider_url: &str) -> ElelemBuilder {
    Elelem::builder()
        .without_env_keys()
        .api_key("openai", "sk-test-cache")
        .base_url("openai", provider_url)
        .models_toml("priced", PRICED)
}

fn request() -> ChatRequest {
    ChatRequest::new(
        MODEL,
        vec![Message::user("The one question everyone asks.")],
    )
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
fn cache_child() {
    let (Ok(url), Ok(provider)) = (std::env::var(CHILD_DB), std::env::var(CHILD_PROVIDER)) else {
        return;
    };
    runtime().block_on(async move {
        let cache = Arc::new(PostgresCache::connect(&url).unwrap());
        let ledger = Arc::new(PostgresLedger::connect(&url).unwrap());
        let elelem = builder(&provider)
            .cache(cache)
            .cost_sink(ledger.clone())
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
        let (mut hits, mut fresh) = (0, 0);
        for task in tasks {
            let done = task.await.unwrap().unwrap();
            assert_eq!(
                done.choices[0].message.content.as_deref(),
                Some("the answer")
            );
            if done.elelem.cache_hit {
                hits += 1;
            } else {
                fresh += 1;
            }
        }
        ledger.close().unwrap();
        println!("RESULT {hits} {fresh}");
    });
}

/// One scenario: the server, and the connection string of its own database.
type Scenario = fn(&PgServer, &str);

#[test]
fn postgres_cache() {
    let Some(server) = PgServer::start() else {
        return;
    };
    let scenarios: [(&str, Scenario); 5] = [
        ("flight", three_processes_make_one_provider_call),
        ("ttl", entries_expire_after_their_ttl),
        ("cap", the_oldest_entries_are_evicted_beyond_the_cap),
        ("failed", a_failed_claimant_lets_a_waiter_call),
        ("timeout", a_waiter_gives_up_after_the_flight_timeout),
    ];
    for (name, scenario) in scenarios {
        eprintln!("postgres cache scenario {name}");
        let url = server.database(&format!("cache_{name}"));
        scenario(&server, &url);
    }
}

fn three_processes_make_one_provider_call(_: &PgServer, url: &str) {
    let rt = runtime();
    let provider = rt.block_on(TestServer::start()).unwrap();
    // Slow enough that every request of every process is in flight at once.
    provider.set_fallback(
        Completion::new("gpt-4.1-mini", "the answer")
            .usage(40, 10)
            .into_response()
            .delay(Duration::from_millis(500)),
    );
    // The tables exist before the children race to create them.
    drop(PostgresLedger::connect(url).unwrap());
    let mut children: Vec<Child> = (0..PROCESSES)
        .map(|_| {
            Child::spawn(
                "cache_child",
                &[(CHILD_DB, url), (CHILD_PROVIDER, &provider.url())],
            )
        })
        .collect();
    for child in &children {
        child.wait_for("READY");
    }
    for child in &mut children {
        child.tell("GO");
    }
    let (mut hits, mut fresh) = (0, 0);
    for child in children {
        let result = child.wait_for("RESULT");
        let numbers: Vec<usize> = result
            .split_whitespace()
            .skip(1)
            .map(|n| n.parse().unwrap())
            .collect();
        hits += numbers[0];
        fresh += numbers[1];
        child.wait_success();
    }
    assert_eq!(
        provider.request_count(),
        1,
        "one provider call for 150 requests"
    );
    assert_eq!((hits, fresh), (149, 1));
    // The shared ledger: one paid call, 149 hits that each saved its exact cost.
    let ledger = PostgresLedger::connect_with(url, LedgerOptions::default()).unwrap();
    let stats = ledger.query_stats(&StatsQuery::All).unwrap().unwrap();
    let one_call: Usd = "0.00005".parse().unwrap(); // 50 tokens at $1 per million
    assert_eq!(stats.cache_hits, 149);
    assert_eq!(stats.total_cost_usd, one_call);
    assert_eq!(
        stats.cache_saved_cost_usd,
        Usd::from_femtos(one_call.femtos() * 149)
    );
    assert_eq!(
        (stats.total_input_tokens, stats.total_output_tokens),
        (40, 10)
    );
}

fn entry(text: &str) -> CachedResponse {
    let completion = serde_json::from_value(serde_json::json!({
        "id": "c", "model": "m",
        "choices": [{"message": {"role": "assistant", "content": text}, "finish_reason": "stop"}]
    }))
    .unwrap();
    CachedResponse::new(completion, "openai:cache-m", "0.001".parse().unwrap())
}

fn key(n: u32) -> CacheKey {
    CacheKey::from_content(&serde_json::json!({ "n": n }))
}

fn entries_expire_after_their_ttl(_: &PgServer, url: &str) {
    runtime().block_on(async {
        let options = CacheOptions::default().ttl(Some(Duration::from_millis(300)));
        let cache = PostgresCache::connect_with(url, options).unwrap();
        cache.put(&key(1), &entry("soon gone")).await;
        let found = cache.get(&key(1)).await.unwrap();
        assert_eq!(found, entry_at(&found, "soon gone"));
        tokio::time::sleep(Duration::from_millis(400)).await;
        assert!(cache.get(&key(1)).await.is_none(), "expired");
        // Another process's view (a second cache) is the same.
        let other = PostgresCache::connect(url).unwrap();
        other.put(&key(2), &entry("kept")).await;
        assert!(cache.get(&key(2)).await.is_some(), "shared between caches");
    });
}

/// `expected` text with `found`'s storage time (set by `CachedResponse::new`).
fn entry_at(found: &CachedResponse, text: &str) -> CachedResponse {
    let mut expected = entry(text);
    expected.stored_at = found.stored_at;
    expected
}

fn the_oldest_entries_are_evicted_beyond_the_cap(_: &PgServer, url: &str) {
    let size = runtime().block_on(async {
        let size = entry("x").to_gzip_bytes().unwrap().len() as u64;
        // Room for three entries of this size.
        let options = CacheOptions::default().max_bytes(size * 3 + size / 2);
        let cache = PostgresCache::connect_with(url, options).unwrap();
        for n in 0..5 {
            cache.put(&key(n), &entry("x")).await;
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let mut kept = Vec::new();
        for n in 0..5 {
            if cache.get(&key(n)).await.is_some() {
                kept.push(n);
            }
        }
        assert_eq!(kept, [2, 3, 4], "the two oldest were evicted");
        size
    });
    {
        let mut client = postgres::Client::connect(url, postgres::NoTls).unwrap();
        let stored: i64 = client
            .query_one(
                "SELECT SUM(size_bytes)::bigint FROM elelem_response_cache",
                &[],
            )
            .unwrap()
            .get(0);
        // Compressed bodies (their size varies by a byte with the timestamp).
        assert!(
            stored as u64 <= size * 3 + size / 2,
            "within the cap: {stored}"
        );
        assert!(
            stored as u64 >= size * 3 - 6,
            "three entries kept: {stored}"
        );
    }
}

fn a_failed_claimant_lets_a_waiter_call(_: &PgServer, url: &str) {
    runtime().block_on(async {
        let first = Arc::new(PostgresCache::connect(url).unwrap());
        let second = Arc::new(PostgresCache::connect(url).unwrap()); // another "process"
        let Lookup::Miss(Some(claim)) = first.get_or_claim(&key(7)).await else {
            panic!("the first lookup claims the key");
        };
        let waiter = {
            let second = second.clone();
            tokio::spawn(async move { second.get_or_claim(&key(7)).await })
        };
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert!(
            !waiter.is_finished(),
            "the other process waits for the claimant"
        );
        drop(claim); // the claimant's call failed: nothing stored
        let Lookup::Miss(Some(second_claim)) = waiter.await.unwrap() else {
            panic!("the waiter claims the key once it is free");
        };
        // This process's other lookups wait for the new claimant, then hit.
        let local = {
            let second = second.clone();
            tokio::spawn(async move { second.get_or_claim(&key(7)).await })
        };
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert!(!local.is_finished());
        second.put(&key(7), &entry("late")).await;
        drop(second_claim);
        let Lookup::Hit(found) = local.await.unwrap() else {
            panic!("the waiter in the same process is answered from the cache");
        };
        assert_eq!(
            found.completion.choices[0].message.content.as_deref(),
            Some("late")
        );
        let Lookup::Hit(_) = first.get_or_claim(&key(7)).await else {
            panic!("and so is the first process");
        };
    });
}

fn a_waiter_gives_up_after_the_flight_timeout(_: &PgServer, url: &str) {
    runtime().block_on(async {
        let holder = PostgresCache::connect(url).unwrap();
        let options = CacheOptions::default().flight_timeout(Duration::from_millis(300));
        let impatient = PostgresCache::connect_with(url, options).unwrap();
        let Lookup::Miss(Some(_held)) = holder.get_or_claim(&key(9)).await else {
            panic!("claimed");
        };
        let started = std::time::Instant::now();
        let Lookup::Miss(Some(_own)) = impatient.get_or_claim(&key(9)).await else {
            panic!("after the timeout the waiter calls itself (leading its own process)");
        };
        assert!(started.elapsed() >= Duration::from_millis(300));
    });
}
