//! The gateway's cost, measured: the same chat call made directly with an
//! `Elelem` client, through `elelem serve` (the real binary, its own process),
//! and through LiteLLM's proxy (with `--litellm BIN`), all against the instant
//! testkit server, by an open-loop load generator at 100, 1,000 and 5,000
//! requests per second (latency counted from each request's scheduled time, so
//! a slow server cannot hide its queue), plain and streaming. Reports p50/p99,
//! the latency added over the direct call, errors, and the peak resident memory
//! of the gateway's and the proxy's processes, as a Markdown table (printed, and
//! written to `--out FILE`). With `--python PATH`, also runs the official
//! `openai` Python SDK (plain and streaming) against the gateway.
//!
//! The direct call and the gateway run in `--rounds N` (default 5) interleaved
//! rounds per row, the "added" latency being the median of the per-round
//! differences with its spread (see `gateway/rounds.rs`); LiteLLM runs once.
//!
//! Run everything with `benches/gateway/run.sh` (which makes the Python virtual
//! environment and installs LiteLLM's proxy), or
//! `cargo bench -p elelem-cli --bench gateway -- --secs 3 --rates 100,1000 --rounds 5`.
//!
//! `--gateway-workers N` runs the gateway with N worker threads (`elelem serve
//! --workers N`; default: one per core), to compare 1 with 2 on a 2-core
//! machine shared with the load generator and the test server.
//!
//! `--instructions 300 [--modes stream] [--callgrind-out DIR]` counts instead
//! the instructions one request costs the gateway under callgrind (see
//! `gateway/instructions.rs`).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

#[path = "gateway/instructions.rs"]
mod instructions;
#[path = "gateway/rounds.rs"]
mod rounds;

use std::fmt::Write as _;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use elelem::{ChatRequest, Elelem, Message};
use elelem_testkit::sse::ChunkStream;
use elelem_testkit::{wire, Responder, TestServer};
use futures_util::StreamExt;
use rounds::{Percentiles, Rounds};
use serde_json::json;

const KEY: &str = "sk-bench-not-a-real-key";
const MODEL: &str = "openai:gpt-4.1-mini";
const LITELLM_MASTER_KEY: &str = "sk-bench-litellm-master-key-not-secret";
/// The messages of the SDK check's plain and streamed requests (as in
/// `benches/gateway/openai_sdk.py`): the test server answers them by these.
const SDK_PLAIN: &str = "SDK check: plain";
const SDK_STREAM: &str = "SDK check: stream";

fn percentile(sorted: &[Duration], q: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    sorted[((sorted.len() - 1) as f64 * q).round() as usize]
}

/// A process's peak resident memory (VmHWM), in MB.
fn peak_rss_mb(pid: u32) -> Option<f64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let kb = status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))?
        .split_whitespace()
        .nth(1)?
        .parse::<f64>()
        .ok()?;
    Some(kb / 1024.0)
}

/// The peak RSS of a process and its children (LiteLLM may run workers).
fn tree_rss_mb(pid: u32) -> Option<f64> {
    let own = peak_rss_mb(pid)?;
    let children = std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children"))
        .unwrap_or_default()
        .split_whitespace()
        .filter_map(|c| c.parse::<u32>().ok())
        .filter_map(tree_rss_mb)
        .sum::<f64>();
    Some(own + children)
}

struct Run {
    latencies: Vec<Duration>,
    errors: usize,
    /// What the first failed request got (status and body, or the error).
    first_error: Option<String>,
}

