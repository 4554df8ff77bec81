//! DeepInfra over real HTTP: the `/v1/openai` base path, JSON mode by instructions
//! only (no `response_format` on the wire), and DeepSeek-R1's reasoning, whether in
//! `<think>` blocks or in `reasoning_content`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::*;
use elelem_testkit::wire::Completion;
use elelem_testkit::TestServer;
use serde_json::json;

const R1: &str = "deepinfra:deepseek-ai/DeepSeek-R1-0528";

#[tokio::test]
async fn requests_go_to_the_openai_path_without_response_format() {
    let server = TestServer::start().await.unwrap();
    server.push(Completion::new(
        "meta-llama/Llama-4-Scout-17B-16E-Instruct",
        "Here is the JSON you asked for:\n{\"name\": \"Alice\", \"age\": 30}\nAnything else?",
    ));
    let elelem = client("deepinfra", &server);

    let response = elelem
        .create_chat_completion(
            json_request("deepinfra:meta-llama/Llama-4-Scout-17B-16E-Instruct")
                .temperature(0.5)
                .max_tokens(64),
        )
        .await
        .unwrap();
    assert_eq!(
        response.elelem.json,
        Some(json!({"name": "Alice", "age": 30}))
    );
    assert_eq!(
        response.content(),
        Some("{\"name\": \"Alice\", \"age\": 30}")
    );
    assert_eq!(response.elelem.attempts, 1);

    let request = server.last_request().unwrap();
    assert_eq!(request.path, "/v1/openai/chat/completions");
    assert_eq!(
        request.header("authorization"),
        Some(format!("Bearer {DEEPINFRA_KEY}").as_str())
    );
    let body = body_of(&request);
    assert_eq!(body["model"], "meta-llama/Llama-4-Scout-17B-16E-Instruct");
    assert!(body.get("response_format").is_none(), "{body}");
    assert_eq!(body["temperature"], json!(0.5));
    assert_eq!(body["max_tokens"], 64);
    assert!(body.get("max_completion_tokens").is_none(), "{body}");
    let system = body["messages"][0]["content"].as_str().unwrap();
    assert!(system.starts_with(SYSTEM_PROMPT), "{system}");
    assert!(
        system.contains("Respond with only a valid JSON object"),
        "{system}"
    );

    // The catalogue drops response_format for every DeepInfra model.
    for model in elelem
        .catalogue()
        .models()
        .filter(|m| m.provider == "deepinfra")
    {
        assert!(!model.capabilities.json_mode, "{}", model.id);
        assert!(!model.capabilities.json_schema, "{}", model.id);
    }
}

#[tokio::test]
async fn deepseek_r1_think_blocks_become_reasoning_and_the_content_is_the_json() {
    let server = TestServer::start().await.unwrap();
    server.push(
        Completion::new(
            "deepseek-ai/DeepSeek-R1-0528",
            "<think>\nThe user gives a name and an age. I will output JSON.\n</think>\n\n\
             ```json\n{\"name\": \"Alice\", \"age\": 30}\n```",
        )
        .usage(1_000, 400)
        .cached(600),
    );
    let elelem = client("deepinfra", &server);

    let response = elelem
        .create_chat_completion(json_request(R1).json_schema(json!({
            "type": "object",
            "properties": {"name": {"type": "string"}, "age": {"type": "integer"}},
            "required": ["name", "age"]
        })))
        .await
        .unwrap();
    assert_eq!(
        response.content(),
        Some("{\"name\": \"Alice\", \"age\": 30}")
    );
    assert_eq!(
        response.elelem.reasoning.as_deref(),
        Some("The user gives a name and an age. I will output JSON.")
    );
    assert_eq!(
        response.elelem.json,
        Some(json!({"name": "Alice", "age": 30}))
    );
    // 400 x 0.50 + 600 x 0.40 + 400 x 2.15 = 200 + 240 + 860 = 1300 micro-dollars.
    assert_eq!(response.elelem.cost, usd("0.0013"));

    let body = body_of(&server.last_request().unwrap());
    assert_eq!(body["model"], "deepseek-ai/DeepSeek-R1-0528");
    assert!(body.get("response_format").is_none(), "{body}");
    let system = body["messages"][0]["content"].as_str().unwrap();
    assert!(
        system.contains("The JSON must conform to this JSON schema"),
        "{system}"
    );
}

#[tokio::test]
async fn deepseek_r1_without_the_opening_tag_is_split_too() {
    let server = TestServer::start().await.unwrap();
    server.push(Completion::new(
        "deepseek-ai/DeepSeek-R1-0528",
        "Okay, JSON with ok true.\n</think>\n{\"ok\": true}",
    ));
    let elelem = client("deepinfra", &server);
    let response = elelem
        .create_chat_completion(json_request(R1))
        .await
        .unwrap();
    assert_eq!(response.content(), Some("{\"ok\": true}"));
    assert_eq!(
        response.elelem.reasoning.as_deref(),
        Some("Okay, JSON with ok true.")
    );
}

#[tokio::test]
async fn reasoning_content_is_exposed_as_reasoning() {
    let server = TestServer::start().await.unwrap();
    server.push(
        Completion::new("deepseek-ai/DeepSeek-R1-0528", "{\"answer\": 42}")
            .message_field("reasoning_content", json!("Six times seven is 42.")),
    );
    let elelem = client("deepinfra", &server);

    let response = elelem
        .create_chat_completion(json_request(R1))
        .await
        .unwrap();
    assert_eq!(response.content(), Some("{\"answer\": 42}"));
    assert_eq!(
        response.elelem.reasoning.as_deref(),
        Some("Six times seven is 42.")
    );
    assert_eq!(response.elelem.json, Some(json!({"answer": 42})));
    // The vendor field is kept on the message as sent.
    assert_eq!(
        response.choices[0].message.extra["reasoning_content"],
        "Six times seven is 42."
    );
}

#[tokio::test]
async fn text_mode_strips_think_blocks_too() {
    let server = TestServer::start().await.unwrap();
    server.push(Completion::new(
        "deepseek-ai/DeepSeek-R1-0528",
        "<think>Say hello.</think>\nHello!",
    ));
    let elelem = client("deepinfra", &server);
    let response = elelem
        .create_chat_completion(text_request(R1))
        .await
        .unwrap();
    assert_eq!(response.content(), Some("Hello!"));
    assert_eq!(response.elelem.reasoning.as_deref(), Some("Say hello."));
    assert_eq!(response.elelem.json, None);
    let body = body_of(&server.last_request().unwrap());
    assert_eq!(
        body["messages"],
        json!([{"role": "user", "content": USER_PROMPT}])
    );
}
