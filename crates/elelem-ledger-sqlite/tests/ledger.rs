//! The SQLite ledger: round trips, durability, WAL, batching off the request path.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use elelem_core::cost::{
    AttemptOutcome, CostSink, InMemoryStatsSink, RecentQuery, RetryCause, StatsQuery, UsageRecord,
};
use elelem_ledger_sqlite::{LedgerError, LedgerOptions, SqliteLedger};
use rusqlite::Connection;

fn options(flush_ms: u64) -> LedgerOptions {
    LedgerOptions::default().flush_interval(Duration::from_millis(flush_ms))
}

fn count_rows(path: &std::path::Path) -> i64 {
    let conn = Connection::open(path).unwrap();
    conn.query_row("SELECT COUNT(*) FROM usage", [], |r| r.get(0))
        .unwrap()
}

#[test]
fn records_read_back_exactly_as_recorded() {
    let dir = tempfile::tempdir().unwrap();
    let ledger = SqliteLedger::open_with(dir.path().join("u.db"), options(10)).unwrap();
    let mut records = common::scripted(300, 3);
    records[0].call_id = u64::MAX; // beyond SQLite's signed integers
    records[1].tags = Vec::new().into();
    for record in &records {
        ledger.record(record);
    }
    let back = ledger.records(&StatsQuery::All).unwrap().unwrap();
    assert_eq!(back, records);
    for query in common::all_queries() {
        let expected: Vec<_> = records
            .iter()
            .filter(|r| query.matches(r))
            .cloned()
            .collect();
        assert_eq!(
            ledger.records(&query).unwrap().unwrap(),
            expected,
            "{query:?}"
        );
    }
}

#[test]
fn the_database_is_in_wal_mode_with_distinct_indexed_tags() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("u.db");
    let ledger = SqliteLedger::open(&path).unwrap();
    ledger.record(&common::simple(1, &["a", "b", "a"]));
    ledger.flush().unwrap();
    let conn = Connection::open(&path).unwrap();
    let mode: String = conn
        .query_row("PRAGMA journal_mode", [], |r| r.get(0))
        .unwrap();
    assert_eq!(mode, "wal");
    let version: i64 = conn
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .unwrap();
    assert_eq!(version, 6);
    let tags: Vec<String> = conn
        .prepare("SELECT tag FROM usage_tags ORDER BY tag")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(tags, ["a", "b"]);
    let (nanos, rem, tokens): (i64, i64, Option<i64>) = conn
        .query_row(
            "SELECT input_cost_nano_usd, input_cost_femto_rem, input_tokens FROM usage",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .unwrap();
    assert_eq!((nanos, rem, tokens), (7, 500_123, Some(100)));
    // A tag query searches the tag index instead of scanning every tag.
    let plan: Vec<String> = conn
        .prepare(
            "EXPLAIN QUERY PLAN SELECT COUNT(*) FROM usage \
             WHERE id IN (SELECT record_id FROM usage_tags WHERE tag = 'a')",
        )
        .unwrap()
        .query_map([], |r| r.get::<_, String>(3))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    let plan = plan.join(" | ");
    assert!(plan.contains("SEARCH usage_tags"), "{plan}");
}

#[test]
fn unreported_token_counts_stay_null() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("u.db");
    let ledger = SqliteLedger::open(&path).unwrap();
    let mut record = common::simple(1, &[]);
    record.tokens.cached_input = None;
    record.tokens.reasoning = None;
    ledger.record(&record);
    ledger.close().unwrap();
    let conn = Connection::open(&path).unwrap();
    let nulls: i64 = conn
        .query_row(
            "SELECT COUNT(*) FROM usage WHERE cached_input_tokens IS NULL \
             AND reasoning_tokens IS NULL AND input_tokens = 100",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(nulls, 1);
}

#[test]
fn records_reach_the_disk_within_one_interval_without_a_flush() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("u.db");
    let ledger = SqliteLedger::open_with(&path, options(50)).unwrap();
    for i in 0..10 {
        ledger.record(&common::simple(i, &["t"]));
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    while count_rows(&path) < 10 {
        assert!(Instant::now() < deadline, "never written");
        std::thread::sleep(Duration::from_millis(10));
    }
    assert_eq!(count_rows(&path), 10);
    drop(ledger);
}

