//! Overload: past `[gateway] max_in_flight` the gateway refuses at once (503 in
//! OpenAI's shape, `retry-after`, counted in /metrics) instead of queueing, and
//! the requests in flight never exceed the bound; a client still sending its
//! body holds no place. Its own test binary: the
//! Prometheus recorder is process-wide, so the shed count is this test's alone.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use common::*;
use elelem_testkit::wire;
use serde_json::Value;

const MINI: &str = "openai:gpt-4.1-mini";
const BOUND: i64 = 4;
const FLOOD: usize = 60;

/// Polls until `f` holds (at most 20 s).
async fn until(mut f: impl FnMut() -> bool) {
    for _ in 0..400 {
        if f() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the condition never held");
}

/// The test gateway with `[gateway] max_in_flight = BOUND`.
async fn start_bounded(setup: &Setup) -> elelem_cli::gateway::Running {
    let text = setup.config_text("").replacen(
        "[gateway]\n",
        &format!("[gateway]\nmax_in_flight = {BOUND}\n"),
        1,
    );
    let path = setup.path("elelem.toml");
    std::fs::write(&path, text).unwrap();
    let config = elelem_cli::config::Config::load(&path).unwrap();
    let gateway = elelem_cli::gateway::Gateway::new(config, Some(path)).unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    elelem_cli::gateway::start(gateway, listener)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_past_max_in_flight_is_refused_at_once_and_in_flight_stays_bounded() {
    let setup = Setup::new().await;
    // Every upstream call hangs until its client leaves.
    setup
        .server
        .set_fallback(wire::completion("gpt-4.1-mini", "slow").delay(Duration::from_secs(600)));
    let running = start_bounded(&setup).await;
    assert_eq!(
        running.gateway.loaded().config.gateway.max_in_flight,
        BOUND as usize,
        "the test config sets the bound"
    );

    // The highest count of requests in flight, watched throughout.
    let peak = Arc::new(AtomicI64::new(0));
    let watching = Arc::new(AtomicBool::new(true));
    let watcher = {
        let (gateway, peak, watching) = (running.gateway.clone(), peak.clone(), watching.clone());
        tokio::spawn(async move {
            while watching.load(Ordering::SeqCst) {
                peak.fetch_max(gateway.in_flight(), Ordering::SeqCst);
                tokio::task::yield_now().await;
            }
        })
    };

    // Fill every place with a call that hangs upstream.
    let url = format!("{}/chat/completions", running.url());
    let client = reqwest::Client::new();
    let send = || {
        let request = client
            .post(&url)
            .bearer_auth(OPEN_KEY)
            .json(&chat_body(MINI));
        tokio::spawn(async move { request.send().await.unwrap() })
    };
    let slow: Vec<_> = (0..BOUND).map(|_| send()).collect();
    let gateway = running.gateway.clone();
    until(|| gateway.in_flight() == BOUND).await;

    // The flood: every one refused while the slow calls still hang.
    let flood: Vec<_> = (0..FLOOD).map(|_| send()).collect();
    for refused in flood {
        let response = refused.await.unwrap();
        assert_eq!(
            response.headers()["retry-after"],
            "1",
            "the client is told when to come back"
        );
        let body = assert_error(response, 503, "overloaded").await;
        assert_eq!(body["error"]["type"], "server_error");
    }
    assert!(
        slow.iter().all(|call| !call.is_finished()),
        "the refusals came while the places were still held"
    );
    assert_eq!(
        setup.server.request_count(),
        BOUND as usize,
        "refused requests never reach the provider"
    );

    // The slow clients leave: their places free up and a new request is served.
    for call in slow {
        call.abort();
    }
    until(|| gateway.in_flight() == 0).await;
    setup
        .server
        .set_fallback(wire::completion("gpt-4.1-mini", "fast again"));
    let response = post_chat(&running, Some(OPEN_KEY), MINI).await;
    assert_eq!(response.status(), 200);
    let answer: Value = response.json().await.unwrap();
    assert_eq!(answer["choices"][0]["message"]["content"], "fast again");

    watching.store(false, Ordering::SeqCst);
    watcher.await.unwrap();
    assert!(
        peak.load(Ordering::SeqCst) <= BOUND,
        "in flight peaked at {} over the bound {BOUND}",
        peak.load(Ordering::SeqCst)
    );

    let metrics = get(&running, "/metrics", None).await.text().await.unwrap();
    let shed = metrics
        .lines()
        .find(|l| l.starts_with("elelem_requests_shed_total{route=\"chat\"}"))
        .unwrap_or_else(|| panic!("no shed count in /metrics:\n{metrics}"));
    assert!(shed.ends_with(&format!(" {FLOOD}")), "{shed}");
    running.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clients_still_sending_their_bodies_hold_no_place() {
    use tokio::io::AsyncWriteExt;
    let setup = Setup::new().await;
    setup
        .server
        .set_fallback(wire::completion("gpt-4.1-mini", "served"));
    let running = start_bounded(&setup).await;
    // As many clients as places send their headers and half a body, then stall.
    let mut stalled = Vec::new();
    for _ in 0..BOUND {
        let mut tcp = tokio::net::TcpStream::connect(running.addr).await.unwrap();
        let head = format!(
            "POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\nauthorization: Bearer {OPEN_KEY}\r\ncontent-type: application/json\r\ncontent-length: 1000\r\n\r\n{{\"model\": "
        );
        tcp.write_all(head.as_bytes()).await.unwrap();
        stalled.push(tcp);
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(running.gateway.in_flight(), 0);
    // A request that arrives whole is served, not shed.
    let response = post_chat(&running, Some(OPEN_KEY), MINI).await;
    assert_eq!(response.status(), 200);
    let answer: Value = response.json().await.unwrap();
    assert_eq!(answer["choices"][0]["message"]["content"], "served");
    drop(stalled);
    running.shutdown().await;
}

#[test]
fn a_zero_bound_is_refused_with_the_reason() {
    let error = elelem_cli::config::Config::parse("[gateway]\nmax_in_flight = 0\n", "elelem.toml")
        .unwrap_err()
        .to_string();
    assert!(
        error.contains("max_in_flight must be at least 1"),
        "{error}"
    );
}
