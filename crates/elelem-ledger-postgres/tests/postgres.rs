//! The PostgreSQL ledger against a real server started for the test on 127.0.0.1
//! (skipped, loudly, only when no PostgreSQL server is installed).
//!
//! One server serves every scenario, each in a database of its own; the scenarios
//! run one after the other in a single test so that the server is always stopped.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::records as script;
use common::PgServer;
use elelem_core::cost::{CostSink, InMemoryStatsSink, StatsQuery};
use elelem_ledger_postgres::{LedgerError, LedgerOptions, PostgresLedger};

fn fast() -> LedgerOptions {
    LedgerOptions::default().flush_interval(Duration::from_millis(10))
}

fn count_rows(url: &str) -> i64 {
    let mut client = postgres::Client::connect(url, postgres::NoTls).unwrap();
    client
        .query_one("SELECT COUNT(*) FROM usage", &[])
        .unwrap()
        .get(0)
}

/// One scenario: the server, and the connection string of its own database.
type Scenario = fn(&PgServer, &str);

#[test]
fn postgres_ledger() {
    let Some(server) = PgServer::start() else {
        return;
    };
    let scenarios: [(&str, Scenario); 11] = [
        ("recent", recent_records_are_the_newest_of_each_model),
        ("migrate_v4", a_version_4_ledger_gains_the_json_fixed_column),
        ("nul", nul_bytes_are_cleaned_not_refused),
        ("poison", a_record_the_server_refuses_never_holds_the_others),
        ("idempotent", a_batch_written_again_is_stored_once),
        ("parity", every_query_kind_gives_the_in_memory_stats),
        ("round_trip", records_read_back_exactly_as_recorded),
        ("fleet", many_processes_share_one_ledger),
        ("close", close_and_drop_write_what_is_queued),
        ("restart", the_ledger_reconnects_after_a_server_restart),
        (
            "bounded",
            a_server_down_for_long_keeps_at_most_max_queued_records,
        ),
    ];
    for (name, scenario) in scenarios {
        eprintln!("postgres scenario {name}");
        let url = server.database(name);
        scenario(&server, &url);
    }
}

fn a_version_4_ledger_gains_the_json_fixed_column(_: &PgServer, url: &str) {
    let mut old = script::scripted(1, 4).remove(0);
    old.adjustments.json_fixed = false;
    {
        let ledger = PostgresLedger::connect_with(url, fast()).unwrap();
        ledger.record(&old);
        ledger.flush().unwrap();
    }
    // Make it what version 4 wrote.
    let mut client = postgres::Client::connect(url, postgres::NoTls).unwrap();
    client
        .batch_execute(
            "ALTER TABLE usage DROP COLUMN json_fixed;
             ALTER TABLE usage DROP COLUMN time_to_first_token_ns;
             DELETE FROM elelem_ledger_schema; INSERT INTO elelem_ledger_schema VALUES (4);",
        )
        .unwrap();

    let ledger = PostgresLedger::connect_with(url, fast()).unwrap();
    let mut fixed = script::scripted(2, 5).remove(1);
    fixed.adjustments.json_fixed = true;
    ledger.record(&fixed);
    ledger.flush().unwrap();
    let back = ledger.records(&StatsQuery::All).unwrap().unwrap();
    assert_eq!(back, vec![old, fixed]);
    let stats = ledger.query_stats(&StatsQuery::All).unwrap().unwrap();
    assert_eq!(stats.json_fixes, 1);
    let version: i64 = client
        .query_one("SELECT MAX(version) FROM elelem_ledger_schema", &[])
        .unwrap()
        .get(0);
    assert_eq!(version, 6);
}

fn recent_records_are_the_newest_of_each_model(_: &PgServer, url: &str) {
    use elelem_core::cost::RecentQuery;
    let ledger = PostgresLedger::connect_with(url, fast()).unwrap();
    let mut records = script::scripted(300, 11);
    let now = std::time::SystemTime::now();
    for (i, record) in records.iter_mut().enumerate() {
        record.timestamp = now - Duration::from_secs(1000 - i as u64);
        ledger.record(record);
    }
    let query = RecentQuery {
        per_model: 3,
        ..RecentQuery::for_routing()
    };
    let recent = ledger.recent_records(&query);
    // What the ledger should give: written order, cache hits out, the newest
    // three of each model.
    let mut expected: Vec<_> = records.iter().filter(|r| !r.cache_hit).rev().collect();
    let mut seen = std::collections::HashMap::<&str, usize>::new();
    expected.retain(|r| {
        let n = seen.entry(r.model.as_str()).or_default();
        *n += 1;
        *n <= 3
    });
    expected.reverse();
    let expected: Vec<_> = expected.into_iter().cloned().collect();
    assert!(!expected.is_empty());
    assert_eq!(recent, expected);
    let capped = ledger.recent_records(&RecentQuery {
        max_records: 2,
        ..query
    });
    assert_eq!(capped, expected[expected.len() - 2..]);
}

