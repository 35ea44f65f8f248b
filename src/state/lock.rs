//! The per-mailbox run lock: two overlapping cron runs must not both fetch.
//!
//! `flock` semantics (std's `File::try_lock`): the kernel drops the lock
//! when the process dies, so a SIGKILLed run never leaves a stale lock.

use std::fs::{File, OpenOptions, TryLockError};
use std::io;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

/// Held for the whole run; released on drop (or process death).
#[derive(Debug)]
pub struct RunLock {
    _file: File,
}

pub enum LockOutcome {
    Acquired(RunLock),
    Busy,
}

pub fn try_lock(path: &Path) -> io::Result<LockOutcome> {
    let file = super::files::open_private(
        OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .custom_flags(super::files::NOFOLLOW),
        path,
    )?;
    match file.try_lock() {
        Ok(()) => Ok(LockOutcome::Acquired(RunLock { _file: file })),
        Err(TryLockError::WouldBlock) => Ok(LockOutcome::Busy),
        Err(TryLockError::Error(e)) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn second_lock_is_busy_until_released() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("l");
        let first = match try_lock(&p).unwrap() {
            LockOutcome::Acquired(l) => l,
            LockOutcome::Busy => panic!("first lock busy"),
        };
        assert!(matches!(try_lock(&p).unwrap(), LockOutcome::Busy));
        drop(first);
        assert!(matches!(try_lock(&p).unwrap(), LockOutcome::Acquired(_)));
    }
}
