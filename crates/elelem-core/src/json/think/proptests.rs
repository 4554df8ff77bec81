//! Property tests: any chunking of any text splits as the plain path does.

use proptest::prelude::*;

use super::{split_think_with, ThinkPolicy, ThinkSplitter};

/// Text built from fragments that exercise the grammar: tags in every form, their
/// prefixes, whitespace, multibyte characters and ordinary words.
fn model_text() -> impl Strategy<Value = String> {
    let fragment = prop_oneof![
        Just("<think>".to_owned()),
        Just("</think>".to_owned()),
        Just("<THINKING >".to_owned()),
        Just("</Thinking>".to_owned()),
        Just("<think".to_owned()),
        Just("</thi".to_owned()),
        Just("<".to_owned()),
        Just("<thinker>".to_owned()),
        Just(" ".to_owned()),
        Just("\n\n".to_owned()),
        Just("\u{a0}".to_owned()),
        Just("é🎉".to_owned()),
        Just("{\"a\": 1}".to_owned()),
        "[a-z <>/\\n]{0,6}",
        any::<String>(),
    ];
    prop::collection::vec(fragment, 0..12).prop_map(|parts| parts.concat())
}

/// Runs the splitter over `text` cut at the given (char-aligned) places.
fn streamed(text: &str, cuts: &[usize], policy: ThinkPolicy) -> (String, String) {
    let mut bounds: Vec<usize> = cuts
        .iter()
        .map(|c| c % (text.len() + 1))
        .filter(|&c| text.is_char_boundary(c))
        .collect();
    bounds.push(0);
    bounds.push(text.len());
    bounds.sort_unstable();
    bounds.dedup();
    let mut splitter = ThinkSplitter::new(policy);
    let (mut answer, mut reasoning) = (String::new(), String::new());
    for pair in bounds.windows(2) {
        let piece = text.get(pair[0]..pair[1]).unwrap_or("");
        // An owned piece (its buffer reused) gives what a borrowed one gives.
        let borrowed = splitter.clone().push(piece);
        let delta = splitter.push_owned(piece.to_owned());
        assert_eq!(delta, borrowed);
        answer.push_str(&delta.answer);
        reasoning.push_str(&delta.reasoning);
    }
    let delta = splitter.finish();
    answer.push_str(&delta.answer);
    reasoning.push_str(&delta.reasoning);
    (answer, reasoning)
}

fn plain(text: &str, policy: ThinkPolicy) -> (String, String) {
    let split = split_think_with(text, policy);
    (
        split.answer.into_owned(),
        split.reasoning.unwrap_or_default(),
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn any_chunking_splits_like_the_plain_path(
        text in model_text(),
        cuts in prop::collection::vec(any::<usize>(), 0..10),
        policy in prop_oneof![
            Just(ThinkPolicy::Reasoning),
            Just(ThinkPolicy::Blocks),
            Just(ThinkPolicy::LeadingBlock),
        ],
    ) {
        prop_assert_eq!(streamed(&text, &cuts, policy), plain(&text, policy));
    }
}

#[test]
fn every_single_cut_and_every_char_apart_split_alike() {
    let texts = [
        "<think>\nWeigh ünïcode 🎉 carefully.\n</think>\n\n{\"answer\": \"a < b\"}",
        "The user wants JSON.\n</THINK>\n\n{\"a\": 1}",
        "A <think> x </think> B <thinking>y</thinking> C",
        "<think>plan</think> Use <think> tags like </think> this.",
        "  <thinking >cut off while thinking",
        "r1</think> A <think>r2</think> B</think>C",
    ];
    for text in texts {
        for policy in [
            ThinkPolicy::Reasoning,
            ThinkPolicy::Blocks,
            ThinkPolicy::LeadingBlock,
        ] {
            let expected = plain(text, policy);
            for (cut, _) in text.char_indices() {
                assert_eq!(
                    streamed(text, &[cut], policy),
                    expected,
                    "{text:?} cut at {cut}"
                );
            }
            let every: Vec<usize> = text.char_indices().map(|(i, _)| i).collect();
            assert_eq!(
                streamed(text, &every, policy),
                expected,
                "{text:?} char by char"
            );
        }
    }
}

#[test]
fn a_deepseek_stream_without_its_opening_tag_keeps_reasoning_out_of_the_answer() {
    let (answer, reasoning) = streamed(
        "Okay, the user wants a city.\n</think>\n\nParis",
        &[3, 10, 31, 35],
        ThinkPolicy::Reasoning,
    );
    assert_eq!(answer, "Paris");
    assert_eq!(reasoning, "Okay, the user wants a city.");
}
