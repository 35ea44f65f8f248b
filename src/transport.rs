//! TCP and TLS: the only module that opens sockets.
//!
//! Every address of the host is tried the RFC 8305 ("happy eyeballs") way:
//! IPv6 and IPv4 alternating, the next attempt starting 250 ms after the
//! previous one while earlier ones are still pending, the first to connect
//! winning, all within `timeout`; the address that worked is tried first by
//! the later sessions of the run. Read/write timeouts are set before the
//! TLS handshake so that a silent server cannot hang a cron run.
//!
//! With `proxy` set, the connection goes through a SOCKS5 proxy instead
//! ([`socks`]): only the proxy's address is looked up here, and TLS runs
//! over the proxied stream just the same.

mod certificate;
mod socks;

use std::io::{self, Read, Write};
use std::net::{IpAddr, Shutdown, SocketAddr, TcpStream, ToSocketAddrs};
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use rustix::event::{PollFd, PollFlags, Timespec};
use rustix::io::Errno;
use rustix::net::{AddressFamily, SocketFlags, SocketType};

use openssl::pkey::{PKey, Private};
use openssl::ssl::{
    HandshakeError, Ssl, SslContext, SslContextBuilder, SslMethod, SslMode, SslOptions, SslStream,
    SslVerifyMode, SslVersion,
};
use openssl::x509::store::{X509Store, X509StoreBuilder};
use openssl::x509::verify::X509CheckFlags;
use openssl::x509::{X509, X509VerifyResult};
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use crate::account::Account;
pub use certificate::CertInfo;
pub use socks::{Proxy, SocksError};

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
    #[error("cannot use the client certificate in {path}: {reason}; check tls_client_cert")]
    ClientCert { path: PathBuf, reason: String },
    #[error(
        "cannot use the private key in {path}: {reason}; check tls_client_key (without it, the \
         key is read from the tls_client_cert file)"
    )]
    ClientKey { path: PathBuf, reason: String },
    #[error(
        "the private key in {path} is encrypted, and popfetch cannot ask for its passphrase (it \
         runs unattended): decrypt a copy once with `openssl pkcs8 -topk8 -nocrypt -in {path} \
         -out KEY.pem` (openssl asks for the passphrase), make it private with `chmod 600 \
         KEY.pem`, and set tls_client_key = \"KEY.pem\""
    )]
    ClientKeyEncrypted { path: PathBuf },
    #[error(
        "the private key in {key} does not belong to the certificate in {cert}: give the key \
         the certificate was made for (tls_client_key), or the certificate that goes with the \
         key (tls_client_cert)"
    )]
    ClientKeyMismatch { cert: PathBuf, key: PathBuf },
    #[error("TLS handshake with {host} failed: {reason}")]
    Handshake { host: String, reason: String },
    #[error("timed out during the TLS handshake with {host}; try again later, or raise `timeout`")]
    HandshakeTimeout { host: String },
    #[error("certificate for {host} is not trusted ({reason}): {hint}")]
    Untrusted {
        host: String,
        reason: String,
        hint: String,
        /// The certificate, as learnt on a second connection that sent
        /// nothing (`None` when that failed): `serverinfo` shows it.
        certificate: Option<Box<CertInfo>>,
    },
    #[error(
        "{host} answered in plain POP3 where a TLS handshake was expected: this port speaks \
         plain POP3: use tls = \"starttls\" (or the server's implicit-TLS port, usually 995)"
    )]
    PlainPort { host: String },
    #[error(
        "{host} sent no POP3 greeting within {secs} s but answers a TLS handshake: this port \
         expects TLS from the first byte: use tls = \"implicit\" (or the server's plain POP3 \
         port, usually 110, for starttls)"
    )]
    TlsPort { host: String, secs: u64 },
    #[error(
        "{host} sent no POP3 greeting within {secs} s: the server is slow or busy (try again \
         later, or raise `timeout`), or this port may expect TLS from the first byte: use tls = \
         \"implicit\""
    )]
    NoGreeting { host: String, secs: u64 },
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
    #[error("cannot reach {target} through the proxy {proxy}: {source}")]
    Proxy {
        /// The proxy URL, its password hidden.
        proxy: String,
        target: String,
        source: SocksError,
    },
}

/// A TLS connection.
pub type TlsStream = SslStream<TcpStream>;

/// A connection, plain or encrypted.
pub enum Stream {
    Plain(TcpStream),
    Tls(Box<TlsStream>),
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

/// The host to resolve, and to check the certificate against: an IPv6
/// literal may be written in brackets, as in URLs (`[::1]`); the brackets
/// are notation, not part of the address.
pub fn bare_host(host: &str) -> &str {
    host.strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host)
}

/// RFC 8305 §5's Connection Attempt Delay: how long one attempt has to
/// itself before the next address is tried alongside it.
const ATTEMPT_DELAY: Duration = Duration::from_millis(250);

/// At most this many addresses of one host are tried.
const MAX_ADDRESSES: usize = 16;

/// The address that connected, per (host, port), for the rest of the run:
/// later sessions of an account try it first instead of again waiting for
/// an address that does not answer.
static WORKED: Mutex<Vec<(String, u16, SocketAddr)>> = Mutex::new(Vec::new());

