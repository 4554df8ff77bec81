//! AWS Signature Version 4 for one Bedrock request, with the `aws-sigv4` crate.

use std::time::SystemTime;

use aws_sigv4::http_request::{sign, SignableBody, SignableRequest, SigningSettings};
use aws_sigv4::sign::v4;

use crate::Credentials;

/// The service name Bedrock's runtime signs with.
pub const SERVICE: &str = "bedrock";

/// The headers signing a `POST` of `body` to `url` (already percent-encoded):
/// `authorization`, `x-amz-date` and, with temporary credentials,
/// `x-amz-security-token`. An `Err` says why the request cannot be signed.
///
/// ```
/// let creds = elelem_bedrock::Credentials::new("AKIDEXAMPLE", "secret", None);
/// let headers = elelem_bedrock::sign_post(
///     &creds, "us-east-1", "https://bedrock-runtime.us-east-1.amazonaws.com/model/m/converse",
///     b"{}", std::time::SystemTime::now(),
/// ).unwrap();
/// let auth = headers.iter().find(|(n, _)| n == "authorization").unwrap();
/// assert!(auth.1.starts_with("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/"));
/// assert!(auth.1.contains("/us-east-1/bedrock/aws4_request"));
/// ```
pub fn sign_post(
    credentials: &Credentials,
    region: &str,
    url: &str,
    body: &[u8],
    time: SystemTime,
) -> Result<Vec<(String, String)>, String> {
    let identity = aws_credential_types::Credentials::new(
        credentials.access_key_id(),
        credentials.secret(),
        credentials.session_token().map(str::to_owned),
        None,
        "elelem",
    )
    .into();
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region(region)
        .name(SERVICE)
        .time(time)
        .settings(SigningSettings::default())
        .build()
        .map_err(|e| e.to_string())?
        .into();
    let request = SignableRequest::new("POST", url, std::iter::empty(), SignableBody::Bytes(body))
        .map_err(|e| e.to_string())?;
    let (instructions, _signature) = sign(request, &params)
        .map_err(|e| e.to_string())?
        .into_parts();
    Ok(instructions
        .headers()
        .map(|(name, value)| (name.to_ascii_lowercase(), value.to_owned()))
        .collect())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::time::{Duration, UNIX_EPOCH};

    use super::*;

    #[test]
    fn the_signature_is_aws_documented_shape_and_stable() {
        let creds = Credentials::new(
            "AKIDEXAMPLE",
            "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
            Some("session-tok".into()),
        );
        let time = UNIX_EPOCH + Duration::from_secs(1_440_938_160); // 2015-08-30T12:36:00Z
        let url = "https://bedrock-runtime.us-east-1.amazonaws.com/model/anthropic.claude-v2%3A1/converse";
        let one = sign_post(&creds, "us-east-1", url, b"{}", time).unwrap();
        let two = sign_post(&creds, "us-east-1", url, b"{}", time).unwrap();
        assert_eq!(one, two);
        let get = |name: &str| one.iter().find(|(n, _)| n == name).map(|(_, v)| v.clone());
        assert_eq!(get("x-amz-date").as_deref(), Some("20150830T123600Z"));
        assert_eq!(get("x-amz-security-token").as_deref(), Some("session-tok"));
        let auth = get("authorization").unwrap();
        assert!(auth.starts_with(
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/bedrock/aws4_request, SignedHeaders=host;x-amz-date;x-amz-security-token, Signature="
        ), "{auth}");
        assert!(!auth.contains("wJalr"));
        let other = sign_post(&creds, "us-east-1", url, b"{ }", time).unwrap();
        assert_ne!(one, other, "the body is signed");
    }
}
