//! Key lookup order: a key given in code, then the environment variable, then the
//! key file `{key_dir}/{provider}`; a missing key names all three places.
//!
//! The provider's environment variable is renamed (through a models file) to one
//! no other test uses, so setting it here cannot disturb anything else.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::path::Path;

use common::*;
use elelem::{Elelem, ElelemError};
use elelem_testkit::wire::Completion;
use elelem_testkit::TestServer;

const ENV_VAR: &str = "ELELEM_TEST_KEY_ORDER_OPENAI_KEY";
const MODEL: &str = "openai:gpt-4.1-mini";

fn client_with(server: &TestServer, key_dir: &Path, in_code: Option<&str>) -> Elelem {
    let mut builder = Elelem::builder()
        .models_toml(
            "test",
            format!("[[providers]]\nname = \"openai\"\napi_key_env = \"{ENV_VAR}\""),
        )
        .base_url("openai", server.url())
        .key_dir(key_dir)
        .retry_policy(fast_policy());
    if let Some(key) = in_code {
        builder = builder.api_key("openai", key);
    }
    builder.build().unwrap()
}

async fn key_sent(elelem: &Elelem, server: &TestServer) -> String {
    elelem
        .create_chat_completion(json_request(MODEL))
        .await
        .unwrap();
    server
        .last_request()
        .unwrap()
        .header("authorization")
        .unwrap()
        .trim_start_matches("Bearer ")
        .to_owned()
}

#[tokio::test]
async fn code_then_environment_then_key_file() {
    let server = TestServer::start().await.unwrap();
    server.set_fallback(Completion::new("gpt-4.1-mini", r#"{"ok": true}"#));
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("openai"), "sk-from-file\n").unwrap();

    std::env::set_var(ENV_VAR, "sk-from-env");
    let all_three = client_with(&server, dir.path(), Some("sk-from-code"));
    assert_eq!(key_sent(&all_three, &server).await, "sk-from-code");
    let env_and_file = client_with(&server, dir.path(), None);
    assert_eq!(key_sent(&env_and_file, &server).await, "sk-from-env");

    std::env::set_var(ENV_VAR, "  ");
    let blank_env = client_with(&server, dir.path(), None);
    assert_eq!(key_sent(&blank_env, &server).await, "sk-from-file");
    std::env::remove_var(ENV_VAR);
    let file_only = client_with(&server, dir.path(), None);
    assert_eq!(key_sent(&file_only, &server).await, "sk-from-file");

    // The key never shows in the client's Debug output.
    let debug = format!("{file_only:?}");
    assert!(!debug.contains("sk-from-file"), "{debug}");

    // Nowhere: the error names the three places, and nothing is sent.
    std::fs::remove_file(dir.path().join("openai")).unwrap();
    let before = server.request_count();
    let nowhere = client_with(&server, dir.path(), None);
    let error = nowhere
        .create_chat_completion(json_request(MODEL))
        .await
        .unwrap_err();
    assert_eq!(
        error,
        ElelemError::MissingApiKey {
            provider: "openai".into(),
            env_var: Some(ENV_VAR.into()),
            key_file: Some(dir.path().join("openai")),
        }
    );
    let text = error.to_string();
    assert!(text.contains(".api_key(\"openai\""), "{text}");
    assert!(text.contains(ENV_VAR), "{text}");
    assert!(
        text.contains(&dir.path().join("openai").display().to_string()),
        "{text}"
    );
    assert_eq!(server.request_count(), before);
}

#[tokio::test]
async fn without_env_keys_skips_the_default_key_directory() {
    let server = TestServer::start().await.unwrap();
    let elelem = Elelem::builder()
        .without_env_keys()
        .base_url("openai", server.url())
        .build()
        .unwrap();
    let error = elelem
        .create_chat_completion(json_request(MODEL))
        .await
        .unwrap_err();
    match &error {
        ElelemError::MissingApiKey { key_file, .. } => assert_eq!(key_file, &None),
        other => panic!("{other:?}"),
    }
    assert!(
        error.to_string().contains("~/.config/elelem/keys/openai"),
        "{error}"
    );
    assert_eq!(server.request_count(), 0);
}
