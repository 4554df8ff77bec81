//! The gate in front of every provider call, over real HTTP: a provider that keeps
//! failing cools down (attempts fail at once, nothing is sent), and client-side
//! rate limits, configured or learned from `x-ratelimit-*` headers, pace bursts so
//! the server never has to answer 429.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::time::Duration;

use common::*;
use elelem::gate::{CooldownPolicy, RateLimit};
use elelem::provider::ProviderError;
use elelem::{CompletionRequest, Elelem, ElelemError};
use elelem_testkit::wire::{self, Completion};
use elelem_testkit::{ScriptedResponse, TestServer};
use futures_util::future::join_all;

const MODEL: &str = "groq:openai/gpt-oss-20b";
const BURST: usize = 30;
const LIMIT: u64 = 10;
const WINDOW: Duration = Duration::from_secs(1);

fn good_answer() -> ScriptedResponse {
    Completion::new("openai/gpt-oss-20b", "fine")
        .groq()
        .into_response()
}

/// A server that lets `LIMIT` chat requests through per `WINDOW` and answers
/// OpenAI's 429 beyond.
async fn limited_server() -> TestServer {
    let server = TestServer::start().await.unwrap();
    server.set_fallback(good_answer());
    server.rate_limit(Some((LIMIT, WINDOW)));
    server
}

/// Sends `BURST` calls at once; returns how many succeeded.
async fn burst(elelem: &Elelem) -> usize {
    let calls = (0..BURST).map(|_| elelem.create_chat_completion(text_request(MODEL)));
    join_all(calls)
        .await
        .into_iter()
        .filter(Result::is_ok)
        .count()
}

#[tokio::test]
async fn a_configured_limit_paces_a_burst_so_the_server_never_answers_429() {
    let server = limited_server().await;
    let elelem = builder("groq", &server)
        .rate_limit("groq", RateLimit::per(WINDOW).requests(LIMIT))
        .build()
        .unwrap();

    assert_eq!(burst(&elelem).await, BURST);
    assert_eq!(server.rate_limited_count(), 0);
    assert_eq!(server.request_count(), BURST);
    let stats = elelem.get_stats();
    assert_eq!(stats.retry_analytics.rate_limit_retries, 0);
    assert_eq!(stats.total_calls, BURST as u64);
}

#[tokio::test]
async fn limits_learned_from_the_headers_pace_a_burst_so_the_server_never_answers_429() {
    let server = limited_server().await;
    let elelem = builder("groq", &server)
        .rate_limit_from_headers("groq")
        .build()
        .unwrap();

    // The first answer teaches the limit (its headers); then the burst.
    elelem
        .create_chat_completion(text_request(MODEL))
        .await
        .unwrap();
    assert_eq!(burst(&elelem).await, BURST);
    assert_eq!(server.rate_limited_count(), 0);
    assert_eq!(server.request_count(), BURST + 1);
    assert_eq!(elelem.get_stats().retry_analytics.rate_limit_retries, 0);
}

#[tokio::test]
async fn without_a_limiter_the_same_burst_collects_429s() {
    let server = limited_server().await;
    let elelem = client("groq", &server);

    elelem
        .create_chat_completion(text_request(MODEL))
        .await
        .unwrap();
    burst(&elelem).await;
    assert!(server.rate_limited_count() > 0, "the server never refused");
    assert!(elelem.get_stats().retry_analytics.rate_limit_retries > 0);
}

/// The provider error a call ended with and its attempt count.
#[track_caller]
fn provider_error(error: &ElelemError) -> (&ProviderError, usize) {
    match error {
        ElelemError::Provider {
            error, attempts, ..
        } => (error, attempts.len()),
        other => panic!("expected a provider error, got {other:?}"),
    }
}

#[track_caller]
fn assert_cooling_down(error: &ProviderError) {
    match error {
        ProviderError::CoolingDown {
            provider,
            remaining,
            failures,
        } => {
            assert_eq!(provider, "groq");
            assert!(*remaining <= Duration::from_millis(300), "{remaining:?}");
            assert!(*failures >= 3, "{failures}");
        }
        other => panic!("expected a cool-down refusal, got {other:?}"),
    }
}