#[test]
fn record_never_waits_for_a_locked_database_and_nothing_is_lost_or_doubled() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("u.db");
    let ledger =
        SqliteLedger::open_with(&path, options(10).busy_timeout(Duration::from_millis(20)))
            .unwrap();
    // Another process holds the write lock.
    let blocker = Connection::open(&path).unwrap();
    blocker.execute_batch("BEGIN IMMEDIATE").unwrap();
    let mut slowest = Duration::ZERO;
    let started = Instant::now();
    for i in 0..2_000 {
        let t = Instant::now();
        ledger.record(&common::simple(i, &["t"]));
        slowest = slowest.max(t.elapsed());
    }
    assert!(
        started.elapsed() < Duration::from_millis(500),
        "{:?}",
        started.elapsed()
    );
    assert!(slowest < Duration::from_millis(50), "{slowest:?}");
    // Several batch writes fail meanwhile; flush reports the lock.
    std::thread::sleep(Duration::from_millis(100));
    assert!(matches!(ledger.flush(), Err(LedgerError::Sqlite(_))));
    blocker.execute_batch("COMMIT").unwrap();
    ledger.flush().unwrap();
    assert_eq!(count_rows(&path), 2_000);
    let stats = ledger.stats(&StatsQuery::Tag("t".into())).unwrap();
    assert_eq!(stats.total_calls, 2_000);
}

#[test]
fn a_database_locked_for_long_keeps_at_most_max_queued_records() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("u.db");
    let options = options(10)
        .busy_timeout(Duration::from_millis(5))
        .max_queued(500);
    let ledger = SqliteLedger::open_with(&path, options).unwrap();
    let blocker = Connection::open(&path).unwrap();
    blocker.execute_batch("BEGIN IMMEDIATE").unwrap();
    let started = Instant::now();
    for i in 0..2_000 {
        ledger.record(&common::simple(i, &["t"]));
    }
    assert!(started.elapsed() < Duration::from_millis(500));
    assert_eq!(
        ledger.dropped(),
        1_500,
        "beyond the bound, records are dropped"
    );
    std::thread::sleep(Duration::from_millis(50));
    assert!(matches!(ledger.flush(), Err(LedgerError::Sqlite(_))));
    blocker.execute_batch("COMMIT").unwrap();
    // The first 500 are kept and written once the lock is gone; then there is room.
    ledger.flush().unwrap();
    assert_eq!(count_rows(&path), 500);
    let kept = ledger.records(&StatsQuery::All).unwrap().unwrap();
    assert!(kept.iter().map(|r| r.call_id).eq(0..500));
    ledger.record(&common::simple(9_999, &["t"]));
    ledger.flush().unwrap();
    assert_eq!(count_rows(&path), 501);
    assert_eq!(ledger.dropped(), 1_500);
}

#[test]
fn close_and_drop_write_what_is_queued() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("u.db");
    // An interval so long that only close or drop can write.
    let ledger = SqliteLedger::open_with(&path, options(3_600_000)).unwrap();
    for i in 0..100 {
        ledger.record(&common::simple(i, &[]));
    }
    drop(ledger);
    assert_eq!(count_rows(&path), 100);

    let ledger = SqliteLedger::open_with(&path, options(3_600_000)).unwrap();
    for i in 0..50 {
        ledger.record(&common::simple(i, &[]));
    }
    ledger.close().unwrap();
    assert_eq!(count_rows(&path), 150);
    // Closed: records are counted as dropped, queries refused.
    ledger.record(&common::simple(1, &[]));
    assert_eq!(ledger.dropped(), 1);
    assert!(matches!(ledger.flush(), Err(LedgerError::Closed)));
    assert!(matches!(
        ledger.query_stats(&StatsQuery::All),
        Err(LedgerError::Closed)
    ));
    assert!(ledger.stats(&StatsQuery::All).is_none());
    assert!(matches!(ledger.close(), Err(LedgerError::Closed)));
    drop(ledger);
    assert_eq!(count_rows(&path), 150);
}

