//! [`JsonLinesSink`]: one JSON line per usage record, written off the request path.

use std::fs::OpenOptions;
use std::io::{self, BufWriter, Write};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{channel, Receiver, Sender};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;

use super::batched::queue::QueueBound;
use super::{CostSink, UsageRecord, DEFAULT_MAX_QUEUED};

/// What went wrong with a [`JsonLinesSink`].
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum JsonLinesError {
    /// Writing (or flushing) the output failed; the records of the failed writes
    /// are lost. Reported once, by the next `flush` or `close`.
    #[error("writing usage records as JSON lines failed: {0}")]
    Write(#[source] io::Error),
    /// The sink was closed; nothing more is written.
    #[error("the JSON-lines sink is closed")]
    Closed,
    /// The writer thread could not be started or stopped unexpectedly.
    #[error("the JSON-lines writer thread is not running: {0}")]
    WriterThread(String),
}

enum Command {
    Record(Box<UsageRecord>),
    Flush(Sender<Option<io::Error>>),
    Close(Sender<Option<io::Error>>),
}

/// Writes each [`UsageRecord`] as one line of JSON (the record's `Serialize` form:
/// money as exact decimal strings such as `"total_usd": "0.000001234574000"`, and
/// the exact cost in `total_femto_usd`) to any `Write + Send`, for piping into
/// other tools.
///
/// `record` only queues the record: a writer thread serializes and writes it, and
/// flushes the output whenever the queue runs empty, so a slow disk or pipe never
/// slows a call down. The queue is bounded (by default [`DEFAULT_MAX_QUEUED`]
/// records, see [`bounded`](Self::bounded)): when the output cannot keep up,
/// further records are dropped, counted by [`dropped`](Self::dropped) and warned
/// about now and then, rather than filling the memory. [`flush`](Self::flush) waits until everything queued before
/// it is written and flushed; [`close`](Self::close) (or dropping the sink) does
/// the same and stops the thread.
///
/// ```
/// use elelem_core::cost::JsonLinesSink;
/// let sink = JsonLinesSink::new(std::io::sink()).unwrap();
/// sink.flush().unwrap();
/// sink.close().unwrap();
/// assert!(sink.flush().is_err()); // closed
/// ```
pub struct JsonLinesSink {
    commands: Sender<Command>,
    writer: Mutex<Option<JoinHandle<()>>>,
    dropped: Arc<AtomicU64>,
    queue: Arc<QueueBound>,
}

impl std::fmt::Debug for JsonLinesSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JsonLinesSink")
            .field("dropped", &self.dropped.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

impl JsonLinesSink {
    /// A sink writing to `output` from a new writer thread.
    ///
    /// ```
    /// let sink = elelem_core::cost::JsonLinesSink::new(std::io::stdout()).unwrap();
    /// # sink.close().unwrap();
    /// ```
    pub fn new<W: Write + Send + 'static>(output: W) -> Result<Self, JsonLinesError> {
        JsonLinesSink::bounded(output, DEFAULT_MAX_QUEUED)
    }

    /// A sink writing to `output` that holds at most `max_queued` records (at
    /// least 1) not yet written; more are dropped and counted.
    ///
    /// ```
    /// let sink = elelem_core::cost::JsonLinesSink::bounded(std::io::sink(), 1_000).unwrap();
    /// # sink.close().unwrap();
    /// ```
    pub fn bounded<W: Write + Send + 'static>(
        output: W,
        max_queued: usize,
    ) -> Result<Self, JsonLinesError> {
        let (commands, receiver) = channel();
        let queue = Arc::new(QueueBound::new("elelem-jsonl", max_queued.max(1)));
        let released = Arc::clone(&queue);
        let writer = std::thread::Builder::new()
            .name("elelem-jsonl".into())
            .spawn(move || write_loop(output, receiver, &released))
            .map_err(|e| JsonLinesError::WriterThread(e.to_string()))?;
        Ok(JsonLinesSink {
            commands,
            writer: Mutex::new(Some(writer)),
            dropped: Arc::new(AtomicU64::new(0)),
            queue,
        })
    }

    /// A sink appending to the file at `path` (created if missing).
    ///
    /// ```
    /// use elelem_core::cost::JsonLinesSink;
    /// let path = std::env::temp_dir().join(format!("elelem-doc-{}.jsonl", std::process::id()));
    /// let sink = JsonLinesSink::append_to(&path).unwrap();
    /// sink.close().unwrap();
    /// # std::fs::remove_file(&path).ok();
    /// ```
    pub fn append_to(path: impl AsRef<Path>) -> Result<Self, JsonLinesError> {
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .map_err(JsonLinesError::Write)?;
        JsonLinesSink::new(file)
    }

    /// Waits until every record queued before this call is written and the output
    /// flushed. Reports the first write error since the last `flush`.
    ///
    /// ```
    /// let sink = elelem_core::cost::JsonLinesSink::new(Vec::new()).unwrap();
    /// sink.flush().unwrap();
    /// ```
    pub fn flush(&self) -> Result<(), JsonLinesError> {
        let (ack, done) = channel();
        self.commands
            .send(Command::Flush(ack))
            .map_err(|_| JsonLinesError::Closed)?;
        match done.recv() {
            Ok(None) => Ok(()),
            Ok(Some(error)) => Err(JsonLinesError::Write(error)),
            Err(_) => Err(JsonLinesError::Closed),
        }
    }

    /// Writes everything queued, flushes the output and stops the writer thread.
    /// Records sent after this are dropped (and counted by
    /// [`dropped`](Self::dropped)). Closing twice reports [`JsonLinesError::Closed`].
    ///
    /// ```
    /// let sink = elelem_core::cost::JsonLinesSink::new(Vec::new()).unwrap();
    /// sink.close().unwrap();
    /// ```
    pub fn close(&self) -> Result<(), JsonLinesError> {
        let (ack, done) = channel();
        let sent = self.commands.send(Command::Close(ack)).is_ok();
        let outcome = if sent { done.recv().ok() } else { None };
        let handle = self
            .writer
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(handle) = handle {
            handle
                .join()
                .map_err(|_| JsonLinesError::WriterThread("the writer thread panicked".into()))?;
        }
        match outcome {
            Some(None) => Ok(()),
            Some(Some(error)) => Err(JsonLinesError::Write(error)),
            None => Err(JsonLinesError::Closed),
        }
    }

    /// Records not written: received after the sink was closed, or while its
    /// queue was full.
    ///
    /// ```
    /// let sink = elelem_core::cost::JsonLinesSink::new(Vec::new()).unwrap();
    /// assert_eq!(sink.dropped(), 0);
    /// ```
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed) + self.queue.dropped()
    }
}

