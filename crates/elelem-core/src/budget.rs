//! Spend caps: [`Budget`]s per tag or overall, over a total, daily or monthly
//! (UTC calendar) window.
//!
//! Before each attempt of a call Elelem *reserves* that attempt's worst-case cost
//! (the prompt estimate at the input price plus the output limit at the output
//! price). If the spend of the window, plus every reservation of calls in flight,
//! plus this reservation would pass a budget that applies to the call, the call
//! fails with [`ElelemError::BudgetExceeded`](crate::ElelemError::BudgetExceeded)
//! and the attempt is not sent. Once the attempt is over, its reservation is
//! released and its real cost added to the spend.
//!
//! Retries are covered by reserving again before every attempt (the reservation
//! covers one attempt, not the whole retry ladder): a retry that no longer fits
//! the budget ends the call with `BudgetExceeded`, the attempts already made being
//! counted. The ledger is one mutex, never held across an `.await`, so concurrent
//! calls can never together overshoot a budget.
//!
//! A model without a price cannot be bounded: under a budget that applies to it,
//! a call is refused before anything is sent, unless the budget was built with
//! [`Budget::allow_unpriced`] (then it reserves nothing and counts only the cost
//! the provider reports, if any).
//!
//! A call whose future is dropped in the middle of an attempt keeps its
//! reservation as spend (the real cost is unknown, so the worst case is counted).
//!
//! Budgets live in the process: another process using the same keys has its own.
//!
//! ```
//! use elelem_core::{budget::Budget, Elelem, Usd};
//! let cap: Usd = "5".parse().unwrap();
//! let elelem = Elelem::builder()
//!     .budget(Budget::new(cap).per_month())
//!     .budget(Budget::new("0.50".parse().unwrap()).for_tag("experiments").per_day())
//!     .build()
//!     .unwrap();
//! # let _ = elelem;
//! ```

use std::sync::{Arc, Mutex, PoisonError};
use std::time::SystemTime;

use crate::catalogue::ModelEntry;
use crate::error::ElelemError;
use crate::money::Usd;
use crate::tokens::estimate_tokens;
use crate::types::Message;

/// The period a [`Budget`] counts spend over (UTC calendar periods).
///
/// ```
/// use elelem_core::budget::{Budget, Window};
/// let b = Budget::new(elelem_core::Usd::ZERO).per_day();
/// assert_eq!(b.window(), Window::Day);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Window {
    /// Every call since the client was built.
    Total,
    /// The current UTC day; spend resets at midnight UTC.
    Day,
    /// The current UTC calendar month; spend resets on the 1st at midnight UTC.
    Month,
}

impl Window {
    /// The number of the window `now` falls in (days or months since 1970).
    fn key(self, now: SystemTime) -> i64 {
        let secs = match now.duration_since(SystemTime::UNIX_EPOCH) {
            Ok(d) => i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
            Err(e) => -i64::try_from(e.duration().as_secs()).unwrap_or(i64::MAX),
        };
        let days = secs.div_euclid(86_400);
        match self {
            Window::Total => 0,
            Window::Day => days,
            Window::Month => {
                let (year, month) = year_month(days);
                year * 12 + month
            }
        }
    }

    fn name(self) -> &'static str {
        match self {
            Window::Total => "total",
            Window::Day => "per UTC day",
            Window::Month => "per UTC month",
        }
    }
}

/// The civil (year, month 0..12) of a day number since 1970-01-01 (Howard
/// Hinnant's `civil_from_days`).
fn year_month(days: i64) -> (i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month - 1)
}

/// A cap on spend: overall or for one tag, over a [`Window`].
///
/// ```
/// use elelem_core::budget::{Budget, Window};
/// let b = Budget::new("2.5".parse().unwrap()).for_tag("batch").per_month();
/// assert_eq!(b.tag(), Some("batch"));
/// assert_eq!(b.window(), Window::Month);
/// assert_eq!(b.scope(), "tag \"batch\" per UTC month");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Budget {
    limit: Usd,
    tag: Option<String>,
    window: Window,
    allow_unpriced: bool,
}

