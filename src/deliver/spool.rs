//! The spool: where mbox and MDA delivery write each message while it
//! arrives.
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
//! <token>.at-<span>        mbox: being appended (see below)
//! <token>.cut-<span>       mbox: a failed append that could not be cut back
//! <token>.done             delivered (kept until the journal is settled)
//! ```
//!
//! `<span>` is `<off>-<len>-<head>-<headsum>-<sum>`: the append begins at
//! byte `<off>` of the mbox and is `<len>` bytes long, its `From ` line
//! (newline included) `<head>` bytes; `<headsum>` is the first 64 bits of
//! the SHA-256 of that line and `<sum>` the first 128 bits of the SHA-256
//! of all `<len>` bytes, both in lower-case hex. They let recovery
//! recognise the appended bytes in the mbox without the spool file's
//! content, which is never fsynced. Earlier versions wrote `<off>-<len>`
//! only, after fsyncing the spool file; such names are still read.
//!
//! `.done` markers are what lets recovery say "landed" after the spool
//! itself is gone. The next run removes them once recovery has settled the
//! journal and no record can name them any more
//! ([`super::Target::after_recovery`]); mbox delivery removes its own
//! sooner, once the journal records their messages as done, and the last
//! batch's at the end of the run, once the state does
//! ([`super::Target::after_run`]).

use std::fs::{self, File, OpenOptions};
use std::io::{self, BufWriter, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use super::envelope::HeaderCapture;
use super::{DeliverError, Unique};
use crate::state::{NOFOLLOW, create_private_dir, escape_file_name, open_private, sync_dir};

/// One mailbox's spool directory.
#[derive(Debug, Clone)]
pub(super) struct SpoolDir {
    dir: PathBuf,
    unique: Unique,
    swept: bool,
}

/// What a spool directory entry is, for the message it belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Entry {
    Spool,
    At(Span),
    Cut(Span),
    Done,
}

/// Where an mbox append goes, and what it appends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Span {
    pub(super) offset: u64,
    pub(super) len: u64,
    /// `None` in names of earlier versions, whose spool files were fsynced
    /// and are compared byte for byte instead.
    pub(super) sum: Option<Sum>,
}

/// What recovery needs to recognise appended bytes in the mbox.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Sum {
    /// Length of the `From ` line, newline included; 1 to the span's len.
    pub(super) head: u64,
    /// The first 64 bits of the SHA-256 of the `From ` line.
    pub(super) head_sum: u64,
    /// The first 128 bits of the SHA-256 of every byte appended.
    pub(super) sum: u128,
}

impl Span {
    fn encode(&self) -> String {
        let Span { offset, len, sum } = self;
        match sum {
            None => format!("{offset}-{len}"),
            Some(Sum {
                head,
                head_sum,
                sum,
            }) => format!("{offset}-{len}-{head}-{head_sum:016x}-{sum:032x}"),
        }
    }

    /// The inverse of [`Span::encode`], strict: the name is read back from
    /// a directory others may write to, so anything [`Span::encode`] would
    /// not have written (signs, leading zeros, upper case, a head outside
    /// the span) is refused.
    fn decode(s: &str) -> Option<Span> {
        let dec = |f: &str| f.parse::<u64>().ok();
        let fields: Vec<&str> = s.split('-').collect();
        let span = match fields[..] {
            [offset, len] => Span {
                offset: dec(offset)?,
                len: dec(len)?,
                sum: None,
            },
            [offset, len, head, head_sum, sum] => {
                let len = dec(len)?;
                let head = dec(head)?;
                if head == 0 || head > len {
                    return None;
                }
                Span {
                    offset: dec(offset)?,
                    len,
                    sum: Some(Sum {
                        head,
                        head_sum: u64::from_str_radix(head_sum, 16).ok()?,
                        sum: u128::from_str_radix(sum, 16).ok()?,
                    }),
                }
            }
            _ => return None,
        };
        (span.encode() == s).then_some(span)
    }
}