impl CostSink for JsonLinesSink {
    fn record(&self, record: &UsageRecord) {
        if !self.queue.admit() {
            return;
        }
        if self
            .commands
            .send(Command::Record(Box::new(record.clone())))
            .is_err()
        {
            self.queue.release(1);
            self.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }
}

impl Drop for JsonLinesSink {
    fn drop(&mut self) {
        let running = self
            .writer
            .get_mut()
            .unwrap_or_else(PoisonError::into_inner)
            .is_some();
        if running {
            if let Err(error) = self.close() {
                tracing::warn!(%error, "closing the JSON-lines cost sink");
            }
        }
    }
}

/// The writer thread: writes records as they come, flushing whenever the queue
/// runs empty, until closed or every sender is gone.
fn write_loop<W: Write>(output: W, commands: Receiver<Command>, queue: &QueueBound) {
    let mut out = BufWriter::new(output);
    let mut error: Option<io::Error> = None;
    let mut dirty = false;
    loop {
        let command = match commands.try_recv() {
            Ok(command) => command,
            Err(_) => {
                // Every command below sets `dirty` again.
                if dirty {
                    if let Err(e) = out.flush() {
                        error.get_or_insert(e);
                    }
                }
                match commands.recv() {
                    Ok(command) => command,
                    Err(_) => break,
                }
            }
        };
        match command {
            Command::Record(record) => {
                dirty = true;
                let written = write_line(&mut out, &record);
                queue.release(1);
                if let Err(e) = written {
                    error.get_or_insert(e);
                }
            }
            Command::Flush(ack) => {
                dirty = false;
                if let Err(e) = out.flush() {
                    error.get_or_insert(e);
                }
                let _ = ack.send(error.take());
            }
            Command::Close(ack) => {
                if let Err(e) = out.flush() {
                    error.get_or_insert(e);
                }
                let _ = ack.send(error.take());
                return;
            }
        }
    }
    if let Err(e) = out.flush() {
        tracing::warn!(error = %e, "flushing the JSON-lines cost sink");
    }
}

fn write_line<W: Write>(out: &mut W, record: &UsageRecord) -> io::Result<()> {
    serde_json::to_writer(&mut *out, record).map_err(io::Error::from)?;
    out.write_all(b"\n")
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, SystemTime};

