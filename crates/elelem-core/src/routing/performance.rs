//! [`Performance`]: the rolling record of what each model measured, fed by every
//! attempt's usage record.

use std::collections::BTreeMap;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use foldhash::HashMap;

use super::window::{ModelPerformance, ModelWindow, Sample};
use crate::cost::{AttemptOutcome, CostSink, UsageRecord};

/// The most models tracked at once; past it the least recently measured one is
/// forgotten (memory stays bounded whatever model ids calls use).
pub const MAX_MODELS: usize = 4096;

#[derive(Debug, Default)]
struct Windows {
    by_model: HashMap<String, ModelWindow>,
    updates: u64,
}

impl Windows {
    /// Updates the window of `model`, made (and the least recently measured one
    /// forgotten past [`MAX_MODELS`]) when missing. A model already measured
    /// costs one lookup and no copy of its id.
    fn update(&mut self, model: &str, update: impl FnOnce(&mut ModelWindow)) {
        self.updates += 1;
        if let Some(window) = self.by_model.get_mut(model) {
            window.touched = self.updates;
            update(window);
            return;
        }
        update(self.new_window(model));
    }

    /// A window for `model`, which has none yet.
    fn new_window(&mut self, model: &str) -> &mut ModelWindow {
        if self.by_model.len() >= MAX_MODELS {
            let oldest = self
                .by_model
                .iter()
                .min_by_key(|(_, w)| w.touched)
                .map(|(id, _)| id.clone());
            if let Some(oldest) = oldest {
                self.by_model.remove(&oldest);
            }
        }
        let window = self.by_model.entry(model.to_owned()).or_default();
        window.touched = self.updates;
        window
    }
}

/// Per model (`provider:model`), the latency, time to first token, output
/// tokens per second and error rate of its last
/// [`WINDOW`](super::window::WINDOW) attempts, in memory.
///
/// Every client keeps one, fed by every attempt's usage record (it is a
/// [`CostSink`]); [`Elelem::performance`](crate::Elelem::performance) reports it,
/// and virtual models with a [`Routing`](super::Routing) rank their candidates
/// from it. Records read back from a ledger can seed it
/// ([`Elelem::learn_performance`](crate::Elelem::learn_performance)).
///
/// ```
/// use std::time::{Duration, SystemTime};
/// use elelem_core::cost::{AttemptOutcome, CostSink, TokenCounts, UsageRecord};
/// use elelem_core::routing::Performance;
///
/// let performance = Performance::new();
/// performance.record(&UsageRecord {
///     timestamp: SystemTime::now(), call_id: 1, attempt: 1,
///     model: "groq:m".into(), provider: "groq".into(), tags: vec![].into(),
///     tokens: TokenCounts { output: Some(200), ..Default::default() },
///     cost: Default::default(), price_known: true,
///     duration: Duration::from_secs(2), outcome: AttemptOutcome::Success,
///     adjustments: Default::default(), cache_hit: false,
///     saved_cost: Default::default(), stream_interrupted: false, cost_unknown: false,
///     time_to_first_token: None,
/// });
/// let groq = &performance.report()["groq:m"];
/// assert_eq!(groq.tokens_per_second, Some(100.0));
/// assert_eq!(groq.latency_p50, Some(Duration::from_secs(2)));
/// ```
#[derive(Debug, Default)]
pub struct Performance {
    windows: Mutex<Windows>,
}

impl Performance {
    /// An empty record.
    ///
    /// ```
    /// assert!(elelem_core::routing::Performance::new().report().is_empty());
    /// ```
    pub fn new() -> Performance {
        Performance::default()
    }

    fn windows(&self) -> std::sync::MutexGuard<'_, Windows> {
        self.windows.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Notes how long a stream of `model` took to its first chunk.
    ///
    /// ```
    /// use std::time::Duration;
    /// let p = elelem_core::routing::Performance::new();
    /// p.first_token("p:m", Duration::from_millis(300));
    /// assert_eq!(p.of("p:m").first_token_p50, Some(Duration::from_millis(300)));
    /// ```
    pub fn first_token(&self, model: &str, after: Duration) {
        self.windows()
            .update(model, |window| window.add_first_token(after.as_secs_f64()));
    }

    /// Learns from a record measured before (read back from a ledger, or by
    /// another process): its sample, as [`CostSink::record`] takes it, and its
    /// time to first token, which a live client notes when the stream's first
    /// chunk arrives ([`Performance::first_token`]) rather than from the record.
    ///
    /// ```
    /// use std::time::{Duration, SystemTime};
    /// use elelem_core::cost::{AttemptOutcome, TokenCounts, UsageRecord};
    /// let p = elelem_core::routing::Performance::new();
    /// p.learn(&UsageRecord {
    ///     timestamp: SystemTime::now(), call_id: 1, attempt: 1,
    ///     model: "p:m".into(), provider: "p".into(), tags: vec![].into(),
    ///     tokens: TokenCounts { output: Some(100), ..Default::default() },
    ///     cost: Default::default(), price_known: true,
    ///     duration: Duration::from_secs(1), outcome: AttemptOutcome::Success,
    ///     adjustments: Default::default(), cache_hit: false,
    ///     saved_cost: Default::default(), stream_interrupted: false, cost_unknown: false,
    ///     time_to_first_token: Some(Duration::from_millis(200)),
    /// });
    /// assert_eq!(p.of("p:m").first_token_p50, Some(Duration::from_millis(200)));
    /// assert_eq!(p.of("p:m").tokens_per_second, Some(100.0));
    /// ```
    pub fn learn(&self, record: &UsageRecord) {
        let Some(sample) = sample_of(record) else {
            return;
        };
        self.windows().update(&record.model, |window| {
            window.add(sample);
            if let Some(first) = record.time_to_first_token {
                window.add_first_token(first.as_secs_f64());
            }
        });
    }

