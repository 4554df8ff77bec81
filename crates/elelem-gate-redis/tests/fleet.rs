//! A fleet: 3 processes (this test binary run again) sharing one PostgreSQL
//! (ledger, budget store, response cache) and one Redis (rate limits and
//! cool-downs), calling one `elelem-testkit` provider that allows 10 requests
//! per second and answers its first requests with scripted faults (503, 429,
//! 503). A mixed load of identical and distinct requests; afterwards the ledger,
//! the budget, the cache and the rate limit add up exactly across the processes.
//! Skipped, loudly, when PostgreSQL or Redis is not installed.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;
#[path = "../../elelem-ledger-postgres/tests/common/mod.rs"]
mod pg;

use std::sync::Arc;
use std::time::Duration;

use common::RedisServer;
use elelem_core::budget::Budget;
use elelem_core::cost::StatsQuery;
use elelem_core::gate::RateLimit;
use elelem_core::{ChatRequest, Elelem, Message, Usd};
use elelem_gate_redis::RedisGate;
use elelem_ledger_postgres::{PostgresBudgetStore, PostgresCache, PostgresLedger};
use elelem_testkit::wire::{self, Completion};
use elelem_testkit::TestServer;
use pg::child::{wait_for_parent, Child};
use pg::PgServer;

// Links the OpenAI provider (it registers itself).
use elelem_openai as _;

/// A model at $1 per million tokens in and out.
const PRICED: &str = "[[models]]\nid = \"openai:fleet-m\"\nupstream = \"gpt-4.1-mini\"\ncontext_window = 100000\nprice = { input = \"1\", output = \"1\" }\n";
const MODEL: &str = "openai:fleet-m";
const PROCESSES: usize = 3;
/// Per process: this many identical requests (one question asked everywhere)...
const SHARED_CALLS: usize = 10;
/// ... and this many of its own.
const OWN_CALLS: usize = 10;
const LIMIT: u64 = 10;
const WINDOW: Duration = Duration::from_secs(1);

const CHILD_DB: &str = "ELELEM_FLEET_CHILD_DB";
const CHILD_REDIS: &str = "ELELEM_FLEET_CHILD_REDIS";
const CHILD_PROVIDER: &str = "ELELEM_FLEET_CHILD_PROVIDER";
const CHILD_NAME: &str = "ELELEM_FLEET_CHILD_NAME";

fn request(text: String) -> ChatRequest {
    ChatRequest::new(MODEL, vec![Message::user(text)]).max_tokens(10)
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(4)
        .enable_all()
        .build()
        .unwrap()
}

/// One fresh answer's cost: 40 + 10 tokens at $1 per million.
fn one_answer() -> Usd {
    "0.00005".parse().unwrap()
}

/// The child's side; does nothing in a normal test run.
#[test]
fn fleet_child() {
    let vars = [CHILD_DB, CHILD_REDIS, CHILD_PROVIDER, CHILD_NAME].map(std::env::var);
    let [Ok(db), Ok(redis), Ok(provider), Ok(name)] = vars else {
        return;
    };
    runtime().block_on(async move {
        let ledger = Arc::new(PostgresLedger::connect(&db).unwrap());
        let budgets = Arc::new(PostgresBudgetStore::connect(&db).unwrap());
        let cache = Arc::new(PostgresCache::connect(&db).unwrap());
        let elelem = Elelem::builder()
            .without_env_keys()
            .api_key("openai", "sk-test-fleet")
            .base_url("openai", &provider)
            .models_toml("priced", PRICED)
            .cost_sink(ledger.clone())
            .budget(Budget::new("1".parse().unwrap()))
            .budget_store(budgets.clone())
            .cache(cache)
            .rate_limit("openai", RateLimit::per(WINDOW).requests(LIMIT))
            .gate_store(Arc::new(RedisGate::new(&redis).unwrap()))
            .build()
            .unwrap();
        println!("READY");
        assert_eq!(wait_for_parent(), "GO");
        let texts = (0..SHARED_CALLS)
            .map(|_| "What everyone asks.".to_owned())
            .chain((0..OWN_CALLS).map(|i| format!("{name} asks question {i}.")));
        let tasks: Vec<_> = texts
            .map(|text| {
                let elelem = elelem.clone();
                tokio::spawn(async move { elelem.create_chat_completion(request(text)).await })
            })
            .collect();
        let (mut hits, mut fresh, mut cost) = (0, 0, Usd::ZERO);
        for task in tasks {
            let done = task.await.unwrap().unwrap();
            cost += done.elelem.cost;
            if done.elelem.cache_hit {
                hits += 1;
            } else {
                fresh += 1;
            }
        }
        ledger.close().unwrap();
        budgets.close().unwrap();
        println!("RESULT {hits} {fresh} {}", cost.femtos());
    });
}

