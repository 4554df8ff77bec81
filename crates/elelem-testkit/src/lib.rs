//! A real OpenAI-compatible HTTP server on `127.0.0.1` that replays scripted
//! answers, to test Elelem's providers (OpenAI, GROQ, DeepInfra, Scaleway)
//! over genuine HTTP: real sockets, real headers, real broken connections.
//!
//! * [`TestServer`] listens on a free port, answers `…/chat/completions` (and
//!   legacy `…/completions`) from a FIFO script, `…/models` from a list, and
//!   records every request.
//! * [`ScriptedResponse`] is one answer: any status, headers, body, a delay, a
//!   dropped connection or a truncated body.
//! * [`wire`] builds the exact answers of real providers (completions, rate
//!   limits, GROQ's `json_validate_failed`, gateway HTML pages, …).
//!
//! ```
//! use std::time::Duration;
//! use elelem_testkit::{wire, ScriptedResponse, TestServer};
//!
//! #[tokio::main]
//! async fn main() -> Result<(), Box<dyn std::error::Error>> {
//!     let server = TestServer::start().await?;
//!     server.push_many([
//!         wire::rate_limited(Some("1")),
//!         wire::completion("llama-3.3-70b-versatile", "{\"ok\":true}")
//!             .delay(Duration::from_millis(10)),
//!     ]);
//!
//!     let client = reqwest::Client::new();
//!     let url = format!("{}/chat/completions", server.url());
//!     let first = client.post(&url).body("{}").send().await?;
//!     assert_eq!(first.status(), 429);
//!     assert_eq!(first.headers()["retry-after"], "1");
//!
//!     let second = client.post(&url).body("{}").send().await?;
//!     assert_eq!(second.status(), 200);
//!
//!     // Script exhausted: the default fallback is a 500.
//!     let third = client.post(&url).body("{}").send().await?;
//!     assert_eq!(third.status(), 500);
//!     assert_eq!(server.request_count(), 3);
//!     Ok(())
//! }
//! ```

pub mod bedrock;
mod body;
pub mod clouds;
mod error;
mod handler;
mod limit;
mod random_faults;
mod record;
mod responder;
mod responses;
mod script;
mod server;
pub mod sse;
mod state;
mod strict;
pub mod wire;

pub use error::TestkitError;
pub use random_faults::RandomFaults;
pub use record::RecordedRequest;
pub use responder::Responder;
pub use script::ScriptedResponse;
pub use server::TestServer;
