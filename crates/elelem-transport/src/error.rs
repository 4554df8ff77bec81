//! Turning an HTTP error answer into a classified [`HttpError`].

use std::collections::BTreeMap;
use std::sync::Arc;

use reqwest::header::HeaderMap;
use serde_json::Value;

use elelem_core::provider::{HttpError, ProviderErrorKind, MAX_ERROR_BODY_CHARS};
use elelem_core::retry::retry_after_from_headers;
use elelem_core::ApiKey;

/// A provider's own classification of an HTTP error, consulted before the
/// default one ([`ProviderErrorKind::classify`]): given the status and the body's
/// `error` object (when the body is JSON with one), it answers a kind, or `None`
/// to keep the default.
///
/// ```
/// use std::sync::Arc;
/// use elelem_core::provider::ProviderErrorKind;
/// let hook: elelem_transport::ErrorHook = Arc::new(|status, _error| {
///     (status == 400).then_some(ProviderErrorKind::Server)
/// });
/// assert_eq!(hook(400, None), Some(ProviderErrorKind::Server));
/// ```
pub type ErrorHook = Arc<dyn Fn(u16, Option<&Value>) -> Option<ProviderErrorKind> + Send + Sync>;

/// Whether a response header is worth keeping in errors and responses.
pub(crate) fn is_kept_header(name: &str) -> bool {
    name.starts_with("x-ratelimit-")
        || name.starts_with("retry-after")
        || matches!(
            name,
            "x-request-id"
                | "x-should-retry"
                | "content-type"
                | "x-amzn-errortype"
                | "x-amzn-requestid"
        )
}

/// Whether a success's header is worth keeping: as for an error, but for its
/// content type (which tells what an error's body is, and nothing on a
/// success: keeping it cost three allocations on every answer).
pub(crate) fn is_kept_success_header(name: &str) -> bool {
    name != "content-type" && is_kept_header(name)
}

/// The headers of an error worth keeping ([`is_kept_header`]).
pub(crate) fn kept_headers(headers: &HeaderMap) -> BTreeMap<String, String> {
    kept_headers_where(headers, is_kept_header)
}

/// The headers of a success worth keeping ([`is_kept_success_header`]).
pub(crate) fn kept_success_headers(headers: &HeaderMap) -> BTreeMap<String, String> {
    kept_headers_where(headers, is_kept_success_header)
}

/// The headers `keep` keeps, lower-case names. Inserted one by one: collecting
/// into a `BTreeMap` first gathers the pairs in a `Vec` and sorts it (an
/// allocation and a sort on every answer, which keeps one or two headers). A
/// name given twice keeps its last value, as `collect` did.
fn kept_headers_where(headers: &HeaderMap, keep: fn(&str) -> bool) -> BTreeMap<String, String> {
    let mut kept = BTreeMap::new();
    for (name, value) in headers {
        if !keep(name.as_str()) {
            continue;
        }
        if let Ok(value) = value.to_str() {
            kept.insert(name.as_str().to_owned(), value.to_owned());
        }
    }
    kept
}

/// The text with every occurrence of the key replaced, so a server echoing the key
/// cannot leak it into errors or logs.
pub(crate) fn redact(text: &str, key: Option<&ApiKey>) -> String {
    match key {
        Some(key) if key.expose().len() >= 4 && text.contains(key.expose()) => {
            text.replace(key.expose(), "***")
        }
        _ => text.to_owned(),
    }
}

