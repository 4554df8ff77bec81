//! The gateway in-process on 127.0.0.1:0, its provider on a testkit server,
//! called over real HTTP with reqwest.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::time::{Duration, Instant};

use common::*;
use elelem_testkit::sse::ChunkStream;
use elelem_testkit::{wire, ScriptedResponse};
use futures_util::StreamExt;
use serde_json::{json, Value};

const MINI: &str = "openai:gpt-4.1-mini";

/// The events of an SSE body.
fn events(text: &str) -> Vec<String> {
    text.split("\n\n")
        .filter_map(|e| e.strip_prefix("data: "))
        .map(str::to_owned)
        .collect()
}

#[tokio::test]
async fn a_plain_chat_answer_is_openais_shape_with_the_elelem_object() {
    let setup = Setup::new().await;
    setup
        .server
        .push(wire::completion("gpt-4.1-mini", "Hi there"));
    let running = setup.start("").await;

    let mut body = chat_body(MINI);
    body["tags"] = json!(["docs"]);
    body["seed"] = json!(7);
    let response = post(&running, "/v1/chat/completions", Some(OPEN_KEY), &body).await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "application/json");
    let length: usize = response.headers()["content-length"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    let headers = format!("{:?}", response.headers());
    let text = response.text().await.unwrap();
    assert_eq!(length, text.len());
    let answer: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(answer["object"], "chat.completion");
    assert_eq!(answer["choices"][0]["message"]["content"], "Hi there");
    assert_eq!(answer["usage"]["prompt_tokens"], 10);
    // 10 tokens in at $0.40/M and 5 out at $1.60/M.
    assert_eq!(answer["elelem"]["cost_usd"], json!(0.000012));
    assert_eq!(answer["elelem"]["attempts"], 1);
    assert_eq!(answer["elelem"]["answered_by"], MINI);

    // The provider got the provider key and the extra field, never the gateway key.
    let upstream = setup.server.last_request().unwrap();
    assert_eq!(
        upstream.header("authorization"),
        Some(format!("Bearer {PROVIDER_KEY}").as_str())
    );
    assert_eq!(upstream.json().unwrap()["seed"], 7);
    assert!(!String::from_utf8_lossy(&upstream.body).contains(OPEN_KEY));
    // ... and the provider key never reaches the client.
    assert!(!text.contains(PROVIDER_KEY) && !headers.contains(PROVIDER_KEY));

    // Stats in the Python dictionary's shape, by tag: the body's and the key's.
    for tag in ["docs", "team-open", "key:open"] {
        let stats: Value = get(&running, &format!("/v1/stats?tag={tag}"), Some(OPEN_KEY))
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(stats["total_calls"], 1, "{tag}: {stats}");
        assert_eq!(stats["total_cost_usd"], json!(0.000012));
        assert!(stats["retry_analytics"]["total_retries"].is_number());
    }
    running.shutdown().await;
}

#[tokio::test]
async fn an_upstream_elelem_object_is_replaced_by_the_gateways_own() {
    let setup = Setup::new().await;
    // The provider is itself an Elelem gateway: its answer has an `elelem` object.
    let mut upstream = wire::completion("gpt-4.1-mini", "Hi").json_body().unwrap();
    upstream["elelem"] = json!({"attempts": 9, "answered_by": "groq:upstream"});
    setup.server.push(ScriptedResponse::json(200, upstream));
    let running = setup.start("").await;
    let response = post_chat(&running, Some(OPEN_KEY), MINI).await;
    assert_eq!(response.status(), 200);
    let text = response.text().await.unwrap();
    assert_eq!(text.matches("\"elelem\"").count(), 1, "{text}");
    let answer: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(answer["elelem"]["attempts"], 1);
    assert_eq!(answer["elelem"]["answered_by"], MINI);
    running.shutdown().await;
}

