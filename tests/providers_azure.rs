//! Azure OpenAI (crate elelem-azure) over real HTTP against the testkit's Azure
//! emulation (deployment and v1 routes, the `api-key` check with Azure's 401):
//! the shared JSON scenarios, the URLs and headers, Entra ID bearer tokens from
//! a token provider (one fetch for concurrent callers), deployment aliases
//! priced as their model, content-filter refusals (a 400 never retried, and
//! `finish_reason: content_filter`), streams, and the key kept out of errors.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[macro_use]
mod scenarios;

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use elelem::provider::{ProviderError, ProviderErrorKind, ProviderSettings};
use elelem::providers::azure::{self, AzureAuth, AzureOptions};
use elelem::{
    ChatRequest, Elelem, ElelemBuilder, ElelemError, FinishReason, Message, ResponseFormat,
};
use elelem_testkit::clouds::azure as wire_azure;
use elelem_testkit::sse::ChunkStream;
use elelem_testkit::wire::{self, Completion};
use elelem_testkit::{ScriptedResponse, TestServer};
use scenarios::{fast_policy, usd, Kit};

const KEY: &str = "azure-test-SECRET-123";
const MODEL: &str = "azure:gpt-4o-mini";

fn answer(text: &str, input: u64, output: u64) -> ScriptedResponse {
    Completion::new("gpt-4o-mini-2024-07-18", text)
        .usage(input, output)
        .into_response()
}

fn builder(server: &TestServer) -> ElelemBuilder {
    server.set_responder(Some(wire_azure::credentials_check(&[KEY])));
    Elelem::builder()
        .without_env_keys()
        .api_key("azure", KEY)
        .base_url("azure", server.root_url())
}

fn client(server: &TestServer) -> Elelem {
    builder(server).retry_policy(fast_policy()).build().unwrap()
}

/// gpt-4o-mini (Global Standard): 1200 x $0.15 + 300 x $0.60 per million.
const KIT: Kit = Kit {
    provider: "azure",
    model: MODEL,
    path: "/openai/deployments/gpt-4o-mini/chat/completions",
    answer,
    rate_limited: || wire::rate_limited(Some("0")),
    server_error: || wire::server_error(503),
    builder,
    answer_cost: Some("0.00036"),
};

json_scenarios!(KIT);

fn text_request(model: &str) -> ChatRequest {
    ChatRequest::new(model, vec![Message::user("Say hi.")])
}

#[tokio::test]
async fn a_deployment_request_carries_the_api_version_and_the_api_key() {
    let server = TestServer::start().await.unwrap();
    server.push(answer("hi", 10, 2));
    let elelem = client(&server);
    let response = elelem
        .create_chat_completion(text_request(MODEL).response_format(ResponseFormat::JsonObject))
        .await;
    // The answer is not JSON: what matters here is the request.
    let _ = response;
    let request = server.requests().remove(0);
    assert_eq!(
        request.path,
        "/openai/deployments/gpt-4o-mini/chat/completions"
    );
    assert_eq!(request.query.as_deref(), Some("api-version=2024-10-21"));
    assert_eq!(request.header("api-key"), Some(KEY));
    assert_eq!(request.header("authorization"), None);
    let body = request.json().unwrap();
    let messages = body["messages"].as_array().unwrap();
    assert_eq!(messages.last().unwrap()["content"], "Say hi.");
    assert_eq!(body["response_format"]["type"], "json_object");
    assert!(body.get("stream").is_none());
}

#[tokio::test]
async fn the_v1_route_sends_the_deployment_as_the_model() {
    let server = TestServer::start().await.unwrap();
    server.push(answer("hi", 10, 2));
    let elelem = builder(&server)
        .base_url("azure", format!("{}/openai/v1", server.root_url()))
        .retry_policy(fast_policy())
        .build()
        .unwrap();
    let response = elelem
        .create_chat_completion(text_request("azure:gpt-4.1"))
        .await
        .unwrap();
    assert_eq!(response.content(), Some("hi"));
    let request = server.last_request().unwrap();
    assert_eq!(request.path, "/openai/v1/chat/completions");
    assert_eq!(request.query, None);
    assert_eq!(request.json().unwrap()["model"], "gpt-4.1");
}

