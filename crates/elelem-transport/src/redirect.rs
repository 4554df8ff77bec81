//! The redirect policy: a redirect to another origin is never followed while an
//! API key is set. reqwest strips only `Authorization` on such a redirect, not
//! Anthropic's `x-api-key` or Gemini's `x-goog-api-key`, so the key would reach a
//! server it was not meant for.

use reqwest::redirect::{Attempt, Policy};
use reqwest::Url;

/// The most redirects followed within one origin.
const MAX_REDIRECTS: usize = 10;

/// The error a refused redirect carries, found again in reqwest's error chain.
#[derive(Debug)]
pub(crate) struct CrossOrigin {
    /// Where the redirect pointed.
    pub(crate) target: String,
}

impl std::fmt::Display for CrossOrigin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "refused a redirect to another origin: {}", self.target)
    }
}

impl std::error::Error for CrossOrigin {}

/// Whether two URLs have the same scheme, host and port.
fn same_origin(a: &Url, b: &Url) -> bool {
    a.scheme() == b.scheme()
        && a.host_str() == b.host_str()
        && a.port_or_known_default() == b.port_or_known_default()
}

fn decide(attempt: Attempt<'_>, keyed: bool) -> reqwest::redirect::Action {
    if attempt.previous().len() > MAX_REDIRECTS {
        return attempt.error("too many redirects");
    }
    let crosses = attempt
        .previous()
        .first()
        .is_some_and(|first| !same_origin(first, attempt.url()));
    if keyed && crosses {
        let target = attempt.url().to_string();
        return attempt.error(CrossOrigin { target });
    }
    attempt.follow()
}

/// The policy for a client: with a key, same-origin redirects only.
pub(crate) fn policy(keyed: bool) -> Policy {
    Policy::custom(move |attempt| decide(attempt, keyed))
}

/// The refused target, when `error` is a refused cross-origin redirect.
pub(crate) fn refused_target(error: &reqwest::Error) -> Option<String> {
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        if let Some(refused) = cause.downcast_ref::<CrossOrigin>() {
            return Some(refused.target.clone());
        }
        source = cause.source();
    }
    None
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn origins_compare_scheme_host_and_port() {
        let u = |s: &str| Url::parse(s).unwrap();
        assert!(same_origin(
            &u("https://a.example/v1"),
            &u("https://a.example:443/x")
        ));
        assert!(!same_origin(
            &u("https://a.example/v1"),
            &u("http://a.example/v1")
        ));
        assert!(!same_origin(
            &u("https://a.example/v1"),
            &u("https://b.example/v1")
        ));
        assert!(!same_origin(
            &u("http://127.0.0.1:1/"),
            &u("http://127.0.0.1:2/")
        ));
    }
}
