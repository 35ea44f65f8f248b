//! Delivery by LMTP (RFC 2033) or SMTP (RFC 5321): each message is handed
//! to a mail server (Dovecot's or Cyrus's LMTP, this machine's MTA) for
//! the account's `recipient` (default: its user).
//!
//! One connection serves the whole run: it is opened for the first
//! message (a run without new mail connects to nothing), kept open across
//! messages and sessions, and opened again when the server closed it
//! between two messages. LMTP greets with LHLO; SMTP with EHLO, falling
//! back to HELO (and no extensions) only when EHLO is refused. With
//! PIPELINING, MAIL, RCPT and DATA go out together; with CHUNKING the
//! message goes as one `BDAT <size> LAST` (no dot-stuffing); otherwise by
//! DATA, dot-stuffed. Line ends go out as CRLF: an LF, a CRLF and a lone
//! CR each become one CRLF (RFC 5322 has no other line end), so nothing in
//! a message can look like the end of the data to a lenient server.
//! `BODY=8BITMIME` is sent when the message holds 8-bit bytes, `SMTPUTF8`
//! when the sender or recipient is not ASCII, and `SIZE=` when the server
//! takes them. The envelope sender is the message's Return-Path, else its
//! From (see [`super::envelope`]); `MAIL FROM:<>` when there is none.
//!
//! What the server says decides the message's fate:
//!
//! - 2xx to the message: delivered, and only then recorded.
//! - 4xx at any step of a message: [`DeliverError::Deferred`], like an
//!   MDA's exit 75: it stays on the server for the next run, the run goes
//!   on with the next message and exits 75.
//! - 5xx at any step of a message: [`DeliverError::Rejected`] with the
//!   server's text: it stays on the server and is reported, the run goes
//!   on with the next message and exits 74. A permanent rejection is often
//!   about one message (its size, its content, its sender), and stopping
//!   there would hold back every later message until someone deletes that
//!   one by hand.
//! - Whether the server takes mail for the recipient at all is asked once
//!   per run, before the first message (`MAIL FROM:<>`, `RCPT TO:`,
//!   `RSET`): a refusal there (an unknown user, a typo in `recipient`)
//!   would refuse every message, so it stops the account (5xx: exit 74;
//!   4xx: exit 75) before anything is handed over.
//! - A failed connection or greeting stops the account (exit 75 for a
//!   server that is down or busy, 74 for one that refuses); so does a
//!   connection lost or timed out once the message was sent, before the
//!   server's verdict (exit 75), and a server that breaks the protocol
//!   (exit 76). Each leaves the message on the server.
//!
//! Bounds: a reply line holds at most [`MAX_LINE`] bytes and a reply at
//! most [`MAX_LINES`] lines; the server's text in a message is cleaned of
//! control characters and cut at [`MAX_SHOWN`] characters. Connecting and
//! every read and write wait at most the account's `timeout`; the verdict
//! on a message that was sent waits at least [`VERDICT_WAIT`] (RFC 5321
//! §4.5.3.2.6 gives the server ten minutes there), because giving up early
//! would fetch again, and so deliver twice, a message the server was only
//! slow to take.
//!
//! Exactly once, as far as a hand-off allows (the same as an MDA): the
//! message is spooled in its wire form (CRLF, not dot-stuffed) in the state
//! directory and the journal records its token before any byte goes to the
//! server. Once the server said 2xx, the spool is renamed `<token>.done`;
//! recovery reads that mark as "landed". A spool without it may or may not
//! have been taken (a crash or a lost connection between the server's 2xx
//! and the mark): recovery says "not landed", so the message is fetched
//! again, and at most that one message in flight reaches the mailbox
//! twice. The rename is not fsynced: the journal's record that the
//! message is done is, before the next message goes to the server, so a
//! power cut that loses the rename still repeats that one message at
//! most.

use std::fs::File;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::os::unix::net::UnixStream;
use std::time::Duration;

use super::DeliverError;
use super::envelope::Sender;
use super::spool::{Entry, SpoolDir, Spooled};
use crate::account::{Relay, ServerAddr};

/// The longest reply line taken (text and line end).
const MAX_LINE: usize = 4096;
/// The most lines one reply may have.
const MAX_LINES: usize = 100;
/// How much of the server's text an error message shows.
const MAX_SHOWN: usize = 400;
/// The least time the verdict on a sent message is waited for.
const VERDICT_WAIT: Duration = Duration::from_secs(600);
/// How long QUIT's reply is waited for at the end of a run.
const QUIT_WAIT: Duration = Duration::from_secs(2);
/// How much of the spool is sent at a time.
const CHUNK: usize = 64 * 1024;

/// LMTP or SMTP: the greeting command and the names in messages differ.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Dialect {
    Lmtp,
    Smtp,
}

impl Dialect {
    fn name(self) -> &'static str {
        match self {
            Dialect::Lmtp => "LMTP",
            Dialect::Smtp => "SMTP",
        }
    }

    /// The config key that names the server.
    fn key(self) -> &'static str {
        match self {
            Dialect::Lmtp => "lmtp",
            Dialect::Smtp => "smtp",
        }
    }
}

/// The target: a server, a recipient, a spool and (once a message came)
/// a connection.
pub(crate) struct Smtp {
    dialect: Dialect,
    server: ServerAddr,
    recipient: String,
    timeout: Duration,
    spool: SpoolDir,
    conn: Option<Conn>,
    /// Whether this run has asked the server about the recipient.
    recipient_checked: bool,
}

