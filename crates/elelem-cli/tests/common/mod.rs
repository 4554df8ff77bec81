//! Shared by the program's tests: a gateway in-process (or a config for the
//! binary) with its providers pointed at testkit servers, and fake keys only.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};

use elelem_cli::config::Config;
use elelem_cli::gateway::{self, sha256_hex, Gateway, Running};
use elelem_testkit::TestServer;
use serde_json::{json, Value};

/// The fake provider key the gateway holds; it must never reach a client.
pub const PROVIDER_KEY: &str = "sk-test-PROVIDER-SECRET-42";
/// A gateway key allowed every model.
pub const OPEN_KEY: &str = "gw-open-key";
/// A gateway key allowed only `openai:gpt-4.1`, 2 requests a minute.
pub const NARROW_KEY: &str = "gw-narrow-key";
/// A gateway key with a one-micro-dollar budget.
pub const POOR_KEY: &str = "gw-poor-key";

/// A temporary directory with the provider key file and a config.
pub struct Setup {
    pub dir: tempfile::TempDir,
    pub server: TestServer,
}

impl Setup {
    pub async fn new() -> Setup {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("openai.key"), format!("{PROVIDER_KEY}\n")).unwrap();
        Setup {
            dir,
            server: TestServer::start().await.unwrap(),
        }
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// The test configuration, with `extra` TOML appended.
    pub fn config_text(&self, extra: &str) -> String {
        format!(
            r#"
[gateway]
listen = "127.0.0.1:0"
ambient_keys = false
max_body_bytes = 20000
shutdown_grace_secs = 2
client_timeout_secs = 2

[providers.openai]
api_key_file = "openai.key"
base_url = "{url}"

[[virtual_models]]
id = "virtual:cheap"
candidates = [{{ model = "openai:gpt-4.1", timeout_secs = 5 }}, {{ model = "openai:gpt-4.1-mini" }}]

[[keys]]
name = "open"
sha256 = "{open}"
tags = ["team-open"]

[[keys]]
name = "narrow"
sha256 = "{narrow}"
models = ["openai:gpt-4.1"]
requests_per_minute = 2

[[keys]]
name = "poor"
sha256 = "{poor}"
budget_usd = "0.000001"
{extra}
"#,
            url = self.server.url(),
            open = sha256_hex(OPEN_KEY),
            narrow = sha256_hex(NARROW_KEY),
            poor = sha256_hex(POOR_KEY),
        )
    }

    /// Writes the config file and returns its path.
    pub fn write_config(&self, extra: &str) -> PathBuf {
        let path = self.path("elelem.toml");
        std::fs::write(&path, self.config_text(extra)).unwrap();
        path
    }

    /// A gateway on 127.0.0.1:0 reading the config file written with `extra`.
    pub async fn start(&self, extra: &str) -> Running {
        let path = self.write_config(extra);
        let config = Config::load(&path).unwrap();
        let gateway = Gateway::new(config, Some(path)).unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        gateway::start(gateway, listener)
    }
}

/// A chat body with one user message.
pub fn chat_body(model: &str) -> Value {
    json!({"model": model, "messages": [{"role": "user", "content": "Say hi"}]})
}

/// POSTs `body` to `path` of the gateway with a gateway key.
pub async fn post(
    running: &Running,
    path: &str,
    key: Option<&str>,
    body: &Value,
) -> reqwest::Response {
    let mut request = reqwest::Client::new()
        .post(format!("http://{}{path}", running.addr))
        .json(body);
    if let Some(key) = key {
        request = request.bearer_auth(key);
    }
    request.send().await.unwrap()
}

/// POSTs a one-message chat body for `model` to `/v1/chat/completions`.
pub async fn post_chat(running: &Running, key: Option<&str>, model: &str) -> reqwest::Response {
    post(running, "/v1/chat/completions", key, &chat_body(model)).await
}

/// GETs `path` of the gateway.
pub async fn get(running: &Running, path: &str, key: Option<&str>) -> reqwest::Response {
    let mut request = reqwest::Client::new().get(format!("http://{}{path}", running.addr));
    if let Some(key) = key {
        request = request.bearer_auth(key);
    }
    request.send().await.unwrap()
}

/// Asserts an OpenAI-shaped error with this status and code.
pub async fn assert_error(response: reqwest::Response, status: u16, code: &str) -> Value {
    assert_eq!(response.status().as_u16(), status);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], code, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty()),
        "{body}"
    );
    assert!(
        body["error"].get("type").is_some() && body["error"].get("param").is_some(),
        "{body}"
    );
    body
}

/// Whether a path exists.
pub fn exists(path: &Path) -> bool {
    path.exists()
}
