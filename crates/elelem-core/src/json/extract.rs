//! Finding the JSON value in a model answer.
//!
//! Models asked for JSON still wrap it in markdown fences, prefix it with "Here is the JSON:",
//! or think out loud first. [`extract_json`] finds the JSON object or array in such an answer
//! and [`parse_json_answer`] parses it, with an error message meant to be fed back to the model.

use std::fmt;

use serde::de::{Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};

use super::think::{Piece, Pieces};

/// The parsing work allowed per byte of the answer: candidates (whole text, fenced blocks,
/// balanced spans in prose) are parsed until their lengths add up to this many times the
/// answer's length (plus [`MIN_PARSE_WORK`]). Real answers stay far below it (nested
/// spans that fail to parse are rare and serde_json stops at depth 128); only crafted
/// input reaches it, and then the search gives up instead of taking quadratic time.
const PARSE_WORK_PER_BYTE: usize = 256;

/// The parsing work always allowed, however short the answer.
const MIN_PARSE_WORK: usize = 1 << 20;

/// The most characters of the answer (or of the failing candidate) kept in an error.
const SNIPPET_CHARS: usize = 200;

/// Why a model answer could not be turned into a JSON value.
///
/// Its `Display` is meant to be shown to the model in a retry message.
///
/// ```
/// use elelem_core::json::{parse_json_answer, JsonAnswerError};
///
/// let err = parse_json_answer("Sorry, I can't help with that.").unwrap_err();
/// assert!(matches!(err, JsonAnswerError::NoJson { .. }));
/// assert_eq!(err.to_string(), "the answer contained no JSON object");
///
/// let err = parse_json_answer(r#"{"a": 1 "b": 2}"#).unwrap_err();
/// assert_eq!(err.to_string(), "invalid JSON: expected `,` or `}` at line 1 column 9");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JsonAnswerError {
    /// Nothing JSON-like (no object or array) was found in the answer.
    NoJson {
        /// The first 200 characters of the answer.
        snippet: String,
    },
    /// The answer held something that looked like JSON but did not parse.
    Invalid {
        /// `serde_json`'s message, such as "expected `,` or `}` at line 1 column 12"; line and
        /// column count from the start of the candidate.
        error: String,
        /// The first 200 characters of the candidate that failed to parse.
        snippet: String,
    },
}

impl fmt::Display for JsonAnswerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NoJson { .. } => f.write_str("the answer contained no JSON object"),
            Self::Invalid { error, .. } => write!(f, "invalid JSON: {error}"),
        }
    }
}

impl std::error::Error for JsonAnswerError {}

/// Finds the JSON object or array in a model answer and returns it as a slice of `text`.
///
/// In order of preference:
/// 1. the whole trimmed text, when it is a JSON object or array;
/// 2. outside any `<think>` blocks (see [`split_think`](super::split_think)), the content of
///    the first markdown fence (```` ``` ```` or `~~~`, any language tag, closing fence
///    optional) that is a JSON object or array;
/// 3. the first balanced `{...}` or `[...]` span in the prose that parses as JSON (braces
///    inside JSON strings do not count). An object is preferred: when an array comes first
///    (such as a citation `[1]`), a later object is returned instead if there is one.
///
/// Bare numbers, strings or literals are never extracted from prose. There is no cap on
/// the number of candidates (JSON after a long code sample is found), and the search takes
/// near-linear time: the end of every span is found in one pass, and the bytes parsed are
/// bounded by a multiple of the answer's length.
///
/// ```
/// use elelem_core::json::extract_json;
///
/// assert_eq!(extract_json(" {\"a\": 1} "), Some("{\"a\": 1}"));
/// assert_eq!(
///     extract_json("Here you go:\n```json\n{\"a\": [1, 2]}\n```\nAnything else?"),
///     Some("{\"a\": [1, 2]}")
/// );
/// assert_eq!(
///     extract_json("Sure! {\"note\": \"use {braces}\"} Hope that helps."),
///     Some("{\"note\": \"use {braces}\"}")
/// );
/// assert_eq!(
///     extract_json("<think>maybe {\"a\": 0}?</think>{\"a\": 1}"),
///     Some("{\"a\": 1}")
/// );
/// assert_eq!(extract_json("The answer is 42."), None);
/// ```
#[must_use]
pub fn extract_json(text: &str) -> Option<&str> {
    match locate(text, check_json) {
        Outcome::Found(slice, ()) => Some(slice),
        Outcome::Invalid { .. } | Outcome::NoJson => None,
    }
}

