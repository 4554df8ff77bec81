//! What the gateway observes, for `/metrics` and the dashboard: a [`CostSink`]
//! that turns every attempt's record into Prometheus series and keeps the
//! dashboard's aggregates (spend per minute by tag and by model, calls, errors,
//! retries by cause, call latencies), all bounded in memory.

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use elelem::cost::{AttemptOutcome, CostSink, RetryCause, UsageRecord};
use elelem::Usd;
use metrics::{Counter, Gauge, Histogram};
use serde::Serialize;

/// The most distinct values kept for one label (tags, models); later ones are
/// counted under `"other"` so clients cannot grow the memory without bound.
pub const MAX_LABEL_VALUES: usize = 200;
/// The minutes of spend history kept for the dashboard (one day).
pub const HISTORY_MINUTES: u64 = 24 * 60;
/// The most recent call latencies kept for the dashboard's percentiles.
pub const LATENCY_SAMPLES: usize = 2_000;

/// The label value counted for attempts without tags.
const UNTAGGED: &str = "(none)";

/// The gateway's observations (see the module documentation).
///
/// ```
/// use elelem::cost::CostSink;
/// let telemetry = elelem_cli::telemetry::Telemetry::new();
/// assert_eq!(telemetry.snapshot().calls, 0);
/// # let _: &dyn CostSink = &telemetry;
/// ```
#[derive(Debug, Default)]
pub struct Telemetry {
    inner: Mutex<Aggregates>,
}

/// A label value accepted once and shared from then on: a record's labels are
/// looked up by `&str` and cloned as a reference count, never copied.
type Label = Arc<str>;

#[derive(Debug, Default)]
struct Aggregates {
    /// Accepted label values, by dimension.
    labels: BTreeMap<&'static str, BTreeSet<Label>>,
    /// The series of each provider and model, registered once.
    series: BTreeMap<Label, BTreeMap<Label, ModelSeries>>,
    /// `elelem_ttft_seconds` by model label.
    ttft: HashMap<String, Histogram>,
    /// Spend per minute (Unix minute) by tag and by model.
    minutes: BTreeMap<u64, Minute>,
    retries: BTreeMap<&'static str, u64>,
    models: BTreeMap<Label, CallCounts>,
    latencies: VecDeque<(Label, f64)>,
    calls: u64,
    errors: u64,
    disconnects: u64,
}

/// The Prometheus series of one (provider, model): looked up in the
/// recorder's registry once instead of on every attempt (a lookup hashes and
/// compares the whole key with its labels).
#[derive(Debug)]
struct ModelSeries {
    /// `elelem_attempts_total` by outcome: success, retried, failed.
    attempts: [Counter; 3],
    /// `elelem_calls_total` by outcome: success, failed.
    calls: [Counter; 2],
    interrupted: Counter,
    /// Exact spend per tag, behind the cost gauge, with that tag's series.
    tags: BTreeMap<Label, TagSeries>,
}

impl ModelSeries {
    fn new(provider: &str, model: &str) -> ModelSeries {
        let (p, m) = (provider.to_owned(), model.to_owned());
        let attempts = |outcome: &'static str| metrics::counter!("elelem_attempts_total", "provider" => p.clone(), "model" => m.clone(), "outcome" => outcome);
        let calls = |outcome: &'static str| metrics::counter!("elelem_calls_total", "provider" => p.clone(), "model" => m.clone(), "outcome" => outcome);
        ModelSeries {
            attempts: [attempts("success"), attempts("retried"), attempts("failed")],
            calls: [calls("success"), calls("failed")],
            interrupted: metrics::counter!("elelem_interrupted_streams_total", "provider" => p.clone(), "model" => m.clone()),
            tags: BTreeMap::new(),
        }
    }
}

/// The token kinds counted, in [`TagSeries::tokens`]' order.
const TOKEN_KINDS: [&str; 4] = ["input", "cached_input", "output", "reasoning"];

