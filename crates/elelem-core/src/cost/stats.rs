//! Stats: the Python Elelem statistics dictionary, summed exactly.

use serde::{Deserialize, Serialize};

use super::{AttemptOutcome, RetryCause, UsageRecord};
use crate::money::Usd;

/// Counts of retry events.
///
/// Unlike the Python original, retries are counted for a tag even before the tag's
/// first success, and `total_retries` counts each retry attempt exactly once
/// (so it equals the sum of the per-cause counters plus transient-failure retries,
/// which have no counter of their own).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RetryAnalytics {
    /// Retries because the answer was not parseable JSON.
    pub json_parse_retries: u64,
    /// Retries because the answer violated the schema.
    pub json_schema_retries: u64,
    /// Retries because the provider's own JSON validation failed.
    pub api_json_validation_retries: u64,
    /// Retries after 429 rate limits.
    pub rate_limit_retries: u64,
    /// Times the temperature was lowered for a retry.
    pub temperature_reductions: u64,
    /// Times `response_format` was removed for a retry.
    pub response_format_removals: u64,
    /// Times a call moved to its fallback model.
    pub fallback_model_usage: u64,
    /// Calls that failed after all retries.
    pub final_failures: u64,
    /// Retry attempts of every kind, each counted once.
    pub total_retries: u64,
    /// Elelem extension: times a call on a virtual model moved on to its next
    /// candidate. Serialized only when non-zero.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub candidate_iterations: u64,
}

