//! [`TestServer`]: the listening socket, the accept loop and the public controls.

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::task::{JoinHandle, JoinSet};

use crate::handler::handle;
use crate::state::State;
use crate::{RecordedRequest, ScriptedResponse, TestkitError};

/// Pending-connection backlog of the listening socket (the kernel may cap it).
const BACKLOG: u32 = 4096;

/// A real HTTP/1.1 server on `127.0.0.1` that speaks the OpenAI chat API from a script.
///
/// * `POST` on any path ending in `/chat/completions` or `/completions` (and on
///   the native chat endpoints: Anthropic's `…/messages`, Gemini's
///   `…:generateContent` / `…:streamGenerateContent`, Ollama's `…/api/chat`) pops
///   the next [`ScriptedResponse`] pushed with [`push`](Self::push), or plays the
///   fallback ([`set_fallback`](Self::set_fallback)) when none is left; the
///   default fallback is a 500 error whose message says
///   `"testkit: no scripted response left"`.
/// * `GET` on any path ending in `/models` lists the models set with
///   [`set_models`](Self::set_models), in OpenAI's shape; `GET …/api/tags` lists
///   them in Ollama's shape (`{"models": [{"name": …}]}`).
/// * Anything else gets a 404 with an OpenAI-style error body.
///
/// Every request is recorded ([`requests`](Self::requests)). Connections are
/// kept alive and served concurrently. Dropping the server (or calling
/// [`shutdown`](Self::shutdown)) stops it and closes its connections.
///
/// ```
/// use elelem_testkit::{wire, TestServer};
///
/// #[tokio::main]
/// async fn main() -> Result<(), Box<dyn std::error::Error>> {
///     let server = TestServer::start().await?;
///     server.push(wire::completion("gpt-4o-mini", "Hello!"));
///
///     let answer: serde_json::Value = reqwest::Client::new()
///         .post(format!("{}/chat/completions", server.url()))
///         .bearer_auth("sk-test")
///         .json(&serde_json::json!({"model": "gpt-4o-mini", "messages": []}))
///         .send()
///         .await?
///         .json()
///         .await?;
///     assert_eq!(answer["choices"][0]["message"]["content"], "Hello!");
///
///     let seen = server.requests();
///     assert_eq!(seen[0].path, "/v1/chat/completions");
///     assert_eq!(seen[0].header("authorization"), Some("Bearer sk-test"));
///     Ok(())
/// }
/// ```
#[derive(Debug)]
pub struct TestServer {
    addr: SocketAddr,
    state: Arc<State>,
    accept_loop: JoinHandle<()>,
}

impl TestServer {
    /// Bind `127.0.0.1` on a free port and start serving on the current tokio runtime.
    ///
    /// The runtime needs its I/O and time drivers (`#[tokio::main]` and
    /// `#[tokio::test]` enable them). Fails with [`TestkitError::NoRuntime`]
    /// outside a tokio runtime and with [`TestkitError::Bind`] if the socket
    /// cannot be set up.
    ///
    /// ```
    /// # #[tokio::main]
    /// # async fn main() -> Result<(), elelem_testkit::TestkitError> {
    /// let server = elelem_testkit::TestServer::start().await?;
    /// assert!(server.addr().ip().is_loopback());
    /// # Ok(())
    /// # }
    /// ```
    pub async fn start() -> Result<Self, TestkitError> {
        let runtime = tokio::runtime::Handle::try_current().map_err(|_| TestkitError::NoRuntime)?;
        let listener = listen()?;
        let addr = listener.local_addr().map_err(TestkitError::Bind)?;
        let state = Arc::new(State::default());
        let accept_loop = runtime.spawn(accept_loop(listener, Arc::clone(&state)));
        Ok(Self {
            addr,
            state,
            accept_loop,
        })
    }

    /// The OpenAI-style base URL, `http://127.0.0.1:PORT/v1` (append
    /// `/chat/completions` or `/models`).
    ///
    /// ```
    /// # #[tokio::main]
    /// # async fn main() -> Result<(), elelem_testkit::TestkitError> {
    /// let server = elelem_testkit::TestServer::start().await?;
    /// assert_eq!(server.url(), format!("http://{}/v1", server.addr()));
    /// # Ok(())
    /// # }
    /// ```
    pub fn url(&self) -> String {
        format!("{}/v1", self.root_url())
    }

