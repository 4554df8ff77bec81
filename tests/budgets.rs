//! Budgets: worst-case reservations refuse a call before anything is sent, real
//! costs are settled afterwards, concurrent calls never overshoot, and day windows
//! reset at midnight UTC.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use common::*;
use elelem::budget::{Budget, BudgetExceeded};
use elelem::{ElelemError, Message, Usd};
use elelem_testkit::wire::Completion;
use elelem_testkit::TestServer;

/// A model at $1 per million tokens in and out: one token costs $0.000001.
const PRICED: &str = "[[models]]\nid = \"openai:budget-m\"\nupstream = \"gpt-4.1-mini\"\ncontext_window = 100000\nprice = { input = \"1\", output = \"1\" }\n\n[[models]]\nid = \"openai:free-m\"\nupstream = \"gpt-4.1-mini\"\ncontext_window = 100000\n";
const MODEL: &str = "openai:budget-m";
const MAX_TOKENS: u32 = 100;

fn per_token() -> Usd {
    usd("0.000001")
}

fn times(amount: Usd, n: u64) -> Usd {
    Usd::from_femtos(amount.femtos() * i128::from(n))
}

/// The prompt estimate of [`text_request`] for [`MODEL`].
fn prompt_tokens(elelem: &elelem::Elelem) -> u64 {
    elelem
        .estimate_tokens(&[Message::user(USER_PROMPT)], MODEL)
        .unwrap()
        .tokens
}

#[tokio::test]
async fn the_budget_refuses_exactly_when_the_next_worst_case_would_pass_it() {
    let server = TestServer::start().await.unwrap();
    server.set_fallback(Completion::new("gpt-4.1-mini", "fine").usage(10, 5));
    let probe = builder("openai", &server)
        .models_toml("priced", PRICED)
        .build()
        .unwrap();
    let worst = times(per_token(), prompt_tokens(&probe) + u64::from(MAX_TOKENS));
    let real = times(per_token(), 15);
    // Room for the worst case after four real answers, not after five.
    let limit = worst + times(real, 3);
    let elelem = builder("openai", &server)
        .models_toml("priced", PRICED)
        .budget(Budget::new(limit).for_tag("team"))
        .build()
        .unwrap();
    let request = || text_request(MODEL).max_tokens(MAX_TOKENS).tags(["team"]);

    for n in 1..=4u64 {
        let done = elelem.create_chat_completion(request()).await.unwrap();
        assert_eq!(done.elelem.cost, real);
        assert_eq!(elelem.budget_status()[0].spent, times(real, n));
        assert!(elelem.budget_status()[0].reserved.is_zero());
    }
    assert_eq!(server.request_count(), 4);
    let error = elelem.create_chat_completion(request()).await.unwrap_err();
    assert_eq!(
        error,
        ElelemError::BudgetExceeded(Box::new(BudgetExceeded {
            scope: "tag \"team\" total".into(),
            limit,
            spent: times(real, 4),
            reserved: Usd::ZERO,
            needed: worst,
        }))
    );
    assert!(error.to_string().contains("tag \"team\" total"), "{error}");
    assert!(error.to_string().contains("max_tokens"), "{error}");
    assert_eq!(server.request_count(), 4, "nothing is sent when refused");

    // A smaller worst case still fits; an untagged call is not under the budget.
    elelem
        .create_chat_completion(text_request(MODEL).max_tokens(1).tags(["team"]))
        .await
        .unwrap();
    elelem
        .create_chat_completion(text_request(MODEL).max_tokens(MAX_TOKENS))
        .await
        .unwrap();
    assert_eq!(server.request_count(), 6);
    assert_eq!(elelem.budget_status()[0].spent, times(real, 5));
}

#[tokio::test]
async fn unpriced_models_are_refused_unless_allowed() {
    let server = TestServer::start().await.unwrap();
    server.set_fallback(Completion::new("gpt-4.1-mini", "fine").usage(10, 5));
    let elelem = builder("openai", &server)
        .models_toml("priced", PRICED)
        .budget(Budget::new(usd("1")))
        .build()
        .unwrap();
    let error = elelem
        .create_chat_completion(text_request("openai:free-m").max_tokens(10))
        .await
        .unwrap_err();
    assert!(
        matches!(error, ElelemError::InvalidRequest { .. }),
        "{error}"
    );
    assert!(error.to_string().contains("allow_unpriced"), "{error}");
    assert_eq!(server.request_count(), 0);

    let lenient = builder("openai", &server)
        .models_toml("priced", PRICED)
        .budget(Budget::new(usd("1")).allow_unpriced())
        .build()
        .unwrap();
    lenient
        .create_chat_completion(text_request("openai:free-m").max_tokens(10))
        .await
        .unwrap();
    assert_eq!(server.request_count(), 1);
}

#[tokio::test]
async fn failed_attempts_are_counted_and_retries_reserve_again() {
    let server = TestServer::start().await.unwrap();
    server.push(Completion::new("gpt-4.1-mini", "not json at all").usage(10, 5));
    server.set_fallback(Completion::new("gpt-4.1-mini", "{\"name\":\"Alice\"}").usage(10, 5));
    let elelem = builder("openai", &server)
        .models_toml("priced", PRICED)
        .budget(Budget::new(usd("1")))
        .build()
        .unwrap();
    let done = elelem
        .create_chat_completion(json_request(MODEL).max_tokens(MAX_TOKENS))
        .await
        .unwrap();
    assert_eq!(done.elelem.attempts, 2);
    let status = &elelem.budget_status()[0];
    assert_eq!(status.spent, times(per_token(), 30));
    assert!(status.reserved.is_zero());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 8)]
