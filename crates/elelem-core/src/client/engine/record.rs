//! The *record* and *settle* steps: the one place an attempt's usage becomes a
//! usage record and an exact cost (the provider's own figure when it reports
//! one), for plain answers and stream settlements alike.

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use super::plan::Target;
use crate::budget::Reservation;
use crate::catalogue::{CostBreakdown, ModelEntry};
use crate::cost::{Adjustments, AttemptOutcome, CostSink, TokenCounts, UsageRecord};
use crate::money::Usd;
use crate::types::Usage;

fn tokens_of(usage: Option<&Usage>) -> TokenCounts {
    match usage {
        None => TokenCounts::default(),
        Some(u) => TokenCounts {
            input: u.prompt_tokens,
            cached_input: u.cached_tokens(),
            output: u.completion_tokens,
            reasoning: u.reasoning_tokens(),
        },
    }
}

fn cost_of(model: &ModelEntry, usage: Option<&Usage>, tier: Option<&str>) -> CostBreakdown {
    match (model.prices, usage) {
        (Some(prices), Some(usage)) => prices.cost_in_tier(usage, tier),
        _ => CostBreakdown::default(),
    }
}

/// The cost of an answer: the provider's own figure when it reports one (split
/// between input and output in the price table's proportions, total exact),
/// else the price table's for the service tier that answered (`flex`,
/// `priority`: the answer's `service_tier`).
pub(super) fn answer_cost(
    model: &ModelEntry,
    usage: Option<&Usage>,
    tier: Option<&str>,
    reported: Option<Usd>,
) -> CostBreakdown {
    let table = cost_of(model, usage, tier);
    let Some(reported) = reported else {
        return table;
    };
    let table_total = table.total().femtos();
    if table_total <= 0 {
        return CostBreakdown {
            input: reported,
            ..CostBreakdown::default()
        };
    }
    let scale =
        |part: Usd| Usd::from_femtos(reported.femtos().saturating_mul(part.femtos()) / table_total);
    let input = scale(table.input);
    let output = Usd::from_femtos(reported.femtos() - input.femtos());
    let reasoning = match table.output.femtos() {
        0 => Usd::ZERO,
        out => Usd::from_femtos(output.femtos().saturating_mul(table.reasoning.femtos()) / out),
    };
    CostBreakdown {
        input,
        output,
        reasoning,
    }
}

/// Who an attempt's records belong to: the sink, the call and its tags.
#[derive(Clone)]
pub(crate) struct Ledger {
    pub sink: Arc<dyn CostSink>,
    pub call_id: u64,
    pub tags: Arc<[String]>,
}

/// What one usage record says about one attempt.
pub(crate) struct AttemptRecord<'a> {
    pub attempt: u32,
    pub target: &'a Target,
    pub usage: Option<&'a Usage>,
    /// The service tier that answered (the answer's `service_tier`), priced at
    /// its own rates.
    pub service_tier: Option<&'a str>,
    pub started: Instant,
    pub outcome: AttemptOutcome,
    pub adjustments: Adjustments,
    pub stream_interrupted: bool,
    /// The attempt's outcome is unknown (see [`UsageRecord::cost_unknown`]).
    pub cost_unknown: bool,
    /// A stream's time to its first chunk (see
    /// [`UsageRecord::time_to_first_token`]).
    pub first_token: Option<Duration>,
}

