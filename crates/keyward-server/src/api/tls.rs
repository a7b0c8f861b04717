//! Transport security: HTTPS with rustls from the configured PEM files, or plain HTTP on
//! loopback only (behind a reverse proxy that terminates TLS) unless `allow_plain_http`.

use axum_server::tls_rustls::RustlsConfig;
use keyward_core::error::{Error, ErrorCode, Result};

use crate::config::ServerConfig;

/// The TLS configuration `serve` answers with (`None`: plain HTTP), or why it must not start:
/// plain HTTP on an address other than loopback without `allow_plain_http = true`, or
/// certificate files that cannot be read.
pub async fn prepare(cfg: &ServerConfig) -> Result<Option<RustlsConfig>> {
    let Some(files) = &cfg.tls else {
        if !cfg.listen.ip().is_loopback() && !cfg.allow_plain_http {
            return Err(Error::new(
                ErrorCode::InvalidInput,
                format!(
                    "refusing to serve plain HTTP on {}: members' tokens and new keys' secrets \
                     would cross the network in clear",
                    cfg.listen
                ),
                "Set tls_cert and tls_key in the configuration to serve HTTPS, or listen on \
                 127.0.0.1 behind a reverse proxy that terminates TLS (README: team mode), or \
                 set allow_plain_http = true if something else encrypts the traffic.",
            ));
        }
        return Ok(None);
    };
    // One process-wide crypto provider (a no-op when one is installed already).
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    RustlsConfig::from_pem_file(&files.cert, &files.key)
        .await
        .map(Some)
        .map_err(|e| {
            Error::new(
                ErrorCode::Io,
                format!(
                    "cannot load the TLS certificate {} and key {}: {e}",
                    files.cert.display(),
                    files.key.display()
                ),
                "Point tls_cert at the certificate chain and tls_key at its private key, both \
                 PEM, readable by the keyward-server user.",
            )
        })
}
