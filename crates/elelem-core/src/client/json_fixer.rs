//! The JSON fixer: when an answer is not valid JSON and local repair
//! (`json::repair_json`) could not mend it, a second, cheap model is asked to
//! fix it before the main model is retried (the ladder's first rung for a parse
//! failure, `engine::ladder::fix_first`).
//!
//! The fixer's call goes through the same engine as any call: billed, budgeted
//! and recorded under the call's tags plus [`JSON_FIX_TAG`]. Its output is then
//! judged as the main model's answer would be (parsed, validated against the
//! schema, checked); the main attempt's success record says `json_fixed`, and
//! the stats count it in `json_fixes`.

use super::builder::ElelemBuilder;
use super::elelem::Inner;
use crate::money::Usd;
use crate::types::{ChatRequest, Message, ResponseFormat};

/// The tag every JSON fixer call carries (after the fixed call's own tags).
pub const JSON_FIX_TAG: &str = "json_fix";

/// What the fixer is told.
const FIXER_PROMPT: &str = "You repair broken JSON. Reply with the corrected JSON document only, \
no prose and no code fence. Keep every key and value the text holds; change only what makes it \
invalid JSON (quotes, commas, brackets, escapes, literals).";

impl ElelemBuilder {
    /// Asks `model` (a cheap `provider:model`) to fix a JSON answer that local
    /// repair could not, before the main model is retried. `build()` fails if
    /// the model is not in the catalogue.
    ///
    /// ```
    /// let elelem = elelem_core::Elelem::builder()
    ///     .models_toml("demo", "[provider]\nname='p'\nbase_url='http://127.0.0.1:9/v1'\n[[models]]\nid='p:cheap'")
    ///     .json_fixer("p:cheap")
    ///     .build();
    /// assert!(elelem.is_ok());
    /// let unknown = elelem_core::Elelem::builder().json_fixer("p:nope").build();
    /// assert!(unknown.unwrap_err().to_string().contains("json_fixer"));
    /// ```
    pub fn json_fixer(mut self, model: impl Into<String>) -> Self {
        self.options.json_fixer = Some(model.into());
        self
    }
}

/// The request sent to the fixer for `broken`, an answer to `request`.
fn fixer_request(fixer: &str, request: &ChatRequest, broken: &str) -> ChatRequest {
    let mut prompt = FIXER_PROMPT.to_owned();
    if let Some(schema) = request.validation_schema() {
        prompt.push_str("\nThe JSON must satisfy this JSON schema: ");
        prompt.push_str(&schema.to_string());
    }
    let mut fix = ChatRequest::new(
        fixer,
        vec![Message::system(prompt), Message::user(broken.to_owned())],
    )
    .response_format(ResponseFormat::JsonObject)
    .tags(
        request
            .tags
            .iter()
            .cloned()
            .chain([JSON_FIX_TAG.to_owned()]),
    );
    if let Some(schema) = request.validation_schema() {
        fix = fix.json_schema(schema.clone());
    }
    fix.temperature = Some(0.0);
    fix.cache = request.cache;
    fix
}

/// Asks the client's fixer to repair `broken`; the fixed JSON text and what the
/// fixer's call cost, or `None` when no fixer is set or it failed (its failure
/// is logged; the main call goes on with its ladder).
pub(crate) async fn fix_json(
    inner: &Inner,
    request: &ChatRequest,
    broken: &str,
) -> Option<(String, Usd)> {
    let fixer = inner.policy.json_fixer.as_deref()?;
    let fix = fixer_request(fixer, request, broken);
    match super::call::run_unfixed(inner, fix).await {
        Ok(completion) => {
            let text = match &completion.elelem.json {
                Some(json) => json.to_string(),
                None => completion.content()?.to_owned(),
            };
            tracing::info!(fixer, cost = %completion.elelem.cost, "JSON fixer repaired an answer");
            Some((text, completion.elelem.cost))
        }
        Err(error) => {
            tracing::warn!(fixer, %error, "the JSON fixer could not repair the answer");
            None
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use serde_json::json;

    #[test]
    fn the_fixer_gets_the_broken_text_the_schema_and_the_tags() {
        let request = ChatRequest::new("p:main", vec![Message::user("x")])
            .json_schema(json!({"type": "object", "required": ["a"]}))
            .tags(["billing"]);
        let fix = fixer_request("p:cheap", &request, "{a: 1,,}");
        assert_eq!(fix.model, "p:cheap");
        assert_eq!(fix.tags, ["billing", JSON_FIX_TAG]);
        assert_eq!(fix.messages[1].text(), "{a: 1,,}");
        let system = fix.messages[0].text();
        assert!(system.contains(r#""required":["a"]"#), "{system}");
        assert_eq!(fix.validation_schema(), request.validation_schema());
        assert_eq!(fix.temperature, Some(0.0));
    }
}
