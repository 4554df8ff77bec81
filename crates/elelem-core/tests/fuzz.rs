//! Property-based fuzzing of everything in the core that reads outside bytes:
//! server-sent events, JSON extraction, `<think>` splitting, retry-after headers,
//! money, catalogue files and token counting. Every target must never panic and
//! must finish (each input is small, each function near-linear).
//!
//! A quick run is part of `cargo test` (256 cases per target). Before a release,
//! run 10 million cases per target with `scripts/fuzz-long.sh` (or
//! `FUZZ_CASES=10000000 cargo test --release -p elelem-core --test fuzz`).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use elelem_core::catalogue::Catalogue;
use elelem_core::json::{extract_json, parse_json_answer, remove_think_tags, split_think};
use elelem_core::retry::retry_after_from_headers;
use elelem_core::sse::{SseDecoder, SseEvent};
use elelem_core::{estimate_tokens, prompt_upper_bound, Message, TokenCounter, Usd, LONGEST_WAIT};
use proptest::prelude::*;

/// Cases per target: `FUZZ_CASES` or 256.
fn config() -> ProptestConfig {
    let cases = std::env::var("FUZZ_CASES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(256);
    ProptestConfig {
        cases,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

/// Text rich in the characters the parsers care about.
fn syntax_text() -> impl Strategy<Value = String> {
    let pieces = prop::sample::select(vec![
        "{",
        "}",
        "[",
        "]",
        "\"",
        "\\",
        ":",
        ",",
        " ",
        "\n",
        "\r",
        "```",
        "```json\n",
        "~~~",
        "<think>",
        "</think>",
        "<think",
        "data:",
        "data: ",
        "[DONE]",
        "\u{feff}",
        "é",
        "日",
        "1",
        "-",
        "e",
        "null",
        "true",
        "{\"a\":1}",
        "[1,2]",
        "\u{0}",
    ]);
    prop::collection::vec(prop_oneof![pieces.prop_map(String::from), ".{0,8}"], 0..64)
        .prop_map(|parts| parts.concat())
}

/// Every event of `bytes` fed to a decoder in pieces cut at `cuts`.
fn decode(bytes: &[u8], cuts: &[usize]) -> Vec<Result<SseEvent, elelem_core::sse::SseError>> {
    let mut decoder = SseDecoder::new();
    let mut events = Vec::new();
    let mut from = 0;
    let mut cuts: Vec<usize> = cuts.iter().map(|c| c % (bytes.len() + 1)).collect();
    cuts.sort_unstable();
    for cut in cuts.into_iter().chain([bytes.len()]) {
        decoder.push(&bytes[from..cut.max(from)]);
        from = cut.max(from);
        while let Some(event) = decoder.next_event() {
            events.push(event);
        }
    }
    while let Some(event) = decoder.finish() {
        events.push(event);
        if events.len() > bytes.len() + 2 {
            panic!("finish never ends");
        }
    }
    events
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn sse_decoding_never_panics_and_ignores_how_bytes_are_split(
        bytes in prop_oneof![
            prop::collection::vec(any::<u8>(), 0..512),
            syntax_text().prop_map(String::into_bytes),
        ],
        cuts in prop::collection::vec(any::<usize>(), 0..8),
    ) {
        let whole = decode(&bytes, &[]);
        let split = decode(&bytes, &cuts);
        prop_assert_eq!(whole, split);
    }

    #[test]
    fn extracted_json_is_a_parsing_slice_of_the_answer(text in prop_oneof![
        syntax_text(),
        any::<String>(),
    ]) {
        let extracted = extract_json(&text);
        let parsed = parse_json_answer(&text);
        if let Some(slice) = extracted {
            prop_assert!(text.contains(slice));
            let value: serde_json::Value = serde_json::from_str(slice).unwrap();
            prop_assert!(value.is_object() || value.is_array());
            prop_assert_eq!(parsed.ok(), Some(value));
        } else {
            prop_assert!(parsed.is_err());
        }
    }

    #[test]
    fn json_after_noise_is_found(
        noise in syntax_text(),
        fields in prop::collection::btree_map("[a-z{}\\[\\]\" ]{0,6}", json_value(), 0..4),
    ) {
        let value = serde_json::Value::Object(fields.into_iter().collect());
        let json = value.to_string();
        // Noise that closes everything it opens cannot swallow the JSON after it.
        let noise: String = noise.chars().filter(|c| !"{}[]\"\\`~<".contains(*c)).collect();
        let text = format!("{noise}\nAnswer: {json}");
        prop_assert_eq!(parse_json_answer(&text).ok(), Some(value));
    }

    #[test]
    fn think_splitting_never_panics_or_grows(text in prop_oneof![syntax_text(), any::<String>()]) {
        let split = split_think(&text);
        prop_assert!(split.answer.len() <= text.len());
        let removed = remove_think_tags(&text);
        prop_assert!(removed.len() <= text.len());
    }

    #[test]
    fn retry_after_is_never_beyond_a_year(
        value in prop_oneof![
            any::<String>(),
            "[0-9]{0,30}(\\.[0-9]{0,10})?(e[+-]?[0-9]{1,4})?",
            Just("Fri, 31 Dec 9999 23:59:59 GMT".to_owned()),
        ],
        millis in any::<bool>(),
    ) {
        let name = if millis { "retry-after-ms" } else { "retry-after" };
        if let Some(delay) = retry_after_from_headers([(name, value.as_str())]) {
            prop_assert!(delay <= LONGEST_WAIT);
            // What the client does with it.
            let _ = tokio::time::Instant::now().checked_add(delay).unwrap();
        }
    }

    #[test]
    fn money_parses_or_refuses_and_round_trips(
        text in prop_oneof![any::<String>(), "-?[0-9]{0,40}(\\.[0-9]{0,40})?"],
        femtos in any::<i64>(),
    ) {
        let _ = text.parse::<Usd>();
        let _ = text.parse::<elelem_core::PricePerMillion>();
        let amount = Usd::from_femtos(i128::from(femtos));
        let decimal = amount.to_string().replacen('$', "", 1);
        if femtos >= 0 {
            prop_assert_eq!(decimal.parse::<Usd>().unwrap(), amount);
        }
    }

    #[test]
    fn catalogue_files_load_or_are_refused(text in prop_oneof![any::<String>(), catalogue_text()]) {
        let _ = Catalogue::from_sources([("fuzz", text.as_str())]);
    }

    #[test]
    fn token_counts_never_panic_and_bounds_hold(text in prop_oneof![syntax_text(), any::<String>()]) {
        let catalogue = Catalogue::from_sources([(
            "t",
            "[provider]\nname='p'\nbase_url='u'\n[[models]]\nid='p:gpt-4.1'\n[[models]]\nid='p:mystery'",
        )])
        .unwrap();
        for id in ["p:gpt-4.1", "p:mystery"] {
            let model = catalogue.model(id).unwrap();
            let messages = [Message::user(text.clone())];
            let estimate = estimate_tokens(&messages, model).tokens;
            let bound = prompt_upper_bound(&messages, None, model);
            prop_assert!(bound >= estimate, "{} {:?}: {} < {}", id, text, bound, estimate);
        }
        for counter in [TokenCounter::O200kBase, TokenCounter::Cl100kBase, TokenCounter::Approximate] {
            prop_assert!(counter.upper_bound(&text) >= counter.count(&text));
        }
    }
}

/// Any JSON value, nested a few levels.
fn json_value() -> impl Strategy<Value = serde_json::Value> {
    let leaf = prop_oneof![
        Just(serde_json::Value::Null),
        any::<bool>().prop_map(serde_json::Value::from),
        any::<i64>().prop_map(serde_json::Value::from),
        ".{0,12}".prop_map(serde_json::Value::from),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(serde_json::Value::from),
            prop::collection::btree_map("[a-z{}\\[\\]\" ]{0,6}", inner, 0..4)
                .prop_map(|m| { serde_json::Value::Object(m.into_iter().collect()) }),
        ]
    })
}

/// Catalogue-shaped TOML with odd values.
fn catalogue_text() -> impl Strategy<Value = String> {
    let value = prop_oneof![
        Just("'1'".to_owned()),
        Just("'-1'".to_owned()),
        Just("'1e400'".to_owned()),
        Just("1e400".to_owned()),
        Just("-5".to_owned()),
        Just("18446744073709551616".to_owned()),
        Just("9223372036854775807".to_owned()),
        Just("0".to_owned()),
        Just("'0.0000000001'".to_owned()),
        Just("''".to_owned()),
        Just("[]".to_owned()),
        Just("{}".to_owned()),
        "'[a-z:/]{0,10}'",
    ];
    let field = prop::sample::select(vec![
        "context_window",
        "max_output",
        "upstream",
        "timeout_secs",
        "input",
        "output",
        "cached_input",
        "currency",
        "model",
        "id",
        "base_url",
        "underlying",
    ]);
    prop::collection::vec((field, value), 0..8).prop_map(|fields| {
        let assigns: Vec<String> = fields.iter().map(|(f, v)| format!("{f} = {v}")).collect();
        format!(
            "[provider]\nname='p'\nbase_url='u'\n[[models]]\nid='p:m'\n{}\nprice = {{ {} }}\n[[virtual_models]]\nid='virtual:v'\ncandidates=[{{ model='p:m', {} }}]\n",
            assigns.join("\n"),
            assigns.join(", "),
            assigns.join(", "),
        )
    })
}
