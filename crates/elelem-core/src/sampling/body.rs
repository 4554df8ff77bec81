//! Fitting the sampling settings to one model before sending: refusing what the
//! model cannot do (constrained decoding, a bad thinking budget) and removing, with
//! a debug log, what its catalogue entry says it does not take.

use serde_json::Value;

use super::thinking;
use crate::catalogue::ModelEntry;
use crate::error::ElelemError;
use crate::provider::WireRequest;
use crate::types::ChatRequest;

/// OpenAI's sampling fields that its reasoning models reject together with
/// `temperature`: removed for every model whose entry has `temperature = false`.
const SAMPLING_FIELDS: &[&str] = &[
    "top_p",
    "frequency_penalty",
    "presence_penalty",
    "logprobs",
    "top_logprobs",
];

/// Refuses, before anything is sent, a request this model cannot serve: a
/// grammar on a model without constrained decoding, an empty grammar, or a
/// thinking budget below the minimum or not below `max_tokens`.
pub(crate) fn check_request(request: &ChatRequest, model: &ModelEntry) -> Result<(), ElelemError> {
    if let Some(grammar) = &request.grammar {
        if let Some(problem) = grammar.problem() {
            return Err(ElelemError::InvalidRequest {
                reason: format!("{problem}; give the grammar, regex or choices to constrain to"),
            });
        }
        let caps = model.capabilities;
        if !caps.structured_outputs && !caps.guided_decoding {
            return Err(ElelemError::InvalidRequest {
                reason: format!(
                    "{} has no constrained decoding (its catalogue entry has neither `structured_outputs` nor `guided_decoding`); use a vLLM-style server and declare it in a models file (capabilities = {{ structured_outputs = true }}), or ask for JSON with a schema instead",
                    model.id
                ),
            });
        }
    }
    if model.capabilities.reasoning {
        if let Some(budget) = request.extra.get("thinking").and_then(thinking::budget_of) {
            if budget < u64::from(thinking::MIN_THINKING_BUDGET) {
                return Err(ElelemError::InvalidRequest {
                    reason: format!(
                        "a thinking budget of {budget} tokens is below the minimum of {}; raise it",
                        thinking::MIN_THINKING_BUDGET
                    ),
                });
            }
            if let Some(max_tokens) = request.max_tokens.filter(|m| u64::from(*m) <= budget) {
                return Err(ElelemError::InvalidRequest {
                    reason: format!(
                        "the thinking budget ({budget} tokens) must be below max_tokens ({max_tokens}); raise max_tokens or lower the budget"
                    ),
                });
            }
        }
    }
    Ok(())
}

/// Removes a field the model does not take, saying so at debug level.
fn drop_field(body: &mut WireRequest, field: &str, model: &ModelEntry, why: &str) {
    if body.remove(field).is_some() {
        tracing::debug!(model = %model.id, field, why, "parameter not sent");
    }
}

/// The `reasoning_effort` closest to a thinking budget (the inverse of the
/// budgets Google's endpoints use for each effort).
fn effort_for(budget: u64) -> &'static str {
    match budget {
        0..=8191 => "low",
        8192..=24575 => "medium",
        _ => "high",
    }
}

/// Fits the wire body's sampling settings to the model: removes what its entry
/// says it does not take, writes the thinking setting in the form it takes, and
/// adds the grammar in its constrained-decoding form.
pub(crate) fn fit_body(body: &mut WireRequest, request: &ChatRequest, model: &ModelEntry) {
    let caps = model.capabilities;
    if !caps.temperature {
        for field in SAMPLING_FIELDS {
            drop_field(body, field, model, "the model takes no sampling settings");
        }
    }
    if !caps.top_k {
        drop_field(body, "top_k", model, "the model takes no top_k");
    }
    fit_thinking(body, model);
    if let Some(grammar) = &request.grammar {
        if caps.structured_outputs {
            body.set("structured_outputs", grammar.structured_outputs());
        } else if caps.guided_decoding {
            let (field, value) = grammar.guided_field();
            body.set(field, value);
        }
    }
}

