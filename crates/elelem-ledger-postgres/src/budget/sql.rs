//! The budget accounts' tables, and the transactions that reserve, settle and
//! read them.
//!
//! Money is exact: femto-dollars as `NUMERIC(40, 0)`, sent and read as text (the
//! `postgres` crate has no `i128`), so sums never round nor overflow.
//!
//! Deadlocks are avoided by locking accounts in one global order (scope in byte
//! order, then window), both when creating them and when locking them; PostgreSQL
//! would still detect one and abort a transaction, which is then run again.

use std::time::Duration;

use elelem_core::budget::{AccountKey, AccountLimit, Balance, Hold, Reserved};
use elelem_core::Usd;
use postgres::error::SqlState;
use postgres::{Client, Statement, Transaction};

use crate::LedgerError;

const SCHEMA: &str = r#"
CREATE TABLE IF NOT EXISTS elelem_budget_accounts (
    scope            TEXT           NOT NULL,
    window_key       BIGINT         NOT NULL,
    spent_femto_usd  NUMERIC(40, 0) NOT NULL DEFAULT 0,
    PRIMARY KEY (scope, window_key)
);
CREATE TABLE IF NOT EXISTS elelem_budget_reservations (
    id                BIGINT         NOT NULL,
    scope             TEXT           NOT NULL,
    window_key        BIGINT         NOT NULL,
    amount_femto_usd  NUMERIC(40, 0) NOT NULL,
    expires_at        TIMESTAMPTZ    NOT NULL,
    PRIMARY KEY (id, scope, window_key)
);
CREATE INDEX IF NOT EXISTS elelem_budget_reservations_by_account
    ON elelem_budget_reservations (scope, window_key);
CREATE SEQUENCE IF NOT EXISTS elelem_budget_reservation_ids;
"#;

/// Serializes schema creation between processes (another key than the ledger's).
const SCHEMA_LOCK: i64 = 0x0065_6c65_6c65_6d62;

/// Creates the accounts (if new) in the global order.
const CREATE_ACCOUNTS: &str = r#"
INSERT INTO elelem_budget_accounts (scope, window_key)
SELECT s, w FROM unnest($1::text[], $2::bigint[]) AS k(s, w)
ORDER BY s COLLATE "C", w
ON CONFLICT DO NOTHING"#;

/// Locks the accounts in the global order (rows are locked after the sort).
const LOCK_ACCOUNTS: &str = r#"
SELECT 1 FROM elelem_budget_accounts
WHERE (scope, window_key) IN (SELECT * FROM unnest($1::text[], $2::bigint[]))
ORDER BY scope COLLATE "C", window_key
FOR UPDATE"#;

/// Each account's spend, live reservations and expired reservations, in the
/// order asked. Run as its own statement after locking, so that its snapshot
/// holds every reservation committed before the locks were granted.
const BALANCES: &str = r#"
SELECT COALESCE(a.spent_femto_usd, 0)::text,
       COALESCE(r.live, 0)::text,
       COALESCE(r.expired, 0)::text
FROM unnest($1::text[], $2::bigint[]) WITH ORDINALITY AS k(s, w, ord)
LEFT JOIN elelem_budget_accounts a ON a.scope = k.s AND a.window_key = k.w
LEFT JOIN LATERAL (
    SELECT SUM(amount_femto_usd) FILTER (WHERE expires_at > now()) AS live,
           SUM(amount_femto_usd) FILTER (WHERE expires_at <= now()) AS expired
    FROM elelem_budget_reservations
    WHERE scope = k.s AND window_key = k.w
) r ON true
ORDER BY k.ord"#;

/// Counts the expired reservations of the accounts as spend at their worst case
/// and deletes them.
const SWEEP_EXPIRED: &str = r#"
WITH gone AS (
    DELETE FROM elelem_budget_reservations r
    USING unnest($1::text[], $2::bigint[]) AS k(s, w)
    WHERE r.scope = k.s AND r.window_key = k.w AND r.expires_at <= now()
    RETURNING r.scope, r.window_key, r.amount_femto_usd
), totals AS (
    SELECT scope, window_key, SUM(amount_femto_usd) AS total
    FROM gone GROUP BY scope, window_key
)
UPDATE elelem_budget_accounts a
SET spent_femto_usd = a.spent_femto_usd + t.total
FROM totals t
WHERE a.scope = t.scope AND a.window_key = t.window_key"#;

