//! The core fetch end to end against Dovecot: every byte of every message
//! arrives, deletion follows `keep`, a second run delivers nothing twice,
//! `-q` is silent, the Received: header is the only change, and what
//! popfetch creates is private whatever the umask.

use crate::common::dovecot::{Options, Tls};
use crate::common::env::{
    TestEnv, assert_private, assert_same_messages, config_of, maildir_tmp_files, read_maildir,
};
use crate::common::{PASSWORD, USER, dovecot_with_mail};

#[test]
fn implicit_tls_delivers_500_messages_byte_for_byte_and_empties_the_server() {
    let Some((dc, msgs)) = dovecot_with_mail(Options::default(), 500, 500) else {
        return;
    };
    let env = TestEnv::new();
    // Neither the Maildir nor its parent exists yet.
    let maildir = env.path("Mail/work");
    let acct = dc
        .account("work", USER, PASSWORD, Tls::Implicit, &maildir)
        .raw("keep", "false");
    // The default location: $XDG_CONFIG_HOME/popfetch/config.toml.
    env.write_config(&config_of(&[&acct]));

    let out = env.run(&[]);
    out.assert_success();
    assert_same_messages(&read_maildir(&maildir), &msgs);
    assert!(maildir_tmp_files(&maildir).is_empty(), "tmp/ must be empty");
    assert_eq!(
        dc.remaining(USER),
        0,
        "keep = false deletes what was delivered"
    );
    assert!(
        out.stderr
            .lines()
            .any(|l| l.contains("work") && l.contains("500")),
        "the summary names the account and the count\n{out}"
    );
    assert!(out.stdout.is_empty(), "stdout is for --json only\n{out}");
}

#[test]
fn keep_leaves_every_message_and_a_second_run_delivers_nothing_new() {
    let Some((dc, msgs)) = dovecot_with_mail(Options::default(), 501, 500) else {
        return;
    };
    let env = TestEnv::new();
    let maildir = env.path("Maildir");
    let acct = dc
        .account("kept", USER, PASSWORD, Tls::Implicit, &maildir)
        .raw("keep", "true");
    let cfg = env.path("popfetch.toml");
    env.write_config_at(&cfg, &config_of(&[&acct]));
    let cfg = cfg.to_str().unwrap();

    let first = env.run(&["-c", cfg]);
    first.assert_success();
    assert_same_messages(&read_maildir(&maildir), &msgs);
    assert_eq!(dc.remaining(USER), 500, "keep = true deletes nothing");

    let second = env.run(&["-c", cfg]);
    second.assert_success();
    assert_same_messages(&read_maildir(&maildir), &msgs);
    assert_eq!(dc.remaining(USER), 500);
    assert!(
        second.stderr.lines().any(|l| l.contains("kept")),
        "a summary line for the account\n{second}"
    );
}

#[test]
fn quiet_run_prints_nothing_on_success() {
    let Some((dc, msgs)) = dovecot_with_mail(Options::default(), 502, 10) else {
        return;
    };
    let env = TestEnv::new();
    let maildir = env.path("Maildir");
    let acct = dc.account("cron", USER, PASSWORD, Tls::Implicit, &maildir);
    let cfg = env.write_config(&config_of(&[&acct]));

    let out = env.run(&["-q", "-c", cfg.to_str().unwrap()]);
    out.assert_success();
    assert_eq!(out.stdout, "", "{out}");
    assert_eq!(out.stderr, "", "{out}");
    assert_same_messages(&read_maildir(&maildir), &msgs);
}

#[test]
fn empty_mailbox_is_a_successful_run() {
    let Some((dc, _)) = dovecot_with_mail(Options::default(), 503, 0) else {
        return;
    };
    let env = TestEnv::new();
    let maildir = env.path("Maildir");
    let acct = dc.account("empty", USER, PASSWORD, Tls::Implicit, &maildir);
    let cfg = env.write_config(&config_of(&[&acct]));

    let out = env.run(&["-c", cfg.to_str().unwrap()]);
    out.assert_success();
    assert!(read_maildir(&maildir).is_empty());
    assert!(
        out.stderr.contains("empty"),
        "summary names the account\n{out}"
    );
}

