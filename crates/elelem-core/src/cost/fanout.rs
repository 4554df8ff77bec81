//! [`FanOutSink`]: several sinks at once.

use std::sync::Arc;

use super::{CostSink, Stats, StatsQuery, UsageRecord};

/// Sends every record to several sinks, in order, and answers a stats query from
/// the first sink that answers it.
///
/// Typical use: fast exact stats in memory for `get_stats`, plus a durable ledger
/// that also answers what memory cannot (time ranges, or everything after a
/// restart when it comes first).
///
/// ```
/// use std::sync::Arc;
/// use elelem_core::cost::{CostSink, FanOutSink, InMemoryStatsSink, StatsQuery};
///
/// let memory = Arc::new(InMemoryStatsSink::new());
/// let fan_out = FanOutSink::new()
///     .with(memory.clone())
///     .with(Arc::new(InMemoryStatsSink::with_recent_history(1_000)));
/// assert_eq!(fan_out.len(), 2);
/// assert_eq!(fan_out.stats(&StatsQuery::All).unwrap().total_calls, 0);
/// ```
#[derive(Debug, Clone, Default)]
pub struct FanOutSink {
    sinks: Vec<Arc<dyn CostSink>>,
}

impl FanOutSink {
    /// A fan-out with no sink yet.
    pub fn new() -> Self {
        FanOutSink::default()
    }

    /// Adds a sink after those already there (earlier sinks answer stats first).
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use elelem_core::cost::{FanOutSink, InMemoryStatsSink};
    /// let fan_out = FanOutSink::new().with(Arc::new(InMemoryStatsSink::new()));
    /// assert!(!fan_out.is_empty());
    /// ```
    #[must_use]
    pub fn with(mut self, sink: Arc<dyn CostSink>) -> Self {
        self.sinks.push(sink);
        self
    }

    /// The number of sinks.
    ///
    /// ```
    /// assert_eq!(elelem_core::cost::FanOutSink::new().len(), 0);
    /// ```
    pub fn len(&self) -> usize {
        self.sinks.len()
    }

    /// Whether there is no sink.
    ///
    /// ```
    /// assert!(elelem_core::cost::FanOutSink::new().is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.sinks.is_empty()
    }
}

impl From<Vec<Arc<dyn CostSink>>> for FanOutSink {
    fn from(sinks: Vec<Arc<dyn CostSink>>) -> Self {
        FanOutSink { sinks }
    }
}

impl CostSink for FanOutSink {
    fn record(&self, record: &UsageRecord) {
        for sink in &self.sinks {
            sink.record(record);
        }
    }

    fn stats(&self, query: &StatsQuery) -> Option<Stats> {
        self.sinks.iter().find_map(|sink| sink.stats(query))
    }

    /// The records of the first sink that keeps any.
    fn recent_records(&self, query: &super::RecentQuery) -> Vec<UsageRecord> {
        self.sinks
            .iter()
            .map(|sink| sink.recent_records(query))
            .find(|records| !records.is_empty())
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;
    use std::time::{Duration, SystemTime};

    use super::*;
    use crate::catalogue::CostBreakdown;
    use crate::cost::{Adjustments, AttemptOutcome, InMemoryStatsSink, TokenCounts};
    use crate::money::Usd;

    #[derive(Debug, Default)]
    struct Counter(Mutex<u64>);

    impl CostSink for Counter {
        fn record(&self, _record: &UsageRecord) {
            *self.0.lock().unwrap() += 1;
        }
    }

    fn record() -> UsageRecord {
        UsageRecord {
            timestamp: SystemTime::now(),
            call_id: 1,
            attempt: 1,
            model: "p:m".into(),
            provider: "p".into(),
            tags: vec!["t".to_string()].into(),
            tokens: TokenCounts::default(),
            cost: CostBreakdown {
                input: Usd::from_femtos(3),
                ..CostBreakdown::default()
            },
            price_known: true,
            duration: Duration::from_millis(1),
            outcome: AttemptOutcome::Success,
            adjustments: Adjustments::default(),
            cache_hit: false,
            saved_cost: Usd::ZERO,
            stream_interrupted: false,
            cost_unknown: false,
            time_to_first_token: None,
        }
    }

    #[test]
    fn records_go_to_every_sink_and_stats_come_from_the_first_that_answers() {
        let counter = Arc::new(Counter::default());
        let memory = Arc::new(InMemoryStatsSink::new());
        let history = Arc::new(InMemoryStatsSink::with_recent_history(10));
        let fan_out = FanOutSink::from(vec![
            counter.clone() as Arc<dyn CostSink>,
            memory.clone(),
            history.clone(),
        ]);
        fan_out.record(&record());
        fan_out.record(&record());
        assert_eq!(*counter.0.lock().unwrap(), 2);
        let all = fan_out.stats(&StatsQuery::All).unwrap();
        assert_eq!(all, memory.stats(&StatsQuery::All).unwrap());
        assert_eq!(all.total_cost_usd, Usd::from_femtos(6));
        // Memory cannot answer a time range; the sink with history does.
        let now = SystemTime::now();
        let range = StatsQuery::Between {
            from: now - Duration::from_secs(60),
            to: now + Duration::from_secs(60),
        };
        assert!(memory.stats(&range).is_none());
        assert_eq!(fan_out.stats(&range).unwrap().total_calls, 2);
        assert!(FanOutSink::new().stats(&StatsQuery::All).is_none());
    }
}
