//! The *plan* step: everything decided before the first attempt is sent, built
//! by one constructor for every entry point (chat, stream, legacy completion).

use std::collections::VecDeque;
use std::sync::atomic::Ordering;
use std::sync::{Arc, OnceLock};

use jsonschema::Validator;
use tracing::Instrument;

use super::record::Ledger;
use crate::budget::prompt_bound;
use crate::catalogue::{is_virtual, split_model_id, ModelEntry, VirtualModel};
use crate::client::cached::CacheSlot;
use crate::client::candidates::Candidates;
use crate::client::elelem::{Inner, ProviderSlot};
use crate::client::prepare::{wire_body, AttemptParams};
use crate::client::spans;
use crate::error::ElelemError;
use crate::provider::{EscapedText, Provider, WireRequest};
use crate::tokens::{check_context_window, estimate_tokens};
use crate::types::{ChatCompletion, ChatRequest, Message};

/// The model an attempt goes to.
#[derive(Clone)]
pub(crate) struct Target {
    pub model: Arc<ModelEntry>,
    pub provider: Arc<dyn Provider>,
}

/// Which entry point a call came through.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Entry {
    /// `create_chat_completion`.
    Chat,
    /// `stream_chat_completion`.
    Stream,
    /// `create_completion` (legacy, no response cache, no virtual models).
    Completion,
    /// `create_response` and `stream_response` (the Responses API: no response
    /// cache, no virtual models, no fallbacks).
    Response,
    /// One batch of `create_embeddings` (no virtual models, no fallbacks, no
    /// context check of the batch as a whole: each input is checked on its own;
    /// the response cache is the whole call's, looked up before batching).
    Embedding,
}

/// A call, planned: see the module documentation.
pub(crate) struct CallPlan {
    pub request: ChatRequest,
    /// The JSON instruction added to the prompt, in JSON mode, with its JSON
    /// escape (written once per instruction, copied into every body).
    pub instruction: Option<Arc<EscapedText>>,
    pub validator: Option<Arc<Validator>>,
    /// The call id, tags and sink every record of the call goes to.
    pub ledger: Ledger,
    /// The models tried after the first one's JSON ladder fails, in order.
    pub fallbacks: Fallbacks,
    /// For a virtual model, its candidates (then `fallbacks` is empty).
    pub candidates: Option<Candidates>,
    /// The call's span.
    pub span: tracing::Span,
    /// The call's place in the response cache.
    pub cache: Option<CacheSlot>,
    /// The prompt estimate for the current target, shared by the context check,
    /// the gate and the budget.
    pub estimate: PromptEstimate,
}

impl CallPlan {
    /// Plans `request`: validates it, resolves its first target (or a virtual
    /// model's first usable candidate), compiles its schema, checks vision and the
    /// context window, finds its fallbacks, and opens its span.
    pub fn new(
        inner: &Inner,
        request: ChatRequest,
        entry: Entry,
    ) -> Result<(CallPlan, Target), ElelemError> {
        if request.messages.is_empty() {
            return Err(ElelemError::InvalidRequest {
                reason: "the request has no messages; add at least one Message".into(),
            });
        }
        let validator = validator_of(inner, &request)?;
        let instruction = request
            .is_json_mode()
            .then(|| inner.policy.instructions.instruction(&request));
        let text = instruction.as_deref().map(EscapedText::text);
        let estimate = PromptEstimate::default();
        let (first, fallbacks, candidates) =
            if is_virtual(&request.model) && matches!(entry, Entry::Chat | Entry::Stream) {
                let virtual_model = virtual_model(inner, &request.model)?;
                let (candidates, first) = Candidates::start(inner, &request, text, virtual_model)?;
                (first, Fallbacks::default(), Some(candidates))
            } else {
                let first = target(inner, &request.model)?;
                check_vision(&request, &first.model)?;
                if inner.policy.context_check && entry != Entry::Embedding {
                    check_context_window(
                        &first.model,
                        &request.messages,
                        text,
                        request.max_tokens,
                        || estimate.tokens(&first.model, &request.messages, text),
                    )?;
                }
                let fallbacks = match entry {
                    Entry::Chat => fallbacks_of(inner, &request, &first.model)?,
                    Entry::Stream | Entry::Completion | Entry::Response | Entry::Embedding => {
                        Fallbacks::default()
                    }
                };
                (first, fallbacks, None)
            };
        let call_id = inner
            .accounting
            .next_call_id
            .fetch_add(1, Ordering::Relaxed);
        let span = match entry {
            Entry::Chat => spans::chat(call_id, &request.model, &first.model),
            Entry::Stream => spans::stream(call_id, &request.model, &first.model),
            Entry::Completion => spans::completion(call_id, &request.model, &first.model),
            Entry::Response => spans::response(call_id, &request.model, &first.model),
            Entry::Embedding => spans::embeddings(call_id, &request.model, &first.model),
        };
        spans::record_request(&span, request.temperature, request.max_tokens);
        let cache = match entry {
            Entry::Completion | Entry::Response | Entry::Embedding => None,
            Entry::Chat | Entry::Stream => CacheSlot::new(inner, &request, &first.model, text),
        };
        let ledger = Ledger {
            sink: inner.accounting.sink.clone(),
            call_id,
            tags: shared_tags(&request.tags),
        };
        let plan = CallPlan {
            request,
            instruction,
            validator,
            ledger,
            fallbacks,
            candidates,
            span,
            cache,
            estimate,
        };
        Ok((plan, first))
    }

