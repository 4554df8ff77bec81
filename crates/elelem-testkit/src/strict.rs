//! Strict checking of requests: the test server refuses a request the way the real API
//! it emulates would, with that API's own HTTP 400 body, so a client that sends a field
//! the real provider rejects fails in tests too.
//!
//! The API is told by the path: Gemini's `…:generateContent` /
//! `…:streamGenerateContent`, Anthropic's `…/messages`, Bedrock's `…/converse` and
//! `…/converse-stream`, and OpenAI's
//! `…/chat/completions` (checked only for the models whose parameters OpenAI restricts:
//! o-series and gpt-5). Ollama's `…/api/chat` accepts any field, as the real server does.

use serde_json::Value;

mod anthropic;
mod bedrock;
mod embeddings;
mod gemini;
mod openai;

/// The real API's refusal of a request: its 400 body.
pub(crate) fn refusal(path: &str, body: &[u8]) -> Option<Value> {
    let path = path.trim_end_matches('/');
    if path.ends_with(":generateContent") || path.ends_with(":streamGenerateContent") {
        gemini::refusal(body)
    } else if path.ends_with("/messages") {
        anthropic::refusal(body)
    } else if crate::bedrock::is_converse_path(path) {
        bedrock::refusal(body)
    } else if path.ends_with(":batchEmbedContents") {
        embeddings::gemini_refusal(body)
    } else if path.ends_with("/embeddings") {
        embeddings::openai_refusal(body)
    } else if path.ends_with("/chat/completions") {
        openai::refusal(body)
    } else {
        None
    }
}
