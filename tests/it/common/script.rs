//! A scripted POP3 server on 127.0.0.1 (plain TCP, in-process threads) for
//! the faults a real server will not produce on demand: a missing STLS, a
//! stall in the middle of RETR, a dropped connection, a lying response.
//!
//! A handler maps each command line the server receives to a `Reply`; the
//! server records every line so that a test can prove what the client did
//! and did not send (say, that PASS never arrived). `Maildrop` is a small
//! correct POP3 mailbox a handler can fall back on for everything it does
//! not want to break.

use std::collections::{BTreeSet, HashMap};
use std::io::{BufRead, BufReader, ErrorKind, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::corpus::pop3_wire;
use super::wait_until;

/// What the server does in answer to one command line.
#[derive(Debug, Clone)]
pub enum Reply {
    /// Send these bytes exactly (CRLFs included), then read the next line.
    Raw(Vec<u8>),
    /// Send nothing and read the next line.
    Nothing,
    /// Send these bytes, then close the connection.
    SendAndClose(Vec<u8>),
    /// Close the connection without a word.
    Close,
    /// Say nothing for this long (or until the server is dropped), then
    /// close. A stalled server, as far as the client can tell.
    Stall(Duration),
    /// Send `head` at once, then `tail` over and over, one byte every
    /// `every`, until the client goes away or the server is dropped: a
    /// reply that crawls and never ends, though bytes keep arriving.
    Crawl {
        head: Vec<u8>,
        tail: Vec<u8>,
        every: Duration,
    },
    /// Send these bytes in pieces of `chunk` with `every` between them,
    /// then read the next line: a slow but steady link.
    Paced {
        bytes: Vec<u8>,
        chunk: usize,
        every: Duration,
    },
}

impl Reply {
    pub fn ok(text: &str) -> Reply {
        Reply::Raw(format!("+OK {text}\r\n").into_bytes())
    }

    pub fn err(text: &str) -> Reply {
        Reply::Raw(format!("-ERR {text}\r\n").into_bytes())
    }

    /// A multi-line response: the status line, the lines dot-stuffed, ".".
    pub fn multi(status: &str, lines: &[&str]) -> Reply {
        let mut out = format!("{status}\r\n").into_bytes();
        for l in lines {
            if l.starts_with('.') {
                out.push(b'.');
            }
            out.extend_from_slice(l.as_bytes());
            out.extend_from_slice(b"\r\n");
        }
        out.extend_from_slice(b".\r\n");
        Reply::Raw(out)
    }

    /// A RETR response for an LF-terminated message.
    pub fn message(msg: &[u8]) -> Reply {
        let wire = pop3_wire(msg);
        let mut out = format!("+OK {} octets\r\n", wire.len() - 3).into_bytes();
        out.extend_from_slice(&wire);
        Reply::Raw(out)
    }
}

/// One line the server received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Received {
    /// Connection number, from 0 in accept order.
    pub conn: usize,
    /// The line without its CRLF (or bare LF).
    pub line: String,
}

type Handler = dyn Fn(usize, &str) -> Reply + Send + Sync;

/// How the server watches for pipelining.
#[derive(Debug, Clone, Copy, Default)]
pub struct Watch {
    /// Before answering each line, wait this long for the client to send
    /// more. A client that pipelines sends its next command at once; one in
    /// lock-step waits for the answer, so nothing arrives. Zero: only bytes
    /// that already arrived with the line count.
    pub linger: Duration,
}

/// A running scripted server; it stops accepting when dropped and any
/// stalled replies end.
pub struct ScriptServer {
    port: u16,
    received: Arc<Mutex<Vec<Received>>>,
    overtaken: Arc<Mutex<Vec<Received>>>,
    connections: Arc<AtomicUsize>,
    shutdown: Arc<AtomicBool>,
}

impl ScriptServer {
    /// Listens on 127.0.0.1 with an ephemeral port. Every connection gets
    /// `greeting` and then `handler(connection_number, line)` per line.
    pub fn start<F>(greeting: Reply, handler: F) -> ScriptServer
    where
        F: Fn(usize, &str) -> Reply + Send + Sync + 'static,
    {
        ScriptServer::start_watching(greeting, Watch::default(), handler)
    }

