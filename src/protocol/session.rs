//! The blocking POP3 session: a thin loop that writes encoded commands and
//! feeds received bytes to the pure parsers. It knows nothing of accounts,
//! files or policy.
//!
//! Commands can be queued with [`Session::send`] and their replies read
//! later in the same order, which is all RFC 2449 pipelining needs; the
//! lock-step helpers are `send` + `flush` + read.

use std::io::{self, Read, Write};
use std::time::{Duration, Instant};

use super::capa::Capabilities;
use super::command::Command;
use super::multiline::DotDecoder;
use super::response::{self, AuthReply, ProtoError, Status};
use crate::text::{Redactor, printable};

/// Status lines longer than this are refused rather than buffered without
/// bound. SASL challenges and OAuth error reports fit easily.
const MAX_STATUS_LINE: usize = 1 << 20;
const READ_CHUNK: usize = 64 * 1024;

/// What popfetch holds of one listing (a multi-line reply it keeps in
/// memory: CAPA, LIST, UIDL), so that a hostile or broken server cannot
/// exhaust memory or fill the state file. A listing is parsed line by line
/// as it arrives; at most one line of it is ever buffered.
#[derive(Debug, Clone, Copy)]
pub struct Listing {
    /// "CAPA reply", "UIDL listing": for the error message.
    pub name: &'static str,
    /// The longest line, without its line ending.
    pub max_line: usize,
    /// What a line over `max_line` is called in the error, with the limit
    /// it names: "a UID of more than 1000 bytes".
    pub too_long: (&'static str, usize),
    pub max_lines: usize,
    pub max_bytes: u64,
}

/// RFC 2449 §5 caps a capability line at 512 octets; real replies are a
/// dozen short lines.
pub const CAPA_REPLY: Listing = Listing {
    name: "CAPA reply",
    max_line: 4096,
    too_long: ("a line", 4096),
    max_lines: 1000,
    max_bytes: 1 << 20,
};

/// At most this many messages in a LIST or UIDL listing (mpop caps at one
/// million; ten million leaves room for any real mailbox).
const MAX_MESSAGES: usize = 10_000_000;
/// At most this many bytes in a LIST or UIDL listing: ten million
/// messages with 30-byte UIDs fit.
const MAX_LISTING_BYTES: u64 = 512 << 20;

/// `msg size`, plus room for the extra fields some servers add.
pub const LIST_LISTING: Listing = Listing {
    name: "LIST listing",
    max_line: 1000,
    too_long: ("a line", 1000),
    max_lines: MAX_MESSAGES,
    max_bytes: MAX_LISTING_BYTES,
};

/// `msg uid`: a UID of up to [`response::MAX_UID_BYTES`], plus the message
/// number and blanks.
pub const UIDL_LISTING: Listing = Listing {
    name: "UIDL listing",
    max_line: response::MAX_UID_BYTES + 24,
    too_long: ("a UID", response::MAX_UID_BYTES),
    max_lines: MAX_MESSAGES,
    max_bytes: MAX_LISTING_BYTES,
};

/// The slowest a multi-line reply may arrive, on average over each stretch
/// of `timeout` seconds spent waiting for it: 256 bytes/s (2 kbit/s), well
/// below any link in use (a 9600 baud modem manages 1 KB/s), far above a
/// server that trickles a few bytes a second and so would hold the
/// connection, and the account's lock, for ever.
pub const MIN_BYTES_PER_SEC: u64 = 256;

/// The minimum-throughput rule for multi-line replies (messages and
/// listings alike). The time spent waiting for the server is cut into
/// windows of at least `timeout`; each must bring [`MIN_BYTES_PER_SEC`]
/// bytes for every second it lasted, or the reply must have ended. Time
/// spent handing bytes to the sink (a slow disk or MDA) does not count
/// against the server. A message of any size on an honest link arrives
/// however long it takes; a listing of `n` bytes is over within `n /
/// MIN_BYTES_PER_SEC` seconds plus twice `timeout` (the last window, and
/// one read, itself bounded by `timeout`), and listings are capped in size
/// (see [`Listing`]), so every multi-line read ends.
#[derive(Debug, Clone)]
pub struct Pace {
    window: Duration,
    /// Waiting time and bytes in the current window.
    waited: Duration,
    got: u64,
}

/// A window of waiting that brought too little: its bytes and length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Slow {
    pub got: u64,
    pub waited: Duration,
}

impl Pace {
    pub fn new(timeout: Duration) -> Pace {
        Pace {
            window: timeout,
            waited: Duration::ZERO,
            got: 0,
        }
    }

