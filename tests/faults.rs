//! The fault matrix (issue 12): one table of provider faults, each run as a plain
//! call and as a stream against the OpenAI protocol, Anthropic, Gemini and Ollama
//! over real HTTP. Every row says what must happen (which retry, which typed error)
//! and every case checks that the books stay exact: one usage record per request
//! the server saw (a followed redirect is not an attempt), stats equal to the
//! records, budgets spent exactly that (a broken stream: at least that, its worst
//! case for what it never learnt) and nothing left reserved.
//!
//! Every row passes: a new fault that fails is a defect to fix, not a row to skip.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::Capture;

use std::io::Write;
use std::sync::Arc;
use std::time::Duration;

use elelem::budget::Budget;
use elelem::provider::{ProviderError, ProviderErrorKind};
use elelem::retry::DefaultRetryPolicy;
use elelem::{ChatRequest, Elelem, ElelemBuilder, ElelemError, FinishReason, Message, Usd};
use elelem_testkit::wire::{self, AnthropicMessage, Completion, GeminiResponse, OllamaChat};
use elelem_testkit::{ScriptedResponse, TestServer};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Api {
    OpenAi,
    Anthropic,
    Gemini,
    Ollama,
}

const ALL: &[Api] = &[Api::OpenAi, Api::Anthropic, Api::Gemini, Api::Ollama];
const SSE: &[Api] = &[Api::OpenAi, Api::Anthropic, Api::Gemini];
const OPENAI: &[Api] = &[Api::OpenAi];
const KEYED_HEADERS: &[Api] = &[Api::Anthropic, Api::Gemini];
const NATIVE: &[Api] = &[Api::Anthropic, Api::Gemini, Api::Ollama];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Plain,
    Stream,
}

const BOTH: &[Mode] = &[Mode::Plain, Mode::Stream];
const PLAIN: &[Mode] = &[Mode::Plain];
const STREAM: &[Mode] = &[Mode::Stream];

/// The error a failing case must end with.
#[derive(Debug, Clone, Copy)]
enum Want {
    Kind(ProviderErrorKind),
    Connection,
    TooLarge,
    /// Any typed provider error (the row's point is that the call fails, not how).
    AnyProvider,
}

/// What a case must end with.
#[derive(Debug, Clone)]
enum Expect {
    /// The answer arrives after this many requests, with this finish reason.
    Answer(usize, FinishReason),
    /// The call fails after this many requests.
    Fails(usize, Want),
    /// The stream opens after one request, then breaks with `ElelemError::Stream`
    /// and is recorded as interrupted.
    Breaks,
}

/// What a script may need to know.
struct Ctx {
    api: Api,
    mode: Mode,
    root: String,
}

struct Fault {
    name: &'static str,
    apis: &'static [Api],
    modes: &'static [Mode],
    script: fn(&Ctx) -> Vec<ScriptedResponse>,
    expect: Expect,
    /// Client settings the row needs (timeouts, limits).
    tune: fn(ElelemBuilder) -> ElelemBuilder,
}

const ANSWER: &str = "Paris is the capital.";

fn model(api: Api) -> &'static str {
    match api {
        Api::OpenAi => "openai:gpt-4.1-mini",
        Api::Anthropic => "anthropic:claude-haiku-4-5",
        Api::Gemini => "gemini:gemini-2.5-flash",
        Api::Ollama => "ollama:llama3.2",
    }
}

fn content_type(api: Api, mode: Mode) -> &'static str {
    match (api, mode) {
        (_, Mode::Plain) => "application/json",
        (Api::Ollama, Mode::Stream) => "application/x-ndjson",
        (_, Mode::Stream) => "text/event-stream",
    }
}

/// The API's words for a finish reason.
fn finish_word(api: Api, finish: &FinishReason) -> &'static str {
    match (api, finish) {
        (Api::OpenAi | Api::Ollama, FinishReason::Length) => "length",
        (Api::OpenAi, FinishReason::ContentFilter) => "content_filter",
        (Api::OpenAi | Api::Ollama, _) => "stop",
        (Api::Anthropic, FinishReason::Length) => "max_tokens",
        (Api::Anthropic, FinishReason::ContentFilter) => "refusal",
        (Api::Anthropic, _) => "end_turn",
        (Api::Gemini, FinishReason::Length) => "MAX_TOKENS",
        (Api::Gemini, FinishReason::ContentFilter) => "SAFETY",
        (Api::Gemini, _) => "STOP",
    }
}