impl Entry {
    /// Split a file name into the token and what the file is. `None` for
    /// names popfetch does not make.
    pub(super) fn parse(name: &str) -> Option<(&str, Entry)> {
        let (token, entry) = if let Some(token) = name.strip_suffix(".done") {
            (token, Entry::Done)
        } else if let Some((token, rest)) = name.split_once(".at-") {
            (token, Entry::At(Span::decode(rest)?))
        } else if let Some((token, rest)) = name.split_once(".cut-") {
            (token, Entry::Cut(Span::decode(rest)?))
        } else {
            (name, Entry::Spool)
        };
        is_token(token).then_some((token, entry))
    }

    pub(super) fn name(&self, token: &str) -> String {
        match self {
            Entry::Spool => token.to_string(),
            Entry::At(span) => format!("{token}.at-{}", span.encode()),
            Entry::Cut(span) => format!("{token}.cut-{}", span.encode()),
            Entry::Done => format!("{token}.done"),
        }
    }
}

/// The shape [`SpoolDir::next_token`] makes: `<digits>.<digits>P<digits>Q<digits>`.
fn is_token(s: &str) -> bool {
    Unique::rest(s, ".") == Some("")
}

impl SpoolDir {
    /// The spool directory of `mailbox_id` below `state_dir`, created
    /// (0700) when missing.
    pub(super) fn open(state_dir: &Path, mailbox_id: &str) -> Result<SpoolDir, DeliverError> {
        let dir = state_dir.join("spool").join(escape_file_name(mailbox_id));
        create_private_dir(&dir).map_err(|source| DeliverError::Spool {
            path: dir.clone(),
            source,
        })?;
        Ok(SpoolDir {
            dir,
            unique: Unique::new(),
            swept: false,
        })
    }

    #[cfg(test)]
    pub(super) fn dir(&self) -> &Path {
        &self.dir
    }

    pub(super) fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    /// `<secs>.<usecs>P<pid>Q<seq>`: unique across runs and messages; no
    /// spaces, no `-`, nothing a shell or the journal would mind.
    pub(super) fn next_token(&mut self) -> String {
        self.unique.next(".", true)
    }

    /// A new spool file (0600) for `token`, open for reading and writing.
    pub(super) fn create(&self, token: &str) -> Result<File, DeliverError> {
        let path = self.path(token);
        let spool_err = |source| DeliverError::Spool {
            path: path.clone(),
            source,
        };
        open_private(
            OpenOptions::new()
                .read(true)
                .write(true)
                .create_new(true)
                .custom_flags(NOFOLLOW),
            &path,
        )
        .map_err(spool_err)
    }

    /// Every entry of `token`; none for a name [`SpoolDir::next_token`]
    /// could not have made (a garbled journal), so that recovery then
    /// touches nothing.
    pub(super) fn entries_of(&self, token: &str) -> Result<Vec<Entry>, DeliverError> {
        if !is_token(token) {
            return Ok(Vec::new());
        }
        Ok(self
            .entries()?
            .into_iter()
            .filter(|(t, _)| t == token)
            .map(|(_, e)| e)
            .collect())
    }

