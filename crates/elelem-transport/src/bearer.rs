//! Providers whose credential is a short-lived bearer token (Vertex AI's OAuth
//! token minted from a service-account key, an Entra ID token for Azure OpenAI):
//! a [`TokenSource`] fetches tokens, a [`TokenCache`] keeps the current one and
//! refreshes it before it expires (one fetch in flight, concurrent callers wait
//! for it), and [`BearerMapped`] serves a [`Mapping`] built for the current token.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;

use elelem_core::provider::{
    Provider, ProviderError, ProviderErrorKind, ProviderResponse, ProviderSettings, ProviderStream,
    WireRequest,
};
use elelem_core::{ApiKey, ElelemError, ModelList};

use crate::{Mapped, Mapping};

/// A bearer token and the moment it stops being valid (`None`: never known to
/// expire).
#[derive(Clone)]
pub struct BearerToken {
    /// The token (sent after `Bearer `).
    pub token: ApiKey,
    /// When the token expires, if known.
    pub expires_at: Option<Instant>,
}

impl std::fmt::Debug for BearerToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BearerToken")
            .field("token", &self.token)
            .field("expires_at", &self.expires_at)
            .finish()
    }
}

/// Where bearer tokens come from: each call fetches a new one (a token exchange,
/// a callback); [`TokenCache`] decides when to call.
///
/// ```
/// use elelem_core::provider::ProviderError;
/// use elelem_transport::{BearerToken, TokenSource};
///
/// #[derive(Debug)]
/// struct Fixed;
///
/// #[async_trait::async_trait]
/// impl TokenSource for Fixed {
///     async fn fetch(&self) -> Result<BearerToken, ProviderError> {
///         Ok(BearerToken { token: "t-1".into(), expires_at: None })
///     }
/// }
/// ```
#[async_trait]
pub trait TokenSource: Send + Sync + std::fmt::Debug + 'static {
    /// A fresh token.
    async fn fetch(&self) -> Result<BearerToken, ProviderError>;
}

/// How long before its expiry a token is replaced (Google's tokens live an
/// hour; five minutes leaves room for slow clocks and long requests).
pub const DEFAULT_REFRESH_MARGIN: Duration = Duration::from_secs(300);

/// The current token of a [`TokenSource`], fetched on first use and again once
/// it is within the refresh margin of its expiry. One fetch at a time: callers
/// arriving while a fetch is in flight wait for its token.
///
/// ```
/// # use elelem_core::provider::ProviderError;
/// # use elelem_transport::{BearerToken, TokenCache, TokenSource};
/// # #[derive(Debug)] struct Fixed;
/// # #[async_trait::async_trait]
/// # impl TokenSource for Fixed {
/// #     async fn fetch(&self) -> Result<BearerToken, ProviderError> {
/// #         Ok(BearerToken { token: "t-1".into(), expires_at: None })
/// #     }
/// # }
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let cache = TokenCache::new(std::sync::Arc::new(Fixed));
/// assert_eq!(cache.token().await.unwrap().expose(), "t-1");
/// # });
/// ```
#[derive(Debug)]
pub struct TokenCache {
    source: Arc<dyn TokenSource>,
    margin: Duration,
    current: tokio::sync::Mutex<Option<BearerToken>>,
}

impl TokenCache {
    /// A cache over `source` with the [`DEFAULT_REFRESH_MARGIN`].
    pub fn new(source: Arc<dyn TokenSource>) -> Self {
        TokenCache {
            source,
            margin: DEFAULT_REFRESH_MARGIN,
            current: tokio::sync::Mutex::new(None),
        }
    }

    /// Replaces tokens this long before they expire.
    pub fn with_margin(mut self, margin: Duration) -> Self {
        self.margin = margin;
        self
    }

    /// The current token, fetched first when there is none or it is about to
    /// expire.
    pub async fn token(&self) -> Result<ApiKey, ProviderError> {
        let mut current = self.current.lock().await;
        if let Some(token) = current.as_ref().filter(|t| self.is_fresh(t)) {
            return Ok(token.token.clone());
        }
        tracing::debug!("fetching a new bearer token");
        let token = self.source.fetch().await?;
        let key = token.token.clone();
        *current = Some(token);
        Ok(key)
    }

