//! Locking an mbox against other programs and other threads.
//!
//! While appending (and while recovery looks at the file) popfetch holds,
//! in this order, the dotlock `<mbox>.lock` (created with O_EXCL, holding
//! `<pid>:<host>`; a lock older than five minutes, or left by a process of
//! this host that no longer exists, is stale and removed; skipped where the
//! directory does not let us create it, as /var/mail often does not) and
//! an fcntl write lock on the whole file: procmail, Dovecot and mutt use
//! the same pair. Waiting for either is bounded. Inside one process a
//! mutex serializes mbox work too, since fcntl locks do not exclude
//! threads of the same process.

use std::fs::{self, File};
use std::io;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime};

use rustix::fs::FlockOperation;

use super::open_mbox;
use crate::deliver::{DeliverError, hostname};
use crate::state::create_filled;

/// How long to wait for another program's lock on the mbox.
pub(super) const LOCK_WAIT: Duration = Duration::from_secs(60);

/// A dotlock older than this was left by a program that died.
const DOTLOCK_STALE: Duration = Duration::from_secs(5 * 60);

/// Serializes mbox work inside this process (fcntl locks do not).
static MBOX_MUTEX: Mutex<()> = Mutex::new(());

pub(super) fn process_lock() -> MutexGuard<'static, ()> {
    // A panic elsewhere while holding it leaves nothing to repair.
    MBOX_MUTEX.lock().unwrap_or_else(|e| e.into_inner())
}

/// The dotlock and the fcntl lock on an mbox, released on drop.
pub(super) struct MboxLock {
    pub(super) file: File,
    dotlock: Option<PathBuf>,
}

impl MboxLock {
    pub(super) fn acquire(path: &Path, wait: Duration) -> Result<MboxLock, DeliverError> {
        let deadline = Instant::now() + wait;
        let dotlock = take_dotlock(path, deadline, wait)?;
        let locked = |dotlock| DeliverError::MboxLocked {
            path: path.to_path_buf(),
            dotlock,
            waited: wait.as_secs(),
        };
        let io_err = |source| DeliverError::Write {
            path: path.to_path_buf(),
            source,
        };
        // Built before the fcntl lock so that failures release the dotlock.
        let mut lock = MboxLock {
            file: open_mbox(path).map_err(io_err)?,
            dotlock,
        };
        loop {
            match rustix::fs::fcntl_lock(&lock.file, FlockOperation::NonBlockingLockExclusive) {
                Ok(()) => {}
                Err(e) if e == rustix::io::Errno::AGAIN || e == rustix::io::Errno::ACCESS => {
                    if Instant::now() >= deadline {
                        return Err(locked(false));
                    }
                    std::thread::sleep(Duration::from_millis(50));
                    continue;
                }
                Err(e) => return Err(io_err(e.into())),
            }
            // A mail reader may have replaced the file while we waited:
            // the lock must be on the file the path names.
            let ours = lock.file.metadata().map_err(io_err)?;
            match fs::metadata(path) {
                Ok(m) if m.ino() == ours.ino() && m.dev() == ours.dev() => return Ok(lock),
                _ => lock.file = open_mbox(path).map_err(io_err)?,
            }
        }
    }
}

impl Drop for MboxLock {
    fn drop(&mut self) {
        let _ = rustix::fs::fcntl_lock(&self.file, FlockOperation::Unlock);
        if let Some(d) = &self.dotlock {
            let _ = fs::remove_file(d);
        }
    }
}

pub(super) fn dotlock_path(path: &Path) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(".lock");
    PathBuf::from(s)
}

/// Create `<mbox>.lock`, waiting for another holder until `deadline`.
/// `None` when the directory does not let us create it (then the fcntl
/// lock alone protects the append, as with procmail and mutt).
fn take_dotlock(
    path: &Path,
    deadline: Instant,
    wait: Duration,
) -> Result<Option<PathBuf>, DeliverError> {
    let lock = dotlock_path(path);
    loop {
        match create_dotlock(&lock) {
            Ok(true) => return Ok(Some(lock)),
            Ok(false) => {
                if dotlock_is_stale(&lock) {
                    let _ = fs::remove_file(&lock);
                    continue;
                }
                if Instant::now() >= deadline {
                    return Err(DeliverError::MboxLocked {
                        path: path.to_path_buf(),
                        dotlock: true,
                        waited: wait.as_secs(),
                    });
                }
                std::thread::sleep(Duration::from_millis(100));
            }
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::PermissionDenied | io::ErrorKind::ReadOnlyFilesystem
                ) =>
            {
                return Ok(None);
            }
            Err(source) => {
                return Err(DeliverError::Write { path: lock, source });
            }
        }
    }
}

/// Make the lock file appear with its owner already in it, so that a
/// kill at any instant never leaves an anonymous lock that only time
/// would clear: write a private file, then hard-link it into place.
/// `Ok(false)` when someone holds the lock.
fn create_dotlock(lock: &Path) -> io::Result<bool> {
    let owner = format!("{}:{}\n", std::process::id(), hostname());
    let mut tmp = lock.as_os_str().to_owned();
    tmp.push(format!(".{}.tmp", std::process::id()));
    let tmp = PathBuf::from(tmp);
    // Made anew, never opened as found: the mail directory may be shared
    // (/var/mail), and a link planted at this name must not make us write
    // another file.
    match create_filled(lock, &tmp, owner.as_bytes(), false) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Ok(false),
        Err(e) => Err(e),
    }
}

/// Old, or made by a process of this host that is gone (a killed run must
/// not block the next one for minutes).
fn dotlock_is_stale(lock: &Path) -> bool {
    let age = fs::metadata(lock)
        .and_then(|m| m.modified())
        .ok()
        .and_then(|t| SystemTime::now().duration_since(t).ok());
    if age.is_some_and(|a| a > DOTLOCK_STALE) {
        return true;
    }
    let Ok(text) = fs::read_to_string(lock) else {
        return false;
    };
    let Some((pid, host)) = text.trim().split_once(':') else {
        return false;
    };
    let pid = pid
        .parse::<i32>()
        .ok()
        .and_then(rustix::process::Pid::from_raw);
    match pid {
        Some(pid) if host == hostname() => {
            rustix::process::test_kill_process(pid) == Err(rustix::io::Errno::SRCH)
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A link planted at the name of this process's temporary lock file,
    /// pointing at another file: the lock is still taken, and the other
    /// file is neither truncated nor written.
    #[test]
    fn a_link_at_the_temporary_name_is_not_written_through() {
        let dir = tempfile::tempdir().unwrap();
        let victim = dir.path().join("victim");
        fs::write(&victim, b"precious").unwrap();
        let lock = dir.path().join("inbox.lock");
        let mut tmp = lock.as_os_str().to_owned();
        tmp.push(format!(".{}.tmp", std::process::id()));
        std::os::unix::fs::symlink(&victim, &tmp).unwrap();

        assert!(create_dotlock(&lock).unwrap());
        assert_eq!(fs::read(&victim).unwrap(), b"precious");
        let meta = fs::symlink_metadata(&lock).unwrap();
        assert!(meta.is_file());
        let owner = fs::read_to_string(&lock).unwrap();
        assert!(owner.starts_with(&format!("{}:", std::process::id())));
        assert!(
            fs::symlink_metadata(&tmp).is_err(),
            "no temporary file left"
        );
    }
}