    /// Every entry, as (token, what).
    pub(super) fn entries(&self) -> Result<Vec<(String, Entry)>, DeliverError> {
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

    /// True at the first call only. Once recovery has settled the journal,
    /// everything earlier runs left can go, but only then: later in the
    /// run, this run's journal names this run's entries.
    pub(super) fn take_sweep(&mut self) -> bool {
        !std::mem::replace(&mut self.swept, true)
    }

    /// For targets whose only evidence is the `.done` mark (MDA, LMTP and
    /// SMTP): once recovery has settled the journal, remove everything
    /// earlier runs left. Only the first call of a run does anything.
    pub(super) fn sweep(&mut self) -> Result<(), DeliverError> {
        if self.take_sweep() {
            for (t, e) in self.entries()? {
                self.remove(&t, &e)?;
            }
        }
        Ok(())
    }

    /// For the same targets, whether the message journalled under `token`
    /// was handed over: a `.done` mark says yes. A spool without one may or
    /// may not have been (the program or server may have taken it just
    /// before a crash): no, and it is removed, so the message is fetched
    /// again. A token the spool could not have made finds neither: no, and
    /// nothing is touched.
    pub(super) fn handed_over(&self, token: &str) -> Result<bool, DeliverError> {
        let entries = self.entries_of(token)?;
        if entries.contains(&Entry::Done) {
            return Ok(true);
        }
        for e in &entries {
            self.remove(token, e)?;
        }
        Ok(false)
    }

    pub(super) fn remove(&self, token: &str, entry: &Entry) -> Result<(), DeliverError> {
        let path = self.path(&entry.name(token));
        match fs::remove_file(&path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            Err(source) => Err(DeliverError::Spool { path, source }),
        }
    }

    pub(super) fn rename(&self, token: &str, from: &Entry, to: &Entry) -> io::Result<()> {
        fs::rename(self.path(&from.name(token)), self.path(&to.name(token)))
    }

    /// Record that `token` landed: rename its file to `.done`, then empty
    /// it (its bytes are no longer needed). Not synced: a lost rename
    /// leaves the old name, which recovery still reads correctly.
    pub(super) fn mark_done(&self, token: &str, from: &Entry, file: &File) -> io::Result<()> {
        self.rename(token, from, &Entry::Done)?;
        file.set_len(0)
    }

    /// Make renames and creations in the directory durable.
    pub(super) fn sync(&self) -> Result<(), DeliverError> {
        sync_dir(&self.dir).map_err(|source| DeliverError::Spool {
            path: self.dir.clone(),
            source,
        })
    }
}

/// An I/O error on a spool file, saying which file (the caller reports it
/// against the destination).
fn spool_io(path: &Path, e: io::Error) -> io::Error {
    io::Error::new(e.kind(), format!("spool file {}: {e}", path.display()))
}

/// A message being written into its spool file, as mbox and MDA delivery
/// both do, with a copy of its header section kept on the way. Dropped
/// before [`Spooled::keep`], the spool file is removed.
#[derive(Debug)]
pub(super) struct Spooled {
    token: String,
    /// Empty once the file's fate is the caller's.
    path: PathBuf,
    out: Option<BufWriter<File>>,
    headers: HeaderCapture,
    size: u64,
}

impl Spooled {
    /// Start spooling the message named `token` into a new spool file.
    pub(super) fn create(spool: &SpoolDir, token: &str) -> Result<Spooled, DeliverError> {
        let file = spool.create(token)?;
        Ok(Spooled {
            token: token.to_string(),
            path: spool.path(token),
            out: Some(BufWriter::with_capacity(64 * 1024, file)),
            headers: HeaderCapture::default(),
            size: 0,
        })
    }

    pub(super) fn token(&self) -> &str {
        &self.token
    }

    /// Look at the next bytes of the message as received, for its header
    /// section.
    pub(super) fn capture(&mut self, raw: &[u8]) {
        self.headers.feed(raw);
    }

    pub(super) fn headers(&self) -> &HeaderCapture {
        &self.headers
    }

    /// Append `bytes` to the spool file.
    pub(super) fn put(&mut self, bytes: &[u8]) -> io::Result<()> {
        let out = self
            .out
            .as_mut()
            .ok_or_else(|| io::Error::other("message already committed"))?;
        out.write_all(bytes)?;
        self.size += bytes.len() as u64;
        Ok(())
    }

    /// How many bytes were put.
    pub(super) fn size(&self) -> u64 {
        self.size
    }

    pub(super) fn flush(&mut self) -> io::Result<()> {
        match &mut self.out {
            Some(out) => out.flush().map_err(|e| self.io_error(e)),
            None => Ok(()),
        }
    }

    /// Flush what was put and hand back the spool file. It is still
    /// removed on drop until [`Spooled::keep`].
    pub(super) fn finish(&mut self) -> io::Result<File> {
        let out = self
            .out
            .take()
            .ok_or_else(|| io::Error::other("message already committed"))?;
        out.into_inner().map_err(|e| e.into_error())
    }

    /// From here the spool file's fate is the caller's: it is no longer
    /// removed on drop. Returns its path.
    pub(super) fn keep(&mut self) -> PathBuf {
        std::mem::take(&mut self.path)
    }

    /// `e` with the spool file's name in it, for a [`Write`] error.
    pub(super) fn io_error(&self, e: io::Error) -> io::Error {
        spool_io(&self.path, e)
    }

