//! One benchmark client, four implementations: `raw` (reqwest + serde_json, no retry
//! logic: the practical limit), `elelem` (the full pipeline: JSON mode, schema
//! validation, stats), `async-openai` and `genai`. Every call does the same work:
//! send the request, parse the response into typed data, read the content and the
//! usage. Results are JSON lines on stdout.
//!
//! `client NAME BASE_URL SCENARIO [ARGS...]` where BASE_URL is the instant server
//! (`http://127.0.0.1:18080`) and SCENARIO is one of
//! - `overhead N`: N sequential calls after a warm-up; median and p99 per call;
//! - `throughput CONCURRENCY TOTAL`: TOTAL calls by CONCURRENCY callers;
//! - `stream N`: N sequential 2,000-chunk streams; time to first chunk, chunks/s;
//! - `inflight N DELAY_MS`: N calls in flight at once (the server holds each
//!   DELAY_MS); peak RSS;
//! - `soak N CONCURRENCY`: RSS after a 20,000-call warm-up, then after N more calls;
//! - `startup ID`: time from the launcher's spawn (`BENCH_T0_NS`) to the first
//!   request's arrival at the server, building the client (for Elelem, the whole
//!   catalogue) on the way.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use serde::{Deserialize, Serialize};
use serde_json::json;

type Error = Box<dyn std::error::Error + Send + Sync>;

const SYSTEM: &str = "You extract facts. Answer with a JSON object.";
const USER: &str = "Ada Lovelace died in 1852 at 36. Give her name and age.";
const MODEL: &str = "gpt-4.1-mini";
/// `MODEL` as Elelem names it.
const ELELEM_MODEL: &str = "openai:gpt-4.1-mini";
const KEY: &str = "sk-bench-not-a-key";

fn schema() -> serde_json::Value {
    json!({
        "type": "object",
        "properties": {"name": {"type": "string"}, "age": {"type": "integer", "minimum": 0}},
        "required": ["name", "age"]
    })
}

// ---- raw reqwest + serde_json --------------------------------------------------

#[derive(Serialize)]
struct RawMessage<'a> {
    role: &'a str,
    content: &'a str,
}

#[derive(Serialize)]
struct RawRequest<'a> {
    model: &'a str,
    messages: [RawMessage<'a>; 2],
    temperature: f32,
    response_format: serde_json::Value,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    stream: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    stream_options: Option<serde_json::Value>,
}

#[derive(Deserialize)]
#[allow(dead_code)]
struct RawCompletion {
    id: String,
    model: String,
    choices: Vec<RawChoice>,
    usage: Option<RawUsage>,
}

#[derive(Deserialize)]
#[allow(dead_code)]
struct RawChoice {
    message: RawResponseMessage,
    finish_reason: Option<String>,
}

#[derive(Deserialize)]
#[allow(dead_code)]
struct RawResponseMessage {
    role: String,
    content: Option<String>,
}

#[derive(Deserialize)]
struct RawUsage {
    prompt_tokens: u64,
    completion_tokens: u64,
    total_tokens: u64,
}

#[derive(Deserialize)]
struct RawChunk {
    choices: Vec<RawChunkChoice>,
    usage: Option<RawUsage>,
}

#[derive(Deserialize)]
struct RawChunkChoice {
    delta: RawDelta,
}

#[derive(Deserialize)]
struct RawDelta {
    content: Option<String>,
}

fn raw_request(stream: bool) -> RawRequest<'static> {
    RawRequest {
        model: MODEL,
        messages: [
            RawMessage {
                role: "system",
                content: SYSTEM,
            },
            RawMessage {
                role: "user",
                content: USER,
            },
        ],
        temperature: 0.2,
        response_format: json!({"type": "json_object"}),
        stream,
        stream_options: stream.then(|| json!({"include_usage": true})),
    }
}

// ---- the clients ------------------------------------------------------------------

enum Client {
    Raw {
        http: reqwest::Client,
        url: String,
    },
    Elelem {
        elelem: Box<elelem::Elelem>,
    },
    #[cfg(feature = "peers")]
    AsyncOpenAi {
        client: async_openai::Client<async_openai::config::OpenAIConfig>,
    },
    #[cfg(feature = "peers")]
    Genai {
        client: genai::Client,
    },
}

/// What one call read: content length and total tokens.
struct Read {
    content_len: usize,
    tokens: u64,
}

