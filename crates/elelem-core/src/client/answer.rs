//! Step 5 of the pipeline: clean a provider's answer and, in JSON mode, extract,
//! parse and validate its JSON.

use jsonschema::Validator;
use serde_json::Value;

use crate::json::{parse_json_answer, split_think_with, SchemaViolations, ThinkPolicy};
use crate::types::ChatCompletion;

/// A usable answer.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Answer {
    /// The content without think blocks (in JSON mode: the JSON text alone).
    pub content: Option<String>,
    /// The reasoning text, from think blocks or a reasoning field.
    pub reasoning: Option<String>,
    /// The parsed JSON, in JSON mode.
    pub json: Option<Value>,
    /// The JSON was nearly valid and repaired locally (`json::repair_json`).
    pub repaired: bool,
}

/// How an answer is read: as text, or parsed (JSON, or YAML) and validated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum AnswerMode {
    /// Free text.
    Text,
    /// JSON, repaired locally when nearly valid.
    Json,
    /// YAML, parsed into the value JSON mode would validate.
    Yaml,
}

impl AnswerMode {
    /// The mode `request` asks for.
    pub fn of(request: &crate::types::ChatRequest) -> AnswerMode {
        match (request.is_yaml_mode(), request.is_json_mode()) {
            (true, _) => AnswerMode::Yaml,
            (false, true) => AnswerMode::Json,
            (false, false) => AnswerMode::Text,
        }
    }
}

impl From<bool> for AnswerMode {
    fn from(json_mode: bool) -> AnswerMode {
        if json_mode {
            AnswerMode::Json
        } else {
            AnswerMode::Text
        }
    }
}

/// Why an answer was rejected.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Rejection {
    /// No parseable JSON; the message for the model.
    Parse(String),
    /// Schema violations.
    Schema(Vec<String>),
    /// A check of the request failed; its message.
    Check(String),
}

/// The reasoning a provider sent in a message field rather than in the content
/// (`reasoning_content` as DeepSeek does, `reasoning` as GROQ's `parsed` format does).
fn reasoning_field(completion: &ChatCompletion) -> Option<String> {
    let extra = &completion.choices.first()?.message.extra;
    ["reasoning_content", "reasoning"]
        .iter()
        .find_map(|key| extra.get(*key)?.as_str())
        .filter(|text| !text.is_empty())
        .map(str::to_owned)
}

