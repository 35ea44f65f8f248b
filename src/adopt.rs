//! `popfetch adopt`: record every message now on the server as delivered,
//! downloading nothing. For a first run on a big mailbox kept on the
//! server, a state file that was lost or moved, a new machine.
//!
//! The order: take the mailbox's run lock (another run holding it ends
//! this one, exit 75), connect, log in, list, record every listed UID as
//! delivered, save the state atomically, QUIT. Nothing is retrieved or
//! deleted, and no entry already in the state is removed. A server that
//! offers only part of the mailbox per session (Gmail) lists only that
//! part, and only that part is adopted.
//!
//! [`StateWriter`] is shared with `popfetch import --state`, which records
//! the UIDs a peer fetched the same way.

use std::path::PathBuf;
use std::time::Instant;

use crate::account::Account;
use crate::error::Error;
use crate::fetch::{Options, Summary, take_lock};
use crate::secret::Secret;
use crate::session;
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

/// Adopt one account. In the summary, `new` counts the UIDs newly recorded
/// as delivered and `on_server` the messages listed.
pub fn adopt(account: &Account, secret: &Secret, opts: &Options<'_>) -> Result<Summary, Error> {
    let started = Instant::now();
    let mut writer = StateWriter::open(account)?;
    let mut conn = session::connect(account, opts.trace.as_ref())?;
    let _watch = conn.watch(opts.interrupt);
    conn.login(account, secret)?;
    // Sizes are of no use here: UIDL alone.
    let listing = conn.list_needed(false, &|_: &str| false)?;
    if opts.interrupt.is_set() {
        conn.abort();
        return Err(Error::interrupted());
    }
    let now = jiff::Timestamp::now().as_second();
    let adopted = listing
        .iter()
        .filter(|m| writer.record(&m.uid, now))
        .count();
    writer.save()?;
    // Nothing was marked for deletion: QUIT only ends the session.
    conn.session.quit_without_reply()?;
    Ok(Summary {
        new: adopted,
        on_server: listing.len(),
        elapsed: started.elapsed(),
        ..Summary::default()
    })
}
