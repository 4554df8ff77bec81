//! User-defined checks on a JSON answer, run after schema validation.

use std::fmt;
use std::sync::Arc;

use serde_json::Value;

/// The function behind an [`AnswerCheck`].
type CheckFn = dyn Fn(&Value) -> Result<(), String> + Send + Sync;

/// A check on the parsed JSON answer, joined to schema validation: when it returns
/// `Err(message)`, the answer is rejected like a schema violation (counted in
/// `json_schema_retries`) and `message` is fed back to the model on the retry.
///
/// Attach one with [`ChatRequest::check`](crate::ChatRequest::check). A check runs
/// on every answer of the call, and again on an answer found in the response cache
/// (which is ignored if it no longer passes).
///
/// ```
/// use elelem_core::AnswerCheck;
/// use serde_json::json;
///
/// let adult = AnswerCheck::new(|v| match v["age"].as_u64() {
///     Some(age) if age >= 18 => Ok(()),
///     _ => Err("`age` must be at least 18".to_owned()),
/// });
/// assert!(adult.run(&json!({"age": 30})).is_ok());
/// assert_eq!(adult.run(&json!({"age": 3})).unwrap_err(), "`age` must be at least 18");
/// ```
#[derive(Clone)]
pub struct AnswerCheck {
    check: Arc<CheckFn>,
}

impl AnswerCheck {
    /// Wraps a function returning `Err(message for the model)` for a bad answer.
    pub fn new<F>(check: F) -> Self
    where
        F: Fn(&Value) -> Result<(), String> + Send + Sync + 'static,
    {
        AnswerCheck {
            check: Arc::new(check),
        }
    }

    /// Runs the check on an answer.
    ///
    /// ```
    /// let always = elelem_core::AnswerCheck::new(|_| Ok(()));
    /// assert!(always.run(&serde_json::json!(null)).is_ok());
    /// ```
    pub fn run(&self, answer: &Value) -> Result<(), String> {
        (self.check)(answer)
    }
}

impl fmt::Debug for AnswerCheck {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AnswerCheck(..)")
    }
}

/// Two checks are equal when they are the same function (clones of one check).
impl PartialEq for AnswerCheck {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.check, &other.check)
    }
}