fn build(name: &str, base: &str) -> Result<Client, Error> {
    let v1 = format!("{base}/v1");
    Ok(match name {
        "raw" => Client::Raw {
            http: reqwest::Client::builder().build()?,
            url: format!("{v1}/chat/completions"),
        },
        "elelem" => Client::Elelem {
            elelem: Box::new(
                elelem::Elelem::builder()
                    .without_env_keys()
                    .api_key("openai", KEY)
                    .base_url("openai", v1)
                    .build()?,
            ),
        },
        #[cfg(feature = "peers")]
        "async-openai" => {
            let config = async_openai::config::OpenAIConfig::new()
                .with_api_key(KEY)
                .with_api_base(v1);
            Client::AsyncOpenAi {
                client: async_openai::Client::with_config(config),
            }
        }
        #[cfg(feature = "peers")]
        "genai" => {
            let endpoint = format!("{v1}/");
            let resolver = genai::resolver::ServiceTargetResolver::from_resolver_fn(
                move |target: genai::ServiceTarget| -> Result<genai::ServiceTarget, genai::resolver::Error> {
                    Ok(genai::ServiceTarget {
                        endpoint: genai::resolver::Endpoint::from_owned(endpoint.clone()),
                        auth: genai::resolver::AuthData::from_single(KEY),
                        model: genai::ModelIden::new(
                            genai::adapter::AdapterKind::OpenAI,
                            target.model.model_name,
                        ),
                    })
                },
            );
            Client::Genai {
                client: genai::Client::builder()
                    .with_service_target_resolver(resolver)
                    .build()?,
            }
        }
        other => return Err(format!("unknown client {other:?}").into()),
    })
}

/// The schema as Elelem users who call often hold it: prepared once
/// (`elelem::JsonSchema`, a reference count per call). With
/// `BENCH_SCHEMA_PER_CALL=1` every call builds it as a `json!` tree instead, as
/// the other clients do with their request bodies.
static PREPARED_SCHEMA: std::sync::LazyLock<Option<elelem::JsonSchema>> =
    std::sync::LazyLock::new(|| {
        let per_call = std::env::var("BENCH_SCHEMA_PER_CALL").is_ok_and(|v| v == "1");
        (!per_call).then(|| elelem::JsonSchema::new(schema()))
    });

fn elelem_request(json_mode: bool) -> elelem::ChatRequest {
    let request = elelem::ChatRequest::new(
        ELELEM_MODEL,
        vec![elelem::Message::system(SYSTEM), elelem::Message::user(USER)],
    )
    .temperature(0.2);
    if json_mode {
        let request = request.response_format(elelem::ResponseFormat::JsonObject);
        match &*PREPARED_SCHEMA {
            Some(prepared) => request.json_schema(prepared.clone()),
            None => request.json_schema(schema()),
        }
    } else {
        request
    }
}

#[cfg(feature = "peers")]
fn aoai_request(
    stream: bool,
) -> Result<async_openai::types::chat::CreateChatCompletionRequest, Error> {
    use async_openai::types::chat::*;
    let mut builder = CreateChatCompletionRequestArgs::default();
    builder
        .model(MODEL)
        .temperature(0.2)
        .messages([
            ChatCompletionRequestSystemMessageArgs::default()
                .content(SYSTEM)
                .build()?
                .into(),
            ChatCompletionRequestUserMessageArgs::default()
                .content(USER)
                .build()?
                .into(),
        ])
        .response_format(ResponseFormat::JsonObject);
    if stream {
        builder.stream_options(ChatCompletionStreamOptions {
            include_usage: Some(true),
            include_obfuscation: None,
        });
    }
    Ok(builder.build()?)
}

#[cfg(feature = "peers")]
fn genai_request() -> genai::chat::ChatRequest {
    genai::chat::ChatRequest::default()
        .with_system(SYSTEM)
        .append_message(genai::chat::ChatMessage::user(USER))
}

