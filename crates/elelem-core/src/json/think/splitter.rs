//! [`ThinkSplitter`]: the think grammar applied to text that arrives in pieces.

use super::grammar::{could_become_tag, opens_with_block, step, Kind, Region, Step};
use super::join::{Join, Joiner};
use super::ThinkPolicy;

/// What one pushed piece of text contributes: answer and reasoning text that is sure.
///
/// ```
/// use elelem_core::json::ThinkDelta;
///
/// let delta = ThinkDelta::default();
/// assert!(delta.answer.is_empty() && delta.reasoning.is_empty());
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ThinkDelta {
    /// Answer text to append.
    pub answer: String,
    /// Reasoning text to append.
    pub reasoning: String,
}

/// Where the splitter stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// [`ThinkPolicy::LeadingBlock`]: not known yet whether the answer opens with a block.
    Undecided,
    /// The answer does not open with a block: no splitting, only trimming.
    Verbatim,
    /// Splitting by the grammar.
    Grammar(Region),
}

/// Splits text arriving in pieces (a streamed answer) exactly as
/// [`split_think_with`](super::split_think_with) splits the whole text: whatever the
/// chunking, the concatenated answer and reasoning deltas equal the plain split.
///
/// Only text whose meaning is not known yet is held back: the possible start of a tag,
/// whitespace that trimming may remove, and, for [`ThinkPolicy::Reasoning`], the text
/// before the first tag (it is reasoning if that tag closes a block, as `DeepSeek-R1`
/// sends it, and answer otherwise).
///
/// ```
/// use elelem_core::json::{split_think, ThinkPolicy, ThinkSplitter};
///
/// let text = "Plan it.</think>\n{\"a\": 1}";
/// let mut splitter = ThinkSplitter::new(ThinkPolicy::Reasoning);
/// let (mut answer, mut reasoning) = (String::new(), String::new());
/// for piece in ["Plan", " it.</th", "ink>\n{\"a\"", ": 1}"] {
///     let delta = splitter.push(piece);
///     answer.push_str(&delta.answer);
///     reasoning.push_str(&delta.reasoning);
/// }
/// let delta = splitter.finish();
/// answer.push_str(&delta.answer);
/// reasoning.push_str(&delta.reasoning);
///
/// let plain = split_think(text);
/// assert_eq!(answer, plain.answer);
/// assert_eq!(Some(reasoning), plain.reasoning);
/// ```
#[derive(Debug, Clone)]
pub struct ThinkSplitter {
    mode: Mode,
    /// Text not consumed yet.
    buf: String,
    /// Where to look for tags in `buf` (earlier bytes cannot start one).
    scan: usize,
    answer: Joiner,
    reasoning: Joiner,
}

impl ThinkSplitter {
    /// A splitter following `policy`.
    ///
    /// ```
    /// use elelem_core::json::{ThinkPolicy, ThinkSplitter};
    ///
    /// let mut splitter = ThinkSplitter::new(ThinkPolicy::LeadingBlock);
    /// assert_eq!(splitter.push("Use <think> tags").answer, "Use <think> tags");
    /// ```
    #[must_use]
    pub fn new(policy: ThinkPolicy) -> Self {
        let mode = match policy {
            ThinkPolicy::Reasoning => Mode::Grammar(Region::Start),
            ThinkPolicy::Blocks => Mode::Grammar(Region::Outside),
            ThinkPolicy::LeadingBlock => Mode::Undecided,
        };
        Self {
            mode,
            buf: String::new(),
            scan: 0,
            answer: Joiner::new(Join::AsIs),
            reasoning: Joiner::new(Join::Lines),
        }
    }

