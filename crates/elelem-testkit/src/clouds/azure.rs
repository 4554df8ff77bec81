//! Azure OpenAI as it answers: OpenAI's shapes at
//! `/openai/deployments/{deployment}/chat/completions?api-version=...` and
//! `/openai/v1/chat/completions`, a 401 in Azure's shape for a wrong key, and
//! the content filter's refusals.

use serde_json::{json, Value};

use crate::{RecordedRequest, Responder, ScriptedResponse};

/// Azure's 401 for a missing or wrong `api-key`.
///
/// ```
/// let answer = elelem_testkit::clouds::azure::unauthorized();
/// assert_eq!(answer.status(), Some(401));
/// ```
pub fn unauthorized() -> ScriptedResponse {
    ScriptedResponse::json(
        401,
        json!({"error": {
            "code": "401",
            "message": "Access denied due to invalid subscription key or wrong API endpoint. Make sure to provide a valid key for an active subscription and use a correct regional API endpoint for your resource."
        }}),
    )
}

/// The content-filter verdicts of a prompt, `category` filtered.
fn filter_result(category: &str) -> Value {
    let mut result = json!({
        "hate": {"filtered": false, "severity": "safe"},
        "self_harm": {"filtered": false, "severity": "safe"},
        "sexual": {"filtered": false, "severity": "safe"},
        "violence": {"filtered": false, "severity": "safe"},
        "jailbreak": {"filtered": false, "detected": false}
    });
    result[category] = match category {
        "jailbreak" => json!({"filtered": true, "detected": true}),
        _ => json!({"filtered": true, "severity": "high"}),
    };
    result
}

/// Azure's 400 for a prompt its content filter refuses (`category`: `hate`,
/// `violence`, `jailbreak`, ...).
///
/// ```
/// let answer = elelem_testkit::clouds::azure::content_filter("violence");
/// assert_eq!(answer.json_body().unwrap()["error"]["code"], "content_filter");
/// ```
pub fn content_filter(category: &str) -> ScriptedResponse {
    ScriptedResponse::json(
        400,
        json!({"error": {
            "message": "The response was filtered due to the prompt triggering Azure OpenAI's content management policy. Please modify your prompt and retry. To learn more about our content filtering policies please read our documentation: https://go.microsoft.com/fwlink/?linkid=2198766",
            "type": null,
            "param": "prompt",
            "code": "content_filter",
            "status": 400,
            "innererror": {
                "code": "ResponsibleAIPolicyViolation",
                "content_filter_result": filter_result(category)
            }
        }}),
    )
}

/// A completion whose answer the filter cut: `finish_reason: content_filter`,
/// the choice's `content_filter_results` naming `category`.
///
/// ```
/// let answer = elelem_testkit::clouds::azure::filtered_answer("gpt-4o", "violence", 20, 0);
/// assert_eq!(answer.json_body().unwrap()["choices"][0]["finish_reason"], "content_filter");
/// ```
pub fn filtered_answer(model: &str, category: &str, input: u64, output: u64) -> ScriptedResponse {
    ScriptedResponse::json(
        200,
        json!({
            "id": "chatcmpl-azure-filtered",
            "object": "chat.completion",
            "created": 1_764_000_000,
            "model": model,
            "prompt_filter_results": [{"prompt_index": 0, "content_filter_results": filter_result("none")}],
            "choices": [{
                "index": 0,
                "message": {"role": "assistant", "content": null},
                "finish_reason": "content_filter",
                "content_filter_results": filter_result(category)
            }],
            "usage": {"prompt_tokens": input, "completion_tokens": output, "total_tokens": input + output}
        }),
    )
}

/// Azure's first stream chunk: no choices, the prompt's filter results.
///
/// ```
/// let chunk = elelem_testkit::clouds::azure::prompt_filter_chunk();
/// assert_eq!(chunk["choices"], serde_json::json!([]));
/// ```
pub fn prompt_filter_chunk() -> Value {
    json!({
        "choices": [], "created": 0, "id": "", "model": "", "object": "",
        "prompt_filter_results": [{"prompt_index": 0, "content_filter_results": {
            "hate": {"filtered": false, "severity": "safe"},
            "self_harm": {"filtered": false, "severity": "safe"},
            "sexual": {"filtered": false, "severity": "safe"},
            "violence": {"filtered": false, "severity": "safe"}
        }}]
    })
}

/// Whether `request` is on one of Azure's chat routes.
fn is_chat_route(request: &RecordedRequest) -> bool {
    let path = request.path.as_str();
    let deployment = path
        .strip_prefix("/openai/deployments/")
        .and_then(|rest| rest.strip_suffix("/chat/completions"))
        .is_some_and(|d| !d.is_empty() && !d.contains('/'));
    let versioned = request.query.as_deref().is_some_and(|q| {
        q.split('&')
            .any(|p| p.starts_with("api-version=") && p.len() > 12)
    });
    (deployment && versioned) || path == "/openai/v1/chat/completions"
}

/// Azure's checks: a request must be on a chat route (a deployment route needs
/// its `api-version`; else 404) and carry `api-key: {key}` or
/// `Authorization: Bearer {key}` for one of `keys` (else [`unauthorized`]).
///
/// ```
/// use elelem_testkit::{clouds::azure, RecordedRequest};
/// let check = azure::credentials_check(&["k-1"]);
/// let mut ok = RecordedRequest::new("POST", "/openai/deployments/gpt-4o/chat/completions", [("api-key", "k-1")], "");
/// ok.query = Some("api-version=2024-10-21".into());
/// assert!(check.answer(&ok).is_none());
/// let wrong = RecordedRequest::new("POST", "/openai/v1/chat/completions", [("api-key", "nope")], "");
/// assert_eq!(check.answer(&wrong).unwrap().status(), Some(401));
/// ```
pub fn credentials_check(keys: &[&str]) -> Responder {
    let keys: Vec<String> = keys.iter().map(|k| (*k).to_owned()).collect();
    Responder::new(move |request| {
        if !is_chat_route(request) {
            return Some(ScriptedResponse::json(
                404,
                json!({"error": {"code": "404", "message": "Resource not found"}}),
            ));
        }
        let bearer = request
            .header("authorization")
            .and_then(|v| v.strip_prefix("Bearer "));
        let presented = request.header("api-key").or(bearer);
        match presented {
            Some(key) if keys.iter().any(|k| k == key) => None,
            _ => Some(unauthorized()),
        }
    })
}
