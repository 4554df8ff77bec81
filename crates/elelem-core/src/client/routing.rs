//! Routing by measured speed and cost, on the client: virtual models' routing
//! set from code, and what was measured.

use std::collections::BTreeMap;

use super::builder::ElelemBuilder;
use super::elelem::Elelem;
use crate::cost::UsageRecord;
use crate::routing::{ModelPerformance, Routing};

impl ElelemBuilder {
    /// Sets how the virtual model `id` orders its candidates (replacing what its
    /// models file says). `build()` fails if the virtual model does not exist or
    /// a pin names no candidate.
    ///
    /// ```
    /// use elelem_core::{Elelem, routing::{RouteBy, Routing}};
    /// let models = "[provider]\nname='p'\nbase_url='http://127.0.0.1:9/v1'\n\
    ///     [[models]]\nid='p:a'\n[[models]]\nid='p:b'\n\
    ///     [[virtual_models]]\nid='virtual:v'\ncandidates=[{model='p:a'},{model='p:b'}]";
    /// let elelem = Elelem::builder()
    ///     .models_toml("demo", models)
    ///     .routing("virtual:v", Routing::by(RouteBy::Speed).always_last("p:a"))
    ///     .build();
    /// assert!(elelem.is_ok());
    /// let wrong = Elelem::builder()
    ///     .models_toml("demo", models)
    ///     .routing("virtual:v", Routing::default().always_first("p:c"))
    ///     .build();
    /// assert!(wrong.unwrap_err().to_string().contains("not one of the candidates"));
    /// ```
    pub fn routing(mut self, virtual_model: impl Into<String>, routing: Routing) -> Self {
        self.options.routings.push((virtual_model.into(), routing));
        self
    }
}

impl Elelem {
    /// What was measured per model (`provider:model`) over its last
    /// [`WINDOW`](crate::routing::WINDOW) attempts: p50/p95 latency, median time
    /// to first token (streams), median output tokens per second, error rate and
    /// sample counts. Virtual models with a [`Routing`] rank their candidates
    /// from it.
    ///
    /// ```
    /// let elelem = elelem_core::Elelem::builder().build().unwrap();
    /// assert!(elelem.performance().is_empty());
    /// ```
    pub fn performance(&self) -> BTreeMap<String, ModelPerformance> {
        self.inner.accounting.performance.report()
    }

    /// Feeds usage records measured elsewhere (read back from a ledger, or by
    /// another process) into [`Elelem::performance`], so routing starts from what
    /// is already known; their time to first token included. Cache hits are
    /// ignored. (A client built with a ledger as its cost sink does this itself
    /// with the ledger's recent rows, see
    /// [`CostSink::recent_records`](crate::cost::CostSink::recent_records).)
    ///
    /// ```
    /// use std::time::{Duration, SystemTime};
    /// use elelem_core::cost::{AttemptOutcome, TokenCounts, UsageRecord};
    /// let elelem = elelem_core::Elelem::builder().build().unwrap();
    /// let record = UsageRecord {
    ///     timestamp: SystemTime::now(), call_id: 1, attempt: 1,
    ///     model: "groq:m".into(), provider: "groq".into(), tags: vec![].into(),
    ///     tokens: TokenCounts { output: Some(300), ..Default::default() },
    ///     cost: Default::default(), price_known: true,
    ///     duration: Duration::from_secs(1), outcome: AttemptOutcome::Success,
    ///     adjustments: Default::default(), cache_hit: false,
    ///     saved_cost: Default::default(), stream_interrupted: false, cost_unknown: false,
    ///     time_to_first_token: None,
    /// };
    /// elelem.learn_performance([&record]);
    /// assert_eq!(elelem.performance()["groq:m"].tokens_per_second, Some(300.0));
    /// ```
    pub fn learn_performance<'a>(&self, records: impl IntoIterator<Item = &'a UsageRecord>) {
        let performance = &self.inner.accounting.performance;
        for record in records {
            performance.learn(record);
        }
    }
}