    use super::*;
    use crate::catalogue::CostBreakdown;
    use crate::cost::{Adjustments, AttemptOutcome, RetryCause, TokenCounts};
    use crate::money::Usd;

    /// A `Write` into a shared buffer, optionally slow or failing.
    #[derive(Clone, Default)]
    struct Shared {
        bytes: Arc<Mutex<Vec<u8>>>,
        delay: Duration,
        fail: bool,
    }

    impl Write for Shared {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            if self.fail {
                return Err(io::Error::new(io::ErrorKind::BrokenPipe, "closed pipe"));
            }
            std::thread::sleep(self.delay);
            self.bytes.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    fn record(call_id: u64) -> UsageRecord {
        UsageRecord {
            timestamp: SystemTime::UNIX_EPOCH + Duration::from_millis(1_700_000_000_123),
            call_id,
            attempt: 2,
            model: "groq:m".into(),
            provider: "groq".into(),
            tags: vec!["a".to_string(), "b".to_string()].into(),
            tokens: TokenCounts {
                input: Some(10),
                cached_input: None,
                output: Some(5),
                reasoning: Some(2),
            },
            cost: CostBreakdown {
                input: Usd::from_femtos(1_234_567),
                output: Usd::from_femtos(7),
                reasoning: Usd::from_femtos(1),
            },
            price_known: true,
            duration: Duration::from_millis(250),
            outcome: AttemptOutcome::Retried(RetryCause::JsonSchema),
            adjustments: Adjustments::default(),
            cache_hit: false,
            saved_cost: Usd::ZERO,
            stream_interrupted: false,
            cost_unknown: false,
            time_to_first_token: None,
        }
    }

    #[test]
    fn writes_one_line_per_record_in_order_with_the_exact_cost() {
        let out = Shared::default();
        let sink = JsonLinesSink::new(out.clone()).unwrap();
        for id in 0..100 {
            sink.record(&record(id));
        }
        sink.flush().unwrap();
        let text = String::from_utf8(out.bytes.lock().unwrap().clone()).unwrap();
        let lines: Vec<serde_json::Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines.len(), 100);
        for (id, line) in lines.iter().enumerate() {
            assert_eq!(line["call_id"], id as u64);
        }
        assert_eq!(lines[0]["cost"]["total_femto_usd"], 1_234_574);
        assert_eq!(lines[0]["cost"]["total_usd"], "0.000000001234574");
        assert_eq!(lines[0]["timestamp_unix_ms"], 1_700_000_000_123u64);
        assert_eq!(lines[0]["tags"], serde_json::json!(["a", "b"]));
        assert_eq!(lines[0]["outcome"]["outcome"], "retried");
        assert_eq!(lines[0]["outcome"]["cause"], "json_schema");
        sink.close().unwrap();
        assert!(matches!(sink.close(), Err(JsonLinesError::Closed)));
        sink.record(&record(1));
        assert_eq!(sink.dropped(), 1);
    }

