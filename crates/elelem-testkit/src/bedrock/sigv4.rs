//! The server side of AWS Signature Version 4: the signature recomputed from the
//! request as received and the test credentials, written here from AWS's
//! documentation (independently of the client's `aws-sigv4`), with Bedrock's 403
//! answers for a missing, foreign or wrong signature.

use std::collections::BTreeMap;

use serde_json::json;
use sha2::{Digest, Sha256};

use crate::ScriptedResponse;

/// HMAC-SHA256 (RFC 2104).
fn hmac(key: &[u8], message: &[u8]) -> [u8; 32] {
    let mut block = [0u8; 64];
    if key.len() > 64 {
        block[..32].copy_from_slice(&Sha256::digest(key));
    } else {
        block[..key.len()].copy_from_slice(key);
    }
    let pad = |byte: u8| block.iter().map(|b| b ^ byte).collect::<Vec<u8>>();
    let inner = Sha256::new()
        .chain_update(pad(0x36))
        .chain_update(message)
        .finalize();
    Sha256::new()
        .chain_update(pad(0x5c))
        .chain_update(inner)
        .finalize()
        .into()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Each path segment percent-encoded again (SigV4 for services other than S3
/// encodes the already encoded path a second time).
fn canonical_uri(path: &str) -> String {
    path.split('/')
        .map(|segment| {
            segment
                .bytes()
                .map(|b| match b {
                    b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                        (b as char).to_string()
                    }
                    other => format!("%{other:02X}"),
                })
                .collect::<String>()
        })
        .collect::<Vec<_>>()
        .join("/")
}

/// Why a request's signature is refused: Bedrock's 403 for it.
fn refusal(error_type: &str, message: &str) -> ScriptedResponse {
    ScriptedResponse::json(403, json!({"message": message}))
        .header(
            "x-amzn-errortype",
            format!("{error_type}:http://internal.amazon.com/coral/com.amazon.coral.service/"),
        )
        .header("x-amzn-requestid", "00000000-0000-0000-0000-000000000403")
}

/// The message Bedrock answers a wrong signature with.
pub const SIGNATURE_MISMATCH: &str = "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.";

/// Checks the SigV4 signature of a `POST` to `path` (as received, encoded) with
/// `headers` (lower-case names) and `body`, for the credentials
/// (`access_key_id`, `secret`): `None` when it is right, else Bedrock's 403.
pub(crate) fn check(
    path: &str,
    headers: &BTreeMap<String, String>,
    body: &[u8],
    access_key_id: &str,
    secret: &str,
) -> Option<ScriptedResponse> {
    let Some(auth) = headers.get("authorization") else {
        return Some(refusal(
            "MissingAuthenticationTokenException",
            "Missing Authentication Token",
        ));
    };
    let Some(fields) = auth.strip_prefix("AWS4-HMAC-SHA256 ") else {
        return Some(refusal(
            "IncompleteSignatureException",
            "Authorization header requires AWS4-HMAC-SHA256",
        ));
    };
    let field = |name: &str| {
        fields
            .split(',')
            .map(str::trim)
            .find_map(|f| f.strip_prefix(name)?.strip_prefix('='))
    };
    let (Some(credential), Some(signed), Some(signature)) = (
        field("Credential"),
        field("SignedHeaders"),
        field("Signature"),
    ) else {
        return Some(refusal(
            "IncompleteSignatureException",
            "Authorization header requires 'Credential', 'SignedHeaders' and 'Signature'",
        ));
    };
    let scope: Vec<&str> = credential.split('/').collect();
    let [key_id, date, region, service, "aws4_request"] = scope.as_slice() else {
        return Some(refusal(
            "IncompleteSignatureException",
            "Credential should be scoped to a valid region",
        ));
    };
    if *key_id != access_key_id {
        return Some(refusal(
            "UnrecognizedClientException",
            "The security token included in the request is invalid.",
        ));
    }
    let Some(amz_date) = headers.get("x-amz-date") else {
        return Some(refusal(
            "IncompleteSignatureException",
            "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header.",
        ));
    };
    let mut canonical = format!("POST\n{}\n\n", canonical_uri(path));
    for name in signed.split(';') {
        let value = headers.get(name).map(String::as_str).unwrap_or_default();
        canonical.push_str(&format!("{name}:{}\n", value.trim()));
    }
    canonical.push_str(&format!("\n{signed}\n{}", hex(&Sha256::digest(body))));
    let to_sign = format!(
        "AWS4-HMAC-SHA256\n{amz_date}\n{date}/{region}/{service}/aws4_request\n{}",
        hex(&Sha256::digest(canonical.as_bytes()))
    );
    let mut key = hmac(format!("AWS4{secret}").as_bytes(), date.as_bytes());
    for part in [*region, *service, "aws4_request"] {
        key = hmac(&key, part.as_bytes());
    }
    let expected = hex(&hmac(&key, to_sign.as_bytes()));
    (expected != signature || *service != "bedrock")
        .then(|| refusal("InvalidSignatureException", SIGNATURE_MISMATCH))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn hmac_matches_rfc_4231_case_2() {
        assert_eq!(
            hex(&hmac(b"Jefe", b"what do ya want for nothing?")),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    /// AWS's documented example (IAM ListUsers GET, adapted: the check here is
    /// for POST, so the canonical request is rebuilt for the documented values).
    #[test]
    fn the_signing_key_matches_aws_documentation() {
        let mut key = hmac(b"AWS4wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", b"20150830");
        for part in ["us-east-1", "iam", "aws4_request"] {
            key = hmac(&key, part.as_bytes());
        }
        assert_eq!(
            hex(&key),
            "c4afb1cc5771d871763a393e44b703571b55cc28424d1a5e86da6ed3c154a4b9"
        );
    }

    #[test]
    fn paths_are_encoded_twice() {
        assert_eq!(
            canonical_uri("/model/a.b-v2%3A0/converse"),
            "/model/a.b-v2%253A0/converse"
        );
    }

    #[test]
    fn a_missing_or_foreign_signature_is_refused_like_bedrock() {
        let headers = BTreeMap::new();
        let answer = check("/x", &headers, b"", "AKID", "s").unwrap();
        assert_eq!(answer.status(), Some(403));
        assert_eq!(
            answer.json_body().unwrap()["message"],
            "Missing Authentication Token"
        );
        let mut headers = BTreeMap::new();
        headers.insert("authorization".into(), "AWS4-HMAC-SHA256 Credential=OTHER/20150830/us-east-1/bedrock/aws4_request, SignedHeaders=host, Signature=00".into());
        let answer = check("/x", &headers, b"", "AKID", "s").unwrap();
        assert!(answer
            .header_value("x-amzn-errortype")
            .unwrap()
            .starts_with("UnrecognizedClientException"));
    }
}
