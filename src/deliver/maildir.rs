//! Maildir delivery: write into `tmp/`, fsync, rename into `new/` under a
//! unique name (`<time>.<unique>.<host>,S=<size>`), fsync `new/`.
//!
//! The unique part is chosen before writing so that the journal can name
//! it; after a crash, a name in `new/` or `cur/` means the message landed,
//! a name in `tmp/` means it did not (and the leftover is removed).
//! Messages committed but not yet synced when a delivery fails are removed
//! by [`Maildir::discard_unsynced`].
//!
//! Group commit: a committed message waits in `tmp/` until
//! [`Maildir::sync_start`], which makes the whole batch durable, then
//! renames each into `new/` and fsyncs `new/` once, on a helper thread
//! while the fetch goes on; [`Maildir::sync_wait`] waits for it. A message
//! is never visible in `new/` before its bytes are on disk. The batch is
//! made durable by one `syncfs` when the system holds next to no other
//! unwritten data (at most [`unwritten::OTHERS_MAX`]), and otherwise by
//! `fdatasync`ing each of its files from a few threads at once (the
//! filesystem folds concurrent syncs into one journal commit): a commit
//! never waits for another program's gigabyte ([`super::unwritten`]).

use std::cell::OnceCell;
use std::collections::HashSet;
use std::fs::{self, File, OpenOptions};
use std::io::{self, BufWriter, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::{DeliverError, InFlight, Unique, unwritten};
use crate::state::{NOFOLLOW, create_private_dir, make_private, sync_dir};

pub(crate) struct Maildir {
    /// Written and closed, waiting in `tmp/` for the next `sync_start`.
    pending: Vec<Pending>,
    /// The batch being committed on a helper thread.
    in_flight: Option<InFlight<()>>,
    /// Names already in `new/` and `cur/`, for recovery.
    landed: OnceCell<HashSet<String>>,
    /// Tokens this run journalled but could not create a file under: what
    /// is there belongs to someone else, and recovery leaves it alone.
    not_ours: HashSet<String>,
    tmp: PathBuf,
    new: PathBuf,
    cur: PathBuf,
    host: String,
    unique: Unique,
    /// `tmp/`, open from the start of the run, where `syncfs` is sound
    /// ([`unwritten::syncfs_is_sound`]): a `syncfs` through it reports
    /// every write error on the filesystem since then, ours included,
    /// even one another program's `syncfs` saw first.
    syncfs_via: Option<Arc<File>>,
}

impl Maildir {
    /// Open the Maildir, creating it (0700) when missing.
    pub(super) fn open(root: &Path) -> Result<Maildir, DeliverError> {
        let (tmp, new, cur) = (root.join("tmp"), root.join("new"), root.join("cur"));
        for d in [root, &tmp, &new, &cur] {
            create_private_dir(d).map_err(|source| DeliverError::Create {
                path: d.to_path_buf(),
                source,
            })?;
        }
        Ok(Maildir {
            pending: Vec::new(),
            in_flight: None,
            landed: OnceCell::new(),
            not_ours: HashSet::new(),
            new,
            cur,
            host: maildir_hostname(),
            unique: Unique::new(),
            syncfs_via: unwritten::syncfs_is_sound(&tmp)
                .then(|| File::open(&tmp).ok().map(Arc::new))
                .flatten(),
            tmp,
        })
    }

    /// `<secs>.M<usecs>P<pid>Q<seq>R<random>.<host>`, the Maildir
    /// convention: unique across processes (pid), runs (time), accounts
    /// and messages of one process (a process-wide count), and, should all
    /// of that repeat (a pid reused within the microsecond, a clock set
    /// back), 64 random bits; hosts sharing a Maildir over NFS differ by
    /// the host name.
    pub(super) fn next_token(&mut self) -> String {
        format!(
            "{}R{}.{}",
            self.unique.next(".M", false),
            super::random_hex(),
            self.host
        )
    }

    pub(super) fn create(&mut self, token: &str) -> Result<MaildirMessage<'_>, DeliverError> {
        let tmp_path = self.tmp.join(token);
        let file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .custom_flags(NOFOLLOW)
            .mode(0o600)
            .open(&tmp_path)
            .map_err(|source| {
                // Journalled, but whatever is at that name is not ours:
                // recovery must not touch it.
                self.not_ours.insert(token.to_string());
                DeliverError::Write {
                    path: tmp_path.clone(),
                    source,
                }
            })?;
        // Not `open_private`: once created, the name is ours, so a failed
        // chmod must not mark it as someone else's as a failed open does.
        make_private(&file).map_err(|source| DeliverError::Write {
            path: tmp_path.clone(),
            source,
        })?;
        Ok(MaildirMessage {
            out: BufWriter::with_capacity(64 * 1024, file),
            tmp_path,
            new_dir: &self.new,
            pending: &mut self.pending,
            token: token.to_string(),
            size: 0,
        })
    }

    /// Start the group commit of every message committed so far on a
    /// helper thread, so that the fetch thread goes on reading the socket
    /// meanwhile. At most one batch is in flight: this first waits for the
    /// previous one.
    pub(super) fn sync_start(&mut self) -> Result<(), DeliverError> {
        self.sync_wait()?;
        let batch = std::mem::take(&mut self.pending);
        if batch.is_empty() {
            return Ok(());
        }
        let new = self.new.clone();
        let syncfs_via = self.syncfs_via.clone();
        // No thread to be had: the batch goes with the failed start, and
        // its files stay in tmp/ unrecorded, to be fetched again.
        self.in_flight = Some(InFlight::start("maildir-commit", &self.tmp, move || {
            commit_batch(batch, &new, syncfs_via.as_deref())
        })?);
        Ok(())
    }

    /// Wait for the batch `sync_start` sent off; when this returns Ok,
    /// those messages are durable and in `new/`.
    pub(super) fn sync_wait(&mut self) -> Result<(), DeliverError> {
        self.in_flight.take().map_or(Ok(()), InFlight::wait)
    }

    /// Remove messages committed but never synced: nothing recorded them,
    /// so they are fetched again. A batch in flight was journalled; it is
    /// let finish first.
    pub(super) fn discard_unsynced(&mut self) {
        let _ = self.sync_wait();
        for p in self.pending.drain(..) {
            let _ = fs::remove_file(&p.tmp);
        }
    }

    /// Forget the names read by an earlier recovery; the next `recover`
    /// reads `new/` and `cur/` afresh.
    pub(super) fn begin_recovery(&mut self) {
        self.landed = OnceCell::new();
    }

    /// Did the message journalled as `token` land in `new/` or `cur/`? If
    /// not, its leftover in `tmp/` is removed. A token [`Maildir::next_token`]
    /// could not have made (a garbled journal) names nothing of ours: not
    /// landed, and nothing is touched.
    pub(super) fn recover(&self, token: &str) -> Result<bool, DeliverError> {
        if !is_token(token) || self.not_ours.contains(token) {
            return Ok(false);
        }
        let landed = match self.landed.get() {
            Some(set) => set,
            None => {
                let set = self.landed_names()?;
                self.landed.get_or_init(|| set)
            }
        };
        if landed.contains(token) {
            return Ok(true);
        }
        match fs::remove_file(self.tmp.join(token)) {
            Ok(()) => Ok(false),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
            Err(source) => Err(DeliverError::Write {
                path: self.tmp.join(token),
                source,
            }),
        }
    }
}

