//! Typed sampling settings, constrained decoding and the portable thinking budget
//! against the test server: the exact wire fields of each provider, what a
//! model's catalogue entry removes or refuses, and exact costs.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::*;
use elelem::{ChatRequest, Elelem, ElelemError, Grammar, Message};
use elelem_testkit::wire::{AnthropicMessage, Completion, GeminiResponse, OllamaChat};
use elelem_testkit::TestServer;
use serde_json::{json, Value};

fn hi(model: &str) -> ChatRequest {
    ChatRequest::new(model, vec![Message::user("Hi")])
}

/// Every typed setter at once.
fn sampled(model: &str) -> ChatRequest {
    hi(model)
        .top_p(0.9)
        .top_k(40)
        .stop(["END"])
        .seed(7)
        .frequency_penalty(0.25)
        .presence_penalty(0.5)
        .n(1)
        .logprobs(Some(2))
        .user("user-42")
}

fn keys(body: &Value) -> Vec<String> {
    body.as_object().unwrap().keys().cloned().collect()
}

#[tokio::test]
async fn openai_models_get_openai_fields_or_lose_what_their_entry_refuses() {
    let server = TestServer::start().await.unwrap();
    let elelem = client("openai", &server);
    server.push(Completion::new("gpt-4.1-mini", "Hello").usage(1_000, 100));
    let response = elelem
        .create_chat_completion(sampled("openai:gpt-4.1-mini"))
        .await
        .unwrap();
    let body = server.last_request().unwrap().json().unwrap();
    for (field, value) in [
        ("top_p", json!(0.9)),
        ("top_k", json!(40)),
        ("stop", json!(["END"])),
        ("seed", json!(7)),
        ("frequency_penalty", json!(0.25)),
        ("presence_penalty", json!(0.5)),
        ("n", json!(1)),
        ("logprobs", json!(true)),
        ("top_logprobs", json!(2)),
        ("user", json!("user-42")),
    ] {
        assert_eq!(body[field], value, "{field} in {body}");
    }
    // 1 000 x $0.40 + 100 x $1.60 per 1M.
    assert_eq!(response.elelem.cost, usd("0.00056"));

    // gpt-5 takes no temperature, nor OpenAI's other sampling settings.
    server.push(Completion::new("gpt-5", "Hello").usage(1_000, 100));
    let response = elelem
        .create_chat_completion(sampled("openai:gpt-5").temperature(0.2))
        .await
        .unwrap();
    let body = server.last_request().unwrap().json().unwrap();
    for gone in [
        "temperature",
        "top_p",
        "frequency_penalty",
        "presence_penalty",
        "logprobs",
        "top_logprobs",
    ] {
        assert!(body.get(gone).is_none(), "{gone} in {body}");
    }
    assert_eq!(
        (body["seed"].clone(), body["stop"].clone()),
        (json!(7), json!(["END"]))
    );
    // 1 000 x $1.25 + 100 x $10 per 1M.
    assert_eq!(response.elelem.cost, usd("0.00225"));
    assert_eq!(elelem.get_stats().total_cost_usd, usd("0.00281"));
}

#[tokio::test]
async fn a_model_whose_entry_says_no_top_k_does_not_get_it() {
    let server = TestServer::start().await.unwrap();
    let toml = format!(
        "[[providers]]\nname = \"gw\"\nkind = \"openai-compatible\"\nbase_url = \"{}\"\n\n[[models]]\nid = \"gw:m\"\nupstream = \"m\"\nprice = {{ input = \"1.00\", output = \"2.00\" }}\ncapabilities = {{ top_k = false }}\n",
        server.url()
    );
    let elelem = Elelem::builder()
        .without_env_keys()
        .api_key("gw", "gw-test-key")
        .models_toml("gw.toml", toml)
        .build()
        .unwrap();
    server.push(Completion::new("m", "ok").usage(10, 10));
    elelem
        .create_chat_completion(hi("gw:m").top_k(5).top_p(0.5))
        .await
        .unwrap();
    let body = server.last_request().unwrap().json().unwrap();
    assert!(body.get("top_k").is_none(), "{body}");
    assert_eq!(body["top_p"], 0.5);
}

