//! `elelem chat MODEL "prompt" [--system ..] [--json --schema FILE] [--stream]`.

use std::io::Write;
use std::path::PathBuf;

use elelem::{ChatRequest, Elelem, Message, ResponseFormat};
use futures_util::StreamExt;

use super::{dollars, one_line};

/// What `elelem chat` was asked.
#[derive(Debug, Clone)]
pub struct ChatArgs {
    /// `provider:model`, `virtual:...`.
    pub model: String,
    /// The user message.
    pub prompt: String,
    /// A system message.
    pub system: Option<String>,
    /// JSON mode.
    pub json: bool,
    /// A JSON schema file the answer must satisfy (implies JSON mode).
    pub schema: Option<PathBuf>,
    /// Print the answer as it arrives.
    pub stream: bool,
    /// Tags the cost is counted under.
    pub tags: Vec<String>,
}

impl ChatArgs {
    /// The request these arguments describe.
    ///
    /// ```
    /// let args = elelem_cli::commands::chat::ChatArgs {
    ///     model: "groq:openai/gpt-oss-20b".into(), prompt: "Hi".into(), system: Some("Be brief".into()),
    ///     json: true, schema: None, stream: false, tags: vec!["cli".into()],
    /// };
    /// let request = args.request().unwrap();
    /// assert_eq!(request.messages.len(), 2);
    /// assert!(request.is_json_mode());
    /// ```
    pub fn request(&self) -> Result<ChatRequest, String> {
        let mut messages = Vec::new();
        if let Some(system) = &self.system {
            messages.push(Message::system(system.clone()));
        }
        messages.push(Message::user(self.prompt.clone()));
        let mut request = ChatRequest::new(self.model.clone(), messages).tags(self.tags.clone());
        if self.json || self.schema.is_some() {
            request = request.response_format(ResponseFormat::JsonObject);
        }
        if let Some(path) = &self.schema {
            let text = std::fs::read_to_string(path).map_err(|e| {
                format!(
                    "cannot read the schema file {}: {e}; check the path given to --schema",
                    path.display()
                )
            })?;
            let schema: serde_json::Value = serde_json::from_str(&text).map_err(|e| {
                format!(
                    "the schema file {} is not JSON: {e}; give a JSON schema document",
                    path.display()
                )
            })?;
            request = request.json_schema(schema);
        }
        Ok(request)
    }
}

/// Runs the chat: the answer on stdout, the cost on stderr.
pub async fn run(elelem: &Elelem, args: &ChatArgs) -> Result<(), String> {
    let request = args.request()?;
    let mut out = std::io::stdout().lock();
    if args.stream {
        let mut stream = elelem
            .stream_chat_completion(request)
            .await
            .map_err(|e| one_line(&e.to_string()))?;
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|e| one_line(&e.to_string()))?;
            for choice in &chunk.choices {
                if let Some(text) = &choice.delta.content {
                    let _ = out.write_all(text.as_bytes());
                    let _ = out.flush();
                }
            }
        }
        let _ = writeln!(out);
        let summary = stream.summary();
        eprintln!(
            "cost {}, {} attempt(s), answered by {}",
            dollars(summary.cost),
            summary.attempts,
            summary.answered_by
        );
        return Ok(());
    }
    let completion = elelem
        .create_chat_completion(request)
        .await
        .map_err(|e| one_line(&e.to_string()))?;
    let text = match &completion.elelem.json {
        Some(json) => serde_json::to_string_pretty(json).unwrap_or_default(),
        None => completion.content().unwrap_or_default().to_owned(),
    };
    let _ = writeln!(out, "{text}");
    eprintln!(
        "cost {}, {} attempt(s), answered by {}",
        dollars(completion.elelem.cost),
        completion.elelem.attempts,
        completion.elelem.answered_by
    );
    Ok(())
}