impl Smtp {
    pub(super) fn open(
        dialect: Dialect,
        relay: &Relay,
        timeout: Duration,
        spool: SpoolDir,
    ) -> Smtp {
        Smtp {
            dialect,
            server: relay.server.clone(),
            recipient: relay.recipient.clone(),
            timeout,
            spool,
            conn: None,
            recipient_checked: false,
        }
    }

    pub(super) fn next_token(&mut self) -> String {
        self.spool.next_token()
    }

    /// Once recovery has settled the journal, remove what earlier runs
    /// left in the spool (as [`super::mda`] does).
    pub(super) fn after_recovery(&mut self) -> Result<(), DeliverError> {
        self.spool.sweep()
    }

    pub(super) fn create(&mut self, token: &str) -> Result<SmtpMessage<'_>, DeliverError> {
        Ok(SmtpMessage {
            spooled: Spooled::create(&self.spool, token)?,
            wire: Wire::default(),
            buf: Vec::new(),
            eight_bit: false,
            smtp: self,
        })
    }

    /// A `.done` mark: the server said 2xx (see [`SpoolDir::handed_over`]).
    pub(super) fn recover(&self, token: &str) -> Result<bool, DeliverError> {
        self.spool.handed_over(token)
    }

    /// Where messages go, for `-v`.
    fn shown(&self) -> String {
        format!(
            "{} {} <{}>",
            self.dialect.name(),
            self.server,
            self.recipient
        )
    }

    /// A new connection, greeted; on the run's first one the recipient
    /// is asked about.
    fn connect(&mut self) -> Result<Conn, DeliverError> {
        let mut conn =
            Conn::open(&self.server, self.timeout).map_err(|e| self.failure(e, Phase::Connect))?;
        conn.greet(self.dialect)
            .map_err(|e| self.failure(e, Phase::Greeting))?;
        if !self.recipient_checked {
            self.check_recipient(&mut conn)?;
            self.recipient_checked = true;
        }
        Ok(conn)
    }

    /// `MAIL FROM:<>`, `RCPT TO:<recipient>`, `RSET`: does the server take
    /// mail for the recipient at all?
    fn check_recipient(&self, conn: &mut Conn) -> Result<(), DeliverError> {
        let mail = format!("MAIL FROM:<>{}\r\n", utf8_param(conn, &[&self.recipient]));
        let rcpt = format!("RCPT TO:<{}>\r\n", self.recipient);
        let replies = conn
            .exchange(&[&mail, &rcpt, "RSET\r\n"])
            .map_err(|e| self.failure(e, Phase::Recipient))?;
        let (mail_r, rcpt_r, rset_r) = (&replies[0], &replies[1], &replies[2]);
        if !mail_r.is_positive() {
            return Err(self.refused(
                "refused the null sender (MAIL FROM:<>)",
                mail_r,
                "have the server accept mail from popfetch's address",
            ));
        }
        if !rcpt_r.is_positive() {
            return Err(self.refused(
                &format!("does not take mail for <{}>", self.recipient),
                rcpt_r,
                "check `recipient` (default: the account's user) and the server's users",
            ));
        }
        if !rset_r.is_positive() {
            return Err(self.protocol(
                Phase::Recipient,
                format!("RSET answered {}", rset_r.shown()),
            ));
        }
        Ok(())
    }

    /// Hand over the spooled message (`size` bytes in wire form) from
    /// `sender`. Reconnects once when a connection that already carried a
    /// message turns out to be closed before this one was sent.
    fn deliver(
        &mut self,
        spool: &mut File,
        size: u64,
        eight_bit: bool,
        sender: &Sender,
    ) -> Result<(), DeliverError> {
        let from = envelope_sender(sender);
        let mut fresh = false;
        loop {
            let mut conn = match self.conn.take() {
                Some(c) => c,
                None => self.connect()?,
            };
            let reused = conn.used;
            let outcome = conn.transaction(&from, &self.recipient, spool, size, eight_bit);
            match outcome {
                Ok(()) => {
                    conn.used = true;
                    self.conn = Some(conn);
                    return Ok(());
                }
                Err(Failed::Stale(fault)) => {
                    if reused && !fresh {
                        fresh = true;
                        continue;
                    }
                    return Err(self.failure(fault, Phase::Envelope));
                }
                Err(Failed::Said { phase, reply }) => {
                    conn.used = true;
                    if reply.code != 421 && conn.reset() {
                        self.conn = Some(conn);
                    }
                    return Err(self.verdict(phase, &reply));
                }
                Err(Failed::Broken { phase, fault }) => return Err(self.failure(fault, phase)),
            }
        }
    }

    /// A 4xx or 5xx about one message.
    fn verdict(&self, phase: Phase, reply: &Reply) -> DeliverError {
        let why = format!(
            "the {} server {} answered {} {}",
            self.dialect.name(),
            self.server,
            phase.what(),
            reply.shown()
        );
        if reply.is_temporary() {
            DeliverError::Deferred(why)
        } else {
            DeliverError::Rejected(why)
        }
    }

    fn refused(&self, what: &str, reply: &Reply, fix: &str) -> DeliverError {
        DeliverError::RelayRefused {
            proto: self.dialect.name(),
            server: self.server.to_string(),
            what: what.to_string(),
            reply: reply.shown(),
            fix: fix.to_string(),
            temporary: reply.is_temporary(),
        }
    }

    fn protocol(&self, phase: Phase, what: String) -> DeliverError {
        DeliverError::RelayProtocol {
            proto: self.dialect.name(),
            server: self.server.to_string(),
            during: phase.during().to_string(),
            what,
        }
    }

    /// A [`Fault`] during `phase` as the error that stops the account.
    fn failure(&self, fault: Fault, phase: Phase) -> DeliverError {
        let proto = self.dialect.name();
        let server = self.server.to_string();
        match fault {
            Fault::Refused(reply) => match phase {
                Phase::Greeting => self.refused(
                    "refused the connection",
                    &reply,
                    "check that the server lets this machine hand it mail",
                ),
                _ if reply.is_temporary() => self.refused(
                    "is closing the connection",
                    &reply,
                    "run popfetch again later",
                ),
                _ => self.protocol(phase, format!("unexpected reply {}", reply.shown())),
            },
            Fault::Io(source) if phase == Phase::Connect => DeliverError::RelayConnect {
                proto,
                key: self.dialect.key(),
                server,
                source,
            },
            Fault::Io(e) if is_timeout(&e) => DeliverError::RelayLost {
                proto,
                server,
                during: phase.during().to_string(),
                why: format!("no answer within {} s", self.wait(phase).as_secs()),
                doubt: phase == Phase::Verdict,
            },
            Fault::Io(e) => DeliverError::RelayLost {
                proto,
                server,
                during: phase.during().to_string(),
                why: e.to_string(),
                doubt: phase == Phase::Verdict,
            },
            Fault::Closed => DeliverError::RelayLost {
                proto,
                server,
                during: phase.during().to_string(),
                why: "the server closed the connection".to_string(),
                doubt: phase == Phase::Verdict,
            },
            Fault::Protocol(what) => self.protocol(phase, what),
        }
    }

    fn wait(&self, phase: Phase) -> Duration {
        if phase == Phase::Verdict {
            self.timeout.max(VERDICT_WAIT)
        } else {
            self.timeout
        }
    }
}

