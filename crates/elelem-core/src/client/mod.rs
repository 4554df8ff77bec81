//! The client: [`Elelem`], its builder, and the request pipeline.

mod answer;
mod builder;
mod cached;
mod call;
mod candidates;
mod checks;
mod elelem;
pub mod gate;
mod generate;
mod helpers;
mod legacy;
mod options;
mod prepare;
mod provider_retry;
mod spans;
mod state;
mod stream;
mod stream_collect;
mod stream_think;
mod text_stream;

pub use builder::ElelemBuilder;
pub use elelem::Elelem;
pub use generate::Generated;
pub use stream::{ChatStream, StreamSummary, DEFAULT_STREAM_IDLE_TIMEOUT};
pub use text_stream::{TextPiece, TextStream};
