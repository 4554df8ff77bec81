//! The blocking client: the async [`elelem_core::Elelem`] driven on a runtime of
//! its own.

use std::sync::Arc;

use elelem_core::budget::BudgetStatus;
use elelem_core::catalogue::{Catalogue, ModelComparison, ModelQuery};
use elelem_core::schemars::JsonSchema;
use elelem_core::{
    ChatCompletion, ChatRequest, CompletionRequest, ElelemError, Generated, Message, ModelList,
    Stats, TextCompletion, TokenEstimate,
};
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::builder::ElelemBuilder;
use super::runtime::{OwnedRuntime, DEFAULT_WORKER_THREADS};
use super::stream::{BlockingStream, ChatStream, TextStream};

/// The Elelem client for code without an async runtime: every method of the async
/// [`elelem_core::Elelem`] that sends something, as a plain call that waits for
/// the answer, with the same pipeline (retries, JSON validation, fallbacks,
/// budgets, cache, cost accounting). Like `reqwest::blocking`, it owns a Tokio
/// runtime and works from any thread; clones share the client, its stats and its
/// runtime, so one client can serve many threads.
///
/// Called inside an async runtime it returns
/// [`ElelemError::BlockingInAsyncContext`] instead of stalling (or panicking):
/// use the async client there.
///
/// ```no_run
/// # fn demo() -> Result<(), elelem::ElelemError> {
/// use elelem::{ChatRequest, Message};
/// let elelem = elelem::blocking::Elelem::new()?; // keys from GROQ_API_KEY, ...
/// println!("{}", elelem.chat("groq:openai/gpt-oss-20b", "Name a prime above 10")?);
/// let request = ChatRequest::new("groq:openai/gpt-oss-20b", vec![Message::user("Hi")]).tags(["demo"]);
/// let response = elelem.create_chat_completion(request)?;
/// println!("{:?} cost {}", response.content(), response.elelem.cost);
/// println!("{:?}", elelem.get_stats_by_tag("demo").total_cost_usd);
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct Elelem {
    client: elelem_core::Elelem,
    runtime: Arc<OwnedRuntime>,
}

impl Elelem {
    /// A client with every linked provider, keys from `{PROVIDER}_API_KEY`.
    ///
    /// ```
    /// let elelem = elelem::blocking::Elelem::new().unwrap();
    /// assert_eq!(elelem.get_stats().total_calls, 0);
    /// ```
    pub fn new() -> Result<Elelem, ElelemError> {
        ElelemBuilder::default().build()
    }

    /// A builder for a configured client (the async builder's settings, plus the
    /// runtime's size).
    ///
    /// ```
    /// let elelem = elelem::blocking::Elelem::builder()
    ///     .api_key("openai", "sk-test")
    ///     .without_env_keys()
    ///     .build()
    ///     .unwrap();
    /// # let _ = elelem;
    /// ```
    pub fn builder() -> ElelemBuilder {
        ElelemBuilder::default()
    }

    /// A blocking client over an async client built elsewhere; both share
    /// providers, stats, caches and budgets.
    ///
    /// ```
    /// let shared = elelem::Elelem::new().unwrap();
    /// let blocking = elelem::blocking::Elelem::from_async(shared.clone()).unwrap();
    /// assert_eq!(blocking.get_stats(), shared.get_stats());
    /// ```
    pub fn from_async(client: elelem_core::Elelem) -> Result<Elelem, ElelemError> {
        Ok(Elelem {
            client,
            runtime: Arc::new(OwnedRuntime::new(DEFAULT_WORKER_THREADS)?),
        })
    }

    pub(crate) fn with_runtime(client: elelem_core::Elelem, runtime: Arc<OwnedRuntime>) -> Elelem {
        Elelem { client, runtime }
    }

    /// The async client underneath (for anything not mirrored here).
    ///
    /// ```
    /// let elelem = elelem::blocking::Elelem::new().unwrap();
    /// assert!(elelem.as_async().provider_health().is_empty());
    /// ```
    pub fn as_async(&self) -> &elelem_core::Elelem {
        &self.client
    }