/// Sends `rate` requests per second for `secs` seconds, each at its scheduled
/// time whatever the previous ones are doing; a request's latency counts from
/// that time.
///
/// The schedule is kept by a thread of its own sleeping with the OS's timer
/// (within about 0.1 ms), not by tokio's timer, which rounds every deadline up
/// to its 1 ms tick: at 1,000 requests per second that added up to a whole
/// interval to each latency, as noise larger than the 0.3 ms being measured.
async fn open_loop<F, Fut>(rate: u32, secs: u64, call: F) -> Run
where
    F: Fn() -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = Result<(), String>> + Send + 'static,
{
    let call = Arc::new(call);
    let total = u64::from(rate) * secs;
    let runtime = tokio::runtime::Handle::current();
    let pacer = tokio::task::spawn_blocking(move || {
        let start = Instant::now();
        let mut tasks = Vec::with_capacity(total as usize);
        for i in 0..total {
            let due = start + Duration::from_secs_f64(i as f64 / f64::from(rate));
            let now = Instant::now();
            if due > now {
                std::thread::sleep(due - now);
            }
            let call = call.clone();
            tasks.push(runtime.spawn(async move {
                let ok = call().await;
                (due.elapsed(), ok)
            }));
        }
        tasks
    });
    let tasks = pacer.await.expect("the load generator's pacing thread");
    let mut latencies = Vec::with_capacity(tasks.len());
    let mut errors = 0;
    let mut first_error = None;
    for task in tasks {
        match task.await {
            Ok((latency, Ok(()))) => latencies.push(latency),
            Ok((_, Err(why))) => {
                errors += 1;
                first_error.get_or_insert(why);
            }
            Err(join) => {
                errors += 1;
                first_error.get_or_insert(join.to_string());
            }
        }
    }
    latencies.sort();
    Run {
        latencies,
        errors,
        first_error,
    }
}