#[tokio::test]
async fn a_stream_is_forwarded_chunk_by_chunk_with_usage_cost_and_done() {
    let setup = Setup::new().await;
    setup
        .server
        .push(ChunkStream::new("gpt-4.1-mini", &["Once ", "upon ", "a time."]).usage(1_000, 500));
    let running = setup.start("").await;
    let mut body = chat_body(MINI);
    body["stream"] = json!(true);
    body["tags"] = json!(["streamed"]);
    let response = post(&running, "/v1/chat/completions", Some(OPEN_KEY), &body).await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "text/event-stream");
    let events = events(&response.text().await.unwrap());
    assert_eq!(events.last().unwrap(), "[DONE]");
    let chunks: Vec<Value> = events[..events.len() - 1]
        .iter()
        .map(|e| serde_json::from_str(e).unwrap())
        .collect();
    let text: String = chunks
        .iter()
        .filter_map(|c| c["choices"][0]["delta"]["content"].as_str())
        .collect();
    assert_eq!(text, "Once upon a time.");
    assert!(chunks
        .iter()
        .all(|c| c["object"] == "chat.completion.chunk"));
    let usage = chunks.iter().find(|c| c["usage"].is_object()).unwrap();
    assert_eq!(usage["usage"]["completion_tokens"], 500);
    let last = chunks.last().unwrap();
    assert_eq!(last["choices"], json!([]));
    // 1000 in at $0.40/M + 500 out at $1.60/M.
    assert_eq!(last["elelem"]["cost_usd"], json!(0.0012));
    assert_eq!(last["elelem"]["answered_by"], MINI);

    let stats: Value = get(&running, "/v1/stats?tag=streamed", Some(OPEN_KEY))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(stats["total_output_tokens"], 500);
    running.shutdown().await;
}

