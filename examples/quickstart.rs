//! Elelem in one minute.
//!
//! With no argument, it runs offline: it starts Elelem's test server in-process,
//! scripted like a flaky real provider (an answer wrapped in a markdown fence after a
//! `<think>` block, a 429 rate limit, an answer that fails the schema), and shows
//! both calls succeeding, then prints the content, the stats and the retry analytics.
//!
//! With `--model provider:model` it calls the real provider instead, with the key
//! from `{PROVIDER}_API_KEY`:
//!
//! ```text
//! cargo run --example quickstart
//! GROQ_API_KEY=... cargo run --example quickstart -- --model groq:openai/gpt-oss-20b
//! ```

use std::error::Error;
use std::sync::Arc;
use std::time::Duration;

use elelem::retry::DefaultRetryPolicy;
use elelem::{ChatRequest, Elelem, Message, ResponseFormat};
use elelem_testkit::{wire, TestServer};
use serde_json::json;

const MODEL: &str = "groq:openai/gpt-oss-20b";

fn request(model: &str, person: &str) -> ChatRequest {
    ChatRequest::new(
        model,
        vec![
            Message::system("You extract facts about people."),
            Message::user(format!("{person}. Return the name and the age.")),
        ],
    )
    .response_format(ResponseFormat::JsonObject)
    .json_schema(json!({
        "type": "object",
        "properties": {"name": {"type": "string"}, "age": {"type": "integer"}},
        "required": ["name", "age"],
        "additionalProperties": false
    }))
    .temperature(1.0)
    .tags(["quickstart"])
}

/// Scripts the test server like a provider having a bad day.
fn script_flaky_provider(server: &TestServer) {
    let upstream = "openai/gpt-oss-20b";
    // Call 1: a reasoning model thinks aloud, then wraps its JSON in a fence.
    server.push(
        wire::Completion::new(
            upstream,
            "<think>\nThe user wants JSON. Ada is 36.\n</think>\n```json\n{\"name\": \"Ada Lovelace\", \"age\": 36}\n```",
        )
        .usage(120, 40)
        .groq(),
    );
    // Call 2: rate limited first, then an answer that violates the schema, then a good one.
    server.push(wire::rate_limited_ms(300));
    server.push(
        wire::Completion::new(
            upstream,
            "{\"name\": \"Alan Turing\", \"age\": \"forty-one\"}",
        )
        .usage(130, 20)
        .groq(),
    );
    server.push(
        wire::Completion::new(upstream, "{\"name\": \"Alan Turing\", \"age\": 41}")
            .usage(180, 15)
            .groq(),
    );
}

fn model_argument() -> Option<String> {
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        if arg == "--model" {
            return args.next();
        }
        if let Some(model) = arg.strip_prefix("--model=") {
            return Some(model.to_owned());
        }
    }
    None
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn Error>> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "error".into()),
        )
        .init();

    let (elelem, model, _server) = match model_argument() {
        Some(model) => {
            println!("Calling the real provider for {model}.");
            (Elelem::new()?, model, None)
        }
        None => {
            println!("No --model given: running offline against Elelem's test server.");
            let server = TestServer::start().await?;
            script_flaky_provider(&server);
            let elelem = Elelem::builder()
                .without_env_keys()
                .api_key("groq", "gsk-offline-demo")
                .base_url("groq", server.url())
                .retry_policy(Arc::new(
                    DefaultRetryPolicy::default()
                        .rate_limit_backoff(vec![Duration::from_millis(300)]),
                ))
                .build()?;
            (elelem, MODEL.to_owned(), Some(server))
        }
    };

    for person in ["Ada Lovelace died at 36", "Alan Turing died at 41"] {
        let response = elelem
            .create_chat_completion(request(&model, person))
            .await?;
        println!("\n{person}");
        println!("  content:   {}", response.content().unwrap_or_default());
        if let Some(reasoning) = &response.elelem.reasoning {
            println!("  reasoning: {reasoning}");
        }
        println!(
            "  attempts:  {}, answered by {}, cost {}",
            response.elelem.attempts, response.elelem.answered_by, response.elelem.cost
        );
    }

    let stats = elelem.get_stats_by_tag("quickstart");
    println!("\nStats for tag \"quickstart\":");
    println!("{}", serde_json::to_string_pretty(&stats)?);
    println!("Exact total cost: {}", stats.total_cost_usd);
    Ok(())
}
