//! The [`Elelem`] client.

use std::future::Future;
use std::sync::Arc;

use super::builder::ElelemBuilder;
pub(crate) use super::parts::ProviderSlot;
use super::parts::{Accounting, Policy, Providers};
use crate::cache::Cache;
use crate::catalogue::Catalogue;
use crate::cost::{Stats, StatsQuery};
use crate::error::ElelemError;
use crate::presets::Presets;
use crate::types::{ChatCompletion, ChatRequest, ModelInfo, ModelList};

/// Everything a client holds, by concern (see [`super::parts`]); clones of an
/// [`Elelem`] share it.
#[derive(Debug)]
pub(crate) struct Inner {
    pub catalogue: Catalogue,
    pub providers: Providers,
    pub policy: Policy,
    pub accounting: Accounting,
    /// Provider cool-downs and rate limits, consulted before every attempt.
    pub gate: Arc<super::gate::ProviderGate>,
    /// The response cache, when on.
    pub cache: Option<Arc<dyn Cache>>,
    pub presets: Presets,
}

/// One API over many LLM providers: JSON that validates, and exact costs.
///
/// Cloning is cheap and clones share everything (providers, stats, caches).
///
/// ```no_run
/// # async fn demo() -> Result<(), elelem_core::ElelemError> {
/// use elelem_core::{ChatRequest, Elelem, Message, ResponseFormat};
/// let elelem = Elelem::new()?;
/// let request = ChatRequest::new("groq:openai/gpt-oss-20b", vec![Message::user("A JSON greeting")])
///     .response_format(ResponseFormat::JsonObject)
///     .tags(["demo"]);
/// let response = elelem.create_chat_completion(request).await?;
/// println!("{:?} cost {}", response.content(), response.elelem.cost);
/// println!("{}", serde_json::to_string_pretty(&elelem.get_stats_by_tag("demo")).unwrap());
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct Elelem {
    pub(crate) inner: Arc<Inner>,
}

impl Elelem {
    /// A client with every linked provider, keys from `{PROVIDER}_API_KEY`.
    ///
    /// ```
    /// let elelem = elelem_core::Elelem::new().unwrap();
    /// assert_eq!(elelem.get_stats().total_calls, 0);
    /// ```
    pub fn new() -> Result<Elelem, ElelemError> {
        ElelemBuilder::default().build()
    }

    /// A builder for a configured client.
    ///
    /// ```
    /// let elelem = elelem_core::Elelem::builder().api_key("openai", "sk-test").build().unwrap();
    /// # let _ = elelem;
    /// ```
    pub fn builder() -> ElelemBuilder {
        ElelemBuilder::default()
    }

