//! Google Cloud as it authenticates: an OAuth token endpoint for the
//! service-account JWT grant ([`FakeOAuth`]) that checks the assertion's RS256
//! signature against the test key and its claims, and issues short-lived tokens;
//! and Vertex AI's check of those tokens on its `generateContent` routes.
//!
//! The key pair below is a TEST-ONLY key generated for this test kit: it signs
//! nothing anywhere else and belongs to no Google account.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;
use serde_json::json;

use crate::{RecordedRequest, Responder, ScriptedResponse, TestServer};

/// TEST-ONLY RSA private key (PKCS#8 PEM) of the fake service account. Never a
/// real key: generated for these tests, accepted only by [`FakeOAuth`].
pub const TEST_ONLY_PRIVATE_KEY: &str = "\
-----BEGIN PRIVATE KEY-----\n\
MIIEvwIBADANBgkqhkiG9w0BAQEFAASCBKkwggSlAgEAAoIBAQCb1bamUiS8h7w6\n\
1q3xm4Ryq1/8U9lsE+sjF4aiR2x/Jc4zc25FPU2IC6KJsv63kaCUMOKeMyc9wWW0\n\
1fHqvRIuEaZybYQ0aeKDVa2rVaqhxadkP0x+F3HfY+kChpOtFJjTF6uaJ10nMNWV\n\
wU7AKuHWvpF86iR5YPKBwtCmAjR/NADpyOgGnUsz35S8DkoEV5eEET866pIZ4/eU\n\
SwFYbJeytj5DjKYibo0ICuf5N604aeki5g8n3D/ukJshaUjbhYiY/RvQX1xB4ZBh\n\
A2GBkuIPRI6s8YIiWqyUdABLWJ5dhiB1eCAQyVF/u+2i9OvgnFZtgAkQF1W2k4Xx\n\
h+grx/yfAgMBAAECggEAMWAUoDw0sZucU1REBuKMo7yTDCMRJ8Jj5VmF6hMRWHQF\n\
Ep5HWR7kWu+8zz5soIM+ytV2aEOy8kk9zX9gSE0h3oDvKSB0HBtUjuJtxXS+PMWg\n\
lQ3NUcJh7TL92DQFxHhbN78vOwev50P82JdIOXEc32rANEEHz4GdNOoiLAdU1NyJ\n\
reunKIVuDn0aCDcGAqWQAmgjpnwMk/GGj6hb8By22yf4uUdT9o1w08cTAIXR0lfp\n\
XUhSB0Ln+GiAjFc6sIjQYeCiUBMzCSFeNElyP3VGYgwfir76Y/5M3Lrf7xDSRtKP\n\
Qn5jDGwY6dtq44CdNX3TK2rrD8VTEAFnhFGPtFzfgQKBgQDOZTkSnIPj2m05CuyZ\n\
PGaOn4ndKvyBQjSpxEBDkqWx37yTl6c54Gtkzh0IGtJqWyXbOdQFEjGrERZTQNPe\n\
kkywpN2+CUB+pZQwPibTbBCOSodd/RK4ZVDHkN+KHGGoySww7mId/pprU7/a5KlW\n\
lOHnTKc0LgFMfcf2oTmeSw5t3wKBgQDBSa1Y0jSkdmRVld9sI+3lLXZIZiijLmCI\n\
BnkV9uKpapeuhvWk5Wu45daQart7Zoiwus5EIc+G582VpaG+RS83UV/nQXx/sD6j\n\
kI1NHUUB7anHKD0ceZTNBcDDCietU7DQKdmw0RAGSbd+ReCQRt7U8iVS2LyCS51r\n\
nSwzPmbJQQKBgQCg0mrIP8DdOIPG4OY++LuJAnMwLKCYL3hNmCfi/0+w6/9Kme6p\n\
wF6uK5SfjhbK3L8AtWypjuW4wBW/RVJRqXmsYqqNuzPP+0Ee3i7uqtOzrAsSh3Gg\n\
0QFCn3YvbbIDDM4sSnOVn5+/ZYCnFWmFl3j2+9mFZRuJ+LBpUnNNDnrtzQKBgQC6\n\
1zSpEnFutT8h+EFD8KtLCRo4u//2VaNceh1cXQ4XxIEhZTZZEqiB0DML4RCgJapm\n\
Y/11oNVRzAtP6A8ktQ4CRDgXfJcTe1Phmp7sdym4xnuCl+QS/XgYg8IlB1D5XFgj\n\
sQDMyhraaTHl7zg3XzqR0AzCO95leSCP4RvT4TNMwQKBgQDIBLPLJ2Tie4LZsfGT\n\
w4tZfWsuQ5YQteqNmk/qFFtT78o6Ruw8pdTDo58KTd9+NLGLTsdMw89gnp52MJz5\n\
PXTfwPHPb2t/oGf79310oucat9PQB49waJwwg1aWNm+XVoDIX8+xMZCXDgdKoHFH\n\
8cRwiA/A4d2TOhlofco9O54b5Q==\n\
-----END PRIVATE KEY-----\n\
";

