//! The process's Prometheus recorder: installed once, rendered by `GET /metrics`.

use std::sync::OnceLock;

use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

/// Histogram buckets of latencies, in seconds (0.5 ms to 2 min).
const LATENCY_BUCKETS: &[f64] = &[
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
    60.0, 120.0,
];

static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();

/// The handle of the process's recorder, installing it on first use (one
/// recorder per process: every gateway of a process shares it).
///
/// ```
/// let handle = elelem_cli::metrics_setup::prometheus();
/// metrics::counter!("doc_example_total").increment(1);
/// assert!(handle.render().contains("doc_example_total 1"));
/// ```
pub fn prometheus() -> &'static PrometheusHandle {
    HANDLE.get_or_init(|| {
        let builder = PrometheusBuilder::new()
            .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), LATENCY_BUCKETS)
            .unwrap_or_else(|_| PrometheusBuilder::new());
        let recorder = builder.build_recorder();
        let handle = recorder.handle();
        if metrics::set_global_recorder(recorder).is_err() {
            tracing::warn!("a metrics recorder was already installed; /metrics shows only what this one records");
        }
        handle
    })
}

/// How often histogram samples are folded into their buckets when nobody
/// reads `/metrics`.
pub const UPKEEP_PERIOD: std::time::Duration = std::time::Duration::from_secs(5);

/// Folds the recorder's pending histogram samples into their buckets every
/// `period`, forever. The recorder keeps every sample (a value and an instant)
/// until upkeep runs, and without it only a read of `/metrics` would run it:
/// a gateway nobody scrapes would grow by ~24 bytes per histogram sample.
/// [`Upkeep::start`] runs this on a thread of its own instead; this task is
/// its fallback when no thread can be started.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let upkeep = tokio::spawn(elelem_cli::metrics_setup::upkeep(std::time::Duration::from_millis(10)));
/// upkeep.abort();
/// # }
/// ```
pub async fn upkeep(period: std::time::Duration) {
    let handle = prometheus();
    let mut every = tokio::time::interval(period);
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        every.tick().await;
        handle.run_upkeep();
    }
}

/// The histogram upkeep of [`upkeep`] on its own thread (`elelem-metrics`),
/// off the async runtime: folding a period's samples (5,000 at 1,000
/// requests a second) then never holds up a worker thread, and the requests
/// queued behind it. It stops when dropped.
#[derive(Debug)]
pub struct Upkeep {
    stop: Option<std::sync::mpsc::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Upkeep {
    /// Starts the thread; `Err` when the system refuses a thread.
    ///
    /// ```
    /// let upkeep = elelem_cli::metrics_setup::Upkeep::start(std::time::Duration::from_millis(5)).unwrap();
    /// upkeep.stop(); // returns once the thread has ended
    /// ```
    pub fn start(period: std::time::Duration) -> std::io::Result<Upkeep> {
        use std::sync::mpsc::{channel, RecvTimeoutError};
        let (stop, stopped) = channel::<()>();
        let handle = prometheus();
        let thread = std::thread::Builder::new()
            .name("elelem-metrics".into())
            .spawn(move || {
                while let Err(RecvTimeoutError::Timeout) = stopped.recv_timeout(period) {
                    handle.run_upkeep();
                }
            })?;
        Ok(Upkeep {
            stop: Some(stop),
            thread: Some(thread),
        })
    }

    /// Stops the thread and waits until it has ended (at most one upkeep).
    pub fn stop(mut self) {
        self.stop.take();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for Upkeep {
    /// Tells the thread to end, without waiting for it.
    fn drop(&mut self) {
        self.stop.take();
    }
}
