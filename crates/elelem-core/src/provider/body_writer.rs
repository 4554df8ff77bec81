//! Writing a [`WireRequest`](super::WireRequest) as JSON bytes by hand, the same
//! bytes `serde_json::to_vec` writes, with one shortcut: a message whose text
//! ends with a [`KnownSuffix`] (the JSON instruction, hundreds of bytes of
//! pretty-printed schema full of quotes and newlines) gets that suffix's escape
//! copied, written once per instruction instead of on every call.
//!
//! serde_json has no way to put pre-escaped text inside a string it writes, so
//! the body is written here field by field, each value still by serde_json.

use std::fmt;
use std::sync::Arc;

use serde::Serialize;
use serde_json::{Map, Value};

use crate::types::{Content, Message};

/// A text and its JSON string escape (without the quotes), escaped once.
pub(crate) struct EscapedText {
    text: Box<str>,
    /// `None` only if serde_json could not write the text (it always can):
    /// then the text is escaped where it is used, as any other.
    escaped: Option<Box<str>>,
}

impl EscapedText {
    /// `text` with its escape, as serde_json writes it inside a string.
    pub fn new(text: impl Into<Box<str>>) -> Self {
        let text = text.into();
        let escaped = serde_json::to_string(&*text).ok().and_then(|quoted| {
            let inner = quoted.strip_prefix('"')?.strip_suffix('"')?;
            Some(inner.into())
        });
        EscapedText { text, escaped }
    }

    /// The text itself.
    pub fn text(&self) -> &str {
        &self.text
    }
}

impl fmt::Debug for EscapedText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("EscapedText").field(&self.text).finish()
    }
}

/// A text some message of a request may end with (the JSON instruction the
/// pipeline joined into it), already escaped. It only ever saves work: a
/// message is written with it only when its text really ends with it, so two
/// requests that differ only here write the same bytes and are equal.
#[derive(Clone, Default)]
pub(crate) struct KnownSuffix(pub Option<Arc<EscapedText>>);

impl PartialEq for KnownSuffix {
    fn eq(&self, _other: &Self) -> bool {
        true
    }
}

impl fmt::Debug for KnownSuffix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("KnownSuffix")
    }
}

/// A JSON object being written into a byte buffer.
pub(crate) struct ObjectWriter {
    out: Vec<u8>,
    empty: bool,
}

impl ObjectWriter {
    /// An object with room for about `capacity` bytes.
    pub fn with_capacity(capacity: usize) -> Self {
        let mut out = Vec::with_capacity(capacity);
        out.push(b'{');
        ObjectWriter { out, empty: true }
    }

    /// Starts the entry `key`, a name that needs no escaping (a field name).
    pub fn plain_key(&mut self, key: &str) {
        self.comma();
        self.out.push(b'"');
        self.out.extend_from_slice(key.as_bytes());
        self.out.extend_from_slice(b"\":");
    }

    /// Writes the entry `key: value` for a field name `key`.
    pub fn field<T: Serialize + ?Sized>(
        &mut self,
        key: &str,
        value: &T,
    ) -> Result<(), serde_json::Error> {
        self.plain_key(key);
        serde_json::to_writer(&mut self.out, value)
    }

    /// Writes the entries of `map`, keys escaped.
    pub fn entries(&mut self, map: &Map<String, Value>) -> Result<(), serde_json::Error> {
        for (key, value) in map {
            self.comma();
            entry(&mut self.out, key, value)?;
        }
        Ok(())
    }

    /// Writes `messages` as an array, each one as serde_json writes it, with the
    /// known suffix of a message's text copied instead of escaped.
    pub fn messages(
        &mut self,
        messages: &[Message],
        suffix: Option<&EscapedText>,
    ) -> Result<(), serde_json::Error> {
        self.plain_key("messages");
        self.out.push(b'[');
        for (i, message) in messages.iter().enumerate() {
            if i > 0 {
                self.out.push(b',');
            }
            let known = suffix.and_then(|suffix| {
                let escaped = suffix.escaped.as_deref()?;
                match &message.content {
                    Some(Content::Text(text)) => text
                        .strip_suffix(suffix.text())
                        .map(|prefix| (prefix, escaped)),
                    _ => None,
                }
            });
            match known {
                Some((prefix, escaped)) => self.message_with_suffix(message, prefix, escaped)?,
                None => serde_json::to_writer(&mut self.out, message)?,
            }
        }
        self.out.push(b']');
        Ok(())
    }

    /// Writes `message` as its derived `Serialize` does (role, content, then
    /// its other fields), its content being `prefix` followed by the text whose
    /// escape is `escaped`.
    fn message_with_suffix(
        &mut self,
        message: &Message,
        prefix: &str,
        escaped: &str,
    ) -> Result<(), serde_json::Error> {
        self.out.extend_from_slice(b"{\"role\":");
        serde_json::to_writer(&mut self.out, &message.role)?;
        self.out.extend_from_slice(b",\"content\":");
        serde_json::to_writer(&mut self.out, prefix)?;
        // Reopen the string (drop its closing quote) and add the suffix.
        self.out.pop();
        self.out.extend_from_slice(escaped.as_bytes());
        self.out.push(b'"');
        for (key, value) in &message.extra {
            self.out.push(b',');
            entry(&mut self.out, key, value)?;
        }
        self.out.push(b'}');
        Ok(())
    }

    /// Closes the object and gives its bytes.
    pub fn finish(mut self) -> Vec<u8> {
        self.out.push(b'}');
        self.out
    }

    fn comma(&mut self) {
        if !self.empty {
            self.out.push(b',');
        }
        self.empty = false;
    }
}

/// Writes `"key":value`, the key escaped.
fn entry(out: &mut Vec<u8>, key: &str, value: &Value) -> Result<(), serde_json::Error> {
    serde_json::to_writer(&mut *out, key)?;
    out.push(b':');
    serde_json::to_writer(out, value)
}

/// About how many bytes `messages` take as JSON (to size the buffer once).
pub(crate) fn messages_size(messages: &[Message]) -> usize {
    messages
        .iter()
        .map(|message| {
            let content = match &message.content {
                Some(Content::Text(text)) => text.len() + text.len() / 16,
                Some(Content::Parts(parts)) => 128 * parts.len(),
                None => 0,
            };
            48 + content + 64 * message.extra.len()
        })
        .sum()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn an_escaped_text_is_serde_jsons_escape_without_quotes() {
        let text = EscapedText::new("a \"b\"\n\t\\ \u{1} é");
        assert_eq!(
            text.escaped.as_deref().unwrap(),
            r#"a \"b\"\n\t\\ \u0001 é"#
        );
        assert_eq!(text.text(), "a \"b\"\n\t\\ \u{1} é");
    }

    #[test]
    fn a_message_ending_with_the_suffix_is_written_as_serde_json_writes_it() {
        let suffix = EscapedText::new("Answer \"JSON\".\n{\n  \"type\": \"object\"\n}");
        let mut message = Message::system(format!("Be \"brief\".\n\n{}", suffix.text()));
        message.extra.insert("name".into(), Value::from("sys\n"));
        let messages = vec![message, Message::user(suffix.text())];
        let mut writer = ObjectWriter::with_capacity(0);
        writer.messages(&messages, Some(&suffix)).unwrap();
        let written = writer.finish();
        let expected = serde_json::to_vec(&serde_json::json!({ "messages": messages })).unwrap();
        assert_eq!(
            String::from_utf8(written).unwrap(),
            String::from_utf8(expected).unwrap()
        );
    }
}

#[cfg(test)]
mod proptests;