    /// Like `start`, and records every line whose answer had not been
    /// written yet when the client sent more (see [`ScriptServer::overtaken`]).
    pub fn start_watching<F>(greeting: Reply, watch: Watch, handler: F) -> ScriptServer
    where
        F: Fn(usize, &str) -> Reply + Send + Sync + 'static,
    {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        let port = listener.local_addr().unwrap().port();
        let received = Arc::new(Mutex::new(Vec::new()));
        let overtaken = Arc::new(Mutex::new(Vec::new()));
        let connections = Arc::new(AtomicUsize::new(0));
        let shutdown = Arc::new(AtomicBool::new(false));
        let handler: Arc<Handler> = Arc::new(handler);
        {
            let received = Arc::clone(&received);
            let overtaken = Arc::clone(&overtaken);
            let connections = Arc::clone(&connections);
            let shutdown = Arc::clone(&shutdown);
            std::thread::spawn(move || {
                for stream in listener.incoming() {
                    if shutdown.load(Ordering::SeqCst) {
                        break;
                    }
                    let Ok(stream) = stream else { continue };
                    let conn = connections.fetch_add(1, Ordering::SeqCst);
                    let received = Arc::clone(&received);
                    let overtaken = Arc::clone(&overtaken);
                    let shutdown = Arc::clone(&shutdown);
                    let handler = Arc::clone(&handler);
                    let greeting = greeting.clone();
                    // One thread per connection, so a stalled one does not
                    // keep a second client from connecting.
                    std::thread::spawn(move || {
                        let log = Log {
                            received: &received,
                            overtaken: &overtaken,
                            watch,
                        };
                        serve(stream, conn, greeting, &*handler, &log, &shutdown);
                    });
                }
            });
        }
        ScriptServer {
            port,
            received,
            overtaken,
            connections,
            shutdown,
        }
    }

    /// A correct POP3 mailbox, except where `special(connection, line)`
    /// has an answer of its own.
    pub fn maildrop_except<F>(drop: Arc<Maildrop>, special: F) -> ScriptServer
    where
        F: Fn(usize, &str) -> Option<Reply> + Send + Sync + 'static,
    {
        ScriptServer::start(Reply::ok("ready"), move |c, l| {
            special(c, l).unwrap_or_else(|| drop.reply(c, l))
        })
    }

