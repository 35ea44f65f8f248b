//! The session stage: one POP3 session with an account's server.
//! Connect, secure the connection (implicit TLS or STLS), read the greeting
//! and CAPA, log in, list the mailbox; then the pipelined RETR and DELE
//! windows the fetch drives. Everything here speaks POP3; nothing here
//! touches the filesystem or decides what to fetch.

use std::io::{Read, Write};

use sha2::{Digest, Sha256};

use crate::account::{Account, Pipelining, TlsMode};
use crate::auth::{self, Login};
use crate::error::Error;
use crate::interrupt::Interrupt;
use crate::policy::Listed;
use crate::protocol::session::{BodyError, Trace};
use crate::protocol::{Capabilities, Command, ProtoError, Session};
use crate::secret::Secret;
use crate::transport::{self, Stream, Trust};

/// Where `-vv` trace lines go; shared by every session of a run.
pub type TraceSink = std::sync::Arc<dyn Fn(&str) + Send + Sync>;

/// How many commands may be in flight when pipelining (mpop: up to 100).
const WINDOW: usize = 64;

/// A connected (and, after [`Connection::login`], logged-in) session with
/// what was learnt on the way.
pub struct Connection {
    pub session: Session<Stream>,
    pub capa: Capabilities,
    pub greeting: String,
    /// The greeting's APOP timestamp, if it can be trusted: never after
    /// STLS, since the greeting came before TLS (see [`auth::Apop`]).
    pub apop_timestamp: Option<String>,
    /// The greeting came in plaintext before STLS.
    greeting_before_tls: bool,
    /// The TLS connection, for `serverinfo`; `None` in plaintext.
    pub tls: Option<TlsDetails>,
    /// How many commands may be in flight: 1 is lock-step.
    pub window: usize,
}

/// What was agreed in the TLS handshake, and the server's certificate.
pub struct TlsDetails {
    /// `TLSv1.3`.
    pub version: String,
    pub cipher: String,
    pub certificate: Option<transport::CertInfo>,
}

/// Before the greeting of a connection that starts in plaintext: a server
/// silent for [`transport::GREETING_PROBE`] may be one that waits for a
/// TLS handshake (tls = "starttls" or "none" against an implicit-TLS
/// port). A second connection, on which only a handshake is tried, tells;
/// when it does not complete, the greeting is awaited for the rest of the
/// timeout as usual.
fn expect_greeting(
    tcp: &std::net::TcpStream,
    account: &Account,
    reopen: &dyn Fn() -> Option<std::net::TcpStream>,
) -> Result<(), Error> {
    let wait = account.timeout.min(transport::GREETING_PROBE);
    if transport::readable_within(tcp, wait) {
        return Ok(());
    }
    if reopen().is_some_and(|probe| transport::answers_tls(probe, &account.host)) {
        tcp.shutdown(std::net::Shutdown::Both).ok();
        return Err(transport::TransportError::TlsPort {
            host: account.host.clone(),
            secs: wait.as_secs(),
        }
        .into());
    }
    Ok(())
}

/// `tcp`, a new connection, after greeting and STLS: ready for the TLS
/// handshake. Nothing else is sent on it.
fn stls_again(tcp: std::net::TcpStream, account: &Account) -> Option<std::net::TcpStream> {
    let mut session = Session::new(Stream::Plain(tcp), None);
    session.set_timeout(account.timeout);
    session.greeting().ok().filter(|g| g.ok)?;
    session.command(&Command::Stls).ok()?;
    match session.into_parts().ok()? {
        (Stream::Plain(tcp), _) => Some(tcp),
        (Stream::Tls(_), _) => None,
    }
}

/// The greeting's text; a server that says nothing at all within the
/// timeout is told apart from one that went wrong later.
fn greeting(session: &mut Session<Stream>, account: &Account) -> Result<String, Error> {
    match session.greeting() {
        Ok(status) => Ok(status.text),
        Err(ProtoError::Io(e)) if transport::is_timeout(&e) => {
            Err(transport::TransportError::NoGreeting {
                host: account.host.clone(),
                secs: account.timeout.as_secs(),
            }
            .into())
        }
        Err(e) => Err(e.into()),
    }
}

