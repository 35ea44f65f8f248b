//! The client side of a SOCKS5 CONNECT (RFC 1928), with user name and
//! password authentication (RFC 1929) when the proxy URL carries them.
//!
//! The proxy resolves the server's host name: a name travels in the
//! request as a domain name (ATYP 3), an IP literal as ATYP 1 or 4, and
//! popfetch never looks the server's name up itself. That is what curl
//! calls `socks5h://`; here `socks5://` means the same, so that no DNS
//! query for the server leaves this machine when a proxy is set. Only
//! the proxy's own host name is resolved locally.
//!
//! TLS runs over the proxied stream exactly as over a direct one, and the
//! certificate is checked against the POP3 server's host name, never the
//! proxy's. The proxy's address, the handshake and the proxy's reply
//! together are bounded by `timeout`.

use std::fmt;
use std::io::{self, Read, Write};
use std::net::{IpAddr, TcpStream};
use std::time::{Duration, Instant};

use zeroize::Zeroizing;

use super::{TransportError, bare_host, connect_tcp, is_timeout};
use crate::secret::Secret;
use crate::text::{REDACTED, printable_capped};

/// The port a proxy URL without one means (RFC 1928 §3).
pub const DEFAULT_PORT: u16 = 1080;

const VERSION: u8 = 5;
const NO_AUTH: u8 = 0x00;
const USER_PASSWORD: u8 = 0x02;
const NO_ACCEPTABLE_METHOD: u8 = 0xff;
const CONNECT: u8 = 1;
const ATYP_IPV4: u8 = 1;
const ATYP_DOMAIN: u8 = 3;
const ATYP_IPV6: u8 = 4;
/// RFC 1929's subnegotiation version.
const AUTH_VERSION: u8 = 1;

/// A SOCKS5 proxy, from `proxy = "socks5://[USER:PASSWORD@]HOST[:PORT]"`.
/// `Display` and `Debug` show the password as `********`.
#[derive(Clone)]
pub struct Proxy {
    /// As written; an IPv6 literal keeps its brackets.
    host: String,
    port: u16,
    login: Option<(String, Secret)>,
}

impl Proxy {
    /// Read a proxy URL. Errors never quote the password.
    pub fn parse(url: &str) -> Result<Proxy, String> {
        let shown = redact_url(url);
        let form = "write socks5://HOST:PORT, or socks5://USER:PASSWORD@HOST:PORT for a proxy \
                    that wants a login";
        let bad = |why: &str| format!("{shown:?} is not a proxy URL: {why}; {form}");
        let Some((scheme, rest)) = url.split_once("://") else {
            return Err(bad("it does not start with socks5://"));
        };
        if !scheme.eq_ignore_ascii_case("socks5") && !scheme.eq_ignore_ascii_case("socks5h") {
            return Err(format!(
                "{shown:?}: popfetch speaks only SOCKS5 to a proxy, not {}; {form}",
                printable_capped(scheme.as_bytes(), 20)
            ));
        }
        let rest = rest.strip_suffix('/').unwrap_or(rest);
        if rest
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || matches!(c, '/' | '?' | '#'))
        {
            return Err(bad("only a host and port may follow socks5://"));
        }
        let (userinfo, hostport) = match rest.rsplit_once('@') {
            Some((u, h)) => (Some(u), h),
            None => (None, rest),
        };
        let (host, port) = split_host_port(hostport).map_err(|why| bad(&why))?;
        let login = match userinfo {
            None => None,
            Some(u) => {
                let Some((user, password)) = u.split_once(':') else {
                    return Err(bad(
                        "it has a user name but no password (socks5://USER:PASSWORD@HOST)",
                    ));
                };
                let user = percent_decode(user).map_err(|why| bad(&format!("the user {why}")))?;
                let password = Zeroizing::new(
                    percent_decode(password).map_err(|why| bad(&format!("the password {why}")))?,
                );
                // RFC 1929: each is one to 255 bytes.
                for (what, len) in [("user name", user.len()), ("password", password.len())] {
                    if !(1..=255).contains(&len) {
                        return Err(bad(&format!(
                            "a SOCKS5 {what} must be 1 to 255 bytes long, this one has {len}"
                        )));
                    }
                }
                Some((user, Secret::new(password.to_string())))
            }
        };
        Ok(Proxy { host, port, login })
    }

    /// Whether the URL carries a password (the config file then holds a
    /// secret).
    pub fn has_password(&self) -> bool {
        self.login.is_some()
    }
}

