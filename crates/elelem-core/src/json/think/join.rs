//! How pieces become the answer and the reasoning, written incrementally: the answer is its
//! non-blank pieces joined as they are, then trimmed; the reasoning is its pieces trimmed,
//! the empty ones left out, joined by `"\n"`. Whitespace whose fate is not known yet is held.

/// How the pieces of one output are joined.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Join {
    /// Non-blank pieces side by side, the whole trimmed (the answer).
    AsIs,
    /// Each piece trimmed, non-empty ones joined by a newline (the reasoning).
    Lines,
}

/// One output (answer or reasoning) being written piece by piece.
#[derive(Debug, Clone)]
pub(crate) struct Joiner {
    join: Join,
    /// Whether any text was written.
    started: bool,
    /// Whether the current piece has non-whitespace text.
    piece_has_text: bool,
    /// Whitespace opening the current piece, before its first other character.
    piece_lead: String,
    /// Whitespace after the last other character written.
    trailing: String,
}

impl Joiner {
    pub(crate) fn new(join: Join) -> Self {
        Self {
            join,
            started: false,
            piece_has_text: false,
            piece_lead: String::new(),
            trailing: String::new(),
        }
    }

    /// Adds text to the current piece, writing to `out` what is sure to be kept.
    pub(crate) fn push(&mut self, text: &str, out: &mut String) {
        let mut rest = text;
        if !self.piece_has_text {
            let body = rest.trim_start();
            let lead = &rest[..rest.len() - body.len()];
            if body.is_empty() {
                if self.join == Join::AsIs {
                    self.piece_lead.push_str(lead);
                }
                return;
            }
            self.piece_lead.push_str(lead);
            if self.started {
                match self.join {
                    Join::AsIs => {
                        out.push_str(&self.trailing);
                        out.push_str(&self.piece_lead);
                    }
                    Join::Lines => out.push('\n'),
                }
            }
            self.trailing.clear();
            self.piece_lead.clear();
            self.piece_has_text = true;
            self.started = true;
            rest = body;
        }
        let body = rest.trim_end();
        if !body.is_empty() {
            out.push_str(&self.trailing);
            self.trailing.clear();
            out.push_str(body);
        }
        self.trailing.push_str(&rest[body.len()..]);
    }

    /// Ends the current piece.
    pub(crate) fn end_piece(&mut self) {
        self.piece_lead.clear();
        self.piece_has_text = false;
        if self.join == Join::Lines {
            self.trailing.clear();
        }
    }
}
