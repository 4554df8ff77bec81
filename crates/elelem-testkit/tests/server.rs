//! The server over real HTTP: routing, script queue, recording, faults, concurrency.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use elelem_testkit::{wire, ScriptedResponse, TestServer};
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn chat_url(server: &TestServer) -> String {
    format!("{}/chat/completions", server.url())
}

#[allow(clippy::unwrap_used)] // test helper
async fn post(client: &reqwest::Client, url: &str, body: Value) -> (u16, Value) {
    let response = client.post(url).json(&body).send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap())
}

#[allow(clippy::unwrap_used)] // test helper
fn content(body: &Value) -> &str {
    body["choices"][0]["message"]["content"].as_str().unwrap()
}

#[tokio::test]
async fn answers_in_queue_order_then_fallback() {
    let server = TestServer::start().await.unwrap();
    let client = reqwest::Client::new();
    let url = chat_url(&server);
    server.push(wire::completion("m", "one"));
    server.push_many([wire::completion("m", "two"), wire::completion("m", "three")]);
    assert_eq!(server.pending(), 3);

    for expected in ["one", "two", "three"] {
        let (status, body) = post(&client, &url, json!({})).await;
        assert_eq!(status, 200);
        assert_eq!(content(&body), expected);
    }
    assert_eq!(server.pending(), 0);

    // Default fallback: a 500 saying the script is exhausted, as often as asked.
    for _ in 0..2 {
        let (status, body) = post(&client, &url, json!({})).await;
        assert_eq!(status, 500);
        let message = body["error"]["message"].as_str().unwrap();
        assert!(
            message.contains("testkit: no scripted response left"),
            "{message}"
        );
    }

    server.set_fallback(wire::completion("m", "fallback"));
    for _ in 0..2 {
        let (status, body) = post(&client, &url, json!({})).await;
        assert_eq!(status, 200);
        assert_eq!(content(&body), "fallback");
    }
    // A pushed answer takes precedence over the fallback again.
    server.push(wire::completion("m", "scripted"));
    assert_eq!(content(&post(&client, &url, json!({})).await.1), "scripted");
    assert_eq!(content(&post(&client, &url, json!({})).await.1), "fallback");
    assert_eq!(server.request_count(), 9);
}

