//! Parity of the plain call and the stream, for every provider plugin: for the same
//! scripted answer (real wire shapes from the testkit), the plain call, the collected
//! stream (`collect_completion`) and the stream's usage record (seen by a capturing
//! `CostSink`) agree on content, reasoning, tool calls, finish reason, token counts
//! and exact cost, provider-reported costs and usage corrections included.
//!
//! One table, one row per provider, provider-reported costs (OpenRouter), usage
//! corrections (xAI) and reasoning streamed apart from the content (GROQ's
//! `delta.reasoning`) included.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::Capture;

use std::sync::Arc;

use elelem::{ChatCompletion, ChatRequest, Elelem, ElelemBuilder, Message};
use elelem_testkit::wire::{
    completion_stream, AnthropicMessage, Completion, GeminiResponse, OllamaChat,
    OpenRouterCompletion, UsagePlacement,
};
use elelem_testkit::{ScriptedResponse, TestServer};
use serde_json::{json, Value};

/// One provider plugin: how to reach it on the test server, and one answer in its
/// plain and streamed wire forms.
struct Row {
    name: &'static str,
    model: &'static str,
    client: fn(&TestServer) -> ElelemBuilder,
    plain: fn() -> ScriptedResponse,
    streamed: fn() -> ScriptedResponse,
    /// The exact cost both must report (from the price table or the provider).
    cost: &'static str,
}

fn keyed(provider: &str, key: &str, base_url: String) -> ElelemBuilder {
    Elelem::builder()
        .without_env_keys()
        .api_key(provider, key)
        .base_url(provider, base_url)
}

fn weather_call() -> Value {
    json!([{"id": "call_parity_1", "type": "function",
        "function": {"name": "get_weather", "arguments": "{\"city\":\"Paris\"}"}}])
}

// ---- OpenAI: cached input tokens and a tool call ----

fn openai() -> Completion {
    Completion::new("gpt-4.1-mini", "Checking the weather in Paris.")
        .usage(2_048, 40)
        .cached(1_024)
        .message_field("tool_calls", weather_call())
        .finish_reason("tool_calls")
}

// ---- GROQ: reasoning apart from the content, reasoning tokens, x_groq usage ----

fn groq() -> Completion {
    Completion::new("openai/gpt-oss-20b", "Paris is the capital of France.")
        .groq()
        .usage(1_200, 300)
        .reasoning(120)
        .cached(512)
        .message_field("reasoning", json!("The user asks for a capital."))
}

// ---- DeepInfra: DeepSeek-R1 without its opening <think> (issue 12 #15) ----

fn deepinfra() -> Completion {
    Completion::new(
        "deepseek-ai/DeepSeek-R1-0528",
        "The user wants a city.\nParis fits.\n</think>\n\nParis is the capital of France.",
    )
    .usage(1_000, 250)
}

// ---- Scaleway: EUR prices converted exactly ----

fn scaleway() -> Completion {
    Completion::new("gpt-oss-120b", "Paris is the capital of France.").usage(1_000_000, 500_000)
}

// ---- compat: a priced model of an OpenAI-compatible gateway ----

fn compat() -> Completion {
    Completion::new("meta-llama/Llama-3.3-70B-Instruct", "Paris.").usage(1_000, 100)
}

fn compat_client(server: &TestServer) -> ElelemBuilder {
    let toml = format!(
        r#"
[[providers]]
name = "gateway"
kind = "openai-compatible"
base_url = "{}"

[[models]]
id = "gateway:llama-70b"
upstream = "meta-llama/Llama-3.3-70B-Instruct"
price = {{ input = "0.60", output = "0.80" }}
"#,
        server.url()
    );
    Elelem::builder()
        .without_env_keys()
        .api_key("gateway", "sk-gateway-test-SECRET-123")
        .models_toml("gateway.toml", toml)
}

// ---- OpenRouter: the provider-reported usage.cost ----

fn openrouter() -> OpenRouterCompletion {
    OpenRouterCompletion::new("openai/gpt-4.1-mini", "Paris is the capital of France.")
        .usage(1_200, 300)
        .cached(200)
        .cost("0.000987654321")
}

// ---- xAI: reasoning tokens outside completion_tokens, cost_in_usd_ticks ----

fn xai_body() -> Value {
    let mut body = Completion::new("grok-4-1-fast-reasoning", "Paris is the capital of France.")
        .usage(1_000, 100)
        .reasoning(400)
        .message_field("reasoning_content", json!("Thinking it over."))
        .to_json();
    let usage = body["usage"].as_object_mut().unwrap();
    usage.insert("total_tokens".into(), json!(1_500));
    usage.insert("num_sources_used".into(), json!(0));
    usage.insert("cost_in_usd_ticks".into(), json!(4_560_000));
    body
}

