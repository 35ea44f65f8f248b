//! A scripted SMTP/LMTP server on 127.0.0.1 (in-process threads) for the
//! faults real mail servers will not produce on demand: a connection cut
//! in the middle of DATA, a server that goes away between messages, one
//! that lies, bare LF line ends, endless reply lines.
//!
//! By default it behaves: it greets, answers LHLO/EHLO with the
//! extensions it was given, takes MAIL, RCPT, RSET and NOOP, reads DATA
//! (unstuffing it) and BDAT chunks, and keeps every message it was given
//! whole. A handler sees each command line (and `<greeting>` before the
//! greeting, `<message>` once a message is in) and may answer otherwise.
//! Every line is recorded with whether more bytes had already arrived
//! with it: the mark of a client that pipelines.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// What the server does instead of its default.
#[derive(Debug, Clone)]
pub enum Act {
    /// Send these bytes exactly (line ends included).
    Say(String),
    /// Close the connection without a word.
    Close,
    /// Say nothing for this long (or until the server is dropped), then
    /// close.
    Stall(Duration),
    /// For DATA: answer 354, read a little of the message, then close.
    CutData,
}

/// `code text` and CRLF.
pub fn say(line: &str) -> Act {
    Act::Say(format!("{line}\r\n"))
}

/// One line the server received.
#[derive(Debug, Clone)]
pub struct Line {
    pub conn: usize,
    pub text: String,
    /// More bytes had arrived with this line before it was answered.
    pub batched: bool,
}

type Handler = dyn Fn(usize, &str) -> Option<Act> + Send + Sync;

struct Shared {
    lines: Mutex<Vec<Line>>,
    messages: Mutex<Vec<Vec<u8>>>,
    /// Messages received whole, taken or not.
    whole: AtomicUsize,
    connections: AtomicUsize,
    shutdown: AtomicBool,
    extensions: Vec<String>,
    handler: Box<Handler>,
}

/// A running scripted server; it stops accepting when dropped.
pub struct SmtpServer {
    port: u16,
    shared: Arc<Shared>,
}

impl SmtpServer {
    /// Listens on an ephemeral port of 127.0.0.1, announcing `extensions`
    /// (`PIPELINING`, `CHUNKING`, ...) in its LHLO/EHLO reply.
    pub fn start<F>(extensions: &[&str], handler: F) -> SmtpServer
    where
        F: Fn(usize, &str) -> Option<Act> + Send + Sync + 'static,
    {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let shared = Arc::new(Shared {
            lines: Mutex::new(Vec::new()),
            messages: Mutex::new(Vec::new()),
            whole: AtomicUsize::new(0),
            connections: AtomicUsize::new(0),
            shutdown: AtomicBool::new(false),
            extensions: extensions.iter().map(|s| s.to_string()).collect(),
            handler: Box::new(handler),
        });
        let sh = Arc::clone(&shared);
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                if sh.shutdown.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(stream) = stream else { continue };
                let conn = sh.connections.fetch_add(1, Ordering::SeqCst);
                let sh = Arc::clone(&sh);
                std::thread::spawn(move || {
                    let _ = serve(&sh, conn, stream);
                });
            }
        });
        SmtpServer { port, shared }
    }

    /// A server with the defaults only.
    pub fn plain(extensions: &[&str]) -> SmtpServer {
        SmtpServer::start(extensions, |_, _| None)
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// `host:port`, for `lmtp =` or `smtp =`.
    pub fn address(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    pub fn lines(&self) -> Vec<Line> {
        self.shared.lines.lock().unwrap().clone()
    }

    /// The command lines received, in order, over all connections.
    pub fn commands(&self) -> Vec<String> {
        self.lines().into_iter().map(|l| l.text).collect()
    }

    /// Every message received whole and answered 2xx, in wire form
    /// (CRLF, unstuffed).
    pub fn messages(&self) -> Vec<Vec<u8>> {
        self.shared.messages.lock().unwrap().clone()
    }

    /// How many messages arrived whole, whatever the answer.
    pub fn whole(&self) -> usize {
        self.shared.whole.load(Ordering::SeqCst)
    }

    pub fn connections(&self) -> usize {
        self.shared.connections.load(Ordering::SeqCst)
    }
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        self.shared.shutdown.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(("127.0.0.1", self.port));
    }
}

/// The verb of a command line, upper-cased.
fn verb(line: &str) -> String {
    line.split(' ').next().unwrap_or("").to_ascii_uppercase()
}