/// Finds the JSON object or array in a model answer (as [`extract_json`] does) and parses it.
///
/// # Errors
///
/// [`JsonAnswerError::NoJson`] when the answer holds no object or array,
/// [`JsonAnswerError::Invalid`] with `serde_json`'s message when the most likely candidate (a
/// fenced block, else the longest candidate span) does not parse.
///
/// ```
/// use elelem_core::json::parse_json_answer;
/// use serde_json::json;
///
/// let value = parse_json_answer("```json\n{\"city\": \"Paris\"}\n```").unwrap();
/// assert_eq!(value, json!({"city": "Paris"}));
///
/// let err = parse_json_answer("{\"city\": \"Paris\",}").unwrap_err();
/// assert!(err.to_string().starts_with("invalid JSON: trailing comma"));
/// ```
pub fn parse_json_answer(text: &str) -> Result<serde_json::Value, JsonAnswerError> {
    match locate(text, |candidate: &str| serde_json::from_str(candidate)) {
        Outcome::Found(_, value) => Ok(value),
        Outcome::Invalid { candidate, error } => Err(JsonAnswerError::Invalid {
            error: error.to_string(),
            snippet: snippet(candidate),
        }),
        Outcome::NoJson => Err(JsonAnswerError::NoJson {
            snippet: snippet(text),
        }),
    }
}

/// The first [`SNIPPET_CHARS`] characters of `text`.
fn snippet(text: &str) -> String {
    match text.char_indices().nth(SNIPPET_CHARS) {
        Some((end, _)) => text.get(..end).unwrap_or(text).to_owned(),
        None => text.to_owned(),
    }
}

/// Checks that `text` is one JSON value, exactly as `serde_json::from_str::<Value>` would
/// (strings unescaped, numbers range-checked), without building it.
fn check_json(text: &str) -> Result<(), serde_json::Error> {
    let mut de = serde_json::Deserializer::from_str(text);
    Checked::deserialize(&mut de)?;
    de.end()
}

/// A JSON value deserialized only to check it: every node goes through `deserialize_any`,
/// which validates what `deserialize_ignored_any` would skip.
struct Checked;

impl<'de> Deserialize<'de> for Checked {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(CheckedVisitor)
    }
}

struct CheckedVisitor;

impl<'de> Visitor<'de> for CheckedVisitor {
    type Value = Checked;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E>(self, _: bool) -> Result<Checked, E> {
        Ok(Checked)
    }

    fn visit_i64<E>(self, _: i64) -> Result<Checked, E> {
        Ok(Checked)
    }

    fn visit_u64<E>(self, _: u64) -> Result<Checked, E> {
        Ok(Checked)
    }

    fn visit_f64<E>(self, _: f64) -> Result<Checked, E> {
        Ok(Checked)
    }

    fn visit_str<E>(self, _: &str) -> Result<Checked, E> {
        Ok(Checked)
    }

