//! AWS event-stream framing (`application/vnd.amazon.eventstream`), the binary
//! framing of Bedrock's `converse-stream`, as a [`Framing`] for the transport's
//! one decode loop.
//!
//! A frame is: total length (u32, big-endian), headers length (u32), the CRC32
//! of those 8 bytes, the headers, the payload, and the CRC32 of everything
//! before it. Each frame becomes one record: a first line with the JSON array
//! `[message type, event or exception type, error message]` (from the headers
//! `:message-type`, `:event-type` / `:exception-type` / `:error-code`,
//! `:error-message`), a `\n`, then the payload as text.
//!
//! Written here rather than taken from `aws-smithy-eventstream`: the decoder is
//! 200 lines over `crc32fast`, while that crate's decoder works on whole
//! `Message`s with its own buffer and error types that would have to be mapped
//! to the transport's anyway.

use std::collections::VecDeque;

use elelem_core::sse::{SseError, DEFAULT_MAX_EVENT_BYTES};
pub use elelem_transport::{Framing, Record};

/// The prelude (two lengths and their CRC) plus the message CRC.
const OVERHEAD: usize = 16;

/// One decoded frame: its headers (string-valued ones) and payload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    /// Header name -> value, for the headers of string type (the others are
    /// skipped).
    pub headers: Vec<(String, String)>,
    /// The payload bytes.
    pub payload: Vec<u8>,
}

impl Frame {
    /// The value of a string header.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// The record for this frame: `[message type, name, message]` as JSON, `\n`,
    /// the payload.
    fn record(&self) -> Result<String, SseError> {
        let kind = self.header(":message-type").unwrap_or("event");
        let name = match kind {
            "exception" => self.header(":exception-type"),
            "error" => self.header(":error-code"),
            _ => self.header(":event-type"),
        }
        .unwrap_or_default();
        let message = self.header(":error-message").unwrap_or_default();
        let head = serde_json::json!([kind, name, message]).to_string();
        let payload = std::str::from_utf8(&self.payload).map_err(|_| SseError::NotUtf8)?;
        Ok(format!("{head}\n{payload}"))
    }
}

fn malformed(reason: impl Into<String>) -> SseError {
    SseError::Malformed {
        reason: reason.into(),
    }
}

fn u32_at(bytes: &[u8], at: usize) -> Option<u32> {
    let slice = bytes.get(at..at.checked_add(4)?)?;
    Some(u32::from_be_bytes([slice[0], slice[1], slice[2], slice[3]]))
}

/// Reads the headers block of a frame.
fn parse_headers(mut bytes: &[u8]) -> Result<Vec<(String, String)>, SseError> {
    let mut headers = Vec::new();
    let cut = || malformed("a header runs past the headers block");
    while let Some((&name_len, rest)) = bytes.split_first() {
        let name = rest.get(..usize::from(name_len)).ok_or_else(cut)?;
        let name = String::from_utf8_lossy(name).into_owned();
        let rest = &rest[usize::from(name_len)..];
        let (&kind, rest) = rest.split_first().ok_or_else(cut)?;
        let (value, rest) = match kind {
            0 | 1 => (None, rest),
            2 => (None, rest.get(1..).ok_or_else(cut)?),
            3 => (None, rest.get(2..).ok_or_else(cut)?),
            4 => (None, rest.get(4..).ok_or_else(cut)?),
            5 | 8 => (None, rest.get(8..).ok_or_else(cut)?),
            9 => (None, rest.get(16..).ok_or_else(cut)?),
            6 | 7 => {
                let len = rest.get(..2).ok_or_else(cut)?;
                let len = usize::from(u16::from_be_bytes([len[0], len[1]]));
                let value = rest.get(2..2 + len).ok_or_else(cut)?;
                let text = (kind == 7).then(|| String::from_utf8_lossy(value).into_owned());
                (text, &rest[2 + len..])
            }
            other => return Err(malformed(format!("unknown header value type {other}"))),
        };
        if let Some(value) = value {
            headers.push((name, value));
        }
        bytes = rest;
    }
    Ok(headers)
}

/// Decodes one complete frame (`bytes` is exactly its total length).
pub fn decode_frame(bytes: &[u8]) -> Result<Frame, SseError> {
    let total = u32_at(bytes, 0).ok_or_else(|| malformed("a frame shorter than its prelude"))?;
    let headers_len =
        u32_at(bytes, 4).ok_or_else(|| malformed("a frame shorter than its prelude"))?;
    let prelude_crc =
        u32_at(bytes, 8).ok_or_else(|| malformed("a frame shorter than its prelude"))?;
    if crc32fast::hash(&bytes[..8]) != prelude_crc {
        return Err(malformed("the prelude checksum does not match"));
    }
    let total = total as usize;
    if total != bytes.len() || total < OVERHEAD {
        return Err(malformed(format!(
            "a frame length of {total} bytes is impossible"
        )));
    }
    let message_crc =
        u32_at(bytes, total - 4).ok_or_else(|| malformed("a frame without its checksum"))?;
    if crc32fast::hash(&bytes[..total - 4]) != message_crc {
        return Err(malformed("the message checksum does not match"));
    }
    let headers_end = 12usize
        .checked_add(headers_len as usize)
        .filter(|end| *end <= total - 4)
        .ok_or_else(|| malformed("the headers are longer than the frame"))?;
    let headers = parse_headers(&bytes[12..headers_end])?;
    Ok(Frame {
        headers,
        payload: bytes[headers_end..total - 4].to_vec(),
    })
}