/// Builds the error for a non-success status.
pub(crate) fn http_error(
    provider: &str,
    status: u16,
    headers: &HeaderMap,
    body: &[u8],
    key: Option<&ApiKey>,
    hook: Option<&ErrorHook>,
) -> HttpError {
    let text = redact(&String::from_utf8_lossy(body), key);
    let parsed: Option<Value> = serde_json::from_str(&text).ok();
    let error = parsed.as_ref().and_then(|v| v.get("error"));
    let field = |name: &str| -> Option<String> {
        match error?.get(name)? {
            Value::String(s) => Some(s.clone()),
            Value::Number(n) => Some(n.to_string()),
            _ => None,
        }
    };
    // Some providers send `{"error": "text"}` or `{"message": ...}` instead.
    let message = field("message")
        .or_else(|| error.and_then(Value::as_str).map(str::to_owned))
        .or_else(|| parsed.as_ref()?.get("message")?.as_str().map(str::to_owned));
    let code = field("code");
    let kept: BTreeMap<String, String> = kept_headers(headers)
        .into_iter()
        .map(|(name, value)| (name, redact(&value, key)))
        .collect();
    let retry_after = retry_after_from_headers(kept.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    let should_retry = match kept.get("x-should-retry").map(String::as_str) {
        Some("true") => Some(true),
        Some("false") => Some(false),
        _ => None,
    };
    let kind = hook
        .and_then(|hook| hook(status, error))
        .unwrap_or_else(|| ProviderErrorKind::classify(status, code.as_deref()));
    let error_object = error.filter(|e| e.is_object()).cloned();
    let error_type = field("type");
    let body = match text.char_indices().nth(MAX_ERROR_BODY_CHARS) {
        Some((cut, _)) => text[..cut].to_owned(),
        None => text,
    };
    HttpError {
        provider: provider.to_owned(),
        status,
        kind,
        message,
        code,
        error_type,
        retry_after,
        should_retry,
        headers: kept,
        body,
        error_object,
    }
}

#[cfg(test)]
mod tests {
    use reqwest::header::{HeaderName, HeaderValue};

    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (k, v) in pairs {
            map.insert(HeaderName::from_static(k), HeaderValue::from_static(v));
        }
        map
    }

    #[test]
    fn a_success_keeps_its_rate_limit_state_but_not_its_content_type() {
        let h = headers(&[
            ("content-type", "application/json"),
            ("x-ratelimit-remaining-tokens", "9"),
            ("x-request-id", "req_1"),
            ("set-cookie", "x"),
        ]);
        let kept = kept_success_headers(&h);
        assert_eq!(
            kept.keys().map(String::as_str).collect::<Vec<_>>(),
            ["x-ratelimit-remaining-tokens", "x-request-id"]
        );
        assert_eq!(kept_headers(&h).len(), 3, "an error keeps its content type");
    }

    #[test]
    fn openai_rate_limit_is_classified_with_its_delay() {
        let body = br#"{"error":{"message":"Rate limit reached","type":"requests","code":"rate_limit_exceeded"}}"#;
        let h = headers(&[
            ("retry-after", "2"),
            ("x-ratelimit-remaining-requests", "0"),
            ("set-cookie", "x"),
        ]);
        let e = http_error("openai", 429, &h, body, None, None);
        assert_eq!(e.kind, ProviderErrorKind::RateLimited);
        assert_eq!(e.retry_after, Some(std::time::Duration::from_secs(2)));
        assert_eq!(e.code.as_deref(), Some("rate_limit_exceeded"));
        assert_eq!(
            e.headers
                .get("x-ratelimit-remaining-requests")
                .map(String::as_str),
            Some("0")
        );
        assert!(!e.headers.contains_key("set-cookie"));
    }

    #[test]
    fn html_and_huge_bodies_are_kept_truncated() {
        let html = "<html>".repeat(1_000);
        let e = http_error("groq", 502, &HeaderMap::new(), html.as_bytes(), None, None);
        assert_eq!(e.kind, ProviderErrorKind::Server);
        assert_eq!(e.body.chars().count(), MAX_ERROR_BODY_CHARS);
        assert!(e.message.is_none());
    }

    #[test]
    fn echoed_keys_are_redacted_and_should_retry_is_read() {
        let key = ApiKey::new("sk-very-secret");
        let body = br#"{"error":{"message":"bad key sk-very-secret"}}"#;
        let e = http_error(
            "openai",
            500,
            &headers(&[("x-should-retry", "false")]),
            body,
            Some(&key),
            None,
        );
        assert!(!e.body.contains("sk-very-secret"));
        assert!(!e.message.clone().unwrap().contains("sk-very-secret"));
        assert_eq!(e.should_retry, Some(false));
        assert!(!e.is_retryable());
    }

    #[test]
    fn the_provider_hook_classifies_first() {
        let hook: ErrorHook = Arc::new(|status, error| {
            let overloaded = error?.get("type")?.as_str()? == "overloaded_error";
            (status == 400 && overloaded).then_some(ProviderErrorKind::Server)
        });
        let body = br#"{"error":{"type":"overloaded_error"}}"#;
        let e = http_error("p", 400, &HeaderMap::new(), body, None, Some(&hook));
        assert_eq!(e.kind, ProviderErrorKind::Server);
        let e = http_error("p", 400, &HeaderMap::new(), b"{}", None, Some(&hook));
        assert_eq!(e.kind, ProviderErrorKind::BadRequest);
    }
}
