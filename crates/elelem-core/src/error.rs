//! The error type of every Elelem call.

use std::fmt;

use crate::provider::ProviderError;

/// Everything that can go wrong in Elelem. Each message says what happened and what
/// to do about it.
///
/// ```
/// let e = elelem_core::ElelemError::MissingApiKey {
///     provider: "groq".into(),
///     env_var: Some("GROQ_API_KEY".into()),
///     key_file: Some("/home/me/.config/elelem/keys/groq".into()),
/// };
/// assert!(e.to_string().contains("GROQ_API_KEY"));
/// assert!(e.to_string().contains("/home/me/.config/elelem/keys/groq"));
/// ```
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum ElelemError {
    /// The model string is not `provider:model`.
    #[error("malformed model string {input:?}: expected \"provider:model\", e.g. \"groq:openai/gpt-oss-20b\"")]
    MalformedModel {
        /// What was given.
        input: String,
    },
    /// No provider of that name is registered.
    #[error("unknown provider {provider:?}; known providers: {known}. Enable the provider's Cargo feature of the `elelem` crate, or register your own")]
    UnknownProvider {
        /// The provider asked for.
        provider: String,
        /// The registered providers, comma-separated.
        known: String,
    },
    /// The provider has no such model in the catalogue.
    #[error("unknown model {model:?}{}; known models of {provider}: {known}. Add it with a models file if it is new", crate::catalogue::did_you_mean_hint(model, known))]
    UnknownModel {
        /// The model string asked for.
        model: String,
        /// Its provider.
        provider: String,
        /// The provider's catalogued models, comma-separated.
        known: String,
    },
    /// The provider's API key is not set: not in code, not in the environment, not
    /// in a key file.
    #[error("no API key for {provider}: {}", missing_key_hint(provider, env_var.as_deref(), key_file.as_deref()))]
    MissingApiKey {
        /// The provider.
        provider: String,
        /// The environment variable to set.
        env_var: Option<String>,
        /// The key file that was looked for (`~/.config/elelem/keys/{provider}`).
        key_file: Option<std::path::PathBuf>,
    },
    /// A provider that finds its own credentials (Bedrock, Vertex, Azure) has
    /// none, or lacks a setting it needs: nothing was sent.
    ///
    /// ```
    /// let e = elelem_core::ElelemError::MissingCredentials {
    ///     provider: "bedrock".into(),
    ///     reason: "set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY".into(),
    /// };
    /// assert!(e.to_string().contains("AWS_ACCESS_KEY_ID"));
    /// ```
    #[error("{provider} is not configured, nothing was sent: {reason}")]
    MissingCredentials {
        /// The provider.
        provider: String,
        /// What is missing and what to set.
        reason: String,
    },
    /// The prompt plus the output token limit do not fit the model's context window
    /// (found before anything was sent).
    #[error("the request does not fit the context window of {model}: about {prompt_tokens} prompt tokens ({method}) + {} output tokens > {context_window}; shorten the messages, lower max_tokens, or pick a model with a larger window (elelem.models().min_context(...))", max_tokens.map_or_else(|| "0".to_owned(), |n| n.to_string()))]
    ContextWindowExceeded {
        /// The `provider:model` asked for.
        model: String,
        /// The estimated prompt tokens (JSON instructions included).
        prompt_tokens: u64,
        /// The request's output token limit.
        max_tokens: Option<u32>,
        /// The model's context window.
        context_window: u64,
        /// How the prompt was counted (`o200k_base`, `cl100k_base`, `approximate`).
        method: String,
    },
    /// No preset of that name.
    #[error("unknown preset {name:?}; known presets: {known}. Add it to the presets file or with elelem.update_preset(...)")]
    UnknownPreset {
        /// The name asked for.
        name: String,
        /// The known presets, comma-separated.
        known: String,
    },
    /// The request is unusable as given.
    #[error("invalid request: {reason}")]
    InvalidRequest {
        /// What is wrong.
        reason: String,
    },
    /// The JSON schema given for validation is not a valid schema.
    #[error("invalid JSON schema: {reason}")]
    InvalidSchema {
        /// What is wrong.
        reason: String,
    },
    /// A catalogue file could not be used.
    #[error("model catalogue {source_name}: {reason}")]
    Catalogue {
        /// The file or plugin the catalogue came from.
        source_name: String,
        /// What is wrong.
        reason: String,
    },
    /// The client configuration is unusable.
    #[error("invalid configuration: {reason}")]
    Config {
        /// What is wrong.
        reason: String,
    },
    /// The provider failed and the retry policy gave up.
    #[error("{model}: {error} (gave up after {} attempt(s))", attempts.len())]
    Provider {
        /// The `provider:model` of the last attempt.
        model: String,
        /// The last provider error.
        error: ProviderError,
        /// Every attempt's error, in order.
        attempts: Vec<AttemptError>,
    },
    /// A stream failed after its first chunk (nothing is retried once text has
    /// reached the caller).
    #[error("the stream from {model} broke after it started: {error}")]
    Stream {
        /// The `provider:model` streaming.
        model: String,
        /// What happened.
        error: ProviderError,
    },
    /// A budget would pass its limit if this attempt's worst case were reserved;
    /// the attempt was not sent. The details are boxed to keep the error small.
    #[error("{0}")]
    BudgetExceeded(Box<crate::budget::BudgetExceeded>),
    /// The budget store could not be asked (e.g. its database is down); the
    /// attempt was not sent rather than risk passing a budget.
    #[error("the budget could not be checked, so nothing was sent: {reason}")]
    BudgetStore {
        /// What failed, and what to do.
        reason: String,
    },
    /// The model never produced valid JSON, after every retry and fallback.
    #[error("no valid JSON from {model} after {} attempt(s); last problem: {}", attempts.len(), attempts.last().map(|a| a.problem.to_string()).unwrap_or_default())]
    InvalidJson {
        /// The `provider:model` of the last attempt.
        model: String,
        /// Every attempt's error, in order.
        attempts: Vec<AttemptError>,
    },
    /// Every candidate of a virtual model failed or was skipped.
    #[error("{model}: no candidate answered ({}); check the providers' status, or add candidates to the virtual model", candidates_summary(attempts, skipped))]
    CandidatesExhausted {
        /// The `virtual:name` asked for.
        model: String,
        /// Every attempt's error, in order, across candidates.
        attempts: Vec<AttemptError>,
        /// Candidates not tried, each with the reason (`groq:x: cooling down`).
        skipped: Vec<String>,
    },
    /// The model does not offer this kind of call (its catalogue entry lacks the
    /// capability); nothing was sent.
    #[error("{model} does not offer {operation}; {hint}")]
    OperationUnsupported {
        /// The `provider:model` asked for.
        model: String,
        /// The kind of call (`the Responses API`).
        operation: &'static str,
        /// What to do instead.
        hint: String,
    },
    /// A blocking call was made on a thread that runs an async runtime, where
    /// blocking would stall every task of that runtime.
    #[error("elelem::blocking::Elelem::{operation} was called inside an async runtime, where blocking would stall it; use the async elelem::Elelem there, or make the blocking call from a plain std::thread")]
    BlockingInAsyncContext {
        /// The blocking method that was called.
        operation: &'static str,
    },
}

