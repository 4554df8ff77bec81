//! What the Bedrock test files share: the credentials, a server checking
//! signatures, a client signing with a given secret, and the one question asked.

#![allow(dead_code, clippy::unwrap_used)]

use std::sync::Arc;
use std::time::Duration;

use elelem::provider::{Provider, ProviderSettings};
use elelem::providers::bedrock::{self, AwsConfig, Credentials, CredentialsError};
use elelem::{ChatRequest, Elelem, Message};
use elelem_testkit::TestServer;

use crate::scenarios::fast_policy;

pub const KEY_ID: &str = "AKIDBEDROCKTEST";
pub const SECRET: &str = "bedrock-SECRET-wJalrXUtnFEMI";
pub const TOKEN: &str = "session-TOKEN-123";
/// Claude 3.5 Haiku: $0.80 in, $4.00 out, $0.08 cache read, $1.00 cache write.
pub const MODEL: &str = "bedrock:anthropic.claude-3-5-haiku-20241022-v1:0";
pub const PATH: &str = "/model/anthropic.claude-3-5-haiku-20241022-v1%3A0/converse";

pub fn settings(server: &TestServer) -> ProviderSettings {
    ProviderSettings {
        name: "bedrock".into(),
        base_url: server.root_url(),
        api_key: None,
        api_key_env: None,
        timeout: Duration::from_secs(10),
        max_response_bytes: 1 << 20,
    }
}

pub fn config(secret: &str) -> Result<AwsConfig, CredentialsError> {
    Ok(AwsConfig {
        credentials: Credentials::new(KEY_ID, secret, Some(TOKEN.into())),
        region: "us-east-1".into(),
    })
}

pub fn client_with(server: &TestServer, config: Result<AwsConfig, CredentialsError>) -> Elelem {
    let provider: Arc<dyn Provider> = bedrock::provider(settings(server), config).unwrap();
    Elelem::builder()
        .without_env_keys()
        .provider("bedrock", provider)
        .retry_policy(fast_policy())
        .build()
        .unwrap()
}

/// A server checking signatures, and a client signing with the right secret.
pub async fn signed() -> (TestServer, Elelem) {
    let server = TestServer::start().await.unwrap();
    server.require_sigv4(Some((KEY_ID, SECRET)));
    let elelem = client_with(&server, config(SECRET));
    (server, elelem)
}

pub fn ask() -> ChatRequest {
    ChatRequest::new(
        MODEL,
        vec![Message::system("Be brief."), Message::user("Say hi.")],
    )
    .temperature(0.5)
    .max_tokens(200)
}

/// The streamed answer to [`ask`], collected.
pub async fn collected(elelem: &Elelem) -> elelem::ChatCompletion {
    let stream = elelem.stream_chat_completion(ask()).await.unwrap();
    stream.collect_completion().await.unwrap()
}