    /// Count `got` bytes that took `waited` to arrive. `Err` when a window
    /// has closed with too few.
    pub fn record(&mut self, waited: Duration, got: usize) -> Result<(), Slow> {
        self.waited += waited;
        self.got += got as u64;
        if self.waited < self.window {
            return Ok(());
        }
        let window = Slow {
            got: self.got,
            waited: self.waited,
        };
        self.waited = Duration::ZERO;
        self.got = 0;
        let need = window.waited.as_secs_f64() * MIN_BYTES_PER_SEC as f64;
        if (window.got as f64) < need {
            Err(window)
        } else {
            Ok(())
        }
    }

    fn too_slow(what: &str, slow: Slow) -> ProtoError {
        ProtoError::TooSlow(format!(
            "the server is sending {what} too slowly: {} bytes in {:.0} s, where popfetch needs at least {MIN_BYTES_PER_SEC} bytes a second",
            slow.got,
            slow.waited.as_secs_f64(),
        ))
    }
}

impl Listing {
    fn line_too_long(&self) -> ProtoError {
        let (what, limit) = self.too_long;
        ProtoError::Oversized(format!(
            "the server sent {what} of more than {limit} bytes in its {}",
            self.name
        ))
    }

    fn too_many_lines(&self) -> ProtoError {
        ProtoError::Oversized(format!(
            "the server sent more than {} lines in its {}",
            self.max_lines, self.name
        ))
    }

    fn too_many_bytes(&self) -> ProtoError {
        let size = match self.max_bytes >> 20 {
            0 => format!("{} bytes", self.max_bytes),
            mib => format!("{mib} MiB"),
        };
        ProtoError::Oversized(format!(
            "the server sent more than {size} in its {}",
            self.name
        ))
    }
}

/// Where a multi-line body goes, and why it failed.
#[derive(Debug, thiserror::Error)]
pub enum BodyError {
    #[error(transparent)]
    Protocol(#[from] ProtoError),
    /// The sink refused the bytes (a full disk, a dead MDA).
    #[error("{0}")]
    Sink(io::Error),
}

/// Receives `-vv` trace lines (already redacted).
pub type Trace = Box<dyn FnMut(&str) + Send>;

pub struct Session<S> {
    stream: S,
    /// Received bytes not yet consumed: `inbuf[pos..end]`. Allocated and
    /// zeroed once; reads land in it without re-initialising it.
    inbuf: Box<[u8]>,
    end: usize,
    pos: usize,
    /// Encoded commands not yet written.
    outbuf: Vec<u8>,
    trace: Option<Trace>,
    /// The account's `timeout`: the longest a single reply line may take
    /// to arrive, and the window of the [`Pace`] rule for multi-line
    /// replies. The socket's own timeout only bounds each read, so a server
    /// trickling a byte at a time would otherwise never time out.
    timeout: Option<Duration>,
    /// Our secrets sent so far (every one is added before it goes out):
    /// hidden in whatever server text is traced or kept, so that a server
    /// repeating our command back cannot get it shown.
    hidden: Redactor,
}

impl<S: Read + Write> Session<S> {
    /// Bound the time a reply may take: `limit` for any status line, and
    /// the [`Pace`] rule, with windows of `limit`, for multi-line replies
    /// (a big message on a slow but honest link may rightly take long).
    pub fn set_timeout(&mut self, limit: Duration) {
        self.timeout = Some(limit);
    }

    pub fn new(stream: S, trace: Option<Trace>) -> Self {
        Session {
            stream,
            inbuf: vec![0; READ_CHUNK].into_boxed_slice(),
            end: 0,
            pos: 0,
            outbuf: Vec::with_capacity(1024),
            trace,
            timeout: None,
            hidden: Redactor::default(),
        }
    }

    pub fn get_ref(&self) -> &S {
        &self.stream
    }

    /// Give the stream back, for the STLS upgrade. Bytes the server sent
    /// after its +OK to STLS would be injected plaintext: refuse them.
    pub fn into_parts(self) -> Result<(S, Option<Trace>), ProtoError> {
        if self.pos < self.end {
            return Err(ProtoError::Malformed(
                "the server sent data after accepting STLS, before the TLS handshake (possible injection attack)".into(),
            ));
        }
        Ok((self.stream, self.trace))
    }

    fn trace(&mut self, dir: &str, line: &str) {
        if let Some(t) = self.trace.as_mut() {
            t(&format!("{dir} {line}"));
        }
    }