impl Maildir {
    /// The unique parts of every name in `new/` and `cur/` (the name up to
    /// ",S=" or ":2,"), read once per run, so recovery stays linear.
    fn landed_names(&self) -> Result<HashSet<String>, DeliverError> {
        let mut set = HashSet::new();
        for dir in [&self.new, &self.cur] {
            let err = |source| DeliverError::Write {
                path: dir.clone(),
                source,
            };
            for entry in fs::read_dir(dir).map_err(err)? {
                let name = entry.map_err(err)?.file_name();
                let name = name.to_string_lossy();
                let unique = name.split([',', ':']).next().unwrap_or_default();
                set.insert(unique.to_string());
            }
        }
        Ok(set)
    }
}

/// Make a batch durable ([`sync_batch`]; `syncfs` through `syncfs_via`
/// when there is one), rename each into `new/`, fsync `new/` once. Never
/// is a message visible in `new/` before its bytes are on disk.
///
/// The messages' files were closed at commit and are opened again here,
/// a few at a time: an account holds a few descriptors whatever the batch
/// size, and `-j` accounts at once stay far below the usual limit of 1024.
fn commit_batch(
    batch: Vec<Pending>,
    new: &Path,
    syncfs_via: Option<&File>,
) -> Result<(), DeliverError> {
    if batch.is_empty() {
        return Ok(());
    }
    let paths: Vec<&Path> = batch.iter().map(|p| p.tmp.as_path()).collect();
    let bytes = batch.iter().map(|p| p.size).sum();
    let syncfs_via = syncfs_via.filter(|_| unwritten::syncfs_is_cheap(paths.len(), bytes));
    if let Err((path, e)) = sync_batch(&paths, syncfs_via) {
        for p in &batch {
            let _ = fs::remove_file(&p.tmp);
        }
        return Err(DeliverError::Write { path, source: e });
    }
    let mut rest = batch.into_iter();
    for p in rest.by_ref() {
        if let Err(source) = fs::rename(&p.tmp, &p.dst) {
            // Nothing recorded these: remove them, they will be fetched
            // again.
            let _ = fs::remove_file(&p.tmp);
            for q in rest {
                let _ = fs::remove_file(&q.tmp);
            }
            return Err(DeliverError::Write {
                path: p.tmp,
                source,
            });
        }
    }
    sync_dir(new).map_err(|source| DeliverError::Write {
        path: new.to_path_buf(),
        source,
    })
}

