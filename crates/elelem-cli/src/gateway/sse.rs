//! A streamed chat answer as true server-sent events: each chunk is written as it
//! arrives (`data: {chunk}`), the usage chunk included, then one chunk with empty
//! `choices` carrying the `elelem` object (cost, attempts, answered_by), then
//! `data: [DONE]`. A failure after the first chunk ends the stream with
//! `data: {"error": ...}`. On shutdown a stream may go on for the grace period.
//!
//! The body ([`EventBody`]) is polled by hyper directly: the events already
//! available when it is polled (a provider often sends several in one read) go
//! out as one body frame, each written once straight into the frame's buffer.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::Body;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::Response;
use bytes::Bytes;
use elelem::ChatStream;
use futures_util::StreamExt;
use hyper::body::Frame;
use serde::Serialize;

use super::admission::Call;
use super::chat::MetaView;
use super::{ApiError, Gateway};

pub(super) type Deadline = Pin<Box<dyn Future<Output = ()> + Send>>;

/// The most bytes of ready events gathered into one body frame; more go in the
/// next frame.
const FRAME_BYTES: usize = 64 * 1024;

/// What [`Events::poll_event`] did.
pub(super) enum Next {
    /// Wrote one event; more may be ready.
    Event,
    /// The stream is over (its last events, if any, written).
    Last,
    /// Nothing is ready yet (the waker is registered).
    Pending,
}

/// A source of server-sent events written into a buffer.
pub(super) trait Events: Unpin + Send + 'static {
    /// Writes the next event into `out`, if one is ready.
    fn poll_event(&mut self, cx: &mut Context<'_>, out: &mut Vec<u8>) -> Next;
    /// The shutdown's grace period passed: writes the last event saying so.
    fn shut_down(&mut self, out: &mut Vec<u8>);
}

/// The body of an event stream: `E`'s events, the ready ones coalesced into
/// one frame, until `E` ends or the shutdown deadline passes.
pub(super) struct EventBody<E> {
    events: E,
    deadline: Deadline,
    over: bool,
}

impl<E: Events> EventBody<E> {
    /// The body of `events`, ended by the gateway's shutdown deadline.
    pub(super) fn new(gateway: &Arc<Gateway>, events: E) -> EventBody<E> {
        EventBody {
            events,
            deadline: shutdown_deadline(gateway),
            over: false,
        }
    }
}

impl<E: Events> hyper::body::Body for EventBody<E> {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        let this = self.get_mut();
        if this.over {
            return Poll::Ready(None);
        }
        let mut out = Vec::new();
        if this.deadline.as_mut().poll(cx).is_ready() {
            this.over = true;
            this.events.shut_down(&mut out);
        } else {
            loop {
                match this.events.poll_event(cx, &mut out) {
                    Next::Event if out.len() < FRAME_BYTES => {}
                    Next::Event | Next::Pending => break,
                    Next::Last => {
                        this.over = true;
                        break;
                    }
                }
            }
        }
        if out.is_empty() {
            return if this.over {
                Poll::Ready(None)
            } else {
                Poll::Pending
            };
        }
        Poll::Ready(Some(Ok(Frame::data(Bytes::from(out)))))
    }

    fn is_end_stream(&self) -> bool {
        self.over
    }
}

/// Fires once the gateway is shutting down and the grace period has passed: a
/// stream still going then is ended.
fn shutdown_deadline(gateway: &Arc<Gateway>) -> Deadline {
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

/// The error event of a stream ended by the shutdown.
pub(super) fn shutting_down() -> ApiError {
    ApiError::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "server_error",
        "the gateway is shutting down and the stream passed its grace period; retry the request",
    )
    .code("shutting_down")
}

/// A chat stream being forwarded.
struct Forward {
    stream: ChatStream,
    call: Call,
    gateway: Arc<Gateway>,
    model: String,
    first: bool,
    last_id: String,
}

/// The streaming response for `stream`.
pub(crate) fn response(
    gateway: &Arc<Gateway>,
    stream: ChatStream,
    mut call: Call,
    model: String,
) -> Response {
    call.route = "chat_stream";
    let forward = Forward {
        stream,
        call,
        gateway: gateway.clone(),
        model,
        first: true,
        last_id: String::new(),
    };
    event_stream(Body::new(EventBody::new(gateway, forward)))
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

/// Appends `data: {value as JSON}` and the blank line to `out`.
fn event<T: Serialize>(out: &mut Vec<u8>, value: &T) {
    out.reserve(1024);
    out.extend_from_slice(b"data: ");
    let start = out.len();
    if serde_json::to_writer(&mut *out, value).is_err() {
        out.truncate(start);
        out.extend_from_slice(b"null");
    }
    out.extend_from_slice(b"\n\n");
}

/// The chunk after the last one: empty `choices`, the `elelem` object.
#[derive(Serialize)]
struct LastChunk<'a> {
    id: &'a str,
    object: &'static str,
    created: u64,
    model: &'a str,
    choices: [(); 0],
    elelem: MetaView<'a>,
}

