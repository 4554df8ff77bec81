//! Spend caps: [`Budget`]s per tag or overall, over a total, daily or monthly
//! (UTC calendar) window.
//!
//! Before each attempt of a call Elelem *reserves* that attempt's worst-case cost:
//! a bound, not an estimate (the prompt counted so it cannot be billed as more,
//! tools and images at the most a provider bills for them, at the input price,
//! plus the output limit times the number of choices `n` at the output price, the
//! limit raised by an extended-thinking budget where the provider raises it). If the spend of the window, plus every reservation of calls in flight,
//! plus this reservation would pass a budget that applies to the call, the call
//! fails with [`ElelemError::BudgetExceeded`]
//! and the attempt is not sent. Once the attempt is over, its reservation is
//! released and its real cost added to the spend.
//!
//! Retries are covered by reserving again before every attempt (the reservation
//! covers one attempt, not the whole retry ladder): a retry that no longer fits
//! the budget ends the call with `BudgetExceeded`, the attempts already made being
//! counted. Reservations are atomic in the [`BudgetStore`] that keeps the
//! accounts, so concurrent calls can never together overshoot a budget.
//!
//! A model without a price cannot be bounded: under a budget that applies to it,
//! a call is refused before anything is sent, unless the budget was built with
//! [`Budget::allow_unpriced`] (then it reserves nothing and counts only the cost
//! the provider reports, if any).
//!
//! A call whose future is dropped in the middle of an attempt keeps its
//! reservation as spend (the real cost is unknown, so the worst case is counted).
//!
//! # Where the accounts live
//!
//! By default in the process ([`MemoryBudgetStore`], one mutex never held across
//! an `.await`): another process has budgets of its own, and a total budget
//! counts from when the client was built. To make a budget hold across
//! processes and machines, give every client the same shared store with
//! [`ElelemBuilder::budget_store`](crate::ElelemBuilder::budget_store):
//! `elelem_ledger_postgres::PostgresBudgetStore` keeps the accounts in
//! PostgreSQL. Each process passes its own limits; a budget's account is named by
//! its [`scope`](Budget::scope) and window, so processes agreeing on the budget
//! share it. A shared store costs a round trip before each attempt (one
//! transaction to reserve) and one after (queued, not waited for), and a process
//! that dies mid-attempt leaves its reservations to expire (the store's expiry,
//! after which they count their worst case as spend).
//!
//! A reservation's real cost is counted in the window it was reserved in.
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

mod memory;
mod store;
mod worst_case;

use std::sync::Arc;
use std::time::SystemTime;

use crate::error::ElelemError;
use crate::money::Usd;

pub use memory::MemoryBudgetStore;
pub use store::{AccountKey, AccountLimit, Balance, BudgetStore, BudgetStoreError, Hold, Reserved};
pub(crate) use worst_case::{prompt_bound, worst_case};

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

/// Every budget of a client, and the store of their accounts.
pub(crate) struct Budgets {
    budgets: Vec<Budget>,
    store: Arc<dyn BudgetStore>,
    clock: Clock,
}

impl std::fmt::Debug for Budgets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Budgets")
            .field("budgets", &self.budgets)
            .finish_non_exhaustive()
    }
}

impl Budgets {
    /// `budgets` over `store` (default: a fresh [`MemoryBudgetStore`]), reading
    /// windows from `clock` (default: `SystemTime::now`).
    pub(crate) fn new(
        budgets: Vec<Budget>,
        clock: Option<Clock>,
        store: Option<Arc<dyn BudgetStore>>,
    ) -> Budgets {
        Budgets {
            budgets,
            store: store.unwrap_or_else(|| Arc::new(MemoryBudgetStore::new())),
            clock: clock.unwrap_or_else(|| Arc::new(SystemTime::now)),
        }
    }

    /// Whether any budget applies to a call with `tags`.
    pub(crate) fn applies(&self, tags: &[String]) -> bool {
        self.budgets.iter().any(|b| b.applies_to(tags))
    }