    /// A server that behaves like a correct POP3 mailbox.
    pub fn maildrop(drop: Arc<Maildrop>) -> ScriptServer {
        ScriptServer::start(Reply::ok("scripted POP3 server ready"), move |c, l| {
            drop.reply(c, l)
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Every line received so far, in order.
    pub fn received(&self) -> Vec<Received> {
        self.received.lock().unwrap().clone()
    }

    /// Lines whose answer the client did not wait for: more bytes arrived
    /// after the line and before its answer was written (within the
    /// `Watch::linger` of `start_watching`). A client in lock-step leaves
    /// this empty.
    pub fn overtaken(&self) -> Vec<Received> {
        self.overtaken.lock().unwrap().clone()
    }

    /// Just the lines.
    pub fn commands(&self) -> Vec<String> {
        self.received().into_iter().map(|r| r.line).collect()
    }

    /// The verbs received (first word, upper-cased).
    pub fn verbs(&self) -> Vec<String> {
        self.commands()
            .iter()
            .map(|l| l.split(' ').next().unwrap_or("").to_ascii_uppercase())
            .collect()
    }

    /// Whether a command with this verb (case-insensitive) arrived.
    pub fn saw(&self, verb: &str) -> bool {
        self.verbs().iter().any(|v| v.eq_ignore_ascii_case(verb))
    }

    /// Whether any credential-carrying command arrived.
    pub fn saw_credentials(&self) -> bool {
        ["USER", "PASS", "APOP", "AUTH"].iter().any(|v| self.saw(v))
    }

    /// Whether this very line (case-insensitive) arrived.
    pub fn saw_line(&self, line: &str) -> bool {
        self.commands().iter().any(|l| l.eq_ignore_ascii_case(line))
    }

    /// Waits until a command with this verb arrives.
    pub fn wait_for(&self, verb: &str, limit: Duration) -> bool {
        wait_until(limit, || self.saw(verb))
    }

    pub fn connections(&self) -> usize {
        self.connections.load(Ordering::SeqCst)
    }
}

impl Drop for ScriptServer {
    fn drop(&mut self) {
        self.shutdown.store(true, Ordering::SeqCst);
        // Wake the accept loop so that it sees the flag.
        let _ = TcpStream::connect(("127.0.0.1", self.port));
    }
}

/// Where a connection records what it received.
struct Log<'a> {
    received: &'a Mutex<Vec<Received>>,
    overtaken: &'a Mutex<Vec<Received>>,
    watch: Watch,
}

/// Whether more bytes from the client are waiting, or arrive within
/// `linger`, beyond what `reader` already holds.
fn more_pending(reader: &BufReader<TcpStream>, stream: &TcpStream, linger: Duration) -> bool {
    if !reader.buffer().is_empty() {
        return true;
    }
    if linger.is_zero() {
        return false;
    }
    let _ = stream.set_read_timeout(Some(linger));
    let mut byte = [0u8; 1];
    let pending = matches!(stream.peek(&mut byte), Ok(n) if n > 0);
    let _ = stream.set_read_timeout(Some(Duration::from_millis(200)));
    pending
}

fn serve(
    mut stream: TcpStream,
    conn: usize,
    greeting: Reply,
    handler: &Handler,
    log: &Log<'_>,
    shutdown: &AtomicBool,
) {
    if shutdown.load(Ordering::SeqCst) {
        return;
    }
    // A short read timeout lets the loop notice shutdown.
    let _ = stream.set_read_timeout(Some(Duration::from_millis(200)));
    if !act(&mut stream, greeting, shutdown) {
        return;
    }
    let Ok(read_half) = stream.try_clone() else {
        return;
    };
    let mut reader = BufReader::new(read_half);
    let mut buf = Vec::new();
    loop {
        match reader.read_until(b'\n', &mut buf) {
            Ok(0) => return,
            Ok(_) => {}
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                // Whatever part of a line arrived stays in buf.
                if shutdown.load(Ordering::SeqCst) {
                    return;
                }
                continue;
            }
            Err(_) => return,
        }
        if !buf.ends_with(b"\n") {
            // EOF in the middle of a line.
            return;
        }
        let line = String::from_utf8_lossy(&buf)
            .trim_end_matches(['\r', '\n'])
            .to_owned();
        buf.clear();
        let entry = Received {
            conn,
            line: line.clone(),
        };
        log.received.lock().unwrap().push(entry.clone());
        if more_pending(&reader, &stream, log.watch.linger) {
            log.overtaken.lock().unwrap().push(entry);
        }
        if !act(&mut stream, handler(conn, &line), shutdown) {
            return;
        }
    }
}

/// Carries out a reply; false when the connection is over.
fn act(stream: &mut TcpStream, reply: Reply, shutdown: &AtomicBool) -> bool {
    match reply {
        Reply::Raw(bytes) => stream
            .write_all(&bytes)
            .and_then(|_| stream.flush())
            .is_ok(),
        Reply::Nothing => true,
        Reply::SendAndClose(bytes) => {
            let _ = stream.write_all(&bytes);
            let _ = stream.shutdown(Shutdown::Both);
            false
        }
        Reply::Close => {
            let _ = stream.shutdown(Shutdown::Both);
            false
        }
        Reply::Stall(limit) => {
            let start = Instant::now();
            while start.elapsed() < limit && !shutdown.load(Ordering::SeqCst) {
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = stream.shutdown(Shutdown::Both);
            false
        }
        Reply::Crawl { head, tail, every } => {
            if stream.write_all(&head).is_err() {
                return false;
            }
            for &b in tail.iter().cycle() {
                if shutdown.load(Ordering::SeqCst) || stream.write_all(&[b]).is_err() {
                    break;
                }
                std::thread::sleep(every);
            }
            let _ = stream.shutdown(Shutdown::Both);
            false
        }
        Reply::Paced {
            bytes,
            chunk,
            every,
        } => {
            for piece in bytes.chunks(chunk.max(1)) {
                if shutdown.load(Ordering::SeqCst) || stream.write_all(piece).is_err() {
                    return false;
                }
                std::thread::sleep(every);
            }
            true
        }
    }
}

/// Per-connection POP3 state.
#[derive(Debug, Default)]
struct Session {
    user: Option<String>,
    /// Indexes into the mailbox, fixed when the session authenticated.
    listing: Option<Vec<usize>>,
    deleted: BTreeSet<usize>,
    retrieved: BTreeSet<usize>,
}

/// A small, correct POP3 mailbox (RFC 1939 with CAPA, UIDL and TOP) for
/// scripted servers: USER/PASS only, no TLS, deletions committed by QUIT.
pub struct Maildrop {
    user: String,
    password: String,
    messages: Vec<Vec<u8>>,
    capa: Vec<String>,
    /// Messages whose deletion a QUIT committed.
    gone: Mutex<BTreeSet<usize>>,
    sessions: Mutex<HashMap<usize, Session>>,
    /// At most this many messages are offered per session (as Gmail does).
    session_limit: Option<usize>,
    /// Message `k` reports the UID of message `v` (a server repeating UIDs).
    uid_alias: HashMap<usize, usize>,
    /// Offer only messages no earlier session downloaded (as Gmail does):
    /// with `session_limit`, kept mail makes way for the next page.
    hide_downloaded: bool,
    /// Messages RETRieved by a session that ended with QUIT.
    downloaded: Mutex<BTreeSet<usize>>,
}

impl Maildrop {
    pub fn new(user: &str, password: &str, messages: Vec<Vec<u8>>) -> Arc<Maildrop> {
        Arc::new(Maildrop {
            user: user.to_owned(),
            password: password.to_owned(),
            messages,
            capa: ["USER", "UIDL", "TOP", "RESP-CODES"]
                .map(String::from)
                .to_vec(),
            gone: Mutex::new(BTreeSet::new()),
            sessions: Mutex::new(HashMap::new()),
            session_limit: None,
            uid_alias: HashMap::new(),
            hide_downloaded: false,
            downloaded: Mutex::new(BTreeSet::new()),
        })
    }

    /// The same mailbox announcing these CAPA lines instead.
    pub fn with_capa(
        user: &str,
        password: &str,
        messages: Vec<Vec<u8>>,
        capa: &[&str],
    ) -> Arc<Maildrop> {
        Arc::new(Maildrop {
            user: user.to_owned(),
            password: password.to_owned(),
            messages,
            capa: capa.iter().map(|s| s.to_string()).collect(),
            gone: Mutex::new(BTreeSet::new()),
            sessions: Mutex::new(HashMap::new()),
            session_limit: None,
            uid_alias: HashMap::new(),
            hide_downloaded: false,
            downloaded: Mutex::new(BTreeSet::new()),
        })
    }

    /// A mailbox that offers only the first `limit` messages still there
    /// to each session, as Gmail offers about 250: the rest appear once
    /// those are deleted.
    pub fn with_session_limit(
        user: &str,
        password: &str,
        messages: Vec<Vec<u8>>,
        limit: usize,
    ) -> Arc<Maildrop> {
        let mut drop = Maildrop::new(user, password, messages);
        if let Some(d) = Arc::get_mut(&mut drop) {
            d.session_limit = Some(limit);
        }
        drop
    }

    /// A mailbox like Gmail's: each session offers the first `limit`
    /// messages that no earlier session downloaded, whether or not they
    /// were deleted, so a client that keeps mail sees the next page on
    /// its next login.
    pub fn with_gmail_pages(
        user: &str,
        password: &str,
        messages: Vec<Vec<u8>>,
        limit: usize,
    ) -> Arc<Maildrop> {
        let mut drop = Maildrop::new(user, password, messages);
        if let Some(d) = Arc::get_mut(&mut drop) {
            d.session_limit = Some(limit);
            d.hide_downloaded = true;
        }
        drop
    }

    /// A mailbox in which message `k` reports the UID of message `v` for
    /// each `(k, v)` in `alias`: a server that repeats UIDs.
    pub fn with_repeated_uids(
        user: &str,
        password: &str,
        messages: Vec<Vec<u8>>,
        alias: &[(usize, usize)],
    ) -> Arc<Maildrop> {
        let mut drop = Maildrop::new(user, password, messages);
        if let Some(d) = Arc::get_mut(&mut drop) {
            d.uid_alias = alias.iter().copied().collect();
        }
        drop
    }

    /// The UID of message `index` (0-based).
    pub fn uid(index: usize) -> String {
        format!("uid-{index:04}")
    }

    /// Messages not deleted by a committed QUIT.
    pub fn remaining(&self) -> usize {
        self.messages.len() - self.gone.lock().unwrap().len()
    }

    fn wire_size(msg: &[u8]) -> usize {
        // LF becomes CRLF on the wire; RFC 1939 counts those octets.
        msg.len() + msg.iter().filter(|&&b| b == b'\n').count()
    }

    /// The answer of a correct server to `line` on connection `conn`.
    pub fn reply(&self, conn: usize, line: &str) -> Reply {
        let mut sessions = self.sessions.lock().unwrap();
        let s = sessions.entry(conn).or_default();
        let mut words = line.split(' ');
        let verb = words.next().unwrap_or("").to_ascii_uppercase();
        let arg = words.next();
        let number = |s: &Session, arg: Option<&str>| -> Option<(usize, usize)> {
            let n: usize = arg?.parse().ok()?;
            let listing = s.listing.as_ref()?;
            let idx = *listing.get(n.checked_sub(1)?)?;
            (!s.deleted.contains(&idx)).then_some((n, idx))
        };
        match (verb.as_str(), s.listing.is_some()) {
            ("CAPA", _) => {
                let lines: Vec<&str> = self.capa.iter().map(|s| s.as_str()).collect();
                Reply::multi("+OK Capability list follows", &lines)
            }
            ("QUIT", authed) => {
                if authed {
                    self.gone.lock().unwrap().extend(s.deleted.iter().copied());
                    self.downloaded
                        .lock()
                        .unwrap()
                        .extend(s.retrieved.iter().copied());
                }
                sessions.remove(&conn);
                Reply::SendAndClose(b"+OK bye\r\n".to_vec())
            }
            ("NOOP", true) => Reply::ok(""),
            ("USER", false) => {
                s.user = arg.map(str::to_owned);
                Reply::ok("send PASS")
            }
            ("PASS", false) => {
                let pass = line.split_once(' ').map(|x| x.1).unwrap_or("");
                if s.user.as_deref() == Some(self.user.as_str()) && pass == self.password {
                    let gone = self.gone.lock().unwrap();
                    let downloaded = self.downloaded.lock().unwrap();
                    let hide = self.hide_downloaded;
                    s.listing = Some(
                        (0..self.messages.len())
                            .filter(|i| !(gone.contains(i) || hide && downloaded.contains(i)))
                            .take(self.session_limit.unwrap_or(usize::MAX))
                            .collect(),
                    );
                    Reply::ok("logged in")
                } else {
                    Reply::err("[AUTH] Authentication failed.")
                }
            }
            ("STAT", true) => {
                let live = self.live(s);
                let size: usize = live
                    .iter()
                    .map(|&(_, i)| Self::wire_size(&self.messages[i]))
                    .sum();
                Reply::ok(&format!("{} {size}", live.len()))
            }
            ("LIST", true) | ("UIDL", true) => {
                let show = |n: usize, i: usize| {
                    if verb == "LIST" {
                        format!("{n} {}", Self::wire_size(&self.messages[i]))
                    } else {
                        format!("{n} {}", Self::uid(*self.uid_alias.get(&i).unwrap_or(&i)))
                    }
                };
                match arg {
                    Some(_) => match number(s, arg) {
                        Some((n, i)) => Reply::ok(&show(n, i)),
                        None => Reply::err("no such message"),
                    },
                    None => {
                        let lines: Vec<String> =
                            self.live(s).into_iter().map(|(n, i)| show(n, i)).collect();
                        let lines: Vec<&str> = lines.iter().map(|s| s.as_str()).collect();
                        Reply::multi("+OK", &lines)
                    }
                }
            }
            ("RETR", true) => match number(s, arg) {
                Some((_, i)) => {
                    s.retrieved.insert(i);
                    Reply::message(&self.messages[i])
                }
                None => Reply::err("no such message"),
            },
            ("TOP", true) => match number(s, arg) {
                Some((_, i)) => {
                    let msg = &self.messages[i];
                    let end = msg
                        .windows(2)
                        .position(|w| w == b"\n\n")
                        .map(|p| p + 2)
                        .unwrap_or(msg.len());
                    Reply::message(&msg[..end])
                }
                None => Reply::err("no such message"),
            },
            ("DELE", true) => match number(s, arg) {
                Some((_, i)) => {
                    s.deleted.insert(i);
                    Reply::ok("deleted")
                }
                None => Reply::err("no such message"),
            },
            ("RSET", true) => {
                s.deleted.clear();
                Reply::ok("")
            }
            _ => Reply::err("command not recognised here"),
        }
    }

    fn live(&self, s: &Session) -> Vec<(usize, usize)> {
        s.listing
            .as_ref()
            .map(|l| {
                l.iter()
                    .enumerate()
                    .filter(|(_, i)| !s.deleted.contains(i))
                    .map(|(n, &i)| (n + 1, i))
                    .collect()
            })
            .unwrap_or_default()
    }
}