impl Events for Forward {
    fn poll_event(&mut self, cx: &mut Context<'_>, out: &mut Vec<u8>) -> Next {
        match self.stream.poll_next_unpin(cx) {
            Poll::Pending => Next::Pending,
            Poll::Ready(Some(Ok(mut chunk))) => {
                if self.first {
                    self.first = false;
                    self.gateway
                        .shared
                        .telemetry
                        .observe_ttft(&self.model, self.call.started.elapsed());
                }
                event(out, &chunk);
                self.last_id = std::mem::take(&mut chunk.id);
                Next::Event
            }
            Poll::Ready(Some(Err(error))) => {
                self.call.end(StatusCode::BAD_GATEWAY);
                event(out, &ApiError::from_elelem(&error).body());
                Next::Last
            }
            Poll::Ready(None) => {
                self.call.end(StatusCode::OK);
                self.gateway
                    .shared
                    .telemetry
                    .observe_latency(&self.model, self.call.started.elapsed());
                let summary = self.stream.summary();
                let created = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .unwrap_or(Duration::ZERO)
                    .as_secs();
                let last = LastChunk {
                    id: &self.last_id,
                    object: "chat.completion.chunk",
                    created,
                    model: &summary.answered_by,
                    choices: [],
                    elelem: MetaView::of_stream(summary),
                };
                event(out, &last);
                out.extend_from_slice(b"data: [DONE]\n\n");
                Next::Last
            }
        }
    }

    fn shut_down(&mut self, out: &mut Vec<u8>) {
        self.call.end(StatusCode::SERVICE_UNAVAILABLE);
        event(out, &shutting_down().body());
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::panic)]
    use std::collections::VecDeque;

    use hyper::body::Body as _;

    use super::*;

    /// Scripted steps: `Some(bytes)` an event, `None` nothing ready yet; the
    /// stream ends after the last step.
    struct Script(VecDeque<Option<&'static str>>);

    impl Events for Script {
        fn poll_event(&mut self, _: &mut Context<'_>, out: &mut Vec<u8>) -> Next {
            match self.0.pop_front() {
                Some(Some(event)) => {
                    out.extend_from_slice(event.as_bytes());
                    Next::Event
                }
                Some(None) => Next::Pending,
                None => Next::Last,
            }
        }

        fn shut_down(&mut self, out: &mut Vec<u8>) {
            out.extend_from_slice(b"bye");
        }
    }

    /// The next poll's result: `Some(Some(text))` a frame, `Some(None)` the
    /// end, `None` pending.
    fn poll(body: &mut EventBody<Script>) -> Option<Option<String>> {
        let mut cx = Context::from_waker(futures_util::task::noop_waker_ref());
        match Pin::new(body).poll_frame(&mut cx) {
            Poll::Pending => None,
            Poll::Ready(None) => Some(None),
            Poll::Ready(Some(frame)) => {
                let data = frame.unwrap().into_data().unwrap();
                Some(Some(String::from_utf8(data.to_vec()).unwrap()))
            }
        }
    }

    #[tokio::test]
    async fn the_events_ready_together_go_out_in_one_frame() {
        let gateway = Gateway::new(Default::default(), None).unwrap();
        let steps = [Some("a"), Some("b"), None, Some("c"), None, None, Some("d")];
        let mut body = EventBody::new(&gateway, Script(steps.into()));
        assert_eq!(poll(&mut body), Some(Some("ab".into())));
        assert_eq!(poll(&mut body), Some(Some("c".into())));
        assert_eq!(poll(&mut body), None);
        assert!(!body.is_end_stream());
        // The last event and the end: one frame, then nothing.
        assert_eq!(poll(&mut body), Some(Some("d".into())));
        assert!(body.is_end_stream());
        assert_eq!(poll(&mut body), Some(None));
    }

    #[tokio::test]
    async fn a_stream_still_going_after_the_grace_period_is_ended() {
        let mut config = crate::config::Config::default();
        config.gateway.shutdown_grace_secs = 0.01;
        let gateway = Gateway::new(config, None).unwrap();
        let mut body = EventBody::new(&gateway, Script([None; 1000].into()));
        assert_eq!(poll(&mut body), None);
        gateway.begin_shutdown();
        let frame = std::future::poll_fn(|cx| Pin::new(&mut body).poll_frame(cx)).await;
        let data = frame.unwrap().unwrap().into_data().unwrap();
        assert_eq!(&data[..], b"bye");
        assert_eq!(poll(&mut body), Some(None));
    }

    #[tokio::test]
    async fn a_frame_holds_about_frame_bytes_at_most() {
        let gateway = Gateway::new(Default::default(), None).unwrap();
        let big: &'static str = "x".repeat(FRAME_BYTES / 2 + 1).leak();
        let mut body = EventBody::new(&gateway, Script([Some(big); 3].into()));
        let sizes: Vec<usize> = std::iter::from_fn(|| poll(&mut body).flatten())
            .map(|frame| frame.len())
            .collect();
        assert_eq!(sizes, [big.len() * 2, big.len()]);
    }

    #[tokio::test]
    async fn the_last_chunk_is_written_as_before() {
        let summary = elelem::StreamSummary {
            requested_model: "openai:gpt-4.1-mini".into(),
            answered_by: "openai:gpt-4.1-mini".into(),
            attempts: 2,
            cost: elelem::Usd::from_nanos(1_200_000),
            ..Default::default()
        };
        let last = LastChunk {
            id: "chatcmpl-1",
            object: "chat.completion.chunk",
            created: 7,
            model: &summary.answered_by,
            choices: [],
            elelem: MetaView::of_stream(&summary),
        };
        let mut out = Vec::new();
        event(&mut out, &last);
        let meta = elelem::ElelemMeta {
            requested_model: summary.requested_model.clone(),
            answered_by: summary.answered_by.clone(),
            attempts: 2,
            cost: summary.cost,
            ..Default::default()
        };
        // The `json!` value the gateway wrote before, in the same field order.
        let before = serde_json::json!({
            "id": "chatcmpl-1",
            "object": "chat.completion.chunk",
            "created": 7,
            "model": "openai:gpt-4.1-mini",
            "choices": [],
            "elelem": super::super::meta_json(&meta),
        });
        assert_eq!(
            String::from_utf8(out).unwrap(),
            format!("data: {before}\n\n")
        );
    }
}
