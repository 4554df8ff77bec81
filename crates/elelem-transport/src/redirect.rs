//! The redirect policy, as a pure decision ([`next_hop`]); the client follows
//! it. A redirect to another origin is never followed while an API key is set:
//! stripping `Authorization` (as reqwest does) would not strip Anthropic's
//! `x-api-key` or Gemini's `x-goog-api-key`, so the key would reach a server it
//! was not meant for. Without a key, one is followed without the headers marked
//! sensitive (signatures).

use http::{HeaderValue, Method, StatusCode};
use reqwest::Url;

/// The most redirects followed within one origin.
const MAX_REDIRECTS: usize = 10;

/// Whether two URLs have the same scheme, host and port.
fn same_origin(a: &Url, b: &Url) -> bool {
    a.scheme() == b.scheme()
        && a.host_str() == b.host_str()
        && a.port_or_known_default() == b.port_or_known_default()
}

/// What to do with an answer (the policy: no I/O).
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Hop {
    /// It is the reply (not a redirect, or one without a usable `Location`).
    Stay,
    /// Send again to `url`; as a `GET` without a body when `to_get` (a 303, or
    /// a 301 or 302 after a `POST`, as browsers and reqwest do); without the
    /// sensitive headers when it leaves the first request's origin.
    Follow {
        url: String,
        to_get: bool,
        cross_origin: bool,
    },
    /// A redirect to another origin while a key is set: refused.
    Refused { target: String },
    /// More redirects than [`MAX_REDIRECTS`].
    TooMany,
}

/// The next hop after an answer of `status` with `location`, to a request of
/// `method` to `current`, when the call started at `first` and `hops`
/// redirects were followed; `keyed` when the client sends an API key.
pub(crate) fn next_hop(
    status: StatusCode,
    location: Option<&HeaderValue>,
    method: &Method,
    (first, current): (&str, &str),
    hops: usize,
    keyed: bool,
) -> Hop {
    if !matches!(status.as_u16(), 301 | 302 | 303 | 307 | 308) {
        return Hop::Stay;
    }
    let next = location
        .and_then(|value| value.to_str().ok())
        .and_then(|location| Url::parse(current).ok()?.join(location).ok());
    let Some(next) = next else {
        return Hop::Stay;
    };
    if hops >= MAX_REDIRECTS {
        return Hop::TooMany;
    }
    let cross_origin = Url::parse(first).map_or(true, |first| !same_origin(&first, &next));
    if keyed && cross_origin {
        return Hop::Refused {
            target: next.to_string(),
        };
    }
    let to_get = match status.as_u16() {
        303 => method != Method::HEAD,
        301 | 302 => method == Method::POST,
        _ => false,
    };
    Hop::Follow {
        url: next.to_string(),
        to_get,
        cross_origin,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn hop(status: u16, location: &str, method: Method, hops: usize, keyed: bool) -> Hop {
        let location = HeaderValue::from_str(location).unwrap();
        next_hop(
            StatusCode::from_u16(status).unwrap(),
            Some(&location),
            &method,
            ("https://a.example/v1/chat", "https://a.example/v1/x"),
            hops,
            keyed,
        )
    }

    #[test]
    fn redirects_are_followed_within_the_origin_and_relative_locations_resolve() {
        assert_eq!(
            hop(307, "/v2/chat", Method::POST, 0, true),
            Hop::Follow {
                url: "https://a.example/v2/chat".into(),
                to_get: false,
                cross_origin: false
            }
        );
        assert_eq!(
            hop(308, "moved", Method::POST, 3, true),
            Hop::Follow {
                url: "https://a.example/v1/moved".into(),
                to_get: false,
                cross_origin: false
            }
        );
    }

    #[test]
    fn see_other_and_a_moved_post_become_a_get_but_307_and_308_keep_the_method() {
        for (status, method, to_get) in [
            (303, Method::POST, true),
            (303, Method::HEAD, false),
            (301, Method::POST, true),
            (302, Method::POST, true),
            (302, Method::GET, false),
            (307, Method::POST, false),
            (308, Method::POST, false),
        ] {
            match hop(status, "/x", method.clone(), 0, false) {
                Hop::Follow { to_get: got, .. } => {
                    assert_eq!(got, to_get, "{status} {method}")
                }
                other => panic!("{status}: {other:?}"),
            }
        }
    }

    #[test]
    fn another_origin_is_refused_with_a_key_and_followed_bare_without() {
        assert_eq!(
            hop(302, "https://evil.example/steal", Method::POST, 0, true),
            Hop::Refused {
                target: "https://evil.example/steal".into()
            }
        );
        assert_eq!(
            hop(307, "https://b.example/v1", Method::POST, 0, false),
            Hop::Follow {
                url: "https://b.example/v1".into(),
                to_get: false,
                cross_origin: true
            }
        );
    }

    #[test]
    fn other_statuses_bad_locations_and_endless_redirects() {
        assert_eq!(hop(200, "/x", Method::POST, 0, true), Hop::Stay);
        assert_eq!(hop(304, "/x", Method::GET, 0, true), Hop::Stay);
        assert_eq!(hop(307, "http://[::1", Method::POST, 0, true), Hop::Stay);
        let none = next_hop(
            StatusCode::TEMPORARY_REDIRECT,
            None,
            &Method::POST,
            ("https://a.example/", "https://a.example/"),
            0,
            true,
        );
        assert_eq!(none, Hop::Stay);
        assert!(matches!(
            hop(307, "/x", Method::POST, 9, true),
            Hop::Follow { .. }
        ));
        assert_eq!(hop(307, "/x", Method::POST, 10, true), Hop::TooMany);
    }

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
