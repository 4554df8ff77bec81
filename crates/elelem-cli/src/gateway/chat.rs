//! The OpenAI endpoints: `POST /v1/chat/completions` (plain and streamed),
//! `POST /v1/completions` and `GET /v1/models`.

use std::sync::Arc;
use std::time::Instant;

use axum::body::Body;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::Json;
use elelem::ElelemMeta;
use serde_json::{json, Value};

use super::body::{authorization, read_json};
use super::{ApiError, Gateway, GatewayKey, InFlight, Loaded};
use crate::openai_body;

/// The `elelem` object added to answers: what the call cost and who answered.
///
/// ```
/// let meta = elelem::ElelemMeta { attempts: 2, answered_by: "groq:x".into(), ..Default::default() };
/// let json = elelem_cli::gateway::meta_json(&meta);
/// assert_eq!((json["attempts"].as_u64(), json["answered_by"].as_str()), (Some(2), Some("groq:x")));
/// ```
pub fn meta_json(meta: &ElelemMeta) -> Value {
    json!({
        "cost_usd": meta.cost,
        "attempts": meta.attempts,
        "requested_model": meta.requested_model,
        "answered_by": meta.answered_by,
        "cache_hit": meta.cache_hit,
    })
}

/// Authentication, the rate limit and the body: what every POST starts with.
pub(crate) async fn admit(
    gateway: &Arc<Gateway>,
    headers: &HeaderMap,
    body: Body,
) -> Result<(Arc<Loaded>, Option<Arc<GatewayKey>>, Value), ApiError> {
    let loaded = gateway.loaded();
    let key = loaded.keys.authenticate(authorization(headers))?;
    if let Some(key) = &key {
        gateway.limiter.check(key)?;
    }
    let limits = &loaded.config.gateway;
    let json = read_json(
        headers,
        body,
        limits.max_body_bytes,
        limits.client_timeout(),
    )
    .await?;
    Ok((loaded, key, json))
}

/// Counts a finished request by route and status, with its latency.
pub(crate) fn count(route: &'static str, status: u16, started: Instant) {
    metrics::counter!("elelem_requests_total", "route" => route, "status" => status.to_string())
        .increment(1);
    metrics::histogram!("elelem_request_duration_seconds", "route" => route)
        .record(started.elapsed().as_secs_f64());
}

pub(crate) fn fail(
    route: &'static str,
    started: Instant,
    guard: &mut InFlight,
    error: ApiError,
) -> Response {
    guard.done();
    count(route, error.status.as_u16(), started);
    error.into_response()
}

/// `POST /v1/chat/completions`.
pub(crate) async fn chat_completions(
    State(gateway): State<Arc<Gateway>>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    const ROUTE: &str = "chat";
    let started = Instant::now();
    let mut guard = InFlight::start(&gateway);
    let (loaded, key, json) = match admit(&gateway, &headers, body).await {
        Ok(admitted) => admitted,
        Err(error) => return fail(ROUTE, started, &mut guard, error),
    };
    let parsed = match openai_body::chat(&loaded.elelem, json) {
        Ok(parsed) => parsed,
        Err(error) => return fail(ROUTE, started, &mut guard, error),
    };
    let mut request = parsed.request;
    if let Some(key) = &key {
        let models = std::iter::once(request.model.as_str())
            .chain(request.fallback_models.iter().map(String::as_str));
        if let Err(error) = key.check_models(models) {
            return fail(ROUTE, started, &mut guard, error);
        }
        request.tags.extend(key.tags.iter().cloned());
    }
    let model = request.model.clone();
    if parsed.stream {
        return match loaded.elelem.stream_chat_completion(request).await {
            Ok(stream) => super::sse::response(&gateway, stream, guard, model, started),
            Err(error) => fail(ROUTE, started, &mut guard, ApiError::from_elelem(&error)),
        };
    }
    match loaded.elelem.create_chat_completion(request).await {
        Ok(completion) => {
            guard.done();
            gateway
                .shared
                .telemetry
                .observe_latency(&model, started.elapsed());
            let mut body = serde_json::to_value(&completion).unwrap_or(Value::Null);
            if let Value::Object(map) = &mut body {
                map.insert("elelem".into(), meta_json(&completion.elelem));
            }
            count(ROUTE, 200, started);
            Json(body).into_response()
        }
        Err(error) => fail(ROUTE, started, &mut guard, ApiError::from_elelem(&error)),
    }
}

/// `POST /v1/completions` (legacy).
pub(crate) async fn completions(
    State(gateway): State<Arc<Gateway>>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    const ROUTE: &str = "completions";
    let started = Instant::now();
    let mut guard = InFlight::start(&gateway);
    let (loaded, key, json) = match admit(&gateway, &headers, body).await {
        Ok(admitted) => admitted,
        Err(error) => return fail(ROUTE, started, &mut guard, error),
    };
    let mut request = match openai_body::completion(json) {
        Ok(request) => request,
        Err(error) => return fail(ROUTE, started, &mut guard, error),
    };
    if let Some(key) = &key {
        if let Err(error) = key.check_models([request.model.as_str()]) {
            return fail(ROUTE, started, &mut guard, error);
        }
        request.tags.extend(key.tags.iter().cloned());
    }
    let model = request.model.clone();
    match loaded.elelem.create_completion(request).await {
        Ok(completion) => {
            guard.done();
            gateway
                .shared
                .telemetry
                .observe_latency(&model, started.elapsed());
            let mut body = serde_json::to_value(&completion).unwrap_or(Value::Null);
            if let Value::Object(map) = &mut body {
                map.insert("elelem".into(), meta_json(&completion.elelem));
            }
            count(ROUTE, 200, started);
            Json(body).into_response()
        }
        Err(error) => fail(ROUTE, started, &mut guard, ApiError::from_elelem(&error)),
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
