//! Step 2 and 3 of the pipeline: the wire body for one attempt, with what the model
//! does not support removed and the JSON instructions added.

use serde_json::Value;

use crate::catalogue::{ModelEntry, ProviderEntry};
use crate::provider::WireRequest;
use crate::types::{ChatRequest, Content, Message, ResponseFormat, Role};

/// What changes between attempts of one call.
#[derive(Debug, Clone, Default)]
pub(crate) struct AttemptParams {
    /// The temperature to send (already `None` when unsupported).
    pub temperature: Option<f64>,
    /// Whether `response_format` was dropped by the retry ladder.
    pub response_format_removed: bool,
    /// The rejected answer and what was wrong with it, for a JSON retry.
    pub feedback: Option<(String, String)>,
}

/// The `response_format` to send to this model for this request, if any.
fn wire_response_format(request: &ChatRequest, model: &ModelEntry) -> Option<Value> {
    let caps = model.capabilities;
    match &request.response_format {
        Some(ResponseFormat::Yaml) => None,
        Some(ResponseFormat::JsonSchema { .. }) if caps.json_schema => request
            .response_format
            .as_ref()
            .map(ResponseFormat::to_wire),
        Some(ResponseFormat::Text) if !request.is_json_mode() => None,
        _ if request.is_json_mode() && caps.json_mode => Some(ResponseFormat::JsonObject.to_wire()),
        _ => None,
    }
}

/// The messages with the JSON instruction added: appended to the first system
/// message, or a new system message first, or (when the model has no system role)
/// folded into the first user message. Each message is copied once, with room
/// for `more` messages after it.
fn messages_with_instruction(
    messages: &[Message],
    instruction: Option<&str>,
    model: &ModelEntry,
    more: usize,
) -> Vec<Message> {
    let mut out = Vec::with_capacity(messages.len() + 1 + more);
    let joined_into = instruction.and_then(|instruction| {
        let system = messages.iter().position(|m| m.role == Role::System);
        if system.is_none() {
            out.push(Message::system(instruction));
        }
        system.map(|i| (i, instruction))
    });
    for (i, message) in messages.iter().enumerate() {
        match joined_into {
            Some((at, instruction)) if at == i => out.push(Message {
                role: message.role.clone(),
                content: Some(Content::Text(joined(message, instruction))),
                extra: message.extra.clone(),
            }),
            _ => out.push(message.clone()),
        }
    }
    if !model.capabilities.system_role {
        fold_system_into_user(&mut out);
    }
    out
}

/// The message's text followed by the instruction, a blank line between them.
fn joined(message: &Message, instruction: &str) -> String {
    let mut text = match &message.content {
        Some(Content::Text(text)) => {
            let mut joined = String::with_capacity(text.len() + 2 + instruction.len());
            joined.push_str(text);
            joined
        }
        _ => message.text(),
    };
    if !text.is_empty() {
        text.push_str("\n\n");
    }
    text.push_str(instruction);
    text
}

/// Turns system messages into text before the first user message.
fn fold_system_into_user(messages: &mut Vec<Message>) {
    let system_text: Vec<String> = messages
        .iter()
        .filter(|m| m.role == Role::System)
        .map(Message::text)
        .collect();
    if system_text.is_empty() {
        return;
    }
    messages.retain(|m| m.role != Role::System);
    let preamble = system_text.join("\n\n");
    match messages.iter_mut().find(|m| m.role == Role::User) {
        Some(user) => match &mut user.content {
            Some(Content::Parts(parts)) => {
                parts.insert(0, serde_json::json!({"type": "text", "text": preamble}))
            }
            content => {
                let text = content.as_ref().map(Content::text).unwrap_or_default();
                *content = Some(Content::Text(format!("{preamble}\n\n{text}")));
            }
        },
        None => messages.insert(0, Message::user(preamble)),
    }
}