    /// The answer the response cache holds for this call (validated again against
    /// its schema and checks), looked up inside the call's span; `None` on a miss or
    /// when the call does not use the cache.
    pub async fn cached_answer(&self, inner: &Inner, first: &Target) -> Option<ChatCompletion> {
        let cache = self.cache.as_ref()?;
        let lookup = cache.lookup(
            inner,
            &self.request,
            &first.model,
            self.validator.as_deref(),
            self.ledger.call_id,
        );
        lookup.instrument(self.span.clone()).await
    }

    /// The chat body of one attempt to `target` with `params` (see
    /// [`wire_body`]), knowing the escape of the instruction it holds.
    pub fn chat_body(&self, inner: &Inner, target: &Target, params: &AttemptParams) -> WireRequest {
        let mut body = wire_body(
            &self.request,
            self.instruction_text(),
            inner.catalogue.provider(&target.model.provider),
            &target.model,
            params,
        );
        if let Some(instruction) = &self.instruction {
            body.set_known_suffix(Arc::clone(instruction));
        }
        body
    }

    /// The JSON instruction's text, in JSON mode.
    pub fn instruction_text(&self) -> Option<&str> {
        self.instruction.as_deref().map(EscapedText::text)
    }

    /// The temperature a model is first sent (none when it takes none).
    pub fn initial_temperature(&self, model: &ModelEntry) -> Option<f64> {
        self.request
            .temperature
            .filter(|_| model.capabilities.temperature)
    }

    /// The estimated prompt tokens of an attempt to `target` with `params`: the
    /// plan's shared estimate, or (with JSON feedback) the prompt with it.
    pub fn prompt_tokens(&self, target: &Target, params: &AttemptParams) -> u64 {
        let instruction = self.instruction_text();
        match self.with_feedback(params) {
            None => self
                .estimate
                .tokens(&target.model, &self.request.messages, instruction),
            Some(messages) => prompt_estimate(&target.model, &messages, instruction),
        }
    }

    /// The most tokens the prompt of an attempt to `target` with `params` can be
    /// billed as (what a budget reserves for it; see [`prompt_bound`]).
    pub fn prompt_bound(&self, target: &Target, params: &AttemptParams) -> u64 {
        let messages = self.with_feedback(params);
        let messages = messages.as_deref().unwrap_or(&self.request.messages);
        let instruction = self.instruction_text();
        prompt_bound(&target.model, messages, instruction, &self.request.extra)
    }

    /// The request's messages followed by the rejected answer and its feedback,
    /// when the attempt carries JSON feedback.
    fn with_feedback(&self, params: &AttemptParams) -> Option<Vec<Message>> {
        let (answer, feedback) = params.feedback.as_ref()?;
        let mut messages = self.request.messages.clone();
        messages.push(Message::assistant(answer.clone()));
        messages.push(Message::user(feedback.clone()));
        Some(messages)
    }
}