impl Ledger {
    /// Writes one attempt's usage record; returns its cost and when it ended. The
    /// cost is the provider's reported figure ([`Provider::reported_cost`]) when
    /// it gives one, else the price table's.
    ///
    /// [`Provider::reported_cost`]: crate::provider::Provider::reported_cost
    pub fn write(&self, record: AttemptRecord<'_>) -> (Usd, Instant) {
        let model = &record.target.model;
        let reported = record
            .usage
            .and_then(|usage| record.target.provider.reported_cost(usage));
        let now = Instant::now();
        let cost = answer_cost(model, record.usage, record.service_tier, reported);
        self.sink.record(&UsageRecord {
            timestamp: SystemTime::now(),
            call_id: self.call_id,
            attempt: record.attempt,
            model: model.id.clone(),
            provider: model.provider.clone(),
            tags: self.tags.clone(),
            tokens: tokens_of(record.usage),
            cost,
            price_known: model.prices.is_some() || reported.is_some(),
            duration: now.saturating_duration_since(record.started),
            outcome: record.outcome,
            adjustments: record.adjustments,
            cache_hit: false,
            saved_cost: Usd::ZERO,
            stream_interrupted: record.stream_interrupted,
            cost_unknown: record.cost_unknown,
            time_to_first_token: record.first_token,
        });
        (cost.total(), now)
    }
}

/// What a stream's settlement needs once it ends: where to record, which attempt
/// it was, and the worst case held on the budgets until then.
pub(crate) struct Settlement {
    pub ledger: Ledger,
    pub attempt: u32,
    pub target: Target,
    pub started: Instant,
    pub reservation: Option<Reservation>,
    /// When the stream's first chunk came, measured from `started`.
    pub first_token: Option<Duration>,
}

impl Settlement {
    /// Records the stream's usage through [`Ledger::write`] and settles its
    /// reservation with it; returns the stream's cost.
    pub fn settle(
        mut self,
        usage: Option<&Usage>,
        service_tier: Option<&str>,
        outcome: AttemptOutcome,
        interrupted: bool,
    ) -> Usd {
        // A stream cut before its usage arrived may have been billed for more
        // than is known: it is recorded as such, and its reservation is released
        // at the worst case.
        let usage_known = usage.is_some_and(|u| u.completion_tokens.is_some());
        let cost_unknown = interrupted && !usage_known;
        let (cost, _) = self.ledger.write(AttemptRecord {
            attempt: self.attempt,
            target: &self.target,
            usage,
            service_tier,
            started: self.started,
            outcome,
            adjustments: Adjustments::default(),
            stream_interrupted: interrupted,
            cost_unknown,
            first_token: self.first_token,
        });
        settle_or_charge_worst(self.reservation.take(), cost, cost_unknown);
        cost
    }
}

/// Settles a reservation with an attempt's cost, or, when the attempt's outcome
/// is unknown, releases it at its worst case.
pub(crate) fn settle_or_charge_worst(reservation: Option<Reservation>, cost: Usd, unknown: bool) {
    match reservation {
        Some(reservation) if !unknown => reservation.settle(cost),
        // Dropped unsettled: the store counts the worst case held.
        Some(reservation) => drop(reservation),
        None => {}
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::catalogue::Catalogue;

    #[test]
    fn a_reported_cost_replaces_the_table_and_keeps_its_total_exact() {
        let c = Catalogue::from_sources([(
            "t",
            "[provider]\nname='p'\nbase_url='u'\n[[models]]\nid='p:m'\nprice={input='1',output='3'}\n[[models]]\nid='p:free'",
        )])
        .unwrap();
        let usage: Usage = serde_json::from_str(r#"{"prompt_tokens":1000,"completion_tokens":1000,"completion_tokens_details":{"reasoning_tokens":500}}"#).unwrap();
        let reported: Usd = "0.0001".parse().unwrap();
        let cost = answer_cost(c.model("p:m").unwrap(), Some(&usage), None, Some(reported));
        assert_eq!(cost.total(), reported);
        assert_eq!(cost.input, "0.000025".parse().unwrap());
        assert_eq!(cost.reasoning, "0.0000375".parse().unwrap());
        let unpriced = answer_cost(
            c.model("p:free").unwrap(),
            Some(&usage),
            None,
            Some(reported),
        );
        assert_eq!(unpriced.total(), reported);
        let table = answer_cost(c.model("p:m").unwrap(), Some(&usage), None, None);
        assert_eq!(table.total(), "0.004".parse().unwrap());
    }
}
