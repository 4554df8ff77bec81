//! The default sink: exact stats in memory, overall, by tag, by model and by
//! provider, and optionally over a time range.

use std::collections::VecDeque;

use foldhash::HashMap;
use std::sync::{Mutex, PoisonError};
use std::time::SystemTime;

use super::stats::StatsAccumulator;
use super::{CostSink, Stats, StatsQuery, UsageRecord};

/// Keeps exact stats in memory: overall, per tag, per model and per provider.
///
/// Recording takes a short lock with no I/O and no `.await` inside, so it never
/// stalls the async runtime; totals are exact under any concurrency.
///
/// Time-range queries ([`StatsQuery::Between`]) need the records themselves. By
/// default none are kept and such a query answers `None` (so that a
/// [`FanOutSink`](super::FanOutSink) passes it on to a durable ledger). A sink made
/// with [`InMemoryStatsSink::with_recent_history`] keeps the last `capacity`
/// records and answers a time range from them, exactly, as long as no record that
/// could fall in the range has been forgotten; otherwise it answers `None` rather
/// than a partial sum.
///
/// ```
/// use elelem_core::cost::{CostSink, InMemoryStatsSink, StatsQuery};
/// let sink = InMemoryStatsSink::new();
/// assert_eq!(sink.stats(&StatsQuery::Tag("nothing".into())).unwrap().total_calls, 0);
/// assert_eq!(sink.stats(&StatsQuery::Provider("groq".into())).unwrap().total_calls, 0);
/// ```
#[derive(Debug, Default)]
pub struct InMemoryStatsSink {
    state: Mutex<State>,
    history_capacity: usize,
}

#[derive(Debug, Default)]
struct State {
    total: StatsAccumulator,
    by_tag: HashMap<String, StatsAccumulator>,
    by_model: HashMap<String, StatsAccumulator>,
    by_provider: HashMap<String, StatsAccumulator>,
    /// The most recent records, oldest first (only with a history capacity).
    recent: VecDeque<UsageRecord>,
    /// The latest timestamp of any record dropped from `recent`.
    forgotten_until: Option<SystemTime>,
}

impl InMemoryStatsSink {
    /// An empty sink that keeps no records (time-range queries answer `None`).
    pub fn new() -> Self {
        InMemoryStatsSink::default()
    }

