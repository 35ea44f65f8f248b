//! `commit_every = N`: QUIT (which commits) after every N deletions and go
//! on in a new session, so that a dropped line undoes at most N deletions.

use std::sync::Arc;

use crate::common::corpus;
use crate::common::env::{TestEnv, assert_same_messages, config_of, read_maildir};
use crate::common::kill::delivered_uids;
use crate::common::script::{Maildrop, Reply, ScriptServer};
use crate::hostile::{lines_of, scripted, verb};

const EX_TEMPFAIL: i32 = 75;

#[test]
fn commit_every_quits_after_every_n_deletions_and_goes_on() {
    let msgs = corpus::corpus(3101, 5);
    let drop = Maildrop::new(crate::common::USER, crate::common::PASSWORD, msgs.clone());
    let srv = ScriptServer::maildrop(Arc::clone(&drop));
    let env = TestEnv::new();
    let maildir = env.path("Maildir");
    let acct = scripted("work", srv.port(), &maildir, false).raw("commit_every", "2");
    let cfg = env.write_config(&config_of(&[&acct]));
    let out = env.run(&["-c", cfg.to_str().unwrap()]);
    out.assert_success();
    assert!(
        out.stderr.contains("5 new") && out.stderr.contains("5 deleted"),
        "{out}"
    );
    assert_same_messages(&read_maildir(&maildir), &msgs);
    assert_eq!(drop.remaining(), 0);
    // Sessions of 2, 2 and 1 deletions, each ended by QUIT (then, as
    // after any run that emptied the mailbox, one more looks for a next
    // page, finding nothing).
    assert!(srv.connections() <= 4, "{:?}", srv.commands());
    for (conn, want) in [(0, 2), (1, 2), (2, 1), (3, 0)] {
        let verbs: Vec<String> = lines_of(&srv, conn).iter().map(|l| verb(l)).collect();
        let deles = verbs.iter().filter(|v| *v == "DELE").count();
        let retrs = verbs.iter().filter(|v| *v == "RETR").count();
        assert_eq!((retrs, deles), (want, want), "connection {conn}: {verbs:?}");
        if want > 0 {
            assert_eq!(verbs.last().map(String::as_str), Some("QUIT"), "{verbs:?}");
        }
    }
}

#[test]
fn without_commit_every_one_session_deletes_everything() {
    let msgs = corpus::corpus(3102, 5);
    let drop = Maildrop::new(crate::common::USER, crate::common::PASSWORD, msgs.clone());
    let srv = ScriptServer::maildrop(Arc::clone(&drop));
    let env = TestEnv::new();
    let maildir = env.path("Maildir");
    let acct = scripted("work", srv.port(), &maildir, false).raw("commit_every", "0");
    let cfg = env.write_config(&config_of(&[&acct]));
    env.run(&["-c", cfg.to_str().unwrap()]).assert_success();
    let deles: Vec<usize> = srv
        .received()
        .iter()
        .filter(|r| verb(&r.line) == "DELE")
        .map(|r| r.conn)
        .collect();
    assert_eq!(deles, [0; 5]);
    assert_eq!(drop.remaining(), 0);
}

#[test]
fn a_line_dropped_after_the_first_commit_keeps_its_deletions_and_the_next_run_finishes() {
    let msgs = corpus::corpus(3103, 5);
    let drop = Maildrop::new(crate::common::USER, crate::common::PASSWORD, msgs.clone());
    // The second session's line drops in the middle of its second
    // message: the first session's QUIT made 2 deletions real, the
    // second session delivered one more message but deleted nothing.
    let srv = ScriptServer::maildrop_except(Arc::clone(&drop), |conn, line| {
        (conn == 1 && line == "RETR 2").then_some(Reply::Close)
    });
    let env = TestEnv::new();
    let maildir = env.path("Maildir");
    let acct = scripted("work", srv.port(), &maildir, false).raw("commit_every", "2");
    let cfg = env.write_config(&config_of(&[&acct]));
    let cfg = cfg.to_str().unwrap();

    let out = env.run(&["-c", cfg]);
    out.assert_code(EX_TEMPFAIL);
    assert!(out.stderr.contains("2 deleted"), "{out}");
    assert_eq!(drop.remaining(), 3, "the first batch's deletions are real");
    let got = read_maildir(&maildir);
    assert_same_messages(&got, &msgs[..3]);
    let uids: Vec<String> = (0..3).map(Maildrop::uid).collect();
    assert_eq!(delivered_uids(&env.state_dir()), uids);
    // Only the first session deleted.
    let deles: Vec<usize> = srv
        .received()
        .iter()
        .filter(|r| verb(&r.line) == "DELE")
        .map(|r| r.conn)
        .collect();
    assert_eq!(deles, vec![0, 0]);

    // The next run deletes the message already delivered without fetching
    // it again, and fetches the rest.
    let out = env.run(&["-c", cfg]);
    out.assert_success();
    assert_same_messages(&read_maildir(&maildir), &msgs);
    assert_eq!(drop.remaining(), 0);
    // Message 3 (now number 1) was delivered in the first run: the
    // second run fetches numbers 2 and 3 only.
    let retrs: Vec<String> = srv
        .received()
        .into_iter()
        .filter(|r| r.conn >= 2 && verb(&r.line) == "RETR")
        .map(|r| r.line)
        .collect();
    assert_eq!(retrs, ["RETR 2", "RETR 3"]);
}

#[test]
fn commit_every_also_splits_the_deletions_of_kept_mail() {
    let msgs = corpus::corpus(3104, 5);
    let drop = Maildrop::new(crate::common::USER, crate::common::PASSWORD, msgs.clone());
    let srv = ScriptServer::maildrop(Arc::clone(&drop));
    let env = TestEnv::new();
    let maildir = env.path("Maildir");
    let acct = scripted("work", srv.port(), &maildir, true)
        .raw("delete_after_days", "0")
        .raw("commit_every", "2");
    let cfg = env.write_config(&config_of(&[&acct]));
    let cfg = cfg.to_str().unwrap();
    // Recorded as delivered now: more than 0 days old a second later.
    env.run(&["adopt", "-c", cfg]).assert_success();
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let before = srv.connections();
    let out = env.run(&["-c", cfg]);
    out.assert_success();
    assert!(out.stderr.contains("5 deleted"), "{out}");
    assert_eq!(drop.remaining(), 0);
    assert!(read_maildir(&maildir).is_empty());
    let deles: Vec<usize> = (before..srv.connections())
        .map(|c| {
            lines_of(&srv, c)
                .iter()
                .filter(|l| verb(l) == "DELE")
                .count()
        })
        .collect();
    assert_eq!(deles, [2, 2, 1], "{:?}", srv.commands());
}
