//! Helpers for the crash tests: signals for a running popfetch, a TCP
//! relay that can hold the server's bytes back at a chosen point (so that
//! a run is reliably caught mid-message), a small POP3 reader that maps a
//! Dovecot's UIDs to message headers, readers for the state file and for
//! mboxrd, and a tmpfs mount that can fill up.

use crate::common::pop3::Pop3;
use std::collections::HashMap;
use std::fs;
use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use super::corpus;

/// Sends `sig` to the process `pid`.
pub fn send_signal(pid: u32, sig: rustix::process::Signal) {
    let pid = rustix::process::Pid::from_raw(pid as i32).expect("a real pid");
    rustix::process::kill_process(pid, sig).expect("send a signal");
}

/// `n` distinct corpus messages of at most `max_len` bytes each (the
/// corpus order, with the larger ones skipped), so that thousands of them
/// stay quick to serve while keeping every awkward line the corpus has.
pub fn small_corpus(seed: u64, n: usize, max_len: usize) -> Vec<Vec<u8>> {
    sized_corpus(seed, n, 0, max_len)
}

/// `n` distinct corpus messages whose sizes lie in `min_len..=max_len`.
pub fn sized_corpus(seed: u64, n: usize, min_len: usize, max_len: usize) -> Vec<Vec<u8>> {
    let mut out = Vec::with_capacity(n);
    let mut i = 0;
    while out.len() < n {
        let m = corpus::message(seed, i);
        if (min_len..=max_len).contains(&m.len()) {
            out.push(m);
        }
        i += 1;
        assert!(i < n * 1000, "the corpus has too few messages of that size");
    }
    out
}

/// Number of files in `dir` (0 when it does not exist).
pub fn count_files(dir: &Path) -> usize {
    fs::read_dir(dir).map(|rd| rd.count()).unwrap_or(0)
}

