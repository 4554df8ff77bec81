//! The one grammar of think blocks: which bytes are tags, and how tags cut a text into
//! answer and reasoning pieces. The plain split ([`split_think`](super::split_think)), the
//! JSON extractor and the incremental stream splitter ([`ThinkSplitter`](super::ThinkSplitter))
//! all step through a text with [`step`], so they cannot disagree.

/// A think tag found in a text: bytes `start..end`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Tag {
    pub(crate) start: usize,
    pub(crate) end: usize,
    pub(crate) closing: bool,
}

/// Where the grammar stands in a text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Region {
    /// No tag seen yet: the text read so far is answer if the first tag opens a block, and
    /// reasoning if it closes one (`DeepSeek-R1` often omits its opening `<think>`).
    Start,
    /// After a tag, outside any block: answer text.
    Outside,
    /// Inside a block: reasoning text up to the next closing tag (opening tags are content).
    Inside,
}

/// What a piece of text is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// Text outside the reasoning blocks.
    Answer,
    /// Text inside a reasoning block.
    Reasoning,
}

/// One step of the grammar from a position in a text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Step {
    /// `from..end` is a whole piece of this kind, ended by a tag; go on at `resume` in `next`.
    Tagged {
        kind: Kind,
        end: usize,
        resume: usize,
        next: Region,
    },
    /// No tag ends the piece in the text seen so far. `from..settled` is known to be of
    /// `kind` (`None`: not known yet); `settled..` may still begin a tag and waits for more
    /// text. On a complete text, `settled` is the text's end and `kind` is known.
    Open { kind: Option<Kind>, settled: usize },
}

/// The grammar's step at `from` in `region`, looking for tags from `scan` (at least `from`;
/// a caller that already scanned part of the text passes where a tag could still start).
/// `complete` says that no more text will follow.
pub(crate) fn step(text: &str, region: Region, from: usize, scan: usize, complete: bool) -> Step {
    let bytes = text.as_bytes();
    let scan = scan.max(from);
    let tag = match region {
        Region::Inside => find_closing_tag(bytes, scan),
        Region::Start | Region::Outside => find_tag(bytes, scan),
    };
    if let Some(tag) = tag {
        let (kind, next) = match (region, tag.closing) {
            (Region::Inside, _) => (Kind::Reasoning, Region::Outside),
            (Region::Start, true) => (Kind::Reasoning, Region::Outside),
            // A stray closing tag after a complete block: dropped, the text is kept.
            (Region::Outside, true) => (Kind::Answer, Region::Outside),
            (Region::Start | Region::Outside, false) => (Kind::Answer, Region::Inside),
        };
        return Step::Tagged {
            kind,
            end: tag.start,
            resume: tag.end,
            next,
        };
    }
    let kind = match region {
        Region::Inside => Some(Kind::Reasoning),
        Region::Outside => Some(Kind::Answer),
        Region::Start if complete => Some(Kind::Answer),
        Region::Start => None,
    };
    let settled = if complete {
        text.len()
    } else {
        partial_tag_start(bytes, scan).unwrap_or(text.len())
    };
    Step::Open { kind, settled }
}

/// Where the text ends with something that more text could turn into a tag, if it does.
pub(crate) fn partial_tag_start(bytes: &[u8], from: usize) -> Option<usize> {
    let tail = bytes.get(from..)?;
    // A tag holds a single `<`, its first byte: only the last `<` can start one.
    let at = from + tail.iter().rposition(|&b| b == b'<')?;
    could_become_tag(bytes.get(at..)?, true).then_some(at)
}

/// Whether `bytes` (starting with `<`) is an unfinished tag: a proper prefix of a think tag
/// (`closing_allowed` false: of an opening tag).
pub(crate) fn could_become_tag(bytes: &[u8], closing_allowed: bool) -> bool {
    let mut rest = match bytes.split_first() {
        Some((b'<', rest)) => rest,
        _ => return false,
    };
    if let Some((b'/', after)) = rest.split_first() {
        if !closing_allowed {
            return false;
        }
        rest = after;
    }
    let Some(rest) = strip_word(rest, b"think") else {
        return false;
    };
    if rest.is_empty() {
        return true;
    }
    let rest = match rest.first() {
        Some(b'i' | b'I') => match strip_word(rest, b"ing") {
            Some([]) => return true,
            Some(after) => after,
            None => return false,
        },
        _ => rest,
    };
    rest.iter().all(u8::is_ascii_whitespace)
}

