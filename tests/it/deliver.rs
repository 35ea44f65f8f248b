//! mbox and MDA delivery end to end against Dovecot: an mbox parses back
//! into exactly the messages on the server, an MDA receives every byte
//! with its placeholders filled in, exit 75 leaves the message for the next
//! run, a failing or missing MDA or an impossible mbox deletes nothing, a
//! SIGKILL at any moment neither loses nor duplicates a message in an
//! mbox, Dovecot's LDA and procmail work as MDAs, and procmail appending
//! to the same mbox at the same time corrupts nothing.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::common::corpus::Rng;
use crate::common::dovecot::{Dovecot, Options, Tls};
use crate::common::env::{
    AccountToml, TestEnv, as_popfetch_user, assert_private, assert_same_messages, config_of,
    read_maildir, unprivileged,
};
use crate::common::{PASSWORD, USER, dovecot_with_mail, in_ci, skip_or_panic, toml_str};

/// An account of `dc` delivering into the mbox at `mbox`.
fn mbox_account(dc: &Dovecot, name: &str, mbox: &Path) -> AccountToml {
    dc.account(name, USER, PASSWORD, Tls::Implicit, Path::new("unused"))
        .remove("maildir")
        .str("mbox", &mbox.display().to_string())
}

/// An account of `dc` delivering through the MDA `argv`.
fn mda_account(dc: &Dovecot, name: &str, argv: &[&str]) -> AccountToml {
    let words: Vec<String> = argv.iter().map(|a| toml_str(a)).collect();
    dc.account(name, USER, PASSWORD, Tls::Implicit, Path::new("unused"))
        .remove("maildir")
        .raw("mda", format!("[{}]", words.join(", ")))
}

/// A strict mboxrd reader: (From line, message) in file order. Every
/// message must be followed by exactly one empty line.
fn read_mbox(bytes: &[u8]) -> Vec<(String, Vec<u8>)> {
    let mut out: Vec<(String, Vec<u8>)> = Vec::new();
    for line in bytes.split_inclusive(|&b| b == b'\n') {
        if line.starts_with(b"From ") {
            let from = String::from_utf8(line.to_vec()).expect("From line is UTF-8");
            out.push((from, Vec::new()));
        } else {
            out.last_mut()
                .expect("an mbox starts with a From line")
                .1
                .extend_from_slice(line);
        }
    }
    out.into_iter()
        .map(|(from, mut quoted)| {
            assert!(
                quoted.ends_with(b"\n\n") || quoted == b"\n",
                "message after {from:?} does not end with an empty line"
            );
            quoted.pop();
            let mut msg = Vec::with_capacity(quoted.len());
            for line in quoted.split_inclusive(|&b| b == b'\n') {
                let k = line.iter().take_while(|&&b| b == b'>').count();
                if k > 0 && line[k..].starts_with(b"From ") {
                    msg.extend_from_slice(&line[1..]);
                } else {
                    msg.extend_from_slice(line);
                }
            }
            (from, msg)
        })
        .collect()
}

/// The address in a corpus message's Return-Path.
fn return_path(msg: &[u8]) -> String {
    let text = String::from_utf8_lossy(msg);
    let line = text
        .lines()
        .find_map(|l| l.strip_prefix("Return-Path: <"))
        .expect("corpus messages have a Return-Path");
    line.trim_end_matches('>').to_string()
}

/// A shell script at `path` that stores each message it is given as
/// `<out>/msg.<n>` and its arguments, one a line, as `<out>/args.<n>`,
/// where n counts invocations from 1. `extra` runs first (it sees `$n`).
fn counting_mda(path: &Path, out: &Path, extra: &str) -> String {
    fs::create_dir_all(out).unwrap();
    let script = format!(
        "#!/bin/sh\n\
         out='{out}'\n\
         n=$(cat \"$out/count\" 2>/dev/null || echo 0)\n\
         n=$((n + 1))\n\
         echo $n > \"$out/count\"\n\
         {extra}\n\
         cat > \"$out/msg.$n\" || exit 74\n\
         printf '%s\\n' \"$@\" > \"$out/args.$n\"\n",
        out = out.display()
    );
    crate::common::write_program(path, &script, 0o755);
    path.display().to_string()
}

