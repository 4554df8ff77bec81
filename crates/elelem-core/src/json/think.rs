//! Separating a reasoning model's `<think>` blocks from its answer.
//!
//! Reasoning models (`DeepSeek-R1`, `Qwen3`, `QwQ`, ...) put their chain of thought in
//! `<think>...</think>` (or `<thinking>...</thinking>`) blocks before the answer. DeepSeek-R1
//! often omits the opening tag, so a closing tag with no opening one ends the reasoning that
//! started at the beginning of the text.

use std::borrow::Cow;

/// A model answer split into the answer proper and the model's reasoning.
///
/// ```
/// use elelem_core::json::split_think;
///
/// let split = split_think("<think>2 + 2 is 4</think>\n{\"sum\": 4}");
/// assert_eq!(split.answer, "{\"sum\": 4}");
/// assert_eq!(split.reasoning.as_deref(), Some("2 + 2 is 4"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ThinkSplit<'a> {
    /// The text outside the reasoning blocks, trimmed of surrounding whitespace. Borrowed from
    /// the input unless several separate pieces had to be joined.
    pub answer: Cow<'a, str>,
    /// The trimmed inner text of the reasoning blocks, joined by `"\n"`; `None` when there was
    /// no tag or every block was empty.
    pub reasoning: Option<String>,
}

/// Splits `text` into its answer and the reasoning found in its think blocks.
///
/// - Every `<think>...</think>` and `<thinking>...</thinking>` block (tag names in any case,
///   blocks spanning lines) is removed from the answer; its trimmed inner text becomes reasoning.
/// - A closing tag that comes before any opening tag (DeepSeek-R1 often omits `<think>`) makes
///   everything before it reasoning; the text after it is kept.
/// - An opening tag that is never closed (the output was cut off while thinking) makes the rest
///   of the text reasoning.
/// - The answer is the text left outside the blocks, trimmed. With no tag at all it is the
///   trimmed input, borrowed, and the reasoning is `None`.
///
/// ```
/// use std::borrow::Cow;
/// use elelem_core::json::split_think;
///
/// // No tags: the trimmed input is borrowed.
/// let plain = split_think("  {\"ok\": true}\n");
/// assert!(matches!(plain.answer, Cow::Borrowed("{\"ok\": true}")));
/// assert_eq!(plain.reasoning, None);
///
/// // DeepSeek-R1 without the opening tag.
/// let r1 = split_think("The user wants JSON.\n</think>\n\n{\"a\": 1}");
/// assert_eq!(r1.answer, "{\"a\": 1}");
/// assert_eq!(r1.reasoning.as_deref(), Some("The user wants JSON."));
///
/// // Cut off while thinking.
/// let cut = split_think("<THINKING>Let me see");
/// assert_eq!(cut.answer, "");
/// assert_eq!(cut.reasoning.as_deref(), Some("Let me see"));
/// ```
#[must_use]
pub fn split_think(text: &str) -> ThinkSplit<'_> {
    let mut answer = AnswerBuilder::default();
    let mut reasoning: Option<String> = None;
    for piece in Pieces::new(text) {
        match piece {
            Piece::Answer(part) => answer.push(part),
            Piece::Reasoning(part) => {
                let part = part.trim();
                if part.is_empty() {
                    continue;
                }
                match reasoning.as_mut() {
                    Some(buf) => {
                        buf.push('\n');
                        buf.push_str(part);
                    }
                    None => reasoning = Some(part.to_owned()),
                }
            }
        }
    }
    ThinkSplit {
        answer: answer.finish(),
        reasoning,
    }
}

/// The answer of `text` with every think block removed: [`split_think`]'s `answer`.
///
/// ```
/// use elelem_core::json::remove_think_tags;
///
/// assert_eq!(remove_think_tags("<think>hmm</think> Paris"), "Paris");
/// assert_eq!(remove_think_tags("no tags here "), "no tags here");
/// ```
#[must_use]
pub fn remove_think_tags(text: &str) -> Cow<'_, str> {
    split_think(text).answer
}

/// Joins the non-blank answer pieces, borrowing when there is only one.
#[derive(Default)]
struct AnswerBuilder<'a> {
    single: Option<&'a str>,
    joined: Option<String>,
}

impl<'a> AnswerBuilder<'a> {
    fn push(&mut self, part: &'a str) {
        if part.trim().is_empty() {
            return;
        }
        if let Some(buf) = self.joined.as_mut() {
            buf.push_str(part);
        } else if let Some(first) = self.single.take() {
            let first = first.trim_start();
            let mut buf = String::with_capacity(first.len() + part.len());
            buf.push_str(first);
            buf.push_str(part);
            self.joined = Some(buf);
        } else {
            self.single = Some(part);
        }
    }