#[test]
fn fleet() {
    let Some(pg) = PgServer::start() else {
        return;
    };
    let Some(redis) = RedisServer::start() else {
        return;
    };
    let db = pg.database("fleet");
    let rt = runtime();
    let provider = rt.block_on(TestServer::start()).unwrap();
    provider.push_many([
        wire::server_error(503),
        wire::rate_limited_ms(200),
        wire::server_error(503),
    ]);
    provider.set_fallback(
        Completion::new("gpt-4.1-mini", "an answer")
            .usage(40, 10)
            .into_response()
            .delay(Duration::from_millis(50)),
    );
    // The tables exist before the children race to create them.
    drop(PostgresLedger::connect(&db).unwrap());
    drop(PostgresBudgetStore::connect(&db).unwrap());
    drop(PostgresCache::connect(&db).unwrap());
    let redis_url = redis.url(0);
    let provider_url = provider.url();
    let mut children: Vec<Child> = (0..PROCESSES)
        .map(|i| {
            let name = format!("worker{i}");
            Child::spawn(
                "fleet_child",
                &[
                    (CHILD_DB, &db),
                    (CHILD_REDIS, &redis_url),
                    (CHILD_PROVIDER, &provider_url),
                    (CHILD_NAME, &name),
                ],
            )
        })
        .collect();
    for child in &children {
        child.wait_for("READY");
    }
    provider.rate_limit(Some((LIMIT, WINDOW)));
    for child in &mut children {
        child.tell("GO");
    }
    let (mut hits, mut fresh, mut paid) = (0u64, 0u64, Usd::ZERO);
    for child in children {
        let result = child.wait_for("RESULT");
        let fields: Vec<&str> = result.split_whitespace().skip(1).collect();
        hits += fields[0].parse::<u64>().unwrap();
        fresh += fields[1].parse::<u64>().unwrap();
        paid += Usd::from_femtos(fields[2].parse().unwrap());
        child.wait_success();
    }

    // The cache: one provider answer for the question everyone asked.
    let distinct = (PROCESSES * OWN_CALLS + 1) as u64;
    assert_eq!(
        (hits, fresh),
        ((PROCESSES * SHARED_CALLS - 1) as u64, distinct)
    );
    // The rate limit: never a 429 from the provider's limit; every request sent
    // is a fresh answer or one of the three scripted faults (each retried).
    assert_eq!(provider.rate_limited_count(), 0);
    assert_eq!(provider.request_count() as u64, distinct + 3);
    assert_eq!(provider.pending(), 0, "every fault was served");

    // The ledger: every attempt of every process, to the femto-dollar.
    let ledger = PostgresLedger::connect(&db).unwrap();
    let stats = ledger.query_stats(&StatsQuery::All).unwrap().unwrap();
    let expected = Usd::from_femtos(one_answer().femtos() * i128::from(distinct as u32));
    assert_eq!(paid, expected, "what the callers were told they paid");
    assert_eq!(stats.total_cost_usd, expected);
    assert_eq!(stats.cache_hits, hits);
    assert_eq!(
        stats.cache_saved_cost_usd,
        Usd::from_femtos(one_answer().femtos() * i128::from(hits as u32))
    );
    assert_eq!(stats.retry_analytics.rate_limit_retries, 1);
    assert_eq!(
        (stats.total_input_tokens, stats.total_output_tokens),
        (40 * distinct, 10 * distinct)
    );
    let records = ledger.records(&StatsQuery::All).unwrap().unwrap();
    assert_eq!(
        records.len() as u64,
        distinct + 3 + hits,
        "one record per attempt and per hit"
    );

    // The budget: its account holds exactly the ledger's spend, nothing reserved.
    let mut client = postgres::Client::connect(&db, postgres::NoTls).unwrap();
    let spent: String = client
        .query_one(
            "SELECT COALESCE(SUM(spent_femto_usd), 0)::text FROM elelem_budget_accounts",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(Usd::from_femtos(spent.parse().unwrap()), expected);
    let held: i64 = client
        .query_one("SELECT COUNT(*) FROM elelem_budget_reservations", &[])
        .unwrap()
        .get(0);
    assert_eq!(held, 0);
    let cached: i64 = client
        .query_one("SELECT COUNT(*) FROM elelem_response_cache", &[])
        .unwrap()
        .get(0);
    assert_eq!(
        cached as u64, distinct,
        "one cache entry per distinct request"
    );
}
