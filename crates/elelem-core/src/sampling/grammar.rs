//! Constrained decoding: the answer limited to a grammar, a regular expression or
//! a fixed set of choices, on servers that offer it (vLLM and compatible).

use serde_json::{json, Map, Value};

/// What the answer is constrained to, for servers with constrained decoding
/// (vLLM's `structured_outputs`, or its older `guided_*` fields). Set it with
/// [`ChatRequest::grammar`](crate::ChatRequest::grammar); a model whose catalogue
/// entry has neither `structured_outputs` nor `guided_decoding` refuses it
/// before anything is sent.
///
/// ```
/// use elelem_core::Grammar;
/// let g = Grammar::Choice(vec!["yes".into(), "no".into()]);
/// assert_eq!(g.structured_outputs(), serde_json::json!({"choice": ["yes", "no"]}));
/// assert_eq!(g.guided_field(), ("guided_choice", serde_json::json!(["yes", "no"])));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Grammar {
    /// A Lark (EBNF-like) grammar.
    Lark(String),
    /// A regular expression the whole answer matches.
    Regex(String),
    /// One of these strings, exactly.
    Choice(Vec<String>),
}

impl Grammar {
    /// The newer vLLM form: the value of `structured_outputs`.
    ///
    /// ```
    /// let g = elelem_core::Grammar::Regex("[0-9]+".into());
    /// assert_eq!(g.structured_outputs(), serde_json::json!({"regex": "[0-9]+"}));
    /// ```
    pub fn structured_outputs(&self) -> Value {
        let (key, value) = self.parts();
        let mut out = Map::new();
        out.insert(key.to_owned(), value);
        Value::Object(out)
    }

    /// The older vLLM form: one `guided_*` field and its value.
    ///
    /// ```
    /// let g = elelem_core::Grammar::Lark("start: \"a\"".into());
    /// assert_eq!(g.guided_field().0, "guided_grammar");
    /// ```
    pub fn guided_field(&self) -> (&'static str, Value) {
        let (key, value) = self.parts();
        let field = match key {
            "grammar" => "guided_grammar",
            "regex" => "guided_regex",
            _ => "guided_choice",
        };
        (field, value)
    }

    /// The kind's name in `structured_outputs` and the value.
    fn parts(&self) -> (&'static str, Value) {
        match self {
            Grammar::Lark(grammar) => ("grammar", json!(grammar)),
            Grammar::Regex(regex) => ("regex", json!(regex)),
            Grammar::Choice(choices) => ("choice", json!(choices)),
        }
    }

    /// What is wrong with it, if anything (an empty grammar or choice list).
    pub(crate) fn problem(&self) -> Option<&'static str> {
        match self {
            Grammar::Lark(text) | Grammar::Regex(text) if text.trim().is_empty() => {
                Some("the grammar is empty")
            }
            Grammar::Choice(choices) if choices.is_empty() => Some("the choice list is empty"),
            _ => None,
        }
    }
}
