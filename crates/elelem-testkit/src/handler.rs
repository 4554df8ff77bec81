//! Routing and answering of one HTTP request.

use std::collections::BTreeMap;
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper::header::{HeaderName, HeaderValue, CONTENT_LENGTH, CONTENT_TYPE};
use hyper::{Method, Request, Response, StatusCode};
use serde_json::{json, Value};

use crate::body::ReplyBody;
use crate::record::insert_header;
use crate::script::{Action, Reply};
use crate::state::State;
use crate::{RecordedRequest, TestkitError};

/// What a request asks for.
enum Route {
    /// `POST …/chat/completions` or `POST …/completions`, and the native chat
    /// endpoints (Anthropic's `POST …/messages`, Gemini's
    /// `POST …/models/{model}:generateContent` and `:streamGenerateContent`,
    /// Vertex AI's partner models' `:rawPredict` and `:streamRawPredict`,
    /// Ollama's `POST …/api/chat`): answered by the script.
    Completions,
    /// `POST …/responses`: the Responses API, answered by the script (and its
    /// stored responses kept for `previous_response_id`).
    Responses,
    /// `GET …/models`: answered from the model list.
    Models,
    /// `GET …/api/tags`: Ollama's model list, answered from the model list.
    OllamaTags,
    /// Anything else: 404.
    Unknown,
}

/// Whether a `POST` path is a chat endpoint of one of the emulated providers.
fn is_chat_path(path: &str) -> bool {
    path.ends_with("/completions")
        || path.ends_with("/messages")
        || path.ends_with("/api/chat")
        || path.ends_with(":generateContent")
        || path.ends_with(":streamGenerateContent")
        || crate::bedrock::is_converse_path(path)
        || path.ends_with(":rawPredict")
        || path.ends_with(":streamRawPredict")
        || is_embeddings_path(path)
}

/// Whether a `POST` path is an embeddings endpoint (OpenAI's `…/embeddings`,
/// Ollama's `…/api/embed`, Gemini's `…:batchEmbedContents`), answered by the
/// script like a chat endpoint.
fn is_embeddings_path(path: &str) -> bool {
    path.ends_with("/embeddings")
        || path.ends_with("/api/embed")
        || path.ends_with(":batchEmbedContents")
}

fn route(method: &Method, path: &str) -> Route {
    let path = path.trim_end_matches('/');
    if method == Method::POST && path.ends_with("/responses") {
        Route::Responses
    } else if method == Method::POST && is_chat_path(path) {
        Route::Completions
    } else if method == Method::GET && path.ends_with("/models") {
        Route::Models
    } else if method == Method::GET && path.ends_with("/api/tags") {
        Route::OllamaTags
    } else {
        Route::Unknown
    }
}

/// Record the request, then answer it. An `Err` makes hyper close the
/// connection without a response.
pub(crate) async fn handle(
    state: Arc<State>,
    request: Request<Incoming>,
) -> Result<Response<ReplyBody>, TestkitError> {
    let (parts, body) = request.into_parts();
    let body = body
        .collect()
        .await
        .map_err(TestkitError::RequestBody)?
        .to_bytes();

    let mut headers = BTreeMap::new();
    for (name, value) in &parts.headers {
        insert_header(
            &mut headers,
            name.as_str(),
            &String::from_utf8_lossy(value.as_bytes()),
        );
    }
    let path = parts.uri.path().to_owned();
    let unsigned = state
        .sigv4()
        .filter(|_| crate::bedrock::is_converse_path(&path))
        .and_then(|(id, secret)| crate::bedrock::check_sigv4(&path, &headers, &body, &id, &secret));
    let recorded = RecordedRequest {
        method: parts.method.as_str().to_owned(),
        path: path.clone(),
        headers,
        body: body.clone(),
        query: parts.uri.query().map(str::to_owned),
    };
    let (responded, hidden) = state.respond(&recorded);
    if !hidden {
        state.record(recorded);
    }
    if let Some(answered) = responded {
        return answer(answered).await;
    }

    if let Some(refusal) = unsigned {
        return answer(refusal).await;
    }
    match route(&parts.method, &path) {
        Route::Completions => match state.strict().then(|| crate::strict::refusal(&path, &body)) {
            Some(Some(refusal)) => Ok(json_response(StatusCode::BAD_REQUEST, &refusal)),
            _ => answer(state.next_limited_answer()).await,
        },
        Route::Responses => {
            let refused = state
                .strict()
                .then(|| crate::responses::refusal(&state.responses, &body))
                .flatten();
            if let Some(refusal) = refused {
                return Ok(json_response(StatusCode::BAD_REQUEST, &refusal));
            }
            let next = state.next_limited_answer();
            state.responses.remember(&body, &next);
            answer(next).await
        }
        Route::Models => Ok(json_response(StatusCode::OK, &models_body(&state))),
        Route::OllamaTags => Ok(json_response(StatusCode::OK, &ollama_tags_body(&state))),
        Route::Unknown => Ok(json_response(
            StatusCode::NOT_FOUND,
            &error_body(&format!("Invalid URL ({} {path})", parts.method)),
        )),
    }
}

