//! AWS credentials and region, found the way the AWS tools find them: the
//! environment (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`,
//! `AWS_SESSION_TOKEN`, `AWS_REGION` / `AWS_DEFAULT_REGION`), else the profile
//! (`AWS_PROFILE`, else `default`) in the shared files (`~/.aws/credentials` or
//! `AWS_SHARED_CREDENTIALS_FILE`, `~/.aws/config` or `AWS_CONFIG_FILE`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use elelem_core::ApiKey;

/// Why no credentials (or no region) could be found; each names the variable or
/// file to set.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CredentialsError {
    /// One of the pair of access key variables is set without the other.
    #[error("{set} is set but {missing} is not: set both, or neither to use the profile files")]
    HalfSet {
        /// The variable that is set.
        set: &'static str,
        /// The variable that is missing.
        missing: &'static str,
    },
    /// Neither the environment nor the profile files give credentials.
    #[error("no AWS credentials for Bedrock: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (and AWS_SESSION_TOKEN for temporary credentials), or give profile {profile:?} aws_access_key_id and aws_secret_access_key in {file} (AWS_PROFILE picks the profile, AWS_SHARED_CREDENTIALS_FILE the file)")]
    Missing {
        /// The profile looked up.
        profile: String,
        /// The credentials file looked in.
        file: String,
    },
    /// The profile has an access key id but no secret (or the reverse).
    #[error("profile {profile:?} in {file} has no {missing}")]
    ProfileIncomplete {
        /// The profile.
        profile: String,
        /// The file.
        file: String,
        /// The missing key.
        missing: &'static str,
    },
    /// No region anywhere.
    #[error("no AWS region for Bedrock: set AWS_REGION (or AWS_DEFAULT_REGION), or `region` in profile {profile:?} of {file} (AWS_CONFIG_FILE picks the file)")]
    NoRegion {
        /// The profile looked up.
        profile: String,
        /// The config file looked in.
        file: String,
    },
}

/// One set of AWS credentials. The secret and the session token never appear in
/// `Debug`.
///
/// ```
/// let creds = elelem_bedrock::Credentials::new("AKIDEXAMPLE", "wJalr-SECRET", None);
/// assert_eq!(creds.access_key_id(), "AKIDEXAMPLE");
/// assert!(!format!("{creds:?}").contains("SECRET"));
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    access_key_id: String,
    secret_access_key: ApiKey,
    session_token: Option<ApiKey>,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("access_key_id", &self.access_key_id)
            .field("secret_access_key", &"***")
            .field("session_token", &self.session_token.as_ref().map(|_| "***"))
            .finish()
    }
}

impl Credentials {
    /// Credentials from their parts (`session_token` for temporary ones).
    pub fn new(
        access_key_id: impl Into<String>,
        secret_access_key: impl Into<String>,
        session_token: Option<String>,
    ) -> Self {
        Credentials {
            access_key_id: access_key_id.into(),
            secret_access_key: ApiKey::new(secret_access_key.into()),
            session_token: session_token.map(ApiKey::new),
        }
    }

    /// The access key id (not secret: it is sent in every signature).
    pub fn access_key_id(&self) -> &str {
        &self.access_key_id
    }

    /// The secret key: only for signing.
    pub(crate) fn secret(&self) -> &str {
        self.secret_access_key.expose()
    }

    /// The session token, for temporary credentials: only for signing.
    pub(crate) fn session_token(&self) -> Option<&str> {
        self.session_token.as_ref().map(ApiKey::expose)
    }
}

/// Credentials and the region they are used in.
///
/// ```
/// use std::collections::BTreeMap;
/// let env: BTreeMap<&str, &str> = [
///     ("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE"), ("AWS_SECRET_ACCESS_KEY", "secret"),
///     ("AWS_REGION", "eu-west-3"),
/// ].into();
/// let found = elelem_bedrock::AwsConfig::resolve(|name| env.get(name).map(|v| v.to_string())).unwrap();
/// assert_eq!(found.region, "eu-west-3");
/// assert_eq!(found.credentials.access_key_id(), "AKIDEXAMPLE");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AwsConfig {
    /// The credentials.
    pub credentials: Credentials,
    /// The region (`us-east-1`).
    pub region: String,
}

impl AwsConfig {
    /// Finds credentials and region from the process environment and the
    /// profile files.
    ///
    /// ```no_run
    /// let found = elelem_bedrock::AwsConfig::from_env();
    /// # let _ = found;
    /// ```
    pub fn from_env() -> Result<AwsConfig, CredentialsError> {
        AwsConfig::resolve(|name| std::env::var(name).ok())
    }

