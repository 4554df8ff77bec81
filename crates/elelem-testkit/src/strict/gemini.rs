//! Gemini's refusal of unknown fields, at any depth of a `generateContent` request
//! (including inside `responseSchema`), as the protobuf JSON parser of the real API does.
//! Field names are accepted in lowerCamelCase and in snake_case, as the real API accepts.

use serde_json::{json, Map, Value};

/// What a field holds.
#[derive(Debug, Clone, Copy)]
enum Node {
    /// A scalar or free-form value (`args`, `example`, a JSON schema): not checked.
    Any,
    /// A message of this kind (or a list of them).
    Message(Kind),
    /// A map from any key to messages of this kind (`properties`).
    MapOf(Kind),
}

/// The message types of a request.
#[derive(Debug, Clone, Copy)]
enum Kind {
    Request,
    Content,
    Part,
    Blob,
    FunctionCall,
    FunctionResponse,
    FileData,
    VideoMetadata,
    Tool,
    FunctionDeclaration,
    Schema,
    ToolConfig,
    FunctionCallingConfig,
    SafetySetting,
    GenerationConfig,
    ThinkingConfig,
    /// A message with free-form fields this emulation does not model.
    Open,
}

use Kind as K;
use Node::{Any, MapOf, Message as M};

fn fields(kind: Kind) -> Option<&'static [(&'static str, Node)]> {
    Some(match kind {
        K::Request => &[
            ("model", Any),
            ("contents", M(K::Content)),
            ("tools", M(K::Tool)),
            ("toolConfig", M(K::ToolConfig)),
            ("safetySettings", M(K::SafetySetting)),
            ("systemInstruction", M(K::Content)),
            ("generationConfig", M(K::GenerationConfig)),
            ("cachedContent", Any),
        ],
        K::Content => &[("parts", M(K::Part)), ("role", Any)],
        K::Part => &[
            ("text", Any),
            ("inlineData", M(K::Blob)),
            ("functionCall", M(K::FunctionCall)),
            ("functionResponse", M(K::FunctionResponse)),
            ("fileData", M(K::FileData)),
            ("executableCode", M(K::Open)),
            ("codeExecutionResult", M(K::Open)),
            ("thought", Any),
            ("thoughtSignature", Any),
            ("videoMetadata", M(K::VideoMetadata)),
            ("partMetadata", Any),
            ("mediaResolution", Any),
        ],
        K::Blob => &[("mimeType", Any), ("data", Any)],
        K::FunctionCall => &[("id", Any), ("name", Any), ("args", Any)],
        K::FunctionResponse => &[
            ("id", Any),
            ("name", Any),
            ("response", Any),
            ("willContinue", Any),
            ("scheduling", Any),
            ("parts", Any),
        ],
        K::FileData => &[("mimeType", Any), ("fileUri", Any)],
        K::VideoMetadata => &[("startOffset", Any), ("endOffset", Any), ("fps", Any)],
        K::Tool => &[
            ("functionDeclarations", M(K::FunctionDeclaration)),
            ("googleSearchRetrieval", M(K::Open)),
            ("codeExecution", M(K::Open)),
            ("googleSearch", M(K::Open)),
            ("urlContext", M(K::Open)),
            ("computerUse", M(K::Open)),
            ("fileSearch", M(K::Open)),
            ("googleMaps", M(K::Open)),
        ],
        K::FunctionDeclaration => &[
            ("name", Any),
            ("description", Any),
            ("behavior", Any),
            ("parameters", M(K::Schema)),
            ("parametersJsonSchema", Any),
            ("response", M(K::Schema)),
            ("responseJsonSchema", Any),
        ],
        K::Schema => &[
            ("type", Any),
            ("format", Any),
            ("title", Any),
            ("description", Any),
            ("nullable", Any),
            ("enum", Any),
            ("maxItems", Any),
            ("minItems", Any),
            ("properties", MapOf(K::Schema)),
            ("required", Any),
            ("minProperties", Any),
            ("maxProperties", Any),
            ("minLength", Any),
            ("maxLength", Any),
            ("pattern", Any),
            ("example", Any),
            ("anyOf", M(K::Schema)),
            ("propertyOrdering", Any),
            ("default", Any),
            ("items", M(K::Schema)),
            ("minimum", Any),
            ("maximum", Any),
        ],
        K::ToolConfig => &[
            ("functionCallingConfig", M(K::FunctionCallingConfig)),
            ("retrievalConfig", Any),
        ],
        K::FunctionCallingConfig => &[("mode", Any), ("allowedFunctionNames", Any)],
        K::SafetySetting => &[("category", Any), ("threshold", Any)],
        K::GenerationConfig => &[
            ("stopSequences", Any),
            ("responseMimeType", Any),
            ("responseSchema", M(K::Schema)),
            ("responseJsonSchema", Any),
            ("responseModalities", Any),
            ("candidateCount", Any),
            ("maxOutputTokens", Any),
            ("temperature", Any),
            ("topP", Any),
            ("topK", Any),
            ("seed", Any),
            ("presencePenalty", Any),
            ("frequencyPenalty", Any),
            ("responseLogprobs", Any),
            ("logprobs", Any),
            ("enableEnhancedCivicAnswers", Any),
            ("speechConfig", Any),
            ("thinkingConfig", M(K::ThinkingConfig)),
            ("imageConfig", Any),
            ("mediaResolution", Any),
        ],
        K::ThinkingConfig => &[
            ("includeThoughts", Any),
            ("thinkingBudget", Any),
            ("thinkingLevel", Any),
        ],
        K::Open => return None,
    })
}