/// `thinking` in the form the model takes: Anthropic's shape for reasoning models,
/// a `reasoning_effort` for models that take one, nothing for the others.
fn fit_thinking(body: &mut WireRequest, model: &ModelEntry) {
    let Some(setting) = body.get("thinking") else {
        return;
    };
    let budget = thinking::budget_of(&setting);
    let caps = model.capabilities;
    match budget {
        None if setting.get("enabled").is_some() => {
            drop_field(body, "thinking", model, "thinking is off");
        }
        Some(budget) if caps.reasoning_effort => {
            body.remove("thinking");
            if body.get("reasoning_effort").is_none() {
                body.set("reasoning_effort", Value::from(effort_for(budget)));
            }
        }
        Some(budget) if caps.reasoning => {
            let Ok(budget) = u32::try_from(budget) else {
                drop_field(
                    body,
                    "thinking",
                    model,
                    "the thinking budget is out of range",
                );
                return;
            };
            body.set("thinking", thinking::enabled(budget));
        }
        _ if !caps.reasoning => drop_field(body, "thinking", model, "the model does not reason"),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use serde_json::json;

    use super::*;
    use crate::catalogue::Capabilities;
    use crate::Grammar;

    fn model(caps: Capabilities) -> ModelEntry {
        let mut m = ModelEntry::unlisted("p", "m");
        m.capabilities = caps;
        m
    }

    fn body_of(request: &ChatRequest, model: &ModelEntry) -> serde_json::Map<String, Value> {
        let mut body = WireRequest::new(request.extra.clone());
        fit_body(&mut body, request, model);
        body.to_map()
    }

    #[test]
    fn sampling_fields_follow_the_temperature_capability() {
        let r = ChatRequest::new("p:m", vec![])
            .top_p(0.5)
            .presence_penalty(0.1)
            .frequency_penalty(0.2)
            .logprobs(Some(2))
            .seed(3)
            .stop(["X"])
            .user("u")
            .n(2);
        let all = body_of(&r, &model(Capabilities::default()));
        assert_eq!(all, r.extra);
        let reasoning = model(Capabilities {
            temperature: false,
            ..Capabilities::default()
        });
        let kept = body_of(&r, &reasoning);
        let mut keys: Vec<&str> = kept.keys().map(String::as_str).collect();
        keys.sort_unstable();
        assert_eq!(keys, ["n", "seed", "stop", "user"]);
    }

    #[test]
    fn top_k_needs_its_capability() {
        let r = ChatRequest::new("p:m", vec![]).top_k(5);
        assert_eq!(body_of(&r, &model(Capabilities::default()))["top_k"], 5);
        let without = model(Capabilities {
            top_k: false,
            ..Capabilities::default()
        });
        assert!(body_of(&r, &without).get("top_k").is_none());
    }

    #[test]
    fn grammar_takes_the_form_of_the_entry_and_is_refused_elsewhere() {
        let r = ChatRequest::new("p:m", vec![]).grammar(Grammar::Choice(vec!["a".into()]));
        let new = model(Capabilities {
            structured_outputs: true,
            ..Capabilities::default()
        });
        assert!(check_request(&r, &new).is_ok());
        assert_eq!(
            body_of(&r, &new)["structured_outputs"],
            json!({"choice": ["a"]})
        );
        let old = model(Capabilities {
            guided_decoding: true,
            ..Capabilities::default()
        });
        assert_eq!(body_of(&r, &old)["guided_choice"], json!(["a"]));
        let error = check_request(&r, &model(Capabilities::default())).unwrap_err();
        assert!(
            error.to_string().contains("no constrained decoding"),
            "{error}"
        );
        let empty = ChatRequest::new("p:m", vec![]).grammar(Grammar::Regex(" ".into()));
        assert!(check_request(&empty, &new).is_err());
    }

    #[test]
    fn thinking_is_checked_and_fitted() {
        let reasoning = model(Capabilities {
            reasoning: true,
            ..Capabilities::default()
        });
        let small = ChatRequest::new("p:m", vec![]).thinking(512);
        assert!(check_request(&small, &reasoning).is_err());
        let over = ChatRequest::new("p:m", vec![])
            .thinking(2048)
            .max_tokens(2048);
        assert!(check_request(&over, &reasoning).is_err());
        let alt = ChatRequest::new("p:m", vec![])
            .extra("thinking", json!({"enabled": true, "budget_tokens": 2048}))
            .max_tokens(4096);
        assert!(check_request(&alt, &reasoning).is_ok());
        assert_eq!(
            body_of(&alt, &reasoning)["thinking"],
            json!({"type": "enabled", "budget_tokens": 2048})
        );
        let off = ChatRequest::new("p:m", vec![]).extra("thinking", json!({"enabled": false}));
        assert!(body_of(&off, &reasoning).get("thinking").is_none());
        let effort = model(Capabilities {
            reasoning: true,
            reasoning_effort: true,
            ..Capabilities::default()
        });
        let body = body_of(&ChatRequest::new("p:m", vec![]).thinking(10_000), &effort);
        assert_eq!(body.get("thinking"), None);
        assert_eq!(body["reasoning_effort"], "medium");
        let plain = body_of(&alt, &model(Capabilities::default()));
        assert!(plain.get("thinking").is_none());
        // Not checked where it is not sent.
        assert!(check_request(&small, &model(Capabilities::default())).is_ok());
    }
}