    fn visit_unit<E>(self) -> Result<Checked, E> {
        Ok(Checked)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Checked, A::Error> {
        while seq.next_element::<Checked>()?.is_some() {}
        Ok(Checked)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Checked, A::Error> {
        while map.next_entry::<Checked, Checked>()?.is_some() {}
        Ok(Checked)
    }
}

/// What the search found.
enum Outcome<'a, T> {
    /// A candidate that parsed.
    Found(&'a str, T),
    /// Candidates existed but none parsed; the most likely one and its error.
    Invalid {
        candidate: &'a str,
        error: serde_json::Error,
    },
    /// No candidate at all.
    NoJson,
}

/// The state of one search: the parser, the remaining budget and the best failure so far.
struct Search<'a, T, P> {
    parse: P,
    /// The bytes that may still be parsed.
    budget: usize,
    /// The best failed candidate: its rank (fenced blocks first, then longer spans), the
    /// candidate and its error.
    failure: Option<(Rank, &'a str, serde_json::Error)>,
    /// An array found in prose, kept in case no object follows it.
    array: Option<(&'a str, T)>,
}

/// How likely a failed candidate is to be the intended JSON: higher is likelier.
type Rank = (bool, usize);

impl<'a, T, P: FnMut(&str) -> Result<T, serde_json::Error>> Search<'a, T, P> {
    /// Spends the parsing of `bytes` from the budget; `None` once it is spent.
    fn spend(&mut self, bytes: usize) -> Option<()> {
        self.budget = self.budget.checked_sub(bytes)?;
        Some(())
    }

    /// Parses `candidate`, recording it as a failure of rank `(fenced, len)` if it fails.
    fn try_parse(&mut self, candidate: &'a str, fenced: bool) -> Result<T, ()> {
        match (self.parse)(candidate) {
            Ok(value) => Ok(value),
            Err(error) => {
                let rank = (fenced, candidate.len());
                let better = match &self.failure {
                    Some((best, _, _)) => rank > *best,
                    None => true,
                };
                if better {
                    self.failure = Some((rank, candidate, error));
                }
                Err(())
            }
        }
    }
}

/// Searches `text` for a JSON object or array, parsing candidates with `parse`.
fn locate<T>(
    text: &str,
    parse: impl FnMut(&str) -> Result<T, serde_json::Error>,
) -> Outcome<'_, T> {
    let mut search = Search {
        parse,
        budget: text
            .len()
            .saturating_mul(PARSE_WORK_PER_BYTE)
            .saturating_add(MIN_PARSE_WORK),
        failure: None,
        array: None,
    };
    let trimmed = text.trim();
    if let Some(found) = whole(&mut search, trimmed) {
        return Outcome::Found(trimmed, found);
    }
    for piece in Pieces::new(text) {
        let Piece::Answer(piece) = piece else {
            continue;
        };
        let piece = piece.trim();
        // With no think tag the only piece is the trimmed text, already tried whole.
        if piece.len() != trimmed.len() {
            if let Some(found) = whole(&mut search, piece) {
                return Outcome::Found(piece, found);
            }
        }
        if let Some((slice, found)) = fenced(&mut search, piece) {
            return Outcome::Found(slice, found);
        }
        if let Some((slice, found)) = in_prose(&mut search, piece) {
            return Outcome::Found(slice, found);
        }
    }
    if let Some((slice, found)) = search.array {
        return Outcome::Found(slice, found);
    }
    match search.failure {
        Some((_, candidate, error)) => Outcome::Invalid { candidate, error },
        None => Outcome::NoJson,
    }
}

/// Whether `text` starts like a JSON object or array.
fn starts_container(text: &str) -> bool {
    matches!(text.as_bytes().first(), Some(b'{' | b'['))
}

/// Step 1: the whole (trimmed) text.
fn whole<'a, T, P>(search: &mut Search<'a, T, P>, trimmed: &'a str) -> Option<T>
where
    P: FnMut(&str) -> Result<T, serde_json::Error>,
{
    if !starts_container(trimmed) {
        return None;
    }
    search.spend(trimmed.len())?;
    search.try_parse(trimmed, false).ok()
}

/// Step 2: the content of the first markdown fence that parses as an object or array.
fn fenced<'a, T, P>(search: &mut Search<'a, T, P>, text: &'a str) -> Option<(&'a str, T)>
where
    P: FnMut(&str) -> Result<T, serde_json::Error>,
{
    let bytes = text.as_bytes();
    let mut pos = 0;
    while let Some(fence) = find_fence(bytes, pos, 3) {
        // The info string runs to the end of the line; JSON on the fence's own line counts
        // as content (```json {"a": 1}```).
        let line_end = bytes
            .get(fence.end..)
            .and_then(|rest| rest.iter().position(|&b| b == b'\n'))
            .map_or(bytes.len(), |i| fence.end + i);
        let info = text.get(fence.end..line_end).unwrap_or("");
        let after_lang = info
            .trim_start()
            .trim_start_matches(|c: char| !c.is_whitespace() && c != '{' && c != '[')
            .trim_start();
        let content_start = if starts_container(after_lang) {
            line_end - after_lang.len()
        } else {
            (line_end + 1).min(bytes.len())
        };
        let closing = find_fence_of(bytes, content_start, fence.byte, fence.end - fence.start);
        let content_end = closing.map_or(bytes.len(), |c| c.start);
        let content = text.get(content_start..content_end).unwrap_or("").trim();
        if starts_container(content) {
            search.spend(content.len())?;
            if let Ok(found) = search.try_parse(content, true) {
                return Some((content, found));
            }
        }
        match closing {
            Some(c) => pos = c.end,
            None => return None,
        }
    }
    None
}

/// A run of fence characters at bytes `start..end`.
#[derive(Debug, Clone, Copy)]
struct Fence {
    start: usize,
    end: usize,
    byte: u8,
}

/// The first run of at least `min` backticks or tildes at or after `from`.
fn find_fence(bytes: &[u8], from: usize, min: usize) -> Option<Fence> {
    let mut i = from;
    loop {
        let offset = bytes
            .get(i..)?
            .iter()
            .position(|&b| b == b'`' || b == b'~')?;
        let start = i + offset;
        let byte = *bytes.get(start)?;
        let end = run_end(bytes, start, byte);
        if end - start >= min {
            return Some(Fence { start, end, byte });
        }
        i = end;
    }
}

/// The first run of at least `min` `byte`s at or after `from`.
fn find_fence_of(bytes: &[u8], from: usize, byte: u8, min: usize) -> Option<Fence> {
    let mut i = from;
    loop {
        let offset = bytes.get(i..)?.iter().position(|&b| b == byte)?;
        let start = i + offset;
        let end = run_end(bytes, start, byte);
        if end - start >= min {
            return Some(Fence { start, end, byte });
        }
        i = end;
    }
}

/// The end of the run of `byte` starting at `start`.
fn run_end(bytes: &[u8], start: usize, byte: u8) -> usize {
    let len = bytes
        .get(start..)
        .map_or(0, |rest| rest.iter().take_while(|&&b| b == byte).count());
    start + len
}

/// Step 3: the first balanced `{...}` or `[...]` span in prose that parses, preferring an
/// object to an earlier array.
fn in_prose<'a, T, P>(search: &mut Search<'a, T, P>, text: &'a str) -> Option<(&'a str, T)>
where
    P: FnMut(&str) -> Result<T, serde_json::Error>,
{
    let bytes = text.as_bytes();
    let ends = SpanEnds::new(bytes);
    let mut from = 0;
    // Once one candidate ran to the end of the text unbalanced, keep only the longest such.
    let mut tail_recorded = false;
    while let Some(offset) = bytes
        .get(from..)?
        .iter()
        .position(|&b| b == b'{' || b == b'[')
    {
        let start = from + offset;
        let is_array = bytes.get(start) == Some(&b'[');
        // An object inside an array already kept is part of that array.
        if is_array && search.array.is_some() {
            from = start + 1;
            continue;
        }
        match ends.end_of(start) {
            Some(end) => {
                let candidate = text.get(start..end).unwrap_or("");
                search.spend(candidate.len())?;
                match search.try_parse(candidate, false) {
                    Ok(found) if is_array => {
                        search.array = Some((candidate, found));
                        from = end;
                        continue;
                    }
                    Ok(found) => return Some((candidate, found)),
                    Err(()) => {}
                }
            }
            None if !tail_recorded => {
                // Unbalanced to the end (cut-off output): keep it as the likely failure.
                tail_recorded = true;
                let candidate = text.get(start..).unwrap_or("").trim_end();
                search.spend(candidate.len())?;
                // Only its error is wanted.
                let _ = search.try_parse(candidate, false);
            }
            None => {}
        }
        from = start + 1;
    }
    None
}

