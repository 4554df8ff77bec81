//! The OpenAI-shaped data that flows through Elelem: requests, messages, responses.

mod chunk;
mod completion;
mod message;
mod model_list;
mod request;
mod text_completion;
mod usage;

pub use chunk::{ChatCompletionChunk, ChunkChoice, Delta};
pub use completion::{ChatCompletion, Choice, ElelemMeta, FinishReason, ResponseMessage};
pub use message::{Content, Message, Role};
pub use model_list::{ModelInfo, ModelList};
pub use request::{ChatRequest, ResponseFormat};
pub use text_completion::{TextChoice, TextCompletion};
pub use usage::{CompletionTokensDetails, PromptTokensDetails, Usage};
