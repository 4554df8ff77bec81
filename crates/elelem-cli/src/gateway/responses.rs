//! `POST /v1/responses`: the OpenAI Responses API through the gateway, plain
//! and streamed. A plain answer is the response object with an `elelem`
//! object added (cost, attempts, answered_by); a streamed one is the typed
//! events as server-sent events with their `event:` names, the final
//! response's object carrying the `elelem` object. A failure after the first
//! event ends the stream with an `error` event.

use std::sync::Arc;
use std::task::{Context, Poll};

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::response::Response;
use elelem::{ElelemError, ElelemMeta, ResponseInput, ResponseRequest, ResponseStream, TextFormat};
use futures_util::StreamExt;
use serde_json::{Map, Value};

use super::admission::{admit, Admitted, Call, Routed};
use super::chat::meta_json;
use super::sse::{event_stream, shutting_down, EventBody, Events, Next};
use super::{ApiError, Gateway};

const ROUTE: &str = "responses";

/// A Responses body as a request, and whether it asks for a stream.
fn parse(body: Value) -> Result<(ResponseRequest, bool), ApiError> {
    let Value::Object(mut map) = body else {
        return Err(ApiError::invalid(
            "",
            "the request body must be a JSON object",
        ));
    };
    let model = match map.remove("model") {
        Some(Value::String(model)) => model,
        _ => {
            return Err(ApiError::invalid(
                "model",
                "`model` is required (a \"provider:model\" string)",
            ))
        }
    };
    let input = match map.remove("input") {
        Some(Value::String(text)) => ResponseInput::Text(text),
        Some(Value::Array(items)) => ResponseInput::Items(items),
        None | Some(Value::Null) => ResponseInput::Items(Vec::new()),
        Some(_) => {
            return Err(ApiError::invalid(
                "input",
                "`input` must be a string or an array of input items",
            ))
        }
    };
    let mut request = ResponseRequest::new(model, input);
    request.instructions = text(&mut map, "instructions")?;
    request.previous_response_id = text(&mut map, "previous_response_id")?;
    request.store = typed(&mut map, "store")?;
    request.max_output_tokens = typed(&mut map, "max_output_tokens")?;
    request.temperature = typed(&mut map, "temperature")?;
    request.tools = typed(&mut map, "tools")?.unwrap_or_default();
    request.tags = typed(&mut map, "tags")?.unwrap_or_default();
    let stream = typed(&mut map, "stream")?.unwrap_or(false);
    if let Some(Value::Object(mut text)) = map.remove("text") {
        if let Some(format) = text.remove("format") {
            request.text_format = Some(text_format(format)?);
        }
        if !text.is_empty() {
            map.insert("text".into(), Value::Object(text));
        }
    }
    request.extra = map;
    Ok((request, stream))
}

fn typed<T: serde::de::DeserializeOwned>(
    map: &mut Map<String, Value>,
    field: &str,
) -> Result<Option<T>, ApiError> {
    match map.remove(field) {
        None | Some(Value::Null) => Ok(None),
        Some(value) => serde_json::from_value(value)
            .map(Some)
            .map_err(|e| ApiError::invalid(field, format!("`{field}` is not valid: {e}"))),
    }
}

fn text(map: &mut Map<String, Value>, field: &str) -> Result<Option<String>, ApiError> {
    typed(map, field)
}

/// `text.format` (flat: `{type, name, schema, strict}`).
fn text_format(format: Value) -> Result<TextFormat, ApiError> {
    let kind = format.get("type").and_then(Value::as_str).unwrap_or("text");
    match kind {
        "text" => Ok(TextFormat::Text),
        "json_object" => Ok(TextFormat::JsonObject),
        "json_schema" => Ok(TextFormat::JsonSchema {
            name: format
                .get("name")
                .and_then(Value::as_str)
                .unwrap_or("answer")
                .to_owned(),
            schema: format.get("schema").cloned().ok_or_else(|| {
                ApiError::invalid(
                    "text.format.schema",
                    "a json_schema format needs its `schema`",
                )
            })?,
            strict: format
                .get("strict")
                .and_then(Value::as_bool)
                .unwrap_or(false),
        }),
        other => Err(ApiError::invalid(
            "text.format.type",
            format!("unknown text format {other:?}; use text, json_object or json_schema"),
        )),
    }
}

