//! The local side under hostile or careless conditions: files planted where
//! popfetch writes, permissions others could abuse, numbers out of range,
//! control characters in credentials, two accounts for one mailbox. Every
//! test runs the real binary against a scripted server (no Dovecot needed).

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::sync::Arc;

use crate::common::corpus;
use crate::common::env::{AccountToml, TestEnv, config_of};
use crate::common::script::{Maildrop, ScriptServer};
use crate::common::{PASSWORD, USER};
use crate::hostile::scripted;

const EX_IOERR: i32 = 74;
const EX_CONFIG: i32 = 78;

/// A mailbox of `n` messages on a scripted server.
fn server(seed: u64, n: usize) -> (Arc<Maildrop>, ScriptServer, Vec<Vec<u8>>) {
    let msgs = corpus::corpus(seed, n);
    let drop = Maildrop::new(USER, PASSWORD, msgs.clone());
    let srv = ScriptServer::maildrop(Arc::clone(&drop));
    (drop, srv, msgs)
}

/// The account of [`scripted`] delivering to the mbox `path` instead.
fn mbox_account(name: &str, port: u16, path: &Path) -> AccountToml {
    scripted(name, port, Path::new("unused"), false)
        .remove("maildir")
        .str("mbox", &path.display().to_string())
}

fn mode(path: &Path) -> u32 {
    fs::symlink_metadata(path).unwrap().permissions().mode() & 0o7777
}

#[test]
fn new_directories_are_private_under_umask_0_and_existing_parents_keep_their_mode() {
    let (drop, srv, _) = server(31, 3);
    let env = TestEnv::new();
    let mail = env.path("Mail");
    fs::create_dir(&mail).unwrap();
    fs::set_permissions(&mail, fs::Permissions::from_mode(0o751)).unwrap();
    let state_home_mode = mode(&env.state_home());
    let mbox = mail.join("a/b/inbox");
    let cfg = env.write_config(&config_of(&[&mbox_account("m", srv.port(), &mbox)]));

    env.run_with_umask(0o000, &["-c", cfg.to_str().unwrap()])
        .assert_success();
    assert_eq!(drop.remaining(), 0);
    assert_eq!(mode(&mail), 0o751, "an existing parent keeps its mode");
    assert_eq!(mode(&env.state_home()), state_home_mode);
    for d in [
        mail.join("a"),
        mail.join("a/b"),
        env.state_dir(),
        env.state_dir().join("spool"),
    ] {
        assert_eq!(mode(&d), 0o700, "{}", d.display());
    }
    assert_eq!(mode(&mbox), 0o600);
}
