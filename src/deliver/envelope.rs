//! What mbox and MDA delivery share: the envelope sender of a message and
//! the spool each message waits in.
//!
//! Both targets first write the message into a spool file in the state
//! directory while it arrives, so that a locked mbox or a slow MDA never
//! holds the POP3 connection, and so that the size and the envelope sender
//! are known before the destination is touched. The spool directory is
//! per mailbox (`<state_dir>/spool/<user@host:port escaped>/`), so it is
//! guarded by the same run lock as the journal.
//!
//! Names in a spool directory, for the message named `<token>`:
//!
//! ```text
//! <token>                  arriving, or complete but not handed over
//! <token>.at-<off>-<len>   mbox: being appended at byte <off>, <len> bytes
//! <token>.cut-<off>-<len>  mbox: a failed append that could not be cut back
//! <token>.done             delivered (empty; kept until the journal is settled)
//! ```
//!
//! `.done` markers are what lets recovery say "landed" after the spool
//! itself is gone. They are removed by [`SpoolDir::take_sweep`]'s caller at
//! the first delivery of the next run, when recovery has settled the
//! journal and no record can name them any more.

use std::fs::{self, File, OpenOptions};
use std::io;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use mail_parser::{HeaderName, HeaderValue, MessageParser};

use super::DeliverError;
use crate::state::{create_private_dir, escape_file_name, sync_dir};

/// At most this much of a message's header section is kept to find the
/// sender; a longer header section is cut here.
pub const MAX_HEADER: usize = 256 * 1024;

/// Longest address accepted as an envelope sender (RFC 5321 allows 256
/// for a path; a little slack for odd but harmless ones).
const MAX_SENDER: usize = 320;

/// The envelope sender of a message, from its own headers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Sender {
    Address(String),
    /// `Return-Path: <>`: a bounce, which has no sender.
    Null,
    /// No usable Return-Path or From.
    Unknown,
}

impl Sender {
    /// For an mbox `From ` line: the address, or `MAILER-DAEMON`.
    pub fn for_from_line(&self) -> &str {
        match self {
            Sender::Address(a) => a,
            Sender::Null | Sender::Unknown => "MAILER-DAEMON",
        }
    }

    /// For the MDA's `%F`: the address, or the empty string.
    pub fn for_mda(&self) -> &str {
        match self {
            Sender::Address(a) => a,
            Sender::Null | Sender::Unknown => "",
        }
    }

    /// The sender a header section names: the first (topmost, so most
    /// recent) Return-Path, else the first From address.
    ///
    /// The result becomes a word on an mbox `From ` line and an argument
    /// to an MDA, so an address with white space, control characters or a
    /// leading `-` (which a program could take for an option) is not used.
    pub fn from_headers(headers: &[u8]) -> Sender {
        let Some(msg) = MessageParser::default().parse_headers(headers) else {
            return Sender::Unknown;
        };
        if let Some(h) = msg
            .headers()
            .iter()
            .find(|h| h.name == HeaderName::ReturnPath)
        {
            let raw = headers
                .get(h.offset_start as usize..h.offset_end as usize)
                .unwrap_or_default();
            match &h.value {
                HeaderValue::Text(t) => {
                    if let Some(a) = usable(t) {
                        return Sender::Address(a);
                    }
                }
                HeaderValue::TextList(list) => {
                    if let Some(a) = list.first().and_then(|t| usable(t)) {
                        return Sender::Address(a);
                    }
                }
                _ if is_null_path(raw) => return Sender::Null,
                _ => {}
            }
        }
        msg.from()
            .and_then(|a| a.first())
            .and_then(|a| a.address())
            .and_then(usable)
            .map_or(Sender::Unknown, Sender::Address)
    }
}

/// `<>`, possibly with white space around or inside.
fn is_null_path(raw: &[u8]) -> bool {
    let compact: Vec<u8> = raw
        .iter()
        .copied()
        .filter(|b| !b.is_ascii_whitespace())
        .collect();
    compact == b"<>"
}

fn usable(addr: &str) -> Option<String> {
    let a = addr.trim();
    let a = a
        .strip_prefix('<')
        .and_then(|s| s.strip_suffix('>'))
        .unwrap_or(a);
    let ok = !a.is_empty()
        && a.len() <= MAX_SENDER
        && !a.starts_with('-')
        && !a.chars().any(|c| c.is_whitespace() || c.is_control());
    ok.then(|| a.to_string())
}

