//! Streams of the async client as blocking iterators.

use std::sync::Arc;

use elelem_core::{ChatCompletion, ElelemError, StreamSummary};
use futures_util::{Stream, StreamExt};

use super::runtime::OwnedRuntime;

/// An async stream read one item at a time on the calling thread.
///
/// Use it through [`ChatStream`] (chunks) and [`TextStream`] (text pieces).
#[must_use = "an iterator does nothing unless read"]
#[derive(Debug)]
pub struct BlockingStream<S> {
    stream: Option<S>,
    runtime: Arc<OwnedRuntime>,
    operation: &'static str,
}

/// A streamed chat completion read as an [`Iterator`] of OpenAI
/// `chat.completion.chunk`s: the blocking form of [`elelem_core::ChatStream`],
/// with its retries, think-block removal and single usage record. Dropping it
/// early records the stream as interrupted, as for the async stream.
///
/// ```no_run
/// # fn demo(elelem: elelem::blocking::Elelem) -> Result<(), elelem::ElelemError> {
/// use elelem::{ChatRequest, Message};
/// let request = ChatRequest::new("groq:openai/gpt-oss-20b", vec![Message::user("A haiku")]);
/// for chunk in elelem.stream_chat_completion(request)? {
///     print!("{}", chunk?.choices[0].delta.content.as_deref().unwrap_or_default());
/// }
/// # Ok(()) }
/// ```
pub type ChatStream = BlockingStream<elelem_core::ChatStream>;

/// A streamed answer read as an [`Iterator`] of [`TextPiece`](elelem_core::TextPiece)s, the reasoning
/// kept apart from the answer: the blocking form of [`elelem_core::TextStream`].
///
/// ```no_run
/// # fn demo(elelem: elelem::blocking::Elelem) -> Result<(), elelem::ElelemError> {
/// use elelem::{ChatRequest, Message, TextPiece};
/// let request = ChatRequest::new("groq:openai/gpt-oss-20b", vec![Message::user("A haiku")]);
/// for piece in elelem.text_stream(request)? {
///     if let TextPiece::Answer(text) = piece? {
///         print!("{text}");
///     }
/// }
/// # Ok(()) }
/// ```
pub type TextStream = BlockingStream<elelem_core::TextStream>;

impl<S> BlockingStream<S> {
    pub(crate) fn new(stream: S, runtime: Arc<OwnedRuntime>, operation: &'static str) -> Self {
        BlockingStream {
            stream: Some(stream),
            runtime,
            operation,
        }
    }
}

impl<S, T> Iterator for BlockingStream<S>
where
    S: Stream<Item = Result<T, ElelemError>> + Unpin,
{
    type Item = Result<T, ElelemError>;

    /// The next item, or a single [`ElelemError::BlockingInAsyncContext`] (then
    /// the end) when called inside an async runtime.
    fn next(&mut self) -> Option<Self::Item> {
        let stream = self.stream.as_mut()?;
        match self.runtime.block_on(self.operation, stream.next()) {
            Ok(item) => item,
            Err(error) => {
                self.stream = None;
                Some(Err(error))
            }
        }
    }
}

impl ChatStream {
    /// Elelem's facts about the stream so far (complete once it has ended), or
    /// `None` after it was given up inside an async runtime.
    pub fn summary(&self) -> Option<&StreamSummary> {
        self.stream.as_ref().map(elelem_core::ChatStream::summary)
    }

    /// Reads the rest of the stream and assembles the [`ChatCompletion`] the
    /// plain call would have returned (content, reasoning, tool calls, usage, cost).
    ///
    /// ```no_run
    /// # fn demo(elelem: elelem::blocking::Elelem) -> Result<(), elelem::ElelemError> {
    /// use elelem::{ChatRequest, Message};
    /// let request = ChatRequest::new("openai:gpt-4.1-mini", vec![Message::user("Hi")]);
    /// let completion = elelem.stream_chat_completion(request)?.collect_completion()?;
    /// println!("{:?} for {}", completion.content(), completion.elelem.cost);
    /// # Ok(()) }
    /// ```
    pub fn collect_completion(mut self) -> Result<ChatCompletion, ElelemError> {
        let stream = self
            .stream
            .take()
            .ok_or(ElelemError::BlockingInAsyncContext {
                operation: self.operation,
            })?;
        let runtime = Arc::clone(&self.runtime);
        runtime.block_on("collect_completion", stream.collect_completion())?
    }
}

impl TextStream {
    /// Elelem's facts about the stream so far (complete once it has ended), or
    /// `None` after it was given up inside an async runtime.
    pub fn summary(&self) -> Option<&StreamSummary> {
        self.stream.as_ref().map(elelem_core::TextStream::summary)
    }
}

impl<S> Drop for BlockingStream<S> {
    fn drop(&mut self) {
        // An unfinished stream records its usage when dropped: do it inside the
        // runtime it was opened on.
        let _guard = self.runtime.enter();
        drop(self.stream.take());
    }
}
