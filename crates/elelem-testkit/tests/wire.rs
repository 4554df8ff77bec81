//! The exact shapes of the `wire` answers, and that they survive the trip over HTTP.

use elelem_testkit::wire::{self, Completion};
use elelem_testkit::{ScriptedResponse, TestServer};
use serde_json::{json, Value};

#[allow(clippy::expect_used)] // test helper
fn json_of(answer: &ScriptedResponse) -> Value {
    answer.json_body().expect("a JSON body")
}

#[allow(clippy::unwrap_used)] // test helper
fn keys(value: &Value) -> Vec<&str> {
    value
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect()
}

#[test]
fn openai_completion_has_the_exact_shape() {
    let answer = wire::completion("gpt-4o-mini", "Hello!");
    assert_eq!(answer.status(), Some(200));
    assert_eq!(
        answer.header_value("content-type"),
        Some("application/json")
    );
    let body = json_of(&answer);

    let id = body["id"].as_str().unwrap();
    let serial = id.strip_prefix("chatcmpl-").unwrap();
    assert!(serial.parse::<u64>().is_ok(), "{id}");
    let created = body["created"].as_u64().unwrap();
    assert!(created > 1_700_000_000);

    assert_eq!(
        body,
        json!({
            "id": id,
            "object": "chat.completion",
            "created": created,
            "model": "gpt-4o-mini",
            "choices": [{
                "index": 0,
                "message": {"role": "assistant", "content": "Hello!", "refusal": null},
                "logprobs": null,
                "finish_reason": "stop"
            }],
            "usage": {
                "prompt_tokens": 10,
                "completion_tokens": 5,
                "total_tokens": 15,
                "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
                "completion_tokens_details": {
                    "reasoning_tokens": 0,
                    "audio_tokens": 0,
                    "accepted_prediction_tokens": 0,
                    "rejected_prediction_tokens": 0
                }
            },
            "service_tier": "default",
            "system_fingerprint": "fp_testkit"
        })
    );
    // Field order as on the wire.
    assert_eq!(
        keys(&body),
        [
            "id",
            "object",
            "created",
            "model",
            "choices",
            "usage",
            "service_tier",
            "system_fingerprint"
        ]
    );
    assert_eq!(
        keys(&body["choices"][0]["message"]),
        ["role", "content", "refusal"]
    );
}

#[test]
fn completion_ids_are_unique() {
    let a = Completion::new("m", "x").to_json();
    let b = Completion::new("m", "x").to_json();
    assert_ne!(a["id"], b["id"]);
}

#[test]
fn completion_builder_sets_usage_finish_reason_and_message_fields() {
    let tool_calls =
        json!([{"id": "call_1", "type": "function", "function": {"name": "f", "arguments": "{}"}}]);
    let body = Completion::new("o3-mini", "")
        .usage(2000, 300)
        .cached(1536)
        .reasoning(256)
        .finish_reason("tool_calls")
        .message_field("content", Value::Null)
        .message_field("tool_calls", tool_calls.clone())
        .id("chatcmpl-fixed")
        .created(1_700_000_000)
        .to_json();
    assert_eq!(body["id"], "chatcmpl-fixed");
    assert_eq!(body["created"], 1_700_000_000);
    assert_eq!(
        body["choices"][0],
        json!({
            "index": 0,
            "message": {"role": "assistant", "content": null, "refusal": null, "tool_calls": tool_calls},
            "logprobs": null,
            "finish_reason": "tool_calls"
        })
    );
    assert_eq!(
        keys(&body["choices"][0]["message"]),
        ["role", "content", "refusal", "tool_calls"]
    );
    assert_eq!(
        body["usage"],
        json!({
            "prompt_tokens": 2000,
            "completion_tokens": 300,
            "total_tokens": 2300,
            "prompt_tokens_details": {"cached_tokens": 1536, "audio_tokens": 0},
            "completion_tokens_details": {
                "reasoning_tokens": 256,
                "audio_tokens": 0,
                "accepted_prediction_tokens": 0,
                "rejected_prediction_tokens": 0
            }
        })
    );

    let bare = Completion::new("m", "x").without_usage().to_json();
    assert_eq!(
        keys(&bare),
        [
            "id",
            "object",
            "created",
            "model",
            "choices",
            "service_tier",
            "system_fingerprint"
        ]
    );

    let answer: ScriptedResponse = Completion::new("m", "x").usage(1, 2).into();
    assert_eq!(json_of(&answer)["usage"]["total_tokens"], 3);
}

