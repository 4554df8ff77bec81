//! Usage records and stats queries for testing a [`CostSink`](super::CostSink) of
//! your own: [`scripted`] records cover every outcome, retry cause, adjustment,
//! cache hit, unknown price, missing token count and femto-dollar remainder, and
//! [`all_queries`] asks every query kind over them (each query says which records
//! it covers: [`StatsQuery::matches`]). The durable ledgers' parity tests use them.
//! Behind the `test-support` feature.
//!
//! ```
//! use elelem_core::cost::{scripted, AttemptOutcome, CostSink, InMemoryStatsSink, StatsQuery};
//! let records = scripted::scripted(200, 7);
//! let memory = InMemoryStatsSink::new();
//! for record in &records {
//!     memory.record(record);
//! }
//! let finished = records
//!     .iter()
//!     .filter(|r| !matches!(r.outcome, AttemptOutcome::Retried(_)))
//!     .count();
//! assert_eq!(memory.stats(&StatsQuery::All).unwrap().total_calls, finished as u64);
//! assert!(scripted::all_queries().iter().any(|q| matches!(q, StatsQuery::Between { .. })));
//! ```

use std::time::{Duration, SystemTime};

use crate::catalogue::CostBreakdown;
use crate::cost::{Adjustments, AttemptOutcome, RetryCause, StatsQuery, TokenCounts, UsageRecord};
use crate::Usd;

/// 1 January 2025, 00:00 UTC: where [`scripted`] records start.
///
/// ```
/// let start = elelem_core::cost::scripted::base_time();
/// assert!(elelem_core::cost::scripted::scripted(3, 1).iter().all(|r| r.timestamp >= start));
/// ```
pub fn base_time() -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(1_735_689_600)
}

/// A plain successful attempt, made now, with `tags`.
///
/// ```
/// let record = elelem_core::cost::scripted::simple(7, &["a"]);
/// assert_eq!((record.call_id, &*record.tags), (7, &["a".to_string()][..]));
/// ```
pub fn simple(call_id: u64, tags: &[&str]) -> UsageRecord {
    UsageRecord {
        timestamp: SystemTime::now(),
        call_id,
        attempt: 1,
        model: "groq:openai/gpt-oss-20b".into(),
        provider: "groq".into(),
        tags: tags
            .iter()
            .map(|t| t.to_string())
            .collect::<Vec<_>>()
            .into(),
        tokens: TokenCounts {
            input: Some(100),
            cached_input: Some(20),
            output: Some(30),
            reasoning: Some(5),
        },
        cost: CostBreakdown {
            input: Usd::from_femtos(7_500_123),
            output: Usd::from_femtos(9_000_001),
            reasoning: Usd::from_femtos(1_500_000),
        },
        price_known: true,
        duration: Duration::from_micros(123_456),
        outcome: AttemptOutcome::Success,
        adjustments: Adjustments::default(),
        cache_hit: false,
        saved_cost: Usd::ZERO,
        stream_interrupted: false,
        cost_unknown: false,
        time_to_first_token: None,
    }
}

/// A small deterministic generator (so no test depends on chance).
struct Lcg(u64);