/// A successful answer's bytes (1234 input and 567 output tokens).
fn answer_bytes(api: Api, mode: Mode, finish: &FinishReason) -> Vec<u8> {
    let word = finish_word(api, finish);
    let (plain, stream) = match api {
        Api::OpenAi => {
            let c = Completion::new("gpt-4.1-mini", ANSWER)
                .usage(1234, 567)
                .finish_reason(word);
            (c.to_json().to_string().into_bytes(), c.to_stream_bytes())
        }
        Api::Anthropic => {
            let m = AnthropicMessage::new("claude-haiku-4-5-20251001", ANSWER)
                .usage(1234, 567)
                .stop_reason(word);
            (m.to_json().to_string().into_bytes(), m.to_stream_bytes())
        }
        Api::Gemini => {
            let g = GeminiResponse::new("gemini-2.5-flash", ANSWER)
                .usage(1234, 567)
                .finish_reason(word);
            (g.to_json().to_string().into_bytes(), g.to_stream_bytes())
        }
        Api::Ollama => {
            let o = OllamaChat::new("llama3.2", ANSWER)
                .counts(1234, 567)
                .done_reason(word);
            (o.to_json().to_string().into_bytes(), o.to_stream_bytes())
        }
    };
    match mode {
        Mode::Plain => plain,
        Mode::Stream => stream.to_vec(),
    }
}

fn ok(ctx: &Ctx) -> ScriptedResponse {
    ok_with(ctx, &FinishReason::Stop)
}

fn ok_with(ctx: &Ctx, finish: &FinishReason) -> ScriptedResponse {
    ScriptedResponse::raw(
        200,
        content_type(ctx.api, ctx.mode),
        answer_bytes(ctx.api, ctx.mode, finish),
    )
}

/// A successful answer whose bytes went through `edit`.
fn edited(ctx: &Ctx, edit: impl Fn(Vec<u8>) -> Vec<u8>) -> ScriptedResponse {
    let bytes = edit(answer_bytes(ctx.api, ctx.mode, &FinishReason::Stop));
    ScriptedResponse::raw(200, content_type(ctx.api, ctx.mode), bytes)
}

fn replace(bytes: &[u8], from: &[u8], to: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i..].starts_with(from) {
            out.extend_from_slice(to);
            i += from.len();
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    out
}

/// The JSON names of the input and output token counts.
fn count_names(api: Api) -> (&'static str, &'static str) {
    match api {
        Api::OpenAi => ("prompt_tokens", "completion_tokens"),
        Api::Anthropic => ("input_tokens", "output_tokens"),
        Api::Gemini => ("promptTokenCount", "candidatesTokenCount"),
        Api::Ollama => ("prompt_eval_count", "eval_count"),
    }
}

/// The answer with its input token count written as `value` (raw JSON).
fn usage_edited(ctx: &Ctx, value: &str) -> ScriptedResponse {
    let (input, _) = count_names(ctx.api);
    let from = format!("\"{input}\":1234");
    let to = format!("\"{input}\":{value}");
    edited(ctx, |b| replace(&b, from.as_bytes(), to.as_bytes()))
}

/// The API's own error answer with this status.
fn error(ctx: &Ctx, status: u16) -> ScriptedResponse {
    match (ctx.api, status) {
        (Api::OpenAi, 401) => wire::invalid_api_key(),
        (Api::OpenAi, 404) => wire::model_not_found("gpt-4.1-mini"),
        (Api::OpenAi, s) if s >= 500 => wire::server_error(s),
        (Api::OpenAi, s) => ScriptedResponse::json(
            s,
            serde_json::json!({"error": {"message": "The request was refused.",
                "type": "invalid_request_error", "param": null, "code": null}}),
        ),
        (Api::Anthropic, 529) => wire::anthropic_overloaded(),
        (Api::Anthropic, s) => {
            let kind = match s {
                401 => "authentication_error",
                403 => "permission_error",
                404 => "not_found_error",
                413 => "request_too_large",
                429 => "rate_limit_error",
                s if s >= 500 => "api_error",
                _ => "invalid_request_error",
            };
            wire::anthropic_error(s, kind, "The request was refused.")
        }
        (Api::Gemini, s) => {
            let status = match s {
                401 => "UNAUTHENTICATED",
                403 => "PERMISSION_DENIED",
                404 => "NOT_FOUND",
                429 => "RESOURCE_EXHAUSTED",
                503 | 529 => "UNAVAILABLE",
                s if s >= 500 => "INTERNAL",
                _ => "INVALID_ARGUMENT",
            };
            wire::gemini_error(s, status, "The request was refused.")
        }
        (Api::Ollama, s) => wire::ollama_error(s, "the request was refused"),
    }
}

fn rate_limited(ctx: &Ctx) -> ScriptedResponse {
    match ctx.api {
        Api::OpenAi => wire::requests_rate_limited(500, "5ms"),
        Api::Anthropic => wire::anthropic_rate_limited(None),
        Api::Gemini => error(ctx, 429),
        Api::Ollama => error(ctx, 429),
    }
}

fn rate_limited_with(ctx: &Ctx, header: &str, value: &str) -> ScriptedResponse {
    rate_limited(ctx).header(header, value)
}

/// The path the API's chat request goes to.
fn chat_path(ctx: &Ctx) -> String {
    match (ctx.api, ctx.mode) {
        (Api::OpenAi, _) => "/v1/chat/completions".to_owned(),
        (Api::Anthropic, _) => "/v1/messages".to_owned(),
        (Api::Gemini, Mode::Plain) => "/v1beta/models/gemini-2.5-flash:generateContent".to_owned(),
        (Api::Gemini, Mode::Stream) => {
            "/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse".to_owned()
        }
        (Api::Ollama, _) => "/api/chat".to_owned(),
    }
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    encoder.write_all(bytes).unwrap();
    encoder.finish().unwrap()
}

