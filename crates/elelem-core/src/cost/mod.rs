//! Cost accounting: one [`UsageRecord`] per attempt, sent to a [`CostSink`], summed
//! exactly into [`Stats`].

pub mod batched;
pub mod columns;
mod fanout;
mod jsonl;
mod memory;
mod recent;
mod record;
#[cfg(feature = "test-support")]
pub mod scripted;
mod sink;
mod stats;

pub use batched::{
    BatchBackend, BatchError, BatchOptions, BatchedSink, DEFAULT_FLUSH_INTERVAL, DEFAULT_MAX_QUEUED,
};
pub use fanout::FanOutSink;
pub use jsonl::{JsonLinesError, JsonLinesSink};
pub use memory::InMemoryStatsSink;
pub use recent::{RecentQuery, RECENT_HORIZON, RECENT_MAX_RECORDS};
pub use record::{Adjustments, AttemptOutcome, RetryCause, TokenCounts, UsageRecord};
pub use sink::{CostSink, StatsQuery};
pub use stats::{RetryAnalytics, Stats};