/// What a counting MDA stored: (message, arguments) for each invocation
/// that delivered, in order.
fn mda_received(out: &Path) -> Vec<(Vec<u8>, Vec<String>)> {
    (1..=invocations(out))
        .filter_map(|n| {
            let msg = fs::read(out.join(format!("msg.{n}"))).ok()?;
            let args = fs::read_to_string(out.join(format!("args.{n}"))).unwrap();
            Some((msg, args.lines().map(str::to_string).collect()))
        })
        .collect()
}

fn invocations(out: &Path) -> usize {
    fs::read_to_string(out.join("count"))
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(0)
}

#[test]
fn mbox_holds_exactly_the_server_messages_and_parses_back() {
    let Some((dc, msgs)) = dovecot_with_mail(Options::default(), 600, 300) else {
        return;
    };
    let env = TestEnv::new();
    // Neither the mbox nor its directory exists yet.
    let mbox = env.path("Mail/inbox.mbox");
    let acct = mbox_account(&dc, "mb", &mbox).raw("keep", "false");
    let cfg = env.write_config(&config_of(&[&acct]));

    let out = env.run_with_umask(0o000, &["-c", cfg.to_str().unwrap()]);
    out.assert_success();
    assert_eq!(dc.remaining(USER), 0, "keep = false deletes what landed");

    let bytes = fs::read(&mbox).unwrap();
    let parsed = read_mbox(&bytes);
    let got: Vec<Vec<u8>> = parsed.iter().map(|(_, m)| m.clone()).collect();
    assert_same_messages(&got, &msgs);
    // In server order, each From line naming its Return-Path.
    assert_eq!(got, msgs, "delivered in server order");
    for (from, msg) in &parsed {
        let words: Vec<&str> = from.trim_end().split(' ').collect();
        assert_eq!(words[1], return_path(msg), "{from:?}");
    }
    // An independent mboxrd reader agrees (it keeps the separating line).
    let theirs: Vec<mail_parser::mailbox::mbox::Message> =
        mail_parser::mailbox::mbox::MessageIterator::new(&bytes[..])
            .collect::<Result<_, _>>()
            .unwrap();
    assert_eq!(theirs.len(), msgs.len());
    let now = jiff::Timestamp::now().as_second() as u64;
    for (m, want) in theirs.iter().zip(&msgs) {
        let mut w = want.clone();
        w.push(b'\n');
        assert_eq!(m.contents(), &w[..]);
        assert_eq!(m.from(), return_path(want));
        // The asctime date parses, and is the time of delivery.
        assert!(
            now.abs_diff(m.internal_date()) < 3600,
            "{}",
            m.internal_date()
        );
    }
    // Private whatever the umask: the new directory and the mbox itself.
    assert_private(&env.path("Mail"));
    // No copy of the mail is left in the state directory: every spool
    // file and `.done` marker is gone once the run is recorded.
    let left: Vec<_> = fs::read_dir(env.state_dir().join("spool"))
        .into_iter()
        .flatten()
        .flat_map(|dir| fs::read_dir(dir.unwrap().path()).unwrap())
        .map(|e| e.unwrap().file_name())
        .collect();
    assert!(left.is_empty(), "{left:?}");
}

#[test]
fn mbox_with_keep_gains_nothing_on_a_second_run() {
    let Some((dc, msgs)) = dovecot_with_mail(Options::default(), 601, 40) else {
        return;
    };
    let env = TestEnv::new();
    let mbox = env.path("mbox");
    // Someone else's mail is already there, without a final newline.
    fs::write(
        &mbox,
        "From old@example.org Mon Jan  1 00:00:00 2024\nSubject: old\n\nold",
    )
    .unwrap();
    let acct = mbox_account(&dc, "kept", &mbox).raw("keep", "true");
    let cfg = env.write_config(&config_of(&[&acct]));

    env.run(&[]).assert_success();
    let first = fs::read(&mbox).unwrap();
    let parsed = read_mbox(&first);
    assert_eq!(parsed.len(), msgs.len() + 1);
    assert_eq!(parsed[0].1, b"Subject: old\n\nold\n");
    let got: Vec<Vec<u8>> = parsed[1..].iter().map(|(_, m)| m.clone()).collect();
    assert_same_messages(&got, &msgs);
    assert_eq!(dc.remaining(USER), msgs.len());

    env.run(&["-c", cfg.to_str().unwrap()]).assert_success();
    assert_eq!(
        fs::read(&mbox).unwrap(),
        first,
        "the second run adds nothing"
    );
    assert_eq!(dc.remaining(USER), msgs.len());
}