/// Make the files of a batch durable: with one `syncfs` through `via`, a
/// descriptor on their filesystem, or each `fdatasync`ed
/// ([`sync_files`]). A failure is returned with a path.
fn sync_batch(paths: &[&Path], via: Option<&File>) -> Result<(), (PathBuf, io::Error)> {
    match (via, paths.first()) {
        (Some(dir), Some(first)) => {
            rustix::fs::syncfs(dir).map_err(|e| (first.to_path_buf(), e.into()))
        }
        _ => sync_files(paths),
    }
}

/// How many files are `fdatasync`ed at once. One thread's syncs each wait
/// for a journal commit of their own; concurrent ones share commits, and a
/// few in flight reach the cost of one `syncfs` without touching what
/// other programs wrote.
const SYNC_THREADS: usize = 8;

/// `fdatasync` each of `paths` (opened read-only, links refused), up to
/// [`SYNC_THREADS`] at once. The first failure is returned with its path.
pub(super) fn sync_files(paths: &[&Path]) -> Result<(), (PathBuf, io::Error)> {
    use std::sync::Mutex;
    use std::sync::atomic::{AtomicUsize, Ordering};
    let sync_one = |path: &Path| -> io::Result<()> {
        OpenOptions::new()
            .read(true)
            .custom_flags(NOFOLLOW)
            .open(path)?
            .sync_data()
    };
    let threads = SYNC_THREADS.min(paths.len());
    if threads <= 1 {
        for p in paths {
            sync_one(p).map_err(|e| (p.to_path_buf(), e))?;
        }
        return Ok(());
    }
    let next = AtomicUsize::new(0);
    let failed: Mutex<Option<(PathBuf, io::Error)>> = Mutex::new(None);
    let work = || {
        loop {
            let i = next.fetch_add(1, Ordering::Relaxed);
            let Some(p) = paths.get(i) else { break };
            if let Err(e) = sync_one(p) {
                if let Ok(mut f) = failed.lock() {
                    f.get_or_insert((p.to_path_buf(), e));
                }
                // The others stop at their next file.
                next.store(paths.len(), Ordering::Relaxed);
                break;
            }
        }
    };
    std::thread::scope(|scope| {
        for _ in 1..threads {
            let spawned = std::thread::Builder::new()
                .name("maildir-sync".into())
                .spawn_scoped(scope, work);
            if spawned.is_err() {
                // No more threads to be had: fewer do every file.
                break;
            }
        }
        work();
    });
    let failure = match failed.into_inner() {
        Ok(f) => f,
        Err(poisoned) => poisoned.into_inner(),
    };
    match failure {
        Some(f) => Err(f),
        None => Ok(()),
    }
}

