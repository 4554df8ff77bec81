//! The request's own checks on a JSON answer, run after schema validation.

use super::answer::{Answer, Rejection};
use crate::types::AnswerCheck;

/// Runs `checks` in order on a validated answer's JSON; the first failure rejects
/// the answer with the check's message (and the answer text, for the feedback).
pub(crate) fn apply(answer: Answer, checks: &[AnswerCheck]) -> Result<Answer, (String, Rejection)> {
    let Some(json) = answer.json.as_ref() else {
        return Ok(answer);
    };
    for check in checks {
        if let Err(message) = check.run(json) {
            let text = answer.content.clone().unwrap_or_default();
            return Err((text, Rejection::Check(message)));
        }
    }
    Ok(answer)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn answer(value: serde_json::Value) -> Answer {
        Answer {
            content: Some(value.to_string()),
            reasoning: None,
            json: Some(value),
            repaired: false,
        }
    }

    #[test]
    fn the_first_failing_check_rejects_with_its_message() {
        let positive = AnswerCheck::new(|v| {
            if v["n"].as_i64().is_some_and(|n| n > 0) {
                Ok(())
            } else {
                Err("`n` must be positive".into())
            }
        });
        let even = AnswerCheck::new(|v| {
            if v["n"].as_i64().is_some_and(|n| n % 2 == 0) {
                Ok(())
            } else {
                Err("`n` must be even".into())
            }
        });
        let checks = [positive, even];
        assert!(apply(answer(json!({"n": 2})), &checks).is_ok());
        let (text, why) = apply(answer(json!({"n": -3})), &checks).unwrap_err();
        assert_eq!(text, r#"{"n":-3}"#);
        assert_eq!(why, Rejection::Check("`n` must be positive".into()));
        let (_, why) = apply(answer(json!({"n": 3})), &checks).unwrap_err();
        assert_eq!(why, Rejection::Check("`n` must be even".into()));
        let text_answer = Answer {
            content: Some("hi".into()),
            reasoning: None,
            json: None,
            repaired: false,
        };
        assert!(apply(text_answer, &checks).is_ok());
    }
}
