//! Plugins that find their own credentials (Bedrock, Azure, Vertex) respect the
//! builder: after `without_env_keys()` they read no credential from the
//! environment or the files it points to; a provider without credentials is
//! listed as unavailable (`list_models`, `models()`) and its calls fail naming
//! what to set, without sending anything. With credentials in the environment
//! the same providers are available and their requests carry them.
//!
//! The tests change the process environment, so they take turns (`ENV`) and
//! each starts from a clean slate.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod bedrock_setup;
#[allow(unused_macros)]
mod scenarios;

use std::sync::{Mutex, MutexGuard, PoisonError};

use elelem::provider::{Configured, EnvAccess, ProviderSettings};
use elelem::{ChatRequest, Elelem, ElelemBuilder, ElelemError, Message};
use elelem_testkit::clouds::google::FakeOAuth;
use elelem_testkit::{bedrock as wire, TestServer};
use serde_json::json;

static ENV: Mutex<()> = Mutex::new(());

/// Every variable these plugins read.
const VARIABLES: &[&str] = &[
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_REGION",
    "AWS_DEFAULT_REGION",
    "AWS_PROFILE",
    "AWS_SHARED_CREDENTIALS_FILE",
    "AWS_CONFIG_FILE",
    "AZURE_OPENAI_ENDPOINT",
    "AZURE_OPENAI_API_KEY",
    "AZURE_OPENAI_AD_TOKEN",
    "AZURE_OPENAI_API_VERSION",
    "GOOGLE_APPLICATION_CREDENTIALS",
    "GOOGLE_CLOUD_PROJECT",
    "GOOGLE_CLOUD_LOCATION",
];

/// Holds the environment for one test: none of [`VARIABLES`] set and `HOME` an
/// empty directory (so no `~/.aws` and no key directory).
struct CleanEnv {
    home: tempfile::TempDir,
    _turn: MutexGuard<'static, ()>,
}

fn clean_env() -> CleanEnv {
    let turn = ENV.lock().unwrap_or_else(PoisonError::into_inner);
    let home = tempfile::tempdir().unwrap();
    for name in VARIABLES {
        std::env::remove_var(name);
    }
    std::env::set_var("HOME", home.path());
    CleanEnv { home, _turn: turn }
}

fn set(pairs: &[(&str, &str)]) {
    for (name, value) in pairs {
        std::env::set_var(name, value);
    }
}

/// Whether `list_models` and `models()` both show `provider` as callable.
fn listed_available(elelem: &Elelem, provider: &str) -> bool {
    let listed: Vec<bool> = elelem
        .list_models()
        .data
        .iter()
        .filter(|m| m.owned_by == provider)
        .map(|m| m.available)
        .collect();
    assert!(!listed.is_empty(), "{provider} has catalogue entries");
    assert!(listed.iter().all(|a| *a == listed[0]));
    let queried = elelem.models().available_only().ids();
    let prefix = format!("{provider}:");
    assert_eq!(
        queried.iter().any(|id| id.starts_with(&prefix)),
        listed[0],
        "models() and list_models() agree for {provider}"
    );
    listed[0]
}

fn ask(model: &str) -> ChatRequest {
    ChatRequest::new(model, vec![Message::user("Say hi.")]).max_tokens(50)
}

/// The reason of a `MissingCredentials` error, failing on anything else.
fn missing_reason(error: &ElelemError, provider: &str) -> String {
    match error {
        ElelemError::MissingCredentials {
            provider: named,
            reason,
        } => {
            assert_eq!(named, provider);
            assert!(!error.is_retryable());
            reason.clone()
        }
        other => panic!("expected MissingCredentials, got {other:?}"),
    }
}

fn bedrock_client(server: &TestServer, builder: ElelemBuilder) -> Elelem {
    builder
        .base_url("bedrock", server.root_url())
        .retry_policy(scenarios::fast_policy())
        .build()
        .unwrap()
}

fn converse_answer() -> elelem_testkit::ScriptedResponse {
    wire::converse_answer(
        json!([{"text": "Hi!"}]),
        "end_turn",
        json!({"inputTokens": 10, "outputTokens": 3, "totalTokens": 13}),
    )
}

