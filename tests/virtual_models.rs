//! Virtual models over real HTTP: three emulated providers (GROQ, DeepInfra,
//! OpenAI) each on its own test server, failing the way real providers fail.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::*;
use elelem::cost::{AttemptOutcome, CostSink, RetryCause, UsageRecord};
use elelem::gate::CooldownPolicy;
use elelem::{AttemptProblem, ChatCompletion, Elelem, ElelemError};
use elelem_testkit::sse::ChunkStream;
use elelem_testkit::wire;

const JSON_ANSWER: &str = r#"{"name":"Alice","age":30}"#;

/// GROQ and DeepInfra serve the same open model (`gpt-oss-20b`); OpenAI another.
const VIRTUAL: &str = r#"
[[virtual_models]]
id = "virtual:fast-json"
description = "gpt-oss-20b wherever it is up, else gpt-4.1-mini"
candidates = [
  { model = "groq:openai/gpt-oss-20b", timeout_secs = 10 },
  { model = "deepinfra:openai/gpt-oss-20b", timeout_secs = 10 },
  { model = "openai:gpt-4.1-mini", timeout_secs = 10 },
]

[[virtual_models]]
id = "virtual:impatient"
candidates = [
  { model = "groq:openai/gpt-oss-20b", timeout_secs = 0.3 },
  { model = "deepinfra:openai/gpt-oss-20b" },
]
"#;

/// A JSON call on `model` that must succeed.
async fn answer(elelem: &Elelem, model: &str) -> ChatCompletion {
    elelem
        .create_chat_completion(json_request(model))
        .await
        .unwrap()
}

#[tokio::test]
async fn a_call_fails_over_from_a_down_and_a_rate_limited_provider_to_a_healthy_one() {
    let p = Providers::start(VIRTUAL).await;
    p.groq.set_fallback(wire::server_error(503));
    p.deepinfra.set_fallback(wire::rate_limited_ms(5));
    p.openai
        .push(wire::completion("gpt-4.1-mini-2025-04-14", JSON_ANSWER));
    let elelem = p.client();

    let response = elelem
        .create_chat_completion(json_request("virtual:fast-json").tags(["failover"]))
        .await
        .unwrap();

    assert_eq!(response.elelem.requested_model, "virtual:fast-json");
    assert_eq!(response.elelem.answered_by, "openai:gpt-4.1-mini");
    assert_eq!(response.elelem.candidate, Some(2));
    assert_eq!(response.elelem.json.as_ref().unwrap()["age"], 30);
    // Each down candidate used up its own retries, then the call moved on.
    assert_eq!(p.groq.request_count(), 4, "1 attempt + 3 transient retries");
    assert_eq!(
        p.deepinfra.request_count(),
        5,
        "1 attempt + 4 rate-limit retries"
    );
    assert_eq!(p.openai.request_count(), 1);
    assert_eq!(response.elelem.attempts, 10);
    // Only the answer cost money: 10 input + 5 output tokens of gpt-4.1-mini.
    assert_eq!(response.elelem.cost, usd("0.000012"));

    let stats = elelem.get_stats_by_tag("failover");
    assert_eq!(stats.total_calls, 1);
    assert_eq!(stats.total_cost_usd, usd("0.000012"));
    let retries = &stats.retry_analytics;
    assert_eq!(retries.candidate_iterations, 2);
    assert_eq!(retries.final_failures, 0);
    assert_eq!(retries.rate_limit_retries, 5, "4 retries + the move on");
    assert_eq!(retries.total_retries, 9);
    let json = serde_json::to_value(&stats).unwrap();
    assert_eq!(json["retry_analytics"]["candidate_iterations"], 2);
}

/// Every usage record, in order.
#[derive(Debug, Default)]
struct Records(Mutex<Vec<UsageRecord>>);

impl CostSink for Records {
    fn record(&self, record: &UsageRecord) {
        self.0.lock().unwrap().push(record.clone());
    }
}

