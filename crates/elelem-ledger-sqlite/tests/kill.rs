//! A process killed with SIGKILL loses at most the records of its last flush
//! interval.
//!
//! Each test re-runs this test binary as a child process (running only
//! `kill_child`, which does nothing unless the child variables are set). The child
//! records through a `SqliteLedger` and reports on stdout; the parent kills it with
//! SIGKILL (`std::process::Child::kill` on Unix), so no destructor, flush or
//! shutdown code runs, then opens the database itself.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::mpsc::{channel, Receiver};
use std::time::{Duration, Instant, SystemTime};

use elelem_core::cost::CostSink;
use elelem_ledger_sqlite::{LedgerOptions, SqliteLedger};
use rusqlite::Connection;

const MODE: &str = "ELELEM_LEDGER_KILL_CHILD_MODE";
const DB: &str = "ELELEM_LEDGER_KILL_CHILD_DB";
/// The ledger's flush interval in the child (the default).
const INTERVAL: Duration = Duration::from_millis(100);
/// Records of the `idle` child.
const IDLE_RECORDS: u64 = 1_000;
/// Records of the `after_flush` child: flushed, then not.
const FLUSHED_RECORDS: u64 = 500;
const LATE_RECORDS: u64 = 50;

/// The child's side; does nothing in a normal test run.
#[test]
fn kill_child() {
    let (Ok(mode), Ok(db)) = (std::env::var(MODE), std::env::var(DB)) else {
        return;
    };
    let ledger =
        SqliteLedger::open_with(&db, LedgerOptions::default().flush_interval(INTERVAL)).unwrap();
    let record = |i: u64| {
        let mut record = common::simple(i, &["kill"]);
        record.timestamp = SystemTime::now();
        ledger.record(&record);
        record.timestamp
    };
    match mode.as_str() {
        "idle" => {
            for i in 0..IDLE_RECORDS {
                record(i);
            }
            println!("RECORDED");
        }
        "after_flush" => {
            for i in 0..FLUSHED_RECORDS {
                record(i);
            }
            ledger.flush().unwrap();
            println!("FLUSHED");
            let started = Instant::now();
            for i in FLUSHED_RECORDS..FLUSHED_RECORDS + LATE_RECORDS {
                record(i);
            }
            println!("RECORDED {}", started.elapsed().as_micros());
        }
        "steady" => {
            println!("STARTED");
            for i in 0.. {
                let at = record(i);
                let nanos = at
                    .duration_since(SystemTime::UNIX_EPOCH)
                    .unwrap()
                    .as_nanos();
                println!("SEQ {i} {nanos}");
                std::thread::sleep(Duration::from_millis(1));
            }
        }
        other => panic!("unknown child mode {other}"),
    }
    // Wait to be killed, with the ledger alive and nothing flushed by shutdown.
    std::thread::sleep(Duration::from_secs(60));
    panic!("the parent never killed this child");
}

/// A child process running `kill_child`, killed when dropped.
struct Child {
    process: std::process::Child,
    lines: Receiver<String>,
}

impl Child {
    fn spawn(mode: &str, db: &Path) -> Child {
        let mut process = Command::new(std::env::current_exe().unwrap())
            .args(["--exact", "kill_child", "--nocapture", "--test-threads=1"])
            .env(MODE, mode)
            .env(DB, db)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let stdout = process.stdout.take().unwrap();
        let (send, lines) = channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if send.send(line).is_err() {
                    break;
                }
            }
        });
        Child { process, lines }
    }

    /// Waits for the child's line holding `prefix`; returns it from `prefix` on.
    fn wait_for(&self, prefix: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                // The harness may print `test kill_child ... ` before it.
                Ok(line) => {
                    if let Some(at) = line.find(prefix) {
                        return line[at..].to_owned();
                    }
                }
                Err(e) => panic!("the child never printed {prefix:?}: {e}"),
            }
        }
    }

    /// SIGKILLs the child and returns the lines it printed and were not read yet.
    fn kill(mut self) -> Vec<String> {
        self.process.kill().unwrap(); // SIGKILL on Unix
        let status = self.process.wait().unwrap();
        assert!(!status.success(), "{status:?}");
        #[cfg(unix)]
        {
            use std::os::unix::process::ExitStatusExt;
            assert_eq!(status.signal(), Some(9), "{status:?}");
        }
        self.lines.iter().collect()
    }
}

impl Drop for Child {
    fn drop(&mut self) {
        let _ = self.process.kill();
        let _ = self.process.wait();
    }
}

/// How many records are stored now (0 before the table exists).
fn stored_count(db: &Path) -> u64 {
    let Ok(conn) = Connection::open(db) else {
        return 0;
    };
    conn.query_row("SELECT COUNT(*) FROM usage", [], |r| r.get::<_, i64>(0))
        .map_or(0, |n| n as u64)
}

