//! The JSON (or YAML) instruction of the last few schemas, written once: printing
//! a schema into the prompt costs more than comparing it with one seen before.

use std::collections::VecDeque;
use std::sync::{Arc, PoisonError, RwLock};

use serde_json::Value;

use super::validator::same_in_order;
use crate::provider::EscapedText;
use crate::types::ChatRequest;

/// How many instructions are kept (the most recently written ones).
const KEPT: usize = 8;

/// The instructions of the last few schemas, oldest first.
#[derive(Debug, Default)]
pub(crate) struct InstructionCache {
    kept: RwLock<VecDeque<Kept>>,
}

/// One instruction and what it was written for.
#[derive(Debug)]
struct Kept {
    yaml: bool,
    schema: Option<Value>,
    instruction: Arc<EscapedText>,
}

impl Kept {
    fn is_for(&self, yaml: bool, schema: Option<&Value>) -> bool {
        self.yaml == yaml
            && match (&self.schema, schema) {
                (Some(kept), Some(schema)) => same_in_order(kept, schema),
                (None, None) => true,
                _ => false,
            }
    }
}

impl InstructionCache {
    /// The instruction of `request` ([`structured_instruction`](super::structured_instruction)),
    /// taken from the cache when it was written for the same mode and the same
    /// schema, key for key in the same order (the order shows in the prompt);
    /// its JSON escape is written with it, once.
    pub fn instruction(&self, request: &ChatRequest) -> Arc<EscapedText> {
        let yaml = request.is_yaml_mode();
        // A prepared schema keeps its own (the request's schema is this one).
        match &request.json_schema {
            Some(prepared) => prepared.instruction(yaml, || self.written(request, yaml)),
            None => self.written(request, yaml),
        }
    }

    /// The instruction kept here for `request`, else written now and kept.
    fn written(&self, request: &ChatRequest, yaml: bool) -> Arc<EscapedText> {
        let schema = request.validation_schema();
        let read = self.kept.read().unwrap_or_else(PoisonError::into_inner);
        if let Some(kept) = read.iter().find(|kept| kept.is_for(yaml, schema)) {
            return Arc::clone(&kept.instruction);
        }
        drop(read);
        let instruction = Arc::new(EscapedText::new(super::structured_instruction(request)));
        let mut kept = self.kept.write().unwrap_or_else(PoisonError::into_inner);
        if kept.len() >= KEPT {
            kept.pop_front();
        }
        kept.push_back(Kept {
            yaml,
            schema: schema.cloned(),
            instruction: Arc::clone(&instruction),
        });
        instruction
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::types::{Message, ResponseFormat};

    fn request(schema: Value, format: ResponseFormat) -> ChatRequest {
        ChatRequest::new("p:m", vec![Message::user("hi")])
            .response_format(format)
            .json_schema(schema)
    }

    #[test]
    fn a_kept_instruction_is_the_one_written_for_the_same_schema_and_mode() {
        let cache = InstructionCache::default();
        let ab = json!({"type": "object", "properties": {"a": {}, "b": {}}});
        let ba = json!({"properties": {"b": {}, "a": {}}, "type": "object"});
        for (schema, format) in [
            (ab.clone(), ResponseFormat::JsonObject),
            (ab.clone(), ResponseFormat::Yaml),
            (ba.clone(), ResponseFormat::JsonObject),
            (ab, ResponseFormat::JsonObject),
            (ba, ResponseFormat::Yaml),
        ] {
            let request = request(schema, format);
            let written = crate::json::structured_instruction(&request);
            assert_eq!(cache.instruction(&request).text(), written);
        }
        assert_eq!(cache.kept.read().unwrap().len(), 4);
        let plain = ChatRequest::new("p:m", vec![Message::user("hi")])
            .response_format(ResponseFormat::JsonObject);
        assert_eq!(
            cache.instruction(&plain).text(),
            crate::json::structured_instruction(&plain)
        );
    }

    #[test]
    fn the_cache_keeps_only_the_latest_schemas() {
        let cache = InstructionCache::default();
        for i in 0..3 * KEPT {
            let request = request(json!({"maxLength": i}), ResponseFormat::JsonObject);
            assert!(cache.instruction(&request).text().contains(&format!("{i}")));
        }
        assert_eq!(cache.kept.read().unwrap().len(), KEPT);
    }
}
