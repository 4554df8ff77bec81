//! JSON schemas derived from Rust types (with `schemars`), for typed generation.

use schemars::generate::SchemaSettings;
use schemars::JsonSchema;
use serde_json::{Map, Value};

/// The formats OpenAI's strict structured outputs accept; others are dropped from
/// the schema sent to the provider (and still enforced by local validation).
const STRICT_FORMATS: [&str; 9] = [
    "date-time",
    "time",
    "date",
    "duration",
    "email",
    "hostname",
    "ipv4",
    "ipv6",
    "uuid",
];

/// The schemas of a type: the draft-07 schema the answer is validated against
/// locally, and the schema sent as `response_format` (made strict-friendly).
///
/// ```
/// #[derive(serde::Deserialize, schemars::JsonSchema)]
/// struct Person { name: String, nickname: Option<String> }
///
/// let s = elelem_core::json::TypedSchema::of::<Person>();
/// assert_eq!(s.name, "Person");
/// // Locally, an optional field may be left out...
/// assert_eq!(s.validation["required"], serde_json::json!(["name"]));
/// // ...while OpenAI's strict mode wants every field, optional ones nullable.
/// assert!(s.strict);
/// assert_eq!(s.wire["required"], serde_json::json!(["name", "nickname"]));
/// assert_eq!(s.wire["additionalProperties"], false);
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct TypedSchema {
    /// The schema's name for `response_format` (letters, digits, `_`, `-`).
    pub name: String,
    /// The draft-07 schema the answer is validated against.
    pub validation: Value,
    /// The schema sent to the provider: `additionalProperties: false` and every
    /// property required (optional ones accept `null`) on every object, `$defs`
    /// for definitions, `oneOf` as `anyOf`, no `$schema`, `default` or formats
    /// strict mode rejects.
    pub wire: Value,
    /// Whether the wire schema meets OpenAI's strict-mode rules (an object at the
    /// root, no free-form maps), so `strict: true` can be asked for.
    pub strict: bool,
}

impl TypedSchema {
    /// The schemas of `T`.
    pub fn of<T: JsonSchema + ?Sized>() -> Self {
        let validation = SchemaSettings::draft07()
            .into_generator()
            .into_root_schema_for::<T>()
            .to_value();
        let mut wire = validation.clone();
        if let Some(root) = wire.as_object_mut() {
            root.remove("$schema");
            if let Some(defs) = root.remove("definitions") {
                root.insert("$defs".into(), defs);
            }
        }
        let mut strict = is_object_schema(&wire);
        make_strict(&mut wire, &mut strict);
        TypedSchema {
            name: schema_name(&T::schema_name()),
            validation,
            wire,
            strict,
        }
    }
}

/// A `response_format` name from a type's schema name.
fn schema_name(raw: &str) -> String {
    let name: String = raw
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .take(64)
        .collect();
    if name.is_empty() {
        "response".to_owned()
    } else {
        name
    }
}

fn is_object_schema(schema: &Value) -> bool {
    schema.get("type").and_then(Value::as_str) == Some("object")
        || schema.get("properties").is_some()
}

/// Rewrites a schema in place for strict mode; clears `strict` where it cannot be.
/// Only keywords holding subschemas are descended into, so property names and
/// `enum`/`const` values are never mistaken for keywords.
fn make_strict(schema: &mut Value, strict: &mut bool) {
    let Value::Object(map) = schema else {
        return;
    };
    strict_object(map, strict);
    for (key, value) in map.iter_mut() {
        match key.as_str() {
            "properties" | "$defs" | "definitions" | "patternProperties" => {
                if let Value::Object(children) = value {
                    for child in children.values_mut() {
                        make_strict(child, strict);
                    }
                }
            }
            "items"
            | "additionalItems"
            | "additionalProperties"
            | "not"
            | "if"
            | "then"
            | "else"
            | "contains"
            | "anyOf"
            | "allOf"
            | "prefixItems" => match value {
                Value::Array(items) => {
                    for item in items {
                        make_strict(item, strict);
                    }
                }
                other => make_strict(other, strict),
            },
            _ => {}
        }
    }
}