    /// `source` as a [`DeliverError::Spool`] on this file.
    pub(super) fn error(&self, source: io::Error) -> DeliverError {
        DeliverError::Spool {
            path: self.path.clone(),
            source,
        }
    }
}

impl Drop for Spooled {
    /// A message dropped half-way (the connection broke, the run was
    /// interrupted) must leave nothing behind, whatever path led here.
    fn drop(&mut self) {
        if !self.path.as_os_str().is_empty() {
            let _ = fs::remove_file(&self.path);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::deliver::envelope::Sender;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn entry_names_round_trip() {
        let mut sd = SpoolDir {
            dir: PathBuf::new(),
            unique: Unique { pid: 42 },
            swept: false,
        };
        let t = sd.next_token();
        let sum = Some(Sum {
            head: 40,
            head_sum: 0x0123_4567_89ab_cdef,
            sum: 0xfe,
        });
        for e in [
            Entry::Spool,
            Entry::At(Span {
                offset: 12,
                len: 345,
                sum: None,
            }),
            Entry::Cut(Span {
                offset: 0,
                len: 9,
                sum: None,
            }),
            Entry::At(Span {
                offset: u64::MAX,
                len: 40,
                sum,
            }),
            Entry::Cut(Span {
                offset: 7,
                len: 41,
                sum,
            }),
            Entry::Done,
        ] {
            let name = e.name(&t);
            assert_eq!(Entry::parse(&name), Some((t.as_str(), e)), "{name}");
        }
        assert_eq!(
            Entry::parse(&format!("{t}.at-1-41-40-0123456789abcdef-{:032x}", 0xfe)),
            Some((
                t.as_str(),
                Entry::At(Span {
                    offset: 1,
                    len: 41,
                    sum
                })
            ))
        );
        assert_eq!(Entry::parse("x.at-1"), None);
        assert_eq!(Entry::parse(".nfs0001"), None);
        let h16 = "0123456789abcdef";
        let h32 = format!("{:032x}", 0xfe);
        for bad in [
            "1-x".to_string(),
            "1".into(),
            "1-2-3".into(),
            "+1-2".into(),
            "01-2".into(),
            "1-2 ".into(),
            "1--2".into(),
            "-1-2".into(),
            "18446744073709551616-2".into(),
            // The head outside the span, or empty.
            format!("1-40-41-{h16}-{h32}"),
            format!("1-40-0-{h16}-{h32}"),
            // Sums of the wrong length or case, signed.
            format!("1-41-40-{}-{h32}", &h16[1..]),
            format!("1-41-40-{h16}0-{h32}"),
            format!("1-41-40-{h16}-{}", &h32[1..]),
            format!("1-41-40-{}-{h32}", h16.to_uppercase()),
            format!("1-41-40-+{}-{h32}", &h16[1..]),
            format!("1-41-40-{h16}-{h32}-1"),
            format!("1-41-40-{h16}-{h32}/x"),
        ] {
            for kind in ["at", "cut"] {
                let name = format!("{t}.{kind}-{bad}");
                assert_eq!(Entry::parse(&name), None, "{name}");
            }
        }
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

    #[test]
    fn a_spooled_message_is_removed_on_drop_until_kept() {
        let dir = tempfile::tempdir().unwrap();
        let mut sd = SpoolDir::open(dir.path(), "u@h:110").unwrap();
        let t = sd.next_token();
        let mut m = Spooled::create(&sd, &t).unwrap();
        m.capture(b"Return-Path: <a@b>\n\n");
        m.put(b"body\n").unwrap();
        assert_eq!(m.size(), 5);
        assert_eq!(m.headers().sender(), Sender::Address("a@b".into()));
        drop(m);
        assert_eq!(sd.entries().unwrap(), vec![]);

        let mut m = Spooled::create(&sd, &t).unwrap();
        m.put(b"body\n").unwrap();
        m.finish().unwrap();
        assert!(m.put(b"more").is_err(), "nothing is put after finish");
        assert_eq!(m.keep(), sd.path(&t));
        drop(m);
        assert_eq!(fs::read(sd.path(&t)).unwrap(), b"body\n");
    }
}
