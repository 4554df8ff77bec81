//! The gateway's cost, measured: the same chat call made directly with an
//! `Elelem` client and through the gateway, against the instant testkit server,
//! by an open-loop load generator at 100, 1,000 and 5,000 requests per second
//! (latency counted from each request's scheduled time, so a slow server cannot
//! hide its queue). Prints p50/p99 of both, the added latency, errors and the
//! process's resident memory. With `--python PATH`, also runs the official
//! `openai` Python SDK (plain and streaming) against the gateway.
//!
//! Run with `benches/gateway/run.sh` (which makes the Python virtual
//! environment), or `cargo bench -p elelem-cli --bench gateway [-- --secs 3]`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use elelem::{ChatRequest, Elelem, Message};
use elelem_cli::config::Config;
use elelem_cli::gateway::{self, Gateway};
use elelem_testkit::sse::ChunkStream;
use elelem_testkit::{wire, TestServer};
use serde_json::json;

const KEY: &str = "sk-bench-not-a-real-key";
const MODEL: &str = "openai:gpt-4.1-mini";

fn percentile(sorted: &[Duration], q: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    sorted[((sorted.len() - 1) as f64 * q).round() as usize]
}

fn rss_mb() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1).map(str::to_owned))
        })
        .and_then(|kb| kb.parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
}

struct Run {
    latencies: Vec<Duration>,
    errors: usize,
}

/// Sends `rate` requests per second for `secs` seconds, each at its scheduled
/// time whatever the previous ones are doing.
async fn open_loop<F, Fut>(rate: u32, secs: u64, call: F) -> Run
where
    F: Fn() -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = bool> + Send + 'static,
{
    let call = Arc::new(call);
    let total = u64::from(rate) * secs;
    let start = Instant::now();
    let mut tasks = Vec::with_capacity(total as usize);
    for i in 0..total {
        let due = start + Duration::from_secs_f64(i as f64 / f64::from(rate));
        tokio::time::sleep_until(due.into()).await;
        let call = call.clone();
        tasks.push(tokio::spawn(async move {
            let ok = call().await;
            (due.elapsed(), ok)
        }));
    }
    let mut latencies = Vec::with_capacity(tasks.len());
    let mut errors = 0;
    for task in tasks {
        match task.await {
            Ok((latency, true)) => latencies.push(latency),
            _ => errors += 1,
        }
    }
    latencies.sort();
    Run { latencies, errors }
}

fn config_text(server: &TestServer, dir: &std::path::Path) -> String {
    std::fs::write(dir.join("openai.key"), KEY).unwrap();
    format!(
        "[gateway]\nambient_keys = false\n[providers.openai]\napi_key_file = \"openai.key\"\nbase_url = \"{}\"\n",
        server.url()
    )
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
    let rates: Vec<u32> = arg("--rates")
        .map(|r| r.split(',').filter_map(|x| x.parse().ok()).collect())
        .unwrap_or_else(|| vec![100, 1_000, 5_000]);

    let server = TestServer::start().await.unwrap();
    server.set_fallback(wire::completion("gpt-4.1-mini", "instant"));
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("elelem.toml");
    std::fs::write(&path, config_text(&server, dir.path())).unwrap();
    let gateway = Gateway::new(Config::load(&path).unwrap(), Some(path)).unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let running = gateway::start(gateway, listener);
    let url = format!("{}/chat/completions", running.url());

    let direct = Elelem::builder()
        .without_env_keys()
        .api_key("openai", KEY)
        .base_url("openai", server.url())
        .build()
        .unwrap();
    let http = reqwest::Client::new();
    let body = json!({"model": MODEL, "messages": [{"role": "user", "content": "Say hi"}]});

    println!("# elelem gateway bench: {secs} s per rate, instant testkit server, plain chat");
    println!("| rate/s | direct p50 ms | direct p99 ms | gateway p50 ms | gateway p99 ms | added p50 ms | added p99 ms | errors d/g | RSS MB |");
    println!("|---|---|---|---|---|---|---|---|---|");
    for rate in rates {
        let client = direct.clone();
        let d = open_loop(rate, secs, move || {
            let client = client.clone();
            async move {
                let request = ChatRequest::new(MODEL, vec![Message::user("Say hi")]);
                client.create_chat_completion(request).await.is_ok()
            }
        })
        .await;
        let (h, u, b) = (http.clone(), url.clone(), body.clone());
        let g = open_loop(rate, secs, move || {
            let (h, u, b) = (h.clone(), u.clone(), b.clone());
            async move {
                match h.post(u).json(&b).send().await {
                    Ok(r) => r.status().is_success() && r.bytes().await.is_ok(),
                    Err(_) => false,
                }
            }
        })
        .await;
        let ms = |d: Duration| d.as_secs_f64() * 1000.0;
        let (dp50, dp99) = (
            percentile(&d.latencies, 0.5),
            percentile(&d.latencies, 0.99),
        );
        let (gp50, gp99) = (
            percentile(&g.latencies, 0.5),
            percentile(&g.latencies, 0.99),
        );
        println!(
            "| {rate} | {:.3} | {:.3} | {:.3} | {:.3} | {:.3} | {:.3} | {}/{} | {:.0} |",
            ms(dp50),
            ms(dp99),
            ms(gp50),
            ms(gp99),
            ms(gp50) - ms(dp50),
            ms(gp99) - ms(dp99),
            d.errors,
            g.errors,
            rss_mb()
        );
        server.clear_requests();
    }

    if let Some(python) = arg("--python") {
        server.push(wire::completion("gpt-4.1-mini", "Hello from the SDK"));
        server
            .push(ChunkStream::new("gpt-4.1-mini", &["Streamed ", "by ", "the SDK"]).usage(10, 3));
        let script = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../benches/gateway/openai_sdk.py"
        );
        let base = running.url();
        let output = tokio::task::spawn_blocking(move || {
            std::process::Command::new(python)
                .arg(script)
                .arg(base)
                .output()
                .unwrap()
        })
        .await
        .unwrap();
        print!("{}", String::from_utf8_lossy(&output.stdout));
        eprint!("{}", String::from_utf8_lossy(&output.stderr));
        assert!(output.status.success(), "the openai SDK check failed");
    }
    running.shutdown().await;
}