/// Connect, secure the connection, read the greeting and CAPA. No login.
pub fn connect(account: &Account, trace: Option<&TraceSink>) -> Result<Connection, Error> {
    connect_watched(account, trace, None)
}

/// [`connect`], with the connection cut by `interrupt` from the moment
/// it is open: a server that accepts but is slow to greet or to finish
/// the TLS handshake does not hold up a stop.
pub fn connect_watched(
    account: &Account,
    trace: Option<&TraceSink>,
    interrupt: Option<&crate::interrupt::Interrupt>,
) -> Result<Connection, Error> {
    let trust = Trust::of(account)?;
    let tcp = transport::connect(account)?;
    let _watch = interrupt.and_then(|i| tcp.try_clone().ok().map(|s| i.watch(s)));
    let reopen = || transport::connect(account).ok();
    let trace = trace.map(|sink| {
        let sink = sink.clone();
        let name = account.name.clone();
        Box::new(move |line: &str| sink(&format!("{name}: {line}"))) as Trace
    });
    let new_session = |stream: Stream, trace: Option<Trace>| {
        let mut s = Session::new(stream, trace);
        s.set_timeout(account.timeout);
        s
    };
    let (mut session, greeting) = match account.tls {
        TlsMode::Implicit => {
            let stream = transport::start_tls(tcp, &account.host, &trust, &reopen, true)?;
            let mut session = new_session(stream, trace);
            let greeting = session.greeting()?.text;
            (session, greeting)
        }
        TlsMode::Starttls => {
            expect_greeting(&tcp, account, &reopen)?;
            let mut session = new_session(Stream::Plain(tcp), trace);
            let greeting = greeting(&mut session, account)?;
            if !session.capa()?.stls {
                session.get_ref().abort();
                return Err(transport::TransportError::NoStls {
                    host: account.host.clone(),
                }
                .into());
            }
            session.command(&Command::Stls)?;
            let (stream, trace) = session.into_parts()?;
            let Stream::Plain(tcp) = stream else {
                return Err(ProtoError::Malformed("STLS on an encrypted connection".into()).into());
            };
            // A second connection to show an untrusted certificate must
            // get as far as STLS too.
            let reopen_stls = || reopen().and_then(|tcp| stls_again(tcp, account));
            let stream = transport::start_tls(tcp, &account.host, &trust, &reopen_stls, false)?;
            (new_session(stream, trace), greeting)
        }
        TlsMode::None => {
            expect_greeting(&tcp, account, &reopen)?;
            let mut session = new_session(Stream::Plain(tcp), trace);
            let greeting = greeting(&mut session, account)?;
            (session, greeting)
        }
    };
    // After STLS this asks again, as RFC 2595 wants: what was learnt
    // before TLS is forgotten.
    let capa = session.capa()?;
    // RFC 6856: a server offering UTF8 may rewrite a message whose headers
    // hold UTF-8 for a client that has not enabled it (Courier sends a
    // notice with the message attached instead). popfetch keeps the bytes
    // it is sent, so it enables it before logging in; a refusal is no
    // reason to stop.
    if capa.utf8 {
        session.send(&Command::Utf8)?;
        session.flush()?;
        session.read_status_any()?;
    }
    let window = match account.pipelining {
        Pipelining::On => WINDOW,
        Pipelining::Off => 1,
        Pipelining::Auto if capa.pipelining => WINDOW,
        Pipelining::Auto => 1,
    };
    let greeting_before_tls = account.tls == TlsMode::Starttls;
    Ok(Connection {
        apop_timestamp: (!greeting_before_tls)
            .then(|| crate::protocol::response::apop_timestamp(&greeting))
            .flatten(),
        greeting_before_tls,
        tls: match session.get_ref() {
            Stream::Tls(tls) => Some(TlsDetails {
                version: tls.ssl().version_str().to_string(),
                cipher: tls
                    .ssl()
                    .current_cipher()
                    .map(|c| c.name().to_string())
                    .unwrap_or_default(),
                certificate: transport::peer_certificate(tls, &account.host),
            }),
            Stream::Plain(_) => None,
        },
        session,
        capa,
        greeting,
        window,
    })
}

