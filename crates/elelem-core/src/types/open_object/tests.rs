//! Tests of `open_object!`: what the generated visitors do, and that they decode
//! exactly as the `#[derive(Deserialize)]` with `#[serde(flatten)]` they replace.

use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::{json, Value};

use crate::types::{
    ChatCompletion, ChatCompletionChunk, FinishReason, Message, Role, TextCompletion, ToolCall,
    Usage,
};

/// The types as they were, deserialized by the derive with `flatten` (their
/// `elelem` fields are never read: they are `skip`).
#[allow(dead_code)]
mod reference {
    use serde::{Deserialize, Serialize};
    use serde_json::{Map, Value};

    use crate::types::{Content, ElelemMeta, FinishReason, FunctionCall, Role};

    fn chat_completion_object() -> String {
        "chat.completion".to_owned()
    }
    fn assistant_role() -> Role {
        Role::Assistant
    }
    fn chunk_object() -> String {
        "chat.completion.chunk".to_owned()
    }
    fn text_completion_object() -> String {
        "text_completion".to_owned()
    }
    fn function_type() -> String {
        "function".to_owned()
    }

    #[derive(Debug, Serialize, Deserialize)]
    pub struct ChatCompletion {
        #[serde(default)]
        pub id: String,
        #[serde(default = "chat_completion_object")]
        pub object: String,
        #[serde(default)]
        pub created: u64,
        #[serde(default)]
        pub model: String,
        #[serde(default)]
        pub choices: Vec<Choice>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub usage: Option<Usage>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub system_fingerprint: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub service_tier: Option<String>,
        #[serde(flatten)]
        pub extra: Map<String, Value>,
        #[serde(skip)]
        pub elelem: ElelemMeta,
    }
    #[derive(Debug, Serialize, Deserialize)]
    pub struct Choice {
        #[serde(default)]
        pub index: u32,
        pub message: ResponseMessage,
        #[serde(default)]
        pub finish_reason: Option<FinishReason>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub logprobs: Option<Value>,
        #[serde(flatten)]
        pub extra: Map<String, Value>,
    }
    #[derive(Debug, Serialize, Deserialize)]
    pub struct ResponseMessage {
        #[serde(default = "assistant_role")]
        pub role: Role,
        #[serde(default)]
        pub content: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub refusal: Option<String>,
        #[serde(flatten)]
        pub extra: Map<String, Value>,
    }
    #[derive(Debug, Serialize, Deserialize)]
    pub struct Usage {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub prompt_tokens: Option<u64>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub completion_tokens: Option<u64>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub total_tokens: Option<u64>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub prompt_tokens_details: Option<PromptTokensDetails>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub completion_tokens_details: Option<CompletionTokensDetails>,
        #[serde(flatten)]
        pub extra: Map<String, Value>,
    }
    #[derive(Debug, Serialize, Deserialize)]
    pub struct PromptTokensDetails {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub cached_tokens: Option<u64>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub cache_write_tokens: Option<u64>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub audio_tokens: Option<u64>,
        #[serde(flatten)]
        pub extra: Map<String, Value>,
    }
    #[derive(Debug, Serialize, Deserialize)]
    pub struct CompletionTokensDetails {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub reasoning_tokens: Option<u64>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub audio_tokens: Option<u64>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub accepted_prediction_tokens: Option<u64>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub rejected_prediction_tokens: Option<u64>,
        #[serde(flatten)]
        pub extra: Map<String, Value>,
    }
    #[derive(Debug, Serialize, Deserialize)]
    pub struct ChatCompletionChunk {
        #[serde(default)]
        pub id: String,
        #[serde(default = "chunk_object")]
        pub object: String,
        #[serde(default)]
        pub created: u64,
        #[serde(default)]
        pub model: String,
        #[serde(default)]
        pub choices: Vec<ChunkChoice>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub usage: Option<Usage>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub system_fingerprint: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub service_tier: Option<String>,
        #[serde(flatten)]
        pub extra: Map<String, Value>,
    }
    #[derive(Debug, Serialize, Deserialize)]
    pub struct ChunkChoice {
        #[serde(default)]
        pub index: u32,
        #[serde(default)]
        pub delta: Delta,
        #[serde(default)]
        pub finish_reason: Option<FinishReason>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub logprobs: Option<Value>,
        #[serde(flatten)]
        pub extra: Map<String, Value>,
    }
    #[derive(Debug, Default, Serialize, Deserialize)]
    pub struct Delta {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub role: Option<Role>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub content: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub reasoning_content: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub tool_calls: Option<Vec<Value>>,
        #[serde(flatten)]
        pub extra: Map<String, Value>,
    }
    #[derive(Debug, Serialize, Deserialize)]
    pub struct TextCompletion {
        #[serde(default)]
        pub id: String,
        #[serde(default = "text_completion_object")]
        pub object: String,
        #[serde(default)]
        pub created: u64,
        #[serde(default)]
        pub model: String,
        #[serde(default)]
        pub choices: Vec<TextChoice>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub usage: Option<Usage>,
        #[serde(flatten)]
        pub extra: Map<String, Value>,
        #[serde(skip)]
        pub elelem: ElelemMeta,
    }
    #[derive(Debug, Serialize, Deserialize)]
    pub struct TextChoice {
        #[serde(default)]
        pub text: String,
        #[serde(default)]
        pub index: u32,
        #[serde(default)]
        pub logprobs: Option<Value>,
        #[serde(default)]
        pub finish_reason: Option<FinishReason>,
        #[serde(flatten)]
        pub extra: Map<String, Value>,
    }
    #[derive(Debug, Serialize, Deserialize)]
    pub struct Message {
        pub role: Role,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub content: Option<Content>,
        #[serde(flatten)]
        pub extra: Map<String, Value>,
    }
    #[derive(Debug, Serialize, Deserialize)]
    pub struct ToolCall {
        #[serde(default)]
        pub id: String,
        #[serde(rename = "type", default = "function_type")]
        pub kind: String,
        pub function: FunctionCall,
        #[serde(flatten)]
        pub extra: Map<String, Value>,
    }
}

