//! The default sink: exact stats in memory, overall and by tag.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};

use super::stats::StatsAccumulator;
use super::{CostSink, Stats, StatsQuery, UsageRecord};

/// Keeps exact stats in memory, overall and per tag.
///
/// Recording takes a short lock with no I/O and no `.await` inside, so it never
/// stalls the async runtime; totals are exact under any concurrency.
///
/// ```
/// use elelem_core::cost::{CostSink, InMemoryStatsSink, StatsQuery};
/// let sink = InMemoryStatsSink::new();
/// assert_eq!(sink.stats(&StatsQuery::Tag("nothing".into())).unwrap().total_calls, 0);
/// ```
#[derive(Debug, Default)]
pub struct InMemoryStatsSink {
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    total: StatsAccumulator,
    by_tag: HashMap<String, StatsAccumulator>,
}

impl InMemoryStatsSink {
    /// An empty sink.
    pub fn new() -> Self {
        InMemoryStatsSink::default()
    }

    /// Forgets everything.
    ///
    /// ```
    /// elelem_core::cost::InMemoryStatsSink::new().reset();
    /// ```
    pub fn reset(&self) {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        *state = State::default();
    }
}

impl CostSink for InMemoryStatsSink {
    fn record(&self, record: &UsageRecord) {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        state.total.add(record);
        for (i, tag) in record.tags.iter().enumerate() {
            // A tag given twice on one call counts once.
            if record.tags[..i].contains(tag) {
                continue;
            }
            match state.by_tag.get_mut(tag.as_str()) {
                Some(acc) => acc.add(record),
                None => {
                    let mut acc = StatsAccumulator::default();
                    acc.add(record);
                    state.by_tag.insert(tag.clone(), acc);
                }
            }
        }
    }

    fn stats(&self, query: &StatsQuery) -> Option<Stats> {
        let state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        Some(match query {
            StatsQuery::All => state.total.stats(),
            StatsQuery::Tag(tag) => state
                .by_tag
                .get(tag)
                .map(StatsAccumulator::stats)
                .unwrap_or_default(),
        })
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::{Duration, SystemTime};

    use super::*;
    use crate::catalogue::CostBreakdown;
    use crate::cost::{Adjustments, AttemptOutcome, RetryCause, TokenCounts};
    use crate::money::Usd;

    fn record(tags: &[&str], outcome: AttemptOutcome, nanos: i64) -> UsageRecord {
        UsageRecord {
            timestamp: SystemTime::now(),
            call_id: 1,
            attempt: 1,
            model: "p:m".into(),
            provider: "p".into(),
            tags: tags
                .iter()
                .map(|t| t.to_string())
                .collect::<Vec<_>>()
                .into(),
            tokens: TokenCounts {
                input: Some(10),
                cached_input: None,
                output: Some(4),
                reasoning: Some(1),
            },
            cost: CostBreakdown {
                input: Usd::from_nanos(nanos),
                output: Usd::from_nanos(2 * nanos),
                reasoning: Usd::from_nanos(1),
            },
            price_known: true,
            duration: Duration::from_millis(500),
            outcome,
            adjustments: Adjustments {
                temperature_reduced: true,
                ..Adjustments::default()
            },
            cache_hit: false,
            saved_cost: Usd::ZERO,
            stream_interrupted: false,
        }
    }

    #[test]
    fn sums_overall_and_by_tag_with_retries_counted_before_success() {
        let sink = InMemoryStatsSink::new();
        sink.record(&record(
            &["a", "b", "a"],
            AttemptOutcome::Retried(RetryCause::JsonParse),
            100,
        ));
        let a = sink.stats(&StatsQuery::Tag("a".into())).unwrap();
        assert_eq!(a.retry_analytics.json_parse_retries, 1);
        assert_eq!(a.total_calls, 0);
        sink.record(&record(&["a"], AttemptOutcome::Success, 100));
        let a = sink.stats(&StatsQuery::Tag("a".into())).unwrap();
        let b = sink.stats(&StatsQuery::Tag("b".into())).unwrap();
        let all = sink.stats(&StatsQuery::All).unwrap();
        assert_eq!(a.total_calls, 1);
        assert_eq!(a.total_input_tokens, 20);
        assert_eq!(a.total_cost_usd, Usd::from_nanos(600));
        assert_eq!(a.retry_analytics.total_retries, 1);
        assert_eq!(a.retry_analytics.temperature_reductions, 2);
        assert_eq!(a.total_duration_seconds, 1.0);
        assert_eq!(b.total_calls, 0);
        assert_eq!(b.total_input_tokens, 10);
        assert_eq!(all, a);
        assert_eq!(
            sink.stats(&StatsQuery::Tag("zzz".into())).unwrap(),
            Stats::default()
        );
    }

    #[test]
    fn exact_under_heavy_concurrency() {
        let sink = Arc::new(InMemoryStatsSink::new());
        let threads: Vec<_> = (0..8)
            .map(|t| {
                let sink = sink.clone();
                std::thread::spawn(move || {
                    for i in 0..1_000 {
                        sink.record(&record(
                            &["t"],
                            AttemptOutcome::Success,
                            (t * 1_000 + i) as i64,
                        ));
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        let expected: i64 = (0..8_000i64).map(|n| 3 * n).sum();
        let stats = sink.stats(&StatsQuery::Tag("t".into())).unwrap();
        assert_eq!(stats.total_calls, 8_000);
        assert_eq!(stats.total_cost_usd, Usd::from_nanos(expected));
    }
}

#[cfg(test)]
mod extension_tests {
    use std::time::{Duration, SystemTime};

    use super::*;
    use crate::catalogue::CostBreakdown;
    use crate::cost::{Adjustments, AttemptOutcome, TokenCounts};
    use crate::money::Usd;

    fn record(price_known: bool, cache_hit: bool, interrupted: bool) -> UsageRecord {
        UsageRecord {
            timestamp: SystemTime::now(),
            call_id: 1,
            attempt: 1,
            model: "p:m".into(),
            provider: "p".into(),
            tags: vec!["x".to_string()].into(),
            tokens: TokenCounts::default(),
            cost: CostBreakdown::default(),
            price_known,
            duration: Duration::ZERO,
            outcome: AttemptOutcome::Success,
            adjustments: Adjustments::default(),
            cache_hit,
            saved_cost: if cache_hit {
                Usd::from_nanos(40)
            } else {
                Usd::ZERO
            },
            stream_interrupted: interrupted,
        }
    }

    #[test]
    fn extension_counters_count_and_appear_only_when_non_zero() {
        let sink = InMemoryStatsSink::new();
        let quiet = serde_json::to_value(sink.stats(&StatsQuery::All).unwrap()).unwrap();
        assert!(quiet.get("cache_hits").is_none() && quiet.get("unpriced_calls").is_none());
        sink.record(&record(false, false, false));
        sink.record(&record(true, true, false));
        sink.record(&record(true, true, false));
        sink.record(&record(true, false, true));
        let stats = sink.stats(&StatsQuery::Tag("x".into())).unwrap();
        assert_eq!(stats.unpriced_calls, 1);
        assert_eq!(stats.cache_hits, 2);
        assert_eq!(stats.cache_saved_cost_usd, Usd::from_nanos(80));
        assert_eq!(stats.interrupted_streams, 1);
        let json = serde_json::to_value(&stats).unwrap();
        assert_eq!(json["cache_hits"], 2);
        assert_eq!(json["unpriced_calls"], 1);
    }
}