fn same(builder: ElelemBuilder) -> ElelemBuilder {
    builder
}

// The timeouts are far from both the stalls (5 s) and the drips' gaps (at most
// 120 ms), so a loaded machine (CI runs the whole suite on 2 cores) cannot move a
// case to the other side of its timeout.
fn short_timeouts(builder: ElelemBuilder) -> ElelemBuilder {
    builder
        .timeout(Duration::from_millis(1_500))
        .stream_idle_timeout(Duration::from_millis(1_000))
}

fn idle_timeout(builder: ElelemBuilder) -> ElelemBuilder {
    builder.stream_idle_timeout(Duration::from_millis(1_000))
}

fn small_bodies(builder: ElelemBuilder) -> ElelemBuilder {
    builder.max_response_bytes(64 * 1024)
}

const HUGE: usize = 2 * 1024 * 1024;

const FAULTS: &[Fault] = &[
    // ---- rate limits, in every header form ----
    Fault {
        name: "429 with retry-after in seconds, then the answer",
        apis: ALL,
        modes: BOTH,
        script: |c| vec![rate_limited_with(c, "retry-after", "0"), ok(c)],
        expect: Expect::Answer(2, FinishReason::Stop),
        tune: same,
    },
    Fault {
        name: "429 with retry-after-ms, then the answer",
        apis: OPENAI,
        modes: BOTH,
        script: |c| vec![rate_limited_with(c, "retry-after-ms", "5"), ok(c)],
        expect: Expect::Answer(2, FinishReason::Stop),
        tune: same,
    },
    Fault {
        name: "429 with retry-after as a past HTTP date, then the answer",
        apis: ALL,
        modes: BOTH,
        script: |c| {
            vec![
                rate_limited_with(c, "retry-after", "Wed, 21 Oct 2015 07:28:00 GMT"),
                ok(c),
            ]
        },
        expect: Expect::Answer(2, FinishReason::Stop),
        tune: same,
    },
    Fault {
        name: "429 with a fractional retry-after, then the answer",
        apis: SSE,
        modes: BOTH,
        script: |c| vec![rate_limited_with(c, "retry-after", "0.005"), ok(c)],
        expect: Expect::Answer(2, FinishReason::Stop),
        tune: same,
    },
    Fault {
        name: "429 without any hint, then the answer",
        apis: ALL,
        modes: BOTH,
        script: |c| vec![rate_limited(c), ok(c)],
        expect: Expect::Answer(2, FinishReason::Stop),
        tune: same,
    },
    Fault {
        name: "429 with only x-ratelimit-reset-requests, then the answer",
        apis: OPENAI,
        modes: BOTH,
        script: |c| {
            vec![
                rate_limited_with(c, "x-ratelimit-reset-requests", "5ms"),
                ok(c),
            ]
        },
        expect: Expect::Answer(2, FinishReason::Stop),
        tune: same,
    },
    Fault {
        name: "429 asking to wait beyond max_server_delay: not retried",
        apis: ALL,
        modes: BOTH,
        script: |c| vec![rate_limited_with(c, "retry-after", "100000"), ok(c)],
        expect: Expect::Fails(1, Want::Kind(ProviderErrorKind::RateLimited)),
        tune: same,
    },
    Fault {
        name: "429 with an overflowing retry-after: not retried, no panic",
        apis: ALL,
        modes: BOTH,
        script: |c| {
            vec![
                rate_limited_with(c, "retry-after", "18446744073709551615"),
                ok(c),
            ]
        },
        expect: Expect::Fails(1, Want::Kind(ProviderErrorKind::RateLimited)),
        tune: same,
    },
    Fault {
        name: "429 insufficient_quota: never retried",
        apis: OPENAI,
        modes: BOTH,
        script: |c| vec![wire::insufficient_quota(), ok(c)],
        expect: Expect::Fails(1, Want::Kind(ProviderErrorKind::QuotaExhausted)),
        tune: same,
    },
    Fault {
        name: "429 five times: rate-limit retries (4) run out",
        apis: ALL,
        modes: BOTH,
        script: |c| (0..5).map(|_| rate_limited(c)).collect(),
        expect: Expect::Fails(5, Want::Kind(ProviderErrorKind::RateLimited)),
        tune: same,
    },
    // ---- server errors ----
    Fault {
        name: "500, then the answer",
        apis: ALL,
        modes: BOTH,
        script: |c| vec![error(c, 500), ok(c)],
        expect: Expect::Answer(2, FinishReason::Stop),
        tune: same,
    },
    Fault {
        name: "502 HTML gateway page, then the answer",
        apis: ALL,
        modes: BOTH,
        script: |c| vec![wire::html_502(), ok(c)],
        expect: Expect::Answer(2, FinishReason::Stop),
        tune: same,
    },
    Fault {
        name: "503, then the answer",
        apis: ALL,
        modes: BOTH,
        script: |c| vec![error(c, 503), ok(c)],
        expect: Expect::Answer(2, FinishReason::Stop),
        tune: same,
    },
    Fault {
        name: "504, then the answer",
        apis: ALL,
        modes: BOTH,
        script: |c| vec![error(c, 504), ok(c)],
        expect: Expect::Answer(2, FinishReason::Stop),
        tune: same,
    },
    Fault {
        name: "529 overloaded, then the answer",
        apis: ALL,
        modes: BOTH,
        script: |c| vec![error(c, 529), ok(c)],
        expect: Expect::Answer(2, FinishReason::Stop),
        tune: same,
    },
    Fault {
        name: "408 request timeout, then the answer",
        apis: ALL,
        modes: BOTH,
        script: |c| vec![error(c, 408), ok(c)],
        expect: Expect::Answer(2, FinishReason::Stop),
        tune: same,
    },
    Fault {
        name: "500 four times: transient retries (3) run out",
        apis: ALL,
        modes: BOTH,
        script: |c| (0..4).map(|_| error(c, 500)).collect(),
        expect: Expect::Fails(4, Want::Kind(ProviderErrorKind::Server)),
        tune: same,
    },
    // ---- connections ----
    Fault {
        name: "connection refused",
        apis: ALL,
        modes: BOTH,
        script: |_| Vec::new(),
        expect: Expect::Fails(0, Want::Connection),
        tune: same,
    },
    Fault {
        name: "connection reset before any answer, then the answer",
        apis: ALL,
        modes: BOTH,
        script: |c| vec![ScriptedResponse::drop_connection(), ok(c)],
        expect: Expect::Answer(2, FinishReason::Stop),
        tune: same,
    },
    Fault {
        name: "body cut mid-way, then the answer",
        apis: ALL,
        modes: PLAIN,
        script: |c| {
            let body = answer_bytes(c.api, c.mode, &FinishReason::Stop);
            let half = body.len() / 2;
            vec![ScriptedResponse::truncated_body(200, body, half), ok(c)]
        },
        expect: Expect::Answer(2, FinishReason::Stop),
        tune: same,
    },
    Fault {
        name: "stream cut mid-way by a reset",
        apis: ALL,
        modes: STREAM,
        script: |c| {
            let body = answer_bytes(c.api, c.mode, &FinishReason::Stop);
            let cut = body.len() * 2 / 3;
            vec![ScriptedResponse::truncated_body(200, body, cut)]
        },
        expect: Expect::Breaks,
        tune: same,
    },
    Fault {
        name: "stream ending cleanly without its end marker",
        apis: ALL,
        modes: STREAM,
        script: |c| {
            let body = answer_bytes(c.api, c.mode, &FinishReason::Stop);
            let cut = body.len() * 2 / 3;
            let cut = body[..cut].iter().rposition(|&b| b == b'\n').unwrap_or(cut) + 1;
            vec![ScriptedResponse::raw(
                200,
                content_type(c.api, c.mode),
                body[..cut].to_vec(),
            )]
        },
        expect: Expect::Breaks,
        tune: same,
    },
    Fault {
        name: "stream stalling mid-way: the idle timeout ends it",
        apis: ALL,
        modes: STREAM,
        script: |c| {
            let body = answer_bytes(c.api, c.mode, &FinishReason::Stop);
            let cut = body.len() / 2;
            let cut = body[..cut].iter().rposition(|&b| b == b'\n').unwrap_or(cut) + 1;
            vec![ScriptedResponse::stalled_body(
                200,
                content_type(c.api, c.mode),
                body[..cut].to_vec(),
                Duration::from_secs(5),
            )]
        },
        expect: Expect::Breaks,
        tune: idle_timeout,
    },
    Fault {
        name: "body stalling mid-way: timed out, then the answer",
        apis: ALL,
        modes: PLAIN,
        script: |c| {
            let body = answer_bytes(c.api, c.mode, &FinishReason::Stop);
            let half = body.len() / 2;
            vec![
                ScriptedResponse::stalled_body(
                    200,
                    "application/json",
                    body[..half].to_vec(),
                    Duration::from_secs(5),
                ),
                ok(c),
            ]
        },
        expect: Expect::Answer(2, FinishReason::Stop),
        tune: short_timeouts,
    },
    Fault {
        name: "no response headers at all: timed out, then the answer",
        apis: ALL,
        modes: PLAIN,
        script: |c| vec![ok(c).delay(Duration::from_secs(5)), ok(c)],
        expect: Expect::Answer(2, FinishReason::Stop),
        tune: short_timeouts,
    },
    Fault {
        name: "no response headers at all: the stream opening times out, then the answer",
        apis: ALL,
        modes: STREAM,
        script: |c| vec![ok(c).delay(Duration::from_secs(5)), ok(c)],
        expect: Expect::Answer(2, FinishReason::Stop),
        tune: short_timeouts,
    },
    Fault {
        name: "keep-alive comments while the model thinks, then the answer",
        apis: SSE,
        modes: STREAM,
        script: |c| {
            let mut parts: Vec<Vec<u8>> = (0..4).map(|_| b": keep-alive\n\n".to_vec()).collect();
            parts.push(answer_bytes(c.api, c.mode, &FinishReason::Stop));
            vec![ScriptedResponse::drip(
                200,
                "text/event-stream",
                parts,
                Duration::from_millis(120),
            )]
        },
        expect: Expect::Answer(1, FinishReason::Stop),
        tune: idle_timeout,
    },
    Fault {
        name: "keep-alive-only stream that ends: failed before any chunk, retried",
        apis: SSE,
        modes: STREAM,
        script: |c| {
            vec![
                ScriptedResponse::drip(
                    200,
                    "text/event-stream",
                    (0..3).map(|_| b": keep-alive\n\n".to_vec()),
                    Duration::from_millis(20),
                ),
                ok(c),
            ]
        },
        expect: Expect::Answer(2, FinishReason::Stop),
        tune: same,
    },
    Fault {
        name: "slow drip of the answer (below the idle timeout)",
        apis: ALL,
        modes: BOTH,
        script: |c| {
            let body = answer_bytes(c.api, c.mode, &FinishReason::Stop);
            let parts: Vec<Vec<u8>> = body
                .chunks(body.len() / 4 + 1)
                .map(<[u8]>::to_vec)
                .collect();
            vec![ScriptedResponse::drip(
                200,
                content_type(c.api, c.mode),
                parts,
                Duration::from_millis(60),
            )]
        },
        expect: Expect::Answer(1, FinishReason::Stop),
        tune: idle_timeout,
    },
    // ---- sizes and bytes ----
    Fault {
        name: "huge body beyond max_response_bytes",
        apis: ALL,
        modes: PLAIN,
        script: |c| {
            let padding = "x".repeat(HUGE);
            let to = format!("{ANSWER}{padding}");
            vec![edited(c, |b| replace(&b, ANSWER.as_bytes(), to.as_bytes()))]
        },
        expect: Expect::Fails(1, Want::TooLarge),
        tune: small_bodies,
    },
    Fault {
        name: "huge stream line beyond max_response_bytes, after the first event",
        apis: &[Api::OpenAi, Api::Anthropic],
        modes: STREAM,
        script: |c| {
            // Streams send the answer in pieces: pad its first word.
            let padding = "x".repeat(HUGE);
            let to = format!("Paris{padding}");
            vec![edited(c, |b| {
                let huge = replace(&b, b"Paris", to.as_bytes());
                assert!(huge.len() > HUGE, "the padding was not applied");
                huge
            })]
        },
        expect: Expect::Breaks,
        tune: small_bodies,
    },
    Fault {
        name: "huge first stream line beyond max_response_bytes",
        apis: &[Api::Gemini, Api::Ollama],
        modes: STREAM,
        script: |c| {
            // Streams send the answer in pieces: pad its first word.
            let padding = "x".repeat(HUGE);
            let to = format!("Paris{padding}");
            vec![edited(c, |b| {
                let huge = replace(&b, b"Paris", to.as_bytes());
                assert!(huge.len() > HUGE, "the padding was not applied");
                huge
            })]
        },
        // The first event is read while opening: the opening fails, not retried.
        expect: Expect::Fails(1, Want::TooLarge),
        tune: small_bodies,
    },
    Fault {
        name: "invalid UTF-8 inside the answer: an undecodable body, retried",
        apis: ALL,
        modes: PLAIN,
        script: |c| {
            vec![
                edited(c, |b| replace(&b, b"capital", b"capi\xFFtal")),
                ok(c),
            ]
        },
        expect: Expect::Answer(2, FinishReason::Stop),
        tune: same,
    },
    Fault {
        name: "invalid UTF-8 inside a stream event",
        apis: ALL,
        modes: STREAM,
        script: |c| vec![edited(c, |b| replace(&b, b"capital", b"capi\xFFtal"))],
        expect: Expect::Breaks,
        tune: same,
    },
    Fault {
        name: "a token count of the wrong type",
        apis: NATIVE,
        modes: BOTH,
        script: |c| vec![usage_edited(c, "\"1234\"")],
        expect: Expect::Answer(1, FinishReason::Stop),
        tune: same,
    },
    Fault {
        name: "a token count of the wrong type, OpenAI protocol",
        apis: OPENAI,
        modes: BOTH,
        script: |c| vec![usage_edited(c, "\"1234\"")],
        expect: Expect::Answer(1, FinishReason::Stop),
        tune: same,
    },
    Fault {
        name: "a negative token count",
        apis: NATIVE,
        modes: BOTH,
        script: |c| vec![usage_edited(c, "-1234")],
        expect: Expect::Answer(1, FinishReason::Stop),
        tune: same,
    },
    Fault {
        name: "a negative token count, OpenAI protocol",
        apis: OPENAI,
        modes: BOTH,
        script: |c| vec![usage_edited(c, "-1234")],
        expect: Expect::Answer(1, FinishReason::Stop),
        tune: same,
    },
    Fault {
        name: "a huge token count (u64::MAX)",
        apis: OPENAI,
        modes: BOTH,
        script: |c| vec![usage_edited(c, "18446744073709551615")],
        expect: Expect::Answer(1, FinishReason::Stop),
        tune: same,
    },
    Fault {
        name: "a huge token count (u64::MAX), native converters",
        apis: NATIVE,
        modes: BOTH,
        script: |c| vec![usage_edited(c, "18446744073709551615")],
        expect: Expect::Answer(1, FinishReason::Stop),
        tune: same,
    },
    Fault {
        name: "missing choices / content / candidates",
        apis: ALL,
        modes: PLAIN,
        script: |c| {
            let key: &[u8] = match c.api {
                Api::OpenAi => b"\"choices\"",
                Api::Anthropic => b"\"content\"",
                Api::Gemini => b"\"candidates\"",
                Api::Ollama => b"\"message\"",
            };
            vec![
                edited(c, |b| replace(&b, key, b"\"renamed_by_testkit\"")),
                ok(c),
            ]
        },
        // Every API always sends a choice (a refused prompt included): none is a
        // broken body, retried like one.
        expect: Expect::Answer(2, FinishReason::Stop),
        tune: same,
    },
    Fault {
        name: "empty choices",
        apis: OPENAI,
        modes: PLAIN,
        script: |c| {
            let mut body = Completion::new("gpt-4.1-mini", ANSWER).to_json();
            body["choices"] = serde_json::json!([]);
            vec![ScriptedResponse::json(200, body), ok(c)]
        },
        expect: Expect::Answer(2, FinishReason::Stop),
        tune: same,
    },
    Fault {
        name: "gzip body never asked for: an undecodable body, retried",
        apis: ALL,
        modes: PLAIN,
        script: |c| {
            let body = gzip(&answer_bytes(c.api, c.mode, &FinishReason::Stop));
            vec![
                ScriptedResponse::raw(200, "application/json", body)
                    .header("content-encoding", "gzip"),
                ok(c),
            ]
        },
        expect: Expect::Answer(2, FinishReason::Stop),
        tune: same,
    },
    Fault {
        name: "same-origin redirect, then the answer",
        apis: ALL,
        modes: BOTH,
        script: |c| {
            let to = format!("{}{}", c.root, chat_path(c));
            vec![
                ScriptedResponse::raw(307, "text/plain", "").header("location", to),
                ok(c),
            ]
        },
        expect: Expect::Answer(2, FinishReason::Stop),
        tune: same,
    },
    Fault {
        name: "cross-origin redirect of a request holding a key header: refused",
        apis: KEYED_HEADERS,
        modes: BOTH,
        script: |c| {
            let to = c.root.replace("127.0.0.1", "localhost") + &chat_path(c);
            vec![
                ScriptedResponse::raw(307, "text/plain", "").header("location", to),
                ok(c),
            ]
        },
        expect: Expect::Fails(1, Want::AnyProvider),
        tune: same,
    },
    // ---- refusals ----
    Fault {
        name: "401 bad key: not retried",
        apis: ALL,
        modes: BOTH,
        script: |c| vec![error(c, 401), ok(c)],
        expect: Expect::Fails(1, Want::Kind(ProviderErrorKind::Authentication)),
        tune: same,
    },
    Fault {
        name: "403 forbidden: not retried",
        apis: ALL,
        modes: BOTH,
        script: |c| vec![error(c, 403), ok(c)],
        expect: Expect::Fails(1, Want::Kind(ProviderErrorKind::Authentication)),
        tune: same,
    },
    Fault {
        name: "404 unknown model: not retried",
        apis: ALL,
        modes: BOTH,
        script: |c| vec![error(c, 404), ok(c)],
        expect: Expect::Fails(1, Want::Kind(ProviderErrorKind::NotFound)),
        tune: same,
    },
    Fault {
        name: "413 request too large: not retried",
        apis: ALL,
        modes: BOTH,
        script: |c| vec![error(c, 413), ok(c)],
        expect: Expect::Fails(1, Want::Kind(ProviderErrorKind::BadRequest)),
        tune: same,
    },
    Fault {
        name: "400 bad request: not retried",
        apis: ALL,
        modes: BOTH,
        script: |c| vec![error(c, 400), ok(c)],
        expect: Expect::Fails(1, Want::Kind(ProviderErrorKind::BadRequest)),
        tune: same,
    },
    Fault {
        name: "a 200 body holding an error",
        apis: ALL,
        modes: PLAIN,
        script: |c| {
            let refusal = error(c, 500);
            let body = refusal.body().cloned().unwrap_or_default();
            vec![ScriptedResponse::raw(200, "application/json", body), ok(c)]
        },
        // The error it holds stands for its status: its `code` when an HTTP
        // status, else 502 (how OpenRouter reports an upstream failure after
        // the 200 was sent), so a server error is retried.
        expect: Expect::Answer(2, FinishReason::Stop),
        tune: same,
    },
    // ---- answers that end early ----
    Fault {
        name: "content-filter refusal",
        apis: SSE,
        modes: BOTH,
        script: |c| vec![ok_with(c, &FinishReason::ContentFilter)],
        expect: Expect::Answer(1, FinishReason::ContentFilter),
        tune: same,
    },
    Fault {
        name: "finish_reason length",
        apis: ALL,
        modes: BOTH,
        script: |c| vec![ok_with(c, &FinishReason::Length)],
        expect: Expect::Answer(1, FinishReason::Length),
        tune: same,
    },
    // ---- stream framing ----
    Fault {
        name: "\"error\": null in every stream chunk",
        apis: OPENAI,
        modes: STREAM,
        script: |c| {
            vec![edited(c, |b| {
                replace(
                    &b,
                    b"\"object\":\"chat.completion.chunk\"",
                    b"\"object\":\"chat.completion.chunk\",\"error\":null",
                )
            })]
        },
        expect: Expect::Answer(1, FinishReason::Stop),
        tune: same,
    },
    Fault {
        name: "a UTF-8 byte-order mark before the first event",
        apis: SSE,
        modes: STREAM,
        script: |c| {
            vec![edited(c, |b| {
                let mut with_bom = "\u{feff}".as_bytes().to_vec();
                with_bom.extend_from_slice(&b);
                with_bom
            })]
        },
        expect: Expect::Answer(1, FinishReason::Stop),
        tune: same,
    },
];