impl Lcg {
    fn new(seed: u64) -> Self {
        Lcg(seed ^ 0x9E37_79B9_7F4A_7C15)
    }
    fn step(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        self.0 >> 33
    }
    fn below(&mut self, n: u64) -> u64 {
        self.step() % n
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
}

/// The providers of [`scripted`] records.
pub const PROVIDERS: [&str; 3] = ["groq", "openai", "deepinfra"];
/// The model names of [`scripted`] records (each under every provider).
pub const MODELS: [&str; 2] = ["small", "large"];
/// The tags of [`scripted`] records.
pub const TAGS: [&str; 4] = ["billing", "search", "people", "unicode-é"];

/// `n` varied attempts: every outcome and retry cause, adjustments, cache hits,
/// unknown prices, interrupted streams, missing token counts, duplicate tags, and
/// costs with femto-dollar remainders, spread over 100 minutes from `base_time()`.
pub fn scripted(n: usize, seed: u64) -> Vec<UsageRecord> {
    let mut rng = Lcg::new(seed);
    let causes = [
        RetryCause::RateLimit,
        RetryCause::Transient,
        RetryCause::JsonParse,
        RetryCause::JsonSchema,
        RetryCause::ApiJsonValidation,
    ];
    (0..n)
        .map(|i| {
            let provider = PROVIDERS[rng.below(3) as usize];
            let model = format!("{provider}:{}", MODELS[rng.below(2) as usize]);
            let mut tags: Vec<String> = TAGS
                .iter()
                .filter(|_| rng.chance(40))
                .map(|t| t.to_string())
                .collect();
            if let Some(first) = tags.first().filter(|_| rng.chance(10)).cloned() {
                tags.push(first); // a tag given twice
            }
            let outcome = match rng.below(10) {
                0..=5 => AttemptOutcome::Success,
                6 => AttemptOutcome::Failed,
                _ => AttemptOutcome::Retried(causes[rng.below(5) as usize]),
            };
            let maybe = |rng: &mut Lcg, max: u64| rng.chance(85).then(|| rng.below(max));
            let cache_hit = rng.chance(10);
            let price_known = !rng.chance(10);
            // Mostly fractions of a cent, sometimes thousands of dollars.
            let femtos = |rng: &mut Lcg| {
                let small = i128::from(rng.below(50_000_000_000)) * 37 + 1;
                if rng.chance(2) {
                    small + i128::from(rng.below(5_000)) * 1_000_000_000_000_000
                } else {
                    small
                }
            };
            UsageRecord {
                timestamp: base_time() + Duration::from_millis(i as u64 * 6_000 + rng.below(5_000)),
                call_id: i as u64 / 2,
                attempt: 1 + (i % 2) as u32,
                model,
                provider: provider.into(),
                tags: tags.into(),
                tokens: TokenCounts {
                    input: maybe(&mut rng, 100_000),
                    cached_input: maybe(&mut rng, 1_000),
                    output: maybe(&mut rng, 10_000),
                    reasoning: maybe(&mut rng, 5_000),
                },
                cost: CostBreakdown {
                    input: Usd::from_femtos(femtos(&mut rng)),
                    output: Usd::from_femtos(femtos(&mut rng)),
                    reasoning: Usd::from_femtos(femtos(&mut rng)),
                },
                price_known,
                duration: Duration::from_nanos(rng.below(3_000_000_000)),
                outcome,
                adjustments: Adjustments {
                    temperature_reduced: rng.chance(20),
                    response_format_removed: rng.chance(10),
                    fallback_model_used: rng.chance(5),
                    next_candidate: rng.chance(7),
                    json_repaired: rng.chance(6),
                    json_fixed: rng.chance(9),
                },
                cache_hit,
                saved_cost: if cache_hit || rng.chance(5) {
                    Usd::from_femtos(femtos(&mut rng))
                } else {
                    Usd::ZERO
                },
                stream_interrupted: rng.chance(5),
                cost_unknown: rng.chance(6),
                time_to_first_token: rng
                    .chance(30)
                    .then(|| Duration::from_nanos(rng.below(2_000_000_000))),
            }
        })
        .collect()
}

/// Every query kind, over the values `scripted` uses (and some it never uses).
pub fn all_queries() -> Vec<StatsQuery> {
    let mut queries = vec![StatsQuery::All];
    queries.extend(
        TAGS.iter()
            .chain(&["nothing"])
            .map(|t| StatsQuery::Tag(t.to_string())),
    );
    queries.extend(
        PROVIDERS
            .iter()
            .chain(&["nobody"])
            .map(|p| StatsQuery::Provider(p.to_string())),
    );
    for provider in PROVIDERS {
        for model in MODELS {
            queries.push(StatsQuery::Model(format!("{provider}:{model}")));
        }
    }
    queries.push(StatsQuery::Model("small".into()));
    let at = |minutes: u64| base_time() + Duration::from_secs(minutes * 60);
    for (from, to) in [(0, 200), (0, 10), (10, 20), (33, 34), (50, 51), (300, 400)] {
        queries.push(StatsQuery::Between {
            from: at(from),
            to: at(to),
        });
    }
    queries.push(StatsQuery::Between {
        from: SystemTime::UNIX_EPOCH,
        to: SystemTime::UNIX_EPOCH,
    });
    queries
}