/// Decodes `body` (from text and from a `Value`) into the new and the old type and
/// asserts the same outcome: the same JSON when both succeed (compared as text, so
/// key order counts), the same error (message, position and category) when both
/// fail.
fn same<New, Old>(body: &str)
where
    New: DeserializeOwned + Serialize,
    Old: DeserializeOwned + Serialize,
{
    let new = serde_json::from_str::<New>(body);
    let old = serde_json::from_str::<Old>(body);
    assert_eq!(
        new.as_ref().err().map(ToString::to_string),
        old.as_ref().err().map(ToString::to_string),
        "{body}"
    );
    match (&new, &old) {
        (Ok(new), Ok(old)) => assert_eq!(
            serde_json::to_string(new).unwrap(),
            serde_json::to_string(old).unwrap(),
            "{body}"
        ),
        (Err(new), Err(old)) => assert_eq!(new.classify(), old.classify(), "{body}"),
        _ => {}
    }
    if let Ok(value) = serde_json::from_str::<Value>(body) {
        let new = serde_json::from_value::<New>(value.clone());
        let old = serde_json::from_value::<Old>(value);
        assert_eq!(
            new.as_ref().err().map(ToString::to_string),
            old.as_ref().err().map(ToString::to_string),
            "{body} (from a Value)"
        );
        if let (Ok(new), Ok(old)) = (&new, &old) {
            assert_eq!(
                serde_json::to_string(new).unwrap(),
                serde_json::to_string(old).unwrap(),
                "{body} (from a Value)"
            );
        }
    }
}

/// Bodies that any object type must decode as before (most are not valid for it).
const ANY: &[&str] = &[
    "{}",
    "[]",
    "null",
    "\"text\"",
    "3",
    r#"{"a":1,"b":[1,2],"a":{"x":null}}"#,
    r#"{"elelem":{"answered_by":"x"},"extra":1}"#,
    r#"{"z":1,"y":2,"x":3,"w":{"d":1,"c":2}}"#,
    r#"{"id":"a""#,
    r#"{"id":"a",}"#,
    r#"{"big":18446744073709551616,"neg":-1,"f":1.5e300,"e":"\u00e9\n"}"#,
];

