//! The transport against a raw local HTTP server: redirects with a key, stream
//! bodies over the size limit, huge lines.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use elelem_core::provider::{ProviderError, ProviderSettings};
use elelem_core::ChatCompletionChunk;
use futures_util::StreamExt;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

use elelem_transport::{decode_stream, HttpClient, NdjsonFraming, RecordMapper, SseFraming};

/// A server answering every request with `answer(port)`; counts requests.
async fn server(answer: fn(u16) -> Vec<u8>) -> (u16, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let hits = Arc::new(AtomicUsize::new(0));
    let counter = hits.clone();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            counter.fetch_add(1, Ordering::SeqCst);
            tokio::spawn(async move {
                let mut request = Vec::new();
                let mut buf = [0u8; 4096];
                // Read the head and a body announced by content-length.
                loop {
                    let n = socket.read(&mut buf).await.unwrap_or(0);
                    if n == 0 {
                        return;
                    }
                    request.extend_from_slice(&buf[..n]);
                    let text = String::from_utf8_lossy(&request).to_lowercase();
                    if let Some(head_end) = text.find("\r\n\r\n") {
                        let length = text
                            .lines()
                            .find_map(|l| l.strip_prefix("content-length:"))
                            .and_then(|v| v.trim().parse::<usize>().ok())
                            .unwrap_or(0);
                        if request.len() >= head_end + 4 + length {
                            break;
                        }
                    }
                }
                let _ = socket.write_all(&answer(port)).await;
                let _ = socket.shutdown().await;
            });
        }
    });
    (port, hits)
}

fn settings(port: u16, key: Option<&str>, max_response_bytes: usize) -> ProviderSettings {
    ProviderSettings {
        name: "acme".into(),
        base_url: format!("http://127.0.0.1:{port}/v1"),
        api_key: key.map(Into::into),
        api_key_env: None,
        timeout: Duration::from_secs(10),
        max_response_bytes,
    }
}

fn redirect_to(location: String) -> Vec<u8> {
    format!("HTTP/1.1 307 Temporary Redirect\r\nlocation: {location}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n").into_bytes()
}

