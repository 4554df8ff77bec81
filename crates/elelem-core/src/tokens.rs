//! Token estimates of a prompt, and the pre-flight check that a request fits its
//! model's context window.
//!
//! Counting follows OpenAI's published recipe for chat models: each message costs
//! its text's tokens plus 3 (plus 1 for a `name`), and the reply is primed with 3
//! more. The text is tokenized with the model family's real encoding where one is
//! known (`tiktoken-rs`, whose encodings are compiled in, so it works offline):
//!
//! | models (by upstream id) | counter |
//! |---|---|
//! | `gpt-4o`, `gpt-4.1`, `gpt-4.5`, `gpt-5`, `o1`, `o3`, `o4`, `gpt-oss` | `o200k_base` |
//! | `gpt-4`, `gpt-3.5`, OpenAI embeddings, Llama 3 (whose tokenizer extends `cl100k_base`, so the count is close and slightly high) | `cl100k_base` |
//! | everything else (Kimi, Mistral, Qwen, DeepSeek, Llama 4, ...) | approximate: one token per 4 characters, rounded up |
//!
//! Besides text, an image part counts 85 tokens (OpenAI's low-detail price; a
//! high-detail image costs more) and other message fields (`tool_calls`, ...)
//! count as their JSON text. An estimate is an estimate: a provider's own
//! count can differ by a few percent, more for the approximation.
//!
//! Text longer than [`LONG_TEXT_BYTES`] is never given to a tokenizer (a run of
//! millions of spaces overflows its regex's stack; one huge word takes quadratic
//! time): it is approximated.
//!
//! Budgets need a bound, not an estimate: [`TokenCounter::upper_bound`] and
//! [`prompt_upper_bound`] never count fewer tokens than a provider can bill. A
//! byte-level tokenizer never makes more tokens than the text has bytes, so text
//! that is not counted exactly (an unknown tokenizer, non-Latin scripts, long text)
//! counts one token per byte; images count the most a provider bills for one.

use std::sync::OnceLock;

use serde_json::Value;
use tiktoken_rs::CoreBPE;

use crate::catalogue::ModelEntry;
use crate::error::ElelemError;
use crate::types::{Content, Message};

/// Tokens added per message by the chat format.
const PER_MESSAGE: u64 = 3;
/// Tokens added for a message's `name`.
const PER_NAME: u64 = 1;
/// Tokens priming the reply.
const REPLY_PRIMING: u64 = 3;
/// Tokens counted for one image part.
const PER_IMAGE: u64 = 85;
/// Tokens a provider adds around each tool definition, bounded (OpenAI's own
/// framing is about a dozen).
const PER_TOOL_BOUND: u64 = 32;

/// The longest text given to a tokenizer (256 KiB): longer text is approximated
/// (counted) or bounded by its bytes (budgets).
///
/// ```
/// use elelem_core::{TokenCounter, LONG_TEXT_BYTES};
/// let spaces = " ".repeat(LONG_TEXT_BYTES + 1);
/// assert_eq!(TokenCounter::O200kBase.count(&spaces), (LONG_TEXT_BYTES as u64 + 1).div_ceil(4));
/// assert_eq!(TokenCounter::O200kBase.upper_bound(&spaces), LONG_TEXT_BYTES as u64 + 1);
/// ```
pub const LONG_TEXT_BYTES: usize = 256 * 1024;

/// How tokens are counted for a model.
///
/// ```
/// use elelem_core::TokenCounter;
/// assert_eq!(TokenCounter::for_upstream("gpt-4.1-mini"), TokenCounter::O200kBase);
/// assert_eq!(TokenCounter::for_upstream("openai/gpt-oss-20b"), TokenCounter::O200kBase);
/// assert_eq!(TokenCounter::for_upstream("gpt-3.5-turbo"), TokenCounter::Cl100kBase);
/// assert_eq!(TokenCounter::for_upstream("moonshotai/kimi-k2-instruct"), TokenCounter::Approximate);
/// assert_eq!(TokenCounter::Approximate.count("abcdefghi"), 3);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TokenCounter {
    /// OpenAI's `o200k_base` encoding (GPT-4o and later, o-series, gpt-oss).
    O200kBase,
    /// OpenAI's `cl100k_base` encoding (GPT-4, GPT-3.5; close for Llama 3).
    Cl100kBase,
    /// No tokenizer fits: one token per 4 characters, rounded up.
    Approximate,
}

