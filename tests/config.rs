//! Named presets (loaded from a file, updated while calls are in flight), request
//! counting and the last response, model queries over the catalogue, and token
//! estimates with the context-window pre-flight check.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::time::Duration;

use common::*;
use elelem::catalogue::Capabilities;
use elelem::{ElelemError, Message, Preset, TokenCounter};
use elelem_testkit::wire::Completion;
use elelem_testkit::TestServer;
use serde_json::json;

const PRESETS: &str = r#"
[presets.summarizer]
model = "openai:gpt-4.1-mini"
temperature = 0.4
max_tokens = 300
tags = ["summaries"]
fallback_models = ["openai:gpt-5-mini"]
system = "You summarize in one line."
params = { seed = 7 }

[presets.uncached]
model = "openai:gpt-4.1"
cache = false
"#;

async fn wait_for_requests(server: &TestServer, n: usize) {
    for _ in 0..500 {
        if server.request_count() >= n {
            return;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    panic!("the server never saw {n} requests");
}

#[tokio::test]
async fn a_preset_from_a_file_is_a_request_template() {
    let server = TestServer::start().await.unwrap();
    server.set_fallback(Completion::new("gpt-4.1-mini", "A short summary."));
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("presets.toml");
    std::fs::write(&file, PRESETS).unwrap();
    let elelem = builder("openai", &server)
        .presets_file(&file)
        .build()
        .unwrap();
    assert_eq!(elelem.preset_names(), ["summarizer", "uncached"]);

    let request = elelem
        .preset("summarizer")
        .unwrap()
        .message(Message::user("A long text."));
    elelem.create_chat_completion(request).await.unwrap();

    let body = body_of(&server.last_request().unwrap());
    assert_eq!(body["model"], "gpt-4.1-mini");
    assert_eq!(body["temperature"], json!(0.4));
    assert_eq!(body["max_tokens"], 300);
    assert_eq!(body["seed"], 7);
    assert_eq!(
        body["messages"],
        json!([{"role": "system", "content": "You summarize in one line."},
               {"role": "user", "content": "A long text."}])
    );
    assert_eq!(elelem.get_stats_by_tag("summaries").total_calls, 1);

    // Reloading picks up an edited file; a broken file changes nothing.
    std::fs::write(
        &file,
        PRESETS.replace("temperature = 0.4", "temperature = 0.1"),
    )
    .unwrap();
    elelem.reload_presets().unwrap();
    assert_eq!(elelem.preset("summarizer").unwrap().temperature, Some(0.1));
    std::fs::write(&file, "[presets.broken]\nmodel = 42").unwrap();
    let error = elelem.reload_presets().unwrap_err();
    assert!(error.to_string().contains("presets file"), "{error}");
    assert_eq!(elelem.preset("summarizer").unwrap().temperature, Some(0.1));

    let unknown = elelem.preset("summariser").unwrap_err();
    assert!(matches!(unknown, ElelemError::UnknownPreset { .. }));
    assert!(
        unknown.to_string().contains("summarizer, uncached"),
        "{unknown}"
    );
}

#[tokio::test]
async fn a_bad_presets_file_fails_the_build_clearly() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("presets.toml");
    std::fs::write(&file, "[presets.x]\nmodel = \"nowhere:model\"").unwrap();
    let error = elelem::Elelem::builder()
        .without_env_keys()
        .presets_file(&file)
        .build()
        .unwrap_err();
    assert!(
        error.to_string().contains("unknown provider \"nowhere\""),
        "{error}"
    );
    let missing = elelem::Elelem::builder()
        .presets_file(dir.path().join("absent.toml"))
        .build()
        .unwrap_err();
    assert!(missing.to_string().contains("absent.toml"), "{missing}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn calls_in_flight_keep_their_settings_when_a_preset_changes() {
    let server = TestServer::start().await.unwrap();
    // Each in-flight call first gets a slow invalid answer (so it retries after the
    // update), then a valid one.
    let slow_bad = Completion::new("gpt-4.1-mini", "no JSON here")
        .into_response()
        .delay(Duration::from_millis(300));
    server.push_many(vec![slow_bad; 4]);
    server.set_fallback(Completion::new("gpt-4.1-mini", r#"{"ok": true}"#));
    let mut v1 = Preset::new("openai:gpt-4.1-mini");
    v1.temperature = Some(0.9);
    v1.tags = vec!["v1".into()];
    let elelem = builder("openai", &server)
        .preset("extract", v1)
        .build()
        .unwrap();

    let in_flight: Vec<_> = (0..4)
        .map(|i| {
            let elelem = elelem.clone();
            tokio::spawn(async move {
                let request = elelem
                    .preset("extract")
                    .unwrap()
                    .message(Message::user(format!("Record {i}")))
                    .response_format(elelem::ResponseFormat::JsonObject);
                elelem.create_chat_completion(request).await.unwrap()
            })
        })
        .collect();
    wait_for_requests(&server, 4).await;

    let mut v2 = Preset::new("openai:gpt-4.1");
    v2.temperature = Some(0.5);
    v2.tags = vec!["v2".into()];
    elelem.update_preset("extract", v2).unwrap();
    let after: Vec<_> = (0..3)
        .map(|i| {
            let request = elelem
                .preset("extract")
                .unwrap()
                .message(Message::user(format!("Later {i}")))
                .response_format(elelem::ResponseFormat::JsonObject);
            let elelem = elelem.clone();
            tokio::spawn(async move { elelem.create_chat_completion(request).await.unwrap() })
        })
        .collect();

    for call in in_flight {
        let done = call.await.unwrap();
        assert_eq!(done.elelem.requested_model, "openai:gpt-4.1-mini");
        assert_eq!(done.elelem.attempts, 2);
    }
    for call in after {
        assert_eq!(call.await.unwrap().elelem.requested_model, "openai:gpt-4.1");
    }

    let sent = bodies(&server);
    assert_eq!(sent.len(), 4 * 2 + 3);
    for body in &sent {
        let text = body["messages"].to_string();
        if text.contains("Record") {
            // First attempts and retries alike: the settings the call started with
            // (the JSON retry lowers 0.9 to 0.8).
            assert_eq!(body["model"], "gpt-4.1-mini", "{body}");
            let t = temperature_of(body).unwrap();
            assert!(t == 0.9 || (t - 0.8).abs() < 1e-9, "{t}");
        } else {
            assert_eq!(body["model"], "gpt-4.1", "{body}");
            assert_eq!(temperature_of(body), Some(0.5));
        }
    }
    assert_eq!(elelem.get_stats_by_tag("v1").total_calls, 4);
    assert_eq!(elelem.get_stats_by_tag("v2").total_calls, 3);
}

#[tokio::test]
async fn request_counts_per_provider_and_the_raw_last_response() {
    let server = TestServer::start().await.unwrap();
    server.push(Completion::new("gpt-4.1-mini", "not json"));
    server.push(Completion::new("gpt-4.1-mini", "<think>hmm</think>{\"a\": 1}").reasoning(3));
    let elelem = client("openai", &server);
    assert_eq!(elelem.request_count("openai"), 0);
    assert!(elelem.last_response().is_none());

    let done = elelem
        .create_chat_completion(json_request("openai:gpt-4.1-mini"))
        .await
        .unwrap();

    assert_eq!(done.content(), Some("{\"a\": 1}"));
    assert_eq!(elelem.request_count("openai"), 2);
    assert_eq!(elelem.request_count("groq"), 0);
    assert_eq!(elelem.request_counts().get("openai"), Some(&2));
    let last = elelem.last_response().unwrap();
    assert_eq!(
        last.content(),
        Some("<think>hmm</think>{\"a\": 1}"),
        "as received"
    );
}

#[tokio::test]
async fn a_request_fallback_chain_is_tried_in_order() {
    let server = TestServer::start().await.unwrap();
    server.set_fallback(Completion::new("any", "never JSON"));
    let elelem = builder("openai", &server).max_attempts(40).build().unwrap();
    let request = json_request("openai:gpt-4.1-mini")
        .fallback_models(["openai:o3-mini", "openai:gpt-5-mini"]);
    let error = elelem.create_chat_completion(request).await.unwrap_err();
    let models: Vec<String> = bodies(&server)
        .iter()
        .map(|b| b["model"].as_str().unwrap().to_owned())
        .collect();
    let mut order = models.clone();
    order.dedup();
    assert_eq!(
        order,
        ["gpt-4.1-mini", "o3-mini", "gpt-5-mini"],
        "{models:?}"
    );
    assert!(matches!(error, ElelemError::InvalidJson { .. }));
    assert_eq!(elelem.get_stats().retry_analytics.fallback_model_usage, 2);
    // An uncallable fallback is refused before anything is sent.
    let before = server.request_count();
    let bad = json_request("openai:gpt-4.1-mini").fallback_models(["openai:no-such-model"]);
    let error = elelem.create_chat_completion(bad).await.unwrap_err();
    assert!(
        matches!(error, ElelemError::UnknownModel { .. }),
        "{error:?}"
    );
    assert_eq!(server.request_count(), before);
}

/// A provider of its own for exact query results, whatever the built-in catalogue
/// holds.
const ACME: &str = r#"
[[providers]]
name = "acme"
base_url = "http://127.0.0.1:9/v1"

[[models]]
id = "acme:small"
context_window = 8192
price = { input = "0.10", output = "0.40" }
capabilities = { json_schema = true }
tier = "mini"
release_date = "2024-01-01"

[[models]]
id = "acme:large"
context_window = 200000
price = { input = "2.00", output = "8.00" }
capabilities = { json_schema = true, tools = true, vision = true }
tier = "flagship"
release_date = "2025-06-01"

[[models]]
id = "acme:thinker"
context_window = 128000
price = { input = "1.00", output = "4.00" }
capabilities = { tools = true, reasoning = true, temperature = false }

[[models]]
id = "acme:legacy"
context_window = 128000
price = { input = "0.05", output = "0.10" }
capabilities = { json_schema = true, tools = true }
deprecated = true

[[models]]
id = "acme:mystery"
"#;

#[tokio::test]
async fn filters_return_exactly_the_expected_models() {
    let elelem = elelem::Elelem::builder()
        .without_env_keys()
        .models_toml("acme", ACME)
        .build()
        .unwrap();
    let acme = || elelem.models().provider("acme");

    assert_eq!(
        acme().ids(),
        [
            "acme:large",
            "acme:legacy",
            "acme:mystery",
            "acme:small",
            "acme:thinker"
        ]
    );
    assert_eq!(
        acme().min_context(128_000).ids(),
        ["acme:large", "acme:legacy", "acme:thinker"]
    );
    assert_eq!(
        acme().json_schema().ids(),
        ["acme:large", "acme:legacy", "acme:small"]
    );
    assert_eq!(
        acme().json_schema().exclude_deprecated().ids(),
        ["acme:large", "acme:small"]
    );
    assert_eq!(acme().tools().vision().ids(), ["acme:large"]);
    assert_eq!(acme().reasoning().ids(), ["acme:thinker"]);
    assert_eq!(
        acme().max_output_price("4".parse().unwrap()).ids(),
        ["acme:legacy", "acme:small", "acme:thinker"]
    );
    assert_eq!(
        acme().max_input_price("0.10".parse().unwrap()).ids(),
        ["acme:legacy", "acme:small"]
    );
    assert_eq!(acme().tier("mini").ids(), ["acme:small"]);
    let needed = Capabilities {
        json_mode: false,
        temperature: false,
        system_role: false,
        tools: true,
        ..Capabilities::default()
    };
    assert_eq!(
        acme().capabilities(needed).exclude_deprecated().ids(),
        ["acme:large", "acme:thinker"]
    );
    assert_eq!(
        acme().filter(|m| m.release_date.is_some()).ids(),
        ["acme:large", "acme:small"]
    );
    // Nothing of acme's can be called (no provider plugin), so:
    assert!(acme().available_only().ids().is_empty());

    // Cheapest meeting requirements: tools, 100k tokens, not deprecated.
    let cheapest = acme()
        .tools()
        .min_context(100_000)
        .exclude_deprecated()
        .cheapest()
        .unwrap();
    assert_eq!(cheapest.id, "acme:thinker");
    assert_eq!(
        acme().tools().min_context(100_000).cheapest().unwrap().id,
        "acme:legacy"
    );
    assert_eq!(acme().cheapest_for(1_000_000, 0).unwrap().id, "acme:legacy");
    assert!(acme().min_context(1_000_000).cheapest().is_none());

    // The built-in catalogue carries the new fields.
    let gpt5 = elelem.catalogue().model("openai:gpt-5").unwrap();
    assert_eq!(gpt5.release_date.as_deref(), Some("2025-08-07"));
    assert_eq!(
        elelem
            .catalogue()
            .model("openai:o3-mini")
            .unwrap()
            .release_date
            .as_deref(),
        Some("2025-01-31")
    );
    assert_eq!(
        elelem
            .models()
            .provider("openai")
            .filter(|m| m.release_date.as_deref() == Some("2025-04-14"))
            .ids(),
        [
            "openai:gpt-4.1",
            "openai:gpt-4.1-mini",
            "openai:gpt-4.1-nano"
        ]
    );
}

#[tokio::test]
async fn compare_lists_facts_side_by_side() {
    let elelem = elelem::Elelem::builder()
        .without_env_keys()
        .models_toml("acme", ACME)
        .build()
        .unwrap();
    let table = elelem
        .compare(&["openai:gpt-4.1-mini", "acme:large", "acme:mystery"])
        .unwrap();
    let json = serde_json::to_value(&table).unwrap();
    let models = json["models"].as_array().unwrap();
    assert_eq!(models.len(), 3);
    assert_eq!(models[0]["id"], "openai:gpt-4.1-mini");
    assert_eq!(models[0]["input_price"], "0.4");
    assert_eq!(models[0]["cached_input_price"], "0.1");
    assert_eq!(models[0]["release_date"], "2025-04-14");
    assert_eq!(models[0]["capabilities"]["json_schema"], true);
    assert_eq!(models[1]["context_window"], 200000);
    assert_eq!(models[1]["tier"], "flagship");
    assert_eq!(models[2]["input_price"], serde_json::Value::Null);
    let markdown = table.to_markdown();
    assert!(markdown.starts_with("| | openai:gpt-4.1-mini | acme:large | acme:mystery |"));
    assert!(
        markdown.contains("| output $/1M | 1.6 | 8 | - |"),
        "{markdown}"
    );

    let error = elelem.compare(&["acme:large", "acme:nope"]).unwrap_err();
    assert!(error.to_string().contains("acme:nope"), "{error}");
}

#[tokio::test]
async fn token_estimates_and_the_pre_flight_check_send_nothing() {
    let server = TestServer::start().await.unwrap();
    server.set_fallback(Completion::new("gpt-4.1-mini", "fine"));
    let elelem = builder("openai", &server)
        .models_toml(
            "small window",
            "[[models]]\nid = \"openai:gpt-4.1-mini-tiny\"\nupstream = \"gpt-4.1-mini\"\ncontext_window = 100",
        )
        .build()
        .unwrap();

    let messages = [Message::system("Hello world"), Message::user("Hello world")];
    let estimate = elelem
        .estimate_tokens(&messages, "openai:gpt-4.1-mini")
        .unwrap();
    assert_eq!(estimate.counter, TokenCounter::O200kBase);
    // "Hello world" is 2 tokens in o200k_base; 3 per message and 3 to prime the
    // reply.
    assert_eq!(estimate.tokens, 2 + 2 + 3 * 2 + 3);
    let approximate = elelem
        .estimate_tokens(&messages, "groq:moonshotai/kimi-k2-instruct")
        .unwrap();
    assert_eq!(approximate.counter, TokenCounter::Approximate);
    // ceil(11 / 4) twice, + 6 + 3
    assert_eq!(approximate.tokens, 3 + 3 + 6 + 3);

    // Fits: sent.
    let fits =
        elelem::ChatRequest::new("openai:gpt-4.1-mini-tiny", messages.to_vec()).max_tokens(50);
    elelem.create_chat_completion(fits).await.unwrap();
    assert_eq!(server.request_count(), 1);

    // 13 prompt tokens + 90 > 100: refused before anything is sent.
    let too_big =
        elelem::ChatRequest::new("openai:gpt-4.1-mini-tiny", messages.to_vec()).max_tokens(90);
    let error = elelem.create_chat_completion(too_big).await.unwrap_err();
    match &error {
        ElelemError::ContextWindowExceeded {
            model,
            prompt_tokens,
            max_tokens,
            context_window,
            method,
        } => {
            assert_eq!(model, "openai:gpt-4.1-mini-tiny");
            assert_eq!(*prompt_tokens, 13);
            assert_eq!(*max_tokens, Some(90));
            assert_eq!(*context_window, 100);
            assert_eq!(method, "o200k_base");
        }
        other => panic!("{other:?}"),
    }
    let text = error.to_string();
    assert!(text.contains("lower max_tokens"), "{text}");
    assert_eq!(server.request_count(), 1);
    assert_eq!(elelem.request_count("openai"), 1);
    assert_eq!(elelem.get_stats().total_calls, 1);

    // A long prompt alone can overflow too; the check can be turned off.
    let long = elelem::ChatRequest::new(
        "openai:gpt-4.1-mini-tiny",
        vec![Message::user("word ".repeat(500))],
    );
    assert!(elelem.create_chat_completion(long.clone()).await.is_err());
    assert_eq!(server.request_count(), 1);
    let unchecked = builder("openai", &server)
        .models_toml(
            "small window",
            "[[models]]\nid = \"openai:gpt-4.1-mini-tiny\"\nupstream = \"gpt-4.1-mini\"\ncontext_window = 100",
        )
        .context_window_check(false)
        .build()
        .unwrap();
    unchecked.create_chat_completion(long).await.unwrap();
    assert_eq!(server.request_count(), 2);
}