#[tokio::test]
async fn a_wrong_key_gets_azures_401_once_and_the_key_stays_secret() {
    let server = TestServer::start().await.unwrap();
    server.push(answer("never sent", 10, 2));
    let elelem = Elelem::builder()
        .without_env_keys()
        .api_key("azure", "azure-wrong-SECRET-456")
        .base_url("azure", server.root_url())
        .retry_policy(fast_policy())
        .build()
        .unwrap();
    server.set_responder(Some(wire_azure::credentials_check(&[KEY])));
    let error = elelem
        .create_chat_completion(text_request(MODEL))
        .await
        .unwrap_err();
    assert_eq!(server.request_count(), 1);
    let ElelemError::Provider {
        error: provider, ..
    } = &error
    else {
        panic!("expected a provider error, got {error:?}");
    };
    assert_eq!(provider.kind(), Some(ProviderErrorKind::Authentication));
    let shown = format!("{error} {error:?} {elelem:?}");
    assert!(!shown.contains("azure-wrong-SECRET-456"), "{shown}");
    assert!(shown.contains("invalid subscription key"), "{shown}");
}

#[tokio::test]
async fn a_filtered_prompt_is_a_content_filter_error_never_retried() {
    let server = TestServer::start().await.unwrap();
    server.push(wire_azure::content_filter("violence"));
    server.push(answer("never sent", 10, 2));
    let elelem = client(&server);
    let error = elelem
        .create_chat_completion(text_request(MODEL))
        .await
        .unwrap_err();
    assert_eq!(server.request_count(), 1);
    assert!(!error.is_retryable());
    let ElelemError::Provider {
        error: ProviderError::Http(http),
        ..
    } = &error
    else {
        panic!("expected an HTTP provider error, got {error:?}");
    };
    assert_eq!(http.kind, ProviderErrorKind::ContentFilter);
    assert_eq!(http.code.as_deref(), Some("content_filter"));
    let details = http.error_object.as_ref().unwrap();
    assert_eq!(
        details["innererror"]["content_filter_result"]["violence"]["filtered"],
        true
    );
    assert!(error.to_string().contains("content filter"), "{error}");
}

#[tokio::test]
async fn a_filtered_answer_finishes_with_content_filter_and_is_billed() {
    let server = TestServer::start().await.unwrap();
    server.push(wire_azure::filtered_answer(
        "gpt-4o-mini",
        "hate",
        1_000_000,
        0,
    ));
    let elelem = client(&server);
    let response = elelem
        .create_chat_completion(text_request(MODEL))
        .await
        .unwrap();
    assert_eq!(
        response.choices[0].finish_reason,
        Some(FinishReason::ContentFilter)
    );
    assert_eq!(response.content(), None);
    assert_eq!(response.elelem.cost, usd("0.15"));
    assert_eq!(server.request_count(), 1);
}

#[tokio::test]
async fn a_stream_skips_the_prompt_filter_chunk_and_costs_like_the_plain_answer() {
    let server = TestServer::start().await.unwrap();
    let chunks = ChunkStream::new("gpt-4o-mini", &["Hello", " there"]).usage(1_200, 300);
    let mut body = format!("data: {}\n\n", wire_azure::prompt_filter_chunk());
    body.push_str(std::str::from_utf8(&chunks.to_bytes()).unwrap());
    server.push(ScriptedResponse::raw(200, "text/event-stream", body));
    let elelem = client(&server);
    let streamed = elelem
        .stream_chat_completion(text_request(MODEL))
        .await
        .unwrap()
        .collect_completion()
        .await
        .unwrap();
    assert_eq!(streamed.content(), Some("Hello there"));
    assert_eq!(streamed.elelem.cost, usd("0.00036"));
    let request = server.last_request().unwrap();
    let body = request.json().unwrap();
    assert_eq!(body["stream"], true);
    assert_eq!(body["stream_options"]["include_usage"], true);
    assert_eq!(elelem.get_stats().interrupted_streams, 0);
}

#[tokio::test]
async fn a_stream_cut_before_done_is_interrupted() {
    let server = TestServer::start().await.unwrap();
    let body = format!("data: {}\n\n", wire_azure::prompt_filter_chunk());
    server.push(ScriptedResponse::raw(200, "text/event-stream", body));
    let elelem = client(&server);
    let result = async {
        elelem
            .stream_chat_completion(text_request(MODEL))
            .await?
            .collect_completion()
            .await
    }
    .await;
    assert!(result.is_err());
    assert_eq!(elelem.get_stats().interrupted_streams, 1);
}

