//! JSON mode: think-tag removal, JSON extraction, schema validation and the prompt
//! text that asks for JSON.

mod extract;
mod instruction_cache;
mod instructions;
mod repair;
mod schema;
mod think;
mod typed;
mod validator;
mod yaml;

pub use extract::{extract_json, parse_json_answer, JsonAnswerError};
pub(crate) use instruction_cache::InstructionCache;
pub use instructions::{json_instruction, retry_feedback};
pub use repair::repair_json;
pub use schema::JsonSchema;
pub use think::{
    remove_think_tags, split_think, split_think_with, ThinkDelta, ThinkPolicy, ThinkSplit,
    ThinkSplitter,
};
pub use typed::TypedSchema;
pub use validator::{SchemaCache, SchemaError, SchemaViolations};
pub use yaml::{parse_yaml_answer, structured_instruction, yaml_instruction, YamlAnswerError};