impl Connection {
    /// Close without QUIT: the server keeps every message.
    pub fn abort(&self) {
        self.session.get_ref().abort();
    }

    /// Cut this connection when `interrupt` fires, until the guard drops,
    /// so that a blocked read returns at once.
    pub fn watch<'i>(&self, interrupt: &'i Interrupt) -> Option<crate::interrupt::Watch<'i>> {
        let socket = self.session.get_ref().shutdown_handle().ok()?;
        Some(interrupt.watch(socket))
    }

    /// Log in with the mechanism the account and server agree on.
    pub fn login(&mut self, account: &Account, secret: &Secret) -> Result<(), Error> {
        let apop = match (&self.apop_timestamp, self.greeting_before_tls) {
            (_, true) => auth::Apop::BeforeTls,
            (Some(ts), false) => auth::Apop::Offered(ts),
            (None, false) => auth::Apop::NotOffered,
        };
        let method = auth::choose(account.auth, &self.capa, apop, &account.host)?;
        let encrypted = self.session.get_ref().is_encrypted();
        auth::login(
            &mut self.session,
            method,
            self.apop_timestamp.as_deref(),
            &Login {
                host: &account.host,
                port: account.port,
                user: &account.user,
                secret,
                encrypted,
                allow_plaintext: account.allow_plaintext,
            },
        )?;
        Ok(())
    }

    /// The mailbox: UIDL and LIST joined by message number.
    pub fn list(&mut self) -> Result<Vec<Listed>, Error> {
        list_mailbox(&mut self.session, self.window > 1)
    }

    /// The mailbox, with sizes only where they are needed: UIDL first,
    /// then the sizes of the messages `candidate` says the run may
    /// download (`LIST n` for each when they fit in one window of
    /// pipelined commands, else one LIST). A run that finds nothing new
    /// sends UIDL alone. With `expect_new` (a first run: most UIDs are
    /// new) LIST and UIDL go out together, one round trip as [`list`].
    /// Other messages are listed with size 0: nothing reads it.
    ///
    /// [`list`]: Connection::list
    pub fn list_needed(
        &mut self,
        expect_new: bool,
        candidate: &dyn Fn(&str) -> bool,
    ) -> Result<Vec<Listed>, Error> {
        if expect_new {
            return self.list();
        }
        let Some(uids) = self.session.uidl()? else {
            // No UIDL: the synthetic UIDs need the whole listing anyway.
            let sizes = self.session.list()?;
            let uids = synthetic_uids(&mut self.session, &sizes)?;
            return Ok(join(sizes, uids));
        };
        let wanted: Vec<u32> = uids
            .iter()
            .filter(|(_, uid)| candidate(uid))
            .map(|&(msg, _)| msg)
            .collect();
        let sizes: std::collections::HashMap<u32, u64> = if wanted.is_empty() {
            Default::default()
        } else if wanted.len() <= self.window.max(1) {
            self.session
                .list_each(&wanted, self.window)?
                .into_iter()
                .collect()
        } else {
            self.session.list()?.into_iter().collect()
        };
        let wanted: std::collections::HashSet<u32> = wanted.into_iter().collect();
        let mut listing: Vec<Listed> = Vec::with_capacity(uids.len());
        for (msg, uid) in uids {
            let size = match sizes.get(&msg) {
                Some(&size) => size,
                // Asked for, and not listed: gone since UIDL, or a server
                // that lists it in UIDL only. Left alone, as in `list`.
                None if wanted.contains(&msg) => continue,
                None => 0,
            };
            listing.push(Listed { msg, uid, size });
        }
        listing.sort_by_key(|m| m.msg);
        Ok(listing)
    }

    /// Send the RETRs due before reading the reply to `todo[i]`: keep
    /// between half a window and a window in flight, so that the server
    /// never waits a round trip for its next command and one write carries
    /// many commands. `sent` counts the RETRs sent so far.
    pub fn send_retrs(&mut self, todo: &[Listed], i: usize, sent: &mut usize) -> Result<(), Error> {
        if refill_due(*sent, i, todo.len(), self.window) {
            let upto = (i + self.window).min(todo.len());
            for m in &todo[*sent..upto] {
                self.session.send(&Command::Retr(m.msg))?;
            }
            *sent = upto;
            self.session.flush()?;
        }
        Ok(())
    }

    /// DELE `msgs`, pipelined with the same sliding window as RETR. Returns
    /// the ones the server accepted; a -ERR for one message (another client
    /// removed it) only leaves that one out.
    pub fn delete(&mut self, msgs: &[u32], interrupt: &Interrupt) -> Result<Vec<u32>, Error> {
        let mut accepted = Vec::with_capacity(msgs.len());
        let mut sent = 0;
        for (i, &msg) in msgs.iter().enumerate() {
            if interrupt.is_set() {
                return Err(Error::interrupted());
            }
            if refill_due(sent, i, msgs.len(), self.window) {
                let upto = (i + self.window).min(msgs.len());
                for &m in &msgs[sent..upto] {
                    self.session.send(&Command::Dele(m))?;
                }
                sent = upto;
                self.session.flush()?;
            }
            if self.session.read_status_any()?.ok {
                accepted.push(msg);
            }
        }
        Ok(accepted)
    }
}