#[tokio::test]
async fn anthropic_gets_its_own_names_and_the_thinking_shape_it_takes() {
    let server = TestServer::start().await.unwrap();
    let elelem = Elelem::builder()
        .without_env_keys()
        .api_key("anthropic", "sk-ant-test-SECRET-123")
        .base_url("anthropic", server.url())
        .retry_policy(fast_policy())
        .build()
        .unwrap();
    let model = "anthropic:claude-haiku-4-5";
    let upstream = "claude-haiku-4-5-20251001";
    server.push(
        AnthropicMessage::new(upstream, "Hello")
            .thinking("Greet back.")
            .usage(1_200, 300)
            .into_response(),
    );
    let response = elelem
        .create_chat_completion(sampled(model).thinking(2048).max_tokens(4096))
        .await
        .unwrap();
    let body = server.last_request().unwrap().json().unwrap();
    assert_eq!(body["stop_sequences"], json!(["END"]));
    assert_eq!(body["top_p"], 0.9);
    assert_eq!(body["metadata"], json!({"user_id": "user-42"}));
    assert_eq!(
        body["thinking"],
        json!({"type": "enabled", "budget_tokens": 2048})
    );
    assert_eq!(body["max_tokens"], 4096);
    // Extended thinking refuses top_k; Anthropic has no seed, n, penalties, logprobs.
    let mut sent = keys(&body);
    sent.sort();
    assert_eq!(
        sent,
        [
            "max_tokens",
            "messages",
            "metadata",
            "model",
            "stop_sequences",
            "thinking",
            "top_p"
        ]
    );
    assert_eq!(
        response.answer_and_reasoning(),
        (Some("Hello"), Some("Greet back."))
    );
    // 1 200 x $1 + 300 x $5 per 1M.
    assert_eq!(response.elelem.cost, usd("0.0027"));

    // The {"enabled": true, ...} shape is read too; top_k goes through without thinking.
    server.push(
        AnthropicMessage::new(upstream, "Hi")
            .usage(10, 10)
            .into_response(),
    );
    elelem
        .create_chat_completion(
            hi(model)
                .top_k(5)
                .extra("thinking", json!({"enabled": true, "budget_tokens": 1024})),
        )
        .await
        .unwrap();
    let body = server.last_request().unwrap().json().unwrap();
    assert_eq!(
        body["thinking"],
        json!({"type": "enabled", "budget_tokens": 1024})
    );
    server.push(
        AnthropicMessage::new(upstream, "Hi")
            .usage(10, 10)
            .into_response(),
    );
    elelem
        .create_chat_completion(hi(model).top_k(5))
        .await
        .unwrap();
    let body = server.last_request().unwrap().json().unwrap();
    assert_eq!(body["top_k"], 5);

    // Budgets Anthropic refuses are refused before sending.
    let sent_before = server.request_count();
    for request in [
        hi(model).thinking(512),
        hi(model).thinking(2048).max_tokens(2048),
    ] {
        let error = elelem.create_chat_completion(request).await.unwrap_err();
        assert!(
            matches!(error, ElelemError::InvalidRequest { .. }),
            "{error}"
        );
        assert!(error.to_string().contains("thinking budget"), "{error}");
    }
    assert_eq!(server.request_count(), sent_before);
    // 0.0027 + 2 x (10 x $1 + 10 x $5 per 1M).
    assert_eq!(elelem.get_stats().total_cost_usd, usd("0.00282"));
}

#[tokio::test]
async fn gemini_gets_generation_config_and_a_thinking_budget() {
    let server = TestServer::start().await.unwrap();
    let elelem = Elelem::builder()
        .without_env_keys()
        .api_key("gemini", "AIza-test-SECRET-123")
        .base_url("gemini", server.root_url())
        .retry_policy(fast_policy())
        .build()
        .unwrap();
    server.push(
        GeminiResponse::new("gemini-2.5-flash", "Hello")
            .usage(1_000, 200)
            .into_response(),
    );
    let response = elelem
        .create_chat_completion(sampled("gemini:gemini-2.5-flash").thinking(10_000))
        .await
        .unwrap();
    let body = server.last_request().unwrap().json().unwrap();
    let config = &body["generationConfig"];
    assert_eq!(config["topP"], 0.9);
    assert_eq!(config["topK"], 40);
    assert_eq!(config["stopSequences"], json!(["END"]));
    assert_eq!(config["seed"], 7);
    assert_eq!(config["presencePenalty"], 0.5);
    assert_eq!(config["frequencyPenalty"], 0.25);
    // A 10 000-token budget is the "medium" effort: 8 192 tokens.
    assert_eq!(config["thinkingConfig"], json!({"thinkingBudget": 8192}));
    for field in ["thinking", "user", "n", "logprobs", "stop", "seed"] {
        assert!(body.get(field).is_none(), "{field} in {body}");
    }
    // 1 000 x $0.30 + 200 x $2.50 per 1M.
    assert_eq!(response.elelem.cost, usd("0.0008"));
}

