//! The OpenAI Responses API end to end over real HTTP (issue 13, part 3):
//! plain and streamed responses, JSON `text.format` validated with the retry
//! ladder, `previous_response_id` chains kept by the server, the real API's
//! errors, and the cost of every attempt to the femto-dollar, in the records,
//! the stats by tag and the budgets.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::sync::Arc;

use common::{bodies, builder, usd, Capture};
use elelem::provider::ProviderErrorKind;
use elelem::{Elelem, ElelemError, ResponseEvent, ResponseInput, ResponseRequest, TextFormat};
use elelem_testkit::wire::{self, ResponseBody};
use elelem_testkit::{ScriptedResponse, TestServer};
use futures_util::StreamExt;
use serde_json::json;

const MODEL: &str = "openai:gpt-4.1-mini";

fn client(server: &TestServer) -> (Elelem, Arc<Capture>) {
    let capture = Arc::new(Capture::default());
    let elelem = builder("openai", server)
        .cost_sink(capture.clone())
        .build()
        .unwrap();
    (elelem, capture)
}

/// gpt-4.1-mini: 0.40 in, 1.60 out, 0.10 cached in, per 1M tokens.
/// 1000 in (400 cached), 500 out: 600 * 0.4 + 400 * 0.1 + 500 * 1.6 = 1080 micro-dollars.
fn priced_body(text: &str) -> ResponseBody {
    ResponseBody::new("gpt-4.1-mini-2025-04-14", text)
        .usage(1000, 500)
        .cached(400)
}

#[tokio::test]
async fn a_plain_response_is_sent_in_the_responses_shape_and_billed_exactly() {
    let server = TestServer::start().await.unwrap();
    server.push(priced_body("Blue.").into_response());
    let (elelem, capture) = client(&server);
    let request = ResponseRequest::new(MODEL, "Name a colour")
        .instructions("One word.")
        .store(false)
        .function_tool("lookup", "Looks a colour up", json!({"type": "object"}))
        .tool(json!({"type": "web_search"}))
        .reasoning_effort("low")
        .max_output_tokens(64)
        .temperature(0.5)
        .extra("metadata", json!({"run": "1"}))
        .tags(["colours"]);
    let response = elelem.create_response(request).await.unwrap();

    assert_eq!(response.output_text(), "Blue.");
    assert_eq!(response.elelem.answered_by, MODEL);
    assert_eq!(response.elelem.attempts, 1);
    assert_eq!(response.elelem.cost, usd("0.00108"));
    assert_eq!(response.usage.as_ref().unwrap().input_tokens, Some(1000));

    let seen = server.requests();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].path, "/v1/responses");
    let body = &bodies(&server)[0];
    assert_eq!(
        body,
        &json!({
            "model": "gpt-4.1-mini",
            "input": "Name a colour",
            "instructions": "One word.",
            "store": false,
            "tools": [
                {"type": "function", "name": "lookup", "description": "Looks a colour up", "parameters": {"type": "object"}},
                {"type": "web_search"}
            ],
            "reasoning": {"effort": "low"},
            "max_output_tokens": 64,
            "temperature": 0.5,
            "metadata": {"run": "1"}
        })
    );

    let records = capture.records();
    assert_eq!(records.len(), 1);
    assert_eq!(records[0].tokens.input, Some(1000));
    assert_eq!(records[0].tokens.cached_input, Some(400));
    assert_eq!(records[0].tokens.output, Some(500));
    assert_eq!(records[0].cost.total(), usd("0.00108"));
    let stats = elelem.get_stats_by_tag("colours");
    assert_eq!(stats.total_calls, 1);
    assert_eq!(stats.total_cost_usd, usd("0.00108"));
    assert_eq!(stats.total_input_tokens, 1000);
    assert_eq!(stats.total_output_tokens, 500);
}

