//! The rest of the chat surface through real HTTP: images, tools, reasoning in
//! its three forms, reasoning_effort, legacy completions and live model lists.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::client;
use elelem::{
    function_tool, image_data_url, ChatRequest, CompletionRequest, ElelemError, Message,
    ResponseFormat, Usd,
};
use elelem_testkit::{wire, ScriptedResponse, TestServer};
use serde_json::json;

#[tokio::test]
async fn images_go_as_content_parts_and_non_vision_models_refuse_them_before_any_call() {
    let server = TestServer::start().await.unwrap();
    server.push(wire::completion("gpt-4.1-mini", "A cat."));
    let elelem = client("openai", &server);
    let url = image_data_url(b"\x89PNG fake", "image/png");
    let request = ChatRequest::new(
        "openai:gpt-4.1-mini",
        vec![Message::user_with_images("What is it?", &[&url])],
    );
    let response = elelem.create_chat_completion(request).await.unwrap();
    assert_eq!(response.content(), Some("A cat."));
    let body = server.last_request().unwrap().json().unwrap();
    assert_eq!(
        body["messages"][0]["content"][0],
        json!({"type": "text", "text": "What is it?"})
    );
    assert_eq!(
        body["messages"][0]["content"][1]["image_url"]["url"],
        url.as_str()
    );
    assert!(url.starts_with("data:image/png;base64,"));

    let blind = ChatRequest::new(
        "openai:o3-mini",
        vec![Message::user_with_images("What is it?", &[&url])],
    );
    let error = elelem.create_chat_completion(blind).await.unwrap_err();
    assert!(
        matches!(error, ElelemError::InvalidRequest { .. }),
        "{error:?}"
    );
    assert!(
        error.to_string().contains("does not accept images"),
        "{error}"
    );
    assert_eq!(server.request_count(), 1);
}