    #[test]
    fn record_never_waits_for_a_slow_writer() {
        let out = Shared {
            delay: Duration::from_millis(20),
            ..Shared::default()
        };
        let sink = JsonLinesSink::new(out.clone()).unwrap();
        let started = std::time::Instant::now();
        for id in 0..50 {
            sink.record(&record(id));
        }
        // 50 slow writes would take at least a second; queueing takes far less.
        assert!(started.elapsed() < Duration::from_millis(500));
        drop(sink); // closes: everything is written
        let text = String::from_utf8(out.bytes.lock().unwrap().clone()).unwrap();
        assert_eq!(text.lines().count(), 50);
    }

    /// A `Write` that blocks until `open` is set.
    #[derive(Clone, Default)]
    struct Gate {
        open: Arc<(Mutex<bool>, std::sync::Condvar)>,
        lines: Arc<Mutex<Vec<u8>>>,
    }

    impl Write for Gate {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            let (open, turn) = &*self.open;
            let mut open = open.lock().unwrap();
            while !*open {
                open = turn.wait(open).unwrap();
            }
            self.lines.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            self.write(&[]).map(|_| ())
        }
    }

    #[test]
    fn a_stuck_output_drops_records_beyond_the_bound() {
        let out = Gate::default();
        let sink = JsonLinesSink::bounded(out.clone(), 3).unwrap();
        for id in 0..1_000 {
            sink.record(&record(id));
        }
        // Only the queue's 3 and the few that reached the stuck writer's 8 KiB
        // buffer before it blocked are kept.
        let dropped = sink.dropped();
        assert!(dropped >= 1_000 - 3 - 30, "{dropped}");
        let (open, turn) = &*out.open;
        *open.lock().unwrap() = true;
        turn.notify_all();
        sink.close().unwrap();
        let text = String::from_utf8(out.lines.lock().unwrap().clone()).unwrap();
        assert_eq!(text.lines().count() as u64, 1_000 - dropped);
    }

    #[test]
    fn an_attempt_of_unknown_cost_says_so_in_its_line() {
        let out = Shared::default();
        let sink = JsonLinesSink::new(out.clone()).unwrap();
        let mut unknown = record(1);
        unknown.cost_unknown = true;
        sink.record(&unknown);
        sink.record(&record(2));
        sink.close().unwrap();
        let text = String::from_utf8(out.bytes.lock().unwrap().clone()).unwrap();
        let lines: Vec<serde_json::Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines[0]["cost_unknown"], true);
        assert_eq!(lines[1]["cost_unknown"], false);
    }

    #[test]
    fn money_is_written_as_exact_decimal_strings() {
        let out = Shared::default();
        let sink = JsonLinesSink::new(out.clone()).unwrap();
        let mut hit = record(1);
        hit.cache_hit = true;
        hit.saved_cost = Usd::from_femtos(123_456_789_012_345_678);
        sink.record(&hit);
        sink.close().unwrap();
        let text = String::from_utf8(out.bytes.lock().unwrap().clone()).unwrap();
        let line: serde_json::Value = serde_json::from_str(text.trim()).unwrap();
        assert_eq!(line["cost"]["total_usd"], "0.000000001234574");
        assert_eq!(line["saved_cost_usd"], "123.456789012345678");
        assert!(!text.contains("e-"), "no float exponent: {text}");
    }

    #[test]
    fn write_errors_are_reported_by_flush_and_close() {
        let out = Shared {
            fail: true,
            ..Shared::default()
        };
        let sink = JsonLinesSink::new(out).unwrap();
        sink.record(&record(1));
        // The line is buffered until flushed, so the error comes from flush, and
        // again from every flush that still cannot write it.
        assert!(matches!(sink.flush(), Err(JsonLinesError::Write(_))));
        assert!(matches!(sink.close(), Err(JsonLinesError::Write(_))));
    }
}