    /// The URL of the server root, `http://127.0.0.1:PORT`, to build other
    /// prefixes (e.g. DeepInfra's `/v1/openai`).
    ///
    /// ```
    /// # #[tokio::main]
    /// # async fn main() -> Result<(), elelem_testkit::TestkitError> {
    /// let server = elelem_testkit::TestServer::start().await?;
    /// let deepinfra_base = format!("{}/v1/openai", server.root_url());
    /// assert!(deepinfra_base.starts_with("http://127.0.0.1:"));
    /// # Ok(())
    /// # }
    /// ```
    pub fn root_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The socket address the server listens on.
    ///
    /// ```
    /// # #[tokio::main]
    /// # async fn main() -> Result<(), elelem_testkit::TestkitError> {
    /// let server = elelem_testkit::TestServer::start().await?;
    /// assert_ne!(server.addr().port(), 0);
    /// # Ok(())
    /// # }
    /// ```
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Lets `responder` answer requests before the script and the routes (a
    /// credential check refusing a request, a token endpoint); `None` removes it.
    ///
    /// ```
    /// # #[tokio::main]
    /// # async fn main() -> Result<(), elelem_testkit::TestkitError> {
    /// use elelem_testkit::{Responder, ScriptedResponse, TestServer};
    /// let server = TestServer::start().await?;
    /// server.set_responder(Some(Responder::new(|request| {
    ///     (request.header("api-key") != Some("k")).then(|| ScriptedResponse::json(401, serde_json::json!({})))
    /// })));
    /// let url = format!("{}/chat/completions", server.url());
    /// let answer = reqwest::Client::new().post(&url).body("{}").send().await.unwrap();
    /// assert_eq!(answer.status(), 401);
    /// # Ok(())
    /// # }
    /// ```
    pub fn set_responder(&self, responder: Option<crate::Responder>) {
        self.state.set_responder(responder);
    }

    /// Append one answer to the script (first in, first out).
    ///
    /// ```
    /// # #[tokio::main]
    /// # async fn main() -> Result<(), elelem_testkit::TestkitError> {
    /// use elelem_testkit::{wire, TestServer};
    ///
    /// let server = TestServer::start().await?;
    /// server.push(wire::completion("gpt-4o-mini", "first"));
    /// server.push(wire::Completion::new("gpt-4o-mini", "second").usage(100, 20));
    /// assert_eq!(server.pending(), 2);
    /// # Ok(())
    /// # }
    /// ```
    pub fn push(&self, answer: impl Into<ScriptedResponse>) {
        self.state.push([answer.into()]);
    }

    /// Append several answers to the script, in order.
    ///
    /// ```
    /// # #[tokio::main]
    /// # async fn main() -> Result<(), elelem_testkit::TestkitError> {
    /// use elelem_testkit::{wire, TestServer};
    ///
    /// let server = TestServer::start().await?;
    /// server.push_many([wire::rate_limited(Some("1")), wire::completion("m", "ok")]);
    /// assert_eq!(server.pending(), 2);
    /// # Ok(())
    /// # }
    /// ```
    pub fn push_many<R: Into<ScriptedResponse>>(&self, answers: impl IntoIterator<Item = R>) {
        self.state.push(answers.into_iter().map(Into::into));
    }

    /// The answer played (again and again) once the script is exhausted.
    ///
    /// ```
    /// # #[tokio::main]
    /// # async fn main() -> Result<(), elelem_testkit::TestkitError> {
    /// use elelem_testkit::{wire, TestServer};
    ///
    /// let server = TestServer::start().await?;
    /// server.set_fallback(wire::completion("gpt-4o-mini", "always this"));
    /// # Ok(())
    /// # }
    /// ```
    pub fn set_fallback(&self, answer: impl Into<ScriptedResponse>) {
        self.state.set_fallback(answer.into());
    }

    /// Answers a random share of chat requests with faults (see
    /// [`RandomFaults`](crate::RandomFaults)); `None` turns it off.
    ///
    /// ```
    /// # #[tokio::main]
    /// # async fn main() -> Result<(), elelem_testkit::TestkitError> {
    /// use std::sync::Arc;
    /// use elelem_testkit::{wire, RandomFaults, TestServer};
    /// let server = TestServer::start().await?;
    /// server.set_random_faults(Some(Arc::new(RandomFaults::new(10, 7, vec![wire::server_error(500)]))));
    /// # Ok(())
    /// # }
    /// ```
    pub fn set_random_faults(&self, faults: Option<std::sync::Arc<crate::RandomFaults>>) {
        self.state.set_random_faults(faults);
    }

    /// The model ids listed by `GET …/models` and by Ollama's `GET …/api/tags`
    /// (empty by default).
    ///
    /// ```
    /// # #[tokio::main]
    /// # async fn main() -> Result<(), elelem_testkit::TestkitError> {
    /// let server = elelem_testkit::TestServer::start().await?;
    /// server.set_models(vec!["gpt-4o-mini", "gpt-4o"]);
    /// # Ok(())
    /// # }
    /// ```
    pub fn set_models<S: Into<String>>(&self, models: impl IntoIterator<Item = S>) {
        self.state
            .set_models(models.into_iter().map(Into::into).collect());
    }

    /// Emulates a provider's request-rate limit: at most `limit` chat requests per
    /// fixed window of `window` (counted from this call). Every chat answer then
    /// carries OpenAI's `x-ratelimit-*` headers (`x-ratelimit-remaining-requests`,
    /// `x-ratelimit-reset-requests` as a Go duration such as `350ms`, ...), and a
    /// request over the limit gets OpenAI's 429 `rate_limit_exceeded` (with the
    /// same headers) without consuming the script. `None` turns it off.
    ///
    /// ```
    /// # #[tokio::main]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use std::time::Duration;
    /// use elelem_testkit::{wire, TestServer};
    ///
    /// let server = TestServer::start().await?;
    /// server.set_fallback(wire::completion("gpt-4o-mini", "ok"));
    /// server.rate_limit(Some((1, Duration::from_secs(3600))));
    /// let url = format!("{}/chat/completions", server.url());
    /// let client = reqwest::Client::new();
    /// let first = client.post(&url).body("{}").send().await?;
    /// assert_eq!(first.headers()["x-ratelimit-remaining-requests"], "0");
    /// let second = client.post(&url).body("{}").send().await?;
    /// assert_eq!(second.status(), 429);
    /// assert_eq!(server.rate_limited_count(), 1);
    /// # Ok(())
    /// # }
    /// ```
    pub fn rate_limit(&self, limit: Option<(u64, Duration)>) {
        self.state
            .set_rate_limit(limit.map(|(n, window)| crate::limit::WindowLimit::new(n, window)));
    }

    /// Whether chat requests are refused the way the real APIs refuse them (on by
    /// default). Strict, the server answers a request the emulated API would reject with
    /// that API's own HTTP 400 body, without consuming the script: Gemini
    /// (`…:generateContent`) refuses unknown fields at any depth (including `stream` and
    /// fields inside `responseSchema`); Anthropic (`…/messages`) refuses unknown top-level
    /// fields, a missing `max_tokens`, roles other than `user` / `assistant` and a
    /// `thinking.budget_tokens` below 1024 or not below `max_tokens`; OpenAI
    /// (`…/chat/completions`) refuses `temperature` and `max_tokens` for o-series and
    /// gpt-5 models. The refused request is still recorded. Turn it off only for a test
    /// about what a client does with a request the real API would have accepted.
    ///
    /// ```
    /// # #[tokio::main]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use elelem_testkit::{wire, TestServer};
    ///
    /// let server = TestServer::start().await?;
    /// server.push(wire::gemini_response("gemini-2.5-flash", "hi"));
    /// let url = format!("{}/v1beta/models/gemini-2.5-flash:generateContent", server.root_url());
    /// let client = reqwest::Client::new();
    /// let refused = client.post(&url).body(r#"{"contents": [], "stream": true}"#).send().await?;
    /// assert_eq!(refused.status(), 400);
    /// assert_eq!(server.pending(), 1);
    ///
    /// server.strict(false);
    /// let accepted = client.post(&url).body(r#"{"contents": [], "stream": true}"#).send().await?;
    /// assert_eq!(accepted.status(), 200);
    /// # Ok(())
    /// # }
    /// ```
    pub fn strict(&self, strict: bool) {
        self.state.set_strict(strict);
    }

    /// Checks the AWS SigV4 signature of every Bedrock Converse request against
    /// these credentials (`None`: no check), answering a missing or wrong one
    /// with Bedrock's 403 before the script is consulted.
    ///
    /// ```
    /// # #[tokio::main]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let server = elelem_testkit::TestServer::start().await?;
    /// server.require_sigv4(Some(("AKIDEXAMPLE", "secret")));
    /// let url = format!("{}/model/m/converse", server.root_url());
    /// let refused = reqwest::Client::new().post(&url).body("{}").send().await?;
    /// assert_eq!(refused.status(), 403);
    /// assert_eq!(refused.text().await?, r#"{"message":"Missing Authentication Token"}"#);
    /// # Ok(())
    /// # }
    /// ```
    pub fn require_sigv4(&self, credentials: Option<(&str, &str)>) {
        self.state
            .set_sigv4(credentials.map(|(id, secret)| (id.to_owned(), secret.to_owned())));
    }

    /// How many chat requests the rate limit ([`rate_limit`](Self::rate_limit))
    /// answered with a 429.
    ///
    /// ```
    /// # #[tokio::main]
    /// # async fn main() -> Result<(), elelem_testkit::TestkitError> {
    /// let server = elelem_testkit::TestServer::start().await?;
    /// assert_eq!(server.rate_limited_count(), 0);
    /// # Ok(())
    /// # }
    /// ```
    pub fn rate_limited_count(&self) -> u64 {
        self.state.rate_limited_count()
    }

    /// How many scripted answers are still queued.
    ///
    /// ```
    /// # #[tokio::main]
    /// # async fn main() -> Result<(), elelem_testkit::TestkitError> {
    /// let server = elelem_testkit::TestServer::start().await?;
    /// assert_eq!(server.pending(), 0);
    /// # Ok(())
    /// # }
    /// ```
    pub fn pending(&self) -> usize {
        self.state.pending()
    }

    /// A copy of every request received so far, in arrival order.
    ///
    /// ```
    /// # #[tokio::main]
    /// # async fn main() -> Result<(), elelem_testkit::TestkitError> {
    /// let server = elelem_testkit::TestServer::start().await?;
    /// assert!(server.requests().is_empty());
    /// # Ok(())
    /// # }
    /// ```
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.state.requests()
    }