/// The wire `messages`: the request's messages with the JSON instruction and the
/// retry feedback added.
fn wire_messages(
    messages: &[Message],
    instruction: Option<&str>,
    feedback: Option<&(String, String)>,
    model: &ModelEntry,
) -> Vec<Message> {
    let more = if feedback.is_some() { 2 } else { 0 };
    let mut out = messages_with_instruction(messages, instruction, model, more);
    if let Some((answer, problem)) = feedback {
        out.push(Message::assistant(answer.clone()));
        out.push(Message::user(problem.clone()));
    }
    out
}

/// The complete body for one attempt, typed: serialized straight to bytes by the
/// provider, with no JSON tree in between. Defaults of the provider, then of the
/// model, then the request's extras are laid down first; what the pipeline decides
/// (model, messages, temperature, token limit, response format) goes on top.
pub(crate) fn wire_body(
    request: &ChatRequest,
    instruction: Option<&str>,
    provider: Option<&ProviderEntry>,
    model: &ModelEntry,
    params: &AttemptParams,
) -> WireRequest {
    let mut body = WireRequest::default();
    let defaults = provider
        .map(|provider| &provider.default_params)
        .into_iter()
        .chain([&model.default_params, &request.extra]);
    for params in defaults {
        for (key, value) in params {
            body.set(key, value.clone());
        }
    }

    body.model = model.upstream.clone();
    body.messages = wire_messages(
        &request.messages,
        instruction,
        params.feedback.as_ref(),
        model,
    );
    body.extra.remove("model");
    body.extra.remove("messages");

    body.remove("temperature");
    if model.capabilities.temperature {
        body.temperature = params.temperature.filter(|t| t.is_finite());
    }

    if let Some(max_tokens) = request.max_tokens {
        body.remove("max_tokens");
        body.remove("max_completion_tokens");
        body.set(&model.max_tokens_field, Value::from(max_tokens));
    }

    if !model.capabilities.reasoning_effort {
        body.remove("reasoning_effort");
    }

    body.remove("response_format");
    if !params.response_format_removed {
        body.response_format = wire_response_format(request, model);
    }
    crate::sampling::fit_body(&mut body, request, model);
    body
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::catalogue::Catalogue;

    /// The body as JSON, to look at.
    fn wire_body_map(
        request: &ChatRequest,
        instruction: Option<&str>,
        provider: Option<&ProviderEntry>,
        model: &ModelEntry,
        params: &AttemptParams,
    ) -> serde_json::Map<String, Value> {
        let body = wire_body(request, instruction, provider, model, params);
        let map = body.to_map();
        assert_eq!(
            body.sends_response_format(),
            map.contains_key("response_format")
        );
        map
    }

    fn catalogue() -> Catalogue {
        Catalogue::from_sources([(
            "t",
            r#"
            [provider]
            name = "p"
            base_url = "http://x"
            default_params = { service_tier = "auto" }
            [[models]]
            id = "p:full"
            upstream = "vendor/full"
            capabilities = { json_schema = true }
            [[models]]
            id = "p:reasoner"
            capabilities = { temperature = false }
            max_tokens_field = "max_completion_tokens"
            [[models]]
            id = "p:plain"
            capabilities = { json_mode = false, system_role = false }
            "#,
        )])
        .unwrap()
    }

    fn schema_request() -> ChatRequest {
        ChatRequest::new(
            "p:full",
            vec![Message::system("Be brief."), Message::user("Hi")],
        )
        .response_format(ResponseFormat::JsonSchema {
            name: "s".into(),
            schema: json!({"type": "object"}),
            strict: Some(true),
        })
        .temperature(0.8)
        .max_tokens(100)
        .extra("seed", 3)
        .extra("temperature", 2.0)
    }

    #[test]
    fn json_schema_goes_natively_where_supported_with_defaults_and_extras() {
        let c = catalogue();
        let params = AttemptParams {
            temperature: Some(0.8),
            ..AttemptParams::default()
        };
        let body = wire_body_map(
            &schema_request(),
            Some("JSON!"),
            c.provider("p"),
            c.model("p:full").unwrap(),
            &params,
        );
        assert_eq!(body["model"], "vendor/full");
        assert_eq!(body["service_tier"], "auto");
        assert_eq!(body["seed"], 3);
        assert_eq!(body["temperature"], 0.8);
        assert_eq!(body["max_tokens"], 100);
        assert_eq!(body["response_format"]["type"], "json_schema");
        assert_eq!(body["messages"][0]["content"], "Be brief.\n\nJSON!");
    }

    #[test]
    fn unsupported_parameters_are_removed_and_degraded() {
        let c = catalogue();
        let params = AttemptParams {
            temperature: Some(0.8),
            ..AttemptParams::default()
        };
        let mut request = schema_request();
        request.model = "p:reasoner".into();
        let body = wire_body_map(
            &request,
            Some("JSON!"),
            c.provider("p"),
            c.model("p:reasoner").unwrap(),
            &params,
        );
        assert!(!body.contains_key("temperature"));
        assert!(!body.contains_key("max_tokens"));
        assert_eq!(body["max_completion_tokens"], 100);
        assert_eq!(body["response_format"], json!({"type": "json_object"}));

        let body = wire_body_map(
            &request,
            Some("JSON!"),
            c.provider("p"),
            c.model("p:plain").unwrap(),
            &params,
        );
        assert!(!body.contains_key("response_format"));
        let messages = body["messages"].as_array().unwrap();
        assert_eq!(messages.len(), 1);
        assert_eq!(messages[0]["role"], "user");
        assert_eq!(messages[0]["content"], "Be brief.\n\nJSON!\n\nHi");
    }

    #[test]
    fn removal_and_feedback_are_applied() {
        let c = catalogue();
        let params = AttemptParams {
            temperature: Some(0.5),
            response_format_removed: true,
            feedback: Some(("{bad".into(), "fix it".into())),
        };
        let body = wire_body_map(
            &schema_request(),
            None,
            c.provider("p"),
            c.model("p:full").unwrap(),
            &params,
        );
        assert!(!body.contains_key("response_format"));
        let messages = body["messages"].as_array().unwrap();
        assert_eq!(messages[2], json!({"role": "assistant", "content": "{bad"}));
        assert_eq!(messages[3], json!({"role": "user", "content": "fix it"}));
    }

    #[test]
    fn the_instruction_joins_the_first_system_message_whatever_its_content() {
        let c = catalogue();
        let model = c.model("p:full").unwrap();
        let mut parts = Message::user_with_images("Look.", &["https://x/y.png"]);
        parts.role = Role::System;
        let mut empty = Message::system("");
        empty.content = None;
        for (system, joined) in [
            (parts, "Look.\n\nJSON!"),
            (empty, "JSON!"),
            (Message::system("Be brief."), "Be brief.\n\nJSON!"),
        ] {
            let mut system = system;
            system.extra.insert("name".into(), json!("s"));
            let messages = vec![Message::user("Hi"), system, Message::system("Second.")];
            let out = messages_with_instruction(&messages, Some("JSON!"), model, 0);
            assert_eq!(out.len(), 3);
            assert_eq!(out[0], messages[0]);
            assert_eq!(out[1].role, Role::System);
            assert_eq!(out[1].text(), joined);
            assert_eq!(out[1].extra["name"], "s");
            assert_eq!(out[2], messages[2]);
        }
    }

    #[test]
    fn a_json_instruction_without_system_message_becomes_the_first_message() {
        let c = catalogue();
        let request = ChatRequest::new("p:full", vec![Message::user("Hi")])
            .response_format(ResponseFormat::JsonObject);
        let body = wire_body_map(
            &request,
            Some("JSON!"),
            None,
            c.model("p:full").unwrap(),
            &AttemptParams::default(),
        );
        assert_eq!(
            body["messages"][0],
            json!({"role": "system", "content": "JSON!"})
        );
        assert_eq!(body["response_format"], json!({"type": "json_object"}));
    }
}
