//! [`PostgresKeyStore`]: an OpenAI-compatible gateway's virtual keys in
//! PostgreSQL (table `elelem_gateway_keys`), so that every gateway process
//! sharing the database accepts the same keys, and a revoked key is refused by
//! all of them.
//!
//! Only the SHA-256 of a key is stored, never the key. Names are never reused
//! (a revoked key keeps its row), so a key's spend, counted under its name,
//! never passes to another key.

mod sql;

use std::sync::mpsc::{channel, Receiver, Sender};

use postgres::Client;

use crate::connection_thread::ConnectionThread;
use crate::LedgerError;

/// One gateway key as stored: everything but the key itself.
///
/// ```
/// let key = elelem_ledger_postgres::GatewayKeyRecord {
///     name: "team-a".into(),
///     sha256: "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08".into(),
///     tags: vec!["team-a".into()],
///     models: vec!["groq:*".into()],
///     budget_usd: Some("20.00".into()),
///     budget_window: Some("month".into()),
///     requests_per_minute: Some(60),
/// };
/// assert_eq!(key.clone(), key);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct GatewayKeyRecord {
    /// The key's name (unique, never reused).
    pub name: String,
    /// The hex SHA-256 of the key (stored in lower case).
    pub sha256: String,
    /// Tags added to every request made with the key.
    pub tags: Vec<String>,
    /// The models the key may use (exact ids or prefixes ending in `*`; empty: all).
    pub models: Vec<String>,
    /// The key's spending limit in dollars, as a decimal string.
    pub budget_usd: Option<String>,
    /// The budget's window: `total`, `day` or `month`.
    pub budget_window: Option<String>,
    /// The most requests per minute.
    pub requests_per_minute: Option<u32>,
}

/// A stored key with its dates (UTC, `YYYY-MM-DD HH:MM:SS`).
///
/// ```
/// let listed = elelem_ledger_postgres::ListedKey {
///     key: Default::default(), created_at: "2026-11-30 21:00:00".into(), revoked_at: None,
/// };
/// assert!(listed.revoked_at.is_none());
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListedKey {
    /// The key.
    pub key: GatewayKeyRecord,
    /// When it was added.
    pub created_at: String,
    /// When it was revoked, if it was.
    pub revoked_at: Option<String>,
}

/// What went wrong with the key store.
///
/// ```
/// use elelem_ledger_postgres::KeyStoreError;
/// assert!(KeyStoreError::NameTaken("a".into()).to_string().contains("another name"));
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KeyStoreError {
    /// A key of this name exists (or existed: names are never reused).
    #[error(
        "a gateway key named {0:?} exists or existed (names are never reused); pick another name"
    )]
    NameTaken(String),
    /// The same secret is stored under another name.
    #[error("this key's hash is already stored under another name; generate a new key")]
    HashTaken,
    /// A stored row cannot be read.
    #[error("the gateway key {name:?} has an unreadable row: {reason}")]
    BadRow {
        /// The key's name.
        name: String,
        /// What is wrong.
        reason: String,
    },
    /// The database failed, or the store is closed.
    #[error(transparent)]
    Database(#[from] LedgerError),
}

type Job = Box<dyn FnOnce(Result<&mut Client, LedgerError>) + Send>;

enum Command {
    Run(Job),
    Close(Sender<Result<(), LedgerError>>),
}

/// Gateway keys in PostgreSQL. A thread of its own owns the connection
/// (connecting again if the server drops it); every method waits for the
/// database, so call them from a blocking context (`spawn_blocking`) in async
/// code.
///
/// ```no_run
/// use elelem_ledger_postgres::{GatewayKeyRecord, PostgresKeyStore};
/// # fn demo() -> Result<(), Box<dyn std::error::Error>> {
/// let store = PostgresKeyStore::connect("host=127.0.0.1 user=elelem dbname=usage")?;
/// store.add(&GatewayKeyRecord { name: "team-a".into(), sha256: "ab".repeat(32), ..Default::default() })?;
/// assert_eq!(store.active()?.len(), 1);
/// assert!(store.revoke("team-a")?);
/// # Ok(()) }
/// ```
pub struct PostgresKeyStore {
    thread: ConnectionThread<Command>,
}

impl std::fmt::Debug for PostgresKeyStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The connection string may hold a password: it is not shown.
        f.debug_struct("PostgresKeyStore").finish_non_exhaustive()
    }
}

