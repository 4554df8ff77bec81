//! The step every POST endpoint starts and ends with: a place among the
//! requests in flight (or an at-once 503 when the gateway is full),
//! authentication, the key's rate limit, the body read and parsed, the key's
//! allowed models and forced tags; then the answer counted by route and status.

use std::sync::atomic::Ordering;
use std::sync::{Arc, LazyLock, Mutex};
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::extract::Request;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use metrics::{Counter, Histogram};
use serde::Serialize;

use super::body::{authorization, read_body};
use super::{ApiError, Gateway, InFlight, Loaded};

/// A request that names the models it may reach and carries tags: what a
/// gateway key checks and adds to.
pub(crate) trait Routed {
    /// The models the request may be answered by (its own and its fallbacks).
    fn models(&self) -> Vec<&str>;
    /// Its tags, where the key's forced tags are added.
    fn tags_mut(&mut self) -> &mut Vec<String>;
}

/// One request being answered: its route, start and place in flight.
#[derive(Debug)]
pub(crate) struct Call {
    pub(crate) route: &'static str,
    pub(crate) started: Instant,
    pub(crate) guard: InFlight,
}

/// An admitted request: the configuration it runs on, the parsed request and
/// its [`Call`].
pub(crate) struct Admitted<R> {
    pub(crate) loaded: Arc<Loaded>,
    pub(crate) request: R,
    pub(crate) call: Call,
}

/// Admits one POST to `route`: the key, its rate limit, the body (its bytes
/// parsed by `parse`), the key's models and tags, then a place in flight. `Err` is the
/// answer already counted (shed, 401, 403, 413, 429, 400 ...).
///
/// A full gateway refuses at once, before the body is read; otherwise the
/// place is taken only once the body is in, so a client slow to send its body
/// holds no place (only its connection, for at most `client_timeout_secs`).
pub(crate) async fn admit<R: Routed>(
    route: &'static str,
    gateway: &Arc<Gateway>,
    request: Request,
    parse: impl FnOnce(&Loaded, &[u8]) -> Result<R, ApiError>,
) -> Result<Admitted<R>, Response> {
    let started = Instant::now();
    let loaded = gateway.loaded();
    let max = loaded.config.gateway.max_in_flight;
    if gateway.in_flight() >= i64::try_from(max).unwrap_or(i64::MAX) {
        return Err(shed(route, started, max));
    }
    // The headers are taken from the request, not cloned by an extractor.
    let (parts, body) = request.into_parts();
    let request = match checked(gateway, &loaded, &parts.headers, body, parse).await {
        Ok(request) => request,
        Err(error) => {
            count(route, error.status, started);
            return Err(error.into_response());
        }
    };
    let Some(guard) = InFlight::try_start(gateway, max) else {
        return Err(shed(route, started, max));
    };
    Ok(Admitted {
        loaded,
        request,
        call: Call {
            route,
            started,
            guard,
        },
    })
}

async fn checked<R: Routed>(
    gateway: &Arc<Gateway>,
    loaded: &Loaded,
    headers: &HeaderMap,
    body: Body,
    parse: impl FnOnce(&Loaded, &[u8]) -> Result<R, ApiError>,
) -> Result<R, ApiError> {
    let key = loaded.keys.authenticate(authorization(headers))?;
    if let Some(key) = &key {
        gateway.limiter.check(key)?;
    }
    let limits = &loaded.config.gateway;
    let body = read_body(
        headers,
        body,
        limits.max_body_bytes,
        limits.client_timeout(),
    )
    .await?;
    let mut request = parse(loaded, &body)?;
    if let Some(key) = &key {
        key.check_models(request.models())?;
        request.tags_mut().extend(key.tags.iter().cloned());
    }
    Ok(request)
}

/// The answer to a request past `[gateway] max_in_flight`: 503 in OpenAI's
/// shape with `retry-after`, counted in `elelem_requests_shed_total`.
fn shed(route: &'static str, started: Instant, max: usize) -> Response {
    metrics::counter!("elelem_requests_shed_total", "route" => route).increment(1);
    count(route, StatusCode::SERVICE_UNAVAILABLE, started);
    let mut error = ApiError::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "server_error",
        format!("the gateway is answering its most requests at once ({max}, gateway.max_in_flight); retry shortly"),
    )
    .code("overloaded");
    error.retry_after = Some(Duration::from_secs(1));
    error.should_retry = Some(true);
    error.into_response()
}

impl Call {
    /// The error answer, counted; the request is over.
    pub(crate) fn fail(&mut self, error: ApiError) -> Response {
        self.guard.done();
        count(self.route, error.status, self.started);
        error.into_response()
    }

    /// The streamed answer ended with `status` (the events already tell the
    /// client): counted.
    pub(crate) fn end(&mut self, status: StatusCode) {
        self.guard.done();
        count(self.route, status, self.started);
    }