#[test]
fn argv_mda_receives_every_message_with_sender_and_user() {
    let Some((dc, msgs)) = dovecot_with_mail(Options::default(), 602, 60) else {
        return;
    };
    let env = TestEnv::new();
    let out = env.path("delivered");
    let mda = counting_mda(&env.path("mda.sh"), &out, "");
    let acct = mda_account(&dc, "piped", &[&mda, "-f", "%F", "-d", "%T", "100%%"]);
    let cfg = env.write_config(&config_of(&[&acct]));

    env.run(&["-c", cfg.to_str().unwrap()]).assert_success();
    let got = mda_received(&out);
    assert_eq!(got.len(), msgs.len(), "one invocation per message");
    for ((msg, args), want) in got.iter().zip(&msgs) {
        assert_eq!(msg, want, "byte for byte, in server order");
        assert_eq!(args, &["-f", &return_path(want), "-d", USER, "100%"]);
    }
    assert_eq!(dc.remaining(USER), 0);
}

#[test]
fn shell_mda_keeps_a_hostile_sender_one_word() {
    let Some(dc) = Dovecot::start(Options::default()) else {
        return;
    };
    dc.add_user(USER, PASSWORD);
    let env = TestEnv::new();
    let pwned = env.path("pwned");
    let senders = [
        format!(
            "a'b;touch${{IFS}}{p};`touch${{IFS}}{p}`$(touch${{IFS}}{p})@x",
            p = pwned.display()
        ),
        "\"quoted\"\\back@x".to_string(),
    ];
    let msgs: Vec<Vec<u8>> = senders
        .iter()
        .map(|s| {
            format!("Return-Path: <{s}>\nFrom: f@example.org\nSubject: s\n\nbody\n").into_bytes()
        })
        .chain([
            // White space in the Return-Path: not usable, From is taken.
            b"Return-Path: <a b;touch pwned@x>\nFrom: Ann <ann@example.org>\n\nx\n".to_vec(),
            // A bounce: %F is MAILER-DAEMON.
            b"Return-Path: <>\nFrom: MAILER-DAEMON@example.org\n\nbounce\n".to_vec(),
        ])
        .collect();
    dc.load_mailbox(USER, &msgs);
    let out = env.path("delivered");
    let mda = counting_mda(&env.path("mda.sh"), &out, "");
    let acct = dc
        .account("shell", USER, PASSWORD, Tls::Implicit, Path::new("unused"))
        .remove("maildir")
        .str("mda", &format!("{mda} -f %F %T"));
    let cfg = env.write_config(&config_of(&[&acct]));

    env.run(&["-c", cfg.to_str().unwrap()]).assert_success();
    let got = mda_received(&out);
    assert_eq!(got.len(), msgs.len());
    // Neither hostile sender is a plausible address: %F says so.
    let want_senders = [
        "MAILER-DAEMON",
        "MAILER-DAEMON",
        "ann@example.org",
        "MAILER-DAEMON",
    ];
    for (i, (msg, args)) in got.iter().enumerate() {
        assert_eq!(msg, &msgs[i]);
        assert_eq!(args, &["-f", want_senders[i], USER], "message {i}");
    }
    assert!(!pwned.exists(), "the sender ran a command");
    assert!(
        !env.home().join("pwned").exists(),
        "the sender ran a command"
    );
}

