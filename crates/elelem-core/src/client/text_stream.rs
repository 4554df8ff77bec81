//! A streamed answer as plain text pieces, the reasoning kept apart from the answer.

use std::pin::Pin;
use std::task::{Context, Poll};

use futures_core::Stream;

use super::stream::{ChatStream, StreamSummary};
use crate::error::ElelemError;
use crate::types::ChatCompletionChunk;

/// One piece of a streamed answer's text.
///
/// ```
/// use elelem_core::TextPiece;
/// let piece = TextPiece::Answer("Hel".into());
/// assert_eq!(piece.answer(), Some("Hel"));
/// assert_eq!(TextPiece::Reasoning("hm".into()).answer(), None);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TextPiece {
    /// More of the answer.
    Answer(String),
    /// More of the reasoning (`<think>` blocks, `reasoning_content`, GROQ's
    /// `reasoning`), never mixed into the answer.
    Reasoning(String),
}

impl TextPiece {
    /// The text, whichever kind it is.
    ///
    /// ```
    /// assert_eq!(elelem_core::TextPiece::Reasoning("hm".into()).text(), "hm");
    /// ```
    pub fn text(&self) -> &str {
        match self {
            TextPiece::Answer(text) | TextPiece::Reasoning(text) => text,
        }
    }

    /// The text when it is part of the answer.
    ///
    /// ```
    /// assert_eq!(elelem_core::TextPiece::Answer("42".into()).answer(), Some("42"));
    /// ```
    pub fn answer(&self) -> Option<&str> {
        match self {
            TextPiece::Answer(text) => Some(text),
            TextPiece::Reasoning(_) => None,
        }
    }
}

/// The text pieces of a chunk's first choice, reasoning first, empty ones left out.
pub(crate) fn pieces_of(chunk: &ChatCompletionChunk) -> Vec<TextPiece> {
    let Some(delta) = chunk.choices.first().map(|c| &c.delta) else {
        return Vec::new();
    };
    let reasoning = delta
        .reasoning_content
        .as_deref()
        .or_else(|| delta.extra.get("reasoning").and_then(|v| v.as_str()));
    let mut pieces = Vec::with_capacity(2);
    if let Some(text) = reasoning.filter(|t| !t.is_empty()) {
        pieces.push(TextPiece::Reasoning(text.to_owned()));
    }
    if let Some(text) = delta.content.as_deref().filter(|t| !t.is_empty()) {
        pieces.push(TextPiece::Answer(text.to_owned()));
    }
    pieces
}

/// A streamed chat completion as [`TextPiece`]s (from
/// [`Elelem::text_stream`](crate::Elelem::text_stream)): the same stream, retries
/// and accounting as [`ChatStream`], with the chunks reduced to their text.
#[must_use = "a stream does nothing unless polled"]
#[derive(Debug)]
pub struct TextStream {
    chunks: ChatStream,
    pending: std::collections::VecDeque<TextPiece>,
}

impl TextStream {
    pub(crate) fn new(chunks: ChatStream) -> TextStream {
        TextStream {
            chunks,
            pending: std::collections::VecDeque::new(),
        }
    }

    /// Elelem's facts about the stream so far (attempts, model, cost once ended).
    pub fn summary(&self) -> &StreamSummary {
        self.chunks.summary()
    }
}

impl Stream for TextStream {
    type Item = Result<TextPiece, ElelemError>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        loop {
            if let Some(piece) = this.pending.pop_front() {
                return Poll::Ready(Some(Ok(piece)));
            }
            match Pin::new(&mut this.chunks).poll_next(cx) {
                Poll::Ready(Some(Ok(chunk))) => this.pending.extend(pieces_of(&chunk)),
                Poll::Ready(Some(Err(error))) => return Poll::Ready(Some(Err(error))),
                Poll::Ready(None) => return Poll::Ready(None),
                Poll::Pending => return Poll::Pending,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn chunk(delta: serde_json::Value) -> ChatCompletionChunk {
        serde_json::from_value(serde_json::json!({
            "id": "c", "object": "chat.completion.chunk", "created": 1, "model": "m",
            "choices": [{"index": 0, "delta": delta, "finish_reason": null}]
        }))
        .unwrap()
    }

    #[test]
    fn reasoning_and_answer_are_kept_apart() {
        let c = chunk(serde_json::json!({"reasoning_content": "think", "content": "42"}));
        assert_eq!(
            pieces_of(&c),
            vec![
                TextPiece::Reasoning("think".into()),
                TextPiece::Answer("42".into())
            ]
        );
    }

    #[test]
    fn groq_reasoning_field_is_reasoning() {
        let c = chunk(serde_json::json!({"reasoning": "hmm"}));
        assert_eq!(pieces_of(&c), vec![TextPiece::Reasoning("hmm".into())]);
    }

    #[test]
    fn empty_and_role_only_deltas_give_nothing() {
        assert!(pieces_of(&chunk(
            serde_json::json!({"role": "assistant", "content": ""})
        ))
        .is_empty());
        let usage_only: ChatCompletionChunk = serde_json::from_value(serde_json::json!({
            "id": "c", "object": "chat.completion.chunk", "created": 1, "model": "m", "choices": []
        }))
        .unwrap();
        assert!(pieces_of(&usage_only).is_empty());
    }
}