    /// Takes the next piece of text; returns what is now known of the answer and reasoning.
    ///
    /// ```
    /// use elelem_core::json::{ThinkPolicy, ThinkSplitter};
    ///
    /// let mut splitter = ThinkSplitter::new(ThinkPolicy::Reasoning);
    /// assert_eq!(splitter.push("<think>hm</thi").reasoning, "hm");
    /// assert_eq!(splitter.push("nk> Paris").answer, "Paris");
    /// ```
    pub fn push(&mut self, text: &str) -> ThinkDelta {
        self.buf.push_str(text);
        let mut delta = ThinkDelta::default();
        self.run(false, &mut delta);
        delta
    }

    /// [`push`](Self::push) of an owned piece, whose buffer is reused for the
    /// answer it gives (a streamed chunk's content: no allocation per chunk).
    ///
    /// ```
    /// use elelem_core::json::{ThinkPolicy, ThinkSplitter};
    ///
    /// let mut splitter = ThinkSplitter::new(ThinkPolicy::Reasoning);
    /// assert_eq!(splitter.push_owned("<think>hm</thi".to_owned()).reasoning, "hm");
    /// assert_eq!(splitter.push_owned("nk> Paris".to_owned()).answer, "Paris");
    /// ```
    pub fn push_owned(&mut self, mut text: String) -> ThinkDelta {
        self.buf.push_str(&text);
        text.clear();
        let mut delta = ThinkDelta {
            answer: text,
            reasoning: String::new(),
        };
        self.run(false, &mut delta);
        delta
    }

    /// Ends the text: whatever was held back is given as what it turned out to be.
    ///
    /// ```
    /// use elelem_core::json::{ThinkPolicy, ThinkSplitter};
    ///
    /// let mut splitter = ThinkSplitter::new(ThinkPolicy::Reasoning);
    /// assert_eq!(splitter.push("Paris <thi").answer, "");
    /// assert_eq!(splitter.finish().answer, "Paris <thi");
    /// ```
    pub fn finish(&mut self) -> ThinkDelta {
        let mut delta = ThinkDelta::default();
        self.run(true, &mut delta);
        delta
    }

    fn run(&mut self, complete: bool, delta: &mut ThinkDelta) {
        let mut pos = 0;
        loop {
            match self.mode {
                Mode::Undecided => {
                    let trimmed = self.buf.trim_start();
                    let unsure = trimmed.is_empty() || could_become_tag(trimmed.as_bytes(), false);
                    if unsure && !complete {
                        break;
                    }
                    self.mode = if opens_with_block(&self.buf) {
                        Mode::Grammar(Region::Start)
                    } else {
                        Mode::Verbatim
                    };
                }
                Mode::Verbatim => {
                    let rest = self.buf.get(pos..).unwrap_or("");
                    self.answer.push(rest, &mut delta.answer);
                    pos = self.buf.len();
                    break;
                }
                Mode::Grammar(region) => match step(&self.buf, region, pos, self.scan, complete) {
                    Step::Tagged {
                        kind,
                        end,
                        resume,
                        next,
                    } => {
                        self.emit(kind, pos, end, delta);
                        self.end_piece(kind);
                        pos = resume;
                        self.scan = resume;
                        self.mode = Mode::Grammar(next);
                    }
                    Step::Open { kind, settled } => {
                        // Without a kind, the text before the first tag waits for that tag.
                        if let Some(kind) = kind {
                            self.emit(kind, pos, settled, delta);
                            pos = settled;
                        }
                        self.scan = settled;
                        break;
                    }
                },
            }
        }
        self.buf.drain(..pos.min(self.buf.len()));
        self.scan = self.scan.saturating_sub(pos);
    }

    fn emit(&mut self, kind: Kind, start: usize, end: usize, delta: &mut ThinkDelta) {
        let text = self.buf.get(start..end).unwrap_or("");
        match kind {
            Kind::Answer => self.answer.push(text, &mut delta.answer),
            Kind::Reasoning => self.reasoning.push(text, &mut delta.reasoning),
        }
    }

    fn end_piece(&mut self, kind: Kind) {
        match kind {
            Kind::Answer => self.answer.end_piece(),
            Kind::Reasoning => self.reasoning.end_piece(),
        }
    }
}
