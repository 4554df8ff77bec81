//! OAuth access tokens minted from a service-account key with the JWT grant
//! (RFC 7523): an RS256-signed assertion `{iss, scope, aud, iat, exp}` posted
//! to the key's `token_uri`, answered with `{access_token, expires_in}`.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde::{Deserialize, Serialize};

use elelem_core::provider::ProviderError;
use elelem_core::ApiKey;
use elelem_transport::{BearerToken, TokenSource};

use crate::ServiceAccountKey;

/// The scope Vertex AI needs.
pub const SCOPE: &str = "https://www.googleapis.com/auth/cloud-platform";

/// The JWT grant type, form-encoded.
const GRANT_TYPE: &str = "urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer";

/// How long an assertion is valid (Google's maximum).
const ASSERTION_LIFETIME_SECS: u64 = 3600;

/// The longest token lifetime believed, whatever the endpoint says.
const MAX_TOKEN_LIFETIME: Duration = Duration::from_secs(24 * 3600);

/// The largest token endpoint answer read.
const MAX_REPLY_BYTES: usize = 64 * 1024;

#[derive(Serialize)]
struct Claims<'a> {
    iss: &'a str,
    scope: &'a str,
    aud: &'a str,
    iat: u64,
    exp: u64,
}

#[derive(Deserialize)]
struct TokenReply {
    access_token: String,
    #[serde(default)]
    expires_in: Option<u64>,
}

#[derive(Deserialize, Default)]
struct OAuthError {
    #[serde(default)]
    error: Option<String>,
    #[serde(default)]
    error_description: Option<String>,
}

/// Access tokens for one service account, each fetched by a JWT grant. Wrap it
/// in a [`TokenCache`](elelem_transport::TokenCache) to reuse a token until it
/// is about to expire.
pub struct ServiceAccountTokens {
    provider: String,
    key: ServiceAccountKey,
    signing: EncodingKey,
    http: reqwest::Client,
    timeout: Duration,
}

impl std::fmt::Debug for ServiceAccountTokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServiceAccountTokens")
            .field("provider", &self.provider)
            .field("key", &self.key)
            .finish_non_exhaustive()
    }
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

impl ServiceAccountTokens {
    /// The token source of `key` for provider `provider`; `timeout` bounds one
    /// token request. Fails when the private key is not an RSA PEM key.
    pub fn new(
        provider: impl Into<String>,
        key: ServiceAccountKey,
        timeout: Duration,
    ) -> Result<Self, String> {
        let signing =
            EncodingKey::from_rsa_pem(key.private_key.expose().as_bytes()).map_err(|_| {
                "the service-account key's private_key is not an RSA private key in PEM form"
                    .to_owned()
            })?;
        let http = reqwest::Client::builder()
            .connect_timeout(timeout.min(Duration::from_secs(30)))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| format!("cannot build the HTTP client for the token endpoint: {e}"))?;
        Ok(ServiceAccountTokens {
            provider: provider.into(),
            key,
            signing,
            http,
            timeout,
        })
    }

    /// The signed assertion for a grant at Unix time `now`.
    fn assertion(&self, now: u64) -> Result<String, ProviderError> {
        let mut header = Header::new(Algorithm::RS256);
        header.kid = self.key.private_key_id.clone();
        let claims = Claims {
            iss: &self.key.client_email,
            scope: SCOPE,
            aud: &self.key.token_uri,
            iat: now,
            exp: now + ASSERTION_LIFETIME_SECS,
        };
        jsonwebtoken::encode(&header, &claims, &self.signing)
            .map_err(|e| self.refused(format!("cannot sign the token request: {e}")))
    }

    fn refused(&self, reason: String) -> ProviderError {
        ProviderError::Credentials {
            provider: self.provider.clone(),
            reason,
        }
    }

    fn unreachable(&self, message: String) -> ProviderError {
        ProviderError::Connection {
            provider: self.provider.clone(),
            message,
        }
    }

    /// Reads at most [`MAX_REPLY_BYTES`] of the answer.
    async fn body(&self, mut response: reqwest::Response) -> Result<Vec<u8>, ProviderError> {
        let mut body = Vec::new();
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|e| self.unreachable(format!("the token endpoint's answer broke off: {e}")))?
        {
            if body.len() + chunk.len() > MAX_REPLY_BYTES {
                return Err(self.unreachable(format!(
                    "the token endpoint sent more than {MAX_REPLY_BYTES} bytes"
                )));
            }
            body.extend_from_slice(&chunk);
        }
        Ok(body)
    }
}

#[async_trait]
impl TokenSource for ServiceAccountTokens {
    async fn fetch(&self) -> Result<BearerToken, ProviderError> {
        let assertion = self.assertion(unix_now())?;
        let sent = Instant::now();
        let uri = &self.key.token_uri;
        tracing::debug!(provider = %self.provider, token_uri = %uri, "minting an access token");
        let response = self
            .http
            .post(uri)
            .timeout(self.timeout)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(format!("grant_type={GRANT_TYPE}&assertion={assertion}"))
            .send()
            .await
            .map_err(|e| {
                self.unreachable(format!(
                    "cannot reach the token endpoint {uri}: {}",
                    e.without_url()
                ))
            })?;
        let status = response.status();
        let body = self.body(response).await?;
        if !status.is_success() {
            let error: OAuthError = serde_json::from_slice(&body).unwrap_or_default();
            let what = format!(
                "the token endpoint {uri} answered HTTP {}: {} {}",
                status.as_u16(),
                error.error.unwrap_or_default(),
                error.error_description.unwrap_or_default()
            );
            return Err(if status.is_server_error() || status.as_u16() == 429 {
                self.unreachable(what)
            } else {
                self.refused(format!(
                    "{}; check the service-account key and that its account is enabled",
                    what.trim_end()
                ))
            });
        }
        let reply: TokenReply = serde_json::from_slice(&body).map_err(|e| {
            self.unreachable(format!(
                "the token endpoint {uri} sent no access token ({e})"
            ))
        })?;
        let lifetime = Duration::from_secs(reply.expires_in.unwrap_or(ASSERTION_LIFETIME_SECS))
            .min(MAX_TOKEN_LIFETIME);
        Ok(BearerToken {
            token: ApiKey::new(reply.access_token),
            expires_at: sent.checked_add(lifetime),
        })
    }
}
