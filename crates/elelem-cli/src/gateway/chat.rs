//! The OpenAI endpoints: `POST /v1/chat/completions` (plain and streamed),
//! `POST /v1/completions` and `GET /v1/models`.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::Json;
use elelem::{
    ChatCompletion, CompletionRequest, ElelemError, ElelemMeta, StreamSummary, TextCompletion, Usd,
};
use serde::Serialize;
use serde_json::{Map, Value};

use super::admission::{admit, Admitted, Call, Routed};
use super::body::authorization;
use super::{ApiError, Gateway};
use crate::openai_body;

/// The `elelem` object added to answers: what the call cost and who answered.
///
/// ```
/// let meta = elelem::ElelemMeta { attempts: 2, answered_by: "groq:x".into(), ..Default::default() };
/// let json = elelem_cli::gateway::meta_json(&meta);
/// assert_eq!((json["attempts"].as_u64(), json["answered_by"].as_str()), (Some(2), Some("groq:x")));
/// ```
pub fn meta_json(meta: &ElelemMeta) -> Value {
    serde_json::to_value(MetaView::of(meta)).unwrap_or(Value::Null)
}

/// The `elelem` object's fields, serialised straight into an answer (no
/// intermediate `Value`).
#[derive(Serialize)]
pub(crate) struct MetaView<'a> {
    cost_usd: Usd,
    attempts: u32,
    requested_model: &'a str,
    answered_by: &'a str,
    cache_hit: bool,
}

impl MetaView<'_> {
    pub(crate) fn of(meta: &ElelemMeta) -> MetaView<'_> {
        MetaView {
            cost_usd: meta.cost,
            attempts: meta.attempts,
            requested_model: &meta.requested_model,
            answered_by: &meta.answered_by,
            cache_hit: meta.cache_hit,
        }
    }

    /// The `elelem` object of a finished stream.
    pub(crate) fn of_stream(summary: &StreamSummary) -> MetaView<'_> {
        MetaView {
            cost_usd: summary.cost,
            attempts: summary.attempts,
            requested_model: &summary.requested_model,
            answered_by: &summary.answered_by,
            cache_hit: false,
        }
    }
}

impl Routed for openai_body::ChatBody {
    fn models(&self) -> Vec<&str> {
        std::iter::once(self.request.model.as_str())
            .chain(self.request.fallback_models.iter().map(String::as_str))
            .collect()
    }

    fn tags_mut(&mut self) -> &mut Vec<String> {
        &mut self.request.tags
    }
}

impl Routed for CompletionRequest {
    fn models(&self) -> Vec<&str> {
        vec![self.model.as_str()]
    }

    fn tags_mut(&mut self) -> &mut Vec<String> {
        &mut self.tags
    }
}

/// `POST /v1/chat/completions`.
pub(crate) async fn chat_completions(
    State(gateway): State<Arc<Gateway>>,
    request: Request,
) -> Response {
    let admitted = admit("chat", &gateway, request, |loaded, body| {
        openai_body::chat_bytes(&loaded.elelem, body)
    })
    .await;
    let Admitted {
        loaded,
        request: parsed,
        mut call,
    } = match admitted {
        Ok(admitted) => admitted,
        Err(response) => return response,
    };
    let request = parsed.request;
    let model = request.model.clone();
    // The call's future (several KB) is boxed: unboxed, it would make this
    // handler's future as large, and axum moves that one by value per request.
    if parsed.stream {
        return match Box::pin(loaded.elelem.stream_chat_completion(request)).await {
            Ok(stream) => super::sse::response(&gateway, stream, call, model),
            Err(error) => call.fail(ApiError::from_elelem(&error)),
        };
    }
    let result = Box::pin(loaded.elelem.create_chat_completion(request)).await;
    reply(&mut call, &gateway, &model, result)
}

/// `POST /v1/completions` (legacy).
pub(crate) async fn completions(State(gateway): State<Arc<Gateway>>, request: Request) -> Response {
    let admitted = admit("completions", &gateway, request, |_, body| {
        openai_body::completion(openai_body::json(body)?)
    })
    .await;
    let Admitted {
        loaded,
        request,
        mut call,
    } = match admitted {
        Ok(admitted) => admitted,
        Err(response) => return response,
    };
    let model = request.model.clone();
    let result = Box::pin(loaded.elelem.create_completion(request)).await;
    reply(&mut call, &gateway, &model, result)
}

/// A completion answered with the upstream's extra fields and Elelem's facts.
trait Answered: Serialize {
    fn extra_mut(&mut self) -> &mut Map<String, Value>;
    fn meta(&self) -> &ElelemMeta;
}

impl Answered for ChatCompletion {
    fn extra_mut(&mut self) -> &mut Map<String, Value> {
        &mut self.extra
    }

    fn meta(&self) -> &ElelemMeta {
        &self.elelem
    }
}

impl Answered for TextCompletion {
    fn extra_mut(&mut self) -> &mut Map<String, Value> {
        &mut self.extra
    }

    fn meta(&self) -> &ElelemMeta {
        &self.elelem
    }
}

/// The answer to a finished completion call: the completion with the
/// `elelem` object, or the error.
fn reply<A: Answered>(
    call: &mut Call,
    gateway: &Gateway,
    model: &str,
    result: Result<A, ElelemError>,
) -> Response {
    match result {
        Ok(mut answer) => {
            // Ours is the one `elelem` object (an upstream gateway may send its own).
            answer.extra_mut().remove("elelem");
            call.answer(gateway, model, &answer, &MetaView::of(answer.meta()))
        }
        Err(error) => call.fail(ApiError::from_elelem(&error)),
    }
}

/// `GET /v1/models`: the catalogue in OpenAI's list shape, limited to what the
/// key may use.
pub(crate) async fn models(State(gateway): State<Arc<Gateway>>, headers: HeaderMap) -> Response {
    let loaded = gateway.loaded();
    let key = match loaded.keys.authenticate(authorization(&headers)) {
        Ok(key) => key,
        Err(error) => return error.into_response(),
    };
    let mut list = loaded.elelem.list_models();
    if let Some(key) = key {
        list.data.retain(|m| key.allows(&m.id));
    }
    Json(list).into_response()
}