#[tokio::test]
async fn records_method_path_headers_and_body() {
    let server = TestServer::start().await.unwrap();
    server.push(wire::completion("m", "ok"));
    let request_body =
        json!({"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]});
    let response = reqwest::Client::new()
        .post(format!("{}/chat/completions?api-version=1", server.url()))
        .bearer_auth("sk-test-not-a-real-key")
        .header("X-Custom-Header", "Value 1")
        .json(&request_body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);

    let requests = server.requests();
    assert_eq!(requests.len(), 1);
    let seen = &requests[0];
    assert_eq!(seen.method, "POST");
    assert_eq!(seen.path, "/v1/chat/completions");
    assert_eq!(
        seen.headers["authorization"],
        "Bearer sk-test-not-a-real-key"
    );
    assert_eq!(seen.headers["x-custom-header"], "Value 1");
    assert_eq!(seen.header("Content-Type"), Some("application/json"));
    assert!(seen.headers.keys().all(|k| k == &k.to_ascii_lowercase()));
    assert_eq!(seen.json(), Some(request_body.clone()));
    assert_eq!(seen.body, serde_json::to_vec(&request_body).unwrap());
    assert_eq!(server.last_request().as_ref(), Some(seen));

    // Every path is recorded, including unknown ones.
    let _ = reqwest::get(format!("{}/nothing-here", server.root_url()))
        .await
        .unwrap();
    assert_eq!(server.request_count(), 2);
    let last = server.last_request().unwrap();
    assert_eq!(
        (last.method.as_str(), last.path.as_str()),
        ("GET", "/nothing-here")
    );
    assert_eq!(last.json(), None);

    server.clear_requests();
    assert_eq!(server.request_count(), 0);
    assert!(server.requests().is_empty());
}

#[tokio::test]
async fn routes_any_prefix_legacy_completions_models_and_404() {
    let server = TestServer::start().await.unwrap();
    let client = reqwest::Client::new();
    server.set_fallback(wire::completion("m", "routed"));

    for path in [
        "/v1/openai/chat/completions",
        "/chat/completions",
        "/v1/completions",
        "/api/v1/chat/completions/",
    ] {
        let url = format!("{}{path}", server.root_url());
        let (status, body) = post(&client, &url, json!({})).await;
        assert_eq!((status, content(&body)), (200, "routed"), "{path}");
    }

    server.set_models(vec!["gpt-4o-mini", "gpt-4o"]);
    for prefix in ["/v1", "/v1/openai"] {
        let response = client
            .get(format!("{}{prefix}/models", server.root_url()))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        let body: Value = response.json().await.unwrap();
        assert_eq!(
            body,
            json!({"object": "list", "data": [
                {"id": "gpt-4o-mini", "object": "model", "created": 0, "owned_by": "testkit"},
                {"id": "gpt-4o", "object": "model", "created": 0, "owned_by": "testkit"}
            ]})
        );
    }

    for (method, path) in [
        ("POST", "/v1/audio/speech"),
        ("GET", "/v1/chat/completions"),
        ("POST", "/v1/models"),
    ] {
        let url = format!("{}{path}", server.root_url());
        let request = match method {
            "GET" => client.get(url),
            _ => client.post(url).body("{}"),
        };
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), 404, "{method} {path}");
        assert_eq!(response.headers()["content-type"], "application/json");
        let body: Value = response.json().await.unwrap();
        assert_eq!(
            body,
            json!({"error": {
                "message": format!("Invalid URL ({method} {path})"),
                "type": "invalid_request_error",
                "param": null,
                "code": null
            }})
        );
    }
    // The 404s consumed nothing: only the four completions used the script.
    assert_eq!(server.request_count(), 4 + 2 + 3);
}

#[tokio::test]
async fn scripted_status_headers_and_raw_body_reach_the_client() {
    let server = TestServer::start().await.unwrap();
    server.push(
        ScriptedResponse::raw(503, "text/plain; charset=utf-8", "overloaded")
            .header("x-request-id", "req_123")
            .header("Retry-After", "7"),
    );
    server.push(ScriptedResponse::json(1000, json!({})));
    server.push(ScriptedResponse::json(200, json!({})).header("bad header", "x"));
    let client = reqwest::Client::new();

    let response = client
        .post(chat_url(&server))
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 503);
    assert_eq!(
        response.headers()["content-type"],
        "text/plain; charset=utf-8"
    );
    assert_eq!(response.headers()["x-request-id"], "req_123");
    assert_eq!(response.headers()["retry-after"], "7");
    assert_eq!(response.headers()["content-length"], "10");
    assert_eq!(response.text().await.unwrap(), "overloaded");

    // Invalid scripts are reported as a 500 explaining the problem.
    for needle in ["not a valid HTTP status", "not a valid header name"] {
        let (status, body) = post(&client, &chat_url(&server), json!({})).await;
        assert_eq!(status, 500);
        let message = body["error"]["message"].as_str().unwrap();
        assert!(
            message.contains("invalid scripted response") && message.contains(needle),
            "{message}"
        );
    }
}

#[tokio::test]
async fn delay_postpones_the_answer() {
    let server = TestServer::start().await.unwrap();
    server.push(wire::completion("m", "slow").delay(Duration::from_millis(300)));
    server.push(wire::completion("m", "too slow").delay(Duration::from_secs(5)));
    let client = reqwest::Client::new();

    let started = Instant::now();
    let (status, body) = post(&client, &chat_url(&server), json!({})).await;
    assert_eq!((status, content(&body)), (200, "slow"));
    assert!(
        started.elapsed() >= Duration::from_millis(300),
        "{:?}",
        started.elapsed()
    );

    let error = client
        .post(chat_url(&server))
        .timeout(Duration::from_millis(200))
        .body("{}")
        .send()
        .await
        .unwrap_err();
    assert!(error.is_timeout(), "{error:?}");
}

