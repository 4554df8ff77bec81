//! `POST /v1/embeddings` through the gateway over real HTTP: OpenAI's shape
//! (floats, or base64 as the OpenAI SDKs ask), cost and stats by the key's and
//! the body's tags, key model limits, and bad bodies.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::*;
use elelem_testkit::wire;
use serde_json::{json, Value};

const SMALL: &str = "openai:text-embedding-3-small";
const UPSTREAM: &str = "text-embedding-3-small";

#[tokio::test]
async fn embeddings_are_answered_in_openais_shape_and_billed_by_tag() {
    let setup = Setup::new().await;
    setup.server.push_many([
        wire::openai_embeddings(UPSTREAM, &wire::embedding_vectors(0, 2, 2), 1_000),
        wire::openai_embeddings(UPSTREAM, &wire::embedding_vectors(0, 1, 2), 500),
    ]);
    let running = setup.start("").await;

    let body = json!({"model": SMALL, "input": ["a", "b"], "tags": ["vectors"]});
    let response = post(&running, "/v1/embeddings", Some(OPEN_KEY), &body).await;
    assert_eq!(response.status(), 200);
    let text = response.text().await.unwrap();
    assert!(!text.contains(PROVIDER_KEY));
    let answer: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(answer["object"], "list");
    assert_eq!(answer["data"][1]["index"], 1);
    assert_eq!(answer["data"][1]["embedding"], json!([1.0, 0.5]));
    assert_eq!(
        answer["usage"],
        json!({"prompt_tokens": 1_000, "total_tokens": 1_000})
    );
    // 1000 tokens at $0.02 per million.
    assert_eq!(answer["elelem"]["cost_usd"], json!(0.00002));
    let upstream = setup.server.last_request().unwrap();
    assert!(upstream.path.ends_with("/embeddings"), "{}", upstream.path);
    assert_eq!(
        upstream.json().unwrap(),
        json!({"model": UPSTREAM, "input": ["a", "b"]})
    );

    // The OpenAI SDKs ask for base64 and decode it themselves.
    let body = json!({"model": SMALL, "input": "c", "encoding_format": "base64"});
    let answer: Value = post(&running, "/v1/embeddings", Some(OPEN_KEY), &body)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        answer["data"][0]["embedding"],
        json!(elelem::embedding_to_base64(&[0.0, 0.5]))
    );

    for (tag, calls) in [("vectors", 1), ("team-open", 2)] {
        let stats: Value = get(&running, &format!("/v1/stats?tag={tag}"), Some(OPEN_KEY))
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(stats["total_calls"], calls, "{tag}: {stats}");
        assert_eq!(stats["total_output_tokens"], 0, "{tag}: {stats}");
    }
    running.shutdown().await;
}

#[tokio::test]
async fn keys_limit_models_and_bad_bodies_are_400s() {
    let setup = Setup::new().await;
    let running = setup.start("").await;
    let body = json!({"model": SMALL, "input": "x"});
    assert_error(
        post(&running, "/v1/embeddings", Some(NARROW_KEY), &body).await,
        403,
        "model_not_allowed",
    )
    .await;
    let response = post(
        &running,
        "/v1/embeddings",
        Some(OPEN_KEY),
        &json!({"model": SMALL}),
    )
    .await;
    assert_eq!(response.status(), 400);
    let chat_model = json!({"model": "openai:gpt-4.1-mini", "input": "x"});
    let response = post(&running, "/v1/embeddings", Some(OPEN_KEY), &chat_model).await;
    assert_eq!(response.status(), 400);
    assert_eq!(setup.server.request_count(), 0);
    running.shutdown().await;
}
