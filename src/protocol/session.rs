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

/// Status lines longer than this are refused rather than buffered without
/// bound. SASL challenges and OAuth error reports fit easily.
const MAX_STATUS_LINE: usize = 1 << 20;
const READ_CHUNK: usize = 64 * 1024;
/// Listings (CAPA, UIDL, LIST) are held in memory whole, so a server that
/// never ends one is refused once it has sent this much: about two million
/// UIDL lines.
const MAX_LISTING: usize = 64 << 20;

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
    /// The longest a single reply line may take to arrive. The socket's
    /// own timeout only bounds each read, so a server trickling a byte at
    /// a time would otherwise never time out.
    line_timeout: Option<Duration>,
}

impl<S: Read + Write> Session<S> {
    /// Bound the time any one reply line may take (greeting, status lines,
    /// listings). Message bodies are bounded per read only: a big message
    /// on a slow link may rightly take long.
    pub fn set_line_timeout(&mut self, limit: Duration) {
        self.line_timeout = Some(limit);
    }

    pub fn new(stream: S, trace: Option<Trace>) -> Self {
        Session {
            stream,
            inbuf: vec![0; READ_CHUNK].into_boxed_slice(),
            end: 0,
            pos: 0,
            outbuf: Vec::with_capacity(1024),
            trace,
            line_timeout: None,
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

    /// Queue a command without waiting for its reply.
    pub fn send(&mut self, cmd: &Command<'_>) -> Result<(), ProtoError> {
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
        let deadline = self.line_timeout.map(|t| Instant::now() + t);
        loop {
            if deadline.is_some_and(|d| Instant::now() > d) {
                return Err(ProtoError::Io(io::Error::new(
                    io::ErrorKind::TimedOut,
                    "the server is sending its reply too slowly",
                )));
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
        response::parse_status(&line)
    }

    /// Read one reply line and show it in the trace. Server lines never
    /// hold our secrets (challenges are the server's data).
    fn read_traced_line(&mut self) -> Result<Vec<u8>, ProtoError> {
        let line = self.read_line()?;
        if self.trace.is_some() {
            let shown = String::from_utf8_lossy(&line).into_owned();
            self.trace("S:", &shown);
        }
        Ok(line)
    }

    /// Read one status line; `-ERR` becomes [`ProtoError::Refused`].
    pub fn read_status(&mut self, verb: &str) -> Result<Status, ProtoError> {
        self.read_status_any()?.into_result(verb)
    }

    /// Read a reply during SASL: a challenge or the final status.
    pub fn read_auth_reply(&mut self) -> Result<AuthReply, ProtoError> {
        let line = self.read_traced_line()?;
        response::parse_auth_reply(&line)
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
    pub fn read_body(&mut self, sink: &mut dyn Write) -> Result<u64, BodyError> {
        let mut dec = DotDecoder::new();
        let mut out = Vec::with_capacity(READ_CHUNK + 16);
        let mut total = 0u64;
        loop {
            self.fill()?;
            let (used, done) = dec.decode(&self.inbuf[self.pos..self.end], &mut out);
            self.pos += used;
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

    /// Read a small multi-line body (CAPA, UIDL, LIST) into lines.
    pub fn read_lines(&mut self) -> Result<Vec<Vec<u8>>, ProtoError> {
        let mut body = Capped(Vec::new());
        match self.read_body(&mut body) {
            Ok(_) => {}
            Err(BodyError::Protocol(e)) => return Err(e),
            Err(BodyError::Sink(_)) => {
                return Err(ProtoError::Malformed(format!(
                    "a listing longer than {} MiB",
                    MAX_LISTING >> 20
                )));
            }
        }
        let body = body.0;
        let mut lines: Vec<Vec<u8>> = body.split(|&b| b == b'\n').map(<[u8]>::to_vec).collect();
        // The body ends with LF, leaving one empty piece.
        if lines.last().is_some_and(Vec::is_empty) {
            lines.pop();
        }
        if self.trace.is_some() {
            for l in &lines {
                let shown = String::from_utf8_lossy(l).into_owned();
                self.trace("S:", &shown);
            }
            self.trace("S:", ".");
        }
        Ok(lines)
    }

    /// CAPA (RFC 2449). A server without CAPA answers -ERR: that is an
    /// empty capability list, not an error.
    pub fn capa(&mut self) -> Result<Capabilities, ProtoError> {
        self.send(&Command::Capa)?;
        self.flush()?;
        let st = self.read_status_any()?;
        if !st.ok {
            return Ok(Capabilities::default());
        }
        let lines = self.read_lines()?;
        Ok(Capabilities::parse(lines.iter().map(Vec::as_slice)))
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
        let lines = self.read_lines()?;
        lines
            .iter()
            .map(|l| response::parse_uidl_line(l))
            .collect::<Result<Vec<_>, _>>()
            .map(Some)
    }

    /// LIST for the whole mailbox: message numbers and sizes.
    pub fn list(&mut self) -> Result<Vec<(u32, u64)>, ProtoError> {
        self.send(&Command::List(None))?;
        self.flush()?;
        self.read_list_reply()
    }

    fn read_list_reply(&mut self) -> Result<Vec<(u32, u64)>, ProtoError> {
        self.read_status("LIST")?;
        let lines = self.read_lines()?;
        lines.iter().map(|l| response::parse_list_line(l)).collect()
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

/// A buffer that refuses to grow past [`MAX_LISTING`].
struct Capped(Vec<u8>);

impl Write for Capped {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.0.len() + buf.len() > MAX_LISTING {
            return Err(io::Error::other("listing too long"));
        }
        self.0.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
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

    fn session(input: &str, chunk: usize) -> Session<Fake> {
        Session::new(
            Fake {
                input: Cursor::new(input.as_bytes().to_vec()),
                written: Vec::new(),
                chunk,
            },
            None,
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
        struct Trickle(usize);
        impl Read for Trickle {
            fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
                std::thread::sleep(Duration::from_millis(20));
                self.0 += 1;
                buf[0] = b'x';
                Ok(1)
            }
        }
        impl Write for Trickle {
            fn write(&mut self, b: &[u8]) -> io::Result<usize> {
                Ok(b.len())
            }
            fn flush(&mut self) -> io::Result<()> {
                Ok(())
            }
        }
        let mut s = Session::new(Trickle(0), None);
        s.set_line_timeout(Duration::from_millis(100));
        match s.greeting() {
            Err(ProtoError::Io(e)) => assert_eq!(e.kind(), io::ErrorKind::TimedOut),
            other => panic!("expected a timeout, got {other:?}"),
        }
        // It gave up after a handful of bytes, not at the line-length cap.
        assert!(s.get_ref().0 < 1000);
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
