//! popfetch: fetch mail from POP3 servers into a Maildir, an mbox or an MDA.
//!
//! Data flows one way:
//!
//! ```text
//! config -> account -> session (protocol over transport) -> plan (policy over state)
//!        -> deliveries -> state -> deletions -> report
//! ```
//!
//! Only `transport` touches sockets; only `deliver` and `state` touch the
//! filesystem; `fetch` is the one place that orders side effects, and
//! `error` is the one place that chooses an exit code.

pub mod account;
pub mod auth;
pub mod cli;
pub mod config;
pub(crate) mod deliver;
pub mod error;
pub mod fetch;
pub mod interrupt;
pub mod password;
pub mod policy;
pub mod protocol;
pub mod report;
pub mod run;
pub mod secret;
pub mod session;
pub mod state;
pub mod text;
pub mod transport;
