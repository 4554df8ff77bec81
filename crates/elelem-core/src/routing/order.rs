//! The order a virtual model tries its candidates in, from its [`Routing`], the
//! catalogue's prices and the measurements: a pure function.

use super::config::{RouteBy, Routing};
use super::window::ModelPerformance;
use crate::catalogue::Candidate;

/// What is known of one candidate when ranking.
#[derive(Debug, Clone, Default)]
pub(crate) struct Known {
    /// Input plus output price, nano-dollars per million tokens (`None`:
    /// unpriced).
    pub cost: Option<i64>,
    pub measured: ModelPerformance,
}

/// Its median tokens per second, when it has at least `min_samples` of them.
fn speed(known: &Known, min_samples: u32) -> Option<f64> {
    known
        .measured
        .tokens_per_second
        .filter(|_| known.measured.speed_samples >= min_samples.max(1))
}

/// How good a candidate is (higher first); `None`: not ranked, it keeps its
/// declared slot.
fn rank(routing: &Routing, known: &Known) -> Option<f64> {
    match routing.by {
        RouteBy::Declared => None,
        RouteBy::Cost => known.cost.map(|c| -(c as f64)),
        RouteBy::Speed => speed(known, routing.min_samples),
        RouteBy::Score => {
            let tps = speed(known, routing.min_samples)?;
            // A free model is ranked as costing one nano-dollar per million.
            let cost = known.cost?.max(1) as f64;
            Some(tps.powf(routing.speed_weight) / cost)
        }
    }
}

/// `candidates` in the order to try them (see [`Routing`] for the rules);
/// `known` gives what is known of a candidate's model.
pub(crate) fn order(
    candidates: &[Candidate],
    routing: &Routing,
    known: impl Fn(&str) -> Known,
) -> Vec<Candidate> {
    let pinned = |pins: &[String]| -> Vec<Candidate> {
        pins.iter()
            .filter_map(|pin| candidates.iter().find(|c| c.model == *pin))
            .cloned()
            .collect()
    };
    let first = pinned(&routing.always_first);
    let last = pinned(&routing.always_last);
    let is_pinned = |c: &Candidate| {
        routing.always_first.contains(&c.model) || routing.always_last.contains(&c.model)
    };
    let mut middle: Vec<(Candidate, Option<f64>)> = Vec::new();
    let mut slow: Vec<Candidate> = Vec::new();
    for candidate in candidates.iter().filter(|c| !is_pinned(c)) {
        let facts = known(&candidate.model);
        let too_slow = routing
            .min_tokens_per_second
            .is_some_and(|min| speed(&facts, routing.min_samples).is_some_and(|tps| tps < min));
        if too_slow {
            slow.push(candidate.clone());
        } else {
            middle.push((candidate.clone(), rank(routing, &facts)));
        }
    }
    // Ranked candidates fill the slots ranked candidates held, best first
    // (a stable sort: ties keep their declared order).
    let mut ranked: Vec<(Candidate, f64)> = middle
        .iter()
        .filter_map(|(c, r)| r.map(|r| (c.clone(), r)))
        .collect();
    ranked.sort_by(|a, b| b.1.total_cmp(&a.1));
    let mut ranked = ranked.into_iter().map(|(c, _)| c);
    let middle = middle
        .into_iter()
        .filter_map(|(c, r)| match r {
            None => Some(c),
            Some(_) => ranked.next(),
        })
        .collect::<Vec<_>>();
    first
        .into_iter()
        .chain(middle)
        .chain(slow)
        .chain(last)
        .collect()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use std::collections::HashMap;
    use std::time::Duration;

    use super::*;

    fn candidates(ids: &[&str]) -> Vec<Candidate> {
        ids.iter()
            .map(|id| Candidate {
                model: (*id).to_owned(),
                timeout: Duration::from_secs(1),
                underlying: (*id).to_owned(),
            })
            .collect()
    }

    fn known(cost: Option<i64>, tps: Option<f64>, samples: u32) -> Known {
        Known {
            cost,
            measured: ModelPerformance {
                tokens_per_second: tps,
                speed_samples: samples,
                samples,
                ..ModelPerformance::default()
            },
        }
    }

    fn ids(list: Vec<Candidate>) -> Vec<String> {
        list.into_iter().map(|c| c.model).collect()
    }

    fn run(routing: &Routing, facts: &HashMap<&str, Known>) -> Vec<String> {
        let list = candidates(&["a", "b", "c", "d"]);
        ids(order(&list, routing, |m| {
            facts.get(m).cloned().unwrap_or_default()
        }))
    }

    #[test]
    fn declared_order_is_kept_without_routing_or_measurements() {
        let facts = HashMap::new();
        assert_eq!(run(&Routing::default(), &facts), ["a", "b", "c", "d"]);
        assert_eq!(
            run(&Routing::by(RouteBy::Speed), &facts),
            ["a", "b", "c", "d"]
        );
    }

    #[test]
    fn cost_ranks_priced_candidates_and_leaves_unpriced_in_place() {
        let facts = HashMap::from([
            ("a", known(Some(300), None, 0)),
            ("b", known(None, None, 0)),
            ("c", known(Some(100), None, 0)),
            ("d", known(Some(200), None, 0)),
        ]);
        assert_eq!(
            run(&Routing::by(RouteBy::Cost), &facts),
            ["c", "b", "d", "a"]
        );
    }

    #[test]
    fn speed_ranks_only_candidates_with_enough_samples() {
        let facts = HashMap::from([
            ("a", known(None, Some(10.0), 5)),
            ("b", known(None, Some(500.0), 4)),
            ("c", known(None, Some(90.0), 5)),
            ("d", known(None, Some(50.0), 9)),
        ]);
        let routing = Routing::by(RouteBy::Speed).min_samples(5);
        // b has 4 samples: it keeps slot 2; a, c, d are ranked into 1, 3, 4.
        assert_eq!(run(&routing, &facts), ["c", "b", "d", "a"]);
        assert_eq!(
            run(&routing.clone().min_samples(4), &facts),
            ["b", "c", "d", "a"]
        );
    }

    #[test]
    fn score_weighs_speed_against_cost() {
        let facts = HashMap::from([
            ("a", known(Some(100), Some(100.0), 5)), // 1.0
            ("b", known(Some(400), Some(300.0), 5)), // 0.75, 225 at weight 2
            ("c", known(Some(50), Some(25.0), 5)),   // 0.5, 12.5 at weight 2
            ("d", known(Some(0), Some(1.0), 5)),     // free: 1.0 / 1
        ]);
        let routing = Routing::by(RouteBy::Score);
        assert_eq!(run(&routing, &facts), ["a", "d", "b", "c"]);
        let weighted = routing.speed_weight(2.0);
        assert_eq!(run(&weighted, &facts), ["b", "a", "c", "d"]);
    }

    #[test]
    fn pins_and_the_speed_floor_bound_the_ranking() {
        let facts = HashMap::from([
            ("a", known(Some(100), Some(5.0), 5)),
            ("b", known(Some(400), Some(200.0), 5)),
            ("c", known(Some(50), Some(100.0), 5)),
            ("d", known(Some(10), Some(1000.0), 5)),
        ]);
        let routing = Routing::by(RouteBy::Cost)
            .min_tokens_per_second(20.0)
            .always_first("b")
            .always_last("d");
        // b pinned first, d pinned last though cheapest, a too slow: after c.
        assert_eq!(run(&routing, &facts), ["b", "c", "a", "d"]);
    }
}