impl TokenCounter {
    /// The counter for a model's upstream id (see the module table).
    pub fn for_upstream(upstream: &str) -> Self {
        let lower = upstream.to_ascii_lowercase();
        let name = lower.rsplit('/').next().unwrap_or(&lower);
        let o_series = name.len() >= 2
            && name.starts_with('o')
            && name.as_bytes().get(1).is_some_and(u8::is_ascii_digit);
        let o200k = ["gpt-4o", "gpt-4.1", "gpt-4.5", "gpt-5", "chatgpt-4o"];
        let cl100k = ["gpt-4", "gpt-3.5", "text-embedding-3", "text-embedding-ada"];
        if lower.contains("gpt-oss") || o_series || o200k.iter().any(|p| name.starts_with(p)) {
            TokenCounter::O200kBase
        } else if cl100k.iter().any(|p| name.starts_with(p))
            || name.starts_with("llama-3")
            || name.starts_with("llama3")
            || name.starts_with("meta-llama-3")
        {
            TokenCounter::Cl100kBase
        } else {
            TokenCounter::Approximate
        }
    }

    /// The counter for a catalogue model.
    pub fn for_model(model: &ModelEntry) -> Self {
        TokenCounter::for_upstream(&model.upstream)
    }

    /// The counter's name: `o200k_base`, `cl100k_base` or `approximate`.
    pub fn name(self) -> &'static str {
        match self {
            TokenCounter::O200kBase => "o200k_base",
            TokenCounter::Cl100kBase => "cl100k_base",
            TokenCounter::Approximate => "approximate",
        }
    }

    /// The tokens of `text`. Falls back to the approximation should an encoding
    /// fail to load, or when the text is longer than [`LONG_TEXT_BYTES`].
    pub fn count(self, text: &str) -> u64 {
        if text.is_empty() {
            return 0;
        }
        if text.len() > LONG_TEXT_BYTES {
            return approximate(text);
        }
        match self.tokenizer() {
            Some(bpe) => bpe.encode_ordinary(text).len() as u64,
            None => approximate(text),
        }
    }

    /// The most tokens `text` can be billed as: the exact count where the encoding
    /// is the model's own and the text is not long, else one token per byte (no
    /// byte-level tokenizer makes more).
    ///
    /// ```
    /// use elelem_core::TokenCounter;
    /// assert_eq!(TokenCounter::O200kBase.upper_bound("Hello world"), 2);
    /// assert_eq!(TokenCounter::Approximate.upper_bound("Hello world"), 11);
    /// assert_eq!(TokenCounter::Approximate.upper_bound("日本語"), 9);
    /// ```
    pub fn upper_bound(self, text: &str) -> u64 {
        if text.len() > LONG_TEXT_BYTES {
            return text.len() as u64;
        }
        match self.tokenizer() {
            Some(bpe) => bpe.encode_ordinary(text).len() as u64,
            None => text.len() as u64,
        }
    }

    /// The encoding, when the counter has one and it loads.
    fn tokenizer(self) -> Option<&'static CoreBPE> {
        match self {
            TokenCounter::O200kBase => O200K
                .get_or_init(|| loaded(tiktoken_rs::o200k_base()))
                .as_ref(),
            TokenCounter::Cl100kBase => CL100K
                .get_or_init(|| loaded(tiktoken_rs::cl100k_base()))
                .as_ref(),
            TokenCounter::Approximate => None,
        }
    }
}

