//! What goes to a provider and what comes back.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use crate::types::ChatCompletion;

/// One request as it goes on the wire: the OpenAI chat completion body, with the
/// upstream model id in `model`, every parameter already adjusted for the model.
///
/// ```
/// let request = elelem_core::provider::WireRequest::new(serde_json::json!({"model": "m"}).as_object().unwrap().clone());
/// assert_eq!(request.body["model"], "m");
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct WireRequest {
    /// The JSON body.
    pub body: Map<String, Value>,
}

impl WireRequest {
    /// A request with this body.
    pub fn new(body: Map<String, Value>) -> Self {
        WireRequest { body }
    }
}

/// A provider's successful answer.
#[derive(Debug, Clone, PartialEq)]
pub struct ProviderResponse {
    /// The completion as the provider sent it.
    pub completion: ChatCompletion,
    /// Response headers worth keeping (rate-limit state, request ids), lower-case names.
    pub headers: BTreeMap<String, String>,
}

impl ProviderResponse {
    /// A response with no headers.
    ///
    /// ```
    /// let completion: elelem_core::ChatCompletion = serde_json::from_str(r#"{"choices":[]}"#).unwrap();
    /// let response = elelem_core::provider::ProviderResponse::new(completion);
    /// assert!(response.headers.is_empty());
    /// ```
    pub fn new(completion: ChatCompletion) -> Self {
        ProviderResponse {
            completion,
            headers: BTreeMap::new(),
        }
    }
}