#[test]
fn mda_exit_75_leaves_the_message_for_the_next_run() {
    let Some((dc, msgs)) = dovecot_with_mail(Options::default(), 603, 5) else {
        return;
    };
    let env = TestEnv::new();
    let out = env.path("delivered");
    // The first invocation says "try later"; every other one delivers.
    let mda = counting_mda(
        &env.path("mda.sh"),
        &out,
        "if [ $n = 1 ]; then cat >/dev/null; echo 'mailbox locked, try later' >&2; exit 75; fi",
    );
    let acct = mda_account(&dc, "temp", &[&mda]).raw("keep", "false");
    let cfg = env.write_config(&config_of(&[&acct]));

    let first = env.run(&["-c", cfg.to_str().unwrap()]);
    // The run goes on past the deferral, and says so: exit 75, the
    // status for "try again".
    assert_eq!(
        first.code,
        Some(75),
        "a deferred message makes the run exit 75\n{first}"
    );
    assert!(first.stderr.contains("deferred"), "{first}");
    let got: Vec<Vec<u8>> = mda_received(&out).into_iter().map(|(m, _)| m).collect();
    assert_eq!(got.len(), 4, "{first}");
    assert_same_messages(&got, &msgs[1..]);
    assert_eq!(
        dc.server_messages(USER),
        vec![msgs[0].clone()],
        "only the deferred message stays on the server"
    );

    env.run(&["-c", cfg.to_str().unwrap()]).assert_success();
    let got: Vec<Vec<u8>> = mda_received(&out).into_iter().map(|(m, _)| m).collect();
    assert_same_messages(&got, &msgs);
    assert_eq!(dc.remaining(USER), 0);
}

#[test]
fn failing_mda_stops_the_account_deletes_nothing_and_shows_its_stderr() {
    let Some((dc, msgs)) = dovecot_with_mail(Options::default(), 604, 6) else {
        return;
    };
    let env = TestEnv::new();
    let out = env.path("delivered");
    let mda = counting_mda(
        &env.path("mda.sh"),
        &out,
        "if [ $n = 3 ] && [ ! -e \"$out/fixed\" ]; then cat >/dev/null; \
         echo 'procmail: Error while writing to \"/var/mail/alice\"' >&2; exit 1; fi",
    );
    let acct = mda_account(&dc, "broken", &[&mda, "-f", "%F"]).raw("keep", "false");
    let cfg = env.write_config(&config_of(&[&acct]));

    let run = env.run(&["-c", cfg.to_str().unwrap()]);
    run.assert_code(74);
    assert!(
        run.stderr
            .contains("Error while writing to \"/var/mail/alice\""),
        "the MDA's own words\n{run}"
    );
    assert!(
        run.stderr.contains("exit status 1") && run.stderr.contains("broken"),
        "{run}"
    );
    assert_eq!(
        invocations(&out),
        3,
        "delivery stopped at the failure\n{run}"
    );
    assert_eq!(dc.remaining(USER), msgs.len(), "nothing deleted");

    // Fixed: the rest arrives, nothing twice, and the server is emptied.
    fs::write(out.join("fixed"), "").unwrap();
    env.run(&["-c", cfg.to_str().unwrap()]).assert_success();
    let got: Vec<Vec<u8>> = mda_received(&out).into_iter().map(|(m, _)| m).collect();
    assert_same_messages(&got, &msgs);
    assert_eq!(dc.remaining(USER), 0);
}

#[test]
fn missing_mda_program_fails_before_touching_the_server() {
    let Some((dc, msgs)) = dovecot_with_mail(Options::default(), 605, 3) else {
        return;
    };
    let env = TestEnv::new();
    let cases = [
        mda_account(&dc, "nompda", &["/nonexistent/bin/procmail", "-f", "%F"]),
        mda_account(&dc, "nompda", &["no-such-procmail-here"]),
        dc.account("nompda", USER, PASSWORD, Tls::Implicit, Path::new("unused"))
            .remove("maildir")
            .str("mda", "no-such-procmail-here -f %F"),
    ];
    for acct in cases {
        let cfg = env.write_config(&config_of(&[&acct]));
        let run = env.run(&["-c", cfg.to_str().unwrap()]);
        run.assert_failure();
        assert!(
            run.stderr.contains("procmail") && run.stderr.contains("full path"),
            "names the program and the fix\n{run}"
        );
        assert_eq!(dc.remaining(USER), msgs.len(), "nothing deleted\n{run}");
    }
}

