//! A streamed chat answer as true server-sent events: each chunk is written as it
//! arrives (`data: {chunk}`), the usage chunk included, then one chunk with empty
//! `choices` carrying the `elelem` object (cost, attempts, answered_by), then
//! `data: [DONE]`. A failure after the first chunk ends the stream with
//! `data: {"error": ...}`. On shutdown a stream may go on for the grace period.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::Response;
use bytes::Bytes;
use elelem::{ChatStream, ElelemMeta};
use futures_util::StreamExt;
use serde_json::json;

use super::admission::Call;
use super::chat::meta_json;
use super::{ApiError, Gateway};

pub(super) type Deadline = Pin<Box<dyn Future<Output = ()> + Send>>;

struct Forward {
    stream: ChatStream,
    call: Call,
    gateway: Arc<Gateway>,
    model: String,
    first: bool,
    last_id: String,
    deadline: Deadline,
    phase: Phase,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Phase {
    Chunks,
    Done,
    Over,
}

/// Fires once the gateway is shutting down and the grace period has passed: a
/// stream still going then is ended.
pub(super) fn shutdown_deadline(gateway: &Arc<Gateway>) -> Deadline {
    let grace = gateway.loaded().config.gateway.shutdown_grace();
    let mut shutdown = gateway.shutdown.subscribe();
    Box::pin(async move {
        if shutdown.wait_for(|down| *down).await.is_err() {
            // The gateway is gone: no deadline but the stream's own.
            std::future::pending::<()>().await;
        }
        tokio::time::sleep(grace).await;
    })
}

/// The streaming response for `stream`.
pub(crate) fn response(
    gateway: &Arc<Gateway>,
    stream: ChatStream,
    mut call: Call,
    model: String,
) -> Response {
    let deadline = shutdown_deadline(gateway);
    call.route = "chat_stream";
    let state = Forward {
        stream,
        call,
        gateway: gateway.clone(),
        model,
        first: true,
        last_id: String::new(),
        deadline,
        phase: Phase::Chunks,
    };
    let body = futures_util::stream::unfold(state, |mut s| async move {
        let bytes = next_event(&mut s).await?;
        Some((Ok::<Bytes, std::convert::Infallible>(bytes), s))
    });
    event_stream(Body::from_stream(body))
}

/// A `200 text/event-stream` response with `body`, unbuffered.
pub(super) fn event_stream(body: Body) -> Response {
    let mut response = Response::new(body);
    *response.status_mut() = StatusCode::OK;
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/event-stream"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    headers.insert("x-accel-buffering", HeaderValue::from_static("no"));
    response
}

/// `data: {value as JSON}` and the blank line, written once.
fn event<T: serde::Serialize>(value: &T) -> Bytes {
    let mut bytes = Vec::with_capacity(512);
    bytes.extend_from_slice(b"data: ");
    if serde_json::to_writer(&mut bytes, value).is_err() {
        bytes.truncate(6);
        bytes.extend_from_slice(b"null");
    }
    bytes.extend_from_slice(b"\n\n");
    Bytes::from(bytes)
}

async fn next_event(s: &mut Forward) -> Option<Bytes> {
    match s.phase {
        Phase::Over => return None,
        Phase::Done => {
            s.phase = Phase::Over;
            return Some(Bytes::from_static(b"data: [DONE]\n\n"));
        }
        Phase::Chunks => {}
    }
    let item = tokio::select! {
        item = s.stream.next() => item,
        () = &mut s.deadline => {
            s.phase = Phase::Over;
            s.call.end(StatusCode::SERVICE_UNAVAILABLE);
            let error = ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "server_error",
                "the gateway is shutting down and the stream passed its grace period; retry the request")
                .code("shutting_down");
            return Some(event(&error.body()));
        }
    };
    match item {
        Some(Ok(chunk)) => {
            if s.first {
                s.first = false;
                metrics::histogram!("elelem_ttft_seconds", "model" => s.model.clone())
                    .record(s.call.started.elapsed().as_secs_f64());
            }
            s.last_id.clone_from(&chunk.id);
            Some(event(&chunk))
        }
        Some(Err(error)) => {
            s.phase = Phase::Over;
            s.call.end(StatusCode::BAD_GATEWAY);
            Some(event(&ApiError::from_elelem(&error).body()))
        }
        None => {
            s.phase = Phase::Done;
            s.call.end(StatusCode::OK);
            s.gateway
                .shared
                .telemetry
                .observe_latency(&s.model, s.call.started.elapsed());
            let summary = s.stream.summary();
            let meta = ElelemMeta {
                requested_model: summary.requested_model.clone(),
                answered_by: summary.answered_by.clone(),
                candidate: summary.candidate,
                attempts: summary.attempts,
                cost: summary.cost,
                ..ElelemMeta::default()
            };
            let created = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap_or(Duration::ZERO)
                .as_secs();
            let last = json!({
                "id": s.last_id,
                "object": "chat.completion.chunk",
                "created": created,
                "model": summary.answered_by,
                "choices": [],
                "elelem": meta_json(&meta),
            });
            Some(event(&last))
        }
    }
}