impl Drop for Smtp {
    /// End the session politely; the run is over either way.
    fn drop(&mut self) {
        if let Some(mut conn) = self.conn.take() {
            conn.quit();
        }
    }
}

/// Where in the conversation something happened, for messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Connect,
    Greeting,
    Recipient,
    /// MAIL and RCPT.
    Envelope,
    /// DATA or BDAT, and the message itself.
    Content,
    /// Waiting for the server's word on a message it has whole.
    Verdict,
}

impl Phase {
    fn during(self) -> &'static str {
        match self {
            Phase::Connect => "while connecting",
            Phase::Greeting => "while greeting it",
            Phase::Recipient => "while asking about the recipient",
            Phase::Envelope => "before the message was sent (MAIL, RCPT)",
            Phase::Content => "while the message was being sent",
            Phase::Verdict => "after the message was sent, before the server confirmed it",
        }
    }

    /// What the server was answering, for a 4xx or 5xx.
    fn what(self) -> &'static str {
        match self {
            Phase::Envelope => "the envelope (MAIL FROM, RCPT TO) with",
            Phase::Content => "DATA with",
            _ => "the message with",
        }
    }
}

/// Something went wrong below the level of replies.
#[derive(Debug)]
enum Fault {
    Io(io::Error),
    /// End of file where a reply was due.
    Closed,
    /// The reply was not a reply.
    Protocol(String),
    /// A reply that stops the conversation (greeting, LHLO/EHLO+HELO).
    Refused(Reply),
}

impl From<io::Error> for Fault {
    fn from(e: io::Error) -> Fault {
        Fault::Io(e)
    }
}

/// How one transaction failed.
enum Failed {
    /// The connection was already gone before anything of the message
    /// was sent: worth one new connection.
    Stale(Fault),
    /// The server said no (4xx, 5xx) at `phase`.
    Said { phase: Phase, reply: Reply },
    /// The connection failed at `phase`.
    Broken { phase: Phase, fault: Fault },
}

fn is_timeout(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
    )
}

/// One reply: a three-digit code and its lines' text.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Reply {
    code: u16,
    lines: Vec<String>,
}

impl Reply {
    fn is_positive(&self) -> bool {
        (200..300).contains(&self.code)
    }

    fn is_temporary(&self) -> bool {
        (400..500).contains(&self.code)
    }

    /// `550 5.1.1 <x> User unknown`, the lines joined, cleaned of
    /// control characters and cut at [`MAX_SHOWN`] characters.
    fn shown(&self) -> String {
        let joined = format!("{} {}", self.code, self.lines.join(" "));
        let clean: String = joined
            .trim_end()
            .chars()
            .filter(|c| !c.is_control())
            .collect();
        match clean.char_indices().nth(MAX_SHOWN) {
            Some((i, _)) => format!("{}...", &clean[..i]),
            None => clean,
        }
    }
}

/// Read one reply: lines `NNN-text` up to one `NNN text` (or just
/// `NNN`), the same code on each, CRLF or a bare LF at the end.
fn read_reply(r: &mut impl BufRead) -> Result<Reply, Fault> {
    let mut code = None;
    let mut lines = Vec::new();
    loop {
        if lines.len() == MAX_LINES {
            return Err(Fault::Protocol(format!(
                "a reply of more than {MAX_LINES} lines"
            )));
        }
        let line = read_line(r)?;
        let (c, last, text) = parse_line(&line)?;
        if *code.get_or_insert(c) != c {
            return Err(Fault::Protocol(format!(
                "a reply whose lines carry different codes ({} and {c})",
                code.unwrap_or(c)
            )));
        }
        lines.push(text);
        if last {
            return Ok(Reply { code: c, lines });
        }
    }
}

