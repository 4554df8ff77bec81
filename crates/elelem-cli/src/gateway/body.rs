//! Reading a request body: capped in size, bounded in time, parsed as JSON.

use std::time::Duration;

use axum::body::Body;
use axum::http::{header, HeaderMap, StatusCode};
use serde_json::Value;

use super::ApiError;

/// The body as JSON: 413 past `limit` bytes, 408 when the client is slower than
/// `timeout`, 400 when it is not JSON.
pub(crate) async fn read_json(
    headers: &HeaderMap,
    body: Body,
    limit: usize,
    timeout: Duration,
) -> Result<Value, ApiError> {
    let too_large = || {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "invalid_request_error",
            format!("the request body is larger than the gateway's limit of {limit} bytes (gateway.max_body_bytes)"),
        )
        .code("request_too_large")
    };
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return Err(too_large());
    }
    let bytes = match tokio::time::timeout(timeout, axum::body::to_bytes(body, limit)).await {
        Err(_) => {
            return Err(ApiError::new(
                StatusCode::REQUEST_TIMEOUT,
                "invalid_request_error",
                format!(
                    "the request body did not arrive within {:.0} s (gateway.client_timeout_secs)",
                    timeout.as_secs_f64()
                ),
            )
            .code("request_timeout"))
        }
        Ok(Err(error)) if is_length_limit(&error) => return Err(too_large()),
        Ok(Err(error)) => {
            return Err(ApiError::invalid(
                "",
                format!("the request body could not be read: {error}"),
            ))
        }
        Ok(Ok(bytes)) => bytes,
    };
    serde_json::from_slice(&bytes)
        .map_err(|e| ApiError::invalid("", format!("the request body is not valid JSON: {e}")))
}

fn is_length_limit(error: &axum::Error) -> bool {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(e) = source {
        if e.to_string().contains("length limit") {
            return true;
        }
        source = e.source();
    }
    false
}

/// The `Authorization` header's text.
pub(crate) fn authorization(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
}
