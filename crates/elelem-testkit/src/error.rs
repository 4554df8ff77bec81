//! The error type of the testkit.

use std::io;

/// Everything that can go wrong inside the testkit.
///
/// Starting a server can fail with [`TestkitError::Bind`]; the other variants
/// are what the HTTP machinery sees when a script deliberately breaks a
/// connection, and are only visible to tests through their effect on the
/// client (a transport error).
///
/// ```
/// use elelem_testkit::TestkitError;
///
/// let err = TestkitError::ScriptedDrop;
/// assert!(err.to_string().contains("dropped"));
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TestkitError {
    /// The listening socket on `127.0.0.1` could not be created, bound or queried.
    #[error("testkit: cannot listen on 127.0.0.1: {0}")]
    Bind(#[source] io::Error),
    /// [`TestServer::start`](crate::TestServer::start) was called outside a tokio runtime.
    #[error("testkit: TestServer::start must run inside a tokio runtime")]
    NoRuntime,
    /// A [`ScriptedResponse::drop_connection`](crate::ScriptedResponse::drop_connection)
    /// answer closed the connection without any HTTP response.
    #[error("testkit: connection dropped on purpose by the script")]
    ScriptedDrop,
    /// A [`ScriptedResponse::truncated_body`](crate::ScriptedResponse::truncated_body)
    /// answer aborted the connection in the middle of the body.
    #[error("testkit: body truncated on purpose by the script")]
    ScriptedTruncation,
    /// The body of an incoming request could not be read.
    #[error("testkit: cannot read the request body: {0}")]
    RequestBody(#[source] hyper::Error),
}
