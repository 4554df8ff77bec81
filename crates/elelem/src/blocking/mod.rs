//! A blocking client, for scripts, CLIs and services without an async runtime.
//!
//! [`Elelem`] mirrors the async [`crate::Elelem`] (`create_chat_completion`,
//! `generate::<T>`, `generate_json`, `create_completion`, the one-line helpers,
//! streams as iterators, stats, budgets, models) like `reqwest::blocking`: it owns
//! a Tokio runtime, works from any thread, and is cheap to clone and share.
//! Called inside an async runtime it returns
//! [`ElelemError::BlockingInAsyncContext`](crate::ElelemError::BlockingInAsyncContext)
//! rather than stalling that runtime.
//!
//! ```no_run
//! # fn demo() -> Result<(), elelem::ElelemError> {
//! let elelem = elelem::blocking::Elelem::new()?;
//! let answer = elelem.chat("groq:openai/gpt-oss-20b", "Say hi")?;
//! println!("{answer} ({} so far)", elelem.get_stats().total_cost_usd);
//! # Ok(()) }
//! ```

mod builder;
mod client;
mod runtime;
mod stream;

pub use builder::ElelemBuilder;
pub use client::Elelem;
pub use stream::{BlockingStream, ChatStream, TextStream};