fn worked(host: &str, port: u16) -> Option<SocketAddr> {
    let worked = WORKED.lock().ok()?;
    worked
        .iter()
        .find(|(h, p, _)| h == host && *p == port)
        .map(|&(_, _, a)| a)
}

fn remember(host: &str, port: u16, addr: SocketAddr) {
    if let Ok(mut worked) = WORKED.lock() {
        worked.retain(|(h, p, _)| !(h == host && *p == port));
        worked.push((host.to_string(), port, addr));
    }
}

/// Open a TCP connection to the account's server: through its proxy when
/// it has one, else directly.
pub fn connect(account: &Account) -> Result<TcpStream, TransportError> {
    match &account.proxy {
        Some(proxy) => socks::connect(proxy, &account.host, account.port, account.timeout),
        None => connect_tcp(&account.host, account.port, account.timeout),
    }
}

/// Open a TCP connection to `host`, trying every address.
pub fn connect_tcp(host: &str, port: u16, timeout: Duration) -> Result<TcpStream, TransportError> {
    let name = bare_host(host);
    let resolved: Vec<SocketAddr> = (name, port)
        .to_socket_addrs()
        .map_err(|source| TransportError::Resolve {
            host: host.to_string(),
            source,
        })?
        .collect();
    let addrs = attempt_order(&resolved, worked(name, port));
    let (tcp, addr) = connect_any(&addrs, timeout).map_err(|e| match e.kind() {
        io::ErrorKind::NotFound => TransportError::Resolve {
            host: host.to_string(),
            source: e,
        },
        _ if is_timeout(&e) => TransportError::ConnectTimeout {
            host: host.to_string(),
            port,
        },
        _ => TransportError::Connect {
            host: host.to_string(),
            port,
            source: e,
        },
    })?;
    remember(name, port, addr);
    tcp.set_read_timeout(Some(timeout))
        .and_then(|()| tcp.set_write_timeout(Some(timeout)))
        .and_then(|()| tcp.set_nodelay(true))
        .map_err(|source| TransportError::Connect {
            host: host.to_string(),
            port,
            source,
        })?;
    Ok(tcp)
}

/// The order to try `addrs` in (RFC 8305 §4): the families alternate,
/// starting with the resolver's first choice, so that a family that does
/// not work costs one attempt delay, not a timeout per address; an address
/// that already worked in this run goes first of all. No repeats.
pub fn attempt_order(addrs: &[SocketAddr], worked: Option<SocketAddr>) -> Vec<SocketAddr> {
    let mut unique: Vec<SocketAddr> = Vec::new();
    for &a in addrs {
        if !unique.contains(&a) {
            unique.push(a);
        }
    }
    let Some(&first) = unique.first() else {
        return unique;
    };
    let (mut same, mut other): (Vec<_>, Vec<_>) = unique
        .into_iter()
        .partition(|a| a.is_ipv6() == first.is_ipv6());
    same.reverse();
    other.reverse();
    let mut order = Vec::with_capacity(same.len() + other.len());
    while let Some(a) = same.pop() {
        order.push(a);
        order.extend(other.pop());
    }
    order.extend(other.into_iter().rev());
    if let Some(w) = worked.filter(|w| order.contains(w)) {
        order.retain(|a| *a != w);
        order.insert(0, w);
    }
    order.truncate(MAX_ADDRESSES);
    order
}

/// Connect to the first of `addrs` to answer, within `timeout` in all:
/// one attempt starts every [`ATTEMPT_DELAY`] (or as soon as the previous
/// one fails) while earlier ones go on; the first to complete wins and the
/// others are closed (RFC 8305 §5). Non-blocking sockets and poll, so
/// that nothing outlives the call.
pub fn connect_any(addrs: &[SocketAddr], timeout: Duration) -> io::Result<(TcpStream, SocketAddr)> {
    let deadline = Instant::now() + timeout;
    let mut pending: Vec<(OwnedFd, SocketAddr)> = Vec::new();
    let mut todo = addrs.iter();
    let mut next_start = Instant::now();
    let mut failure: Option<io::Error> = None;
    loop {
        let now = Instant::now();
        if now >= deadline {
            return Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "no address answered in time",
            ));
        }
        if now >= next_start || pending.is_empty() {
            if let Some(&addr) = todo.next() {
                match start_connect(addr) {
                    Ok((fd, true)) => return Ok((into_stream(fd)?, addr)),
                    Ok((fd, false)) => pending.push((fd, addr)),
                    Err(e) => failure = Some(e),
                }
                next_start = now + ATTEMPT_DELAY;
                continue;
            }
            if pending.is_empty() {
                return Err(failure.unwrap_or_else(|| {
                    io::Error::new(io::ErrorKind::NotFound, "the host has no address")
                }));
            }
        }
        let more_to_start = !todo.as_slice().is_empty();
        let wake = if more_to_start {
            next_start.min(deadline)
        } else {
            deadline
        };
        let wait = Timespec::try_from(wake.saturating_duration_since(now))
            .map_err(|_| io::Error::other("cannot express the connect timeout"))?;
        let mut fds: Vec<PollFd<'_>> = pending
            .iter()
            .map(|(fd, _)| PollFd::new(fd, PollFlags::OUT))
            .collect();
        match rustix::event::poll(&mut fds, Some(&wait)) {
            Ok(_) | Err(Errno::INTR) => {}
            Err(e) => return Err(e.into()),
        }
        let ready: Vec<usize> = fds
            .iter()
            .enumerate()
            .filter(|(_, f)| !f.revents().is_empty())
            .map(|(i, _)| i)
            .collect();
        drop(fds);
        // Highest index first, so removals keep the others' places.
        for i in ready.into_iter().rev() {
            let (fd, addr) = pending.remove(i);
            match rustix::net::sockopt::socket_error(&fd) {
                Ok(Ok(())) => return Ok((into_stream(fd)?, addr)),
                Ok(Err(e)) => failure = Some(e.into()),
                Err(e) => failure = Some(e.into()),
            }
            // A failed attempt makes way for the next at once.
            next_start = Instant::now();
        }
    }
}