/// Every file in the state directory whose name ends with `suffix`.
pub fn state_files(state_dir: &Path, suffix: &str) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = fs::read_dir(state_dir)
        .map(|rd| {
            rd.map(|e| e.unwrap().path())
                .filter(|p| p.to_string_lossy().ends_with(suffix))
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

/// The one state file of a one-account run, as (UID, status) pairs.
pub fn read_state(state_dir: &Path) -> Vec<(String, String)> {
    let files = state_files(state_dir, ".state");
    assert_eq!(
        files.len(),
        1,
        "one state file expected in {}",
        state_dir.display()
    );
    let text = fs::read_to_string(&files[0]).unwrap();
    text.lines()
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|l| {
            let f: Vec<&str> = l.split(' ').collect();
            assert_eq!(f.len(), 3, "state line {l:?}");
            (f[0].to_owned(), f[2].to_owned())
        })
        .collect()
}

/// The UIDs the state file records as delivered, sorted.
pub fn delivered_uids(state_dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = read_state(state_dir)
        .into_iter()
        .filter(|(_, s)| s == "delivered")
        .map(|(u, _)| u)
        .collect();
    v.sort();
    v
}

/// Asserts that the journal is absent or empty: every delivery it
/// recorded has been settled in the state file.
#[track_caller]
pub fn assert_journal_settled(state_dir: &Path) {
    for j in state_files(state_dir, ".journal") {
        let text = fs::read_to_string(&j).unwrap();
        assert!(
            text.is_empty(),
            "journal {} still holds records:\n{text}",
            j.display()
        );
    }
}

/// Reads an mboxrd file back into its messages: a line starting with
/// "From " separates messages (mboxrd quotes every such line in a body),
/// the blank line before each separator and at the end belongs to the
/// format, and one '>' is taken off every `>+From ` line. Also returns the
/// separator lines.
pub fn read_mboxrd(data: &[u8]) -> (Vec<Vec<u8>>, Vec<String>) {
    let mut messages: Vec<Vec<u8>> = Vec::new();
    let mut separators = Vec::new();
    let mut current: Option<Vec<u8>> = None;
    assert!(
        data.is_empty() || data.starts_with(b"From "),
        "an mbox starts with a From line: {:?}",
        String::from_utf8_lossy(&data[..data.len().min(80)])
    );
    assert!(
        data.is_empty() || data.ends_with(b"\n\n"),
        "an mbox ends with a blank line after the last message"
    );
    for line in data.split_inclusive(|&b| b == b'\n') {
        if line.starts_with(b"From ") {
            if let Some(m) = current.take() {
                messages.push(m);
            }
            separators.push(String::from_utf8_lossy(line).trim_end().to_owned());
            current = Some(Vec::new());
            continue;
        }
        let m = current.as_mut().expect("a message after a From line");
        let gts = line.iter().take_while(|&&b| b == b'>').count();
        if gts > 0 && line[gts..].starts_with(b"From ") {
            m.extend_from_slice(&line[1..]);
        } else {
            m.extend_from_slice(line);
        }
    }
    if let Some(m) = current.take() {
        messages.push(m);
    }
    for m in &mut messages {
        assert!(
            m.ends_with(b"\n\n"),
            "every mbox message is followed by a blank line: {:?}",
            String::from_utf8_lossy(&m[m.len().saturating_sub(80)..])
        );
        m.pop();
    }
    (messages, separators)
}

/// Logs in to a plain POP3 port and returns (UID, header block) per
/// message (the header block as TOP n 0 gives it, with LF endings and the
/// blank line that ends it), then leaves with QUIT, having deleted
/// nothing.
pub fn uid_headers(port: u16, user: &str, password: &str) -> Vec<(String, Vec<u8>)> {
    let mut p = Pop3::login(port, user, password);
    p.ok("UIDL");
    let listing = String::from_utf8(p.unstuffed_body()).unwrap();
    let mut out = Vec::new();
    for l in listing.lines() {
        let (n, uid) = l.split_once(' ').unwrap();
        p.ok(&format!("TOP {n} 0"));
        out.push((uid.to_owned(), p.unstuffed_body()));
    }
    p.quit();
    out
}

/// For each UID on the server, the index of the corpus message it holds.
pub fn uid_to_index(
    port: u16,
    user: &str,
    password: &str,
    msgs: &[Vec<u8>],
) -> HashMap<String, usize> {
    uid_headers(port, user, password)
        .into_iter()
        .map(|(uid, head)| {
            let matching: Vec<usize> = (0..msgs.len())
                .filter(|&i| msgs[i].starts_with(&head))
                .collect();
            assert_eq!(matching.len(), 1, "UID {uid} matches one corpus message");
            (uid, matching[0])
        })
        .collect()
}

/// A TCP relay on 127.0.0.1 in front of a server. Bytes from the client
/// pass freely; bytes from the server pass until a total limit is
/// reached, then wait (the client sees a slow server) until the limit is
/// raised or the client goes away. TLS passes through untouched.
pub struct Relay {
    port: u16,
    shared: Arc<RelayShared>,
}

struct RelayShared {
    limit: AtomicU64,
    forwarded: AtomicU64,
    connections: AtomicUsize,
    shutdown: AtomicBool,
}

impl Relay {
    pub fn start(upstream: u16) -> Relay {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let shared = Arc::new(RelayShared {
            limit: AtomicU64::new(u64::MAX),
            forwarded: AtomicU64::new(0),
            connections: AtomicUsize::new(0),
            shutdown: AtomicBool::new(false),
        });
        let sh = Arc::clone(&shared);
        std::thread::spawn(move || {
            for client in listener.incoming() {
                if sh.shutdown.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(client) = client else { continue };
                let Ok(server) = TcpStream::connect(("127.0.0.1", upstream)) else {
                    continue;
                };
                sh.connections.fetch_add(1, Ordering::SeqCst);
                relay_pair(client, server, Arc::clone(&sh));
            }
        });
        Relay { port, shared }
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Server bytes passed on so far, over every connection.
    pub fn forwarded(&self) -> u64 {
        self.shared.forwarded.load(Ordering::SeqCst)
    }

    /// Holds back server bytes once `total` have been passed on.
    pub fn hold_at(&self, total: u64) {
        self.shared.limit.store(total, Ordering::SeqCst);
    }

    /// Passes everything again.
    pub fn release(&self) {
        self.shared.limit.store(u64::MAX, Ordering::SeqCst);
    }

    /// Whether the limit has been reached (the client now waits).
    pub fn holding(&self) -> bool {
        self.forwarded() >= self.shared.limit.load(Ordering::SeqCst)
    }

    pub fn connections(&self) -> usize {
        self.shared.connections.load(Ordering::SeqCst)
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        self.shared.shutdown.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(("127.0.0.1", self.port));
    }
}

fn relay_pair(client: TcpStream, server: TcpStream, sh: Arc<RelayShared>) {
    let closed = Arc::new(AtomicBool::new(false));
    // Client to server: as is.
    {
        let (mut from, mut to) = (client.try_clone().unwrap(), server.try_clone().unwrap());
        let closed = Arc::clone(&closed);
        std::thread::spawn(move || {
            let _ = std::io::copy(&mut from, &mut to);
            closed.store(true, Ordering::SeqCst);
            let _ = to.shutdown(Shutdown::Both);
            let _ = from.shutdown(Shutdown::Both);
        });
    }
    // Server to client: through the gate.
    std::thread::spawn(move || {
        let (mut from, mut to) = (server, client);
        let mut buf = vec![0u8; 16 * 1024];
        loop {
            let room = loop {
                let room = sh
                    .limit
                    .load(Ordering::SeqCst)
                    .saturating_sub(sh.forwarded.load(Ordering::SeqCst));
                if room > 0 {
                    break Some(room);
                }
                if closed.load(Ordering::SeqCst) || sh.shutdown.load(Ordering::SeqCst) {
                    break None;
                }
                std::thread::sleep(Duration::from_millis(5));
            };
            let Some(room) = room else { break };
            let want = buf.len().min(usize::try_from(room).unwrap_or(usize::MAX));
            let n = match from.read(&mut buf[..want]) {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            };
            if to.write_all(&buf[..n]).is_err() {
                break;
            }
            sh.forwarded.fetch_add(n as u64, Ordering::SeqCst);
        }
        let _ = to.shutdown(Shutdown::Both);
        let _ = from.shutdown(Shutdown::Both);
    });
}

/// A tmpfs of a given size mounted on a directory, unmounted on drop.
/// Needs mount privileges (root outside a locked-down container).
pub struct Tmpfs {
    dir: PathBuf,
}

impl Tmpfs {
    /// Mounts a tmpfs of `size` (as mount(8) takes it, e.g. "1m") on
    /// `dir`, creating it; `Err` with mount's complaint when not permitted.
    pub fn mount(dir: &Path, size: &str) -> Result<Tmpfs, String> {
        fs::create_dir_all(dir).unwrap();
        let out = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size},mode=0700")])
            .arg("tmpfs")
            .arg(dir)
            .output()
            .map_err(|e| format!("cannot run mount: {e}"))?;
        if !out.status.success() {
            return Err(String::from_utf8_lossy(&out.stderr).trim().to_owned());
        }
        Ok(Tmpfs {
            dir: dir.to_path_buf(),
        })
    }

    /// Grows (or shrinks) the filesystem in place, keeping its files.
    pub fn resize(&self, size: &str) {
        let out = Command::new("mount")
            .args(["-o", &format!("remount,size={size}")])
            .arg(&self.dir)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "remount: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let ok = Command::new("umount")
            .arg(&self.dir)
            .status()
            .is_ok_and(|s| s.success());
        if !ok {
            // Busy: detach it so the temporary directory can go.
            let _ = Command::new("umount").arg("-l").arg(&self.dir).status();
        }
    }
}
