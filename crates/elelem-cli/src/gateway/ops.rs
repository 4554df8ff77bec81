//! The operator's endpoints: `/health`, `/ready`, `/metrics`, `/v1/stats`, the
//! dashboard and its data.

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};

use super::body::authorization;
use super::{ApiError, Gateway};
use crate::metrics_setup;

/// The dashboard: one page, inline script and style, no build step.
const DASHBOARD: &str = include_str!("dashboard.html");

/// `GET /health`: the process answers.
pub(crate) async fn health() -> Json<Value> {
    Json(json!({"status": "ok"}))
}

/// `GET /ready`: 200 while taking requests, 503 once shutdown began.
pub(crate) async fn ready(State(gateway): State<Arc<Gateway>>) -> Response {
    if gateway.shutting_down() {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({"status": "shutting_down"})),
        )
            .into_response()
    } else {
        Json(json!({"status": "ready"})).into_response()
    }
}

/// `GET /v1/stats[?tag=T]`: the Python Elelem statistics dictionary.
pub(crate) async fn stats(
    State(gateway): State<Arc<Gateway>>,
    headers: HeaderMap,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let loaded = gateway.loaded();
    if let Err(error) = loaded.keys.authenticate(authorization(&headers)) {
        return error.into_response();
    }
    let stats = match query.get("tag") {
        Some(tag) => loaded.elelem.get_stats_by_tag(tag),
        None => loaded.elelem.get_stats(),
    };
    Json(stats).into_response()
}

/// Sets the gauges read at scrape time: budgets left, cool-downs, in flight.
fn refresh_gauges(gateway: &Gateway) {
    let loaded = gateway.loaded();
    for status in loaded.elelem.budget_status() {
        let scope = status.budget.scope();
        metrics::gauge!("elelem_budget_remaining_usd", "scope" => scope.clone())
            .set(status.remaining().as_f64());
        metrics::gauge!("elelem_budget_limit_usd", "scope" => scope)
            .set(status.budget.limit().as_f64());
    }
    for health in loaded.elelem.provider_health() {
        let provider = health.provider.clone();
        let secs = health.cooling_down.map_or(0.0, |d| d.as_secs_f64());
        metrics::gauge!("elelem_provider_cooldown_seconds", "provider" => provider.clone())
            .set(secs);
        metrics::gauge!("elelem_provider_consecutive_failures", "provider" => provider.clone())
            .set(f64::from(health.consecutive_failures));
        metrics::gauge!("elelem_provider_skipped_attempts", "provider" => provider)
            .set(health.skipped_attempts as f64);
    }
    metrics::gauge!("elelem_in_flight").set(gateway.in_flight() as f64);
}

/// `GET /metrics`: Prometheus text.
pub(crate) async fn metrics(State(gateway): State<Arc<Gateway>>) -> Response {
    // Budgets in PostgreSQL are read over the network, and folding the
    // histograms and writing every series take a while: off the async
    // threads, so requests never wait behind a scrape.
    let refresher = gateway.clone();
    let rendered = tokio::task::spawn_blocking(move || {
        refresh_gauges(&refresher);
        let handle = metrics_setup::prometheus();
        handle.run_upkeep();
        handle.render()
    })
    .await;
    match rendered {
        Ok(text) => ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], text).into_response(),
        Err(error) => {
            tracing::error!(%error, "rendering the metrics failed");
            ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "server_error",
                format!("the metrics could not be rendered: {error}"),
            )
            .into_response()
        }
    }
}

/// `GET /dashboard`.
pub(crate) async fn dashboard() -> Html<&'static str> {
    Html(DASHBOARD)
}

/// `GET /dashboard/data`: everything the dashboard draws.
pub(crate) async fn dashboard_data(State(gateway): State<Arc<Gateway>>) -> Json<Value> {
    let loaded = gateway.loaded();
    let elelem = loaded.elelem.clone();
    // Budgets in PostgreSQL are read over the network: off the async threads.
    let statuses = tokio::task::spawn_blocking(move || elelem.budget_status())
        .await
        .unwrap_or_default();
    let budgets: Vec<Value> = statuses
        .into_iter()
        .map(|s| {
            json!({
                "scope": s.budget.scope(),
                "limit_usd": s.budget.limit(),
                "spent_usd": s.spent,
                "reserved_usd": s.reserved,
                "remaining_usd": s.remaining(),
            })
        })
        .collect();
    let providers: Vec<Value> = loaded
        .elelem
        .provider_health()
        .into_iter()
        .map(|h| {
            json!({
                "provider": h.provider,
                "consecutive_failures": h.consecutive_failures,
                "cooling_down_seconds": h.cooling_down.map(|d| d.as_secs_f64()),
                "skipped_attempts": h.skipped_attempts,
            })
        })
        .collect();
    Json(json!({
        "uptime_seconds": gateway.started.elapsed().as_secs(),
        "in_flight": gateway.in_flight(),
        "stats": loaded.elelem.get_stats(),
        "telemetry": gateway.shared.telemetry.snapshot(),
        "budgets": budgets,
        "providers": providers,
    }))
}

/// Any other path: 404 in OpenAI's shape.
pub(crate) async fn not_found() -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "invalid_request_error",
        "unknown path; the gateway serves /v1/chat/completions, /v1/completions, /v1/models, /v1/stats, /health, /ready, /metrics and /dashboard",
    )
    .code("unknown_url")
}