/// Splits a delivered message into (trace header block, original) where the
/// original is the corpus message it ends with.
fn strip_received<'a>(delivered: &'a [u8], corpus: &[Vec<u8>]) -> (&'a [u8], usize) {
    let idx = corpus
        .iter()
        .position(|m| delivered.ends_with(m) && delivered.len() > m.len())
        .unwrap_or_else(|| {
            panic!(
                "delivered message is not a corpus message with a prefix:\n{}",
                String::from_utf8_lossy(&delivered[..delivered.len().min(800)])
            )
        });
    (&delivered[..delivered.len() - corpus[idx].len()], idx)
}

#[test]
fn received_header_is_prepended_and_the_rest_is_exact() {
    let Some((dc, msgs)) = dovecot_with_mail(Options::default(), 504, 8) else {
        return;
    };
    let env = TestEnv::new();
    let maildir = env.path("Maildir");
    // received_header defaults to true.
    let acct = dc
        .account("traced", USER, PASSWORD, Tls::Implicit, &maildir)
        .remove("received_header");
    let cfg = env.write_config(&config_of(&[&acct]));

    env.run(&["-c", cfg.to_str().unwrap()]).assert_success();
    let delivered = read_maildir(&maildir);
    assert_eq!(delivered.len(), msgs.len());
    let mut seen = vec![false; msgs.len()];
    for d in &delivered {
        let (prefix, idx) = strip_received(d, &msgs);
        assert!(!seen[idx], "message {idx} delivered twice");
        seen[idx] = true;
        let prefix = std::str::from_utf8(prefix).expect("trace header is text");
        assert!(prefix.starts_with("Received: "), "{prefix:?}");
        assert!(
            prefix.ends_with('\n') && !prefix.contains('\r'),
            "{prefix:?}"
        );
        // One header field: any further lines are folded continuations.
        for cont in prefix.trim_end_matches('\n').lines().skip(1) {
            assert!(
                cont.starts_with([' ', '\t']),
                "unfolded line {cont:?} in {prefix:?}"
            );
        }
    }
}

#[test]
fn created_maildir_and_state_are_private_whatever_the_umask() {
    // 000 would leave group and others everything; 277 takes the owner's
    // write bit too, which popfetch must give back.
    for (umask, seed) in [(0o000, 505), (0o277, 506)] {
        let Some((dc, msgs)) = dovecot_with_mail(Options::default(), seed, 5) else {
            return;
        };
        let env = TestEnv::new();
        let maildir = env.path("Maildir");
        let acct = dc.account("private", USER, PASSWORD, Tls::Implicit, &maildir);
        let cfg = env.write_config(&config_of(&[&acct]));

        let out = env.run_with_umask(umask, &["-c", cfg.to_str().unwrap()]);
        out.assert_success();
        assert_same_messages(&read_maildir(&maildir), &msgs);
        for sub in ["new", "cur", "tmp"] {
            assert!(maildir.join(sub).is_dir(), "Maildir/{sub} exists");
        }
        assert_private(&maildir);
        assert!(
            env.state_dir().is_dir(),
            "state lives in $XDG_STATE_HOME/popfetch"
        );
        assert_private(&env.state_dir());
    }
}

