//! AWS Bedrock's Converse API as the test server plays it: answers of
//! `…/model/{id}/converse`, `converse-stream` answers in real AWS event-stream
//! binary frames, Bedrock's errors (`{"message"}` with `x-amzn-errortype`), and
//! the SigV4 check ([`TestServer::require_sigv4`](crate::TestServer::require_sigv4)).
//!
//! ```
//! use elelem_testkit::bedrock;
//! let answer = bedrock::converse("Hello", 12, 3);
//! assert_eq!(answer.json_body().unwrap()["usage"]["inputTokens"], 12);
//! let stream = bedrock::converse_stream(&bedrock::text_events("Hi", 5, 1));
//! assert_eq!(stream.header_value("content-type"), Some("application/vnd.amazon.eventstream"));
//! ```

mod sigv4;

use serde_json::{json, Value};

use crate::ScriptedResponse;

pub(crate) use sigv4::check as check_sigv4;
pub use sigv4::SIGNATURE_MISMATCH;

/// The request id every scripted Bedrock answer carries.
pub const REQUEST_ID: &str = "7d9a2f55-0c3e-4f61-9d0a-2b1c3e4f5a6b";

/// Whether `path` is a Converse endpoint (`…/converse` or `…/converse-stream`).
pub(crate) fn is_converse_path(path: &str) -> bool {
    path.ends_with("/converse") || path.ends_with("/converse-stream")
}

/// A Converse answer with `content` blocks, a stop reason and usage.
pub fn converse_answer(content: Value, stop_reason: &str, usage: Value) -> ScriptedResponse {
    ScriptedResponse::json(
        200,
        json!({
            "output": {"message": {"role": "assistant", "content": content}},
            "stopReason": stop_reason,
            "usage": usage,
            "metrics": {"latencyMs": 412}
        }),
    )
    .header("x-amzn-requestid", REQUEST_ID)
}

/// Converse's usage block (cache counts zero).
pub fn usage(input: u64, output: u64) -> Value {
    json!({"inputTokens": input, "outputTokens": output, "totalTokens": input + output,
           "cacheReadInputTokens": 0, "cacheWriteInputTokens": 0})
}

/// A plain text Converse answer.
pub fn converse(text: &str, input: u64, output: u64) -> ScriptedResponse {
    converse_answer(json!([{"text": text}]), "end_turn", usage(input, output))
}

/// Bedrock's error answer: `{"message"}` with the `x-amzn-errortype` header.
///
/// ```
/// let throttled = elelem_testkit::bedrock::error(429, "ThrottlingException", "Too many requests, please wait before trying again.");
/// assert_eq!(throttled.status(), Some(429));
/// assert!(throttled.header_value("x-amzn-errortype").unwrap().starts_with("ThrottlingException:"));
/// ```
pub fn error(status: u16, error_type: &str, message: &str) -> ScriptedResponse {
    ScriptedResponse::json(status, json!({"message": message}))
        .header(
            "x-amzn-errortype",
            format!("{error_type}:http://internal.amazon.com/coral/com.amazon.bedrock/"),
        )
        .header("x-amzn-requestid", REQUEST_ID)
}

/// 429 ThrottlingException.
pub fn throttled() -> ScriptedResponse {
    error(
        429,
        "ThrottlingException",
        "Too many requests, please wait before trying again.",
    )
}

/// 400 ValidationException.
pub fn validation(message: &str) -> ScriptedResponse {
    error(400, "ValidationException", message)
}

/// CRC32 (IEEE), bit by bit: the emulator's own, independent of the client's.
fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &byte in bytes {
        crc ^= u32::from(byte);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

/// One AWS event-stream frame with string headers.
///
/// ```
/// let frame = elelem_testkit::bedrock::frame(&[(":event-type", "messageStop")], b"{}");
/// assert_eq!(u32::from_be_bytes([frame[0], frame[1], frame[2], frame[3]]) as usize, frame.len());
/// ```
pub fn frame(headers: &[(&str, &str)], payload: &[u8]) -> Vec<u8> {
    let mut block = Vec::new();
    for (name, value) in headers {
        block.push(name.len() as u8);
        block.extend_from_slice(name.as_bytes());
        block.push(7);
        block.extend_from_slice(&(value.len() as u16).to_be_bytes());
        block.extend_from_slice(value.as_bytes());
    }
    let total = (16 + block.len() + payload.len()) as u32;
    let mut out = Vec::with_capacity(total as usize);
    out.extend_from_slice(&total.to_be_bytes());
    out.extend_from_slice(&(block.len() as u32).to_be_bytes());
    let prelude = crc32(&out);
    out.extend_from_slice(&prelude.to_be_bytes());
    out.extend_from_slice(&block);
    out.extend_from_slice(payload);
    let crc = crc32(&out);
    out.extend_from_slice(&crc.to_be_bytes());
    out
}

/// One event frame (`:message-type: event`) as Bedrock sends it.
pub fn event_frame(event_type: &str, payload: &Value) -> Vec<u8> {
    frame(
        &[
            (":event-type", event_type),
            (":content-type", "application/json"),
            (":message-type", "event"),
        ],
        payload.to_string().as_bytes(),
    )
}

/// One exception frame (`:message-type: exception`), ending a stream.
pub fn exception_frame(exception_type: &str, message: &str) -> Vec<u8> {
    frame(
        &[
            (":exception-type", exception_type),
            (":content-type", "application/json"),
            (":message-type", "exception"),
        ],
        json!({"message": message}).to_string().as_bytes(),
    )
}

/// The events of a streamed text answer, in Bedrock's order: `messageStart`,
/// text deltas (`text` in two pieces), `contentBlockStop`, `messageStop`,
/// `metadata` with the usage.
pub fn text_events(text: &str, input: u64, output: u64) -> Vec<(String, Value)> {
    let cut = text
        .char_indices()
        .nth(text.chars().count() / 2)
        .map_or(0, |(i, _)| i);
    let mut events = vec![("messageStart".to_owned(), json!({"role": "assistant"}))];
    for piece in [&text[..cut], &text[cut..]] {
        if !piece.is_empty() {
            events.push((
                "contentBlockDelta".to_owned(),
                json!({"contentBlockIndex": 0, "delta": {"text": piece}}),
            ));
        }
    }
    events.push((
        "contentBlockStop".to_owned(),
        json!({"contentBlockIndex": 0}),
    ));
    events.push(("messageStop".to_owned(), json!({"stopReason": "end_turn"})));
    events.push((
        "metadata".to_owned(),
        json!({"usage": usage(input, output), "metrics": {"latencyMs": 300}}),
    ));
    events
}

/// A `converse-stream` answer of these events, as event-stream frames.
pub fn converse_stream(events: &[(String, Value)]) -> ScriptedResponse {
    let body: Vec<u8> = events
        .iter()
        .flat_map(|(name, payload)| event_frame(name, payload))
        .collect();
    stream_bytes(body)
}

/// A `converse-stream` answer of raw frame bytes.
pub fn stream_bytes(body: Vec<u8>) -> ScriptedResponse {
    ScriptedResponse::raw(200, "application/vnd.amazon.eventstream", body)
        .header("x-amzn-requestid", REQUEST_ID)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc32_matches_the_standard_check_value() {
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
    }
}