/// A message written and closed, not yet durable or visible.
struct Pending {
    tmp: PathBuf,
    dst: PathBuf,
    size: u64,
}

impl Drop for Maildir {
    /// A batch still in flight (only a panic leaves one) must finish
    /// before the run lock is released: the next run's recovery could
    /// otherwise read `new/` before a rename and remove the file in `tmp/`
    /// after it, and deliver that message a second time.
    fn drop(&mut self) {
        let _ = self.sync_wait();
    }
}

/// A message being written into `tmp/`. Dropped without `commit`, it is
/// removed.
pub(super) struct MaildirMessage<'a> {
    out: BufWriter<File>,
    tmp_path: PathBuf,
    new_dir: &'a Path,
    pending: &'a mut Vec<Pending>,
    token: String,
    size: u64,
}

impl Write for MaildirMessage<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.out.write(buf)?;
        self.size += n as u64;
        Ok(n)
    }
    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        self.out.write_all(buf)?;
        self.size += buf.len() as u64;
        Ok(())
    }
    fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}

impl super::Sink for MaildirMessage<'_> {
    /// Flush and queue the message for the next [`Maildir::sync_start`].
    fn commit(mut self: Box<Self>) -> Result<String, DeliverError> {
        let dst = self.new_dir.join(format!("{},S={}", self.token, self.size));
        let tmp = std::mem::take(&mut self.tmp_path);
        // The file is closed when this sink is dropped, right after: the
        // group commit needs its name only.
        match self.out.flush() {
            Ok(()) => {
                let shown = dst.display().to_string();
                self.pending.push(Pending {
                    tmp,
                    dst,
                    size: self.size,
                });
                Ok(shown)
            }
            Err(source) => {
                let _ = fs::remove_file(&tmp);
                Err(DeliverError::Write { path: tmp, source })
            }
        }
    }
}

impl Drop for MaildirMessage<'_> {
    fn drop(&mut self) {
        if !self.tmp_path.as_os_str().is_empty() {
            let _ = fs::remove_file(&self.tmp_path);
        }
    }
}

/// The host name with '/' and ':' escaped as the Maildir convention asks.
fn maildir_hostname() -> String {
    escape_host(&super::hostname())
}

/// `raw` with '/' and ':' as \057 and \072 by convention, and anything
/// else odd too, so the name is safe in the journal and in a shell;
/// `localhost` for an empty name.
fn escape_host(raw: &str) -> String {
    if raw.is_empty() {
        return "localhost".to_string();
    }
    let mut out = String::with_capacity(raw.len());
    for c in raw.chars() {
        if c.is_ascii_alphanumeric() || "-_".contains(c) || c == '.' {
            out.push(c);
        } else {
            let mut buf = [0u8; 4];
            for b in c.encode_utf8(&mut buf).bytes() {
                out.push_str(&format!("\\{b:03o}"));
            }
        }
    }
    out
}

/// The shape [`Maildir::next_token`] makes:
/// `<secs>.M<usecs>P<pid>Q<seq>R<random>.<host>`, the random part 1 to 32
/// hex digits, or none at all (the shape of earlier versions, whose
/// journal a run may have to settle), the host escaped as [`escape_host`]
/// does (any host's: the name may have changed since the journal was
/// written). Such a name has no `/`, `:` or `,` and is never `.` or `..`,
/// so it can only name a file in `tmp/` itself.
fn is_token(s: &str) -> bool {
    Unique::rest(s, ".M")
        .map(skip_random)
        .and_then(|rest| rest.strip_prefix('.'))
        .is_some_and(is_escaped_host)
}

/// `rest` past an `R<hex>` random part, when it starts with one.
fn skip_random(rest: &str) -> &str {
    let Some(after) = rest.strip_prefix('R') else {
        return rest;
    };
    let hex = after.bytes().take_while(u8::is_ascii_hexdigit).count();
    if (1..=32).contains(&hex) {
        &after[hex..]
    } else {
        rest
    }
}