#[tokio::test]
async fn every_attempt_of_every_candidate_is_one_call_in_the_records() {
    let p = Providers::start(VIRTUAL).await;
    p.groq.set_fallback(wire::server_error(503));
    p.deepinfra
        .set_fallback(wire::completion("openai/gpt-oss-20b", JSON_ANSWER));
    let records = Arc::new(Records::default());
    let elelem = p
        .builder(&["groq", "deepinfra", "openai"])
        .cost_sink(records.clone())
        .build()
        .unwrap();

    answer(&elelem, "virtual:fast-json").await;
    answer(&elelem, "virtual:fast-json").await;

    let records = records.0.lock().unwrap();
    let first: Vec<_> = records
        .iter()
        .filter(|r| r.call_id == records[0].call_id)
        .collect();
    let attempts: Vec<u32> = first.iter().map(|r| r.attempt).collect();
    assert_eq!(attempts, [1, 2, 3, 4, 5], "4 on GROQ, then DeepInfra");
    let moved: Vec<bool> = first.iter().map(|r| r.adjustments.next_candidate).collect();
    assert_eq!(moved, [false, false, false, true, false]);
    assert_eq!(
        first[3].outcome,
        AttemptOutcome::Retried(RetryCause::Transient)
    );
    assert_eq!(first[4].model, "deepinfra:openai/gpt-oss-20b");
    assert_eq!(first[4].outcome, AttemptOutcome::Success);
    // The next call has the next id.
    let second = records
        .iter()
        .find(|r| r.call_id != records[0].call_id)
        .unwrap();
    assert_eq!(second.call_id, records[0].call_id + 1);
}

#[tokio::test]
async fn a_model_that_cannot_answer_skips_the_candidates_serving_the_same_model() {
    let p = Providers::start(VIRTUAL).await;
    p.groq.set_fallback(wire::completion(
        "openai/gpt-oss-20b",
        "I cannot do JSON today.",
    ));
    p.openai.push(wire::completion("gpt-4.1-mini", JSON_ANSWER));
    let elelem = p.client();

    let response = answer(&elelem, "virtual:fast-json").await;

    assert_eq!(response.elelem.answered_by, "openai:gpt-4.1-mini");
    assert_eq!(response.elelem.candidate, Some(2));
    assert!(p.groq.request_count() >= 2, "the JSON ladder ran on GROQ");
    assert_eq!(
        p.deepinfra.request_count(),
        0,
        "DeepInfra serves the same gpt-oss-20b: skipped"
    );
    let stats = elelem.get_stats();
    assert_eq!(stats.retry_analytics.candidate_iterations, 1);
    assert_eq!(stats.total_calls, 1);
    assert_eq!(stats.retry_analytics.final_failures, 0);
}