    /// Hide `secret` (the password or token) in server text from now on.
    /// The secret parts of commands are hidden by [`send`](Self::send).
    pub fn hide(&mut self, secret: &str) {
        self.hidden.add(secret);
    }

    /// Queue a command without waiting for its reply.
    pub fn send(&mut self, cmd: &Command<'_>) -> Result<(), ProtoError> {
        if let Some(secret) = cmd.secret() {
            self.hidden.add(secret);
        }
        cmd.encode(&mut self.outbuf)?;
        if self.trace.is_some() {
            let line = cmd.trace();
            self.trace("C:", &line);
        }
        Ok(())
    }

    /// Write every queued command.
    pub fn flush(&mut self) -> Result<(), ProtoError> {
        if !self.outbuf.is_empty() {
            self.stream.write_all(&self.outbuf)?;
            self.outbuf.clear();
        }
        self.stream.flush()?;
        Ok(())
    }

    /// Read more of a multi-line reply (`what`, for the error) and decode
    /// it into `out`, keeping to `pace`: the bytes consumed, and whether
    /// the reply ended.
    fn decode_more(
        &mut self,
        dec: &mut DotDecoder,
        out: &mut Vec<u8>,
        pace: &mut Option<Pace>,
        what: &str,
    ) -> Result<(usize, bool), ProtoError> {
        let start = Instant::now();
        self.fill()?;
        let waited = start.elapsed();
        let (used, done) = dec.decode(&self.inbuf[self.pos..self.end], out);
        self.pos += used;
        if let Some(p) = pace.as_mut().filter(|_| !done) {
            p.record(waited, used)
                .map_err(|slow| Pace::too_slow(what, slow))?;
        }
        Ok((used, done))
    }

    /// Make sure at least one unread byte is buffered.
    fn fill(&mut self) -> Result<(), ProtoError> {
        if self.pos < self.end {
            return Ok(());
        }
        self.pos = 0;
        self.end = 0;
        let n = loop {
            match self.stream.read(&mut self.inbuf) {
                Ok(n) => break n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(ProtoError::Io(e)),
            }
        };
        self.end = n;
        if n == 0 {
            return Err(ProtoError::Closed);
        }
        Ok(())
    }

    /// Read one line, without its CRLF or LF.
    fn read_line(&mut self) -> Result<Vec<u8>, ProtoError> {
        let mut line = Vec::new();
        let deadline = self.timeout.map(|t| Instant::now() + t);
        loop {
            if deadline.is_some_and(|d| Instant::now() > d) {
                return Err(ProtoError::TooSlow(
                    "the server is sending a reply line too slowly".into(),
                ));
            }
            self.fill()?;
            let avail = &self.inbuf[self.pos..self.end];
            match avail.iter().position(|&b| b == b'\n') {
                Some(i) => {
                    line.extend_from_slice(&avail[..i]);
                    self.pos += i + 1;
                    if line.last() == Some(&b'\r') {
                        line.pop();
                    }
                    return Ok(line);
                }
                None => {
                    line.extend_from_slice(avail);
                    self.pos = self.end;
                    if line.len() > MAX_STATUS_LINE {
                        return Err(ProtoError::LineTooLong(MAX_STATUS_LINE));
                    }
                }
            }
        }
    }

    /// Read one status line, `+OK` or `-ERR` alike.
    pub fn read_status_any(&mut self) -> Result<Status, ProtoError> {
        let line = self.read_traced_line()?;
        self.parse_hidden(&line, response::parse_status_shown)
    }

