//! The error type of every Elelem call.

use std::fmt;

use crate::provider::ProviderError;

/// Everything that can go wrong in Elelem. Each message says what happened and what
/// to do about it.
///
/// ```
/// let e = elelem_core::ElelemError::MissingApiKey { provider: "groq".into(), env_var: Some("GROQ_API_KEY".into()) };
/// assert!(e.to_string().contains("GROQ_API_KEY"));
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
    #[error("unknown model {model:?}; known models of {provider}: {known}. Add it with a models file if it is new")]
    UnknownModel {
        /// The model string asked for.
        model: String,
        /// Its provider.
        provider: String,
        /// The provider's catalogued models, comma-separated.
        known: String,
    },
    /// The provider's API key is not set.
    #[error("no API key for {provider}: {}", missing_key_hint(provider, env_var.as_deref()))]
    MissingApiKey {
        /// The provider.
        provider: String,
        /// The environment variable to set.
        env_var: Option<String>,
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
    /// The model never produced valid JSON, after every retry and fallback.
    #[error("no valid JSON from {model} after {} attempt(s); last problem: {}", attempts.len(), attempts.last().map(|a| a.problem.to_string()).unwrap_or_default())]
    InvalidJson {
        /// The `provider:model` of the last attempt.
        model: String,
        /// Every attempt's error, in order.
        attempts: Vec<AttemptError>,
    },
}

fn missing_key_hint(provider: &str, env_var: Option<&str>) -> String {
    match env_var {
        Some(var) => format!(
            "set the environment variable {var}, or pass the key with Elelem::builder().api_key(\"{provider}\", key)"
        ),
        None => format!("pass the key with Elelem::builder().api_key(\"{provider}\", key)"),
    }
}

impl ElelemError {
    /// The per-attempt errors of a call that was sent at least once.
    pub fn attempts(&self) -> &[AttemptError] {
        match self {
            ElelemError::Provider { attempts, .. } | ElelemError::InvalidJson { attempts, .. } => {
                attempts
            }
            _ => &[],
        }
    }

    /// Whether retrying the whole call later may succeed.
    pub fn is_retryable(&self) -> bool {
        match self {
            ElelemError::Provider { error, .. } => error.is_retryable(),
            ElelemError::InvalidJson { .. } => true,
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
}

impl fmt::Display for AttemptProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AttemptProblem::Provider(error) => write!(f, "{error}"),
            AttemptProblem::JsonParse(reason) => write!(f, "answer is not JSON: {reason}"),
            AttemptProblem::Schema(errors) => {
                write!(f, "answer violates the schema: {}", errors.join("; "))
            }
        }
    }
}

impl fmt::Display for AttemptError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.model, self.problem)
    }
}
