//! [`JsonSchema`]: a schema prepared once and reused by every request that
//! carries it.

use std::fmt;
use std::ops::Deref;
use std::sync::{Arc, OnceLock};

use jsonschema::Validator;
use serde_json::Value;

use crate::provider::EscapedText;

/// A JSON schema for [`ChatRequest::json_schema`](crate::ChatRequest::json_schema),
/// prepared once: what a call works out from the schema (its compiled
/// validator, the JSON and YAML instructions with the schema printed into
/// them) is kept with it, so a request carrying a schema built once does not
/// hash, compare, print or drop the schema on every call. Cloning it is a
/// reference count.
///
/// A plain `serde_json::Value` is still accepted everywhere a `JsonSchema` is
/// (`From<Value>`); it then works as before, through the client's caches.
///
/// ```
/// use elelem_core::{ChatRequest, JsonSchema, Message, ResponseFormat};
/// use serde_json::json;
///
/// // Once, at start-up:
/// let person = JsonSchema::new(json!({
///     "type": "object",
///     "properties": {"name": {"type": "string"}, "age": {"type": "integer"}},
///     "required": ["name", "age"]
/// }));
/// // Per call (a clone is a reference count):
/// let request = ChatRequest::new("openai:gpt-4.1-mini", vec![Message::user("Ada Lovelace?")])
///     .response_format(ResponseFormat::JsonObject)
///     .json_schema(person.clone());
/// assert_eq!(request.validation_schema(), Some(person.value()));
/// assert_eq!(person["required"][0], "name");
/// ```
#[derive(Clone)]
pub struct JsonSchema(Arc<Prepared>);

/// The schema and what was worked out from it, each on first use.
struct Prepared {
    value: Value,
    validator: OnceLock<Arc<Validator>>,
    json_instruction: OnceLock<Arc<EscapedText>>,
    yaml_instruction: OnceLock<Arc<EscapedText>>,
}

impl JsonSchema {
    /// Prepares `schema` (nothing is computed until a call needs it; an
    /// invalid schema is refused by the call, as a plain `Value` is).
    ///
    /// ```
    /// let schema = elelem_core::JsonSchema::new(serde_json::json!({"type": "object"}));
    /// assert_eq!(schema.value(), &serde_json::json!({"type": "object"}));
    /// ```
    pub fn new(schema: Value) -> Self {
        JsonSchema(Arc::new(Prepared {
            value: schema,
            validator: OnceLock::new(),
            json_instruction: OnceLock::new(),
            yaml_instruction: OnceLock::new(),
        }))
    }

    /// The schema itself.
    ///
    /// ```
    /// let schema = elelem_core::JsonSchema::from(serde_json::json!({"type": "array"}));
    /// assert_eq!(schema.value()["type"], "array");
    /// ```
    pub fn value(&self) -> &Value {
        &self.0.value
    }

    /// The compiled validator kept with the schema, else `compile`'s (kept when
    /// it succeeds).
    pub(crate) fn validator<E>(
        &self,
        compile: impl FnOnce(&Value) -> Result<Arc<Validator>, E>,
    ) -> Result<Arc<Validator>, E> {
        kept_or(&self.0.validator, || compile(&self.0.value))
    }

    /// The JSON (or YAML) instruction kept with the schema, else `write`'s
    /// (then kept).
    pub(crate) fn instruction(
        &self,
        yaml: bool,
        write: impl FnOnce() -> Arc<EscapedText>,
    ) -> Arc<EscapedText> {
        let cell = match yaml {
            true => &self.0.yaml_instruction,
            false => &self.0.json_instruction,
        };
        kept_or(cell, || Ok::<_, std::convert::Infallible>(write()))
            .unwrap_or_else(|never| match never {})
    }
}

/// The value in `cell`, else `make`'s, kept in `cell` when it succeeds.
fn kept_or<T, E>(
    cell: &OnceLock<Arc<T>>,
    make: impl FnOnce() -> Result<Arc<T>, E>,
) -> Result<Arc<T>, E> {
    if let Some(kept) = cell.get() {
        return Ok(Arc::clone(kept));
    }
    let made = make()?;
    Ok(Arc::clone(cell.get_or_init(|| made)))
}

impl From<Value> for JsonSchema {
    fn from(schema: Value) -> Self {
        JsonSchema::new(schema)
    }
}

impl Deref for JsonSchema {
    type Target = Value;

    fn deref(&self) -> &Value {
        &self.0.value
    }
}

/// Two schemas are equal when their JSON is (the same handle, at once).
impl PartialEq for JsonSchema {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0) || self.0.value == other.0.value
    }
}

impl PartialEq<Value> for JsonSchema {
    fn eq(&self, other: &Value) -> bool {
        self.0.value == *other
    }
}

impl fmt::Debug for JsonSchema {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.0.value, f)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use serde_json::json;

    use super::*;

    #[test]
    fn what_is_worked_out_is_kept_and_a_failure_is_not() {
        let schema = JsonSchema::new(json!({"type": "object"}));
        let mut compiled = 0;
        let mut compile = |value: &Value| {
            compiled += 1;
            crate::json::SchemaCache::new().validator(value)
        };
        let first = schema.validator(&mut compile).unwrap();
        let again = schema.clone().validator(&mut compile).unwrap();
        assert!(Arc::ptr_eq(&first, &again));
        assert_eq!(compiled, 1);

        let bad = JsonSchema::new(json!({"type": 12}));
        let mut tries = 0;
        for _ in 0..2 {
            let result = bad.validator(|value| {
                tries += 1;
                crate::json::SchemaCache::new().validator(value)
            });
            assert!(result.is_err());
        }
        assert_eq!(tries, 2);

        let json = schema.instruction(false, || Arc::new(EscapedText::new("json")));
        let yaml = schema.instruction(true, || Arc::new(EscapedText::new("yaml")));
        assert_eq!(json.text(), "json");
        assert_eq!(yaml.text(), "yaml");
        let kept = schema.instruction(false, || Arc::new(EscapedText::new("other")));
        assert!(Arc::ptr_eq(&json, &kept));
    }

    #[test]
    fn equality_and_debug_are_the_values() {
        let a = JsonSchema::new(json!({"type": "object"}));
        assert_eq!(a, JsonSchema::from(json!({"type": "object"})));
        assert_ne!(a, JsonSchema::from(json!({"type": "array"})));
        assert_eq!(a, json!({"type": "object"}));
        assert_eq!(format!("{a:?}"), format!("{:?}", json!({"type": "object"})));
    }
}
