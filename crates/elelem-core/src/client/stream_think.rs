//! Think-block removal for streamed text: the one grammar of
//! [`json::think`](crate::json::ThinkSplitter), where `<think>` or `</think>` may be split
//! across chunks, gives the same split as the non-streaming answer.

use crate::json::{ThinkPolicy, ThinkSplitter};

/// What one piece of streamed text contributes.
pub(crate) type ThinkPiece = crate::json::ThinkDelta;

/// Splits streamed text into answer and reasoning as the plain path does.
#[derive(Debug, Clone)]
pub(crate) struct ThinkFilter(ThinkSplitter);

impl ThinkFilter {
    /// A filter for `model` (the name the provider answers with), a reasoning model
    /// or not (see [`ThinkPolicy::for_model`]).
    pub fn new(reasoning_model: bool, model: &str) -> Self {
        ThinkFilter(ThinkSplitter::new(ThinkPolicy::for_model(
            model,
            reasoning_model,
        )))
    }

    /// Takes the next piece of text (its buffer is reused for the answer).
    pub fn push(&mut self, text: String) -> ThinkPiece {
        self.0.push_owned(text)
    }

    /// Ends the stream: whatever was held back is emitted as what it is.
    pub fn finish(&mut self) -> ThinkPiece {
        self.0.finish()
    }
}