    fn finish(self) -> Cow<'a, str> {
        match (self.joined, self.single) {
            (Some(mut buf), _) => {
                // The first piece was pushed already trimmed at the start.
                buf.truncate(buf.trim_end().len());
                Cow::Owned(buf)
            }
            (None, Some(single)) => Cow::Borrowed(single.trim()),
            (None, None) => Cow::Borrowed(""),
        }
    }
}

/// A piece of a model answer: outside or inside think blocks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Piece<'a> {
    /// Text outside any think block (may be empty or blank).
    Answer(&'a str),
    /// The untrimmed inner text of a think block (may be empty or blank).
    Reasoning(&'a str),
}

/// Iterates over the answer and reasoning pieces of a text, in order, without allocating.
///
/// A text with no tag yields exactly one `Answer` piece: the whole text.
pub(crate) struct Pieces<'a> {
    text: &'a str,
    /// Where the next piece starts.
    pos: usize,
    /// `Some(start)` when an opening tag was just passed and its block starts at `start`.
    open_block: Option<usize>,
    /// Whether any tag was seen yet (a closing tag before any tag is `DeepSeek`'s orphan).
    seen_tag: bool,
    done: bool,
}

impl<'a> Pieces<'a> {
    pub(crate) fn new(text: &'a str) -> Self {
        Self {
            text,
            pos: 0,
            open_block: None,
            seen_tag: false,
            done: false,
        }
    }

    fn slice(&self, start: usize, end: usize) -> &'a str {
        self.text.get(start..end).unwrap_or("")
    }

    fn rest(&self, start: usize) -> &'a str {
        self.text.get(start..).unwrap_or("")
    }
}

impl<'a> Iterator for Pieces<'a> {
    type Item = Piece<'a>;

    fn next(&mut self) -> Option<Piece<'a>> {
        if self.done {
            return None;
        }
        if let Some(start) = self.open_block.take() {
            // Inside a block: it ends at the next closing tag; opening tags inside are content.
            let mut from = start;
            loop {
                match find_tag(self.text.as_bytes(), from) {
                    Some(tag) if tag.closing => {
                        self.pos = tag.end;
                        return Some(Piece::Reasoning(self.slice(start, tag.start)));
                    }
                    Some(tag) => from = tag.end,
                    None => {
                        self.done = true;
                        return Some(Piece::Reasoning(self.rest(start)));
                    }
                }
            }
        }
        let pos = self.pos;
        match find_tag(self.text.as_bytes(), pos) {
            None => {
                self.done = true;
                Some(Piece::Answer(self.rest(pos)))
            }
            Some(tag) => {
                let first_tag = !self.seen_tag;
                self.seen_tag = true;
                self.pos = tag.end;
                if !tag.closing {
                    self.open_block = Some(tag.end);
                    Some(Piece::Answer(self.slice(pos, tag.start)))
                } else if first_tag {
                    // A closing tag with no opening one: everything before it was reasoning.
                    Some(Piece::Reasoning(self.slice(pos, tag.start)))
                } else {
                    // A stray closing tag after a complete block: drop the tag, keep the text.
                    Some(Piece::Answer(self.slice(pos, tag.start)))
                }
            }
        }
    }
}

/// A think tag found in a text: bytes `start..end`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Tag {
    start: usize,
    end: usize,
    closing: bool,
}

/// Finds the first think tag at or after `from`: `<think>`, `</think>`, `<thinking>` or
/// `</thinking>`, names in any case, with optional ASCII whitespace before the `>`.
fn find_tag(bytes: &[u8], from: usize) -> Option<Tag> {
    let mut i = from;
    while let Some(offset) = bytes.get(i..)?.iter().position(|&b| b == b'<') {
        let start = i + offset;
        if let Some(tag) = tag_at(bytes, start) {
            return Some(tag);
        }
        i = start + 1;
    }
    None
}