/// Non-empty, and only what [`escape_host`] writes: ASCII letters and
/// digits, `-`, `_`, `.`, and `\` followed by three octal digits.
fn is_escaped_host(host: &str) -> bool {
    let b = host.as_bytes();
    let mut i = 0;
    while let Some(&c) = b.get(i) {
        let octal = |d: &u8| (b'0'..=b'7').contains(d);
        i += match c {
            _ if c.is_ascii_alphanumeric() || b"-_.".contains(&c) => 1,
            b'\\' if b.get(i + 1..i + 4).is_some_and(|d| d.iter().all(octal)) => 4,
            _ => return false,
        };
    }
    !b.is_empty()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::deliver::Sink;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn unsynced_messages_are_discarded() {
        let dir = tempfile::tempdir().unwrap();
        let mut md = Maildir::open(dir.path()).unwrap();
        let tok = md.next_token();
        let mut m = Box::new(md.create(&tok).unwrap());
        m.write_all(b"x\n").unwrap();
        m.commit().unwrap();
        assert_eq!(fs::read_dir(dir.path().join("tmp")).unwrap().count(), 1);
        md.discard_unsynced();
        assert_eq!(fs::read_dir(dir.path().join("tmp")).unwrap().count(), 0);
        assert_eq!(fs::read_dir(dir.path().join("new")).unwrap().count(), 0);
    }

    #[test]
    fn a_batch_is_synced_through_syncfs_or_file_by_file() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b) = (dir.path().join("a"), dir.path().join("b"));
        fs::write(&a, b"one\n").unwrap();
        fs::write(&b, b"two\n").unwrap();
        let via = File::open(dir.path()).unwrap();
        assert!(sync_batch(&[&a, &b], Some(&via)).is_ok());
        assert!(sync_batch(&[&a, &b], None).is_ok());
        // File by file, the file it could not sync is named, and a link is
        // not followed to sync someone else's file.
        let gone = dir.path().join("gone");
        let (path, e) = sync_batch(&[&a, &gone], None).unwrap_err();
        assert_eq!((path, e.kind()), (gone, io::ErrorKind::NotFound));
        let link = dir.path().join("link");
        std::os::unix::fs::symlink(&a, &link).unwrap();
        assert_eq!(sync_batch(&[&link], None).unwrap_err().0, link);
    }

    #[test]
    fn syncfs_goes_through_tmp_opened_at_the_start_where_it_is_sound() {
        let dir = tempfile::tempdir().unwrap();
        let md = Maildir::open(dir.path()).unwrap();
        let sound = unwritten::syncfs_is_sound(dir.path());
        assert_eq!(md.syncfs_via.is_some(), sound);
    }

    #[test]
    fn deliver_commit_lands_in_new_with_size() {
        let dir = tempfile::tempdir().unwrap();
        let mut md = Maildir::open(&dir.path().join("Mail")).unwrap();
        let tok = md.next_token();
        let mut m = Box::new(md.create(&tok).unwrap());
        m.write_all(b"Subject: hi\n\nbody\n").unwrap();
        let path = PathBuf::from(m.commit().unwrap());
        // Not visible before the sync.
        assert!(!path.exists());
        md.sync_start().unwrap();
        md.sync_wait().unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"Subject: hi\n\nbody\n");
        assert!(
            path.file_name()
                .unwrap()
                .to_string_lossy()
                .ends_with(",S=18")
        );
        assert_eq!(
            fs::read_dir(dir.path().join("Mail/tmp")).unwrap().count(),
            0
        );
        let mode = fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let mode = fs::metadata(dir.path().join("Mail"))
            .unwrap()
            .permissions()
            .mode()
            & 0o777;
        assert_eq!(mode, 0o700);
        assert!(md.recover(&tok).unwrap());
    }

    #[test]
    fn dropped_message_leaves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let mut md = Maildir::open(dir.path()).unwrap();
        let tok = md.next_token();
        let mut m = md.create(&tok).unwrap();
        m.write_all(b"partial").unwrap();
        drop(m);
        assert_eq!(fs::read_dir(dir.path().join("tmp")).unwrap().count(), 0);
        assert!(!md.recover(&tok).unwrap());
    }

    #[test]
    fn recover_removes_tmp_leftover_and_finds_cur() {
        let dir = tempfile::tempdir().unwrap();
        let mut md = Maildir::open(dir.path()).unwrap();
        let tok = md.next_token();
        fs::write(dir.path().join("tmp").join(&tok), b"half").unwrap();
        let tok2 = md.next_token();
        fs::write(
            dir.path().join("cur").join(format!("{tok2},S=4:2,S")),
            b"full",
        )
        .unwrap();
        assert!(!md.recover(&tok).unwrap());
        assert!(!dir.path().join("tmp").join(&tok).exists());
        assert!(md.recover(&tok2).unwrap());
    }

    #[test]
    fn tokens_are_unique() {
        let dir = tempfile::tempdir().unwrap();
        let mut md = Maildir::open(dir.path()).unwrap();
        let a = md.next_token();
        let b = md.next_token();
        assert_ne!(a, b);
        assert!(!a.contains('/') && !a.contains(' '));
    }

    #[test]
    fn two_maildirs_of_one_process_never_make_the_same_name() {
        // Two accounts delivering into one Maildir at once: same pid, same
        // microsecond, each its own target.
        let dir = tempfile::tempdir().unwrap();
        let mut a = Maildir::open(dir.path()).unwrap();
        let mut b = Maildir::open(dir.path()).unwrap();
        let mut seen = HashSet::new();
        for _ in 0..1000 {
            for md in [&mut a, &mut b] {
                let tok = md.next_token();
                assert!(is_token(&tok), "{tok}");
                assert!(seen.insert(tok.clone()), "{tok} made twice");
            }
        }
    }

    #[test]
    fn recovery_leaves_alone_a_file_this_run_could_not_create() {
        let dir = tempfile::tempdir().unwrap();
        let mut md = Maildir::open(dir.path()).unwrap();
        let tok = md.next_token();
        // Someone else's message in tmp/ under the name journalled.
        let theirs = dir.path().join("tmp").join(&tok);
        fs::write(&theirs, b"not ours").unwrap();
        assert!(md.create(&tok).is_err());
        assert!(!md.recover(&tok).unwrap());
        assert_eq!(fs::read(&theirs).unwrap(), b"not ours");
    }

    #[test]
    fn recovery_accepts_only_names_next_token_makes() {
        let dir = tempfile::tempdir().unwrap();
        let mut md = Maildir::open(dir.path()).unwrap();
        assert!(is_token(&md.next_token()));
        let odd = escape_host("mail/x:1 \u{e9}\\");
        assert!(!odd.contains(['/', ':', ' ']), "{odd}");
        for good in [
            format!("1700000000.M12P34Q5.{odd}"),
            format!("1700000000.M12P34Q5R0123456789abcdef.{odd}"),
            "0.M0P0Q0.localhost".to_string(),
            "1.M2P3Q4.a.b-c_d".to_string(),
            "1.M2P3Q4Rf.a.b-c_d".to_string(),
        ] {
            assert!(is_token(&good), "{good}");
        }
        for bad in [
            "",
            ".",
            "..",
            "../cur/1.M2P3Q4.h,S=4:2,S",
            "/etc/passwd",
            "1.M2P3Q4.",
            "1.M2P3Q4./etc",
            "1.M2P3Q4.h/../../x",
            "1.M2P3Q4.h:2,S",
            "1.M2P3Q4.h,S=4",
            "1.M2P3Q4.h\\05",
            "1.M2P3Q4.h\\058",
            "1.M2P3Q4.h\0",
            "1.M2P3Q4.h x",
            "x.M2P3Q4.h",
            "1.MP3Q4.h",
            "1.M2P3Q.h",
            "1.M2P3Q4",
            "1.2P3Q4",
            "1.M2P3Q4R.h",
            "1.M2P3Q4Rxyz.h",
            "1.M2P3Q4R0123456789abcdef0123456789abcdef0.h/../x",
            "1.M2P3Q4R1/../h",
        ] {
            assert!(!is_token(bad), "{bad:?}");
        }
        // A garbled name that would reach outside tmp/ touches nothing.
        let cur = dir.path().join("cur/1.M2P3Q4.h,S=4:2,S");
        fs::write(&cur, b"mail").unwrap();
        assert!(!md.recover("../cur/1.M2P3Q4.h,S=4:2,S").unwrap());
        assert_eq!(fs::read(&cur).unwrap(), b"mail");
    }
}
