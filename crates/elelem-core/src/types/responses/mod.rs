//! The OpenAI Responses API (`POST /v1/responses`): the request, the response
//! with its output items and usage, and the typed events of a streamed response.

mod event;
mod request;
mod response;
mod usage;

pub use event::ResponseEvent;
pub use request::{ResponseInput, ResponseRequest, TextFormat};
pub use response::{OutputContent, OutputItem, Response, ResponseMeta};
pub use usage::{InputTokensDetails, OutputTokensDetails, ResponseUsage};