/// A child process killed when dropped.
struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Waits until `url` answers 200, or `limit` passes.
async fn wait_up(http: &reqwest::Client, url: &str, limit: Duration, child: &mut Child) -> bool {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if let Ok(Some(_)) = child.try_wait() {
            return false;
        }
        if let Ok(r) = http.get(url).send().await {
            if r.status().is_success() {
                return true;
            }
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    false
}

/// `elelem serve` on a free port, forwarding to `server`, with `workers`
/// worker threads (`None`: its default, one per core).
async fn start_gateway(
    server: &TestServer,
    dir: &Path,
    http: &reqwest::Client,
    workers: Option<&str>,
) -> (Killed, String, u32) {
    let command = Command::new(env!("CARGO_BIN_EXE_elelem"));
    start_gateway_with(server, dir, http, command, workers, Duration::from_secs(30)).await
}

/// `elelem serve` run by `command` (the binary itself, or a wrapper such as
/// valgrind given the binary's path) on a free port, forwarding to `server`,
/// with `workers` worker threads (`--workers`), once it answers (within
/// `limit`).
async fn start_gateway_with(
    server: &TestServer,
    dir: &Path,
    http: &reqwest::Client,
    mut command: Command,
    workers: Option<&str>,
    limit: Duration,
) -> (Killed, String, u32) {
    std::fs::write(dir.join("openai.key"), KEY).unwrap();
    let config = dir.join("elelem.toml");
    std::fs::write(
        &config,
        format!(
            "[gateway]\nambient_keys = false\n[providers.openai]\napi_key_file = \"openai.key\"\nbase_url = \"{}\"\n",
            server.url()
        ),
    )
    .unwrap();
    let addr = format!("127.0.0.1:{}", free_port());
    if command.get_program() != env!("CARGO_BIN_EXE_elelem") {
        command.arg(env!("CARGO_BIN_EXE_elelem"));
    }
    command.args(["serve", "--config"]).arg(&config);
    if let Some(workers) = workers {
        command.args(["--workers", workers]);
    }
    let mut child = command
        .args(["--listen", &addr])
        .env("ELELEM_LOG", "error")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let up = wait_up(http, &format!("http://{addr}/health"), limit, &mut child).await;
    assert!(up, "elelem serve did not start");
    let pid = child.id();
    (Killed(child), format!("http://{addr}/v1"), pid)
}

/// LiteLLM's proxy on a free port, forwarding to `server` as an
/// OpenAI-compatible endpoint; `Err` says why it could not be had.
async fn startlitellm_proxy(
    bin: &str,
    server: &TestServer,
    dir: &Path,
    http: &reqwest::Client,
) -> Result<(Killed, String, u32), String> {
    let config = dir.join("litellm.yaml");
    std::fs::write(
        &config,
        format!(
            "model_list:\n  - model_name: {MODEL}\n    litellm_params:\n      model: openai/gpt-4.1-mini\n      api_base: {}\n      api_key: {KEY}\nlitellm_settings:\n  telemetry: false\ngeneral_settings:\n  master_key: {LITELLM_MASTER_KEY}\n",
            server.url()
        ),
    )
    .unwrap();
    let port = free_port();
    let log = dir.join("litellm.log");
    let mut child = Command::new(bin)
        .arg("--config")
        .arg(&config)
        .args(["--host", "127.0.0.1", "--port", &port.to_string()])
        // Offline: the model price map bundled with the package, no telemetry.
        .env("LITELLM_LOCAL_MODEL_COST_MAP", "True")
        .env("LITELLM_TELEMETRY", "False")
        .env("LITELLM_LOG", "ERROR")
        .stdout(std::fs::File::create(&log).map_err(|e| e.to_string())?)
        .stderr(std::fs::File::create(dir.join("litellm.err")).map_err(|e| e.to_string())?)
        .spawn()
        .map_err(|e| format!("cannot run {bin}: {e}"))?;
    let up = wait_up(
        http,
        &format!("http://127.0.0.1:{port}/health/liveliness"),
        Duration::from_secs(300),
        &mut child,
    )
    .await;
    if !up {
        let err = std::fs::read_to_string(dir.join("litellm.err")).unwrap_or_default();
        let tail: Vec<&str> = err.lines().rev().take(5).collect();
        let _ = child.kill();
        return Err(format!(
            "LiteLLM's proxy did not start within 300 s: {}",
            tail.into_iter().rev().collect::<Vec<_>>().join(" / ")
        ));
    }
    let pid = child.id();
    Ok((Killed(child), format!("http://127.0.0.1:{port}/v1"), pid))
}

/// One way of making the call.
enum Target {
    Direct(Elelem),
    Http {
        name: &'static str,
        url: String,
        auth: Option<&'static str>,
        pid: u32,
    },
}

impl Target {
    fn name(&self) -> &'static str {
        match self {
            Target::Direct(_) => "direct",
            Target::Http { name, .. } => name,
        }
    }

    async fn run(&self, http: &reqwest::Client, stream: bool, rate: u32, secs: u64) -> Run {
        match self {
            Target::Direct(client) => {
                let client = client.clone();
                open_loop(rate, secs, move || {
                    let client = client.clone();
                    async move {
                        let request = ChatRequest::new(MODEL, vec![Message::user("Say hi")]);
                        let done = if stream {
                            match client.stream_chat_completion(request).await {
                                Ok(s) => s.collect_completion().await.map(drop),
                                Err(e) => Err(e),
                            }
                        } else {
                            client.create_chat_completion(request).await.map(drop)
                        };
                        done.map_err(|e| e.to_string())
                    }
                })
                .await
            }
            Target::Http { url, auth, .. } => {
                let url = format!("{url}/chat/completions");
                let body = json!({
                    "model": MODEL,
                    "messages": [{"role": "user", "content": "Say hi"}],
                    "stream": stream,
                });
                let (http, auth) = (http.clone(), *auth);
                open_loop(rate, secs, move || {
                    let mut request = http.post(url.clone()).json(&body);
                    if let Some(key) = auth {
                        request = request.bearer_auth(key);
                    }
                    async move {
                        let response = request.send().await.map_err(|e| format!("{e:?}"))?;
                        let status = response.status();
                        if !status.is_success() {
                            let text = response.text().await.unwrap_or_default();
                            return Err(format!("{status}: {}", clip(&text)));
                        }
                        let mut body = response.bytes_stream();
                        let mut tail = Vec::new();
                        while let Some(chunk) = body.next().await {
                            let chunk = chunk.map_err(|e| format!("reading the body: {e:?}"))?;
                            tail = chunk.to_vec();
                        }
                        // A stream is whole only with its last event.
                        let tail = String::from_utf8_lossy(&tail);
                        if stream && !tail.contains("[DONE]") {
                            return Err(format!(
                                "the stream ended without [DONE]: ...{}",
                                clip(&tail)
                            ));
                        }
                        Ok(())
                    }
                })
                .await
            }
        }
    }

    fn rss(&self) -> String {
        match self {
            Target::Direct(_) => "(bench process)".into(),
            Target::Http { pid, .. } => {
                tree_rss_mb(*pid).map_or_else(|| "?".into(), |mb| format!("{mb:.0}"))
            }
        }
    }
}