#[tokio::test]
async fn a_tool_call_round_trip() {
    let server = TestServer::start().await.unwrap();
    let call = json!([{"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": "{\"city\":\"Paris\"}"}}]);
    server.push(
        wire::Completion::new("gpt-4.1-mini", "")
            .message_field("content", serde_json::Value::Null)
            .message_field("tool_calls", call)
            .finish_reason("tool_calls")
            .into_response(),
    );
    server.push(wire::completion(
        "gpt-4.1-mini",
        "{\"summary\": \"21 C in Paris\"}",
    ));
    let elelem = client("openai", &server);
    let tools = vec![function_tool(
        "get_weather",
        "Weather of a city",
        json!({"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}),
    )];
    let ask = ChatRequest::new(
        "openai:gpt-4.1-mini",
        vec![Message::user("Weather in Paris?")],
    )
    .response_format(ResponseFormat::JsonObject)
    .extra("tools", json!(tools))
    .extra("tool_choice", "auto")
    .extra("parallel_tool_calls", false);
    let first = elelem.create_chat_completion(ask.clone()).await.unwrap();
    assert_eq!(
        first.elelem.attempts, 1,
        "a tool call is not a JSON failure"
    );
    let calls = first.tool_calls();
    assert_eq!(calls.len(), 1);
    assert_eq!(calls[0].function.name, "get_weather");
    assert_eq!(calls[0].arguments_json().unwrap(), json!({"city": "Paris"}));
    let sent = server.last_request().unwrap().json().unwrap();
    assert_eq!(sent["tools"][0]["function"]["name"], "get_weather");
    assert_eq!(
        (
            sent["tool_choice"].clone(),
            sent["parallel_tool_calls"].clone()
        ),
        (json!("auto"), json!(false))
    );

    let mut messages = ask.messages.clone();
    messages.push(Message::assistant_tool_calls(&calls));
    messages.push(Message::tool("call_1", "{\"temp_c\": 21}"));
    let second = elelem
        .create_chat_completion(
            ChatRequest::new("openai:gpt-4.1-mini", messages)
                .response_format(ResponseFormat::JsonObject),
        )
        .await
        .unwrap();
    assert_eq!(
        second.elelem.json,
        Some(json!({"summary": "21 C in Paris"}))
    );
    let sent = server.last_request().unwrap().json().unwrap();
    let sent_messages = sent["messages"].as_array().unwrap();
    let n = sent_messages.len();
    assert_eq!(sent_messages[n - 2]["tool_calls"][0]["id"], "call_1");
    assert_eq!(
        sent_messages[n - 1],
        json!({"role": "tool", "content": "{\"temp_c\": 21}", "tool_call_id": "call_1"})
    );
}

#[tokio::test]
async fn reasoning_is_exposed_in_each_of_its_three_forms_and_billed_at_the_output_price() {
    let server = TestServer::start().await.unwrap();
    // 1. <think> in the content (DeepSeek-R1 on DeepInfra).
    server.push(
        wire::Completion::new(
            "deepseek-ai/DeepSeek-R1-0528",
            "<think>six sevens</think>42",
        )
        .usage(10, 100)
        .reasoning(60),
    );
    let deepinfra = client("deepinfra", &server);
    let r1 = deepinfra
        .create_chat_completion(
            ChatRequest::new(
                "deepinfra:deepseek-ai/DeepSeek-R1-0528",
                vec![Message::user("6x7")],
            )
            .tags(["r"]),
        )
        .await
        .unwrap();
    assert_eq!(r1.answer_and_reasoning(), (Some("42"), Some("six sevens")));
    let stats = deepinfra.get_stats_by_tag("r");
    assert_eq!(stats.reasoning_tokens, 60);
    // DeepSeek-R1-0528: $2.15 per 1M output tokens; reasoning is part of output.
    assert_eq!(stats.reasoning_cost_usd, "0.000129".parse::<Usd>().unwrap());
    assert_eq!(
        stats.total_output_cost_usd,
        "0.000215".parse::<Usd>().unwrap()
    );

    // 2. reasoning_content (DeepSeek style) and 3. reasoning (GROQ parsed format).
    let server = TestServer::start().await.unwrap();
    server.push(
        wire::Completion::new("openai/gpt-oss-20b", "42")
            .message_field("reasoning_content", json!("by table"))
            .groq(),
    );
    server.push(
        wire::Completion::new("openai/gpt-oss-20b", "42")
            .message_field("reasoning", json!("by counting"))
            .groq(),
    );
    let groq = client("groq", &server);
    let request = ChatRequest::new("groq:openai/gpt-oss-20b", vec![Message::user("6x7")])
        .extra("reasoning_format", "parsed");
    let a = groq.create_chat_completion(request.clone()).await.unwrap();
    let b = groq.create_chat_completion(request).await.unwrap();
    assert_eq!(a.answer_and_reasoning(), (Some("42"), Some("by table")));
    assert_eq!(b.answer_and_reasoning(), (Some("42"), Some("by counting")));
    assert_eq!(
        server.last_request().unwrap().json().unwrap()["reasoning_format"],
        "parsed"
    );
}

#[tokio::test]
async fn reasoning_effort_passes_for_models_that_take_it_and_is_removed_elsewhere() {
    let server = TestServer::start().await.unwrap();
    server.push(wire::completion("gpt-5", "ok"));
    server.push(wire::completion("gpt-4.1-mini", "ok"));
    let elelem = client("openai", &server);
    for model in ["openai:gpt-5", "openai:gpt-4.1-mini"] {
        elelem
            .create_chat_completion(
                ChatRequest::new(model, vec![Message::user("hi")]).extra("reasoning_effort", "low"),
            )
            .await
            .unwrap();
    }
    let requests = server.requests();
    assert_eq!(requests[0].json().unwrap()["reasoning_effort"], "low");
    assert!(requests[1]
        .json()
        .unwrap()
        .get("reasoning_effort")
        .is_none());
}

#[tokio::test]
async fn legacy_completions_retry_and_are_billed() {
    let server = TestServer::start().await.unwrap();
    server.push(wire::rate_limited_ms(10));
    server.push(ScriptedResponse::json(
        200,
        json!({
            "id": "cmpl-1", "object": "text_completion", "created": 1, "model": "gpt-4.1-mini",
            "choices": [{"text": " there!", "index": 0, "logprobs": null, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 1000, "completion_tokens": 1000, "total_tokens": 2000}
        }),
    ));
    let elelem = client("openai", &server);
    let done = elelem
        .create_completion(
            CompletionRequest::new("openai:gpt-4.1-mini", "Hello")
                .max_tokens(5)
                .tags(["legacy"]),
        )
        .await
        .unwrap();
    assert_eq!(done.choices[0].text, " there!");
    assert_eq!(done.elelem.attempts, 2);
    let request = server.last_request().unwrap();
    assert!(
        request.path.ends_with("/v1/completions") && !request.path.ends_with("chat/completions"),
        "{}",
        request.path
    );
    let body = request.json().unwrap();
    assert_eq!(
        (body["prompt"].clone(), body["max_tokens"].clone()),
        (json!("Hello"), json!(5))
    );
    let stats = elelem.get_stats_by_tag("legacy");
    assert_eq!(stats.total_calls, 1);
    assert_eq!(stats.retry_analytics.rate_limit_retries, 1);
    // gpt-4.1-mini: $0.40 + $1.60 per 1M.
    assert_eq!(stats.total_cost_usd, "0.002".parse::<Usd>().unwrap());
    assert_eq!(done.elelem.cost, "0.002".parse::<Usd>().unwrap());
}

#[tokio::test]
async fn live_model_lists_merge_served_models_with_the_catalogue() {
    let server = TestServer::start().await.unwrap();
    server.set_models(vec!["gpt-4.1-mini", "my-fine-tune"]);
    let elelem = client("openai", &server);
    let list = elelem.list_models_live().await;
    let ids: Vec<&str> = list.data.iter().map(|m| m.id.as_str()).collect();
    assert!(ids.contains(&"openai:my-fine-tune"), "{ids:?}");
    assert!(
        ids.contains(&"openai:gpt-4.1"),
        "catalogue entries stay: {ids:?}"
    );
    assert_eq!(
        ids.iter()
            .filter(|id| **id == "openai:gpt-4.1-mini")
            .count(),
        1,
        "no duplicates"
    );
    let mut sorted = ids.clone();
    sorted.sort_unstable();
    assert_eq!(ids, sorted);
    assert!(server
        .requests()
        .iter()
        .any(|r| r.method == "GET" && r.path.ends_with("/models")));
}
