//! Think-block removal for streamed text, where `<think>` or `</think>` may be split
//! across chunks.

const OPEN: &str = "<think>";
const CLOSE: &str = "</think>";

/// What one piece of streamed text contributes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct ThinkPiece {
    /// Answer text.
    pub answer: String,
    /// Reasoning text (inside think blocks).
    pub reasoning: String,
}

/// Splits streamed text into answer and reasoning, holding back only the bytes that
/// could be the start of a tag.
#[derive(Debug, Clone, Default)]
pub(crate) struct ThinkFilter {
    /// Reasoning models: blocks anywhere are removed. Others: only blocks that open
    /// the answer, so `<think>` later in ordinary text is kept.
    anywhere: bool,
    in_think: bool,
    /// Text held back because it may begin a tag.
    carry: String,
    /// Whitespace right after a think block is dropped, as the non-streaming split does.
    trim_answer_start: bool,
    /// Whether any answer text has been emitted (leading whitespace is dropped).
    answered: bool,
}

/// The length of the longest suffix of `text` that is a proper prefix of `tag`.
fn partial_tag_suffix(text: &str, tag: &str) -> usize {
    let max = (tag.len() - 1).min(text.len());
    (1..=max)
        .rev()
        .find(|&n| {
            text.is_char_boundary(text.len() - n) && tag.starts_with(&text[text.len() - n..])
        })
        .unwrap_or(0)
}

impl ThinkFilter {
    /// A filter; `anywhere` removes blocks anywhere, else only leading ones.
    pub fn new(anywhere: bool) -> Self {
        ThinkFilter {
            anywhere,
            ..ThinkFilter::default()
        }
    }

    /// Takes the next piece of text.
    pub fn push(&mut self, text: &str) -> ThinkPiece {
        let mut piece = ThinkPiece::default();
        let mut rest = std::mem::take(&mut self.carry);
        rest.push_str(text);
        let mut view = rest.as_str();
        loop {
            if !self.anywhere && !self.in_think {
                let trimmed = view.trim_start();
                if self.answered {
                    self.emit(view, &mut piece);
                    break;
                } else if let Some(after) = trimmed.strip_prefix(OPEN) {
                    self.in_think = true;
                    view = after;
                    continue;
                } else if OPEN.starts_with(trimmed) {
                    self.carry = view.to_owned();
                    break;
                } else {
                    self.emit(view, &mut piece);
                    break;
                }
            }
            let tag = if self.in_think { CLOSE } else { OPEN };
            match view.find(tag) {
                Some(at) => {
                    self.emit(&view[..at], &mut piece);
                    self.in_think = !self.in_think;
                    if !self.in_think {
                        self.trim_answer_start = true;
                    }
                    view = &view[at + tag.len()..];
                }
                None => {
                    let keep = partial_tag_suffix(view, tag);
                    let (now, later) = view.split_at(view.len() - keep);
                    self.emit(now, &mut piece);
                    self.carry = later.to_owned();
                    break;
                }
            }
        }
        piece
    }

    /// Ends the stream: whatever was held back is emitted as what it is.
    pub fn finish(&mut self) -> ThinkPiece {
        let mut piece = ThinkPiece::default();
        let carry = std::mem::take(&mut self.carry);
        self.emit(&carry, &mut piece);
        piece
    }

    fn emit(&mut self, text: &str, piece: &mut ThinkPiece) {
        if text.is_empty() {
            return;
        }
        if self.in_think {
            piece.reasoning.push_str(text);
            return;
        }
        let text = if self.trim_answer_start || !self.answered {
            let trimmed = text.trim_start();
            if trimmed.is_empty() {
                return;
            }
            self.trim_answer_start = false;
            trimmed
        } else {
            text
        };
        self.answered = true;
        piece.answer.push_str(text);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(pieces: &[&str]) -> (String, String) {
        run_with(true, pieces)
    }

    fn run_with(anywhere: bool, pieces: &[&str]) -> (String, String) {
        let mut filter = ThinkFilter::new(anywhere);
        let (mut answer, mut reasoning) = (String::new(), String::new());
        for p in pieces {
            let out = filter.push(p);
            answer.push_str(&out.answer);
            reasoning.push_str(&out.reasoning);
        }
        let out = filter.finish();
        answer.push_str(&out.answer);
        reasoning.push_str(&out.reasoning);
        (answer, reasoning)
    }

    #[test]
    fn a_split_at_every_char_boundary_gives_the_same_result() {
        let text = "<think>\nWeigh ünïcode 🎉 carefully.\n</think>\n\n{\"answer\": \"a < b\"}";
        let expected = (
            "{\"answer\": \"a < b\"}".to_string(),
            "\nWeigh ünïcode 🎉 carefully.\n".to_string(),
        );
        assert_eq!(run(&[text]), expected);
        for (cut, _) in text.char_indices().skip(1) {
            assert_eq!(run(&[&text[..cut], &text[cut..]]), expected, "cut at {cut}");
        }
        let chars: Vec<String> = text.chars().map(String::from).collect();
        let refs: Vec<&str> = chars.iter().map(String::as_str).collect();
        assert_eq!(run(&refs), expected);
    }

    #[test]
    fn text_that_only_looks_like_a_tag_start_is_released() {
        assert_eq!(run(&["a <", "b"]), ("a <b".into(), String::new()));
        assert_eq!(
            run(&["ends with <thi"]),
            ("ends with <thi".into(), String::new())
        );
    }

    #[test]
    fn other_models_only_lose_a_leading_block() {
        let text = "<think>plan</think> Use <think> tags like </think> this.";
        for (cut, _) in text.char_indices().skip(1) {
            assert_eq!(
                run_with(false, &[&text[..cut], &text[cut..]]),
                ("Use <think> tags like </think> this.".into(), "plan".into()),
                "cut at {cut}"
            );
        }
        assert_eq!(
            run_with(false, &["Say <think>", " now"]),
            ("Say <think> now".into(), String::new())
        );
    }

    #[test]
    fn an_unclosed_block_is_all_reasoning() {
        assert_eq!(
            run(&["<think>still", " thinking"]),
            (String::new(), "still thinking".into())
        );
    }
}