impl Client {
    async fn call(&self) -> Result<Read, Error> {
        match self {
            Client::Raw { http, url } => {
                let response = http
                    .post(url)
                    .bearer_auth(KEY)
                    .json(&raw_request(false))
                    .send()
                    .await?;
                let status = response.status();
                let bytes = response.bytes().await?;
                if !status.is_success() {
                    return Err(format!("HTTP {status}").into());
                }
                let completion: RawCompletion = serde_json::from_slice(&bytes)?;
                let content = completion
                    .choices
                    .first()
                    .and_then(|c| c.message.content.as_deref())
                    .unwrap_or_default();
                let usage = completion.usage.as_ref();
                Ok(Read {
                    content_len: content.len(),
                    tokens: usage.map_or(0, |u| {
                        u.total_tokens.max(u.prompt_tokens + u.completion_tokens)
                    }),
                })
            }
            Client::Elelem { elelem } => {
                let completion = elelem.create_chat_completion(elelem_request(true)).await?;
                let content = completion
                    .choices
                    .first()
                    .and_then(|c| c.message.content.as_deref())
                    .unwrap_or_default();
                if completion.elelem.json.is_none() {
                    return Err("no parsed JSON".into());
                }
                Ok(Read {
                    content_len: content.len(),
                    tokens: completion
                        .usage
                        .as_ref()
                        .and_then(|u| u.total_tokens)
                        .unwrap_or(0),
                })
            }
            #[cfg(feature = "peers")]
            Client::AsyncOpenAi { client } => {
                let response = client.chat().create(aoai_request(false)?).await?;
                let content = response
                    .choices
                    .first()
                    .and_then(|c| c.message.content.as_deref())
                    .unwrap_or_default();
                Ok(Read {
                    content_len: content.len(),
                    tokens: response.usage.map_or(0, |u| u64::from(u.total_tokens)),
                })
            }
            #[cfg(feature = "peers")]
            Client::Genai { client } => {
                let options = genai::chat::ChatOptions::default()
                    .with_temperature(0.2)
                    .with_response_format(genai::chat::ChatResponseFormat::JsonMode);
                let response = client
                    .exec_chat(MODEL, genai_request(), Some(&options))
                    .await?;
                let content = response.first_text().unwrap_or_default();
                Ok(Read {
                    content_len: content.len(),
                    tokens: response.usage.total_tokens.unwrap_or(0) as u64,
                })
            }
        }
    }

    /// One stream: (time to the first content chunk, content chunks, total tokens).
    async fn stream(&self) -> Result<(Duration, usize, u64), Error> {
        let start = Instant::now();
        let mut first = None;
        let mut chunks = 0usize;
        let mut tokens = 0u64;
        let mut on_content = |len: usize| {
            if len > 0 {
                chunks += 1;
                first.get_or_insert_with(|| start.elapsed());
            }
        };
        match self {
            Client::Raw { http, url } => {
                let response = http
                    .post(url)
                    .bearer_auth(KEY)
                    .json(&raw_request(true))
                    .send()
                    .await?
                    .error_for_status()?;
                let mut body = response.bytes_stream();
                let mut buffer: Vec<u8> = Vec::with_capacity(8192);
                'outer: while let Some(piece) = body.next().await {
                    buffer.extend_from_slice(&piece?);
                    let mut consumed = 0;
                    while let Some(end) = buffer[consumed..].windows(2).position(|w| w == b"\n\n") {
                        let event = &buffer[consumed..consumed + end];
                        consumed += end + 2;
                        let Some(data) = event.strip_prefix(b"data: ") else {
                            continue;
                        };
                        if data == b"[DONE]" {
                            break 'outer;
                        }
                        let chunk: RawChunk = serde_json::from_slice(data)?;
                        for choice in &chunk.choices {
                            on_content(choice.delta.content.as_deref().map_or(0, str::len));
                        }
                        if let Some(u) = chunk.usage {
                            tokens = u.total_tokens;
                        }
                    }
                    buffer.drain(..consumed);
                }
            }
            Client::Elelem { elelem } => {
                let mut stream = elelem.stream_chat_completion(elelem_request(false)).await?;
                while let Some(chunk) = stream.next().await {
                    let chunk = chunk?;
                    for choice in &chunk.choices {
                        on_content(choice.delta.content.as_deref().map_or(0, str::len));
                    }
                    if let Some(u) = chunk.usage.as_ref().and_then(|u| u.total_tokens) {
                        tokens = u;
                    }
                }
            }
            #[cfg(feature = "peers")]
            Client::AsyncOpenAi { client } => {
                let mut request = aoai_request(true)?;
                request.response_format = None;
                let mut stream = client.chat().create_stream(request).await?;
                while let Some(chunk) = stream.next().await {
                    let chunk = chunk?;
                    for choice in &chunk.choices {
                        on_content(choice.delta.content.as_deref().map_or(0, str::len));
                    }
                    if let Some(u) = chunk.usage {
                        tokens = u64::from(u.total_tokens);
                    }
                }
            }
            #[cfg(feature = "peers")]
            Client::Genai { client } => {
                let options = genai::chat::ChatOptions::default()
                    .with_temperature(0.2)
                    .with_capture_usage(true);
                let response = client
                    .exec_chat_stream(MODEL, genai_request(), Some(&options))
                    .await?;
                let mut stream = response.stream;
                while let Some(event) = stream.next().await {
                    match event? {
                        genai::chat::ChatStreamEvent::Chunk(c) => on_content(c.content.len()),
                        genai::chat::ChatStreamEvent::End(end) => {
                            if let Some(u) = end.captured_usage {
                                tokens = u.total_tokens.unwrap_or(0) as u64;
                            }
                        }
                        _ => {}
                    }
                }
            }
        }
        let first = first.ok_or("no content chunk")?;
        Ok((first, chunks, tokens))
    }
}