/// The call ids stored, in order.
fn stored_ids(db: &Path) -> Vec<u64> {
    let conn = Connection::open(db).unwrap();
    let mut statement = conn
        .prepare("SELECT call_id FROM usage ORDER BY id")
        .unwrap();
    let ids = statement
        .query_map([], |r| r.get::<_, i64>(0))
        .unwrap()
        .map(|id| id.unwrap() as u64)
        .collect();
    ids
}

/// The stored ids are exactly 0, 1, 2, ...: what is lost is a tail, never a hole.
fn assert_prefix(ids: &[u64]) {
    for (expected, id) in ids.iter().enumerate() {
        assert_eq!(*id, expected as u64, "a hole in the stored records");
    }
}

#[test]
fn a_child_killed_after_two_intervals_idle_lost_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("usage.db");
    let child = Child::spawn("idle", &db);
    child.wait_for("RECORDED");
    // More than two flush intervals after the last record. On a starved machine
    // the flusher thread may be late: wait (up to a bound) for it to store
    // everything, without any help from the child, before the kill. A ledger that
    // only writes on shutdown or on a later record never gets there and fails.
    std::thread::sleep(INTERVAL * 3);
    let deadline = Instant::now() + Duration::from_secs(20);
    while stored_count(&db) < IDLE_RECORDS && Instant::now() < deadline {
        std::thread::sleep(INTERVAL);
    }
    child.kill();
    let ids = stored_ids(&db);
    assert_eq!(ids.len() as u64, IDLE_RECORDS);
    assert_prefix(&ids);
    // The ledger reopens after the kill and answers from what was stored.
    let ledger = SqliteLedger::open(&db).unwrap();
    let stats = elelem_core::cost::CostSink::stats(
        &ledger,
        &elelem_core::cost::StatsQuery::Tag("kill".into()),
    )
    .unwrap();
    assert_eq!(stats.total_calls, IDLE_RECORDS);
}

#[test]
fn a_child_killed_right_after_recording_loses_at_most_its_last_interval() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("usage.db");
    let child = Child::spawn("after_flush", &db);
    child.wait_for("FLUSHED");
    let line = child.wait_for("RECORDED");
    child.kill();
    // The late records were made within one flush interval...
    let micros: u128 = line["RECORDED ".len()..].parse().unwrap();
    assert!(micros < INTERVAL.as_micros(), "{micros} µs");
    // ...and only they may be missing: everything flushed before is there.
    let ids = stored_ids(&db);
    assert_prefix(&ids);
    let stored = ids.len() as u64;
    assert!(
        (FLUSHED_RECORDS..=FLUSHED_RECORDS + LATE_RECORDS).contains(&stored),
        "{stored} records stored"
    );
    eprintln!(
        "after_flush: {} of the {LATE_RECORDS} records made after the last flush were lost",
        FLUSHED_RECORDS + LATE_RECORDS - stored
    );
}

#[test]
fn a_child_killed_while_recording_steadily_loses_only_recent_records() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("usage.db");
    let child = Child::spawn("steady", &db);
    child.wait_for("STARTED");
    std::thread::sleep(Duration::from_millis(1_500));
    let killed_at = SystemTime::now();
    let lines = child.kill();
    // Every record the child reported, with its time.
    let made: BTreeMap<u64, SystemTime> = lines
        .iter()
        .filter_map(|l| l.find("SEQ ").map(|at| &l[at + "SEQ ".len()..]))
        .map(|l| {
            let (id, nanos) = l.split_once(' ').unwrap();
            let nanos: u64 = nanos.parse().unwrap();
            (
                id.parse().unwrap(),
                SystemTime::UNIX_EPOCH + Duration::from_nanos(nanos),
            )
        })
        .collect();
    let ids = stored_ids(&db);
    assert_prefix(&ids);
    assert!(ids.len() > 100, "only {} records stored", ids.len());
    // What is lost was made in the last flush interval, plus a margin for the
    // batch write and a busy machine's scheduling.
    let margin = Duration::from_millis(400);
    let oldest_allowed = killed_at - INTERVAL - margin;
    let lost: Vec<_> = made.range(ids.len() as u64..).collect();
    for (id, at) in &lost {
        assert!(
            **at >= oldest_allowed,
            "record {id} was made {:?} before the kill and lost",
            killed_at.duration_since(**at).unwrap_or_default()
        );
    }
    eprintln!(
        "steady: {} records stored, {} lost (all from the last {:?})",
        ids.len(),
        lost.len(),
        lost.first()
            .map(|(_, at)| killed_at.duration_since(**at).unwrap_or_default())
    );
}