    /// Parse a server line with `parse`, which makes any text it keeps with
    /// the `show` it is given: here one that hides our secrets first. The
    /// line itself is parsed as received (a password like "OK" must not
    /// change what the reply means); when it is malformed, the error
    /// quotes the line with our secrets hidden.
    fn parse_hidden<T>(
        &self,
        line: &[u8],
        parse: impl Fn(&[u8], response::ShowText<'_>) -> Result<T, ProtoError>,
    ) -> Result<T, ProtoError> {
        let show = |text: &[u8]| response::show_text(self.hidden.redact(text).as_bytes());
        parse(line, &show).map_err(|e| match e {
            ProtoError::Malformed(_) => {
                let shown = self.hidden.redact(line);
                match parse(shown.as_bytes(), &show) {
                    Err(e) => e,
                    Ok(_) => ProtoError::Malformed("a reply popfetch cannot read".into()),
                }
            }
            other => other,
        })
    }

    /// Read one reply line and show it in the trace.
    fn read_traced_line(&mut self) -> Result<Vec<u8>, ProtoError> {
        let line = self.read_line()?;
        self.trace_server_line(&line);
        Ok(line)
    }

    /// Show a server line in the trace: our secrets hidden, control bytes
    /// replaced, so that a server can neither get them shown nor drive the
    /// terminal.
    fn trace_server_line(&mut self, line: &[u8]) {
        if self.trace.is_some() {
            let shown = printable(self.hidden.redact(line).as_bytes());
            self.trace("S:", &shown);
        }
    }

    /// Read one status line; `-ERR` becomes [`ProtoError::Refused`].
    pub fn read_status(&mut self, verb: &str) -> Result<Status, ProtoError> {
        self.read_status_any()?.into_result(verb)
    }

    /// Read a reply during SASL: a challenge or the final status.
    pub fn read_auth_reply(&mut self) -> Result<AuthReply, ProtoError> {
        let line = self.read_traced_line()?;
        self.parse_hidden(&line, response::parse_auth_reply_shown)
    }

    /// Send one command and read its status line (lock-step).
    pub fn command(&mut self, cmd: &Command<'_>) -> Result<Status, ProtoError> {
        self.send(cmd)?;
        self.flush()?;
        self.read_status(cmd.verb())
    }

    /// Read the greeting; anything but +OK is a refusal.
    pub fn greeting(&mut self) -> Result<Status, ProtoError> {
        self.read_status("the connection (greeting)")
    }

    /// Stream a multi-line body into `sink`, dot-unstuffed, with LF line
    /// endings. Returns the number of bytes written. Memory stays bounded by
    /// the read buffer whatever the body's size.
    ///
    /// The body must keep to the [`Pace`] rule (with a timeout set).
    pub fn read_body(&mut self, sink: &mut dyn Write) -> Result<u64, BodyError> {
        let mut dec = DotDecoder::new();
        let mut out = Vec::with_capacity(READ_CHUNK + 16);
        let mut total = 0u64;
        let mut pace = self.timeout.map(Pace::new);
        loop {
            let (_, done) = self.decode_more(&mut dec, &mut out, &mut pace, "a message")?;
            if !out.is_empty() {
                sink.write_all(&out).map_err(BodyError::Sink)?;
                total += out.len() as u64;
                out.clear();
            }
            if done {
                return Ok(total);
            }
        }
    }

    /// Read a listing (CAPA, UIDL, LIST) and hand each line to `each` as
    /// it arrives, within the bounds of `kind` and the [`Pace`] rule. Only
    /// the line in hand is buffered, so memory stays small whatever the
    /// server sends.
    pub fn read_listing(
        &mut self,
        kind: &Listing,
        each: &mut dyn FnMut(&[u8]) -> Result<(), ProtoError>,
    ) -> Result<(), ProtoError> {
        let mut dec = DotDecoder::new();
        let mut out = Vec::with_capacity(READ_CHUNK + 16);
        let mut line = Vec::new();
        let mut lines = 0usize;
        let mut bytes = 0u64;
        let mut pace = self.timeout.map(Pace::new);
        let what = format!("its {}", kind.name);
        loop {
            let (used, done) = self.decode_more(&mut dec, &mut out, &mut pace, &what)?;
            bytes += used as u64;
            if bytes > kind.max_bytes {
                return Err(kind.too_many_bytes());
            }
            // The decoder ends every line with LF, the last one included.
            let mut rest = out.as_slice();
            while let Some(i) = rest.iter().position(|&b| b == b'\n') {
                if line.len() + i > kind.max_line {
                    return Err(kind.line_too_long());
                }
                line.extend_from_slice(&rest[..i]);
                rest = &rest[i + 1..];
                lines += 1;
                if lines > kind.max_lines {
                    return Err(kind.too_many_lines());
                }
                self.trace_server_line(&line);
                if let Err(e) = each(&line) {
                    return Err(self.requote(e, &line, each));
                }
                line.clear();
            }
            if line.len() + rest.len() > kind.max_line {
                return Err(kind.line_too_long());
            }
            line.extend_from_slice(rest);
            out.clear();
            if done {
                self.trace_server_line(b".");
                return Ok(());
            }
        }
    }

    /// A malformed listing line's error, quoting the line with our secrets
    /// hidden (`each` is asked again, with the hidden form).
    fn requote(
        &self,
        e: ProtoError,
        line: &[u8],
        each: &mut dyn FnMut(&[u8]) -> Result<(), ProtoError>,
    ) -> ProtoError {
        match e {
            ProtoError::Malformed(_) if !self.hidden.is_empty() => {
                match each(self.hidden.redact(line).as_bytes()) {
                    Err(e) => e,
                    Ok(()) => ProtoError::Malformed("a listing popfetch cannot read".into()),
                }
            }
            other => other,
        }
    }

    /// CAPA (RFC 2449). A server without CAPA answers -ERR: that is an
    /// empty capability list, not an error.
    pub fn capa(&mut self) -> Result<Capabilities, ProtoError> {
        self.send(&Command::Capa)?;
        self.flush()?;
        let st = self.read_status_any()?;
        let mut caps = Capabilities::default();
        if st.ok {
            self.read_listing(&CAPA_REPLY, &mut |l| {
                caps.add_line(l);
                Ok(())
            })?;
        }
        Ok(caps)
    }

    /// UIDL for the whole mailbox, or `None` when the server has no UIDL.
    pub fn uidl(&mut self) -> Result<Option<Vec<(u32, String)>>, ProtoError> {
        self.send(&Command::Uidl(None))?;
        self.flush()?;
        self.read_uidl_reply()
    }

    fn read_uidl_reply(&mut self) -> Result<Option<Vec<(u32, String)>>, ProtoError> {
        let st = self.read_status_any()?;
        if !st.ok {
            return Ok(None);
        }
        let mut uids = Vec::new();
        self.read_listing(&UIDL_LISTING, &mut |l| {
            uids.push(response::parse_uidl_line(l)?);
            Ok(())
        })?;
        Ok(Some(uids))
    }

    /// LIST for the whole mailbox: message numbers and sizes.
    pub fn list(&mut self) -> Result<Vec<(u32, u64)>, ProtoError> {
        self.send(&Command::List(None))?;
        self.flush()?;
        self.read_list_reply()
    }

    fn read_list_reply(&mut self) -> Result<Vec<(u32, u64)>, ProtoError> {
        self.read_status("LIST")?;
        let mut sizes = Vec::new();
        self.read_listing(&LIST_LISTING, &mut |l| {
            sizes.push(response::parse_list_line(l)?);
            Ok(())
        })?;
        Ok(sizes)
    }

    /// `LIST n` for each of `msgs`, up to `window` commands in flight (one
    /// write, one round trip per window): the sizes of a few messages
    /// without the whole listing. A message the server refuses (gone since
    /// UIDL) is left out.
    pub fn list_each(
        &mut self,
        msgs: &[u32],
        window: usize,
    ) -> Result<Vec<(u32, u64)>, ProtoError> {
        let mut sizes = Vec::with_capacity(msgs.len());
        for chunk in msgs.chunks(window.max(1)) {
            for &n in chunk {
                self.send(&Command::List(Some(n)))?;
            }
            self.flush()?;
            for &n in chunk {
                let st = self.read_status_any()?;
                if !st.ok {
                    continue;
                }
                let (msg, size) = response::parse_list_line(st.text.as_bytes())?;
                if msg != n {
                    return Err(ProtoError::Malformed(format!(
                        "LIST {n} was answered for message {msg}"
                    )));
                }
                sizes.push((msg, size));
            }
        }
        Ok(sizes)
    }

    /// LIST and UIDL; with `pipelined`, both go out in one write and cost
    /// one round trip instead of two.
    #[allow(clippy::type_complexity)]
    pub fn list_and_uidl(
        &mut self,
        pipelined: bool,
    ) -> Result<(Vec<(u32, u64)>, Option<Vec<(u32, String)>>), ProtoError> {
        if !pipelined {
            let sizes = self.list()?;
            return Ok((sizes, self.uidl()?));
        }
        self.send(&Command::List(None))?;
        self.send(&Command::Uidl(None))?;
        self.flush()?;
        let sizes = self.read_list_reply()?;
        Ok((sizes, self.read_uidl_reply()?))
    }

    /// QUIT: the only command that makes deletions real.
    pub fn quit(&mut self) -> Result<(), ProtoError> {
        self.command(&Command::Quit).map(|_| ())
    }

    /// QUIT without waiting for the reply, for a session that deleted
    /// nothing: there is nothing for the reply to confirm, and it saves a
    /// round trip.
    pub fn quit_without_reply(&mut self) -> Result<(), ProtoError> {
        self.send(&Command::Quit)?;
        self.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Cursor;

    /// A fake stream: reads come from a script, writes are recorded.
    struct Fake {
        input: Cursor<Vec<u8>>,
        written: Vec<u8>,
        chunk: usize,
    }

    impl Read for Fake {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            let n = buf.len().min(self.chunk);
            self.input.read(&mut buf[..n])
        }
    }
    impl Write for Fake {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.written.extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    /// A stream that never ends: `fill` makes each read's bytes (and says
    /// how many); `read` counts them. Writes vanish.
    struct Endless<F> {
        fill: F,
        read: u64,
    }

    impl<F: FnMut(&mut [u8]) -> usize> Endless<F> {
        fn new(fill: F) -> Self {
            Endless { fill, read: 0 }
        }
    }

    impl<F: FnMut(&mut [u8]) -> usize> Read for Endless<F> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            let n = (self.fill)(buf);
            self.read += n as u64;
            Ok(n)
        }
    }

