//! AWS Bedrock's secrets never reach logs, errors or `Debug`, the SigV4 signer's own
//! trace events included.
//!
//! This test is alone in its binary on purpose. `tracing` decides once per call site
//! whether anyone listens, and a call site first reached by another test's thread
//! while this test installs its subscriber can be cached as "never": the signer's
//! events were then silently dropped and the test failed in CI. With no other test
//! running beside it, every call site is registered after the subscriber.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod bedrock_setup;
#[allow(unused_macros)]
mod scenarios;

use std::sync::Arc;

use bedrock_setup::*;
use elelem_testkit::bedrock as wire;

#[tokio::test]
async fn the_secret_and_session_token_never_reach_logs_errors_or_records() {
    // Every event at every level, the signer's own traces included, to a file.
    let log = tempfile::NamedTempFile::new().unwrap();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .with_writer(Arc::new(log.reopen().unwrap()))
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let (server, elelem) = signed().await;
    server.push_many([
        wire::converse("fine", 5, 1),
        wire::converse_stream(&wire::text_events("fine", 5, 1)),
    ]);
    elelem.create_chat_completion(ask()).await.unwrap();
    collected(&elelem).await;
    let wrong = client_with(&server, config("wrong-SECRET-value"));
    let error = wrong.create_chat_completion(ask()).await.unwrap_err();

    let logged = std::fs::read_to_string(log.path()).unwrap();
    assert!(
        logged.contains("signing request"),
        "the signer's traces were not captured"
    );
    for secret in [SECRET, TOKEN, "wrong-SECRET-value"] {
        assert!(!logged.contains(secret), "{secret} logged");
        assert!(!error.to_string().contains(secret) && !format!("{error:?}").contains(secret));
        assert!(!format!("{elelem:?}").contains(secret) && !format!("{wrong:?}").contains(secret));
    }
}