async fn concurrent_calls_never_overshoot_the_budget() {
    let server = TestServer::start().await.unwrap();
    let probe = builder("openai", &server)
        .models_toml("priced", PRICED)
        .build()
        .unwrap();
    let prompt = prompt_tokens(&probe);
    // Answers use exactly the worst case, so exactly 50 calls fit.
    let output = 5u32;
    server.set_fallback(Completion::new("gpt-4.1-mini", "fine").usage(prompt, u64::from(output)));
    let worst = times(per_token(), prompt + u64::from(output));
    let limit = times(worst, 50) + Usd::from_femtos(worst.femtos() / 2);
    let elelem = builder("openai", &server)
        .models_toml("priced", PRICED)
        .budget(Budget::new(limit).per_month())
        .build()
        .unwrap();

    let tasks: Vec<_> = (0..200)
        .map(|_| {
            let elelem = elelem.clone();
            tokio::spawn(async move {
                elelem
                    .create_chat_completion(text_request(MODEL).max_tokens(output))
                    .await
            })
        })
        .collect();
    let mut spent = Usd::ZERO;
    let (mut ok, mut refused) = (0, 0);
    for task in tasks {
        match task.await.unwrap() {
            Ok(done) => {
                ok += 1;
                spent += done.elelem.cost;
            }
            Err(ElelemError::BudgetExceeded(_)) => refused += 1,
            Err(other) => panic!("unexpected error: {other}"),
        }
    }
    assert_eq!((ok, refused), (50, 150));
    assert_eq!(spent, times(worst, 50));
    assert!(spent <= limit);
    assert_eq!(server.request_count(), 50);
    let status = &elelem.budget_status()[0];
    assert_eq!(status.spent, spent);
    assert!(status.reserved.is_zero());
}

#[tokio::test]
async fn a_daily_budget_resets_on_the_next_utc_day() {
    let server = TestServer::start().await.unwrap();
    server.set_fallback(Completion::new("gpt-4.1-mini", "fine").usage(10, 5));
    // 2024-02-29 23:00 UTC.
    let clock = Arc::new(AtomicU64::new(19_782 * 86_400 + 23 * 3_600));
    let probe = builder("openai", &server)
        .models_toml("priced", PRICED)
        .build()
        .unwrap();
    let worst = times(per_token(), prompt_tokens(&probe) + u64::from(MAX_TOKENS));
    let now = clock.clone();
    let elelem = builder("openai", &server)
        .models_toml("priced", PRICED)
        .budget(Budget::new(worst).per_day())
        .budget_clock(move || {
            SystemTime::UNIX_EPOCH + Duration::from_secs(now.load(Ordering::SeqCst))
        })
        .build()
        .unwrap();
    let request = || text_request(MODEL).max_tokens(MAX_TOKENS);

    elelem.create_chat_completion(request()).await.unwrap();
    let error = elelem.create_chat_completion(request()).await.unwrap_err();
    assert!(matches!(error, ElelemError::BudgetExceeded(_)), "{error}");
    assert!(error.to_string().contains("per UTC day"), "{error}");
    // 59 minutes later: still the same day.
    clock.fetch_add(59 * 60, Ordering::SeqCst);
    assert!(elelem.create_chat_completion(request()).await.is_err());
    assert_eq!(server.request_count(), 1);
    // Midnight UTC: a new day, a fresh budget.
    clock.fetch_add(60, Ordering::SeqCst);
    assert!(elelem.budget_status()[0].spent.is_zero());
    elelem.create_chat_completion(request()).await.unwrap();
    assert_eq!(server.request_count(), 2);
    assert_eq!(elelem.budget_status()[0].spent, times(per_token(), 15));
}

#[tokio::test]
async fn streams_and_legacy_completions_are_under_the_budget_too() {
    let server = TestServer::start().await.unwrap();
    let probe = builder("openai", &server)
        .models_toml("priced", PRICED)
        .build()
        .unwrap();
    let worst = times(per_token(), prompt_tokens(&probe) + u64::from(MAX_TOKENS));
    let elelem = builder("openai", &server)
        .models_toml("priced", PRICED)
        .budget(Budget::new(worst))
        .build()
        .unwrap();
    server.push(
        elelem_testkit::sse::ChunkStream::new("gpt-4.1-mini", &["Hi ", "there"]).usage(10, 5),
    );
    let stream = elelem
        .stream_chat_completion(text_request(MODEL).max_tokens(MAX_TOKENS))
        .await
        .unwrap();
    assert_eq!(elelem.budget_status()[0].reserved, worst);
    let done = stream.collect_completion().await.unwrap();
    assert_eq!(done.elelem.cost, times(per_token(), 15));
    let status = &elelem.budget_status()[0];
    assert_eq!(status.spent, times(per_token(), 15));
    assert!(status.reserved.is_zero());
    // The next worst case no longer fits: refused before anything is sent.
    let error = elelem
        .stream_chat_completion(text_request(MODEL).max_tokens(MAX_TOKENS))
        .await
        .err()
        .unwrap();
    assert!(matches!(error, ElelemError::BudgetExceeded(_)), "{error}");
    let error = elelem
        .create_completion(elelem::CompletionRequest::new(MODEL, "Say hi").max_tokens(MAX_TOKENS))
        .await
        .unwrap_err();
    assert!(matches!(error, ElelemError::BudgetExceeded(_)), "{error}");
    assert_eq!(server.request_count(), 1);
}
