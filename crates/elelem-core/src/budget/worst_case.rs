//! The most one attempt can cost: what a budget reserves before sending it.

use serde_json::{Map, Value};

use crate::catalogue::ModelEntry;
use crate::error::ElelemError;
use crate::money::Usd;
use crate::tokens::prompt_upper_bound;
use crate::types::Message;

/// Output tokens Anthropic adds above a thinking budget when `max_tokens` does not
/// exceed it (its converter's default `max_tokens`).
const THINKING_HEADROOM: u64 = 4096;

/// Request fields (besides `max_tokens`) that set the output limit somewhere.
const OUTPUT_LIMIT_FIELDS: [&str; 3] = ["max_tokens", "max_completion_tokens", "max_output_tokens"];

/// The most tokens a prompt of `messages`, the JSON `instruction` (sent as a
/// system message) and the tools in `extra` can be billed as by `model`.
pub(crate) fn prompt_bound(
    model: &ModelEntry,
    messages: &[Message],
    instruction: Option<&str>,
    extra: &Map<String, Value>,
) -> u64 {
    let instruction_message = instruction.map(Message::system);
    let all: Vec<Message> = messages
        .iter()
        .chain(instruction_message.iter())
        .cloned()
        .collect();
    let tools = extra.get("tools").or_else(|| extra.get("functions"));
    prompt_upper_bound(&all, tools, model)
}

/// The worst case of one attempt whose prompt is at most `prompt` tokens (the call
/// plan's [`prompt_upper_bound`], tools and images included): `None` when the
/// model has no price.
///
/// It is a bound: the prompt (at most the context window, at the dearer of the
/// input and cache-write prices), plus the output limit times `n` (the number of choices)
/// at the output price, where the output limit is the largest of `max_tokens`, the
/// output-limit fields of `extra`, and (for extended thinking) the thinking budget
/// plus the headroom Anthropic's converter adds; else the model's output limit or
/// what the context window leaves.
pub(crate) fn worst_case(
    model: &ModelEntry,
    prompt: u64,
    max_tokens: Option<u32>,
    extra: &Map<String, Value>,
) -> Result<Option<Usd>, ElelemError> {
    let Some(prices) = model.prices else {
        return Ok(None);
    };
    let mut prompt = prompt;
    if let Some(window) = model.context_window {
        // A longer prompt is refused, not billed.
        prompt = prompt.min(window);
    }
    let requested = OUTPUT_LIMIT_FIELDS
        .iter()
        .filter_map(|field| extra.get(*field).and_then(Value::as_u64))
        .chain(max_tokens.map(u64::from))
        .max();
    let thinking = extra
        .get("thinking")
        .filter(|t| t.get("type").and_then(Value::as_str) == Some("enabled"))
        .and_then(|t| t.get("budget_tokens"))
        .and_then(Value::as_u64)
        .map(|budget| budget.saturating_add(THINKING_HEADROOM));
    let limit = match (requested, model.max_output, model.context_window) {
        (Some(n), _, _) => n,
        (None, Some(n), _) => n,
        (None, None, Some(window)) => window.saturating_sub(prompt),
        (None, None, None) if thinking.is_some() => 0,
        (None, None, None) => {
            return Err(ElelemError::InvalidRequest {
                reason: format!(
                    "a budget applies to this call but {} has no output limit or context window in the catalogue, so its worst-case cost is unbounded; set max_tokens on the request",
                    model.id
                ),
            })
        }
    };
    let per_choice = limit.max(thinking.unwrap_or(0));
    let choices = extra.get("n").and_then(Value::as_u64).unwrap_or(1).max(1);
    let output = per_choice.saturating_mul(choices);
    let input_price = prices.input.max(prices.cache_write_input);
    Ok(Some(
        input_price
            .cost_of(prompt)
            .saturating_add(prices.output.cost_of(output)),
    ))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use serde_json::json;

    use super::*;
    use crate::catalogue::Catalogue;

    fn catalogue() -> Catalogue {
        Catalogue::from_sources([(
            "t",
            "[provider]\nname='p'\nbase_url='u'\n\
             [[models]]\nid='p:gpt-4.1'\ncontext_window=1000000\nmax_output=32768\nprice={input='1', output='1'}\n\
             [[models]]\nid='p:claude-sonnet-4-5'\ncontext_window=200000\nmax_output=64000\nprice={input='1', output='1'}\n\
             [[models]]\nid='p:mystery'\ncontext_window=100000\nprice={input='1', output='1'}",
        )])
        .unwrap()
    }

    /// The worst case in tokens (every price is $1 per million tokens).
    fn tokens(id: &str, messages: &[Message], max: Option<u32>, extra: Value) -> u64 {
        let c = catalogue();
        let Value::Object(extra) = extra else {
            panic!()
        };
        let model = c.model(id).unwrap();
        let prompt = prompt_bound(model, messages, None, &extra);
        let usd = worst_case(model, prompt, max, &extra).unwrap().unwrap();
        u64::try_from(usd.femtos() / 1_000_000_000).unwrap()
    }

    #[test]
    fn n_choices_multiply_the_output() {
        let m = [Message::user("Hello world")];
        let one = tokens("p:gpt-4.1", &m, Some(100), json!({}));
        let five = tokens("p:gpt-4.1", &m, Some(100), json!({"n": 5}));
        assert_eq!(five - one, 400);
    }

    #[test]
    fn tools_and_images_count_in_the_prompt() {
        let m = [Message::user("Hello world")];
        let plain = tokens("p:gpt-4.1", &m, Some(10), json!({}));
        let tool = json!({"type": "function", "function": {"name": "lookup", "description": "Finds a record by its id in the archive", "parameters": {"type": "object", "properties": {"id": {"type": "string"}}}}});
        let tooled = tokens("p:gpt-4.1", &m, Some(10), json!({"tools": [tool]}));
        assert!(tooled >= plain + 30, "{tooled} vs {plain}");
        let image = Message::user_with_images("Hello world", &["https://x/a.png"]);
        let pictured = tokens("p:gpt-4.1", &[image], Some(10), json!({}));
        assert!(pictured >= plain + 1_445, "{pictured} vs {plain}");
    }

    #[test]
    fn non_latin_text_under_an_unknown_tokenizer_counts_per_byte() {
        let text = "统计数据显示".repeat(100); // 600 characters, 1,800 bytes
        let m = [Message::user(text)];
        let worst = tokens("p:mystery", &m, Some(0), json!({}));
        assert!(worst >= 1_800, "{worst}");
    }

    #[test]
    fn thinking_raises_the_output_limit_as_anthropic_does() {
        let m = [Message::user("Think")];
        let plain = tokens("p:claude-sonnet-4-5", &m, Some(1_000), json!({}));
        let thinking = tokens(
            "p:claude-sonnet-4-5",
            &m,
            Some(1_000),
            json!({"thinking": {"type": "enabled", "budget_tokens": 10_000}}),
        );
        assert_eq!(thinking - plain, 10_000 + THINKING_HEADROOM - 1_000);
    }

    #[test]
    fn output_limits_in_extra_fields_count_and_the_prompt_stops_at_the_window() {
        let m = [Message::user("Hi")];
        let base = tokens("p:gpt-4.1", &m, Some(10), json!({}));
        let raised = tokens(
            "p:gpt-4.1",
            &m,
            Some(10),
            json!({"max_completion_tokens": 500}),
        );
        assert_eq!(raised - base, 490);
        let huge = [Message::user("x".repeat(300_000))];
        let capped = tokens("p:mystery", &huge, Some(0), json!({}));
        assert_eq!(capped, 100_000);
    }
}