/// One token per 4 characters, rounded up.
fn approximate(text: &str) -> u64 {
    (text.chars().count() as u64).div_ceil(4)
}

static O200K: OnceLock<Option<CoreBPE>> = OnceLock::new();
static CL100K: OnceLock<Option<CoreBPE>> = OnceLock::new();

/// An encoding loaded (from the data compiled into `tiktoken-rs`), or `None` with a
/// warning.
fn loaded<E: std::fmt::Display>(result: Result<CoreBPE, E>) -> Option<CoreBPE> {
    match result {
        Ok(bpe) => Some(bpe),
        Err(e) => {
            tracing::warn!(error = %e, "cannot load a tokenizer; token counts are approximate");
            None
        }
    }
}

/// A prompt's estimated token count and how it was counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TokenEstimate {
    /// The estimated prompt tokens.
    pub tokens: u64,
    /// The counter used.
    pub counter: TokenCounter,
}

/// The counted parts of one message: its text, and its overhead with `per_image`
/// tokens per image.
fn message_parts(message: &Message) -> (String, u64) {
    let (text, images) = message_text(message);
    (text, overhead_with(message, images))
}

/// The chat format's tokens around a message with `images` images.
fn overhead_with(message: &Message, images: u64) -> u64 {
    PER_MESSAGE + images * PER_IMAGE + u64::from(message.extra.contains_key("name")) * PER_NAME
}

/// The text of one message (its other fields as JSON) and its number of images.
fn message_text(message: &Message) -> (String, u64) {
    let mut text = String::new();
    let images = write_message_text(message, &mut text);
    (text, images)
}

/// The length in bytes of [`message_parts`]'s text, counted without writing it,
/// and the overhead.
fn message_parts_len(message: &Message) -> (u64, u64) {
    let mut len = ByteCount(0);
    let images = write_message_text(message, &mut len);
    (len.0, overhead_with(message, images))
}

/// A [`fmt::Write`](std::fmt::Write) that only counts the bytes written to it.
struct ByteCount(u64);

impl std::fmt::Write for ByteCount {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        self.0 += s.len() as u64;
        Ok(())
    }
}

/// Writes the text of one message (its other fields as JSON) to `out`; returns
/// its number of images.
fn write_message_text(message: &Message, out: &mut impl std::fmt::Write) -> u64 {
    // Writing to a `String` or a `ByteCount` never fails.
    let mut images = 0;
    match &message.content {
        Some(Content::Text(t)) => _ = out.write_str(t),
        Some(Content::Parts(parts)) => {
            for part in parts {
                match part.get("text").and_then(Value::as_str) {
                    Some(t) => {
                        _ = out.write_str(t);
                        _ = out.write_char('\n');
                    }
                    None if part.get("type").and_then(Value::as_str) == Some("image_url") => {
                        images += 1
                    }
                    None => _ = write!(out, "{part}"),
                }
            }
        }
        None => {}
    }
    for (key, value) in &message.extra {
        if key == "name" {
            continue;
        }
        match value {
            Value::String(s) => _ = out.write_str(s),
            other => _ = write!(out, "{other}"),
        }
    }
    images
}

/// The most tokens one image can be billed as by `upstream`'s provider, from the
/// providers' documented maxima: OpenAI's `gpt-4o-mini` bills 2,833 + 5,667 per
/// 512 px tile (8 tiles at most); other OpenAI models at most 1,536 patches times
/// 2.46 (`gpt-4.1-nano`) or 85 + 170 x 8 tiles; Claude about 1,600 (images are
/// scaled to 1.15 megapixels); Gemini 258 per 768 px tile (16 tiles taken as the
/// most); anything else (Qwen-VL, Pixtral, Llama) up to 16,384.
///
/// ```
/// assert_eq!(elelem_core::image_tokens_bound("gpt-4o-mini"), 48_169);
/// assert_eq!(elelem_core::image_tokens_bound("claude-sonnet-4-5"), 1_600);
/// ```
pub fn image_tokens_bound(upstream: &str) -> u64 {
    let lower = upstream.to_ascii_lowercase();
    let name = lower.rsplit('/').next().unwrap_or(&lower);
    if name.starts_with("gpt-4o-mini") {
        2_833 + 5_667 * 8
    } else if TokenCounter::for_upstream(upstream) == TokenCounter::O200kBase {
        3_779
    } else if name.starts_with("claude") {
        1_600
    } else if name.starts_with("gemini") || name.starts_with("gemma") {
        258 * 16
    } else {
        16_384
    }
}