/// The public half of [`TEST_ONLY_PRIVATE_KEY`], which [`FakeOAuth`] verifies
/// assertions with.
pub const TEST_ONLY_PUBLIC_KEY: &str = "\
-----BEGIN PUBLIC KEY-----\n\
MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAm9W2plIkvIe8Otat8ZuE\n\
cqtf/FPZbBPrIxeGokdsfyXOM3NuRT1NiAuiibL+t5GglDDinjMnPcFltNXx6r0S\n\
LhGmcm2ENGnig1Wtq1WqocWnZD9Mfhdx32PpAoaTrRSY0xermiddJzDVlcFOwCrh\n\
1r6RfOokeWDygcLQpgI0fzQA6cjoBp1LM9+UvA5KBFeXhBE/OuqSGeP3lEsBWGyX\n\
srY+Q4ymIm6NCArn+TetOGnpIuYPJ9w/7pCbIWlI24WImP0b0F9cQeGQYQNhgZLi\n\
D0SOrPGCIlqslHQAS1ieXYYgdXggEMlRf7vtovTr4JxWbYAJEBdVtpOF8YfoK8f8\n\
nwIDAQAB\n\
-----END PUBLIC KEY-----\n\
";

/// The fake service account's e-mail.
pub const TEST_CLIENT_EMAIL: &str = "elelem-tests@test-only.iam.gserviceaccount.com";

/// The JWT grant type.
const GRANT_TYPE: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";

/// The scope Vertex AI needs.
const SCOPE: &str = "https://www.googleapis.com/auth/cloud-platform";

#[derive(Deserialize)]
struct Claims {
    scope: String,
    iat: u64,
    exp: u64,
}

/// What the token endpoint has done, shared with its responder.
#[derive(Debug)]
struct Tokens {
    token_uri: String,
    lifetime_secs: AtomicU64,
    delay_ms: AtomicU64,
    issued: Mutex<Vec<(String, Instant)>>,
    refusals: Mutex<Vec<String>>,
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Decodes `application/x-www-form-urlencoded` values (`%XX` and `+`).
fn form_value(body: &str, name: &str) -> Option<String> {
    let raw = body
        .split('&')
        .find_map(|pair| pair.strip_prefix(name)?.strip_prefix('='))?;
    let mut out = Vec::with_capacity(raw.len());
    let bytes = raw.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).ok()?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out).ok()
}

impl Tokens {
    fn refuse(&self, reason: &str) -> ScriptedResponse {
        lock(&self.refusals).push(reason.to_owned());
        ScriptedResponse::json(
            400,
            json!({"error": "invalid_grant", "error_description": reason}),
        )
    }

