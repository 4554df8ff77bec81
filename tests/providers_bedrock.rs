//! AWS Bedrock's Converse API over real HTTP: requests signed with SigV4 and
//! checked by the test server (which recomputes the signature independently),
//! Converse request and answer shapes, tools, the event-stream `converse-stream`
//! (any chunking of the frames gives the same events; arbitrary bytes never
//! panic), Bedrock's errors classified by `x-amzn-errortype`, credentials from
//! the environment and the profile file, and exact cost from the catalogue.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod bedrock_setup;
#[allow(unused_macros)]
mod scenarios;

use bedrock_setup::*;
use elelem::provider::ProviderErrorKind;
use elelem::providers::bedrock::{self, AwsConfig, EventStreamFraming};
use elelem::{function_tool, ChatRequest, Elelem, ElelemError, FinishReason, Message};
use elelem_testkit::{bedrock as wire, TestServer};
use futures_util::StreamExt;
use proptest::prelude::*;
use scenarios::usd;
use serde_json::json;

/// The kind of the provider error a call ended with.
fn kind(error: &ElelemError) -> Option<ProviderErrorKind> {
    match error {
        ElelemError::Provider { error, .. } => error.kind(),
        other => panic!("not a provider error: {other:?}"),
    }
}

#[tokio::test]
async fn a_signed_converse_call_is_mapped_and_billed_exactly() {
    let (server, elelem) = signed().await;
    server.push(wire::converse_answer(
        json!([{"text": "Hi!"}]),
        "end_turn",
        json!({"inputTokens": 1000, "outputTokens": 500, "totalTokens": 4500,
               "cacheReadInputTokens": 2000, "cacheWriteInputTokens": 1000}),
    ));
    let response = elelem.create_chat_completion(ask()).await.unwrap();
    assert_eq!(response.content(), Some("Hi!"));
    assert_eq!(response.choices[0].finish_reason, Some(FinishReason::Stop));
    // 1000 x 0.80 + 2000 x 0.08 + 1000 x 1.00 + 500 x 4.00 per million.
    assert_eq!(response.elelem.cost, usd("0.00396"));
    let usage = response.usage.as_ref().unwrap();
    assert_eq!(usage.prompt_tokens, Some(4000));

    let request = server.last_request().unwrap();
    assert_eq!(request.path, PATH);
    let auth = request.header("authorization").unwrap();
    assert!(auth.starts_with(&format!("AWS4-HMAC-SHA256 Credential={KEY_ID}/")));
    assert!(auth.contains("/us-east-1/bedrock/aws4_request"));
    assert_eq!(request.header("x-amz-security-token"), Some(TOKEN));
    let body = request.json().unwrap();
    assert_eq!(body["system"], json!([{"text": "Be brief."}]));
    assert_eq!(
        body["messages"],
        json!([{"role": "user", "content": [{"text": "Say hi."}]}])
    );
    assert_eq!(body["inferenceConfig"]["maxTokens"], 200);
    assert_eq!(body["inferenceConfig"]["temperature"], 0.5);
    assert!(body.get("model").is_none());
}

#[tokio::test]
async fn inference_profile_ids_are_encoded_in_the_path() {
    let (server, elelem) = signed().await;
    server.push(wire::converse("ok", 10, 2));
    let request = ChatRequest::new(
        "bedrock:us.anthropic.claude-sonnet-4-20250514-v1:0",
        vec![Message::user("hi")],
    );
    elelem.create_chat_completion(request).await.unwrap();
    assert_eq!(
        server.last_request().unwrap().path,
        "/model/us.anthropic.claude-sonnet-4-20250514-v1%3A0/converse"
    );
}

#[tokio::test]
async fn a_wrong_secret_gets_bedrocks_403_and_is_not_retried() {
    let server = TestServer::start().await.unwrap();
    server.require_sigv4(Some((KEY_ID, SECRET)));
    server.push(wire::converse("never", 1, 1));
    let elelem = client_with(&server, config("not-the-secret"));
    let error = elelem.create_chat_completion(ask()).await.unwrap_err();
    let text = error.to_string();
    assert!(
        text.contains("The request signature we calculated does not match"),
        "{text}"
    );
    assert!(!text.contains("not-the-secret") && !format!("{error:?}").contains("not-the-secret"));
    assert_eq!(kind(&error), Some(ProviderErrorKind::Authentication));
    assert_eq!(server.request_count(), 1);
    assert_eq!(server.pending(), 1);
}