/// The most prompt tokens `messages` can be billed as by `model`: each message's
/// text bounded by [`TokenCounter::upper_bound`], images by
/// [`image_tokens_bound`], plus the chat format's overheads. `tools` (the
/// request's tool definitions, any JSON) count as their JSON text plus a framing
/// per tool.
///
/// ```
/// use elelem_core::{prompt_upper_bound, catalogue::Catalogue, Message};
/// let c = Catalogue::from_sources([("t", "[provider]\nname='p'\nbase_url='u'\n[[models]]\nid='p:mystery'")]).unwrap();
/// let model = c.model("p:mystery").unwrap();
/// // An unknown tokenizer: one token per byte, plus 3 per message and 3 priming.
/// assert_eq!(prompt_upper_bound(&[Message::user("Привет")], None, model), 12 + 3 + 3);
/// ```
pub fn prompt_upper_bound(messages: &[Message], tools: Option<&Value>, model: &ModelEntry) -> u64 {
    let counter = TokenCounter::for_model(model);
    let per_image = image_tokens_bound(&model.upstream);
    let text_bound = |m: &Message| {
        let (text, images) = message_text(m);
        let name = m.extra.get("name").and_then(Value::as_str).unwrap_or("");
        counter
            .upper_bound(&text)
            .saturating_add(counter.upper_bound(name))
            .saturating_add(PER_MESSAGE)
            .saturating_add(u64::from(m.extra.contains_key("name")) * PER_NAME)
            .saturating_add(images.saturating_mul(per_image))
    };
    let tools = tools.map_or(0, |tools| {
        let count = tools.as_array().map_or(1, Vec::len) as u64;
        counter
            .upper_bound(&tools.to_string())
            .saturating_add(count.saturating_mul(PER_TOOL_BOUND))
    });
    messages
        .iter()
        .map(text_bound)
        .fold(REPLY_PRIMING, u64::saturating_add)
        .saturating_add(tools)
}

/// Estimates the prompt tokens of `messages` for `model`, by OpenAI's recipe for
/// chat models: each message costs its text's tokens plus 3 (plus 1 for a `name`),
/// the reply is primed with 3 more, and the text is counted with the model
/// family's encoding where one is known ([`TokenCounter`]), else approximated.
///
/// ```
/// use elelem_core::{estimate_tokens, catalogue::Catalogue, Message, TokenCounter};
/// let c = Catalogue::from_sources([("t", "[provider]\nname='openai'\nbase_url='u'\n[[models]]\nid='openai:gpt-4.1-mini'")]).unwrap();
/// let estimate = estimate_tokens(&[Message::user("Hello world")], c.model("openai:gpt-4.1-mini").unwrap());
/// assert_eq!(estimate.counter, TokenCounter::O200kBase);
/// assert_eq!(estimate.tokens, 2 + 3 + 3); // "Hello world" is 2 tokens
/// ```
pub fn estimate_tokens(messages: &[Message], model: &ModelEntry) -> TokenEstimate {
    let counter = TokenCounter::for_model(model);
    let tokens = messages
        .iter()
        .map(|m| {
            let (text, overhead) = message_parts(m);
            let name = m.extra.get("name").and_then(Value::as_str).unwrap_or("");
            counter.count(&text) + counter.count(name) + overhead
        })
        .sum::<u64>()
        + REPLY_PRIMING;
    TokenEstimate { tokens, counter }
}