#[tokio::test]
async fn reasoning_tokens_are_billed_as_output_and_counted_apart() {
    let server = TestServer::start().await.unwrap();
    // gpt-5-mini: 0.25 in, 2.00 out. 100 in, 300 out (200 of them reasoning).
    server.push(
        ResponseBody::new("gpt-5-mini", "42")
            .usage(100, 300)
            .reasoning(200)
            .into_response(),
    );
    let (elelem, capture) = client(&server);
    let response = elelem
        .create_response(ResponseRequest::new("openai:gpt-5-mini", "6 x 7?").tags(["maths"]))
        .await
        .unwrap();
    // 100 * 0.25 + 300 * 2.00 = 625 micro-dollars.
    assert_eq!(response.elelem.cost, usd("0.000625"));
    let record = &capture.records()[0];
    assert_eq!(record.tokens.reasoning, Some(200));
    assert_eq!(record.cost.reasoning, usd("0.0004"));
    let stats = elelem.get_stats_by_tag("maths");
    assert_eq!(stats.reasoning_tokens, 200);
    assert_eq!(stats.reasoning_cost_usd, usd("0.0004"));
}

#[tokio::test]
async fn a_streamed_response_yields_typed_events_and_is_billed_like_the_plain_one() {
    let server = TestServer::start().await.unwrap();
    server.push(priced_body("Deep sky blue").into_stream_response());
    let (elelem, capture) = client(&server);
    let mut stream = elelem
        .stream_response(ResponseRequest::new(MODEL, "Name a colour").tags(["s"]))
        .await
        .unwrap();
    let mut kinds = Vec::new();
    let mut text = String::new();
    let mut completed = None;
    while let Some(event) = stream.next().await {
        let event = event.unwrap();
        kinds.push(event.kind().to_owned());
        match event {
            ResponseEvent::OutputTextDelta { delta, .. } => text.push_str(&delta),
            ResponseEvent::Completed { response } => completed = Some(response),
            _ => {}
        }
    }
    assert_eq!(text, "Deep sky blue");
    assert_eq!(kinds.first().map(String::as_str), Some("response.created"));
    assert_eq!(kinds.last().map(String::as_str), Some("response.completed"));
    assert!(kinds.contains(&"response.output_item.added".to_owned()));
    assert!(
        kinds.contains(&"response.in_progress".to_owned()),
        "unknown events are kept"
    );
    assert_eq!(completed.unwrap().output_text(), "Deep sky blue");
    assert_eq!(stream.summary().cost, usd("0.00108"));
    assert!(!stream.summary().interrupted);
    drop(stream);

    assert_eq!(bodies(&server)[0]["stream"], true);
    let records = capture.records();
    assert_eq!(records.len(), 1, "one record per stream");
    assert_eq!(records[0].cost.total(), usd("0.00108"));
    assert!(!records[0].stream_interrupted);
    assert_eq!(elelem.get_stats_by_tag("s").total_cost_usd, usd("0.00108"));
}

