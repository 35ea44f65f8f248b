//! The library's top error, and the one place that turns an outcome into
//! an exit status (sysexits, as SPEC section 1 lists them).
//!
//! Every match below names every variant: a new error variant does not
//! compile until someone decides its status here.

use clap::error::ErrorKind as UsageKind;

use crate::auth::{AuthError, SaslError};
use crate::config::ConfigError;
use crate::deliver::DeliverError;
use crate::import::ImportError;
use crate::password::SecretError;
use crate::protocol::{ProtoError, RespCode};
use crate::shard::ShardError;
use crate::state::StateError;
use crate::transport::{SocksError, TransportError};

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
    #[error(transparent)]
    Import(#[from] ImportError),
    #[error(transparent)]
    Shard(#[from] ShardError),
    #[error(
        "another popfetch run is fetching {mailbox} right now (lock {path}); this run did nothing: it will be fetched next time"
    )]
    Locked { mailbox: String, path: String },
    /// Ctrl-C, SIGTERM or SIGHUP. The counts are what the account's run
    /// did before it (filled in by [`crate::fetch::fetch`]; 0 elsewhere,
    /// where nothing was done), so that the message says what really
    /// happened: an MDA lets the message in hand finish, a Maildir or mbox
    /// rolls it back.
    #[error("{}", interrupted_text(*delivered, *deleted))]
    Interrupted { delivered: usize, deleted: usize },
    /// The run was interrupted before this account's turn came: it was not
    /// touched at all.
    #[error(
        "not started: the run was interrupted before this account's turn; nothing was fetched \
         (the next run will)"
    )]
    NotStarted,
}

impl Error {
    /// An interrupt, before anything was done.
    pub fn interrupted() -> Error {
        Error::Interrupted {
            delivered: 0,
            deleted: 0,
        }
    }
}

fn interrupted_text(delivered: usize, deleted: usize) -> String {
    let delivered = match delivered {
        0 => "no message was delivered before the interrupt".to_string(),
        1 => "1 message was delivered and recorded before the interrupt".to_string(),
        n => format!("{n} messages were delivered and recorded before the interrupt"),
    };
    let deleted = match deleted {
        0 => "nothing was deleted from the server".to_string(),
        n => format!(
            "only the {n} an earlier session of this run had deleted are gone from the server"
        ),
    };
    format!("interrupted: {delivered}; {deleted}; the rest is fetched next time")
}

impl Error {
    /// The exit status for this error.
    pub fn exit_code(&self) -> u8 {
        match self {
            Error::Config(e) => config_code(e),
            Error::Secret(e) => secret_code(e),
            Error::Transport(e) => transport_code(e),
            Error::Protocol(e) => proto_code(e),
            Error::Auth(e) => auth_code(e),
            Error::State(e) => state_code(e),
            Error::Deliver(e) => deliver_code(e),
            Error::Import(e) => import_code(e),
            Error::Shard(e) => match e {
                // Two shards on one state directory: the setup is wrong.
                ShardError::Mismatch { .. } => exit::CONFIG,
                ShardError::State(e) => state_code(e),
            },
            Error::Locked { .. } | Error::Interrupted { .. } | Error::NotStarted => exit::TEMPFAIL,
        }
    }
}

/// The exit status of one account's run: its error's; or, when it
/// finished, 74 if a mail server refused `rejected` messages for good, 75
/// if messages were left for a retry — `deferred` by an MDA or a mail
/// server, or `refused_for_now` by the POP3 server as a temporary
/// condition (`[SYS/TEMP]`, `[IN-USE]`) — so that cron hears of it; else 0.
pub fn account_code(
    error: Option<&Error>,
    deferred: usize,
    refused_for_now: usize,
    rejected: usize,
) -> u8 {
    match error {
        Some(e) => e.exit_code(),
        None if rejected > 0 => exit::IOERR,
        None if deferred > 0 || refused_for_now > 0 => exit::TEMPFAIL,
        None => exit::OK,
    }
}

/// The exit status of a whole run: that of the first failing account in
/// config order; for `check` without failures, 0 with new mail, 1 without.
pub fn run_code(first_failure: Option<u8>, check_found_nothing: bool) -> u8 {
    match first_failure {
        Some(code) => code,
        None if check_found_nothing => exit::NO_NEW_MAIL,
        None => exit::OK,
    }
}

/// The exit status when the command line cannot be parsed: `--help` and
/// `--version` are not errors; everything else clap rejects is misuse,
/// EX_USAGE as the SPEC says (clap's own default would be 2).
pub fn usage_code(kind: UsageKind) -> u8 {
    match kind {
        UsageKind::DisplayHelp | UsageKind::DisplayVersion => exit::OK,
        _ => exit::USAGE,
    }
}