impl fmt::Display for Proxy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.login {
            Some((user, _)) => write!(
                f,
                "socks5://{}:{REDACTED}@{}:{}",
                percent_encode(user),
                self.host,
                self.port
            ),
            None => write!(f, "socks5://{}:{}", self.host, self.port),
        }
    }
}

impl fmt::Debug for Proxy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// A proxy URL as it may be quoted: whatever follows the first `:` of the
/// user information is hidden, whether or not the URL is valid.
pub fn redact_url(url: &str) -> String {
    let start = url.find("://").map_or(0, |i| i + 3);
    let Some(at) = url[start..].rfind('@').map(|i| start + i) else {
        return url.to_string();
    };
    match url[start..at].find(':') {
        Some(colon) => format!("{}{REDACTED}{}", &url[..start + colon + 1], &url[at..]),
        None => url.to_string(),
    }
}

/// `HOST[:PORT]` or `[V6]:PORT`.
fn split_host_port(s: &str) -> Result<(String, u16), String> {
    let (host, port) = if let Some(inner) = s.strip_prefix('[') {
        let (v6, after) = inner
            .split_once(']')
            .ok_or("an IPv6 address must be closed with ']'")?;
        if v6.parse::<std::net::Ipv6Addr>().is_err() {
            return Err(format!("{v6:?} in brackets is not an IPv6 address"));
        }
        let port = match after {
            "" => None,
            p => Some(p.strip_prefix(':').ok_or("a ':' must follow ']'")?),
        };
        (format!("[{v6}]"), port)
    } else {
        match s.split_once(':') {
            Some((_, p)) if p.contains(':') => {
                return Err("write an IPv6 address in brackets, as [::1]:1080".to_string());
            }
            Some((h, p)) => (h.to_string(), Some(p)),
            None => (s.to_string(), None),
        }
    };
    if host.is_empty() {
        return Err("the host is missing".to_string());
    }
    let port = match port {
        None => DEFAULT_PORT,
        Some(p) => p
            .parse::<u16>()
            .ok()
            .filter(|p| *p != 0)
            .ok_or_else(|| format!("{p:?} is not a port (1 to 65535)"))?,
    };
    Ok((host, port))
}

/// `%XX` escapes as in URLs (so that a password may hold `@` or `:`).
fn percent_decode(s: &str) -> Result<String, &'static str> {
    let mut out = Zeroizing::new(Vec::with_capacity(s.len()));
    let mut bytes = s.bytes();
    while let Some(b) = bytes.next() {
        if b == b'%' {
            let hex = [bytes.next(), bytes.next()];
            let digit = |d: Option<u8>| char::from(d.unwrap_or(b'x')).to_digit(16);
            match (digit(hex[0]), digit(hex[1])) {
                (Some(h), Some(l)) => out.push((h * 16 + l) as u8),
                _ => return Err("has a '%' that is not followed by two hex digits"),
            }
        } else {
            out.push(b);
        }
    }
    String::from_utf8(out.to_vec()).map_err(|_| "is not UTF-8 once its %XX escapes are decoded")
}