    /// Forgets the current token (the server refused it), so the next call
    /// fetches a new one; a newer token than `refused` is kept.
    pub async fn forget(&self, refused: &ApiKey) {
        let mut current = self.current.lock().await;
        if current
            .as_ref()
            .is_some_and(|t| t.token.expose() == refused.expose())
        {
            *current = None;
        }
    }

    fn is_fresh(&self, token: &BearerToken) -> bool {
        match token.expires_at {
            None => true,
            Some(at) => Instant::now()
                .checked_add(self.margin)
                .is_some_and(|deadline| deadline < at),
        }
    }
}

/// Builds the mapping for one token: the settings carry the token as `api_key`
/// (so the client sends it and redacts it from errors).
pub type MappingBuilder<M> = Arc<dyn Fn(ProviderSettings) -> Result<M, ElelemError> + Send + Sync>;

/// A [`Provider`] for a [`Mapping`] authenticated by bearer tokens: each call
/// takes the cache's current token and uses the mapping built for it (rebuilt
/// only when the token changes). A 401 or 403 drops the token, so the next
/// attempt fetches a new one.
///
/// ```no_run
/// # fn demo<M: elelem_transport::Mapping>(
/// #     settings: elelem_core::provider::ProviderSettings,
/// #     source: std::sync::Arc<dyn elelem_transport::TokenSource>,
/// #     build: elelem_transport::MappingBuilder<M>,
/// # ) {
/// let provider = elelem_transport::BearerMapped::new(
///     settings,
///     std::sync::Arc::new(elelem_transport::TokenCache::new(source)),
///     build,
/// );
/// # let _ = provider;
/// # }
/// ```
pub struct BearerMapped<M> {
    settings: ProviderSettings,
    tokens: Arc<TokenCache>,
    build: MappingBuilder<M>,
    current: Mutex<Option<(ApiKey, Arc<Mapped<M>>)>>,
}

impl<M> std::fmt::Debug for BearerMapped<M> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BearerMapped")
            .field("provider", &self.settings.name)
            .field("base_url", &self.settings.base_url)
            .finish_non_exhaustive()
    }
}

impl<M: Mapping> BearerMapped<M> {
    /// The provider for mappings built by `build` from `settings` and the
    /// current token of `tokens` (which several providers may share).
    pub fn new(
        settings: ProviderSettings,
        tokens: Arc<TokenCache>,
        build: MappingBuilder<M>,
    ) -> Self {
        BearerMapped {
            settings,
            tokens,
            build,
            current: Mutex::new(None),
        }
    }

    /// The mapped provider for the current token.
    async fn mapped(&self) -> Result<(ApiKey, Arc<Mapped<M>>), ProviderError> {
        let token = self.tokens.token().await?;
        if let Ok(current) = self.current.lock() {
            if let Some((key, mapped)) = current.as_ref() {
                if key.expose() == token.expose() {
                    return Ok((token, mapped.clone()));
                }
            }
        }
        let settings = ProviderSettings {
            api_key: Some(token.clone()),
            ..self.settings.clone()
        };
        let mapped = Arc::new(Mapped::new((self.build)(settings).map_err(|e| {
            ProviderError::Credentials {
                provider: self.settings.name.clone(),
                reason: e.to_string(),
            }
        })?));
        if let Ok(mut current) = self.current.lock() {
            *current = Some((token.clone(), mapped.clone()));
        }
        Ok((token, mapped))
    }

    /// Drops a token the server refused.
    async fn checked<T>(
        &self,
        token: &ApiKey,
        result: Result<T, ProviderError>,
    ) -> Result<T, ProviderError> {
        if let Err(ProviderError::Http(error)) = &result {
            if error.kind == ProviderErrorKind::Authentication {
                self.tokens.forget(token).await;
            }
        }
        result
    }
}

#[async_trait]
impl<M: Mapping> Provider for BearerMapped<M> {
    async fn chat_completion(
        &self,
        request: WireRequest,
    ) -> Result<ProviderResponse, ProviderError> {
        let (token, mapped) = self.mapped().await?;
        let result = mapped.chat_completion(request).await;
        self.checked(&token, result).await
    }

    async fn chat_completion_stream(
        &self,
        request: WireRequest,
    ) -> Result<ProviderStream, ProviderError> {
        let (token, mapped) = self.mapped().await?;
        let result = mapped.chat_completion_stream(request).await;
        self.checked(&token, result).await
    }

