//! Separating a reasoning model's `<think>` blocks from its answer.
//!
//! Reasoning models (`DeepSeek-R1`, `Qwen3`, `QwQ`, ...) put their chain of thought in
//! `<think>...</think>` (or `<thinking>...</thinking>`) blocks before the answer. DeepSeek-R1
//! often omits the opening tag, so a closing tag with no opening one ends the reasoning that
//! started at the beginning of the text.

use std::borrow::Cow;

mod grammar;
mod join;
#[cfg(test)]
mod proptests;
mod splitter;

use grammar::Region;
pub(crate) use grammar::{Piece, Pieces};
use join::{Join, Joiner};
pub use splitter::{ThinkDelta, ThinkSplitter};

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
    split_from(text, Region::Start)
}

/// Splits `text` by the grammar, starting in `region`.
fn split_from(text: &str, region: Region) -> ThinkSplit<'_> {
    if grammar::find_tag(text.as_bytes(), 0).is_none() {
        return unsplit(text);
    }
    let mut answer = Joiner::new(Join::AsIs);
    let mut reasoning = Joiner::new(Join::Lines);
    let (mut answer_text, mut reasoning_text) = (String::new(), String::new());
    let (mut only_piece, mut answer_pieces) = (None, 0_usize);
    for piece in Pieces::starting_in(text, region) {
        match piece {
            Piece::Answer(part) => {
                if !part.trim().is_empty() {
                    answer_pieces += 1;
                    only_piece = Some(part);
                }
                answer.push(part, &mut answer_text);
                answer.end_piece();
            }
            Piece::Reasoning(part) => {
                reasoning.push(part, &mut reasoning_text);
                reasoning.end_piece();
            }
        }
    }
    let answer = match (answer_pieces, only_piece) {
        // One piece: the trimmed piece itself, borrowed.
        (1, Some(part)) => Cow::Borrowed(part.trim()),
        _ => Cow::Owned(answer_text),
    };
    ThinkSplit {
        answer,
        reasoning: (!reasoning_text.is_empty()).then_some(reasoning_text),
    }
}

/// Splits `text` following `policy`: [`split_think`] for [`ThinkPolicy::Reasoning`];
/// the same without the orphan closing tag rule for [`ThinkPolicy::Blocks`]; for
/// [`ThinkPolicy::LeadingBlock`] the same when the text opens with a think block, else the
/// trimmed text untouched (so `<think>` inside an ordinary answer survives).
///
/// ```
/// use elelem_core::json::{split_think_with, ThinkPolicy};
///
/// let kept = split_think_with(" Use <think> tags.", ThinkPolicy::LeadingBlock);
/// assert_eq!(kept.answer, "Use <think> tags.");
/// let split = split_think_with("<think>a</think> b <think>c</think>", ThinkPolicy::LeadingBlock);
/// assert_eq!((split.answer.as_ref(), split.reasoning.as_deref()), ("b", Some("a\nc")));
/// let blocks = split_think_with("a</think> b", ThinkPolicy::Blocks);
/// assert_eq!((blocks.answer.as_ref(), blocks.reasoning), ("a b", None));
/// ```
#[must_use]
pub fn split_think_with(text: &str, policy: ThinkPolicy) -> ThinkSplit<'_> {
    match policy {
        ThinkPolicy::Reasoning => split_from(text, Region::Start),
        ThinkPolicy::Blocks => split_from(text, Region::Outside),
        ThinkPolicy::LeadingBlock if grammar::opens_with_block(text) => {
            split_from(text, Region::Start)
        }
        ThinkPolicy::LeadingBlock => unsplit(text),
    }
}

/// Which think blocks are taken out of an answer.
///
/// ```
/// use elelem_core::json::ThinkPolicy;
///
/// assert_eq!(ThinkPolicy::for_model("deepseek-ai/DeepSeek-R1-0528", true), ThinkPolicy::Reasoning);
/// assert_eq!(ThinkPolicy::for_model("claude-haiku-4-5", true), ThinkPolicy::Blocks);
/// assert_eq!(ThinkPolicy::for_model("gpt-4.1-mini", false), ThinkPolicy::LeadingBlock);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ThinkPolicy {
    /// Models that write their reasoning in the text and may omit the opening tag
    /// (`DeepSeek-R1`, `QwQ`, `Qwen3`): blocks anywhere, and a closing tag without an
    /// opening one ends the reasoning that started the text. A stream holds the text
    /// before its first tag until that tag (or the end) says what it was.
    Reasoning,
    /// Other reasoning models: blocks anywhere; a closing tag without an opening one is
    /// dropped and the text around it kept. Nothing is held back in streams.
    Blocks,
    /// Other models: blocks are taken out only from an answer that opens with one.
    LeadingBlock,
}

impl ThinkPolicy {
    /// The policy for a model, from the model name the provider answered with and whether
    /// the catalogue marks it as a reasoning model. Only the families known to write
    /// their reasoning in the text without an opening tag (names holding `r1`, `qwq` or
    /// `qwen3`, any case) get [`Reasoning`](Self::Reasoning), so that streams
    /// of other reasoning models (Claude, Gemini, gpt-oss) are not held back.
    ///
    /// ```
    /// use elelem_core::json::ThinkPolicy;
    ///
    /// assert_eq!(ThinkPolicy::for_model("qwen3:8b", true), ThinkPolicy::Reasoning);
    /// assert_eq!(ThinkPolicy::for_model("openai/gpt-oss-20b", true), ThinkPolicy::Blocks);
    /// ```
    #[must_use]
    pub fn for_model(model: &str, reasoning_model: bool) -> Self {
        if !reasoning_model {
            return Self::LeadingBlock;
        }
        let name = model.to_ascii_lowercase();
        let omits_opening_tag = ["r1", "qwq", "qwen3"]
            .iter()
            .any(|family| name.contains(family));
        if omits_opening_tag {
            Self::Reasoning
        } else {
            Self::Blocks
        }
    }
}

/// The trimmed text, borrowed, without reasoning.
fn unsplit(text: &str) -> ThinkSplit<'_> {
    ThinkSplit {
        answer: Cow::Borrowed(text.trim()),
        reasoning: None,
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
}
