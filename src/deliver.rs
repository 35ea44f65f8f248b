//! Delivery targets. Each message is written in full and made durable
//! before popfetch records its UID, and every target can tell, after a
//! crash, whether a journalled delivery landed.
//!
//! The life of one message: [`Target::next_token`] names it (the journal
//! records the name before any byte is written), [`Target::create`] opens a
//! [`Sink`], the message streams in, [`Sink::commit`] delivers it, and
//! [`Target::sync`] is the barrier after which every committed message is
//! durable. Only then are UIDs recorded as delivered. A sink dropped
//! without commit leaves nothing behind.

pub mod maildir;

use std::io::{self, Write};
use std::path::PathBuf;

use crate::account::{Account, Destination};
pub use maildir::Maildir;

#[derive(Debug, thiserror::Error)]
pub enum DeliverError {
    #[error("cannot create the Maildir {path}: {source}; check the path and its permissions")]
    Create { path: PathBuf, source: io::Error },
    #[error(
        "cannot write a message into {path}: {source}; check free space and permissions (nothing was deleted from the server)"
    )]
    Write { path: PathBuf, source: io::Error },
    #[error("{0} delivery is not available in this version; use maildir")]
    Unsupported(&'static str),
    /// The target asked to try again later (an MDA's exit 75): the message
    /// stays on the server and the run goes on with the next one.
    #[error("delivery deferred: {0}; the message stays on the server for the next run")]
    Deferred(String),
}

/// A message being written. Dropped without [`Sink::commit`], it leaves
/// nothing behind.
pub trait Sink: Write {
    /// Deliver the message. It is durable once [`Target::sync`] returns.
    /// Returns where it went, for `-v`.
    fn commit(self: Box<Self>) -> Result<String, DeliverError>;
}

/// An open delivery target.
pub enum Target {
    Maildir(Maildir),
}

impl Target {
    pub fn open(account: &Account) -> Result<Target, DeliverError> {
        match &account.destination {
            Destination::Maildir(path) => Ok(Target::Maildir(Maildir::open(path)?)),
            Destination::Mbox(_) => Err(DeliverError::Unsupported("mbox")),
            Destination::Mda(_) => Err(DeliverError::Unsupported("MDA")),
        }
    }

    /// A fresh name for the next message, recorded in the journal before
    /// any byte is written. Never contains spaces or newlines.
    pub fn next_token(&mut self) -> String {
        match self {
            Target::Maildir(m) => m.next_token(),
        }
    }

    /// Start writing the message named `token`.
    pub fn create(&mut self, token: &str) -> Result<Box<dyn Sink + '_>, DeliverError> {
        match self {
            Target::Maildir(m) => Ok(Box::new(m.create(token)?)),
        }
    }

    /// Whether [`Sink::commit`] itself makes the message durable and
    /// visible (mbox, MDA) rather than waiting for [`Target::sync`]; the
    /// journal is then synced before each commit.
    pub fn publishes_on_commit(&self) -> bool {
        match self {
            Target::Maildir(_) => false,
        }
    }

    /// Barrier: every message committed so far is durable when this
    /// returns.
    pub fn sync(&mut self) -> Result<(), DeliverError> {
        match self {
            Target::Maildir(m) => m.sync(),
        }
    }

    /// After a crash: did the message journalled under `token` land? If
    /// not, remove whatever half of it is left.
    pub fn recover(&self, token: &str) -> Result<bool, DeliverError> {
        match self {
            Target::Maildir(m) => m.recover(token),
        }
    }
}
