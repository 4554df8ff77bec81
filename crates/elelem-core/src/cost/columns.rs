//! How usage records are stored in database columns, shared by every ledger so
//! they all hold the same values: exact money as whole nano-dollars plus a
//! femto-dollar remainder, times as Unix nanoseconds, counts as signed integers,
//! outcomes and retry causes as short names.

use std::borrow::Cow;
use std::time::{Duration, SystemTime};

use super::{AttemptOutcome, RetryCause, UsageRecord};
use crate::money::Usd;

const FEMTOS_PER_NANO: i128 = 1_000_000;

/// The columns a usage record is read back from, in the order both ledgers'
/// row readers take them.
pub const RECORD_COLUMNS: &str = "id, time_unix_ns, call_id, attempt, model, provider, tags,
    input_tokens, cached_input_tokens, output_tokens, reasoning_tokens,
    input_cost_nano_usd, input_cost_femto_rem, output_cost_nano_usd, output_cost_femto_rem,
    reasoning_cost_nano_usd, reasoning_cost_femto_rem, price_known, duration_ns,
    outcome, retry_cause, temperature_reduced, response_format_removed, fallback_model_used,
    cache_hit, saved_cost_nano_usd, saved_cost_femto_rem, stream_interrupted, next_candidate,
    cost_unknown, json_repaired, json_fixed, time_to_first_token_ns";

/// The query reading back the newest rows of each model ([`RECORD_COLUMNS`],
/// newest first): rows written at or after `params[0]` (Unix nanoseconds), the
/// newest `params[1]` of each model, the newest `params[2]` in all, cache hits
/// (`not_cache_hit`: the dialect's test) left out.
///
/// ```
/// let sql = elelem_core::cost::columns::recent_records_sql(["$1", "$2", "$3"], "NOT cache_hit");
/// assert!(sql.contains("PARTITION BY model") && sql.ends_with("LIMIT $3"));
/// ```
pub fn recent_records_sql(params: [&str; 3], not_cache_hit: &str) -> String {
    let [since, per_model, max_records] = params;
    format!(
        "SELECT {RECORD_COLUMNS} FROM (SELECT {RECORD_COLUMNS},
            ROW_NUMBER() OVER (PARTITION BY model ORDER BY id DESC) AS newest
        FROM usage WHERE time_unix_ns >= {since} AND {not_cache_hit}) AS recent
        WHERE newest <= {per_model} ORDER BY id DESC LIMIT {max_records}"
    )
}

/// A duration in whole nanoseconds, saturated to `i64`.
///
/// ```
/// use std::time::Duration;
/// assert_eq!(elelem_core::cost::columns::duration_nanos(Duration::from_millis(2)), 2_000_000);
/// assert_eq!(elelem_core::cost::columns::duration_nanos(Duration::MAX), i64::MAX);
/// ```
pub fn duration_nanos(duration: Duration) -> i64 {
    i64::try_from(duration.as_nanos()).unwrap_or(i64::MAX)
}

/// A duration stored by [`duration_nanos`] (negative: zero).
///
/// ```
/// use std::time::Duration;
/// assert_eq!(elelem_core::cost::columns::nanos_duration(2_000_000), Duration::from_millis(2));
/// assert_eq!(elelem_core::cost::columns::nanos_duration(-1), Duration::ZERO);
/// ```
pub fn nanos_duration(nanos: i64) -> Duration {
    Duration::from_nanos(u64::try_from(nanos).unwrap_or(0))
}

/// Splits an exact amount into whole nano-dollars (rounded down) and the femto
/// remainder (0 to 999 999). Amounts beyond ±9.2 billion dollars, far beyond any
/// single attempt, saturate.
///
/// ```
/// use elelem_core::cost::columns::{join_usd, split_usd};
/// let amount = elelem_core::Usd::from_femtos(1_500_250);
/// assert_eq!(split_usd(amount), (1, 500_250));
/// assert_eq!(join_usd(1, 500_250), amount);
/// ```
pub fn split_usd(amount: Usd) -> (i64, i64) {
    let femtos = amount.femtos();
    let nanos = femtos.div_euclid(FEMTOS_PER_NANO);
    let rem = femtos.rem_euclid(FEMTOS_PER_NANO);
    let nanos = i64::try_from(nanos).unwrap_or(if nanos < 0 { i64::MIN } else { i64::MAX });
    (nanos, i64::try_from(rem).unwrap_or(0))
}

/// The exact amount of `nanos` nano-dollars plus `rem` femto-dollars (sums of
/// columns may exceed `i64`, hence `i128`).
pub fn join_usd(nanos: i128, rem: i128) -> Usd {
    Usd::from_femtos(nanos.saturating_mul(FEMTOS_PER_NANO).saturating_add(rem))
}