impl Budget {
    /// A budget of `limit` over every call, for the client's whole life (narrow it
    /// with [`for_tag`](Self::for_tag), [`per_day`](Self::per_day),
    /// [`per_month`](Self::per_month)).
    ///
    /// ```
    /// let b = elelem_core::budget::Budget::new("10".parse().unwrap());
    /// assert_eq!(b.tag(), None);
    /// ```
    pub fn new(limit: Usd) -> Budget {
        Budget {
            limit,
            tag: None,
            window: Window::Total,
            allow_unpriced: false,
        }
    }

    /// The same as [`Budget::new`]: `limit` over the client's whole life.
    ///
    /// ```
    /// let b = elelem_core::budget::Budget::total("1".parse().unwrap());
    /// assert_eq!(b.window(), elelem_core::budget::Window::Total);
    /// ```
    pub fn total(limit: Usd) -> Budget {
        Budget::new(limit)
    }

    /// Applies the budget only to calls carrying `tag`.
    ///
    /// ```
    /// let b = elelem_core::budget::Budget::new(elelem_core::Usd::ZERO).for_tag("x");
    /// assert_eq!(b.tag(), Some("x"));
    /// ```
    #[must_use]
    pub fn for_tag(mut self, tag: impl Into<String>) -> Budget {
        self.tag = Some(tag.into());
        self
    }

    /// Counts spend per UTC day.
    ///
    /// ```
    /// let b = elelem_core::budget::Budget::new(elelem_core::Usd::ZERO).per_day();
    /// assert_eq!(b.window(), elelem_core::budget::Window::Day);
    /// ```
    #[must_use]
    pub fn per_day(mut self) -> Budget {
        self.window = Window::Day;
        self
    }

    /// Counts spend per UTC calendar month.
    ///
    /// ```
    /// let b = elelem_core::budget::Budget::new(elelem_core::Usd::ZERO).per_month();
    /// assert_eq!(b.window(), elelem_core::budget::Window::Month);
    /// ```
    #[must_use]
    pub fn per_month(mut self) -> Budget {
        self.window = Window::Month;
        self
    }

    /// Lets calls to models without a price through (they reserve nothing and
    /// count only a cost the provider reports). Without it such calls are refused.
    ///
    /// ```
    /// let b = elelem_core::budget::Budget::new(elelem_core::Usd::ZERO).allow_unpriced();
    /// # let _ = b;
    /// ```
    #[must_use]
    pub fn allow_unpriced(mut self) -> Budget {
        self.allow_unpriced = true;
        self
    }

    /// The cap.
    ///
    /// ```
    /// let b = elelem_core::budget::Budget::new("3".parse().unwrap());
    /// assert_eq!(b.limit(), "3".parse().unwrap());
    /// ```
    pub fn limit(&self) -> Usd {
        self.limit
    }

    /// The tag it applies to (`None`: every call).
    ///
    /// ```
    /// assert_eq!(elelem_core::budget::Budget::new(elelem_core::Usd::ZERO).tag(), None);
    /// ```
    pub fn tag(&self) -> Option<&str> {
        self.tag.as_deref()
    }

    /// Its window.
    ///
    /// ```
    /// use elelem_core::budget::{Budget, Window};
    /// assert_eq!(Budget::new(elelem_core::Usd::ZERO).window(), Window::Total);
    /// ```
    pub fn window(&self) -> Window {
        self.window
    }

    /// A human description, as [`ElelemError::BudgetExceeded`] names it.
    ///
    /// ```
    /// let b = elelem_core::budget::Budget::new("1".parse().unwrap()).per_day();
    /// assert_eq!(b.scope(), "overall per UTC day");
    /// ```
    pub fn scope(&self) -> String {
        let who = match &self.tag {
            Some(tag) => format!("tag {tag:?}"),
            None => "overall".to_owned(),
        };
        format!("{who} {}", self.window.name())
    }