/// The fallback models of a call, in order. The first is held inline: a call
/// has one fallback at most unless it names several, so the usual plan
/// allocates nothing for them (a `VecDeque` of one was an allocation and a free
/// on every call).
#[derive(Default)]
pub(crate) struct Fallbacks {
    /// The next fallback; `None` only when `rest` is empty too.
    next: Option<Target>,
    /// Those after it.
    rest: VecDeque<Target>,
}

impl Fallbacks {
    /// Whether no fallback is left.
    pub fn is_empty(&self) -> bool {
        self.next.is_none()
    }

    /// Takes the next fallback.
    pub fn pop_front(&mut self) -> Option<Target> {
        let next = self.next.take();
        self.next = self.rest.pop_front();
        next
    }
}

impl FromIterator<Target> for Fallbacks {
    fn from_iter<I: IntoIterator<Item = Target>>(targets: I) -> Self {
        let mut targets = targets.into_iter();
        Fallbacks {
            next: targets.next(),
            rest: targets.collect(),
        }
    }
}

/// The call's tags as its records share them. Untagged calls (the usual case)
/// share one empty list: `Arc::from` an empty `Vec` still allocates its counts,
/// on every call. Tagged ones are copied once, straight into the `Arc`.
fn shared_tags(tags: &[String]) -> Arc<[String]> {
    static NONE: std::sync::LazyLock<Arc<[String]>> =
        std::sync::LazyLock::new(|| Arc::from(Vec::new()));
    if tags.is_empty() {
        Arc::clone(&NONE)
    } else {
        Arc::from(tags)
    }
}

/// A prompt's estimated tokens for one model, computed at most once.
#[derive(Debug, Default)]
pub(crate) struct PromptEstimate {
    /// The model id it was computed for, and the estimate.
    cell: OnceLock<(String, u64)>,
}

impl PromptEstimate {
    /// The estimate of `messages` and `instruction` for `model`, computed on
    /// first use (a later model gets its own, not kept).
    pub fn tokens(
        &self,
        model: &ModelEntry,
        messages: &[Message],
        instruction: Option<&str>,
    ) -> u64 {
        let (id, tokens) = self.cell.get_or_init(|| {
            (
                model.id.clone(),
                prompt_estimate(model, messages, instruction),
            )
        });
        if *id == model.id {
            *tokens
        } else {
            prompt_estimate(model, messages, instruction)
        }
    }

    /// Forgets the estimate (the call moved to another model).
    pub fn reset(&mut self) {
        self.cell = OnceLock::new();
    }
}

/// The estimated prompt tokens of `messages` with the JSON `instruction` (as a
/// system message) for `model`.
pub(crate) fn prompt_estimate(
    model: &ModelEntry,
    messages: &[Message],
    instruction: Option<&str>,
) -> u64 {
    match instruction {
        None => estimate_tokens(messages, model).tokens,
        Some(instruction) => {
            let all: Vec<Message> = messages
                .iter()
                .cloned()
                .chain([Message::system(instruction)])
                .collect();
            estimate_tokens(&all, model).tokens
        }
    }
}

/// Finds a model and a ready provider for a `provider:model` id: as it was
/// found before, or resolved now (and kept for the next call).
pub(crate) fn target(inner: &Inner, id: &str) -> Result<Target, ElelemError> {
    if let Some(known) = inner.providers.resolved.get(id) {
        return Ok(known);
    }
    let found = resolve(inner, id)?;
    inner.providers.resolved.keep(id, &found);
    Ok(found)
}