    /// The 200 answer: `body`'s JSON with the `elelem` object added, counted,
    /// with the call's latency noted for `model`.
    pub(crate) fn answer<T: Serialize, M: Serialize>(
        &mut self,
        gateway: &Gateway,
        model: &str,
        body: &T,
        elelem: &M,
    ) -> Response {
        self.guard.done();
        gateway
            .shared
            .telemetry
            .observe_latency(model, self.started.elapsed());
        count(self.route, StatusCode::OK, self.started);
        match with_elelem(body, elelem) {
            Ok(bytes) => {
                let mut response = Response::new(Body::from(bytes));
                response.headers_mut().insert(
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("application/json"),
                );
                response
            }
            Err(error) => ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "server_error",
                format!("the answer could not be written as JSON: {error}"),
            )
            .into_response(),
        }
    }
}

/// `body` (a JSON object) with `"elelem": elelem` as its last field, written
/// once: no intermediate `Value`.
fn with_elelem<T: Serialize, M: Serialize>(
    body: &T,
    elelem: &M,
) -> Result<Vec<u8>, serde_json::Error> {
    // A chat completion is usually 0.5-1 KB.
    let mut bytes = Vec::with_capacity(1024);
    serde_json::to_writer(&mut bytes, body)?;
    if bytes.last() != Some(&b'}') {
        // Not an object: nothing to add to.
        return Ok(bytes);
    }
    bytes.pop();
    if bytes.last() != Some(&b'{') {
        bytes.push(b',');
    }
    bytes.extend_from_slice(b"\"elelem\":");
    serde_json::to_writer(&mut bytes, elelem)?;
    bytes.push(b'}');
    Ok(bytes)
}

/// Counts a finished request by route and status, with its latency.
pub(crate) fn count(route: &'static str, status: StatusCode, started: Instant) {
    let (requests, duration) = series(route, status);
    requests.increment(1);
    duration.record(started.elapsed().as_secs_f64());
}

/// The series of one (route, status): `elelem_requests_total` and the route's
/// `elelem_request_duration_seconds`, looked up in the recorder's registry
/// once (a lookup builds and hashes the key with its labels) and kept. Routes
/// are fixed and the statuses a gateway answers with are a few dozen at most
/// (200 usually among the first seen), so a list searched in order costs less
/// than hashing the key.
fn series(route: &'static str, status: StatusCode) -> (Counter, Histogram) {
    type Series = Vec<((&'static str, u16), (Counter, Histogram))>;
    static SERIES: LazyLock<Mutex<Series>> = LazyLock::new(Mutex::default);
    let key = (route, status.as_u16());
    let mut series = SERIES.lock().unwrap_or_else(|e| e.into_inner());
    if let Some((_, found)) = series.iter().find(|(k, _)| *k == key) {
        return found.clone();
    }
    let made = (
        metrics::counter!("elelem_requests_total", "route" => route, "status" => status_label(status)),
        metrics::histogram!("elelem_request_duration_seconds", "route" => route),
    );
    series.push((key, made.clone()));
    made
}

/// The status as a label, without an allocation for the common ones.
fn status_label(status: StatusCode) -> std::borrow::Cow<'static, str> {
    match status.as_u16() {
        200 => "200".into(),
        400 => "400".into(),
        401 => "401".into(),
        403 => "403".into(),
        404 => "404".into(),
        429 => "429".into(),
        502 => "502".into(),
        503 => "503".into(),
        _ => status.as_u16().to_string().into(),
    }
}

impl InFlight {
    /// A place among the requests in flight, if fewer than `max` hold one.
    pub(crate) fn try_start(gateway: &Arc<Gateway>, max: usize) -> Option<InFlight> {
        let max = i64::try_from(max).unwrap_or(i64::MAX);
        gateway
            .in_flight
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |now| {
                (now < max).then_some(now + 1)
            })
            .ok()?;
        Some(InFlight::held(gateway))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use serde_json::{json, Value};

    #[test]
    fn the_elelem_object_is_added_as_the_last_field() {
        let meta = json!({"cost_usd": 0.5});
        let out = with_elelem(&json!({"id": "x"}), &meta).unwrap();
        let value: Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(value, json!({"id": "x", "elelem": {"cost_usd": 0.5}}));
        let empty = with_elelem(&json!({}), &meta).unwrap();
        assert_eq!(
            serde_json::from_slice::<Value>(&empty).unwrap(),
            json!({"elelem": {"cost_usd": 0.5}})
        );
        assert_eq!(with_elelem(&json!([1]), &meta).unwrap(), b"[1]");
    }

    #[test]
    fn status_labels_are_the_codes() {
        for code in [200, 400, 413, 429, 503, 599] {
            let status = StatusCode::from_u16(code).unwrap();
            assert_eq!(status_label(status), code.to_string());
        }
    }

    #[test]
    fn places_in_flight_never_exceed_the_bound() {
        let gateway = Gateway::new(Default::default(), None).unwrap();
        let first = InFlight::try_start(&gateway, 2).unwrap();
        let second = InFlight::try_start(&gateway, 2).unwrap();
        assert!(InFlight::try_start(&gateway, 2).is_none());
        assert_eq!(gateway.in_flight(), 2);
        drop(first);
        let third = InFlight::try_start(&gateway, 2).unwrap();
        assert!(InFlight::try_start(&gateway, 2).is_none());
        drop((second, third));
        assert_eq!(gateway.in_flight(), 0);
    }
}