/// Holds `$3` on every account until `$4` milliseconds from now.
const HOLD: &str = r#"
WITH id AS (SELECT nextval('elelem_budget_reservation_ids') AS id)
INSERT INTO elelem_budget_reservations (id, scope, window_key, amount_femto_usd, expires_at)
SELECT id.id, k.s, k.w, $3::text::numeric, now() + $4::bigint * interval '1 millisecond'
FROM id, unnest($1::text[], $2::bigint[]) AS k(s, w)
RETURNING id"#;

/// Releases reservation `$1` and adds `$2` to the spend of its accounts (none if
/// it had expired and was already counted at its worst case).
const SETTLE: &str = r#"
WITH gone AS (
    DELETE FROM elelem_budget_reservations WHERE id = $1
    RETURNING scope, window_key
)
UPDATE elelem_budget_accounts a
SET spent_femto_usd = a.spent_femto_usd + $2::text::numeric
FROM gone g
WHERE a.scope = g.scope AND a.window_key = g.window_key"#;

/// How many times a transaction aborted by a deadlock or serialization failure
/// is run again.
const RETRIES: usize = 5;

/// A connection with the store's statements prepared.
pub(crate) struct Conn {
    client: Client,
    create: Statement,
    lock: Statement,
    balances: Statement,
    sweep: Statement,
    hold: Statement,
    settle: Statement,
}

/// Connects, creates the tables if needed and prepares the statements.
pub(crate) fn connect(params: &str) -> Result<Conn, LedgerError> {
    let mut client = crate::tables::connect_creating(params, SCHEMA_LOCK, SCHEMA)?;
    let mut prepare = |sql: &str| client.prepare(sql).map_err(LedgerError::Connect);
    Ok(Conn {
        create: prepare(CREATE_ACCOUNTS)?,
        lock: prepare(LOCK_ACCOUNTS)?,
        balances: prepare(BALANCES)?,
        sweep: prepare(SWEEP_EXPIRED)?,
        hold: prepare(HOLD)?,
        settle: prepare(SETTLE)?,
        client,
    })
}

/// Exact femto-dollars as a `numeric` literal.
fn femtos(amount: Usd) -> String {
    amount.femtos().to_string()
}

/// A `numeric` read back as text.
fn parse_usd(text: &str) -> Result<Usd, LedgerError> {
    text.parse::<i128>()
        .map(Usd::from_femtos)
        .map_err(|e| LedgerError::BadRow {
            id: 0,
            reason: format!("budget amount {text:?} is not a whole number of femto-dollars: {e}"),
        })
}

/// The keys as the two arrays the statements take, in the global lock order.
fn arrays(keys: &[&AccountKey]) -> (Vec<String>, Vec<i64>) {
    let mut sorted: Vec<&AccountKey> = keys.to_vec();
    sorted.sort_by(|a, b| {
        a.scope
            .as_bytes()
            .cmp(b.scope.as_bytes())
            .then(a.window.cmp(&b.window))
    });
    sorted.dedup();
    (
        sorted.iter().map(|k| k.scope.clone()).collect(),
        sorted.iter().map(|k| k.window).collect(),
    )
}

/// Whether PostgreSQL aborted the transaction only to break a deadlock or a
/// serialization conflict (running it again will do).
fn is_transient(error: &LedgerError) -> bool {
    match error {
        LedgerError::Postgres(e) => matches!(
            e.code(),
            Some(code) if *code == SqlState::T_R_DEADLOCK_DETECTED
                || *code == SqlState::T_R_SERIALIZATION_FAILURE
        ),
        _ => false,
    }
}

impl Conn {
    /// Whether the server closed the connection (connect again then).
    pub(crate) fn is_closed(&self) -> bool {
        self.client.is_closed()
    }