#[test]
fn an_ordinary_user_under_umask_277_fetches_and_runs_again() {
    // The umask takes the owner's write bit from what popfetch creates:
    // unless it gives it back, the next run cannot open its lock or its
    // journal (which root, ignoring permissions, would never notice).
    let Some((dc, msgs)) = dovecot_with_mail(Options::default(), 507, 5) else {
        return;
    };
    let env = TestEnv::new();
    let maildir = env.path("Maildir");
    let acct = dc.account("user", USER, PASSWORD, Tls::Implicit, &maildir);
    let cfg = env.write_config(&config_of(&[&acct]));
    let cfg = cfg.to_str().unwrap();

    env.run_unprivileged_with_umask(0o277, &["-c", cfg])
        .assert_success();
    let again = env.run_unprivileged_with_umask(0o277, &["-c", cfg]);
    again.assert_success();
    assert!(again.stderr.contains("no new mail"), "{again}");
    assert_same_messages(&read_maildir(&maildir), &msgs);
    assert_private(&maildir);
    assert_private(&env.state_dir());

    // A lock left unwritable (by an older build under that umask, say) is
    // a permissions problem, and the error says so, not "check the disk".
    let locks = crate::common::kill::state_files(&env.state_dir(), ".lock");
    assert_eq!(locks.len(), 1, "{locks:?}");
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&locks[0], std::fs::Permissions::from_mode(0o400)).unwrap();
    let denied = env.run_unprivileged_with_umask(0o022, &["-c", cfg]);
    denied.assert_code(74);
    assert!(
        denied.stderr.contains("permission denied") && denied.stderr.contains("chmod u+rw"),
        "{denied}"
    );
    assert!(!denied.stderr.contains("disk is not full"), "{denied}");
}

#[test]
fn a_maildir_that_cannot_be_written_is_a_clear_error_that_deletes_nothing() {
    let Some((dc, _msgs)) = dovecot_with_mail(Options::default(), 503, 10) else {
        return;
    };
    let env = TestEnv::new();
    // Root may write anywhere, so permissions prove nothing here: make
    // `new/` a file instead, which no process can deliver into.
    let maildir = env.path("Broken");
    for d in ["tmp", "cur"] {
        std::fs::create_dir_all(maildir.join(d)).unwrap();
    }
    std::fs::write(maildir.join("new"), b"not a directory").unwrap();
    let acct = dc
        .account("broken", USER, PASSWORD, Tls::Implicit, &maildir)
        .raw("keep", "false");
    let cfg = env.write_config(&config_of(&[&acct]));

    let out = env.run(&["-c", cfg.to_str().unwrap()]);
    assert_eq!(out.code, Some(74), "local delivery failure\n{out}");
    assert!(
        out.stderr.contains("broken") && out.stderr.contains("Broken/new"),
        "the error names the account and the path\n{out}"
    );
    assert_eq!(dc.remaining(USER), 10, "nothing was deleted");
    assert!(
        maildir_tmp_files(&maildir).is_empty(),
        "nothing half-written"
    );
}

#[test]
fn a_first_run_against_dovecot_logs_in_once_and_so_does_a_run_with_nothing_new() {
    // No second session after an all-new listing: Dovecot shows the whole
    // mailbox, and nothing says it pages.
    let Some((dc, msgs)) = dovecot_with_mail(Options::default(), 502, 40) else {
        return;
    };
    let env = TestEnv::new();
    let maildir = env.path("Maildir");
    let acct = dc
        .account("once", USER, PASSWORD, Tls::Implicit, &maildir)
        .raw("keep", "true");
    let cfg = env.path("popfetch.toml");
    env.write_config_at(&cfg, &config_of(&[&acct]));
    let cfg = cfg.to_str().unwrap();
    let logins = || {
        dc.log()
            .lines()
            .filter(|l| l.contains("Login: user=<alice>"))
            .count()
    };
    let logouts = || {
        dc.log()
            .lines()
            .filter(|l| l.contains("Disconnected: Logged out"))
            .map(str::to_owned)
            .collect::<Vec<String>>()
    };
    let settle = |n: usize| {
        let limit = std::time::Instant::now() + std::time::Duration::from_secs(5);
        while logouts().len() < n && std::time::Instant::now() < limit {
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    };

    env.run(&["-c", cfg]).assert_success();
    assert_same_messages(&read_maildir(&maildir), &msgs);
    settle(1);
    assert_eq!(logins(), 1, "{}", dc.log());
    assert_eq!(logouts().len(), 1, "{}", dc.log());
    assert!(logouts()[0].contains("retr=40/"), "{:?}", logouts());

    env.run(&["-c", cfg]).assert_success();
    settle(2);
    assert_eq!(logins(), 2, "{}", dc.log());
    let out = logouts();
    assert_eq!(out.len(), 2, "{}", dc.log());
    assert!(out[1].contains("top=0/0, retr=0/0, del=0/"), "{out:?}");
}
