//! Rows measured in interleaved rounds. One 3 s run cannot resolve 0.3 ms: the
//! direct call's own p50 drifts by more than that between runs on a shared
//! machine. So each (mode, rate) runs `rounds` times, direct then gateway,
//! direct then gateway, ...; each round's "added" is the gateway's percentile
//! minus the direct call's of the same round (same machine state), and the
//! row reports the median of those differences with their spread (min..max).
//! A path measured once (LiteLLM's proxy, far slower) is set against the
//! median of the direct rounds.

use std::time::Duration;

use super::{percentile, Run};

/// p50 and p99 of one run, in ms.
#[derive(Clone, Copy)]
pub(super) struct Percentiles {
    pub(super) p50: f64,
    pub(super) p99: f64,
}

impl Percentiles {
    pub(super) fn of(run: &Run) -> Percentiles {
        let ms = |d: Duration| d.as_secs_f64() * 1000.0;
        Percentiles {
            p50: ms(percentile(&run.latencies, 0.5)),
            p99: ms(percentile(&run.latencies, 0.99)),
        }
    }
}

/// One path's runs of one row.
#[derive(Default)]
pub(super) struct Rounds {
    pub(super) runs: Vec<Percentiles>,
    pub(super) errors: usize,
    pub(super) sent: usize,
    pub(super) first_error: Option<String>,
}

impl Rounds {
    pub(super) fn add(&mut self, run: Run) {
        self.runs.push(Percentiles::of(&run));
        self.errors += run.errors;
        self.sent += run.errors + run.latencies.len();
        if self.first_error.is_none() {
            self.first_error = run.first_error;
        }
    }

    /// The median of the rounds' p50 and of their p99.
    pub(super) fn median(&self) -> Percentiles {
        Percentiles {
            p50: median(self.runs.iter().map(|r| r.p50)).unwrap_or(0.0),
            p99: median(self.runs.iter().map(|r| r.p99)).unwrap_or(0.0),
        }
    }

    /// "added" over `base`, p50 and p99, as table cells: the median of the
    /// per-round differences and their spread when both ran the same rounds,
    /// else the difference from `base`'s medians.
    pub(super) fn added(&self, base: &Rounds) -> (String, String) {
        if self.runs.len() != base.runs.len() || self.runs.len() < 2 {
            let (own, base) = (self.median(), base.median());
            return (
                format!("{:.3}", own.p50 - base.p50),
                format!("{:.3}", own.p99 - base.p99),
            );
        }
        let cell = |pick: fn(&Percentiles) -> f64| {
            let diffs: Vec<f64> = self
                .runs
                .iter()
                .zip(&base.runs)
                .map(|(own, base)| pick(own) - pick(base))
                .collect();
            let (low, high) = diffs
                .iter()
                .fold((f64::MAX, f64::MIN), |(l, h), d| (l.min(*d), h.max(*d)));
            format!(
                "{:.3} ({low:.2}..{high:.2})",
                median(diffs.iter().copied()).unwrap_or(0.0)
            )
        };
        (cell(|p| p.p50), cell(|p| p.p99))
    }
}

/// The median (the mean of the middle two for an even count).
fn median(values: impl Iterator<Item = f64>) -> Option<f64> {
    let mut values: Vec<f64> = values.collect();
    values.sort_by(f64::total_cmp);
    let n = values.len();
    match n {
        0 => None,
        _ if n % 2 == 1 => Some(values[n / 2]),
        _ => Some((values[n / 2 - 1] + values[n / 2]) / 2.0),
    }
}