/// Play one scripted answer.
async fn answer(script: crate::ScriptedResponse) -> Result<Response<ReplyBody>, TestkitError> {
    if let Some(delay) = script.delay {
        tokio::time::sleep(delay).await;
    }
    match script.action {
        Action::Drop => Err(TestkitError::ScriptedDrop),
        Action::Reply(reply) => Ok(build(reply).unwrap_or_else(|problem| {
            json_response(
                StatusCode::INTERNAL_SERVER_ERROR,
                &error_body(&format!("testkit: invalid scripted response: {problem}")),
            )
        })),
    }
}

/// Turn a scripted reply into a hyper response, or explain why it is invalid.
fn build(reply: Reply) -> Result<Response<ReplyBody>, String> {
    let status = StatusCode::from_u16(reply.status)
        .map_err(|_| format!("status {} is not a valid HTTP status", reply.status))?;
    let full_len = reply.body.len();
    let body = match (reply.cut_at, reply.stall, reply.drip) {
        (Some(cut_at), _, _) => ReplyBody::truncated(reply.body.slice(..cut_at.min(full_len))),
        (None, Some(pause), _) => ReplyBody::stalled(reply.body, pause),
        (None, None, Some((parts, every))) => ReplyBody::drip(parts, every),
        (None, None, None) => ReplyBody::full(reply.body),
    };
    let mut response = Response::new(body);
    *response.status_mut() = status;
    let headers = response.headers_mut();
    for (name, value) in &reply.headers {
        let name = HeaderName::from_bytes(name.as_bytes())
            .map_err(|_| format!("{name:?} is not a valid header name"))?;
        let value = HeaderValue::from_str(value)
            .map_err(|_| format!("{value:?} is not a valid header value"))?;
        headers.insert(name, value);
    }
    if reply.cut_at.is_some() {
        headers.insert(CONTENT_LENGTH, HeaderValue::from(full_len));
    }
    Ok(response)
}

fn json_response(status: StatusCode, body: &Value) -> Response<ReplyBody> {
    let mut response = Response::new(ReplyBody::full(Bytes::from(body.to_string())));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}

fn models_body(state: &State) -> Value {
    let data: Vec<Value> = state
        .models()
        .into_iter()
        .map(|id| json!({"id": id, "object": "model", "created": 0, "owned_by": "testkit"}))
        .collect();
    json!({"object": "list", "data": data})
}

/// Ollama's `GET /api/tags` answer for the model list.
fn ollama_tags_body(state: &State) -> Value {
    let models: Vec<Value> = state
        .models()
        .into_iter()
        .map(|name| {
            json!({
                "name": name,
                "model": name,
                "modified_at": "2025-05-04T17:37:44.706015396-07:00",
                "size": 2_019_393_189_u64,
                "digest": "a80c4f17acd55265feec403c7aef86be0c25983ab279d83f3bcd3abbcb5b8b72",
                "details": {
                    "parent_model": "",
                    "format": "gguf",
                    "family": "llama",
                    "families": ["llama"],
                    "parameter_size": "3.2B",
                    "quantization_level": "Q4_K_M"
                }
            })
        })
        .collect();
    json!({"models": models})
}

fn error_body(message: &str) -> Value {
    json!({"error": {
        "message": message,
        "type": "invalid_request_error",
        "param": null,
        "code": null
    }})
}
