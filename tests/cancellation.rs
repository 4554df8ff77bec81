//! Cancellation at random points (issue 12): plain calls and streams dropped at
//! seeded random moments (while reserving, waiting in the gate, sending, reading
//! the body, between stream chunks), against a test server that answers with
//! random delays, drips and 500s. Afterwards the books must be exact:
//!
//! - nothing stays reserved on the budget;
//! - the budget's spend is the recorded cost of every attempt of known cost plus
//!   exactly one worst case for each attempt of unknown cost (a stream dropped
//!   before its usage) and for each attempt dropped mid-flight (it has no record,
//!   as documented: a cancelled call keeps its worst case as spend);
//! - every record is one attempt: `(call, attempt)` pairs unique and numbered
//!   from 1 without gaps; the server saw no request that is neither recorded nor
//!   dropped;
//! - the rate limiter's line is free (a new call goes through at once);
//! - no task is left behind (tokio's alive-task count is back to its baseline).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use elelem::budget::Budget;
use elelem::cost::{CostSink, UsageRecord};
use elelem::gate::RateLimit;
use elelem::retry::DefaultRetryPolicy;
use elelem::{ChatRequest, Elelem, Message, Usd};
use elelem_testkit::sse::ChunkStream;
use elelem_testkit::{wire, ScriptedResponse, TestServer};
use futures_util::StreamExt;
use serde_json::json;

/// Iterations per lane (four lanes run at once).
const ITERATIONS: usize = 400;

/// A small seeded generator (xorshift64*), so a failure can be replayed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn millis(&mut self, n: u64) -> Duration {
        Duration::from_micros(self.below(n * 1_000))
    }
}

/// Keeps every record.
#[derive(Debug, Default)]
struct Records(Mutex<Vec<UsageRecord>>);

impl CostSink for Records {
    fn record(&self, record: &UsageRecord) {
        self.0.lock().unwrap().push(record.clone());
    }
}

fn request() -> ChatRequest {
    ChatRequest::new("openai:gpt-4.1-mini", vec![Message::user("Hi")]).max_tokens(50)
}

fn client(server: &TestServer, records: Arc<Records>) -> Elelem {
    Elelem::builder()
        .without_env_keys()
        .api_key("openai", "sk-test")
        .base_url("openai", server.url())
        .retry_policy(Arc::new(
            DefaultRetryPolicy::default()
                .transient_backoff(vec![Duration::from_millis(1)])
                .rate_limit_backoff(vec![Duration::from_millis(1)]),
        ))
        .rate_limit(
            "openai",
            RateLimit::per(Duration::from_secs(1)).requests(1_000_000),
        )
        .cost_sink(records)
        .budget(Budget::new("1000".parse().unwrap()))
        .build()
        .unwrap()
}

/// The worst case one attempt of `request()` is charged: what a call dropped
/// mid-attempt leaves as spend.
async fn worst_case() -> Usd {
    let server = TestServer::start().await.unwrap();
    server.set_fallback(wire::completion("gpt-4.1-mini", "late").delay(Duration::from_secs(30)));
    let elelem = client(&server, Arc::new(Records::default()));
    let dropped = tokio::time::timeout(
        Duration::from_millis(200),
        elelem.create_chat_completion(request()),
    )
    .await;
    assert!(dropped.is_err());
    let status = &elelem.budget_status()[0];
    assert_eq!(status.reserved, Usd::ZERO);
    assert!(status.spent > Usd::ZERO);
    let worst = status.spent;
    drop(elelem);
    server.shutdown().await;
    worst
}

fn plain_answer(rng: &mut Rng) -> ScriptedResponse {
    match rng.below(10) {
        0 => ScriptedResponse::json(
            500,
            json!({"error": {"message": "boom", "type": "server_error"}}),
        )
        .delay(rng.millis(3)),
        _ => wire::completion("gpt-4.1-mini", "Hello!").delay(rng.millis(6)),
    }
}

fn stream_answer(rng: &mut Rng) -> ScriptedResponse {
    if rng.below(10) == 0 {
        return ScriptedResponse::json(
            500,
            json!({"error": {"message": "boom", "type": "server_error"}}),
        );
    }
    let body = ChunkStream::new("gpt-4.1-mini", &["Hel", "lo", " there", "!"])
        .usage(5, 4)
        .to_bytes();
    let text = String::from_utf8(body.to_vec()).unwrap();
    let parts: Vec<String> = text.split_inclusive("\n\n").map(str::to_owned).collect();
    ScriptedResponse::drip(200, "text/event-stream", parts, rng.millis(2))
}

/// What one lane did.
struct Lane {
    dropped: u64,
    finished: u64,
}

