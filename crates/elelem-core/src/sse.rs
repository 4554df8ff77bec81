//! An incremental decoder for server-sent events, as OpenAI-compatible providers
//! stream them (`data: {...}` events, `data: [DONE]` at the end).
//!
//! Bytes are fed as they arrive, split anywhere: inside a UTF-8 character, inside
//! `data:`, between `\r` and `\n`. Each byte is scanned once; nothing before the
//! current line is re-read, and consumed bytes are dropped as the buffer grows.
//! A UTF-8 byte order mark at the start of the stream is skipped, and one event (or
//! one unterminated line) larger than the decoder's limit is an error, so a server
//! that never ends a line cannot make the buffer grow without bound.

/// One decoded event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SseEvent {
    /// An event's data (multi-line data joined with `\n`).
    Data(String),
    /// The `[DONE]` marker.
    Done,
}

/// The largest event (or line) a decoder accepts by default: 16 MiB.
pub const DEFAULT_MAX_EVENT_BYTES: usize = 16 * 1024 * 1024;

/// Why a piece of a stream cannot be decoded.
///
/// ```
/// let e = elelem_core::sse::SseError::TooLarge { limit: 10 };
/// assert!(e.to_string().contains("10 bytes"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SseError {
    /// An event (or record) whose data is not UTF-8.
    #[error("the stream sent an event that is not UTF-8 text")]
    NotUtf8,
    /// One event or line grew past the limit without ending.
    #[error("the stream sent one event or line larger than the limit of {limit} bytes; raise `max_response_bytes` if this is expected")]
    TooLarge {
        /// The limit in bytes.
        limit: usize,
    },
    /// A binary frame that cannot be read (AWS event-stream: a wrong checksum,
    /// lengths that do not add up, a frame cut off by the end of the body).
    #[error("the stream sent a malformed frame: {reason}")]
    Malformed {
        /// What is wrong with the frame.
        reason: String,
    },
}

/// The UTF-8 byte order mark, skipped at the start of a stream.
pub(crate) const BOM: &[u8] = b"\xEF\xBB\xBF";

/// Decodes server-sent events from bytes fed in any pieces.
///
/// ```
/// use elelem_core::sse::{SseDecoder, SseEvent};
/// let mut decoder = SseDecoder::new();
/// decoder.push(b"data: {\"a\"");
/// assert_eq!(decoder.next_event(), None);
/// decoder.push(b":1}\r\n\r\ndata: [DONE]\n\n");
/// assert_eq!(decoder.next_event(), Some(Ok(SseEvent::Data("{\"a\":1}".into()))));
/// assert_eq!(decoder.next_event(), Some(Ok(SseEvent::Done)));
/// assert_eq!(decoder.next_event(), None);
/// ```
#[derive(Debug)]
pub struct SseDecoder {
    /// Bytes received and not yet consumed (from `start`).
    buffer: Vec<u8>,
    /// Where unconsumed bytes begin.
    start: usize,
    /// How far the current line has been scanned for a terminator.
    scanned: usize,
    /// The previous line ended with `\r`: a `\n` right after it is part of it.
    skip_lf: bool,
    /// Data lines of the event being assembled.
    data: Vec<u8>,
    /// Whether the current event has any data line.
    has_data: bool,
    /// The start of the stream has been checked for a byte order mark.
    bom_checked: bool,
    /// The largest event or line accepted, in bytes.
    limit: usize,
    /// A limit was exceeded: nothing more is decoded.
    failed: bool,
}

impl Default for SseDecoder {
    fn default() -> Self {
        SseDecoder::with_limit(DEFAULT_MAX_EVENT_BYTES)
    }
}

impl SseDecoder {
    /// A decoder with nothing buffered and the default limit
    /// ([`DEFAULT_MAX_EVENT_BYTES`]).
    pub fn new() -> Self {
        SseDecoder::default()
    }

    /// A decoder refusing any event or line larger than `limit` bytes.
    ///
    /// ```
    /// use elelem_core::sse::{SseDecoder, SseError};
    /// let mut decoder = SseDecoder::with_limit(8);
    /// decoder.push(b"data: 0123456789");
    /// assert_eq!(decoder.next_event(), Some(Err(SseError::TooLarge { limit: 8 })));
    /// assert_eq!(decoder.next_event(), None);
    /// ```
    pub fn with_limit(limit: usize) -> Self {
        SseDecoder {
            buffer: Vec::new(),
            start: 0,
            scanned: 0,
            skip_lf: false,
            data: Vec::new(),
            has_data: false,
            bom_checked: false,
            limit,
            failed: false,
        }
    }