impl PostgresKeyStore {
    /// Connects with a libpq-style connection string (from the store's thread)
    /// and creates the table if needed.
    ///
    /// ```no_run
    /// let store = elelem_ledger_postgres::PostgresKeyStore::connect("postgresql://elelem@127.0.0.1/usage").unwrap();
    /// ```
    pub fn connect(params: &str) -> Result<Self, LedgerError> {
        let (connect_params, params) = (params.to_owned(), params.to_owned());
        let thread = ConnectionThread::spawn(
            "elelem-keys-postgres",
            move || sql::connect(&connect_params),
            move |client, commands| serve(client, &params, commands),
        )?;
        Ok(PostgresKeyStore { thread })
    }

    /// Stores a new key; a name that exists or existed, or a hash already
    /// stored, is refused.
    ///
    /// ```no_run
    /// # let store = elelem_ledger_postgres::PostgresKeyStore::connect("host=127.0.0.1").unwrap();
    /// let key = elelem_ledger_postgres::GatewayKeyRecord { name: "a".into(), sha256: "00".repeat(32), ..Default::default() };
    /// store.add(&key).unwrap();
    /// assert!(store.add(&key).is_err());
    /// ```
    pub fn add(&self, key: &GatewayKeyRecord) -> Result<(), KeyStoreError> {
        let key = key.clone();
        self.run(move |client| sql::add(client, &key))
    }

    /// Revokes the key `name`; `false` when no such key is active.
    ///
    /// ```no_run
    /// # let store = elelem_ledger_postgres::PostgresKeyStore::connect("host=127.0.0.1").unwrap();
    /// assert!(!store.revoke("nobody").unwrap());
    /// ```
    pub fn revoke(&self, name: &str) -> Result<bool, KeyStoreError> {
        let name = name.to_owned();
        self.run(move |client| sql::revoke(client, &name))
    }

    /// The keys not revoked, by name: what a gateway accepts.
    ///
    /// ```no_run
    /// # let store = elelem_ledger_postgres::PostgresKeyStore::connect("host=127.0.0.1").unwrap();
    /// for key in store.active().unwrap() { println!("{}", key.name); }
    /// ```
    pub fn active(&self) -> Result<Vec<GatewayKeyRecord>, KeyStoreError> {
        self.run(sql::active)
    }

    /// Every key ever stored, revoked ones included, by name.
    ///
    /// ```no_run
    /// # let store = elelem_ledger_postgres::PostgresKeyStore::connect("host=127.0.0.1").unwrap();
    /// let revoked = store.list().unwrap().iter().filter(|k| k.revoked_at.is_some()).count();
    /// ```
    pub fn list(&self) -> Result<Vec<ListedKey>, KeyStoreError> {
        self.run(sql::list)
    }

    /// Stops the store's thread (closing the connection); later calls answer
    /// [`LedgerError::Closed`]. Dropping the store closes it too.
    ///
    /// ```no_run
    /// # let store = elelem_ledger_postgres::PostgresKeyStore::connect("host=127.0.0.1").unwrap();
    /// store.close().unwrap();
    /// ```
    pub fn close(&self) -> Result<(), LedgerError> {
        self.thread.close(Command::Close)
    }

    /// Runs `job` on the store's connection and waits for its answer.
    fn run<T: Send + 'static>(
        &self,
        job: impl FnOnce(&mut Client) -> Result<T, KeyStoreError> + Send + 'static,
    ) -> Result<T, KeyStoreError> {
        let (reply, answer) = channel();
        self.thread.send(Command::Run(Box::new(move |client| {
            let _ = reply.send(client.map_err(KeyStoreError::from).and_then(job));
        })))?;
        answer.recv().map_err(|_| LedgerError::Closed)?
    }
}

impl Drop for PostgresKeyStore {
    fn drop(&mut self) {
        if self.thread.is_running() {
            if let Err(error) = self.close() {
                tracing::warn!(%error, "closing the PostgreSQL key store");
            }
        }
    }
}

/// The store's thread: runs jobs in order, connecting again when the server
/// dropped the connection.
fn serve(client: Client, params: &str, commands: Receiver<Command>) {
    let mut client = Some(client);
    while let Ok(command) = commands.recv() {
        match command {
            Command::Run(job) => {
                if client.as_ref().is_none_or(Client::is_closed) {
                    client = None;
                    match sql::connect(params) {
                        Ok(fresh) => client = Some(fresh),
                        Err(error) => {
                            job(Err(error));
                            continue;
                        }
                    }
                }
                job(client.as_mut().ok_or(LedgerError::Closed));
            }
            Command::Close(reply) => {
                let _ = reply.send(Ok(()));
                return;
            }
        }
    }
}