    async fn list_models(&self) -> Result<ModelList, ProviderError> {
        let (token, mapped) = self.mapped().await?;
        let result = mapped.list_models().await;
        self.checked(&token, result).await
    }
}

/// A provider whose credentials or settings are missing: every call fails with
/// [`ProviderError::Credentials`] saying what to set, and nothing is sent. Lets a
/// plugin whose configuration is incomplete build anyway, so that only calls to
/// it fail, not the whole client.
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// use elelem_core::provider::{Provider, ProviderError};
/// let provider = elelem_transport::Unconfigured::new("vertex", "set GOOGLE_APPLICATION_CREDENTIALS");
/// let error = provider.list_models().await.unwrap_err();
/// assert!(matches!(error, ProviderError::Credentials { .. }));
/// # });
/// ```
#[derive(Debug, Clone)]
pub struct Unconfigured {
    provider: String,
    reason: String,
}

impl Unconfigured {
    /// A provider `provider` failing every call because of `reason`.
    pub fn new(provider: impl Into<String>, reason: impl Into<String>) -> Self {
        Unconfigured {
            provider: provider.into(),
            reason: reason.into(),
        }
    }

    fn error(&self) -> ProviderError {
        ProviderError::Credentials {
            provider: self.provider.clone(),
            reason: self.reason.clone(),
        }
    }
}

#[async_trait]
impl Provider for Unconfigured {
    async fn chat_completion(&self, _: WireRequest) -> Result<ProviderResponse, ProviderError> {
        Err(self.error())
    }

    async fn chat_completion_stream(
        &self,
        _: WireRequest,
    ) -> Result<ProviderStream, ProviderError> {
        Err(self.error())
    }

    async fn list_models(&self) -> Result<ModelList, ProviderError> {
        Err(self.error())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::sync::atomic::{AtomicU32, Ordering};

    use super::*;

    /// Counts fetches; each token is `t-N`, valid for `lifetime`.
    #[derive(Debug)]
    struct Counting {
        fetches: AtomicU32,
        lifetime: Duration,
    }

    #[async_trait]
    impl TokenSource for Counting {
        async fn fetch(&self) -> Result<BearerToken, ProviderError> {
            let n = self.fetches.fetch_add(1, Ordering::SeqCst) + 1;
            tokio::time::sleep(Duration::from_millis(20)).await;
            Ok(BearerToken {
                token: ApiKey::new(format!("t-{n}")),
                expires_at: Some(Instant::now() + self.lifetime),
            })
        }
    }

    fn counting(lifetime: Duration) -> Arc<Counting> {
        Arc::new(Counting {
            fetches: AtomicU32::new(0),
            lifetime,
        })
    }

    #[tokio::test]
    async fn concurrent_callers_share_one_fetch() {
        let source = counting(Duration::from_secs(3600));
        let cache = Arc::new(TokenCache::new(source.clone()));
        let calls = (0..16).map(|_| {
            let cache = cache.clone();
            tokio::spawn(async move { cache.token().await.unwrap() })
        });
        for call in calls {
            assert_eq!(call.await.unwrap().expose(), "t-1");
        }
        assert_eq!(source.fetches.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn a_token_near_its_expiry_is_replaced() {
        let source = counting(Duration::from_secs(60));
        let cache = TokenCache::new(source.clone()).with_margin(Duration::from_secs(30));
        assert_eq!(cache.token().await.unwrap().expose(), "t-1");
        assert_eq!(cache.token().await.unwrap().expose(), "t-1");
        let cache = cache.with_margin(Duration::from_secs(90));
        assert_eq!(cache.token().await.unwrap().expose(), "t-2");
        assert_eq!(source.fetches.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn a_refused_token_is_forgotten_but_a_newer_one_kept() {
        let source = counting(Duration::from_secs(3600));
        let cache = TokenCache::new(source.clone());
        let first = cache.token().await.unwrap();
        cache.forget(&first).await;
        let second = cache.token().await.unwrap();
        assert_eq!(second.expose(), "t-2");
        cache.forget(&first).await;
        assert_eq!(cache.token().await.unwrap().expose(), "t-2");
    }

    #[test]
    fn debug_never_shows_the_token() {
        let token = BearerToken {
            token: ApiKey::new("ya29.secret-token"),
            expires_at: None,
        };
        assert!(!format!("{token:?}").contains("ya29.secret-token"));
    }
}
