//! A provider written in user code, registered through `inventory`, and used by
//! model string like any built-in one.
//!
//! ```text
//! cargo run --example custom_provider
//! ```

use std::error::Error;
use std::sync::Arc;

use elelem::provider::{
    Provider, ProviderError, ProviderPlugin, ProviderResponse, ProviderSettings, WireRequest,
};
use elelem::{
    async_trait, ChatCompletion, ChatRequest, Elelem, ElelemError, Message, ResponseFormat, Role,
};
use serde_json::{json, Value};

/// The provider's catalogue: its endpoint, and one model with prices.
const CATALOGUE: &str = r#"
[provider]
name = "echo"
base_url = "memory://echo"

[[models]]
id = "echo:shout-1"
price = { input = "0.50", output = "1.50" }
capabilities = { json_mode = true }
"#;

/// Answers with a JSON object holding the last user message in capitals.
#[derive(Debug)]
struct Shout;

#[async_trait]
impl Provider for Shout {
    async fn chat_completion(
        &self,
        request: WireRequest,
    ) -> Result<ProviderResponse, ProviderError> {
        // The request is typed: messages are `Message`s with a `Role`.
        let last_user = request
            .messages
            .iter()
            .rev()
            .find(|m| m.role == Role::User)
            .map(Message::text)
            .unwrap_or_default();
        let last_user = last_user.as_str();
        let content = json!({"shout": last_user.to_uppercase()}).to_string();
        let words = |text: &str| text.split_whitespace().count() as u64;
        let body: Value = json!({
            "id": "echo-1",
            "object": "chat.completion",
            "created": 0,
            "model": request.model,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": words(last_user), "completion_tokens": words(&content), "total_tokens": words(last_user) + words(&content)}
        });
        let completion: ChatCompletion = serde_json::from_value(body)
            .map_err(|e| ProviderError::invalid_body("echo", e.to_string(), ""))?;
        Ok(ProviderResponse::new(completion))
    }
}

fn build(_settings: ProviderSettings) -> Result<Arc<dyn Provider>, ElelemError> {
    Ok(Arc::new(Shout))
}

elelem::inventory::submit! {
    ProviderPlugin { name: "echo", catalogue: CATALOGUE, build }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn Error>> {
    let elelem = Elelem::new()?;
    let request = ChatRequest::new("echo:shout-1", vec![Message::user("hello from user code")])
        .response_format(ResponseFormat::JsonObject)
        .tags(["custom"]);
    let response = elelem.create_chat_completion(request).await?;
    println!("content: {}", response.content().unwrap_or_default());
    println!("parsed:  {}", response.elelem.json.unwrap_or_default());
    println!("cost:    {}", response.elelem.cost);
    let listed = elelem
        .list_models()
        .data
        .into_iter()
        .any(|m| m.id == "echo:shout-1" && m.available);
    println!("listed and available: {listed}");
    Ok(())
}