fn nul_bytes_are_cleaned_not_refused(_: &PgServer, url: &str) {
    let ledger = PostgresLedger::connect_with(url, fast()).unwrap();
    let mut bad = script::simple(1, &["ta\0g", "ok"]);
    bad.model = "groq:m\0".into();
    ledger.record(&bad);
    ledger.record(&script::simple(2, &["ok"]));
    ledger.flush().unwrap();
    assert_eq!(count_rows(url), 2);
    let stored = ledger.records(&StatsQuery::All).unwrap().unwrap();
    assert_eq!(stored[0].model, "groq:m\u{fffd}");
    assert_eq!(&*stored[0].tags, ["ta\u{fffd}g", "ok"]);
    let tagged = ledger.stats(&StatsQuery::Tag("ok".into())).unwrap();
    assert_eq!(tagged.total_calls, 2);
}

fn a_record_the_server_refuses_never_holds_the_others(_: &PgServer, url: &str) {
    let ledger = PostgresLedger::connect_with(url, fast()).unwrap();
    ledger.flush().unwrap(); // the tables exist
    let mut client = postgres::Client::connect(url, postgres::NoTls).unwrap();
    client
        .batch_execute(
            "CREATE FUNCTION refuse_poison() RETURNS trigger AS $$
             BEGIN
               IF NEW.model = 'poison' THEN RAISE EXCEPTION 'poisoned record'; END IF;
               RETURN NEW;
             END $$ LANGUAGE plpgsql;
             CREATE TRIGGER refuse_poison BEFORE INSERT ON usage
               FOR EACH ROW EXECUTE FUNCTION refuse_poison();",
        )
        .unwrap();
    let mut poison = script::simple(1, &[]);
    poison.model = "poison".into();
    ledger.record(&script::simple(0, &[]));
    ledger.record(&poison);
    ledger.record(&script::simple(2, &[]));
    ledger.flush().unwrap();
    assert_eq!(
        count_rows(url),
        2,
        "the good records of the batch are written"
    );
    // Later batches are not held back by it.
    for i in 3..10 {
        ledger.record(&script::simple(i, &[]));
    }
    ledger.flush().unwrap();
    assert_eq!(count_rows(url), 9);
    let ids: Vec<u64> = ledger
        .records(&StatsQuery::All)
        .unwrap()
        .unwrap()
        .iter()
        .map(|r| r.call_id)
        .collect();
    assert_eq!(ids, [0, 2, 3, 4, 5, 6, 7, 8, 9]);
}

fn a_batch_written_again_is_stored_once(_: &PgServer, url: &str) {
    // What a writer does when a COMMIT succeeded but its acknowledgement was lost:
    // the same records are written again, by this process or another.
    let records = script::scripted(200, 3);
    for _ in 0..2 {
        let ledger = PostgresLedger::connect_with(url, fast()).unwrap();
        for record in &records {
            ledger.record(record);
        }
        ledger.record(&records[0]);
        ledger.close().unwrap();
    }
    assert_eq!(count_rows(url), 200);
    let memory = InMemoryStatsSink::with_recent_history(10_000);
    for record in &records {
        memory.record(record);
    }
    let ledger = PostgresLedger::connect_with(url, fast()).unwrap();
    for query in script::all_queries() {
        assert_eq!(ledger.stats(&query), memory.stats(&query), "{query:?}");
    }
}

fn every_query_kind_gives_the_in_memory_stats(_: &PgServer, url: &str) {
    let ledger = PostgresLedger::connect_with(url, fast()).unwrap();
    let memory = InMemoryStatsSink::with_recent_history(10_000);
    let records = script::scripted(1_000, 5);
    for record in &records {
        ledger.record(record);
        memory.record(record);
    }
    for query in script::all_queries() {
        let expected = memory.stats(&query).unwrap();
        assert_eq!(ledger.stats(&query).unwrap(), expected, "{query:?}");
    }
    let all = ledger.stats(&StatsQuery::All).unwrap();
    assert!(
        all.total_cost_usd.femtos() > i128::from(i64::MAX),
        "sums beyond 64 bits"
    );
    // A second ledger on the same database (a restarted process) sees the same.
    ledger.close().unwrap();
    let again = PostgresLedger::connect(url).unwrap();
    assert_eq!(
        again.stats(&StatsQuery::All),
        memory.stats(&StatsQuery::All)
    );
}