#[test]
fn groq_completion_has_groq_extras() {
    let body = Completion::new("llama-3.3-70b-versatile", "hi")
        .usage(18, 556)
        .created(1_730_241_104)
        .groq()
        .to_json();
    assert_eq!(
        keys(&body),
        [
            "id",
            "object",
            "created",
            "model",
            "choices",
            "usage",
            "system_fingerprint",
            "x_groq",
            "service_tier"
        ]
    );
    assert_eq!(
        body["choices"],
        json!([{
            "index": 0,
            "message": {"role": "assistant", "content": "hi"},
            "logprobs": null,
            "finish_reason": "stop"
        }])
    );
    let usage = &body["usage"];
    assert_eq!(
        keys(usage),
        [
            "queue_time",
            "prompt_tokens",
            "prompt_time",
            "completion_tokens",
            "completion_time",
            "total_tokens",
            "total_time"
        ]
    );
    assert_eq!(
        (
            usage["prompt_tokens"].as_u64(),
            usage["completion_tokens"].as_u64()
        ),
        (Some(18), Some(556))
    );
    assert_eq!(usage["total_tokens"], 574);
    for timing in ["queue_time", "prompt_time", "completion_time", "total_time"] {
        let seconds = usage[timing].as_f64().unwrap();
        assert!(seconds > 0.0 && seconds < 10.0, "{timing}: {seconds}");
    }
    let sum = usage["prompt_time"].as_f64().unwrap() + usage["completion_time"].as_f64().unwrap();
    assert!((usage["total_time"].as_f64().unwrap() - sum).abs() < 1e-9);
    assert!(body["x_groq"]["id"].as_str().unwrap().starts_with("req_"));
    assert_eq!(keys(&body["x_groq"]), ["id"]);
    assert_eq!(body["service_tier"], "on_demand");

    let cached = Completion::new("m", "x")
        .usage(3000, 10)
        .cached(2048)
        .reasoning(7)
        .groq()
        .to_json();
    assert_eq!(
        cached["usage"]["prompt_tokens_details"],
        json!({"cached_tokens": 2048})
    );
    assert_eq!(
        cached["usage"]["completion_tokens_details"],
        json!({"reasoning_tokens": 7})
    );
}

#[test]
fn groq_json_validate_failed_is_exact() {
    let answer = wire::groq_json_validate_failed("{\"name\": \"Ada\",");
    assert_eq!(answer.status(), Some(400));
    assert_eq!(
        answer.body().unwrap().as_ref(),
        br#"{"error":{"message":"Failed to generate JSON. Please adjust your prompt. See 'failed_generation' for more details.","type":"invalid_request_error","code":"json_validate_failed","failed_generation":"{\"name\": \"Ada\","}}"#
    );
}

#[test]
fn rate_limited_is_exact() {
    let answer = wire::rate_limited(Some("3"));
    assert_eq!(answer.status(), Some(429));
    assert_eq!(
        json_of(&answer),
        json!({"error": {
            "message": "Rate limit reached for gpt-4o-mini in organization org-testkit on requests per min (RPM): Limit 500, Used 500, Requested 1. Please try again in 3s. Visit https://platform.openai.com/account/rate-limits to learn more.",
            "type": "requests",
            "param": null,
            "code": "rate_limit_exceeded"
        }})
    );
    for (name, value) in [
        ("retry-after", "3"),
        ("x-ratelimit-limit-requests", "500"),
        ("x-ratelimit-limit-tokens", "200000"),
        ("x-ratelimit-remaining-requests", "0"),
        ("x-ratelimit-remaining-tokens", "199980"),
        ("x-ratelimit-reset-requests", "3s"),
        ("x-ratelimit-reset-tokens", "6m0s"),
    ] {
        assert_eq!(answer.header_value(name), Some(value), "{name}");
    }

    let default = wire::rate_limited(None);
    assert_eq!(default.header_value("retry-after"), None);
    assert_eq!(
        default.header_value("x-ratelimit-reset-requests"),
        Some("1s")
    );
    assert!(json_of(&default)["error"]["message"]
        .as_str()
        .unwrap()
        .contains("Please try again in 1s."));

    let date = wire::rate_limited(Some("Wed, 21 Oct 2015 07:28:00 GMT"));
    assert_eq!(
        date.header_value("retry-after"),
        Some("Wed, 21 Oct 2015 07:28:00 GMT")
    );

    let ms = wire::rate_limited_ms(120);
    assert_eq!(ms.status(), Some(429));
    assert_eq!(ms.header_value("retry-after-ms"), Some("120"));
    assert_eq!(ms.header_value("retry-after"), None);
    assert_eq!(ms.header_value("x-ratelimit-reset-requests"), Some("120ms"));
    assert!(json_of(&ms)["error"]["message"]
        .as_str()
        .unwrap()
        .contains("Please try again in 120ms."));
}