    /// Runs `work` in a transaction and commits it (rolled back on error), again
    /// after a deadlock.
    fn transaction<T>(
        &mut self,
        mut work: impl FnMut(&mut Transaction<'_>, &Statements<'_>) -> Result<T, LedgerError>,
    ) -> Result<T, LedgerError> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            let statements = Statements {
                create: &self.create,
                lock: &self.lock,
                balances: &self.balances,
                sweep: &self.sweep,
                hold: &self.hold,
                settle: &self.settle,
            };
            let outcome = self
                .client
                .transaction()
                .map_err(LedgerError::from)
                .and_then(|mut tx| {
                    let value = work(&mut tx, &statements)?;
                    tx.commit()?;
                    Ok(value)
                });
            match outcome {
                Ok(value) => return Ok(value),
                Err(error) if attempt < RETRIES && is_transient(&error) => {
                    tracing::debug!(%error, attempt, "budget store: transaction aborted, running it again");
                }
                Err(error) => return Err(error),
            }
        }
    }

    /// Holds `amount` on every account, or refuses naming the first (in the
    /// order given) that would pass its limit. Reservations expired by then are
    /// first counted as spend at their worst case.
    pub(crate) fn reserve(
        &mut self,
        accounts: &[AccountLimit],
        amount: Usd,
        expiry: Duration,
    ) -> Result<Reserved, LedgerError> {
        let keys: Vec<&AccountKey> = accounts.iter().map(|a| &a.key).collect();
        let (scopes, windows) = arrays(&keys);
        let given_scopes: Vec<&str> = accounts.iter().map(|a| a.key.scope.as_str()).collect();
        let given_windows: Vec<i64> = accounts.iter().map(|a| a.key.window).collect();
        let expiry_ms = i64::try_from(expiry.as_millis()).unwrap_or(i64::MAX);
        let amount_text = femtos(amount);
        let mut refused = None;
        let id = self.transaction(|tx, st| {
            refused = None;
            tx.execute(st.create, &[&scopes, &windows])?;
            tx.query(st.lock, &[&scopes, &windows])?;
            let swept = tx.execute(st.sweep, &[&scopes, &windows])?;
            if swept > 0 {
                tracing::info!(
                    accounts = swept,
                    "budget store: expired reservations (of a process that died mid-attempt) counted as spend at their worst case"
                );
            }
            let rows = tx.query(st.balances, &[&given_scopes, &given_windows])?;
            for (index, (account, row)) in accounts.iter().zip(&rows).enumerate() {
                let spent = parse_usd(row.try_get::<_, &str>(0)?)?;
                let reserved = parse_usd(row.try_get::<_, &str>(1)?)?;
                if spent + reserved + amount > account.limit {
                    refused = Some(Reserved::Refused {
                        account: index,
                        balance: Balance { spent, reserved },
                    });
                    // Commits what was swept; nothing is held.
                    return Ok(0);
                }
            }
            let held = tx.query(st.hold, &[&scopes, &windows, &amount_text, &expiry_ms])?;
            match held.first() {
                Some(row) => Ok(row.try_get::<_, i64>(0)?),
                None => Ok(0),
            }
        })?;
        if let Some(refusal) = refused {
            return Ok(refusal);
        }
        Ok(Reserved::Held(Hold {
            id: u64::try_from(id).unwrap_or(0),
            accounts: accounts.iter().map(|a| a.key.clone()).collect(),
            amount,
        }))
    }

    /// Releases `hold` and adds `cost` to its accounts; false when the hold had
    /// already expired and been counted at its worst case by another reservation.
    pub(crate) fn settle(&mut self, hold: &Hold, cost: Usd) -> Result<bool, LedgerError> {
        let keys: Vec<&AccountKey> = hold.accounts.iter().collect();
        let (scopes, windows) = arrays(&keys);
        let id = i64::try_from(hold.id).unwrap_or(i64::MAX);
        let cost_text = femtos(cost);
        self.transaction(|tx, st| {
            tx.query(st.lock, &[&scopes, &windows])?;
            let updated = tx.execute(st.settle, &[&id, &cost_text])?;
            Ok(updated > 0 || hold.accounts.is_empty())
        })
    }

    /// The balance of each account (expired reservations counted as spend).
    pub(crate) fn balances(&mut self, keys: &[AccountKey]) -> Result<Vec<Balance>, LedgerError> {
        let scopes: Vec<&str> = keys.iter().map(|k| k.scope.as_str()).collect();
        let windows: Vec<i64> = keys.iter().map(|k| k.window).collect();
        let rows = self.client.query(&self.balances, &[&scopes, &windows])?;
        rows.iter()
            .map(|row| {
                let spent = parse_usd(row.try_get::<_, &str>(0)?)?;
                let reserved = parse_usd(row.try_get::<_, &str>(1)?)?;
                let expired = parse_usd(row.try_get::<_, &str>(2)?)?;
                Ok(Balance {
                    spent: spent + expired,
                    reserved,
                })
            })
            .collect()
    }
}

/// The prepared statements, lent to a transaction.
struct Statements<'a> {
    create: &'a Statement,
    lock: &'a Statement,
    balances: &'a Statement,
    sweep: &'a Statement,
    hold: &'a Statement,
    settle: &'a Statement,
}