/// Keeps a copy of a message's header section as it streams past.
#[derive(Debug)]
pub struct HeaderCapture {
    buf: Vec<u8>,
    complete: bool,
    at_line_start: bool,
}

impl Default for HeaderCapture {
    fn default() -> Self {
        HeaderCapture {
            buf: Vec::new(),
            complete: false,
            at_line_start: true,
        }
    }
}

impl HeaderCapture {
    /// Look at the next bytes of the message.
    pub fn feed(&mut self, data: &[u8]) {
        if self.complete {
            return;
        }
        let mut end = data.len();
        for (i, &b) in data.iter().enumerate() {
            if b == b'\n' && self.at_line_start {
                // An empty line: the header section is over.
                self.complete = true;
                end = i + 1;
                break;
            }
            self.at_line_start = b == b'\n';
        }
        self.buf.extend_from_slice(&data[..end]);
        if self.buf.len() >= MAX_HEADER {
            self.buf.truncate(MAX_HEADER);
            self.complete = true;
        }
    }

    /// The header section has been seen whole (or up to the cap).
    pub fn is_complete(&self) -> bool {
        self.complete
    }

    pub fn sender(&self) -> Sender {
        Sender::from_headers(&self.buf)
    }
}

/// One mailbox's spool directory.
#[derive(Debug)]
pub struct SpoolDir {
    dir: PathBuf,
    pid: u32,
    seq: u64,
    swept: bool,
}

/// What a spool directory entry is, for the message it belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Entry {
    Spool,
    At { offset: u64, len: u64 },
    Cut { offset: u64, len: u64 },
    Done,
}

impl Entry {
    /// Split a file name into the token and what the file is. `None` for
    /// names popfetch does not make.
    pub fn parse(name: &str) -> Option<(&str, Entry)> {
        let (token, entry) = if let Some(token) = name.strip_suffix(".done") {
            (token, Entry::Done)
        } else if let Some((token, rest)) = name.split_once(".at-") {
            let (offset, len) = offset_len(rest)?;
            (token, Entry::At { offset, len })
        } else if let Some((token, rest)) = name.split_once(".cut-") {
            let (offset, len) = offset_len(rest)?;
            (token, Entry::Cut { offset, len })
        } else {
            (name, Entry::Spool)
        };
        is_token(token).then_some((token, entry))
    }

    pub fn name(&self, token: &str) -> String {
        match self {
            Entry::Spool => token.to_string(),
            Entry::At { offset, len } => format!("{token}.at-{offset}-{len}"),
            Entry::Cut { offset, len } => format!("{token}.cut-{offset}-{len}"),
            Entry::Done => format!("{token}.done"),
        }
    }
}

fn offset_len(s: &str) -> Option<(u64, u64)> {
    let (off, len) = s.split_once('-')?;
    Some((off.parse().ok()?, len.parse().ok()?))
}

/// The shape [`SpoolDir::next_token`] makes: `<digits>.<digits>P<digits>Q<digits>`.
fn is_token(s: &str) -> bool {
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    let Some((secs, rest)) = s.split_once('.') else {
        return false;
    };
    let Some((usecs, rest)) = rest.split_once('P') else {
        return false;
    };
    let Some((pid, seq)) = rest.split_once('Q') else {
        return false;
    };
    digits(secs) && digits(usecs) && digits(pid) && digits(seq)
}

