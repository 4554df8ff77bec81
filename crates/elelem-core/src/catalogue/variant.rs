//! Model variants in ids: `openai:o3-mini?reasoning=high` is `openai:o3-mini`
//! sent with a reasoning effort, without a catalogue entry of its own.
//!
//! Keys:
//! - `reasoning` = `none` | `minimal` | `low` | `medium` | `high`: the
//!   `reasoning_effort` of models that take one (OpenAI's o-series and GPT-5,
//!   Gemini, where it becomes `thinkingConfig.thinkingBudget`); for models that
//!   think with a token budget instead (Anthropic), a `thinking` budget of 1,024
//!   (`minimal`, `low`), 8,192 (`medium`) or 24,576 (`high`) tokens, `none`
//!   leaving thinking off. Refused for models that do not reason.
//! - `service_tier` = `auto` | `default` | `flex` | `priority`: OpenAI's
//!   service tier; `flex` and `priority` only where the entry prices that tier.

use std::sync::Arc;

use serde_json::Value;

use super::entry::ModelEntry;
use super::Catalogue;
use crate::error::ElelemError;

/// The efforts `reasoning=` takes.
const EFFORTS: [&str; 5] = ["none", "minimal", "low", "medium", "high"];

/// The thinking budget standing for an effort, for models that take a budget.
fn budget_for(effort: &str) -> Option<u32> {
    match effort {
        "minimal" | "low" => Some(1024),
        "medium" => Some(8192),
        "high" => Some(24576),
        _ => None,
    }
}

fn refused(id: &str, why: impl std::fmt::Display) -> ElelemError {
    ElelemError::InvalidRequest {
        reason: format!("model variant {id:?}: {why}"),
    }
}

/// Applies one `key=value` of a variant to `entry`.
fn apply(id: &str, entry: &mut ModelEntry, key: &str, value: &str) -> Result<(), ElelemError> {
    match key {
        "reasoning" => {
            if !EFFORTS.contains(&value) {
                return Err(refused(
                    id,
                    format!("reasoning={value:?} is not one of {}", EFFORTS.join(", ")),
                ));
            }
            let caps = entry.capabilities;
            if caps.reasoning_effort {
                entry
                    .default_params
                    .insert("reasoning_effort".into(), Value::from(value));
            } else if caps.reasoning {
                if let Some(budget) = budget_for(value) {
                    entry
                        .default_params
                        .insert("thinking".into(), crate::sampling::thinking_enabled(budget));
                }
            } else {
                return Err(refused(
                    id,
                    format!(
                        "{} does not reason (its catalogue entry has neither reasoning nor reasoning_effort); drop ?reasoning",
                        entry.id
                    ),
                ));
            }
        }
        "service_tier" => {
            let tiers = entry.prices.map(|p| p.tiers);
            let priced = match value {
                "auto" | "default" => true,
                "flex" => tiers.is_some_and(|t| t.flex.is_some()),
                "priority" => tiers.is_some_and(|t| t.priority.is_some()),
                _ => {
                    return Err(refused(
                        id,
                        format!(
                            "service_tier={value:?} is not one of auto, default, flex, priority"
                        ),
                    ))
                }
            };
            if !priced {
                return Err(refused(
                    id,
                    format!("{} has no {value} tier in its catalogue entry", entry.id),
                ));
            }
            entry
                .default_params
                .insert("service_tier".into(), Value::from(value));
        }
        other => {
            return Err(refused(
                id,
                format!(
                "unknown key {other:?}; variants take reasoning=<effort> and service_tier=<tier>"
            ),
            ))
        }
    }
    Ok(())
}