    /// An empty sink that also keeps the last `capacity` records to answer
    /// [`StatsQuery::Between`].
    ///
    /// ```
    /// use std::time::{Duration, SystemTime};
    /// use elelem_core::cost::{CostSink, InMemoryStatsSink, StatsQuery};
    /// let sink = InMemoryStatsSink::with_recent_history(10_000);
    /// let now = SystemTime::now();
    /// let today = StatsQuery::Between { from: now - Duration::from_secs(86_400), to: now };
    /// assert_eq!(sink.stats(&today).unwrap().total_calls, 0);
    /// assert!(InMemoryStatsSink::new().stats(&today).is_none());
    /// ```
    pub fn with_recent_history(capacity: usize) -> Self {
        InMemoryStatsSink {
            state: Mutex::default(),
            history_capacity: capacity,
        }
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

/// Adds `record` to the accumulator of `key`, creating it when missing.
fn add_keyed(map: &mut HashMap<String, StatsAccumulator>, key: &str, record: &UsageRecord) {
    match map.get_mut(key) {
        Some(acc) => acc.add(record),
        None => {
            let mut acc = StatsAccumulator::default();
            acc.add(record);
            map.insert(key.to_owned(), acc);
        }
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
            add_keyed(&mut state.by_tag, tag, record);
        }
        add_keyed(&mut state.by_model, &record.model, record);
        add_keyed(&mut state.by_provider, &record.provider, record);
        if self.history_capacity > 0 {
            while state.recent.len() >= self.history_capacity {
                if let Some(old) = state.recent.pop_front() {
                    state.forgotten_until = Some(match state.forgotten_until {
                        Some(t) if t >= old.timestamp => t,
                        _ => old.timestamp,
                    });
                }
            }
            state.recent.push_back(record.clone());
        }
    }

    fn stats(&self, query: &StatsQuery) -> Option<Stats> {
        let state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        let keyed = |map: &HashMap<String, StatsAccumulator>, key: &str| {
            map.get(key)
                .map(StatsAccumulator::stats)
                .unwrap_or_default()
        };
        match query {
            StatsQuery::All => Some(state.total.stats()),
            StatsQuery::Tag(tag) => Some(keyed(&state.by_tag, tag)),
            StatsQuery::Model(model) => Some(keyed(&state.by_model, model)),
            StatsQuery::Provider(provider) => Some(keyed(&state.by_provider, provider)),
            StatsQuery::Between { from, .. } => {
                if self.history_capacity == 0 {
                    return None;
                }
                // A forgotten record at or after `from` might belong to the range.
                if state.forgotten_until.is_some_and(|t| t >= *from) {
                    return None;
                }
                let mut acc = StatsAccumulator::default();
                for record in state.recent.iter().filter(|r| query.matches(r)) {
                    acc.add(record);
                }
                Some(acc.stats())
            }
        }
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
            cost_unknown: false,
            time_to_first_token: None,
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
            cost_unknown: false,
            time_to_first_token: None,
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

#[cfg(test)]
mod query_tests {
    use std::time::{Duration, SystemTime};

    use super::*;
    use crate::catalogue::CostBreakdown;
    use crate::cost::{Adjustments, AttemptOutcome, TokenCounts};
    use crate::money::Usd;

    fn record(provider: &str, model: &str, seconds: u64, femtos: i128) -> UsageRecord {
        UsageRecord {
            timestamp: SystemTime::UNIX_EPOCH + Duration::from_secs(seconds),
            call_id: seconds,
            attempt: 1,
            model: format!("{provider}:{model}"),
            provider: provider.into(),
            tags: vec!["t".to_string()].into(),
            tokens: TokenCounts {
                input: Some(1),
                ..TokenCounts::default()
            },
            cost: CostBreakdown {
                input: Usd::from_femtos(femtos),
                ..CostBreakdown::default()
            },
            price_known: true,
            duration: Duration::from_millis(10),
            outcome: AttemptOutcome::Success,
            adjustments: Adjustments::default(),
            cache_hit: false,
            saved_cost: Usd::ZERO,
            stream_interrupted: false,
            cost_unknown: false,
            time_to_first_token: None,
        }
    }

    fn between(from: u64, to: u64) -> StatsQuery {
        StatsQuery::Between {
            from: SystemTime::UNIX_EPOCH + Duration::from_secs(from),
            to: SystemTime::UNIX_EPOCH + Duration::from_secs(to),
        }
    }

    #[test]
    fn sums_by_model_and_by_provider() {
        let sink = InMemoryStatsSink::new();
        sink.record(&record("a", "x", 1, 1));
        sink.record(&record("a", "y", 2, 10));
        sink.record(&record("b", "x", 3, 100));
        let cost = |q: StatsQuery| sink.stats(&q).unwrap().total_cost_usd.femtos();
        assert_eq!(cost(StatsQuery::Provider("a".into())), 11);
        assert_eq!(cost(StatsQuery::Provider("b".into())), 100);
        assert_eq!(cost(StatsQuery::Model("a:x".into())), 1);
        assert_eq!(cost(StatsQuery::Model("b:x".into())), 100);
        assert_eq!(cost(StatsQuery::Model("x".into())), 0);
        assert_eq!(cost(StatsQuery::Provider("zzz".into())), 0);
        // No history kept: a time range is not answered.
        assert!(sink.stats(&between(0, 10)).is_none());
        sink.reset();
        assert_eq!(cost(StatsQuery::Provider("a".into())), 0);
    }

    #[test]
    fn time_ranges_are_exact_or_unanswered() {
        let sink = InMemoryStatsSink::with_recent_history(3);
        for s in 1..=3 {
            sink.record(&record("a", "x", s * 10, i128::from(s)));
        }
        let cost = |q: StatsQuery| sink.stats(&q).map(|s| s.total_cost_usd.femtos());
        assert_eq!(cost(between(0, 100)), Some(6));
        assert_eq!(cost(between(10, 30)), Some(3)); // `to` excluded
        assert_eq!(cost(between(11, 30)), Some(2));
        assert_eq!(cost(between(40, 50)), Some(0));
        // The record at 10 s is forgotten: ranges that may hold it are refused.
        sink.record(&record("a", "x", 40, 4));
        assert_eq!(cost(between(0, 100)), None);
        assert_eq!(cost(between(10, 100)), None);
        assert_eq!(cost(between(11, 100)), Some(9));
        assert_eq!(sink.stats(&between(11, 100)).unwrap().total_calls, 3);
    }
}