/// The client's error for a failed call (a model without the Responses API is
/// the client's fault: 400).
fn api_error(error: &ElelemError) -> ApiError {
    match error {
        ElelemError::OperationUnsupported { .. } => ApiError::invalid("model", error.to_string()),
        other => ApiError::from_elelem(other),
    }
}

/// The `elelem` object of a response.
fn meta(response: &elelem::Response) -> Value {
    let elelem = &response.elelem;
    meta_json(&ElelemMeta {
        requested_model: elelem.requested_model.clone(),
        answered_by: elelem.answered_by.clone(),
        attempts: elelem.attempts,
        cost: elelem.cost,
        ..ElelemMeta::default()
    })
}

/// A Responses body read: the request and whether it asks for a stream.
struct Parsed {
    request: ResponseRequest,
    stream: bool,
}

impl Routed for Parsed {
    fn models(&self) -> Vec<&str> {
        vec![self.request.model.as_str()]
    }

    fn tags_mut(&mut self) -> &mut Vec<String> {
        &mut self.request.tags
    }
}

/// `POST /v1/responses`.
pub(crate) async fn create(State(gateway): State<Arc<Gateway>>, request: Request) -> Response {
    let admitted = admit(ROUTE, &gateway, request, |_, body| {
        parse(crate::openai_body::json(body)?).map(|(request, stream)| Parsed { request, stream })
    })
    .await;
    let Admitted {
        loaded,
        request: Parsed { request, stream },
        mut call,
    } = match admitted {
        Ok(admitted) => admitted,
        Err(response) => return response,
    };
    let model = request.model.clone();
    if stream {
        // Boxed, so this handler's future stays small (see chat.rs).
        return match Box::pin(loaded.elelem.stream_response(request)).await {
            Ok(stream) => forward(&gateway, stream, call),
            Err(error) => call.fail(api_error(&error)),
        };
    }
    match Box::pin(loaded.elelem.create_response(request)).await {
        Ok(mut response) => {
            // Ours is the one `elelem` object (an upstream gateway may send its own).
            response.extra.remove("elelem");
            let meta = meta(&response);
            call.answer(&gateway, &model, &response, &meta)
        }
        Err(error) => call.fail(api_error(&error)),
    }
}

/// Appends one server-sent event with its `event:` name to `out`.
fn sse(out: &mut Vec<u8>, name: &str, data: &Value) {
    use std::io::Write as _;
    // Writing into a Vec cannot fail.
    let _ = write!(out, "event: {name}\ndata: {data}\n\n");
}

/// A Responses stream being forwarded.
struct Forward {
    stream: ResponseStream,
    call: Call,
}

/// The streamed answer: every event as it comes.
fn forward(gateway: &Arc<Gateway>, stream: ResponseStream, call: Call) -> Response {
    event_stream(Body::new(EventBody::new(gateway, Forward { stream, call })))
}

impl Events for Forward {
    fn poll_event(&mut self, cx: &mut Context<'_>, out: &mut Vec<u8>) -> Next {
        match self.stream.poll_next_unpin(cx) {
            Poll::Pending => Next::Pending,
            Poll::Ready(Some(Ok(event))) => {
                let mut data = serde_json::to_value(&event).unwrap_or(Value::Null);
                if let Some(response) = event.final_response() {
                    let summary = self.stream.summary();
                    let mut response = response.clone();
                    response
                        .elelem
                        .requested_model
                        .clone_from(&summary.requested_model);
                    response.elelem.answered_by.clone_from(&summary.answered_by);
                    response.elelem.attempts = summary.attempts;
                    response.elelem.cost = summary.cost;
                    data["response"]["elelem"] = meta(&response);
                }
                sse(out, event.kind(), &data);
                if event.is_terminal() {
                    self.call.end(StatusCode::OK);
                    return Next::Last;
                }
                Next::Event
            }
            Poll::Ready(Some(Err(error))) => {
                self.call.end(StatusCode::BAD_GATEWAY);
                sse(out, "error", &api_error(&error).body());
                Next::Last
            }
            Poll::Ready(None) => {
                self.call.guard.done();
                Next::Last
            }
        }
    }

    fn shut_down(&mut self, out: &mut Vec<u8>) {
        self.call.end(StatusCode::SERVICE_UNAVAILABLE);
        sse(out, "error", &shutting_down().body());
    }
}
