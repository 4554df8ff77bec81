//! The [`CostSink`] trait: where usage records go.

use std::time::SystemTime;

use super::{Stats, UsageRecord};

/// Which records a stats query covers.
///
/// ```
/// use std::time::{Duration, SystemTime};
/// use elelem_core::cost::StatsQuery;
///
/// let now = SystemTime::now();
/// let queries = [
///     StatsQuery::All,
///     StatsQuery::Tag("billing".into()),
///     StatsQuery::Model("groq:openai/gpt-oss-20b".into()),
///     StatsQuery::Provider("groq".into()),
///     StatsQuery::Between { from: now - Duration::from_secs(3600), to: now },
/// ];
/// assert!(queries[4].covers_time(now - Duration::from_secs(60)));
/// assert!(!queries[4].covers_time(now)); // `to` is exclusive
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum StatsQuery {
    /// Every record.
    All,
    /// Records of calls carrying this tag.
    Tag(String),
    /// Records of attempts sent to this model, as recorded: the `provider:model`
    /// string of [`UsageRecord::model`].
    Model(String),
    /// Records of attempts sent to this provider ([`UsageRecord::provider`]).
    Provider(String),
    /// Records whose [`UsageRecord::timestamp`] is in `from..to` (`from`
    /// included, `to` excluded).
    Between {
        /// The first instant covered.
        from: SystemTime,
        /// The first instant no longer covered.
        to: SystemTime,
    },
}

impl StatsQuery {
    /// Whether a record made at `time` falls in this query's time range (always
    /// true for the queries without one).
    pub fn covers_time(&self, time: SystemTime) -> bool {
        match self {
            StatsQuery::Between { from, to } => *from <= time && time < *to,
            _ => true,
        }
    }

    /// Whether `record` is covered by this query (a tag query matches a record
    /// carrying the tag, however often).
    ///
    /// ```
    /// # use std::time::{Duration, SystemTime};
    /// use elelem_core::cost::{AttemptOutcome, StatsQuery, UsageRecord};
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
    /// assert!(StatsQuery::Provider("groq".into()).matches(&record));
    /// assert!(StatsQuery::Tag("billing".into()).matches(&record));
    /// assert!(!StatsQuery::Model("groq:other".into()).matches(&record));
    /// ```
    pub fn matches(&self, record: &UsageRecord) -> bool {
        match self {
            StatsQuery::All => true,
            StatsQuery::Tag(tag) => record.tags.iter().any(|t| t == tag),
            StatsQuery::Model(model) => record.model == *model,
            StatsQuery::Provider(provider) => record.provider == *provider,
            StatsQuery::Between { .. } => self.covers_time(record.timestamp),
        }
    }
}

/// Receives one [`UsageRecord`] per attempt, failed attempts included.
///
/// `record` is called on the request path: it must not block (no disk or network
/// I/O inline; queue it). A sink that can answer stats queries overrides `stats`.
///
/// ```
/// use std::sync::Mutex;
/// use elelem_core::cost::{CostSink, UsageRecord};
///
/// /// Counts attempts.
/// #[derive(Debug, Default)]
/// struct Counter(Mutex<u64>);
///
/// impl CostSink for Counter {
///     fn record(&self, _record: &UsageRecord) {
///         if let Ok(mut n) = self.0.lock() { *n += 1; }
///     }
/// }
/// ```
pub trait CostSink: Send + Sync + std::fmt::Debug {
    /// Takes one attempt's record.
    fn record(&self, record: &UsageRecord);

    /// Answers a stats query, if this sink keeps stats.
    fn stats(&self, _query: &StatsQuery) -> Option<Stats> {
        None
    }

    /// The stored records `query` asks for (oldest first), if this sink keeps
    /// records (the ledgers do): a client built with this sink seeds its
    /// routing measurements from them. The default keeps none.
    ///
    /// ```
    /// use elelem_core::cost::{CostSink, InMemoryStatsSink, RecentQuery};
    /// assert!(InMemoryStatsSink::new().recent_records(&RecentQuery::for_routing()).is_empty());
    /// ```
    fn recent_records(&self, _query: &super::RecentQuery) -> Vec<UsageRecord> {
        Vec::new()
    }
}