/// Chat completion bodies, valid and not.
const CHAT_BODIES: &[&str] = &[
    r#"{"id":"chatcmpl-abc","object":"chat.completion","created":1741569952,"model":"gpt-4.1",
           "choices":[{"index":0,"message":{"role":"assistant","content":"Hello!","refusal":null,"annotations":[]},
           "logprobs":null,"finish_reason":"stop"}],
           "usage":{"prompt_tokens":19,"completion_tokens":10,"total_tokens":29,
             "prompt_tokens_details":{"cached_tokens":0,"audio_tokens":0},
             "completion_tokens_details":{"reasoning_tokens":0,"audio_tokens":0,
               "accepted_prediction_tokens":0,"rejected_prediction_tokens":0}},
           "service_tier":"default","system_fingerprint":null}"#,
    r#"{"id":"x","model":"llama","choices":[{"message":{"content":"{}"},"finish_reason":""}],
           "service_tier":"on_demand_v2","x_groq":{"id":"req_01"},
           "usage":{"prompt_tokens":5,"completion_tokens":2,"total_tokens":7,"queue_time":0.02}}"#,
    r#"{"choices":[{"message":{"content":"a"}}]}"#,
    r#"{"choices":[{}]}"#,
    r#"{"choices":[{"message":null}]}"#,
    r#"{"choices":[{"message":{"role":"user","content":null,"refusal":"no","tool_calls":[]},"finish_reason":null}]}"#,
    r#"{"choices":[{"message":{"role":"robot"}}]}"#,
    r#"{"choices":[{"message":{"role":null}}]}"#,
    r#"{"choices":[{"index":-1,"message":{}}]}"#,
    r#"{"choices":[{"index":4294967296,"message":{}}]}"#,
    r#"{"choices":[{"message":{},"finish_reason":7}]}"#,
    r#"{"choices":null}"#,
    r#"{"choices":{}}"#,
    r#"{"id":"a","id":"b"}"#,
    r#"{"x":1,"id":"a","x":2}"#,
    r#"{"id":null}"#,
    r#"{"id":7}"#,
    r#"{"object":null}"#,
    r#"{"created":"1"}"#,
    r#"{"created":1.5}"#,
    r#"{"created":-3}"#,
    r#"{"created":18446744073709551616}"#,
    r#"{"usage":null,"service_tier":null,"system_fingerprint":"fp"}"#,
    r#"{"usage":{"prompt_tokens":null,"queue_time":1,"prompt_tokens_details":null}}"#,
    r#"{"usage":{"completion_tokens_details":{"reasoning_tokens":2,"x":[1],"reasoning_tokens":3}}}"#,
    r#"{"usage":[1,2,3]}"#,
    r#"{"choices":[{"message":{"content":"a"},"logprobs":{"content":[]},"index":2,"extra":1}],"object":"other"}"#,
];

#[test]
fn chat_completion_decodes_as_the_derive_did() {
    for body in CHAT_BODIES.iter().chain(ANY) {
        same::<ChatCompletion, reference::ChatCompletion>(body);
    }
}

/// Decodes `body` in place into a copy of `start` and asserts the outcome is
/// `from_str`'s: the same value (fields `start` had and the body lacks are
/// replaced, unknown keys and skipped fields included), or the same error.
fn same_in_place<T>(body: &str, start: &T)
where
    T: DeserializeOwned + Clone + PartialEq + std::fmt::Debug,
{
    let fresh = serde_json::from_str::<T>(body);
    let mut place = start.clone();
    let mut reader = serde_json::Deserializer::from_str(body);
    let in_place = T::deserialize_in_place(&mut reader, &mut place).and_then(|()| reader.end());
    assert_eq!(
        fresh.as_ref().err().map(ToString::to_string),
        in_place.as_ref().err().map(ToString::to_string),
        "{body}"
    );
    if let Ok(fresh) = fresh {
        assert_eq!(fresh, place, "{body}");
    }
}

#[test]
fn decoding_in_place_and_into_a_box_decode_as_from_str_does() {
    let mut dirty: ChatCompletion = serde_json::from_str(CHAT_BODIES[0]).unwrap();
    dirty.extra.insert("stale".into(), json!(1));
    dirty.elelem.answered_by = "p:old".into();
    dirty.object = "old".into();
    let mut dirty_usage = dirty.usage.clone().unwrap();
    dirty_usage.extra.insert("stale".into(), json!(2));
    for body in CHAT_BODIES.iter().chain(ANY) {
        same_in_place(body, &dirty);
        let boxed = ChatCompletion::from_json_boxed(body.as_bytes());
        let fresh = serde_json::from_str::<ChatCompletion>(body);
        assert_eq!(
            boxed.as_ref().err().map(ToString::to_string),
            fresh.as_ref().err().map(ToString::to_string),
            "{body}"
        );
        if let (Ok(boxed), Ok(fresh)) = (boxed, fresh) {
            assert_eq!(*boxed, fresh, "{body}");
        }
    }
    for body in [
        r#"{"prompt_tokens":1,"x":2,"completion_tokens_details":{"reasoning_tokens":3}}"#,
        r#"{"total_tokens":1,"total_tokens":2}"#,
        "{}",
    ]
    .iter()
    .chain(ANY)
    {
        same_in_place(body, &dirty_usage);
    }
    // Bytes that are not UTF-8 are read (and refused) as `from_slice` reads them.
    let latin1 = b"{\"id\":\"caf\xe9\"}";
    assert_eq!(
        ChatCompletion::from_json_boxed(latin1)
            .unwrap_err()
            .to_string(),
        serde_json::from_slice::<ChatCompletion>(latin1)
            .unwrap_err()
            .to_string()
    );
}