#[tokio::test]
async fn drop_connection_gives_a_transport_error() {
    let server = TestServer::start().await.unwrap();
    server.push(ScriptedResponse::drop_connection());
    server.push(ScriptedResponse::drop_connection().delay(Duration::from_millis(50)));
    server.push(wire::completion("m", "after the drops"));
    let client = reqwest::Client::new();

    for _ in 0..2 {
        let error = client
            .post(chat_url(&server))
            .body("{}")
            .send()
            .await
            .unwrap_err();
        assert!(error.status().is_none(), "{error:?}");
        assert!(error.is_request() || error.is_connect(), "{error:?}");
    }
    // Both attempts reached the server and were recorded; the client did not retry.
    assert_eq!(server.request_count(), 2);
    // The server keeps serving on new connections.
    let (status, body) = post(&client, &chat_url(&server), json!({})).await;
    assert_eq!((status, content(&body)), (200, "after the drops"));

    // Also on a kept-alive connection that already served a request.
    server.push(ScriptedResponse::drop_connection());
    let error = client
        .post(chat_url(&server))
        .body("{}")
        .send()
        .await
        .unwrap_err();
    assert!(error.status().is_none(), "{error:?}");
    assert_eq!(server.request_count(), 4);
}

#[tokio::test]
async fn truncated_body_gives_a_body_error() {
    let server = TestServer::start().await.unwrap();
    let full = wire::completion("m", "a complete answer")
        .body()
        .unwrap()
        .clone();
    server.push(ScriptedResponse::truncated_body(200, full.clone(), 20));
    server.push(ScriptedResponse::truncated_body(200, full.clone(), 0));
    server.push(ScriptedResponse::truncated_body(
        200,
        full.clone(),
        usize::MAX,
    ));
    let client = reqwest::Client::new();

    for _ in 0..3 {
        let response = client
            .post(chat_url(&server))
            .body("{}")
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        assert_eq!(response.headers()["content-length"], full.len().to_string());
        assert_eq!(response.headers()["content-type"], "application/json");
        let error = response.bytes().await.unwrap_err();
        assert!(error.is_body() || error.is_decode(), "{error:?}");
    }

    // The partial bytes do arrive before the abort.
    server.push(ScriptedResponse::truncated_body(200, full.clone(), 20));
    let mut response = client
        .post(chat_url(&server))
        .body("{}")
        .send()
        .await
        .unwrap();
    let mut received = Vec::new();
    let error = loop {
        match response.chunk().await {
            Ok(Some(chunk)) => received.extend_from_slice(&chunk),
            Ok(None) => panic!("the body should not end normally"),
            Err(error) => break error,
        }
    };
    assert_eq!(received, full[..20]);
    assert!(error.is_body() || error.is_decode(), "{error:?}");
}

