//! `POST /v1/responses` through the gateway, plain and streamed, over real HTTP.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::*;
use elelem_testkit::wire::ResponseBody;
use serde_json::{json, Value};

const MINI: &str = "openai:gpt-4.1-mini";

#[tokio::test]
async fn a_plain_response_is_the_response_object_with_the_elelem_object() {
    let setup = Setup::new().await;
    setup.server.push(
        ResponseBody::new("gpt-4.1-mini", "{\"colour\": \"blue\"}")
            .usage(1000, 500)
            .cached(400)
            .into_response(),
    );
    let running = setup.start("").await;
    let body = json!({
        "model": MINI,
        "input": "Pick a colour",
        "instructions": "JSON only.",
        "text": {"format": {"type": "json_schema", "name": "c", "schema": {"type": "object", "required": ["colour"]}, "strict": true}, "verbosity": "low"},
        "tags": ["docs"]
    });
    let response = post(&running, "/v1/responses", Some(OPEN_KEY), &body).await;
    assert_eq!(response.status(), 200);
    let answer: Value = response.json().await.unwrap();
    assert_eq!(answer["object"], "response");
    assert_eq!(
        answer["output"][0]["content"][0]["text"],
        "{\"colour\": \"blue\"}"
    );
    // 600 in at $0.40/M, 400 cached at $0.10/M, 500 out at $1.60/M.
    assert_eq!(answer["elelem"]["cost_usd"], json!(0.00108));
    assert_eq!(answer["elelem"]["answered_by"], MINI);

    let upstream = setup.server.last_request().unwrap();
    assert_eq!(upstream.path, "/v1/responses");
    let sent = upstream.json().unwrap();
    assert_eq!(sent["text"]["verbosity"], "low");
    assert_eq!(sent["text"]["format"]["name"], "c");
    assert!(sent.get("tags").is_none());

    let stats: Value = get(&running, "/v1/stats?tag=docs", Some(OPEN_KEY))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(stats["total_cost_usd"], json!(0.00108));
    running.shutdown().await;
}

#[tokio::test]
async fn a_streamed_response_is_forwarded_as_named_events() {
    let setup = Setup::new().await;
    setup.server.push(
        ResponseBody::new("gpt-4.1-mini", "Deep sky blue")
            .usage(1000, 500)
            .cached(400)
            .into_stream_response(),
    );
    let running = setup.start("").await;
    let body = json!({"model": MINI, "input": "Pick a colour", "stream": true});
    let response = post(&running, "/v1/responses", Some(OPEN_KEY), &body).await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "text/event-stream");
    let text = response.text().await.unwrap();
    let events: Vec<(&str, Value)> = text
        .split("\n\n")
        .filter(|e| !e.is_empty())
        .map(|e| {
            let (name, data) = e.split_once('\n').unwrap();
            let name = name.strip_prefix("event: ").unwrap();
            let data = serde_json::from_str(data.strip_prefix("data: ").unwrap()).unwrap();
            (name, data)
        })
        .collect();
    assert_eq!(events[0].0, "response.created");
    let deltas: String = events
        .iter()
        .filter(|(name, _)| *name == "response.output_text.delta")
        .map(|(_, data)| data["delta"].as_str().unwrap())
        .collect();
    assert_eq!(deltas, "Deep sky blue");
    let (last, data) = events.last().unwrap();
    assert_eq!(*last, "response.completed");
    assert_eq!(data["type"], "response.completed");
    assert_eq!(data["response"]["elelem"]["cost_usd"], json!(0.00108));
    assert!(events.iter().all(|(name, data)| data["type"] == *name));
    running.shutdown().await;
}

#[tokio::test]
async fn a_model_without_the_responses_api_is_a_400() {
    let setup = Setup::new().await;
    let running = setup.start("").await;
    // o1-mini's catalogue entry has no `responses = true`.
    let body = json!({"model": "openai:o1-mini", "input": "Hi"});
    let response = post(&running, "/v1/responses", Some(OPEN_KEY), &body).await;
    assert_eq!(response.status(), 400);
    let error: Value = response.json().await.unwrap();
    assert_eq!(error["error"]["param"], "model");
    assert!(
        error["error"]["message"]
            .as_str()
            .unwrap()
            .contains("Responses API"),
        "{error}"
    );
    assert_eq!(setup.server.request_count(), 0);
    let response = post(
        &running,
        "/v1/responses",
        Some(OPEN_KEY),
        &json!({"input": "Hi"}),
    )
    .await;
    assert_eq!(response.status(), 400);
    running.shutdown().await;
}