#[tokio::test]
async fn missing_credentials_fail_each_call_naming_the_variable_and_send_nothing() {
    let server = TestServer::start().await.unwrap();
    let missing = AwsConfig::resolve(|name| (name == "HOME").then(|| "/nonexistent".to_owned()));
    let elelem = client_with(&server, missing);
    let error = elelem.create_chat_completion(ask()).await.unwrap_err();
    assert!(error.to_string().contains("AWS_ACCESS_KEY_ID"), "{error}");
    assert_eq!(server.request_count(), 0);
}

#[tokio::test]
async fn tool_use_blocks_become_tool_calls_and_go_back_as_tool_results() {
    let (server, elelem) = signed().await;
    server.push(wire::converse_answer(
        json!([{"text": "Checking."},
               {"toolUse": {"toolUseId": "tooluse_1", "name": "get_weather", "input": {"city": "Paris"}}}]),
        "tool_use",
        wire::usage(50, 20),
    ));
    let tools = json!([function_tool(
        "get_weather",
        "Weather",
        json!({"type": "object", "properties": {"city": {"type": "string"}}})
    )]);
    let request = ChatRequest::new(MODEL, vec![Message::user("Weather in Paris?")])
        .extra("tools", tools.clone())
        .extra("tool_choice", "required");
    let response = elelem.create_chat_completion(request).await.unwrap();
    let choice = &response.choices[0];
    assert_eq!(choice.finish_reason, Some(FinishReason::ToolCalls));
    let calls = &choice.message.extra["tool_calls"];
    assert_eq!(calls[0]["id"], "tooluse_1");
    assert_eq!(calls[0]["function"]["name"], "get_weather");
    let body = server.last_request().unwrap().json().unwrap();
    assert_eq!(
        body["toolConfig"],
        json!({"tools": [{"toolSpec": {"name": "get_weather", "description": "Weather",
            "inputSchema": {"json": {"type": "object", "properties": {"city": {"type": "string"}}}}}}],
            "toolChoice": {"any": {}}})
    );

    server.push(wire::converse("18C in Paris.", 80, 6));
    let follow = ChatRequest::new(
        MODEL,
        vec![
            Message::user("Weather in Paris?"),
            serde_json::from_value(
                json!({"role": "assistant", "content": "Checking.", "tool_calls": calls}),
            )
            .unwrap(),
            Message::tool("tooluse_1", "18C"),
        ],
    )
    .extra("tools", tools);
    elelem.create_chat_completion(follow).await.unwrap();
    let body = server.last_request().unwrap().json().unwrap();
    assert_eq!(
        body["messages"][1]["content"][1],
        json!({"toolUse": {"toolUseId": "tooluse_1", "name": "get_weather", "input": {"city": "Paris"}}})
    );
    assert_eq!(
        body["messages"][2]["content"][0],
        json!({"toolResult": {"toolUseId": "tooluse_1", "content": [{"text": "18C"}]}})
    );
}

#[tokio::test]
async fn throttling_is_retried_and_validation_is_a_bad_request() {
    let (server, elelem) = signed().await;
    server.push_many([wire::throttled(), wire::converse("ok", 10, 2)]);
    let response = elelem.create_chat_completion(ask()).await.unwrap();
    assert_eq!(response.content(), Some("ok"));
    assert_eq!(server.request_count(), 2);

    server.push(wire::validation(
        "The model returned the following errors: messages: roles must alternate",
    ));
    let error = elelem.create_chat_completion(ask()).await.unwrap_err();
    assert_eq!(kind(&error), Some(ProviderErrorKind::BadRequest));
    assert!(error.to_string().contains("roles must alternate"));
    assert_eq!(server.request_count(), 3);

    // ModelNotReady answers 429 but is a transient server state: retried.
    server.push_many([
        wire::error(429, "ModelNotReadyException", "Model is not ready"),
        wire::converse("ready", 1, 1),
    ]);
    assert_eq!(
        elelem
            .create_chat_completion(ask())
            .await
            .unwrap()
            .content(),
        Some("ready")
    );
}

