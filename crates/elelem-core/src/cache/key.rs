//! Cache keys: SHA-256 of a canonical JSON document.

use std::fmt;

use serde_json::Value;
use sha2::{Digest, Sha256};

/// A response cache key: the hex SHA-256 digest of everything that determines an
/// answer (never an API key). 64 lower-case hex characters, safe as a file name.
///
/// The content is hashed in a canonical form: object keys sorted at every level, so
/// the order parameters were given in does not matter.
///
/// ```
/// use elelem_core::cache::CacheKey;
/// use serde_json::json;
/// let a = CacheKey::from_content(&json!({"model": "m", "temperature": 0.5}));
/// let b = CacheKey::from_content(&json!({"temperature": 0.5, "model": "m"}));
/// assert_eq!(a, b);
/// assert_eq!(a.as_str().len(), 64);
/// assert_ne!(a, CacheKey::from_content(&json!({"model": "m", "temperature": 0.6})));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CacheKey(String);

impl CacheKey {
    /// The key of a JSON document, hashed in canonical form.
    pub fn from_content(content: &Value) -> Self {
        let mut text = String::new();
        write_canonical(content, &mut text);
        let digest = Sha256::digest(text.as_bytes());
        let mut hex = String::with_capacity(64);
        for byte in digest {
            hex.push(char::from(HEX[usize::from(byte >> 4)]));
            hex.push(char::from(HEX[usize::from(byte & 0x0f)]));
        }
        CacheKey(hex)
    }

    /// A key from its hex text, if it is one (64 lower-case hex characters).
    ///
    /// ```
    /// use elelem_core::cache::CacheKey;
    /// let key = CacheKey::from_content(&serde_json::json!(1));
    /// assert_eq!(CacheKey::parse(key.as_str()), Some(key));
    /// assert_eq!(CacheKey::parse("../etc/passwd"), None);
    /// ```
    pub fn parse(text: &str) -> Option<Self> {
        (text.len() == 64 && text.bytes().all(|b| HEX.contains(&b))).then(|| CacheKey(text.into()))
    }

    /// The hex text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for CacheKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

const HEX: &[u8; 16] = b"0123456789abcdef";

/// Writes `value` as JSON with object keys sorted at every level.
fn write_canonical(value: &Value, out: &mut String) {
    match value {
        Value::Object(map) => {
            let mut entries: Vec<(&String, &Value)> = map.iter().collect();
            entries.sort_by(|a, b| a.0.cmp(b.0));
            out.push('{');
            for (i, (key, item)) in entries.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&Value::String(key.clone()).to_string());
                out.push(':');
                write_canonical(item, out);
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_canonical(item, out);
            }
            out.push(']');
        }
        scalar => out.push_str(&scalar.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn nested_key_order_does_not_matter_but_array_order_does() {
        let a = json!({"x": {"b": 1, "a": [1, 2]}, "y": null});
        let b = json!({"y": null, "x": {"a": [1, 2], "b": 1}});
        assert_eq!(CacheKey::from_content(&a), CacheKey::from_content(&b));
        let c = json!({"y": null, "x": {"a": [2, 1], "b": 1}});
        assert_ne!(CacheKey::from_content(&a), CacheKey::from_content(&c));
        let mut text = String::new();
        write_canonical(&b, &mut text);
        assert_eq!(text, r#"{"x":{"a":[1,2],"b":1},"y":null}"#);
    }
}