#[tokio::test]
async fn a_named_deployment_resolves_with_its_models_prices() {
    let server = TestServer::start().await.unwrap();
    server.push(answer("hi", 1_000_000, 0));
    let elelem = builder(&server)
        .models_toml(
            "deployments",
            azure::deployments(&[("prod-chat", "gpt-4o")]),
        )
        .retry_policy(fast_policy())
        .build()
        .unwrap();
    let response = elelem
        .create_chat_completion(text_request("azure:prod-chat"))
        .await
        .unwrap();
    assert_eq!(response.elelem.cost, usd("2.50"));
    assert_eq!(
        server.last_request().unwrap().path,
        "/openai/deployments/prod-chat/chat/completions"
    );
}

/// Entra ID tokens `entra-N`, each valid for an hour; counts its fetches.
#[derive(Debug, Default)]
struct Entra {
    fetches: AtomicU32,
}

#[async_trait::async_trait]
impl azure::TokenSource for Entra {
    async fn fetch(&self) -> Result<azure::BearerToken, ProviderError> {
        let n = self.fetches.fetch_add(1, Ordering::SeqCst) + 1;
        tokio::time::sleep(Duration::from_millis(50)).await;
        Ok(azure::BearerToken {
            token: format!("entra-SECRET-{n}").into(),
            expires_at: Some(Instant::now() + Duration::from_secs(3600)),
        })
    }
}

#[tokio::test]
async fn entra_tokens_from_a_provider_are_fetched_once_for_concurrent_callers() {
    let server = TestServer::start().await.unwrap();
    server.set_responder(Some(wire_azure::credentials_check(&["entra-SECRET-1"])));
    server.set_fallback(answer("hi", 10, 2));
    let source = Arc::new(Entra::default());
    let settings = ProviderSettings {
        name: "azure".into(),
        base_url: String::new(),
        api_key: None,
        api_key_env: None,
        timeout: Duration::from_secs(10),
        max_response_bytes: 1 << 20,
    };
    let options = AzureOptions::new(server.root_url(), AzureAuth::TokenProvider(source.clone()));
    let provider = azure::provider(settings, options).unwrap();
    let elelem = Elelem::builder()
        .without_env_keys()
        .provider("azure", provider)
        .retry_policy(fast_policy())
        .build()
        .unwrap();
    let calls = (0..8).map(|_| elelem.create_chat_completion(text_request(MODEL)));
    for result in futures_util::future::join_all(calls).await {
        assert_eq!(result.unwrap().content(), Some("hi"));
    }
    assert_eq!(source.fetches.load(Ordering::SeqCst), 1);
    let request = server.last_request().unwrap();
    assert_eq!(
        request.header("authorization"),
        Some("Bearer entra-SECRET-1")
    );
    assert_eq!(request.header("api-key"), None);
    assert!(!format!("{elelem:?}").contains("entra-SECRET"));
}

#[tokio::test]
async fn a_bearer_key_is_sent_as_an_entra_id_token() {
    let server = TestServer::start().await.unwrap();
    server.set_responder(Some(wire_azure::credentials_check(&["eyJ-entra-SECRET"])));
    server.push(answer("hi", 10, 2));
    let elelem = Elelem::builder()
        .without_env_keys()
        .api_key("azure", "Bearer eyJ-entra-SECRET")
        .base_url("azure", server.root_url())
        .build()
        .unwrap();
    let response = elelem
        .create_chat_completion(text_request(MODEL))
        .await
        .unwrap();
    assert_eq!(response.content(), Some("hi"));
    let request = server.last_request().unwrap();
    assert_eq!(
        request.header("authorization"),
        Some("Bearer eyJ-entra-SECRET")
    );
    assert_eq!(request.header("api-key"), None);
}

#[tokio::test]
async fn a_missing_endpoint_names_its_variable_and_sends_nothing() {
    if std::env::var_os(azure::ENDPOINT_ENV).is_some() {
        return; // a configured machine: the placeholder is replaced
    }
    let elelem = Elelem::builder()
        .without_env_keys()
        .api_key("azure", KEY)
        .build()
        .unwrap();
    let error = elelem
        .create_chat_completion(text_request(MODEL))
        .await
        .unwrap_err();
    let text = error.to_string();
    assert!(text.contains("AZURE_OPENAI_ENDPOINT"), "{text}");
    assert!(!error.is_retryable());
    assert!(!text.contains(KEY));
}
