//! The targets model ids resolved to, kept for the next call: the catalogue and
//! the providers never change once the client is built, so a `provider:model` id
//! that resolved once resolves to the same model entry and provider again.
//!
//! Resolving walks the catalogue's provider and model maps and the provider
//! slots, whose memory is cold by the next call (about 1,200 instructions and a
//! hundred cache misses per call); a hit here is one hash and two reference
//! counts. Only successes are kept (an error is made again, with its reason),
//! and at most [`MAX_RESOLVED`] ids, so a caller naming a new model on every call
//! (a provider that takes unknown models) cannot grow it without bound.

use std::sync::{PoisonError, RwLock};

use foldhash::HashMap;

use super::plan::Target;

/// The most model ids kept; later ones are resolved on every call.
pub(crate) const MAX_RESOLVED: usize = 1024;

/// Resolved targets by model id. A read lock per call: calls on many threads
/// read it at once, and only an id's first resolution writes.
#[derive(Default)]
pub(crate) struct ResolvedTargets(RwLock<HashMap<Box<str>, Target>>);

impl ResolvedTargets {
    /// The target `id` resolved to before, if it is kept.
    pub fn get(&self, id: &str) -> Option<Target> {
        let known = self.0.read().unwrap_or_else(PoisonError::into_inner);
        known.get(id).cloned()
    }

    /// Keeps what `id` resolved to, while there is room.
    pub fn keep(&self, id: &str, target: &Target) {
        let mut known = self.0.write().unwrap_or_else(PoisonError::into_inner);
        if known.len() < MAX_RESOLVED {
            known.insert(id.into(), target.clone());
        }
    }

    /// How many ids are kept.
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.0.read().unwrap_or_else(PoisonError::into_inner).len()
    }
}

/// The model ids kept (not the targets: a provider prints its settings).
impl std::fmt::Debug for ResolvedTargets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let known = self.0.read().unwrap_or_else(PoisonError::into_inner);
        f.debug_set().entries(known.keys()).finish()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use std::sync::Arc;

    use async_trait::async_trait;

    use super::MAX_RESOLVED;
    use crate::client::engine::target;
    use crate::provider::{Provider, ProviderError, ProviderResponse, WireRequest};
    use crate::{Elelem, ElelemError};

    #[derive(Debug)]
    struct Silent;

    #[async_trait]
    impl Provider for Silent {
        async fn chat_completion(&self, _: WireRequest) -> Result<ProviderResponse, ProviderError> {
            Err(ProviderError::Unsupported { operation: "chat" })
        }
    }

    fn client() -> Elelem {
        Elelem::builder()
            .provider("p", Arc::new(Silent))
            .models_toml(
                "t",
                "[provider]\nname = 'p'\nbase_url = 'http://127.0.0.1:1/v1'\nallow_unknown_models = true\n\
                 [[models]]\nid = 'p:m'\nprice = { input = '1', output = '2' }\n\
                 capabilities = { reasoning = true, reasoning_effort = true }\n",
            )
            .build()
            .unwrap()
    }

    #[test]
    fn an_id_resolves_once_to_the_same_model_and_provider() {
        let elelem = client();
        let inner = &elelem.inner;
        let first = target(inner, "p:m").unwrap();
        let again = target(inner, "p:m").unwrap();
        assert!(Arc::ptr_eq(&first.model, &again.model));
        assert!(Arc::ptr_eq(&first.provider, &again.provider));
        assert_eq!(first.model.id, "p:m");
        // A variant is its own entry, kept under its own id.
        let low = target(inner, "p:m?reasoning=low").unwrap();
        assert_eq!(low.model.default_params["reasoning_effort"], "low");
        let low_again = target(inner, "p:m?reasoning=low").unwrap();
        assert!(Arc::ptr_eq(&low.model, &low_again.model));
        assert!(!Arc::ptr_eq(&low.model, &first.model));
        assert_eq!(inner.providers.resolved.len(), 2);
    }

    #[test]
    fn errors_are_made_again_and_not_kept() {
        let elelem = client();
        let inner = &elelem.inner;
        for _ in 0..2 {
            assert!(matches!(
                target(inner, "q:m"),
                Err(ElelemError::UnknownProvider { .. })
            ));
            assert!(matches!(
                target(inner, "p:m?reasoning=lots"),
                Err(ElelemError::InvalidRequest { .. })
            ));
        }
        assert_eq!(inner.providers.resolved.len(), 0);
    }

    #[test]
    fn new_ids_on_every_call_keep_at_most_the_limit() {
        let elelem = client();
        let inner = &elelem.inner;
        for i in 0..MAX_RESOLVED + 10 {
            let id = format!("p:unlisted-{i}");
            assert_eq!(target(inner, &id).unwrap().model.id, id);
        }
        assert_eq!(inner.providers.resolved.len(), MAX_RESOLVED);
        // Past the limit an id still resolves, every time.
        let last = format!("p:unlisted-{}", MAX_RESOLVED + 9);
        assert_eq!(target(inner, &last).unwrap().model.id, last);
    }
}