fn client(
    api: Api,
    base: &str,
    capture: Arc<Capture>,
    tune: fn(ElelemBuilder) -> ElelemBuilder,
) -> Elelem {
    let policy = DefaultRetryPolicy::default()
        .rate_limit_backoff(vec![Duration::from_millis(2)])
        .transient_backoff(vec![Duration::from_millis(2)]);
    let builder = Elelem::builder()
        .without_env_keys()
        .retry_policy(Arc::new(policy))
        .cost_sink(capture)
        .budget(Budget::total("100".parse().unwrap()).allow_unpriced());
    let builder = match api {
        Api::OpenAi => builder
            .api_key("openai", "sk-test-SECRET-faults")
            .base_url("openai", format!("{base}/v1")),
        Api::Anthropic => builder
            .api_key("anthropic", "sk-ant-test-SECRET-faults")
            .base_url("anthropic", format!("{base}/v1")),
        Api::Gemini => builder
            .api_key("gemini", "AIza-test-SECRET-faults")
            .base_url("gemini", format!("{base}/v1beta")),
        Api::Ollama => builder.base_url("ollama", base.to_owned()),
    };
    tune(builder).build().unwrap()
}

fn provider_error(error: &ElelemError) -> Option<&ProviderError> {
    match error {
        ElelemError::Provider { error, .. } | ElelemError::Stream { error, .. } => Some(error),
        _ => None,
    }
}