impl SpoolDir {
    /// The spool directory of `mailbox_id` below `state_dir`, created
    /// (0700) when missing.
    pub fn open(state_dir: &Path, mailbox_id: &str) -> Result<SpoolDir, DeliverError> {
        let dir = state_dir.join("spool").join(escape_file_name(mailbox_id));
        create_private_dir(&dir).map_err(|source| DeliverError::Spool {
            path: dir.clone(),
            source,
        })?;
        Ok(SpoolDir {
            dir,
            pid: std::process::id(),
            seq: 0,
            swept: false,
        })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    /// `<secs>.<usecs>P<pid>Q<seq>`: unique across runs and messages; no
    /// spaces, no `-`, nothing a shell or the journal would mind.
    pub fn next_token(&mut self) -> String {
        self.seq += 1;
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        format!(
            "{}.{:06}P{}Q{}",
            now.as_secs(),
            now.subsec_micros(),
            self.pid,
            self.seq
        )
    }

    /// A new spool file (0600) for `token`, open for reading and writing.
    pub fn create(&self, token: &str) -> Result<File, DeliverError> {
        let path = self.path(token);
        let spool_err = |source| DeliverError::Spool {
            path: path.clone(),
            source,
        };
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&path)
            .map_err(spool_err)?;
        // The mode above is filtered by the umask; mail is private anyway.
        file.set_permissions(fs::Permissions::from_mode(0o600))
            .map_err(spool_err)?;
        Ok(file)
    }

    /// Every entry of `token`.
    pub fn entries_of(&self, token: &str) -> Result<Vec<Entry>, DeliverError> {
        Ok(self
            .entries()?
            .into_iter()
            .filter(|(t, _)| t == token)
            .map(|(_, e)| e)
            .collect())
    }

    /// Every entry, as (token, what).
    pub fn entries(&self) -> Result<Vec<(String, Entry)>, DeliverError> {
        let err = |source| DeliverError::Spool {
            path: self.dir.clone(),
            source,
        };
        let mut out = Vec::new();
        for e in fs::read_dir(&self.dir).map_err(err)? {
            let name = e.map_err(err)?.file_name();
            let name = name.to_string_lossy();
            if let Some((token, entry)) = Entry::parse(&name) {
                out.push((token.to_string(), entry));
            }
        }
        Ok(out)
    }

    /// True once per run: at the first delivery, when recovery has settled
    /// the journal, everything left from earlier runs can go.
    pub fn take_sweep(&mut self) -> bool {
        !std::mem::replace(&mut self.swept, true)
    }

    pub fn remove(&self, token: &str, entry: &Entry) -> Result<(), DeliverError> {
        let path = self.path(&entry.name(token));
        match fs::remove_file(&path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            Err(source) => Err(DeliverError::Spool { path, source }),
        }
    }

    pub fn rename(&self, token: &str, from: &Entry, to: &Entry) -> io::Result<()> {
        fs::rename(self.path(&from.name(token)), self.path(&to.name(token)))
    }

    /// Record that `token` landed: rename its file to `.done`, then empty
    /// it (its bytes are no longer needed). Not synced: a lost rename
    /// leaves the old name, which recovery still reads correctly.
    pub fn mark_done(&self, token: &str, from: &Entry, file: &File) -> io::Result<()> {
        self.rename(token, from, &Entry::Done)?;
        file.set_len(0)
    }

    /// Make renames and creations in the directory durable.
    pub fn sync(&self) -> Result<(), DeliverError> {
        sync_dir(&self.dir).map_err(|source| DeliverError::Spool {
            path: self.dir.clone(),
            source,
        })
    }
}