    fn applies_to(&self, tags: &[String]) -> bool {
        match &self.tag {
            None => true,
            Some(tag) => tags.contains(tag),
        }
    }
}

/// The clock budgets read their windows from.
pub(crate) type Clock = Arc<dyn Fn() -> SystemTime + Send + Sync>;

/// One budget's account for its current window.
#[derive(Debug, Default, Clone, Copy)]
struct Account {
    window: i64,
    spent: Usd,
    reserved: Usd,
}

/// Every budget of a client, with its ledger.
pub(crate) struct Budgets {
    budgets: Vec<Budget>,
    ledger: Mutex<Vec<Account>>,
    clock: Clock,
}

impl std::fmt::Debug for Budgets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Budgets")
            .field("budgets", &self.budgets)
            .finish_non_exhaustive()
    }
}

/// The worst case of one attempt: `None` when the model has no price.
pub(crate) fn worst_case(
    model: &ModelEntry,
    messages: &[Message],
    instruction: Option<&str>,
    max_tokens: Option<u32>,
) -> Result<Option<Usd>, ElelemError> {
    let Some(prices) = model.prices else {
        return Ok(None);
    };
    let instruction_message = instruction.map(Message::system);
    let all: Vec<Message> = messages
        .iter()
        .chain(instruction_message.iter())
        .cloned()
        .collect();
    let prompt = estimate_tokens(&all, model).tokens;
    let output = match (max_tokens, model.max_output, model.context_window) {
        (Some(n), _, _) => u64::from(n),
        (None, Some(n), _) => n,
        (None, None, Some(window)) => window.saturating_sub(prompt),
        (None, None, None) => {
            return Err(ElelemError::InvalidRequest {
                reason: format!(
                    "a budget applies to this call but {} has no output limit or context window in the catalogue, so its worst-case cost is unbounded; set max_tokens on the request",
                    model.id
                ),
            })
        }
    };
    let input_price = prices.input.max(prices.cache_write_input);
    Ok(Some(
        input_price.cost_of(prompt) + prices.output.cost_of(output),
    ))
}

impl Budgets {
    pub(crate) fn new(budgets: Vec<Budget>, clock: Option<Clock>) -> Budgets {
        let clock = clock.unwrap_or_else(|| Arc::new(SystemTime::now));
        let now = clock();
        let ledger = budgets
            .iter()
            .map(|b| Account {
                window: b.window.key(now),
                ..Account::default()
            })
            .collect();
        Budgets {
            budgets,
            ledger: Mutex::new(ledger),
            clock,
        }
    }

    /// Whether any budget applies to a call with `tags`.
    pub(crate) fn applies(&self, tags: &[String]) -> bool {
        self.budgets.iter().any(|b| b.applies_to(tags))
    }

    /// Reserves `worst` (`None`: unpriced) on every budget that applies to `tags`,
    /// or says which budget it would pass.
    pub(crate) fn reserve(
        self: &Arc<Self>,
        model: &str,
        tags: &[String],
        worst: Option<Usd>,
    ) -> Result<Reservation, ElelemError> {
        let applicable: Vec<usize> = (0..self.budgets.len())
            .filter(|&i| self.budgets.get(i).is_some_and(|b| b.applies_to(tags)))
            .collect();
        let amount = match worst {
            Some(amount) => amount,
            None => {
                if let Some(budget) = applicable
                    .iter()
                    .filter_map(|&i| self.budgets.get(i))
                    .find(|b| !b.allow_unpriced)
                {
                    return Err(ElelemError::InvalidRequest {
                        reason: format!(
                            "{model} has no price, so the budget {} cannot bound its cost; give it a price in a models file, or build the budget with Budget::allow_unpriced()",
                            budget.scope()
                        ),
                    });
                }
                Usd::ZERO
            }
        };
        let now = (self.clock)();
        let mut ledger = self.ledger.lock().unwrap_or_else(PoisonError::into_inner);
        let mut held = Vec::with_capacity(applicable.len());
        for &i in &applicable {
            let (Some(budget), Some(account)) = (self.budgets.get(i), ledger.get_mut(i)) else {
                continue;
            };
            let key = budget.window.key(now);
            if account.window != key {
                *account = Account {
                    window: key,
                    ..Account::default()
                };
            }
            let after = account.spent + account.reserved + amount;
            if after > budget.limit {
                return Err(ElelemError::BudgetExceeded(Box::new(BudgetExceeded {
                    scope: budget.scope(),
                    limit: budget.limit,
                    spent: account.spent,
                    reserved: account.reserved,
                    needed: amount,
                })));
            }
            held.push((i, key));
        }
        for &(i, _) in &held {
            if let Some(account) = ledger.get_mut(i) {
                account.reserved += amount;
            }
        }
        drop(ledger);
        Ok(Reservation {
            budgets: Arc::clone(self),
            held,
            amount,
            settled: false,
        })
    }

