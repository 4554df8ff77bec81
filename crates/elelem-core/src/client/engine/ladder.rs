//! The *decide* step: after each failed attempt, what comes next. Pure (no I/O,
//! no clock): the loop passes in what it knows and carries out the step.

use std::time::Duration;

use crate::cost::{Adjustments, AttemptOutcome, RetryCause};
use crate::error::AttemptProblem;
use crate::provider::ProviderErrorKind;
use crate::retry::{Failure, RetryDecision, RetryPolicy, RetryState};

/// What the ladder knows about a failed attempt.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Situation<'a> {
    /// What went wrong.
    pub failure: Failure<'a>,
    /// The answer was cut at the output limit (a failure of its own only for
    /// virtual models, which then move on).
    pub truncated: bool,
    /// The attempt's number (from 1) and the call's limit.
    pub attempt: u32,
    pub max_attempts: u32,
    /// Whether the operation answers with JSON that can be retried, reformatted
    /// or sent to a fallback (a chat call); streams and legacy completions only
    /// wait and retry.
    pub json_ladder: bool,
    /// Whether a fallback model is left.
    pub fallback_left: bool,
    /// For a virtual model, the current candidate's time left.
    pub time_left: Option<Duration>,
}

/// The step after a failed attempt.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Step {
    /// Send the same attempt again after a delay.
    Wait(Duration),
    /// Send again with the rejected answer fed back, at this temperature.
    RetryJson { temperature: Option<f64> },
    /// Send again without `response_format`.
    RemoveResponseFormat,
    /// Move to the next fallback model.
    Fallback,
    /// Move to the virtual model's next candidate; `model_level` says the
    /// candidate's underlying model itself could not answer.
    NextCandidate { model_level: bool },
    /// Stop: the call fails with every attempt kept.
    Fail,
}

/// Whether a refused answer goes to the JSON fixer before the ladder's next
/// step: only an answer that is not JSON at all (local repair already failed on
/// it), only for operations with a JSON ladder, and only when a fixer is set.
pub(crate) fn fix_first(problem: &AttemptProblem, fixer_set: bool, json_ladder: bool) -> bool {
    fixer_set && json_ladder && matches!(problem, AttemptProblem::JsonParse(_))
}

/// Decides the step after a failed attempt: the retry policy's decision, bounded
/// by the attempt limit, what the operation can do, the fallbacks left and a
/// virtual model's candidate deadline.
pub(crate) fn next_step(
    situation: Situation<'_>,
    policy: &dyn RetryPolicy,
    state: &RetryState,
) -> Step {
    let is_json_problem = !situation.truncated && situation.failure.is_json_problem();
    let mut decision = if situation.truncated || situation.attempt >= situation.max_attempts {
        RetryDecision::Fail
    } else {
        policy.decide(&situation.failure, state)
    };
    if !situation.json_ladder && !matches!(decision, RetryDecision::Retry { .. }) {
        decision = RetryDecision::Fail;
    }
    if decision == RetryDecision::UseFallback && !situation.fallback_left {
        decision = RetryDecision::Fail;
    }
    if let Some(left) = situation.time_left {
        let wait = match decision {
            RetryDecision::Retry { after } => after,
            _ => Duration::ZERO,
        };
        if decision == RetryDecision::Fail || wait >= left {
            return Step::NextCandidate {
                model_level: decision == RetryDecision::Fail && is_json_problem,
            };
        }
    }
    match decision {
        RetryDecision::Retry { after } => Step::Wait(after),
        RetryDecision::RetryJson { temperature } => Step::RetryJson { temperature },
        RetryDecision::RemoveResponseFormat => Step::RemoveResponseFormat,
        RetryDecision::UseFallback => Step::Fallback,
        RetryDecision::Fail => Step::Fail,
    }
}

/// Why an attempt was retried, as its usage record says.
pub(crate) fn retry_cause(failure: &Failure<'_>, truncated: bool) -> RetryCause {
    if truncated {
        return RetryCause::Transient;
    }
    match failure {
        Failure::JsonParse(_) => RetryCause::JsonParse,
        Failure::JsonSchema(_) => RetryCause::JsonSchema,
        Failure::Provider(error) => match error.kind() {
            Some(ProviderErrorKind::RateLimited) => RetryCause::RateLimit,
            Some(ProviderErrorKind::ApiJsonValidation) => RetryCause::ApiJsonValidation,
            _ => RetryCause::Transient,
        },
    }
}