fn matches_want(error: &ElelemError, want: Want) -> bool {
    let Some(provider) = provider_error(error) else {
        return false;
    };
    match (want, provider) {
        (Want::Kind(kind), ProviderError::Http(http)) => http.kind == kind,
        (Want::Connection, ProviderError::Connection { .. }) => true,
        (Want::TooLarge, ProviderError::BodyTooLarge { .. }) => true,
        (Want::AnyProvider, _) => true,
        _ => false,
    }
}

fn finish_of(answer: &elelem::ChatCompletion) -> FinishReason {
    answer
        .choices
        .first()
        .and_then(|c| c.finish_reason.clone())
        .unwrap_or(FinishReason::Other("no choice".into()))
}

/// What happened to one case.
enum Outcome {
    Answer(FinishReason),
    Failed(ElelemError),
    Broke(ElelemError),
}

async fn call(elelem: &Elelem, api: Api, mode: Mode) -> Outcome {
    let request = ChatRequest::new(model(api), vec![Message::user("Capital of France?")]);
    match mode {
        Mode::Plain => match elelem.create_chat_completion(request).await {
            Ok(answer) => Outcome::Answer(finish_of(&answer)),
            Err(error) => Outcome::Failed(error),
        },
        Mode::Stream => match elelem.stream_chat_completion(request).await {
            Err(error) => Outcome::Failed(error),
            Ok(stream) => match stream.collect_completion().await {
                Ok(answer) => Outcome::Answer(finish_of(&answer)),
                Err(error) => Outcome::Broke(error),
            },
        },
    }
}

