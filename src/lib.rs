//! popfetch: fetch mail from POP3 servers into a Maildir, an mbox or an MDA.
//!
//! Data flows one way, one module per stage:
//!
//! ```text
//! config -> account -> session (protocol, auth over transport) -> policy (plan over state)
//!        -> deliver -> state -> session (deletions) -> report
//! ```
//!
//! `fetch` orders those side effects for one account and is the file to
//! read for "nothing lost, nothing twice"; `run` runs the command line over
//! every account. Only `transport` opens sockets (`interrupt` only cuts
//! them); only `deliver` and `state` write files; other programs (the
//! password command, the MDA) are started and watched only by `child`; `error` is the one place that
//! chooses an exit status.
//!
//! The library's surface is what the binary, the integration tests and the
//! benches use; everything else is private to the crate.

mod account;
mod adopt;
mod auth;
mod child;
mod cli;
mod clock;
mod config;
mod daemon;
mod deliver;
mod error;
mod fetch;
mod import;
mod interrupt;
mod log;
mod password;
mod policy;
mod protocol;
mod report;
mod run;
mod secret;
mod serverinfo;
mod session;
mod shard;
mod state;
mod text;
mod transport;

#[cfg(any(test, feature = "fuzzing"))]
#[doc(hidden)]
pub mod fuzzing;

pub use cli::Cli;
pub use error::usage_code;
pub use run::run;

/// For the integration tests and the benches.
pub use deliver::mbox::format::FromQuoter;
pub use protocol::multiline::DotDecoder;
pub use protocol::response::parse_status;
pub use state::{Paths, UidState};