#[tokio::test]
async fn a_stream_collects_to_the_plain_answer_with_the_exact_cost() {
    let (server, elelem) = signed().await;
    server.push(wire::converse("Hello there", 1000, 500));
    let plain = elelem.create_chat_completion(ask()).await.unwrap();
    server.push(wire::converse_stream(&wire::text_events(
        "Hello there",
        1000,
        500,
    )));
    let streamed = collected(&elelem).await;
    assert_eq!(streamed.content(), Some("Hello there"));
    assert_eq!(streamed.elelem.cost, plain.elelem.cost);
    assert_eq!(streamed.elelem.cost, usd("0.0028"));
    assert_eq!(streamed.choices[0].finish_reason, Some(FinishReason::Stop));
    let request = server.last_request().unwrap();
    assert!(request.path.ends_with("/converse-stream"));
    assert!(request.header("authorization").is_some());
}

#[tokio::test]
async fn a_streamed_tool_call_is_assembled() {
    let (server, elelem) = signed().await;
    let events = vec![
        ("messageStart".to_owned(), json!({"role": "assistant"})),
        (
            "contentBlockStart".to_owned(),
            json!({"contentBlockIndex": 1, "start": {"toolUse": {"toolUseId": "tu_9", "name": "f"}}}),
        ),
        (
            "contentBlockDelta".to_owned(),
            json!({"contentBlockIndex": 1, "delta": {"toolUse": {"input": "{\"a\":"}}}),
        ),
        (
            "contentBlockDelta".to_owned(),
            json!({"contentBlockIndex": 1, "delta": {"toolUse": {"input": "1}"}}}),
        ),
        (
            "contentBlockStop".to_owned(),
            json!({"contentBlockIndex": 1}),
        ),
        ("messageStop".to_owned(), json!({"stopReason": "tool_use"})),
        ("metadata".to_owned(), json!({"usage": wire::usage(10, 5)})),
    ];
    server.push(wire::converse_stream(&events));
    let streamed = collected(&elelem).await;
    let calls = &streamed.choices[0].message.extra["tool_calls"];
    assert_eq!(calls[0]["id"], "tu_9");
    assert_eq!(calls[0]["function"]["arguments"], "{\"a\":1}");
    assert_eq!(
        streamed.choices[0].finish_reason,
        Some(FinishReason::ToolCalls)
    );
}

#[tokio::test]
async fn an_exception_frame_or_a_cut_stream_ends_the_stream_with_an_error() {
    let (server, elelem) = signed().await;
    let mut body = wire::event_frame("messageStart", &json!({"role": "assistant"}));
    body.extend(wire::exception_frame(
        "throttlingException",
        "Too many tokens, please wait.",
    ));
    server.push(wire::stream_bytes(body));
    let mut stream = elelem.stream_chat_completion(ask()).await.unwrap();
    let mut error = None;
    while let Some(item) = stream.next().await {
        if let Err(e) = item {
            error = Some(e);
        }
    }
    let error = error.unwrap();
    assert!(error.to_string().contains("Too many tokens"), "{error}");

    // A stream without its metadata event (the usage) is interrupted.
    let mut events = wire::text_events("Hi", 3, 1);
    events.pop();
    server.push(wire::converse_stream(&events));
    let mut stream = elelem.stream_chat_completion(ask()).await.unwrap();
    let mut failed = false;
    while let Some(item) = stream.next().await {
        failed |= item.is_err();
    }
    assert!(failed);
    // Both streams ended early: both are recorded as interrupted.
    assert_eq!(elelem.get_stats().interrupted_streams, 2);
}

