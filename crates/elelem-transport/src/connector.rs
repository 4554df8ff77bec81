//! The connector of the direct backend: rustls over hyper's TCP connector, with
//! each connection boxed.
//!
//! hyper keeps a connection's stream inline in its handshake future and in the
//! connection's task. `MaybeHttpsStream` is as large as its TLS variant (a rustls
//! session, several KiB) even for a plain-HTTP connection: 10,000 calls in flight
//! took 27 MiB more than through reqwest, which boxes its connections. Boxed here
//! by variant, a connection costs what its own stream needs.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use http::Uri;
use hyper::rt::{Read, ReadBufCursor, Write};
use hyper_rustls::{HttpsConnector, MaybeHttpsStream};
use hyper_util::client::legacy::connect::{Connected, Connection, HttpConnector};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

use crate::send::BoxError;

/// A stream hyper can read and write.
trait Stream: Read + Write + Unpin + Send {}

impl<T: Read + Write + Unpin + Send> Stream for T {}

/// One connection, boxed, with what hyper asks of it: whether TLS negotiated
/// HTTP/2.
pub(crate) struct BoxedStream {
    stream: Box<dyn Stream>,
    h2: bool,
}

impl BoxedStream {
    /// Boxes `stream`: only the variant it is.
    fn new(stream: MaybeHttpsStream<TokioIo<TcpStream>>) -> BoxedStream {
        let h2 = stream.connected().is_negotiated_h2();
        let stream: Box<dyn Stream> = match stream {
            MaybeHttpsStream::Http(plain) => Box::new(plain),
            MaybeHttpsStream::Https(tls) => Box::new(tls),
        };
        BoxedStream { stream, h2 }
    }
}

impl Connection for BoxedStream {
    fn connected(&self) -> Connected {
        let connected = Connected::new();
        if self.h2 {
            connected.negotiated_h2()
        } else {
            connected
        }
    }
}

impl Read for BoxedStream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: ReadBufCursor<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut *self.stream).poll_read(cx, buf)
    }
}

impl Write for BoxedStream {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut *self.stream).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut *self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut *self.stream).poll_shutdown(cx)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut *self.stream).poll_write_vectored(cx, bufs)
    }
}

/// rustls over hyper's TCP connector, answering boxed connections.
#[derive(Clone)]
pub(crate) struct BoxingConnector(pub(crate) HttpsConnector<HttpConnector>);

impl tower_service::Service<Uri> for BoxingConnector {
    type Response = BoxedStream;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<BoxedStream, BoxError>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        self.0.poll_ready(cx)
    }

    fn call(&mut self, uri: Uri) -> Self::Future {
        let connecting = self.0.call(uri);
        Box::pin(async move { connecting.await.map(BoxedStream::new) })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use hyper_rustls::HttpsConnectorBuilder;

    #[test]
    fn a_connection_is_a_pointer_and_a_flag_whatever_its_stream() {
        // What hyper holds inline per connection, in its handshake future and
        // in the connection's task.
        assert!(std::mem::size_of::<BoxedStream>() <= 3 * std::mem::size_of::<usize>());
        assert!(std::mem::size_of::<MaybeHttpsStream<TokioIo<TcpStream>>>() > 512);
    }

    #[tokio::test]
    async fn a_plain_connection_carries_bytes_both_ways_and_is_not_http2() {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        tokio::spawn(async move {
            let (mut socket, _) = listener.accept().await.unwrap();
            let mut buf = [0u8; 4];
            socket.read_exact(&mut buf).await.unwrap();
            socket.write_all(&buf).await.unwrap();
        });
        let https = HttpsConnectorBuilder::new()
            .with_provider_and_webpki_roots(rustls::crypto::ring::default_provider())
            .unwrap()
            .https_or_http()
            .enable_http1()
            .wrap_connector(HttpConnector::new());
        let mut connector = BoxingConnector(https);
        let uri: Uri = format!("http://127.0.0.1:{port}/").parse().unwrap();
        let stream = tower_service::Service::call(&mut connector, uri)
            .await
            .unwrap();
        assert!(!stream.connected().is_negotiated_h2());
        let mut io = TokioIo::new(stream);
        io.write_all(b"ping").await.unwrap();
        let mut echoed = [0u8; 4];
        io.read_exact(&mut echoed).await.unwrap();
        assert_eq!(&echoed, b"ping");
    }
}
