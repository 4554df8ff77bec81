//! `elelem batch requests.jsonl --out answers.jsonl --concurrency N [--budget USD]
//! [--resume]`: one OpenAI body per line (plus `tags` / `json_schema`, and an
//! optional `custom_id` echoed back); each answer is written as soon as it
//! finishes, `{"line": N, "custom_id"?, "response": {...}}` or
//! `{"line": N, "custom_id"?, "error": {...}}`. `--resume` skips the lines
//! already answered in the output. Ctrl-C stops cleanly, keeping what is
//! written.

use std::collections::BTreeSet;
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;

use elelem::{Elelem, ElelemError, Usd};
use futures_util::StreamExt;
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::{json, Map, Value};

use super::dollars;
use crate::gateway::ApiError;
use crate::openai_body;

/// What `elelem batch` was asked.
#[derive(Debug, Clone)]
pub struct BatchArgs {
    /// The requests, one JSON body per line.
    pub input: PathBuf,
    /// Where the answers go.
    pub out: PathBuf,
    /// Requests in flight at once.
    pub concurrency: usize,
    /// Skip the lines already answered in `out`.
    pub resume: bool,
}

/// How a batch ended.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BatchReport {
    /// Lines answered in this run.
    pub answered: u64,
    /// Lines that failed in this run.
    pub failed: u64,
    /// Lines skipped because `out` already had their answer.
    pub skipped: u64,
    /// Lines not started (budget reached or interrupted).
    pub not_started: u64,
    /// Spend of this run.
    pub spent: Usd,
    /// Whether Ctrl-C stopped it.
    pub interrupted: bool,
    /// Whether a budget stopped it.
    pub budget_reached: bool,
}

struct Job {
    line: u64,
    custom_id: Option<Value>,
    body: Result<Value, String>,
}

