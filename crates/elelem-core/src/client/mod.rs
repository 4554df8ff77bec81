//! The client: [`Elelem`], its builder, and the request pipeline.

mod answer;
mod builder;
mod call;
mod elelem;
mod prepare;

pub use builder::ElelemBuilder;
pub use elelem::Elelem;
