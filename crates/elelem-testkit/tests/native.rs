//! The native chat endpoints (Anthropic, Gemini, Ollama) are scripted like
//! `/chat/completions`, and Ollama's `GET /api/tags` lists the models.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use elelem_testkit::{wire, TestServer};
use serde_json::{json, Value};

#[tokio::test]
async fn native_chat_paths_are_served_from_the_script_and_recorded() {
    let server = TestServer::start().await.unwrap();
    let client = reqwest::Client::new();
    server.push_many([
        wire::anthropic_message("claude-haiku-4-5-20251001", "from anthropic"),
        wire::gemini_response("gemini-2.5-flash", "from gemini"),
        wire::ollama_chat("llama3.2", "from ollama"),
        wire::anthropic_overloaded(),
    ]);
    // Each body is one the real API accepts (the server is strict by default).
    let anthropic = json!({"model": "m", "max_tokens": 16, "messages": []});
    let requests = [
        ("/v1/messages", anthropic.clone()),
        (
            "/v1beta/models/gemini-2.5-flash:generateContent",
            json!({"contents": []}),
        ),
        ("/api/chat", json!({"model": "m"})),
        ("/v1/messages", anthropic),
    ];
    let paths = requests.clone().map(|(path, _)| path);
    let mut statuses = Vec::new();
    let mut bodies = Vec::new();
    for (path, body) in requests {
        let response = client
            .post(format!("{}{path}", server.root_url()))
            .json(&body)
            .send()
            .await
            .unwrap();
        statuses.push(response.status().as_u16());
        bodies.push(response.json::<Value>().await.unwrap());
    }
    assert_eq!(statuses, [200, 200, 200, 529]);
    assert_eq!(bodies[0]["content"][0]["text"], "from anthropic");
    assert_eq!(
        bodies[1]["candidates"][0]["content"]["parts"][0]["text"],
        "from gemini"
    );
    assert_eq!(bodies[2]["message"]["content"], "from ollama");
    assert_eq!(bodies[3]["error"]["type"], "overloaded_error");
    let recorded: Vec<String> = server.requests().into_iter().map(|r| r.path).collect();
    assert_eq!(recorded, paths);
}

#[tokio::test]
async fn api_tags_lists_the_models_in_ollama_shape() {
    let server = TestServer::start().await.unwrap();
    server.set_models(["llama3.2:latest", "qwen3:8b"]);
    let body: Value = reqwest::get(format!("{}/api/tags", server.root_url()))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let names: Vec<&str> = body["models"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["llama3.2:latest", "qwen3:8b"]);
    assert_eq!(body["models"][0]["details"]["format"], "gguf");
    // Nothing was taken from the script.
    assert_eq!(server.pending(), 0);
}
