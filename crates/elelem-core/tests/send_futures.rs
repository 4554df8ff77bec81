//! The client's futures are `Send`: they can be spawned and served by axum (a
//! future that holds something not `Send` across an await breaks every server).

use elelem_core::{ChatRequest, Elelem, Message, ResponseRequest};

fn assert_send<T: Send>(_: &T) {}

#[test]
fn the_call_futures_are_send() {
    let Ok(elelem) = Elelem::builder().api_key("openai", "sk-test").build() else {
        panic!("the client builds");
    };
    let request = ChatRequest::new("openai:gpt-4.1-mini", vec![Message::user("hi")]);
    assert_send(&elelem.create_chat_completion(request.clone()));
    assert_send(&elelem.stream_chat_completion(request));
    let response = ResponseRequest::new("openai:gpt-4.1-mini", "hi");
    assert_send(&elelem.create_response(response.clone()));
    assert_send(&elelem.stream_response(response));
}
