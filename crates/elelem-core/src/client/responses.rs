//! The Responses API operation (`POST /responses`): planned like a chat call
//! (budgets, gate, retries, cost by tag), its *accept* step parsing and
//! validating the answer when `text.format` asks for JSON, with the same JSON
//! ladder (think removal, extraction, local repair, feedback retry, the format
//! dropped for the instructions).

use serde_json::{Map, Value};

use super::answer::{self, Answer, AnswerMode, Rejection};
use super::elelem::Inner;
use super::engine::{self, CallPlan, Entry, Finished, Operation, Refused, Target};
use super::prepare::AttemptParams;
use crate::cost::Adjustments;
use crate::error::{AttemptProblem, ElelemError};
use crate::provider::{ProviderError, ResponseReply, WireRequest};
use crate::types::{
    ChatCompletion, ChatRequest, Message, Response, ResponseFormat, ResponseInput, ResponseRequest,
    TextFormat, Usage,
};

/// Sends a Responses API request through the engine.
pub(crate) async fn create(
    inner: &Inner,
    request: ResponseRequest,
) -> Result<Response, ElelemError> {
    let (mut plan, first) = plan(inner, &request, Entry::Response)?;
    engine::run_in_span(inner, &mut plan, first, &Respond { request: &request }).await
}

/// Plans a Responses request as the chat call it amounts to (the same checks,
/// estimate, budgets and tags), and refuses a model that does not offer the
/// Responses API before anything is sent.
pub(super) fn plan(
    inner: &Inner,
    request: &ResponseRequest,
    entry: Entry,
) -> Result<(CallPlan, Target), ElelemError> {
    let mut messages = Vec::new();
    if let Some(instructions) = &request.instructions {
        messages.push(Message::system(instructions.clone()));
    }
    messages.push(Message::user(request.input.estimate_text()));
    let mut planned = ChatRequest::new(request.model.clone(), messages);
    planned.max_tokens = request.max_output_tokens;
    planned.temperature = request.temperature;
    planned.tags = request.tags.clone();
    planned.response_format = match &request.text_format {
        Some(TextFormat::JsonSchema {
            name,
            schema,
            strict,
        }) => Some(ResponseFormat::JsonSchema {
            name: name.clone(),
            schema: schema.clone(),
            strict: Some(*strict),
        }),
        Some(TextFormat::JsonObject) => Some(ResponseFormat::JsonObject),
        Some(TextFormat::Text) | None => None,
    };
    let (plan, first) = CallPlan::new(inner, planned, entry)?;
    if !first.model.capabilities.responses {
        return Err(ElelemError::OperationUnsupported {
            model: first.model.id.clone(),
            operation: "the Responses API",
            hint: "its catalogue entry has no `responses = true`; use create_chat_completion, or a model that has it (OpenAI, xAI, or a compatible server declared with capabilities = { responses = true } in a models file)".into(),
        });
    }
    Ok((plan, first))
}

/// The wire request of one attempt: the Responses body, with `text.format` in
/// `response_format` for the ladder to see (see
/// [`responses_body`](crate::provider::responses_body)). A JSON retry appends
/// the rejected answer and the feedback to the input; once the format is
/// dropped, the JSON instruction goes into `instructions`.
pub(super) fn body(
    request: &ResponseRequest,
    plan: &CallPlan,
    target: &Target,
    params: &AttemptParams,
) -> WireRequest {
    let mut body = WireRequest::default();
    for (key, value) in &request.extra {
        body.set(key, value.clone());
    }
    body.model = target.model.upstream.clone();
    let input = match &params.feedback {
        None => serde_json::to_value(&request.input).unwrap_or(Value::Null),
        Some((answer, feedback)) => {
            let mut items = request.input.to_items();
            items.push(ResponseInput::message("assistant", answer.clone()));
            items.push(ResponseInput::message("user", feedback.clone()));
            Value::Array(items)
        }
    };
    body.set("input", input);
    let mut instructions = request.instructions.clone();
    match (&request.text_format, params.response_format_removed) {
        (Some(format), false) => body.response_format = Some(format.to_wire()),
        (Some(_), true) => {
            if let Some(json) = plan.instruction_text() {
                instructions = Some(match instructions {
                    Some(own) => format!("{own}\n\n{json}"),
                    None => json.to_owned(),
                });
            }
        }
        (None, _) => {}
    }
    if let Some(instructions) = instructions {
        body.set("instructions", Value::String(instructions));
    }
    if let Some(id) = &request.previous_response_id {
        body.set("previous_response_id", Value::String(id.clone()));
    }
    if let Some(store) = request.store {
        body.set("store", Value::Bool(store));
    }
    if !request.tools.is_empty() {
        body.set("tools", Value::Array(request.tools.clone()));
    }
    if let Some(effort) = &request.reasoning_effort {
        let mut reasoning = match body.remove("reasoning") {
            Some(Value::Object(reasoning)) => reasoning,
            _ => Map::new(),
        };
        reasoning.insert("effort".into(), Value::String(effort.clone()));
        body.set("reasoning", Value::Object(reasoning));
    }
    if let Some(tokens) = request.max_output_tokens {
        body.set("max_output_tokens", Value::from(tokens));
    }
    body.temperature = params.temperature;
    body
}