/// The user name as it goes back into a URL.
fn percent_encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                char::from(b).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Why the proxy did not give us a connection to the server.
#[derive(Debug, thiserror::Error)]
pub enum SocksError {
    #[error("cannot resolve the proxy's host name ({0}): check `proxy`")]
    ProxyUnresolved(io::Error),
    #[error("cannot connect to the proxy ({0}): check `proxy`, and that the proxy is running")]
    ProxyUnreachable(io::Error),
    #[error(
        "the proxy did not answer in time: try again later, or raise `timeout` (it bounds \
         reaching the proxy and the proxy's reply together)"
    )]
    Timeout,
    #[error(
        "the proxy closed the connection during the SOCKS5 handshake: check that `proxy` names \
         a SOCKS5 proxy that accepts this client"
    )]
    Closed,
    #[error("the connection to the proxy failed during the SOCKS5 handshake: {0}")]
    Io(io::Error),
    #[error("the proxy does not speak SOCKS5 ({0}): check that `proxy` names a SOCKS5 proxy")]
    Malformed(String),
    #[error(
        "the proxy wants a user name and password: write them in the proxy URL in the config \
         file, proxy = \"socks5://USER:PASSWORD@HOST:PORT\""
    )]
    LoginWanted,
    #[error(
        "the proxy accepts neither a user name and password nor no authentication (it wants a \
         method popfetch does not speak, such as GSSAPI): use another proxy"
    )]
    NoAcceptableMethod,
    #[error(
        "the proxy refused the user name {user:?} and its password: check the user and \
         password in `proxy`"
    )]
    LoginRefused { user: String },
    #[error(
        "the host name is {0} bytes long, more than the 255 a SOCKS5 request can carry: give \
         the server's IP address as `host`"
    )]
    HostTooLong(usize),
    #[error("{}", reply_meaning(*.0))]
    Refused(u8),
}

/// What a SOCKS5 reply code (RFC 1928 §6) means, and what to do.
fn reply_meaning(code: u8) -> String {
    let (what, fix) = match code {
        1 => (
            "a general failure",
            "often a host name the proxy cannot resolve: check `host`, and the proxy's log",
        ),
        2 => (
            "connection not allowed by its rules",
            "the proxy's administrator decides which servers it reaches: check `host` and \
             `port`, or ask them",
        ),
        3 => (
            "network unreachable",
            "check `host`, and the network behind the proxy",
        ),
        4 => (
            "host unreachable",
            "check `host` (the proxy may not be able to resolve it), and the network behind the \
             proxy",
        ),
        5 => (
            "connection refused",
            "nothing listens on the server's port: check `host` and `port`, and that the server \
             is running",
        ),
        6 => (
            "TTL expired",
            "the server did not answer the proxy in time: try again later",
        ),
        7 => (
            "command not supported",
            "the proxy does not do CONNECT: use another proxy",
        ),
        8 => (
            "address type not supported",
            "the proxy cannot connect to this kind of address (a host name, or IPv6): give the \
             server's address in a form it takes as `host`",
        ),
        _ => (
            "an unknown reply code",
            "see the proxy's documentation or log",
        ),
    };
    format!("the proxy answered {what} (SOCKS5 reply {code}): {fix}")
}

/// Open a TCP connection to `host`:`port` through `proxy`, all within
/// `timeout`. The stream comes back with read and write timeouts of
/// `timeout`, as [`connect_tcp`] leaves a direct one.
pub(super) fn connect(
    proxy: &Proxy,
    host: &str,
    port: u16,
    timeout: Duration,
) -> Result<TcpStream, TransportError> {
    let deadline = Instant::now() + timeout;
    let failed = |source: SocksError| TransportError::Proxy {
        proxy: proxy.to_string(),
        target: format!("{host}:{port}"),
        source,
    };
    let tcp = connect_tcp(&proxy.host, proxy.port, timeout).map_err(|e| match e {
        TransportError::Resolve { source, .. } => failed(SocksError::ProxyUnresolved(source)),
        TransportError::Connect { source, .. } => failed(SocksError::ProxyUnreachable(source)),
        TransportError::ConnectTimeout { .. } => failed(SocksError::Timeout),
        other => other,
    })?;
    handshake(
        &mut Deadline {
            tcp: &tcp,
            deadline,
        },
        proxy,
        host,
        port,
    )
    .map_err(failed)?;
    tcp.set_read_timeout(Some(timeout))
        .and_then(|()| tcp.set_write_timeout(Some(timeout)))
        .map_err(|e| failed(SocksError::Io(e)))?;
    Ok(tcp)
}