fn read_line(r: &mut impl BufRead) -> Option<String> {
    let mut buf = Vec::new();
    match r.read_until(b'\n', &mut buf) {
        Ok(0) | Err(_) => None,
        Ok(_) => {
            while buf.last().is_some_and(|b| *b == b'\n' || *b == b'\r') {
                buf.pop();
            }
            Some(String::from_utf8_lossy(&buf).into_owned())
        }
    }
}

/// Does `act`; false when the connection is over.
fn perform(sh: &Shared, stream: &mut TcpStream, act: &Act) -> bool {
    match act {
        Act::Say(text) => stream.write_all(text.as_bytes()).is_ok(),
        Act::Close | Act::CutData => {
            let _ = stream.shutdown(Shutdown::Both);
            false
        }
        Act::Stall(d) => {
            let end = std::time::Instant::now() + *d;
            while std::time::Instant::now() < end && !sh.shutdown.load(Ordering::SeqCst) {
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = stream.shutdown(Shutdown::Both);
            false
        }
    }
}

fn serve(sh: &Shared, conn: usize, stream: TcpStream) -> std::io::Result<()> {
    let mut out = stream.try_clone()?;
    let mut input = BufReader::new(stream);
    let greeting = (sh.handler)(conn, "<greeting>").unwrap_or_else(|| say("220 scripted ready"));
    if !perform(sh, &mut out, &greeting) {
        return Ok(());
    }
    let mut chunks: Vec<u8> = Vec::new();
    while let Some(line) = read_line(&mut input) {
        sh.lines.lock().unwrap().push(Line {
            conn,
            text: line.clone(),
            batched: !input.buffer().is_empty(),
        });
        let v = verb(&line);
        let chosen = (sh.handler)(conn, &line);
        let act = match (&chosen, v.as_str()) {
            (Some(a), _) => a.clone(),
            (None, "LHLO" | "EHLO") => {
                let mut r = String::from("250-scripted\r\n");
                for e in &sh.extensions {
                    r.push_str(&format!("250-{e}\r\n"));
                }
                r.push_str("250 ENHANCEDSTATUSCODES\r\n");
                Act::Say(r)
            }
            (None, "HELO") => say("250 scripted"),
            (None, "MAIL" | "RCPT" | "RSET" | "NOOP") => say("250 2.0.0 ok"),
            (None, "DATA") => say("354 go ahead"),
            (None, "QUIT") => {
                let _ = out.write_all(b"221 2.0.0 bye\r\n");
                return Ok(());
            }
            (None, "BDAT") => Act::Say(String::new()),
            (None, _) => say("500 5.5.2 unknown command"),
        };
        if v == "BDAT" && chosen.is_none() {
            let mut words = line.split(' ').skip(1);
            let n: usize = words.next().and_then(|n| n.parse().ok()).unwrap_or(0);
            let last = words.next().is_some_and(|w| w.eq_ignore_ascii_case("LAST"));
            let mut chunk = vec![0u8; n];
            input.read_exact(&mut chunk)?;
            chunks.extend_from_slice(&chunk);
            if last {
                let msg = std::mem::take(&mut chunks);
                if !finish(sh, conn, &mut out, msg) {
                    return Ok(());
                }
            } else if !perform(sh, &mut out, &say("250 2.0.0 chunk ok")) {
                return Ok(());
            }
            continue;
        }
        if v == "DATA" && matches!(act, Act::CutData) {
            let _ = out.write_all(b"354 go ahead\r\n");
            let mut some = [0u8; 512];
            let _ = input.read(&mut some);
        }
        let data = v == "DATA" && matches!(&act, Act::Say(t) if t.starts_with("354"));
        if !perform(sh, &mut out, &act) {
            return Ok(());
        }
        if data {
            let mut msg = Vec::new();
            loop {
                let mut l = Vec::new();
                if input.read_until(b'\n', &mut l)? == 0 {
                    return Ok(());
                }
                if l == b".\r\n" {
                    break;
                }
                msg.extend_from_slice(l.strip_prefix(b".").unwrap_or(&l));
            }
            if !finish(sh, conn, &mut out, msg) {
                return Ok(());
            }
        }
    }
    Ok(())
}

/// A whole message arrived: keep it, and answer with the handler's
/// `<message>` act or 250.
fn finish(sh: &Shared, conn: usize, out: &mut TcpStream, msg: Vec<u8>) -> bool {
    sh.whole.fetch_add(1, Ordering::SeqCst);
    let act = (sh.handler)(conn, "<message>").unwrap_or_else(|| say("250 2.0.0 queued"));
    if matches!(act, Act::Say(ref t) if t.starts_with('2')) {
        sh.messages.lock().unwrap().push(msg);
    }
    perform(sh, out, &act)
}