#[test]
fn impossible_mbox_location_fails_clearly_and_deletes_nothing() {
    let Some((dc, msgs)) = dovecot_with_mail(Options::default(), 606, 3) else {
        return;
    };
    let env = TestEnv::new();
    fs::write(env.path("a-file"), "x").unwrap();
    fs::create_dir(env.path("a-dir")).unwrap();
    for bad in [env.path("a-file/mbox"), env.path("a-dir")] {
        let acct = mbox_account(&dc, "nowhere", &bad).raw("keep", "false");
        let cfg = env.write_config(&config_of(&[&acct]));
        let run = env.run(&["-c", cfg.to_str().unwrap()]);
        run.assert_code(74);
        assert!(
            run.stderr.contains(&bad.display().to_string()) && run.stderr.contains("nowhere"),
            "names the account and the mbox\n{run}"
        );
        assert_eq!(dc.remaining(USER), msgs.len(), "nothing deleted\n{run}");
    }
    assert!(
        !dc.log().contains("Login: user=<"),
        "it never got as far as logging in:\n{}",
        dc.log()
    );
}

#[test]
fn sigkill_at_random_moments_neither_loses_nor_duplicates_mbox_mail() {
    let Some((dc, msgs)) = dovecot_with_mail(Options::default(), 607, 400) else {
        return;
    };
    let env = TestEnv::new();
    let mbox = env.path("mbox");
    let acct = mbox_account(&dc, "crashy", &mbox).raw("keep", "false");
    let cfg = env.write_config(&config_of(&[&acct]));
    let cfg = cfg.to_str().unwrap();

    let mut rng = Rng::new(607);
    let mut kills = 0;
    let mut finished = false;
    while kills < 20 {
        let before = fs::metadata(&mbox).map(|m| m.len()).unwrap_or(0);
        let mut run = env.spawn(&["-c", cfg]);
        if rng.chance(30) {
            // Early: recovery, connecting, the first messages.
            std::thread::sleep(Duration::from_millis(rng.below(60) as u64));
        } else {
            // Once this run has appended something, somewhere in what follows.
            crate::common::wait_until(Duration::from_secs(60), || {
                !run.running() || fs::metadata(&mbox).is_ok_and(|m| m.len() > before)
            });
            std::thread::sleep(Duration::from_millis(rng.below(40) as u64));
        }
        if !run.running() {
            run.wait(Duration::from_secs(1)).assert_success();
            finished = true;
            break;
        }
        run.kill();
        kills += 1;
    }
    if !finished {
        env.run(&["-c", cfg]).assert_success();
    }
    assert!(kills >= 5, "only {kills} kills landed mid-run");
    let got: Vec<Vec<u8>> = read_mbox(&fs::read(&mbox).unwrap())
        .into_iter()
        .map(|(_, m)| m)
        .collect();
    assert_same_messages(&got, &msgs);
    assert_eq!(dc.remaining(USER), 0);
    assert!(!PathBuf::from(format!("{}.lock", mbox.display())).exists());
}

#[test]
fn dovecot_lda_as_the_mda_delivers_into_another_mailbox() {
    let Some((dc, msgs)) = dovecot_with_mail(Options::default(), 608, 20) else {
        return;
    };
    if unprivileged() {
        eprintln!("skipped: `dovecot-lda -d` delivers for another user only when run by root");
        return;
    }
    let lda = Path::new("/usr/lib/dovecot/dovecot-lda");
    assert!(lda.is_file(), "dovecot-lda comes with dovecot-core");
    dc.add_user("bob", "bob-password");
    let env = TestEnv::new();
    let conf = dc.dir().join("dovecot.conf").display().to_string();
    let acct = mda_account(
        &dc,
        "lda",
        &[
            &lda.display().to_string(),
            "-c",
            &conf,
            "-e",
            "-f",
            "%F",
            "-d",
            "bob",
        ],
    )
    .raw("keep", "false");
    let cfg = env.write_config(&config_of(&[&acct]));

    let run = env.run(&["-c", cfg.to_str().unwrap()]);
    run.assert_success();
    assert_eq!(dc.remaining(USER), 0);
    let delivered = read_maildir(&dc.maildir("bob"));
    assert_same_messages(&delivered, &msgs);
}

/// `program` on PATH, or `None` after the skip-or-fail message naming the
/// Debian package of the same name.
pub fn installed(program: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    let found = std::env::split_paths(&path)
        .map(|d| d.join(program))
        .find(|p| p.is_file());
    if found.is_none() {
        skip_or_panic(
            in_ci(),
            &format!("{program} is not installed (apt-get install {program})"),
        );
    }
    found
}

