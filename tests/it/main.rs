//! Integration tests: the real `popfetch` binary against a real Dovecot on
//! loopback (tests/it/common/dovecot.rs) and a scripted POP3 server for
//! faults (tests/it/common/script.rs). One test binary, so that linking
//! happens once.
//!
//! Tests that need Dovecot skip with a loud message when it is missing, and
//! fail instead when CI=true.

mod common;

mod addresses;
mod adopt;
mod auth;
mod bounds;
mod certificates;
mod cli;
mod client_cert;
mod commit;
mod crash;
mod deliver;
mod fetch;
mod fixture;
mod hostile;
mod import;
mod interrupt;
mod local;
mod logging;
mod long_secrets;
mod oauth;
mod parallel;
mod pipelining;
mod policy;
mod programs;
mod proxy;
mod relay;
mod scram;
mod secrets;
mod servers;
mod terminal;
mod tls;