    /// What was measured of `model` (empty when nothing was).
    ///
    /// ```
    /// assert_eq!(elelem_core::routing::Performance::new().of("p:m").samples, 0);
    /// ```
    pub fn of(&self, model: &str) -> ModelPerformance {
        self.windows()
            .by_model
            .get(model)
            .map(ModelWindow::summary)
            .unwrap_or_default()
    }

    /// What was measured, per model.
    ///
    /// ```
    /// assert!(elelem_core::routing::Performance::new().report().is_empty());
    /// ```
    pub fn report(&self) -> BTreeMap<String, ModelPerformance> {
        self.windows()
            .by_model
            .iter()
            .map(|(id, w)| (id.clone(), w.summary()))
            .collect()
    }
}

/// The sample a usage record stands for; `None` for a cache hit (no provider
/// call was measured).
fn sample_of(record: &UsageRecord) -> Option<Sample> {
    if record.cache_hit {
        return None;
    }
    let ok = record.outcome == AttemptOutcome::Success && !record.stream_interrupted;
    let seconds = record.duration.as_secs_f64();
    let tokens_per_second = record
        .tokens
        .output
        .filter(|&n| ok && n > 0 && seconds > 0.0)
        .map(|n| n as f64 / seconds);
    Some(Sample {
        ok,
        latency: ok.then_some(seconds),
        tokens_per_second,
    })
}

impl CostSink for Performance {
    fn record(&self, record: &UsageRecord) {
        if let Some(sample) = sample_of(record) {
            self.windows()
                .update(&record.model, |window| window.add(sample));
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::cost::{RetryCause, TokenCounts};
    use std::time::SystemTime;

    pub(crate) fn record(model: &str, seconds: f64, output: u64, ok: bool) -> UsageRecord {
        UsageRecord {
            timestamp: SystemTime::now(),
            call_id: 1,
            attempt: 1,
            model: model.into(),
            provider: "p".into(),
            tags: Vec::new().into(),
            tokens: TokenCounts {
                output: Some(output),
                ..TokenCounts::default()
            },
            cost: Default::default(),
            price_known: true,
            duration: Duration::from_secs_f64(seconds),
            outcome: if ok {
                AttemptOutcome::Success
            } else {
                AttemptOutcome::Retried(RetryCause::Transient)
            },
            adjustments: Default::default(),
            cache_hit: false,
            saved_cost: Default::default(),
            stream_interrupted: false,
            cost_unknown: false,
            time_to_first_token: None,
        }
    }

    #[test]
    fn cache_hits_are_not_measured_and_failures_count_as_errors() {
        let p = Performance::new();
        let mut hit = record("p:m", 0.0, 10, true);
        hit.cache_hit = true;
        p.record(&hit);
        assert!(p.report().is_empty());
        p.record(&record("p:m", 1.0, 50, true));
        p.record(&record("p:m", 3.0, 0, false));
        let m = p.of("p:m");
        assert_eq!((m.samples, m.errors), (2, 1));
        assert_eq!(m.tokens_per_second, Some(50.0));
        assert_eq!(m.latency_p95, Some(Duration::from_secs(1)));
    }

    #[test]
    fn a_records_first_token_counts_when_learned_not_when_recorded_live() {
        let p = Performance::new();
        let mut streamed = record("p:m", 1.0, 10, true);
        streamed.time_to_first_token = Some(Duration::from_millis(300));
        // Live, the stream noted its first chunk itself: not counted twice.
        p.record(&streamed);
        assert_eq!(p.of("p:m").first_token_p50, None);
        p.learn(&streamed);
        let m = p.of("p:m");
        assert_eq!(m.first_token_p50, Some(Duration::from_millis(300)));
        assert_eq!(m.samples, 2);
        let mut hit = streamed.clone();
        hit.cache_hit = true;
        p.learn(&hit);
        assert_eq!(p.of("p:m").samples, 2);
    }

    #[test]
    fn the_number_of_models_is_bounded() {
        let p = Performance::new();
        for i in 0..(MAX_MODELS + 10) {
            p.record(&record(&format!("p:m{i}"), 1.0, 1, true));
        }
        let report = p.report();
        assert_eq!(report.len(), MAX_MODELS);
        // The first models measured were forgotten, the latest kept.
        assert!(!report.contains_key("p:m0"));
        assert!(report.contains_key(&format!("p:m{}", MAX_MODELS + 9)));
    }
}