    /// Sends a chat completion through the pipeline and waits for the answer (see
    /// [`elelem_core::Elelem::create_chat_completion`]).
    pub fn create_chat_completion(
        &self,
        request: ChatRequest,
    ) -> Result<ChatCompletion, ElelemError> {
        self.runtime.block_on(
            "create_chat_completion",
            self.client.create_chat_completion(request),
        )?
    }

    /// Opens a streamed chat completion, read as an iterator of chunks (see
    /// [`ChatStream`]).
    pub fn stream_chat_completion(&self, request: ChatRequest) -> Result<ChatStream, ElelemError> {
        let stream = self.runtime.block_on(
            "stream_chat_completion",
            self.client.stream_chat_completion(request),
        )??;
        Ok(BlockingStream::new(
            stream,
            Arc::clone(&self.runtime),
            "stream_chat_completion",
        ))
    }

    /// Asks for an answer of type `T` (see [`elelem_core::Elelem::generate`]).
    ///
    /// ```no_run
    /// # fn demo(elelem: elelem::blocking::Elelem) -> Result<(), elelem::ElelemError> {
    /// use elelem::{ChatRequest, Message};
    /// #[derive(Debug, serde::Deserialize, schemars::JsonSchema)]
    /// struct City { name: String, country: String }
    /// let request = ChatRequest::new("openai:gpt-4.1-mini", vec![Message::user("The capital of Peru")]);
    /// let city = elelem.generate::<City>(request)?;
    /// println!("{:?} for {}", city.value, city.cost());
    /// # Ok(()) }
    /// ```
    pub fn generate<T>(&self, request: ChatRequest) -> Result<Generated<T>, ElelemError>
    where
        T: DeserializeOwned + JsonSchema + 'static,
    {
        self.runtime
            .block_on("generate", self.client.generate::<T>(request))?
    }

    /// Asks for a JSON answer and returns it parsed (see
    /// [`elelem_core::Elelem::generate_json`]).
    pub fn generate_json(&self, request: ChatRequest) -> Result<Value, ElelemError> {
        self.runtime
            .block_on("generate_json", self.client.generate_json(request))?
    }

    /// Sends a legacy completion (`/v1/completions`; see
    /// [`elelem_core::Elelem::create_completion`]).
    pub fn create_completion(
        &self,
        request: CompletionRequest,
    ) -> Result<TextCompletion, ElelemError> {
        self.runtime
            .block_on("create_completion", self.client.create_completion(request))?
    }

    /// Sends a Responses API request (`/v1/responses`; see
    /// [`elelem_core::Elelem::create_response`]).
    pub fn create_response(
        &self,
        request: elelem_core::ResponseRequest,
    ) -> Result<elelem_core::Response, ElelemError> {
        self.runtime
            .block_on("create_response", self.client.create_response(request))?
    }

    /// Embeds one text or many (see
    /// [`elelem_core::Elelem::create_embeddings`]).
    ///
    /// ```no_run
    /// # fn demo(elelem: elelem::blocking::Elelem) -> Result<(), elelem::ElelemError> {
    /// let request = elelem::EmbeddingRequest::new("openai:text-embedding-3-small", "a cat");
    /// let response = elelem.create_embeddings(request)?;
    /// println!("{} values", response.data[0].embedding.len());
    /// # Ok(()) }
    /// ```
    pub fn create_embeddings(
        &self,
        request: elelem_core::EmbeddingRequest,
    ) -> Result<elelem_core::EmbeddingResponse, ElelemError> {
        self.runtime
            .block_on("create_embeddings", self.client.create_embeddings(request))?
    }

    /// Sends one user message and returns the answer's text (see
    /// [`elelem_core::Elelem::chat`]).
    ///
    /// ```no_run
    /// # fn demo(elelem: elelem::blocking::Elelem) -> Result<(), elelem::ElelemError> {
    /// println!("{}", elelem.chat("groq:openai/gpt-oss-20b", "Name a prime above 10")?);
    /// # Ok(()) }
    /// ```
    pub fn chat(
        &self,
        model: impl Into<String>,
        prompt: impl Into<String>,
    ) -> Result<String, ElelemError> {
        self.runtime
            .block_on("chat", self.client.chat(model, prompt))?
    }