fn candidates_summary(attempts: &[AttemptError], skipped: &[String]) -> String {
    let mut parts: Vec<String> = Vec::new();
    // The last problem of each candidate tried, in order.
    for (i, attempt) in attempts.iter().enumerate() {
        let last_of_model = attempts
            .get(i + 1)
            .is_none_or(|next| next.model != attempt.model);
        if last_of_model {
            parts.push(attempt.to_string());
        }
    }
    parts.extend(skipped.iter().map(|s| format!("skipped {s}")));
    if parts.is_empty() {
        "no candidate could be tried".to_owned()
    } else {
        parts.join("; ")
    }
}

fn missing_key_hint(
    provider: &str,
    env_var: Option<&str>,
    key_file: Option<&std::path::Path>,
) -> String {
    let mut places = vec![format!(
        "pass the key in code with Elelem::builder().api_key(\"{provider}\", key)"
    )];
    if let Some(var) = env_var {
        places.push(format!("set the environment variable {var}"));
    }
    match key_file {
        Some(file) => places.push(format!("write it to the key file {}", file.display())),
        None => places.push(format!(
            "write it to the key file ~/.config/elelem/keys/{provider}"
        )),
    }
    places.join(", or ")
}

impl ElelemError {
    /// The per-attempt errors of a call that was sent at least once.
    pub fn attempts(&self) -> &[AttemptError] {
        match self {
            ElelemError::Provider { attempts, .. }
            | ElelemError::InvalidJson { attempts, .. }
            | ElelemError::CandidatesExhausted { attempts, .. } => attempts,
            _ => &[],
        }
    }

    /// Whether retrying the whole call later may succeed.
    pub fn is_retryable(&self) -> bool {
        match self {
            ElelemError::Provider { error, .. } => error.is_retryable(),
            ElelemError::InvalidJson { .. } | ElelemError::CandidatesExhausted { .. } => true,
            _ => false,
        }
    }
}

/// What went wrong in one attempt of a call.
#[derive(Debug, Clone, PartialEq)]
pub struct AttemptError {
    /// The `provider:model` the attempt went to.
    pub model: String,
    /// The temperature it was sent with.
    pub temperature: Option<f64>,
    /// The problem.
    pub problem: AttemptProblem,
}

/// The problem of one failed attempt.
#[derive(Debug, Clone, PartialEq)]
pub enum AttemptProblem {
    /// The provider failed.
    Provider(ProviderError),
    /// The answer held no parseable JSON.
    JsonParse(String),
    /// The JSON did not satisfy the schema.
    Schema(Vec<String>),
    /// The JSON failed a check of the request (or could not be read as the type
    /// asked for); the check's message.
    Check(String),
    /// The answer was cut at the output limit (`finish_reason = length`); for a
    /// virtual model this moves the call to the next candidate.
    Truncated,
}

impl fmt::Display for AttemptProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AttemptProblem::Provider(error) => write!(f, "{error}"),
            AttemptProblem::JsonParse(reason) => write!(f, "answer is not JSON: {reason}"),
            AttemptProblem::Schema(errors) => {
                write!(f, "answer violates the schema: {}", errors.join("; "))
            }
            AttemptProblem::Check(message) => write!(f, "answer failed a check: {message}"),
            AttemptProblem::Truncated => write!(
                f,
                "answer cut at the output limit (finish_reason = length); raise max_tokens"
            ),
        }
    }
}

impl fmt::Display for AttemptError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.model, self.problem)
    }
}