#[tokio::test]
async fn a_truncated_answer_is_an_infrastructure_failure_not_a_model_one() {
    let p = Providers::start(VIRTUAL).await;
    p.groq.push(
        wire::Completion::new("openai/gpt-oss-20b", r#"{"name":"Ali"#)
            .groq()
            .finish_reason("length")
            .into_response(),
    );
    p.deepinfra
        .push(wire::completion("openai/gpt-oss-20b", JSON_ANSWER));
    let elelem = p.client();

    let response = answer(&elelem, "virtual:fast-json").await;

    assert_eq!(response.elelem.answered_by, "deepinfra:openai/gpt-oss-20b");
    assert_eq!(response.elelem.candidate, Some(1));
    assert_eq!(p.groq.request_count(), 1, "no JSON retry of a cut answer");
    assert_eq!(response.elelem.attempts, 2);
    // The cut answer's tokens were billed and are part of the call's cost.
    let stats = elelem.get_stats();
    assert_eq!(stats.total_input_tokens, 20);
    assert_eq!(response.elelem.cost, stats.total_cost_usd);
    assert!(stats.total_cost_usd > usd("0"));
    assert_eq!(stats.retry_analytics.candidate_iterations, 1);
    assert_eq!(stats.retry_analytics.json_parse_retries, 0);
}

#[tokio::test]
async fn a_candidate_past_its_time_limit_is_cut_and_the_next_answers() {
    let p = Providers::start(VIRTUAL).await;
    p.groq.set_fallback(
        wire::completion("openai/gpt-oss-20b", JSON_ANSWER).delay(Duration::from_secs(5)),
    );
    p.deepinfra
        .push(wire::completion("openai/gpt-oss-20b", JSON_ANSWER));
    let elelem = p.client();

    let response = answer(&elelem, "virtual:impatient").await;

    assert_eq!(response.elelem.answered_by, "deepinfra:openai/gpt-oss-20b");
    assert_eq!(response.elelem.candidate, Some(1));
    assert_eq!(p.groq.request_count(), 1, "the cut attempt is not retried");
    let stats = elelem.get_stats();
    assert_eq!(stats.retry_analytics.candidate_iterations, 1);
    assert_eq!(stats.total_calls, 1);
}

#[tokio::test]
async fn an_authentication_failure_moves_on_at_once() {
    let p = Providers::start(VIRTUAL).await;
    p.groq.set_fallback(wire::invalid_api_key());
    p.deepinfra
        .push(wire::completion("openai/gpt-oss-20b", JSON_ANSWER));
    let elelem = p.client();

    let response = answer(&elelem, "virtual:fast-json").await;
    assert_eq!(response.elelem.candidate, Some(1));
    assert_eq!(p.groq.request_count(), 1);
}

#[tokio::test]
async fn when_every_candidate_fails_the_error_names_each_and_the_call_counts_once() {
    let p = Providers::start(VIRTUAL).await;
    p.groq.set_fallback(wire::server_error(503));
    p.deepinfra.set_fallback(wire::server_error(500));
    p.openai.set_fallback(wire::invalid_api_key());
    let elelem = p.client();

    let error = elelem
        .create_chat_completion(json_request("virtual:fast-json"))
        .await
        .unwrap_err();

    let ElelemError::CandidatesExhausted {
        model,
        attempts,
        skipped,
    } = &error
    else {
        panic!("expected CandidatesExhausted, got {error:?}");
    };
    assert_eq!(model, "virtual:fast-json");
    assert!(skipped.is_empty());
    assert_eq!(attempts.len(), 4 + 4 + 1);
    assert_eq!(attempts.last().unwrap().model, "openai:gpt-4.1-mini");
    assert!(matches!(
        attempts.last().unwrap().problem,
        AttemptProblem::Provider(_)
    ));
    let message = error.to_string();
    for id in [
        "groq:openai/gpt-oss-20b",
        "deepinfra:openai/gpt-oss-20b",
        "openai:gpt-4.1-mini",
    ] {
        assert!(message.contains(id), "{message}");
    }
    let stats = elelem.get_stats();
    assert_eq!(stats.total_calls, 1);
    assert_eq!(stats.retry_analytics.final_failures, 1);
    assert_eq!(stats.retry_analytics.candidate_iterations, 2);
}

#[tokio::test]
async fn a_candidate_without_a_key_is_skipped_and_named_if_nothing_answers() {
    let p = Providers::start(VIRTUAL).await;
    p.deepinfra
        .push(wire::completion("openai/gpt-oss-20b", JSON_ANSWER));
    let elelem = p.builder(&["deepinfra"]).build().unwrap();

    let response = answer(&elelem, "virtual:fast-json").await;
    assert_eq!(response.elelem.candidate, Some(1));
    assert_eq!(p.groq.request_count(), 0);
    assert_eq!(elelem.get_stats().retry_analytics.candidate_iterations, 0);

    p.deepinfra.set_fallback(wire::invalid_api_key());
    let error = elelem
        .create_chat_completion(json_request("virtual:fast-json"))
        .await
        .unwrap_err();
    let message = error.to_string();
    assert!(
        message.contains("skipped groq:openai/gpt-oss-20b"),
        "{message}"
    );
    assert!(message.contains("GROQ_API_KEY"), "{message}");
    assert!(message.contains("skipped openai:gpt-4.1-mini"), "{message}");
}

#[tokio::test]
async fn unknown_virtual_models_and_other_endpoints_are_refused_clearly() {
    let p = Providers::start(VIRTUAL).await;
    let elelem = p.client();
    let error = elelem
        .create_chat_completion(json_request("virtual:nope"))
        .await
        .unwrap_err();
    assert!(matches!(error, ElelemError::UnknownModel { .. }));
    assert!(error.to_string().contains("virtual:fast-json"), "{error}");

    let error = elelem
        .create_completion(elelem::CompletionRequest::new(
            "virtual:fast-json",
            "Say hi",
        ))
        .await
        .unwrap_err();
    assert!(error.to_string().contains("virtual model"), "{error}");
    assert_eq!(p.groq.request_count() + p.openai.request_count(), 0);
}

#[tokio::test]
async fn a_stream_moves_on_before_its_first_chunk_and_says_which_candidate_streams() {
    let p = Providers::start(VIRTUAL).await;
    p.groq.set_fallback(wire::server_error(503));
    p.deepinfra.set_fallback(wire::invalid_api_key());
    p.openai.push(
        ChunkStream::new("gpt-4.1-mini", &[r#"{"name":"#, r#""Alice","age":30}"#])
            .usage(1_000, 500),
    );
    let elelem = p.client();

    let stream = elelem
        .stream_chat_completion(json_request("virtual:fast-json").tags(["vs"]))
        .await
        .unwrap();
    assert_eq!(stream.summary().answered_by, "openai:gpt-4.1-mini");
    assert_eq!(stream.summary().candidate, Some(2));
    let completion = stream.collect_completion().await.unwrap();
    assert_eq!(completion.elelem.requested_model, "virtual:fast-json");
    assert_eq!(completion.elelem.candidate, Some(2));
    assert_eq!(completion.elelem.json.as_ref().unwrap()["name"], "Alice");
    assert_eq!(completion.elelem.attempts, 4 + 1 + 1);
    assert_eq!(completion.elelem.cost, usd("0.0012"));

    assert_eq!(p.deepinfra.request_count(), 1);
    let stats = elelem.get_stats_by_tag("vs");
    assert_eq!(stats.total_calls, 1);
    assert_eq!(stats.total_cost_usd, usd("0.0012"));
    assert_eq!(stats.retry_analytics.candidate_iterations, 2);
    assert_eq!(stats.retry_analytics.final_failures, 0);
}

#[tokio::test]
async fn a_stream_whose_candidates_all_fail_counts_one_failed_call() {
    let p = Providers::start(VIRTUAL).await;
    p.groq.set_fallback(
        ChunkStream::new("openai/gpt-oss-20b", &["late"])
            .into_response()
            .delay(Duration::from_secs(5)),
    );
    p.deepinfra.set_fallback(wire::server_error(502));
    let elelem = p.builder(&["groq", "deepinfra"]).build().unwrap();

    let error = elelem
        .stream_chat_completion(json_request("virtual:impatient"))
        .await
        .unwrap_err();
    let ElelemError::CandidatesExhausted { attempts, .. } = &error else {
        panic!("expected CandidatesExhausted, got {error:?}");
    };
    assert_eq!(attempts.first().unwrap().model, "groq:openai/gpt-oss-20b");
    assert!(
        attempts
            .first()
            .unwrap()
            .problem
            .to_string()
            .contains("did not answer within"),
        "{error}"
    );
    assert_eq!(
        p.groq.request_count(),
        1,
        "the candidate's time ran out once"
    );
    assert_eq!(p.deepinfra.request_count(), 4);
    let stats = elelem.get_stats();
    assert_eq!(stats.total_calls, 1);
    assert_eq!(stats.retry_analytics.final_failures, 1);
    assert_eq!(stats.retry_analytics.candidate_iterations, 1);
}

#[tokio::test]
async fn a_provider_in_cool_down_is_skipped_without_a_request() {
    let p = Providers::start(VIRTUAL).await;
    p.groq.set_fallback(wire::server_error(503));
    p.deepinfra
        .set_fallback(wire::completion("openai/gpt-oss-20b", JSON_ANSWER));
    let elelem = p
        .builder(&["groq", "deepinfra", "openai"])
        .provider_cooldown(CooldownPolicy::new(3, Duration::from_secs(60)))
        .build()
        .unwrap();

    let first = answer(&elelem, "virtual:fast-json").await;
    assert_eq!(first.elelem.candidate, Some(1));
    let groq_requests = p.groq.request_count();
    assert!(elelem.cooling_down("groq").is_some());

    let second = answer(&elelem, "virtual:fast-json").await;
    assert_eq!(second.elelem.candidate, Some(1));
    assert_eq!(second.elelem.attempts, 1, "GROQ was skipped, not tried");
    assert_eq!(p.groq.request_count(), groq_requests);
    assert_eq!(elelem.get_stats().retry_analytics.candidate_iterations, 1);
}

#[tokio::test]
async fn a_cached_failover_answer_is_not_served_to_its_first_candidate_asked_directly() {
    let p = Providers::start(VIRTUAL).await;
    p.groq.push(wire::server_error(401));
    p.deepinfra.push(wire::completion(
        "openai/gpt-oss-20b",
        r#"{"from":"deepinfra"}"#,
    ));
    p.groq
        .push(wire::completion("openai/gpt-oss-20b", r#"{"from":"groq"}"#));
    let elelem = p
        .builder(&["groq", "deepinfra", "openai"])
        .memory_cache(10)
        .build()
        .unwrap();

    let failover = answer(&elelem, "virtual:fast-json").await;
    assert_eq!(failover.elelem.json.unwrap()["from"], "deepinfra");
    let again = answer(&elelem, "virtual:fast-json").await;
    assert!(again.elelem.cache_hit, "the virtual call itself is cached");
    let direct = answer(&elelem, "groq:openai/gpt-oss-20b").await;
    assert!(!direct.elelem.cache_hit);
    assert_eq!(direct.elelem.json.unwrap()["from"], "groq");
}
