//! The provider's fallback model is resolved once per provider and kept: a call to
//! the fallback model itself (which gets no fallback) does not stop a later call to
//! another model of the provider from falling back to it.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::*;
use elelem_testkit::wire::Completion;
use elelem_testkit::TestServer;

const MODEL: &str = "groq:openai/gpt-oss-20b";
const FALLBACK: &str = "groq:openai/gpt-oss-120b";

#[tokio::test]
async fn a_call_to_the_fallback_itself_leaves_the_fallback_to_the_next_call() {
    let server = TestServer::start().await.unwrap();
    let elelem = client("groq", &server);

    // The fallback model asked directly: it answers, with no fallback of its own.
    server.push(Completion::new("openai/gpt-oss-120b", r#"{"ok": true}"#).groq());
    let first = elelem
        .create_chat_completion(json_request(FALLBACK))
        .await
        .unwrap();
    assert_eq!(first.elelem.answered_by, FALLBACK);
    assert_eq!(first.elelem.attempts, 1);

    // The other model's JSON ladder fails, then its provider's fallback answers.
    for _ in 0..5 {
        server.push(Completion::new("openai/gpt-oss-20b", "Sure! Alice, 30.").groq());
    }
    server.push(Completion::new("openai/gpt-oss-120b", r#"{"ok": true}"#).groq());
    let second = elelem
        .create_chat_completion(json_request(MODEL).temperature(1.0))
        .await
        .unwrap();
    assert_eq!(second.elelem.answered_by, FALLBACK);
    assert_eq!(second.elelem.attempts, 6);
    assert_eq!(
        body_of(&server.last_request().unwrap())["model"],
        "openai/gpt-oss-120b"
    );
    assert_eq!(elelem.get_stats().retry_analytics.fallback_model_usage, 1);
}