/// One line, without its line end, of at most [`MAX_LINE`] bytes.
fn read_line(r: &mut impl BufRead) -> Result<Vec<u8>, Fault> {
    let mut line = Vec::new();
    loop {
        let buf = match r.fill_buf() {
            Ok(buf) => buf,
            // A signal (Ctrl-C) is no reason to give up the verdict on the
            // message in hand.
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e.into()),
        };
        if buf.is_empty() {
            return Err(Fault::Closed);
        }
        let (take, done) = match buf.iter().position(|&b| b == b'\n') {
            Some(i) => (i + 1, true),
            None => (buf.len(), false),
        };
        if line.len() + take > MAX_LINE {
            return Err(Fault::Protocol(format!(
                "a reply line longer than {MAX_LINE} bytes"
            )));
        }
        line.extend_from_slice(&buf[..take]);
        r.consume(take);
        if done {
            line.pop();
            if line.last() == Some(&b'\r') {
                line.pop();
            }
            return Ok(line);
        }
    }
}

/// `(code, last line?, text)` of a reply line.
fn parse_line(line: &[u8]) -> Result<(u16, bool, String), Fault> {
    let bad = || {
        let shown: String = String::from_utf8_lossy(&line[..line.len().min(80)])
            .chars()
            .filter(|c| !c.is_control())
            .collect();
        Fault::Protocol(format!("{shown:?} is not a reply line"))
    };
    let digits = line.get(..3).ok_or_else(bad)?;
    if !digits.iter().all(u8::is_ascii_digit) || !(b'2'..=b'5').contains(&digits[0]) {
        return Err(bad());
    }
    let code = digits
        .iter()
        .fold(0u16, |n, d| n * 10 + u16::from(d - b'0'));
    let (last, text) = match line.get(3) {
        None => (true, &line[3..]),
        Some(b' ') => (true, &line[4..]),
        Some(b'-') => (false, &line[4..]),
        Some(_) => return Err(bad()),
    };
    Ok((code, last, String::from_utf8_lossy(text).into_owned()))
}

/// What the server offers in its LHLO/EHLO reply.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
struct Extensions {
    pipelining: bool,
    eight_bit: bool,
    smtputf8: bool,
    chunking: bool,
    size: bool,
}

impl Extensions {
    /// From the lines after the first of a 250 reply to LHLO or EHLO.
    fn parse(reply: &Reply) -> Extensions {
        let mut ext = Extensions::default();
        for line in reply.lines.iter().skip(1) {
            let keyword = line.split_whitespace().next().unwrap_or_default();
            match keyword.to_ascii_uppercase().as_str() {
                "PIPELINING" => ext.pipelining = true,
                "8BITMIME" => ext.eight_bit = true,
                "SMTPUTF8" => ext.smtputf8 = true,
                "CHUNKING" => ext.chunking = true,
                "SIZE" => ext.size = true,
                _ => {}
            }
        }
        ext
    }
}

/// A socket to the server.
enum Stream {
    Tcp(TcpStream),
    Unix(UnixStream),
}

impl Stream {
    fn set_read_timeout(&self, t: Duration) -> io::Result<()> {
        match self {
            Stream::Tcp(s) => s.set_read_timeout(Some(t)),
            Stream::Unix(s) => s.set_read_timeout(Some(t)),
        }
    }
}

impl Read for Stream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Stream::Tcp(s) => s.read(buf),
            Stream::Unix(s) => s.read(buf),
        }
    }
}

impl Write for Stream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Stream::Tcp(s) => s.write(buf),
            Stream::Unix(s) => s.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// An open, greeted connection.
struct Conn {
    io: BufReader<Stream>,
    ext: Extensions,
    timeout: Duration,
    /// Whether a transaction has gone over it: a closed connection is then
    /// worth opening again.
    used: bool,
}

impl Conn {
    fn open(server: &ServerAddr, timeout: Duration) -> Result<Conn, Fault> {
        let stream = match server {
            ServerAddr::Unix(path) => {
                let s = UnixStream::connect(path)?;
                s.set_write_timeout(Some(timeout))?;
                Stream::Unix(s)
            }
            ServerAddr::Tcp { host, port } => {
                let mut last =
                    io::Error::new(io::ErrorKind::NotFound, format!("{host} has no address"));
                let mut found = None;
                for addr in (host.as_str(), *port).to_socket_addrs()? {
                    match TcpStream::connect_timeout(&addr, timeout) {
                        Ok(s) => {
                            found = Some(s);
                            break;
                        }
                        Err(e) => last = e,
                    }
                }
                let s = found.ok_or(last)?;
                // Commands go out in whole batches; Nagle would only
                // hold the last one back.
                s.set_nodelay(true)?;
                s.set_write_timeout(Some(timeout))?;
                Stream::Tcp(s)
            }
        };
        stream.set_read_timeout(timeout)?;
        Ok(Conn {
            io: BufReader::with_capacity(8192, stream),
            ext: Extensions::default(),
            timeout,
            used: false,
        })
    }