/// [`target`] resolved from the catalogue and the provider slots.
fn resolve(inner: &Inner, id: &str) -> Result<Target, ElelemError> {
    if is_virtual(id) {
        return Err(ElelemError::InvalidRequest {
            reason: format!(
                "{id} is a virtual model, which only chat completions take (create_chat_completion, stream_chat_completion, generate); name one of its candidates here"
            ),
        });
    }
    let (provider_name, _) = split_model_id(id)?;
    let slot = inner
        .providers
        .get(provider_name)
        .ok_or_else(|| ElelemError::UnknownProvider {
            provider: provider_name.to_owned(),
            known: inner.providers.names(),
        })?;
    // A model the catalogue does not list is allowed on providers with
    // `allow_unknown_models` (no price: its cost is recorded as unknown).
    // A variant the model cannot take (`?reasoning=` on a model that does not
    // reason) is refused with its reason, not as an unknown model.
    inner.catalogue.variant(id)?;
    let model = inner
        .catalogue
        .callable(id)
        .ok_or_else(|| ElelemError::UnknownModel {
            model: id.to_owned(),
            provider: provider_name.to_owned(),
            known: inner.catalogue.model_ids_of(provider_name),
        })?;
    match slot {
        ProviderSlot::Ready(provider) => Ok(Target {
            model,
            provider: provider.clone(),
        }),
        ProviderSlot::MissingKey { env_var } => Err(ElelemError::MissingApiKey {
            provider: provider_name.to_owned(),
            env_var: env_var.clone(),
            key_file: inner.providers.key_file(provider_name),
        }),
        ProviderSlot::MissingCredentials { reason } => Err(ElelemError::MissingCredentials {
            provider: provider_name.to_owned(),
            reason: reason.clone(),
        }),
    }
}

/// Refuses images for a model whose catalogue entry lacks vision, before any call.
pub(crate) fn check_vision(request: &ChatRequest, model: &ModelEntry) -> Result<(), ElelemError> {
    crate::sampling::check_request(request, model)?;
    if model.capabilities.vision || !request.messages.iter().any(Message::has_image) {
        return Ok(());
    }
    Err(ElelemError::InvalidRequest {
        reason: format!(
            "{} does not accept images (its catalogue entry has no vision); pick a vision model or send text only",
            model.id
        ),
    })
}

/// The models tried after the first one's JSON ladder fails: the request's own
/// `fallback_models` (each must be callable), else the provider's fallback model.
fn fallbacks_of(
    inner: &Inner,
    request: &ChatRequest,
    first: &ModelEntry,
) -> Result<Fallbacks, ElelemError> {
    if request.fallback_models.is_empty() {
        return Ok(fallback_of(inner, first).into_iter().collect());
    }
    request
        .fallback_models
        .iter()
        .filter(|id| **id != first.id)
        .map(|id| target(inner, id))
        .collect()
}

/// The fallback of `current`'s provider, when it exists, differs and is callable
/// (resolved once per provider: it was 1.2k instructions on every call).
fn fallback_of(inner: &Inner, current: &ModelEntry) -> Option<Target> {
    let provider = &current.provider;
    inner
        .providers
        .fallbacks
        .fallback(provider, &current.id, || {
            let id = inner.catalogue.provider(provider)?.fallback_model.clone()?;
            let fallback = target(inner, &id).ok()?;
            Some((id, fallback))
        })
}

/// The compiled validator of the request's schema, if it has one.
fn validator_of(
    inner: &Inner,
    request: &ChatRequest,
) -> Result<Option<Arc<Validator>>, ElelemError> {
    let compile = |schema: &serde_json::Value| {
        inner
            .policy
            .schemas
            .validator(schema)
            .map_err(|e| ElelemError::InvalidSchema { reason: e.reason })
    };
    // A prepared schema keeps its own (the request's schema is this one).
    match &request.json_schema {
        Some(prepared) => prepared.validator(compile).map(Some),
        None => request.validation_schema().map(compile).transpose(),
    }
}

/// The catalogue's virtual model `id`, or an error listing the known ones.
fn virtual_model<'a>(inner: &'a Inner, id: &str) -> Result<&'a VirtualModel, ElelemError> {
    inner.catalogue.virtual_model(id).ok_or_else(|| {
        let ids: Vec<&str> = inner
            .catalogue
            .virtual_models()
            .map(|v| v.id.as_str())
            .collect();
        ElelemError::UnknownModel {
            model: id.to_owned(),
            provider: "virtual".to_owned(),
            known: if ids.is_empty() {
                "none (define them under [[virtual_models]] in a models file)".to_owned()
            } else {
                ids.join(", ")
            },
        }
    })
}
