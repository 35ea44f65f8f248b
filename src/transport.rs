//! TCP and TLS: the only module that opens sockets.
//!
//! Every address of the host is tried (IPv6 and IPv4, in resolver order),
//! with a connect timeout, and read/write timeouts are set before the TLS
//! handshake so that a silent server cannot hang a cron run.

use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpStream, ToSocketAddrs};
use std::path::PathBuf;
use std::time::Duration;

use native_tls::{Certificate, HandshakeError, Protocol, TlsConnector, TlsStream};
use sha2::{Digest, Sha256};

use crate::account::Account;

#[derive(Debug, thiserror::Error)]
pub enum TransportError {
    #[error("cannot resolve {host}: {source}; check `host` in the config")]
    Resolve { host: String, source: io::Error },
    #[error("cannot connect to {host}:{port}: {source}; check `host` and `port`, and the network")]
    Connect {
        host: String,
        port: u16,
        source: io::Error,
    },
    #[error(
        "timed out connecting to {host}:{port}; the server or the network is slow or down: try again later, or raise `timeout`"
    )]
    ConnectTimeout { host: String, port: u16 },
    #[error("cannot read tls_ca_file {path}: {reason}")]
    CaFile { path: PathBuf, reason: String },
    #[error("TLS handshake with {host} failed: {reason}")]
    Handshake { host: String, reason: String },
    #[error("timed out during the TLS handshake with {host}; try again later, or raise `timeout`")]
    HandshakeTimeout { host: String },
    #[error("certificate for {host} is not trusted ({reason}): {hint}")]
    Untrusted {
        host: String,
        reason: String,
        hint: String,
    },
    #[error(
        "certificate for {host} does not match tls_fingerprint: expected {expected}, the server presented {actual}; if the server's certificate changed legitimately, update tls_fingerprint"
    )]
    FingerprintMismatch {
        host: String,
        expected: String,
        actual: String,
    },
    #[error(
        "{host} does not offer STLS, so the connection cannot be encrypted; nothing was sent. Use tls = \"implicit\" (port 995) if the server supports it"
    )]
    NoStls { host: String },
}

/// A connection, plain or encrypted.
pub enum Stream {
    Plain(TcpStream),
    Tls(Box<TlsStream<TcpStream>>),
}

impl Stream {
    pub fn is_encrypted(&self) -> bool {
        matches!(self, Stream::Tls(_))
    }

    fn tcp(&self) -> &TcpStream {
        match self {
            Stream::Plain(s) => s,
            Stream::Tls(s) => s.get_ref(),
        }
    }

    /// A handle that can cut the connection from another thread (used on
    /// SIGINT/SIGTERM to unblock a read).
    pub fn shutdown_handle(&self) -> io::Result<TcpStream> {
        self.tcp().try_clone()
    }

    /// Close without any further protocol: the server keeps everything
    /// (a POP3 server only deletes on QUIT).
    pub fn abort(&self) {
        let _ = self.tcp().shutdown(Shutdown::Both);
    }
}

impl Read for Stream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Stream::Plain(s) => s.read(buf),
            Stream::Tls(s) => s.read(buf),
        }
    }
}

impl Write for Stream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Stream::Plain(s) => s.write(buf),
            Stream::Tls(s) => s.write(buf),
        }
    }
    fn flush(&mut self) -> io::Result<()> {
        match self {
            Stream::Plain(s) => s.flush(),
            Stream::Tls(s) => s.flush(),
        }
    }
}

/// Open a TCP connection to the account's server, trying every address.
pub fn connect_tcp(host: &str, port: u16, timeout: Duration) -> Result<TcpStream, TransportError> {
    let addrs = (host, port)
        .to_socket_addrs()
        .map_err(|source| TransportError::Resolve {
            host: host.to_string(),
            source,
        })?;
    let mut last: Option<io::Error> = None;
    for addr in addrs {
        match TcpStream::connect_timeout(&addr, timeout) {
            Ok(tcp) => {
                tcp.set_read_timeout(Some(timeout))
                    .and_then(|()| tcp.set_write_timeout(Some(timeout)))
                    .and_then(|()| tcp.set_nodelay(true))
                    .map_err(|source| TransportError::Connect {
                        host: host.to_string(),
                        port,
                        source,
                    })?;
                return Ok(tcp);
            }
            Err(e) => last = Some(e),
        }
    }
    Err(match last {
        Some(e) if is_timeout(&e) => TransportError::ConnectTimeout {
            host: host.to_string(),
            port,
        },
        Some(source) => TransportError::Connect {
            host: host.to_string(),
            port,
            source,
        },
        None => TransportError::Resolve {
            host: host.to_string(),
            source: io::Error::new(io::ErrorKind::NotFound, "no addresses"),
        },
    })
}

/// Whether an I/O error is a timeout (Linux reports EAGAIN for SO_RCVTIMEO).
pub fn is_timeout(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock
    )
}

/// What to trust when verifying the server's certificate.
#[derive(Debug, Clone)]
pub struct Trust {
    pub ca_file: Option<PathBuf>,
    pub fingerprint: Option<String>,
}

impl Trust {
    pub fn of(account: &Account) -> Self {
        Trust {
            ca_file: account.tls_ca_file.clone(),
            fingerprint: account.tls_fingerprint.clone(),
        }
    }
}

