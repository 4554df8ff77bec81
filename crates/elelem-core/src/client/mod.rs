//! The client: [`Elelem`], its builder, and the request pipeline.
//!
//! Every call (a chat completion, a stream's opening, a legacy completion) goes
//! through the same steps, named here once and referred to by name elsewhere:
//!
//! 1. **plan**: validate the request, resolve its target (or a virtual model's
//!    first usable candidate), build the JSON instruction and validator, check
//!    vision and the context window against the prompt estimate, find the
//!    fallbacks, take a call id, open the span, find the cache slot
//!    (`engine::CallPlan`, one constructor for every entry point).
//! 2. **cache**: answer from the response cache when it can (chat and stream).
//! 3. **prepare**: build the attempt's wire body (`prepare`).
//! 4. **reserve**: hold the attempt's worst case on the budgets, from the plan's
//!    prompt estimate.
//! 5. **gate**: wait for the provider's rate limit, refuse while it cools down
//!    (`gate`), from the same estimate.
//! 6. **send**: the operation's one request (`engine::Operation::send`), cut at
//!    a virtual model's candidate deadline.
//! 7. **accept**: the operation accepts or refuses the answer (for chat: think
//!    blocks removed, JSON extracted, parsed, validated, checked: `answer`,
//!    `checks`).
//! 8. **record**: one usage record per attempt, the provider's reported cost
//!    when it gives one (`engine::record`); a stream records at its end.
//! 9. **settle**: the reservation is settled with the attempt's real cost.
//! 10. **decide**: after a failure, the pure ladder (`engine::ladder`) says:
//!     wait and retry, retry with feedback, drop `response_format`, move to a
//!     fallback or the next candidate, or fail with every attempt kept.

mod answer;
mod builder;
mod cached;
mod call;
mod candidates;
mod checks;
mod elelem;
mod embeddings;
mod engine;
pub mod gate;
mod generate;
mod helpers;
mod idle;
mod json_fixer;
mod legacy;
mod options;
mod parts;
mod prepare;
mod responses;
mod responses_stream;
mod routing;
mod spans;
mod state;
mod stream;
mod stream_collect;
mod stream_think;
mod text_stream;

pub use builder::ElelemBuilder;
pub use elelem::Elelem;
pub use generate::Generated;
pub use json_fixer::JSON_FIX_TAG;
pub use responses_stream::ResponseStream;
pub use stream::{ChatStream, StreamSummary, DEFAULT_STREAM_IDLE_TIMEOUT};
pub use text_stream::{TextPiece, TextStream};
