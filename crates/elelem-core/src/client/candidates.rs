//! Virtual models in the pipeline: which candidate answers now, how long it may
//! take, and which candidate comes next after a failure.
//!
//! A candidate is skipped before any attempt when its provider has no key, is
//! cooling down, or when the request cannot go to its model (images to a model
//! without vision, a prompt larger than its context window). An infrastructure
//! failure (timeout, 5xx, connection, exhausted rate-limit retries, auth, a
//! truncated answer) moves the call to the next candidate; a model-level failure
//! (no valid answer after the JSON ladder) also skips every later candidate
//! serving the same underlying model.

use std::collections::BTreeSet;
use std::future::Future;
use std::time::{Duration, Instant};

use super::elelem::Inner;
use super::engine::{check_vision, prompt_estimate, target, Target};
use crate::budget::Reservation;
use crate::catalogue::{Candidate, VirtualModel};
use crate::error::ElelemError;
use crate::later::Later;
use crate::provider::ProviderError;
use crate::routing::order::{order, Known};
use crate::routing::Routing;
use crate::tokens::check_context_window;
use crate::types::ChatRequest;

/// The candidates of `virtual_model` in the order this call tries them: its
/// routing applied to the catalogue's prices and what was measured so far.
fn ordered(inner: &Inner, virtual_model: &VirtualModel) -> Vec<Candidate> {
    if virtual_model.routing == Routing::default() {
        return virtual_model.candidates.clone();
    }
    let list = order(&virtual_model.candidates, &virtual_model.routing, |model| {
        let cost = inner.catalogue.callable(model).and_then(|entry| {
            let prices = entry.prices?;
            Some(prices.input.nanos().saturating_add(prices.output.nanos()))
        });
        Known {
            cost,
            measured: inner.accounting.performance.of(model),
        }
    });
    tracing::debug!(virtual_model = %virtual_model.id, order = ?list.iter().map(|c| c.model.as_str()).collect::<Vec<_>>(), "candidates ordered");
    list
}

/// The candidates of one call on a virtual model.
pub(crate) struct Candidates {
    /// `virtual:name`.
    pub virtual_id: String,
    list: Vec<Candidate>,
    /// The position of the candidate answering now.
    pub current: usize,
    /// When the current candidate's time is up.
    pub deadline: Instant,
    /// Underlying models that could not produce a valid answer.
    failed_underlying: BTreeSet<String>,
    /// Candidates passed over, each with its reason.
    pub skipped: Vec<String>,
}

impl Candidates {
    /// The first usable candidate of `virtual_model`, or the error that says why
    /// none is.
    pub fn start(
        inner: &Inner,
        request: &ChatRequest,
        instruction: Option<&str>,
        virtual_model: &VirtualModel,
    ) -> Result<(Candidates, Target), ElelemError> {
        let mut candidates = Candidates {
            virtual_id: virtual_model.id.clone(),
            list: ordered(inner, virtual_model),
            current: 0,
            deadline: Instant::now(),
            failed_underlying: BTreeSet::new(),
            skipped: Vec::new(),
        };
        match candidates.advance(inner, request, instruction, 0) {
            Some(first) => Ok((candidates, first)),
            None => Err(ElelemError::CandidatesExhausted {
                model: candidates.virtual_id,
                attempts: Vec::new(),
                skipped: candidates.skipped,
            }),
        }
    }

    /// The current candidate's time limit.
    pub fn timeout(&self) -> Duration {
        self.list
            .get(self.current)
            .map_or(crate::catalogue::DEFAULT_CANDIDATE_TIMEOUT, |c| c.timeout)
    }

    /// Runs one attempt of the current candidate, cut short at its deadline: a
    /// cut attempt is a [`ProviderError::Timeout`], and its budget reservation is
    /// released unsettled (its real cost is unknown, so the worst case counts).
    pub async fn within_deadline<T>(
        &self,
        target: &Target,
        send: impl Future<Output = Result<T, ProviderError>>,
        reservation: &mut Option<Reservation>,
    ) -> Result<T, ProviderError> {
        let deadline = tokio::time::Instant::from_std(self.deadline);
        match tokio::time::timeout_at(deadline, send).await {
            Ok(result) => result,
            Err(_) => {
                drop(reservation.take());
                Err(ProviderError::Timeout {
                    provider: target.model.provider.clone(),
                    after: self.timeout(),
                })
            }
        }
    }

    /// The current candidate's time left.
    pub fn time_left(&self) -> Duration {
        self.deadline.saturating_duration_since(Instant::now())
    }

    /// Moves to the next usable candidate after the current one failed;
    /// `model_level` marks the current candidate's underlying model as unable to
    /// answer, so candidates serving it are skipped too.
    pub fn next(
        &mut self,
        inner: &Inner,
        request: &ChatRequest,
        instruction: Option<&str>,
        model_level: bool,
    ) -> Option<Target> {
        if model_level {
            if let Some(current) = self.list.get(self.current) {
                self.failed_underlying.insert(current.underlying.clone());
            }
        }
        self.advance(inner, request, instruction, self.current + 1)
    }

    /// Makes the first usable candidate at or after `from` current.
    fn advance(
        &mut self,
        inner: &Inner,
        request: &ChatRequest,
        instruction: Option<&str>,
        from: usize,
    ) -> Option<Target> {
        for index in from..self.list.len() {
            let Some(candidate) = self.list.get(index) else {
                break;
            };
            match self.usable(inner, request, instruction, candidate) {
                Ok(target) => {
                    self.current = index;
                    self.deadline = Instant::now().later(candidate.timeout);
                    return Some(target);
                }
                Err(reason) => {
                    tracing::warn!(virtual_model = %self.virtual_id, candidate = %candidate.model, %reason, "skipping candidate");
                    self.skipped.push(format!("{}: {reason}", candidate.model));
                }
            }
        }
        None
    }

    /// The candidate's target, or why it cannot take the request now.
    fn usable(
        &self,
        inner: &Inner,
        request: &ChatRequest,
        instruction: Option<&str>,
        candidate: &Candidate,
    ) -> Result<Target, String> {
        if self.failed_underlying.contains(&candidate.underlying) {
            return Err(format!(
                "its underlying model {} already failed to answer",
                candidate.underlying
            ));
        }
        let target = target(inner, &candidate.model).map_err(|e| e.to_string())?;
        if let Some(remaining) = inner.gate.cooling_down(&target.model.provider) {
            return Err(format!(
                "{} is cooling down for {remaining:.1?} more after repeated failures",
                target.model.provider
            ));
        }
        check_vision(request, &target.model).map_err(|e| e.to_string())?;
        if inner.policy.context_check {
            check_context_window(
                &target.model,
                &request.messages,
                instruction,
                request.max_tokens,
                || prompt_estimate(&target.model, &request.messages, instruction),
            )
            .map_err(|e| e.to_string())?;
        }
        Ok(target)
    }
}