/// Runs the batch until done or `stop` resolves (Ctrl-C).
pub async fn run(
    elelem: &Elelem,
    args: &BatchArgs,
    stop: impl std::future::Future<Output = ()>,
) -> Result<BatchReport, String> {
    let done = if args.resume {
        answered_lines(&args.out)?
    } else {
        BTreeSet::new()
    };
    let jobs = read_jobs(&args.input)?;
    let mut report = BatchReport::default();
    let pending: Vec<Job> = jobs
        .into_iter()
        .filter(|job| {
            let skip = done.contains(&job.line);
            report.skipped += u64::from(skip);
            !skip
        })
        .collect();
    let mut out = OpenOptions::new()
        .create(true)
        .append(args.resume)
        .write(true)
        .truncate(!args.resume)
        .open(&args.out)
        .map_err(|e| {
            format!(
                "cannot write {}: {e}; check the --out path",
                args.out.display()
            )
        })?;
    if args.resume && !ends_with_newline(&args.out) {
        // A line cut by a crash: start the next one on its own line.
        let _ = writeln!(out);
    }

    let bar = ProgressBar::new(pending.len() as u64);
    bar.set_style(
        ProgressStyle::with_template(
            "{bar:30} {pos}/{len} done  {msg}  elapsed {elapsed}  ETA {eta}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    bar.set_message("0 failed, spent $0.00");

    let total = pending.len() as u64;
    let budget_hit = std::sync::atomic::AtomicBool::new(false);
    let budget_hit = &budget_hit;
    let calls = futures_util::stream::iter(pending)
        .map(|job| async move {
            if budget_hit.load(std::sync::atomic::Ordering::SeqCst) {
                return None;
            }
            let outcome = answer(elelem, &job).await;
            if matches!(&outcome, Err(Failure::Budget(_))) {
                budget_hit.store(true, std::sync::atomic::Ordering::SeqCst);
            }
            Some((job, outcome))
        })
        .buffer_unordered(args.concurrency.max(1));
    let mut calls = std::pin::pin!(calls);
    let mut stop = std::pin::pin!(stop);
    loop {
        let next = tokio::select! {
            next = calls.next() => next,
            () = &mut stop => {
                report.interrupted = true;
                break;
            }
        };
        let Some(finished) = next else { break };
        let Some((job, outcome)) = finished else {
            continue;
        };
        let mut line = Map::new();
        line.insert("line".into(), json!(job.line));
        if let Some(id) = job.custom_id {
            line.insert("custom_id".into(), id);
        }
        match outcome {
            Ok((response, cost)) => {
                report.answered += 1;
                report.spent = report.spent.saturating_add(cost);
                line.insert("response".into(), response);
            }
            Err(Failure::Budget(error)) => {
                report.budget_reached = true;
                // Not written: a later `--resume` with more budget answers it.
                let _ = error;
                continue;
            }
            Err(Failure::Other(error)) => {
                report.failed += 1;
                line.insert("error".into(), error);
            }
        }
        let text = Value::Object(line).to_string();
        writeln!(out, "{text}")
            .and_then(|()| out.flush())
            .map_err(|e| format!("cannot write {}: {e}", args.out.display()))?;
        bar.inc(1);
        bar.set_message(format!(
            "{} failed, spent {}",
            report.failed,
            dollars(report.spent)
        ));
    }
    bar.finish_and_clear();
    let _ = out.sync_all();
    report.not_started = total - report.answered - report.failed;
    Ok(report)
}

enum Failure {
    Budget(Value),
    Other(Value),
}

async fn answer(elelem: &Elelem, job: &Job) -> Result<(Value, Usd), Failure> {
    let body = job
        .body
        .clone()
        .map_err(|e| Failure::Other(ApiError::invalid("", e).body()["error"].clone()))?;
    let chat =
        openai_body::chat(elelem, body).map_err(|e| Failure::Other(e.body()["error"].clone()))?;
    if chat.stream {
        return Err(Failure::Other(
            ApiError::invalid(
                "stream",
                "batch requests cannot stream; remove \"stream\": true",
            )
            .body()["error"]
                .clone(),
        ));
    }
    match elelem.create_chat_completion(chat.request).await {
        Ok(completion) => {
            let mut value = serde_json::to_value(&completion).unwrap_or(Value::Null);
            if let Value::Object(map) = &mut value {
                map.insert(
                    "elelem".into(),
                    crate::gateway::meta_json(&completion.elelem),
                );
            }
            Ok((value, completion.elelem.cost))
        }
        Err(error @ ElelemError::BudgetExceeded(_)) => Err(Failure::Budget(
            ApiError::from_elelem(&error).body()["error"].clone(),
        )),
        Err(error) => Err(Failure::Other(
            ApiError::from_elelem(&error).body()["error"].clone(),
        )),
    }
}

/// The requests of the input file, numbered by line (1-based; blank lines
/// skipped).
fn read_jobs(path: &PathBuf) -> Result<Vec<Job>, String> {
    let file = File::open(path).map_err(|e| {
        format!(
            "cannot read {}: {e}; give a JSON-lines file of requests",
            path.display()
        )
    })?;
    let mut jobs = Vec::new();
    for (index, line) in BufReader::new(file).lines().enumerate() {
        let line = line.map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        if line.trim().is_empty() {
            continue;
        }
        let number = index as u64 + 1;
        let (custom_id, body) = match serde_json::from_str::<Value>(&line) {
            Ok(Value::Object(mut map)) => (map.remove("custom_id"), Ok(Value::Object(map))),
            Ok(_) => (None, Err(format!("line {number} is not a JSON object"))),
            Err(e) => (None, Err(format!("line {number} is not JSON: {e}"))),
        };
        jobs.push(Job {
            line: number,
            custom_id,
            body,
        });
    }
    Ok(jobs)
}

/// The lines an output file already answered (a cut last line is ignored).
fn answered_lines(path: &PathBuf) -> Result<BTreeSet<u64>, String> {
    let file = match File::open(path) {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(BTreeSet::new()),
        Err(e) => return Err(format!("cannot read {} to resume: {e}", path.display())),
    };
    Ok(BufReader::new(file)
        .lines()
        .map_while(Result::ok)
        .filter_map(|l| serde_json::from_str::<Value>(&l).ok())
        .filter(|v| v.get("response").is_some())
        .filter_map(|v| v.get("line").and_then(Value::as_u64))
        .collect())
}

/// Whether a file is empty or ends with a newline.
fn ends_with_newline(path: &PathBuf) -> bool {
    match std::fs::read(path) {
        Ok(bytes) => !matches!(bytes.last(), Some(b) if *b != b'\n'),
        Err(_) => true,
    }
}
