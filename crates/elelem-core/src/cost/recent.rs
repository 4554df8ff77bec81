//! [`RecentQuery`]: which stored records a restarted client reads back to seed
//! its routing measurements.

use std::time::{Duration, SystemTime};

/// The most recent stored records of each model, as a client asks a ledger for
/// them when it is built ([`CostSink::recent_records`](super::CostSink::recent_records)):
/// up to `per_model` records of each model, written at or after `since`, cache
/// hits left out, at most `max_records` in all (the most recent kept), oldest
/// first.
///
/// ```
/// use elelem_core::cost::RecentQuery;
/// let query = RecentQuery::for_routing();
/// assert_eq!(query.per_model, elelem_core::routing::WINDOW);
/// assert!(query.max_records >= query.per_model);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecentQuery {
    /// Records kept per model (the newest).
    pub per_model: usize,
    /// Records written before this are not read.
    pub since: SystemTime,
    /// The most records read in all.
    pub max_records: usize,
}

/// How far back a client looks for measurements when it is built.
pub const RECENT_HORIZON: Duration = Duration::from_secs(7 * 24 * 3600);

/// The most records a client reads back when it is built.
pub const RECENT_MAX_RECORDS: usize = 20_000;

impl RecentQuery {
    /// What a client reads when it is built: a routing window
    /// ([`WINDOW`](crate::routing::WINDOW)) per model, from the last
    /// [`RECENT_HORIZON`], at most [`RECENT_MAX_RECORDS`].
    pub fn for_routing() -> RecentQuery {
        RecentQuery {
            per_model: crate::routing::WINDOW,
            since: SystemTime::now()
                .checked_sub(RECENT_HORIZON)
                .unwrap_or(SystemTime::UNIX_EPOCH),
            max_records: RECENT_MAX_RECORDS,
        }
    }

    /// `per_model` and `max_records` as SQL `LIMIT`s (saturated to `i64`).
    ///
    /// ```
    /// let query = elelem_core::cost::RecentQuery { per_model: usize::MAX, ..elelem_core::cost::RecentQuery::for_routing() };
    /// assert_eq!(query.limits().0, i64::MAX);
    /// ```
    pub fn limits(&self) -> (i64, i64) {
        let limit = |n: usize| i64::try_from(n).unwrap_or(i64::MAX);
        (limit(self.per_model), limit(self.max_records))
    }
}