    /// Sends a system and a user message and returns the answer's text (see
    /// [`elelem_core::Elelem::chat_with_system`]).
    ///
    /// ```no_run
    /// # fn demo(elelem: elelem::blocking::Elelem) -> Result<(), elelem::ElelemError> {
    /// let answer = elelem.chat_with_system("openai:gpt-4.1-mini", "Answer in French.", "Good morning")?;
    /// # Ok(()) }
    /// ```
    pub fn chat_with_system(
        &self,
        model: impl Into<String>,
        system: impl Into<String>,
        prompt: impl Into<String>,
    ) -> Result<String, ElelemError> {
        self.runtime.block_on(
            "chat_with_system",
            self.client.chat_with_system(model, system, prompt),
        )?
    }

    /// Sends one user message and returns the answer as JSON valid against
    /// `schema` (see [`elelem_core::Elelem::json`]).
    ///
    /// ```no_run
    /// # fn demo(elelem: elelem::blocking::Elelem) -> Result<(), elelem::ElelemError> {
    /// let schema = serde_json::json!({"type": "object", "required": ["city"]});
    /// let value = elelem.json("groq:openai/gpt-oss-20b", "Where is the Louvre?", schema)?;
    /// println!("{}", value["city"]);
    /// # Ok(()) }
    /// ```
    pub fn json(
        &self,
        model: impl Into<String>,
        prompt: impl Into<String>,
        schema: Value,
    ) -> Result<Value, ElelemError> {
        self.runtime
            .block_on("json", self.client.json(model, prompt, schema))?
    }

    /// Streams a chat completion as plain text pieces, the reasoning kept apart
    /// (see [`TextStream`]).
    pub fn text_stream(&self, request: ChatRequest) -> Result<TextStream, ElelemError> {
        let stream = self
            .runtime
            .block_on("text_stream", self.client.text_stream(request))??;
        Ok(BlockingStream::new(
            stream,
            Arc::clone(&self.runtime),
            "text_stream",
        ))
    }

    /// The catalogue merged with what each provider serves now (see
    /// [`elelem_core::Elelem::list_models_live`]).
    pub fn list_models_live(&self) -> Result<ModelList, ElelemError> {
        self.runtime
            .block_on("list_models_live", self.client.list_models_live())
    }

    /// Every catalogued model in OpenAI's list shape, with availability.
    ///
    /// ```
    /// let elelem = elelem::blocking::Elelem::new().unwrap();
    /// assert_eq!(elelem.list_models().object, "list");
    /// ```
    pub fn list_models(&self) -> ModelList {
        self.client.list_models()
    }

    /// Totals over every call.
    pub fn get_stats(&self) -> Stats {
        self.client.get_stats()
    }

    /// What was measured per model (see [`elelem_core::Elelem::performance`]).
    pub fn performance(
        &self,
    ) -> std::collections::BTreeMap<String, elelem_core::routing::ModelPerformance> {
        self.client.performance()
    }

    /// Totals over the calls tagged `tag`.
    pub fn get_stats_by_tag(&self, tag: &str) -> Stats {
        self.client.get_stats_by_tag(tag)
    }

    /// Every budget's spend and reservations (see
    /// [`elelem_core::Elelem::budget_status`]).
    pub fn budget_status(&self) -> Vec<BudgetStatus> {
        self.client.budget_status()
    }

    /// Every budget's spend and reservations, or why the store could not answer.
    pub fn try_budget_status(&self) -> Result<Vec<BudgetStatus>, ElelemError> {
        self.client.try_budget_status()
    }

    /// A query over the catalogue's models (see [`elelem_core::Elelem::models`]).
    pub fn models(&self) -> ModelQuery<'_> {
        self.client.models()
    }

    /// Side-by-side facts about catalogued models.
    pub fn compare(&self, ids: &[&str]) -> Result<ModelComparison, ElelemError> {
        self.client.compare(ids)
    }

    /// A request made from a named preset.
    pub fn preset(&self, name: &str) -> Result<ChatRequest, ElelemError> {
        self.client.preset(name)
    }

    /// The estimated prompt tokens of `messages` for a catalogued model.
    pub fn estimate_tokens(
        &self,
        messages: &[Message],
        model: &str,
    ) -> Result<TokenEstimate, ElelemError> {
        self.client.estimate_tokens(messages, model)
    }

    /// The catalogue in use.
    pub fn catalogue(&self) -> &Catalogue {
        self.client.catalogue()
    }
}