#[test]
fn procmail_as_the_mda_gets_every_message_byte_for_byte() {
    let Some((dc, msgs)) = dovecot_with_mail(Options::default(), 609, 40) else {
        return;
    };
    let Some(procmail) = installed("procmail") else {
        return;
    };
    let env = TestEnv::new();
    let maildir = env.path("procmail-Maildir");
    let rc = env.path("procmailrc");
    fs::write(
        &rc,
        format!(
            "LOGFILE={}\n:0\n{}/\n",
            env.path("procmail.log").display(),
            maildir.display()
        ),
    )
    .unwrap();
    let acct = mda_account(
        &dc,
        "pm",
        &[
            &procmail.display().to_string(),
            "-m",
            "-f",
            "%F",
            &rc.display().to_string(),
        ],
    )
    .raw("keep", "false");
    let cfg = env.write_config(&config_of(&[&acct]));

    env.run(&["-c", cfg.to_str().unwrap()]).assert_success();
    assert_same_messages(&read_maildir(&maildir), &msgs);
    assert_eq!(dc.remaining(USER), 0);
}

#[test]
fn procmail_appending_to_the_same_mbox_at_the_same_time_corrupts_nothing() {
    let Some((dc, msgs)) = dovecot_with_mail(Options::default(), 610, 200) else {
        return;
    };
    let Some(procmail) = installed("procmail") else {
        return;
    };
    let env = TestEnv::new();
    let mbox = env.path("shared.mbox");
    // procmail's `:0:` takes `<mbox>.lock` and an fcntl lock, like popfetch.
    let rc = env.path("procmailrc");
    fs::write(&rc, format!("LOCKSLEEP=1\n:0:\n{}\n", mbox.display())).unwrap();
    let acct = mbox_account(&dc, "shared", &mbox).raw("keep", "false");
    let cfg = env.write_config(&config_of(&[&acct]));

    let theirs: Vec<Vec<u8>> = (0..40)
        .map(|i| {
            format!("From: local@example.org\nSubject: procmail {i}\n\nline {i}\n").into_bytes()
        })
        .collect();
    let fetch = env.spawn(&["-c", cfg.to_str().unwrap()]);
    for m in &theirs {
        // The same user as popfetch, as two of one user's programs are.
        let mut procmail = std::process::Command::new(&procmail);
        as_popfetch_user(&mut procmail);
        let mut child = procmail
            .args(["-m", "-f", "local@example.org"])
            .arg(&rc)
            .stdin(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        use std::io::Write;
        child.stdin.take().unwrap().write_all(m).unwrap();
        assert!(child.wait().unwrap().success(), "procmail failed");
    }
    fetch.wait(crate::common::env::RUN_LIMIT).assert_success();

    let got: Vec<Vec<u8>> = read_mbox(&fs::read(&mbox).unwrap())
        .into_iter()
        .map(|(_, m)| m)
        .collect();
    assert_same_messages(&got, &[msgs, theirs].concat());
    assert_eq!(dc.remaining(USER), 0);
}

#[test]
fn maildrop_as_the_mda_gets_every_message_byte_for_byte() {
    let Some((dc, msgs)) = dovecot_with_mail(Options::default(), 611, 40) else {
        return;
    };
    let Some(maildrop) = installed("maildrop") else {
        return;
    };
    let env = TestEnv::new();
    // maildrop delivers into an existing Maildir only.
    let maildir = env.path("maildrop-Maildir");
    for d in ["tmp", "new", "cur"] {
        fs::create_dir_all(maildir.join(d)).unwrap();
    }
    let filter = env.path("mailfilter");
    fs::write(&filter, format!("to \"{}/\"\n", maildir.display())).unwrap();
    // maildrop refuses a filter file that others may read or write.
    fs::set_permissions(&filter, fs::Permissions::from_mode(0o600)).unwrap();
    let acct = mda_account(
        &dc,
        "md",
        &[
            &maildrop.display().to_string(),
            "-f",
            "%F",
            &filter.display().to_string(),
        ],
    )
    .raw("keep", "false");
    let cfg = env.write_config(&config_of(&[&acct]));

    env.run(&["-c", cfg.to_str().unwrap()]).assert_success();
    assert_same_messages(&read_maildir(&maildir), &msgs);
    assert_eq!(dc.remaining(USER), 0);
}