/// Fails with [`ElelemError::ContextWindowExceeded`] when the prompt (with the JSON
/// `instruction`) plus `max_tokens` cannot fit `model`'s context window. Nothing is
/// tokenized when the prompt's byte length already proves it fits (a token is at
/// least one byte); else `prompt_tokens` gives the call's shared estimate of the
/// same prompt.
pub(crate) fn check_context_window(
    model: &ModelEntry,
    messages: &[Message],
    instruction: Option<&str>,
    max_tokens: Option<u32>,
    prompt_tokens: impl FnOnce() -> u64,
) -> Result<(), ElelemError> {
    let Some(window) = model.context_window else {
        return Ok(());
    };
    let output = max_tokens.map_or(0, u64::from);
    // Every byte a token, and the instruction as one more system message.
    let upper_bound: u64 = messages
        .iter()
        .map(|m| {
            let (len, overhead) = message_parts_len(m);
            len + overhead
                + PER_NAME
                + m.extra
                    .get("name")
                    .map_or(0, |n| n.to_string().len() as u64)
        })
        .sum::<u64>()
        + instruction.map_or(0, |i| i.len() as u64 + PER_MESSAGE + PER_NAME)
        + REPLY_PRIMING;
    if upper_bound.saturating_add(output) <= window {
        return Ok(());
    }
    let tokens = prompt_tokens();
    if tokens.saturating_add(output) <= window {
        return Ok(());
    }
    Err(ElelemError::ContextWindowExceeded {
        model: model.id.clone(),
        prompt_tokens: tokens,
        max_tokens,
        context_window: window,
        method: TokenCounter::for_model(model).name().to_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalogue::Catalogue;

    fn catalogue() -> Catalogue {
        Catalogue::from_sources([(
            "t",
            "[provider]\nname='p'\nbase_url='u'\n[[models]]\nid='p:gpt-4.1'\ncontext_window=100\n[[models]]\nid='p:mystery'\ncontext_window=100\n[[models]]\nid='p:gpt-3.5-turbo'\n[[models]]\nid='p:unbounded'",
        )])
        .unwrap()
    }

    #[test]
    fn real_tokenizers_count_known_strings() {
        // Reference counts from OpenAI's tokenizer.
        assert_eq!(TokenCounter::O200kBase.count("Hello world"), 2);
        assert_eq!(TokenCounter::Cl100kBase.count("Hello world"), 2);
        assert_eq!(TokenCounter::Cl100kBase.count("tiktoken is great!"), 6);
        assert_eq!(TokenCounter::O200kBase.count(""), 0);
        assert_eq!(TokenCounter::Approximate.count("abcde"), 2);
    }

    #[test]
    fn millions_of_spaces_are_estimated_without_the_tokenizer() {
        let c = catalogue();
        let spaces = " ".repeat(3_000_000);
        let prompt = [Message::user(spaces.clone())];
        let model = c.model("p:gpt-4.1").unwrap();
        let estimate = estimate_tokens(&prompt, model);
        assert_eq!(estimate.tokens, 750_000 + 3 + 3);
        assert!(check_context_window(model, &prompt, None, None, || estimate.tokens).is_err());
        assert_eq!(TokenCounter::Cl100kBase.upper_bound(&spaces), 3_000_000);
        let word = "a".repeat(LONG_TEXT_BYTES * 2);
        assert_eq!(
            TokenCounter::O200kBase.upper_bound(&word),
            word.len() as u64
        );
    }

    #[test]
    fn upper_bounds_are_never_below_the_estimate() {
        let c = catalogue();
        for id in ["p:gpt-4.1", "p:mystery"] {
            let model = c.model(id).unwrap();
            for text in [
                "Hello world",
                "日本語のテキスト",
                "Привет, мир",
                "a b c d e f g",
                "",
            ] {
                let m = [Message::user(text)];
                let estimate = estimate_tokens(&m, model).tokens;
                let bound = prompt_upper_bound(&m, None, model);
                assert!(bound >= estimate, "{id} {text:?}: {bound} < {estimate}");
            }
        }
        // Non-Latin text under an unknown tokenizer: one token per byte.
        let mystery = c.model("p:mystery").unwrap();
        let cjk = [Message::user("日本語")];
        assert_eq!(estimate_tokens(&cjk, mystery).tokens, 1 + 3 + 3);
        assert_eq!(prompt_upper_bound(&cjk, None, mystery), 9 + 3 + 3);
        // An exact tokenizer: the bound is the estimate.
        let gpt = c.model("p:gpt-4.1").unwrap();
        let m = [Message::user("Hello world"), Message::system("Be brief.")];
        assert_eq!(
            prompt_upper_bound(&m, None, gpt),
            estimate_tokens(&m, gpt).tokens
        );
    }

    #[test]
    fn images_and_tools_are_bounded_by_the_most_a_provider_bills() {
        let c = catalogue();
        let model = c.model("p:gpt-4.1").unwrap();
        let image = Message {
            role: crate::Role::User,
            content: Some(Content::Parts(vec![serde_json::json!(
                {"type": "image_url", "image_url": {"url": "https://x/y.png"}}
            )])),
            extra: serde_json::Map::new(),
        };
        let plain = prompt_upper_bound(&[Message::user("")], None, model);
        assert_eq!(prompt_upper_bound(&[image], None, model), plain + 3_779);
        let tools = serde_json::json!([{"type": "function", "function": {"name": "f"}}]);
        let with_tools = prompt_upper_bound(&[Message::user("")], Some(&tools), model);
        assert!(with_tools > plain + PER_TOOL_BOUND, "{with_tools}");
    }

    #[test]
    fn overheads_names_and_images_are_counted() {
        let c = catalogue();
        let model = c.model("p:mystery").unwrap();
        let mut named = Message::user("abcd");
        named.extra.insert("name".into(), "bob".into());
        let image = Message {
            role: crate::Role::User,
            content: Some(Content::Parts(vec![
                serde_json::json!({"type": "text", "text": "abc"}),
                serde_json::json!({"type": "image_url", "image_url": {"url": "data:"}}),
            ])),
            extra: serde_json::Map::new(),
        };
        // "abcd" 1 + 3; name "bob" 1 + 1; "abc\n" 1 + 3 + 85; priming 3.
        let estimate = estimate_tokens(&[named, image], model);
        assert_eq!(estimate.counter, TokenCounter::Approximate);
        assert_eq!(estimate.tokens, 1 + 3 + 1 + 1 + 1 + 3 + 85 + 3);
    }

    #[test]
    fn the_pre_flight_check_refuses_only_what_cannot_fit() {
        let c = catalogue();
        let model = c.model("p:gpt-4.1").unwrap();
        let check = |model: &ModelEntry, messages: &[Message], instruction: Option<&str>, max| {
            let all: Vec<Message> = messages
                .iter()
                .cloned()
                .chain(instruction.map(Message::system))
                .collect();
            check_context_window(model, messages, instruction, max, || {
                estimate_tokens(&all, model).tokens
            })
        };
        let short = [Message::user("Hi")];
        assert!(check(model, &short, None, Some(50)).is_ok());
        let e = check(model, &short, None, Some(99)).unwrap_err();
        match e {
            ElelemError::ContextWindowExceeded {
                prompt_tokens,
                context_window,
                ..
            } => {
                assert_eq!(context_window, 100);
                assert_eq!(prompt_tokens, 1 + 3 + 3);
            }
            other => panic!("{other:?}"),
        }
        let long = [Message::user("word ".repeat(200))];
        assert!(check(model, &long, None, None).is_err());
        assert!(check(model, &short, Some(&"x ".repeat(300)), None).is_err());
        let unbounded = c.model("p:unbounded").unwrap();
        assert!(check(unbounded, &long, None, Some(u32::MAX)).is_ok());
    }
}
