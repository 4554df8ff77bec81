//! The bound on records held by a batched sink: admitted on `record`, released
//! once written, dropped (counted, warned about now and then) beyond the bound.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Instant;

/// The shortest time between two warnings about dropped records, in milliseconds.
const WARN_EVERY_MS: u64 = 10_000;

/// Counts the records queued and not yet written, shared by the sink (which
/// admits them) and its writer thread (which releases them once written).
#[derive(Debug)]
pub(crate) struct QueueBound {
    sink: &'static str,
    max: usize,
    queued: AtomicUsize,
    dropped: AtomicU64,
    started: Instant,
    /// Milliseconds after `started` of the last warning, plus one (0: never).
    last_warning: AtomicU64,
}

impl QueueBound {
    pub(crate) fn new(sink: &'static str, max: usize) -> Self {
        QueueBound {
            sink,
            max,
            queued: AtomicUsize::new(0),
            dropped: AtomicU64::new(0),
            started: Instant::now(),
            last_warning: AtomicU64::new(0),
        }
    }

    /// Takes a place for one record; false (the record counted as dropped) when
    /// the queue is full.
    pub(crate) fn admit(&self) -> bool {
        if self.queued.fetch_add(1, Ordering::AcqRel) < self.max {
            return true;
        }
        self.queued.fetch_sub(1, Ordering::AcqRel);
        let dropped = self.count_dropped();
        self.warn_now_and_then(dropped);
        false
    }

    /// Frees the places of `records` written (or never sent).
    pub(crate) fn release(&self, records: usize) {
        self.queued.fetch_sub(records, Ordering::AcqRel);
    }

    /// Counts one record not stored; the total so far.
    pub(crate) fn count_dropped(&self) -> u64 {
        self.dropped.fetch_add(1, Ordering::Relaxed) + 1
    }

    /// The records not stored so far.
    pub(crate) fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }

    fn warn_now_and_then(&self, dropped: u64) {
        let now = u64::try_from(self.started.elapsed().as_millis())
            .unwrap_or(u64::MAX - 1)
            .saturating_add(1);
        let last = self.last_warning.load(Ordering::Relaxed);
        let due = last == 0 || now.saturating_sub(last) >= WARN_EVERY_MS;
        if due
            && self
                .last_warning
                .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
        {
            tracing::warn!(
                sink = self.sink,
                max_queued = self.max,
                dropped,
                "the batched sink's queue is full (its backend is failing or too slow): \
                 new records are dropped until it catches up; raise max_queued or fix the backend"
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn admits_up_to_the_bound_then_drops_until_released() {
        let queue = QueueBound::new("test", 2);
        assert!(queue.admit());
        assert!(queue.admit());
        assert!(!queue.admit());
        assert!(!queue.admit());
        assert_eq!(queue.dropped(), 2);
        queue.release(2);
        assert!(queue.admit());
        assert_eq!(queue.dropped(), 2);
    }
}