// ---- Ollama: thinking and a tool call (unpriced: both must say $0 and unpriced) ----

fn ollama() -> OllamaChat {
    OllamaChat::new("llama3.2", "Checking the weather.")
        .thinking("The user wants the weather.")
        .tool_call("get_weather", json!({"city": "Paris"}))
        .counts(300, 40)
}

// ---- Anthropic: thinking, a tool use, cache reads and writes ----

fn anthropic() -> AnthropicMessage {
    AnthropicMessage::new(
        "claude-haiku-4-5-20251001",
        "Checking the weather in Paris.",
    )
    .thinking("The user wants the weather.")
    .tool_use("get_weather", json!({"city": "Paris"}))
    .usage(1_200, 300)
    .cache(2_000, 5_000)
    .stop_reason("tool_use")
}

// ---- Gemini: thoughts, thought tokens, cached tokens, a function call ----

fn gemini() -> GeminiResponse {
    GeminiResponse::new("gemini-2.5-flash", "Checking the weather in Paris.")
        .thought_text("The user wants the weather.")
        .thoughts(200)
        .cached(600)
        .usage(1_000, 50)
        .function_call("get_weather", json!({"city": "Paris"}))
}

// ---- Azure OpenAI: OpenAI's shapes at a deployment URL, behind the api-key check ----

const AZURE_KEY: &str = "azure-test-SECRET";

fn azure() -> Completion {
    openai()
}

fn azure_client(server: &TestServer) -> ElelemBuilder {
    server.set_responder(Some(elelem_testkit::clouds::azure::credentials_check(&[
        AZURE_KEY,
    ])));
    keyed("azure", AZURE_KEY, server.root_url())
}

// ---- Vertex AI: Gemini's shapes with a token minted from a service-account key ----

fn vertex_client(server: &TestServer) -> ElelemBuilder {
    let oauth = elelem_testkit::clouds::google::FakeOAuth::serve(server);
    keyed(
        "vertex",
        &oauth.key_json("parity-project"),
        format!("{}/v1", server.root_url()),
    )
}

/// One row per provider plugin.
const ROWS: &[Row] = &[
    Row {
        name: "openai",
        model: "openai:gpt-4.1-mini",
        client: |s| keyed("openai", "sk-test-SECRET-openai", s.url()),
        plain: || openai().into_response(),
        streamed: || openai().into_stream_response(),
        // (2048 - 1024) x 0.40 + 1024 x 0.10 + 40 x 1.60 per million.
        cost: "0.0005760",
    },
    Row {
        name: "deepinfra",
        model: "deepinfra:deepseek-ai/DeepSeek-R1-0528",
        client: |s| {
            keyed(
                "deepinfra",
                "di-test-SECRET",
                format!("{}/v1/openai", s.root_url()),
            )
        },
        plain: || deepinfra().into_response(),
        streamed: || deepinfra().into_stream_response(),
        // 1000 x 0.50 + 250 x 2.15 per million.
        cost: "0.0010375",
    },
    Row {
        name: "scaleway",
        model: "scaleway:gpt-oss-120b",
        client: |s| keyed("scaleway", "scw-test-SECRET", s.url()),
        plain: || scaleway().into_response(),
        streamed: || scaleway().into_stream_response(),
        cost: "",
    },
    Row {
        name: "compat",
        model: "gateway:llama-70b",
        client: compat_client,
        plain: || compat().into_response(),
        streamed: || compat().into_stream_response(),
        // 1000 x 0.60 + 100 x 0.80 per million.
        cost: "0.00068",
    },
    Row {
        name: "ollama",
        model: "ollama:llama3.2",
        client: |s| {
            Elelem::builder()
                .without_env_keys()
                .base_url("ollama", s.root_url())
        },
        plain: || ollama().into_response(),
        streamed: || ollama().into_stream_response(),
        cost: "0",
    },
    Row {
        name: "anthropic",
        model: "anthropic:claude-haiku-4-5",
        client: |s| keyed("anthropic", "sk-ant-test-SECRET", s.url()),
        plain: || anthropic().into_response(),
        streamed: || anthropic().into_stream_response(),
        cost: "",
    },
    Row {
        name: "bedrock",
        model: "bedrock:anthropic.claude-3-5-haiku-20241022-v1:0",
        client: bedrock_client,
        plain: bedrock_plain,
        streamed: bedrock_streamed,
        // 1000 x 0.80 + 2000 x 0.08 + 500 x 1.00 + 100 x 4.00 per million.
        cost: "0.00186",
    },
    Row {
        name: "gemini",
        model: "gemini:gemini-2.5-flash",
        client: |s| {
            keyed(
                "gemini",
                "AIza-test-SECRET",
                format!("{}/v1beta", s.root_url()),
            )
        },
        plain: || gemini().into_response(),
        streamed: || gemini().into_stream_response(),
        cost: "",
    },
    Row {
        name: "vertex",
        model: "vertex:gemini-2.5-flash",
        client: vertex_client,
        plain: || gemini().into_response(),
        streamed: || gemini().into_stream_response(),
        cost: "",
    },
    Row {
        name: "azure",
        model: "azure:gpt-4.1-mini",
        client: azure_client,
        plain: || azure().into_response(),
        streamed: || azure().into_stream_response(),
        // As OpenAI's gpt-4.1-mini (Global Standard prices).
        cost: "0.0005760",
    },
    Row {
        name: "groq",
        model: "groq:openai/gpt-oss-20b",
        client: |s| keyed("groq", "gsk-test-SECRET", s.url()),
        plain: || groq().into_response(),
        streamed: || groq().into_stream_response(),
        // (1200 - 512) x 0.075 + 512 x 0.0375 + 300 x 0.30 per million.
        cost: "0.0001608",
    },
    Row {
        name: "openrouter",
        model: "openrouter:openai/gpt-4.1-mini",
        client: |s| {
            keyed(
                "openrouter",
                "sk-or-v1-test-SECRET",
                format!("{}/api/v1", s.root_url()),
            )
        },
        plain: || openrouter().into_response(),
        streamed: || openrouter().into_stream_response(),
        // The reported usage.cost, not the table's price.
        cost: "0.000987654321",
    },
    Row {
        name: "xai",
        model: "xai:grok-4-1-fast-reasoning",
        client: |s| keyed("xai", "xai-test-SECRET", s.url()),
        plain: || ScriptedResponse::json(200, xai_body()),
        streamed: || {
            ScriptedResponse::raw(
                200,
                "text/event-stream",
                completion_stream(&xai_body(), UsagePlacement::FinalChunk),
            )
        },
        // 4,560,000 ticks of 1e-10 USD.
        cost: "0.000456",
    },
];