/// `lowerCamelCase` as `snake_case`.
fn snake(name: &str) -> String {
    let mut out = String::with_capacity(name.len() + 4);
    for c in name.chars() {
        if c.is_ascii_uppercase() {
            out.push('_');
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

/// An unknown field: its name and the snake_case path of the message holding it.
struct Unknown {
    name: String,
    at: String,
}

fn check(value: &Value, node: Node, path: &str) -> Option<Unknown> {
    match (node, value) {
        (Any, _) => None,
        (_, Value::Array(items)) => items
            .iter()
            .enumerate()
            .find_map(|(i, item)| check(item, node, &format!("{path}[{i}]"))),
        (M(kind), Value::Object(object)) => check_message(object, kind, path),
        (MapOf(kind), Value::Object(object)) => object
            .iter()
            .find_map(|(key, item)| check(item, M(kind), &format!("{path}[{key}].value"))),
        _ => None,
    }
}

fn check_message(object: &Map<String, Value>, kind: Kind, path: &str) -> Option<Unknown> {
    let known = fields(kind)?;
    for (name, value) in object {
        let field = known
            .iter()
            .find(|(field, _)| name == field || *name == snake(field));
        let Some((field, node)) = field else {
            return Some(Unknown {
                name: name.clone(),
                at: path.to_owned(),
            });
        };
        let inner = if path.is_empty() {
            snake(field)
        } else {
            format!("{path}.{}", snake(field))
        };
        if let Some(unknown) = check(value, *node, &inner) {
            return Some(unknown);
        }
    }
    None
}

/// Gemini's 400 `INVALID_ARGUMENT` for a request body.
pub(super) fn refusal(body: &[u8]) -> Option<Value> {
    let request: Value = match serde_json::from_slice(body) {
        Ok(request) => request,
        Err(problem) => {
            return Some(invalid_argument(
                &format!("Invalid JSON payload received. {problem}"),
                "",
            ))
        }
    };
    let unknown = check(&request, M(K::Request), "")?;
    let message = if unknown.at.is_empty() {
        format!(
            "Invalid JSON payload received. Unknown name \"{}\": Cannot find field.",
            unknown.name
        )
    } else {
        format!(
            "Invalid JSON payload received. Unknown name \"{}\" at '{}': Cannot find field.",
            unknown.name, unknown.at
        )
    };
    Some(invalid_argument(&message, &unknown.at))
}

fn invalid_argument(message: &str, field: &str) -> Value {
    json!({"error": {
        "code": 400,
        "message": message,
        "status": "INVALID_ARGUMENT",
        "details": [{
            "@type": "type.googleapis.com/google.rpc.BadRequest",
            "fieldViolations": [{"field": field, "description": message}]
        }]
    }})
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(body: &Value) -> Option<String> {
        let refused = refusal(body.to_string().as_bytes())?;
        assert_eq!(refused["error"]["status"], "INVALID_ARGUMENT");
        assert_eq!(refused["error"]["code"], 400);
        refused["error"]["message"].as_str().map(str::to_owned)
    }

    #[test]
    fn a_full_request_passes() {
        let body = json!({
            "contents": [{"role": "user", "parts": [{"text": "hi"}, {"inline_data": {"mimeType": "image/png", "data": "AA=="}}]}],
            "systemInstruction": {"parts": [{"text": "be brief"}]},
            "tools": [{"functionDeclarations": [{"name": "f", "parameters": {"type": "OBJECT", "properties": {"a": {"type": "STRING"}}}}]}],
            "generationConfig": {"temperature": 0.2, "responseMimeType": "application/json",
                "responseSchema": {"type": "OBJECT", "properties": {"list": {"type": "ARRAY", "items": {"type": "INTEGER"}}}, "required": ["list"]},
                "thinkingConfig": {"thinkingBudget": 128}}
        });
        assert_eq!(message(&body), None);
    }

    #[test]
    fn unknown_fields_are_refused_at_any_depth() {
        assert_eq!(
            message(&json!({"contents": [], "stream": true})).as_deref(),
            Some("Invalid JSON payload received. Unknown name \"stream\": Cannot find field.")
        );
        let deep = json!({"contents": [], "generationConfig": {"responseSchema":
            {"type": "OBJECT", "properties": {"a": {"type": "OBJECT", "additionalProperties": false}}}}});
        assert_eq!(
            message(&deep).as_deref(),
            Some("Invalid JSON payload received. Unknown name \"additionalProperties\" at 'generation_config.response_schema.properties[a].value': Cannot find field.")
        );
        let in_part = json!({"contents": [{"parts": [{"text": "x", "cache_control": {}}]}]});
        assert!(message(&in_part).is_some_and(|m| m.contains("at 'contents[0].parts[0]'")));
    }
}
