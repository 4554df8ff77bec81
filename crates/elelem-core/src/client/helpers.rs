//! One-line helpers over the full pipeline: a prompt in, text or JSON out.
//!
//! Each builds a [`ChatRequest`] and sends it through
//! [`Elelem::create_chat_completion`] (or the stream), so retries, JSON
//! validation, fallbacks, budgets and cost accounting apply as to any call.

use serde_json::Value;

use super::elelem::Elelem;
use super::text_stream::TextStream;
use crate::error::ElelemError;
use crate::types::{ChatRequest, Message, ResponseFormat};

/// The request behind [`Elelem::chat_with_system`].
pub(crate) fn system_request(
    model: impl Into<String>,
    system: impl Into<String>,
    prompt: impl Into<String>,
) -> ChatRequest {
    ChatRequest::new(
        model,
        vec![Message::system(system.into()), Message::user(prompt.into())],
    )
}

/// The request behind [`Elelem::json`]: JSON mode, the schema enforced locally,
/// and sent natively as a `json_schema` response format where the model takes one.
pub(crate) fn json_request(
    model: impl Into<String>,
    prompt: impl Into<String>,
    schema: Value,
) -> ChatRequest {
    ChatRequest::new(model, vec![Message::user(prompt.into())])
        .response_format(ResponseFormat::JsonSchema {
            name: "answer".into(),
            schema: schema.clone(),
            strict: None,
        })
        .json_schema(schema)
}

impl Elelem {
    /// Sends one user message and returns the answer's text (reasoning and
    /// `<think>` blocks removed; empty when the model answered with no text).
    ///
    /// ```no_run
    /// # async fn demo(elelem: elelem_core::Elelem) -> Result<(), elelem_core::ElelemError> {
    /// let answer = elelem.chat("groq:openai/gpt-oss-20b", "Name a prime above 10").await?;
    /// println!("{answer}");
    /// # Ok(()) }
    /// ```
    pub async fn chat(
        &self,
        model: impl Into<String>,
        prompt: impl Into<String>,
    ) -> Result<String, ElelemError> {
        let request = ChatRequest::new(model, vec![Message::user(prompt.into())]);
        self.chat_text(request).await
    }

    /// Sends a system message and a user message and returns the answer's text.
    ///
    /// ```no_run
    /// # async fn demo(elelem: elelem_core::Elelem) -> Result<(), elelem_core::ElelemError> {
    /// let answer = elelem
    ///     .chat_with_system("openai:gpt-4.1-mini", "Answer in French.", "Good morning")
    ///     .await?;
    /// println!("{answer}");
    /// # Ok(()) }
    /// ```
    pub async fn chat_with_system(
        &self,
        model: impl Into<String>,
        system: impl Into<String>,
        prompt: impl Into<String>,
    ) -> Result<String, ElelemError> {
        self.chat_text(system_request(model, system, prompt)).await
    }

    /// Sends one user message and returns the answer as JSON valid against
    /// `schema`: sent as a `json_schema` response format to models that take one,
    /// as instructions elsewhere, validated locally and retried with the problem
    /// fed back as in [`Elelem::generate_json`].
    ///
    /// ```no_run
    /// # async fn demo(elelem: elelem_core::Elelem) -> Result<(), elelem_core::ElelemError> {
    /// use serde_json::json;
    /// let schema = json!({
    ///     "type": "object",
    ///     "properties": {"city": {"type": "string"}},
    ///     "required": ["city"]
    /// });
    /// let value = elelem.json("groq:openai/gpt-oss-20b", "Where is the Louvre?", schema).await?;
    /// println!("{}", value["city"]);
    /// # Ok(()) }
    /// ```
    pub async fn json(
        &self,
        model: impl Into<String>,
        prompt: impl Into<String>,
        schema: Value,
    ) -> Result<Value, ElelemError> {
        self.generate_json(json_request(model, prompt, schema))
            .await
    }

    /// Streams a chat completion as plain text pieces: [`TextPiece::Answer`] for
    /// the answer, [`TextPiece::Reasoning`] for the reasoning, never mixed. The
    /// stream, its retries and its accounting are those of
    /// [`Elelem::stream_chat_completion`].
    ///
    /// [`TextPiece::Answer`]: crate::TextPiece::Answer
    /// [`TextPiece::Reasoning`]: crate::TextPiece::Reasoning
    ///
    /// ```no_run
    /// # async fn demo(elelem: elelem_core::Elelem) -> Result<(), elelem_core::ElelemError> {
    /// use elelem_core::{ChatRequest, Message, TextPiece};
    /// use futures_util::StreamExt;
    /// let request = ChatRequest::new("groq:openai/gpt-oss-20b", vec![Message::user("A haiku")]);
    /// let mut pieces = elelem.text_stream(request).await?;
    /// while let Some(piece) = pieces.next().await {
    ///     if let TextPiece::Answer(text) = piece? {
    ///         print!("{text}");
    ///     }
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn text_stream(&self, request: ChatRequest) -> Result<TextStream, ElelemError> {
        Ok(TextStream::new(self.stream_chat_completion(request).await?))
    }

    /// The answer's text of a request sent through the pipeline.
    async fn chat_text(&self, request: ChatRequest) -> Result<String, ElelemError> {
        let completion = self.create_chat_completion(request).await?;
        Ok(completion.content().unwrap_or_default().to_owned())
    }
}
