//! Any request, written by hand, gives the bytes serde_json gives.

#![allow(clippy::unwrap_used)]

use std::sync::Arc;

use proptest::prelude::*;
use serde_json::{Map, Value};

use super::EscapedText;
use crate::provider::WireRequest;
use crate::types::{Content, Message, Role};

/// Text with the characters JSON escapes, and any others.
fn text() -> impl Strategy<Value = String> {
    let char = prop_oneof![
        4 => proptest::char::range('a', 'z'),
        2 => prop_oneof![Just('"'), Just('\\'), Just('\n'), Just('\t'), Just('/')],
        1 => proptest::char::range('\u{0}', '\u{1f}'),
        1 => any::<char>(),
    ];
    proptest::collection::vec(char, 0..24).prop_map(String::from_iter)
}

fn value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        text().prop_map(Value::from),
    ];
    leaf.prop_recursive(3, 16, 4, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            proptest::collection::vec((text(), inner), 0..4)
                .prop_map(|entries| Value::Object(entries.into_iter().collect())),
        ]
    })
}

fn map() -> impl Strategy<Value = Map<String, Value>> {
    proptest::collection::vec((text(), value()), 0..3).prop_map(|e| e.into_iter().collect())
}

fn role() -> impl Strategy<Value = Role> {
    prop_oneof![
        Just(Role::System),
        Just(Role::Developer),
        Just(Role::User),
        Just(Role::Assistant),
        Just(Role::Tool),
    ]
}

/// A message; `Some(prefix)` content means "prefix followed by the suffix".
fn message() -> impl Strategy<Value = (Role, Option<Option<String>>, bool, Map<String, Value>)> {
    (
        role(),
        proptest::option::of(proptest::option::of(text())),
        any::<bool>(),
        map(),
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1000))]

    #[test]
    fn to_bytes_writes_what_serde_json_writes(
        model in prop_oneof![Just(String::new()), text()],
        messages in proptest::collection::vec(message(), 0..4),
        suffix in proptest::option::of(text()),
        temperature in proptest::option::of(any::<f64>()),
        seed in proptest::option::of(any::<i64>()),
        stop in proptest::option::of(value()),
        user in proptest::option::of(text()),
        extra in map(),
        typed_extra in proptest::option::of(value()),
    ) {
        let escaped = suffix.map(|s| Arc::new(EscapedText::new(s)));
        let mut request = WireRequest::default();
        request.model = model;
        request.messages = messages
            .into_iter()
            .map(|(role, content, with_suffix, extra)| {
                let content = content.map(|text| match text {
                    Some(text) => {
                        let suffix = escaped.as_ref().filter(|_| with_suffix);
                        Content::Text(format!("{text}{}", suffix.map_or("", |s| s.text())))
                    }
                    None => Content::Parts(vec![serde_json::json!({"type": "text", "text": "x\"y"})]),
                });
                Message { role, content, extra }
            })
            .collect();
        request.temperature = temperature;
        request.seed = seed;
        request.stop = stop;
        request.user = user;
        request.extra = extra;
        if let Some(value) = typed_extra {
            // A key both typed and in `extra` (only possible through the public
            // fields) is written twice by both.
            request.extra.insert("seed".into(), value);
        }
        if let Some(escaped) = escaped {
            request.set_known_suffix(escaped);
        }
        let expected = serde_json::to_vec(&request).unwrap();
        prop_assert_eq!(
            String::from_utf8(request.to_bytes().unwrap()).unwrap(),
            String::from_utf8(expected).unwrap()
        );
    }
}
