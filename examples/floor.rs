//! The protocol floor of the benchmark (bench/peers.sh): the least a POP3
//! client over implicit TLS can do to download a whole mailbox. It logs in
//! with USER/PASS, sends UIDL and LIST together, then RETRs every message
//! with a window of commands in flight, and throws the bodies away: no
//! unstuffing, no line-ending conversion, no disk, no state. A real client
//! cannot beat it; the benchmark reports every tool as a multiple of it.
//!
//! Usage: `floor HOST PORT CA_FILE USER EXPECTED_COUNT` with the password in
//! `$POP3_PASSWORD` (kept out of argv). Exits 1 when the server holds a
//! different number of messages than expected, or on any error.

use std::env;
use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::process::ExitCode;
use std::time::Instant;

use native_tls::{Certificate, TlsConnector, TlsStream};

/// RETR commands in flight at once; the window is topped up whenever it
/// falls to half, so a refill is one TLS record rather than one per command.
const WINDOW: usize = 64;

type Error = Box<dyn std::error::Error>;

struct Conn {
    tls: TlsStream<TcpStream>,
    buf: Vec<u8>,
    start: usize,
    end: usize,
}

impl Conn {
    /// Read more bytes into the buffer; an error at end of stream.
    fn fill(&mut self) -> Result<(), Error> {
        if self.start == self.end {
            self.start = 0;
            self.end = 0;
        } else if self.end == self.buf.len() {
            self.buf.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
            if self.end == self.buf.len() {
                let len = self.buf.len();
                self.buf.resize(len * 2, 0);
            }
        }
        let n = self.tls.read(&mut self.buf[self.end..])?;
        if n == 0 {
            return Err("the server closed the connection".into());
        }
        self.end += n;
        Ok(())
    }

    /// One reply line, CRLF removed.
    fn line(&mut self) -> Result<Vec<u8>, Error> {
        loop {
            if let Some(p) = find_lf(&self.buf[self.start..self.end]) {
                let line = self.buf[self.start..self.start + p].to_vec();
                self.start += p + 1;
                return Ok(line.strip_suffix(b"\r").unwrap_or(&line).to_vec());
            }
            self.fill()?;
        }
    }

    fn status(&mut self, what: &str) -> Result<(), Error> {
        let line = self.line()?;
        if line.starts_with(b"+OK") {
            Ok(())
        } else {
            Err(format!("{what}: {}", String::from_utf8_lossy(&line)).into())
        }
    }

    /// Skip a multi-line body up to and including the `.` line; returns the
    /// number of body bytes seen on the wire.
    fn skip_body(&mut self) -> Result<u64, Error> {
        let mut bytes = 0u64;
        loop {
            // At the start of a line.
            while self.end - self.start < 3 {
                let have = &self.buf[self.start..self.end];
                if !b".\r\n".starts_with(have) {
                    break;
                }
                self.fill()?;
            }
            if self.buf[self.start..self.end].starts_with(b".\r\n") {
                self.start += 3;
                return Ok(bytes);
            }
            // Find the end of this line, reading more as needed.
            loop {
                if let Some(p) = find_lf(&self.buf[self.start..self.end]) {
                    self.start += p + 1;
                    bytes += p as u64 + 1;
                    break;
                }
                bytes += (self.end - self.start) as u64;
                self.start = self.end;
                self.fill()?;
            }
        }
    }

    /// Collect a multi-line body's lines (for UIDL and LIST).
    fn lines(&mut self) -> Result<Vec<Vec<u8>>, Error> {
        let mut out = Vec::new();
        loop {
            let line = self.line()?;
            if line == b"." {
                return Ok(out);
            }
            out.push(line);
        }
    }

    fn send(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.tls.write_all(bytes)?;
        self.tls.flush()
    }
}

/// First LF in `s`, eight bytes at a time (the classic has-zero-byte test on
/// `word ^ 0x0a..`); the lowest flagged byte is always a true match.
fn find_lf(s: &[u8]) -> Option<usize> {
    const LO: u64 = 0x0101_0101_0101_0101;
    const HI: u64 = 0x8080_8080_8080_8080;
    const LF: u64 = 0x0a0a_0a0a_0a0a_0a0a;
    let mut i = 0;
    while i + 8 <= s.len() {
        let mut word = [0u8; 8];
        word.copy_from_slice(&s[i..i + 8]);
        let w = u64::from_le_bytes(word) ^ LF;
        let t = w.wrapping_sub(LO) & !w & HI;
        if t != 0 {
            return Some(i + (t.trailing_zeros() / 8) as usize);
        }
        i += 8;
    }
    s[i..].iter().position(|&b| b == b'\n').map(|p| i + p)
}

fn run() -> Result<(), Error> {
    let args: Vec<String> = env::args().collect();
    let [_, host, port, ca, user, expect] = args.as_slice() else {
        return Err("usage: floor HOST PORT CA_FILE USER EXPECTED_COUNT ($POP3_PASSWORD)".into());
    };
    let port: u16 = port.parse()?;
    let expect: usize = expect.parse()?;
    let password = env::var("POP3_PASSWORD").map_err(|_| "POP3_PASSWORD is not set")?;
    let ca = Certificate::from_pem(&std::fs::read(ca)?)?;
    let connector = TlsConnector::builder().add_root_certificate(ca).build()?;

    let started = Instant::now();
    let tcp = TcpStream::connect((host.as_str(), port))?;
    tcp.set_nodelay(true)?;
    let tls = connector.connect(host, tcp)?;
    let mut c = Conn {
        tls,
        buf: vec![0; 256 * 1024],
        start: 0,
        end: 0,
    };
    c.status("greeting")?;
    c.send(format!("USER {user}\r\n").as_bytes())?;
    c.status("USER")?;
    c.send(format!("PASS {password}\r\n").as_bytes())?;
    c.status("PASS")?;

    c.send(b"UIDL\r\nLIST\r\n")?;
    c.status("UIDL")?;
    let uids = c.lines()?;
    c.status("LIST")?;
    let list = c.lines()?;
    let numbers: Vec<u32> = list
        .iter()
        .filter_map(|l| l.split(|&b| b == b' ').next())
        .filter_map(|n| std::str::from_utf8(n).ok()?.parse().ok())
        .collect();
    if numbers.len() != expect || uids.len() != expect {
        return Err(format!(
            "the server lists {} messages ({} UIDs), expected {expect}",
            numbers.len(),
            uids.len()
        )
        .into());
    }

    let mut sent = 0;
    let mut done = 0;
    let mut bytes = 0u64;
    let mut batch = Vec::new();
    while done < numbers.len() {
        if sent - done <= WINDOW / 2 && sent < numbers.len() {
            batch.clear();
            while sent < numbers.len() && sent - done < WINDOW {
                batch.extend_from_slice(format!("RETR {}\r\n", numbers[sent]).as_bytes());
                sent += 1;
            }
            c.send(&batch)?;
        }
        c.status("RETR")?;
        bytes += c.skip_body()?;
        done += 1;
    }
    c.send(b"QUIT\r\n")?;
    c.status("QUIT")?;
    let secs = started.elapsed().as_secs_f64();
    println!(
        "floor: {done} messages, {bytes} bytes in {secs:.3} s ({:.1} MB/s)",
        bytes as f64 / secs / 1e6
    );
    Ok(())
}

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("floor: {e}");
            ExitCode::FAILURE
        }
    }
}
