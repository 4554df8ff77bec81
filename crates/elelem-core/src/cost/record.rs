//! What is recorded for each attempt.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use serde::Serialize;

use crate::catalogue::CostBreakdown;
use crate::money::Usd;

/// Why a failed attempt was retried.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RetryCause {
    /// A 429 rate limit.
    RateLimit,
    /// A transient failure: 5xx, connection, timeout, unusable body.
    Transient,
    /// The answer was not parseable JSON.
    JsonParse,
    /// The answer's JSON violated the schema.
    JsonSchema,
    /// The provider's own JSON validation failed (GROQ's `json_validate_failed`).
    ApiJsonValidation,
}

/// How an attempt ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "outcome", content = "cause")]
pub enum AttemptOutcome {
    /// The call succeeded with this attempt.
    Success,
    /// The attempt failed and the call went on.
    Retried(RetryCause),
    /// The attempt failed and the call gave up.
    Failed,
}

/// What the retry after a failed attempt changed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Adjustments {
    /// The temperature was lowered.
    pub temperature_reduced: bool,
    /// `response_format` was removed.
    pub response_format_removed: bool,
    /// The call moved to the fallback model.
    pub fallback_model_used: bool,
    /// The call moved to the next candidate of its virtual model.
    pub next_candidate: bool,
    /// The attempt's answer was nearly valid JSON, repaired locally instead of
    /// retried (`json::repair_json`). Serialized only when set.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub json_repaired: bool,
    /// The attempt's answer was not valid JSON, and the client's JSON fixer
    /// model repaired it (that call has its own records, tagged `json_fix`).
    /// Serialized only when set.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub json_fixed: bool,
}

/// Token counts of one attempt; `None` where the provider did not report them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct TokenCounts {
    /// Input tokens, cached included.
    pub input: Option<u64>,
    /// Cached input tokens.
    pub cached_input: Option<u64>,
    /// Output tokens, reasoning included.
    pub output: Option<u64>,
    /// Reasoning tokens.
    pub reasoning: Option<u64>,
}

/// One attempt of one call, as a cost sink receives it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct UsageRecord {
    /// When the attempt finished (serialized as Unix milliseconds).
    #[serde(rename = "timestamp_unix_ms", serialize_with = "unix_millis")]
    pub timestamp: SystemTime,
    /// The call's id, shared by all its attempts. Each client numbers its calls
    /// from a random starting point, so ids from processes sharing one ledger do
    /// not collide (in practice).
    pub call_id: u64,
    /// The attempt's number in the call, from 1.
    pub attempt: u32,
    /// The `provider:model` the attempt went to.
    pub model: String,
    /// The provider.
    pub provider: String,
    /// The call's tags.
    pub tags: Arc<[String]>,
    /// Tokens used.
    pub tokens: TokenCounts,
    /// The exact cost.
    pub cost: CostBreakdown,
    /// Whether the model's prices were known (if not, the cost is zero and unknown).
    pub price_known: bool,
    /// The time since the previous attempt ended (or the call started), so a call's
    /// attempt durations add up to its wall time, waits included. Serialized as
    /// `duration_seconds`.
    #[serde(rename = "duration_seconds", serialize_with = "seconds")]
    pub duration: Duration,
    /// How the attempt ended.
    pub outcome: AttemptOutcome,
    /// What the retry after this attempt changed.
    pub adjustments: Adjustments,
    /// Served from the response cache: no provider call, zero cost.
    pub cache_hit: bool,
    /// For a cache hit, what the call would have cost. Serialized as
    /// `saved_cost_usd`, an exact decimal string.
    #[serde(rename = "saved_cost_usd", serialize_with = "exact_usd")]
    pub saved_cost: Usd,
    /// A stream that ended before the provider reported its usage (broken, timed
    /// out or dropped by the caller): the tokens are what was known.
    pub stream_interrupted: bool,
    /// The provider may have billed this attempt more than its recorded cost: its
    /// outcome is unknown (a timeout, an answer that could not be decoded, a
    /// stream cut before its usage). The budgets were charged its worst case;
    /// the tokens and cost here are what was known.
    pub cost_unknown: bool,
    /// For a stream, how long the attempt took to its first chunk (from the
    /// same start as `duration`); `None` for a plain answer. Routing's time to
    /// first token is measured from it when records are read back from a
    /// ledger. Serialized as `time_to_first_token_seconds`, only when set.
    #[serde(
        rename = "time_to_first_token_seconds",
        serialize_with = "optional_seconds",
        skip_serializing_if = "Option::is_none"
    )]
    pub time_to_first_token: Option<Duration>,
}

fn optional_seconds<S: serde::Serializer>(
    duration: &Option<Duration>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    match duration {
        Some(duration) => serializer.serialize_some(&duration.as_secs_f64()),
        None => serializer.serialize_none(),
    }
}

fn unix_millis<S: serde::Serializer>(time: &SystemTime, serializer: S) -> Result<S::Ok, S::Error> {
    let millis = time
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_millis())
        .unwrap_or(0);
    serializer.serialize_u128(millis)
}

/// An amount as an exact decimal string of dollars (`"0.000001250000000"`), never a
/// float.
fn exact_usd<S: serde::Serializer>(amount: &Usd, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(&amount.to_string().replacen('$', "", 1))
}

fn seconds<S: serde::Serializer>(duration: &Duration, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_f64(duration.as_secs_f64())
}

/// An amount serialized as [`exact_usd`] does.
struct ExactUsd(Usd);

impl Serialize for ExactUsd {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        exact_usd(&self.0, serializer)
    }
}

impl UsageRecord {
    /// Whether this record ends its call (success or final failure).
    pub fn ends_call(&self) -> bool {
        !matches!(self.outcome, AttemptOutcome::Retried(_))
    }

    /// The total cost.
    pub fn total_cost(&self) -> Usd {
        self.cost.total()
    }
}

/// Serialized as the exact total, a decimal string of dollars (`total_usd`) and an
/// integer of femto-dollars (10^-15 USD, `total_femto_usd`) for tools that sum
/// records, plus nano-dollars rounded to the nearest nano-dollar.
impl Serialize for CostBreakdown {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut s = serializer.serialize_struct("CostBreakdown", 6)?;
        s.serialize_field("total_usd", &ExactUsd(self.total()))?;
        s.serialize_field("total_femto_usd", &self.total().femtos())?;
        s.serialize_field("total_nano_usd", &self.total().nanos_rounded())?;
        s.serialize_field("input_nano_usd", &self.input.nanos_rounded())?;
        s.serialize_field("output_nano_usd", &self.output.nanos_rounded())?;
        s.serialize_field("reasoning_nano_usd", &self.reasoning.nanos_rounded())?;
        s.end()
    }
}
