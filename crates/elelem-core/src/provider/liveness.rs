//! A stream's sign of life below the chunk level: SSE keep-alive comments
//! (`: OPENROUTER PROCESSING`), Anthropic `ping` events, any bytes the provider
//! sends while a slow model thinks. The transport beats it; the stream's idle
//! timer reads it, so a provider that keeps talking is not cut (and re-billed).

use std::sync::{Arc, Mutex};

use tokio::time::Instant;

/// When a stream's provider last sent anything, shared between the transport
/// (which beats it) and the idle timer (which reads it). Cloning shares it.
///
/// ```
/// let alive = elelem_core::provider::Liveness::default();
/// assert!(alive.last().is_none());
/// alive.clone().beat();
/// assert!(alive.last().is_some());
/// ```
#[derive(Debug, Clone, Default)]
pub struct Liveness(Arc<Mutex<Option<Instant>>>);

impl Liveness {
    /// The provider sent something just now.
    ///
    /// ```
    /// let alive = elelem_core::provider::Liveness::default();
    /// alive.beat();
    /// assert!(alive.last() <= Some(tokio::time::Instant::now()));
    /// ```
    pub fn beat(&self) {
        let now = Instant::now();
        // A poisoned lock only means another holder panicked mid-store of an
        // `Option<Instant>`, which cannot be left half-written.
        let mut last = self.0.lock().unwrap_or_else(|e| e.into_inner());
        *last = Some(now);
    }

    /// When the provider last sent something, if it ever did.
    ///
    /// ```
    /// assert!(elelem_core::provider::Liveness::default().last().is_none());
    /// ```
    pub fn last(&self) -> Option<Instant> {
        *self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}
