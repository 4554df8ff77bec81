//! Mistral: `random_seed` instead of `seed`, and usage streamed without asking.

use elelem_core::provider::WireRequest;
use elelem_openai::Quirks;

/// Mistral's deviations: it refuses unknown fields, names the seed `random_seed`,
/// and sends the usage in its last stream chunk without `stream_options` (which
/// it would refuse).
///
/// ```
/// use elelem_openai::Quirks;
/// let mut body = elelem_core::provider::WireRequest::new(
///     serde_json::json!({"model": "mistral-small-latest", "seed": 7}).as_object().unwrap().clone(),
/// );
/// elelem_compat_clouds::MistralQuirks.adapt_request(&mut body);
/// assert_eq!(body.get("random_seed"), Some(serde_json::json!(7)));
/// assert!(body.get("seed").is_none());
/// assert!(!elelem_compat_clouds::MistralQuirks.stream_usage());
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct MistralQuirks;

impl Quirks for MistralQuirks {
    fn adapt_request(&self, body: &mut WireRequest) {
        if let Some(seed) = body.remove("seed") {
            if body.get("random_seed").is_none() {
                body.set("random_seed", seed);
            }
        }
    }

    fn stream_usage(&self) -> bool {
        false
    }
}
