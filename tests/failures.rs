//! What goes wrong, over real HTTP: every broken answer becomes a typed error (never
//! a panic), transient failures are retried, permanent ones are not, requests that
//! cannot work fail before anything is sent, and the full JSON ladder ends in
//! `InvalidJson` holding every attempt.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::time::{Duration, Instant};

use common::*;
use elelem::provider::{ProviderError, ProviderErrorKind};
use elelem::{AttemptProblem, ChatRequest, Elelem, ElelemError, Message};
use elelem_testkit::wire::{self, Completion};
use elelem_testkit::{ScriptedResponse, TestServer};
use serde_json::json;

const MODEL: &str = "groq:openai/gpt-oss-20b";

fn good_answer() -> ScriptedResponse {
    Completion::new("openai/gpt-oss-20b", r#"{"ok": true}"#)
        .groq()
        .into_response()
}

/// The provider error of a call that gave up, with its attempt count.
#[track_caller]
fn provider_error(error: &ElelemError) -> (&ProviderError, usize) {
    match error {
        ElelemError::Provider {
            model,
            error,
            attempts,
        } => {
            assert_eq!(model, MODEL);
            (error, attempts.len())
        }
        other => panic!("expected a provider error, got {other:?}"),
    }
}

#[tokio::test]
async fn an_html_502_page_is_retried_then_reported_with_its_status() {
    let server = TestServer::start().await.unwrap();
    server.set_fallback(wire::html_502());
    let elelem = client("groq", &server);

    let error = elelem
        .create_chat_completion(json_request(MODEL))
        .await
        .unwrap_err();
    // One attempt and three transient retries.
    assert_eq!(server.request_count(), 4);
    let (provider, attempts) = provider_error(&error);
    assert_eq!(attempts, 4);
    let ProviderError::Http(http) = provider else {
        panic!("expected an HTTP error, got {provider:?}");
    };
    assert_eq!(http.status, 502);
    assert_eq!(http.kind, ProviderErrorKind::Server);
    assert_eq!(http.message, None);
    assert!(http.body.contains("502 Bad Gateway"), "{}", http.body);
    assert!(error.is_retryable());
    let text = error.to_string();
    assert!(text.contains("groq answered HTTP 502"), "{text}");
    assert!(text.contains("502 Bad Gateway"), "{text}");
    assert!(text.contains("4 attempt(s)"), "{text}");

    let stats = elelem.get_stats();
    assert_eq!(stats.total_calls, 1);
    assert_eq!(stats.retry_analytics.final_failures, 1);
    assert_eq!(stats.retry_analytics.total_retries, 3);
    assert_eq!(stats.retry_analytics.rate_limit_retries, 0);
    assert_eq!(stats.total_cost_usd, usd("0"));
}

#[tokio::test]
async fn an_html_502_then_a_good_answer_succeeds() {
    let server = TestServer::start().await.unwrap();
    server.push_many([wire::html_502(), wire::server_error(503), good_answer()]);
    let elelem = client("groq", &server);
    let response = elelem
        .create_chat_completion(json_request(MODEL))
        .await
        .unwrap();
    assert_eq!(response.elelem.attempts, 3);
    assert_eq!(server.request_count(), 3);
    assert_eq!(elelem.get_stats().retry_analytics.total_retries, 2);
}

#[tokio::test]
async fn a_200_with_a_non_json_body_is_an_invalid_body_with_a_snippet() {
    let server = TestServer::start().await.unwrap();
    server.set_fallback(ScriptedResponse::raw(
        200,
        "text/html",
        "<!DOCTYPE html><html><body>Maintenance in progress</body></html>",
    ));
    let elelem = client("groq", &server);

    let error = elelem
        .create_chat_completion(json_request(MODEL))
        .await
        .unwrap_err();
    assert_eq!(server.request_count(), 4);
    let (provider, attempts) = provider_error(&error);
    assert_eq!(attempts, 4);
    match provider {
        ProviderError::InvalidBody {
            provider,
            reason,
            snippet,
        } => {
            assert_eq!(provider, "groq");
            assert!(!reason.is_empty());
            assert!(snippet.starts_with("<!DOCTYPE html>"), "{snippet}");
            assert!(snippet.contains("Maintenance in progress"), "{snippet}");
        }
        other => panic!("expected InvalidBody, got {other:?}"),
    }
    assert!(error.to_string().contains("Maintenance in progress"));
}

#[tokio::test]
async fn a_json_body_of_the_wrong_shape_is_an_invalid_body() {
    let server = TestServer::start().await.unwrap();
    server.set_fallback(ScriptedResponse::json(200, json!({"choices": "none"})));
    let elelem = client("groq", &server);
    let error = elelem
        .create_chat_completion(json_request(MODEL))
        .await
        .unwrap_err();
    let (provider, _) = provider_error(&error);
    assert!(
        matches!(provider, ProviderError::InvalidBody { snippet, .. } if snippet.contains("none")),
        "{provider:?}"
    );
}

#[tokio::test]
async fn a_truncated_body_is_a_typed_error_and_is_retried() {
    let server = TestServer::start().await.unwrap();
    let full = Completion::new("openai/gpt-oss-20b", r#"{"ok": true}"#)
        .groq()
        .to_json()
        .to_string();
    server.set_fallback(ScriptedResponse::truncated_body(200, full.clone(), 40));
    let elelem = client("groq", &server);

    let error = elelem
        .create_chat_completion(json_request(MODEL))
        .await
        .unwrap_err();
    assert_eq!(server.request_count(), 4);
    let (provider, _) = provider_error(&error);
    match provider {
        ProviderError::BodyCut { provider, message } => {
            assert_eq!(provider, "groq");
            assert!(message.contains("end of file"), "{message}");
        }
        other => panic!("expected a cut body, got {other:?}"),
    }
    assert!(provider.is_retryable());

    // Truncated once, then complete: the call succeeds.
    let server = TestServer::start().await.unwrap();
    server.push_many([
        ScriptedResponse::truncated_body(200, full, 40),
        good_answer(),
    ]);
    let elelem = client("groq", &server);
    let response = elelem
        .create_chat_completion(json_request(MODEL))
        .await
        .unwrap();
    assert_eq!(response.elelem.json, Some(json!({"ok": true})));
    assert_eq!(response.elelem.attempts, 2);
}

#[tokio::test]
async fn a_dropped_connection_is_retried_and_then_succeeds() {
    let server = TestServer::start().await.unwrap();
    server.push_many([ScriptedResponse::drop_connection(), good_answer()]);
    let elelem = client("groq", &server);

    let response = elelem
        .create_chat_completion(json_request(MODEL).tags(["flaky"]))
        .await
        .unwrap();
    assert_eq!(response.elelem.json, Some(json!({"ok": true})));
    assert_eq!(response.elelem.attempts, 2);
    assert_eq!(server.request_count(), 2);
    let stats = elelem.get_stats_by_tag("flaky");
    assert_eq!(stats.total_calls, 1);
    assert_eq!(stats.retry_analytics.total_retries, 1);
    assert_eq!(stats.retry_analytics.final_failures, 0);

    // Always dropped: a connection error after the transient retries.
    let server = TestServer::start().await.unwrap();
    server.set_fallback(ScriptedResponse::drop_connection());
    let elelem = client("groq", &server);
    let error = elelem
        .create_chat_completion(json_request(MODEL))
        .await
        .unwrap_err();
    let (provider, attempts) = provider_error(&error);
    assert_eq!(attempts, 4);
    assert!(
        matches!(provider, ProviderError::Connection { provider, .. } if provider == "groq"),
        "{provider:?}"
    );
}

#[tokio::test]
async fn a_body_over_the_limit_is_refused_and_not_retried() {
    let server = TestServer::start().await.unwrap();
    let long = format!("{{\"text\": \"{}\"}}", "x".repeat(4_000));
    server.set_fallback(Completion::new("openai/gpt-oss-20b", &long).groq());
    let elelem = builder("groq", &server)
        .max_response_bytes(1_024)
        .build()
        .unwrap();

    let error = elelem
        .create_chat_completion(json_request(MODEL))
        .await
        .unwrap_err();
    assert_eq!(server.request_count(), 1);
    let (provider, attempts) = provider_error(&error);
    assert_eq!(attempts, 1);
    assert_eq!(
        *provider,
        ProviderError::BodyTooLarge {
            provider: "groq".into(),
            limit: 1_024
        }
    );
    assert!(!error.is_retryable());
    assert!(error.to_string().contains("max_response_bytes"));

    // The same answer fits under a larger limit.
    let elelem = builder("groq", &server)
        .max_response_bytes(64 * 1024)
        .build()
        .unwrap();
    let response = elelem
        .create_chat_completion(json_request(MODEL))
        .await
        .unwrap();
    assert_eq!(
        response.elelem.json.unwrap()["text"]
            .as_str()
            .unwrap()
            .len(),
        4_000
    );
}

#[tokio::test]
async fn a_slow_answer_beyond_the_timeout_is_a_timeout() {
    let server = TestServer::start().await.unwrap();
    server.set_fallback(good_answer().delay(Duration::from_secs(3)));
    let elelem = builder("groq", &server)
        .timeout(Duration::from_millis(150))
        .build()
        .unwrap();

    let started = Instant::now();
    let error = elelem
        .create_chat_completion(json_request(MODEL))
        .await
        .unwrap_err();
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(server.request_count(), 4);
    let (provider, attempts) = provider_error(&error);
    assert_eq!(attempts, 4);
    assert_eq!(
        *provider,
        ProviderError::Timeout {
            provider: "groq".into(),
            after: Duration::from_millis(150)
        }
    );
    assert!(error.to_string().contains("raise the timeout"));

    // Slow once, then fast: success on the retry.
    let server = TestServer::start().await.unwrap();
    server.push_many([good_answer().delay(Duration::from_secs(3)), good_answer()]);
    let elelem = builder("groq", &server)
        .timeout(Duration::from_millis(150))
        .build()
        .unwrap();
    let response = elelem
        .create_chat_completion(json_request(MODEL))
        .await
        .unwrap();
    assert_eq!(response.elelem.attempts, 2);
}

#[tokio::test]
async fn unusable_requests_fail_before_anything_is_sent() {
    let server = TestServer::start().await.unwrap();
    server.set_fallback(good_answer());
    let elelem = client("groq", &server);

    let error = elelem
        .create_chat_completion(json_request("groq:no-such-model"))
        .await
        .unwrap_err();
    match &error {
        ElelemError::UnknownModel {
            model,
            provider,
            known,
        } => {
            assert_eq!(model, "groq:no-such-model");
            assert_eq!(provider, "groq");
            assert!(known.contains(MODEL), "{known}");
        }
        other => panic!("expected UnknownModel, got {other:?}"),
    }

    for malformed in ["gpt-4.1", ":x", "groq:", ""] {
        let error = elelem
            .create_chat_completion(json_request(malformed))
            .await
            .unwrap_err();
        assert_eq!(
            error,
            ElelemError::MalformedModel {
                input: malformed.into()
            }
        );
        assert!(error.to_string().contains("provider:model"));
    }

    let error = elelem
        .create_chat_completion(json_request("nowhere:model"))
        .await
        .unwrap_err();
    assert!(
        matches!(&error, ElelemError::UnknownProvider { provider, known } if provider == "nowhere" && known.contains("groq")),
        "{error:?}"
    );

    let error = elelem
        .create_chat_completion(ChatRequest::new(MODEL, Vec::new()))
        .await
        .unwrap_err();
    assert!(
        matches!(error, ElelemError::InvalidRequest { .. }),
        "{error:?}"
    );

    let error = elelem
        .create_chat_completion(json_request(MODEL).json_schema(json!({"type": 12})))
        .await
        .unwrap_err();
    assert!(
        matches!(error, ElelemError::InvalidSchema { .. }),
        "{error:?}"
    );
    assert!(!error.is_retryable());

    assert_eq!(server.request_count(), 0);
    let stats = elelem.get_stats();
    assert_eq!(stats.total_calls, 0);
    assert_eq!(stats.retry_analytics.final_failures, 0);
}

#[tokio::test]
async fn a_missing_key_names_the_variable_and_sends_nothing() {
    let server = TestServer::start().await.unwrap();
    server.set_fallback(good_answer());
    // A key for another provider only; GROQ's base URL points at the test server.
    let elelem = Elelem::builder()
        .without_env_keys()
        .api_key("openai", OPENAI_KEY)
        .base_url("groq", server.url())
        .retry_policy(fast_policy())
        .build()
        .unwrap();

    let error = elelem
        .create_chat_completion(json_request(MODEL))
        .await
        .unwrap_err();
    assert_eq!(
        error,
        ElelemError::MissingApiKey {
            provider: "groq".into(),
            env_var: Some("GROQ_API_KEY".into()),
            key_file: None,
        }
    );
    let text = error.to_string();
    assert!(text.contains("GROQ_API_KEY"), "{text}");
    assert!(text.contains(".api_key(\"groq\""), "{text}");
    assert_eq!(server.request_count(), 0);
}

#[tokio::test]
async fn the_full_json_ladder_ends_in_invalid_json_with_every_attempt() {
    let server = TestServer::start().await.unwrap();
    server.set_fallback(
        Completion::new("openai/gpt-oss-20b", "I cannot produce JSON, sorry.").groq(),
    );
    let elelem = client("groq", &server);
    let fallback_id = elelem
        .catalogue()
        .provider("groq")
        .unwrap()
        .fallback_model
        .clone()
        .unwrap();
    assert_eq!(fallback_id, "groq:openai/gpt-oss-120b");
    let fallback_upstream = elelem
        .catalogue()
        .model(&fallback_id)
        .unwrap()
        .upstream
        .clone();
    let first_upstream = elelem.catalogue().model(MODEL).unwrap().upstream.clone();

    let request = json_request(MODEL).temperature(1.0).tags(["ladder"]);
    let error = elelem.create_chat_completion(request).await.unwrap_err();

    // Each model: the first try, 3 JSON retries with lower temperatures, one without
    // response_format at the original temperature. Then the call gives up.
    let temperatures = [1.0, 0.9, 0.7, 0.3, 1.0];
    let with_format = [true, true, true, true, false];
    let expected: Vec<(&str, &str, f64, bool)> = (0..10)
        .map(|i| {
            let (id, upstream) = if i < 5 {
                (MODEL, first_upstream.as_str())
            } else {
                (fallback_id.as_str(), fallback_upstream.as_str())
            };
            (id, upstream, temperatures[i % 5], with_format[i % 5])
        })
        .collect();

    let ElelemError::InvalidJson { model, attempts } = &error else {
        panic!("expected InvalidJson, got {error:?}");
    };
    assert_eq!(model, &fallback_id);
    assert_eq!(attempts.len(), 10);
    assert_eq!(error.attempts().len(), 10);
    assert!(error.is_retryable());
    for (attempt, (id, _, temperature, _)) in attempts.iter().zip(&expected) {
        assert_eq!(attempt.model, *id);
        assert_close(attempt.temperature.unwrap(), *temperature);
        assert!(
            matches!(&attempt.problem, AttemptProblem::JsonParse(reason) if reason.contains("no JSON")),
            "{:?}",
            attempt.problem
        );
    }

    let bodies = bodies(&server);
    assert_eq!(bodies.len(), 10);
    for (i, (body, (_, upstream, temperature, format))) in bodies.iter().zip(&expected).enumerate()
    {
        assert_eq!(body["model"], *upstream, "request {i}");
        assert_close(temperature_of(body).unwrap(), *temperature);
        assert_eq!(
            body.get("response_format").is_some(),
            *format,
            "request {i}: {body}"
        );
        if *format {
            assert_eq!(body["response_format"], json!({"type": "json_object"}));
        }
        // Retries on a model carry the rejected answer and the feedback; the first
        // request to each model does not.
        let messages = body["messages"].as_array().unwrap();
        if i % 5 == 0 {
            assert_eq!(messages.len(), 2, "request {i}");
        } else {
            assert_eq!(messages.len(), 4, "request {i}");
            assert_eq!(
                messages[2],
                json!({"role": "assistant", "content": "I cannot produce JSON, sorry."})
            );
            assert_eq!(messages[3]["role"], "user");
        }
        assert_eq!(body["service_tier"], "auto");
    }

    let stats = elelem.get_stats_by_tag("ladder");
    let r = &stats.retry_analytics;
    assert_eq!(r.json_parse_retries, 9);
    assert_eq!(r.temperature_reductions, 6);
    assert_eq!(r.response_format_removals, 2);
    assert_eq!(r.fallback_model_usage, 1);
    assert_eq!(r.final_failures, 1);
    assert_eq!(r.total_retries, 9);
    assert_eq!(stats.total_calls, 1);
    // Every attempt is paid for: 5 x (10 x 0.075 + 5 x 0.30) + 5 x (10 x 0.15 + 5 x 0.60)
    // = 11.25 + 22.5 micro-dollars.
    assert_eq!(stats.total_input_tokens, 100);
    assert_eq!(stats.total_output_tokens, 50);
    assert_eq!(stats.total_cost_usd, usd("0.00003375"));
    assert_eq!(elelem.get_stats(), stats);
}

#[tokio::test]
async fn json_retries_without_temperature_leave_it_unset() {
    let server = TestServer::start().await.unwrap();
    server.push_many([
        // Beyond local repair (a trailing comma would be repaired, not retried).
        Completion::new("openai/gpt-oss-20b", "{\"a\": 1,,, \"b\"}")
            .groq()
            .into_response(),
        good_answer(),
    ]);
    let elelem = client("groq", &server);
    let response = elelem
        .create_chat_completion(
            ChatRequest::new(MODEL, vec![Message::user("JSON please")])
                .response_format(elelem::ResponseFormat::JsonObject),
        )
        .await
        .unwrap();
    assert_eq!(response.elelem.attempts, 2);
    for body in bodies(&server) {
        assert!(body.get("temperature").is_none(), "{body}");
    }
    let second = &bodies(&server)[1];
    let feedback = second["messages"][3]["content"].as_str().unwrap();
    assert!(feedback.contains("key must be a string"), "{feedback}");
    let stats = elelem.get_stats();
    assert_eq!(stats.retry_analytics.json_parse_retries, 1);
    assert_eq!(stats.retry_analytics.temperature_reductions, 0);
}