/// Runs `ITERATIONS` plain calls (or streams), each dropped at a random point
/// or let finish, one at a time, on its own server and client; then checks the
/// books.
async fn lane(seed: u64, streams: bool, worst: Usd) -> Lane {
    let mut rng = Rng(seed);
    let server = TestServer::start().await.unwrap();
    let records = Arc::new(Records::default());
    let elelem = client(&server, records.clone());
    let mut lane = Lane {
        dropped: 0,
        finished: 0,
    };
    for _ in 0..ITERATIONS {
        // Enough answers for every retry of this call (a dropped call's unused
        // ones serve the next).
        while server.pending() < 4 {
            server.push(if streams {
                stream_answer(&mut rng)
            } else {
                plain_answer(&mut rng)
            });
        }
        // One call in four is let finish; the others are dropped at a random
        // moment (or finish before it).
        let deadline = if rng.below(4) == 0 {
            Duration::from_secs(30)
        } else {
            rng.millis(25)
        };
        let done = if streams {
            let take = rng.below(8) as usize;
            tokio::time::timeout(deadline, async {
                let Ok(mut stream) = elelem.stream_chat_completion(request()).await else {
                    return;
                };
                for _ in 0..take {
                    if stream.next().await.is_none() {
                        break;
                    }
                }
            })
            .await
            .is_ok()
        } else {
            tokio::time::timeout(deadline, elelem.create_chat_completion(request()))
                .await
                .is_ok()
        };
        if done {
            lane.finished += 1;
        } else {
            lane.dropped += 1;
        }
    }
    // Let the server finish what it was sending and settlements land.
    tokio::time::sleep(Duration::from_millis(100)).await;

    let records = records.0.lock().unwrap().clone();
    let status = &elelem.budget_status()[0];
    assert_eq!(status.reserved, Usd::ZERO, "left reserved (seed {seed})");

    // One record per attempt, numbered from 1 without gaps.
    let mut attempts: BTreeMap<u64, Vec<u32>> = BTreeMap::new();
    for r in &records {
        attempts.entry(r.call_id).or_default().push(r.attempt);
    }
    for (call, mut numbers) in attempts {
        numbers.sort_unstable();
        let expected: Vec<u32> = (1..=numbers.len() as u32).collect();
        assert_eq!(numbers, expected, "call {call}: attempts (seed {seed})");
    }

    // Spend: known costs, plus one worst case per unknown or unrecorded attempt.
    let known: Usd = records
        .iter()
        .filter(|r| !r.cost_unknown)
        .map(|r| r.cost.total())
        .sum();
    let unknown = records.iter().filter(|r| r.cost_unknown).count() as i128;
    let beyond = status.spent.femtos() - known.femtos();
    assert!(beyond >= 0, "spent below the recorded cost (seed {seed})");
    assert_eq!(
        beyond % worst.femtos(),
        0,
        "spend beyond the known costs is not whole worst cases (seed {seed})"
    );
    let charged_worst = beyond / worst.femtos();
    let unrecorded = charged_worst - unknown;
    assert!(
        unrecorded >= 0 && unrecorded <= i128::from(lane.dropped),
        "{unrecorded} unrecorded worst cases for {} dropped calls (seed {seed})",
        lane.dropped
    );
    // Every request the server saw is recorded, or was dropped mid-flight.
    let sent = server.request_count() as i128;
    let recorded = records.len() as i128;
    assert!(
        sent >= recorded && sent - recorded <= unrecorded,
        "server saw {sent}, records {recorded}, unrecorded worst cases {unrecorded} (seed {seed})"
    );

    // The rate limiter's line is free: a new call goes through at once
    // (whatever the leftover script makes of it).
    let again = async {
        if streams {
            if let Ok(mut stream) = elelem.stream_chat_completion(request()).await {
                while stream.next().await.is_some() {}
            }
        } else {
            let _ = elelem.create_chat_completion(request()).await;
        }
    };
    tokio::time::timeout(Duration::from_secs(5), again)
        .await
        .expect("the gate is stuck after cancellations");
    drop(elelem);
    server.shutdown().await;
    lane
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calls_and_streams_dropped_at_random_points_leave_the_books_exact() {
    let metrics = tokio::runtime::Handle::current().metrics();
    let baseline = metrics.num_alive_tasks();
    let worst = worst_case().await;

    let lanes = [(11, false), (12, false), (13, true), (14, true)]
        .map(|(seed, streams)| tokio::spawn(lane(seed, streams, worst)));
    let mut dropped = 0;
    let mut finished = 0;
    for lane in lanes {
        let lane = lane.await.unwrap();
        dropped += lane.dropped;
        finished += lane.finished;
    }
    // The random points fell on both sides.
    assert!(
        dropped > 50 && finished > 50,
        "{dropped} dropped, {finished} finished"
    );

    // No task left behind: connection tasks end once clients and servers are gone.
    let mut alive = metrics.num_alive_tasks();
    for _ in 0..100 {
        if alive <= baseline {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
        alive = metrics.num_alive_tasks();
    }
    assert_eq!(alive, baseline, "tasks left behind");
}