/// Start a non-blocking connect to `addr`: the socket, and whether it is
/// connected already.
fn start_connect(addr: SocketAddr) -> io::Result<(OwnedFd, bool)> {
    let family = match addr {
        SocketAddr::V4(_) => AddressFamily::INET,
        SocketAddr::V6(_) => AddressFamily::INET6,
    };
    let fd = rustix::net::socket_with(
        family,
        SocketType::STREAM,
        SocketFlags::NONBLOCK | SocketFlags::CLOEXEC,
        None,
    )?;
    match rustix::net::connect(&fd, &addr) {
        Ok(()) => Ok((fd, true)),
        Err(Errno::INPROGRESS) | Err(Errno::INTR) => Ok((fd, false)),
        Err(e) => Err(e.into()),
    }
}

/// A connected socket as a blocking `TcpStream`.
fn into_stream(fd: OwnedFd) -> io::Result<TcpStream> {
    let tcp = TcpStream::from(fd);
    tcp.set_nonblocking(false)?;
    Ok(tcp)
}

/// Whether an I/O error is a timeout (Linux reports EAGAIN for SO_RCVTIMEO).
pub fn is_timeout(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock
    )
}

/// What to trust when verifying the server's certificate, and the client
/// certificate to show it: a TLS context, built once per process for each
/// trust setting ([`context`]) and shared by every connection that uses it.
#[derive(Clone)]
pub struct Trust {
    context: SslContext,
    /// Chain and host name are verified (no pin).
    verify: bool,
    pub fingerprint: Option<String>,
}

impl Trust {
    /// The account's TLS settings. The CA file, the client certificate
    /// and key are read here, before any connection, the first time a
    /// setting is used: a file that cannot be used ends the run before a
    /// byte goes out.
    pub fn of(account: &Account) -> Result<Self, TransportError> {
        let pinned = account.tls_fingerprint.is_some();
        let key = ContextKey {
            // With a pin, chain verification is off and the pin is checked
            // after the handshake: no trust store at all.
            ca_file: if pinned {
                None
            } else {
                account.tls_ca_file.clone()
            },
            verify: !pinned,
            client: account.tls_client_cert.as_ref().map(|cert| {
                // Without tls_client_key the key is in the certificate's file.
                let key = account.tls_client_key.as_ref().unwrap_or(cert);
                (cert.clone(), key.clone())
            }),
        };
        Ok(Trust {
            context: context(&key)?,
            verify: !pinned,
            fingerprint: account.tls_fingerprint.clone(),
        })
    }
}

/// What a TLS context depends on.
#[derive(Clone, PartialEq, Eq)]
struct ContextKey {
    /// Trust anchors that replace the system store (`tls_ca_file`).
    ca_file: Option<PathBuf>,
    /// Verify the chain (the system store or `ca_file`); false with a pin.
    verify: bool,
    /// The client certificate's file and its key's file.
    client: Option<(PathBuf, PathBuf)>,
}

/// Every TLS context this process built, by what it depends on. Building
/// one reads its trust store (the system's is a bundle of some 150
/// certificates, parsed in full), so it is built once and shared, not
/// built per connection: `-j` accounts at once wait for the one build.
static CONTEXTS: Mutex<Vec<(ContextKey, SslContext)>> = Mutex::new(Vec::new());

/// The TLS context for `key`, built on first use (an error is not kept:
/// the next use tries again).
fn context(key: &ContextKey) -> Result<SslContext, TransportError> {
    let mut built = CONTEXTS.lock().unwrap_or_else(|e| e.into_inner());
    if let Some((_, ctx)) = built.iter().find(|(k, _)| k == key) {
        return Ok(ctx.clone());
    }
    let ctx = build_context(key)?;
    built.push((key.clone(), ctx.clone()));
    Ok(ctx)
}