/// The end of the balanced span opening at each `{` or `[` of a text, found in one pass
/// from the right.
///
/// A span is scanned from its opening bracket, skipping JSON strings (which start at the
/// first `"` after the bracket, so quotes in the prose before it do not matter); it ends
/// at the first closing bracket of either kind at its own level (a mismatch makes it fail
/// to parse). A nested opening bracket met outside a string is in the same state as when
/// its own span is scanned, so its span, already known, is jumped over: each byte is
/// scanned by few spans, and the whole pass is linear in practice.
struct SpanEnds {
    /// For each byte: 0 when it opens no span or its span is unbalanced to the end of the
    /// text, else the end (exclusive) of its span (always > 0).
    ends: Vec<usize>,
    /// The bytes looked at while finding the ends (for tests of the work done).
    #[cfg(test)]
    steps: usize,
}

impl SpanEnds {
    fn new(bytes: &[u8]) -> Self {
        let mut spans = SpanEnds {
            ends: vec![0; bytes.len()],
            #[cfg(test)]
            steps: 0,
        };
        for start in (0..bytes.len()).rev() {
            if matches!(bytes.get(start), Some(b'{' | b'[')) {
                let end = spans.scan(bytes, start);
                if let Some(slot) = spans.ends.get_mut(start) {
                    *slot = end.unwrap_or(0);
                }
            }
        }
        spans
    }