#[tokio::test]
async fn a_streamed_function_call_arrives_as_argument_deltas() {
    let server = TestServer::start().await.unwrap();
    server.push(
        ResponseBody::function_call("gpt-4.1-mini", "lookup", r#"{"colour":"blue"}"#)
            .into_stream_response(),
    );
    let (elelem, _) = client(&server);
    let request = ResponseRequest::new(MODEL, "Look blue up").function_tool(
        "lookup",
        "Looks a colour up",
        json!({"type": "object"}),
    );
    let mut stream = elelem.stream_response(request).await.unwrap();
    let mut arguments = String::new();
    let mut added = None;
    while let Some(event) = stream.next().await {
        match event.unwrap() {
            ResponseEvent::FunctionCallArgumentsDelta { delta, .. } => arguments.push_str(&delta),
            ResponseEvent::OutputItemAdded { item, .. } => added = Some(item),
            _ => {}
        }
    }
    assert_eq!(arguments, r#"{"colour":"blue"}"#);
    assert_eq!(added.unwrap().name.as_deref(), Some("lookup"));
}

#[tokio::test]
async fn collect_response_returns_the_final_response_with_its_cost() {
    let server = TestServer::start().await.unwrap();
    server.push(priced_body("Red").into_stream_response());
    let (elelem, _) = client(&server);
    let stream = elelem
        .stream_response(ResponseRequest::new(MODEL, "Colour?"))
        .await
        .unwrap();
    let response = stream.collect_response().await.unwrap();
    assert_eq!(response.output_text(), "Red");
    assert_eq!(response.elelem.cost, usd("0.00108"));
    assert_eq!(response.elelem.attempts, 1);
}

fn person_schema() -> serde_json::Value {
    json!({
        "type": "object",
        "properties": {"name": {"type": "string"}, "age": {"type": "integer"}},
        "required": ["name", "age"],
        "additionalProperties": false
    })
}

#[tokio::test]
async fn a_json_schema_answer_is_validated_and_retried_with_feedback() {
    let server = TestServer::start().await.unwrap();
    server.push_many([
        priced_body(r#"{"name": "Alice", "age": "thirty"}"#).into_response(),
        priced_body("```json\n{\"name\": \"Alice\", \"age\": 30}\n```").into_response(),
    ]);
    let (elelem, capture) = client(&server);
    let request = ResponseRequest::new(MODEL, "Alice is 30.")
        .json_schema("person", person_schema())
        .tags(["people"]);
    let response = elelem.create_response(request).await.unwrap();

    assert_eq!(
        response.elelem.json,
        Some(json!({"name": "Alice", "age": 30}))
    );
    assert_eq!(response.output_text(), r#"{"name": "Alice", "age": 30}"#);
    assert_eq!(response.elelem.attempts, 2);
    assert_eq!(response.elelem.cost, usd("0.00216"));

    let sent = bodies(&server);
    assert_eq!(
        sent[0]["text"],
        json!({"format": {"type": "json_schema", "name": "person", "schema": person_schema(), "strict": true}}),
        "text.format is flat"
    );
    assert!(sent[0].get("response_format").is_none());
    // The retry carries the rejected answer and what was wrong with it.
    let input = sent[1]["input"].as_array().unwrap();
    assert_eq!(input[0], json!({"role": "user", "content": "Alice is 30."}));
    assert_eq!(input[1]["role"], "assistant");
    assert_eq!(input[2]["role"], "user");
    assert!(input[2]["content"].as_str().unwrap().contains("schema"));

    let records = capture.records();
    assert_eq!(records.len(), 2);
    let stats = elelem.get_stats_by_tag("people");
    assert_eq!(stats.total_calls, 1);
    assert_eq!(stats.total_cost_usd, usd("0.00216"));
}

#[tokio::test]
async fn json_that_never_validates_ends_with_every_attempt_and_drops_the_format() {
    let server = TestServer::start().await.unwrap();
    server.set_fallback(priced_body("no json at all").into_response());
    let (elelem, capture) = client(&server);
    let request =
        ResponseRequest::new(MODEL, "Alice is 30.").json_schema("person", person_schema());
    let error = elelem.create_response(request).await.unwrap_err();
    assert!(matches!(error, ElelemError::InvalidJson { .. }), "{error}");
    let sent = bodies(&server);
    assert!(sent.len() >= 2);
    // Once the format is dropped, the JSON instructions go into `instructions`.
    let last = sent.last().unwrap();
    if last.get("text").is_none() {
        assert!(last["instructions"].as_str().unwrap().contains("JSON"));
    }
    let total: elelem::Usd = capture.records().iter().map(|r| r.cost.total()).sum();
    let each = usd("0.00108");
    let expected: elelem::Usd = std::iter::repeat_n(each, sent.len()).sum();
    assert_eq!(total, expected);
}

#[tokio::test]
async fn a_previous_response_id_continues_a_stored_response() {
    let server = TestServer::start().await.unwrap();
    server.push_many([
        ResponseBody::new("gpt-4.1-mini", "Blue.")
            .id("resp_first")
            .into_response(),
        ResponseBody::new("gpt-4.1-mini", "It is calm.").into_response(),
    ]);
    let (elelem, _) = client(&server);
    let first = elelem
        .create_response(ResponseRequest::new(MODEL, "Pick a colour").store(true))
        .await
        .unwrap();
    assert_eq!(first.id, "resp_first");
    let items = vec![ResponseInput::message("user", "Why that one?")];
    let next = elelem
        .create_response(ResponseRequest::new(MODEL, items).previous_response_id(&first.id))
        .await
        .unwrap();
    assert_eq!(next.output_text(), "It is calm.");
    assert_eq!(bodies(&server)[1]["previous_response_id"], "resp_first");
}

#[tokio::test]
async fn an_unknown_previous_response_id_is_the_apis_400_and_not_retried() {
    let server = TestServer::start().await.unwrap();
    server.push(wire::response("gpt-4.1-mini", "never sent"));
    let (elelem, capture) = client(&server);
    let error = elelem
        .create_response(ResponseRequest::new(MODEL, "Go on").previous_response_id("resp_nope"))
        .await
        .unwrap_err();
    let ElelemError::Provider { error, .. } = &error else {
        panic!("{error}");
    };
    assert_eq!(error.kind(), Some(ProviderErrorKind::BadRequest));
    assert!(error.to_string().contains("resp_nope"), "{error}");
    assert_eq!(server.request_count(), 1);
    assert_eq!(capture.records().len(), 1);
    assert_eq!(capture.records()[0].cost.total(), usd("0"));
}

#[tokio::test]
async fn rate_limits_and_failed_responses_are_retried_and_every_attempt_is_recorded() {
    let server = TestServer::start().await.unwrap();
    server.push_many([
        wire::rate_limited(Some("0")),
        ResponseBody::failed("gpt-4.1-mini", "server_error", "The server had an error")
            .into_response(),
        priced_body("Green").into_response(),
    ]);
    let (elelem, capture) = client(&server);
    let response = elelem
        .create_response(ResponseRequest::new(MODEL, "Colour?").tags(["r"]))
        .await
        .unwrap();
    assert_eq!(response.output_text(), "Green");
    assert_eq!(response.elelem.attempts, 3);
    // The failed response billed its 10 input tokens: 10 * 0.4 = 4 micro-dollars.
    assert_eq!(response.elelem.cost, usd("0.001084"));
    assert_eq!(capture.records().len(), 3);
    assert_eq!(elelem.get_stats_by_tag("r").total_cost_usd, usd("0.001084"));
}

#[tokio::test]
async fn a_model_without_the_responses_api_is_refused_before_sending() {
    let server = TestServer::start().await.unwrap();
    let elelem = builder("groq", &server).build().unwrap();
    let error = elelem
        .create_response(ResponseRequest::new("groq:openai/gpt-oss-20b", "Hi"))
        .await
        .unwrap_err();
    assert!(
        matches!(&error, ElelemError::OperationUnsupported { model, .. } if model == "groq:openai/gpt-oss-20b"),
        "{error}"
    );
    assert!(error.to_string().contains("responses = true"), "{error}");
    let error = elelem
        .stream_response(ResponseRequest::new("groq:openai/gpt-oss-20b", "Hi"))
        .await
        .unwrap_err();
    assert!(
        matches!(error, ElelemError::OperationUnsupported { .. }),
        "{error}"
    );
    assert_eq!(server.request_count(), 0);
}

#[tokio::test]
async fn chat_only_fields_are_refused_by_the_server_as_the_real_api_does() {
    let server = TestServer::start().await.unwrap();
    let (elelem, _) = client(&server);
    let error = elelem
        .create_response(
            ResponseRequest::new(MODEL, "Hi")
                .extra("messages", json!([{"role": "user", "content": "Hi"}])),
        )
        .await
        .unwrap_err();
    let ElelemError::Provider { error, .. } = &error else {
        panic!("{error}");
    };
    assert_eq!(error.kind(), Some(ProviderErrorKind::BadRequest));
    assert!(error.to_string().contains("input"), "{error}");
}

#[tokio::test]
async fn a_stream_cut_before_response_completed_is_recorded_as_of_unknown_cost() {
    let server = TestServer::start().await.unwrap();
    let whole = priced_body("Deep sky blue").to_stream_bytes();
    let cut = String::from_utf8(whole.to_vec())
        .unwrap()
        .find("event: response.completed")
        .unwrap();
    server.push(ScriptedResponse::truncated_body(200, whole, cut));
    let (elelem, capture) = client(&server);
    let mut stream = elelem
        .stream_response(ResponseRequest::new(MODEL, "Colour?").max_output_tokens(100))
        .await
        .unwrap();
    let mut failure = None;
    while let Some(event) = stream.next().await {
        if let Err(error) = event {
            failure = Some(error);
        }
    }
    assert!(
        matches!(failure, Some(ElelemError::Stream { .. })),
        "{failure:?}"
    );
    assert!(stream.summary().interrupted);
    drop(stream);
    let records = capture.records();
    assert_eq!(records.len(), 1);
    assert!(records[0].stream_interrupted);
    assert!(records[0].cost_unknown);
}

#[tokio::test]
async fn a_dropped_stream_is_recorded_once_as_interrupted() {
    let server = TestServer::start().await.unwrap();
    server.push(priced_body("Deep sky blue").into_stream_response());
    let (elelem, capture) = client(&server);
    let mut stream = elelem
        .stream_response(ResponseRequest::new(MODEL, "Colour?"))
        .await
        .unwrap();
    let first = stream.next().await.unwrap().unwrap();
    assert_eq!(first.kind(), "response.created");
    drop(stream);
    let records = capture.records();
    assert_eq!(records.len(), 1);
    assert!(records[0].stream_interrupted);
}

#[tokio::test]
async fn xai_reports_its_cost_in_ticks_and_it_is_used() {
    let server = TestServer::start().await.unwrap();
    let mut body = ResponseBody::new("grok-4-1-fast-reasoning", "Hi").to_json();
    body["usage"]["cost_in_usd_ticks"] = json!(232_856_000);
    server.push(ScriptedResponse::json(200, body));
    let capture = Arc::new(Capture::default());
    let elelem = Elelem::builder()
        .without_env_keys()
        .api_key("xai", "xai-test-SECRET-123")
        .base_url("xai", server.url())
        .cost_sink(capture.clone())
        .build()
        .unwrap();
    let response = elelem
        .create_response(ResponseRequest::new("xai:grok-4-1-fast-reasoning", "Hi"))
        .await
        .unwrap();
    assert_eq!(response.elelem.cost, usd("0.0232856"));
    assert_eq!(server.requests()[0].path, "/v1/responses");
}

#[tokio::test]
async fn a_json_object_format_is_sent_and_parsed() {
    let server = TestServer::start().await.unwrap();
    server.push(priced_body(r#"{"ok": true}"#).into_response());
    let (elelem, _) = client(&server);
    let response = elelem
        .create_response(ResponseRequest::new(MODEL, "ok?").text_format(TextFormat::JsonObject))
        .await
        .unwrap();
    assert_eq!(response.elelem.json, Some(json!({"ok": true})));
    assert_eq!(bodies(&server)[0]["text"]["format"]["type"], "json_object");
}

#[test]
fn the_blocking_client_sends_a_response_from_a_plain_thread() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let server = runtime.block_on(TestServer::start()).unwrap();
    server.push(priced_body("Blue").into_response());
    let elelem = elelem::blocking::ElelemBuilder::from(builder("openai", &server))
        .build()
        .unwrap();
    let response = std::thread::scope(|scope| {
        scope
            .spawn(|| elelem.create_response(ResponseRequest::new(MODEL, "Colour?").tags(["b"])))
            .join()
            .unwrap()
    })
    .unwrap();
    assert_eq!(response.output_text(), "Blue");
    assert_eq!(response.elelem.cost, usd("0.00108"));
    assert_eq!(elelem.get_stats_by_tag("b").total_cost_usd, usd("0.00108"));
}

fn budgeted(server: &TestServer) -> Elelem {
    builder("openai", server)
        .budget(elelem::budget::Budget::new(usd("1")))
        .build()
        .unwrap()
}

#[tokio::test]
async fn a_budget_is_spent_exactly_the_cost_of_a_response_plain_or_streamed() {
    let server = TestServer::start().await.unwrap();
    server.push_many([
        priced_body("Blue").into_response(),
        priced_body("Red").into_stream_response(),
    ]);
    let elelem = budgeted(&server);
    elelem
        .create_response(ResponseRequest::new(MODEL, "Colour?").max_output_tokens(1000))
        .await
        .unwrap();
    let stream = elelem
        .stream_response(ResponseRequest::new(MODEL, "Colour?").max_output_tokens(1000))
        .await
        .unwrap();
    stream.collect_response().await.unwrap();
    let status = &elelem.budget_status()[0];
    assert_eq!(status.reserved, elelem::Usd::ZERO);
    assert_eq!(status.spent, usd("0.00216"));
}

#[tokio::test]
async fn a_response_stream_dropped_before_response_completed_charges_its_worst_case() {
    let server = TestServer::start().await.unwrap();
    server.push(priced_body("Deep sky blue").into_stream_response());
    let elelem = budgeted(&server);
    let mut stream = elelem
        .stream_response(ResponseRequest::new(MODEL, "Colour?").max_output_tokens(1000))
        .await
        .unwrap();
    let held = elelem.budget_status()[0].reserved;
    assert!(held > elelem::Usd::ZERO);
    let _created = stream.next().await.unwrap().unwrap();
    drop(stream);
    let status = &elelem.budget_status()[0];
    assert_eq!(status.reserved, elelem::Usd::ZERO);
    assert_eq!(
        status.spent, held,
        "the worst case, not what little is known"
    );
    assert_eq!(elelem.get_stats().interrupted_streams, 1);
}
