//! `popfetch adopt` against Dovecot: every message on the server is
//! recorded as delivered and none is downloaded; a fetch with keep then
//! downloads nothing, and after new mail arrives, exactly that. `--json`
//! reports `adopted`; a held lock is exit 75 and changes nothing.

use crate::common::dovecot::{Options, Tls};
use crate::common::env::{TestEnv, assert_same_messages, config_of, read_maildir};
use crate::common::{PASSWORD, USER, corpus, dovecot_with_mail, hold_lock};
use popfetch::{Paths, UidState};

const EX_TEMPFAIL: i32 = 75;

#[test]
fn adopt_records_everything_and_a_keep_fetch_then_gets_only_new_mail() {
    let Some((dc, first)) = dovecot_with_mail(Options::default(), 741, 40) else {
        return;
    };
    let env = TestEnv::new();
    let maildir = env.path("Mail/work");
    let acct = dc
        .account("work", USER, PASSWORD, Tls::Implicit, &maildir)
        .raw("keep", "true");
    let cfg = env.write_config(&config_of(&[&acct]));
    let cfg = cfg.to_str().unwrap();

    let adopt = env.run(&["-c", cfg, "adopt"]);
    adopt.assert_success();
    assert!(
        adopt.stderr.contains(
            "work: adopted 40 messages already on the server; they will not be downloaded"
        ),
        "{adopt}"
    );
    assert!(read_maildir(&maildir).is_empty(), "adopt downloads nothing");
    assert_eq!(dc.remaining(USER), first.len(), "adopt deletes nothing");
    let paths = Paths::new(
        &env.state_dir(),
        &format!("{USER}@127.0.0.1:{}", dc.pop3s_port()),
    );
    let state = UidState::load(&paths.state).unwrap();
    assert_eq!(state.len(), 40);

    let fetch = env.run(&["-c", cfg]);
    fetch.assert_success();
    assert!(fetch.stderr.contains("work: no new mail"), "{fetch}");
    assert!(read_maildir(&maildir).is_empty());

    let more = corpus::corpus(742, 4);
    dc.load_mailbox(USER, &more);
    let fetch = env.run(&["-c", cfg]);
    fetch.assert_success();
    assert!(fetch.stderr.contains("work: 4 new"), "{fetch}");
    assert_same_messages(&read_maildir(&maildir), &more);
    assert_eq!(dc.remaining(USER), 44);
}

#[test]
fn adopt_json_counts_what_was_adopted_and_a_held_lock_is_temporary() {
    let Some((dc, _)) = dovecot_with_mail(Options::default(), 743, 12) else {
        return;
    };
    let env = TestEnv::new();
    let a = dc
        .account("a", USER, PASSWORD, Tls::Implicit, &env.path("A"))
        .raw("keep", "true");
    let b = dc
        .account("b", USER, PASSWORD, Tls::Starttls, &env.path("B"))
        .raw("keep", "true");
    let cfg = env.write_config(&config_of(&[&a, &b]));
    let cfg = cfg.to_str().unwrap();

    let out = env.run(&["-c", cfg, "adopt", "a", "--json"]);
    out.assert_success();
    let v: serde_json::Value = serde_json::from_str(out.stdout.trim()).unwrap();
    assert_eq!(v["account"], "a");
    assert_eq!(v["command"], "adopt");
    assert_eq!(v["ok"], true);
    assert_eq!(v["adopted"], 12);
    assert_eq!(v["on_server"], 12);

    // Again: nothing new to adopt.
    let again = env.run(&["-c", cfg, "adopt", "a"]);
    again.assert_success();
    assert!(
        again
            .stderr
            .contains("a: all 12 messages on the server were already recorded"),
        "{again}"
    );

    // Another run holds b's lock: b fails with 75, its state untouched.
    let paths = Paths::new(
        &env.state_dir(),
        &format!("{USER}@127.0.0.1:{}", dc.pop3_port()),
    );
    let _lock = hold_lock(&paths.lock);
    let locked = env.run(&["-c", cfg, "adopt", "b", "--json"]);
    locked.assert_code(EX_TEMPFAIL);
    let v: serde_json::Value = serde_json::from_str(locked.stdout.trim()).unwrap();
    assert_eq!(v["ok"], false);
    assert_eq!(v["adopted"], 0);
    assert!(!paths.state.exists(), "nothing recorded under a held lock");
}
