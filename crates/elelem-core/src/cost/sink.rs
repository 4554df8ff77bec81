//! The [`CostSink`] trait: where usage records go.

use super::{Stats, UsageRecord};

/// Which records a stats query covers.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum StatsQuery {
    /// Every record.
    All,
    /// Records of calls carrying this tag.
    Tag(String),
}

/// Receives one [`UsageRecord`] per attempt, failed attempts included.
///
/// `record` is called on the request path: it must not block (no disk or network
/// I/O inline; queue it). A sink that can answer stats queries overrides `stats`.
///
/// ```
/// use std::sync::Mutex;
/// use elelem_core::cost::{CostSink, UsageRecord};
///
/// /// Counts attempts.
/// #[derive(Debug, Default)]
/// struct Counter(Mutex<u64>);
///
/// impl CostSink for Counter {
///     fn record(&self, _record: &UsageRecord) {
///         if let Ok(mut n) = self.0.lock() { *n += 1; }
///     }
/// }
/// ```
pub trait CostSink: Send + Sync + std::fmt::Debug {
    /// Takes one attempt's record.
    fn record(&self, record: &UsageRecord);

    /// Answers a stats query, if this sink keeps stats.
    fn stats(&self, _query: &StatsQuery) -> Option<Stats> {
        None
    }
}