/// Runs one case; `Err` says what went wrong.
async fn run(fault: &'static Fault, api: Api, mode: Mode) -> Result<(), String> {
    let server = TestServer::start().await.unwrap();
    let ctx = Ctx {
        api,
        mode,
        root: server.root_url(),
    };
    let script = (fault.script)(&ctx);
    // A followed redirect is one more request but not one more attempt.
    let redirects = script.iter().filter(|r| r.status() == Some(307)).count();
    server.push_many(script);
    let refused = fault.name == "connection refused";
    let base = if refused {
        // A port nothing listens on: bind one, then let it go.
        let socket = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = socket.local_addr().unwrap().port();
        drop(socket);
        format!("http://127.0.0.1:{port}")
    } else {
        server.root_url()
    };
    let capture = Arc::new(Capture::default());
    let elelem = client(api, &base, capture.clone(), fault.tune);

    let outcome = tokio::time::timeout(Duration::from_secs(10), call(&elelem, api, mode))
        .await
        .map_err(|_| "hung for 10 s".to_owned())?;
    let requests = server.request_count();
    let stats = elelem.get_stats();
    match (&fault.expect, &outcome) {
        (Expect::Answer(n, finish), Outcome::Answer(got)) => {
            if got != finish {
                return Err(format!("finish reason {got:?}, expected {finish:?}"));
            }
            if requests != *n {
                return Err(format!("{requests} requests, expected {n}"));
            }
        }
        (Expect::Fails(n, want), Outcome::Failed(error)) => {
            if !matches_want(error, *want) {
                return Err(format!("failed with {error:?}, expected {want:?}"));
            }
            if !refused && requests != *n {
                return Err(format!("{requests} requests, expected {n}"));
            }
        }
        (Expect::Breaks, Outcome::Broke(error)) => {
            if !matches!(error, ElelemError::Stream { .. }) {
                return Err(format!(
                    "broke with {error:?}, expected ElelemError::Stream"
                ));
            }
            if requests != 1 {
                return Err(format!("{requests} requests, expected 1"));
            }
            if stats.interrupted_streams != 1 {
                return Err(format!(
                    "{} interrupted streams, expected 1",
                    stats.interrupted_streams
                ));
            }
        }
        (_, Outcome::Answer(finish)) => {
            return Err(format!(
                "answered ({finish:?}), expected {:?}",
                fault.expect
            ))
        }
        (_, Outcome::Failed(error)) => {
            return Err(format!("failed with {error}, expected {:?}", fault.expect))
        }
        (_, Outcome::Broke(error)) => {
            return Err(format!("broke with {error}, expected {:?}", fault.expect))
        }
    }

    // The books: one record per request, stats and budget equal to the records.
    let records = capture.records();
    // A followed redirect is a request but not an attempt; a refused one is neither.
    let attempts_seen = records.len();
    if !refused && (attempts_seen > requests || attempts_seen + redirects < requests) {
        return Err(format!(
            "{attempts_seen} usage records for {requests} requests"
        ));
    }
    let recorded = records
        .iter()
        .fold(Usd::ZERO, |sum, r| sum + r.total_cost());
    if stats.total_cost_usd != recorded {
        return Err(format!(
            "stats say {}, records {recorded}",
            stats.total_cost_usd
        ));
    }
    let budget = &elelem.budget_status()[0];
    if budget.reserved != Usd::ZERO {
        return Err(format!("{} still reserved", budget.reserved));
    }
    // An attempt whose cost is unknown (a broken stream, a plain call that timed out
    // or was undecodable after it was sent) charges the budget its worst case for what
    // was never learnt (issue 12 #1); every other case is charged exactly what was
    // recorded.
    let unknown = matches!(outcome, Outcome::Broke(_)) || records.iter().any(|r| r.cost_unknown);
    if (unknown && budget.spent < recorded) || (!unknown && budget.spent != recorded) {
        return Err(format!("budget spent {}, records {recorded}", budget.spent));
    }
    Ok(())
}

