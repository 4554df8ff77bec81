//! `elelem serve`: an OpenAI-compatible HTTP gateway over one `Elelem` client,
//! with virtual keys, Prometheus metrics, JSON stats and a dashboard.
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use elelem_cli::{config::Config, gateway::Gateway};
//! let config = Config::load("elelem.toml")?;
//! let gateway = Gateway::new(config, Some("elelem.toml".into()))?;
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:8080").await?;
//! let running = elelem_cli::gateway::start(gateway, listener);
//! println!("listening on {}", running.addr);
//! running.shutdown().await;
//! # Ok(()) }
//! ```

mod admission;
mod body;
mod chat;
mod db_keys;
mod embeddings;
mod error;
mod keys;
mod ops;
mod responses;
mod server;
mod sse;

use std::path::PathBuf;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Instant;

use axum::routing::{get, post};
use axum::Router;
use elelem::Elelem;
use elelem_ledger_postgres::PostgresKeyStore;
use tokio::sync::watch;

pub use chat::meta_json;
pub use db_keys::{record_of, section_of};
pub use error::ApiError;
pub use keys::{sha256_hex, GatewayKey, KeyRing, RateLimiter};
pub use server::{run, start, Running};

use crate::client::{self, BuildError, Shared};
use crate::config::{Config, KeySection};

/// One loaded configuration: the client and keys it describes. Requests keep the
/// one they started with, so a reload never disturbs them.
#[derive(Debug)]
pub struct Loaded {
    /// The configuration (as in the file: without the database's keys).
    pub config: Config,
    /// The client.
    pub elelem: Elelem,
    /// The gateway keys: the configuration's and the database's.
    pub keys: KeyRing,
    /// The keys read from the database (with `[gateway] database_keys`).
    pub database_keys: Vec<KeySection>,
}

impl Loaded {
    /// The client and keys of `config` plus the database's `database_keys`.
    fn assemble(
        config: Config,
        database_keys: Vec<KeySection>,
        shared: &Shared,
        keys_required: bool,
    ) -> Result<Loaded, BuildError> {
        let elelem = if database_keys.is_empty() {
            client::build(&config, shared)?
        } else {
            let mut merged = config.clone();
            merged.keys.extend(database_keys.iter().cloned());
            client::build(&merged, shared)?
        };
        let all: Vec<KeySection> = config.keys.iter().chain(&database_keys).cloned().collect();
        let mut keys = KeyRing::new(&all);
        if keys_required {
            keys = keys.require_keys();
        }
        Ok(Loaded {
            config,
            elelem,
            keys,
            database_keys,
        })
    }
}

/// The gateway's state.
#[derive(Debug)]
pub struct Gateway {
    current: RwLock<Arc<Loaded>>,
    shared: Shared,
    limiter: RateLimiter,
    config_path: Option<PathBuf>,
    /// The database of `elelem keys` (with `[gateway] database_keys`).
    key_store: Option<PostgresKeyStore>,
    /// Held while switching configurations (reload and key refresh).
    switching: Mutex<()>,
    shutdown: watch::Sender<bool>,
    in_flight: AtomicI64,
    started: Instant,
}

impl Gateway {
    /// A gateway for `config`; `path` is the file reloads read.
    ///
    /// ```
    /// let gateway = elelem_cli::gateway::Gateway::new(Default::default(), None).unwrap();
    /// assert!(gateway.loaded().keys.is_open());
    /// ```
    pub fn new(config: Config, path: Option<PathBuf>) -> Result<Arc<Gateway>, BuildError> {
        // Installed first, so nothing recorded from now on is lost.
        crate::metrics_setup::prometheus();
        let shared = Shared::open(&config)?;
        let key_store = match config.postgres_url() {
            Some(url) if config.gateway.database_keys => Some(
                PostgresKeyStore::connect(url)
                    .map_err(|e| BuildError::Keys(format!("the gateway keys' database: {e}")))?,
            ),
            _ => None,
        };
        let database_keys = match &key_store {
            Some(store) => db_keys::read(store, &config.keys).map_err(BuildError::Keys)?,
            None => Vec::new(),
        };
        let loaded = Loaded::assemble(config, database_keys, &shared, key_store.is_some())?;
        if loaded.keys.is_open() {
            tracing::warn!("no [[keys]] configured: anyone who can reach the gateway may use it");
        }
        let (shutdown, _) = watch::channel(false);
        Ok(Arc::new(Gateway {
            current: RwLock::new(Arc::new(loaded)),
            shared,
            limiter: RateLimiter::default(),
            config_path: path,
            key_store,
            switching: Mutex::new(()),
            shutdown,
            in_flight: AtomicI64::new(0),
            started: Instant::now(),
        }))
    }

