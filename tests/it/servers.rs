//! The same end-to-end runs against each real POP3 server: Dovecot and
//! Courier. Two implementations, two sets of quirks (CAPA, UIDs, the
//! greeting, how STLS and implicit TLS are served), one behaviour: 50
//! seeded messages arrive byte for byte over TLS verified with the test's
//! CA, `keep` leaves them and a second run delivers nothing, and otherwise
//! they are deleted from the server.

use std::path::Path;

use crate::common::corpus::corpus;
use crate::common::courier::Courier;
use crate::common::dovecot::{Dovecot, Options, Tls};
use crate::common::env::{
    AccountToml, Output, TestEnv, assert_same_messages, config_of, maildir_tmp_files, read_maildir,
};
use crate::common::{PASSWORD, USER};

/// What the runs need of a server.
trait Server: Sized {
    /// `None` when the test is to be skipped (never with `CI=true`).
    fn start() -> Option<Self>;
    fn add_user(&self, user: &str, password: &str);
    fn load_mailbox(&self, user: &str, messages: &[Vec<u8>]);
    fn remaining(&self, user: &str) -> usize;
    fn account(&self, name: &str, tls: Tls, maildir: &Path) -> AccountToml;
}

impl Server for Dovecot {
    fn start() -> Option<Self> {
        Dovecot::start(Options::default())
    }
    fn add_user(&self, user: &str, password: &str) {
        Dovecot::add_user(self, user, password);
    }
    fn load_mailbox(&self, user: &str, messages: &[Vec<u8>]) {
        Dovecot::load_mailbox(self, user, messages);
    }
    fn remaining(&self, user: &str) -> usize {
        Dovecot::remaining(self, user)
    }
    fn account(&self, name: &str, tls: Tls, maildir: &Path) -> AccountToml {
        Dovecot::account(self, name, USER, PASSWORD, tls, maildir)
    }
}

impl Server for Courier {
    fn start() -> Option<Self> {
        Courier::start()
    }
    fn add_user(&self, user: &str, password: &str) {
        Courier::add_user(self, user, password);
    }
    fn load_mailbox(&self, user: &str, messages: &[Vec<u8>]) {
        Courier::load_mailbox(self, user, messages);
    }
    fn remaining(&self, user: &str) -> usize {
        Courier::remaining(self, user)
    }
    fn account(&self, name: &str, tls: Tls, maildir: &Path) -> AccountToml {
        Courier::account(self, name, USER, PASSWORD, tls, maildir)
    }
}

/// A server with `USER` holding 50 corpus messages for `seed`.
fn server_with_mail<S: Server>(seed: u64) -> Option<(S, Vec<Vec<u8>>)> {
    let s = S::start()?;
    s.add_user(USER, PASSWORD);
    let msgs = corpus(seed, 50);
    s.load_mailbox(USER, &msgs);
    Some((s, msgs))
}

/// The one `--json` object of a single-account run.
fn json(out: &Output) -> serde_json::Value {
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(lines.len(), 1, "one JSON line\n{out}");
    serde_json::from_str(lines[0]).unwrap_or_else(|e| panic!("{e}\n{out}"))
}

/// Implicit TLS, `keep = false`: every message byte for byte, then gone
/// from the server.
fn fetches_50_byte_for_byte_and_deletes_them<S: Server>(seed: u64) {
    let Some((server, msgs)) = server_with_mail::<S>(seed) else {
        return;
    };
    let env = TestEnv::new();
    let maildir = env.path("Maildir");
    let acct = server
        .account("srv", Tls::Implicit, &maildir)
        .raw("keep", "false");
    let cfg = env.write_config(&config_of(&[&acct]));

    let out = env.run(&["--json", "-c", cfg.to_str().unwrap()]);
    out.assert_success();
    assert_same_messages(&read_maildir(&maildir), &msgs);
    assert!(maildir_tmp_files(&maildir).is_empty());
    let j = json(&out);
    assert_eq!(
        (j["new"].as_u64(), j["deleted"].as_u64()),
        (Some(50), Some(50)),
        "{out}"
    );
    assert_eq!(
        server.remaining(USER),
        0,
        "keep = false deletes what was delivered"
    );

    // Nothing left: a second run finds and delivers nothing.
    let again = env.run(&["--json", "-c", cfg.to_str().unwrap()]);
    again.assert_success();
    assert_eq!(json(&again)["on_server"].as_u64(), Some(0), "{again}");
    assert_same_messages(&read_maildir(&maildir), &msgs);
}

/// STLS, `keep = true`: every message byte for byte and all left on the
/// server; a second run delivers nothing twice.
fn keeps_them_and_a_second_run_delivers_nothing<S: Server>(seed: u64) {
    let Some((server, msgs)) = server_with_mail::<S>(seed) else {
        return;
    };
    let env = TestEnv::new();
    let maildir = env.path("Maildir");
    let acct = server
        .account("srv", Tls::Starttls, &maildir)
        .raw("keep", "true");
    let cfg = env.write_config(&config_of(&[&acct]));

    let first = env.run(&["--json", "-c", cfg.to_str().unwrap()]);
    first.assert_success();
    assert_same_messages(&read_maildir(&maildir), &msgs);
    assert_eq!(json(&first)["new"].as_u64(), Some(50), "{first}");
    assert_eq!(server.remaining(USER), 50, "keep = true deletes nothing");

    let second = env.run(&["--json", "-c", cfg.to_str().unwrap()]);
    second.assert_success();
    let j = json(&second);
    assert_eq!(
        (j["new"].as_u64(), j["on_server"].as_u64()),
        (Some(0), Some(50)),
        "{second}"
    );
    assert_same_messages(&read_maildir(&maildir), &msgs);
    assert_eq!(server.remaining(USER), 50);
}

/// The tests above, once per server.
macro_rules! against {
    ($server:ident, $ty:ty, $seed:expr) => {
        mod $server {
            use super::*;

            #[test]
            fn implicit_tls_fetches_50_byte_for_byte_and_deletes_them() {
                fetches_50_byte_for_byte_and_deletes_them::<$ty>($seed);
            }

            #[test]
            fn starttls_keep_then_a_second_run_delivers_nothing() {
                keeps_them_and_a_second_run_delivers_nothing::<$ty>($seed + 1);
            }
        }
    };
}

against!(dovecot, Dovecot, 900);
against!(courier, Courier, 910);