    /// The answer to a token request.
    fn grant(&self, request: &RecordedRequest) -> ScriptedResponse {
        let body = String::from_utf8_lossy(&request.body);
        if request.header("content-type") != Some("application/x-www-form-urlencoded") {
            return self.refuse("Bad Request: the body must be form-encoded");
        }
        if form_value(&body, "grant_type").as_deref() != Some(GRANT_TYPE) {
            return self.refuse("Invalid grant_type");
        }
        let Some(assertion) = form_value(&body, "assertion") else {
            return self.refuse("Missing assertion");
        };
        let Ok(key) = DecodingKey::from_rsa_pem(TEST_ONLY_PUBLIC_KEY.as_bytes()) else {
            return self.refuse("testkit: the test public key does not parse");
        };
        let mut validation = Validation::new(Algorithm::RS256);
        validation.set_audience(&[self.token_uri.as_str()]);
        validation.set_issuer(&[TEST_CLIENT_EMAIL]);
        validation.set_required_spec_claims(&["exp", "iat", "aud", "iss"]);
        let claims = match jsonwebtoken::decode::<Claims>(&assertion, &key, &validation) {
            Ok(data) => data.claims,
            Err(e) => return self.refuse(&format!("Invalid JWT: {e}")),
        };
        if claims.scope.split(' ').all(|s| s != SCOPE) {
            return self.refuse("Invalid scope");
        }
        if claims.exp <= claims.iat || claims.exp - claims.iat > 3600 {
            return self.refuse("Invalid JWT: exp must be at most one hour after iat");
        }
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        if claims.iat > now + 300 {
            return self.refuse("Invalid JWT: iat is in the future");
        }
        let lifetime = self.lifetime_secs.load(Ordering::SeqCst);
        let mut issued = lock(&self.issued);
        let token = format!("ya29.test-only-{}", issued.len() + 1);
        issued.push((
            token.clone(),
            Instant::now() + Duration::from_secs(lifetime),
        ));
        ScriptedResponse::json(
            200,
            json!({"access_token": token, "expires_in": lifetime, "token_type": "Bearer"}),
        )
        .delay(Duration::from_millis(self.delay_ms.load(Ordering::SeqCst)))
    }

    /// Vertex AI's answer to a request failing its checks.
    fn vertex_check(&self, request: &RecordedRequest) -> Option<ScriptedResponse> {
        if !is_vertex_route(request) {
            return Some(ScriptedResponse::json(
                404,
                json!({"error": {"code": 404, "message": format!("The requested URL {} was not found on this server.", request.path), "status": "NOT_FOUND"}}),
            ));
        }
        let token = request
            .header("authorization")
            .and_then(|v| v.strip_prefix("Bearer "));
        match token {
            Some(token) if self.is_valid(token) => None,
            _ => Some(unauthenticated()),
        }
    }

    fn is_valid(&self, token: &str) -> bool {
        lock(&self.issued)
            .iter()
            .any(|(issued, expiry)| issued == token && Instant::now() < *expiry)
    }
}

/// Google's 401 for a missing, unknown or expired access token.
///
/// ```
/// assert_eq!(elelem_testkit::clouds::google::unauthenticated().status(), Some(401));
/// ```
pub fn unauthenticated() -> ScriptedResponse {
    ScriptedResponse::json(
        401,
        json!({"error": {
            "code": 401,
            "message": "Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential. See https://developers.google.com/identity/sign-in/web/devconsole-project.",
            "status": "UNAUTHENTICATED"
        }}),
    )
}

/// Google Cloud on a [`TestServer`]: an OAuth token endpoint (`POST /token`)
/// that verifies the JWT grant's assertion (RS256 signature by
/// [`TEST_ONLY_PRIVATE_KEY`], `iss`, `aud` = its own URL, the `cloud-platform`
/// scope, `exp` at most an hour after `iat`) and answers a new token
/// `ya29.test-only-N` valid for the set lifetime (default 3600 s), a bad grant
/// getting Google's 400 `invalid_grant`; and Vertex AI's checks on every other
/// request: a publisher model's `:generateContent` (or
/// `:streamGenerateContent?alt=sse`, `:rawPredict`) path, else 404, with
/// `Authorization: Bearer` a token issued here that has not expired, else
/// [`unauthenticated`]. Requests passing the checks get the script's answers.
/// Token requests are left out of the server's record (see
/// [`issued`](FakeOAuth::issued) and [`refusals`](FakeOAuth::refusals)).
///
/// ```
/// # #[tokio::main]
/// # async fn main() -> Result<(), elelem_testkit::TestkitError> {
/// let server = elelem_testkit::TestServer::start().await?;
/// let oauth = elelem_testkit::clouds::google::FakeOAuth::serve(&server);
/// let key: serde_json::Value = serde_json::from_str(&oauth.key_json("acme")).unwrap();
/// assert_eq!(key["token_uri"], oauth.token_uri());
/// let client = reqwest::Client::new();
/// let answer = client.post(oauth.token_uri()).body("grant_type=x").send().await.unwrap();
/// assert_eq!(answer.status(), 400);
/// assert!(oauth.issued().is_empty());
/// let url = format!("{}/v1/projects/acme/locations/us-central1/publishers/google/models/gemini-2.5-flash:generateContent", server.root_url());
/// let answer = client.post(url).bearer_auth("ya29.forged").body("{}").send().await.unwrap();
/// assert_eq!(answer.status(), 401);
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct FakeOAuth {
    tokens: Arc<Tokens>,
}

