//! The futures and values a call moves stay small. Every `async` layer between
//! the caller and the engine kept its own copy of the request and moved its
//! child future into place on every call, and a large value held across an
//! `await` sits in the future's state (see BENCHMARKS.md, "Session 7: moves":
//! `create_chat_completion`'s future was 6,736 bytes in release, 2,048 now).
//! The bounds hold in debug and release builds and catch a layer or a large
//! value across an `await` coming back.

#![allow(clippy::unwrap_used)]

use elelem::provider::ProviderResponse;
use elelem::{ChatRequest, Elelem, Message};

#[test]
fn a_chat_call_future_stays_small() {
    let elelem = Elelem::builder()
        .without_env_keys()
        .api_key("openai", "sk-test-not-real")
        .build()
        .unwrap();
    let request = ChatRequest::new("openai:gpt-4.1-mini", vec![Message::user("Hi")]);
    let call = elelem.create_chat_completion(request.clone());
    let size = std::mem::size_of_val(&call);
    println!("create_chat_completion future: {size} bytes");
    assert!(
        size <= 3_072,
        "create_chat_completion's future is {size} bytes"
    );
    // An operation's own send future left inline in the engine made this one
    // 9,344 bytes.
    let opening = elelem.stream_chat_completion(request);
    let size = std::mem::size_of_val(&opening);
    println!("stream_chat_completion future: {size} bytes");
    assert!(
        size <= 4_096,
        "stream_chat_completion's future is {size} bytes"
    );
}

#[test]
fn a_provider_answer_moves_as_a_pointer_and_a_few_fields() {
    let size = std::mem::size_of::<Result<ProviderResponse, elelem::provider::ProviderError>>();
    println!("Result<ProviderResponse, ProviderError>: {size} bytes");
    assert!(size <= 128, "a provider's result is {size} bytes");
}
