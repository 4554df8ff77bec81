//! The HTTP transport every Elelem provider shares: the HTTP client (hyper over
//! rustls; reqwest when the environment names a proxy) with its time and size
//! limits and key handling ([`HttpClient`]), the
//! classification of HTTP errors into [`ProviderErrorKind`]s with a provider hook
//! ([`ErrorHook`]), and stream framing (server-sent events, newline-delimited
//! JSON) with the one stream-decoding loop ([`decode_stream`]) that serves every
//! provider, OpenAI included.
//!
//! It is a crate of its own, not a module of `elelem-core`, so that the core (the
//! pipeline, the catalogue, the cost accounting) does not depend on an HTTP stack:
//! a custom provider, a ledger or a test needs only the core.
//!
//! Keys: the key header is marked sensitive, echoed keys are redacted from every
//! error and snippet, and a redirect to another origin is never followed while a
//! key is set ([`ProviderError::Redirected`](elelem_core::provider::ProviderError::Redirected)).
//!
//! ```
//! use std::time::Duration;
//! use elelem_core::provider::ProviderSettings;
//! let client = elelem_transport::HttpClient::new(ProviderSettings {
//!     name: "acme".into(), base_url: "https://api.acme.example/v1/".into(),
//!     api_key: None, api_key_env: None,
//!     timeout: Duration::from_secs(30), max_response_bytes: 1 << 20,
//! }).unwrap();
//! assert_eq!(client.base_url(), "https://api.acme.example/v1");
//! ```
//!
//! [`ProviderErrorKind`]: elelem_core::provider::ProviderErrorKind

mod bearer;
mod client;
mod connector;
mod error;
mod framing;
mod mapping;
mod model_urls;
mod redirect;
mod responses;
mod send;
mod stream;

pub use bearer::{
    BearerMapped, BearerToken, MappingBuilder, TokenCache, TokenSource, Unconfigured,
    DEFAULT_REFRESH_MARGIN,
};
pub use client::{endpoint_url, HttpClient, HttpReply, HttpStream};
pub use error::ErrorHook;
pub use framing::{Framing, NdjsonFraming, Record, SseFraming};
pub use mapping::{HttpRequest, Mapped, Mapping};
pub use model_urls::ModelUrls;
/// The parsed URL type of [`HttpRequest::json_to`] and [`HttpClient::endpoint`].
pub use reqwest::Url;
pub use responses::{open_response_stream, send_response, UsageAdapter};
pub use stream::{
    decode_records, decode_stream, record_stream, DecodedStream, RecordMapper, Records,
};
