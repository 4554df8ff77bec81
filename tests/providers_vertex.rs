//! Google Vertex AI (crate elelem-vertex) over real HTTP against the testkit's
//! Google emulation: an OAuth token endpoint verifying the service-account JWT
//! grant (RS256 signature by the TEST-ONLY key, aud, scope, exp) and Vertex's
//! routes accepting only unexpired tokens it issued. The shared JSON scenarios,
//! the regional URL and bearer header, streams, one token for concurrent
//! callers, refresh before expiry, a refused token replaced, a refused grant
//! never retried, and neither key nor token in Debug, errors or logs; and Claude
//! from the Model Garden through `publishers/anthropic/...:rawPredict`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[macro_use]
mod scenarios;

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use elelem::provider::{ProviderError, ProviderErrorKind};
use elelem::{ChatRequest, Elelem, ElelemBuilder, ElelemError, Message, ResponseFormat};
use elelem_testkit::clouds::google::{self, FakeOAuth};
use elelem_testkit::wire::{self, AnthropicMessage, GeminiResponse};
use elelem_testkit::{ScriptedResponse, TestServer};
use scenarios::{fast_policy, usd, Kit};

const MODEL: &str = "vertex:gemini-2.5-flash";
const UPSTREAM: &str = "gemini-2.5-flash";
const PROJECT: &str = "test-project";
const GENERATE: &str =
    "/v1/projects/test-project/locations/us-central1/publishers/google/models/gemini-2.5-flash:generateContent";

fn answer(text: &str, input: u64, output: u64) -> ScriptedResponse {
    GeminiResponse::new(UPSTREAM, text)
        .usage(input, output)
        .into_response()
}

fn builder_with(server: &TestServer, oauth: &FakeOAuth) -> ElelemBuilder {
    Elelem::builder()
        .without_env_keys()
        .api_key("vertex", oauth.key_json(PROJECT))
        .base_url("vertex", format!("{}/v1", server.root_url()))
}

fn builder(server: &TestServer) -> ElelemBuilder {
    let oauth = FakeOAuth::serve(server);
    builder_with(server, &oauth)
}

/// A server emulating Google, and a client of it.
async fn setup() -> (TestServer, FakeOAuth, Elelem) {
    let server = TestServer::start().await.unwrap();
    let oauth = FakeOAuth::serve(&server);
    let elelem = builder_with(&server, &oauth)
        .retry_policy(fast_policy())
        .build()
        .unwrap();
    (server, oauth, elelem)
}

/// gemini-2.5-flash on Vertex: 1200 x $0.30 + 300 x $2.50 per million.
const KIT: Kit = Kit {
    provider: "vertex",
    model: MODEL,
    path: GENERATE,
    answer,
    rate_limited: || wire::gemini_rate_limited(None),
    server_error: wire::gemini_overloaded,
    builder,
    answer_cost: Some("0.00111"),
};

json_scenarios!(KIT);

fn text_request() -> ChatRequest {
    ChatRequest::new(MODEL, vec![Message::user("Say hi.")])
}

