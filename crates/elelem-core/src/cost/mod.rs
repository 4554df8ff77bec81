//! Cost accounting: one [`UsageRecord`] per attempt, sent to a [`CostSink`], summed
//! exactly into [`Stats`].

mod memory;
mod record;
mod sink;
mod stats;

pub use memory::InMemoryStatsSink;
pub use record::{Adjustments, AttemptOutcome, RetryCause, TokenCounts, UsageRecord};
pub use sink::{CostSink, StatsQuery};
pub use stats::{RetryAnalytics, Stats};
