//! The same end-to-end runs against each real POP3 server: Dovecot and
//! Courier. Two implementations, two sets of quirks (CAPA, UIDs, the
//! greeting, how STLS and implicit TLS are served), one behaviour: 50
//! seeded messages arrive byte for byte over TLS verified with the test's
//! CA, `keep` leaves them and a second run delivers nothing, and otherwise
//! they are deleted from the server.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::common::corpus::corpus;
use crate::common::courier::Courier;
use crate::common::dovecot::{Dovecot, Options, Tls};
use crate::common::env::{
    AccountToml, Output, TestEnv, assert_same_messages, config_of, maildir_tmp_files, read_maildir,
};
use crate::common::mailstore;
use crate::common::{PASSWORD, USER, wait_until};

/// What the runs need of a server.
trait Server: Sized {
    /// `None` when the test is to be skipped (never with `CI=true`).
    fn start() -> Option<Self>;
    fn add_user(&self, user: &str, password: &str);
    fn load_mailbox(&self, user: &str, messages: &[Vec<u8>]);
    fn remaining(&self, user: &str) -> usize;
    fn account(&self, name: &str, tls: Tls, maildir: &Path) -> AccountToml;
}

/// The methods both servers have under the same names.
macro_rules! delegate {
    () => {
        fn add_user(&self, user: &str, password: &str) {
            Self::add_user(self, user, password);
        }
        fn load_mailbox(&self, user: &str, messages: &[Vec<u8>]) {
            Self::load_mailbox(self, user, messages);
        }
        fn remaining(&self, user: &str) -> usize {
            Self::remaining(self, user)
        }
    };
}

impl Server for Dovecot {
    delegate!();
    fn start() -> Option<Self> {
        Dovecot::start(Options::default())
    }
    fn account(&self, name: &str, tls: Tls, maildir: &Path) -> AccountToml {
        Dovecot::account(self, name, USER, PASSWORD, tls, maildir)
    }
}

impl Server for Courier {
    delegate!();
    fn start() -> Option<Self> {
        Courier::start()
    }
    fn account(&self, name: &str, tls: Tls, maildir: &Path) -> AccountToml {
        mailstore::account(
            name,
            tls,
            (self.pop3_port(), self.pop3s_port()),
            (USER, PASSWORD),
            &self.ca_pem_path(),
            maildir,
        )
    }
}

/// What a run needs: a server with `USER` holding 50 corpus messages for
/// `seed`, the messages, and one account of it in a fresh environment (the
/// environment, the Maildir it delivers to, the config file). `None` when
/// the test is to be skipped.
struct Setup<S> {
    server: S,
    msgs: Vec<Vec<u8>>,
    env: TestEnv,
    maildir: PathBuf,
    cfg: String,
}

fn setup<S: Server>(seed: u64, tls: Tls, keep: bool) -> Option<Setup<S>> {
    let server = S::start()?;
    server.add_user(USER, PASSWORD);
    let msgs = corpus(seed, 50);
    server.load_mailbox(USER, &msgs);
    let env = TestEnv::new();
    let maildir = env.path("Maildir");
    let acct = server
        .account("srv", tls, &maildir)
        .raw("keep", keep.to_string());
    let cfg = env.write_config(&config_of(&[&acct])).display().to_string();
    Some(Setup {
        server,
        msgs,
        env,
        maildir,
        cfg,
    })
}

/// A run with `--json`: its output, checked to succeed, and its one JSON
/// object.
fn run(env: &TestEnv, cfg: &str) -> (Output, serde_json::Value) {
    let out = env.run(&["--json", "-c", cfg]);
    out.assert_success();
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(lines.len(), 1, "one JSON line\n{out}");
    let json = serde_json::from_str(lines[0]).unwrap_or_else(|e| panic!("{e}\n{out}"));
    (out, json)
}

/// Implicit TLS, `keep = false`: every message byte for byte, then gone
/// from the server, and a second run finds nothing.
fn fetches_50_byte_for_byte_and_deletes_them<S: Server>(seed: u64) {
    let Some(t) = setup::<S>(seed, Tls::Implicit, false) else {
        return;
    };
    let (server, msgs, env, maildir, cfg) = (&t.server, &t.msgs, &t.env, &t.maildir, &t.cfg);

    let (out, j) = run(env, cfg);
    assert_same_messages(&read_maildir(maildir), msgs);
    assert!(maildir_tmp_files(maildir).is_empty());
    assert_eq!(
        (j["new"].as_u64(), j["deleted"].as_u64()),
        (Some(50), Some(50)),
        "{out}"
    );
    // Courier answers QUIT before it has removed the messages: give it a
    // moment, as the next client would.
    assert!(
        wait_until(Duration::from_secs(20), || server.remaining(USER) == 0),
        "keep = false deletes what was delivered: {} left",
        server.remaining(USER)
    );

    let (again, j) = run(env, cfg);
    assert_eq!(j["on_server"].as_u64(), Some(0), "{again}");
    assert_same_messages(&read_maildir(maildir), msgs);
}

/// STLS, `keep = true`: every message byte for byte and all left on the
/// server; a second run delivers nothing twice.
fn keeps_them_and_a_second_run_delivers_nothing<S: Server>(seed: u64) {
    let Some(t) = setup::<S>(seed, Tls::Starttls, true) else {
        return;
    };
    let (server, msgs, env, maildir, cfg) = (&t.server, &t.msgs, &t.env, &t.maildir, &t.cfg);

    let (first, j) = run(env, cfg);
    assert_same_messages(&read_maildir(maildir), msgs);
    assert_eq!(j["new"].as_u64(), Some(50), "{first}");
    assert_eq!(server.remaining(USER), 50, "keep = true deletes nothing");

    let (second, j) = run(env, cfg);
    assert_eq!(
        (j["new"].as_u64(), j["on_server"].as_u64()),
        (Some(0), Some(50)),
        "{second}"
    );
    assert_same_messages(&read_maildir(maildir), msgs);
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
