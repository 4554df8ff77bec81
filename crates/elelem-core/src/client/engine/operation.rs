//! What differs between operations (chat, stream opening, legacy completion;
//! later Responses and embeddings): how to send one attempt and how to accept
//! its answer. Everything else is the engine's loop.

use async_trait::async_trait;

use super::plan::{CallPlan, Target};
use super::record::Settlement;
use crate::client::gate::WithHeaders;
use crate::client::prepare::AttemptParams;
use crate::error::AttemptProblem;
use crate::money::Usd;
use crate::provider::{ProviderError, WireRequest};
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

/// One kind of call the engine runs.
#[async_trait]
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
    /// loop's.
    async fn send(&self, target: &Target, body: WireRequest)
        -> Result<Self::Answer, ProviderError>;

    /// The usage to record now.
    fn usage(answer: &Self::Answer) -> Option<&Usage>;

    /// The completion to keep as the client's last response.
    fn completion(_answer: &Self::Answer) -> Option<&ChatCompletion> {
        None
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
