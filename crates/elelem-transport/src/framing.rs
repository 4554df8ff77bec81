//! How a streamed body is cut into records: server-sent events (OpenAI,
//! Anthropic, Gemini) or newline-delimited JSON (Ollama). Both are bounded: one
//! event or line larger than the limit is an error, not unbounded growth.

use std::collections::VecDeque;

use elelem_core::sse::{SseDecoder, SseError, SseEvent, DEFAULT_MAX_EVENT_BYTES};

/// One record of a streamed body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Record {
    /// A record's text (an SSE event's data, an NDJSON line).
    Data(String),
    /// The protocol's end marker (`data: [DONE]`): nothing more is read.
    Done,
}

/// How a streamed body is cut into records.
pub trait Framing: Send + 'static {
    /// Adds received bytes (split anywhere).
    fn push(&mut self, bytes: &[u8]);
    /// The body has ended: what is left becomes the last records.
    fn end(&mut self);
    /// The next complete record; an `Err` says why a piece cannot be read (not
    /// UTF-8, larger than the limit).
    fn next_record(&mut self) -> Option<Result<Record, SseError>>;
}

/// Server-sent events: each event's data is a record; `[DONE]` is the end marker.
///
/// ```
/// use elelem_transport::{Framing, Record, SseFraming};
/// let mut sse = SseFraming::default();
/// sse.push(b"data: {\"a\":1}\n\ndata: [DONE]\n\n");
/// assert_eq!(sse.next_record(), Some(Ok(Record::Data("{\"a\":1}".to_owned()))));
/// assert_eq!(sse.next_record(), Some(Ok(Record::Done)));
/// assert_eq!(sse.next_record(), None);
/// ```
#[derive(Debug, Default)]
pub struct SseFraming {
    decoder: SseDecoder,
    ended: VecDeque<Result<SseEvent, SseError>>,
}

impl SseFraming {
    /// SSE framing refusing any event larger than `limit` bytes.
    ///
    /// ```
    /// use elelem_transport::{Framing, SseFraming};
    /// let mut sse = SseFraming::with_limit(4);
    /// sse.push(b"data: 123456\n\n");
    /// assert!(matches!(sse.next_record(), Some(Err(_))));
    /// ```
    pub fn with_limit(limit: usize) -> Self {
        SseFraming {
            decoder: SseDecoder::with_limit(limit),
            ended: VecDeque::new(),
        }
    }
}

impl Framing for SseFraming {
    fn push(&mut self, bytes: &[u8]) {
        self.decoder.push(bytes);
    }

    fn end(&mut self) {
        while let Some(event) = self.decoder.finish() {
            self.ended.push_back(event);
        }
    }

    fn next_record(&mut self) -> Option<Result<Record, SseError>> {
        let event = self
            .decoder
            .next_event()
            .or_else(|| self.ended.pop_front())?;
        Some(event.map(|event| match event {
            SseEvent::Data(data) => Record::Data(data),
            SseEvent::Done => Record::Done,
        }))
    }
}

/// Newline-delimited JSON: each non-blank line (without its `\r\n` or `\n`) is a
/// record. Bytes may be fed in any pieces (inside a record, inside a UTF-8
/// character); each byte is scanned once, consumed bytes are dropped as the buffer
/// grows, and a line longer than the limit is an error.
///
/// ```
/// use elelem_transport::{Framing, NdjsonFraming, Record};
/// let mut lines = NdjsonFraming::default();
/// lines.push(b"{\"a\":1}\r\n\n{\"b\"");
/// assert_eq!(lines.next_record(), Some(Ok(Record::Data("{\"a\":1}".into()))));
/// assert_eq!(lines.next_record(), None);
/// lines.push(b":2}");
/// lines.end();
/// assert_eq!(lines.next_record(), Some(Ok(Record::Data("{\"b\":2}".into()))));
/// ```
#[derive(Debug)]
pub struct NdjsonFraming {
    buffer: Vec<u8>,
    /// Where unconsumed bytes begin.
    start: usize,
    /// How far the current line has been scanned for `\n`.
    scanned: usize,
    /// No more bytes will come: the rest is the last line.
    finished: bool,
    /// The longest line accepted, in bytes.
    limit: usize,
    /// The limit was exceeded: nothing more is returned.
    failed: bool,
}

impl Default for NdjsonFraming {
    fn default() -> Self {
        NdjsonFraming::with_limit(DEFAULT_MAX_EVENT_BYTES)
    }
}

