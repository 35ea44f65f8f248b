//! Delivery targets. Each message is written in full and made durable
//! before popfetch records its UID, and every target can tell, after a
//! crash, whether a journalled delivery landed.

pub mod maildir;

use std::io;
use std::path::PathBuf;

use crate::account::Destination;
pub use maildir::{Maildir, MaildirMessage};

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
}

/// An open delivery target.
pub enum Target {
    Maildir(Maildir),
}

impl Target {
    pub fn open(dest: &Destination) -> Result<Target, DeliverError> {
        match dest {
            Destination::Maildir(path) => Ok(Target::Maildir(Maildir::open(path)?)),
            Destination::Mbox(_) => Err(DeliverError::Unsupported("mbox")),
            Destination::Mda(_) => Err(DeliverError::Unsupported("MDA")),
        }
    }

    /// A fresh name for the next message, recorded in the journal before
    /// any byte is written.
    pub fn next_token(&mut self) -> String {
        match self {
            Target::Maildir(m) => m.next_token(),
        }
    }

    /// Start writing the message named `token`.
    pub fn create(&self, token: &str) -> Result<MaildirMessage, DeliverError> {
        match self {
            Target::Maildir(m) => m.create(token),
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
