//! OpenAI's model list shape, with Elelem's `available` flag.

use serde::{Deserialize, Serialize};

/// A list of models in OpenAI's `GET /v1/models` shape.
///
/// ```
/// let list = elelem_core::ModelList { object: "list".into(), data: vec![] };
/// assert_eq!(serde_json::to_string(&list).unwrap(), r#"{"object":"list","data":[]}"#);
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelList {
    /// Always `list`.
    pub object: String,
    /// The models, sorted by id.
    pub data: Vec<ModelInfo>,
}

/// One model of a [`ModelList`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelInfo {
    /// The `provider:model` id.
    pub id: String,
    /// Always `model`.
    pub object: String,
    /// A fixed creation time, as in the Python Elelem.
    pub created: u64,
    /// The provider.
    pub owned_by: String,
    /// Whether the provider's key is set, so the model can be called.
    pub available: bool,
}