    /// Sends a chat completion through the pipeline: parameter clean-up, JSON
    /// instructions, retries, think-tag removal, JSON extraction and validation,
    /// fallback, and cost recording.
    ///
    /// The pipeline's own future, with no `async` layer around it: nothing runs
    /// until it is awaited.
    pub fn create_chat_completion(
        &self,
        request: ChatRequest,
    ) -> impl Future<Output = Result<ChatCompletion, ElelemError>> + Send + '_ {
        super::call::run(&self.inner, request)
    }

    /// Streams a chat completion: chunks in OpenAI's `chat.completion.chunk` shape,
    /// think blocks moved to `reasoning_content`, usage recorded once at the end.
    /// Rate limits and connection failures before the first chunk are retried as in
    /// a normal call; later failures end the stream with an error item.
    ///
    /// ```no_run
    /// # async fn demo(elelem: elelem_core::Elelem) -> Result<(), elelem_core::ElelemError> {
    /// use elelem_core::{ChatRequest, Message};
    /// let stream = elelem
    ///     .stream_chat_completion(ChatRequest::new("openai:gpt-4.1-mini", vec![Message::user("Hi")]))
    ///     .await?;
    /// let completion = stream.collect_completion().await?;
    /// println!("{:?}", completion.content());
    /// # Ok(()) }
    /// ```
    pub async fn stream_chat_completion(
        &self,
        request: ChatRequest,
    ) -> Result<super::stream::ChatStream, ElelemError> {
        super::stream::open(&self.inner, request).await
    }

    /// Sends a legacy completion (`/v1/completions`: a prompt in, text out), with
    /// the same retries on provider failures and the same cost accounting.
    ///
    /// ```no_run
    /// # async fn demo(elelem: elelem_core::Elelem) -> Result<(), elelem_core::ElelemError> {
    /// let done = elelem
    ///     .create_completion(elelem_core::CompletionRequest::new("openai:gpt-4.1-mini", "Say hi"))
    ///     .await?;
    /// println!("{}", done.choices[0].text);
    /// # Ok(()) }
    /// ```
    pub async fn create_completion(
        &self,
        request: crate::types::CompletionRequest,
    ) -> Result<crate::types::TextCompletion, ElelemError> {
        super::legacy::complete(&self.inner, request).await
    }

    /// Sends a request to the OpenAI Responses API (`POST /responses`) of a
    /// model whose catalogue entry has `responses = true` (OpenAI, xAI): the
    /// same retries, budgets and exact cost by tag as a chat call; with a JSON
    /// `text.format` the answer is parsed and validated, with the same retry
    /// ladder. Other models are refused before anything is sent.
    ///
    /// ```no_run
    /// # async fn demo(elelem: elelem_core::Elelem) -> Result<(), elelem_core::ElelemError> {
    /// use elelem_core::ResponseRequest;
    /// let first = elelem
    ///     .create_response(ResponseRequest::new("openai:gpt-4.1-mini", "Pick a colour").store(true))
    ///     .await?;
    /// let next = elelem
    ///     .create_response(ResponseRequest::new("openai:gpt-4.1-mini", "Why that one?").previous_response_id(&first.id))
    ///     .await?;
    /// println!("{} (cost {})", next.output_text(), next.elelem.cost);
    /// # Ok(()) }
    /// ```
    pub async fn create_response(
        &self,
        request: crate::types::ResponseRequest,
    ) -> Result<crate::types::Response, ElelemError> {
        super::responses::create(&self.inner, request).await
    }

    /// Streams a Responses API request: its typed events
    /// (`response.output_text.delta`, ..., `response.completed`) as they come,
    /// usage recorded once from `response.completed`. Failures before the first
    /// event are retried as for a plain call.
    ///
    /// ```no_run
    /// # async fn demo(elelem: elelem_core::Elelem) -> Result<(), elelem_core::ElelemError> {
    /// use elelem_core::{ResponseEvent, ResponseRequest};
    /// use futures_util::StreamExt;
    /// let mut stream = elelem.stream_response(ResponseRequest::new("openai:gpt-4.1-mini", "Hi")).await?;
    /// while let Some(event) = stream.next().await {
    ///     if let ResponseEvent::OutputTextDelta { delta, .. } = event? {
    ///         print!("{delta}");
    ///     }
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn stream_response(
        &self,
        request: crate::types::ResponseRequest,
    ) -> Result<super::responses_stream::ResponseStream, ElelemError> {
        super::responses_stream::open(&self.inner, request).await
    }

    /// Embeds one text or many (`/v1/embeddings`, Ollama's `/api/embed`,
    /// Gemini's `batchEmbedContents`), answered in OpenAI's shape. Inputs above
    /// the model's per-request limits are sent in several requests and
    /// re-assembled in input order; each request has the retries, budgets and
    /// cost accounting (input tokens only, by tag) of a chat call. Identical
    /// requests are answered from the response cache when it is on.
    ///
    /// ```no_run
    /// # async fn demo(elelem: elelem_core::Elelem) -> Result<(), elelem_core::ElelemError> {
    /// use elelem_core::EmbeddingRequest;
    /// let request = EmbeddingRequest::new("openai:text-embedding-3-small", vec!["a cat", "a dog"])
    ///     .tags(["search"]);
    /// let response = elelem.create_embeddings(request).await?;
    /// println!("{} vectors, cost {}", response.data.len(), response.elelem.cost);
    /// # Ok(()) }
    /// ```
    pub async fn create_embeddings(
        &self,
        request: crate::types::EmbeddingRequest,
    ) -> Result<crate::types::EmbeddingResponse, ElelemError> {
        super::embeddings::create(&self.inner, request).await
    }

    /// The catalogue's models merged with what each provider serves right now
    /// (`GET /models`), for servers such as vLLM whose models are not catalogued.
    /// Providers that cannot be reached or cannot list contribute their catalogue
    /// entries only.
    ///
    /// ```no_run
    /// # async fn demo(elelem: elelem_core::Elelem) {
    /// for model in elelem.list_models_live().await.data {
    ///     println!("{} available={}", model.id, model.available);
    /// }
    /// # }
    /// ```
    pub async fn list_models_live(&self) -> ModelList {
        super::legacy::list_live(&self.inner, self.list_models()).await
    }

    /// Every budget's spend and reservations in its current window, in the order
    /// they were added (empty, with a warning logged, when the budget store
    /// cannot answer: [`try_budget_status`](Self::try_budget_status) says why).
    ///
    /// ```
    /// use elelem_core::{budget::Budget, Elelem};
    /// let elelem = Elelem::builder().budget(Budget::new("1".parse().unwrap())).build().unwrap();
    /// assert!(elelem.budget_status()[0].reserved.is_zero());
    /// ```
    pub fn budget_status(&self) -> Vec<crate::budget::BudgetStatus> {
        match self.try_budget_status() {
            Ok(status) => status,
            Err(error) => {
                tracing::warn!(%error, "budget status unavailable");
                Vec::new()
            }
        }
    }

    /// Every budget's spend and reservations in its current window, or why the
    /// budget store could not answer. With a shared store
    /// ([`ElelemBuilder::budget_store`](crate::ElelemBuilder::budget_store)) this
    /// is one round trip to it, blocking the calling thread; the accounts include
    /// every process's spend.
    ///
    /// ```
    /// use elelem_core::{budget::Budget, Elelem};
    /// let elelem = Elelem::builder().budget(Budget::new("1".parse().unwrap())).build().unwrap();
    /// assert!(elelem.try_budget_status().unwrap()[0].spent.is_zero());
    /// ```
    pub fn try_budget_status(&self) -> Result<Vec<crate::budget::BudgetStatus>, ElelemError> {
        self.inner.accounting.budgets.status()
    }

    /// Totals over every call.
    pub fn get_stats(&self) -> Stats {
        let sink = &self.inner.accounting.sink;
        sink.stats(&StatsQuery::All).unwrap_or_default()
    }

    /// Totals over the calls tagged `tag` (all zeros for an unknown tag).
    pub fn get_stats_by_tag(&self, tag: &str) -> Stats {
        self.inner
            .accounting
            .sink
            .stats(&StatsQuery::Tag(tag.to_owned()))
            .unwrap_or_default()
    }

    /// Every catalogued model in OpenAI's list shape; `available` says whether its
    /// provider can be called (plugin linked and key set).
    pub fn list_models(&self) -> ModelList {
        let data = self
            .inner
            .catalogue
            .models()
            .map(|model| ModelInfo {
                id: model.id.clone(),
                object: "model".into(),
                created: 1_677_610_602,
                owned_by: model.provider.clone(),
                available: matches!(
                    self.inner.providers.get(&model.provider),
                    Some(ProviderSlot::Ready(_))
                ),
            })
            .collect();
        ModelList {
            object: "list".into(),
            data,
        }
    }

    /// The catalogue in use.
    pub fn catalogue(&self) -> &Catalogue {
        &self.inner.catalogue
    }
}
