//! The `elelem` program: an OpenAI-compatible gateway (`elelem serve`) with
//! virtual keys, Prometheus metrics, JSON stats and a dashboard, and a command
//! line (`chat`, `models`, `stats`, `batch`), all on the public API of the
//! `elelem` crate.
//!
//! ```
//! let config = elelem_cli::config::Config::parse("[gateway]\nlisten = \"127.0.0.1:0\"\n", "demo").unwrap();
//! assert_eq!(config.gateway.listen, "127.0.0.1:0");
//! ```

pub mod client;
pub mod commands;
pub mod config;
pub mod gateway;
pub mod ledger;
pub mod metrics_setup;
pub mod openai_body;
pub mod telemetry;
