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
pub struct Responder {
    answer: Check<Option<ScriptedResponse>>,
    hidden: Option<Check<bool>>,
}

type Check<T> = Arc<dyn Fn(&RecordedRequest) -> T + Send + Sync>;

impl Responder {
    /// A responder calling `answer` for every request.
    pub fn new(
        answer: impl Fn(&RecordedRequest) -> Option<ScriptedResponse> + Send + Sync + 'static,
    ) -> Self {
        Responder {
            answer: Arc::new(answer),
            hidden: None,
        }
    }

    /// Leaves the requests `hidden` picks out of the server's record (a token
    /// endpoint sharing the server with the model routes, so that request
    /// counts are the model's).
    ///
    /// ```
    /// use elelem_testkit::{RecordedRequest, Responder};
    /// let responder = Responder::new(|_| None).hiding(|r| r.path == "/token");
    /// assert!(responder.hides(&RecordedRequest::new("POST", "/token", [], "")));
    /// ```
    pub fn hiding(
        mut self,
        hidden: impl Fn(&RecordedRequest) -> bool + Send + Sync + 'static,
    ) -> Self {
        self.hidden = Some(Arc::new(hidden));
        self
    }

    /// Its answer to `request`, if it has one.
    pub fn answer(&self, request: &RecordedRequest) -> Option<ScriptedResponse> {
        (self.answer)(request)
    }

    /// Whether `request` is left out of the record.
    pub fn hides(&self, request: &RecordedRequest) -> bool {
        self.hidden.as_ref().is_some_and(|hidden| hidden(request))
    }
}

impl std::fmt::Debug for Responder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Responder")
    }
}
