//! [`ReplyBody`]: the response body type, able to break off on purpose.

use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use hyper::body::{Body, Frame, SizeHint};
use tokio::time::Sleep;

use crate::TestkitError;

/// How long a truncated body waits after its last bytes before failing, so
/// that hyper flushes those bytes to the socket before the connection is
/// aborted.
const FLUSH_GRACE: Duration = Duration::from_millis(50);

/// A response body: either complete, or cut short then failing, which makes
/// hyper abort the connection.
#[derive(Debug)]
pub(crate) struct ReplyBody {
    data: Option<Bytes>,
    failure: Option<Pin<Box<Sleep>>>,
    /// Parts still to send one by one, each after `every` (a dripping body).
    drip: VecDeque<Bytes>,
    every: Duration,
    pause: Option<Pin<Box<Sleep>>>,
}

impl ReplyBody {
    /// A complete body.
    pub(crate) fn full(data: impl Into<Bytes>) -> Self {
        Self {
            data: Some(data.into()),
            failure: None,
            drip: VecDeque::new(),
            every: Duration::ZERO,
            pause: None,
        }
    }

    /// `parts`, each sent after a pause of `every`.
    pub(crate) fn drip(parts: Vec<Bytes>, every: Duration) -> Self {
        Self {
            data: None,
            failure: None,
            drip: parts.into(),
            every,
            pause: Some(Box::pin(tokio::time::sleep(every))),
        }
    }

    /// `data`, then (after a short pause) an error that aborts the connection.
    pub(crate) fn truncated(data: Bytes) -> Self {
        Self::stalled(data, FLUSH_GRACE)
    }

    /// `data`, then nothing for `pause`, then an error that aborts the connection.
    pub(crate) fn stalled(data: Bytes, pause: Duration) -> Self {
        Self {
            data: Some(data),
            failure: Some(Box::pin(tokio::time::sleep(pause))),
            drip: VecDeque::new(),
            every: Duration::ZERO,
            pause: None,
        }
    }
}

impl Body for ReplyBody {
    type Data = Bytes;
    type Error = TestkitError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, TestkitError>>> {
        if let Some(data) = self.data.take() {
            if !data.is_empty() {
                return Poll::Ready(Some(Ok(Frame::data(data))));
            }
        }
        if !self.drip.is_empty() {
            if let Some(pause) = self.pause.as_mut() {
                if pause.as_mut().poll(cx).is_pending() {
                    return Poll::Pending;
                }
            }
            let every = self.every;
            self.pause = Some(Box::pin(tokio::time::sleep(every)));
            if let Some(part) = self.drip.pop_front() {
                return Poll::Ready(Some(Ok(Frame::data(part))));
            }
        }
        match self.failure.as_mut() {
            None => Poll::Ready(None),
            Some(pause) => match pause.as_mut().poll(cx) {
                Poll::Pending => Poll::Pending,
                Poll::Ready(()) => {
                    self.failure = None;
                    Poll::Ready(Some(Err(TestkitError::ScriptedTruncation)))
                }
            },
        }
    }

    fn is_end_stream(&self) -> bool {
        self.data.is_none() && self.failure.is_none() && self.drip.is_empty()
    }

    fn size_hint(&self) -> SizeHint {
        match (&self.data, &self.failure) {
            // A dripping body has no announced length.
            _ if !self.drip.is_empty() => SizeHint::default(),
            // A truncated body's length is announced by its content-length header.
            (_, Some(_)) => SizeHint::default(),
            (Some(data), None) => SizeHint::with_exact(data.len() as u64),
            (None, None) => SizeHint::with_exact(0),
        }
    }
}