impl NdjsonFraming {
    /// NDJSON framing refusing any line longer than `limit` bytes.
    pub fn with_limit(limit: usize) -> Self {
        NdjsonFraming {
            buffer: Vec::new(),
            start: 0,
            scanned: 0,
            finished: false,
            limit,
            failed: false,
        }
    }

    /// The next complete non-blank line, as bytes.
    fn next_line(&mut self) -> Option<Result<Vec<u8>, SseError>> {
        if self.failed {
            return None;
        }
        loop {
            let from = self.scanned.max(self.start);
            let mut line = match memchr::memchr(b'\n', &self.buffer[from..]) {
                Some(offset) => {
                    let end = from + offset;
                    let line = self.buffer[self.start..end].to_vec();
                    self.start = end + 1;
                    self.scanned = self.start;
                    line
                }
                None if self.finished && self.start < self.buffer.len() => {
                    let line = self.buffer[self.start..].to_vec();
                    self.start = self.buffer.len();
                    self.scanned = self.start;
                    line
                }
                None => {
                    self.scanned = self.buffer.len();
                    if self.buffer.len() - self.start > self.limit {
                        self.failed = true;
                        self.buffer = Vec::new();
                        self.start = 0;
                        self.scanned = 0;
                        return Some(Err(SseError::TooLarge { limit: self.limit }));
                    }
                    return None;
                }
            };
            if line.len() > self.limit {
                self.failed = true;
                return Some(Err(SseError::TooLarge { limit: self.limit }));
            }
            if line.last() == Some(&b'\r') {
                line.pop();
            }
            if !line.iter().all(u8::is_ascii_whitespace) {
                return Some(Ok(line));
            }
        }
    }
}

impl Framing for NdjsonFraming {
    fn push(&mut self, bytes: &[u8]) {
        if self.failed {
            return;
        }
        if self.start > 0 && self.start >= self.buffer.len() / 2 {
            self.buffer.drain(..self.start);
            self.scanned -= self.start;
            self.start = 0;
        }
        self.buffer.extend_from_slice(bytes);
    }

    fn end(&mut self) {
        self.finished = true;
    }

    fn next_record(&mut self) -> Option<Result<Record, SseError>> {
        let line = self.next_line()?;
        Some(line.and_then(|line| {
            String::from_utf8(line)
                .map(Record::Data)
                .map_err(|_| SseError::NotUtf8)
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines_in_pieces(bytes: &[u8], piece: usize) -> Vec<Result<Record, SseError>> {
        let mut framing = NdjsonFraming::default();
        let mut out = Vec::new();
        for part in bytes.chunks(piece) {
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

    #[test]
    fn ndjson_lines_are_the_same_however_the_bytes_are_cut() {
        let body = "{\"a\":\"Grüße 世界\"}\r\n\n  \n{\"b\":2}\n{\"c\":3}";
        let expected = vec![
            Ok(Record::Data("{\"a\":\"Grüße 世界\"}".into())),
            Ok(Record::Data("{\"b\":2}".into())),
            Ok(Record::Data("{\"c\":3}".into())),
        ];
        for piece in 1..body.len() {
            assert_eq!(lines_in_pieces(body.as_bytes(), piece), expected, "{piece}");
        }
    }

    #[test]
    fn one_huge_ndjson_line_is_an_error_not_growth() {
        let mut framing = NdjsonFraming::with_limit(1_000);
        let mut result = None;
        for _ in 0..1_000 {
            framing.push(&[b'x'; 100]);
            if let Some(record) = framing.next_record() {
                result = Some(record);
                break;
            }
        }
        assert_eq!(result, Some(Err(SseError::TooLarge { limit: 1_000 })));
        framing.push(b"\n{}\n");
        assert_eq!(framing.next_record(), None);
        assert_eq!(framing.buffer.len(), 0);
    }

    #[test]
    fn invalid_utf8_in_a_line_is_an_error() {
        assert_eq!(
            lines_in_pieces(b"\xff\xfe\n", 10),
            vec![Err(SseError::NotUtf8)]
        );
    }

    #[test]
    fn sse_framing_passes_the_end_marker() {
        let mut sse = SseFraming::default();
        sse.push(b"\xEF\xBB\xBFdata: 1\n\ndata: [DONE]\n\n");
        assert_eq!(sse.next_record(), Some(Ok(Record::Data("1".into()))));
        assert_eq!(sse.next_record(), Some(Ok(Record::Done)));
    }
}
