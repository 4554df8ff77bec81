//! The hooks through which an OpenAI-compatible provider differs from OpenAI.

use serde_json::{Map, Value};

use elelem_core::provider::ProviderErrorKind;

/// How a provider deviates from the OpenAI protocol. Every method has a default
/// that does what OpenAI does, so a provider overrides only its real quirks.
///
/// ```
/// use elelem_openai::Quirks;
/// use elelem_core::provider::ProviderErrorKind;
///
/// #[derive(Debug)]
/// struct NoSeed;
/// impl Quirks for NoSeed {
///     fn adapt_request(&self, body: &mut serde_json::Map<String, serde_json::Value>) {
///         body.remove("seed");
///     }
/// }
/// ```
pub trait Quirks: Send + Sync + std::fmt::Debug {
    /// Adjusts the request body just before it is sent.
    fn adapt_request(&self, _body: &mut Map<String, Value>) {}

    /// Classifies an HTTP error when the default classification is wrong for this
    /// provider; `error` is the body's `error` object, when there is one.
    fn classify_error(&self, _status: u16, _error: Option<&Value>) -> Option<ProviderErrorKind> {
        None
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
