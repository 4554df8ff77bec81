//! Routing measurements survive a restart through a ledger: a client built with
//! a ledger as its cost sink seeds its `performance()` window from the ledger's
//! newest rows (latency, tokens per second, errors, and a stream's time to first
//! token, stored with each record), so a restarted process routes on what it
//! measured before instead of starting from the declared order.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::sync::Arc;

use common::routed::*;
use common::*;
use elelem::cost::{CostSink, RecentQuery, StatsQuery};
use elelem::routing::{RouteBy, Routing};
use elelem::{Elelem, ElelemBuilder};
use elelem_ledger_sqlite::SqliteLedger;
use elelem_testkit::sse::ChunkStream;

fn by_speed(builder: ElelemBuilder) -> Elelem {
    builder
        .routing("virtual:routed", Routing::by(RouteBy::Speed).min_samples(2))
        .build()
        .unwrap()
}

#[tokio::test]
async fn a_restarted_client_routes_on_what_its_ledger_measured() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("usage.db");
    let p = Providers::start(VIRTUAL).await;
    // The same answer time everywhere, very different output: DeepInfra is by far
    // the fastest in tokens per second, OpenAI the slowest.
    answer_with(&p, 10_000, 10_000_000, 10);

    let before = {
        let ledger = Arc::new(SqliteLedger::open(&path).unwrap());
        let elelem = by_speed(p.builder(&ALL).cost_sink(ledger.clone()));
        // Nothing measured yet: the declared order.
        assert_eq!(answered_by(&elelem, "virtual:routed").await, OPENAI);
        for model in [GROQ, DEEPINFRA, DEEPINFRA, OPENAI, GROQ] {
            assert_eq!(answered_by(&elelem, model).await, model);
        }
        // A stream: its time to first token goes in its record.
        p.groq.push(
            ChunkStream::new(
                "openai/gpt-oss-20b",
                &[r#"{"name":"#, r#""Alice","age":30}"#],
            )
            .usage(10, 40),
        );
        let stream = elelem
            .stream_chat_completion(json_request(GROQ))
            .await
            .unwrap();
        stream.collect_completion().await.unwrap();
        assert_eq!(answered_by(&elelem, "virtual:routed").await, DEEPINFRA);
        let before = elelem.performance();
        drop(elelem);
        ledger.close().unwrap();
        before
    };
    let stored = SqliteLedger::open(&path)
        .unwrap()
        .records(&StatsQuery::Model(GROQ.into()))
        .unwrap()
        .unwrap();
    assert_eq!(
        stored
            .iter()
            .filter(|r| r.time_to_first_token.is_some())
            .count(),
        1,
        "only the stream has a time to first token"
    );

    // A new process with the same ledger: the measurements are back.
    let ledger = Arc::new(SqliteLedger::open(&path).unwrap());
    let restarted = by_speed(p.builder(&ALL).cost_sink(ledger.clone()));
    let after = restarted.performance();
    assert_eq!(
        after, before,
        "the window is what the first process measured"
    );
    assert!(after[GROQ].first_token_p50.is_some());
    let requests = p.deepinfra.request_count();
    assert_eq!(answered_by(&restarted, "virtual:routed").await, DEEPINFRA);
    assert_eq!(p.deepinfra.request_count(), requests + 1);

    // Without the ledger a client starts from nothing: the declared order.
    let fresh = by_speed(p.builder(&ALL));
    assert!(fresh.performance().is_empty());
    assert_eq!(answered_by(&fresh, "virtual:routed").await, OPENAI);
    assert_eq!(
        ledger.recent_records(&RecentQuery::for_routing()).len(),
        8 + 1,
        "every attempt of the first client and the restarted one's call"
    );
}