/// Waits until `target` answers one call within a second (its backlog from
/// earlier rows drained), for at most 3 minutes; says how long it took when
/// that was more than a second, or that it never drained.
async fn drain(target: &Target, http: &reqwest::Client, stream: bool) -> Option<String> {
    const LIMIT: Duration = Duration::from_secs(180);
    let started = Instant::now();
    while started.elapsed() < LIMIT {
        let probe = target.run(http, stream, 1, 1).await;
        if probe
            .latencies
            .first()
            .is_some_and(|l| *l < Duration::from_secs(1))
        {
            let waited = started.elapsed();
            return (waited > Duration::from_secs(1)).then(|| {
                format!(
                    "waited {:.0} s for the earlier rows' backlog to drain",
                    waited.as_secs_f64()
                )
            });
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    Some("still busy with the earlier rows after 180 s; measured anyway".into())
}

/// At most 300 characters of `text`, on one line.
fn clip(text: &str) -> String {
    text.chars()
        .take(300)
        .map(|c| if c == '\n' { ' ' } else { c })
        .collect()
}

/// What the testkit server answers every call with: a plain completion or a
/// stream.
fn set_answer(server: &TestServer, stream: bool) {
    if stream {
        server.set_fallback(
            ChunkStream::new("gpt-4.1-mini", &["Once ", "upon ", "a time."]).usage(10, 5),
        );
    } else {
        server.set_fallback(wire::completion("gpt-4.1-mini", "instant"));
    }
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let arg = |name: &str| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1).cloned())
    };
    let secs: u64 = arg("--secs").and_then(|s| s.parse().ok()).unwrap_or(3);
    let rounds: usize = arg("--rounds")
        .and_then(|s| s.parse().ok())
        .unwrap_or(5)
        .max(1);
    let rates: Vec<u32> = arg("--rates")
        .map(|r| r.split(',').filter_map(|x| x.parse().ok()).collect())
        .unwrap_or_else(|| vec![100, 1_000, 5_000]);
    let modes: Vec<bool> = match arg("--modes").as_deref() {
        Some("plain") => vec![false],
        Some("stream") => vec![true],
        _ => vec![false, true],
    };
    // The gateway's worker threads (`elelem serve --workers N`); its default
    // (one per core) when not given.
    let workers = arg("--gateway-workers");

    let server = TestServer::start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap();
    if let Some(count) = arg("--instructions") {
        // Instructions per request under callgrind instead of latencies.
        let count: u32 = count
            .parse()
            .expect("--instructions N: the number of requests counted");
        let keep = arg("--callgrind-out");
        for &stream in &modes {
            instructions::per_request(
                &server,
                dir.path(),
                &http,
                stream,
                count,
                workers.as_deref(),
                keep.as_deref(),
            )
            .await;
        }
        return;
    }
    let (_gateway, gateway_url, gateway_pid) =
        start_gateway(&server, dir.path(), &http, workers.as_deref()).await;
    let direct = Elelem::builder()
        .without_env_keys()
        .api_key("openai", KEY)
        .base_url("openai", server.url())
        .build()
        .unwrap();
    let mut targets = vec![
        Target::Direct(direct),
        Target::Http {
            name: "elelem serve",
            url: gateway_url.clone(),
            auth: None,
            pid: gateway_pid,
        },
    ];
    let mut notes = Vec::new();
    let mut litellm_proxy = None;
    match arg("--litellm") {
        Some(bin) => match startlitellm_proxy(&bin, &server, dir.path(), &http).await {
            Ok((child, url, pid)) => {
                litellm_proxy = Some(child);
                targets.push(Target::Http {
                    name: "LiteLLM proxy",
                    url,
                    auth: Some(LITELLM_MASTER_KEY),
                    pid,
                });
            }
            Err(why) => notes.push(format!("LiteLLM not measured: {why}")),
        },
        None => notes.push("LiteLLM not measured: no --litellm BIN given".into()),
    }

    let mut table = String::new();
    let threads = workers.as_deref().map_or_else(
        || "one per core".to_owned(),
        |n| format!("{n} (--gateway-workers)"),
    );
    let _ = writeln!(
        table,
        "# Gateway bench: open loop, instant testkit server; direct and elelem serve in {rounds} interleaved rounds of {secs} s per row (p50/p99: median of the rounds; added: median of the per-round differences, spread min..max), other paths one round; elelem serve's worker threads: {threads}\n"
    );
    let _ = writeln!(table, "| mode | rate/s | path | p50 ms | p99 ms | added p50 ms | added p99 ms | errors | peak RSS MB |");
    let _ = writeln!(table, "|---|---|---|---|---|---|---|---|---|");
    print!("{table}");
    // Warm-up, not counted: first connections, the tokenizer, LiteLLM's imports.
    for &stream in &modes {
        set_answer(&server, stream);
        for target in &targets {
            let warm = target.run(&http, stream, 5, 1).await;
            if warm.errors > 0 {
                eprintln!(
                    "warm-up: {} of 5 calls to {} failed",
                    warm.errors,
                    target.name()
                );
            }
        }
    }
    for &stream in &modes {
        set_answer(&server, stream);
        let mode = if stream { "stream" } else { "plain" };
        for &rate in &rates {
            // Direct and the gateway alternate, round after round; the
            // others (LiteLLM) run once, after them, so their backlog cannot
            // load the machine during the rounds.
            let order = (0..rounds)
                .flat_map(|_| 0..targets.len().min(2))
                .chain(2..targets.len());
            let mut measured: Vec<Rounds> = targets.iter().map(|_| Rounds::default()).collect();
            for i in order {
                let target = &targets[i];
                // A run starts only once the earlier runs' backlog is gone (a
                // saturated proxy may work for minutes on requests its clients
                // gave up on, failing every request of the next rows).
                if let Some(note) = drain(target, &http, stream).await {
                    notes.push(format!("{mode} {rate}/s {}: {note}", target.name()));
                }
                measured[i].add(target.run(&http, stream, rate, secs).await);
                server.clear_requests();
            }
            for (i, (target, rows)) in targets.iter().zip(&measured).enumerate() {
                let (added50, added99) = if i == 0 {
                    ("-".to_owned(), "-".to_owned())
                } else {
                    rows.added(&measured[0])
                };
                let Percentiles { p50, p99 } = rows.median();
                let line = format!(
                    "| {mode} | {rate} | {} | {p50:.3} | {p99:.3} | {added50} | {added99} | {}/{} | {} |\n",
                    target.name(),
                    rows.errors,
                    rows.sent,
                    target.rss()
                );
                print!("{line}");
                table.push_str(&line);
                if let Some(why) = &rows.first_error {
                    notes.push(format!(
                        "{mode} {rate}/s {}: first error: {why}",
                        target.name()
                    ));
                }
            }
        }
    }
    for note in &notes {
        let line = format!("\n{note}\n");
        print!("{line}");
        table.push_str(&line);
    }

    if let Some(python) = arg("--python") {
        // LiteLLM may still be retrying requests its clients gave up on: stop
        // it, and answer the SDK's requests by their content, so no late
        // request can take the SDK's scripted answers.
        drop(litellm_proxy.take());
        server.set_responder(Some(Responder::new(|request| {
            let body = String::from_utf8_lossy(&request.body);
            if body.contains(SDK_PLAIN) {
                Some(wire::completion("gpt-4.1-mini", "Hello from the SDK"))
            } else if body.contains(SDK_STREAM) {
                Some(
                    ChunkStream::new("gpt-4.1-mini", &["Streamed ", "by ", "the SDK"])
                        .usage(10, 3)
                        .into(),
                )
            } else {
                None
            }
        })));
        let script = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../benches/gateway/openai_sdk.py"
        );
        let base = gateway_url.clone();
        let output = tokio::task::spawn_blocking(move || {
            Command::new(python).arg(script).arg(base).output().unwrap()
        })
        .await
        .unwrap();
        let said = String::from_utf8_lossy(&output.stdout).into_owned();
        print!("{said}");
        eprint!("{}", String::from_utf8_lossy(&output.stderr));
        let _ = write!(table, "\n{said}");
        assert!(output.status.success(), "the openai SDK check failed");
    }
    if let Some(out) = arg("--out") {
        std::fs::write(&out, &table).unwrap();
        println!("\nwritten to {out}");
    }
}
