//! [`Responder`]: answers chosen from the request itself, before the script.

use std::sync::Arc;

use crate::{RecordedRequest, ScriptedResponse};

/// A function answering some requests itself (`Some`), before the script and
/// the routes: a credential check refusing a request the way the real API
/// does, or a token endpoint. `None` lets the request through.
///
/// ```
/// use elelem_testkit::{Responder, ScriptedResponse};
/// let deny_all = Responder::new(|_| Some(ScriptedResponse::json(403, serde_json::json!({}))));
/// # let _ = deny_all;
/// ```
#[derive(Clone)]
pub struct Responder(Arc<dyn Fn(&RecordedRequest) -> Option<ScriptedResponse> + Send + Sync>);

impl Responder {
    /// A responder calling `answer` for every request.
    pub fn new(
        answer: impl Fn(&RecordedRequest) -> Option<ScriptedResponse> + Send + Sync + 'static,
    ) -> Self {
        Responder(Arc::new(answer))
    }

    /// Its answer to `request`, if it has one.
    pub fn answer(&self, request: &RecordedRequest) -> Option<ScriptedResponse> {
        (self.0)(request)
    }
}

impl std::fmt::Debug for Responder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Responder")
    }
}