    /// Releases `amount` reserved in `window` and adds `cost` to the current
    /// window of each budget in `held`.
    fn settle(&self, held: &[(usize, i64)], amount: Usd, cost: Usd) {
        let now = (self.clock)();
        let mut ledger = self.ledger.lock().unwrap_or_else(PoisonError::into_inner);
        for &(i, window) in held {
            let (Some(budget), Some(account)) = (self.budgets.get(i), ledger.get_mut(i)) else {
                continue;
            };
            if account.window == window {
                account.reserved =
                    Usd::from_femtos((account.reserved.femtos() - amount.femtos()).max(0));
            }
            let key = budget.window.key(now);
            if account.window != key {
                *account = Account {
                    window: key,
                    ..Account::default()
                };
            }
            account.spent += cost;
        }
    }

    /// The spend and reservations of every budget in its current window.
    pub(crate) fn status(&self) -> Vec<BudgetStatus> {
        let now = (self.clock)();
        let ledger = self.ledger.lock().unwrap_or_else(PoisonError::into_inner);
        self.budgets
            .iter()
            .zip(ledger.iter())
            .map(|(budget, account)| {
                let current = account.window == budget.window.key(now);
                BudgetStatus {
                    budget: budget.clone(),
                    spent: if current { account.spent } else { Usd::ZERO },
                    reserved: if current { account.reserved } else { Usd::ZERO },
                }
            })
            .collect()
    }
}

/// Why a call was refused: the budget, its account, and the worst case that did
/// not fit (`spent + reserved + needed > limit`). Carried by
/// [`ElelemError::BudgetExceeded`].
///
/// ```
/// use elelem_core::{budget::BudgetExceeded, Usd};
/// let e = BudgetExceeded {
///     scope: "overall per UTC day".into(),
///     limit: "1".parse().unwrap(),
///     spent: "0.9".parse().unwrap(),
///     reserved: Usd::ZERO,
///     needed: "0.2".parse().unwrap(),
/// };
/// assert!(e.to_string().contains("budget overall per UTC day exceeded"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("budget {scope} exceeded: {spent} spent + {reserved} reserved by calls in flight + {needed} worst case for this attempt > {limit}; lower max_tokens or shorten the prompt, wait for the window to reset, or raise the budget")]
pub struct BudgetExceeded {
    /// Which budget (`overall per UTC day`, `tag "x" total`).
    pub scope: String,
    /// Its limit.
    pub limit: Usd,
    /// Real spend in its current window.
    pub spent: Usd,
    /// Worst cases reserved by attempts in flight.
    pub reserved: Usd,
    /// The worst case this attempt needed to reserve.
    pub needed: Usd,
}