impl FakeOAuth {
    /// Installs the token endpoint and Vertex's checks on `server` (replacing
    /// its responder).
    pub fn serve(server: &TestServer) -> FakeOAuth {
        let tokens = Arc::new(Tokens {
            token_uri: format!("{}/token", server.root_url()),
            lifetime_secs: AtomicU64::new(3600),
            delay_ms: AtomicU64::new(0),
            issued: Mutex::default(),
            refusals: Mutex::default(),
        });
        let shared = tokens.clone();
        server.set_responder(Some(
            Responder::new(move |request| {
                if request.path == "/token" {
                    return Some(shared.grant(request));
                }
                shared.vertex_check(request)
            })
            .hiding(|request| request.path == "/token"),
        ));
        FakeOAuth { tokens }
    }

    /// The token endpoint's URL (the key's `token_uri`).
    pub fn token_uri(&self) -> String {
        self.tokens.token_uri.clone()
    }

    /// A service-account key file's JSON for the TEST-ONLY key, minting its
    /// tokens here, with project `project`.
    pub fn key_json(&self, project: &str) -> String {
        json!({
            "type": "service_account",
            "project_id": project,
            "private_key_id": "test-only-key-1",
            "private_key": TEST_ONLY_PRIVATE_KEY,
            "client_email": TEST_CLIENT_EMAIL,
            "client_id": "100000000000000000000",
            "auth_uri": "https://accounts.google.com/o/oauth2/auth",
            "token_uri": self.token_uri(),
        })
        .to_string()
    }

    /// Issues tokens valid for `secs` seconds from now on.
    pub fn set_lifetime(&self, secs: u64) {
        self.tokens.lifetime_secs.store(secs, Ordering::SeqCst);
    }

    /// Delays every token answer (so that concurrent callers overlap).
    pub fn set_delay(&self, delay: Duration) {
        let millis = u64::try_from(delay.as_millis()).unwrap_or(u64::MAX);
        self.tokens.delay_ms.store(millis, Ordering::SeqCst);
    }

    /// The tokens issued so far, in order.
    pub fn issued(&self) -> Vec<String> {
        lock(&self.tokens.issued)
            .iter()
            .map(|(token, _)| token.clone())
            .collect()
    }

    /// Why grants were refused, in order.
    pub fn refusals(&self) -> Vec<String> {
        lock(&self.tokens.refusals).clone()
    }
}

/// `/v1/projects/{p}/locations/{l}/publishers/{publisher}/models/{model}:{method}`.
fn is_vertex_route(request: &RecordedRequest) -> bool {
    let parts: Vec<&str> = request.path.split('/').collect();
    let shape = matches!(
        parts.as_slice(),
        [
            "",
            "v1",
            "projects",
            _,
            "locations",
            _,
            "publishers",
            _,
            "models",
            _
        ]
    );
    let method = parts.last().and_then(|m| m.split_once(':')).map(|(_, m)| m);
    match method {
        Some("generateContent" | "rawPredict") => shape,
        Some("streamGenerateContent") => shape && request.query.as_deref() == Some("alt=sse"),
        Some("streamRawPredict") => shape,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn form_values_are_decoded() {
        let body =
            "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer&assertion=a.b.c";
        assert_eq!(form_value(body, "grant_type").as_deref(), Some(GRANT_TYPE));
        assert_eq!(form_value(body, "assertion").as_deref(), Some("a.b.c"));
        assert_eq!(form_value(body, "missing"), None);
        assert_eq!(form_value("x=%4", "x"), Some("%4".into()));
    }
}
