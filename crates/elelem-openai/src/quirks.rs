//! The hooks through which an OpenAI-compatible provider differs from OpenAI.

use serde_json::Value;

use elelem_core::provider::{ProviderErrorKind, WireRequest};
use elelem_core::{ChatCompletionChunk, Usage, Usd};

/// How a provider deviates from the OpenAI protocol. Every method has a default
/// that does what OpenAI does, so a provider overrides only its real quirks.
///
/// ```
/// use elelem_openai::Quirks;
/// use elelem_core::provider::{ProviderErrorKind, WireRequest};
///
/// #[derive(Debug)]
/// struct NoSeed;
/// impl Quirks for NoSeed {
///     fn adapt_request(&self, request: &mut elelem_core::provider::WireRequest) {
///         request.seed = None;
///     }
/// }
/// ```
pub trait Quirks: Send + Sync + std::fmt::Debug {
    /// Adjusts the typed request just before it is serialized and sent.
    fn adapt_request(&self, _request: &mut WireRequest) {}

    /// Classifies an HTTP error when the default classification is wrong for this
    /// provider; `error` is the body's `error` object, when there is one.
    fn classify_error(&self, _status: u16, _error: Option<&Value>) -> Option<ProviderErrorKind> {
        None
    }

    /// Normalizes a provider's usage before the pipeline sees it (xAI counts
    /// reasoning tokens outside `completion_tokens`, for example). Applied to a
    /// plain completion's usage and to every streamed chunk's usage alike, so a
    /// plain and a streamed answer are counted the same.
    ///
    /// ```
    /// use elelem_openai::Quirks;
    /// #[derive(Debug)]
    /// struct NoTotal;
    /// impl Quirks for NoTotal {
    ///     fn adapt_usage(&self, usage: &mut elelem_core::Usage) {
    ///         usage.total_tokens = None;
    ///     }
    /// }
    /// let mut usage: elelem_core::Usage = serde_json::from_str(r#"{"total_tokens":3}"#).unwrap();
    /// NoTotal.adapt_usage(&mut usage);
    /// assert_eq!(usage.total_tokens, None);
    /// ```
    fn adapt_usage(&self, _usage: &mut Usage) {}

    /// The cost the provider reported in this usage, when it reports one
    /// (OpenRouter's `usage.cost`); it then replaces the price-table cost, for a
    /// plain answer and for a stream's final usage alike.
    ///
    /// ```
    /// use elelem_openai::{NoQuirks, Quirks};
    /// let usage: elelem_core::Usage = serde_json::from_str(r#"{"prompt_tokens":1}"#).unwrap();
    /// assert_eq!(NoQuirks.reported_cost(&usage), None);
    /// ```
    fn reported_cost(&self, _usage: &Usage) -> Option<Usd> {
        None
    }

    /// Adjusts one streamed chunk as it arrives (GROQ moves its final usage into
    /// `x_groq.usage`).
    fn adapt_chunk(&self, _chunk: &mut ChatCompletionChunk) {}

    /// Whether to ask for the final usage chunk with
    /// `stream_options: {"include_usage": true}` (OpenAI's protocol; on by default).
    fn stream_usage(&self) -> bool {
        true
    }
}

/// OpenAI itself: no quirks.
///
/// ```
/// let quirks = elelem_openai::NoQuirks;
/// # let _ = quirks;
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct NoQuirks;

impl Quirks for NoQuirks {}