/// Runs every case of the rows `select` keeps for `api`; returns the failures.
async fn run_rows(api: Api, select: impl Fn(&Fault) -> bool) -> Vec<String> {
    let faults: &'static [Fault] = FAULTS;
    let mut failures = Vec::new();
    for fault in faults.iter().filter(|f| f.apis.contains(&api) && select(f)) {
        for &mode in fault.modes {
            // A panic inside Elelem is a failure of this case, not of the whole suite.
            let result = tokio::spawn(run(fault, api, mode))
                .await
                .unwrap_or_else(|panic| Err(format!("panicked: {panic}")));
            if let Err(problem) = result {
                failures.push(format!("{api:?} {mode:?} \"{}\": {problem}", fault.name));
            }
        }
    }
    failures
}

async fn assert_api(api: Api) {
    let failures = run_rows(api, |_| true).await;
    assert!(
        failures.is_empty(),
        "{} case(s) failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[tokio::test]
async fn faults_openai_protocol() {
    assert_api(Api::OpenAi).await;
}

#[tokio::test]
async fn faults_anthropic() {
    assert_api(Api::Anthropic).await;
}

#[tokio::test]
async fn faults_gemini() {
    assert_api(Api::Gemini).await;
}

#[tokio::test]
async fn faults_ollama() {
    assert_api(Api::Ollama).await;
}

#[test]
fn the_matrix_has_at_least_35_faults() {
    assert!(FAULTS.len() >= 35, "{} faults", FAULTS.len());
    let cases: usize = FAULTS.iter().map(|f| f.apis.len() * f.modes.len()).sum();
    assert!(cases >= 200, "{cases} cases");
}