#[tokio::test]
async fn keeps_connections_alive() {
    let server = TestServer::start().await.unwrap();
    server.set_fallback(ScriptedResponse::raw(200, "text/plain", "pong"));
    let mut stream = tokio::net::TcpStream::connect(server.addr()).await.unwrap();
    let request = "POST /v1/chat/completions HTTP/1.1\r\nhost: test\r\ncontent-length: 2\r\n\r\n{}";
    let mut responses = 0;
    for _ in 0..3 {
        stream.write_all(request.as_bytes()).await.unwrap();
        let mut buffer = Vec::new();
        while !buffer.ends_with(b"pong") {
            let mut chunk = [0_u8; 1024];
            let read = stream.read(&mut chunk).await.unwrap();
            assert_ne!(read, 0, "the server closed a keep-alive connection");
            buffer.extend_from_slice(&chunk[..read]);
        }
        assert!(buffer.starts_with(b"HTTP/1.1 200 OK\r\n"));
        responses += 1;
    }
    assert_eq!(responses, 3);
    assert_eq!(server.request_count(), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn answers_and_records_200_concurrent_requests() {
    let server = TestServer::start().await.unwrap();
    let n = 200;
    server.push_many((0..n).map(|i| wire::completion("m", &format!("answer {i}"))));
    let client = reqwest::Client::new();
    let url = chat_url(&server);

    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..n {
        let (client, url) = (client.clone(), url.clone());
        tasks.spawn(async move { post(&client, &url, json!({"request": i})).await });
    }
    let mut answers = BTreeSet::new();
    while let Some(result) = tasks.join_next().await {
        let (status, body) = result.unwrap();
        assert_eq!(status, 200);
        answers.insert(content(&body).to_owned());
    }
    let expected: BTreeSet<String> = (0..n).map(|i| format!("answer {i}")).collect();
    assert_eq!(answers, expected);

    let recorded: BTreeSet<i64> = server
        .requests()
        .iter()
        .map(|r| r.json().unwrap()["request"].as_i64().unwrap())
        .collect();
    assert_eq!(recorded, (0..n).collect());
    assert_eq!(server.request_count(), n as usize);
    assert_eq!(server.pending(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn survives_1000_concurrent_requests() {
    let server = TestServer::start().await.unwrap();
    server.set_fallback(wire::completion("m", "same for all"));
    let client = reqwest::Client::new();
    let url = chat_url(&server);

    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..1000 {
        let (client, url) = (client.clone(), url.clone());
        tasks.spawn(async move { post(&client, &url, json!({"request": i})).await.0 });
    }
    while let Some(status) = tasks.join_next().await {
        assert_eq!(status.unwrap(), 200);
    }
    assert_eq!(server.request_count(), 1000);
}

#[tokio::test]
async fn shutdown_and_drop_stop_the_server() {
    let server = TestServer::start().await.unwrap();
    let addr = server.addr();
    // An open keep-alive connection is closed too.
    let mut open = tokio::net::TcpStream::connect(addr).await.unwrap();
    tokio::time::sleep(Duration::from_millis(20)).await;
    server.shutdown().await;
    assert!(tokio::net::TcpStream::connect(addr).await.is_err());
    let mut buffer = [0_u8; 16];
    let read = tokio::time::timeout(Duration::from_secs(2), open.read(&mut buffer))
        .await
        .unwrap();
    assert!(matches!(read, Ok(0) | Err(_)), "{read:?}");

    let server = TestServer::start().await.unwrap();
    let addr = server.addr();
    drop(server);
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert!(tokio::net::TcpStream::connect(addr).await.is_err());
}

#[test]
fn start_outside_a_runtime_is_an_error() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    // `block_on` of a future that itself calls `start` inside the runtime works…
    let inside = runtime.block_on(async { TestServer::start().await.map(|s| s.addr()) });
    assert!(inside.is_ok());
    // …while polling it with no runtime around fails cleanly.
    let outside = block_on_without_runtime(TestServer::start());
    assert!(
        matches!(outside, Err(elelem_testkit::TestkitError::NoRuntime)),
        "{outside:?}"
    );
}

/// Poll a future to completion on the current thread without any tokio runtime.
fn block_on_without_runtime<F: std::future::Future>(future: F) -> F::Output {
    use std::sync::Arc;
    use std::task::{Context, Poll, Wake, Waker};
    struct Noop;
    impl Wake for Noop {
        fn wake(self: Arc<Self>) {}
    }
    let waker = Waker::from(Arc::new(Noop));
    let mut context = Context::from_waker(&waker);
    let mut future = std::pin::pin!(future);
    loop {
        if let Poll::Ready(output) = future.as_mut().poll(&mut context) {
            return output;
        }
    }
}