/// The provider error a response holds instead of an answer.
pub(super) fn failure_of(provider: &str, response: &Response) -> Option<ProviderError> {
    let error = response.failure()?;
    let mut holder = Map::new();
    holder.insert("error".into(), error.clone());
    engine::error_in_answer(provider, false, &holder)
}

/// Accepts a response: a failed one is the provider error it holds; in JSON
/// mode its text must parse and satisfy the schema (a function call is taken
/// as it is).
fn judge(plan: &CallPlan, target: &Target, response: &Response) -> Result<Option<Answer>, Refused> {
    if let Some(error) = failure_of(&target.model.provider, response) {
        return Err(Refused {
            problem: AttemptProblem::Provider(error),
            answer: String::new(),
        });
    }
    if !plan.request.is_json_mode() || response.function_calls().next().is_some() {
        return Ok(None);
    }
    let text = response.output_text();
    let completion: ChatCompletion = serde_json::from_value(serde_json::json!({
        "model": response.model,
        "choices": [{"index": 0, "message": {"role": "assistant", "content": text}}],
    }))
    .map_err(|e| Refused {
        problem: AttemptProblem::JsonParse(e.to_string()),
        answer: String::new(),
    })?;
    answer::process(
        &completion,
        AnswerMode::Json,
        target.model.capabilities.reasoning,
        plan.validator.as_deref(),
    )
    .map(Some)
    .map_err(|(text, rejection)| Refused {
        problem: match rejection {
            Rejection::Parse(reason) => AttemptProblem::JsonParse(reason),
            Rejection::Schema(errors) => AttemptProblem::Schema(errors),
            Rejection::Check(message) => AttemptProblem::Check(message),
        },
        answer: text,
    })
}

/// Puts the cleaned JSON text in place of the answer's text (think blocks,
/// fences and prose removed): the first `output_text` part holds it, later
/// ones are emptied.
fn replace_text(response: &mut Response, cleaned: String) {
    if response.output_text() == cleaned {
        return;
    }
    let mut cleaned = Some(cleaned);
    let parts = response
        .output
        .iter_mut()
        .filter(|item| item.kind == "message")
        .flat_map(|item| item.content.iter_mut().flatten())
        .filter(|part| part.kind == "output_text");
    for part in parts {
        part.text = Some(cleaned.take().unwrap_or_default());
    }
}

/// A plain Responses API call.
struct Respond<'a> {
    request: &'a ResponseRequest,
}

impl Operation for Respond<'_> {
    type Answer = ResponseReply;
    type Accepted = Option<Answer>;
    type Output = Response;

    fn json_ladder(&self) -> bool {
        true
    }

    fn body(&self, plan: &CallPlan, target: &Target, params: &AttemptParams) -> WireRequest {
        body(self.request, plan, target, params)
    }

    fn send(
        &self,
        target: &Target,
        body: WireRequest,
    ) -> impl std::future::Future<Output = Result<ResponseReply, ProviderError>> + Send {
        target.provider.create_response(body)
    }

    fn usage(answer: &ResponseReply) -> Option<&Usage> {
        answer.usage.as_ref()
    }

    fn service_tier(answer: &ResponseReply) -> Option<&str> {
        answer
            .response
            .extra
            .get("service_tier")
            .and_then(Value::as_str)
    }

    fn adjustments(accepted: &Option<Answer>) -> Adjustments {
        Adjustments {
            json_repaired: accepted.as_ref().is_some_and(|a| a.repaired),
            ..Adjustments::default()
        }
    }

    fn judge(
        &self,
        plan: &CallPlan,
        target: &Target,
        answer: &ResponseReply,
    ) -> Result<Option<Answer>, Refused> {
        judge(plan, target, &answer.response)
    }

    fn finish(
        &self,
        plan: &mut CallPlan,
        answer: ResponseReply,
        accepted: Option<Answer>,
        finished: Finished<'_>,
    ) -> Response {
        let mut response = answer.response;
        if let Some(accepted) = accepted {
            if let Some(cleaned) = accepted.content {
                replace_text(&mut response, cleaned);
            }
            response.elelem.json = accepted.json;
        }
        response.elelem.requested_model = plan.request.model.clone();
        response.elelem.answered_by = finished.target.model.id.clone();
        response.elelem.attempts = finished.attempts;
        response.elelem.cost = finished.cost;
        response
    }
}

impl super::gate::WithHeaders for ResponseReply {
    fn headers(&self) -> &std::collections::BTreeMap<String, String> {
        &self.headers
    }
}
