//! One model's recent measurements: a fixed window, summarized on demand.

use std::collections::VecDeque;
use std::time::Duration;

use serde::Serialize;

/// How many recent attempts (and stream openings) each model keeps.
pub const WINDOW: usize = 100;

/// One attempt as measured.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Sample {
    /// Whether the attempt was accepted.
    pub ok: bool,
    /// Seconds the attempt took (accepted attempts only).
    pub latency: Option<f64>,
    /// Output tokens per second (accepted attempts that reported output tokens).
    pub tokens_per_second: Option<f64>,
}

/// The last [`WINDOW`] samples and time-to-first-token figures of one model.
#[derive(Debug, Default)]
pub(crate) struct ModelWindow {
    samples: VecDeque<Sample>,
    first_tokens: VecDeque<f64>,
    /// When it was last updated, in the tracker's update count (the least
    /// recently updated window is dropped first).
    pub touched: u64,
}

fn push<T>(ring: &mut VecDeque<T>, value: T) {
    if ring.len() >= WINDOW {
        ring.pop_front();
    }
    ring.push_back(value);
}

/// The `q` quantile (0..=1) of `values`, nearest rank; `None` when empty.
fn quantile(values: &mut [f64], q: f64) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    values.sort_by(f64::total_cmp);
    let last = values.len() - 1;
    // Nearest rank: the smallest value with at least q of the values at or below it.
    let rank = (q * values.len() as f64).ceil() as usize;
    values.get(rank.saturating_sub(1).min(last)).copied()
}

impl ModelWindow {
    pub fn add(&mut self, sample: Sample) {
        push(&mut self.samples, sample);
    }

    pub fn add_first_token(&mut self, seconds: f64) {
        push(&mut self.first_tokens, seconds);
    }

    /// What the window holds, summarized.
    pub fn summary(&self) -> ModelPerformance {
        let mut latencies: Vec<f64> = self.samples.iter().filter_map(|s| s.latency).collect();
        let mut speeds: Vec<f64> = self
            .samples
            .iter()
            .filter_map(|s| s.tokens_per_second)
            .collect();
        let mut first: Vec<f64> = self.first_tokens.iter().copied().collect();
        let errors = self.samples.iter().filter(|s| !s.ok).count();
        let samples = self.samples.len();
        let seconds = |v: Option<f64>| v.and_then(|s| Duration::try_from_secs_f64(s).ok());
        ModelPerformance {
            samples: u32::try_from(samples).unwrap_or(u32::MAX),
            errors: u32::try_from(errors).unwrap_or(u32::MAX),
            error_rate: if samples == 0 {
                0.0
            } else {
                errors as f64 / samples as f64
            },
            latency_p50: seconds(quantile(&mut latencies, 0.5)),
            latency_p95: seconds(quantile(&mut latencies, 0.95)),
            first_token_p50: seconds(quantile(&mut first, 0.5)),
            tokens_per_second: quantile(&mut speeds, 0.5),
            speed_samples: u32::try_from(speeds.len()).unwrap_or(u32::MAX),
        }
    }
}

/// What was measured of one model over its last [`WINDOW`] attempts (cache hits
/// excluded).
///
/// ```
/// let p = elelem_core::routing::ModelPerformance::default();
/// assert_eq!(p.samples, 0);
/// assert!(p.latency_p50.is_none());
/// ```
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ModelPerformance {
    /// Attempts in the window.
    pub samples: u32,
    /// Attempts in the window that were not accepted.
    pub errors: u32,
    /// `errors / samples` (0 with no samples).
    pub error_rate: f64,
    /// Median time of an accepted attempt, from the previous attempt's end (or
    /// the call's start) to its answer: waits before a retry included, as the
    /// usage record's duration. Serialized in seconds.
    #[serde(serialize_with = "seconds")]
    pub latency_p50: Option<Duration>,
    /// 95th percentile of the same.
    #[serde(serialize_with = "seconds")]
    pub latency_p95: Option<Duration>,
    /// Median time to a stream's first chunk.
    #[serde(serialize_with = "seconds")]
    pub first_token_p50: Option<Duration>,
    /// Median output tokens per second of accepted attempts (output tokens over
    /// the attempt's duration).
    pub tokens_per_second: Option<f64>,
    /// Accepted attempts that reported output tokens (the samples behind
    /// `tokens_per_second`).
    pub speed_samples: u32,
}

fn seconds<S: serde::Serializer>(value: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
    match value {
        Some(d) => s.serialize_some(&d.as_secs_f64()),
        None => s.serialize_none(),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn ok(latency: f64, tps: f64) -> Sample {
        Sample {
            ok: true,
            latency: Some(latency),
            tokens_per_second: Some(tps),
        }
    }

    #[test]
    fn quantiles_are_nearest_rank() {
        let mut v: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(quantile(&mut v, 0.5), Some(50.0));
        assert_eq!(quantile(&mut v, 0.95), Some(95.0));
        assert_eq!(quantile(&mut [7.0], 0.95), Some(7.0));
        assert_eq!(quantile(&mut [], 0.5), None);
    }

    #[test]
    fn the_window_keeps_only_the_latest_samples() {
        let mut w = ModelWindow::default();
        for i in 0..(WINDOW + 50) {
            w.add(ok(i as f64, 10.0));
        }
        let s = w.summary();
        assert_eq!(s.samples as usize, WINDOW);
        // The oldest 50 are gone: the median is of 50..150.
        assert_eq!(s.latency_p50, Some(Duration::from_secs(99)));
    }

    #[test]
    fn errors_count_in_the_rate_but_not_in_latency() {
        let mut w = ModelWindow::default();
        w.add(ok(1.0, 100.0));
        w.add(Sample {
            ok: false,
            latency: None,
            tokens_per_second: None,
        });
        w.add_first_token(0.25);
        let s = w.summary();
        assert_eq!((s.samples, s.errors, s.error_rate), (2, 1, 0.5));
        assert_eq!(s.latency_p95, Some(Duration::from_secs(1)));
        assert_eq!(s.first_token_p50, Some(Duration::from_millis(250)));
        assert_eq!(s.tokens_per_second, Some(100.0));
        assert_eq!(s.speed_samples, 1);
    }
}