#[test]
fn chunks_decode_as_the_derive_did() {
    let bodies = [
        r#"{"id":"c","object":"chat.completion.chunk","created":1,"model":"m",
           "choices":[{"index":0,"delta":{"role":"assistant","content":"Hel"},"finish_reason":null}]}"#,
        r#"{"id":"c","choices":[],"usage":{"prompt_tokens":1,"completion_tokens":2,"total_tokens":3},"x_groq":{"usage":{}}}"#,
        r#"{"choices":[{"delta":{"tool_calls":[{"index":0,"function":{"arguments":"{"}}],"reasoning":"r","refusal":null}}]}"#,
        r#"{"choices":[{"delta":{"reasoning_content":"think","content":null,"role":null}}]}"#,
        r#"{"choices":[{"delta":null}]}"#,
        r#"{"choices":[{"delta":{"tool_calls":{}}}]}"#,
        r#"{"choices":[{"finish_reason":"length","logprobs":null,"native_finish_reason":"MAX"}]}"#,
        r#"{"choices":[{"delta":{"content":"a","content":"b"}}]}"#,
    ];
    for body in bodies.iter().chain(ANY) {
        same::<ChatCompletionChunk, reference::ChatCompletionChunk>(body);
    }
}

#[test]
fn text_completions_decode_as_the_derive_did() {
    let bodies = [
        r#"{"id":"cmpl-1","object":"text_completion","created":1,"model":"m",
           "choices":[{"text":" world","index":0,"logprobs":null,"finish_reason":"stop"}]}"#,
        r#"{"choices":[{"text":null}]}"#,
        r#"{"choices":[{"finish_reason":"","stop_reason":null}],"usage":{"total_tokens":2}}"#,
    ];
    for body in bodies.iter().chain(ANY) {
        same::<TextCompletion, reference::TextCompletion>(body);
    }
}

#[test]
fn messages_and_tool_calls_decode_as_the_derive_did() {
    let messages = [
        r#"{"role":"user","content":"hi"}"#,
        r#"{"role":"user","content":[{"type":"text","text":"a"}],"name":"n"}"#,
        r#"{"role":"assistant","content":null,"tool_calls":[{"id":"c"}]}"#,
        r#"{"role":"tool","tool_call_id":"c","content":"{}"}"#,
        r#"{"content":"no role"}"#,
        r#"{"role":"user","content":7}"#,
        r#"{"role":"user","role":"system"}"#,
    ];
    for body in messages.iter().chain(ANY) {
        same::<Message, reference::Message>(body);
    }
    let calls = [
        r#"{"id":"call_1","type":"function","function":{"name":"f","arguments":"{}"}}"#,
        r#"{"function":{"name":"f"}}"#,
        r#"{"id":"c","kind":"k","function":{},"index":0}"#,
        r#"{"id":"c"}"#,
        r#"{"type":null,"function":{}}"#,
        r#"{"type":"a","type":"b","function":{}}"#,
    ];
    for body in calls.iter().chain(ANY) {
        same::<ToolCall, reference::ToolCall>(body);
    }
}

#[test]
fn unknown_keys_are_kept_in_their_order_with_their_values() {
    let completion: ChatCompletion = serde_json::from_str(
        r#"{"zeta":1,"id":"a","alpha":{"b":2,"a":1},"mid":null,"elelem":"mine","zeta":3}"#,
    )
    .unwrap();
    let keys: Vec<&str> = completion.extra.keys().map(String::as_str).collect();
    // A repeated unknown key keeps its first place and its last value.
    assert_eq!(keys, ["zeta", "alpha", "mid", "elelem"]);
    assert_eq!(completion.extra["zeta"], json!(3));
    let alpha: Vec<&str> = completion.extra["alpha"]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(alpha, ["b", "a"]);
    assert_eq!(completion.extra["mid"], Value::Null);
    // `elelem` is not read from the JSON: the key is a vendor field like any other.
    assert_eq!(completion.elelem, Default::default());
    assert_eq!(completion.id, "a");
}

