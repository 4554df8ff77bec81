//! What differs between operations (chat, stream opening, legacy completion;
//! later Responses and embeddings): how to send one attempt and how to accept
//! its answer. Everything else is the engine's loop.

use std::future::Future;

use futures_core::future::BoxFuture;

use super::plan::{CallPlan, Target};
use super::record::Settlement;
use crate::client::gate::WithHeaders;
use crate::client::parts::LastResponse;
use crate::client::prepare::AttemptParams;
use crate::cost::Adjustments;
use crate::error::AttemptProblem;
use crate::money::Usd;
use crate::provider::{HttpError, ProviderError, WireRequest};
use crate::types::{ChatCompletion, Usage};

/// An answer the operation refused (a JSON answer that does not parse or
/// validate, a truncated answer on a virtual model).
pub(crate) struct Refused {
    pub problem: AttemptProblem,
    /// The rejected answer text, fed back on a JSON retry.
    pub answer: String,
}

/// What the loop knows once an attempt was accepted.
pub(crate) struct Finished<'a> {
    pub target: &'a Target,
    /// Attempts sent, this one included.
    pub attempts: u32,
    /// The cost of every attempt already recorded (for a stream, those before it).
    pub cost: Usd,
    /// For an operation whose usage comes later (a stream): how to record it.
    pub settlement: Option<Settlement>,
}

/// A refused answer mended by the JSON fixer: what the operation accepts in its
/// place, and what the fixer's call cost.
pub(crate) struct Fixed<A> {
    pub accepted: A,
    pub cost: Usd,
}

/// The JSON fixer's call (see [`Operation::fix`]): the answer given back, with
/// the fix or the refusal.
pub(crate) type Fixing<'a, Answer, Accepted> =
    BoxFuture<'a, (Answer, Result<Fixed<Accepted>, Refused>)>;

/// One kind of call the engine runs.
///
/// Not an `async_trait`: the engine is generic over its operation, so
/// [`send`](Operation::send) is the operation's own future, with no box and no
/// copy of its own (a chat attempt's is the provider's boxed future itself).
pub(crate) trait Operation: Sync {
    /// What the provider answered.
    type Answer: WithHeaders + Send;
    /// What the operation keeps from an accepted answer for [`Operation::finish`].
    type Accepted: Send;
    /// What the caller gets.
    type Output;

    /// Whether a rejected answer climbs the JSON ladder (retry with feedback,
    /// without `response_format`, fallback models); otherwise the only retry is a
    /// wait on a provider failure.
    fn json_ladder(&self) -> bool;

    /// Whether the answer's usage is recorded when the answer ends (a stream's
    /// settlement) instead of at once.
    fn settles_later(&self) -> bool {
        false
    }

    /// The body of one attempt to `target` with `params`.
    fn body(&self, plan: &CallPlan, target: &Target, params: &AttemptParams) -> WireRequest;

    /// Sends one attempt; the gate, the budget and the candidate deadline are the
    /// loop's. The future is made in the attempt's span just before the gate,
    /// which may refuse the attempt: nothing may be sent before it is polled.
    fn send(
        &self,
        target: &Target,
        body: WireRequest,
    ) -> impl Future<Output = Result<Self::Answer, ProviderError>> + Send;

    /// The usage to record now.
    fn usage(answer: &Self::Answer) -> Option<&Usage>;

    /// The service tier that answered (`flex`, `priority`), billed at its own
    /// prices.
    fn service_tier(_answer: &Self::Answer) -> Option<&str> {
        None
    }

    /// The completion to keep as the client's last response, taken from a
    /// refused answer (no copy: the answer is not used again).
    fn into_completion(_answer: Self::Answer) -> Option<ChatCompletion> {
        None
    }

    /// The accepted answer as the client's last response, kept without a copy
    /// when the provider can decode its reply body again.
    fn last_response(_answer: &Self::Answer, _target: &Target) -> Option<LastResponse> {
        None
    }

    /// What the success record says of how an accepted answer was reached (a
    /// locally repaired JSON answer, for chat).
    fn adjustments(_accepted: &Self::Accepted) -> Adjustments {
        Adjustments::default()
    }