/// Nanoseconds since the Unix epoch (negative before it), saturating past the
/// years 1677 and 2262.
///
/// ```
/// use elelem_core::cost::columns::{from_unix_nanos, unix_nanos};
/// let t = std::time::SystemTime::UNIX_EPOCH + std::time::Duration::from_nanos(42);
/// assert_eq!(unix_nanos(t), 42);
/// assert_eq!(from_unix_nanos(42), t);
/// ```
pub fn unix_nanos(time: SystemTime) -> i64 {
    match time.duration_since(SystemTime::UNIX_EPOCH) {
        Ok(after) => i64::try_from(after.as_nanos()).unwrap_or(i64::MAX),
        Err(before) => i64::try_from(before.duration().as_nanos())
            .map(|n| -n)
            .unwrap_or(i64::MIN),
    }
}

/// The time `nanos` nanoseconds after (or before) the Unix epoch.
pub fn from_unix_nanos(nanos: i64) -> SystemTime {
    let magnitude = Duration::from_nanos(nanos.unsigned_abs());
    let time = if nanos >= 0 {
        SystemTime::UNIX_EPOCH.checked_add(magnitude)
    } else {
        SystemTime::UNIX_EPOCH.checked_sub(magnitude)
    };
    time.unwrap_or(SystemTime::UNIX_EPOCH)
}

/// A record's idempotency key: 32 hex characters, the 128-bit FNV-1a hash (a
/// fixed, documented function, so every version and process computes the same
/// key; cheap enough for the writer thread) of everything the record holds, its
/// time to the nanosecond included. A ledger
/// stores it in a unique column and skips a record whose key is already there, so
/// a batch written again (its COMMIT succeeded but the acknowledgement was lost)
/// is not counted twice. Two records differ in their key unless every field is
/// equal (same call, attempt, time, tokens, cost, ...), which makes them the same
/// record.
///
/// ```
/// # use std::time::{Duration, SystemTime};
/// use elelem_core::cost::{columns::record_key, AttemptOutcome, UsageRecord};
/// let record = UsageRecord {
///     timestamp: SystemTime::now(),
///     call_id: 1,
///     attempt: 1,
///     model: "groq:m".into(),
///     provider: "groq".into(),
///     tags: vec!["billing".to_string()].into(),
///     tokens: Default::default(),
///     cost: Default::default(),
///     price_known: true,
///     duration: Duration::ZERO,
///     outcome: AttemptOutcome::Success,
///     adjustments: Default::default(),
///     cache_hit: false,
///     saved_cost: Default::default(),
///     stream_interrupted: false,
///     cost_unknown: false,
///     time_to_first_token: None,
/// };
/// let key = record_key(&record);
/// assert_eq!(key.len(), 32);
/// assert_eq!(key, record_key(&record.clone()));
/// let next = UsageRecord { attempt: 2, ..record };
/// assert_ne!(key, record_key(&next));
/// ```
pub fn record_key(record: &UsageRecord) -> String {
    let mut hasher = Fnv128::new();
    let mut text = |text: &str| {
        // Length-prefixed, so no two field lists run together the same way.
        hasher.update((text.len() as u64).to_le_bytes());
        hasher.update(text.as_bytes());
    };
    text(&record.model);
    text(&record.provider);
    for tag in record.tags.iter() {
        text(tag);
    }
    let (outcome, cause) = outcome_text(record.outcome);
    text(outcome);
    text(cause.unwrap_or(""));
    let tokens = record.tokens;
    let a = record.adjustments;
    let flags = [
        record.price_known,
        record.cache_hit,
        record.stream_interrupted,
        record.cost_unknown,
        a.temperature_reduced,
        a.response_format_removed,
        a.fallback_model_used,
        a.next_candidate,
        a.json_repaired,
    ];
    hasher.update((record.tags.len() as u64).to_le_bytes());
    hasher.update(unix_nanos(record.timestamp).to_le_bytes());
    hasher.update(record.call_id.to_le_bytes());
    hasher.update(record.attempt.to_le_bytes());
    for count in [
        tokens.input,
        tokens.cached_input,
        tokens.output,
        tokens.reasoning,
    ] {
        hasher.update(count.map_or([0xff; 9], |n| {
            let mut bytes = [0; 9];
            bytes[1..].copy_from_slice(&n.to_le_bytes());
            bytes
        }));
    }
    for amount in [
        record.cost.input,
        record.cost.output,
        record.cost.reasoning,
        record.saved_cost,
    ] {
        hasher.update(amount.femtos().to_le_bytes());
    }
    hasher.update(record.duration.as_nanos().to_le_bytes());
    hasher.update(flags.map(u8::from));
    // Flags added later are hashed only when set, so the keys of records
    // without them are what they were.
    if a.json_fixed {
        hasher.update([1]);
    }
    if let Some(first_token) = record.time_to_first_token {
        hasher.update(first_token.as_nanos().to_le_bytes());
    }
    format!("{:032x}", hasher.0)
}

/// The 128-bit FNV-1a hash.
struct Fnv128(u128);

impl Fnv128 {
    const OFFSET: u128 = 0x6c62_272e_07bb_0142_62b8_2175_6295_c58d;
    const PRIME: u128 = 0x0000_0000_0100_0000_0000_0000_0000_013b;

    fn new() -> Self {
        Fnv128(Self::OFFSET)
    }