// ---- Bedrock: Converse over SigV4, a tool use, cache reads and writes, event-stream frames ----

fn bedrock_client(server: &TestServer) -> ElelemBuilder {
    use elelem::providers::bedrock::{provider, AwsConfig, Credentials};
    server.require_sigv4(Some(("AKIDPARITY", "parity-SECRET")));
    let settings = elelem::provider::ProviderSettings {
        name: "bedrock".into(),
        base_url: server.root_url(),
        api_key: None,
        api_key_env: None,
        timeout: std::time::Duration::from_secs(10),
        max_response_bytes: 1 << 20,
    };
    let config = AwsConfig {
        credentials: Credentials::new("AKIDPARITY", "parity-SECRET", None),
        region: "us-east-1".into(),
    };
    Elelem::builder()
        .without_env_keys()
        .provider("bedrock", provider(settings, Ok(config)).unwrap())
}

fn bedrock_usage() -> Value {
    json!({"inputTokens": 1_000, "outputTokens": 100, "totalTokens": 3_600,
        "cacheReadInputTokens": 2_000, "cacheWriteInputTokens": 500})
}

fn bedrock_plain() -> ScriptedResponse {
    elelem_testkit::bedrock::converse_answer(
        json!([{"text": "Checking the weather in Paris."},
            {"toolUse": {"toolUseId": "tooluse_p1", "name": "get_weather", "input": {"city": "Paris"}}}]),
        "tool_use",
        bedrock_usage(),
    )
}

fn bedrock_streamed() -> ScriptedResponse {
    let event = |name: &str, payload: Value| (name.to_owned(), payload);
    elelem_testkit::bedrock::converse_stream(&[
        event("messageStart", json!({"role": "assistant"})),
        event(
            "contentBlockDelta",
            json!({"contentBlockIndex": 0, "delta": {"text": "Checking the weather "}}),
        ),
        event(
            "contentBlockDelta",
            json!({"contentBlockIndex": 0, "delta": {"text": "in Paris."}}),
        ),
        event("contentBlockStop", json!({"contentBlockIndex": 0})),
        event(
            "contentBlockStart",
            json!({"contentBlockIndex": 1,
            "start": {"toolUse": {"toolUseId": "tooluse_p1", "name": "get_weather"}}}),
        ),
        event(
            "contentBlockDelta",
            json!({"contentBlockIndex": 1, "delta": {"toolUse": {"input": "{\"city\":"}}}),
        ),
        event(
            "contentBlockDelta",
            json!({"contentBlockIndex": 1, "delta": {"toolUse": {"input": "\"Paris\"}"}}}),
        ),
        event("contentBlockStop", json!({"contentBlockIndex": 1})),
        event("messageStop", json!({"stopReason": "tool_use"})),
        event(
            "metadata",
            json!({"usage": bedrock_usage(), "metrics": {"latencyMs": 200}}),
        ),
    ])
}

