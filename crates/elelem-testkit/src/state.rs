//! [`State`]: the script queue and the request log shared by all connections.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use serde_json::json;

use crate::limit::{Verdict, WindowLimit};
use crate::{RandomFaults, RecordedRequest, ScriptedResponse};

/// Message of the default fallback answer, used when the queue is empty.
pub(crate) const NO_SCRIPT_LEFT: &str =
    "testkit: no scripted response left (push one with TestServer::push or set a fallback with TestServer::set_fallback)";

/// Shared, lock-protected state of one server.
#[derive(Debug)]
pub(crate) struct State {
    queue: Mutex<VecDeque<ScriptedResponse>>,
    fallback: Mutex<ScriptedResponse>,
    models: Mutex<Vec<String>>,
    requests: Mutex<Vec<RecordedRequest>>,
    limit: Mutex<Option<WindowLimit>>,
    /// Lenient servers answer every chat request from the script.
    lenient: AtomicBool,
    /// Credentials (access key id, secret) Bedrock requests must be signed with.
    sigv4: Mutex<Option<(String, String)>>,
    /// The Responses API's stored responses.
    pub(crate) responses: crate::responses::Store,
    /// Answers requests before routing (credential checks, token endpoints).
    responder: Mutex<Option<crate::responder::Responder>>,
    /// A random share of chat answers replaced by faults, when set.
    random_faults: Mutex<Option<Arc<RandomFaults>>>,
}

impl Default for State {
    fn default() -> Self {
        Self {
            queue: Mutex::default(),
            fallback: Mutex::new(default_fallback()),
            models: Mutex::default(),
            requests: Mutex::default(),
            limit: Mutex::default(),
            lenient: AtomicBool::new(false),
            sigv4: Mutex::default(),
            responses: crate::responses::Store::default(),
            responder: Mutex::default(),
            random_faults: Mutex::default(),
        }
    }
}

/// The 500 answer given when nothing is scripted.
fn default_fallback() -> ScriptedResponse {
    ScriptedResponse::json(
        500,
        json!({"error": {
            "message": NO_SCRIPT_LEFT,
            "type": "server_error",
            "param": null,
            "code": null
        }}),
    )
}

/// Lock a mutex, ignoring poisoning (a panicking test thread must not take the
/// whole server down with it).
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl State {
    pub(crate) fn push(&self, answers: impl IntoIterator<Item = ScriptedResponse>) {
        lock(&self.queue).extend(answers);
    }

    /// The next scripted answer, or a copy of the fallback (or a random fault).
    pub(crate) fn next_answer(&self) -> ScriptedResponse {
        let random = lock(&self.random_faults).clone();
        if let Some(fault) = random.and_then(|r| r.pick()) {
            return fault;
        }
        let next = lock(&self.queue).pop_front();
        next.unwrap_or_else(|| lock(&self.fallback).clone())
    }

    pub(crate) fn set_responder(&self, responder: Option<crate::responder::Responder>) {
        *lock(&self.responder) = responder;
    }

    /// The responder's answer to `request`, when it has one, and whether the
    /// request stays out of the record.
    pub(crate) fn respond(&self, request: &RecordedRequest) -> (Option<ScriptedResponse>, bool) {
        match lock(&self.responder).clone() {
            Some(responder) => (responder.answer(request), responder.hides(request)),
            None => (None, false),
        }
    }

    pub(crate) fn pending(&self) -> usize {
        lock(&self.queue).len()
    }

    pub(crate) fn set_random_faults(&self, faults: Option<Arc<RandomFaults>>) {
        *lock(&self.random_faults) = faults;
    }

    pub(crate) fn set_fallback(&self, answer: ScriptedResponse) {
        *lock(&self.fallback) = answer;
    }

    pub(crate) fn set_models(&self, models: Vec<String>) {
        *lock(&self.models) = models;
    }

    pub(crate) fn models(&self) -> Vec<String> {
        lock(&self.models).clone()
    }

    pub(crate) fn record(&self, request: RecordedRequest) {
        lock(&self.requests).push(request);
    }

    pub(crate) fn requests(&self) -> Vec<RecordedRequest> {
        lock(&self.requests).clone()
    }

    pub(crate) fn last_request(&self) -> Option<RecordedRequest> {
        lock(&self.requests).last().cloned()
    }

    pub(crate) fn request_count(&self) -> usize {
        lock(&self.requests).len()
    }

    pub(crate) fn set_rate_limit(&self, limit: Option<WindowLimit>) {
        *lock(&self.limit) = limit;
    }

    /// The answer to a chat request: the next scripted one with the rate-limit
    /// headers, or the 429 when over the limit (the script is then not consumed).
    pub(crate) fn next_limited_answer(&self) -> ScriptedResponse {
        let verdict = lock(&self.limit).as_mut().map(WindowLimit::check);
        match verdict {
            None => self.next_answer(),
            Some(Verdict::Refused(answer)) => answer,
            Some(Verdict::Allowed(headers)) => headers
                .into_iter()
                .fold(self.next_answer(), |answer, (name, value)| {
                    answer.header(name, value)
                }),
        }
    }

    pub(crate) fn rate_limited_count(&self) -> u64 {
        lock(&self.limit).as_ref().map_or(0, WindowLimit::refused)
    }

    pub(crate) fn clear_requests(&self) {
        lock(&self.requests).clear();
    }

    /// Whether requests are checked as the real APIs check them.
    pub(crate) fn strict(&self) -> bool {
        !self.lenient.load(Ordering::Relaxed)
    }

    pub(crate) fn set_strict(&self, strict: bool) {
        self.lenient.store(!strict, Ordering::Relaxed);
    }

    pub(crate) fn sigv4(&self) -> Option<(String, String)> {
        lock(&self.sigv4).clone()
    }

    pub(crate) fn set_sigv4(&self, credentials: Option<(String, String)>) {
        *lock(&self.sigv4) = credentials;
    }
}