/// Cuts an AWS event-stream body into records, one per frame; bytes may come in
/// any pieces. A frame larger than the limit, a wrong checksum, or a body ending
/// inside a frame is an error, after which nothing more is read.
///
/// ```
/// use elelem_transport::{Framing, Record};
/// let frame = elelem_bedrock::eventstream::encode_frame(
///     &[(":message-type", "event"), (":event-type", "messageStop")],
///     br#"{"stopReason":"end_turn"}"#,
/// );
/// let mut framing = elelem_bedrock::EventStreamFraming::default();
/// framing.push(&frame[..5]);
/// assert_eq!(framing.next_record(), None);
/// framing.push(&frame[5..]);
/// assert_eq!(
///     framing.next_record(),
///     Some(Ok(Record::Data("[\"event\",\"messageStop\",\"\"]\n{\"stopReason\":\"end_turn\"}".into())))
/// );
/// ```
#[derive(Debug)]
pub struct EventStreamFraming {
    buffer: Vec<u8>,
    /// Where unconsumed bytes begin.
    start: usize,
    /// The largest frame accepted, in bytes.
    limit: usize,
    /// An error came: nothing more is returned.
    failed: bool,
    /// Errors found at the end of the body.
    ended: VecDeque<SseError>,
}

impl Default for EventStreamFraming {
    fn default() -> Self {
        EventStreamFraming::with_limit(DEFAULT_MAX_EVENT_BYTES)
    }
}

impl EventStreamFraming {
    /// Framing refusing any frame larger than `limit` bytes.
    pub fn with_limit(limit: usize) -> Self {
        EventStreamFraming {
            buffer: Vec::new(),
            start: 0,
            limit,
            failed: false,
            ended: VecDeque::new(),
        }
    }

    fn fail(&mut self, error: SseError) -> Option<Result<Record, SseError>> {
        self.failed = true;
        self.buffer = Vec::new();
        self.start = 0;
        Some(Err(error))
    }
}

impl Framing for EventStreamFraming {
    fn push(&mut self, bytes: &[u8]) {
        if self.failed {
            return;
        }
        if self.start > 0 && self.start >= self.buffer.len() / 2 {
            self.buffer.drain(..self.start);
            self.start = 0;
        }
        self.buffer.extend_from_slice(bytes);
    }

    fn end(&mut self) {
        if !self.failed && self.start < self.buffer.len() {
            self.ended
                .push_back(malformed("the body ended inside a frame"));
        }
    }

    fn next_record(&mut self) -> Option<Result<Record, SseError>> {
        if self.failed {
            return None;
        }
        let pending = &self.buffer[self.start..];
        let Some(total) = u32_at(pending, 0) else {
            let error = self.ended.pop_front()?;
            return self.fail(error);
        };
        let total = total as usize;
        if total > self.limit {
            let limit = self.limit;
            return self.fail(SseError::TooLarge { limit });
        }
        if pending.len() >= 12 {
            let prelude_ok = u32_at(pending, 8) == Some(crc32fast::hash(&pending[..8]));
            if !prelude_ok {
                return self.fail(malformed("the prelude checksum does not match"));
            }
            if total < OVERHEAD {
                return self.fail(malformed(format!(
                    "a frame length of {total} bytes is impossible"
                )));
            }
        }
        if pending.len() < total.max(12) {
            let error = self.ended.pop_front()?;
            return self.fail(error);
        }
        let frame = decode_frame(&pending[..total]);
        self.start += total;
        match frame.and_then(|frame| frame.record()) {
            Ok(record) => Some(Ok(Record::Data(record))),
            Err(error) => self.fail(error),
        }
    }
}

