//! A Google service-account key: the JSON file the console downloads.

use serde::Deserialize;

use elelem_core::ApiKey;

/// The fields of a service-account key that the JWT grant needs. The private
/// key never shows in `Debug`.
///
/// ```
/// let key = elelem_vertex::ServiceAccountKey::parse(r#"{
///     "type": "service_account", "project_id": "acme", "private_key_id": "k1",
///     "private_key": "-----BEGIN PRIVATE KEY-----\nMII...\n-----END PRIVATE KEY-----\n",
///     "client_email": "bot@acme.iam.gserviceaccount.com",
///     "token_uri": "https://oauth2.googleapis.com/token"
/// }"#).unwrap();
/// assert_eq!(key.project_id.as_deref(), Some("acme"));
/// assert!(!format!("{key:?}").contains("MII"));
/// ```
#[derive(Clone, Deserialize)]
pub struct ServiceAccountKey {
    /// The service account's e-mail (the JWT's `iss`).
    pub client_email: String,
    /// The PEM private key (PKCS#8).
    #[serde(deserialize_with = "secret")]
    pub private_key: ApiKey,
    /// The key's id (the JWT header's `kid`).
    #[serde(default)]
    pub private_key_id: Option<String>,
    /// Where tokens are minted (the JWT's `aud`).
    #[serde(default = "default_token_uri")]
    pub token_uri: String,
    /// The project the key belongs to (the default project of requests).
    #[serde(default)]
    pub project_id: Option<String>,
}

fn secret<'de, D: serde::Deserializer<'de>>(d: D) -> Result<ApiKey, D::Error> {
    String::deserialize(d).map(ApiKey::new)
}

fn default_token_uri() -> String {
    "https://oauth2.googleapis.com/token".to_owned()
}

impl std::fmt::Debug for ServiceAccountKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServiceAccountKey")
            .field("client_email", &self.client_email)
            .field("private_key_id", &self.private_key_id)
            .field("token_uri", &self.token_uri)
            .field("project_id", &self.project_id)
            .finish_non_exhaustive()
    }
}

impl ServiceAccountKey {
    /// Parses the key file's JSON. The error never quotes the text (it holds
    /// the private key).
    pub fn parse(json: &str) -> Result<ServiceAccountKey, String> {
        let key: ServiceAccountKey = serde_json::from_str(json).map_err(|e| {
            format!(
                "the service-account key is not a key file's JSON (line {}, column {}): download a JSON key for the service account",
                e.line(),
                e.column()
            )
        })?;
        if !key.private_key.expose().contains("PRIVATE KEY") {
            return Err("the service-account key's private_key is not a PEM private key".into());
        }
        Ok(key)
    }

    /// The key from what the settings hold: the JSON itself, or the path of
    /// the file holding it (`GOOGLE_APPLICATION_CREDENTIALS`).
    pub fn load(source: &str) -> Result<ServiceAccountKey, String> {
        let source = source.trim();
        if source.starts_with('{') {
            return ServiceAccountKey::parse(source);
        }
        let text = std::fs::read_to_string(source).map_err(|e| {
            format!("cannot read the service-account key file {source:?} ({e}); set GOOGLE_APPLICATION_CREDENTIALS to the path of its JSON key")
        })?;
        ServiceAccountKey::parse(&text)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn a_malformed_key_is_refused_without_quoting_it() {
        let error = ServiceAccountKey::parse(
            r#"{"private_key": "-----BEGIN PRIVATE KEY-----SECRETBITS", "client_email": 3}"#,
        )
        .unwrap_err();
        assert!(!error.contains("SECRETBITS"), "{error}");
        let error =
            ServiceAccountKey::parse(r#"{"private_key": "SECRETBITS", "client_email": "a@b"}"#)
                .unwrap_err();
        assert!(!error.contains("SECRETBITS"), "{error}");
    }

    #[test]
    fn a_missing_file_names_the_variable() {
        let error = ServiceAccountKey::load("/nonexistent/key.json").unwrap_err();
        assert!(error.contains("GOOGLE_APPLICATION_CREDENTIALS"), "{error}");
    }
}