    /// Reserves `worst` (`None`: unpriced) on every budget that applies to `tags`,
    /// or says which budget it would pass.
    pub(crate) async fn reserve(
        &self,
        model: &str,
        tags: &[String],
        worst: Option<Usd>,
    ) -> Result<Reservation, ElelemError> {
        let applicable: Vec<&Budget> = self.budgets.iter().filter(|b| b.applies_to(tags)).collect();
        let amount = match worst {
            Some(amount) => amount,
            None => {
                if let Some(budget) = applicable.iter().find(|b| !b.allow_unpriced) {
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
        // One account per scope and window: budgets of the same scope share it,
        // under the smallest of their limits.
        let mut accounts: Vec<AccountLimit> = Vec::with_capacity(applicable.len());
        let mut owners: Vec<&Budget> = Vec::with_capacity(applicable.len());
        for budget in applicable {
            let key = AccountKey::new(budget.scope(), budget.window.key(now));
            match accounts.iter().position(|a| a.key == key) {
                Some(i) => {
                    if let (Some(account), Some(owner)) = (accounts.get_mut(i), owners.get_mut(i)) {
                        if budget.limit < account.limit {
                            account.limit = budget.limit;
                            *owner = budget;
                        }
                    }
                }
                None => {
                    accounts.push(AccountLimit {
                        key,
                        limit: budget.limit,
                    });
                    owners.push(budget);
                }
            }
        }
        let reserved =
            self.store
                .reserve(&accounts, amount)
                .await
                .map_err(|e| ElelemError::BudgetStore {
                    reason: e.to_string(),
                })?;
        match reserved {
            Reserved::Held(hold) => Ok(Reservation {
                store: Arc::clone(&self.store),
                hold: Some(hold),
            }),
            Reserved::Refused { account, balance } => {
                let (scope, limit) = match owners.get(account) {
                    Some(budget) => (budget.scope(), budget.limit),
                    None => (String::from("(unknown)"), Usd::ZERO),
                };
                Err(ElelemError::BudgetExceeded(Box::new(BudgetExceeded {
                    scope,
                    limit,
                    spent: balance.spent,
                    reserved: balance.reserved,
                    needed: amount,
                })))
            }
        }
    }

    /// The spend and reservations of every budget in its current window.
    pub(crate) fn status(&self) -> Result<Vec<BudgetStatus>, ElelemError> {
        let now = (self.clock)();
        let keys: Vec<AccountKey> = self
            .budgets
            .iter()
            .map(|b| AccountKey::new(b.scope(), b.window.key(now)))
            .collect();
        let balances = self
            .store
            .balances(&keys)
            .map_err(|e| ElelemError::BudgetStore {
                reason: e.to_string(),
            })?;
        Ok(self
            .budgets
            .iter()
            .zip(balances)
            .map(|(budget, balance)| BudgetStatus {
                budget: budget.clone(),
                spent: balance.spent,
                reserved: balance.reserved,
            })
            .collect())
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
    store: Arc<dyn BudgetStore>,
    hold: Option<Hold>,
}

impl Reservation {
    /// Releases the reservation and counts the attempt's real cost.
    pub(crate) fn settle(mut self, cost: Usd) {
        if let Some(hold) = self.hold.take() {
            self.store.settle(hold, cost);
        }
    }
}

impl Drop for Reservation {
    fn drop(&mut self) {
        // Dropped unsettled (the call's future was cancelled mid-attempt): the real
        // cost is unknown, so the worst case is counted.
        if let Some(hold) = self.hold.take() {
            let worst = hold.amount;
            self.store.settle(hold, worst);
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

    #[tokio::test]
    async fn reservations_are_held_then_settled() {
        let budgets = Budgets::new(
            vec![Budget::new(Usd::from_femtos(100)).for_tag("a")],
            None,
            None,
        );
        let tags = vec!["a".to_owned()];
        let r1 = budgets
            .reserve("p:m", &tags, Some(Usd::from_femtos(60)))
            .await
            .unwrap();
        assert!(matches!(
            budgets
                .reserve("p:m", &tags, Some(Usd::from_femtos(41)))
                .await,
            Err(ElelemError::BudgetExceeded(_))
        ));
        // Untagged calls are not under the tag budget.
        assert!(budgets
            .reserve("p:m", &[], Some(Usd::from_femtos(1000)))
            .await
            .is_ok());
        r1.settle(Usd::from_femtos(10));
        let status = budgets.status().unwrap();
        assert_eq!(status[0].spent, Usd::from_femtos(10));
        assert_eq!(status[0].reserved, Usd::ZERO);
        let r2 = budgets
            .reserve("p:m", &tags, Some(Usd::from_femtos(90)))
            .await
            .unwrap();
        drop(r2);
        assert_eq!(budgets.status().unwrap()[0].spent, Usd::from_femtos(100));
        assert!(budgets.reserve("p:m", &tags, None).await.is_err());
    }

    #[tokio::test]
    async fn budgets_of_one_scope_share_an_account_under_the_smaller_limit() {
        let budgets = Budgets::new(
            vec![
                Budget::new(Usd::from_femtos(100)),
                Budget::new(Usd::from_femtos(50)),
            ],
            None,
            None,
        );
        let held = budgets
            .reserve("p:m", &[], Some(Usd::from_femtos(40)))
            .await
            .unwrap();
        let Err(ElelemError::BudgetExceeded(refusal)) = budgets
            .reserve("p:m", &[], Some(Usd::from_femtos(20)))
            .await
        else {
            panic!("the smaller limit refuses");
        };
        assert_eq!(refusal.limit, Usd::from_femtos(50));
        assert_eq!(refusal.reserved, Usd::from_femtos(40));
        held.settle(Usd::from_femtos(5));
        let status = budgets.status().unwrap();
        assert_eq!(status[0].spent, Usd::from_femtos(5));
        assert_eq!(status[1].spent, Usd::from_femtos(5));
    }
}