/// Run the TLS handshake over `tcp`, verifying chain and host name (or the
/// pinned fingerprint) before a single POP3 byte is exchanged.
pub fn start_tls(tcp: TcpStream, host: &str, trust: &Trust) -> Result<Stream, TransportError> {
    // With a pin, chain verification is off and the pin is checked below;
    // without one, a failed verification is explained with the
    // certificate's fingerprint (see `handshake`).
    let connector = connector(trust, trust.fingerprint.is_some())?;
    let tls = handshake(&connector, host, tcp, true)?;
    if let Some(expected) = &trust.fingerprint {
        let actual = peer_fingerprint(&tls).ok_or_else(|| TransportError::Handshake {
            host: host.to_string(),
            reason: "the server presented no certificate".into(),
        })?;
        if !crate::text::constant_time_eq(actual.as_bytes(), expected.as_bytes()) {
            return Err(TransportError::FingerprintMismatch {
                host: host.to_string(),
                expected: expected.clone(),
                actual,
            });
        }
    }
    Ok(Stream::Tls(Box::new(tls)))
}

fn connector(trust: &Trust, accept_any: bool) -> Result<TlsConnector, TransportError> {
    let mut b = TlsConnector::builder();
    b.min_protocol_version(Some(Protocol::Tlsv12));
    if accept_any {
        // A pin replaces chain verification (native-tls has no verify
        // callback); the pin is checked before anything is sent.
        b.danger_accept_invalid_certs(true);
        b.danger_accept_invalid_hostnames(true);
    } else if let Some(path) = &trust.ca_file {
        let pem = std::fs::read(path).map_err(|e| TransportError::CaFile {
            path: path.clone(),
            reason: e.to_string(),
        })?;
        let certs = Certificate::stack_from_pem(&pem).map_err(|e| TransportError::CaFile {
            path: path.clone(),
            reason: format!("not a PEM certificate file: {e}"),
        })?;
        if certs.is_empty() {
            return Err(TransportError::CaFile {
                path: path.clone(),
                reason: "it holds no certificate".into(),
            });
        }
        // Like mpop's tls_trust_file: the file replaces the system store.
        b.disable_built_in_roots(true);
        for c in certs {
            b.add_root_certificate(c);
        }
    }
    b.build().map_err(|e| TransportError::Handshake {
        host: String::new(),
        reason: e.to_string(),
    })
}

fn handshake(
    connector: &TlsConnector,
    host: &str,
    tcp: TcpStream,
    explain_untrusted: bool,
) -> Result<TlsStream<TcpStream>, TransportError> {
    let peer = tcp.peer_addr().ok();
    let timeout = tcp.read_timeout().ok().flatten();
    match connector.connect(host, tcp) {
        Ok(tls) => Ok(tls),
        Err(HandshakeError::WouldBlock(_)) => Err(TransportError::HandshakeTimeout {
            host: host.to_string(),
        }),
        Err(HandshakeError::Failure(e)) => {
            let reason = e.to_string();
            if explain_untrusted && reason.contains("certificate verify failed") {
                // Connect once more without verification, only to show the
                // fingerprint the user could pin. Nothing is sent on it.
                let fp = peer.and_then(|addr| {
                    let tcp = TcpStream::connect_timeout(&addr, timeout?).ok()?;
                    tcp.set_read_timeout(timeout).ok()?;
                    let any = connector_any().ok()?;
                    let tls = handshake(&any, host, tcp, false).ok()?;
                    peer_fingerprint(&tls)
                });
                let hint = match fp {
                    Some(fp) => format!(
                        "if you trust it, pin it with tls_fingerprint = \"{fp}\", or give the CA that signed it with tls_ca_file"
                    ),
                    None => "give the CA that signed it with tls_ca_file, or pin it with tls_fingerprint".into(),
                };
                Err(TransportError::Untrusted {
                    host: host.to_string(),
                    reason: short_verify_reason(&reason),
                    hint,
                })
            } else {
                Err(TransportError::Handshake {
                    host: host.to_string(),
                    reason,
                })
            }
        }
    }
}

fn connector_any() -> Result<TlsConnector, native_tls::Error> {
    TlsConnector::builder()
        .danger_accept_invalid_certs(true)
        .danger_accept_invalid_hostnames(true)
        .build()
}

/// OpenSSL's message ends with the verify result, e.g. "...: certificate
/// verify failed (self-signed certificate in certificate chain)".
fn short_verify_reason(reason: &str) -> String {
    match (reason.rfind('('), reason.rfind(')')) {
        (Some(a), Some(b)) if a < b => reason[a + 1..b].to_string(),
        _ => reason.to_string(),
    }
}

/// SHA-256 of the leaf certificate as `sha256:AB:CD:...`.
pub fn peer_fingerprint(tls: &TlsStream<TcpStream>) -> Option<String> {
    let der = tls.peer_certificate().ok()??.to_der().ok()?;
    Some(format_fingerprint(&Sha256::digest(&der)))
}

pub fn format_fingerprint(digest: &[u8]) -> String {
    format!("sha256:{}", crate::text::hex_colons(digest))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprint_format() {
        assert_eq!(format_fingerprint(&[0x3a, 0x9f, 0x00]), "sha256:3A:9F:00");
    }

    #[test]
    fn verify_reason_is_the_parenthesised_part() {
        assert_eq!(
            short_verify_reason(
                "error:0A000086:SSL routines:tls_post_process_server_certificate:certificate verify failed:../ssl/statem/statem_clnt.c:1889: (self-signed certificate in certificate chain)"
            ),
            "self-signed certificate in certificate chain"
        );
        assert_eq!(short_verify_reason("plain"), "plain");
    }

    #[test]
    fn connect_refused_is_a_connect_error() {
        // Bind then drop to get a port that refuses.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .unwrap();
        let err = connect_tcp("127.0.0.1", port, Duration::from_secs(5)).unwrap_err();
        assert!(matches!(err, TransportError::Connect { .. }), "{err:?}");
        assert!(err.to_string().contains("cannot connect to 127.0.0.1"));
    }
}