    /// Asks the client's JSON fixer to mend a refused answer (see
    /// `ladder::fix_first`) and judges the mended one; gives the answer back
    /// with the fix, or with the refusal when the operation has no fixer step or
    /// the fix failed. The answer is moved in and out (not borrowed) so that the
    /// future stays `Send` for answers that are not `Sync` (an open stream).
    /// Boxed: the fixer is a chat call of its own (the engine inside the
    /// engine), and a rare one, so the loop's state does not carry it.
    fn fix<'a>(
        &'a self,
        _plan: &'a CallPlan,
        _target: &'a Target,
        answer: Self::Answer,
        refused: Refused,
    ) -> Fixing<'a, Self::Answer, Self::Accepted>
    where
        Self::Accepted: 'a,
        Self::Answer: 'a,
    {
        Box::pin(std::future::ready((answer, Err(refused))))
    }

    /// Accepts or refuses an answer.
    fn judge(
        &self,
        plan: &CallPlan,
        target: &Target,
        answer: &Self::Answer,
    ) -> Result<Self::Accepted, Refused>;

    /// The caller's result from an accepted answer.
    fn finish(
        &self,
        plan: &mut CallPlan,
        answer: Self::Answer,
        accepted: Self::Accepted,
        finished: Finished<'_>,
    ) -> Self::Output;
}

/// The error a 200 answer holds instead of choices (`{"error": {...}}`, as some
/// gateways send for an upstream failure), as the HTTP error it stands for: its
/// `error.code` when that is an HTTP status, else 502 (so retried unless the code
/// says a request error). An answer with neither choices nor an error is a broken
/// body ([`ProviderError::InvalidBody`], retried: every API this crate speaks
/// always sends at least one choice, a refused prompt included, so none means a
/// glitch). `None` for a real answer.
pub(crate) fn error_in_answer(
    provider: &str,
    has_choices: bool,
    extra: &serde_json::Map<String, serde_json::Value>,
) -> Option<ProviderError> {
    if has_choices {
        return None;
    }
    let Some(error) = extra.get("error").filter(|e| !e.is_null()) else {
        return Some(ProviderError::invalid_body(
            provider,
            "a 200 answer with no choice",
            "",
        ));
    };
    let code = error.get("code");
    let status = code
        .and_then(serde_json::Value::as_u64)
        .and_then(|c| u16::try_from(c).ok())
        .filter(|c| (400..=599).contains(c))
        .unwrap_or(502);
    let text = |key: &str| {
        error
            .get(key)
            .and_then(serde_json::Value::as_str)
            .map(str::to_owned)
    };
    let mut http =
        HttpError::from_status(provider, status, code.and_then(serde_json::Value::as_str));
    http.message = Some(text("message").unwrap_or_else(|| {
        "the provider answered 200 with an error object and no choices".to_owned()
    }));
    http.error_type = text("type");
    http.error_object = Some(error.clone());
    Some(ProviderError::Http(Box::new(http)))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::provider::ProviderErrorKind;
    use serde_json::json;

    fn extra(value: serde_json::Value) -> serde_json::Map<String, serde_json::Value> {
        value.as_object().unwrap().clone()
    }

    #[test]
    fn an_error_object_without_choices_is_the_error_it_holds() {
        let body = extra(json!({"error": {"message": "Upstream overloaded", "code": 503}}));
        let error = error_in_answer("openrouter", false, &body).unwrap();
        assert_eq!(error.kind(), Some(ProviderErrorKind::Server));
        assert!(error.to_string().contains("Upstream overloaded"), "{error}");
        let limited = extra(json!({"error": {"message": "slow down", "code": 429}}));
        let error = error_in_answer("p", false, &limited).unwrap();
        assert_eq!(error.kind(), Some(ProviderErrorKind::RateLimited));
        let odd = extra(json!({"error": "boom"}));
        assert_eq!(
            error_in_answer("p", false, &odd).unwrap().kind(),
            Some(ProviderErrorKind::Server)
        );
    }

    #[test]
    fn a_real_answer_is_not_an_error_and_no_choice_is_a_broken_body() {
        let body = extra(json!({"error": {"message": "x"}}));
        assert!(error_in_answer("p", true, &body).is_none());
        for no_choice in [json!({"error": null}), json!({})] {
            let error = error_in_answer("p", false, &extra(no_choice)).unwrap();
            assert!(
                matches!(error, ProviderError::InvalidBody { .. }),
                "{error:?}"
            );
            assert!(error.is_retryable());
        }
    }
}