/// An I/O error on a spool file, saying which file (the caller reports it
/// against the destination).
pub fn spool_io(path: &Path, e: io::Error) -> io::Error {
    io::Error::new(e.kind(), format!("spool file {}: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sender(h: &str) -> Sender {
        Sender::from_headers(h.as_bytes())
    }

    #[test]
    fn return_path_wins_over_from() {
        let s = sender("Return-Path: <bounce@lists.example>\nFrom: Ann <ann@example.org>\n\n");
        assert_eq!(s, Sender::Address("bounce@lists.example".into()));
        assert_eq!(s.for_from_line(), "bounce@lists.example");
        assert_eq!(s.for_mda(), "bounce@lists.example");
    }

    #[test]
    fn the_topmost_return_path_is_used() {
        let s = sender("Return-Path: <new@a.example>\nReturn-Path: <old@b.example>\n\n");
        assert_eq!(s, Sender::Address("new@a.example".into()));
    }

    #[test]
    fn from_is_used_without_return_path() {
        let s = sender("Subject: x\nFrom: \"Ann, PhD\" <ann@example.org>\n\nbody\n");
        assert_eq!(s, Sender::Address("ann@example.org".into()));
    }

    #[test]
    fn null_return_path_is_mailer_daemon_and_empty_for_mda() {
        let s = sender("Return-Path: <>\nFrom: postmaster@example.org\n\n");
        assert_eq!(s, Sender::Null);
        assert_eq!(s.for_from_line(), "MAILER-DAEMON");
        assert_eq!(s.for_mda(), "");
    }

    #[test]
    fn nothing_usable_is_unknown() {
        for h in [
            "Subject: none\n\n",
            "",
            "\n\nbody only\n",
            "From: undisclosed-recipients:;\n\n",
        ] {
            let s = sender(h);
            assert_eq!(s, Sender::Unknown, "{h:?}");
            assert_eq!(s.for_from_line(), "MAILER-DAEMON");
            assert_eq!(s.for_mda(), "");
        }
    }

    #[test]
    fn senders_with_spaces_newlines_or_a_leading_dash_are_not_used() {
        // The Return-Path is unusable, so the From address is taken.
        let s = sender("Return-Path: <a'b;rm -rf ~@x>\nFrom: ok@example.org\n\n");
        assert_eq!(s, Sender::Address("ok@example.org".into()));
        let s = sender("Return-Path: <-oQ/tmp/x@example.org>\n\n");
        assert_eq!(s, Sender::Unknown);
        let s = sender("From: \"x\" <a\u{7}b@example.org>\n\n");
        assert_eq!(s, Sender::Unknown);
        // Hostile but without white space: used, and quoted later.
        let s = sender("Return-Path: <a'b;$(reboot)`id`@x>\n\n");
        assert_eq!(s, Sender::Address("a'b;$(reboot)`id`@x".into()));
    }

    #[test]
    fn header_capture_stops_at_the_empty_line_across_chunks() {
        let msg = b"Return-Path: <a@b>\nSubject: s\n\nFrom: c@d\n";
        for split in 0..msg.len() {
            let mut h = HeaderCapture::default();
            h.feed(&msg[..split]);
            h.feed(&msg[split..]);
            assert!(h.is_complete());
            assert_eq!(h.buf, b"Return-Path: <a@b>\nSubject: s\n\n");
            assert_eq!(h.sender(), Sender::Address("a@b".into()));
        }
    }

    #[test]
    fn header_capture_is_bounded() {
        let mut h = HeaderCapture::default();
        h.feed(b"Return-Path: <a@b>\n");
        let line = format!("X-Long: {}\n", "y".repeat(1000));
        for _ in 0..400 {
            h.feed(line.as_bytes());
        }
        assert!(h.is_complete());
        assert_eq!(h.buf.len(), MAX_HEADER);
        assert_eq!(h.sender(), Sender::Address("a@b".into()));
    }

    #[test]
    fn entry_names_round_trip() {
        let mut sd = SpoolDir {
            dir: PathBuf::new(),
            pid: 42,
            seq: 0,
            swept: false,
        };
        let t = sd.next_token();
        for e in [
            Entry::Spool,
            Entry::At {
                offset: 12,
                len: 345,
            },
            Entry::Cut { offset: 0, len: 9 },
            Entry::Done,
        ] {
            let name = e.name(&t);
            assert_eq!(Entry::parse(&name), Some((t.as_str(), e)), "{name}");
        }
        assert_eq!(Entry::parse("x.at-1"), None);
        assert_eq!(Entry::parse(".nfs0001"), None);
        assert_eq!(Entry::parse(&format!("{t}.at-1-x")), None);
        assert_ne!(t, sd.next_token());
        assert!(!t.contains([' ', '-', '/']));
    }

    #[test]
    fn spool_dir_is_per_mailbox_and_private() {
        let dir = tempfile::tempdir().unwrap();
        let a = SpoolDir::open(dir.path(), "a@h:110").unwrap();
        let b = SpoolDir::open(dir.path(), "b@h:110").unwrap();
        assert_ne!(a.dir(), b.dir());
        let mode = fs::metadata(a.dir()).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o700);
        let mut a = a;
        let t = a.next_token();
        let f = a.create(&t).unwrap();
        let mode = f.metadata().unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        assert_eq!(a.entries_of(&t).unwrap(), vec![Entry::Spool]);
        assert!(a.take_sweep());
        assert!(!a.take_sweep());
    }
}