/// UIDL and LIST joined by message number. A server without UIDL gets
/// stable synthetic UIDs from a hash of each message's headers (TOP n 0).
fn list_mailbox<S: Read + Write>(
    session: &mut Session<S>,
    pipelined: bool,
) -> Result<Vec<Listed>, Error> {
    let (sizes, uids) = session.list_and_uidl(pipelined)?;
    let uids = match uids {
        Some(uids) => uids,
        None => synthetic_uids(session, &sizes)?,
    };
    Ok(join(sizes, uids))
}

/// LIST's sizes and UIDL's UIDs joined by message number, in LIST's order.
fn join(sizes: Vec<(u32, u64)>, uids: Vec<(u32, String)>) -> Vec<Listed> {
    let mut by_msg: std::collections::HashMap<u32, String> = uids.into_iter().collect();
    let mut listing = Vec::with_capacity(sizes.len());
    for (msg, size) in sizes {
        // A message in LIST but not in UIDL cannot be tracked: leave it
        // alone rather than risk delivering it twice.
        if let Some(uid) = by_msg.remove(&msg) {
            listing.push(Listed { msg, uid, size });
        }
    }
    listing
}

fn synthetic_uids<S: Read + Write>(
    session: &mut Session<S>,
    sizes: &[(u32, u64)],
) -> Result<Vec<(u32, String)>, Error> {
    struct Hasher(Sha256);
    impl Write for Hasher {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0.update(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut out = Vec::with_capacity(sizes.len());
    for &(msg, _) in sizes {
        session.command(&Command::Top { msg, lines: 0 })?;
        let mut h = Hasher(Sha256::new());
        session.read_body(&mut h).map_err(|e| match e {
            BodyError::Protocol(p) => p,
            BodyError::Sink(io) => ProtoError::Io(io),
        })?;
        let digest = h.0.finalize();
        out.push((msg, format!("sha256-{}", crate::text::hex(&digest[..16]))));
    }
    Ok(out)
}

/// Whether to send more commands before reading the reply to command `i`:
/// when no more than half a window is still in flight (with a window of 1,
/// when nothing is: lock-step).
fn refill_due(sent: usize, i: usize, total: usize, window: usize) -> bool {
    sent < total && sent - i <= window / 2
}

#[cfg(test)]
mod tests {
    use super::refill_due;

    #[test]
    fn window_of_one_is_lock_step() {
        assert!(refill_due(0, 0, 3, 1));
        assert!(!refill_due(1, 0, 3, 1));
        assert!(refill_due(1, 1, 3, 1));
        assert!(!refill_due(3, 2, 3, 1));
    }

    #[test]
    fn window_refills_at_half() {
        assert!(refill_due(0, 0, 1000, 64));
        assert!(!refill_due(64, 31, 1000, 64));
        assert!(refill_due(64, 32, 1000, 64));
        assert!(!refill_due(1000, 999, 1000, 64));
    }
}
