//! YAML mode: the instruction asking for YAML, and the parse of a YAML answer into
//! the same value JSON mode validates.

use serde_json::Value;

/// Why a YAML answer could not be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum YamlAnswerError {
    /// The text is not valid YAML.
    #[error("invalid YAML: {error}; answer with only a YAML document")]
    Invalid {
        /// The parser's message.
        error: String,
    },
    /// The YAML is a bare scalar (prose parses as one), not a mapping or a list.
    #[error("the answer is not a YAML mapping or list; answer with only a YAML document")]
    NotStructured,
}

/// The YAML document in `text`: the inside of a ```` ```yaml ```` (or `yml`, or
/// bare) fence when there is one, else the whole text.
fn yaml_body(text: &str) -> &str {
    let Some(open) = text.find("```") else {
        return text.trim();
    };
    let after = text.get(open + 3..).unwrap_or_default();
    let after = after
        .strip_prefix("yaml")
        .or_else(|| after.strip_prefix("yml"))
        .unwrap_or(after);
    let body = after.split_once('\n').map_or(after, |(_, rest)| rest);
    body.find("```")
        .and_then(|close| body.get(..close))
        .unwrap_or(body)
        .trim()
}

/// Parses a YAML answer (fenced or not) into a JSON value; a mapping or a list is
/// required. Aliases and nesting are bounded by the parser, so hostile YAML ends
/// in an error, not in unbounded memory.
///
/// ```
/// use elelem_core::json::parse_yaml_answer;
/// use serde_json::json;
/// let text = "Here you go:\n```yaml\nname: Ada\nlangs:\n  - en\n  - fr\nage: 36\n```";
/// assert_eq!(parse_yaml_answer(text).unwrap(), json!({"name": "Ada", "langs": ["en", "fr"], "age": 36}));
/// assert!(parse_yaml_answer("Sorry, I cannot.").is_err());
/// ```
pub fn parse_yaml_answer(text: &str) -> Result<Value, YamlAnswerError> {
    let value: Value =
        serde_norway::from_str(yaml_body(text)).map_err(|e| YamlAnswerError::Invalid {
            error: e.to_string(),
        })?;
    match value {
        Value::Object(_) | Value::Array(_) => Ok(value),
        _ => Err(YamlAnswerError::NotStructured),
    }
}

/// The instruction telling the model to answer with only a YAML document,
/// conforming to `schema` (a JSON schema, shown as JSON) when one is given.
///
/// ```
/// let text = elelem_core::json::yaml_instruction(Some(&serde_json::json!({"type": "object"})));
/// assert!(text.starts_with("Respond with only a valid YAML document"));
/// assert!(text.contains("\"type\": \"object\""));
/// ```
#[must_use]
pub fn yaml_instruction(schema: Option<&Value>) -> String {
    const BASE: &str = "Respond with only a valid YAML document: no markdown code fences, \
                        no explanation, no text before or after it.";
    match schema.and_then(|s| serde_json::to_string_pretty(s).ok()) {
        None => BASE.to_owned(),
        Some(schema) => format!(
            "{BASE}\nThe YAML must describe a value conforming to this JSON schema:\n{schema}\n\
             Answer with an instance of this schema in YAML, not the schema itself."
        ),
    }
}

/// The instruction for a structured request: [`yaml_instruction`] in YAML mode,
/// else [`json_instruction`](super::json_instruction), with the request's schema.
///
/// ```
/// use elelem_core::{ChatRequest, ResponseFormat};
/// let yaml = ChatRequest::new("p:m", vec![]).response_format(ResponseFormat::Yaml);
/// assert!(elelem_core::json::structured_instruction(&yaml).contains("YAML"));
/// let json = ChatRequest::new("p:m", vec![]).response_format(ResponseFormat::JsonObject);
/// assert!(elelem_core::json::structured_instruction(&json).contains("JSON object"));
/// ```
#[must_use]
pub fn structured_instruction(request: &crate::types::ChatRequest) -> String {
    match request.is_yaml_mode() {
        true => yaml_instruction(request.validation_schema()),
        false => super::json_instruction(request.validation_schema()),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use serde_json::json;

    #[test]
    fn fenced_and_bare_documents_parse() {
        assert_eq!(
            parse_yaml_answer("a: 1\nb: [x, y]").unwrap(),
            json!({"a": 1, "b": ["x", "y"]})
        );
        assert_eq!(
            parse_yaml_answer("```yml\n- 1\n- 2\n```").unwrap(),
            json!([1, 2])
        );
        assert_eq!(
            parse_yaml_answer("```\nok: true\n```").unwrap(),
            json!({"ok": true})
        );
    }

    #[test]
    fn scalars_and_broken_yaml_are_refused() {
        assert_eq!(
            parse_yaml_answer("just words"),
            Err(YamlAnswerError::NotStructured)
        );
        assert!(matches!(
            parse_yaml_answer("a: [1, 2"),
            Err(YamlAnswerError::Invalid { .. })
        ));
        // Exponential alias expansion is refused by the parser.
        let bomb = "a: &a [x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\n\
                    c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]\nd: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]\n\
                    e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d]\nf: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e]\n\
                    g: &g [*f, *f, *f, *f, *f, *f, *f, *f, *f]\nh: [*g, *g, *g, *g, *g, *g, *g, *g, *g]";
        assert!(parse_yaml_answer(bomb).is_err());
    }
}