    /// Finds credentials and region with `env` as the environment (blank values
    /// count as unset).
    pub fn resolve(env: impl Fn(&str) -> Option<String>) -> Result<AwsConfig, CredentialsError> {
        let var = |name: &str| {
            env(name)
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        };
        let profile = var("AWS_PROFILE").unwrap_or_else(|| "default".to_owned());
        let home = var("HOME").map(PathBuf::from);
        let in_home = |name: &str| home.as_ref().map(|h| h.join(".aws").join(name));
        let credentials_file = var("AWS_SHARED_CREDENTIALS_FILE")
            .map(PathBuf::from)
            .or_else(|| in_home("credentials"));
        let config_file = var("AWS_CONFIG_FILE")
            .map(PathBuf::from)
            .or_else(|| in_home("config"));
        let shown = |file: &Option<PathBuf>, default: &str| {
            file.as_ref()
                .map_or_else(|| default.to_owned(), |f| f.display().to_string())
        };
        let credentials_section = read_section(credentials_file.as_deref(), &profile);
        let config_section = read_section(
            config_file.as_deref(),
            &if profile == "default" {
                profile.clone()
            } else {
                format!("profile {profile}")
            },
        );

        let credentials = match (var("AWS_ACCESS_KEY_ID"), var("AWS_SECRET_ACCESS_KEY")) {
            (Some(id), Some(secret)) => Credentials::new(id, secret, var("AWS_SESSION_TOKEN")),
            (Some(_), None) => {
                return Err(CredentialsError::HalfSet {
                    set: "AWS_ACCESS_KEY_ID",
                    missing: "AWS_SECRET_ACCESS_KEY",
                })
            }
            (None, Some(_)) => {
                return Err(CredentialsError::HalfSet {
                    set: "AWS_SECRET_ACCESS_KEY",
                    missing: "AWS_ACCESS_KEY_ID",
                })
            }
            (None, None) => {
                let file = shown(&credentials_file, "~/.aws/credentials");
                // The config file may hold credentials too.
                let get = |key: &str| {
                    credentials_section
                        .get(key)
                        .or_else(|| config_section.get(key))
                        .cloned()
                };
                match (get("aws_access_key_id"), get("aws_secret_access_key")) {
                    (Some(id), Some(secret)) => {
                        Credentials::new(id, secret, get("aws_session_token"))
                    }
                    (None, None) => return Err(CredentialsError::Missing { profile, file }),
                    (Some(_), None) => {
                        return Err(CredentialsError::ProfileIncomplete {
                            profile,
                            file,
                            missing: "aws_secret_access_key",
                        })
                    }
                    (None, Some(_)) => {
                        return Err(CredentialsError::ProfileIncomplete {
                            profile,
                            file,
                            missing: "aws_access_key_id",
                        })
                    }
                }
            }
        };
        let region = var("AWS_REGION")
            .or_else(|| var("AWS_DEFAULT_REGION"))
            .or_else(|| config_section.get("region").cloned())
            .ok_or_else(|| CredentialsError::NoRegion {
                profile: profile.clone(),
                file: shown(&config_file, "~/.aws/config"),
            })?;
        Ok(AwsConfig {
            credentials,
            region,
        })
    }
}

/// The `key = value` pairs of section `[name]` of an INI file; empty when the
/// file or the section is missing or unreadable.
fn read_section(path: Option<&Path>, name: &str) -> BTreeMap<String, String> {
    path.and_then(|p| std::fs::read_to_string(p).ok())
        .map(|text| parse_section(&text, name))
        .unwrap_or_default()
}

/// The `key = value` pairs of section `[name]` of an INI text (comments with
/// `#` or `;`, keys lower-cased).
fn parse_section(text: &str, name: &str) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let mut inside = false;
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        if let Some(section) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            inside = section.trim() == name;
            continue;
        }
        if let (true, Some((key, value))) = (inside, line.split_once('=')) {
            out.insert(key.trim().to_ascii_lowercase(), value.trim().to_owned());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn env<'a>(pairs: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |name| {
            pairs
                .iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| (*v).to_owned())
        }
    }

    #[test]
    fn the_environment_comes_first_with_its_session_token() {
        let found = AwsConfig::resolve(env(&[
            ("AWS_ACCESS_KEY_ID", "AKID"),
            ("AWS_SECRET_ACCESS_KEY", "s3cret-value"),
            ("AWS_SESSION_TOKEN", "tok-value"),
            ("AWS_DEFAULT_REGION", "us-west-2"),
            ("HOME", "/nonexistent"),
        ]))
        .unwrap();
        assert_eq!(found.region, "us-west-2");
        assert_eq!(found.credentials.secret(), "s3cret-value");
        assert_eq!(found.credentials.session_token(), Some("tok-value"));
        let shown = format!("{found:?}");
        assert!(!shown.contains("s3cret") && !shown.contains("tok-value"));
    }

    #[test]
    fn a_half_set_pair_names_the_missing_variable() {
        let error = AwsConfig::resolve(env(&[("AWS_ACCESS_KEY_ID", "AKID")])).unwrap_err();
        assert!(error.to_string().contains("AWS_SECRET_ACCESS_KEY"));
        let error = AwsConfig::resolve(env(&[("AWS_SECRET_ACCESS_KEY", "x")])).unwrap_err();
        assert!(error.to_string().contains("AWS_ACCESS_KEY_ID is not"));
    }

    #[test]
    fn nothing_set_names_the_variables_and_the_file() {
        let error = AwsConfig::resolve(env(&[("HOME", "/nonexistent")])).unwrap_err();
        let text = error.to_string();
        assert!(
            text.contains("AWS_ACCESS_KEY_ID") && text.contains("/nonexistent/.aws/credentials")
        );
        let error = AwsConfig::resolve(env(&[
            ("AWS_ACCESS_KEY_ID", "a"),
            ("AWS_SECRET_ACCESS_KEY", "b"),
        ]))
        .unwrap_err();
        assert!(error.to_string().contains("AWS_REGION"));
    }

    #[test]
    fn sections_are_read_with_comments_and_case() {
        let text = "# c\n[default]\naws_access_key_id = A\n\n[profile work]\nRegion = eu-west-1 \n; x\n[other]\nregion = no\n";
        let work = parse_section(text, "profile work");
        assert_eq!(work.get("region").map(String::as_str), Some("eu-west-1"));
        assert_eq!(work.len(), 1);
        assert_eq!(parse_section(text, "default").len(), 1);
        assert!(parse_section(text, "missing").is_empty());
    }
}