/// The failed attempt's outcome and adjustments, once the step is carried out:
/// `moved_on` says a next candidate was found (a `NextCandidate` step without one
/// ends the call).
pub(crate) fn outcome_of(
    step: &Step,
    cause: RetryCause,
    moved_on: bool,
    temperature: Option<f64>,
    response_format_sent: bool,
) -> (AttemptOutcome, Adjustments) {
    if moved_on {
        let adjustments = Adjustments {
            next_candidate: true,
            ..Adjustments::default()
        };
        return (AttemptOutcome::Retried(cause), adjustments);
    }
    let adjustments = Adjustments {
        temperature_reduced: matches!(step, Step::RetryJson { temperature: Some(t) } if temperature.is_some_and(|c| *t < c)),
        response_format_removed: *step == Step::RemoveResponseFormat && response_format_sent,
        fallback_model_used: *step == Step::Fallback,
        ..Adjustments::default()
    };
    let outcome = match step {
        Step::Fail | Step::NextCandidate { .. } => AttemptOutcome::Failed,
        _ => AttemptOutcome::Retried(cause),
    };
    (outcome, adjustments)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::provider::{HttpError, ProviderError};
    use crate::retry::DefaultRetryPolicy;

    fn situation(failure: Failure<'_>) -> Situation<'_> {
        Situation {
            failure,
            truncated: false,
            attempt: 1,
            max_attempts: 10,
            json_ladder: true,
            fallback_left: false,
            time_left: None,
        }
    }

    fn rate_limited() -> ProviderError {
        ProviderError::Http(Box::new(HttpError::from_status("p", 429, None)))
    }

    #[test]
    fn a_rate_limit_waits_and_a_bad_request_fails() {
        let policy = DefaultRetryPolicy::default();
        let error = rate_limited();
        let step = next_step(
            situation(Failure::Provider(&error)),
            &policy,
            &RetryState::default(),
        );
        assert_eq!(step, Step::Wait(Duration::from_secs(1)));
        let bad = ProviderError::Http(Box::new(HttpError::from_status("p", 400, None)));
        let step = next_step(
            situation(Failure::Provider(&bad)),
            &policy,
            &RetryState::default(),
        );
        assert_eq!(step, Step::Fail);
    }

    #[test]
    fn the_attempt_limit_ends_the_ladder() {
        let policy = DefaultRetryPolicy::default();
        let error = rate_limited();
        let mut s = situation(Failure::Provider(&error));
        s.attempt = 10;
        assert_eq!(next_step(s, &policy, &RetryState::default()), Step::Fail);
    }

    #[test]
    fn a_json_failure_climbs_the_ladder_only_where_the_operation_has_one() {
        let policy = DefaultRetryPolicy::default();
        let state = RetryState {
            original_temperature: Some(1.0),
            temperature: Some(1.0),
            ..RetryState::default()
        };
        let step = next_step(situation(Failure::JsonParse("bad")), &policy, &state);
        assert!(matches!(step, Step::RetryJson { .. }), "{step:?}");
        let mut stream = situation(Failure::JsonParse("bad"));
        stream.json_ladder = false;
        assert_eq!(next_step(stream, &policy, &state), Step::Fail);
    }

    #[test]
    fn a_fallback_is_used_only_when_one_is_left() {
        let policy = DefaultRetryPolicy::default().max_json_retries(0);
        let state = RetryState {
            json_retries: 5,
            response_format_removed: true,
            fallback_available: true,
            ..RetryState::default()
        };
        let mut s = situation(Failure::JsonParse("bad"));
        s.fallback_left = true;
        assert_eq!(next_step(s, &policy, &state), Step::Fallback);
        s.fallback_left = false;
        assert_eq!(next_step(s, &policy, &state), Step::Fail);
    }

    #[test]
    fn a_virtual_model_moves_on_when_a_wait_would_pass_its_deadline() {
        let policy = DefaultRetryPolicy::default();
        let error = rate_limited();
        let mut s = situation(Failure::Provider(&error));
        s.time_left = Some(Duration::from_millis(500));
        assert_eq!(
            next_step(s, &policy, &RetryState::default()),
            Step::NextCandidate { model_level: false }
        );
        s.time_left = Some(Duration::from_secs(5));
        assert_eq!(
            next_step(s, &policy, &RetryState::default()),
            Step::Wait(Duration::from_secs(1))
        );
    }

    #[test]
    fn a_truncated_answer_moves_a_virtual_model_on_as_an_infrastructure_failure() {
        let policy = DefaultRetryPolicy::default();
        let mut s = situation(Failure::JsonParse("cut"));
        s.truncated = true;
        s.time_left = Some(Duration::from_secs(60));
        assert_eq!(
            next_step(s, &policy, &RetryState::default()),
            Step::NextCandidate { model_level: false }
        );
        assert_eq!(retry_cause(&s.failure, true), RetryCause::Transient);
    }

    #[test]
    fn only_a_parse_failure_with_a_fixer_and_a_json_ladder_is_fixed() {
        let parse = AttemptProblem::JsonParse("expected value".into());
        assert!(fix_first(&parse, true, true));
        assert!(!fix_first(&parse, false, true));
        assert!(!fix_first(&parse, true, false));
        let schema = AttemptProblem::Schema(vec!["age: not an integer".into()]);
        assert!(!fix_first(&schema, true, true));
        assert!(!fix_first(&AttemptProblem::Truncated, true, true));
    }

    #[test]
    fn outcomes_say_what_the_step_did() {
        let (outcome, adj) = outcome_of(&Step::Fail, RetryCause::Transient, false, None, false);
        assert_eq!(outcome, AttemptOutcome::Failed);
        assert_eq!(adj, Adjustments::default());
        let step = Step::RetryJson {
            temperature: Some(0.5),
        };
        let (outcome, adj) = outcome_of(&step, RetryCause::JsonParse, false, Some(1.0), true);
        assert_eq!(outcome, AttemptOutcome::Retried(RetryCause::JsonParse));
        assert!(adj.temperature_reduced);
        let step = Step::NextCandidate { model_level: true };
        let (outcome, adj) = outcome_of(&step, RetryCause::JsonParse, true, None, false);
        assert_eq!(outcome, AttemptOutcome::Retried(RetryCause::JsonParse));
        assert!(adj.next_candidate);
        let (outcome, _) = outcome_of(&step, RetryCause::JsonParse, false, None, false);
        assert_eq!(outcome, AttemptOutcome::Failed);
    }
}