    /// The most recent request, if any.
    ///
    /// ```
    /// # #[tokio::main]
    /// # async fn main() -> Result<(), elelem_testkit::TestkitError> {
    /// let server = elelem_testkit::TestServer::start().await?;
    /// assert_eq!(server.last_request(), None);
    /// # Ok(())
    /// # }
    /// ```
    pub fn last_request(&self) -> Option<RecordedRequest> {
        self.state.last_request()
    }

    /// How many requests were received so far (all paths).
    ///
    /// ```
    /// # #[tokio::main]
    /// # async fn main() -> Result<(), elelem_testkit::TestkitError> {
    /// let server = elelem_testkit::TestServer::start().await?;
    /// assert_eq!(server.request_count(), 0);
    /// # Ok(())
    /// # }
    /// ```
    pub fn request_count(&self) -> usize {
        self.state.request_count()
    }

    /// Forget the requests recorded so far.
    ///
    /// ```
    /// # #[tokio::main]
    /// # async fn main() -> Result<(), elelem_testkit::TestkitError> {
    /// let server = elelem_testkit::TestServer::start().await?;
    /// server.clear_requests();
    /// assert_eq!(server.request_count(), 0);
    /// # Ok(())
    /// # }
    /// ```
    pub fn clear_requests(&self) {
        self.state.clear_requests();
    }

