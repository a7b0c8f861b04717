//! The accept loop: plain TCP or TLS (self-signed, rcgen), HTTP/1.1 and HTTP/2 via hyper-util,
//! with the ability to drop a connection without answering (an injected fault).

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinSet;
use tokio_rustls::TlsAcceptor;
use tower::ServiceExt;

use crate::conn::{DropConnection, Peer};

/// A self-signed certificate for `127.0.0.1` and `localhost`: (PEM, acceptor).
pub fn self_signed() -> anyhow::Result<(String, TlsAcceptor)> {
    let names = vec!["127.0.0.1".to_string(), "localhost".to_string()];
    let ck = rcgen::generate_simple_self_signed(names)?;
    let pem = ck.cert.pem();
    let cert = ck.cert.der().clone();
    let key = rustls::pki_types::PrivateKeyDer::Pkcs8(ck.signing_key.serialize_der().into());
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut cfg = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(vec![cert], key)?;
    cfg.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok((pem, TlsAcceptor::from(Arc::new(cfg))))
}

/// Serves `app` on `listener` until `stop` turns true; open connections are then closed.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    tls: Option<TlsAcceptor>,
    mut stop: watch::Receiver<bool>,
) {
    let mut conns = JoinSet::new();
    loop {
        tokio::select! {
            _ = stop.changed() => break,
            accepted = listener.accept() => {
                let Ok((stream, peer)) = accepted else { continue };
                conns.spawn(connection(stream, peer, app.clone(), tls.clone()));
            }
            Some(_) = conns.join_next(), if !conns.is_empty() => {}
        }
    }
    conns.abort_all();
    while conns.join_next().await.is_some() {}
}

async fn connection(stream: TcpStream, peer: SocketAddr, app: Router, tls: Option<TlsAcceptor>) {
    let _ = stream.set_nodelay(true);
    match tls {
        Some(acceptor) => {
            if let Ok(tls_stream) = acceptor.accept(stream).await {
                http(TokioIo::new(tls_stream), peer, app).await;
            }
        }
        None => http(TokioIo::new(stream), peer, app).await,
    }
}

async fn http<I>(io: I, peer: SocketAddr, app: Router)
where
    I: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    let svc = hyper::service::service_fn(move |mut req: hyper::Request<Incoming>| {
        let app = app.clone();
        req.extensions_mut().insert(Peer(peer));
        // HTTP/2 carries the host in `:authority`; give handlers a `Host` header either way.
        if !req.headers().contains_key(hyper::header::HOST) {
            let authority = req.uri().authority().map(|a| a.as_str().to_string());
            if let Some(v) = authority.and_then(|a| hyper::header::HeaderValue::from_str(&a).ok()) {
                req.headers_mut().insert(hyper::header::HOST, v);
            }
        }
        async move {
            let resp = match app.oneshot(req.map(axum::body::Body::new)).await {
                Ok(r) => r,
                Err(never) => match never {},
            };
            if resp.extensions().get::<DropConnection>().is_some() {
                return Err(std::io::Error::other("injected fault: connection dropped"));
            }
            Ok(resp)
        }
    });
    let _ = auto::Builder::new(TokioExecutor::new())
        .serve_connection(io, svc)
        .await;
}
