//! The portable extended-thinking setting: `{"type": "enabled", "budget_tokens": n}`
//! (Anthropic's shape), also read from `{"enabled": true, "budget_tokens": n}`.

use serde_json::{json, Value};

/// The smallest thinking budget Anthropic accepts; smaller budgets are refused
/// before anything is sent.
pub const MIN_THINKING_BUDGET: u32 = 1024;

/// The wire value of a thinking budget.
pub(crate) fn enabled(budget_tokens: u32) -> Value {
    json!({"type": "enabled", "budget_tokens": budget_tokens})
}

/// The budget of a `thinking` value in either accepted shape; `None` when thinking
/// is off or the value has neither shape.
pub(crate) fn budget_of(thinking: &Value) -> Option<u64> {
    let on = thinking.get("type").and_then(Value::as_str) == Some("enabled")
        || thinking.get("enabled").and_then(Value::as_bool) == Some(true);
    if !on {
        return None;
    }
    thinking.get("budget_tokens").and_then(Value::as_u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_shapes_give_the_budget() {
        assert_eq!(budget_of(&enabled(2048)), Some(2048));
        assert_eq!(
            budget_of(&json!({"enabled": true, "budget_tokens": 4000})),
            Some(4000)
        );
        assert_eq!(
            budget_of(&json!({"enabled": false, "budget_tokens": 4000})),
            None
        );
        assert_eq!(budget_of(&json!({"type": "disabled"})), None);
    }
}