#[tokio::test]
async fn bedrock_signs_with_the_environment_credentials_but_not_after_without_env_keys() {
    let _env = clean_env();
    set(&[
        ("AWS_ACCESS_KEY_ID", bedrock_setup::KEY_ID),
        ("AWS_SECRET_ACCESS_KEY", bedrock_setup::SECRET),
        ("AWS_REGION", "us-east-1"),
    ]);
    let server = TestServer::start().await.unwrap();
    server.require_sigv4(Some((bedrock_setup::KEY_ID, bedrock_setup::SECRET)));
    server.push(converse_answer());

    let reading = bedrock_client(&server, Elelem::builder());
    assert!(listed_available(&reading, "bedrock"));
    let answer = reading
        .create_chat_completion(ask(bedrock_setup::MODEL))
        .await
        .unwrap();
    assert_eq!(answer.content(), Some("Hi!"));
    assert_eq!(server.request_count(), 1);

    let closed = bedrock_client(&server, Elelem::builder().without_env_keys());
    assert!(!listed_available(&closed, "bedrock"));
    let error = closed
        .create_chat_completion(ask(bedrock_setup::MODEL))
        .await
        .unwrap_err();
    let reason = missing_reason(&error, "bedrock");
    assert!(
        reason.contains("AWS_ACCESS_KEY_ID") && reason.contains("without_env_keys"),
        "{reason}"
    );
    assert!(!error.to_string().contains(bedrock_setup::SECRET));
    assert_eq!(server.request_count(), 1, "nothing sent");
}

#[tokio::test]
async fn bedrock_does_not_read_the_profile_files_after_without_env_keys() {
    let env = clean_env();
    let aws = env.home.path().join(".aws");
    std::fs::create_dir_all(&aws).unwrap();
    std::fs::write(
        aws.join("credentials"),
        format!(
            "[default]\naws_access_key_id = {}\naws_secret_access_key = {}\n",
            bedrock_setup::KEY_ID,
            bedrock_setup::SECRET
        ),
    )
    .unwrap();
    std::fs::write(aws.join("config"), "[default]\nregion = eu-west-3\n").unwrap();
    let server = TestServer::start().await.unwrap();
    assert!(listed_available(
        &bedrock_client(&server, Elelem::builder()),
        "bedrock"
    ));
    assert!(!listed_available(
        &bedrock_client(&server, Elelem::builder().without_env_keys()),
        "bedrock"
    ));
}

#[tokio::test]
async fn bedrock_without_any_credentials_is_unavailable_and_names_the_variables() {
    let _env = clean_env();
    let server = TestServer::start().await.unwrap();
    let elelem = bedrock_client(&server, Elelem::builder());
    assert!(!listed_available(&elelem, "bedrock"));
    let error = elelem
        .create_chat_completion(ask(bedrock_setup::MODEL))
        .await
        .unwrap_err();
    let reason = missing_reason(&error, "bedrock");
    assert!(
        reason.contains("AWS_ACCESS_KEY_ID") && reason.contains("AWS_SECRET_ACCESS_KEY"),
        "{reason}"
    );
    // Streams are refused the same way.
    let stream = elelem
        .stream_chat_completion(ask(bedrock_setup::MODEL))
        .await;
    assert!(matches!(
        stream.err(),
        Some(ElelemError::MissingCredentials { .. })
    ));
    assert_eq!(server.request_count(), 0);
}

#[tokio::test]
async fn azure_without_an_endpoint_is_unavailable_and_names_the_variable() {
    let _env = clean_env();
    let server = TestServer::start().await.unwrap();
    let elelem = Elelem::builder()
        .without_env_keys()
        .api_key("azure", "azure-SECRET-1")
        .build()
        .unwrap();
    assert!(!listed_available(&elelem, "azure"));
    let error = elelem
        .create_chat_completion(ask("azure:gpt-4o-mini"))
        .await
        .unwrap_err();
    let reason = missing_reason(&error, "azure");
    assert!(reason.contains("AZURE_OPENAI_ENDPOINT"), "{reason}");
    assert!(!format!("{error:?}").contains("azure-SECRET"));

    // The endpoint is a setting: read from the environment even after
    // without_env_keys(), the key given in code.
    set(&[("AZURE_OPENAI_ENDPOINT", &server.root_url())]);
    let elelem = Elelem::builder()
        .without_env_keys()
        .api_key("azure", "azure-SECRET-1")
        .build()
        .unwrap();
    assert!(listed_available(&elelem, "azure"));
}