    /// Adds received bytes.
    pub fn push(&mut self, bytes: &[u8]) {
        if self.start > 0 && self.start >= self.buffer.len() / 2 {
            self.buffer.drain(..self.start);
            self.scanned -= self.start;
            self.start = 0;
        }
        self.buffer.extend_from_slice(bytes);
    }

    /// Skips a byte order mark at the start of the stream; `false` while too few
    /// bytes have arrived to tell.
    fn skip_bom(&mut self, at_end: bool) -> bool {
        if self.bom_checked {
            return true;
        }
        let head = &self.buffer[self.start..];
        if head.starts_with(BOM) {
            self.start += BOM.len();
            self.scanned = self.scanned.max(self.start);
        } else if !at_end && BOM.starts_with(head) {
            return false;
        }
        self.bom_checked = true;
        true
    }

    /// The error for an event or line over the limit; the decoder stops.
    fn too_large(&mut self) -> Option<Result<SseEvent, SseError>> {
        self.failed = true;
        self.buffer = Vec::new();
        self.data = Vec::new();
        self.start = 0;
        self.scanned = 0;
        Some(Err(SseError::TooLarge { limit: self.limit }))
    }

    /// The next complete event, if the bytes so far hold one.
    pub fn next_event(&mut self) -> Option<Result<SseEvent, SseError>> {
        if self.failed || !self.skip_bom(false) {
            return None;
        }
        while let Some(line_end) = self.next_line_end() {
            let (line_start, terminator_len) = line_end;
            let line = &self.buffer[line_start..self.scanned];
            let event = self.take_line(line_start, line.len());
            self.scanned += terminator_len;
            self.start = self.scanned;
            if event.is_some() {
                return event;
            }
            if self.data.len() > self.limit {
                return self.too_large();
            }
        }
        if self.buffer.len() - self.start > self.limit {
            return self.too_large();
        }
        None
    }

    /// Ends the stream: an event not closed by a blank line is returned.
    pub fn finish(&mut self) -> Option<Result<SseEvent, SseError>> {
        if self.failed {
            return None;
        }
        self.skip_bom(true);
        if self.start < self.buffer.len() {
            let start = self.start;
            let len = self.buffer.len() - start;
            self.scanned = self.buffer.len();
            self.start = self.buffer.len();
            if let Some(event) = self.take_line(start, len) {
                return Some(event);
            }
        }
        self.dispatch()
    }

    /// Finds the end of the next line: returns where it starts and the length of its
    /// terminator, leaving `scanned` at the terminator.
    fn next_line_end(&mut self) -> Option<(usize, usize)> {
        if self.skip_lf && self.start < self.buffer.len() {
            if self.buffer[self.start] == b'\n' {
                self.start += 1;
            }
            self.scanned = self.scanned.max(self.start);
            self.skip_lf = false;
        }
        let line_start = self.start;
        let from = self.scanned.max(line_start);
        let offset = memchr::memchr2(b'\n', b'\r', &self.buffer[from..]);
        match offset {
            Some(offset) => {
                self.scanned = from + offset;
                if self.buffer[self.scanned] == b'\r' {
                    match self.buffer.get(self.scanned + 1) {
                        Some(b'\n') => Some((line_start, 2)),
                        Some(_) => Some((line_start, 1)),
                        None => {
                            self.skip_lf = true;
                            Some((line_start, 1))
                        }
                    }
                } else {
                    Some((line_start, 1))
                }
            }
            None => {
                self.scanned = self.buffer.len();
                None
            }
        }
    }

    /// Handles one line; returns an event when the line ends one.
    fn take_line(&mut self, start: usize, len: usize) -> Option<Result<SseEvent, SseError>> {
        let line = &self.buffer[start..start + len];
        if line.is_empty() {
            return self.dispatch();
        }
        if line[0] == b':' {
            return None;
        }
        let (field, value) = match memchr::memchr(b':', line) {
            Some(colon) => {
                let value = &line[colon + 1..];
                (&line[..colon], value.strip_prefix(b" ").unwrap_or(value))
            }
            None => (line, &[][..]),
        };
        if field == b"data" {
            if self.has_data {
                self.data.push(b'\n');
            }
            self.data.extend_from_slice(value);
            self.has_data = true;
        }
        None
    }