/// Cleans and checks the first choice of `completion`. Returns the rejected answer
/// text alongside the rejection, for the retry feedback.
pub(crate) fn process(
    completion: &ChatCompletion,
    mode: impl Into<AnswerMode>,
    reasoning_model: bool,
    validator: Option<&Validator>,
) -> Result<Answer, (String, Rejection)> {
    let mode = mode.into();
    let json_mode = mode != AnswerMode::Text;
    let raw = completion
        .choices
        .first()
        .and_then(|c| c.message.content.as_deref());
    // An answer that is JSON as it stands is taken as it stands, even if a string
    // in it mentions think tags. In JSON mode an object or array found so is the
    // parsed answer too: the text is parsed once.
    let mut whole_value = None;
    let already_json = json_mode
        && raw.is_some_and(|text| {
            let text = text.trim();
            if mode == AnswerMode::Json {
                if let Ok(value) = serde_json::from_str::<Value>(text) {
                    whole_value = (value.is_object() || value.is_array()).then_some(value);
                    return true;
                }
            }
            serde_json::from_str::<serde::de::IgnoredAny>(text).is_ok()
        });
    let split = raw.map(|text| {
        if !already_json {
            split_think_with(
                text,
                ThinkPolicy::for_model(&completion.model, reasoning_model),
            )
        } else {
            crate::json::ThinkSplit {
                answer: std::borrow::Cow::Borrowed(text.trim()),
                reasoning: None,
            }
        }
    });
    let think_reasoning = split.as_ref().and_then(|s| s.reasoning.clone());
    let reasoning = match (think_reasoning, reasoning_field(completion)) {
        (Some(think), _) => Some(think),
        (None, field) => field,
    };
    let cleaned = split.map(|s| s.answer.into_owned());
    if !json_mode {
        return Ok(Answer {
            content: cleaned,
            reasoning,
            json: None,
            repaired: false,
        });
    }
    let called_tools = completion.choices.first().is_some_and(|c| {
        c.message
            .extra
            .get("tool_calls")
            .and_then(Value::as_array)
            .is_some_and(|calls| !calls.is_empty())
    });
    if called_tools {
        // The model answered with tool calls: there is no JSON answer to check yet.
        return Ok(Answer {
            content: cleaned,
            reasoning,
            json: None,
            repaired: false,
        });
    }
    let text = cleaned.unwrap_or_default();
    if completion.choices.is_empty() {
        return Err((text, Rejection::Parse("the response had no choices".into())));
    }
    // The whole answer already parsed is what `parse_json_answer` would find
    // (its first candidate is the trimmed text) and `extract_json` would cut.
    let whole = whole_value.is_some();
    let parsed = match (mode, whole_value) {
        (_, Some(value)) => Ok(value),
        (AnswerMode::Yaml, None) => {
            crate::json::parse_yaml_answer(&text).map_err(|e| e.to_string())
        }
        _ => parse_json_answer(&text).map_err(|e| e.to_string()),
    };
    let (value, repaired) = match parsed {
        Ok(value) => (value, false),
        Err(error) if mode == AnswerMode::Yaml => return Err((text, Rejection::Parse(error))),
        Err(error) => match crate::json::repair_json(&text) {
            Some(value) => (value, true),
            None => return Err((text, Rejection::Parse(error))),
        },
    };
    if let Some(validator) = validator {
        if let Err(SchemaViolations { errors }) = SchemaViolations::check(validator, &value) {
            return Err((text, Rejection::Schema(errors)));
        }
    }
    let json_text = match (repaired, mode) {
        (true, _) => value.to_string(),
        (false, AnswerMode::Yaml) => text,
        (false, _) if whole => text,
        (false, _) => crate::json::extract_json(&text)
            .map(str::to_owned)
            .unwrap_or(text),
    };
    Ok(Answer {
        content: Some(json_text),
        reasoning,
        json: Some(value),
        repaired,
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn completion(content: &str) -> ChatCompletion {
        serde_json::from_value(json!({"choices": [{"message": {"content": content}}]})).unwrap()
    }

    #[test]
    fn an_empty_tool_call_list_does_not_skip_json_validation() {
        let c: ChatCompletion = serde_json::from_value(
            json!({"choices": [{"message": {"content": "not json", "tool_calls": []}}]}),
        )
        .unwrap();
        assert!(matches!(
            process(&c, true, false, None),
            Err((_, Rejection::Parse(_)))
        ));
        let called: ChatCompletion = serde_json::from_value(json!({"choices": [{"message": {
            "content": null,
            "tool_calls": [{"id": "c", "type": "function", "function": {"name": "f", "arguments": "{}"}}]
        }}]}))
        .unwrap();
        assert!(process(&called, true, false, None).is_ok());
    }

    #[test]
    fn think_blocks_and_fences_are_removed_in_json_mode() {
        let c = completion("<think>\nhmm\n</think>\n```json\n{\"a\": 1}\n```");
        let answer = process(&c, true, true, None).unwrap();
        assert_eq!(answer.content.as_deref(), Some("{\"a\": 1}"));
        assert_eq!(answer.reasoning.as_deref(), Some("hmm"));
        assert_eq!(answer.json, Some(json!({"a": 1})));
    }

    #[test]
    fn an_answer_that_is_json_as_it_stands_is_read_as_parse_and_extract_read_it() {
        // Parsed once now; the outcome is what parsing and extracting the trimmed
        // text (no think split: it is JSON as it stands) gave.
        let texts = [
            " {\"a\": 1} \n",
            "[1, {\"b\": \"<think>x</think>\"}]",
            "{\"a\": 1, \"a\": 2}",
            "\"<think>a</think>{\\\"a\\\": 1}\"",
            "42",
            "{\"big\": 1e999}",
            "{\"s\": \"\\ud800\"}",
        ];
        for text in texts {
            let trimmed = text.trim();
            assert!(serde_json::from_str::<serde::de::IgnoredAny>(trimmed).is_ok());
            let got = process(&completion(text), true, true, None);
            match crate::json::parse_json_answer(trimmed) {
                Ok(value) => {
                    let answer = got.unwrap();
                    let cut = crate::json::extract_json(trimmed).unwrap_or(trimmed);
                    assert_eq!(answer.content.as_deref(), Some(cut), "{text}");
                    assert_eq!(answer.json, Some(value), "{text}");
                    assert_eq!(answer.reasoning, None, "{text}");
                }
                Err(error) => match crate::json::repair_json(trimmed) {
                    Some(value) => assert_eq!(got.unwrap().json, Some(value), "{text}"),
                    None => assert_eq!(
                        got.unwrap_err(),
                        (trimmed.to_owned(), Rejection::Parse(error.to_string())),
                        "{text}"
                    ),
                },
            }
        }
    }

    #[test]
    fn text_mode_only_removes_think_blocks() {
        let c = completion("<think>x</think>Hello");
        let answer = process(&c, false, true, None).unwrap();
        assert_eq!(answer.content.as_deref(), Some("Hello"));
        assert_eq!(answer.json, None);
    }

    #[test]
    fn other_models_keep_think_tags_that_are_part_of_their_answer() {
        let text = completion("Wrap it in <think> and </think> tags.");
        let answer = process(&text, false, false, None).unwrap();
        assert_eq!(
            answer.content.as_deref(),
            Some("Wrap it in <think> and </think> tags.")
        );
        assert_eq!(answer.reasoning, None);
        let json = completion("{\"open\": \"<think>\", \"close\": \"</think>\"}");
        for reasoning_model in [false, true] {
            let answer = process(&json, true, reasoning_model, None).unwrap();
            assert_eq!(
                answer.json,
                Some(json!({"open": "<think>", "close": "</think>"}))
            );
        }
        let leading = completion("<think>plan</think>{\"a\": 1}");
        let answer = process(&leading, true, false, None).unwrap();
        assert_eq!(answer.reasoning.as_deref(), Some("plan"));
    }

    #[test]
    fn reasoning_fields_are_picked_up() {
        let c: ChatCompletion = serde_json::from_value(
            json!({"choices": [{"message": {"content": "{}", "reasoning_content": "because"}}]}),
        )
        .unwrap();
        assert_eq!(
            process(&c, true, true, None).unwrap().reasoning.as_deref(),
            Some("because")
        );
    }

    #[test]
    fn rejections_carry_the_answer_and_the_reason() {
        let (text, why) = process(&completion("Sorry, no."), true, false, None).unwrap_err();
        assert_eq!(text, "Sorry, no.");
        assert!(matches!(why, Rejection::Parse(_)));
        let schema = json!({"type": "object", "required": ["name"]});
        let validator = jsonschema::validator_for(&schema).unwrap();
        let (_, why) =
            process(&completion("{\"age\": 3}"), true, false, Some(&validator)).unwrap_err();
        match why {
            Rejection::Schema(errors) => assert!(errors[0].contains("name"), "{errors:?}"),
            other => panic!("{other:?}"),
        }
        let empty: ChatCompletion = serde_json::from_value(json!({"choices": []})).unwrap();
        assert!(matches!(
            process(&empty, true, false, None),
            Err((_, Rejection::Parse(_)))
        ));
    }
}
