//! API keys that never show up in `Debug`, `Display`, logs or errors.

use std::fmt;

/// An API key. Its `Debug` and `Display` print `***`; only
/// [`ApiKey::expose`] gives the value, for the one place that sends it.
///
/// ```
/// let key = elelem_core::ApiKey::new("sk-secret");
/// assert_eq!(format!("{key:?}"), "ApiKey(***)");
/// assert_eq!(key.expose(), "sk-secret");
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct ApiKey(String);

impl ApiKey {
    /// Wraps a key.
    pub fn new(key: impl Into<String>) -> Self {
        ApiKey(key.into())
    }

    /// The key itself: only for the header that carries it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ApiKey(***)")
    }
}

impl fmt::Display for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

impl From<String> for ApiKey {
    fn from(value: String) -> Self {
        ApiKey(value)
    }
}

impl From<&str> for ApiKey {
    fn from(value: &str) -> Self {
        ApiKey(value.to_owned())
    }
}
