//! One batch of an embeddings call as an [`Operation`] of the engine: the
//! retries, the gate, the budget reservation and the one usage record per
//! attempt are the engine's.

use std::collections::BTreeMap;

use crate::client::engine::{CallPlan, Finished, Operation, Refused, Target};
use crate::client::gate::WithHeaders;
use crate::client::prepare::AttemptParams;
use crate::error::AttemptProblem;
use crate::money::Usd;
use crate::provider::{EmbeddingReply, EmbeddingWireRequest, ProviderError, WireRequest};
use crate::types::{EmbeddingResponse, Usage};

/// One batch: the texts and the request's settings (the model is the target's).
pub(super) struct Batch {
    pub wire: EmbeddingWireRequest,
    /// Elelem's count of the batch's input tokens, billed when the provider
    /// reports none.
    pub estimate: u64,
}

/// A provider's embeddings with the usage the engine records.
pub(super) struct Answer {
    reply: EmbeddingReply,
    usage: Usage,
}

impl WithHeaders for Answer {
    fn headers(&self) -> &BTreeMap<String, String> {
        &self.reply.headers
    }
}

/// What a batch gives back once accepted.
pub(super) struct Done {
    pub response: EmbeddingResponse,
    pub usage_estimated: bool,
    pub attempts: u32,
    pub cost: Usd,
}

/// The input-only usage the engine bills (no output tokens).
fn usage_of(prompt_tokens: u64) -> Usage {
    Usage {
        prompt_tokens: Some(prompt_tokens),
        completion_tokens: Some(0),
        total_tokens: Some(prompt_tokens),
        ..Usage::default()
    }
}

/// Whether `response` holds exactly one vector for each of `inputs` inputs
/// (each index once), or what is wrong with it.
fn check_indices(response: &EmbeddingResponse, inputs: usize) -> Result<(), String> {
    if response.data.len() != inputs {
        return Err(format!(
            "the provider answered {} vectors for {inputs} inputs",
            response.data.len()
        ));
    }
    let mut seen = vec![false; inputs];
    for item in &response.data {
        match seen.get_mut(item.index) {
            Some(slot) if !*slot => *slot = true,
            _ => {
                return Err(format!(
                    "the provider answered index {} twice or out of range for {inputs} inputs",
                    item.index
                ))
            }
        }
    }
    Ok(())
}

impl Operation for Batch {
    type Answer = Answer;
    type Accepted = ();
    type Output = Done;

    fn json_ladder(&self) -> bool {
        false
    }

    /// Unused by [`Batch::send`], which sends its typed embeddings request: the
    /// engine only reads it for `response_format`, which an embedding has none of.
    fn body(&self, _plan: &CallPlan, _target: &Target, _params: &AttemptParams) -> WireRequest {
        WireRequest::default()
    }

    fn send(
        &self,
        target: &Target,
        _body: WireRequest,
    ) -> impl std::future::Future<Output = Result<Answer, ProviderError>> + Send {
        // Boxed, as when this was an `async_trait` method: the engine's state
        // does not carry the batch's future (its request and the provider's).
        Box::pin(async move {
            let mut wire = self.wire.clone();
            wire.model = target.model.upstream.clone();
            let reply = target.provider.embeddings(wire).await?;
            let tokens = if reply.usage_reported {
                reply.response.usage.prompt_tokens
            } else {
                self.estimate
            };
            Ok(Answer {
                usage: usage_of(tokens),
                reply,
            })
        })
    }

    fn usage(answer: &Answer) -> Option<&Usage> {
        Some(&answer.usage)
    }

    fn judge(&self, _plan: &CallPlan, target: &Target, answer: &Answer) -> Result<(), Refused> {
        check_indices(&answer.reply.response, self.wire.input.len()).map_err(|reason| Refused {
            problem: AttemptProblem::Provider(ProviderError::invalid_body(
                &target.model.provider,
                reason,
                "",
            )),
            answer: String::new(),
        })
    }

    fn finish(
        &self,
        _plan: &mut CallPlan,
        answer: Answer,
        _accepted: (),
        finished: Finished<'_>,
    ) -> Done {
        let mut response = answer.reply.response;
        let tokens = answer.usage.prompt_tokens.unwrap_or(0);
        response.usage.prompt_tokens = tokens;
        response.usage.total_tokens = tokens;
        response.data.sort_by_key(|d| d.index);
        Done {
            response,
            usage_estimated: !answer.reply.usage_reported,
            attempts: finished.attempts,
            cost: finished.cost,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_input_needs_exactly_one_vector() {
        let ok = EmbeddingResponse::new("m", vec![vec![1.0], vec![2.0]], 1);
        assert_eq!(check_indices(&ok, 2), Ok(()));
        assert!(check_indices(&ok, 3).is_err());
        let mut twice = ok.clone();
        twice.data[1].index = 0;
        assert!(check_indices(&twice, 2).is_err());
        let mut outside = ok;
        outside.data[1].index = 7;
        assert!(check_indices(&outside, 2).is_err());
    }
}