#[tokio::test]
async fn azure_reads_no_key_or_entra_token_variable_after_without_env_keys() {
    let _env = clean_env();
    set(&[
        ("AZURE_OPENAI_ENDPOINT", "https://acme.openai.azure.com"),
        ("AZURE_OPENAI_API_KEY", "azure-env-SECRET"),
        ("AZURE_OPENAI_AD_TOKEN", "eyJ-env-SECRET"),
    ]);
    assert!(listed_available(
        &Elelem::builder().build().unwrap(),
        "azure"
    ));
    assert!(!listed_available(
        &Elelem::builder().without_env_keys().build().unwrap(),
        "azure"
    ));
    // The plugin's own build, handed the closed environment, finds no token
    // either (the builder's key check aside).
    let settings = ProviderSettings {
        name: "azure".into(),
        base_url: elelem::providers::azure::ENDPOINT_PLACEHOLDER.into(),
        api_key: None,
        api_key_env: Some("AZURE_OPENAI_API_KEY".into()),
        timeout: std::time::Duration::from_secs(5),
        max_response_bytes: 1 << 20,
    };
    let closed =
        elelem::providers::azure::build_with(settings.clone(), EnvAccess::without_credentials())
            .unwrap();
    let Configured::Missing { reason } = closed else {
        panic!("credentials read after without_env_keys");
    };
    assert!(reason.contains("AZURE_OPENAI_AD_TOKEN"), "{reason}");
    let open = elelem::providers::azure::build_with(settings, EnvAccess::process()).unwrap();
    assert!(open.is_ready());
}

#[tokio::test]
async fn vertex_reads_its_key_file_only_from_an_open_environment() {
    let env = clean_env();
    let server = TestServer::start().await.unwrap();
    let oauth = FakeOAuth::serve(&server);
    let key_file = env.home.path().join("service-account.json");
    std::fs::write(&key_file, oauth.key_json("test-project")).unwrap();
    set(&[("GOOGLE_APPLICATION_CREDENTIALS", key_file.to_str().unwrap())]);
    let root = format!("{}/v1", server.root_url());
    let open = Elelem::builder().base_url("vertex", &root).build().unwrap();
    assert!(listed_available(&open, "vertex"));
    let closed = Elelem::builder()
        .without_env_keys()
        .base_url("vertex", &root)
        .build()
        .unwrap();
    assert!(!listed_available(&closed, "vertex"));
    let error = closed
        .create_chat_completion(ask("vertex:gemini-2.5-flash"))
        .await
        .unwrap_err();
    assert!(
        error.to_string().contains("GOOGLE_APPLICATION_CREDENTIALS"),
        "{error}"
    );
    assert_eq!(server.request_count(), 0);
}

#[tokio::test]
async fn vertex_without_a_project_is_unavailable_and_names_the_variable() {
    let _env = clean_env();
    let server = TestServer::start().await.unwrap();
    let oauth = FakeOAuth::serve(&server);
    let mut key: serde_json::Value = serde_json::from_str(&oauth.key_json("p")).unwrap();
    key.as_object_mut().unwrap().remove("project_id");
    let build = || {
        Elelem::builder()
            .without_env_keys()
            .api_key("vertex", key.to_string())
            .base_url("vertex", format!("{}/v1", server.root_url()))
            .build()
            .unwrap()
    };
    let elelem = build();
    assert!(!listed_available(&elelem, "vertex"));
    let error = elelem
        .create_chat_completion(ask("vertex:gemini-2.5-flash"))
        .await
        .unwrap_err();
    let reason = missing_reason(&error, "vertex");
    assert!(reason.contains("GOOGLE_CLOUD_PROJECT"), "{reason}");
    assert!(!reason.contains("PRIVATE KEY"));
    assert_eq!(server.request_count(), 0);

    set(&[("GOOGLE_CLOUD_PROJECT", "test-project")]);
    assert!(listed_available(&build(), "vertex"));
}

#[test]
fn the_closed_environment_still_reads_settings() {
    let _env = clean_env();
    set(&[("AWS_REGION", "eu-west-3")]);
    let closed = EnvAccess::without_credentials();
    assert_eq!(closed.setting("AWS_REGION").as_deref(), Some("eu-west-3"));
    assert_eq!(closed.credential("AWS_REGION"), None);
    assert!(closed.credential("HOME").is_none());
    assert!(EnvAccess::process().credential("HOME").is_some());
}
