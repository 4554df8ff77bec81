//! Bedrock's errors: `{"message": ...}` bodies whose kind is named by the
//! `x-amzn-errortype` header (`ThrottlingException:http://...`), and the same
//! names, lower camel case, as `:exception-type` frames inside a stream.

use elelem_core::provider::{HttpError, ProviderError, ProviderErrorKind};

/// The error name without the namespace suffix, upper camel case
/// (`throttlingException` and `ThrottlingException:http://x` are
/// `ThrottlingException`).
pub(crate) fn error_name(raw: &str) -> String {
    let name = raw.split(':').next().unwrap_or_default().trim();
    let mut chars = name.chars();
    match chars.next() {
        Some(first) => first.to_ascii_uppercase().to_string() + chars.as_str(),
        None => String::new(),
    }
}

/// The kind of a Bedrock error name, when Bedrock's documentation says more
/// than the status does.
///
/// ```
/// use elelem_core::provider::ProviderErrorKind as K;
/// assert_eq!(elelem_bedrock::error_kind("ThrottlingException"), Some(K::RateLimited));
/// assert_eq!(elelem_bedrock::error_kind("modelNotReadyException"), Some(K::Server));
/// assert_eq!(elelem_bedrock::error_kind("Other"), None);
/// ```
pub fn error_kind(name: &str) -> Option<ProviderErrorKind> {
    Some(match error_name(name).as_str() {
        "ThrottlingException" | "ServiceQuotaExceededException" => ProviderErrorKind::RateLimited,
        "ModelNotReadyException"
        | "ServiceUnavailableException"
        | "InternalServerException"
        | "ModelTimeoutException"
        | "ModelStreamErrorException"
        | "ModelErrorException" => ProviderErrorKind::Server,
        "ValidationException" => ProviderErrorKind::BadRequest,
        "AccessDeniedException"
        | "UnrecognizedClientException"
        | "InvalidSignatureException"
        | "MissingAuthenticationTokenException"
        | "ExpiredTokenException" => ProviderErrorKind::Authentication,
        "ResourceNotFoundException" => ProviderErrorKind::NotFound,
        _ => return None,
    })
}

/// The HTTP status Bedrock answers an error name with (for errors that come
/// inside a stream).
pub(crate) fn status_of(name: &str) -> u16 {
    match error_name(name).as_str() {
        "ThrottlingException" | "ModelNotReadyException" => 429,
        "ValidationException" | "ServiceQuotaExceededException" => 400,
        "AccessDeniedException" => 403,
        "ResourceNotFoundException" => 404,
        "ModelTimeoutException" => 408,
        "ModelErrorException" => 424,
        "ServiceUnavailableException" => 503,
        _ => 500,
    }
}

/// Names `error` by its Bedrock error type (`name`, else the
/// `x-amzn-errortype` header it kept) and classifies it by that name.
pub(crate) fn classify(error: ProviderError, name: Option<&str>) -> ProviderError {
    let ProviderError::Http(mut http) = error else {
        return error;
    };
    let name = name
        .map(str::to_owned)
        .or_else(|| http.headers.get("x-amzn-errortype").cloned())
        .map(|raw| error_name(&raw))
        .filter(|n| !n.is_empty());
    if let Some(name) = name {
        if let Some(kind) = error_kind(&name) {
            http.kind = kind;
        }
        http.code.get_or_insert_with(|| name.clone());
        http.error_type.get_or_insert(name);
    }
    ProviderError::Http(http)
}

/// The error for a provider whose AWS credentials or region are missing:
/// classified as an authentication failure (never retried), its message naming
/// what to set.
pub(crate) fn missing_credentials(provider: &str, reason: String) -> ProviderError {
    let mut error = HttpError::from_status(provider, 401, None);
    error.kind = ProviderErrorKind::Authentication;
    error.message = Some(reason);
    error.error_type = Some("MissingCredentials".into());
    ProviderError::Http(Box::new(error))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn the_error_type_header_decides_the_kind() {
        let mut http = HttpError::from_status("bedrock", 400, None);
        http.headers.insert(
            "x-amzn-errortype".into(),
            "ThrottlingException:http://internal.amazon.com/coral/com.amazon.bedrock/".into(),
        );
        let ProviderError::Http(out) = classify(ProviderError::Http(Box::new(http)), None) else {
            panic!("not http")
        };
        assert_eq!(out.kind, ProviderErrorKind::RateLimited);
        assert_eq!(out.error_type.as_deref(), Some("ThrottlingException"));
        for (name, status) in [
            ("throttlingException", 429),
            ("validationException", 400),
            ("serviceUnavailableException", 503),
            ("modelTimeoutException", 408),
            ("internalServerException", 500),
        ] {
            assert_eq!(status_of(name), status, "{name}");
        }
        let missing = missing_credentials("bedrock", "set AWS_REGION".into());
        assert_eq!(missing.kind(), Some(ProviderErrorKind::Authentication));
        assert!(missing.to_string().contains("AWS_REGION"));
    }
}
