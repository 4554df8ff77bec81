//! Errors in OpenAI's shape (`{"error": {"message", "type", "param", "code"}}`)
//! with OpenAI's status codes.

use std::time::Duration;

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use elelem::provider::{ProviderError, ProviderErrorKind};
use elelem::ElelemError;
use serde_json::{json, Value};

/// An error answer of the gateway.
///
/// ```
/// use elelem_cli::gateway::ApiError;
/// let e = ApiError::invalid("messages", "`messages` must be an array");
/// assert_eq!(e.status.as_u16(), 400);
/// assert_eq!(e.body()["error"]["param"], "messages");
/// ```
#[derive(Debug, Clone)]
pub struct ApiError {
    /// The HTTP status.
    pub status: StatusCode,
    /// What went wrong and what to do.
    pub message: String,
    /// OpenAI's `error.type`.
    pub kind: &'static str,
    /// OpenAI's `error.code`.
    pub code: Option<&'static str>,
    /// The request field at fault.
    pub param: Option<String>,
    /// Seconds the client should wait (`retry-after`).
    pub retry_after: Option<Duration>,
    /// Whether the client's SDK should retry (`x-should-retry`).
    pub should_retry: Option<bool>,
}

impl ApiError {
    /// An error with a status, type and message.
    pub fn new(status: StatusCode, kind: &'static str, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            message: message.into(),
            kind,
            code: None,
            param: None,
            retry_after: None,
            should_retry: None,
        }
    }

    /// Sets the code.
    pub fn code(mut self, code: &'static str) -> ApiError {
        self.code = Some(code);
        self
    }

    /// A 400 about one field of the request.
    pub fn invalid(param: &str, message: impl Into<String>) -> ApiError {
        let mut error = ApiError::new(StatusCode::BAD_REQUEST, "invalid_request_error", message);
        error.param = Some(param.to_owned());
        error
    }

    /// A 401: no key or an unknown one.
    pub fn unauthorized(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::UNAUTHORIZED, "invalid_request_error", message)
            .code("invalid_api_key")
    }

    /// The JSON body.
    pub fn body(&self) -> Value {
        json!({"error": {
            "message": self.message,
            "type": self.kind,
            "param": self.param,
            "code": self.code,
        }})
    }

    /// The error of a failed Elelem call.
    pub fn from_elelem(error: &ElelemError) -> ApiError {
        use ElelemError as E;
        let message = error.to_string();
        match error {
            E::MalformedModel { .. } => ApiError::invalid("model", message),
            E::UnknownProvider { .. } | E::UnknownModel { .. } | E::UnknownPreset { .. } => {
                let mut e = ApiError::new(StatusCode::NOT_FOUND, "invalid_request_error", message)
                    .code("model_not_found");
                e.param = Some("model".into());
                e
            }
            E::ContextWindowExceeded { .. } => {
                ApiError::invalid("messages", message).code("context_length_exceeded")
            }
            E::InvalidRequest { .. } | E::InvalidSchema { .. } => {
                ApiError::new(StatusCode::BAD_REQUEST, "invalid_request_error", message)
            }
            E::BudgetExceeded(_) => {
                let mut e =
                    ApiError::new(StatusCode::TOO_MANY_REQUESTS, "insufficient_quota", message)
                        .code("budget_exceeded");
                e.should_retry = Some(false);
                e
            }
            E::BudgetStore { .. } => {
                ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "server_error", message)
            }
            E::MissingApiKey { .. } | E::MissingCredentials { .. } => ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "server_error",
                format!("the gateway is not configured for this provider: {message}"),
            )
            .code("provider_not_configured"),
            E::Provider { error, .. } | E::Stream { error, .. } => {
                ApiError::from_provider(error, message)
            }
            E::InvalidJson { .. } => {
                ApiError::new(StatusCode::BAD_GATEWAY, "server_error", message).code("invalid_json")
            }
            E::CandidatesExhausted { .. } => {
                ApiError::new(StatusCode::BAD_GATEWAY, "server_error", message)
            }
            _ => ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "server_error", message),
        }
    }

    /// The status a provider failure shows the client: the client's own faults
    /// keep theirs, the gateway's upstream troubles are 502/503/504.
    fn from_provider(error: &ProviderError, message: String) -> ApiError {
        match error {
            ProviderError::Http(http) => match http.kind {
                ProviderErrorKind::RateLimited => {
                    let mut e = ApiError::new(StatusCode::TOO_MANY_REQUESTS, "requests", message)
                        .code("rate_limit_exceeded");
                    e.retry_after = http.retry_after;
                    e
                }
                ProviderErrorKind::BadRequest | ProviderErrorKind::ApiJsonValidation => {
                    ApiError::new(StatusCode::BAD_REQUEST, "invalid_request_error", message)
                }
                ProviderErrorKind::NotFound => {
                    ApiError::new(StatusCode::NOT_FOUND, "invalid_request_error", message)
                        .code("model_not_found")
                }
                // The gateway's own provider key is at fault, not the client's.
                ProviderErrorKind::Authentication | ProviderErrorKind::QuotaExhausted => {
                    ApiError::new(StatusCode::BAD_GATEWAY, "server_error", message)
                        .code("upstream_refused")
                }
                _ => ApiError::new(StatusCode::BAD_GATEWAY, "server_error", message),
            },
            ProviderError::Timeout { .. } => {
                ApiError::new(StatusCode::GATEWAY_TIMEOUT, "server_error", message)
            }
            ProviderError::CoolingDown { remaining, .. } => {
                let mut e = ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "server_error", message)
                    .code("provider_cooling_down");
                e.retry_after = Some(*remaining);
                e
            }
            ProviderError::RateLimitWait { resets_in, .. } => {
                let mut e = ApiError::new(StatusCode::TOO_MANY_REQUESTS, "requests", message)
                    .code("rate_limit_exceeded");
                e.retry_after = Some(*resets_in);
                e
            }
            ProviderError::Unsupported { .. } => {
                ApiError::new(StatusCode::BAD_REQUEST, "invalid_request_error", message)
            }
            ProviderError::Credentials { .. } => {
                ApiError::new(StatusCode::BAD_GATEWAY, "server_error", message)
                    .code("upstream_refused")
            }
            _ => ApiError::new(StatusCode::BAD_GATEWAY, "server_error", message),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut response = (self.status, axum::Json(self.body())).into_response();
        let headers = response.headers_mut();
        if let Some(wait) = self.retry_after {
            let secs = wait.as_secs_f64().ceil().max(1.0) as u64;
            if let Ok(value) = HeaderValue::from_str(&secs.to_string()) {
                headers.insert(header::RETRY_AFTER, value);
            }
        }
        if let Some(retry) = self.should_retry {
            headers.insert(
                "x-should-retry",
                HeaderValue::from_static(if retry { "true" } else { "false" }),
            );
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use elelem::provider::HttpError;

    #[test]
    fn upstream_auth_failures_are_the_gateways_not_the_clients() {
        let error = ProviderError::Http(Box::new(HttpError::from_status("groq", 401, None)));
        let api = ApiError::from_provider(&error, "x".into());
        assert_eq!(api.status, StatusCode::BAD_GATEWAY);
        let limited = ProviderError::Http(Box::new(HttpError::from_status("groq", 429, None)));
        assert_eq!(
            ApiError::from_provider(&limited, "x".into()).status,
            StatusCode::TOO_MANY_REQUESTS
        );
    }

    #[test]
    fn a_rate_limit_with_no_room_is_a_429_saying_when_to_come_back() {
        let error = ProviderError::RateLimitWait {
            provider: "groq".into(),
            resets_in: std::time::Duration::from_secs(3600),
            bound: std::time::Duration::from_secs(120),
        };
        let api = ApiError::from_provider(&error, "x".into());
        assert_eq!(api.status, StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(api.retry_after, Some(std::time::Duration::from_secs(3600)));
        let missing = ProviderError::Credentials {
            provider: "vertex".into(),
            reason: "set GOOGLE_APPLICATION_CREDENTIALS".into(),
        };
        assert_eq!(
            ApiError::from_provider(&missing, "x".into()).status,
            StatusCode::BAD_GATEWAY
        );
    }

    #[test]
    fn a_provider_without_credentials_is_the_gateways_configuration_not_a_500() {
        let error = ElelemError::MissingCredentials {
            provider: "bedrock".into(),
            reason: "set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY".into(),
        };
        let api = ApiError::from_elelem(&error);
        assert_eq!(api.status, StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(api.body()["error"]["code"], "provider_not_configured");
        assert!(api.message.contains("AWS_ACCESS_KEY_ID"), "{}", api.message);
    }

    #[test]
    fn the_body_is_openais_error_shape() {
        let body = ApiError::unauthorized("no key").body();
        assert_eq!(body["error"]["code"], "invalid_api_key");
        assert_eq!(body["error"]["type"], "invalid_request_error");
        assert!(body["error"]["param"].is_null());
    }
}