/// A socket whose every read and write must end by `deadline`.
struct Deadline<'a> {
    tcp: &'a TcpStream,
    deadline: Instant,
}

impl Deadline<'_> {
    fn left(&self) -> io::Result<Duration> {
        let left = self.deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(io::ErrorKind::TimedOut.into());
        }
        Ok(left)
    }
}

impl Read for Deadline<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.tcp.set_read_timeout(Some(self.left()?))?;
        (&mut &*self.tcp).read(buf)
    }
}

impl Write for Deadline<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.tcp.set_write_timeout(Some(self.left()?))?;
        (&mut &*self.tcp).write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

fn io_error(e: io::Error) -> SocksError {
    if is_timeout(&e) {
        SocksError::Timeout
    } else if e.kind() == io::ErrorKind::UnexpectedEof {
        SocksError::Closed
    } else {
        SocksError::Io(e)
    }
}

fn read_exact<S: Read, const N: usize>(s: &mut S) -> Result<[u8; N], SocksError> {
    let mut buf = [0u8; N];
    s.read_exact(&mut buf).map_err(io_error)?;
    Ok(buf)
}

/// The SOCKS5 exchange over `s`: greeting, login if the proxy asks for
/// it, CONNECT. Reads exactly the proxy's replies, so that what follows
/// on the stream (TLS) is the server's.
pub(super) fn handshake<S: Read + Write>(
    s: &mut S,
    proxy: &Proxy,
    host: &str,
    port: u16,
) -> Result<(), SocksError> {
    // Build the request first: a host that cannot be sent costs no
    // round trip.
    let request = connect_request(host, port)?;
    let greeting: &[u8] = match proxy.login {
        Some(_) => &[VERSION, 2, NO_AUTH, USER_PASSWORD],
        None => &[VERSION, 1, NO_AUTH],
    };
    s.write_all(greeting).map_err(io_error)?;
    let [version, method] = read_exact(s)?;
    if version != VERSION {
        return Err(not_socks5(&[version, method]));
    }
    match (method, &proxy.login) {
        (NO_AUTH, _) => {}
        (USER_PASSWORD, Some((user, password))) => {
            s.write_all(&login_request(user, password))
                .map_err(io_error)?;
            let [version, status] = read_exact(s)?;
            if version != AUTH_VERSION {
                return Err(SocksError::Malformed(format!(
                    "its answer to the login has version {version}, not {AUTH_VERSION}"
                )));
            }
            if status != 0 {
                return Err(SocksError::LoginRefused { user: user.clone() });
            }
        }
        (NO_ACCEPTABLE_METHOD | USER_PASSWORD, None) => return Err(SocksError::LoginWanted),
        (NO_ACCEPTABLE_METHOD, Some(_)) => return Err(SocksError::NoAcceptableMethod),
        (other, _) => {
            return Err(SocksError::Malformed(format!(
                "it chose authentication method {other}, which was not offered"
            )));
        }
    }
    s.write_all(&request).map_err(io_error)?;
    let [version, reply, _reserved, atyp] = read_exact(s)?;
    if version != VERSION {
        return Err(SocksError::Malformed(format!(
            "its reply to CONNECT has version {version}, not 5"
        )));
    }
    if reply != 0 {
        return Err(SocksError::Refused(reply));
    }
    // The address the proxy bound, which nothing here needs.
    let bound = match atyp {
        ATYP_IPV4 => 4,
        ATYP_IPV6 => 16,
        ATYP_DOMAIN => usize::from(read_exact::<_, 1>(s)?[0]),
        other => {
            return Err(SocksError::Malformed(format!(
                "its reply to CONNECT has address type {other}"
            )));
        }
    };
    let mut rest = vec![0u8; bound + 2];
    s.read_exact(&mut rest).map_err(io_error)?;
    Ok(())
}