fn ok_json(_: u16) -> Vec<u8> {
    b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 8\r\nconnection: close\r\n\r\n{\"a\":1}\n".to_vec()
}

#[tokio::test]
async fn a_cross_origin_redirect_is_refused_with_the_key_in_any_header() {
    let (other, other_hits) = server(ok_json).await;
    // The redirecting server points at the other port (another origin).
    static TARGET: AtomicUsize = AtomicUsize::new(0);
    TARGET.store(usize::from(other), Ordering::SeqCst);
    let (port, _) = server(|_| {
        let target = TARGET.load(Ordering::SeqCst);
        redirect_to(format!("http://127.0.0.1:{target}/steal"))
    })
    .await;
    for (header, prefix) in [
        ("x-api-key", ""),
        ("x-goog-api-key", ""),
        ("authorization", "Bearer "),
    ] {
        let client = HttpClient::new(settings(port, Some("sk-secret-123"), 1 << 20))
            .unwrap()
            .with_key_header(header, prefix)
            .unwrap();
        let url = format!("{}/messages", client.base_url());
        let error = client
            .post_json(&url, &serde_json::json!({"model": "m"}))
            .await
            .unwrap_err();
        match &error {
            ProviderError::Redirected { target, .. } => {
                assert_eq!(target, &format!("http://127.0.0.1:{other}/steal"))
            }
            other => panic!("{header}: expected a refused redirect, got {other:?}"),
        }
        assert!(!error.is_retryable());
        assert!(error.to_string().contains("/steal"));
    }
    assert_eq!(
        other_hits.load(Ordering::SeqCst),
        0,
        "the key went elsewhere"
    );
}

#[tokio::test]
async fn a_same_origin_redirect_and_a_keyless_redirect_are_followed() {
    let (port, hits) = server(|port| {
        // First request redirects to the same origin; the second is answered.
        static SEEN: AtomicUsize = AtomicUsize::new(0);
        if SEEN.fetch_add(1, Ordering::SeqCst) == 0 {
            redirect_to(format!("http://127.0.0.1:{port}/v1/moved"))
        } else {
            ok_json(port)
        }
    })
    .await;
    let client = HttpClient::new(settings(port, Some("sk-secret-123"), 1 << 20))
        .unwrap()
        .with_key_header("x-api-key", "")
        .unwrap();
    let reply = client
        .post_json(
            format!("http://127.0.0.1:{port}/v1/x"),
            &serde_json::json!({}),
        )
        .await
        .unwrap();
    assert_eq!(&reply.body[..], b"{\"a\":1}\n");
    assert_eq!(hits.load(Ordering::SeqCst), 2);

    let (other, other_hits) = server(ok_json).await;
    static KEYLESS_TARGET: AtomicUsize = AtomicUsize::new(0);
    KEYLESS_TARGET.store(usize::from(other), Ordering::SeqCst);
    let (port, _) = server(|_| {
        let target = KEYLESS_TARGET.load(Ordering::SeqCst);
        redirect_to(format!("http://127.0.0.1:{target}/v1/x"))
    })
    .await;
    let client = HttpClient::new(settings(port, None, 1 << 20)).unwrap();
    let reply = client
        .post_json(
            format!("http://127.0.0.1:{port}/v1/x"),
            &serde_json::json!({}),
        )
        .await
        .unwrap();
    assert_eq!(&reply.body[..], b"{\"a\":1}\n");
    assert_eq!(other_hits.load(Ordering::SeqCst), 1);
}

/// Every record is one empty chunk; the end of the body is fine.
struct Count;

impl RecordMapper for Count {
    fn record(&mut self, _: &str) -> Result<Vec<ChatCompletionChunk>, ProviderError> {
        Ok(vec![serde_json::from_str(r#"{"choices":[]}"#).unwrap()])
    }
    fn finish(&mut self) -> Result<Vec<ChatCompletionChunk>, ProviderError> {
        Ok(Vec::new())
    }
}

fn streamed(body: &[u8]) -> Vec<u8> {
    let mut out = format!(
        "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
        body.len()
    )
    .into_bytes();
    out.extend_from_slice(body);
    out
}

async fn outcome(port: u16, limit: usize, ndjson: bool) -> (usize, Option<ProviderError>) {
    let client = HttpClient::new(settings(port, None, limit)).unwrap();
    let opened = client
        .post_json_stream(
            format!("http://127.0.0.1:{port}/v1/s"),
            &serde_json::json!({}),
        )
        .await
        .unwrap();
    let mut stream = if ndjson {
        decode_stream(opened, NdjsonFraming::with_limit(limit), Count)
    } else {
        decode_stream(opened, SseFraming::with_limit(limit), Count)
    };
    let mut chunks = 0;
    while let Some(item) = stream.chunks.next().await {
        match item {
            Ok(_) => chunks += 1,
            Err(error) => return (chunks, Some(error)),
        }
    }
    (chunks, None)
}

#[tokio::test]
async fn stream_bodies_obey_the_size_limit() {
    // 200 small events, about 2,400 bytes in all.
    let (port, _) = server(|_| streamed(&b"data: {\"x\":1}\n\n".repeat(200))).await;
    let (chunks, error) = outcome(port, 100_000, false).await;
    assert_eq!((chunks, error), (200, None));
    let (chunks, error) = outcome(port, 1_000, false).await;
    assert!(chunks < 200);
    assert!(
        matches!(
            error,
            Some(ProviderError::BodyTooLarge { limit: 1_000, .. })
        ),
        "{error:?}"
    );
}

#[tokio::test]
async fn one_huge_event_or_line_is_an_error() {
    let (port, _) = server(|_| {
        let mut body = b"data: ".to_vec();
        body.extend(std::iter::repeat_n(b'x', 50_000));
        streamed(&body)
    })
    .await;
    // The whole body is allowed, one event of it is not.
    let client_limit = 100_000;
    let client = HttpClient::new(settings(port, None, client_limit)).unwrap();
    let opened = client
        .post_json_stream(
            format!("http://127.0.0.1:{port}/v1/s"),
            &serde_json::json!({}),
        )
        .await
        .unwrap();
    let mut stream = decode_stream(opened, SseFraming::with_limit(10_000), Count);
    let first = stream.chunks.next().await;
    assert!(
        matches!(
            first,
            Some(Err(ProviderError::BodyTooLarge { limit: 10_000, .. }))
        ),
        "{first:?}"
    );
    assert!(stream.chunks.next().await.is_none());

    let (port, _) = server(|_| streamed(&vec![b'x'; 50_000])).await;
    let (chunks, error) = outcome(port, 10_000, true).await;
    assert_eq!(chunks, 0);
    assert!(
        matches!(error, Some(ProviderError::BodyTooLarge { .. })),
        "{error:?}"
    );
}

#[tokio::test]
async fn endless_redirects_stop_after_ten_and_the_error_hides_the_key() {
    let (port, hits) = server(|port| {
        redirect_to(format!(
            "http://127.0.0.1:{port}/v1/again?key=sk-secret-123"
        ))
    })
    .await;
    let client = HttpClient::new(settings(port, Some("sk-secret-123"), 1 << 20))
        .unwrap()
        .with_key_header("x-api-key", "")
        .unwrap();
    let error = client
        .post_json(
            format!("http://127.0.0.1:{port}/v1/x?key=sk-secret-123"),
            &serde_json::json!({}),
        )
        .await
        .unwrap_err();
    match &error {
        ProviderError::Connection { message, .. } => {
            assert!(message.contains("too many redirects"), "{message}");
            assert!(!message.contains("sk-secret-123"), "{message}");
        }
        other => panic!("expected too many redirects, got {other:?}"),
    }
    // The first request and ten redirects followed.
    assert_eq!(hits.load(Ordering::SeqCst), 11);
}
