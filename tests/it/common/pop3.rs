//! A bare-hands POP3 client for tests that need to see or change a
//! mailbox the way another client would, independent of popfetch.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::time::Duration;

/// A bare-hands POP3 client over any stream.
pub struct Pop3<S: Read + Write> {
    r: BufReader<S>,
}

impl<S: Read + Write> Pop3<S> {
    pub fn new(s: S) -> Pop3<S> {
        Pop3 {
            r: BufReader::new(s),
        }
    }

    pub fn line(&mut self) -> String {
        let mut l = String::new();
        self.r.read_line(&mut l).unwrap();
        l.trim_end_matches(['\r', '\n']).to_owned()
    }

    pub fn cmd(&mut self, c: &str) -> String {
        self.r
            .get_mut()
            .write_all(format!("{c}\r\n").as_bytes())
            .unwrap();
        self.line()
    }

    /// The raw body of a multi-line response, terminator included.
    pub fn body(&mut self) -> Vec<u8> {
        let mut out = Vec::new();
        loop {
            let mut l = Vec::new();
            self.r.read_until(b'\n', &mut l).unwrap();
            assert!(
                !l.is_empty(),
                "connection closed inside a multi-line response"
            );
            out.extend_from_slice(&l);
            if l == b".\r\n" {
                return out;
            }
        }
    }

    pub fn into_inner(self) -> S {
        self.r.into_inner()
    }
}

/// A TCP connection to a loopback port, with a read timeout.
pub fn connect(port: u16) -> TcpStream {
    let s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    s
}

impl Pop3<TcpStream> {
    /// Log in with USER/PASS on a plain port, asserting every step.
    pub fn login(port: u16, user: &str, password: &str) -> Pop3<TcpStream> {
        let mut p = Pop3::new(connect(port));
        assert!(p.line().starts_with("+OK"));
        assert!(p.cmd(&format!("USER {user}")).starts_with("+OK"));
        let pass = p.cmd(&format!("PASS {password}"));
        assert!(pass.starts_with("+OK"), "{pass}");
        p
    }
}

impl<S: Read + Write> Pop3<S> {
    /// The UIDs in message-number order.
    pub fn uidl(&mut self) -> Vec<String> {
        assert!(self.cmd("UIDL").starts_with("+OK"));
        let mut uids = Vec::new();
        loop {
            let l = self.line();
            if l == "." {
                return uids;
            }
            uids.push(l.split(' ').nth(1).unwrap().to_owned());
        }
    }

    /// A command whose answer must be +OK.
    pub fn ok(&mut self, c: &str) -> String {
        let l = self.cmd(c);
        assert!(l.starts_with("+OK"), "{c}: {l}");
        l
    }

    /// The lines of a multi-line answer, dot-unstuffed, each ended by LF.
    pub fn unstuffed_body(&mut self) -> Vec<u8> {
        let mut out = Vec::new();
        loop {
            let l = self.line();
            if l == "." {
                return out;
            }
            out.extend_from_slice(l.strip_prefix('.').unwrap_or(&l).as_bytes());
            out.push(b'\n');
        }
    }

    pub fn quit(mut self) {
        assert!(self.cmd("QUIT").starts_with("+OK"));
    }
}