#[test]
fn openai_errors_are_exact() {
    let cases = [
        (
            wire::insufficient_quota(),
            429,
            json!({"error": {"message": "You exceeded your current quota, please check your plan and billing details.", "type": "insufficient_quota", "param": null, "code": "insufficient_quota"}}),
        ),
        (
            wire::invalid_api_key(),
            401,
            json!({"error": {"message": "Incorrect API key provided: sk-abc***xyz. You can find your API key at https://platform.openai.com/account/api-keys.", "type": "invalid_request_error", "param": null, "code": "invalid_api_key"}}),
        ),
        (
            wire::server_error(503),
            503,
            json!({"error": {"message": "The server had an error while processing your request. Sorry about that!", "type": "server_error", "param": null, "code": null}}),
        ),
        (
            wire::model_not_found("gpt-9"),
            404,
            json!({"error": {"message": "The model `gpt-9` does not exist or you do not have access to it.", "type": "invalid_request_error", "param": null, "code": "model_not_found"}}),
        ),
    ];
    for (answer, status, expected) in cases {
        assert_eq!(answer.status(), Some(status));
        assert_eq!(
            answer.header_value("content-type"),
            Some("application/json")
        );
        let body = json_of(&answer);
        assert_eq!(body, expected);
        assert_eq!(keys(&body["error"]), ["message", "type", "param", "code"]);
    }
}

#[test]
fn html_502_is_an_nginx_page() {
    let answer = wire::html_502();
    assert_eq!(answer.status(), Some(502));
    assert_eq!(answer.header_value("content-type"), Some("text/html"));
    let page = std::str::from_utf8(answer.body().unwrap()).unwrap();
    assert!(page.starts_with("<html>"));
    assert!(page.contains("<title>502 Bad Gateway</title>"));
    assert!(page.contains("<center>nginx</center>"));
    assert_eq!(answer.json_body(), None);
}

#[tokio::test]
async fn wire_answers_arrive_intact_over_http() {
    let server = TestServer::start().await.unwrap();
    let answers = [
        wire::completion("gpt-4o-mini", "ok"),
        Completion::new("llama-3.3-70b-versatile", "ok")
            .groq()
            .into_response(),
        wire::groq_json_validate_failed("{"),
        wire::rate_limited(Some("2")),
        wire::rate_limited_ms(250),
        wire::insufficient_quota(),
        wire::invalid_api_key(),
        wire::server_error(500),
        wire::html_502(),
        wire::model_not_found("nope"),
    ];
    server.push_many(answers.iter().cloned());
    let client = reqwest::Client::new();
    for answer in &answers {
        let response = client
            .post(format!("{}/chat/completions", server.url()))
            .body("{}")
            .send()
            .await
            .unwrap();
        assert_eq!(Some(response.status().as_u16()), answer.status());
        if let Some(retry_after) = answer.header_value("retry-after") {
            assert_eq!(response.headers()["retry-after"], retry_after);
        }
        if let Some(retry_after_ms) = answer.header_value("retry-after-ms") {
            assert_eq!(response.headers()["retry-after-ms"], retry_after_ms);
        }
        assert_eq!(
            response.headers()["content-type"].to_str().unwrap(),
            answer.header_value("content-type").unwrap()
        );
        assert_eq!(response.bytes().await.unwrap(), answer.body().unwrap());
    }
}