#[tokio::test]
async fn a_failing_provider_cools_down_refuses_at_once_then_recovers() {
    let server = TestServer::start().await.unwrap();
    server.set_fallback(wire::server_error(500));
    let elelem = builder("groq", &server)
        .provider_cooldown(CooldownPolicy::new(3, Duration::from_millis(300)))
        .build()
        .unwrap();

    // Three 500s in a row start the cool-down: the fourth attempt is refused
    // without being sent, and the policy does not retry it.
    let error = elelem
        .create_chat_completion(text_request(MODEL))
        .await
        .unwrap_err();
    let (cause, attempts) = provider_error(&error);
    assert_cooling_down(cause);
    assert_eq!(attempts, 4);
    assert_eq!(server.request_count(), 3);
    assert!(
        !error.is_retryable(),
        "a cool-down is not retried within the call"
    );
    let remaining = elelem.cooling_down("groq").expect("groq cools down");
    assert!(remaining <= Duration::from_millis(300));
    assert_eq!(elelem.cooling_down("openai"), None);

    // Every kind of call is refused at once while it cools down.
    let error = elelem
        .create_chat_completion(text_request(MODEL))
        .await
        .unwrap_err();
    let (cause, attempts) = provider_error(&error);
    assert_cooling_down(cause);
    assert_eq!(attempts, 1);
    let error = elelem
        .stream_chat_completion(text_request(MODEL))
        .await
        .unwrap_err();
    assert_cooling_down(provider_error(&error).0);
    let error = elelem
        .create_completion(CompletionRequest::new(MODEL, "Say hi"))
        .await
        .unwrap_err();
    assert_cooling_down(provider_error(&error).0);
    assert_eq!(server.request_count(), 3, "nothing was sent");
    assert_eq!(elelem.request_count("groq"), 3);
    let health = elelem.provider_health();
    assert_eq!(health.len(), 1);
    assert_eq!(health[0].provider, "groq");
    assert_eq!(health[0].skipped_attempts, 4);
    let stats = elelem.get_stats();
    assert_eq!(stats.retry_analytics.final_failures, 4);
    assert_eq!(stats.retry_analytics.total_retries, 3);

    // After the cool-down, requests go through again; one more failure starts
    // a new cool-down at once.
    tokio::time::sleep(remaining + Duration::from_millis(20)).await;
    assert_eq!(elelem.cooling_down("groq"), None);
    let error = elelem
        .create_chat_completion(text_request(MODEL))
        .await
        .unwrap_err();
    let (cause, attempts) = provider_error(&error);
    assert_cooling_down(cause);
    assert_eq!((attempts, server.request_count()), (2, 4));

    // Once it is over again, a success clears the count: a single failure
    // after it is retried normally.
    let remaining = elelem.cooling_down("groq").expect("cooling down again");
    tokio::time::sleep(remaining + Duration::from_millis(20)).await;
    server.push_many([good_answer(), wire::server_error(500), good_answer()]);
    elelem
        .create_chat_completion(text_request(MODEL))
        .await
        .unwrap();
    assert_eq!(elelem.provider_health()[0].consecutive_failures, 0);
    let done = elelem
        .create_chat_completion(text_request(MODEL))
        .await
        .unwrap();
    assert_eq!(done.elelem.attempts, 2);
    assert_eq!(server.request_count(), 7);
    assert_eq!(elelem.cooling_down("groq"), None);
}

#[tokio::test]
async fn rate_limits_and_request_errors_do_not_start_a_cool_down() {
    let server = TestServer::start().await.unwrap();
    let elelem = builder("groq", &server)
        .provider_cooldown(CooldownPolicy::new(2, Duration::from_secs(60)))
        .build()
        .unwrap();
    server.push_many([
        wire::rate_limited_ms(1),
        wire::rate_limited_ms(1),
        wire::rate_limited_ms(1),
        good_answer(),
    ]);
    elelem
        .create_chat_completion(text_request(MODEL))
        .await
        .unwrap();
    for _ in 0..3 {
        server.push(wire::model_not_found("openai/gpt-oss-20b"));
        elelem
            .create_chat_completion(text_request(MODEL))
            .await
            .unwrap_err();
    }
    assert_eq!(elelem.cooling_down("groq"), None);
    assert_eq!(server.request_count(), 7);
}

#[tokio::test]
async fn with_the_cool_down_off_every_attempt_is_sent() {
    let server = TestServer::start().await.unwrap();
    server.set_fallback(wire::server_error(503));
    let elelem = builder("groq", &server)
        .without_provider_cooldown()
        .build()
        .unwrap();
    for _ in 0..3 {
        let error = elelem
            .create_chat_completion(text_request(MODEL))
            .await
            .unwrap_err();
        assert!(matches!(provider_error(&error).0, ProviderError::Http(_)));
    }
    assert_eq!(server.request_count(), 12);
    assert_eq!(elelem.cooling_down("groq"), None);
}

#[tokio::test]
async fn a_long_reset_learnt_from_the_headers_refuses_later_calls_at_once() {
    let server = TestServer::start().await.unwrap();
    // The first answer says the allowance is spent for an hour.
    server.push(
        good_answer()
            .header("x-ratelimit-remaining-requests", "0")
            .header("x-ratelimit-limit-requests", "10")
            .header("x-ratelimit-reset-requests", "1h"),
    );
    server.set_fallback(good_answer());
    let elelem = builder("groq", &server)
        .rate_limit_from_headers("groq")
        .build()
        .unwrap();
    elelem
        .create_chat_completion(text_request(MODEL))
        .await
        .unwrap();

    // Longer than the policy's max_server_delay (two minutes): refused at once,
    // typed, saying when the limit resets; nothing sent, not retried.
    let started = std::time::Instant::now();
    let error = tokio::time::timeout(
        Duration::from_secs(10),
        elelem.create_chat_completion(text_request(MODEL)),
    )
    .await
    .expect("the call waited for the reset")
    .unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(5));
    let (error, attempts) = provider_error(&error);
    match error {
        ProviderError::RateLimitWait {
            provider,
            resets_in,
            bound,
        } => {
            assert_eq!(provider, "groq");
            assert!(*resets_in > Duration::from_secs(3500), "{resets_in:?}");
            assert_eq!(*bound, Duration::from_secs(120));
        }
        other => panic!("expected a rate-limit refusal, got {other:?}"),
    }
    assert_eq!(attempts, 1);
    assert_eq!(server.request_count(), 1, "the refused call was sent");
    let stats = elelem.get_stats();
    assert_eq!(stats.total_calls, 2);
}

#[tokio::test]
async fn a_reset_within_max_server_delay_is_waited_for() {
    let server = TestServer::start().await.unwrap();
    server.push(
        good_answer()
            .header("x-ratelimit-remaining-requests", "0")
            .header("x-ratelimit-reset-requests", "300ms"),
    );
    server.set_fallback(good_answer());
    let elelem = builder("groq", &server)
        .rate_limit_from_headers("groq")
        .build()
        .unwrap();
    elelem
        .create_chat_completion(text_request(MODEL))
        .await
        .unwrap();
    let started = std::time::Instant::now();
    elelem
        .create_chat_completion(text_request(MODEL))
        .await
        .unwrap();
    assert!(started.elapsed() >= Duration::from_millis(250));
    assert_eq!(server.request_count(), 2);
}