/// Encodes one frame with string headers (for tests and the emulator).
///
/// ```
/// let frame = elelem_bedrock::eventstream::encode_frame(&[(":event-type", "metadata")], b"{}");
/// let decoded = elelem_bedrock::eventstream::decode_frame(&frame).unwrap();
/// assert_eq!(decoded.header(":event-type"), Some("metadata"));
/// assert_eq!(decoded.payload, b"{}");
/// ```
pub fn encode_frame(headers: &[(&str, &str)], payload: &[u8]) -> Vec<u8> {
    let mut block = Vec::new();
    for (name, value) in headers {
        let name = &name.as_bytes()[..name.len().min(255)];
        let value = &value.as_bytes()[..value.len().min(usize::from(u16::MAX))];
        block.push(name.len() as u8);
        block.extend_from_slice(name);
        block.push(7);
        block.extend_from_slice(&(value.len() as u16).to_be_bytes());
        block.extend_from_slice(value);
    }
    let total = (OVERHEAD + block.len() + payload.len()) as u32;
    let mut frame = Vec::with_capacity(total as usize);
    frame.extend_from_slice(&total.to_be_bytes());
    frame.extend_from_slice(&(block.len() as u32).to_be_bytes());
    let prelude_crc = crc32fast::hash(&frame);
    frame.extend_from_slice(&prelude_crc.to_be_bytes());
    frame.extend_from_slice(&block);
    frame.extend_from_slice(payload);
    let crc = crc32fast::hash(&frame);
    frame.extend_from_slice(&crc.to_be_bytes());
    frame
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn records(bytes: &[u8], piece: usize, limit: usize) -> Vec<Result<Record, SseError>> {
        let mut framing = EventStreamFraming::with_limit(limit);
        let mut out = Vec::new();
        for part in bytes.chunks(piece.max(1)) {
            framing.push(part);
            while let Some(record) = framing.next_record() {
                out.push(record);
            }
        }
        framing.end();
        while let Some(record) = framing.next_record() {
            out.push(record);
        }
        out
    }

    fn event(name: &str, payload: &str) -> Vec<u8> {
        encode_frame(
            &[
                (":message-type", "event"),
                (":event-type", name),
                (":content-type", "application/json"),
            ],
            payload.as_bytes(),
        )
    }

    #[test]
    fn frames_are_the_same_however_the_bytes_are_cut() {
        let mut body = event("messageStart", r#"{"role":"assistant"}"#);
        body.extend(event(
            "contentBlockDelta",
            r#"{"delta":{"text":"Grüße"},"contentBlockIndex":0}"#,
        ));
        body.extend(encode_frame(
            &[
                (":message-type", "exception"),
                (":exception-type", "throttlingException"),
            ],
            br#"{"message":"slow down"}"#,
        ));
        let whole = records(&body, body.len(), 1 << 20);
        assert_eq!(whole.len(), 3);
        assert_eq!(
            whole[2],
            Ok(Record::Data(
                "[\"exception\",\"throttlingException\",\"\"]\n{\"message\":\"slow down\"}".into()
            ))
        );
        for piece in 1..body.len() {
            assert_eq!(records(&body, piece, 1 << 20), whole, "{piece}");
        }
    }

    #[test]
    fn a_wrong_checksum_is_an_error_and_ends_the_stream() {
        let mut body = event("messageStop", "{}");
        let last = body.len() - 1;
        body[last] ^= 1;
        body.extend(event("metadata", "{}"));
        let out = records(&body, 7, 1 << 20);
        assert_eq!(out.len(), 1);
        assert!(
            matches!(&out[0], Err(SseError::Malformed { reason }) if reason.contains("message checksum"))
        );
        let mut body = event("messageStop", "{}");
        body[9] ^= 1;
        assert!(
            matches!(&records(&body, 3, 1 << 20)[0], Err(SseError::Malformed { reason }) if reason.contains("prelude"))
        );
    }

    #[test]
    fn a_frame_over_the_limit_is_refused_before_it_is_buffered() {
        let mut framing = EventStreamFraming::with_limit(1_000);
        let big = event("contentBlockDelta", &"x".repeat(5_000));
        framing.push(&big[..12]);
        assert_eq!(
            framing.next_record(),
            Some(Err(SseError::TooLarge { limit: 1_000 }))
        );
        framing.push(&big[12..]);
        assert_eq!(framing.next_record(), None);
        assert!(framing.buffer.is_empty());
    }

    #[test]
    fn a_body_cut_inside_a_frame_is_an_error() {
        let body = event("messageStop", "{}");
        let out = records(&body[..body.len() - 3], 4, 1 << 20);
        assert!(
            matches!(&out[..], [Err(SseError::Malformed { reason })] if reason.contains("ended inside"))
        );
    }

    #[test]
    fn headers_of_every_type_are_skipped_or_read() {
        let mut block = Vec::new();
        for (kind, value) in [
            (0u8, vec![]),
            (2, vec![1]),
            (3, vec![0, 1]),
            (4, vec![0; 4]),
            (5, vec![0; 8]),
            (8, vec![0; 8]),
            (9, vec![0; 16]),
            (6, vec![0, 2, 9, 9]),
        ] {
            block.push(1);
            block.push(b'h');
            block.push(kind);
            block.extend(value);
        }
        block.extend([2, b'o', b'k', 7, 0, 3, b'y', b'e', b's']);
        assert_eq!(
            parse_headers(&block).unwrap(),
            vec![("ok".to_owned(), "yes".to_owned())]
        );
        assert!(parse_headers(&[5, b'a']).is_err());
        assert!(parse_headers(&[1, b'a', 42]).is_err());
    }
}