    /// Stop accepting, close every open connection and wait for the accept
    /// loop to end. Dropping the server does the same without waiting.
    ///
    /// ```
    /// # #[tokio::main]
    /// # async fn main() -> Result<(), elelem_testkit::TestkitError> {
    /// let server = elelem_testkit::TestServer::start().await?;
    /// let addr = server.addr();
    /// server.shutdown().await;
    /// assert!(tokio::net::TcpStream::connect(addr).await.is_err());
    /// # Ok(())
    /// # }
    /// ```
    pub async fn shutdown(mut self) {
        self.accept_loop.abort();
        // The loop never ends by itself: the only outcome is its cancellation.
        let _cancelled = (&mut self.accept_loop).await;
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.accept_loop.abort();
    }
}

/// A listening socket on `127.0.0.1:0` with a large backlog.
fn listen() -> Result<TcpListener, TestkitError> {
    let socket = TcpSocket::new_v4().map_err(TestkitError::Bind)?;
    socket
        .bind(SocketAddr::from((Ipv4Addr::LOCALHOST, 0)))
        .map_err(TestkitError::Bind)?;
    socket.listen(BACKLOG).map_err(TestkitError::Bind)
}

/// Accept connections forever. The connection tasks live in a [`JoinSet`], so
/// cancelling this loop also aborts every connection.
async fn accept_loop(listener: TcpListener, state: Arc<State>) {
    let mut connections = JoinSet::new();
    loop {
        match listener.accept().await {
            Ok((stream, _peer)) => {
                connections.spawn(serve_connection(stream, Arc::clone(&state)));
            }
            // Typically out of file descriptors: back off and retry.
            Err(_) => tokio::time::sleep(Duration::from_millis(5)).await,
        }
        while connections.try_join_next().is_some() {}
    }
}

/// Serve one keep-alive HTTP/1.1 connection until the client or a script closes it.
async fn serve_connection(stream: TcpStream, state: Arc<State>) {
    // Latency matters more than packet count for tests and benchmarks; failing
    // to set it only costs speed.
    let _ = stream.set_nodelay(true);
    let service = service_fn(move |request| handle(Arc::clone(&state), request));
    // Connection errors (including the scripted ones) just end the connection.
    let _ = http1::Builder::new()
        .keep_alive(true)
        .serve_connection(TokioIo::new(stream), service)
        .await;
}