    /// The end (exclusive) of the span opening at `start`, if it closes.
    fn end_of(&self, start: usize) -> Option<usize> {
        self.ends.get(start).copied().filter(|&end| end > 0)
    }

    /// Scans the span opening at `start`, jumping over nested spans already known.
    fn scan(&mut self, bytes: &[u8], start: usize) -> Option<usize> {
        let mut in_string = false;
        let mut escaped = false;
        let mut i = start + 1;
        while let Some(&b) = bytes.get(i) {
            #[cfg(test)]
            {
                self.steps += 1;
            }
            if in_string {
                if escaped {
                    escaped = false;
                } else if b == b'\\' {
                    escaped = true;
                } else if b == b'"' {
                    in_string = false;
                }
                i += 1;
                continue;
            }
            match b {
                b'"' => in_string = true,
                b'{' | b'[' => {
                    // Nested: its span closes where it closes, or never.
                    i = self.end_of(i)?;
                    continue;
                }
                b'}' | b']' => return Some(i + 1),
                _ => {}
            }
            i += 1;
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn whole_text() {
        assert_eq!(extract_json("{\"a\":1}"), Some("{\"a\":1}"));
        assert_eq!(extract_json("\n [1, 2]\n"), Some("[1, 2]"));
        assert_eq!(extract_json("42"), None);
        assert_eq!(extract_json("\"str\""), None);
        assert_eq!(extract_json(""), None);
    }

    #[test]
    fn fences() {
        assert_eq!(extract_json("```json\n{\"a\":1}\n```"), Some("{\"a\":1}"));
        assert_eq!(extract_json("```\n[1]\n```"), Some("[1]"));
        assert_eq!(
            extract_json("~~~JSON5 title\n{\"a\":1}\n~~~\n"),
            Some("{\"a\":1}")
        );
        assert_eq!(
            extract_json("Here: ```json {\"a\":1}```"),
            Some("{\"a\":1}")
        );
        // Not closed (cut off after the JSON).
        assert_eq!(extract_json("```json\n{\"a\":1}\n"), Some("{\"a\":1}"));
        // The fenced array is preferred over prose braces before it.
        assert_eq!(
            extract_json("Fill {name} in.\n````json\n[{\"a\":\"```\"}]\n````"),
            Some("[{\"a\":\"```\"}]")
        );
        // A non-JSON fence is skipped, the next one used.
        assert_eq!(
            extract_json("```python\nx = 1\n```\n```json\n{\"b\":2}\n```"),
            Some("{\"b\":2}")
        );
    }

    #[test]
    fn prose() {
        assert_eq!(
            extract_json("The result is {\"a\": {\"b\": [1, \"}\"]}} as requested."),
            Some("{\"a\": {\"b\": [1, \"}\"]}}")
        );
        assert_eq!(
            extract_json("Use {name} then {\"a\": \"x\\\"}\"}."),
            Some("{\"a\": \"x\\\"}\"}")
        );
        assert_eq!(extract_json("nested {note {\"a\":1}}"), Some("{\"a\":1}"));
        assert_eq!(extract_json("a } ] stray { [ then"), None);
    }

    #[test]
    fn object_preferred_to_earlier_array() {
        assert_eq!(
            extract_json("As shown in [1], the answer is {\"a\": 1}."),
            Some("{\"a\": 1}")
        );
        assert_eq!(
            extract_json("Items: [{\"a\": 1}, {\"b\": 2}] done"),
            Some("[{\"a\": 1}, {\"b\": 2}]")
        );
        assert_eq!(extract_json("only [1, 2] here"), Some("[1, 2]"));
    }

    #[test]
    fn think_blocks_are_skipped() {
        assert_eq!(
            extract_json("<think>draft {\"a\": 0}</think>\n{\"a\": 1}"),
            Some("{\"a\": 1}")
        );
        assert_eq!(
            extract_json("I think {\"a\": 0}\n</think>\nHere: {\"a\": 2}"),
            Some("{\"a\": 2}")
        );
        assert_eq!(extract_json("<think>only {\"a\": 0}"), None);
        // A tag inside a JSON string of a whole-JSON answer does not matter.
        assert_eq!(
            extract_json("{\"html\": \"<think>\"}"),
            Some("{\"html\": \"<think>\"}")
        );
    }

    #[test]
    fn json_after_a_long_code_sample_is_found() {
        let text = "{x} ".repeat(10_000) + "{\"a\": 1}";
        assert_eq!(extract_json(&text), Some("{\"a\": 1}"));
        let code = "fn main() { if x { for i in 0..3 { let s = \"}\"; } } }\n".repeat(100);
        let text = format!("Here is the code:\n{code}\nAnd the answer: {{\"ok\": true}}");
        assert_eq!(extract_json(&text), Some("{\"ok\": true}"));
        assert_eq!(
            parse_json_answer(&text).unwrap(),
            serde_json::json!({"ok": true})
        );
    }

    #[test]
    fn span_ends_match_a_scan_from_each_start() {
        for text in [
            "a {b [c] \"}\" d} e",
            "{\"x\": \"{\\\"\"} [ ] {",
            "say \"{\" then {\"a\": [1, {\"b\": \"]\"}]}",
            "}{][{{}}]]",
        ] {
            let bytes = text.as_bytes();
            let ends = SpanEnds::new(bytes);
            for (start, &b) in bytes.iter().enumerate() {
                if b == b'{' || b == b'[' {
                    assert_eq!(
                        ends.end_of(start),
                        naive_end(bytes, start),
                        "{text:?} at {start}"
                    );
                }
            }
        }
    }

    /// The span's end found by scanning from its start alone.
    fn naive_end(bytes: &[u8], start: usize) -> Option<usize> {
        let (mut depth, mut in_string, mut escaped) = (0usize, false, false);
        for (i, &b) in bytes.iter().enumerate().skip(start) {
            if in_string {
                if escaped {
                    escaped = false;
                } else if b == b'\\' {
                    escaped = true;
                } else if b == b'"' {
                    in_string = false;
                }
                continue;
            }
            match b {
                b'"' => in_string = true,
                b'{' | b'[' => depth += 1,
                b'}' | b']' => {
                    depth -= 1;
                    if depth == 0 {
                        return Some(i + 1);
                    }
                }
                _ => {}
            }
        }
        None
    }

    #[test]
    fn pathological_inputs_stay_linear() {
        // Each would be quadratic with a scan from every start.
        for text in [
            "{".repeat(200_000),
            "[\"".repeat(100_000),
            "{\"a\": ".repeat(50_000),
            "{\"".repeat(100_000),
            "```json\n{\n```\n".repeat(20_000),
            "<think>{</think>".repeat(20_000),
            "{x} ".repeat(50_000),
        ] {
            assert_eq!(extract_json(&text), None);
            assert!(parse_json_answer(&text).is_err());
            let steps = SpanEnds::new(text.as_bytes()).steps;
            assert!(
                steps <= 3 * text.len(),
                "{steps} steps for {} bytes",
                text.len()
            );
        }
    }

    #[test]
    fn deep_nesting_does_not_overflow() {
        let text = "[".repeat(100_000) + &"]".repeat(100_000);
        assert_eq!(extract_json(&text), None);
        assert!(matches!(
            parse_json_answer(&text),
            Err(JsonAnswerError::Invalid { .. })
        ));
    }

    #[test]
    fn extract_agrees_with_value_parsing() {
        // Lone surrogate and out-of-range number: rejected like Value parsing rejects them.
        assert_eq!(extract_json("{\"a\": \"\\ud800\"}"), None);
        assert_eq!(extract_json("{\"a\": 1e400}"), None);
        assert_eq!(
            extract_json("{\"a\": \"\\u00e9\"}"),
            Some("{\"a\": \"\\u00e9\"}")
        );
    }

    #[test]
    fn parse_ok() {
        assert_eq!(
            parse_json_answer("Sure:\n```json\n{\"a\": [1, {\"b\": null}]}\n```").unwrap(),
            json!({"a": [1, {"b": null}]})
        );
    }

    #[test]
    fn parse_errors() {
        let err = parse_json_answer("I cannot do that.").unwrap_err();
        assert_eq!(
            err,
            JsonAnswerError::NoJson {
                snippet: "I cannot do that.".into()
            }
        );
        assert_eq!(err.to_string(), "the answer contained no JSON object");

        let err = parse_json_answer("{\"a\": 1, \"b\": [1, 2").unwrap_err();
        let JsonAnswerError::Invalid { error, snippet } = &err else {
            panic!("{err:?}")
        };
        assert!(error.starts_with("EOF while parsing"), "{error}");
        assert_eq!(snippet, "{\"a\": 1, \"b\": [1, 2");

        let err = parse_json_answer("{'a': 1}").unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid JSON: key must be a string at line 1 column 2"
        );

        // The longest candidate is reported, not a short placeholder.
        let err = parse_json_answer("Fill in {name}: {\"name\": \"x\", \"age\": 3,}").unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid JSON: trailing comma at line 1 column 24"
        );

        // A fenced candidate is preferred.
        let err = parse_json_answer("```json\n{\"a\": tru}\n```").unwrap_err();
        assert!(
            err.to_string().starts_with("invalid JSON: expected ident"),
            "{err}"
        );
    }

    #[test]
    fn snippets_are_bounded_and_char_safe() {
        let text = "é".repeat(500);
        let JsonAnswerError::NoJson { snippet } = parse_json_answer(&text).unwrap_err() else {
            panic!()
        };
        assert_eq!(snippet.chars().count(), 200);
    }

    #[test]
    fn error_is_std_error() {
        fn takes(_: &dyn std::error::Error) {}
        takes(&JsonAnswerError::NoJson {
            snippet: String::new(),
        });
    }
}