/// A budget's account in its current window, from
/// [`Elelem::budget_status`](crate::Elelem::budget_status).
///
/// ```
/// use elelem_core::{budget::Budget, Elelem, Usd};
/// let elelem = Elelem::builder().budget(Budget::new("1".parse().unwrap())).build().unwrap();
/// let status = elelem.budget_status();
/// assert_eq!(status[0].spent, Usd::ZERO);
/// assert_eq!(status[0].remaining(), "1".parse().unwrap());
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BudgetStatus {
    /// The budget.
    pub budget: Budget,
    /// Real spend so far in the window.
    pub spent: Usd,
    /// Worst cases reserved by attempts in flight.
    pub reserved: Usd,
}

impl BudgetStatus {
    /// What is left for new reservations: limit - spent - reserved (may be
    /// negative when an unpriced attempt's reported cost passed the limit).
    ///
    /// ```
    /// use elelem_core::{budget::{Budget, BudgetStatus}, Usd};
    /// let s = BudgetStatus { budget: Budget::new("1".parse().unwrap()), spent: "0.25".parse().unwrap(), reserved: Usd::ZERO };
    /// assert_eq!(s.remaining(), "0.75".parse().unwrap());
    /// ```
    pub fn remaining(&self) -> Usd {
        Usd::from_femtos(self.budget.limit.femtos() - self.spent.femtos() - self.reserved.femtos())
    }
}

/// A worst case held on some budgets until the attempt is over.
pub(crate) struct Reservation {
    budgets: Arc<Budgets>,
    held: Vec<(usize, i64)>,
    amount: Usd,
    settled: bool,
}

impl Reservation {
    /// Releases the reservation and counts the attempt's real cost.
    pub(crate) fn settle(mut self, cost: Usd) {
        self.settled = true;
        self.budgets.settle(&self.held, self.amount, cost);
    }
}

impl Drop for Reservation {
    fn drop(&mut self) {
        // Dropped unsettled (the call's future was cancelled mid-attempt): the real
        // cost is unknown, so the worst case is counted.
        if !self.settled {
            self.budgets.settle(&self.held, self.amount, self.amount);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_follow_the_utc_calendar() {
        let at = |secs: u64| SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(secs);
        assert_eq!(year_month(0), (1970, 0));
        // 2024-02-29 is day 19782; 2024-03-01 is 19783.
        assert_eq!(year_month(19_782), (2024, 1));
        assert_eq!(year_month(19_783), (2024, 2));
        assert_eq!(year_month(-1), (1969, 11));
        let before = at(19_782 * 86_400 + 86_399);
        let after = at(19_783 * 86_400);
        assert_ne!(Window::Day.key(before), Window::Day.key(after));
        assert_ne!(Window::Month.key(before), Window::Month.key(after));
        assert_eq!(Window::Total.key(before), Window::Total.key(after));
        assert_eq!(
            Window::Month.key(at(19_783 * 86_400)),
            Window::Month.key(at(19_783 * 86_400 + 20 * 86_400))
        );
    }

    #[test]
    fn reservations_are_held_then_settled() {
        let budgets = Arc::new(Budgets::new(
            vec![Budget::new(Usd::from_femtos(100)).for_tag("a")],
            None,
        ));
        let tags = vec!["a".to_owned()];
        let r1 = budgets
            .reserve("p:m", &tags, Some(Usd::from_femtos(60)))
            .unwrap();
        assert!(matches!(
            budgets.reserve("p:m", &tags, Some(Usd::from_femtos(41))),
            Err(ElelemError::BudgetExceeded(_))
        ));
        // Untagged calls are not under the tag budget.
        assert!(budgets
            .reserve("p:m", &[], Some(Usd::from_femtos(1000)))
            .is_ok());
        r1.settle(Usd::from_femtos(10));
        let status = budgets.status();
        assert_eq!(status[0].spent, Usd::from_femtos(10));
        assert_eq!(status[0].reserved, Usd::ZERO);
        let r2 = budgets
            .reserve("p:m", &tags, Some(Usd::from_femtos(90)))
            .unwrap();
        drop(r2);
        assert_eq!(budgets.status()[0].spent, Usd::from_femtos(100));
        assert!(budgets.reserve("p:m", &tags, None).is_err());
    }
}