/// A tool call as name and parsed arguments (ids are made up by some converters).
fn calls(completion: &ChatCompletion) -> Vec<(String, Value)> {
    completion
        .tool_calls()
        .into_iter()
        .map(|call| {
            let arguments = serde_json::from_str(&call.function.arguments).unwrap_or(Value::Null);
            (call.function.name, arguments)
        })
        .collect()
}

/// Plain call, then the same answer streamed and collected: everything must agree.
async fn check(row: &'static Row) {
    let server = TestServer::start().await.unwrap();
    server.push((row.plain)());
    server.push((row.streamed)());
    let capture = Arc::new(Capture::default());
    let elelem = (row.client)(&server)
        .cost_sink(capture.clone())
        .retry_policy(common::fast_policy())
        .build()
        .unwrap();
    let request = ChatRequest::new(row.model, vec![Message::user("Weather in Paris?")]);
    let name = row.name;

    let plain = elelem
        .create_chat_completion(request.clone())
        .await
        .unwrap_or_else(|e| panic!("{name}: plain call failed: {e}"));
    let plain_records = capture.take();
    let streamed = elelem
        .stream_chat_completion(request)
        .await
        .unwrap_or_else(|e| panic!("{name}: stream did not open: {e}"))
        .collect_completion()
        .await
        .unwrap_or_else(|e| panic!("{name}: stream failed: {e}"));
    let stream_records = capture.take();

    assert!(plain.content().is_some(), "{name}: the answer has content");
    assert_eq!(streamed.content(), plain.content(), "{name}: content");
    assert_eq!(
        streamed.elelem.reasoning, plain.elelem.reasoning,
        "{name}: reasoning"
    );
    assert_eq!(calls(&streamed), calls(&plain), "{name}: tool calls");
    assert_eq!(
        streamed.choices[0].finish_reason, plain.choices[0].finish_reason,
        "{name}: finish reason"
    );
    assert_eq!(streamed.usage, plain.usage, "{name}: usage");
    assert_eq!(streamed.elelem.cost, plain.elelem.cost, "{name}: cost");
    if !row.cost.is_empty() {
        assert_eq!(
            plain.elelem.cost,
            common::usd(row.cost),
            "{name}: exact cost"
        );
    }

    assert_eq!(plain_records.len(), 1, "{name}: one plain record");
    assert_eq!(stream_records.len(), 1, "{name}: one stream record");
    let (p, s) = (&plain_records[0], &stream_records[0]);
    assert_eq!(s.tokens, p.tokens, "{name}: recorded tokens");
    assert_eq!(s.cost, p.cost, "{name}: recorded cost");
    assert_eq!(s.price_known, p.price_known, "{name}: price known");
    assert_eq!(s.total_cost(), plain.elelem.cost, "{name}: recorded total");
    assert!(!s.stream_interrupted, "{name}: the stream completed");

    let stats = elelem.get_stats();
    assert_eq!(stats.total_calls, 2, "{name}: calls counted");
    assert_eq!(stats.interrupted_streams, 0, "{name}: no interruption");
}

/// Checks every row, each in its own task so that one row's failure does not hide
/// the others'; panics with every failure.
async fn check_all(rows: &'static [Row]) {
    let mut failures = Vec::new();
    for row in rows {
        if let Err(panic) = tokio::spawn(check(row)).await {
            let message = panic.into_panic();
            let text = message
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| message.downcast_ref::<&str>().map(|s| (*s).to_owned()))
                .unwrap_or_default();
            failures.push(text);
        }
    }
    assert!(
        failures.is_empty(),
        "{} row(s) failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[tokio::test]
async fn plain_and_stream_agree_for_every_provider() {
    check_all(ROWS).await;
}

#[test]
fn the_table_covers_every_provider_plugin() {
    let mut names: Vec<&str> = ROWS.iter().map(|row| row.name).collect();
    names.sort_unstable();
    assert_eq!(
        names,
        [
            "anthropic",
            "azure",
            "bedrock",
            "compat",
            "deepinfra",
            "gemini",
            "groq",
            "ollama",
            "openai",
            "openrouter",
            "scaleway",
            "vertex",
            "xai"
        ]
    );
}