#[tokio::test]
async fn a_request_goes_to_the_regional_publisher_url_with_a_minted_token() {
    let (server, oauth, elelem) = setup().await;
    server.push(answer(r#"{"ok": true}"#, 10, 5));
    let response = elelem
        .create_chat_completion(text_request().response_format(ResponseFormat::JsonObject))
        .await
        .unwrap();
    assert_eq!(response.elelem.json, Some(serde_json::json!({"ok": true})));
    assert_eq!(oauth.issued(), vec!["ya29.test-only-1".to_owned()]);
    assert!(oauth.refusals().is_empty(), "{:?}", oauth.refusals());
    let request = server.last_request().unwrap();
    assert_eq!(request.path, GENERATE);
    assert_eq!(
        request.header("authorization"),
        Some("Bearer ya29.test-only-1")
    );
    assert_eq!(request.header("x-goog-api-key"), None);
    let body = request.json().unwrap();
    assert_eq!(
        body["generationConfig"]["responseMimeType"],
        "application/json"
    );
    assert!(body.get("model").is_none() && body.get("messages").is_none());
}

#[tokio::test]
async fn a_stream_uses_stream_generate_content_and_costs_like_the_plain_answer() {
    let (server, _oauth, elelem) = setup().await;
    let answer = GeminiResponse::new(UPSTREAM, "Once upon a time.").usage(1_200, 300);
    server.push(answer.clone().into_response());
    server.push(answer.into_stream_response());
    let plain = elelem.create_chat_completion(text_request()).await.unwrap();
    let streamed = elelem
        .stream_chat_completion(text_request())
        .await
        .unwrap()
        .collect_completion()
        .await
        .unwrap();
    assert_eq!(streamed.content(), Some("Once upon a time."));
    assert_eq!(streamed.elelem.cost, plain.elelem.cost);
    assert_eq!(streamed.elelem.cost, usd("0.00111"));
    let request = server.last_request().unwrap();
    assert!(request
        .path
        .ends_with("gemini-2.5-flash:streamGenerateContent"));
    assert_eq!(request.query.as_deref(), Some("alt=sse"));
}

#[tokio::test]
async fn a_token_is_reused_until_it_nears_expiry_then_replaced() {
    let (server, oauth, elelem) = setup().await;
    // Replaced five minutes before expiry: this token is fresh for two seconds.
    oauth.set_lifetime(302);
    server.set_fallback(answer("hi", 10, 2));
    elelem.create_chat_completion(text_request()).await.unwrap();
    elelem.create_chat_completion(text_request()).await.unwrap();
    assert_eq!(oauth.issued().len(), 1);
    tokio::time::sleep(Duration::from_millis(2_200)).await;
    elelem.create_chat_completion(text_request()).await.unwrap();
    assert_eq!(oauth.issued().len(), 2);
    assert_eq!(
        server.last_request().unwrap().header("authorization"),
        Some("Bearer ya29.test-only-2")
    );
}

#[tokio::test]
async fn concurrent_callers_wait_for_one_token() {
    let (server, oauth, elelem) = setup().await;
    oauth.set_delay(Duration::from_millis(200));
    server.set_fallback(answer("hi", 10, 2));
    let calls = (0..8).map(|_| elelem.create_chat_completion(text_request()));
    for result in futures_util::future::join_all(calls).await {
        assert_eq!(result.unwrap().content(), Some("hi"));
    }
    assert_eq!(oauth.issued().len(), 1);
    assert_eq!(server.request_count(), 8);
}

#[tokio::test]
async fn a_refused_token_is_replaced_on_the_next_call() {
    let (server, oauth, elelem) = setup().await;
    server.push(google::unauthenticated());
    server.push(answer("hi", 10, 2));
    let error = elelem
        .create_chat_completion(text_request())
        .await
        .unwrap_err();
    assert_eq!(server.request_count(), 1, "a 401 is not retried");
    let ElelemError::Provider {
        error: provider, ..
    } = &error
    else {
        panic!("expected a provider error, got {error:?}");
    };
    assert_eq!(provider.kind(), Some(ProviderErrorKind::Authentication));
    elelem.create_chat_completion(text_request()).await.unwrap();
    assert_eq!(oauth.issued().len(), 2);
    assert_eq!(
        server.last_request().unwrap().header("authorization"),
        Some("Bearer ya29.test-only-2")
    );
}

#[tokio::test]
async fn a_refused_grant_is_a_credentials_error_and_nothing_reaches_the_model() {
    let server = TestServer::start().await.unwrap();
    let oauth = FakeOAuth::serve(&server);
    let mut key: serde_json::Value = serde_json::from_str(&oauth.key_json(PROJECT)).unwrap();
    key["client_email"] = "someone-else@test-only.iam.gserviceaccount.com".into();
    server.push(answer("never sent", 10, 2));
    let elelem = Elelem::builder()
        .without_env_keys()
        .api_key("vertex", key.to_string())
        .base_url("vertex", format!("{}/v1", server.root_url()))
        .retry_policy(fast_policy())
        .build()
        .unwrap();
    let error = elelem
        .create_chat_completion(text_request())
        .await
        .unwrap_err();
    assert_eq!(server.request_count(), 0);
    assert_eq!(
        oauth.refusals().len(),
        1,
        "not retried: {:?}",
        oauth.refusals()
    );
    assert!(!error.is_retryable());
    let ElelemError::Provider {
        error: provider, ..
    } = &error
    else {
        panic!("expected a provider error, got {error:?}");
    };
    assert!(
        matches!(provider, ProviderError::Credentials { .. }),
        "{provider:?}"
    );
    assert!(error.to_string().contains("invalid_grant"), "{error}");
}

#[tokio::test]
async fn a_key_that_is_no_key_file_fails_calls_not_the_build() {
    let server = TestServer::start().await.unwrap();
    let elelem = Elelem::builder()
        .without_env_keys()
        .api_key("vertex", "/nonexistent/service-account.json")
        .base_url("vertex", format!("{}/v1", server.root_url()))
        .build()
        .unwrap();
    let error = elelem
        .create_chat_completion(text_request())
        .await
        .unwrap_err();
    assert!(
        error.to_string().contains("GOOGLE_APPLICATION_CREDENTIALS"),
        "{error}"
    );
    assert_eq!(server.request_count(), 0);
}

#[derive(Clone, Default)]
struct LogBuffer(Arc<Mutex<Vec<u8>>>);

impl Write for LogBuffer {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn neither_the_private_key_nor_a_token_leaks_into_debug_errors_or_logs() {
    let log = LogBuffer::default();
    let writer = log.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let (server, oauth, elelem) = setup().await;
    server.push(answer("hi", 10, 2));
    // An error body echoing the token it was sent.
    server.push(ScriptedResponse::raw(
        500,
        "text/plain",
        "upstream refused Bearer ya29.test-only-1",
    ));
    elelem.create_chat_completion(text_request()).await.unwrap();
    let error = elelem
        .create_chat_completion(text_request().max_tokens(5))
        .await;
    let error_text = match &error {
        Ok(_) => String::new(),
        Err(e) => format!("{e} {e:?}"),
    };
    // The error quotes the body, with the echoed token redacted.
    assert!(
        error_text.contains("upstream refused Bearer ***"),
        "{error_text}"
    );
    let private_marker = google::TEST_ONLY_PRIVATE_KEY.lines().nth(1).unwrap();
    let texts = [
        format!("{elelem:?}"),
        format!("{elelem:#?}"),
        error_text,
        log.0.lock().unwrap().iter().map(|b| *b as char).collect(),
    ];
    assert_eq!(oauth.issued().len(), 1);
    for text in texts {
        assert!(!text.contains("ya29.test-only"), "{text}");
        assert!(!text.contains(private_marker), "{text}");
        assert!(!text.contains("PRIVATE KEY"), "{text}");
    }
}

#[tokio::test]
async fn without_a_key_the_call_names_the_credentials_variable() {
    let elelem = Elelem::builder().without_env_keys().build().unwrap();
    let error = elelem
        .create_chat_completion(text_request())
        .await
        .unwrap_err();
    assert!(
        error.to_string().contains("GOOGLE_APPLICATION_CREDENTIALS"),
        "{error}"
    );
}

const CLAUDE: &str = "vertex:claude-haiku-4-5@20251001";
const RAW_PREDICT: &str = "/v1/projects/test-project/locations/us-central1/publishers/anthropic/models/claude-haiku-4-5@20251001:rawPredict";

#[tokio::test]
async fn claude_goes_to_raw_predict_with_the_vertex_anthropic_version() {
    let (server, oauth, elelem) = setup().await;
    server.push(
        AnthropicMessage::new("claude-haiku-4-5-20251001", "Hello.")
            .usage(1_000_000, 0)
            .into_response(),
    );
    let response = elelem
        .create_chat_completion(ChatRequest::new(
            CLAUDE,
            vec![Message::system("Be brief."), Message::user("Say hi.")],
        ))
        .await
        .unwrap();
    assert_eq!(response.content(), Some("Hello."));
    assert_eq!(response.elelem.cost, usd("1.00"));
    let request = server.last_request().unwrap();
    assert_eq!(request.path, RAW_PREDICT);
    assert_eq!(
        request.header("authorization"),
        Some("Bearer ya29.test-only-1")
    );
    assert_eq!(request.header("x-api-key"), None);
    let body = request.json().unwrap();
    assert_eq!(body["anthropic_version"], "vertex-2023-10-16");
    assert!(body.get("model").is_none());
    assert_eq!(
        body["system"].as_str().map(|s| s.starts_with("Be brief.")),
        Some(true),
        "{body}"
    );
    assert_eq!(body["max_tokens"], 8192);
    // Gemini and Claude share one token.
    server.push(answer("hi", 10, 2));
    elelem.create_chat_completion(text_request()).await.unwrap();
    assert_eq!(oauth.issued().len(), 1);
}

#[tokio::test]
async fn a_claude_stream_uses_stream_raw_predict_and_costs_like_the_plain_answer() {
    let (server, _oauth, elelem) = setup().await;
    let message = || {
        AnthropicMessage::new("claude-haiku-4-5-20251001", "Once upon a time.").usage(1_200, 300)
    };
    server.push(message().into_response());
    server.push(message().into_stream_response());
    let request = || ChatRequest::new(CLAUDE, vec![Message::user("A story.")]);
    let plain = elelem.create_chat_completion(request()).await.unwrap();
    let streamed = elelem
        .stream_chat_completion(request())
        .await
        .unwrap()
        .collect_completion()
        .await
        .unwrap();
    assert_eq!(streamed.content(), Some("Once upon a time."));
    assert_eq!(streamed.elelem.cost, plain.elelem.cost);
    let last = server.last_request().unwrap();
    assert!(
        last.path
            .ends_with("claude-haiku-4-5@20251001:streamRawPredict"),
        "{}",
        last.path
    );
    assert_eq!(last.json().unwrap()["stream"], true);
}
