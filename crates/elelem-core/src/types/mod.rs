//! The OpenAI-shaped data that flows through Elelem: requests, messages, responses.

mod check;
mod chunk;
mod completion;
mod embedding;
mod message;
mod model_list;
mod one_first;
mod open_object;
mod request;
mod responses;
mod text_completion;
mod text_request;
mod token_count;
mod tools;
mod usage;

pub use check::AnswerCheck;
pub use chunk::{ChatCompletionChunk, ChunkChoice, Delta};
pub use completion::{ChatCompletion, Choice, ElelemMeta, FinishReason, ResponseMessage};
pub use embedding::{
    embedding_from_base64, embedding_to_base64, Embedding, EmbeddingInput, EmbeddingMeta,
    EmbeddingRequest, EmbeddingResponse, EmbeddingUsage, EncodingFormat,
};
pub use message::{Content, Message, Role};
pub use model_list::{ModelInfo, ModelList};
pub use request::{ChatRequest, ResponseFormat};
pub use responses::{
    InputTokensDetails, OutputContent, OutputItem, OutputTokensDetails, Response, ResponseEvent,
    ResponseInput, ResponseMeta, ResponseRequest, ResponseUsage, TextFormat,
};
pub use text_completion::{TextChoice, TextCompletion};
pub use text_request::CompletionRequest;
pub use tools::{function_tool, image_data_url, image_part, text_part, FunctionCall, ToolCall};
pub use usage::{CompletionTokensDetails, PromptTokensDetails, Usage};
