//! The ledger answers every stats query exactly as the in-memory sink does.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::time::Duration;

use elelem_core::cost::{CostSink, InMemoryStatsSink, StatsQuery, UsageRecord};
use elelem_ledger_sqlite::{LedgerOptions, SqliteLedger};
use proptest::prelude::*;

fn ledger(dir: &tempfile::TempDir) -> SqliteLedger {
    SqliteLedger::open_with(
        dir.path().join("usage.db"),
        LedgerOptions::default().flush_interval(Duration::from_millis(10)),
    )
    .unwrap()
}

/// Feeds `records` to both sinks and compares every query's answer.
fn assert_same_stats(records: &[UsageRecord], queries: &[StatsQuery]) {
    let dir = tempfile::tempdir().unwrap();
    let ledger = ledger(&dir);
    let memory = InMemoryStatsSink::with_recent_history(records.len() + 1);
    for record in records {
        memory.record(record);
        ledger.record(record);
    }
    for query in queries {
        let expected = memory.stats(query).unwrap();
        let got = ledger.stats(query).unwrap();
        assert_eq!(got, expected, "{query:?}");
        // Exact money, not merely equal floats.
        assert_eq!(
            got.total_cost_usd.femtos(),
            expected.total_cost_usd.femtos()
        );
    }
    ledger.close().unwrap();
    // Reopened, the file gives the same answers.
    let reopened = SqliteLedger::open(dir.path().join("usage.db")).unwrap();
    for query in queries {
        assert_eq!(reopened.stats(query), memory.stats(query), "{query:?}");
    }
}

#[test]
fn every_query_kind_gives_identical_stats_on_scripted_records() {
    let records = common::scripted(1_000, 7);
    let queries = common::all_queries();
    assert_same_stats(&records, &queries);
    // The script really covers what it should.
    let memory = InMemoryStatsSink::new();
    for record in &records {
        memory.record(record);
    }
    let all = memory.stats(&StatsQuery::All).unwrap();
    let r = &all.retry_analytics;
    assert!(all.total_calls > 0 && r.final_failures > 0 && r.rate_limit_retries > 0);
    assert!(r.json_parse_retries > 0 && r.json_schema_retries > 0);
    assert!(r.api_json_validation_retries > 0 && r.total_retries > r.rate_limit_retries);
    assert!(all.unpriced_calls > 0 && all.cache_hits > 0 && all.interrupted_streams > 0);
    assert!(!all.cache_saved_cost_usd.is_zero());
    // Sums beyond what one 64-bit integer of femto-dollars holds ($9,223) are exact.
    assert!(all.total_cost_usd.femtos() > i128::from(i64::MAX));
}

#[test]
fn time_range_edges_include_from_and_exclude_to() {
    let mut records = common::scripted(3, 1);
    let from = common::base_time() + Duration::from_secs(60);
    let to = from + Duration::from_secs(60);
    records[0].timestamp = from;
    records[1].timestamp = to;
    records[2].timestamp = to - Duration::from_nanos(1);
    let query = StatsQuery::Between { from, to };
    assert_same_stats(&records, std::slice::from_ref(&query));
    let memory = InMemoryStatsSink::with_recent_history(10);
    for record in &records {
        memory.record(record);
    }
    let expected = records[0].total_cost() + records[2].total_cost();
    assert_eq!(memory.stats(&query).unwrap().total_cost_usd, expected);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    #[test]
    fn random_records_give_identical_stats(seed in any::<u64>(), n in 0usize..120) {
        assert_same_stats(&common::scripted(n, seed), &common::all_queries());
    }
}