#[test]
fn many_threads_and_two_ledgers_on_one_file_sum_exactly() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("u.db");
    let first = Arc::new(SqliteLedger::open_with(&path, options(5)).unwrap());
    let second = Arc::new(SqliteLedger::open_with(&path, options(7)).unwrap());
    let memory = Arc::new(InMemoryStatsSink::with_recent_history(10_000));
    let records = common::scripted(2_000, 11);
    let threads: Vec<_> = records
        .chunks(250)
        .enumerate()
        .map(|(i, chunk)| {
            let sink: Arc<dyn CostSink> = if i % 2 == 0 {
                first.clone()
            } else {
                second.clone()
            };
            let memory = memory.clone();
            let chunk = chunk.to_vec();
            std::thread::spawn(move || {
                for record in &chunk {
                    sink.record(record);
                    memory.record(record);
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    first.flush().unwrap();
    second.flush().unwrap();
    for query in common::all_queries() {
        assert_eq!(first.stats(&query), memory.stats(&query), "{query:?}");
        assert_eq!(second.stats(&query), memory.stats(&query), "{query:?}");
    }
}

#[test]
fn a_version_1_ledger_gains_the_failover_column_and_keeps_its_rows() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("u.db");
    let old = common::simple(1, &["a"]);
    {
        let ledger = SqliteLedger::open(&path).unwrap();
        ledger.record(&old);
        ledger.flush().unwrap();
    }
    // Make it what version 1 wrote: no `next_candidate` column.
    Connection::open(&path)
        .unwrap()
        .execute_batch(
            "DROP INDEX usage_by_record_key; ALTER TABLE usage DROP COLUMN record_key;
             ALTER TABLE usage DROP COLUMN cost_unknown; ALTER TABLE usage DROP COLUMN json_repaired;
             ALTER TABLE usage DROP COLUMN json_fixed; ALTER TABLE usage DROP COLUMN time_to_first_token_ns;
             ALTER TABLE usage DROP COLUMN next_candidate; PRAGMA user_version = 1",
        )
        .unwrap();

    let ledger = SqliteLedger::open(&path).unwrap();
    let mut failover = common::simple(2, &["a"]);
    failover.outcome = AttemptOutcome::Retried(RetryCause::Transient);
    failover.adjustments.next_candidate = true;
    ledger.record(&failover);
    ledger.flush().unwrap();
    let back = ledger.records(&StatsQuery::All).unwrap().unwrap();
    assert_eq!(back, vec![old, failover]);
    let stats = ledger
        .query_stats(&StatsQuery::Tag("a".into()))
        .unwrap()
        .unwrap();
    assert_eq!(stats.retry_analytics.candidate_iterations, 1);
    let version: i64 = Connection::open(&path)
        .unwrap()
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .unwrap();
    assert_eq!(version, 6);
}

#[test]
fn a_version_3_ledger_gains_the_cost_unknown_and_repair_columns_and_keeps_its_rows() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("u.db");
    let old = common::simple(1, &["a"]);
    {
        let ledger = SqliteLedger::open(&path).unwrap();
        ledger.record(&old);
        ledger.flush().unwrap();
    }
    // Make it what version 3 wrote.
    Connection::open(&path)
        .unwrap()
        .execute_batch(
            "ALTER TABLE usage DROP COLUMN cost_unknown; ALTER TABLE usage DROP COLUMN json_repaired;
             ALTER TABLE usage DROP COLUMN json_fixed; ALTER TABLE usage DROP COLUMN time_to_first_token_ns; PRAGMA user_version = 3",
        )
        .unwrap();

    let ledger = SqliteLedger::open(&path).unwrap();
    let mut unknown = common::simple(2, &["a"]);
    unknown.outcome = AttemptOutcome::Retried(RetryCause::Transient);
    unknown.cost_unknown = true;
    let mut repaired = common::simple(3, &["b"]);
    repaired.adjustments.json_repaired = true;
    ledger.record(&unknown);
    ledger.record(&repaired);
    ledger.flush().unwrap();
    let back = ledger.records(&StatsQuery::All).unwrap().unwrap();
    assert_eq!(back, vec![old, unknown, repaired]);
    let a = ledger
        .query_stats(&StatsQuery::Tag("a".into()))
        .unwrap()
        .unwrap();
    assert_eq!((a.calls_cost_unknown, a.json_repairs), (1, 0));
    let all = ledger.query_stats(&StatsQuery::All).unwrap().unwrap();
    assert_eq!((all.calls_cost_unknown, all.json_repairs), (1, 1));
}

/// A ledger at `path` holding one record, made what an older version wrote by
/// `downgrade` (SQL); returns the record.
fn older_ledger(path: &std::path::Path, downgrade: &str) -> UsageRecord {
    let old = common::simple(1, &["a"]);
    {
        let ledger = SqliteLedger::open(path).unwrap();
        ledger.record(&old);
        ledger.flush().unwrap();
    }
    Connection::open(path)
        .unwrap()
        .execute_batch(downgrade)
        .unwrap();
    old
}

#[test]
fn a_version_4_ledger_gains_the_json_fixed_column_and_keeps_its_rows() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("u.db");
    let old = older_ledger(
        &path,
        "ALTER TABLE usage DROP COLUMN json_fixed;
         ALTER TABLE usage DROP COLUMN time_to_first_token_ns; PRAGMA user_version = 4",
    );
    let ledger = SqliteLedger::open(&path).unwrap();
    let mut fixed = common::simple(2, &["b"]);
    fixed.adjustments.json_fixed = true;
    ledger.record(&fixed);
    ledger.flush().unwrap();
    let back = ledger.records(&StatsQuery::All).unwrap().unwrap();
    assert_eq!(back, vec![old, fixed]);
    assert!(!back[0].adjustments.json_fixed && back[1].adjustments.json_fixed);
    let stats = |tag: &str| {
        ledger
            .query_stats(&StatsQuery::Tag(tag.into()))
            .unwrap()
            .unwrap()
            .json_fixes
    };
    assert_eq!((stats("a"), stats("b")), (0, 1));
    let version: i64 = Connection::open(&path)
        .unwrap()
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .unwrap();
    assert_eq!(version, 6);
}

#[test]
fn a_version_5_ledger_gains_the_first_token_column_and_keeps_its_rows() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("u.db");
    let old = older_ledger(
        &path,
        "ALTER TABLE usage DROP COLUMN time_to_first_token_ns; PRAGMA user_version = 5",
    );
    let ledger = SqliteLedger::open(&path).unwrap();
    let mut streamed = common::simple(2, &["a"]);
    streamed.time_to_first_token = Some(Duration::from_nanos(123_456_789));
    ledger.record(&streamed);
    ledger.flush().unwrap();
    let back = ledger.records(&StatsQuery::All).unwrap().unwrap();
    assert_eq!(back, vec![old, streamed]);
    assert_eq!(back[0].time_to_first_token, None);
}