impl Catalogue {
    /// The entry of a variant id (`provider:model?key=value&...`): the base
    /// model's entry with the variant's settings among its default parameters,
    /// under the full id. `Ok(None)` when `id` is not a variant.
    ///
    /// ```
    /// let c = elelem_core::catalogue::Catalogue::from_sources([("t", r#"
    ///     [provider]
    ///     name = "p"
    ///     base_url = "http://127.0.0.1:1/v1"
    ///     [[models]]
    ///     id = "p:thinker"
    ///     capabilities = { reasoning = true, reasoning_effort = true }
    ///     [[models]]
    ///     id = "p:plain"
    /// "#)]).unwrap();
    /// let high = c.variant("p:thinker?reasoning=high").unwrap().unwrap();
    /// assert_eq!(high.id, "p:thinker?reasoning=high");
    /// assert_eq!(high.upstream, "thinker");
    /// assert_eq!(high.default_params["reasoning_effort"], "high");
    /// assert!(c.variant("p:plain?reasoning=high").is_err());
    /// assert!(c.variant("p:plain").unwrap().is_none());
    /// ```
    pub fn variant(&self, id: &str) -> Result<Option<ModelEntry>, ElelemError> {
        let Some((base, query)) = id.split_once('?') else {
            return Ok(None);
        };
        let Some(model) = self.callable(base) else {
            return Err(refused(
                id,
                format!("{base} is not a model of the catalogue"),
            ));
        };
        let mut entry = ModelEntry::clone(&model);
        entry.id = id.to_owned();
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let Some((key, value)) = pair.split_once('=') else {
                return Err(refused(id, format!("{pair:?} is not key=value")));
            };
            apply(id, &mut entry, key, value)?;
        }
        Ok(Some(entry))
    }

    /// [`Catalogue::variant`], shared; `None` when it is not a valid variant.
    pub(crate) fn callable_variant(&self, id: &str) -> Option<Arc<ModelEntry>> {
        self.variant(id).ok().flatten().map(Arc::new)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn catalogue() -> Catalogue {
        Catalogue::from_sources([(
            "t",
            r#"
            [provider]
            name = "p"
            base_url = "http://127.0.0.1:1/v1"
            [[models]]
            id = "p:effort"
            aliases = ["effort-2025"]
            capabilities = { reasoning = true, reasoning_effort = true }
            price = { input = "1", output = "4", flex = { input = "0.5", output = "2" } }
            [[models]]
            id = "p:budget"
            capabilities = { reasoning = true }
            [[models]]
            id = "p:plain"
        "#,
        )])
        .unwrap()
    }

    #[test]
    fn reasoning_maps_to_an_effort_or_a_thinking_budget() {
        let c = catalogue();
        let effort = c.variant("p:effort-2025?reasoning=low").unwrap().unwrap();
        assert_eq!(effort.default_params["reasoning_effort"], "low");
        assert_eq!(effort.upstream, "effort-2025");
        let budget = c.variant("p:budget?reasoning=medium").unwrap().unwrap();
        assert_eq!(budget.default_params["thinking"]["budget_tokens"], 8192);
        let off = c.variant("p:budget?reasoning=none").unwrap().unwrap();
        assert!(off.default_params.get("thinking").is_none());
        // Resolved through the ordinary lookup too, prices kept.
        let callable = c
            .callable("p:effort?reasoning=high&service_tier=flex")
            .unwrap();
        assert_eq!(callable.default_params["service_tier"], "flex");
        assert_eq!(callable.prices, c.model("p:effort").unwrap().prices);
    }

    #[test]
    fn bad_variants_are_refused_with_the_reason() {
        let c = catalogue();
        let cases = [
            ("p:plain?reasoning=high", "does not reason"),
            ("p:effort?reasoning=extreme", "not one of"),
            ("p:effort?speed=max", "unknown key"),
            ("p:effort?reasoning", "not key=value"),
            ("p:nope?reasoning=high", "not a model of the catalogue"),
            ("p:plain?service_tier=flex", "no flex tier"),
            ("p:effort?service_tier=cheap", "not one of"),
        ];
        for (id, expected) in cases {
            let error = c.variant(id).unwrap_err().to_string();
            assert!(error.contains(expected), "{id}: {error}");
            assert!(c.callable(id).is_none(), "{id}");
        }
    }
}