    fn update(&mut self, bytes: impl AsRef<[u8]>) {
        for &byte in bytes.as_ref() {
            self.0 = (self.0 ^ u128::from(byte)).wrapping_mul(Self::PRIME);
        }
    }
}

/// Text a database can store: NUL characters (which PostgreSQL refuses in `TEXT`
/// and C-string APIs cut at) replaced by U+FFFD. A model name, provider or tag
/// holding one is stored cleaned rather than refused.
///
/// ```
/// use elelem_core::cost::columns::storable_text;
/// assert_eq!(storable_text("a\0b"), "a\u{fffd}b");
/// assert!(matches!(storable_text("plain"), std::borrow::Cow::Borrowed(_)));
/// ```
pub fn storable_text(text: &str) -> Cow<'_, str> {
    if text.contains('\0') {
        Cow::Owned(text.replace('\0', "\u{fffd}"))
    } else {
        Cow::Borrowed(text)
    }
}

/// A token count as a column value (`NULL` when unknown).
///
/// ```
/// assert_eq!(elelem_core::cost::columns::tokens_in(Some(7)), Some(7));
/// ```
pub fn tokens_in(count: Option<u64>) -> Option<i64> {
    count.map(|n| i64::try_from(n).unwrap_or(i64::MAX))
}

/// A token count read back from a column.
pub fn tokens_out(count: Option<i64>) -> Option<u64> {
    count.map(|n| u64::try_from(n).unwrap_or(0))
}

/// An outcome as its `outcome` and `retry_cause` column values.
///
/// ```
/// use elelem_core::cost::{columns::outcome_text, AttemptOutcome, RetryCause};
/// assert_eq!(outcome_text(AttemptOutcome::Retried(RetryCause::RateLimit)), ("retried", Some("rate_limit")));
/// ```
pub fn outcome_text(outcome: AttemptOutcome) -> (&'static str, Option<&'static str>) {
    match outcome {
        AttemptOutcome::Success => ("success", None),
        AttemptOutcome::Failed => ("failed", None),
        AttemptOutcome::Retried(cause) => ("retried", Some(cause_text(cause))),
    }
}

/// A retry cause's column value.
pub fn cause_text(cause: RetryCause) -> &'static str {
    match cause {
        RetryCause::RateLimit => "rate_limit",
        RetryCause::Transient => "transient",
        RetryCause::JsonParse => "json_parse",
        RetryCause::JsonSchema => "json_schema",
        RetryCause::ApiJsonValidation => "api_json_validation",
    }
}

/// A retry cause read back from its column value.
///
/// ```
/// use elelem_core::cost::{columns::parse_cause, RetryCause};
/// assert_eq!(parse_cause("json_schema"), Some(RetryCause::JsonSchema));
/// assert_eq!(parse_cause("nonsense"), None);
/// ```
pub fn parse_cause(text: &str) -> Option<RetryCause> {
    Some(match text {
        "rate_limit" => RetryCause::RateLimit,
        "transient" => RetryCause::Transient,
        "json_parse" => RetryCause::JsonParse,
        "json_schema" => RetryCause::JsonSchema,
        "api_json_validation" => RetryCause::ApiJsonValidation,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn money_splits_and_joins_exactly_including_negatives_and_extremes() {
        for femtos in [
            0i128,
            1,
            999_999,
            1_000_000,
            -1,
            -1_000_001,
            123_456_789_012_345_678,
        ] {
            let (nanos, rem) = split_usd(Usd::from_femtos(femtos));
            assert!((0..1_000_000).contains(&rem));
            assert_eq!(
                join_usd(i128::from(nanos), i128::from(rem)),
                Usd::from_femtos(femtos)
            );
        }
        assert_eq!(split_usd(Usd::from_femtos(i128::MAX)).0, i64::MAX);
    }

    #[test]
    fn fnv128_matches_its_reference_values() {
        // From the FNV reference implementation.
        let hash = |text: &str| {
            let mut h = Fnv128::new();
            h.update(text);
            h.0
        };
        assert_eq!(hash(""), 0x6c62_272e_07bb_0142_62b8_2175_6295_c58d);
        assert_eq!(hash("a"), 0xd228_cb69_6f1a_8caf_7891_2b70_4e4a_8964);
    }

    #[test]
    fn every_cause_round_trips() {
        for cause in [
            RetryCause::RateLimit,
            RetryCause::Transient,
            RetryCause::JsonParse,
            RetryCause::JsonSchema,
            RetryCause::ApiJsonValidation,
        ] {
            assert_eq!(parse_cause(cause_text(cause)), Some(cause));
        }
    }

    #[test]
    fn times_round_trip_to_the_nanosecond() {
        for t in [
            SystemTime::UNIX_EPOCH,
            SystemTime::UNIX_EPOCH + Duration::new(1_700_000_000, 123_456_789),
            SystemTime::UNIX_EPOCH - Duration::new(5, 1),
        ] {
            assert_eq!(from_unix_nanos(unix_nanos(t)), t);
        }
    }
}
