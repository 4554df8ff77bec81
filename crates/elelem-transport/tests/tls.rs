//! HTTPS goes through rustls with Mozilla's roots, offering HTTP/2 and HTTP/1.1: a
//! local TLS server with a self-signed certificate (a test fixture, for
//! 127.0.0.1 only) sees the client's offer, and the client refuses its
//! certificate with a connection error that says why.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::sync::Arc;
use std::time::Duration;

use elelem_core::provider::{ProviderError, ProviderSettings};
use elelem_transport::HttpClient;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio::net::TcpListener;

const CERT: &[u8] = include_bytes!("fixtures/self-signed.cert.pem");
const KEY: &[u8] = include_bytes!("fixtures/self-signed.key.pem");

#[tokio::test]
async fn https_offers_h2_and_http1_and_refuses_a_certificate_no_root_vouches_for() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let (offered, seen) = tokio::sync::oneshot::channel();
    tokio::spawn(async move {
        let (socket, _) = listener.accept().await.unwrap();
        let acceptor =
            tokio_rustls::LazyConfigAcceptor::new(rustls::server::Acceptor::default(), socket);
        let start = acceptor.await.unwrap();
        let alpn: Vec<Vec<u8>> = start
            .client_hello()
            .alpn()
            .map(|protocols| protocols.map(<[u8]>::to_vec).collect())
            .unwrap_or_default();
        let _ = offered.send(alpn);
        let cert = CertificateDer::from_pem_slice(CERT).unwrap();
        let key = PrivateKeyDer::from_pem_slice(KEY).unwrap();
        let config = rustls::ServerConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![cert], key)
        .unwrap();
        // The client gives up on the certificate: the handshake fails here too.
        let _ = start.into_stream(Arc::new(config)).await;
    });

    let client = HttpClient::new(ProviderSettings {
        name: "acme".into(),
        base_url: format!("https://127.0.0.1:{port}/v1"),
        api_key: Some("sk-acme-tls-123".into()),
        api_key_env: None,
        timeout: Duration::from_secs(10),
        max_response_bytes: 1 << 20,
    })
    .unwrap()
    .with_key_header("authorization", "Bearer ")
    .unwrap();
    let error = client
        .post_json(
            format!("https://127.0.0.1:{port}/v1/chat/completions"),
            &serde_json::json!({"model": "m"}),
        )
        .await
        .unwrap_err();

    assert_eq!(seen.await.unwrap(), [b"h2".to_vec(), b"http/1.1".to_vec()]);
    match &error {
        ProviderError::Connection { provider, message } => {
            assert_eq!(provider, "acme");
            assert!(message.contains("invalid peer certificate"), "{message}");
            assert!(!message.contains("sk-acme-tls-123"), "{message}");
        }
        other => panic!("expected a connection error, got {other:?}"),
    }
}