#[test]
fn recent_records_are_the_newest_of_each_model_without_cache_hits() {
    let dir = tempfile::tempdir().unwrap();
    let ledger = SqliteLedger::open(dir.path().join("u.db")).unwrap();
    let at = |call_id: u64, model: &str, seconds_ago: u64| {
        let mut r = common::simple(call_id, &["t"]);
        r.model = model.into();
        r.timestamp = SystemTime::now() - Duration::from_secs(seconds_ago);
        r
    };
    let mut hit = at(100, "p:a", 1);
    hit.cache_hit = true;
    let written = vec![
        at(1, "p:old", 30 * 24 * 3600), // before `since`
        at(2, "p:a", 50),
        at(3, "p:b", 40),
        at(4, "p:a", 30),
        at(5, "p:a", 20),
        hit,
        at(6, "p:b", 10),
    ];
    for r in &written {
        ledger.record(r);
    }
    let query = |per_model, max_records| RecentQuery {
        per_model,
        max_records,
        ..RecentQuery::for_routing()
    };
    let ids = |records: Vec<UsageRecord>| records.iter().map(|r| r.call_id).collect::<Vec<_>>();
    // Two per model, oldest first; the cache hit and the old row left out.
    assert_eq!(ids(ledger.recent_records(&query(2, 100))), [3, 4, 5, 6]);
    // At most three in all: the newest three.
    assert_eq!(ids(ledger.recent_records(&query(2, 3))), [4, 5, 6]);
    assert_eq!(
        ids(ledger.recent_records(&query(usize::MAX, usize::MAX))),
        [2, 3, 4, 5, 6]
    );
    assert!(ledger.recent_records(&query(0, 100)).is_empty());
}

#[test]
fn a_batch_written_again_is_stored_once() {
    // What a writer does when a COMMIT succeeded but its acknowledgement was lost:
    // the same records are written again, by this process or another.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("u.db");
    let records = common::scripted(200, 9);
    for _ in 0..2 {
        let ledger = SqliteLedger::open_with(&path, options(10)).unwrap();
        for record in &records {
            ledger.record(record);
        }
        ledger.record(&records[0]);
        ledger.close().unwrap();
    }
    assert_eq!(count_rows(&path), 200);
    let ledger = SqliteLedger::open(&path).unwrap();
    assert_eq!(ledger.records(&StatsQuery::All).unwrap().unwrap(), records);
}

#[test]
fn a_newer_schema_or_an_unusable_path_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("u.db");
    Connection::open(&path)
        .unwrap()
        .execute_batch("PRAGMA user_version = 99")
        .unwrap();
    let error = SqliteLedger::open(&path).unwrap_err();
    assert!(
        matches!(
            error,
            LedgerError::SchemaTooNew {
                found: 99,
                supported: 6,
                ..
            }
        ),
        "{error}"
    );
    assert!(error.to_string().contains("upgrade"), "{error}");
    let missing = dir.path().join("no such directory").join("u.db");
    let error = SqliteLedger::open(&missing).unwrap_err();
    assert!(matches!(error, LedgerError::Open { .. }), "{error}");
    assert!(error.to_string().contains("no such directory"), "{error}");
}