/// The series of one (provider, model, tag) and its exact spend.
#[derive(Debug)]
struct TagSeries {
    spent: Usd,
    /// `elelem_tokens_total` by kind ([`TOKEN_KINDS`]).
    tokens: [Counter; 4],
    cost: Gauge,
}

impl TagSeries {
    fn new(provider: &str, model: &str, tag: &str) -> TagSeries {
        let (p, m, t) = (provider.to_owned(), model.to_owned(), tag.to_owned());
        let tokens = |kind: &'static str| metrics::counter!("elelem_tokens_total", "provider" => p.clone(), "model" => m.clone(), "tag" => t.clone(), "kind" => kind);
        TagSeries {
            spent: Usd::ZERO,
            tokens: TOKEN_KINDS.map(tokens),
            cost: metrics::gauge!("elelem_cost_usd_total", "provider" => p.clone(), "model" => m.clone(), "tag" => t.clone()),
        }
    }
}

#[derive(Debug, Default)]
struct Minute {
    by_tag: BTreeMap<Label, Usd>,
    by_model: BTreeMap<Label, Usd>,
}

/// Calls and failures of one model.
#[derive(Debug, Default, Clone, Serialize)]
pub struct CallCounts {
    /// Finished calls.
    pub calls: u64,
    /// Calls that finally failed.
    pub errors: u64,
    /// Spend, exact.
    pub cost_usd: Usd,
}

/// The dashboard's figures at one moment.
#[derive(Debug, Clone, Serialize)]
pub struct Snapshot {
    /// Finished calls.
    pub calls: u64,
    /// Calls that finally failed.
    pub errors: u64,
    /// Client disconnects that cancelled a call.
    pub disconnects: u64,
    /// Retries by cause.
    pub retries: BTreeMap<String, u64>,
    /// Calls, errors and spend by model.
    pub models: BTreeMap<String, CallCounts>,
    /// Spend per minute: `[{minute, by_tag, by_model}]`, oldest first.
    pub spend: Vec<SpendPoint>,
    /// Call latency percentiles by model, in seconds.
    pub latency: BTreeMap<String, Percentiles>,
}

/// Spend in one minute.
#[derive(Debug, Clone, Serialize)]
pub struct SpendPoint {
    /// Seconds since the Unix epoch at the minute's start.
    pub minute: u64,
    /// Spend by tag.
    pub by_tag: BTreeMap<String, Usd>,
    /// Spend by model.
    pub by_model: BTreeMap<String, Usd>,
}

/// Latency percentiles.
#[derive(Debug, Clone, Serialize)]
pub struct Percentiles {
    /// Samples.
    pub count: usize,
    /// Median, seconds.
    pub p50: f64,
    /// 95th percentile, seconds.
    pub p95: f64,
    /// 99th percentile, seconds.
    pub p99: f64,
}

impl Telemetry {
    /// Empty observations.
    pub fn new() -> Telemetry {
        Telemetry::default()
    }

    /// Notes one finished gateway call's latency (client's view).
    pub fn observe_latency(&self, model: &str, latency: Duration) {
        let mut a = self.lock();
        let model = a.label("model", model);
        if a.latencies.len() >= LATENCY_SAMPLES {
            a.latencies.pop_front();
        }
        a.latencies.push_back((model, latency.as_secs_f64()));
    }

    /// Notes a stream's time to its first chunk in `elelem_ttft_seconds` by
    /// model (the model label capped like the others; its series kept).
    ///
    /// ```
    /// let telemetry = elelem_cli::telemetry::Telemetry::new();
    /// telemetry.observe_ttft("openai:gpt-4.1-mini", std::time::Duration::from_millis(80));
    /// ```
    pub fn observe_ttft(&self, model: &str, ttft: Duration) {
        let mut a = self.lock();
        let histogram = match a.ttft.get(model) {
            Some(histogram) => histogram,
            None => {
                let label = a.label("model", model).to_string();
                a.ttft.entry(label).or_insert_with_key(
                    |label| metrics::histogram!("elelem_ttft_seconds", "model" => label.clone()),
                )
            }
        };
        histogram.record(ttft.as_secs_f64());
    }

