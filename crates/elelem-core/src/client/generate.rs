//! Typed structured output: answers deserialized into Rust types whose JSON schema
//! is derived with `schemars`.

use schemars::JsonSchema;
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::elelem::Elelem;
use crate::error::{AttemptError, AttemptProblem, ElelemError};
use crate::json::TypedSchema;
use crate::money::Usd;
use crate::types::{ChatCompletion, ChatRequest, ResponseFormat};

/// A typed answer, with the completion it came from (usage, cost, attempts).
///
/// ```
/// use elelem_core::{ChatCompletion, Generated};
/// let completion: ChatCompletion = serde_json::from_str(r#"{"choices":[]}"#).unwrap();
/// let generated = Generated { value: 42u8, completion };
/// assert_eq!(generated.cost(), elelem_core::Usd::ZERO);
/// assert_eq!(generated.into_value(), 42);
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Generated<T> {
    /// The answer.
    pub value: T,
    /// The completion (its content is the answer's JSON text).
    pub completion: ChatCompletion,
}

impl<T> Generated<T> {
    /// The exact cost of the call, every attempt included (zero for a cache hit).
    pub fn cost(&self) -> Usd {
        self.completion.elelem.cost
    }

    /// The answer alone.
    pub fn into_value(self) -> T {
        self.value
    }
}

/// The short name of a type, for messages to the model.
fn short_type_name<T: ?Sized>() -> &'static str {
    let full = std::any::type_name::<T>();
    let base = full.split('<').next().unwrap_or(full);
    base.rsplit("::").next().unwrap_or(base)
}

impl Elelem {
    /// Asks for an answer of type `T`: the JSON schema is derived from `T`
    /// (`schemars`, draft-07), sent as a `json_schema` response format (strict
    /// where the schema allows it) to models that support one, given as
    /// instructions to the others, and enforced everywhere by local validation and
    /// the retry ladder. An answer that validates but does not deserialize into `T`
    /// is rejected like a schema violation: the serde error is fed back to the
    /// model and the call retried (counted in `json_schema_retries`).
    ///
    /// The request's own response format and schema are replaced; its checks
    /// ([`ChatRequest::check`]) still apply. `T` should be a struct (a JSON object),
    /// which native JSON modes require.
    ///
    /// ```no_run
    /// # async fn demo(elelem: elelem_core::Elelem) -> Result<(), elelem_core::ElelemError> {
    /// use elelem_core::{ChatRequest, Message};
    ///
    /// #[derive(Debug, serde::Deserialize, schemars::JsonSchema)]
    /// enum Mood { Happy, Sad }
    ///
    /// #[derive(Debug, serde::Deserialize, schemars::JsonSchema)]
    /// struct Review { stars: u8, mood: Mood, summary: Option<String> }
    ///
    /// let request = ChatRequest::new("openai:gpt-4.1-mini", vec![Message::user("Loved it! 5/5")]);
    /// let review = elelem.generate::<Review>(request).await?;
    /// println!("{:?} for {}", review.value, review.cost());
    /// # Ok(()) }
    /// ```
    pub async fn generate<T>(&self, request: ChatRequest) -> Result<Generated<T>, ElelemError>
    where
        T: DeserializeOwned + JsonSchema + 'static,
    {
        let schema = TypedSchema::of::<T>();
        let type_name = short_type_name::<T>();
        let request = request
            .response_format(ResponseFormat::JsonSchema {
                name: schema.name,
                schema: schema.wire,
                strict: schema.strict.then_some(true),
            })
            .json_schema(schema.validation)
            .check(move |value| {
                T::deserialize(value)
                    .map(drop)
                    .map_err(|e| format!("the JSON cannot be read as a {type_name}: {e}"))
            });
        let completion = self.create_chat_completion(request).await?;
        let model = completion.elelem.answered_by.clone();
        let value = completion
            .elelem
            .json
            .as_ref()
            .ok_or_else(|| "the answer holds no JSON".to_owned())
            .and_then(|json| T::deserialize(json).map_err(|e| e.to_string()));
        match value {
            Ok(value) => Ok(Generated { value, completion }),
            Err(reason) => Err(ElelemError::InvalidJson {
                model: model.clone(),
                attempts: vec![AttemptError {
                    model,
                    temperature: None,
                    problem: AttemptProblem::Check(reason),
                }],
            }),
        }
    }

    /// Asks for a JSON answer and returns it parsed. JSON mode is turned on
    /// (`json_object`) unless the request already asks for JSON; a schema or checks
    /// on the request apply as usual.
    ///
    /// ```no_run
    /// # async fn demo(elelem: elelem_core::Elelem) -> Result<(), elelem_core::ElelemError> {
    /// use elelem_core::{ChatRequest, Message};
    /// let request = ChatRequest::new("groq:openai/gpt-oss-20b", vec![Message::user("Alice is 30")])
    ///     .json_schema(serde_json::json!({"type": "object", "required": ["name", "age"]}));
    /// let value = elelem.generate_json(request).await?;
    /// println!("{}", value["name"]);
    /// # Ok(()) }
    /// ```
    pub async fn generate_json(&self, request: ChatRequest) -> Result<Value, ElelemError> {
        let request = if request.is_json_mode() {
            request
        } else {
            request.response_format(ResponseFormat::JsonObject)
        };
        let completion = self.create_chat_completion(request).await?;
        let model = completion.elelem.answered_by.clone();
        completion
            .elelem
            .json
            .ok_or_else(|| ElelemError::InvalidJson {
                model: model.clone(),
                attempts: vec![AttemptError {
                    model,
                    temperature: None,
                    problem: AttemptProblem::JsonParse("the answer holds no JSON".into()),
                }],
            })
    }
}