/// A client context as `openssl`'s `SslConnector` makes one (its options,
/// modes and cipher list), at least TLS 1.2, with exactly the trust store
/// `key` asks for: the system's (OpenSSL's default paths and the places
/// `openssl-probe` knows, as native-tls loads them), or only the
/// certificates of `tls_ca_file` (the system store is then never read),
/// or none with a pin.
fn build_context(key: &ContextKey) -> Result<SslContext, TransportError> {
    let setup = |e: openssl::error::ErrorStack| TransportError::Handshake {
        host: String::new(),
        reason: e.to_string(),
    };
    let mut b = SslContextBuilder::new(SslMethod::tls_client()).map_err(setup)?;
    let mut opts = SslOptions::ALL
        | SslOptions::NO_COMPRESSION
        | SslOptions::NO_SSLV2
        | SslOptions::NO_SSLV3
        | SslOptions::SINGLE_DH_USE
        | SslOptions::SINGLE_ECDH_USE;
    opts &= !SslOptions::DONT_INSERT_EMPTY_FRAGMENTS;
    b.set_options(opts);
    b.set_mode(
        SslMode::AUTO_RETRY | SslMode::ACCEPT_MOVING_WRITE_BUFFER | SslMode::ENABLE_PARTIAL_WRITE,
    );
    b.set_cipher_list("DEFAULT:!aNULL:!eNULL:!MD5:!3DES:!DES:!RC4:!IDEA:!SEED:!aDSS:!SRP:!PSK")
        .map_err(setup)?;
    b.set_min_proto_version(Some(SslVersion::TLS1_2))
        .map_err(setup)?;
    // Read what the socket holds, not a record header and then its body:
    // half the reads on a download. Nothing polls the socket once TLS is
    // up, so bytes read ahead are never waited for.
    b.set_read_ahead(true);
    if key.verify {
        b.set_verify(SslVerifyMode::PEER);
        match &key.ca_file {
            Some(path) => b.set_cert_store(ca_store(path)?),
            None => system_store(&mut b).map_err(setup)?,
        }
    } else {
        b.set_verify(SslVerifyMode::NONE);
    }
    if let Some((cert, key)) = &key.client {
        let (chain, pkey) = client_identity(cert, key)?;
        let mut chain = chain.into_iter();
        if let Some(leaf) = chain.next() {
            b.set_certificate(&leaf).map_err(setup)?;
        }
        b.set_private_key(&pkey).map_err(setup)?;
        for c in chain {
            b.add_extra_chain_cert(c).map_err(setup)?;
        }
    }
    Ok(b.build())
}

/// A store holding exactly the certificates of `path`: like mpop's
/// tls_trust_file, the file replaces the system store.
fn ca_store(path: &Path) -> Result<X509Store, TransportError> {
    let err = |reason: String| TransportError::CaFile {
        path: path.to_path_buf(),
        reason,
    };
    let pem = std::fs::read(path).map_err(|e| err(e.to_string()))?;
    let certs =
        X509::stack_from_pem(&pem).map_err(|e| err(format!("not a PEM certificate file: {e}")))?;
    if certs.is_empty() {
        return Err(err("it holds no certificate".into()));
    }
    let mut store = X509StoreBuilder::new().map_err(|e| err(e.to_string()))?;
    for c in certs {
        // A certificate listed twice is no reason to fail.
        let _ = store.add_cert(c);
    }
    Ok(store.build())
}

/// The system's trust store.
///
/// Where OpenSSL's default certificate directory holds hash links (as
/// Debian's and Ubuntu's `update-ca-certificates` and `openssl rehash`
/// make them) and neither `SSL_CERT_FILE` nor `SSL_CERT_DIR` is set, that
/// directory alone, with the directories `openssl-probe` finds: OpenSSL
/// reads from it only the root a chain names, when it verifies, where
/// loading the bundle file parses every certificate in it (about 140, some
/// 30 ms of CPU on every run). Those distributions build the bundle and
/// the directory from the same certificates; a certificate added to the
/// bundle by hand alone is not trusted then, and `SSL_CERT_FILE` brings
/// the bundle back.
///
/// Elsewhere: OpenSSL's default file and directory (which honour
/// `SSL_CERT_FILE` and `SSL_CERT_DIR`), and the bundle and directories
/// `openssl-probe` finds where OpenSSL's defaults are not the
/// distribution's. The same bundle is not read twice.
fn system_store(b: &mut SslContextBuilder) -> Result<(), openssl::error::ErrorStack> {
    let probe = openssl_probe::probe();
    let ssl_dir = openssl_dir();
    let default_dir = ssl_dir.join("certs");
    let overridden = ["SSL_CERT_FILE", "SSL_CERT_DIR"]
        .iter()
        .any(|v| std::env::var_os(v).is_some());
    if !overridden && has_hash_links(&default_dir) {
        return hashed_dirs(b, &default_dir, &probe.cert_dir);
    }
    b.set_default_verify_paths()?;
    let default_file = std::env::var_os("SSL_CERT_FILE")
        .map(PathBuf::from)
        .unwrap_or_else(|| ssl_dir.join("cert.pem"));
    let same = |a: &Path, b: &Path| match (a.canonicalize(), b.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    };
    if let Some(file) = probe.cert_file.filter(|f| !same(f, &default_file)) {
        // Like native-tls: a bundle that cannot be read is no reason to fail.
        let _ = b.load_verify_locations(Some(&file), None);
    }
    for dir in &probe.cert_dir {
        // A directory is looked up lazily, by hash: nothing is read now.
        let _ = b.load_verify_locations(None, Some(dir));
    }
    Ok(())
}

/// Trust the certificates in `dir` and in `more`, each read when a chain
/// being verified names it (by the hash of its subject).
fn hashed_dirs(
    b: &mut SslContextBuilder,
    dir: &Path,
    more: &[PathBuf],
) -> Result<(), openssl::error::ErrorStack> {
    b.load_verify_locations(None, Some(dir))?;
    for d in more.iter().filter(|d| d.as_path() != dir) {
        let _ = b.load_verify_locations(None, Some(d));
    }
    Ok(())
}