    /// Read the greeting, then LHLO, or EHLO (HELO if EHLO is refused).
    fn greet(&mut self, dialect: Dialect) -> Result<(), Fault> {
        let greeting = read_reply(&mut self.io)?;
        if !greeting.is_positive() {
            return Err(Fault::Refused(greeting));
        }
        let name = helo_name();
        let verb = match dialect {
            Dialect::Lmtp => "LHLO",
            Dialect::Smtp => "EHLO",
        };
        let reply = self.command(&format!("{verb} {name}\r\n"))?;
        if reply.is_positive() {
            self.ext = Extensions::parse(&reply);
            return Ok(());
        }
        if dialect == Dialect::Smtp && reply.code >= 500 {
            let helo = self.command(&format!("HELO {name}\r\n"))?;
            if helo.is_positive() {
                return Ok(());
            }
            return Err(Fault::Refused(helo));
        }
        Err(Fault::Refused(reply))
    }

    fn command(&mut self, line: &str) -> Result<Reply, Fault> {
        Ok(self.exchange(&[line])?.remove(0))
    }

    /// Send `lines` and read one reply to each: all at once with
    /// PIPELINING, else one by one.
    fn exchange(&mut self, lines: &[&str]) -> Result<Vec<Reply>, Fault> {
        let mut replies = Vec::with_capacity(lines.len());
        if self.ext.pipelining {
            self.io.get_mut().write_all(lines.concat().as_bytes())?;
            for _ in lines {
                replies.push(read_reply(&mut self.io)?);
            }
        } else {
            for l in lines {
                self.io.get_mut().write_all(l.as_bytes())?;
                replies.push(read_reply(&mut self.io)?);
            }
        }
        Ok(replies)
    }

    /// One message: MAIL, RCPT, then BDAT or DATA, then the verdict.
    fn transaction(
        &mut self,
        from: &str,
        to: &str,
        spool: &mut File,
        size: u64,
        eight_bit: bool,
    ) -> Result<(), Failed> {
        let mut params = String::new();
        if eight_bit && self.ext.eight_bit {
            params.push_str(" BODY=8BITMIME");
        }
        params.push_str(utf8_param(self, &[from, to]));
        if self.ext.size {
            params.push_str(&format!(" SIZE={size}"));
        }
        let mail = format!("MAIL FROM:<{from}>{params}\r\n");
        let rcpt = format!("RCPT TO:<{to}>\r\n");
        let chunking = self.ext.chunking;
        // DATA joins the batch when it can; BDAT goes with the message.
        let data_in_batch = !chunking && self.ext.pipelining;
        let mut batch = vec![mail.as_str(), rcpt.as_str()];
        if data_in_batch {
            batch.push("DATA\r\n");
        }
        let stale = |f: Fault| match f {
            Fault::Io(_) | Fault::Closed => Failed::Stale(f),
            f => Failed::Broken {
                phase: Phase::Envelope,
                fault: f,
            },
        };
        let mut replies = if self.ext.pipelining {
            self.io
                .get_mut()
                .write_all(batch.concat().as_bytes())
                .map_err(|e| stale(e.into()))?;
            let first = read_reply(&mut self.io).map_err(stale)?;
            if first.code == 421 {
                return Err(Failed::Stale(Fault::Refused(first)));
            }
            let mut r = vec![first];
            for _ in 1..batch.len() {
                r.push(read_reply(&mut self.io).map_err(|f| broken(Phase::Envelope, f))?);
            }
            r
        } else {
            let first = self.command(&mail).map_err(stale)?;
            if first.code == 421 {
                return Err(Failed::Stale(Fault::Refused(first)));
            }
            if !first.is_positive() {
                return Err(Failed::Said {
                    phase: Phase::Envelope,
                    reply: first,
                });
            }
            let second = self
                .command(&rcpt)
                .map_err(|f| broken(Phase::Envelope, f))?;
            vec![first, second]
        };
        let envelope_ok = replies[..2].iter().all(Reply::is_positive);
        if data_in_batch {
            let data = replies.pop().unwrap_or(Reply {
                code: 0,
                lines: Vec::new(),
            });
            if data.code == 354 && !envelope_ok {
                // A server that takes DATA with no valid recipient: end
                // the (empty) message at once, then report the refusal.
                let _ = self.io.get_mut().write_all(b".\r\n");
                let _ = read_reply(&mut self.io);
            }
            if envelope_ok && data.code != 354 {
                return Err(said_or_broken(Phase::Content, data));
            }
        }
        if let Some(refusal) = replies.into_iter().find(|r| !r.is_positive()) {
            return Err(Failed::Said {
                phase: Phase::Envelope,
                reply: refusal,
            });
        }
        if chunking {
            self.io
                .get_mut()
                .write_all(format!("BDAT {size} LAST\r\n").as_bytes())
                .map_err(|e| broken(Phase::Content, e.into()))?;
            self.send(spool, false)?;
        } else {
            if !data_in_batch {
                let data = self
                    .command("DATA\r\n")
                    .map_err(|f| broken(Phase::Content, f))?;
                if data.code != 354 {
                    return Err(said_or_broken(Phase::Content, data));
                }
            }
            self.send(spool, true)?;
        }
        self.io
            .get_ref()
            .set_read_timeout(self.timeout.max(VERDICT_WAIT))
            .map_err(|e| broken(Phase::Verdict, e.into()))?;
        let verdict = read_reply(&mut self.io);
        self.io
            .get_ref()
            .set_read_timeout(self.timeout)
            .map_err(|e| broken(Phase::Verdict, e.into()))?;
        let verdict = verdict.map_err(|f| broken(Phase::Verdict, f))?;
        if verdict.is_positive() {
            Ok(())
        } else if verdict.code >= 400 {
            Err(Failed::Said {
                phase: Phase::Verdict,
                reply: verdict,
            })
        } else {
            Err(broken(
                Phase::Verdict,
                Fault::Protocol(format!("{} is not a verdict", verdict.shown())),
            ))
        }
    }