pub(crate) fn config_code(e: &ConfigError) -> u8 {
    match e {
        // The command line, not the file, is at fault.
        ConfigError::Usage { .. } | ConfigError::UnknownAccount { .. } => exit::USAGE,
        ConfigError::NoConfigFile { .. }
        | ConfigError::NoConfigDir
        | ConfigError::NamedConfigMissing { .. }
        | ConfigError::Read { .. }
        | ConfigError::Untrusted { .. }
        | ConfigError::Syntax { .. }
        | ConfigError::Invalid { .. }
        | ConfigError::NoAccounts { .. } => exit::CONFIG,
    }
}

fn secret_code(e: &SecretError) -> u8 {
    match e {
        // A helper that hangs (a token helper waiting on the network, a
        // keyring not yet unlocked) is worth another try, like a server
        // that does not answer; so is a run the user interrupted.
        SecretError::TimedOut { .. } | SecretError::Interrupted { .. } => exit::TEMPFAIL,
        SecretError::NoSource { .. }
        | SecretError::TooLong { .. }
        | SecretError::Spawn { .. }
        | SecretError::CommandFailed { .. }
        | SecretError::EmptyOutput { .. }
        | SecretError::NotText { .. }
        | SecretError::Prompt { .. }
        | SecretError::Unsendable { .. }
        | SecretError::EmptyPrompt { .. } => exit::CONFIG,
    }
}

fn transport_code(e: &TransportError) -> u8 {
    match e {
        // A slow network or server is worth retrying next run.
        TransportError::ConnectTimeout { .. }
        | TransportError::HandshakeTimeout { .. }
        | TransportError::NoGreeting { .. } => exit::TEMPFAIL,
        // The tls setting does not fit the port: what the port speaks was
        // seen, so the configuration is what to change.
        TransportError::PlainPort { .. } | TransportError::TlsPort { .. } => exit::CONFIG,
        TransportError::CaFile { .. }
        | TransportError::ClientCert { .. }
        | TransportError::ClientKey { .. }
        | TransportError::ClientKeyEncrypted { .. }
        | TransportError::ClientKeyMismatch { .. } => exit::CONFIG,
        TransportError::Resolve { .. }
        | TransportError::Connect { .. }
        | TransportError::Handshake { .. }
        | TransportError::Untrusted { .. }
        | TransportError::FingerprintMismatch { .. }
        | TransportError::NoStls { .. } => exit::UNAVAILABLE,
        TransportError::Proxy { source, .. } => socks_code(source),
    }
}

fn socks_code(e: &SocksError) -> u8 {
    match e {
        // A slow proxy, or a server too slow for the proxy (reply 6, TTL
        // expired), is worth retrying next run.
        SocksError::Timeout | SocksError::Refused(6) => exit::TEMPFAIL,
        SocksError::ProxyUnresolved(_)
        | SocksError::ProxyUnreachable(_)
        | SocksError::Closed
        | SocksError::Io(_)
        | SocksError::Refused(1..=8) => exit::UNAVAILABLE,
        SocksError::Malformed(_) | SocksError::Refused(_) => exit::PROTOCOL,
        SocksError::LoginWanted
        | SocksError::NoAcceptableMethod
        | SocksError::LoginRefused { .. } => exit::NOPERM,
        SocksError::HostTooLong(_) => exit::CONFIG,
    }
}

fn proto_code(e: &ProtoError) -> u8 {
    match e {
        // A dropped or timed-out connection is worth retrying next run.
        ProtoError::Io(_) | ProtoError::Closed | ProtoError::TooSlow(_) => exit::TEMPFAIL,
        ProtoError::Refused { code, .. } => match code {
            Some(RespCode::Auth) => exit::NOPERM,
            Some(c) if c.is_temporary() => exit::TEMPFAIL,
            Some(_) | None => exit::PROTOCOL,
        },
        ProtoError::Malformed(_)
        | ProtoError::LineTooLong(_)
        | ProtoError::Oversized(_)
        | ProtoError::BadArgument => exit::PROTOCOL,
    }
}

fn auth_code(e: &AuthError) -> u8 {
    match e {
        AuthError::Refused { code, .. } => match code {
            Some(c) if c.is_temporary() => exit::TEMPFAIL,
            Some(_) | None => exit::NOPERM,
        },
        AuthError::NoMechanism { .. }
        | AuthError::NoApopTimestamp { .. }
        | AuthError::Insecure { .. } => exit::NOPERM,
        // auth = "apop" with tls = "starttls" can never work.
        AuthError::ApopBeforeTls { .. } => exit::CONFIG,
        AuthError::Sasl { source, .. } => match source {
            SaslError::BadBase64 | SaslError::Unexpected(_) | SaslError::ServerSignature => {
                exit::PROTOCOL
            }
        },
        // A dropped connection, as ProtoError::Closed (whose length
        // explanation may not apply).
        AuthError::ClosedAfterLongResponse { .. } => exit::TEMPFAIL,
        AuthError::Protocol(p) => proto_code(p),
    }
}