/// `bytes` without `word` in front (any case); `Some(&[])` when `bytes` is a proper prefix
/// of `word`; `None` when they differ.
fn strip_word<'a>(bytes: &'a [u8], word: &[u8]) -> Option<&'a [u8]> {
    let n = bytes.len().min(word.len());
    let (head, rest) = bytes.split_at(n);
    let same = head.eq_ignore_ascii_case(word.get(..n)?);
    same.then_some(rest)
}

/// Whether `text`, after leading whitespace, opens with an opening think tag.
pub(crate) fn opens_with_block(text: &str) -> bool {
    let start = text.len() - text.trim_start().len();
    tag_at(text.as_bytes(), start).is_some_and(|tag| !tag.closing)
}

/// Finds the first closing think tag at or after `from` (opening tags are skipped).
fn find_closing_tag(bytes: &[u8], mut from: usize) -> Option<Tag> {
    loop {
        let tag = find_tag(bytes, from)?;
        if tag.closing {
            return Some(tag);
        }
        from = tag.end;
    }
}

/// Finds the first think tag at or after `from`: `<think>`, `</think>`, `<thinking>` or
/// `</thinking>`, names in any case, with optional ASCII whitespace before the `>`.
pub(crate) fn find_tag(bytes: &[u8], from: usize) -> Option<Tag> {
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
    if bytes.get(start) != Some(&b'<') {
        return None;
    }
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

/// A piece of a complete model answer: outside or inside think blocks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Piece<'a> {
    /// Text outside any think block (may be empty or blank).
    Answer(&'a str),
    /// The untrimmed inner text of a think block (may be empty or blank).
    Reasoning(&'a str),
}

/// Iterates over the answer and reasoning pieces of a complete text, in order, without
/// allocating. A text with no tag yields exactly one `Answer` piece: the whole text.
pub(crate) struct Pieces<'a> {
    text: &'a str,
    pos: usize,
    region: Region,
    done: bool,
}

impl<'a> Pieces<'a> {
    pub(crate) fn new(text: &'a str) -> Self {
        Self::starting_in(text, Region::Start)
    }

    /// The pieces of `text` when the grammar starts in `region`.
    pub(crate) fn starting_in(text: &'a str, region: Region) -> Self {
        Self {
            text,
            pos: 0,
            region,
            done: false,
        }
    }

    fn piece(&self, kind: Kind, end: usize) -> Piece<'a> {
        let part = self.text.get(self.pos..end).unwrap_or("");
        match kind {
            Kind::Answer => Piece::Answer(part),
            Kind::Reasoning => Piece::Reasoning(part),
        }
    }
}

impl<'a> Iterator for Pieces<'a> {
    type Item = Piece<'a>;

    fn next(&mut self) -> Option<Piece<'a>> {
        if self.done {
            return None;
        }
        match step(self.text, self.region, self.pos, self.pos, true) {
            Step::Tagged {
                kind,
                end,
                resume,
                next,
            } => {
                let piece = self.piece(kind, end);
                self.pos = resume;
                self.region = next;
                Some(piece)
            }
            Step::Open { kind, settled } => {
                self.done = true;
                Some(self.piece(kind.unwrap_or(Kind::Answer), settled))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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

    #[test]
    fn unfinished_tags_are_recognised() {
        for yes in [
            "<",
            "</",
            "<t",
            "<THI",
            "</think",
            "<thinki",
            "<thinking",
            "<think  ",
        ] {
            assert!(could_become_tag(yes.as_bytes(), true), "{yes}");
        }
        for no in ["<a", "<thinkx", "<thinkix", "</thinkingx", "<think>", "x<"] {
            assert!(!could_become_tag(no.as_bytes(), true), "{no}");
        }
        assert!(!could_become_tag(b"</", false));
        assert_eq!(partial_tag_start(b"a < b <thi", 0), Some(6));
        assert_eq!(partial_tag_start(b"a < b", 0), None);
    }

    #[test]
    fn an_answer_opens_with_a_block_only_with_a_whole_opening_tag() {
        assert!(opens_with_block("  \n<THINKING >x"));
        assert!(!opens_with_block("</think>x"));
        assert!(!opens_with_block("<thinker>x"));
        assert!(!opens_with_block("x <think>"));
    }
}
