//! GROQ over real HTTP: `json_validate_failed` goes through the JSON ladder, the
//! provider's default parameters are sent, vendor fields survive, rate limits honour
//! `retry-after-ms`, and per-tag stats are exact.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::time::{Duration, Instant};

use common::*;
use elelem::provider::ProviderErrorKind;
use elelem::{ElelemError, Stats};
use elelem_testkit::wire::{self, Completion};
use elelem_testkit::{ScriptedResponse, TestServer};
use serde_json::json;

const MODEL: &str = "groq:openai/gpt-oss-20b";

fn good_answer() -> ScriptedResponse {
    Completion::new("openai/gpt-oss-20b", r#"{"ok": true}"#)
        .groq()
        .into_response()
}

#[tokio::test]
async fn json_validate_failed_is_retried_with_a_lower_temperature_and_the_failed_generation() {
    let server = TestServer::start().await.unwrap();
    let failed = r#"{"name": "Alice", "age": thirty}"#;
    server.push_many([
        wire::groq_json_validate_failed(failed),
        Completion::new("openai/gpt-oss-20b", r#"{"name": "Alice", "age": 30}"#)
            .groq()
            .into_response(),
    ]);
    let elelem = client("groq", &server);

    let response = elelem
        .create_chat_completion(json_request(MODEL).temperature(1.0).tags(["extract"]))
        .await
        .unwrap();
    assert_eq!(response.elelem.attempts, 2);
    assert_eq!(response.elelem.answered_by, MODEL);
    assert_eq!(
        response.elelem.json,
        Some(json!({"name": "Alice", "age": 30}))
    );

    let stats = elelem.get_stats();
    let retries = &stats.retry_analytics;
    assert_eq!(retries.api_json_validation_retries, 1);
    assert_eq!(retries.temperature_reductions, 1);
    assert_eq!(retries.json_parse_retries, 0);
    assert_eq!(retries.response_format_removals, 0);
    assert_eq!(retries.fallback_model_usage, 0);
    assert_eq!(retries.final_failures, 0);
    assert_eq!(retries.total_retries, 1);
    assert_eq!(stats.total_calls, 1);
    assert_eq!(elelem.get_stats_by_tag("extract"), stats);

    let bodies = bodies(&server);
    assert_eq!(bodies.len(), 2);
    assert_close(temperature_of(&bodies[0]).unwrap(), 1.0);
    assert_close(temperature_of(&bodies[1]).unwrap(), 0.9);
    for body in &bodies {
        assert_eq!(body["model"], "openai/gpt-oss-20b");
        assert_eq!(body["response_format"], json!({"type": "json_object"}));
    }
    let first = bodies[0]["messages"].as_array().unwrap();
    let second = bodies[1]["messages"].as_array().unwrap();
    assert_eq!(first.len(), 2);
    assert_eq!(second.len(), 4);
    assert_eq!(&second[..2], &first[..]);
    assert_eq!(second[2], json!({"role": "assistant", "content": failed}));
    assert_eq!(second[3]["role"], "user");
    let feedback = second[3]["content"].as_str().unwrap();
    assert!(feedback.contains("rejected"), "{feedback}");
}

#[tokio::test]
async fn default_params_are_sent_and_vendor_fields_are_kept() {
    let server = TestServer::start().await.unwrap();
    server.push(
        Completion::new("openai/gpt-oss-20b", r#"{"ok": true}"#)
            .groq()
            .usage(50, 20)
            .message_field("reasoning", json!("The user wants ok.")),
    );
    let elelem = client("groq", &server);

    let response = elelem
        .create_chat_completion(json_request(MODEL).extra("seed", 7))
        .await
        .unwrap();

    let request = server.last_request().unwrap();
    assert_eq!(request.path, "/v1/chat/completions");
    assert_eq!(
        request.header("authorization"),
        Some(format!("Bearer {GROQ_KEY}").as_str())
    );
    let body = body_of(&request);
    assert_eq!(body["service_tier"], "auto");
    assert_eq!(body["seed"], 7);
    assert_eq!(body["model"], "openai/gpt-oss-20b");
    assert!(body.get("temperature").is_none(), "{body}");

    // GROQ's own fields survive, in the response object and in its JSON.
    let x_groq = &response.extra["x_groq"];
    assert!(
        x_groq["id"].as_str().unwrap().starts_with("req_"),
        "{x_groq}"
    );
    assert_eq!(response.service_tier.as_deref(), Some("on_demand"));
    let usage = response.usage.as_ref().unwrap();
    assert_eq!(usage.prompt_tokens, Some(50));
    assert_eq!(usage.completion_tokens, Some(20));
    assert_close(usage.extra["queue_time"].as_f64().unwrap(), 0.017_341_2);
    for key in ["prompt_time", "completion_time", "total_time"] {
        assert!(
            usage.extra[key].is_f64(),
            "{key} missing: {:?}",
            usage.extra
        );
    }
    let value = serde_json::to_value(&response).unwrap();
    assert_eq!(value["x_groq"], *x_groq);
    assert_close(value["usage"]["queue_time"].as_f64().unwrap(), 0.017_341_2);
    // GROQ's parsed reasoning field is exposed as reasoning.
    assert_eq!(
        response.elelem.reasoning.as_deref(),
        Some("The user wants ok.")
    );
    // 50 x 0.075 + 20 x 0.30 = 9.75 micro-dollars.
    assert_eq!(response.elelem.cost, usd("0.00000975"));
}

#[tokio::test]
async fn a_rate_limit_with_retry_after_ms_is_waited_out_and_counted() {
    let server = TestServer::start().await.unwrap();
    server.push_many([
        wire::rate_limited_ms(150),
        Completion::new("openai/gpt-oss-20b", r#"{"ok": true}"#)
            .groq()
            .into_response(),
    ]);
    let elelem = client("groq", &server);

    let started = Instant::now();
    let response = elelem
        .create_chat_completion(json_request(MODEL).tags(["limited"]))
        .await
        .unwrap();
    let waited = started.elapsed();
    // The fast policy would wait 5 ms; the server asked for 150 ms.
    assert!(waited >= Duration::from_millis(150), "{waited:?}");
    assert_eq!(response.elelem.attempts, 2);
    assert_eq!(server.request_count(), 2);

    let stats = elelem.get_stats();
    assert_eq!(stats.retry_analytics.rate_limit_retries, 1);
    assert_eq!(stats.retry_analytics.total_retries, 1);
    assert_eq!(stats.retry_analytics.temperature_reductions, 0);
    assert_eq!(stats.retry_analytics.api_json_validation_retries, 0);
    assert_eq!(stats.total_calls, 1);
    // Only the successful attempt used tokens: 10 x 0.075 + 5 x 0.30 = 2.25 micro-dollars.
    assert_eq!(stats.total_input_tokens, 10);
    assert_eq!(stats.total_output_tokens, 5);
    assert_eq!(stats.total_cost_usd, usd("0.00000225"));
    assert!(stats.total_duration_seconds >= 0.15, "{stats:?}");
    assert_eq!(elelem.get_stats_by_tag("limited"), stats);
}

#[tokio::test]
async fn a_rate_limit_beyond_120_seconds_gives_up_at_once() {
    let server = TestServer::start().await.unwrap();
    server.push(wire::rate_limited(Some("600")));
    server.set_fallback(Completion::new("openai/gpt-oss-20b", "{}").groq());
    let elelem = client("groq", &server);

    let started = Instant::now();
    let error = elelem
        .create_chat_completion(json_request(MODEL))
        .await
        .unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(5));
    assert_eq!(server.request_count(), 1);
    match &error {
        ElelemError::Provider { error, .. } => {
            assert_eq!(error.retry_after(), Some(Duration::from_secs(600)));
        }
        other => panic!("expected a provider error, got {other:?}"),
    }
    assert_eq!(elelem.get_stats().retry_analytics.final_failures, 1);
}

#[tokio::test]
async fn per_tag_stats_are_exact_in_usd() {
    let server = TestServer::start().await.unwrap();
    server.push_many([
        Completion::new("openai/gpt-oss-20b", r#"{"n": 1}"#)
            .groq()
            .usage(1_000, 500)
            .cached(200)
            .reasoning(100)
            .into_response(),
        Completion::new("openai/gpt-oss-20b", r#"{"n": 2}"#)
            .groq()
            .usage(2_000, 100)
            .into_response(),
    ]);
    let elelem = client("groq", &server);

    let a = elelem
        .create_chat_completion(json_request(MODEL).tags(["alpha", "shared"]))
        .await
        .unwrap();
    let b = elelem
        .create_chat_completion(json_request(MODEL).tags(["beta", "shared"]))
        .await
        .unwrap();

    // WIRE.md: 0.075 in / 0.30 out / 0.0375 cached per 1M tokens.
    // A: 800 x 0.075 + 200 x 0.0375 = 67.5 µ$ in; 500 x 0.30 = 150 µ$ out (100 x 0.30 = 30 µ$ reasoning).
    // B: 2000 x 0.075 = 150 µ$ in; 100 x 0.30 = 30 µ$ out.
    assert_eq!(a.elelem.cost, usd("0.0002175"));
    assert_eq!(b.elelem.cost, usd("0.00018"));

    let alpha = elelem.get_stats_by_tag("alpha");
    assert_eq!(alpha.total_calls, 1);
    assert_eq!(alpha.total_input_tokens, 1_000);
    assert_eq!(alpha.total_output_tokens, 500);
    assert_eq!(alpha.total_tokens, 1_500);
    assert_eq!(alpha.total_input_cost_usd, usd("0.0000675"));
    assert_eq!(alpha.total_output_cost_usd, usd("0.00015"));
    assert_eq!(alpha.total_cost_usd, usd("0.0002175"));
    assert_eq!(alpha.reasoning_tokens, 100);
    assert_eq!(alpha.reasoning_cost_usd, usd("0.00003"));

    let beta = elelem.get_stats_by_tag("beta");
    assert_eq!(beta.total_calls, 1);
    assert_eq!(beta.total_input_tokens, 2_000);
    assert_eq!(beta.total_output_tokens, 100);
    assert_eq!(beta.total_input_cost_usd, usd("0.00015"));
    assert_eq!(beta.total_output_cost_usd, usd("0.00003"));
    assert_eq!(beta.total_cost_usd, usd("0.00018"));
    assert_eq!(beta.reasoning_tokens, 0);
    assert_eq!(beta.reasoning_cost_usd, usd("0"));

    let shared = elelem.get_stats_by_tag("shared");
    assert_eq!(shared.total_calls, 2);
    assert_eq!(shared.total_input_tokens, 3_000);
    assert_eq!(shared.total_output_tokens, 600);
    assert_eq!(shared.total_tokens, 3_600);
    assert_eq!(shared.total_input_cost_usd, usd("0.0002175"));
    assert_eq!(shared.total_output_cost_usd, usd("0.00018"));
    assert_eq!(shared.total_cost_usd, usd("0.0003975"));
    assert_eq!(shared.reasoning_tokens, 100);
    assert_eq!(
        shared.total_cost_usd,
        alpha.total_cost_usd + beta.total_cost_usd
    );

    assert_eq!(elelem.get_stats(), shared);
    assert_eq!(elelem.get_stats_by_tag("nobody"), Stats::default());

    // Costs serialize as dollars, as the Python Elelem's stats do.
    let json = serde_json::to_value(&shared).unwrap();
    assert_close(json["total_cost_usd"].as_f64().unwrap(), 0.000_397_5);
    assert_eq!(json["total_calls"], 2);
}

#[tokio::test]
async fn rate_limits_give_up_after_four_retries() {
    let server = TestServer::start().await.unwrap();
    server.set_fallback(wire::rate_limited_ms(1));
    let elelem = client("groq", &server);

    let error = elelem
        .create_chat_completion(json_request(MODEL))
        .await
        .unwrap_err();
    assert_eq!(server.request_count(), 5);
    match &error {
        ElelemError::Provider {
            error, attempts, ..
        } => {
            assert_eq!(error.kind(), Some(ProviderErrorKind::RateLimited));
            assert_eq!(attempts.len(), 5);
        }
        other => panic!("expected a provider error, got {other:?}"),
    }
    assert!(error.is_retryable());
    let stats = elelem.get_stats();
    assert_eq!(stats.retry_analytics.rate_limit_retries, 4);
    assert_eq!(stats.retry_analytics.total_retries, 4);
    assert_eq!(stats.retry_analytics.final_failures, 1);
    assert_eq!(stats.total_calls, 1);
}

#[tokio::test]
async fn the_servers_x_should_retry_verdict_is_obeyed() {
    let server = TestServer::start().await.unwrap();
    server.push(wire::server_error(503).header("x-should-retry", "false"));
    server.set_fallback(good_answer());
    let elelem = client("groq", &server);
    let error = elelem
        .create_chat_completion(json_request(MODEL))
        .await
        .unwrap_err();
    assert_eq!(server.request_count(), 1);
    assert!(!error.is_retryable());
    assert_eq!(elelem.get_stats().retry_analytics.final_failures, 1);

    // A 400 the server says is worth retrying is retried.
    server.push(
        ScriptedResponse::json(400, json!({"error": {"message": "try again"}}))
            .header("x-should-retry", "true"),
    );
    let response = elelem
        .create_chat_completion(json_request(MODEL))
        .await
        .unwrap();
    assert_eq!(response.elelem.attempts, 2);
    assert_eq!(server.request_count(), 3);
}

#[tokio::test]
async fn the_fallback_model_answers_after_the_first_models_ladder() {
    let server = TestServer::start().await.unwrap();
    for _ in 0..5 {
        server.push(
            Completion::new(
                "openai/gpt-oss-20b",
                "Sure! Here it is: name Alice, age 30.",
            )
            .groq(),
        );
    }
    server.push(good_answer());
    let elelem = client("groq", &server);

    let response = elelem
        .create_chat_completion(json_request(MODEL).temperature(1.0))
        .await
        .unwrap();
    assert_eq!(response.elelem.requested_model, MODEL);
    assert_eq!(response.elelem.answered_by, "groq:openai/gpt-oss-120b");
    assert_eq!(response.elelem.attempts, 6);
    // 5 x (10 x 0.075 + 5 x 0.30) + (10 x 0.15 + 5 x 0.60) = 11.25 + 4.5 micro-dollars.
    assert_eq!(response.elelem.cost, usd("0.00001575"));
    let last = body_of(&server.last_request().unwrap());
    assert_eq!(last["model"], "openai/gpt-oss-120b");
    assert_close(temperature_of(&last).unwrap(), 1.0);
    assert_eq!(last["response_format"], json!({"type": "json_object"}));
    let stats = elelem.get_stats();
    assert_eq!(stats.retry_analytics.fallback_model_usage, 1);
    assert_eq!(stats.retry_analytics.response_format_removals, 1);
    assert_eq!(stats.retry_analytics.json_parse_retries, 5);
    assert_eq!(stats.retry_analytics.final_failures, 0);
    assert_eq!(stats.total_cost_usd, usd("0.00001575"));
}

#[tokio::test]
async fn stats_survive_a_json_round_trip() {
    let server = TestServer::start().await.unwrap();
    // 10 prompt and 5 completion tokens: 2.25 micro-dollars.
    server.push(good_answer());
    let elelem = client("groq", &server);
    elelem
        .create_chat_completion(json_request(MODEL).tags(["cheap"]))
        .await
        .unwrap();
    let stats = elelem.get_stats_by_tag("cheap");
    assert_eq!(stats.total_cost_usd, usd("0.00000225"));

    // Stats serialize as the Python dictionary and must read back as they were.
    let text = serde_json::to_string(&stats).unwrap();
    let back: Result<Stats, _> = serde_json::from_str(&text);
    let back = back.unwrap_or_else(|e| panic!("stats JSON does not read back: {e}\n{text}"));
    assert_eq!(back.total_cost_usd, stats.total_cost_usd);
    assert_eq!(back.total_input_cost_usd, stats.total_input_cost_usd);
    assert_eq!(back.total_calls, 1);
}

/// GROQ's failed generations are as long as the JSON asked for, often longer than the
/// 2,000 characters an error keeps of its body: the retry must still quote it in full.
#[tokio::test]
async fn a_long_failed_generation_is_sent_back_in_full() {
    let server = TestServer::start().await.unwrap();
    let items: Vec<String> = (0..300).map(|i| format!("\"item-{i}\"")).collect();
    let failed = format!("{{\"items\": [{}], \"total\": ", items.join(", "));
    assert!(failed.len() > 3_000);
    server.push_many([wire::groq_json_validate_failed(&failed), good_answer()]);
    let elelem = client("groq", &server);

    let response = elelem
        .create_chat_completion(json_request(MODEL).temperature(1.0))
        .await
        .unwrap();
    assert_eq!(response.elelem.attempts, 2);
    let second = &bodies(&server)[1];
    let messages = second["messages"].as_array().unwrap();
    assert_eq!(messages.len(), 4);
    assert_eq!(messages[2]["role"], "assistant");
    assert_eq!(
        messages[2]["content"].as_str().unwrap().len(),
        failed.len(),
        "the failed generation was not sent back in full"
    );
    assert_eq!(messages[2]["content"], failed.as_str());
}
