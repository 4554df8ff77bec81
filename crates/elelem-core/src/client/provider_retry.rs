//! The retry step after a provider failure, for calls without a JSON ladder
//! (streams before their first chunk, legacy completions), and the move to a
//! virtual model's next candidate when retrying is over.

use std::sync::Arc;
use std::time::{Duration, Instant};

use super::call::{retry_cause, write_record, AttemptRecord, Spend, Target};
use super::elelem::Inner;
use crate::catalogue::ModelEntry;
use crate::cost::{Adjustments, AttemptOutcome, RetryCause};
use crate::error::{AttemptError, AttemptProblem, ElelemError};
use crate::later::Later;
use crate::money::Usd;
use crate::provider::ProviderError;
use crate::retry::{Failure, RetryDecision, RetryState};

/// One call's attempts at a model: what the retry step reads and updates.
pub(crate) struct ProviderAttempts<'a> {
    pub inner: &'a Inner,
    pub call_id: u64,
    pub model: &'a ModelEntry,
    pub tags: &'a Arc<[String]>,
    pub temperature: Option<f64>,
    pub state: RetryState,
    pub errors: Vec<AttemptError>,
    pub cost: Usd,
    pub since: Instant,
    /// When the current virtual-model candidate's time is up: no retry waits past it.
    pub deadline: Option<Instant>,
}

/// The end of a model's attempts: the error, and the candidate to move on to
/// (virtual models only).
pub(crate) struct Ended {
    pub error: ElelemError,
    pub next: Option<Target>,
}

/// What a model's attempts start from: nothing for a new call, or what a virtual
/// model's failed candidate leaves to the next one.
pub(crate) struct Carried {
    pub attempts: u32,
    pub cost: Usd,
    pub errors: Vec<AttemptError>,
    pub since: Instant,
}

impl Carried {
    /// The start of a call.
    pub fn start() -> Carried {
        Carried {
            attempts: 0,
            cost: Usd::ZERO,
            errors: Vec::new(),
            since: Instant::now(),
        }
    }
}

impl<'a> ProviderAttempts<'a> {
    /// The attempts of `model`, continuing from `carried`, with no deadline.
    pub fn new(
        inner: &'a Inner,
        call_id: u64,
        model: &'a ModelEntry,
        tags: &'a Arc<[String]>,
        temperature: Option<f64>,
        carried: Carried,
    ) -> Self {
        ProviderAttempts {
            inner,
            call_id,
            model,
            tags,
            temperature,
            state: RetryState {
                attempts: carried.attempts,
                original_temperature: temperature,
                temperature,
                ..RetryState::default()
            },
            errors: carried.errors,
            cost: carried.cost,
            since: carried.since,
            deadline: None,
        }
    }

    /// Counts a new attempt and returns its number.
    pub fn begin(&mut self) -> u32 {
        self.state.attempts += 1;
        self.state.attempts
    }

    /// Records a failed attempt and lets the policy decide: the wait before the
    /// next attempt, or the end of this model's attempts (asking `next_candidate`
    /// for a virtual model's next candidate then).
    pub fn failed(
        &mut self,
        error: ProviderError,
        next_candidate: impl FnOnce() -> Option<Target>,
    ) -> Result<Duration, Box<Ended>> {
        let attempt = self.state.attempts;
        let failure = Failure::Provider(&error);
        let cause = retry_cause(&failure);
        let in_time = |after: Duration| {
            self.deadline
                .is_none_or(|d| Instant::now().later(after) < d)
        };
        let wait = match self.inner.policy.decide(&failure, &self.state) {
            RetryDecision::Retry { after }
                if attempt < self.inner.max_attempts && in_time(after) =>
            {
                Some(after)
            }
            _ => None,
        };
        let next = match wait {
            Some(_) => None,
            None => next_candidate(),
        };
        let (spent, now) = write_record(
            self.inner.sink.as_ref(),
            AttemptRecord {
                call_id: self.call_id,
                attempt,
                model: self.model,
                tags: self.tags,
                spend: Spend {
                    usage: None,
                    reported: None,
                },
                started: self.since,
                outcome: match (wait, &next) {
                    (None, None) => AttemptOutcome::Failed,
                    _ => AttemptOutcome::Retried(cause),
                },
                adjustments: Adjustments {
                    next_candidate: next.is_some(),
                    ..Adjustments::default()
                },
                stream_interrupted: false,
            },
        );
        self.cost += spent;
        self.since = now;
        tracing::warn!(attempt, model = %self.model.id, problem = %error, "attempt failed");
        self.errors.push(AttemptError {
            model: self.model.id.clone(),
            temperature: self.temperature,
            problem: AttemptProblem::Provider(error.clone()),
        });
        match wait {
            Some(after) => {
                if cause == RetryCause::RateLimit {
                    self.state.rate_limit_retries += 1;
                } else {
                    self.state.transient_retries += 1;
                }
                Ok(after)
            }
            None => Err(Box::new(Ended {
                error: ElelemError::Provider {
                    model: self.model.id.clone(),
                    error,
                    attempts: std::mem::take(&mut self.errors),
                },
                next,
            })),
        }
    }
}
