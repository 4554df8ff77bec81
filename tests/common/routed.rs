//! What the routing tests share: three providers behind virtual models
//! (declared order OpenAI, GROQ, DeepInfra), and answers whose output token
//! counts make one provider fast and another slow.

use elelem::Elelem;
use elelem_testkit::wire::Completion;

use super::{json_request, Providers};

pub const JSON_ANSWER: &str = r#"{"name":"Alice","age":30}"#;

/// Declared: OpenAI (the dearest), GROQ, DeepInfra (the cheapest).
pub const VIRTUAL: &str = r#"
[[virtual_models]]
id = "virtual:routed"
candidates = [
  { model = "openai:gpt-4.1-mini" },
  { model = "groq:openai/gpt-oss-20b" },
  { model = "deepinfra:openai/gpt-oss-20b" },
]

[[virtual_models]]
id = "virtual:cheapest"
by = "cost"
always_last = ["deepinfra:openai/gpt-oss-20b"]
candidates = [
  { model = "openai:gpt-4.1-mini" },
  { model = "groq:openai/gpt-oss-20b" },
  { model = "deepinfra:openai/gpt-oss-20b" },
]
"#;

pub const GROQ: &str = "groq:openai/gpt-oss-20b";
pub const DEEPINFRA: &str = "deepinfra:openai/gpt-oss-20b";
pub const OPENAI: &str = "openai:gpt-4.1-mini";

pub const ALL: [&str; 3] = ["groq", "deepinfra", "openai"];

/// Every server answers `output` completion tokens from now on.
pub fn answer_with(p: &Providers, groq: u64, deepinfra: u64, openai: u64) {
    let answer = |model: &str, output: u64| {
        Completion::new(model, JSON_ANSWER)
            .usage(10, output)
            .into_response()
    };
    p.groq.set_fallback(answer("openai/gpt-oss-20b", groq));
    p.deepinfra
        .set_fallback(answer("openai/gpt-oss-20b", deepinfra));
    p.openai.set_fallback(answer("gpt-4.1-mini", openai));
}

pub async fn answered_by(elelem: &Elelem, model: &str) -> String {
    let response = elelem
        .create_chat_completion(json_request(model))
        .await
        .unwrap();
    response.elelem.answered_by
}