    /// The configuration in force.
    pub fn loaded(&self) -> Arc<Loaded> {
        self.current
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// The parts kept across reloads.
    pub fn shared(&self) -> &Shared {
        &self.shared
    }

    /// Reads the configuration file again and switches to it; a bad file is
    /// refused (the message names the line and reason) and the old one stays.
    /// The ledger and listen address stay as they were at start.
    pub fn reload(&self) -> Result<(), String> {
        let Some(path) = &self.config_path else {
            return Err("the gateway was started without a configuration file".into());
        };
        let config = Config::load(path).map_err(|e| e.to_string())?;
        self.replace(config).map_err(|e| e.to_string())
    }

    /// Switches to `config` (requests in flight finish on the old one), with the
    /// database's keys read again (the last ones read stay if the database
    /// cannot be reached). Blocks on the database: call it from a blocking
    /// context in async code.
    pub fn replace(&self, config: Config) -> Result<(), BuildError> {
        let _switching = self.switching.lock().unwrap_or_else(|e| e.into_inner());
        let database_keys = match &self.key_store {
            Some(store) => db_keys::read(store, &config.keys).unwrap_or_else(|error| {
                tracing::warn!(%error, "the gateway keys were not read again; the last ones read stay");
                self.loaded().database_keys.clone()
            }),
            None => Vec::new(),
        };
        self.switch(config, database_keys)?;
        metrics::counter!("elelem_config_reloads_total").increment(1);
        Ok(())
    }

    /// Reads the database's keys again and switches to them if they changed
    /// (added, revoked or edited); `Ok(true)` when they did. Does nothing
    /// without `[gateway] database_keys`. Blocks on the database.
    pub fn refresh_keys(&self) -> Result<bool, String> {
        let Some(store) = &self.key_store else {
            return Ok(false);
        };
        let _switching = self.switching.lock().unwrap_or_else(|e| e.into_inner());
        let loaded = self.loaded();
        let database_keys = db_keys::read(store, &loaded.config.keys)?;
        if database_keys == loaded.database_keys {
            return Ok(false);
        }
        self.switch(loaded.config.clone(), database_keys)
            .map_err(|e| e.to_string())?;
        tracing::info!("the gateway keys changed in the database; switched to them");
        metrics::counter!("elelem_key_refreshes_total").increment(1);
        Ok(true)
    }

    /// Builds and installs the client and keys (the caller holds `switching`).
    fn switch(&self, config: Config, database_keys: Vec<KeySection>) -> Result<(), BuildError> {
        let loaded = Loaded::assemble(
            config,
            database_keys,
            &self.shared,
            self.key_store.is_some(),
        )?;
        self.limiter.retain(&loaded.keys);
        *self.current.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(loaded);
        Ok(())
    }

    /// Whether keys come from the database (and are polled).
    pub fn has_database_keys(&self) -> bool {
        self.key_store.is_some()
    }

    /// Whether shutdown has begun.
    pub fn shutting_down(&self) -> bool {
        *self.shutdown.borrow()
    }

    /// Starts the shutdown: `/ready` turns 503 and streams get their deadline.
    pub fn begin_shutdown(&self) {
        self.shutdown.send_replace(true);
    }

    /// The requests being answered now.
    pub fn in_flight(&self) -> i64 {
        self.in_flight.load(Ordering::SeqCst)
    }

    /// The gateway's routes.
    pub fn router(self: &Arc<Self>) -> Router {
        Router::new()
            .route("/v1/chat/completions", post(chat::chat_completions))
            .route("/v1/completions", post(chat::completions))
            .route("/v1/responses", post(responses::create))
            .route("/v1/embeddings", post(embeddings::embeddings))
            .route("/v1/models", get(chat::models))
            .route("/v1/stats", get(ops::stats))
            .route("/health", get(ops::health))
            .route("/ready", get(ops::ready))
            .route("/metrics", get(ops::metrics))
            .route("/dashboard", get(ops::dashboard))
            .route("/dashboard/data", get(ops::dashboard_data))
            .fallback(ops::not_found)
            .with_state(self.clone())
    }
}

/// Counts a request in flight until dropped, and notes a client that left
/// before its answer was complete (dropped without [`InFlight::done`]): exactly
/// once per request.
#[derive(Debug)]
pub(crate) struct InFlight {
    gateway: Arc<Gateway>,
    done: bool,
}

impl InFlight {
    /// The guard of a place already counted in `gateway.in_flight` (see
    /// `InFlight::try_start`).
    fn held(gateway: &Arc<Gateway>) -> InFlight {
        InFlight {
            gateway: gateway.clone(),
            done: false,
        }
    }

    pub(crate) fn done(&mut self) {
        self.done = true;
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        // The `elelem_in_flight` gauge is set from the count when /metrics is read.
        self.gateway.in_flight.fetch_sub(1, Ordering::AcqRel);
        if !self.done {
            self.gateway.shared.telemetry.observe_disconnect();
        }
    }
}