#[test]
fn missing_fields_take_their_defaults() {
    let completion: ChatCompletion =
        serde_json::from_str(r#"{"choices":[{"message":{}}]}"#).unwrap();
    assert_eq!(completion.id, "");
    assert_eq!(completion.object, "chat.completion");
    assert_eq!(completion.created, 0);
    assert!(completion.usage.is_none() && completion.service_tier.is_none());
    let choice = &completion.choices[0];
    assert_eq!((choice.index, choice.finish_reason.clone()), (0, None));
    assert_eq!(choice.message.role, Role::Assistant);
    assert!(choice.message.content.is_none() && completion.extra.is_empty());

    let chunk: ChatCompletionChunk = serde_json::from_str(r#"{"choices":[{}]}"#).unwrap();
    assert_eq!(chunk.object, "chat.completion.chunk");
    assert_eq!(chunk.choices[0].delta, Default::default());
    let text: TextCompletion = serde_json::from_str("{}").unwrap();
    assert_eq!(text.object, "text_completion");
    let call: ToolCall = serde_json::from_str(r#"{"function":{}}"#).unwrap();
    assert_eq!((call.id.as_str(), call.kind.as_str()), ("", "function"));
}

#[test]
fn required_fields_and_repeated_known_keys_are_errors() {
    let missing = serde_json::from_str::<ToolCall>(r#"{"id":"c"}"#).unwrap_err();
    assert!(missing.to_string().starts_with("missing field `function`"));
    let missing = serde_json::from_str::<Message>(r#"{"content":"a"}"#).unwrap_err();
    assert!(missing.to_string().starts_with("missing field `role`"));
    let twice = serde_json::from_str::<ToolCall>(r#"{"type":"a","type":"b"}"#).unwrap_err();
    assert!(twice.to_string().starts_with("duplicate field `type`"));
    let twice =
        serde_json::from_str::<Usage>(r#"{"total_tokens":1,"total_tokens":1}"#).unwrap_err();
    assert!(twice
        .to_string()
        .starts_with("duplicate field `total_tokens`"));
}

#[test]
fn nulls_are_none_for_options_and_errors_for_the_rest() {
    let completion: ChatCompletion = serde_json::from_str(
        r#"{"usage":null,"system_fingerprint":null,"choices":[{"message":{"content":null},"finish_reason":null,"logprobs":null}]}"#,
    )
    .unwrap();
    assert!(completion.usage.is_none() && completion.system_fingerprint.is_none());
    assert!(completion.choices[0].logprobs.is_none());
    assert!(completion.extra.is_empty());
    // As with the derive, `null` is not a default for a `String` or a number.
    let error = serde_json::from_str::<ChatCompletion>(r#"{"id":null}"#).unwrap_err();
    assert!(error
        .to_string()
        .starts_with("invalid type: null, expected a string"));
    assert!(serde_json::from_str::<ChatCompletion>(r#"{"created":null}"#).is_err());
    // The empty finish reason some providers send is kept.
    let completion: ChatCompletion =
        serde_json::from_str(r#"{"choices":[{"message":{},"finish_reason":""}]}"#).unwrap();
    assert_eq!(
        completion.choices[0].finish_reason,
        Some(FinishReason::Other(String::new()))
    );
}

#[test]
fn a_wrong_type_is_reported_at_the_faulty_value() {
    // (Token counts are lenient on purpose: see `token_count`.)
    let body = r#"{"id":"a","created":"ten","model":"m"}"#;
    let error = serde_json::from_str::<ChatCompletion>(body).unwrap_err();
    assert!(
        error
            .to_string()
            .starts_with(r#"invalid type: string "ten", expected u64"#),
        "{error}"
    );
    assert!(error.is_data());
    // The position is the end of the faulty value, as with the derive.
    let end_of_value = body.find(r#""ten""#).unwrap() + r#""ten""#.len();
    assert_eq!((error.line(), error.column()), (1, end_of_value));
}

#[test]
fn only_objects_are_accepted() {
    let error = serde_json::from_str::<Usage>("[1,2]").unwrap_err();
    assert!(
        error
            .to_string()
            .starts_with("invalid type: sequence, expected struct Usage"),
        "{error}"
    );
}