/// The think tag starting at `start` (which holds `<`), if any.
fn tag_at(bytes: &[u8], start: usize) -> Option<Tag> {
    let mut i = start + 1;
    let closing = bytes.get(i) == Some(&b'/');
    if closing {
        i += 1;
    }
    if !bytes.get(i..i + 5)?.eq_ignore_ascii_case(b"think") {
        return None;
    }
    i += 5;
    if bytes
        .get(i..i + 3)
        .is_some_and(|s| s.eq_ignore_ascii_case(b"ing"))
    {
        i += 3;
    }
    while bytes.get(i).is_some_and(u8::is_ascii_whitespace) {
        i += 1;
    }
    if bytes.get(i) == Some(&b'>') {
        Some(Tag {
            start,
            end: i + 1,
            closing,
        })
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(text: &str) -> (String, Option<String>) {
        let s = split_think(text);
        (s.answer.into_owned(), s.reasoning)
    }

    #[test]
    fn no_tags_borrows_trimmed_input() {
        let s = split_think("  hello <b>world</b>\n");
        assert!(matches!(s.answer, Cow::Borrowed("hello <b>world</b>")));
        assert_eq!(s.reasoning, None);
        assert!(matches!(split_think("").answer, Cow::Borrowed("")));
    }

    #[test]
    fn removes_a_leading_block() {
        let s = split_think("<think>\nstep 1\nstep 2\n</think>\n\n{\"a\": 1}\n");
        assert!(matches!(s.answer, Cow::Borrowed("{\"a\": 1}")));
        assert_eq!(s.reasoning.as_deref(), Some("step 1\nstep 2"));
    }

    #[test]
    fn tags_are_case_insensitive_and_thinking_works() {
        assert_eq!(
            split("<THINK>a</THINK>b"),
            ("b".to_owned(), Some("a".to_owned()))
        );
        assert_eq!(
            split("<Thinking>a</thinking >b"),
            ("b".to_owned(), Some("a".to_owned()))
        );
        assert_eq!(
            split("<think >a</Think>b"),
            ("b".to_owned(), Some("a".to_owned()))
        );
    }

    #[test]
    fn several_blocks_are_joined() {
        let (answer, reasoning) = split("A <think> x </think> B <thinking>y</thinking> C");
        assert_eq!(answer, "A  B  C");
        assert_eq!(reasoning.as_deref(), Some("x\ny"));
    }

    #[test]
    fn empty_block_gives_no_reasoning() {
        // Qwen3 with thinking disabled.
        let s = split_think("<think>\n\n</think>\n\n{\"a\": 1}");
        assert_eq!(s.answer, "{\"a\": 1}");
        assert_eq!(s.reasoning, None);
    }

    #[test]
    fn orphan_closing_tag_ends_reasoning() {
        let (answer, reasoning) = split("Okay, the user wants a city.\nParis.\n</think>\n\nParis");
        assert_eq!(answer, "Paris");
        assert_eq!(
            reasoning.as_deref(),
            Some("Okay, the user wants a city.\nParis.")
        );
        let (answer, reasoning) = split("</think>answer");
        assert_eq!((answer.as_str(), reasoning), ("answer", None));
    }

    #[test]
    fn orphan_closing_then_block() {
        let (answer, reasoning) = split("r1</think> A <think>r2</think> B");
        assert_eq!(answer, "A  B");
        assert_eq!(reasoning.as_deref(), Some("r1\nr2"));
    }

    #[test]
    fn stray_closing_after_block_is_dropped() {
        let (answer, reasoning) = split("<think>r</think>A</think>B");
        assert_eq!(answer, "AB");
        assert_eq!(reasoning.as_deref(), Some("r"));
    }

    #[test]
    fn unclosed_block_takes_the_rest() {
        assert_eq!(
            split("<think>still thinking..."),
            (String::new(), Some("still thinking...".to_owned()))
        );
        assert_eq!(
            split("answer <think>more"),
            ("answer".to_owned(), Some("more".to_owned()))
        );
    }

    #[test]
    fn nested_opening_tag_is_content() {
        let (answer, reasoning) = split("<think>a<think>b</think>c");
        assert_eq!(answer, "c");
        assert_eq!(reasoning.as_deref(), Some("a<think>b"));
    }

    #[test]
    fn non_tags_are_left_alone() {
        for text in [
            "<thinker>x",
            "<think",
            "a < b",
            "<thinkingly>",
            "</thin>",
            "<",
            "</",
        ] {
            let s = split_think(text);
            assert_eq!(s.answer, text.trim(), "{text}");
            assert_eq!(s.reasoning, None, "{text}");
        }
    }

    #[test]
    fn multibyte_text_around_tags() {
        let (answer, reasoning) = split("é<think>日本</think>ü🎉");
        assert_eq!(answer, "éü🎉");
        assert_eq!(reasoning.as_deref(), Some("日本"));
    }

    #[test]
    fn remove_think_tags_matches_answer() {
        assert_eq!(remove_think_tags("<think>x</think>  y "), "y");
    }

    #[test]
    fn pieces_of_plain_text() {
        let pieces: Vec<_> = Pieces::new("abc").collect();
        assert_eq!(pieces, vec![Piece::Answer("abc")]);
        let pieces: Vec<_> = Pieces::new("a<think>b</think>c").collect();
        assert_eq!(
            pieces,
            vec![
                Piece::Answer("a"),
                Piece::Reasoning("b"),
                Piece::Answer("c")
            ]
        );
    }
}
