//! Property tests of JSON-answer handling: think-block removal and JSON extraction never
//! panic, and a JSON object embedded in an answer always comes back out unchanged.

use elelem_core::json::{extract_json, parse_json_answer, split_think};
use proptest::prelude::*;
use serde_json::{Map, Number, Value};

/// Any JSON leaf. Floats are multiples of 1/8 so that they print and parse back exactly.
fn leaf() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        (-8_000i32..8_000).prop_map(|i| {
            Number::from_f64(f64::from(i) / 8.0).map_or(Value::Null, Value::Number)
        }),
        any::<String>().prop_map(Value::String),
        "[{}\\[\\]\"\\\\<>` a-z]{0,12}".prop_map(Value::String),
    ]
}

/// Any JSON value, nested a few levels.
fn value() -> impl Strategy<Value = Value> {
    leaf().prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::vec((any::<String>(), inner), 0..6)
                .prop_map(|entries| Value::Object(entries.into_iter().collect::<Map<_, _>>())),
        ]
    })
}

/// A JSON object at the top level.
fn object() -> impl Strategy<Value = Value> {
    prop::collection::vec(("[a-z_]{1,8}|\\PC{0,8}", value()), 0..6)
        .prop_map(|entries| Value::Object(entries.into_iter().collect::<Map<_, _>>()))
}

/// The value serialized compactly or pretty-printed.
fn serialized(value: &Value, pretty: bool) -> String {
    if pretty {
        format!("{value:#}")
    } else {
        value.to_string()
    }
}

/// Prose with no `{` or `[` (and no `<`, so that it never forms a think tag).
fn prose() -> impl Strategy<Value = String> {
    "[^{\\[<]{0,40}"
}

/// Text made of fragments that exercise the tricky paths.
fn tricky_text() -> impl Strategy<Value = String> {
    let fragment = prop_oneof![
        Just("<think>"),
        Just("</think>"),
        Just("<THINKING>"),
        Just("</thinking >"),
        Just("<"),
        Just("{"),
        Just("}"),
        Just("["),
        Just("]"),
        Just("\""),
        Just("\\"),
        Just(":"),
        Just(","),
        Just("1"),
        Just("\"a\""),
        Just("```"),
        Just("```json\n"),
        Just("~~~"),
        Just("\n"),
        Just(" "),
        Just("é"),
        Just("🎉"),
        Just("null"),
    ];
    prop::collection::vec(fragment, 0..40).prop_map(|parts| parts.concat())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn never_panics_on_arbitrary_text(text in any::<String>()) {
        let _ = split_think(&text);
        let _ = extract_json(&text);
        let _ = parse_json_answer(&text);
    }

    #[test]
    fn never_panics_on_tricky_text(text in tricky_text()) {
        let split = split_think(&text);
        prop_assert_eq!(split.answer.trim(), &*split.answer);
        if let Some(found) = extract_json(&text) {
            // The slice parses, and parse_json_answer agrees with it.
            let parsed: Value = serde_json::from_str(found).map_err(|e| {
                TestCaseError::fail(format!("{found:?} does not parse: {e}"))
            })?;
            prop_assert!(parsed.is_object() || parsed.is_array());
            prop_assert_eq!(parse_json_answer(&text).ok(), Some(parsed));
        } else {
            prop_assert!(parse_json_answer(&text).is_err());
        }
    }

    #[test]
    fn object_in_prose_round_trips(
        original in object(),
        pretty in any::<bool>(),
        prefix in prose(),
        suffix in prose(),
    ) {
        let text = format!("{prefix}{}{suffix}", serialized(&original, pretty));
        prop_assert_eq!(parse_json_answer(&text), Ok(original));
    }

    #[test]
    fn object_in_fence_round_trips(
        original in object(),
        pretty in any::<bool>(),
        tilde in any::<bool>(),
        prefix in prose(),
        suffix in prose(),
    ) {
        let fence = if tilde { "~~~" } else { "```" };
        let text = format!(
            "{prefix}\n{fence}json\n{}\n{fence}\n{suffix}",
            serialized(&original, pretty)
        );
        prop_assert_eq!(parse_json_answer(&text), Ok(original));
    }

    #[test]
    fn object_after_think_round_trips(
        original in object(),
        decoy in object(),
        pretty in any::<bool>(),
        thought in "[^<]{0,40}",
        orphan in any::<bool>(),
    ) {
        // The reasoning holds a decoy object that must not be picked.
        let open = if orphan { "" } else { "<think>" };
        let text = format!(
            "{open}{thought} {decoy}</think>\n{}",
            serialized(&original, pretty)
        );
        prop_assert_eq!(parse_json_answer(&text), Ok(original));
    }

    #[test]
    fn think_block_is_removed(x in "[^<]*", y in "[^<]*") {
        let text = format!("<think>{x}</think>{y}");
        let split = split_think(&text);
        prop_assert_eq!(&*split.answer, y.trim());
        let x = x.trim();
        prop_assert_eq!(split.reasoning.as_deref(), (!x.is_empty()).then_some(x));
    }

    #[test]
    fn text_without_tags_is_only_trimmed(text in "[^<]*") {
        let split = split_think(&text);
        prop_assert!(matches!(split.answer, std::borrow::Cow::Borrowed(_)));
        prop_assert_eq!(&*split.answer, text.trim());
        prop_assert_eq!(split.reasoning, None);
    }
}