fn state_code(e: &StateError) -> u8 {
    match e {
        StateError::Io { .. }
        | StateError::Corrupt { .. }
        | StateError::Link { .. }
        | StateError::Denied { .. } => exit::IOERR,
        // The user's setup, not the disk, is at fault.
        StateError::UnsafeDir { .. } => exit::CONFIG,
    }
}

fn import_code(e: &ImportError) -> u8 {
    match e {
        ImportError::Usage { .. } => exit::USAGE,
        // A peer's file that cannot be read or understood is configuration.
        ImportError::Read { .. }
        | ImportError::Syntax { .. }
        | ImportError::Unusable { .. }
        | ImportError::Internal { .. } => exit::CONFIG,
    }
}

fn deliver_code(e: &DeliverError) -> u8 {
    match e {
        // Another program holding the mbox, or an MDA asking to be called
        // again, is a reason to try later.
        DeliverError::MboxLocked { .. } | DeliverError::Deferred(_) => exit::TEMPFAIL,
        // A mail server that is down, busy or went away: try again later.
        DeliverError::RelayConnect { .. } | DeliverError::RelayLost { .. } => exit::TEMPFAIL,
        DeliverError::RelayRefused { temporary, .. } => {
            if *temporary {
                exit::TEMPFAIL
            } else {
                exit::IOERR
            }
        }
        DeliverError::RelayProtocol { .. } => exit::PROTOCOL,
        DeliverError::Create { .. }
        | DeliverError::Write { .. }
        | DeliverError::MboxOpen { .. }
        | DeliverError::Spool { .. }
        | DeliverError::CutBack { .. }
        | DeliverError::MboxForeign { .. }
        | DeliverError::MdaMissing { .. }
        | DeliverError::MdaConfig(_)
        | DeliverError::MdaSpawn { .. }
        | DeliverError::MdaFailed { .. }
        | DeliverError::Rejected(_) => exit::IOERR,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_of_a_run() {
        assert_eq!(run_code(Some(77), true), 77);
        assert_eq!(run_code(None, true), exit::NO_NEW_MAIL);
        assert_eq!(run_code(None, false), exit::OK);
        assert_eq!(account_code(None, 2, 0, 0), exit::TEMPFAIL);
        assert_eq!(account_code(None, 2, 0, 1), exit::IOERR);
        assert_eq!(account_code(None, 0, 1, 0), exit::TEMPFAIL);
        assert_eq!(account_code(None, 0, 0, 0), exit::OK);
        let interrupted = Error::interrupted();
        assert_eq!(account_code(Some(&interrupted), 0, 0, 3), exit::TEMPFAIL);
    }

    #[test]
    fn an_interrupt_says_what_was_done_before_it() {
        let text = |delivered, deleted| Error::Interrupted { delivered, deleted }.to_string();
        assert_eq!(
            text(0, 0),
            "interrupted: no message was delivered before the interrupt; nothing was deleted \
             from the server; the rest is fetched next time"
        );
        assert_eq!(
            text(2, 0),
            "interrupted: 2 messages were delivered and recorded before the interrupt; nothing \
             was deleted from the server; the rest is fetched next time"
        );
        assert!(text(1, 3).contains("1 message was delivered"));
        assert!(text(1, 3).contains("only the 3 an earlier session of this run had deleted"));
        assert!(!text(5, 0).contains("rolled back"));
    }

    #[test]
    fn usage_statuses() {
        assert_eq!(usage_code(UsageKind::DisplayHelp), exit::OK);
        assert_eq!(usage_code(UsageKind::DisplayVersion), exit::OK);
        assert_eq!(usage_code(UsageKind::UnknownArgument), exit::USAGE);
    }

    #[test]
    fn transport_statuses() {
        let e = Error::from(TransportError::ConnectTimeout {
            host: "h".into(),
            port: 1,
        });
        assert_eq!(e.exit_code(), exit::TEMPFAIL);
        let e = Error::from(TransportError::NoStls { host: "h".into() });
        assert_eq!(e.exit_code(), exit::UNAVAILABLE);
        let e = Error::from(TransportError::PlainPort { host: "h".into() });
        assert_eq!(e.exit_code(), exit::CONFIG);
        assert!(e.to_string().contains("use tls = \"starttls\""), "{e}");
        let e = Error::from(TransportError::TlsPort {
            host: "h".into(),
            secs: 3,
        });
        assert_eq!(e.exit_code(), exit::CONFIG);
        assert!(e.to_string().contains("use tls = \"implicit\""), "{e}");
        let e = Error::from(TransportError::NoGreeting {
            host: "h".into(),
            secs: 60,
        });
        assert_eq!(e.exit_code(), exit::TEMPFAIL);
    }
}