#[tokio::test]
async fn chunks_reach_the_client_while_the_provider_is_still_writing() {
    let setup = Setup::new().await;
    let first = "data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"gpt-4.1-mini\",\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"Early\"},\"finish_reason\":null}]}\n\n";
    setup.server.push(ScriptedResponse::stalled_body(
        200,
        "text/event-stream",
        first,
        Duration::from_secs(30),
    ));
    let running = setup.start("").await;
    let mut body = chat_body(MINI);
    body["stream"] = json!(true);
    let started = Instant::now();
    let response = post(&running, "/v1/chat/completions", Some(OPEN_KEY), &body).await;
    let mut bytes = response.bytes_stream();
    let piece = tokio::time::timeout(Duration::from_secs(10), bytes.next())
        .await
        .expect("the first chunk arrives while the provider stalls")
        .unwrap()
        .unwrap();
    assert!(String::from_utf8_lossy(&piece).contains("Early"));
    assert!(started.elapsed() < Duration::from_secs(10));

    // The client leaves: the upstream stream is dropped and the disconnect
    // counted once.
    drop(bytes);
    let mut disconnects = 0;
    for _ in 0..100 {
        let data: Value = get(&running, "/dashboard/data", None)
            .await
            .json()
            .await
            .unwrap();
        disconnects = data["telemetry"]["disconnects"].as_u64().unwrap();
        if disconnects > 0 && data["in_flight"] == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(disconnects, 1);
    let stats: Value = get(&running, "/v1/stats", Some(OPEN_KEY))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(stats["interrupted_streams"], 1, "{stats}");
    assert_eq!(stats["total_calls"], 1, "{stats}");
    running.shutdown().await;
}

#[tokio::test]
async fn a_client_that_leaves_cancels_the_upstream_call_once() {
    let setup = Setup::new().await;
    setup
        .server
        .push(wire::completion("gpt-4.1-mini", "late").delay(Duration::from_secs(30)));
    let running = setup.start("").await;
    let client = reqwest::Client::builder()
        .timeout(Duration::from_millis(300))
        .build()
        .unwrap();
    let result = client
        .post(format!("{}/chat/completions", running.url()))
        .bearer_auth(OPEN_KEY)
        .json(&chat_body(MINI))
        .send()
        .await;
    assert!(result.is_err(), "the client gave up");
    let mut data = Value::Null;
    for _ in 0..100 {
        data = get(&running, "/dashboard/data", None)
            .await
            .json()
            .await
            .unwrap();
        if data["in_flight"] == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(data["in_flight"], 0, "the call was cancelled: {data}");
    assert_eq!(data["telemetry"]["disconnects"], 1);
    assert_eq!(setup.server.request_count(), 1, "sent once, never retried");
    running.shutdown().await;
}

#[tokio::test]
async fn keys_models_rates_and_budgets_are_enforced_in_openais_error_shape() {
    let setup = Setup::new().await;
    setup.server.set_fallback(wire::completion("gpt-4.1", "ok"));
    let running = setup.start("").await;
    let path = "/v1/chat/completions";

    assert_error(
        post(&running, path, None, &chat_body(MINI)).await,
        401,
        "invalid_api_key",
    )
    .await;
    assert_error(
        post(&running, path, Some("wrong"), &chat_body(MINI)).await,
        401,
        "invalid_api_key",
    )
    .await;
    let body = assert_error(
        post(&running, path, Some(NARROW_KEY), &chat_body(MINI)).await,
        403,
        "model_not_allowed",
    )
    .await;
    assert_eq!(body["error"]["param"], "model");
    let mut sneaky = chat_body("openai:gpt-4.1");
    sneaky["fallback_models"] = json!([MINI]);
    assert_error(
        post(&running, path, Some(NARROW_KEY), &sneaky).await,
        403,
        "model_not_allowed",
    )
    .await;

    // The narrow key has 2 requests a minute; the 403s above used them.
    let limited = post(
        &running,
        path,
        Some(NARROW_KEY),
        &chat_body("openai:gpt-4.1"),
    )
    .await;
    assert!(limited.headers().contains_key("retry-after"));
    assert_error(limited, 429, "rate_limit_exceeded").await;

    // One micro-dollar cannot cover the worst case: refused, nothing sent.
    let before = setup.server.request_count();
    let refused = post(&running, path, Some(POOR_KEY), &chat_body(MINI)).await;
    assert_eq!(refused.headers()["x-should-retry"], "false");
    assert_error(refused, 429, "budget_exceeded").await;
    assert_eq!(setup.server.request_count(), before);

    // /v1/models lists only what the key may use.
    let models: Value = get(&running, "/v1/models", Some(NARROW_KEY))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(models["object"], "list");
    let ids: Vec<&str> = models["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|m| m["id"].as_str())
        .collect();
    assert_eq!(ids, ["openai:gpt-4.1"]);
    assert_error(
        get(&running, "/v1/models", None).await,
        401,
        "invalid_api_key",
    )
    .await;
    running.shutdown().await;
}

#[tokio::test]
async fn bad_requests_and_provider_failures_map_to_openai_statuses() {
    let setup = Setup::new().await;
    let running = setup.start("").await;
    let path = "/v1/chat/completions";
    let url = format!("http://{}{path}", running.addr);
    let client = reqwest::Client::new();

    let not_json = client
        .post(&url)
        .bearer_auth(OPEN_KEY)
        .body("{nope")
        .send()
        .await
        .unwrap();
    assert_eq!(not_json.status(), 400);
    let big = client
        .post(&url)
        .bearer_auth(OPEN_KEY)
        .body(format!("{{\"pad\":\"{}\"}}", "x".repeat(30_000)))
        .send()
        .await
        .unwrap();
    assert_error(big, 413, "request_too_large").await;
    let no_messages = post(&running, path, Some(OPEN_KEY), &json!({"model": MINI})).await;
    assert_eq!(no_messages.status(), 400);
    assert_error(
        post(
            &running,
            path,
            Some(OPEN_KEY),
            &chat_body("openai:no-such-model"),
        )
        .await,
        404,
        "model_not_found",
    )
    .await;

    // The provider's own key is refused: the gateway's fault, a 502.
    setup.server.push(wire::invalid_api_key());
    assert_error(
        post(&running, path, Some(OPEN_KEY), &chat_body(MINI)).await,
        502,
        "upstream_refused",
    )
    .await;
    let unknown = get(&running, "/v2/nothing", None).await;
    assert_error(unknown, 404, "unknown_url").await;
    running.shutdown().await;
}

#[tokio::test]
async fn virtual_models_fail_over_and_legacy_completions_work() {
    let setup = Setup::new().await;
    setup.server.push(wire::invalid_api_key());
    setup
        .server
        .push(wire::completion("gpt-4.1-mini", "from mini"));
    let running = setup.start("").await;
    let answer: Value = post(
        &running,
        "/v1/chat/completions",
        Some(OPEN_KEY),
        &chat_body("virtual:cheap"),
    )
    .await
    .json()
    .await
    .unwrap();
    assert_eq!(
        answer["choices"][0]["message"]["content"], "from mini",
        "{answer}"
    );
    assert_eq!(answer["elelem"]["requested_model"], "virtual:cheap");
    assert_eq!(answer["elelem"]["answered_by"], MINI);

    setup.server.push(ScriptedResponse::json(
        200,
        json!({
            "id": "cmpl-1", "object": "text_completion", "created": 1, "model": "gpt-4.1-mini",
            "choices": [{"text": " there!", "index": 0, "logprobs": null, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 1000, "completion_tokens": 1000, "total_tokens": 2000}
        }),
    ));
    let body = json!({"model": MINI, "prompt": "Hello", "max_tokens": 5, "tags": ["legacy"]});
    let done: Value = post(&running, "/v1/completions", Some(OPEN_KEY), &body)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(done["choices"][0]["text"], " there!", "{done}");
    assert_eq!(done["elelem"]["cost_usd"], json!(0.002));
    running.shutdown().await;
}

#[tokio::test]
async fn metrics_show_requests_tokens_cost_retries_and_latency() {
    let setup = Setup::new().await;
    setup.server.push(wire::rate_limited_ms(5));
    setup.server.push(wire::completion("gpt-4.1-mini", "Hi"));
    setup
        .server
        .push(ChunkStream::new("gpt-4.1-mini", &["a", "b"]).usage(10, 2));
    let running = setup.start("").await;
    let mut body = chat_body(MINI);
    body["tags"] = json!(["metrics-test"]);
    assert_eq!(
        post(&running, "/v1/chat/completions", Some(OPEN_KEY), &body)
            .await
            .status(),
        200
    );
    body["stream"] = json!(true);
    let streamed = post(&running, "/v1/chat/completions", Some(OPEN_KEY), &body).await;
    streamed.text().await.unwrap();

    let text = get(&running, "/metrics", None).await.text().await.unwrap();
    let has = |needle: &str| {
        text.lines()
            .any(|l| l.contains(needle) && !l.starts_with('#'))
    };
    assert!(
        has("elelem_requests_total{route=\"chat\",status=\"200\"}"),
        "{text}"
    );
    assert!(has("elelem_retries_total{cause=\"rate_limit\"}"), "{text}");
    assert!(
        has("elelem_tokens_total{") && has("tag=\"metrics-test\""),
        "{text}"
    );
    assert!(has("elelem_cost_usd_total{"), "{text}");
    assert!(has("elelem_request_duration_seconds_bucket"), "{text}");
    assert!(has("elelem_ttft_seconds_bucket"), "{text}");
    assert!(has("elelem_in_flight"), "{text}");
    assert!(has("elelem_budget_remaining_usd{scope="), "{text}");
    assert!(
        has("elelem_provider_consecutive_failures{provider=\"openai\"}"),
        "{text}"
    );
    running.shutdown().await;
}

#[tokio::test]
async fn health_and_ready_then_a_graceful_shutdown_finishes_what_is_in_flight() {
    let setup = Setup::new().await;
    let ledger = setup.path("usage.db");
    setup
        .server
        .push(wire::completion("gpt-4.1-mini", "slow").delay(Duration::from_millis(700)));
    let mut running = setup
        .start(&format!(
            "[ledger]\nsqlite = {:?}\n",
            ledger.display().to_string()
        ))
        .await;
    assert_eq!(get(&running, "/health", None).await.status(), 200);
    assert_eq!(get(&running, "/ready", None).await.status(), 200);

    let url = format!("{}/chat/completions", running.url());
    let slow = tokio::spawn(async move {
        reqwest::Client::new()
            .post(url)
            .bearer_auth(OPEN_KEY)
            .json(&chat_body(MINI))
            .send()
            .await
            .unwrap()
    });
    tokio::time::sleep(Duration::from_millis(200)).await;
    let addr = running.addr;
    running.begin_shutdown();
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(running.gateway.shutting_down());
    // No new connections.
    assert!(reqwest::Client::new()
        .get(format!("http://{addr}/health"))
        .send()
        .await
        .is_err());
    let answer = slow.await.unwrap();
    assert_eq!(answer.status(), 200, "the request in flight finished");
    running.finished().await;

    // The ledger was flushed on the way out.
    let ledger = elelem_ledger_sqlite_records(&ledger);
    assert_eq!(ledger, 1);
}

fn elelem_ledger_sqlite_records(path: &std::path::Path) -> usize {
    let ledger = elelem_cli::ledger::Ledger::open(&path.display().to_string(), true).unwrap();
    let records = ledger.records(&elelem::cost::StatsQuery::All).unwrap();
    ledger.close().unwrap();
    records.len()
}

#[tokio::test]
async fn a_reload_switches_keys_without_dropping_requests_and_refuses_a_bad_file() {
    let setup = Setup::new().await;
    setup
        .server
        .push(wire::completion("gpt-4.1-mini", "during reload").delay(Duration::from_millis(500)));
    let running = setup.start("").await;
    let url = format!("{}/chat/completions", running.url());
    let slow = tokio::spawn(async move {
        reqwest::Client::new()
            .post(url)
            .bearer_auth(OPEN_KEY)
            .json(&chat_body(MINI))
            .send()
            .await
            .unwrap()
    });
    tokio::time::sleep(Duration::from_millis(150)).await;

    // A bad file: refused with its line, the old configuration stays.
    let path = setup.path("elelem.toml");
    std::fs::write(
        &path,
        "[gateway]\nlisten = \"x\"\nmax_body_bytes = \"big\"\n",
    )
    .unwrap();
    let error = running.gateway.reload().unwrap_err();
    assert!(error.contains("line 3"), "{error}");
    assert_eq!(
        get(&running, "/v1/models", Some(OPEN_KEY)).await.status(),
        200
    );

    // A good file with a new key replacing the others.
    let new_key = "gw-new-key";
    let text = setup.config_text("").replace(
        &elelem_cli::gateway::sha256_hex(OPEN_KEY),
        &elelem_cli::gateway::sha256_hex(new_key),
    );
    std::fs::write(&path, text).unwrap();
    running.gateway.reload().unwrap();
    assert_eq!(
        get(&running, "/v1/models", Some(OPEN_KEY)).await.status(),
        401
    );
    assert_eq!(
        get(&running, "/v1/models", Some(new_key)).await.status(),
        200
    );

    let answer: Value = slow.await.unwrap().json().await.unwrap();
    assert_eq!(answer["choices"][0]["message"]["content"], "during reload");
    running.shutdown().await;
}

#[tokio::test]
async fn slow_clients_are_timed_out_for_their_headers_and_their_body() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let setup = Setup::new().await;
    let running = setup.start("").await;

    // Headers that never finish: the connection is closed after the timeout.
    let mut slow = tokio::net::TcpStream::connect(running.addr).await.unwrap();
    slow.write_all(b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    let mut buffer = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(15), slow.read_to_end(&mut buffer)).await;
    assert!(
        read.is_ok(),
        "the gateway kept a client that never sent its headers"
    );

    // A body that stops half-way: 408 in OpenAI's shape.
    let mut slow = tokio::net::TcpStream::connect(running.addr).await.unwrap();
    let head = format!(
        "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {OPEN_KEY}\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{{\"model\":"
    );
    slow.write_all(head.as_bytes()).await.unwrap();
    let mut buffer = vec![0; 4096];
    let n = tokio::time::timeout(Duration::from_secs(15), slow.read(&mut buffer))
        .await
        .expect("an answer within the timeout")
        .unwrap();
    let answer = String::from_utf8_lossy(&buffer[..n]);
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("\"code\":\"request_timeout\""), "{answer}");
    assert_eq!(setup.server.request_count(), 0);
    running.shutdown().await;
}