    /// Stream the spool (wire form) to the server; with `stuff`, as DATA:
    /// dot-stuffed and ended by `.`.
    fn send(&mut self, spool: &mut File, stuff: bool) -> Result<(), Failed> {
        let fail = |e: io::Error| broken(Phase::Content, e.into());
        let mut buf = vec![0u8; CHUNK];
        let mut out = Vec::with_capacity(CHUNK + CHUNK / 8);
        let mut stuffer = Stuffer::default();
        loop {
            let n = spool.read(&mut buf).map_err(fail)?;
            if n == 0 {
                break;
            }
            let chunk = &buf[..n];
            let bytes = if stuff {
                out.clear();
                stuffer.feed(chunk, &mut out);
                out.as_slice()
            } else {
                chunk
            };
            self.io.get_mut().write_all(bytes).map_err(fail)?;
        }
        if stuff {
            self.io.get_mut().write_all(b".\r\n").map_err(fail)?;
        }
        Ok(())
    }

    /// RSET after a refused transaction; false when the connection is not
    /// fit for the next one.
    fn reset(&mut self) -> bool {
        matches!(self.exchange(&["RSET\r\n"]), Ok(r) if r[0].is_positive())
    }

    /// QUIT and a short wait for its reply.
    fn quit(&mut self) {
        let _ = self.io.get_ref().set_read_timeout(QUIT_WAIT);
        if self.io.get_mut().write_all(b"QUIT\r\n").is_ok() {
            let _ = read_reply(&mut self.io);
        }
    }
}

fn broken(phase: Phase, fault: Fault) -> Failed {
    Failed::Broken { phase, fault }
}

/// A reply other than the one expected: the server's word on the message
/// when it is a 4xx or 5xx, a broken protocol otherwise.
fn said_or_broken(phase: Phase, reply: Reply) -> Failed {
    if reply.code >= 400 {
        Failed::Said { phase, reply }
    } else {
        broken(
            phase,
            Fault::Protocol(format!("expected 354, got {}", reply.shown())),
        )
    }
}

/// ` SMTPUTF8` when an address is not ASCII and the server takes it.
fn utf8_param(conn: &Conn, addresses: &[&str]) -> &'static str {
    if conn.ext.smtputf8 && addresses.iter().any(|a| !a.is_ascii()) {
        " SMTPUTF8"
    } else {
        ""
    }
}

/// The address for `MAIL FROM:<...>`: empty (the null sender) when the
/// message names none, or none that fits between angle brackets.
fn envelope_sender(sender: &Sender) -> String {
    match sender {
        Sender::Address(a) if !a.contains(['<', '>']) && a.len() <= 256 => a.clone(),
        _ => String::new(),
    }
}

/// The name popfetch gives in LHLO/EHLO: this host's name when it is a
/// plausible domain name, else `localhost`.
fn helo_name() -> String {
    let name = super::hostname();
    let plausible = !name.is_empty()
        && name.len() <= 253
        && !name.starts_with(['.', '-'])
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-');
    if plausible {
        name
    } else {
        "localhost".to_string()
    }
}

/// Turns message bytes as popfetch receives them into wire form: an LF, a
/// CRLF and a lone CR each become one CRLF; [`Wire::finish`] ends the last
/// line.
#[derive(Debug, Default)]
struct Wire {
    /// The last byte was a CR not yet known to be followed by LF.
    cr: bool,
    /// Something has been written since the last line end.
    mid_line: bool,
}

impl Wire {
    fn feed(&mut self, input: &[u8], out: &mut Vec<u8>) {
        for &b in input {
            match b {
                b'\n' => {
                    out.extend_from_slice(b"\r\n");
                    self.cr = false;
                    self.mid_line = false;
                }
                b'\r' => {
                    if self.cr {
                        out.extend_from_slice(b"\r\n");
                    }
                    self.cr = true;
                    self.mid_line = false;
                }
                _ => {
                    if self.cr {
                        out.extend_from_slice(b"\r\n");
                        self.cr = false;
                    }
                    out.push(b);
                    self.mid_line = true;
                }
            }
        }
    }

    /// End the last line (SMTP ends the data with a line end).
    fn finish(&mut self, out: &mut Vec<u8>) {
        if self.cr || self.mid_line {
            out.extend_from_slice(b"\r\n");
        }
        self.cr = false;
        self.mid_line = false;
    }
}

/// Dot-stuffing of wire-form data (CRLF line ends only): a `.` that starts
/// a line is doubled.
#[derive(Debug)]
struct Stuffer {
    at_line_start: bool,
}

impl Default for Stuffer {
    fn default() -> Self {
        Stuffer {
            at_line_start: true,
        }
    }
}

impl Stuffer {
    fn feed(&mut self, input: &[u8], out: &mut Vec<u8>) {
        for &b in input {
            if self.at_line_start && b == b'.' {
                out.push(b'.');
            }
            out.push(b);
            self.at_line_start = b == b'\n';
        }
    }
}

/// A message being spooled for the server, in wire form. Dropped without
/// commit, its spool file is removed.
pub(super) struct SmtpMessage<'a> {
    smtp: &'a mut Smtp,
    spooled: Spooled,
    wire: Wire,
    /// Scratch space for the wire form.
    buf: Vec<u8>,
    eight_bit: bool,
}

impl SmtpMessage<'_> {
    fn put_wire(&mut self) -> io::Result<()> {
        let r = self.spooled.put(&self.buf);
        self.buf.clear();
        r.map_err(|e| self.spooled.io_error(e))
    }
}

