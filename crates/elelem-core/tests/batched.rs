//! `BatchedSink`: batching, retry after failure, and the bound on queued records.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use elelem_core::cost::{
    AttemptOutcome, BatchBackend, BatchError, BatchOptions, BatchedSink, CostSink, StatsQuery,
    UsageRecord,
};

#[derive(Debug, thiserror::Error)]
enum TestError {
    #[error("the backend is down")]
    Down,
    #[error(transparent)]
    Batch(#[from] BatchError),
}

/// Stores batches in memory; fails every write while `down` is set.
#[derive(Clone, Default)]
struct Flaky {
    stored: Arc<Mutex<Vec<UsageRecord>>>,
    down: Arc<AtomicBool>,
    writes: Arc<AtomicUsize>,
}

impl BatchBackend for Flaky {
    type Error = TestError;
    const NAME: &'static str = "test-flaky";

    fn write(&mut self, records: &[UsageRecord]) -> Result<(), TestError> {
        self.writes.fetch_add(1, Ordering::SeqCst);
        assert!(!records.is_empty(), "never asked to write an empty batch");
        if self.down.load(Ordering::SeqCst) {
            return Err(TestError::Down);
        }
        self.stored.lock().unwrap().extend_from_slice(records);
        Ok(())
    }

    fn records(&mut self, query: &StatsQuery) -> Result<Option<Vec<UsageRecord>>, TestError> {
        let stored = self.stored.lock().unwrap();
        Ok(Some(
            stored
                .iter()
                .filter(|r| query.matches(r))
                .cloned()
                .collect(),
        ))
    }
}

fn record(call_id: u64) -> UsageRecord {
    UsageRecord {
        timestamp: SystemTime::now(),
        call_id,
        attempt: 1,
        model: "groq:m".into(),
        provider: "groq".into(),
        tags: Default::default(),
        tokens: Default::default(),
        cost: Default::default(),
        price_known: true,
        duration: Duration::ZERO,
        outcome: AttemptOutcome::Success,
        adjustments: Default::default(),
        cache_hit: false,
        saved_cost: Default::default(),
        stream_interrupted: false,
        cost_unknown: false,
        time_to_first_token: None,
    }
}

fn call_ids(records: &[UsageRecord]) -> Vec<u64> {
    records.iter().map(|r| r.call_id).collect()
}

#[test]
fn a_failing_backend_keeps_at_most_max_queued_records_and_drops_the_rest() {
    let backend = Flaky::default();
    backend.down.store(true, Ordering::SeqCst);
    let options = BatchOptions::default()
        .flush_interval(Duration::from_millis(5))
        .max_queued(10);
    let sink = BatchedSink::new(backend.clone(), options).unwrap();
    for id in 0..25 {
        sink.record(&record(id));
    }
    assert_eq!(sink.dropped(), 15, "records beyond the bound are dropped");
    assert!(matches!(sink.flush(), Err(TestError::Down)));
    // Still full while the backend stays down, however long it waits.
    std::thread::sleep(Duration::from_millis(30));
    sink.record(&record(99));
    assert_eq!(sink.dropped(), 16);
    assert!(
        backend.writes.load(Ordering::SeqCst) >= 2,
        "retried on schedule"
    );

    // Back up: the queued records are written, in order, and room is made.
    backend.down.store(false, Ordering::SeqCst);
    sink.flush().unwrap();
    assert_eq!(
        call_ids(&backend.stored.lock().unwrap()),
        (0..10).collect::<Vec<_>>()
    );
    for id in 100..110 {
        sink.record(&record(id));
    }
    assert_eq!(sink.dropped(), 16, "room again once written");
    let stored = sink.records(&StatsQuery::All).unwrap().unwrap();
    assert_eq!(stored.len(), 20);
    sink.close().unwrap();
}

#[test]
fn a_batch_is_written_within_one_flush_interval_without_being_asked() {
    let backend = Flaky::default();
    let options = BatchOptions::default().flush_interval(Duration::from_millis(20));
    let sink = BatchedSink::new(backend.clone(), options).unwrap();
    for id in 0..3 {
        sink.record(&record(id));
    }
    let deadline = Instant::now() + Duration::from_secs(5);
    while backend.stored.lock().unwrap().len() < 3 {
        assert!(Instant::now() < deadline, "the batch was never written");
        std::thread::sleep(Duration::from_millis(5));
    }
    assert_eq!(backend.writes.load(Ordering::SeqCst), 1, "one batch");
    drop(sink);
}

#[test]
fn close_and_drop_write_what_is_queued_and_later_records_are_dropped() {
    let backend = Flaky::default();
    let slow = BatchOptions::default().flush_interval(Duration::from_secs(3_600));
    let sink = BatchedSink::new(backend.clone(), slow.clone()).unwrap();
    sink.record(&record(1));
    drop(sink);
    assert_eq!(backend.stored.lock().unwrap().len(), 1);

    let sink = BatchedSink::new(backend.clone(), slow).unwrap();
    sink.record(&record(2));
    sink.close().unwrap();
    assert_eq!(backend.stored.lock().unwrap().len(), 2);
    sink.record(&record(3));
    assert_eq!(sink.dropped(), 1);
    assert!(matches!(
        sink.flush(),
        Err(TestError::Batch(BatchError::Closed))
    ));
    assert!(matches!(
        sink.close(),
        Err(TestError::Batch(BatchError::Closed))
    ));
    assert!(sink.stats(&StatsQuery::All).is_none());
}

#[test]
fn an_error_opening_the_backend_is_returned_by_spawn() {
    let opened = BatchedSink::<Flaky>::spawn(BatchOptions::default(), || Err(TestError::Down));
    assert!(matches!(opened, Err(TestError::Down)));
}
