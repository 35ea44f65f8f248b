//! Recording UIDs as delivered without downloading them: what `popfetch
//! import --state` does with the UIDs a peer fetched.
//!
//! [`StateWriter`] takes the mailbox's run lock (another run holding it
//! ends this one, exit 75), loads the state, adds UIDs as delivered and
//! saves the state atomically; no entry already in the state is removed.

use std::path::PathBuf;

use crate::account::Account;
use crate::error::Error;
use crate::fetch::take_lock;
use crate::state::lock::RunLock;
use crate::state::{Paths, UidState};

/// A mailbox's state, loaded under its run lock, to which UIDs are added
/// as delivered and which is then saved; entries are never removed.
pub(crate) struct StateWriter {
    paths: Paths,
    state: UidState,
    _lock: RunLock,
}

impl StateWriter {
    /// Take the account's run lock and load its state.
    pub fn open(account: &Account) -> Result<StateWriter, Error> {
        let paths = Paths::new(&account.state_dir, &account.mailbox_id());
        paths.ensure_dir()?;
        let lock = take_lock(&paths, account)?;
        let state = UidState::load(&paths.state)?;
        Ok(StateWriter {
            paths,
            state,
            _lock: lock,
        })
    }

    /// Record `uid` as delivered, first seen at `seen` unless the state
    /// already knows when; `true` when it was not recorded as delivered.
    pub fn record(&mut self, uid: &str, seen: i64) -> bool {
        let new = !self.state.is_delivered(uid);
        self.state.mark_delivered(uid, seen);
        new
    }

    /// Save atomically; returns the state file's path.
    pub fn save(self) -> Result<PathBuf, Error> {
        self.state.save(&self.paths.state)?;
        Ok(self.paths.state)
    }
}