fn records_read_back_exactly_as_recorded(_: &PgServer, url: &str) {
    let ledger = PostgresLedger::connect_with(url, fast()).unwrap();
    let mut records = script::scripted(200, 9);
    records[0].call_id = u64::MAX;
    records[1].tags = Vec::new().into();
    for record in &records {
        ledger.record(record);
    }
    assert_eq!(ledger.records(&StatsQuery::All).unwrap().unwrap(), records);
    for query in script::all_queries() {
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

fn many_processes_share_one_ledger(_: &PgServer, url: &str) {
    // Four ledgers connect at once to a database without tables: one creates them.
    let ledgers: Vec<Arc<PostgresLedger>> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..4)
            .map(|_| s.spawn(|| Arc::new(PostgresLedger::connect_with(url, fast()).unwrap())))
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let memory = Arc::new(InMemoryStatsSink::with_recent_history(10_000));
    let records = script::scripted(2_000, 21);
    std::thread::scope(|s| {
        for (i, chunk) in records.chunks(250).enumerate() {
            let ledger = ledgers[i % ledgers.len()].clone();
            let memory = memory.clone();
            s.spawn(move || {
                for record in chunk {
                    ledger.record(record);
                    memory.record(record);
                }
            });
        }
    });
    for ledger in &ledgers {
        ledger.flush().unwrap();
    }
    for query in script::all_queries() {
        for ledger in &ledgers {
            assert_eq!(ledger.stats(&query), memory.stats(&query), "{query:?}");
        }
    }
}

fn close_and_drop_write_what_is_queued(_: &PgServer, url: &str) {
    let slow = LedgerOptions::default().flush_interval(Duration::from_secs(3_600));
    let ledger = PostgresLedger::connect_with(url, slow.clone()).unwrap();
    for i in 0..100 {
        ledger.record(&script::simple(i, &[]));
    }
    drop(ledger);
    assert_eq!(count_rows(url), 100);
    let ledger = PostgresLedger::connect_with(url, slow).unwrap();
    for i in 0..50 {
        ledger.record(&script::simple(i, &[]));
    }
    ledger.close().unwrap();
    assert_eq!(count_rows(url), 150);
    ledger.record(&script::simple(1, &[]));
    assert_eq!(ledger.dropped(), 1);
    assert!(matches!(ledger.flush(), Err(LedgerError::Closed)));
    assert!(ledger.stats(&StatsQuery::All).is_none());
}

fn the_ledger_reconnects_after_a_server_restart(server: &PgServer, url: &str) {
    let ledger = PostgresLedger::connect_with(url, fast()).unwrap();
    ledger.record(&script::simple(1, &["before"]));
    ledger.flush().unwrap();
    server.pg_ctl_stop();
    ledger.record(&script::simple(2, &["during"]));
    assert!(ledger.flush().is_err(), "the server is down");
    server.pg_ctl_start();
    // The queued record is kept and written once the server is back.
    ledger.flush().unwrap();
    ledger.record(&script::simple(3, &["after"]));
    let stats = ledger.stats(&StatsQuery::All).unwrap();
    assert_eq!(stats.total_calls, 3);
    assert_eq!(count_rows(url), 3);
}

fn a_server_down_for_long_keeps_at_most_max_queued_records(server: &PgServer, url: &str) {
    let ledger = PostgresLedger::connect_with(url, fast().max_queued(50)).unwrap();
    server.pg_ctl_stop();
    for i in 0..200 {
        ledger.record(&script::simple(i, &["down"]));
    }
    assert_eq!(
        ledger.dropped(),
        150,
        "beyond the bound, records are dropped"
    );
    assert!(ledger.flush().is_err(), "the server is down");
    server.pg_ctl_start();
    // The first 50 are kept and written once the server is back.
    ledger.flush().unwrap();
    assert_eq!(count_rows(url), 50);
    let kept = ledger.records(&StatsQuery::All).unwrap().unwrap();
    assert!(kept.iter().map(|r| r.call_id).eq(0..50));
    ledger.record(&script::simple(999, &["up"]));
    ledger.flush().unwrap();
    assert_eq!(count_rows(url), 51);
    assert_eq!(ledger.dropped(), 150);
}

#[test]
fn an_unreachable_server_is_an_error_not_a_hang() {
    // Nothing listens on this port.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("host=127.0.0.1 port={port} user=postgres connect_timeout=5");
    let error = PostgresLedger::connect(&url).unwrap_err();
    assert!(matches!(error, LedgerError::Connect(_)), "{error}");
}