/// The first bytes of an answer that is not SOCKS5, for the error.
fn not_socks5(bytes: &[u8]) -> SocksError {
    SocksError::Malformed(format!(
        "it answered {:?} to the greeting",
        printable_capped(bytes, 8)
    ))
}

/// RFC 1929's request: version, the user name and the password, each
/// with its length.
fn login_request(user: &str, password: &Secret) -> Zeroizing<Vec<u8>> {
    let (user, password) = (user.as_bytes(), password.expose().as_bytes());
    let mut req = Zeroizing::new(Vec::with_capacity(3 + user.len() + password.len()));
    // Lengths were checked when the URL was read.
    req.push(AUTH_VERSION);
    req.push(u8::try_from(user.len()).unwrap_or(u8::MAX));
    req.extend_from_slice(user);
    req.push(u8::try_from(password.len()).unwrap_or(u8::MAX));
    req.extend_from_slice(password);
    req
}

/// CONNECT to `host`:`port`: an IP literal as an address, anything else as
/// a domain name for the proxy to resolve.
fn connect_request(host: &str, port: u16) -> Result<Vec<u8>, SocksError> {
    let name = bare_host(host);
    let mut req = vec![VERSION, CONNECT, 0];
    match name.parse::<IpAddr>() {
        Ok(IpAddr::V4(a)) => {
            req.push(ATYP_IPV4);
            req.extend_from_slice(&a.octets());
        }
        Ok(IpAddr::V6(a)) => {
            req.push(ATYP_IPV6);
            req.extend_from_slice(&a.octets());
        }
        Err(_) => {
            let len = u8::try_from(name.len())
                .ok()
                .filter(|l| *l > 0)
                .ok_or(SocksError::HostTooLong(name.len()))?;
            req.push(ATYP_DOMAIN);
            req.push(len);
            req.extend_from_slice(name.as_bytes());
        }
    }
    req.extend_from_slice(&port.to_be_bytes());
    Ok(req)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A proxy's side of the conversation: what it will say, and what it
    /// was told.
    struct Fake {
        replies: io::Cursor<Vec<u8>>,
        sent: Vec<u8>,
    }

    impl Fake {
        fn new(replies: &[u8]) -> Fake {
            Fake {
                replies: io::Cursor::new(replies.to_vec()),
                sent: Vec::new(),
            }
        }

        /// Whether every reply was read, and nothing beyond.
        fn drained(&self) -> bool {
            self.replies.position() == self.replies.get_ref().len() as u64
        }
    }

    impl Read for Fake {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            self.replies.read(buf)
        }
    }

    impl Write for Fake {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.sent.extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    fn proxy(url: &str) -> Proxy {
        Proxy::parse(url).unwrap()
    }

    const OK_V4: &[u8] = &[5, 0, 0, 1, 127, 0, 0, 1, 0x04, 0x38];

    #[test]
    fn a_host_name_goes_to_the_proxy_as_a_domain_name() {
        let mut s = Fake::new(&[&[5, 0][..], OK_V4, b"+OK after"].concat());
        handshake(&mut s, &proxy("socks5://127.0.0.1"), "localhost", 995).unwrap();
        let mut want = vec![5, 1, 0, 5, 1, 0, 3, 9];
        want.extend_from_slice(b"localhost");
        want.extend_from_slice(&[0x03, 0xe3]);
        assert_eq!(s.sent, want);
        // What follows the reply is the server's, left unread.
        let mut rest = String::new();
        s.read_to_string(&mut rest).unwrap();
        assert_eq!(rest, "+OK after");
    }

    #[test]
    fn ip_literals_go_as_addresses() {
        let mut s = Fake::new(&[&[5, 0][..], OK_V4].concat());
        handshake(&mut s, &proxy("socks5://p"), "192.0.2.7", 110).unwrap();
        assert_eq!(s.sent[3..], [5, 1, 0, 1, 192, 0, 2, 7, 0, 110]);
        for host in ["[2001:db8::1]", "2001:db8::1"] {
            let mut s = Fake::new(&[&[5, 0][..], OK_V4].concat());
            handshake(&mut s, &proxy("socks5://p"), host, 995).unwrap();
            let mut want = vec![5, 1, 0, 4, 0x20, 0x01, 0x0d, 0xb8];
            want.extend_from_slice(&[0; 11]);
            want.extend_from_slice(&[1, 0x03, 0xe3]);
            assert_eq!(s.sent[3..], want, "{host}");
        }
    }

    #[test]
    fn bound_addresses_of_every_type_are_read_to_their_end() {
        for bound in [
            &[1, 10, 0, 0, 1, 0, 1][..],
            &[4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 1],
            &[3, 4, b'p', b'r', b'o', b'x', 0, 1],
        ] {
            let mut s = Fake::new(&[&[5, 0, 5, 0, 0][..], bound].concat());
            handshake(&mut s, &proxy("socks5://p"), "h", 1).unwrap();
            assert!(s.drained(), "{bound:?}");
        }
    }

    #[test]
    fn a_login_is_offered_and_sent_when_the_url_has_one() {
        let p = proxy("socks5://al%40ice:p%3Ass@[::1]:1081/");
        let mut s = Fake::new(&[&[5, 2, 1, 0][..], OK_V4].concat());
        handshake(&mut s, &p, "h", 1).unwrap();
        let mut want = vec![5, 2, 0, 2, 1, 6];
        want.extend_from_slice(b"al@ice");
        want.push(4);
        want.extend_from_slice(b"p:ss");
        assert_eq!(s.sent[..want.len()], want);
        // A proxy that needs no login is not given one.
        let mut s = Fake::new(&[&[5, 0][..], OK_V4].concat());
        handshake(&mut s, &p, "h", 1).unwrap();
        assert_eq!(s.sent[..4], [5, 2, 0, 2]);
        assert_eq!(s.sent[4..7], [5, 1, 0]);
    }

    #[test]
    fn each_refusal_is_its_own_error() {
        let with_login = proxy("socks5://u:secret-pw@p");
        let without = proxy("socks5://p");
        let refusal = |p: &Proxy, replies: &[u8]| {
            let e = handshake(&mut Fake::new(replies), p, "h", 1).unwrap_err();
            assert!(!e.to_string().contains("secret-pw"), "{e}");
            e
        };
        let e = refusal(&with_login, &[5, 2, 1, 1]);
        assert!(
            matches!(&e, SocksError::LoginRefused { user } if user == "u"),
            "{e:?}"
        );
        for wants_login in [&[5, 0xff][..], &[5, 2]] {
            let e = refusal(&without, wants_login);
            assert!(matches!(e, SocksError::LoginWanted), "{e:?}");
        }
        let e = refusal(&with_login, &[5, 0xff]);
        assert!(matches!(e, SocksError::NoAcceptableMethod), "{e:?}");
        // A method not offered, not SOCKS5 at all, an unknown address type.
        for odd in [&[5, 1][..], b"HTTP/1.1 400", &[5, 0, 5, 0, 0, 9]] {
            let e = refusal(&without, odd);
            assert!(matches!(e, SocksError::Malformed(_)), "{odd:?}: {e:?}");
        }
        let e = refusal(&without, &[5, 0, 5]);
        assert!(matches!(e, SocksError::Closed), "{e:?}");
        for code in 1..=9u8 {
            let mut s = Fake::new(&[5, 0, 5, code, 0, 1]);
            let e = handshake(&mut s, &without, "h", 1).unwrap_err();
            assert!(matches!(e, SocksError::Refused(c) if c == code), "{e:?}");
            let text = e.to_string();
            assert!(text.contains(&format!("SOCKS5 reply {code}")), "{text}");
        }
        let refused = SocksError::Refused(5).to_string();
        assert!(refused.contains("connection refused"), "{refused}");
    }

    #[test]
    fn a_host_name_too_long_for_socks5_costs_no_round_trip() {
        let mut s = Fake::new(&[]);
        let e = handshake(&mut s, &proxy("socks5://p"), &"a".repeat(256), 1).unwrap_err();
        assert!(matches!(e, SocksError::HostTooLong(256)), "{e:?}");
        assert!(s.sent.is_empty());
        let mut s = Fake::new(&[&[5, 0][..], OK_V4].concat());
        handshake(&mut s, &proxy("socks5://p"), &"a".repeat(255), 1).unwrap();
    }

    #[test]
    fn proxy_urls() {
        let p = proxy("socks5://127.0.0.1:1080");
        assert_eq!(
            (p.host.as_str(), p.port, p.has_password()),
            ("127.0.0.1", 1080, false)
        );
        let p = proxy("SOCKS5H://proxy.example");
        assert_eq!((p.host.as_str(), p.port), ("proxy.example", DEFAULT_PORT));
        assert_eq!(p.to_string(), "socks5://proxy.example:1080");
        let p = proxy("socks5://bob:hunter2@[::1]:9050");
        assert_eq!(p.host, "[::1]");
        assert_eq!(p.to_string(), "socks5://bob:********@[::1]:9050");
        assert_eq!(format!("{p:?}"), "socks5://bob:********@[::1]:9050");
        for bad in [
            "127.0.0.1:1080",
            "http://proxy:3128",
            "socks4://proxy",
            "socks5://",
            "socks5://:1080",
            "socks5://proxy:0",
            "socks5://proxy:99999",
            "socks5://proxy:port",
            "socks5://::1:1080",
            "socks5://[::1",
            "socks5://[nope]:1",
            "socks5://proxy/path",
            "socks5://user@proxy",
            "socks5://:hunter2@proxy",
            "socks5://u:%zzhunter2@proxy",
            "socks5://u:hunter2 @proxy",
        ] {
            let e = Proxy::parse(bad).expect_err(bad);
            assert!(!e.contains("hunter2"), "{bad}: {e}");
            assert!(e.contains("socks5://"), "{bad}: the form is given: {e}");
        }
        let e = Proxy::parse(&format!("socks5://u:{}@p", "x".repeat(256))).unwrap_err();
        assert!(e.contains("1 to 255 bytes"), "{e}");
    }

    #[test]
    fn quoted_urls_hide_the_password() {
        assert_eq!(
            redact_url("socks5://bob:hunter2@proxy:1"),
            "socks5://bob:********@proxy:1"
        );
        assert_eq!(redact_url("bob:hun@ter2@proxy"), "bob:********@proxy");
        assert_eq!(redact_url("socks5://bob@proxy"), "socks5://bob@proxy");
        assert_eq!(redact_url("socks5://proxy:1"), "socks5://proxy:1");
    }

    #[test]
    fn the_whole_exchange_is_bounded_by_the_deadline() {
        // A proxy that accepts the connection and says nothing.
        let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let p = proxy(&format!("socks5://{}", silent.local_addr().unwrap()));
        let start = Instant::now();
        let e = connect(&p, "h", 1, Duration::from_millis(500)).unwrap_err();
        assert!(
            matches!(
                &e,
                TransportError::Proxy {
                    source: SocksError::Timeout,
                    ..
                }
            ),
            "{e:?}"
        );
        assert!(start.elapsed() < Duration::from_secs(3));
    }
}