impl Write for SmtpMessage<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.write_all(buf)?;
        Ok(buf.len())
    }

    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        self.spooled.capture(buf);
        self.eight_bit |= buf.iter().any(|b| *b >= 0x80);
        self.wire.feed(buf, &mut self.buf);
        self.put_wire()
    }

    fn flush(&mut self) -> io::Result<()> {
        self.spooled.flush()
    }
}

impl super::Sink for SmtpMessage<'_> {
    /// Hand the message over and wait for the server's word.
    fn commit(mut self: Box<Self>) -> Result<String, DeliverError> {
        self.wire.finish(&mut self.buf);
        self.put_wire().map_err(|e| self.spooled.error(e))?;
        let size = self.spooled.size();
        let mut file = self
            .spooled
            .finish()
            .and_then(|mut f| {
                std::io::Seek::rewind(&mut f)?;
                Ok(f)
            })
            .map_err(|e| self.spooled.error(e))?;
        let sender = self.spooled.headers().sender();
        let eight_bit = self.eight_bit;
        self.smtp.deliver(&mut file, size, eight_bit, &sender)?;
        // Delivered. Mark it so recovery knows; a failure here only means
        // a crash before the state is saved would fetch it again.
        if self
            .smtp
            .spool
            .mark_done(self.spooled.token(), &Entry::Spool, &file)
            .is_ok()
        {
            self.spooled.keep();
        }
        Ok(self.smtp.shown())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn reply(text: &[u8]) -> Result<Reply, Fault> {
        read_reply(&mut io::Cursor::new(text.to_vec()))
    }

    fn wire(input: &[u8]) -> Vec<u8> {
        let mut w = Wire::default();
        let mut out = Vec::new();
        w.feed(input, &mut out);
        w.finish(&mut out);
        out
    }

    #[test]
    fn replies_one_line_many_lines_bare_lf_and_no_text() {
        let r = reply(b"250 2.1.0 Ok\r\n").unwrap();
        assert_eq!(
            (r.code, r.lines.as_slice()),
            (250, &["2.1.0 Ok".to_string()][..])
        );
        let r = reply(b"250-vm\r\n250-PIPELINING\n250-8BITMIME\r\n250 CHUNKING\r\nnext").unwrap();
        assert_eq!(r.code, 250);
        assert_eq!(r.lines, ["vm", "PIPELINING", "8BITMIME", "CHUNKING"]);
        let ext = Extensions::parse(&r);
        assert!(ext.pipelining && ext.eight_bit && ext.chunking && !ext.smtputf8 && !ext.size);
        let r = reply(b"354\r\n").unwrap();
        assert_eq!((r.code, r.lines.len()), (354, 1));
        let r = reply(b"250-x\r\n250-size 1000\r\n250 smtputf8\r\n").unwrap();
        let ext = Extensions::parse(&r);
        assert!(ext.size && ext.smtputf8 && !ext.pipelining);
    }

    #[test]
    fn replies_that_are_not_replies() {
        for bad in [
            &b"hello\r\n"[..],
            b"25\r\n",
            b"2500 x\r\n",
            b"650 x\r\n",
            b"1xx x\r\n",
            b"250-a\r\n251 b\r\n",
            b"+OK pop3\r\n",
        ] {
            assert!(
                matches!(reply(bad), Err(Fault::Protocol(_))),
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
        assert!(matches!(reply(b""), Err(Fault::Closed)));
        assert!(matches!(
            reply(b"250-half\r\n250 no end"),
            Err(Fault::Closed)
        ));
    }

    #[test]
    fn replies_are_bounded() {
        let long = format!("550 {}\r\n", "x".repeat(MAX_LINE));
        assert!(matches!(reply(long.as_bytes()), Err(Fault::Protocol(m)) if m.contains("longer")));
        let fits = format!("550 {}\r\n", "x".repeat(MAX_LINE - 6));
        assert!(reply(fits.as_bytes()).is_ok());
        let many = "250-x\r\n".repeat(MAX_LINES) + "250 end\r\n";
        assert!(matches!(reply(many.as_bytes()), Err(Fault::Protocol(m)) if m.contains("lines")));
        let most = "250-x\r\n".repeat(MAX_LINES - 1) + "250 end\r\n";
        assert_eq!(reply(most.as_bytes()).unwrap().lines.len(), MAX_LINES);
    }

    #[test]
    fn server_text_is_cleaned_and_capped() {
        let r = reply(b"550-5.1.1 <a\x1b[31m> unknown\x07\r\n550 bye\tnow\r\n").unwrap();
        assert_eq!(r.shown(), "550 5.1.1 <a[31m> unknown byenow");
        let r = reply(format!("451 {}\r\n", "é".repeat(1000)).as_bytes()).unwrap();
        let shown = r.shown();
        assert!(
            shown.ends_with("...") && shown.chars().count() == MAX_SHOWN + 3,
            "{shown}"
        );
        assert!(r.is_temporary() && !r.is_positive());
    }

    #[test]
    fn wire_form_has_crlf_line_ends_only() {
        assert_eq!(wire(b"a\nb\n"), b"a\r\nb\r\n");
        assert_eq!(wire(b"a\r\nb"), b"a\r\nb\r\n");
        assert_eq!(wire(b"a\rb\r\r\nc\r"), b"a\r\nb\r\n\r\nc\r\n");
        assert_eq!(wire(b""), b"");
        assert_eq!(wire(b"\n"), b"\r\n");
        // Split anywhere, the same bytes come out.
        let msg = b"x\r\r\ny\rz\n.\r\n";
        for cut in 0..msg.len() {
            let mut w = Wire::default();
            let mut out = Vec::new();
            w.feed(&msg[..cut], &mut out);
            w.feed(&msg[cut..], &mut out);
            w.finish(&mut out);
            assert_eq!(out, wire(msg), "cut at {cut}");
        }
    }

    #[test]
    fn dots_are_stuffed_at_line_starts_across_chunks() {
        let data = b".a\r\nb.\r\n..\r\n.\r\n";
        let want = b"..a\r\nb.\r\n...\r\n..\r\n";
        for cut in 0..data.len() {
            let mut s = Stuffer::default();
            let mut out = Vec::new();
            s.feed(&data[..cut], &mut out);
            s.feed(&data[cut..], &mut out);
            assert_eq!(out, want, "cut at {cut}");
        }
    }

    proptest! {
        /// Whatever a message holds, DATA carries it with CRLF line ends
        /// only, and nothing in it ends the data early: unstuffed, it is
        /// the wire form again.
        #[test]
        fn nothing_in_a_message_ends_the_data(msg in proptest::collection::vec(
            prop_oneof![Just(b'\r'), Just(b'\n'), Just(b'.'), any::<u8>()], 0..200)) {
            let w = wire(&msg);
            let mut stuffed = Vec::new();
            Stuffer::default().feed(&w, &mut stuffed);
            stuffed.extend_from_slice(b".\r\n");
            let mut data = b"\r\n".to_vec();
            data.extend_from_slice(&stuffed);
            let end = data.windows(5).position(|x| x == b"\r\n.\r\n");
            prop_assert_eq!(end, Some(data.len() - 5));
            for (i, b) in w.iter().enumerate() {
                prop_assert!(*b != b'\n' || (i > 0 && w[i - 1] == b'\r'));
                prop_assert!(*b != b'\r' || w.get(i + 1) == Some(&b'\n'));
            }
            let mut unstuffed = Vec::new();
            for line in stuffed[..stuffed.len() - 3].split_inclusive(|b| *b == b'\n') {
                unstuffed.extend_from_slice(line.strip_prefix(b".").unwrap_or(line));
            }
            prop_assert_eq!(unstuffed, w.clone());
            if !msg.contains(&b'\r') {
                let mut lf: Vec<u8> = w.iter().copied().filter(|b| *b != b'\r').collect();
                if !msg.ends_with(b"\n") && !msg.is_empty() {
                    lf.pop();
                }
                prop_assert_eq!(lf, msg);
            }
        }
    }

    #[test]
    fn the_envelope_sender_is_the_address_or_null() {
        let a = Sender::Address("bounce@lists.example".into());
        assert_eq!(envelope_sender(&a), "bounce@lists.example");
        assert_eq!(envelope_sender(&Sender::Null), "");
        assert_eq!(envelope_sender(&Sender::Unknown), "");
        assert_eq!(envelope_sender(&Sender::Address("a>b@x".into())), "");
        assert_eq!(
            envelope_sender(&Sender::Address(format!("{}@x", "a".repeat(300)))),
            ""
        );
    }

    #[test]
    fn the_helo_name_is_a_plausible_domain() {
        let n = helo_name();
        assert!(
            !n.is_empty()
                && n.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-.".contains(&b))
        );
    }

    #[test]
    fn recovery_says_landed_only_with_a_done_mark() {
        let dir = tempfile::tempdir().unwrap();
        let spool = SpoolDir::open(dir.path(), "u@h:110").unwrap();
        let relay = Relay {
            server: ServerAddr::Unix(dir.path().join("no-such-socket")),
            recipient: "alice".into(),
        };
        let mut smtp = Smtp::open(Dialect::Lmtp, &relay, Duration::from_secs(5), spool);
        let tok = smtp.next_token();
        assert!(!smtp.recover(&tok).unwrap(), "journalled, never spooled");
        let mut sink = smtp.create(&tok).unwrap();
        sink.write_all(b"Subject: x\n\nbody\n").unwrap();
        sink.flush().unwrap();
        std::mem::forget(sink);
        let names = smtp.spool.entries().unwrap();
        assert_eq!(names, vec![(tok.clone(), Entry::Spool)]);
        assert_eq!(
            std::fs::read(smtp.spool.path(&tok)).unwrap(),
            b"Subject: x\r\n\r\nbody\r\n",
            "spooled in wire form"
        );
        assert!(!smtp.recover(&tok).unwrap(), "spooled but not confirmed");
        assert!(smtp.spool.entries().unwrap().is_empty());
        // A server that is not there: an error that names it, nothing kept.
        let tok = smtp.next_token();
        let mut sink = Box::new(smtp.create(&tok).unwrap());
        sink.write_all(b"Subject: y\n\n").unwrap();
        let err = super::super::Sink::commit(sink).unwrap_err();
        assert!(matches!(err, DeliverError::RelayConnect { .. }), "{err}");
        let msg = err.to_string();
        assert!(
            msg.contains("no-such-socket") && msg.contains("`lmtp`"),
            "{msg}"
        );
        assert_eq!(crate::error::Error::from(err).exit_code(), 75);
        assert!(!smtp.recover(&tok).unwrap());
        std::fs::write(smtp.spool.path(&Entry::Done.name(&tok)), "").unwrap();
        assert!(smtp.recover(&tok).unwrap());
    }
}