fn strict_object(map: &mut Map<String, Value>, strict: &mut bool) {
    if let Some(Value::String(reference)) = map.get_mut("$ref") {
        if let Some(rest) = reference.strip_prefix("#/definitions/") {
            *reference = format!("#/$defs/{rest}");
        }
    }
    map.remove("default");
    if let Some(format) = map.get("format").and_then(Value::as_str) {
        if !STRICT_FORMATS.contains(&format) {
            map.remove("format");
        }
    }
    if let Some(one_of) = map.remove("oneOf") {
        map.insert("anyOf".into(), one_of);
    }
    let is_object =
        map.get("type").and_then(Value::as_str) == Some("object") || map.contains_key("properties");
    if !is_object {
        return;
    }
    match map.get("additionalProperties") {
        None | Some(Value::Bool(false)) => {
            map.insert("additionalProperties".into(), Value::Bool(false));
        }
        Some(_) => *strict = false,
    }
    let names: Vec<Value> = map
        .get("properties")
        .and_then(Value::as_object)
        .map(|props| props.keys().cloned().map(Value::String).collect())
        .unwrap_or_default();
    map.insert("required".into(), Value::Array(names));
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use serde::Deserialize;
    use serde_json::json;

    use super::*;

    #[allow(dead_code)]
    #[derive(Deserialize, JsonSchema)]
    enum Kind {
        Cat,
        Dog,
    }

    #[allow(dead_code)]
    #[derive(Deserialize, JsonSchema)]
    struct Pet {
        kind: Kind,
        age: u32,
        #[serde(default)]
        tags: Vec<String>,
    }

    #[allow(dead_code)]
    #[derive(Deserialize, JsonSchema)]
    struct Owner {
        name: String,
        pets: Vec<Pet>,
        best: Option<Pet>,
    }

    #[allow(dead_code)]
    #[derive(Deserialize, JsonSchema)]
    struct Tricky {
        /// Property names that look like keywords stay untouched.
        #[serde(rename = "default")]
        default_value: String,
        #[serde(rename = "properties")]
        props: Option<String>,
    }

    #[allow(dead_code)]
    #[derive(Deserialize, JsonSchema)]
    struct WithMap {
        counts: BTreeMap<String, u32>,
    }

    #[test]
    fn nested_types_get_strict_definitions_and_refs() {
        let s = TypedSchema::of::<Owner>();
        assert!(s.strict);
        assert_eq!(
            s.validation["$schema"],
            "http://json-schema.org/draft-07/schema#"
        );
        assert!(s.validation["definitions"]["Pet"].is_object());
        assert!(s.wire.get("$schema").is_none());
        let pet = &s.wire["$defs"]["Pet"];
        assert_eq!(pet["additionalProperties"], false);
        assert_eq!(pet["required"], json!(["kind", "age", "tags"]));
        assert!(pet["properties"]["tags"].get("default").is_none());
        assert!(pet["properties"]["age"].get("format").is_none());
        assert_eq!(s.wire["$defs"]["Kind"]["enum"], json!(["Cat", "Dog"]));
        let text = s.wire.to_string();
        assert!(!text.contains("#/definitions/"), "{text}");
        assert!(text.contains("#/$defs/Pet"), "{text}");
        // The local schema still accepts what serde accepts.
        let validator = jsonschema::validator_for(&s.validation).unwrap();
        assert!(validator.is_valid(&json!({"name": "A", "pets": [{"kind": "Cat", "age": 2}]})));
        let strict = jsonschema::validator_for(&s.wire).unwrap();
        assert!(strict.is_valid(
            &json!({"name": "A", "pets": [{"kind": "Cat", "age": 2, "tags": []}], "best": null})
        ));
    }

    #[test]
    fn property_names_are_not_keywords() {
        let s = TypedSchema::of::<Tricky>();
        assert!(s.strict);
        assert_eq!(s.wire["required"], json!(["default", "properties"]));
        assert_eq!(s.wire["properties"]["default"]["type"], "string");
        assert!(s.wire["properties"].get("additionalProperties").is_none());
    }

    #[test]
    fn maps_and_non_objects_are_not_strict() {
        assert!(!TypedSchema::of::<WithMap>().strict);
        assert!(!TypedSchema::of::<Vec<String>>().strict);
        assert_eq!(TypedSchema::of::<Vec<String>>().name, "Array_of_string");
    }
}