    /// Notes a client that went away before its answer.
    pub fn observe_disconnect(&self) {
        self.lock().disconnects += 1;
        metrics::counter!("elelem_client_disconnects_total").increment(1);
    }

    /// The dashboard's figures now.
    pub fn snapshot(&self) -> Snapshot {
        let a = self.lock();
        let mut by_model: BTreeMap<&str, Vec<f64>> = BTreeMap::new();
        for (model, secs) in &a.latencies {
            by_model.entry(&**model).or_default().push(*secs);
        }
        let latency = by_model
            .into_iter()
            .map(|(model, mut samples)| {
                samples.sort_by(f64::total_cmp);
                (model.to_owned(), percentiles(&samples))
            })
            .collect();
        Snapshot {
            calls: a.calls,
            errors: a.errors,
            disconnects: a.disconnects,
            retries: owned_keys(&a.retries),
            models: owned_keys(&a.models),
            spend: a
                .minutes
                .iter()
                .map(|(minute, m)| SpendPoint {
                    minute: minute * 60,
                    by_tag: owned_keys(&m.by_tag),
                    by_model: owned_keys(&m.by_model),
                })
                .collect(),
            latency,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Aggregates> {
        // A panic elsewhere while holding the lock leaves consistent counters.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// A map with its keys as owned strings (for a [`Snapshot`]).
fn owned_keys<K: AsRef<str>, V: Clone>(map: &BTreeMap<K, V>) -> BTreeMap<String, V> {
    map.iter()
        .map(|(k, v)| (k.as_ref().to_owned(), v.clone()))
        .collect()
}

impl Aggregates {
    /// See [`label`].
    fn label(&mut self, dimension: &'static str, value: &str) -> Label {
        label(&mut self.labels, dimension, value)
    }
}

/// `value` if it is known in `dimension` or there is room for it, else
/// `"other"`; shared (a string is made only the first time a value is seen).
fn label(
    labels: &mut BTreeMap<&'static str, BTreeSet<Label>>,
    dimension: &'static str,
    value: &str,
) -> Label {
    let known = labels.entry(dimension).or_default();
    if let Some(label) = known.get(value) {
        return label.clone();
    }
    let accepted = if known.len() < MAX_LABEL_VALUES {
        value
    } else {
        "other"
    };
    if let Some(label) = known.get(accepted) {
        return label.clone();
    }
    let label = Label::from(accepted);
    known.insert(label.clone());
    label
}

fn percentiles(sorted: &[f64]) -> Percentiles {
    let at = |q: f64| {
        let index = ((sorted.len() as f64 - 1.0) * q).round() as usize;
        sorted.get(index).copied().unwrap_or(0.0)
    };
    Percentiles {
        count: sorted.len(),
        p50: at(0.50),
        p95: at(0.95),
        p99: at(0.99),
    }
}

/// The Prometheus label of a retry cause.
pub fn cause_label(cause: RetryCause) -> &'static str {
    match cause {
        RetryCause::RateLimit => "rate_limit",
        RetryCause::Transient => "transient",
        RetryCause::JsonParse => "json_parse",
        RetryCause::JsonSchema => "json_schema",
        RetryCause::ApiJsonValidation => "api_json_validation",
    }
}

impl CostSink for Telemetry {
    fn record(&self, record: &UsageRecord) {
        let mut guard = self.lock();
        let a = &mut *guard;
        let provider = a.label("provider", &record.provider);
        let model = a.label("model", &record.model);
        let cost = record.total_cost();
        let outcome = match record.outcome {
            AttemptOutcome::Success => 0,
            AttemptOutcome::Retried(_) => 1,
            AttemptOutcome::Failed => 2,
        };
        let series = a
            .series
            .entry(provider.clone())
            .or_default()
            .entry(model.clone())
            .or_insert_with(|| ModelSeries::new(&provider, &model));
        series.attempts[outcome].increment(1);
        if record.stream_interrupted {
            series.interrupted.increment(1);
        }
        if record.ends_call() {
            let failed = record.outcome == AttemptOutcome::Failed;
            series.calls[usize::from(failed)].increment(1);
        }
        if let AttemptOutcome::Retried(cause) = record.outcome {
            let cause = cause_label(cause);
            metrics::counter!("elelem_retries_total", "cause" => cause).increment(1);
            *a.retries.entry(cause).or_default() += 1;
        }
        // In TOKEN_KINDS' order.
        let counts = [
            record.tokens.input,
            record.tokens.cached_input,
            record.tokens.output,
            record.tokens.reasoning,
        ];
        let minute = record
            .timestamp
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_secs()
            / 60;
        let point = a.minutes.entry(minute).or_default();
        let untagged = record.tags.is_empty().then_some(UNTAGGED);
        for tag in record.tags.iter().map(String::as_str).chain(untagged) {
            let tag = label(&mut a.labels, "tag", tag);
            let spend = series
                .tags
                .entry(tag.clone())
                .or_insert_with(|| TagSeries::new(&provider, &model, &tag));
            for (counter, count) in spend.tokens.iter().zip(counts) {
                if let Some(count) = count.filter(|c| *c > 0) {
                    counter.increment(count);
                }
            }
            spend.spent = spend.spent.saturating_add(cost);
            spend.cost.set(spend.spent.as_f64());
            let spent = point.by_tag.entry(tag).or_insert(Usd::ZERO);
            *spent = spent.saturating_add(cost);
        }
        let spent = point.by_model.entry(model.clone()).or_insert(Usd::ZERO);
        *spent = spent.saturating_add(cost);
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_secs()
            / 60;
        let oldest = now.saturating_sub(HISTORY_MINUTES);
        while a
            .minutes
            .first_key_value()
            .is_some_and(|(m, _)| *m < oldest)
        {
            a.minutes.pop_first();
        }
        // Bounded even when the records' clock runs ahead of this one.
        while a.minutes.len() as u64 > HISTORY_MINUTES {
            a.minutes.pop_first();
        }

        let counts = a.models.entry(model).or_default();
        counts.cost_usd = counts.cost_usd.saturating_add(cost);
        if record.ends_call() {
            let failed = record.outcome == AttemptOutcome::Failed;
            counts.calls += 1;
            counts.errors += u64::from(failed);
            a.calls += 1;
            a.errors += u64::from(failed);
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn percentiles_pick_the_ranked_sample() {
        let samples: Vec<f64> = (1..=100).map(f64::from).collect();
        let p = percentiles(&samples);
        assert_eq!((p.count, p.p50, p.p99), (100, 51.0, 99.0));
        assert_eq!(percentiles(&[]).p50, 0.0);
    }

    #[test]
    fn label_values_are_capped() {
        let telemetry = Telemetry::new();
        for i in 0..(MAX_LABEL_VALUES + 50) {
            telemetry.observe_latency(&format!("m{i}"), Duration::from_millis(1));
        }
        let snapshot = telemetry.snapshot();
        assert_eq!(snapshot.latency.len(), MAX_LABEL_VALUES + 1);
        assert_eq!(snapshot.latency["other"].count, 50);
    }

    #[test]
    fn ttft_series_are_kept_per_model_label_and_capped() {
        let telemetry = Telemetry::new();
        for i in 0..(MAX_LABEL_VALUES + 50) {
            telemetry.observe_ttft(&format!("m{i}"), Duration::from_millis(1));
            telemetry.observe_ttft(&format!("m{i}"), Duration::from_millis(2));
        }
        let a = telemetry.lock();
        assert_eq!(a.ttft.len(), MAX_LABEL_VALUES + 1);
        assert!(a.ttft.contains_key("other"));
    }

    fn attempt(model: &str, tags: &[&str], femtos: i128, outcome: AttemptOutcome) -> UsageRecord {
        use elelem::catalogue::CostBreakdown;
        use elelem::cost::{Adjustments, TokenCounts};
        UsageRecord {
            timestamp: SystemTime::now(),
            call_id: 1,
            attempt: 1,
            model: model.into(),
            provider: "p".into(),
            tags: tags.iter().map(|t| t.to_string()).collect(),
            tokens: TokenCounts {
                input: Some(10),
                ..TokenCounts::default()
            },
            cost: CostBreakdown {
                input: Usd::from_femtos(femtos),
                ..CostBreakdown::default()
            },
            price_known: true,
            duration: Duration::from_millis(1),
            outcome,
            adjustments: Adjustments::default(),
            cache_hit: false,
            saved_cost: Usd::ZERO,
            stream_interrupted: false,
            cost_unknown: false,
            time_to_first_token: None,
        }
    }

    #[test]
    fn records_add_up_by_model_tag_and_minute_with_capped_labels() {
        let telemetry = Telemetry::new();
        let retried = AttemptOutcome::Retried(RetryCause::RateLimit);
        telemetry.record(&attempt("p:a", &["x", "y"], 3, retried));
        telemetry.record(&attempt("p:a", &["x"], 5, AttemptOutcome::Success));
        telemetry.record(&attempt("p:b", &[], 7, AttemptOutcome::Failed));
        for i in 0..(MAX_LABEL_VALUES + 5) {
            telemetry.record(&attempt(
                "p:a",
                &[&format!("t{i}")],
                1,
                AttemptOutcome::Success,
            ));
        }
        let snapshot = telemetry.snapshot();
        let calls = MAX_LABEL_VALUES as u64 + 5 + 2;
        assert_eq!((snapshot.calls, snapshot.errors), (calls, 1));
        assert_eq!(snapshot.retries["rate_limit"], 1);
        let a = &snapshot.models["p:a"];
        let spent_a = 3 + 5 + MAX_LABEL_VALUES as i128 + 5;
        assert_eq!(
            (a.calls, a.errors, a.cost_usd),
            (calls - 1, 0, Usd::from_femtos(spent_a))
        );
        let b = &snapshot.models["p:b"];
        assert_eq!((b.calls, b.errors, b.cost_usd), (1, 1, Usd::from_femtos(7)));
        let minute = snapshot.spend.last().unwrap();
        assert_eq!(minute.by_tag["x"], Usd::from_femtos(8));
        assert_eq!(minute.by_tag["y"], Usd::from_femtos(3));
        assert_eq!(minute.by_tag[UNTAGGED], Usd::from_femtos(7));
        // x, y, (none) and t0.. up to the cap; the rest are "other".
        let others = MAX_LABEL_VALUES + 5 - (MAX_LABEL_VALUES - 3);
        assert_eq!(minute.by_tag["other"], Usd::from_femtos(others as i128));
        assert_eq!(minute.by_tag.len(), MAX_LABEL_VALUES + 1);
        let total: Usd = minute
            .by_model
            .values()
            .fold(Usd::ZERO, |t, u| t.saturating_add(*u));
        assert_eq!(total, Usd::from_femtos(spent_a + 7));
    }

    #[test]
    fn latency_samples_are_bounded() {
        let telemetry = Telemetry::new();
        for _ in 0..(LATENCY_SAMPLES + 10) {
            telemetry.observe_latency("m", Duration::from_millis(2));
        }
        assert_eq!(telemetry.snapshot().latency["m"].count, LATENCY_SAMPLES);
    }
}