#[test]
fn credentials_come_from_the_profile_file_when_the_environment_has_none() {
    let dir = tempfile::tempdir().unwrap();
    let credentials = dir.path().join("credentials");
    std::fs::write(
        &credentials,
        "[default]\naws_access_key_id = AKIDDEFAULT\naws_secret_access_key = d\n\n[work]\naws_access_key_id = AKIDWORK\naws_secret_access_key = w-SECRET\naws_session_token = w-token\n",
    )
    .unwrap();
    let config = dir.path().join("config");
    std::fs::write(
        &config,
        "[default]\nregion = us-east-1\n[profile work]\nregion = eu-central-1\n",
    )
    .unwrap();
    let env = |pairs: Vec<(&'static str, String)>| {
        move |name: &str| {
            pairs
                .iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| v.clone())
        }
    };
    let files = vec![
        (
            "AWS_SHARED_CREDENTIALS_FILE",
            credentials.display().to_string(),
        ),
        ("AWS_CONFIG_FILE", config.display().to_string()),
    ];
    let found = AwsConfig::resolve(env(files.clone())).unwrap();
    assert_eq!(
        (found.credentials.access_key_id(), found.region.as_str()),
        ("AKIDDEFAULT", "us-east-1")
    );

    let mut work = files.clone();
    work.push(("AWS_PROFILE", "work".into()));
    let found = AwsConfig::resolve(env(work)).unwrap();
    assert_eq!(
        (found.credentials.access_key_id(), found.region.as_str()),
        ("AKIDWORK", "eu-central-1")
    );
    assert!(
        !format!("{found:?}").contains("w-SECRET") && !format!("{found:?}").contains("w-token")
    );

    // The environment wins over the file, and AWS_REGION over the profile.
    let mut env_first = files;
    env_first.extend([
        ("AWS_ACCESS_KEY_ID", "AKIDENV".to_owned()),
        ("AWS_SECRET_ACCESS_KEY", "e".to_owned()),
        ("AWS_REGION", "ap-south-1".to_owned()),
    ]);
    let found = AwsConfig::resolve(env(env_first)).unwrap();
    assert_eq!(
        (found.credentials.access_key_id(), found.region.as_str()),
        ("AKIDENV", "ap-south-1")
    );
}

#[test]
fn the_catalogue_resolves_bedrock_models_with_prices() {
    let elelem = Elelem::builder().without_env_keys().build().unwrap();
    for model in [
        "bedrock:anthropic.claude-3-5-sonnet-20241022-v2:0",
        "bedrock:us.anthropic.claude-sonnet-4-20250514-v1:0",
        "bedrock:meta.llama3-3-70b-instruct-v1:0",
        "bedrock:mistral.mistral-large-2402-v1:0",
        "bedrock:amazon.nova-pro-v1:0",
    ] {
        let entry = elelem
            .catalogue()
            .callable_model(model)
            .unwrap_or_else(|| panic!("{model} does not resolve"));
        assert!(entry.prices.is_some(), "{model}");
    }
}

/// Frames decoded from `bytes` fed in the pieces `cuts` gives.
fn decode(bytes: &[u8], cuts: &[usize]) -> Vec<Result<bedrock::eventstream::Record, String>> {
    use bedrock::eventstream::Framing;
    let mut framing = EventStreamFraming::with_limit(1 << 16);
    let mut out = Vec::new();
    let mut at = 0;
    for cut in cuts.iter().copied().chain([bytes.len()]) {
        let end = cut.clamp(at, bytes.len());
        framing.push(&bytes[at..end]);
        at = end;
        while let Some(record) = framing.next_record() {
            out.push(record.map_err(|e| e.to_string()));
        }
    }
    framing.end();
    while let Some(record) = framing.next_record() {
        out.push(record.map_err(|e| e.to_string()));
    }
    out
}

proptest! {
    #[test]
    fn any_chunking_gives_the_same_frames(
        texts in proptest::collection::vec(".{0,40}", 1..6),
        mut cuts in proptest::collection::vec(0usize..2000, 0..12),
    ) {
        let events: Vec<(String, serde_json::Value)> = texts
            .iter()
            .map(|t| ("contentBlockDelta".to_owned(), json!({"contentBlockIndex": 0, "delta": {"text": t}})))
            .collect();
        let body: Vec<u8> = events.iter().flat_map(|(n, p)| wire::event_frame(n, p)).collect();
        cuts.sort_unstable();
        let whole = decode(&body, &[]);
        prop_assert_eq!(whole.len(), texts.len());
        prop_assert!(whole.iter().all(Result::is_ok));
        prop_assert_eq!(decode(&body, &cuts), whole);
    }

    #[test]
    fn arbitrary_bytes_never_panic_and_stay_bounded(
        bytes in proptest::collection::vec(any::<u8>(), 0..4096),
        cuts in proptest::collection::vec(0usize..4096, 0..8),
    ) {
        let out = decode(&bytes, &cuts);
        // At most one error, and it is the last record.
        let errors = out.iter().filter(|r| r.is_err()).count();
        prop_assert!(errors <= 1);
        if errors == 1 {
            prop_assert!(out.last().is_some_and(Result::is_err));
        }
    }
}
