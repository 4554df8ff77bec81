//! Mistral: `random_seed` instead of `seed`, and usage streamed without asking.

use serde_json::{Map, Value};

use elelem_openai::Quirks;

/// Mistral's deviations: it refuses unknown fields, names the seed `random_seed`,
/// and sends the usage in its last stream chunk without `stream_options` (which
/// it would refuse).
///
/// ```
/// use elelem_openai::Quirks;
/// let mut body = serde_json::json!({"model": "mistral-small-latest", "seed": 7})
///     .as_object().unwrap().clone();
/// elelem_compat_clouds::MistralQuirks.adapt_request(&mut body);
/// assert_eq!(body.get("random_seed"), Some(&serde_json::json!(7)));
/// assert!(!body.contains_key("seed"));
/// assert!(!elelem_compat_clouds::MistralQuirks.stream_usage());
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct MistralQuirks;

impl Quirks for MistralQuirks {
    fn adapt_request(&self, body: &mut Map<String, Value>) {
        if let Some(seed) = body.remove("seed") {
            body.entry("random_seed").or_insert(seed);
        }
    }

    fn stream_usage(&self) -> bool {
        false
    }
}