/// Token, cost and retry totals, serialized exactly as the Python Elelem dictionary
/// (plus Elelem's extension counters, each only when non-zero).
///
/// Costs are exact ([`Usd`]) and serialize as dollars. Every attempt counts towards
/// tokens and cost, failed ones included. `total_calls` counts finished calls
/// (successful or finally failed); `total_duration_seconds` is their wall time,
/// waits between retries included.
///
/// ```
/// let stats = elelem_core::Stats::default();
/// let json = serde_json::to_value(&stats).unwrap();
/// assert_eq!(json["total_cost_usd"], 0.0);
/// assert_eq!(json["retry_analytics"]["total_retries"], 0);
/// ```
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Stats {
    /// Input tokens.
    pub total_input_tokens: u64,
    /// Output tokens (reasoning included).
    pub total_output_tokens: u64,
    /// Input plus output.
    pub total_tokens: u64,
    /// Input cost.
    pub total_input_cost_usd: Usd,
    /// Output cost.
    pub total_output_cost_usd: Usd,
    /// Input plus output cost.
    pub total_cost_usd: Usd,
    /// Finished calls.
    pub total_calls: u64,
    /// Wall time of the calls.
    pub total_duration_seconds: f64,
    /// `total_duration_seconds / total_calls`.
    pub avg_duration_seconds: f64,
    /// Reasoning tokens (part of the output).
    pub reasoning_tokens: u64,
    /// Cost of the reasoning tokens (part of the output cost).
    pub reasoning_cost_usd: Usd,
    /// Retry counters.
    pub retry_analytics: RetryAnalytics,
    /// Elelem extension: finished calls whose model had no known price (their cost
    /// is unknown, counted as zero). Serialized only when non-zero.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub unpriced_calls: u64,
    /// Elelem extension: calls answered from the response cache. Serialized only
    /// when non-zero.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub cache_hits: u64,
    /// Elelem extension: what the cache hits would have cost. Serialized only when
    /// non-zero.
    #[serde(default, skip_serializing_if = "Usd::is_zero")]
    pub cache_saved_cost_usd: Usd,
    /// Elelem extension: streams that ended before their usage was reported.
    /// Serialized only when non-zero.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub interrupted_streams: u64,
    /// Elelem extension: answers whose nearly valid JSON was repaired locally
    /// instead of retried. Serialized only when non-zero.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub json_repairs: u64,
    /// Elelem extension: answers whose broken JSON the JSON fixer model repaired
    /// instead of a retry. Serialized only when non-zero.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub json_fixes: u64,
    /// Elelem extension: attempts whose cost is unknown (a timeout, a body cut
    /// mid-way or undecodable, a stream dropped before its usage): the provider
    /// may have billed more than their recorded cost, and budgets were charged
    /// their worst case. Serialized only when non-zero.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub calls_cost_unknown: u64,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// Exact running totals behind a [`Stats`].
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct StatsAccumulator {
    input_tokens: u64,
    output_tokens: u64,
    reasoning_tokens: u64,
    input_cost: Usd,
    output_cost: Usd,
    reasoning_cost: Usd,
    calls: u64,
    duration_nanos: u128,
    retries: RetryAnalytics,
    unpriced_calls: u64,
    cache_hits: u64,
    cache_saved: Usd,
    interrupted_streams: u64,
    json_repairs: u64,
    json_fixes: u64,
    calls_cost_unknown: u64,
}

impl StatsAccumulator {
    /// Adds one attempt.
    pub fn add(&mut self, record: &UsageRecord) {
        let tokens = &record.tokens;
        self.input_tokens = self.input_tokens.saturating_add(tokens.input.unwrap_or(0));
        self.output_tokens = self
            .output_tokens
            .saturating_add(tokens.output.unwrap_or(0));
        self.reasoning_tokens = self
            .reasoning_tokens
            .saturating_add(tokens.reasoning.unwrap_or(0));
        self.input_cost += record.cost.input;
        self.output_cost += record.cost.output;
        self.reasoning_cost += record.cost.reasoning;
        self.duration_nanos = self
            .duration_nanos
            .saturating_add(record.duration.as_nanos());
        if record.ends_call() && !record.price_known && !record.cache_hit {
            self.unpriced_calls += 1;
        }
        if record.cache_hit {
            self.cache_hits += 1;
            self.cache_saved += record.saved_cost;
        }
        self.interrupted_streams += u64::from(record.stream_interrupted);
        self.calls_cost_unknown += u64::from(record.cost_unknown);
        let r = &mut self.retries;
        match record.outcome {
            AttemptOutcome::Success => self.calls += 1,
            AttemptOutcome::Failed => {
                self.calls += 1;
                r.final_failures += 1;
            }
            AttemptOutcome::Retried(cause) => {
                r.total_retries += 1;
                match cause {
                    RetryCause::RateLimit => r.rate_limit_retries += 1,
                    RetryCause::JsonParse => r.json_parse_retries += 1,
                    RetryCause::JsonSchema => r.json_schema_retries += 1,
                    RetryCause::ApiJsonValidation => r.api_json_validation_retries += 1,
                    RetryCause::Transient => {}
                }
            }
        }
        let a = record.adjustments;
        r.temperature_reductions += u64::from(a.temperature_reduced);
        r.response_format_removals += u64::from(a.response_format_removed);
        r.fallback_model_usage += u64::from(a.fallback_model_used);
        r.candidate_iterations += u64::from(a.next_candidate);
        self.json_repairs += u64::from(a.json_repaired);
        self.json_fixes += u64::from(a.json_fixed);
    }

    /// The stats so far.
    pub fn stats(&self) -> Stats {
        let total_seconds = self.duration_nanos as f64 / 1e9;
        Stats {
            total_input_tokens: self.input_tokens,
            total_output_tokens: self.output_tokens,
            total_tokens: self.input_tokens.saturating_add(self.output_tokens),
            total_input_cost_usd: self.input_cost,
            total_output_cost_usd: self.output_cost,
            total_cost_usd: self.input_cost + self.output_cost,
            total_calls: self.calls,
            total_duration_seconds: total_seconds,
            avg_duration_seconds: if self.calls == 0 {
                0.0
            } else {
                total_seconds / self.calls as f64
            },
            reasoning_tokens: self.reasoning_tokens,
            reasoning_cost_usd: self.reasoning_cost,
            retry_analytics: self.retries.clone(),
            unpriced_calls: self.unpriced_calls,
            cache_hits: self.cache_hits,
            cache_saved_cost_usd: self.cache_saved,
            interrupted_streams: self.interrupted_streams,
            json_repairs: self.json_repairs,
            json_fixes: self.json_fixes,
            calls_cost_unknown: self.calls_cost_unknown,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serializes_with_exactly_the_python_keys() {
        let json = serde_json::to_value(Stats::default()).unwrap();
        let keys: Vec<&String> = json.as_object().unwrap().keys().collect();
        assert_eq!(
            keys,
            [
                "total_input_tokens",
                "total_output_tokens",
                "total_tokens",
                "total_input_cost_usd",
                "total_output_cost_usd",
                "total_cost_usd",
                "total_calls",
                "total_duration_seconds",
                "avg_duration_seconds",
                "reasoning_tokens",
                "reasoning_cost_usd",
                "retry_analytics"
            ]
        );
        let retry_keys: Vec<&String> = json["retry_analytics"]
            .as_object()
            .unwrap()
            .keys()
            .collect();
        assert_eq!(
            retry_keys,
            [
                "json_parse_retries",
                "json_schema_retries",
                "api_json_validation_retries",
                "rate_limit_retries",
                "temperature_reductions",
                "response_format_removals",
                "fallback_model_usage",
                "final_failures",
                "total_retries"
            ]
        );
    }

    #[test]
    fn attempts_of_unknown_cost_are_counted_and_shown_only_when_some() {
        let mut acc = StatsAccumulator::default();
        for i in 0..50 {
            acc.add(&UsageRecord {
                timestamp: std::time::SystemTime::UNIX_EPOCH,
                call_id: i,
                attempt: 1,
                model: "groq:m".into(),
                provider: "groq".into(),
                tags: Vec::new().into(),
                tokens: super::super::TokenCounts::default(),
                cost: crate::catalogue::CostBreakdown::default(),
                price_known: true,
                duration: std::time::Duration::ZERO,
                outcome: AttemptOutcome::Success,
                adjustments: super::super::Adjustments::default(),
                cache_hit: false,
                saved_cost: Usd::ZERO,
                stream_interrupted: false,
                cost_unknown: i % 10 == 0,
                time_to_first_token: None,
            });
        }
        let stats = acc.stats();
        assert_eq!(stats.calls_cost_unknown, 5);
        let json = serde_json::to_value(&stats).unwrap();
        assert_eq!(json["calls_cost_unknown"], 5);
        let none = serde_json::to_value(Stats::default()).unwrap();
        assert!(none.get("calls_cost_unknown").is_none());
    }
}