/// Whether `dir` holds a certificate under a hash name (`3513523f.0`), the
/// names OpenSSL looks a root up by.
fn has_hash_links(dir: &Path) -> bool {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return false;
    };
    entries.flatten().any(|e| is_hash_name(&e.file_name()))
}

/// `<8 hex digits>.<digits>`: a certificate's hash name (a CRL's is
/// `.r<digits>`).
fn is_hash_name(name: &std::ffi::OsStr) -> bool {
    let name = name.as_encoded_bytes();
    match name.split_at_checked(8) {
        Some((hash, [b'.', n @ ..])) => {
            hash.iter().all(u8::is_ascii_hexdigit)
                && !n.is_empty()
                && n.iter().all(u8::is_ascii_digit)
        }
        _ => false,
    }
}

/// OpenSSL's configuration directory (`OPENSSLDIR: "/usr/lib/ssl"`).
fn openssl_dir() -> PathBuf {
    let dir = openssl::version::dir();
    let dir = dir.strip_prefix("OPENSSLDIR:").unwrap_or(dir).trim();
    PathBuf::from(dir.trim_matches('"'))
}

/// Run the TLS handshake over `tcp`, verifying chain and host name (or the
/// pinned fingerprint) before a single POP3 byte is exchanged. `reopen`
/// opens another connection the same way `tcp` was opened (through the
/// proxy, if any): only to show the fingerprint of a certificate that is
/// not trusted, or, when `implicit` (TLS from the first byte), to tell a
/// port that speaks plain POP3, with nothing sent on it.
pub fn start_tls(
    tcp: TcpStream,
    host: &str,
    trust: &Trust,
    reopen: &dyn Fn() -> Option<TcpStream>,
    implicit: bool,
) -> Result<Stream, TransportError> {
    // An IPv6 literal is checked against the certificate's IP addresses,
    // without the brackets it may be written with.
    let tls = handshake(trust, bare_host(host), tcp, Some((reopen, implicit)))?;
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

/// The client certificate (with any intermediates after it) and its key.
/// Keys in the PKCS#8, PKCS#1 (`RSA PRIVATE KEY`) and SEC1 (`EC PRIVATE
/// KEY`) forms are read; an encrypted key is refused with the command that
/// decrypts it, since nobody is there to type a passphrase under cron.
fn client_identity(
    cert_path: &Path,
    key_path: &Path,
) -> Result<(Vec<X509>, PKey<Private>), TransportError> {
    let cert_err = |reason: String| TransportError::ClientCert {
        path: cert_path.to_path_buf(),
        reason,
    };
    let key_err = |reason: String| TransportError::ClientKey {
        path: key_path.to_path_buf(),
        reason,
    };
    let cert_pem = std::fs::read(cert_path).map_err(|e| cert_err(e.to_string()))?;
    let chain = X509::stack_from_pem(&cert_pem)
        .map_err(|e| cert_err(format!("it is not a PEM certificate file ({e})")))?;
    let leaf = chain.first().ok_or_else(|| {
        cert_err("it holds no certificate (-----BEGIN CERTIFICATE-----)".to_string())
    })?;
    let key_pem = Zeroizing::new(std::fs::read(key_path).map_err(|e| key_err(e.to_string()))?);
    let holds = |needle: &[u8]| key_pem.windows(needle.len()).any(|w| w == needle);
    if holds(b"-----BEGIN ENCRYPTED PRIVATE KEY-----") || holds(b"Proc-Type: 4,ENCRYPTED") {
        return Err(TransportError::ClientKeyEncrypted {
            path: key_path.to_path_buf(),
        });
    }
    if !holds(b"PRIVATE KEY-----") {
        return Err(key_err(
            "it holds no private key in PEM form (-----BEGIN PRIVATE KEY-----)".to_string(),
        ));
    }
    // An empty passphrase, so that OpenSSL never prompts on a terminal.
    let key = PKey::private_key_from_pem_passphrase(&key_pem, b"")
        .map_err(|e| key_err(format!("it is not a private key OpenSSL can read ({e})")))?;
    let matches = leaf
        .public_key()
        .map(|public| public.public_eq(&key))
        .map_err(|e| cert_err(format!("its public key cannot be read ({e})")))?;
    if !matches {
        return Err(TransportError::ClientKeyMismatch {
            cert: cert_path.to_path_buf(),
            key: key_path.to_path_buf(),
        });
    }
    Ok((chain, key))
}

/// One TLS handshake over `tcp` with `trust`'s context: SNI for a host
/// name, and the host name (or IP address) checked against the
/// certificate unless a pin replaces verification.
fn handshake(
    trust: &Trust,
    host: &str,
    tcp: TcpStream,
    explain: Option<(&dyn Fn() -> Option<TcpStream>, bool)>,
) -> Result<TlsStream, TransportError> {
    let setup = |e: openssl::error::ErrorStack| TransportError::Handshake {
        host: host.to_string(),
        reason: e.to_string(),
    };
    let mut ssl = Ssl::new(&trust.context).map_err(setup)?;
    let ip = host.parse::<IpAddr>().ok();
    if ip.is_none() {
        ssl.set_hostname(host).map_err(setup)?;
    }
    if trust.verify {
        let param = ssl.param_mut();
        param.set_hostflags(X509CheckFlags::NO_PARTIAL_WILDCARDS);
        match ip {
            Some(ip) => param.set_ip(ip).map_err(setup)?,
            None => param.set_host(host).map_err(setup)?,
        }
    }
    match ssl.connect(tcp) {
        Ok(tls) => Ok(tls),
        Err(HandshakeError::WouldBlock(_)) => Err(TransportError::HandshakeTimeout {
            host: host.to_string(),
        }),
        Err(HandshakeError::SetupFailure(e)) => Err(setup(e)),
        Err(HandshakeError::Failure(mid)) => {
            let verify = mid.ssl().verify_result();
            let reason = if verify == X509VerifyResult::OK {
                mid.error().to_string()
            } else {
                format!("{} ({})", mid.error(), verify)
            };
            let Some((reopen, implicit)) = explain else {
                return Err(TransportError::Handshake {
                    host: host.to_string(),
                    reason,
                });
            };
            if reason.contains("certificate verify failed") {
                // Connect once more without verification, only to show the
                // certificate and the fingerprint the user could pin.
                // Nothing is sent on it.
                let certificate = reopen().and_then(|tcp| {
                    let any = Trust::any().ok()?;
                    let tls = handshake(&any, host, tcp, None).ok()?;
                    let cert = tls.ssl().peer_certificate()?;
                    Some(Box::new(CertInfo::of(&cert, host, Some(verify))))
                });
                let hint = match &certificate {
                    Some(c) => format!(
                        "if you trust it, pin it with tls_fingerprint = \"{}\", or give the CA that signed it with tls_ca_file",
                        c.fingerprint
                    ),
                    None => "give the CA that signed it with tls_ca_file, or pin it with tls_fingerprint".into(),
                };
                let reason = match &certificate {
                    Some(c) if !c.problems.is_empty() => c.why(),
                    _ => short_verify_reason(&reason),
                };
                Err(TransportError::Untrusted {
                    host: host.to_string(),
                    reason,
                    hint,
                    certificate,
                })
            } else if implicit && reopen().is_some_and(|tcp| greets_in_plain_pop3(&tcp)) {
                // A plain POP3 server greets at once; OpenSSL took the
                // greeting for a broken TLS record. A second connection,
                // on which nothing is sent, shows what the port speaks.
                Err(TransportError::PlainPort {
                    host: host.to_string(),
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

/// How long a second connection waits for a plain POP3 greeting, or a
/// first one for any greeting before asking whether the port speaks TLS.
pub const GREETING_PROBE: Duration = Duration::from_secs(3);

/// Whether `tcp`, on which nothing has been sent, starts with a POP3
/// greeting (`+OK` or `-ERR`) within [`GREETING_PROBE`].
fn greets_in_plain_pop3(tcp: &TcpStream) -> bool {
    let wait = tcp
        .read_timeout()
        .ok()
        .flatten()
        .map_or(GREETING_PROBE, |t| t.min(GREETING_PROBE));
    if tcp.set_read_timeout(Some(wait)).is_err() {
        return false;
    }
    let mut got = [0u8; 4];
    let mut n = 0;
    while n < got.len() {
        match (&*tcp).read(&mut got[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => break,
        }
        if got[..n].starts_with(b"+OK") || got[..n].starts_with(b"-ERR") {
            let _ = tcp.shutdown(Shutdown::Both);
            return true;
        }
    }
    let _ = tcp.shutdown(Shutdown::Both);
    false
}

/// Whether anything arrives on `tcp` within `wait` (the greeting a POP3
/// server sends unasked). Nothing is read.
pub fn readable_within(tcp: &TcpStream, wait: Duration) -> bool {
    let Ok(wait) = Timespec::try_from(wait) else {
        return true;
    };
    let mut fds = [PollFd::new(tcp, PollFlags::IN)];
    loop {
        match rustix::event::poll(&mut fds, Some(&wait)) {
            Ok(n) => return n > 0,
            Err(Errno::INTR) => continue,
            // Let the read that follows find out.
            Err(_) => return true,
        }
    }
}

/// Whether the server at `tcp` (a fresh connection, nothing sent yet)
/// completes a TLS handshake: a port that expects TLS from the first byte.
/// Nothing but the handshake is sent; the certificate is not checked.
pub fn answers_tls(tcp: TcpStream, host: &str) -> bool {
    let Ok(any) = Trust::any() else {
        return false;
    };
    match handshake(&any, bare_host(host), tcp, None) {
        Ok(mut tls) => {
            let _ = tls.shutdown();
            true
        }
        Err(_) => false,
    }
}

/// The certificate of an established TLS connection, described.
pub fn peer_certificate(tls: &TlsStream, host: &str) -> Option<CertInfo> {
    let cert = tls.ssl().peer_certificate()?;
    Some(CertInfo::of(&cert, bare_host(host), None))
}

impl Trust {
    /// Accept any certificate: only to learn a fingerprint.
    fn any() -> Result<Trust, TransportError> {
        Ok(Trust {
            context: context(&ContextKey {
                ca_file: None,
                verify: false,
                client: None,
            })?,
            verify: false,
            fingerprint: None,
        })
    }
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
pub fn peer_fingerprint(tls: &TlsStream) -> Option<String> {
    let der = tls.ssl().peer_certificate()?.to_der().ok()?;
    Some(format_fingerprint(&Sha256::digest(&der)))
}

pub fn format_fingerprint(digest: &[u8]) -> String {
    format!("sha256:{}", crate::text::hex_colons(digest))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_names_are_told_from_other_names() {
        for name in ["3513523f.0", "ABCDEF01.12", "00000000.9"] {
            assert!(is_hash_name(std::ffi::OsStr::new(name)), "{name}");
        }
        for name in [
            "3513523f.r0",
            "3513523f.",
            "3513523f",
            "3513523g.0",
            "3513523.0",
            "3513523f0.0",
            "ca-certificates.crt",
            "ISRG_Root_X1.pem",
            "",
        ] {
            assert!(!is_hash_name(std::ffi::OsStr::new(name)), "{name}");
        }
    }

    /// A CA (`CN=Test CA`) and a certificate for `localhost` it signed.
    fn ca_and_leaf() -> (X509, X509, PKey<Private>) {
        use openssl::asn1::Asn1Time;
        use openssl::bn::BigNum;
        use openssl::ec::{EcGroup, EcKey};
        use openssl::hash::MessageDigest;
        use openssl::nid::Nid;
        use openssl::x509::extension::{BasicConstraints, SubjectAlternativeName};
        use openssl::x509::{X509Builder, X509NameBuilder};
        let key = || {
            let group = EcGroup::from_curve_name(Nid::X9_62_PRIME256V1).unwrap();
            PKey::from_ec_key(EcKey::generate(&group).unwrap()).unwrap()
        };
        let name = |cn: &str| {
            let mut n = X509NameBuilder::new().unwrap();
            n.append_entry_by_text("CN", cn).unwrap();
            n.build()
        };
        let cert = |serial: u32,
                    subject: &str,
                    issuer: &str,
                    pkey: &PKey<Private>,
                    signer: &PKey<Private>,
                    ca: bool| {
            let mut c = X509Builder::new().unwrap();
            c.set_version(2).unwrap();
            let serial = BigNum::from_u32(serial).unwrap().to_asn1_integer().unwrap();
            c.set_serial_number(&serial).unwrap();
            c.set_subject_name(&name(subject)).unwrap();
            c.set_issuer_name(&name(issuer)).unwrap();
            c.set_pubkey(pkey).unwrap();
            c.set_not_before(&Asn1Time::days_from_now(0).unwrap())
                .unwrap();
            c.set_not_after(&Asn1Time::days_from_now(2).unwrap())
                .unwrap();
            if ca {
                c.append_extension(BasicConstraints::new().critical().ca().build().unwrap())
                    .unwrap();
            } else {
                let san = SubjectAlternativeName::new()
                    .dns("localhost")
                    .build(&c.x509v3_context(None, None))
                    .unwrap();
                c.append_extension(san).unwrap();
            }
            c.sign(signer, MessageDigest::sha256()).unwrap();
            c.build()
        };
        let (ca_key, leaf_key) = (key(), key());
        let ca = cert(1, "Test CA", "Test CA", &ca_key, &ca_key, true);
        let leaf = cert(2, "localhost", "Test CA", &leaf_key, &ca_key, false);
        (ca, leaf, leaf_key)
    }

    /// A TLS handshake with a server presenting `leaf`, trusting what
    /// [`hashed_dirs`] finds in `dir`.
    fn handshake_trusting(dir: &Path, leaf: &X509, key: &PKey<Private>) -> Result<(), String> {
        use openssl::ssl::{Ssl, SslAcceptor};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let mut acceptor = SslAcceptor::mozilla_intermediate_v5(SslMethod::tls_server()).unwrap();
        acceptor.set_certificate(leaf).unwrap();
        acceptor.set_private_key(key).unwrap();
        let acceptor = acceptor.build();
        let server = std::thread::spawn(move || {
            let (tcp, _) = listener.accept().unwrap();
            if let Ok(mut tls) = acceptor.accept(tcp) {
                let _ = tls.write_all(b"ok");
            }
        });
        let mut b = SslContextBuilder::new(SslMethod::tls_client()).unwrap();
        b.set_verify(SslVerifyMode::PEER);
        hashed_dirs(&mut b, dir, &[]).unwrap();
        let ctx = b.build();
        let mut ssl = Ssl::new(&ctx).unwrap();
        ssl.set_hostname("localhost").unwrap();
        ssl.param_mut().set_host("localhost").unwrap();
        let tcp = TcpStream::connect(("127.0.0.1", port)).unwrap();
        let result = ssl.connect(tcp).map_err(|e| e.to_string()).map(|mut tls| {
            let mut got = [0u8; 2];
            tls.read_exact(&mut got).unwrap();
            assert_eq!(&got, b"ok");
        });
        server.join().unwrap();
        result
    }

    #[test]
    fn a_root_in_a_hashed_directory_is_found_when_a_chain_names_it() {
        let (ca, leaf, key) = ca_and_leaf();
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("ca.pem"), ca.to_pem().unwrap()).unwrap();
        // The root under an ordinary name only: the lookup cannot find it.
        assert!(!has_hash_links(dir.path()));
        let refused = handshake_trusting(dir.path(), &leaf, &key);
        assert!(
            refused.as_ref().is_err_and(|e| e.contains("verify")),
            "{refused:?}"
        );
        // Under its hash name, as `openssl rehash` links it.
        let hashed = dir.path().join(format!("{:08x}.0", ca.subject_name_hash()));
        std::os::unix::fs::symlink("ca.pem", &hashed).unwrap();
        assert!(has_hash_links(dir.path()));
        assert_eq!(handshake_trusting(dir.path(), &leaf, &key), Ok(()));
        assert!(!has_hash_links(&dir.path().join("missing")));
    }

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

    fn addr(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    #[test]
    fn brackets_around_an_ipv6_literal_are_notation() {
        assert_eq!(bare_host("[::1]"), "::1");
        assert_eq!(bare_host("[2001:db8::7]"), "2001:db8::7");
        assert_eq!(bare_host("::1"), "::1");
        assert_eq!(bare_host("pop.example.com"), "pop.example.com");
        assert_eq!(bare_host("[::1"), "[::1");
    }

    #[test]
    fn families_alternate_and_what_worked_goes_first() {
        let (a6, b6, c6) = (addr("[::1]:1"), addr("[::2]:1"), addr("[::3]:1"));
        let (a4, b4) = (addr("127.0.0.1:1"), addr("127.0.0.2:1"));
        assert_eq!(
            attempt_order(&[a6, b6, c6, a4, b4], None),
            [a6, a4, b6, b4, c6]
        );
        assert_eq!(attempt_order(&[a4, a6, b6], None), [a4, a6, b6]);
        assert_eq!(attempt_order(&[a4, a4, b4], None), [a4, b4]);
        assert_eq!(attempt_order(&[a6, b6, a4, b4], Some(b4)), [b4, a6, a4, b6]);
        // An address that worked but is no longer listed is not invented.
        assert_eq!(attempt_order(&[a6, a4], Some(b4)), [a6, a4]);
        assert!(attempt_order(&[], Some(a4)).is_empty());
        let many: Vec<SocketAddr> = (1..=40u16)
            .map(|p| addr(&format!("127.0.0.1:{p}")))
            .collect();
        assert_eq!(attempt_order(&many, None).len(), MAX_ADDRESSES);
    }

    /// A loopback listener that never completes a connection: its accept
    /// queue (backlog 0) is full, so the kernel drops every further SYN,
    /// like a host that silently drops packets. Keep it alive while used.
    struct BlackHole {
        _listener: OwnedFd,
        _filler: TcpStream,
        addr: SocketAddr,
    }

    fn black_hole() -> BlackHole {
        let fd = rustix::net::socket(AddressFamily::INET, SocketType::STREAM, None).unwrap();
        rustix::net::bind(&fd, &addr("127.0.0.1:0")).unwrap();
        rustix::net::listen(&fd, 0).unwrap();
        let addr = TcpStream::from(fd.try_clone().unwrap())
            .local_addr()
            .unwrap();
        let filler = TcpStream::connect(addr).unwrap();
        let probe = TcpStream::connect_timeout(&addr, Duration::from_millis(300));
        assert!(
            probe.as_ref().is_err_and(is_timeout),
            "the black hole answered: {probe:?}"
        );
        BlackHole {
            _listener: fd,
            _filler: filler,
            addr,
        }
    }

    #[test]
    fn an_address_that_drops_packets_does_not_hold_up_the_next() {
        let hole = black_hole();
        let good = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let good_addr = good.local_addr().unwrap();
        // Were the addresses tried one after the other, the first would
        // use up the whole timeout and the connection would fail.
        let (tcp, used) = connect_any(&[hole.addr, good_addr], Duration::from_secs(10)).unwrap();
        assert_eq!(used, good_addr);
        assert_eq!(tcp.peer_addr().unwrap(), good_addr);
        // The stream is an ordinary blocking one.
        let (mut server, _) = good.accept().unwrap();
        server.write_all(b"+OK\r\n").unwrap();
        let mut buf = [0u8; 5];
        (&tcp).read_exact(&mut buf).unwrap();
        assert_eq!(&buf, b"+OK\r\n");
    }

    #[test]
    fn a_refused_address_makes_way_for_the_next_and_the_winner_is_remembered() {
        let refused = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .unwrap();
        let good = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let good_addr = good.local_addr().unwrap();
        let (_, used) = connect_any(&[refused, good_addr], Duration::from_secs(10)).unwrap();
        assert_eq!(used, good_addr);

        connect_tcp("127.0.0.1", good_addr.port(), Duration::from_secs(10)).unwrap();
        assert_eq!(worked("127.0.0.1", good_addr.port()), Some(good_addr));
        connect_tcp("[::1]", 1, Duration::from_secs(1)).unwrap_err();
        assert_eq!(worked("::1", 1), None, "only what connected is remembered");
    }

    #[test]
    fn nothing_answering_is_a_timeout_and_nothing_listed_is_not_found() {
        let hole = black_hole();
        let e = connect_any(&[hole.addr], Duration::from_millis(600)).unwrap_err();
        assert!(is_timeout(&e), "{e:?}");
        let e = connect_any(&[], Duration::from_secs(1)).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::NotFound);
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
