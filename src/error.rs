//! The library's top error and the one place that turns an error into an
//! exit status (sysexits, as SPEC section 1 lists them).

use crate::auth::AuthError;
use crate::config::ConfigError;
use crate::deliver::DeliverError;
use crate::password::SecretError;
use crate::protocol::{ProtoError, RespCode};
use crate::state::StateError;
use crate::transport::TransportError;

/// Exit statuses (sysexits.h), as mpop uses them.
pub mod exit {
    pub const OK: u8 = 0;
    /// `check` found nothing new.
    pub const NO_NEW_MAIL: u8 = 1;
    pub const USAGE: u8 = 64;
    pub const UNAVAILABLE: u8 = 69;
    pub const IOERR: u8 = 74;
    pub const TEMPFAIL: u8 = 75;
    pub const PROTOCOL: u8 = 76;
    pub const NOPERM: u8 = 77;
    pub const CONFIG: u8 = 78;
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Secret(#[from] SecretError),
    #[error(transparent)]
    Transport(#[from] TransportError),
    #[error(transparent)]
    Protocol(#[from] ProtoError),
    #[error(transparent)]
    Auth(#[from] AuthError),
    #[error(transparent)]
    State(#[from] StateError),
    #[error(transparent)]
    Deliver(#[from] DeliverError),
    #[error(
        "another popfetch run is fetching {mailbox} right now (lock {path}); this run did nothing: it will be fetched next time"
    )]
    Locked { mailbox: String, path: String },
    #[error(
        "interrupted: the message in hand was rolled back and nothing was deleted from the server"
    )]
    Interrupted,
}

impl Error {
    /// The exit status for this error. Every error is mapped here and
    /// nowhere else.
    pub fn exit_code(&self) -> u8 {
        match self {
            Error::Config(e) if e.is_usage() => exit::USAGE,
            Error::Config(_) | Error::Secret(_) => exit::CONFIG,
            Error::Transport(e) => e.exit_code(),
            Error::Protocol(e) => proto_exit_code(e),
            Error::Auth(e) => match e {
                AuthError::Refused { code: Some(c), .. } if c.is_temporary() => exit::TEMPFAIL,
                AuthError::Protocol(p) => proto_exit_code(p),
                AuthError::Sasl { .. } => exit::PROTOCOL,
                _ => exit::NOPERM,
            },
            // Another program holding the mbox is a reason to try later.
            Error::Deliver(DeliverError::MboxLocked { .. }) => exit::TEMPFAIL,
            Error::State(_) | Error::Deliver(_) => exit::IOERR,
            Error::Locked { .. } | Error::Interrupted => exit::TEMPFAIL,
        }
    }
}

/// The exit status of one account's run: its error's, or 75 when it
/// succeeded but left mail for a retry (an MDA deferred it), so that cron
/// hears of it; else 0.
pub fn outcome_code(result: &Result<crate::fetch::Summary, Error>) -> u8 {
    match result {
        Err(e) => e.exit_code(),
        Ok(s) if s.deferred > 0 => exit::TEMPFAIL,
        Ok(_) => exit::OK,
    }
}

fn proto_exit_code(e: &ProtoError) -> u8 {
    match e {
        // A dropped or timed-out connection is worth retrying next run.
        ProtoError::Io(_) | ProtoError::Closed => exit::TEMPFAIL,
        ProtoError::Refused {
            code: Some(RespCode::Auth),
            ..
        } => exit::NOPERM,
        ProtoError::Refused { code: Some(c), .. } if c.is_temporary() => exit::TEMPFAIL,
        ProtoError::Refused { .. }
        | ProtoError::Malformed(_)
        | ProtoError::LineTooLong(_)
        | ProtoError::BadArgument => exit::PROTOCOL,
    }
}