    fn dispatch(&mut self) -> Option<Result<SseEvent, SseError>> {
        if !self.has_data {
            return None;
        }
        self.has_data = false;
        let data = std::mem::take(&mut self.data);
        if data == b"[DONE]" {
            return Some(Ok(SseEvent::Done));
        }
        Some(
            String::from_utf8(data)
                .map(SseEvent::Data)
                .map_err(|_| SseError::NotUtf8),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode_in_pieces(bytes: &[u8], cuts: &[usize]) -> Vec<Result<SseEvent, SseError>> {
        let mut decoder = SseDecoder::new();
        let mut events = Vec::new();
        let mut last = 0;
        for &cut in cuts.iter().chain(std::iter::once(&bytes.len())) {
            decoder.push(&bytes[last..cut]);
            last = cut;
            while let Some(event) = decoder.next_event() {
                events.push(event);
            }
        }
        while let Some(event) = decoder.finish() {
            events.push(event);
        }
        events
    }

    const STREAM: &str = concat!(
        ": keep-alive comment\r\n\r\n",
        "data: {\"id\":\"c1\",\"choices\":[{\"delta\":{\"content\":\"Grüße, 世界 🎉\"}}]}\r\n\r\n",
        "event: message\n",
        "data: {\"multi\":\n",
        "data: true}\n\n",
        "data:{\"no_space\":1}\r\r",
        "data: [DONE]\n\n"
    );

    fn expected() -> Vec<Result<SseEvent, SseError>> {
        vec![
            Ok(SseEvent::Data(
                "{\"id\":\"c1\",\"choices\":[{\"delta\":{\"content\":\"Grüße, 世界 🎉\"}}]}".into(),
            )),
            Ok(SseEvent::Data("{\"multi\":\ntrue}".into())),
            Ok(SseEvent::Data("{\"no_space\":1}".into())),
            Ok(SseEvent::Done),
        ]
    }

    #[test]
    fn decodes_a_whole_stream() {
        assert_eq!(decode_in_pieces(STREAM.as_bytes(), &[]), expected());
    }

    #[test]
    fn any_single_cut_gives_the_same_events() {
        let bytes = STREAM.as_bytes();
        for cut in 1..bytes.len() {
            assert_eq!(decode_in_pieces(bytes, &[cut]), expected(), "cut at {cut}");
        }
    }

    #[test]
    fn byte_by_byte_gives_the_same_events() {
        let bytes = STREAM.as_bytes();
        let cuts: Vec<usize> = (1..bytes.len()).collect();
        assert_eq!(decode_in_pieces(bytes, &cuts), expected());
    }

    #[test]
    fn an_unterminated_last_event_is_returned_at_the_end() {
        assert_eq!(
            decode_in_pieces(b"data: {\"a\":1}", &[]),
            vec![Ok(SseEvent::Data("{\"a\":1}".into()))]
        );
    }

    #[test]
    fn invalid_utf8_is_an_error_not_a_panic() {
        assert_eq!(
            decode_in_pieces(b"data: \xff\xfe\n\n", &[]),
            vec![Err(SseError::NotUtf8)]
        );
    }

    #[test]
    fn a_byte_order_mark_does_not_drop_the_first_event() {
        let mut bytes = BOM.to_vec();
        bytes.extend_from_slice(STREAM.as_bytes());
        for cut in 1..6 {
            assert_eq!(decode_in_pieces(&bytes, &[cut]), expected(), "cut at {cut}");
        }
        assert_eq!(decode_in_pieces(&bytes, &[1, 2]), expected());
        assert_eq!(
            decode_in_pieces(b"\xEF\xBB\xBFdata: 1", &[]),
            vec![Ok(SseEvent::Data("1".into()))]
        );
    }

    #[test]
    fn one_huge_line_or_event_is_an_error_and_the_buffer_stays_bounded() {
        let mut decoder = SseDecoder::with_limit(1_000);
        decoder.push(b"data: ");
        let mut error = None;
        for _ in 0..100 {
            decoder.push(&[b'x'; 100]);
            if let Some(event) = decoder.next_event() {
                error = Some(event);
                break;
            }
        }
        assert_eq!(error, Some(Err(SseError::TooLarge { limit: 1_000 })));
        assert_eq!(decoder.next_event(), None);
        assert_eq!(decoder.finish(), None);

        // Many short data lines of one event add up to the limit too.
        let mut decoder = SseDecoder::with_limit(1_000);
        let mut error = None;
        for _ in 0..100 {
            decoder.push(b"data: 0123456789012345678\n");
            if let Some(event) = decoder.next_event() {
                error = Some(event);
                break;
            }
        }
        assert_eq!(error, Some(Err(SseError::TooLarge { limit: 1_000 })));

        // Events under the limit pass, however many.
        let mut decoder = SseDecoder::with_limit(64);
        for _ in 0..1_000 {
            decoder.push(b"data: {\"a\":1}\n\n");
            assert_eq!(
                decoder.next_event(),
                Some(Ok(SseEvent::Data("{\"a\":1}".into())))
            );
        }
    }
}
