//! Sending one HTTP request: the connection pool a client keeps, and the body of
//! an answer read piece by piece.
//!
//! Requests go straight through hyper's pooled client: rustls with Mozilla's
//! roots (as reqwest's `rustls-tls`), HTTP/1.1 or HTTP/2 by ALPN, `TCP_NODELAY`,
//! a connect timeout, idle connections kept 90 s. reqwest's client would parse
//! every request's URL twice more (its redirect layer turns the `Uri` back into a
//! `Url`, once going out and once coming back): about 20k instructions of a
//! 106k-instruction call, and the code of a URL and IDNA parser besides. When the
//! environment names a proxy for the provider's host (`HTTPS_PROXY`,
//! `HTTP_PROXY`, `ALL_PROXY`, less `NO_PROXY`), requests go through reqwest,
//! which speaks to proxies, instead. Either way redirects are followed by the
//! client, under one policy ([`crate::redirect`]), never by the backend.

use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response, Uri};
use http_body_util::{BodyExt, Full};
use hyper_rustls::HttpsConnectorBuilder;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::client::proxy::matcher::Matcher;
use hyper_util::rt::{TokioExecutor, TokioTimer};

use crate::connector::BoxingConnector;

/// An error of sending or receiving, with its causes.
pub(crate) type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// How long an unused connection is kept for the next request.
const POOL_IDLE: Duration = Duration::from_secs(90);

/// The connections of one client, and how requests reach them.
#[derive(Clone)]
pub(crate) enum Backend {
    /// hyper's pooled client, connecting to the provider itself (boxed: it
    /// is large, and a clone of the client copies it).
    Direct(Box<Client<BoxingConnector, Full<Bytes>>>),
    /// reqwest, for a host the environment sends through a proxy (its
    /// redirects off: the client follows them).
    Proxied(reqwest::Client),
}

impl Backend {
    /// The backend for a provider at `base_url`: through reqwest when
    /// `proxies` names a proxy for it, else direct. reqwest finds the proxy in
    /// the environment itself (with the same matcher, [`Matcher::from_env`]),
    /// or is given it (`given`, in tests).
    pub(crate) fn new(
        base_url: &str,
        connect_timeout: Duration,
        proxies: &Matcher,
        given: Option<reqwest::Proxy>,
    ) -> Result<Backend, String> {
        let proxied = base_url
            .parse::<Uri>()
            .is_ok_and(|uri| proxies.intercept(&uri).is_some());
        if proxied {
            let mut builder = reqwest::Client::builder();
            if let Some(proxy) = given {
                builder = builder.proxy(proxy);
            }
            return builder
                .connect_timeout(connect_timeout)
                .pool_idle_timeout(POOL_IDLE)
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .map(Backend::Proxied)
                .map_err(|e| e.to_string());
        }
        let mut http = HttpConnector::new();
        http.enforce_http(false);
        http.set_nodelay(true);
        http.set_connect_timeout(Some(connect_timeout));
        let https = HttpsConnectorBuilder::new()
            .with_provider_and_webpki_roots(rustls::crypto::ring::default_provider())
            .map_err(|e| e.to_string())?
            .https_or_http()
            .enable_http1()
            .enable_http2()
            .wrap_connector(http);
        let client = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(POOL_IDLE)
            .pool_timer(TokioTimer::new())
            .build(BoxingConnector(https));
        Ok(Backend::Direct(Box::new(client)))
    }

    /// Whether requests go through a proxy.
    pub(crate) fn is_proxied(&self) -> bool {
        matches!(self, Backend::Proxied(_))
    }

    /// Sends `request`; the answer's body is left to be read.
    pub(crate) async fn send(
        &self,
        request: Request<Bytes>,
    ) -> Result<Response<ResponseBody>, BoxError> {
        match self {
            Backend::Direct(client) => {
                let response = client.request(request.map(Full::new)).await?;
                Ok(response.map(ResponseBody::Direct))
            }
            Backend::Proxied(client) => {
                let request = reqwest::Request::try_from(request)?;
                // Boxed: the rare path keeps the common one's future small.
                let response = Box::pin(client.execute(request)).await?;
                Ok(Response::from(response).map(ResponseBody::Proxied))
            }
        }
    }
}

/// The body of an answer, read piece by piece.
pub(crate) enum ResponseBody {
    /// From hyper's client.
    Direct(hyper::body::Incoming),
    /// From reqwest's.
    Proxied(reqwest::Body),
}

impl ResponseBody {
    /// The next non-empty piece of the body, `None` at its end (trailers are
    /// skipped).
    pub(crate) async fn chunk(&mut self) -> Result<Option<Bytes>, BoxError> {
        loop {
            let frame = match self {
                ResponseBody::Direct(body) => body.frame().await.map(|f| f.map_err(BoxError::from)),
                ResponseBody::Proxied(body) => {
                    body.frame().await.map(|f| f.map_err(BoxError::from))
                }
            };
            match frame {
                None => return Ok(None),
                Some(Err(error)) => return Err(error),
                Some(Ok(frame)) => {
                    if let Ok(data) = frame.into_data() {
                        if !data.is_empty() {
                            return Ok(Some(data));
                        }
                    }
                }
            }
        }
    }
}

/// Whether `error` or one of its causes is a timeout (a connect timeout, or
/// reqwest's own).
pub(crate) fn is_timeout(error: &(dyn std::error::Error + 'static)) -> bool {
    let mut current = Some(error);
    while let Some(cause) = current {
        if let Some(io) = cause.downcast_ref::<std::io::Error>() {
            if io.kind() == std::io::ErrorKind::TimedOut {
                return true;
            }
        }
        if cause
            .downcast_ref::<reqwest::Error>()
            .is_some_and(reqwest::Error::is_timeout)
        {
            return true;
        }
        current = cause.source();
    }
    false
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn a_host_with_a_proxy_goes_through_reqwest_and_no_proxy_excludes_hosts() {
        let proxies = || {
            Matcher::builder()
                .http("http://127.0.0.1:3128")
                .https("http://127.0.0.1:3128")
                .no("internal.example")
                .build()
        };
        let backend = |url: &str, proxies: Matcher| {
            Backend::new(url, Duration::from_secs(1), &proxies, None).unwrap()
        };
        assert!(backend("https://api.openai.com/v1", proxies()).is_proxied());
        assert!(backend("http://127.0.0.1:9/v1", proxies()).is_proxied());
        assert!(!backend("https://internal.example/v1", proxies()).is_proxied());
        let none = Matcher::builder().build();
        assert!(!backend("https://api.openai.com/v1", none).is_proxied());
    }

    #[test]
    fn timeouts_are_found_among_the_causes() {
        #[derive(Debug)]
        struct Outer(std::io::Error);
        impl std::fmt::Display for Outer {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("client error (Connect)")
            }
        }
        impl std::error::Error for Outer {
            fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
                Some(&self.0)
            }
        }
        let timed_out = Outer(std::io::Error::new(std::io::ErrorKind::TimedOut, "slow"));
        assert!(is_timeout(&timed_out));
        let refused = Outer(std::io::Error::new(
            std::io::ErrorKind::ConnectionRefused,
            "no",
        ));
        assert!(!is_timeout(&refused));
    }
}