// ---- measurement helpers ----------------------------------------------------------

fn quantile(sorted: &[u64], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let idx = ((sorted.len() - 1) as f64 * q).round() as usize;
    sorted[idx] as f64
}

fn status_kb(field: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(field))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}

fn emit(name: &str, scenario: &str, fields: serde_json::Value) {
    let mut line = json!({"client": name, "scenario": scenario});
    if let (Some(obj), serde_json::Value::Object(extra)) = (line.as_object_mut(), fields) {
        obj.extend(extra);
    }
    println!("{line}");
}

fn check(read: &Read) -> Result<(), Error> {
    if read.content_len == 0 || read.tokens == 0 {
        return Err("the response had no content or no usage".into());
    }
    Ok(())
}

async fn many(
    client: Arc<Client>,
    concurrency: usize,
    total: usize,
    record: bool,
) -> Result<(Duration, Vec<u64>), Error> {
    let counter = Arc::new(AtomicUsize::new(0));
    let start = Instant::now();
    let mut tasks = Vec::with_capacity(concurrency);
    for _ in 0..concurrency {
        let client = client.clone();
        let counter = counter.clone();
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            while counter.fetch_add(1, Ordering::Relaxed) < total {
                let t = Instant::now();
                let read = client.call().await?;
                check(&read)?;
                if record {
                    latencies.push(t.elapsed().as_nanos() as u64);
                }
            }
            Ok::<_, Error>(latencies)
        }));
    }
    let mut all = Vec::with_capacity(if record { total } else { 0 });
    for task in tasks {
        all.extend(task.await??);
    }
    let elapsed = start.elapsed();
    all.sort_unstable();
    Ok((elapsed, all))
}