    impl<F> Write for Endless<F> {
        fn write(&mut self, b: &[u8]) -> io::Result<usize> {
            Ok(b.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    fn session(input: &str, chunk: usize) -> Session<Fake> {
        session_traced(input, chunk, None)
    }

    fn session_traced(input: &str, chunk: usize, trace: Option<Trace>) -> Session<Fake> {
        Session::new(
            Fake {
                input: Cursor::new(input.as_bytes().to_vec()),
                written: Vec::new(),
                chunk,
            },
            trace,
        )
    }

    #[test]
    fn retr_body_is_unstuffed_and_lf() {
        for chunk in [1, 2, 3, 7, 4096] {
            let mut s = session(
                "+OK 30 octets\r\nSubject: x\r\n\r\n..dot\r\nFrom me\r\n.\r\n+OK next\r\n",
                chunk,
            );
            s.send(&Command::Retr(1)).unwrap();
            s.flush().unwrap();
            s.read_status("RETR").unwrap();
            let mut out = Vec::new();
            let n = s.read_body(&mut out).unwrap();
            assert_eq!(out, b"Subject: x\n\n.dot\nFrom me\n");
            assert_eq!(n, out.len() as u64);
            // The next reply is still there: pipelined replies stay in sync.
            assert!(s.read_status("NOOP").unwrap().ok);
            assert_eq!(s.get_ref().written, b"RETR 1\r\n");
        }
    }

    #[test]
    fn err_reply_becomes_refused_with_code() {
        let mut s = session("-ERR [IN-USE] locked\r\n", 4096);
        match s.command(&Command::Quit) {
            Err(ProtoError::Refused { code, text, .. }) => {
                assert_eq!(code, Some(super::super::RespCode::InUse));
                assert!(text.contains("locked"));
            }
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn cut_mid_body_is_an_error_not_a_short_message() {
        let mut s = session("+OK\r\nSubject: x\r\n\r\npartial", 4096);
        s.read_status("RETR").unwrap();
        let mut out = Vec::new();
        assert!(matches!(
            s.read_body(&mut out),
            Err(BodyError::Protocol(ProtoError::Closed))
        ));
    }

    #[test]
    fn a_trickling_reply_line_times_out() {
        // One byte every 20 ms, for ever.
        let trickle = || {
            Endless::new(|buf: &mut [u8]| {
                std::thread::sleep(Duration::from_millis(20));
                buf[0] = b'x';
                1
            })
        };
        let mut s = Session::new(trickle(), None);
        s.set_timeout(Duration::from_millis(100));
        match s.greeting() {
            Err(ProtoError::TooSlow(m)) => assert!(m.contains("too slowly"), "{m}"),
            other => panic!("expected a timeout, got {other:?}"),
        }
        // It gave up after a handful of bytes, not at the line-length cap.
        assert!(s.get_ref().read < 1000);

        // A body and a listing that trickle in for ever end too.
        let mut s = Session::new(trickle(), None);
        s.set_timeout(Duration::from_millis(100));
        match s.read_body(&mut io::sink()) {
            Err(BodyError::Protocol(ProtoError::TooSlow(m))) => {
                assert!(m.contains("sending a message too slowly"), "{m}")
            }
            other => panic!("expected a timeout, got {other:?}"),
        }
        assert!(s.get_ref().read < 1000);
        let mut s = Session::new(trickle(), None);
        s.set_timeout(Duration::from_millis(100));
        match s.read_listing(&UIDL_LISTING, &mut |_| Ok(())) {
            Err(ProtoError::TooSlow(m)) => {
                assert!(m.contains("sending its UIDL listing too slowly"), "{m}")
            }
            other => panic!("expected a timeout, got {other:?}"),
        }
        assert!(s.get_ref().read < 1000);
    }

    #[test]
    fn the_pace_rule_judges_each_window_of_waiting() {
        let secs = Duration::from_secs;
        let slow = |got, s| {
            Err(Slow {
                got,
                waited: secs(s),
            })
        };
        // A slow but steady link: 300 bytes every second, for ever.
        let mut p = Pace::new(secs(60));
        for _ in 0..1000 {
            assert_eq!(p.record(secs(1), 300), Ok(()));
        }
        // A burst, then a crawl: the window after the burst fails.
        let mut p = Pace::new(secs(60));
        assert_eq!(p.record(secs(1), 1 << 20), Ok(()));
        assert_eq!(p.record(secs(59), 0), Ok(()), "the burst's window");
        let mut verdict = Ok(());
        for _ in 0..60 {
            verdict = verdict.and(p.record(secs(1), 10));
        }
        assert_eq!(verdict, slow(600, 60));
        // Waits shorter than a window are summed, never judged alone; a
        // window is judged by how long it really lasted.
        let mut p = Pace::new(secs(2));
        assert_eq!(p.record(Duration::from_millis(1999), 0), Ok(()));
        assert_eq!(p.record(Duration::from_millis(1), 512), Ok(()));
        assert_eq!(p.record(secs(2), 511), slow(511, 2));
        assert_eq!(p.record(secs(1), 0), Ok(()));
        assert_eq!(p.record(secs(3), 1023), slow(1023, 4));
        assert_eq!(p.record(secs(4), 1024), Ok(()));
    }

    #[test]
    fn uidl_and_list() {
        let mut s = session(
            "+OK\r\n1 abc\r\n2 d%e\r\n.\r\n+OK 2 messages\r\n1 10\r\n2 20\r\n.\r\n",
            5,
        );
        let uids = s.uidl().unwrap().unwrap();
        assert_eq!(uids, vec![(1, "abc".to_string()), (2, "d%25e".to_string())]);
        assert_eq!(s.list().unwrap(), vec![(1, 10), (2, 20)]);
    }

    #[test]
    fn list_and_uidl_pipelined_go_out_together() {
        let mut s = session("+OK\r\n1 10\r\n.\r\n+OK\r\n1 a\r\n.\r\n", 3);
        let (sizes, uids) = s.list_and_uidl(true).unwrap();
        assert_eq!(sizes, vec![(1, 10)]);
        assert_eq!(uids, Some(vec![(1, "a".to_string())]));
        assert_eq!(s.get_ref().written, b"LIST\r\nUIDL\r\n");
        let mut s = session("+OK\r\n1 10\r\n.\r\n-ERR no UIDL\r\n", 3);
        assert_eq!(s.list_and_uidl(true).unwrap().1, None);
    }

    const SMALL: Listing = Listing {
        name: "TEST listing",
        max_line: 10,
        too_long: ("a line", 10),
        max_lines: 3,
        max_bytes: 30,
    };

    fn listing(input: &str, chunk: usize, kind: &Listing) -> Result<Vec<Vec<u8>>, ProtoError> {
        let mut s = session(input, chunk);
        let mut lines = Vec::new();
        s.read_listing(kind, &mut |l| {
            lines.push(l.to_vec());
            Ok(())
        })?;
        // The reply after the listing is still in step.
        assert!(s.read_status_any()?.ok);
        Ok(lines)
    }

    #[test]
    fn listings_within_bounds_are_read_line_by_line() {
        for chunk in [1, 2, 5, 4096] {
            let lines = listing("0123456789\r\n..b\nc\r\n.\r\n+OK\r\n", chunk, &SMALL).unwrap();
            assert_eq!(lines, [&b"0123456789"[..], b".b", b"c"]);
            assert!(listing(".\r\n+OK\r\n", chunk, &SMALL).unwrap().is_empty());
        }
    }

    #[test]
    fn listings_beyond_bounds_are_refused() {
        for chunk in [1, 3, 4096] {
            for (input, says) in [
                (
                    "01234567890\r\n.\r\n",
                    "a line of more than 10 bytes in its TEST listing",
                ),
                ("a\r\n012345678901234", "a line of more than 10 bytes"),
                (
                    "a\r\nb\r\nc\r\nd\r\n.\r\n",
                    "more than 3 lines in its TEST listing",
                ),
                (
                    "0123456789\r\n0123456789\r\n0123456789\r\n.\r\n",
                    "more than 30 bytes in its TEST listing",
                ),
            ] {
                match listing(input, chunk, &SMALL) {
                    Err(ProtoError::Oversized(m)) => {
                        assert!(m.starts_with("the server sent ") && m.contains(says), "{m}")
                    }
                    other => panic!("{input:?}: {other:?}"),
                }
            }
        }
    }

    #[test]
    fn a_huge_listing_line_is_refused_without_reading_it_all() {
        // Bytes without a line end, as fast as they are read.
        let endless = Endless::new(|buf: &mut [u8]| {
            buf.fill(b'u');
            buf.len()
        });
        let mut s = Session::new(endless, None);
        let r = s.read_listing(&UIDL_LISTING, &mut |_| Ok(()));
        assert!(matches!(r, Err(ProtoError::Oversized(_))), "{r:?}");
        let read = s.get_ref().read;
        assert!(read <= 2 * READ_CHUNK as u64, "{read}");
    }

    #[test]
    fn uidl_and_capa_use_their_bounds() {
        let long_uid = format!("+OK\r\n1 {}\r\n.\r\n", "u".repeat(1001));
        let mut s = session(&long_uid, 4096);
        match s.uidl() {
            Err(ProtoError::Oversized(m)) => assert_eq!(
                m,
                "the server sent a UID of more than 1000 bytes in its UIDL listing"
            ),
            other => panic!("{other:?}"),
        }
        // Over the line cap, not just over the UID cap: the same words.
        let longer = format!("+OK\r\n1 {}\r\n.\r\n", "u".repeat(5000));
        match session(&longer, 7).uidl() {
            Err(ProtoError::Oversized(m)) => assert!(m.contains("a UID of more than 1000"), "{m}"),
            other => panic!("{other:?}"),
        }
        let capa = format!("+OK\r\nX {}\r\n.\r\n", "x".repeat(5000));
        match session(&capa, 4096).capa() {
            Err(ProtoError::Oversized(m)) => assert!(m.contains("in its CAPA reply"), "{m}"),
            other => panic!("{other:?}"),
        }
        let list = format!("+OK\r\n1 {}\r\n.\r\n", "9".repeat(2000));
        match session(&list, 4096).list() {
            Err(ProtoError::Oversized(m)) => assert!(m.contains("in its LIST listing"), "{m}"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn secrets_are_hidden_in_server_text_but_not_in_what_it_means() {
        let lines = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let sink = std::sync::Arc::clone(&lines);
        let trace: Trace = Box::new(move |l: &str| sink.lock().unwrap().push(l.to_string()));
        let input = "+OK hi OK\r\n-ERR PASS OK \x1b[2J\r\n+ T0s=\r\n+OK\r\n1 OK\r\n.\r\n";
        let mut s = session_traced(input, 3, Some(trace));
        // A password "OK" must not turn "+OK" into something else.
        s.hide("OK");
        let st = s.read_status_any().unwrap();
        assert!(st.ok);
        assert_eq!(st.text, "hi ********");
        let st = s.read_status_any().unwrap();
        assert!(!st.ok);
        assert_eq!(st.text, "PASS ******** \u{FFFD}[2J");
        // A challenge reaches the mechanism as sent ("T0s=" is "OK").
        assert_eq!(
            s.read_auth_reply().unwrap(),
            AuthReply::Challenge(b"T0s=".to_vec())
        );
        assert_eq!(s.uidl().unwrap().unwrap(), [(1, "OK".to_string())]);
        let shown = lines.lock().unwrap().join("\n");
        assert!(!shown.contains("OK") && !shown.contains("T0s"), "{shown}");
        assert!(!shown.contains('\x1b'), "{shown}");
    }

    #[test]
    fn no_uidl_is_none() {
        let mut s = session("-ERR unknown command\r\n", 4096);
        assert!(s.uidl().unwrap().is_none());
    }

    #[test]
    fn capa_err_is_empty() {
        let mut s = session("-ERR what\r\n", 4096);
        assert_eq!(s.capa().unwrap(), Capabilities::default());
    }

    #[test]
    fn stls_with_trailing_bytes_is_refused() {
        let mut s = session("+OK begin TLS\r\n+OK injected\r\n", 4096);
        s.command(&Command::Stls).unwrap();
        assert!(s.into_parts().is_err());
    }

    #[test]
    fn sink_failure_is_reported_as_sink() {
        struct Full;
        impl Write for Full {
            fn write(&mut self, _: &[u8]) -> io::Result<usize> {
                Err(io::Error::other("disk full"))
            }
            fn flush(&mut self) -> io::Result<()> {
                Ok(())
            }
        }
        let mut s = session("+OK\r\nabc\r\n.\r\n", 4096);
        s.read_status("RETR").unwrap();
        assert!(matches!(s.read_body(&mut Full), Err(BodyError::Sink(_))));
    }
}