#[tokio::test]
async fn ollama_gets_options() {
    let server = TestServer::start().await.unwrap();
    let elelem = Elelem::builder()
        .without_env_keys()
        .base_url("ollama", server.root_url())
        .build()
        .unwrap();
    server.push(OllamaChat::new("llama3.2", "Hello").into_response());
    elelem
        .create_chat_completion(sampled("ollama:llama3.2"))
        .await
        .unwrap();
    let body = server.last_request().unwrap().json().unwrap();
    assert_eq!(
        body["options"],
        json!({"top_p": 0.9, "top_k": 40, "seed": 7, "frequency_penalty": 0.25,
               "presence_penalty": 0.5, "stop": ["END"]})
    );
    for field in ["user", "n", "logprobs", "top_p", "think"] {
        assert!(body.get(field).is_none(), "{field} in {body}");
    }

    // A thinking model gets `think: true` (Ollama takes no budget).
    server.push(OllamaChat::new("qwen3:8b", "Hello").into_response());
    elelem
        .create_chat_completion(hi("ollama:qwen3:8b").thinking(2048))
        .await
        .unwrap();
    let body = server.last_request().unwrap().json().unwrap();
    assert_eq!(body["think"], true);
    assert!(body.get("thinking").is_none(), "{body}");
}

fn vllm(server: &TestServer, capability: &str) -> Elelem {
    let toml = format!(
        "[[providers]]\nname = \"vllm\"\nkind = \"openai-compatible\"\nbase_url = \"{}\"\n\n[[models]]\nid = \"vllm:qwen\"\nupstream = \"Qwen/Qwen3-8B\"\nprice = {{ input = \"0.10\", output = \"0.20\" }}\ncapabilities = {{ {capability} = true }}\n",
        server.url()
    );
    Elelem::builder()
        .without_env_keys()
        .api_key("vllm", "vllm-test-key")
        .models_toml("vllm.toml", toml)
        .build()
        .unwrap()
}

#[tokio::test]
async fn grammars_go_where_the_entry_allows_and_are_refused_elsewhere() {
    let server = TestServer::start().await.unwrap();
    let elelem = vllm(&server, "structured_outputs");
    server.push(Completion::new("Qwen/Qwen3-8B", "yes").usage(1_000, 1));
    let response = elelem
        .create_chat_completion(
            hi("vllm:qwen").grammar(Grammar::Choice(vec!["yes".into(), "no".into()])),
        )
        .await
        .unwrap();
    assert_eq!(response.content(), Some("yes"));
    let body = server.last_request().unwrap().json().unwrap();
    assert_eq!(body["structured_outputs"], json!({"choice": ["yes", "no"]}));
    // 1 000 x $0.10 + 1 x $0.20 per 1M.
    assert_eq!(response.elelem.cost, usd("0.0001002"));

    let elelem = vllm(&server, "guided_decoding");
    for (grammar, field, value) in [
        (
            Grammar::Regex("[0-9]+".into()),
            "guided_regex",
            json!("[0-9]+"),
        ),
        (
            Grammar::Lark("start: \"a\"".into()),
            "guided_grammar",
            json!("start: \"a\""),
        ),
    ] {
        server.push(Completion::new("Qwen/Qwen3-8B", "1").usage(10, 1));
        elelem
            .create_chat_completion(hi("vllm:qwen").grammar(grammar))
            .await
            .unwrap();
        let body = server.last_request().unwrap().json().unwrap();
        assert_eq!(body[field], value);
        assert!(body.get("structured_outputs").is_none());
    }

    // OpenAI has no constrained decoding: refused before sending, on streams too.
    let openai = client("openai", &server);
    let sent = server.request_count();
    let grammar = Grammar::Regex("[0-9]+".into());
    let error = openai
        .create_chat_completion(hi("openai:gpt-4.1-mini").grammar(grammar.clone()))
        .await
        .unwrap_err();
    assert!(
        matches!(error, ElelemError::InvalidRequest { .. }),
        "{error}"
    );
    assert!(error
        .to_string()
        .contains("openai:gpt-4.1-mini has no constrained decoding"));
    let error = openai
        .stream_chat_completion(hi("openai:gpt-4.1-mini").grammar(grammar))
        .await
        .unwrap_err();
    assert!(
        matches!(error, ElelemError::InvalidRequest { .. }),
        "{error}"
    );
    assert_eq!(server.request_count(), sent);
    assert_eq!(openai.get_stats().total_calls, 0);
}