async fn run(name: &str, base: &str, scenario: &str, args: &[String]) -> Result<(), Error> {
    let arg = |i: usize, default: usize| -> usize {
        args.get(i).and_then(|a| a.parse().ok()).unwrap_or(default)
    };
    match scenario {
        "overhead" => {
            let n = arg(0, 5_000);
            let client = build(name, base)?;
            for _ in 0..n.min(1_000) {
                check(&client.call().await?)?;
            }
            let mut latencies = Vec::with_capacity(n);
            for _ in 0..n {
                let t = Instant::now();
                let read = client.call().await?;
                latencies.push(t.elapsed().as_nanos() as u64);
                check(&read)?;
            }
            latencies.sort_unstable();
            emit(
                name,
                scenario,
                json!({
                    "calls": n,
                    "median_us": quantile(&latencies, 0.5) / 1e3,
                    "p99_us": quantile(&latencies, 0.99) / 1e3,
                }),
            );
        }
        "throughput" => {
            let concurrency = arg(0, 64);
            let total = arg(1, 20_000);
            let client = Arc::new(build(name, base)?);
            many(
                client.clone(),
                concurrency,
                concurrency.max(total / 10),
                false,
            )
            .await?;
            let (elapsed, latencies) = many(client, concurrency, total, true).await?;
            emit(
                name,
                scenario,
                json!({
                    "concurrency": concurrency,
                    "calls": total,
                    "calls_per_s": total as f64 / elapsed.as_secs_f64(),
                    "p99_ms": quantile(&latencies, 0.99) / 1e6,
                }),
            );
        }
        "stream" => {
            let n = arg(0, 20);
            let client = build(name, base)?;
            client.stream().await?;
            let mut firsts = Vec::with_capacity(n);
            let mut rates = Vec::with_capacity(n);
            for _ in 0..n {
                let t = Instant::now();
                let (first, chunks, tokens) = client.stream().await?;
                let elapsed = t.elapsed();
                if chunks != 2_000 || tokens == 0 {
                    return Err(format!("stream read {chunks} chunks, {tokens} tokens").into());
                }
                firsts.push(first.as_nanos() as u64);
                rates.push((chunks as f64 / elapsed.as_secs_f64()) as u64);
            }
            firsts.sort_unstable();
            rates.sort_unstable();
            emit(
                name,
                scenario,
                json!({
                    "streams": n,
                    "first_chunk_us": quantile(&firsts, 0.5) / 1e3,
                    "chunks_per_s": quantile(&rates, 0.5),
                }),
            );
        }
        "inflight" => {
            let n = arg(0, 10_000);
            let delay = arg(1, 2_000);
            let client = Arc::new(build(name, &format!("{base}/delay/{delay}"))?);
            check(&client.call().await?)?;
            let before = status_kb("VmRSS:");
            let t = Instant::now();
            let (_, latencies) = many(client, n, n, true).await?;
            emit(
                name,
                scenario,
                json!({
                    "in_flight": n,
                    "delay_ms": delay,
                    "rss_before_kb": before,
                    "peak_rss_kb": status_kb("VmHWM:"),
                    "wall_s": t.elapsed().as_secs_f64(),
                    "max_latency_ms": latencies.last().copied().unwrap_or(0) as f64 / 1e6,
                }),
            );
        }
        "soak" => {
            let n = arg(0, 1_000_000);
            let concurrency = arg(1, 64);
            let client = Arc::new(build(name, base)?);
            many(
                client.clone(),
                concurrency,
                (n / 5).clamp(1_000, 20_000),
                false,
            )
            .await?;
            let warm = status_kb("VmRSS:");
            let t = Instant::now();
            many(client.clone(), concurrency, n, false).await?;
            let after = status_kb("VmRSS:");
            let calls_recorded = match client.as_ref() {
                Client::Elelem { elelem } => Some(elelem.get_stats().total_calls),
                _ => None,
            };
            emit(
                name,
                scenario,
                json!({
                    "calls": n,
                    "concurrency": concurrency,
                    "rss_after_warmup_kb": warm,
                    "rss_after_kb": after,
                    "growth_kb": after as i64 - warm as i64,
                    "wall_s": t.elapsed().as_secs_f64(),
                    "elelem_stats_total_calls": calls_recorded,
                }),
            );
        }
        "startup" => {
            let id = args.first().cloned().unwrap_or_else(|| "x".into());
            let client = build(name, &format!("{base}/startup/{id}"))?;
            check(&client.call().await?)?;
            let t0: u128 = std::env::var("BENCH_T0_NS")
                .ok()
                .and_then(|v| v.parse().ok())
                .ok_or("BENCH_T0_NS is not set: run through `launch`")?;
            let arrival: u128 = reqwest::get(format!("{base}/arrival/{id}"))
                .await?
                .text()
                .await?
                .trim()
                .parse()?;
            emit(
                name,
                scenario,
                json!({
                    "startup_ms": (arrival.saturating_sub(t0)) as f64 / 1e6,
                }),
            );
        }
        other => return Err(format!("unknown scenario {other:?}").into()),
    }
    Ok(())
}

fn main() -> Result<(), Error> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.len() < 3 {
        return Err("usage: client NAME BASE_URL SCENARIO [ARGS...]".into());
    }
    let threads = std::env::var("BENCH_THREADS")
        .ok()
        .and_then(|v| v.parse().ok())
        .or_else(|| std::thread::available_parallelism().ok().map(usize::from))
        .unwrap_or(1);
    // One worker (the benchmark pins each client to one core): a current-thread
    // runtime, so the I/O driver and the calls share the thread. Either way the
    // scenario runs as a task, never on the `block_on` thread.
    let runtime = if threads <= 1 {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?
    } else {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(threads)
            .enable_all()
            .build()?
    };
    let mut args = args.into_iter();
    let (name, base, scenario) = (
        args.next().unwrap_or_default(),
        args.next().unwrap_or_default(),
        args.next().unwrap_or_default(),
    );
    let rest: Vec<String> = args.collect();
    runtime.block_on(async move {
        tokio::spawn(async move { run(&name, &base, &scenario, &rest).await }).await?
    })
}
