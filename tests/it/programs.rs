//! The programs popfetch runs on the user's behalf, the MDA and the
//! password command, end to end against scripted servers: an MDA that
//! leaves a child behind does not hold the run, a hostile sender never
//! reaches a shell as code, and signals end a run the way SPEC §4 says.

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use crate::common::env::{AccountToml, Output, TestEnv, assert_same_messages, config_of};
use crate::common::script::{Maildrop, ScriptServer};
use crate::common::{PASSWORD, USER, toml_str};
use crate::deliver::installed;
use crate::hostile::scripted;

/// Longer than any of these runs may take when popfetch behaves; a run
/// that waits for a program's leftovers takes ten minutes a message.
const BOUND: Duration = Duration::from_secs(60);

/// `n` small messages, each with its own Return-Path.
fn messages(n: usize) -> Vec<Vec<u8>> {
    (0..n)
        .map(|i| {
            format!(
                "Return-Path: <s{i}@example.org>\nFrom: s{i}@example.org\nSubject: message {i}\n\nbody {i}\n"
            )
            .into_bytes()
        })
        .collect()
}

/// A correct scripted server holding `messages(n)`.
fn serving(n: usize) -> (Vec<Vec<u8>>, Arc<Maildrop>, ScriptServer) {
    let msgs = messages(n);
    let drop = Maildrop::new(USER, PASSWORD, msgs.clone());
    let srv = ScriptServer::maildrop(Arc::clone(&drop));
    (msgs, drop, srv)
}

/// A TOML array of strings.
fn toml_array(words: &[&str]) -> String {
    let words: Vec<String> = words.iter().map(|w| toml_str(w)).collect();
    format!("[{}]", words.join(", "))
}

/// An account on the scripted server at `port` delivering through the MDA
/// `argv`, deleting what it delivered.
fn mda_account(port: u16, argv: &[&str]) -> AccountToml {
    scripted("prog", port, Path::new("unused"), false)
        .remove("maildir")
        .raw("mda", toml_array(argv))
}

/// An executable shell script at `path`.
fn script(path: &Path, body: &str) -> String {
    crate::common::write_program(path, &format!("#!/bin/sh\n{body}"), 0o755);
    path.display().to_string()
}

/// Kills, when dropped, every process whose pid a test's programs wrote
/// to its file, one a line: what they left running does not outlive the
/// test.
struct Reaper(PathBuf);

impl Drop for Reaper {
    fn drop(&mut self) {
        let pids = fs::read_to_string(&self.0).unwrap_or_default();
        for pid in pids.lines().filter_map(|l| l.trim().parse::<i32>().ok()) {
            if let Some(pid) = rustix::process::Pid::from_raw(pid) {
                let _ = rustix::process::kill_process(pid, rustix::process::Signal::KILL);
            }
        }
    }
}

/// Every file in `dir` whose name starts with `prefix`, read.
fn files_starting(dir: &Path, prefix: &str) -> Vec<Vec<u8>> {
    let mut out: Vec<Vec<u8>> = fs::read_dir(dir)
        .map(|rd| {
            rd.map(|e| e.unwrap().path())
                .filter(|p| p.file_name().unwrap().to_string_lossy().starts_with(prefix))
                .map(|p| fs::read(p).unwrap())
                .collect()
        })
        .unwrap_or_default();
    out.sort();
    out
}

/// Runs popfetch with `args` and the config, bounded by [`BOUND`].
fn run_bounded(env: &TestEnv, cfg: &Path, args: &[&str]) -> Output {
    let mut all = args.to_vec();
    all.extend(["-c", cfg.to_str().unwrap()]);
    env.spawn(&all).wait(BOUND)
}

#[test]
fn an_mda_that_leaves_a_child_holding_its_output_does_not_hold_the_run() {
    let (msgs, drop, srv) = serving(3);
    let env = TestEnv::new();
    let out = env.path("mda-out");
    fs::create_dir_all(&out).unwrap();
    let _reaper = Reaper(out.join("pids"));
    // The child keeps the MDA's stdout and stderr open for ten minutes.
    let mda = script(
        &env.path("mda"),
        &format!(
            "out='{}'\n\
             f=$(mktemp \"$out/msg.XXXXXX\") && cat > \"$f\" || exit 74\n\
             sleep 600 &\n\
             echo $! >> \"$out/pids\"\n",
            out.display()
        ),
    );
    let cfg = env.write_config(&config_of(&[&mda_account(srv.port(), &[&mda])]));

    let run = run_bounded(&env, &cfg, &[]);
    run.assert_success();
    assert_same_messages(&files_starting(&out, "msg."), &msgs);
    assert_eq!(drop.remaining(), 0, "what was delivered is deleted");
    assert_eq!(
        fs::read_to_string(out.join("pids"))
            .unwrap()
            .lines()
            .count(),
        3,
        "the MDA ran once a message"
    );
}

#[test]
fn procmail_with_a_recipe_that_forks_does_not_hold_the_run() {
    let Some(procmail) = installed("procmail") else {
        return;
    };
    let (msgs, drop, srv) = serving(3);
    let env = TestEnv::new();
    let maildir = env.path("pm-Maildir");
    let pids = env.path("pids");
    let _reaper = Reaper(pids.clone());
    // A copy of each message goes to a command that starts a background
    // job, which inherits procmail's stderr; then the Maildir gets it.
    let rc = env.path("procmailrc");
    fs::write(
        &rc,
        format!(
            ":0 ci\n| sleep 600 & echo $! >> {}\n:0\n{}/\n",
            pids.display(),
            maildir.display()
        ),
    )
    .unwrap();
    let acct = mda_account(
        srv.port(),
        &[
            &procmail.display().to_string(),
            "-m",
            "-f",
            "%F",
            &rc.display().to_string(),
        ],
    );
    let cfg = env.write_config(&config_of(&[&acct]));

    let run = run_bounded(&env, &cfg, &[]);
    run.assert_success();
    assert_same_messages(&crate::common::env::read_maildir(&maildir), &msgs);
    assert_eq!(drop.remaining(), 0);
}

/// An account on the scripted server at `port` whose password comes from
/// the command `argv`.
fn password_command_account(port: u16, maildir: &Path, argv: &[&str]) -> AccountToml {
    scripted("pw", port, maildir, false)
        .remove("password")
        .raw("password_command", toml_array(argv))
}

#[test]
fn a_hung_password_command_is_killed_at_the_timeout_and_nothing_logs_in() {
    let (_, drop, srv) = serving(2);
    let env = TestEnv::new();
    let maildir = env.path("Maildir");
    let acct =
        password_command_account(srv.port(), &maildir, &["sleep", "600"]).raw("timeout", "2");
    let cfg = env.write_config(&config_of(&[&acct]));

    let run = run_bounded(&env, &cfg, &[]);
    run.assert_code(75);
    for want in ["password_command `sleep 600`", "did not finish within 2 s"] {
        assert!(run.stderr.contains(want), "{want:?}\n{run}");
    }
    assert_eq!(srv.connections(), 0, "no connection without a password");
    assert!(!srv.saw_credentials());
    assert_eq!(drop.remaining(), 2);
}

#[test]
fn sigterm_ends_a_running_password_command_at_once_and_nothing_logs_in() {
    let (_, drop, srv) = serving(2);
    let env = TestEnv::new();
    let started = env.path("started");
    let acct = password_command_account(
        srv.port(),
        &env.path("Maildir"),
        &[
            "sh",
            "-c",
            &format!("echo $$ > {}; exec sleep 600", started.display()),
        ],
    );
    let cfg = env.write_config(&config_of(&[&acct]));

    let run = env.spawn(&["-c", cfg.to_str().unwrap()]);
    assert!(
        crate::common::wait_until(BOUND, || fs::read_to_string(&started)
            .is_ok_and(|s| s.ends_with('\n'))),
        "the password command never started"
    );
    crate::common::kill::send_signal(run.id(), rustix::process::Signal::TERM);
    let out = run.wait(BOUND);
    out.assert_code(75);
    assert!(out.stderr.contains("interrupt"), "{out}");
    assert_eq!(srv.connections(), 0, "no connection after the interrupt");
    assert!(!srv.saw_credentials());
    assert_eq!(drop.remaining(), 2);
    // The command was killed, not left running.
    let pid: i32 = fs::read_to_string(&started)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let pid = rustix::process::Pid::from_raw(pid).unwrap();
    assert!(
        crate::common::wait_until(Duration::from_secs(10), || {
            rustix::process::test_kill_process(pid).is_err()
        }),
        "the password command still runs"
    );
}

#[test]
fn a_long_token_and_megabytes_after_it_log_in_with_the_first_line() {
    // An OAuth token far over 8 KB, then 400 MB the run reads and drops.
    let token = format!("ya29.{}", "Tk-_9".repeat(4000));
    let msgs = messages(2);
    let drop = Maildrop::new(USER, &token, msgs.clone());
    let srv = ScriptServer::maildrop(Arc::clone(&drop));
    let env = TestEnv::new();
    let maildir = env.path("Maildir");
    let acct = password_command_account(
        srv.port(),
        &maildir,
        &[
            "sh",
            "-c",
            "printf '%s\\n' \"$0\"; head -c 400000000 /dev/zero",
            &token,
        ],
    );
    let cfg = env.write_config(&config_of(&[&acct]));

    let run = run_bounded(&env, &cfg, &[]);
    run.assert_success();
    assert_same_messages(&crate::common::env::read_maildir(&maildir), &msgs);
    assert_eq!(drop.remaining(), 0);
}

#[test]
fn a_first_line_of_400_mb_is_refused_before_any_login() {
    let (_, drop, srv) = serving(1);
    let env = TestEnv::new();
    let acct = password_command_account(
        srv.port(),
        &env.path("Maildir"),
        &["head", "-c", "400000000", "/dev/zero"],
    );
    let cfg = env.write_config(&config_of(&[&acct]));

    let run = run_bounded(&env, &cfg, &[]);
    run.assert_code(78);
    assert!(
        run.stderr
            .contains("password_command `head -c 400000000 /dev/zero`")
            && run.stderr.contains("64 KiB"),
        "{run}"
    );
    assert!(!srv.saw_credentials());
    assert_eq!(drop.remaining(), 1);
}

#[test]
fn a_hostile_sender_reaches_an_mda_shell_as_mailer_daemon_and_runs_nothing() {
    let env = TestEnv::new();
    let mark = |n: usize| env.path(&format!("pwned{n}"));
    // (Return-Path, what %F must be.)
    let cases: Vec<(String, &str)> = vec![
        (
            format!("$(touch${{IFS}}{})@x", mark(1).display()),
            "MAILER-DAEMON",
        ),
        (
            format!("`touch${{IFS}}{}`@x", mark(2).display()),
            "MAILER-DAEMON",
        ),
        (
            format!("a;touch${{IFS}}{};b@x", mark(3).display()),
            "MAILER-DAEMON",
        ),
        (format!("$(touch {})@x", mark(4).display()), "MAILER-DAEMON"),
        ("`id`@x".to_string(), "MAILER-DAEMON"),
        ("a;rm -rf ~@x".to_string(), "MAILER-DAEMON"),
        ("x@[127.0.0.1]".to_string(), "MAILER-DAEMON"),
        ("alice@example.com".to_string(), "alice@example.com"),
        (
            "SRS0=HHH=TT=example.org=bob+tag@fwd.example-1.net".to_string(),
            "SRS0=HHH=TT=example.org=bob+tag@fwd.example-1.net",
        ),
    ];
    let msgs: Vec<Vec<u8>> = cases
        .iter()
        .enumerate()
        .map(|(i, (rp, _))| format!("Return-Path: <{rp}>\nSubject: {i}\n\nbody {i}\n").into_bytes())
        .collect();
    let drop = Maildrop::new(USER, PASSWORD, msgs.clone());
    let srv = ScriptServer::maildrop(Arc::clone(&drop));
    let senders = env.path("senders");
    let acct = mda_account(
        srv.port(),
        &["sh", "-c", &format!("echo %F >> {}", senders.display())],
    );
    let cfg = env.write_config(&config_of(&[&acct]));

    run_bounded(&env, &cfg, &[]).assert_success();
    let got = fs::read_to_string(&senders).unwrap();
    let want: Vec<&str> = cases.iter().map(|(_, f)| *f).collect();
    assert_eq!(got.lines().collect::<Vec<_>>(), want, "one line a message");
    for n in 1..=4 {
        assert!(!mark(n).exists(), "a command in a sender ran ({n})");
    }
    assert_eq!(drop.remaining(), 0);
}

#[test]
fn sighup_while_an_mda_delivers_finishes_that_message_and_a_rerun_delivers_nothing_twice() {
    let (msgs, drop, srv) = serving(5);
    let env = TestEnv::new();
    let out = env.path("mda-out");
    fs::create_dir_all(&out).unwrap();
    // The second message's MDA says it is busy, then waits for "go".
    let mda = script(
        &env.path("mda"),
        &format!(
            "out='{}'\n\
             n=$(cat \"$out/count\" 2>/dev/null || echo 0); n=$((n + 1)); echo $n > \"$out/count\"\n\
             f=$(mktemp \"$out/msg.XXXXXX\") && cat > \"$f\" || exit 74\n\
             if [ $n = 2 ]; then\n\
               touch \"$out/busy\"; i=0\n\
               while [ ! -e \"$out/go\" ] && [ $i -lt 600 ]; do sleep 0.1; i=$((i + 1)); done\n\
             fi\n",
            out.display()
        ),
    );
    let cfg = env.write_config(&config_of(&[&mda_account(srv.port(), &[&mda])]));

    let run = env.spawn(&["-c", cfg.to_str().unwrap()]);
    assert!(
        crate::common::wait_until(BOUND, || out.join("busy").exists()),
        "the MDA never got the second message"
    );
    crate::common::kill::send_signal(run.id(), rustix::process::Signal::HUP);
    fs::write(out.join("go"), "").unwrap();
    let first = run.wait(BOUND);
    first.assert_code(75);
    // The MDA delivered the message in hand: nothing was rolled back.
    assert!(
        first.stderr.contains(
            "interrupted: 2 messages were delivered and recorded before the interrupt; \
             nothing was deleted from the server"
        ) && !first.stderr.contains("rolled back"),
        "{first}"
    );
    // The message in hand was finished and recorded; nothing was deleted.
    assert_same_messages(&files_starting(&out, "msg."), &msgs[..2]);
    assert_eq!(drop.remaining(), 5);
    assert!(
        !srv.verbs().iter().any(|v| v == "DELE" || v == "QUIT"),
        "{:?}",
        srv.verbs()
    );

    run_bounded(&env, &cfg, &[]).assert_success();
    assert_same_messages(&files_starting(&out, "msg."), &msgs);
    assert_eq!(drop.remaining(), 0);
}

#[test]
fn a_server_announcing_login_delay_gets_one_session_a_run() {
    let msgs = messages(3);
    let drop = Maildrop::with_capa(
        USER,
        PASSWORD,
        msgs.clone(),
        &["USER", "UIDL", "TOP", "RESP-CODES", "LOGIN-DELAY 900"],
    );
    let srv = ScriptServer::maildrop(Arc::clone(&drop));
    let env = TestEnv::new();
    let maildir = env.path("Maildir");
    let cfg = env.write_config(&config_of(&[&scripted("ld", srv.port(), &maildir, false)]));

    run_bounded(&env, &cfg, &[]).assert_success();
    assert_eq!(srv.connections(), 1, "a second login would be refused");
    assert_same_messages(&crate::common::env::read_maildir(&maildir), &msgs);
    assert_eq!(drop.remaining(), 0);
}

#[test]
fn a_refused_second_session_keeps_what_the_first_delivered_and_deleted_in_the_report() {
    // A listing as long as a page (200 all new, deleted after the run) is
    // checked with a second session: the only way to learn that a server
    // emptied every run pages.
    for json in [false, true] {
        let msgs = messages(200);
        let drop = Maildrop::new(USER, PASSWORD, msgs.clone());
        // LOGIN-DELAY is not announced, but enforced on the second login.
        let srv = ScriptServer::maildrop_except(Arc::clone(&drop), |conn, line| {
            (conn > 0 && line.to_ascii_uppercase().starts_with("PASS "))
                .then(|| crate::common::script::Reply::err("[LOGIN-DELAY] wait 15 minutes"))
        });
        let env = TestEnv::new();
        let maildir = env.path("Maildir");
        let cfg = env.write_config(&config_of(&[&scripted("ld", srv.port(), &maildir, false)]));

        let run = run_bounded(&env, &cfg, if json { &["--json"] } else { &[] });
        run.assert_code(75);
        assert_eq!(srv.connections(), 2);
        assert_same_messages(&crate::common::env::read_maildir(&maildir), &msgs);
        assert_eq!(drop.remaining(), 0, "the first session's QUIT deleted them");
        let line = run
            .stderr
            .lines()
            .find(|l| l.contains("ld:"))
            .unwrap_or_else(|| panic!("no line for the account\n{run}"));
        for want in ["200 new", "200 deleted", "how often you may log in"] {
            assert!(line.contains(want), "{want:?} in {line:?}\n{run}");
        }
        if json {
            let v: serde_json::Value = serde_json::from_str(run.stdout.trim()).unwrap();
            assert_eq!(v["new"], 200, "{v}");
            assert_eq!(v["deleted"], 200, "{v}");
            assert_eq!(v["ok"], false, "{v}");
            assert_eq!(v["exit_code"], 75, "{v}");
            assert!(
                v["error"]
                    .as_str()
                    .unwrap()
                    .contains("how often you may log in"),
                "{v}"
            );
        }
    }
}

/// An account on a scripted server holding `messages(3)` that answers
/// every RETR of message 2 with `refusal`, run with `args` and then, on a
/// fresh server, with `--json`; both runs exit `code`. Checks what was
/// delivered, that message 2 stays on the server, that no control byte of
/// the refusal reaches the output, and that the JSON counts 2 new and 1
/// skipped. Returns the account's line from the first run.
fn run_refusing_message_2(refusal: &str, args: &[&str], code: i32) -> String {
    let msgs = messages(3);
    let mut line = String::new();
    for json in [false, true] {
        let drop = Maildrop::new(USER, PASSWORD, msgs.clone());
        let refusal = refusal.to_string();
        let srv = ScriptServer::maildrop_except(Arc::clone(&drop), move |_, line| {
            line.eq_ignore_ascii_case("RETR 2")
                .then(|| crate::common::script::Reply::err(&refusal))
        });
        let env = TestEnv::new();
        let maildir = env.path("Maildir");
        let cfg = env.write_config(&config_of(&[&scripted("sk", srv.port(), &maildir, false)]));

        let run = run_bounded(&env, &cfg, if json { &["--json"] } else { args });
        run.assert_code(code);
        assert_same_messages(
            &crate::common::env::read_maildir(&maildir),
            &[msgs[0].clone(), msgs[2].clone()],
        );
        assert_eq!(drop.remaining(), 1, "message 2 stays on the server");
        assert!(!run.all_output().contains('\u{1b}'), "{run}");
        if json {
            let v: serde_json::Value = serde_json::from_str(run.stdout.trim()).unwrap();
            let counts = (
                v["new"].clone(),
                v["skipped"].clone(),
                v["exit_code"].clone(),
            );
            assert_eq!(counts, (2.into(), 1.into(), code.into()), "{v}");
        } else {
            line = run
                .stderr
                .lines()
                .find(|l| l.contains("sk:"))
                .unwrap_or_else(|| panic!("no line for the account\n{run}"))
                .to_string();
        }
    }
    line
}

#[test]
fn a_message_the_server_will_not_send_temporarily_is_reported_and_deferred() {
    // Under -q too: the status is not 0, so the line says why.
    let line = run_refusing_message_2("[SYS/TEMP] backend busy, try later", &["-q"], 75);
    let msg = &messages(3)[1];
    let size = format!(
        "{} bytes",
        msg.len() + msg.iter().filter(|&&b| b == b'\n').count()
    );
    for want in [
        "2 new",
        "1 skipped: the server refused message 2 (UID uid-0001,",
        size.as_str(),
        "[SYS/TEMP] backend busy, try later",
    ] {
        assert!(line.contains(want), "{want:?} in {line:?}");
    }
}

#[test]
fn a_message_the_server_always_refuses_is_counted_and_shown_without_its_control_bytes() {
    let line = run_refusing_message_2("no such \u{1b}[31mmessage", &[], 0);
    for want in [
        "2 new",
        "1 skipped: the server refused message 2 (UID uid-0001,",
        "no such",
        "message (left on the server)",
    ] {
        assert!(line.contains(want), "{want:?} in {line:?}");
    }
}

#[test]
fn a_run_that_exits_75_is_not_ok_in_json() {
    let (_, drop, srv) = serving(2);
    let env = TestEnv::new();
    // The first message is deferred, the second delivered.
    let mda = script(
        &env.path("mda"),
        "cat > /dev/null\n[ -e \"$HOME/once\" ] && exit 0\ntouch \"$HOME/once\"\nexit 75\n",
    );
    let cfg = env.write_config(&config_of(&[&mda_account(srv.port(), &[&mda])]));

    let run = run_bounded(&env, &cfg, &["--json"]);
    run.assert_code(75);
    let v: serde_json::Value = serde_json::from_str(run.stdout.trim()).unwrap();
    assert_eq!(v["exit_code"], 75, "{v}");
    assert_eq!(v["ok"], false, "{v}");
    assert_eq!(v["error"], serde_json::Value::Null, "{v}");
    assert_eq!(
        (v["new"].clone(), v["deferred"].clone()),
        (1.into(), 1.into()),
        "{v}"
    );
    assert_eq!(
        drop.remaining(),
        1,
        "the deferred message stays on the server"
    );
}

/// `n` small messages of account `a`, different from every other
/// account's.
fn messages_of(a: usize, n: usize) -> Vec<Vec<u8>> {
    (0..n)
        .map(|i| format!("From: a{a}@example.org\nSubject: {a}/{i}\n\nbody {a} {i}\n").into_bytes())
        .collect()
}

/// Sixteen accounts on scripted servers, `each` messages apiece, fetched
/// with `-j 16` by a popfetch started after `setup` (a `ulimit`): every
/// message is delivered and deleted, and the run exits 0.
fn sixteen_accounts_at_once_after(setup: &str, each: usize) {
    let env = TestEnv::new();
    let mut servers = Vec::new();
    let mut accounts = Vec::new();
    for a in 0..16 {
        let msgs = messages_of(a, each);
        let drop = Maildrop::new(USER, PASSWORD, msgs.clone());
        let srv = ScriptServer::maildrop(Arc::clone(&drop));
        let maildir = env.path(&format!("Mail/a{a}"));
        accounts.push(scripted(&format!("a{a}"), srv.port(), &maildir, false));
        servers.push((srv, drop, maildir, msgs));
    }
    let cfg = env.write_config(&config_of(&accounts.iter().collect::<Vec<_>>()));

    let run = env.run_after(setup, &["-j", "16", "-c", cfg.to_str().unwrap()]);
    run.assert_success();
    for (_, drop, maildir, msgs) in &servers {
        assert_same_messages(&crate::common::env::read_maildir(maildir), msgs);
        assert_eq!(drop.remaining(), 0);
    }
}

#[test]
fn sixteen_accounts_at_once_fit_in_1024_file_descriptors() {
    // Soft and hard limit both: popfetch may not raise it. More than two
    // batches of 64 per account.
    sixteen_accounts_at_once_after("ulimit -n 1024", 150);
}

#[test]
fn a_low_soft_limit_on_open_files_is_raised_to_the_hard_one() {
    // 64 descriptors cannot hold 16 accounts at once; the hard limit can.
    sixteen_accounts_at_once_after("ulimit -S -n 64", 20);
}

#[test]
fn two_accounts_into_one_maildir_at_once_deliver_everything_exactly_once() {
    const EACH: usize = 400;
    let env = TestEnv::new();
    let maildir = env.path("Shared");
    let mut servers = Vec::new();
    let mut accounts = Vec::new();
    let mut all = Vec::new();
    for a in 0..2 {
        let msgs = messages_of(a, EACH);
        all.extend(msgs.iter().cloned());
        let drop = Maildrop::new(USER, PASSWORD, msgs);
        let srv = ScriptServer::maildrop(Arc::clone(&drop));
        // The same user on two servers: two accounts, one Maildir.
        accounts.push(scripted(&format!("a{a}"), srv.port(), &maildir, false));
        servers.push((srv, drop));
    }
    let cfg = env.write_config(&config_of(&accounts.iter().collect::<Vec<_>>()));

    run_bounded(&env, &cfg, &["-j", "2"]).assert_success();
    assert_same_messages(&crate::common::env::read_maildir(&maildir), &all);
    assert!(crate::common::env::maildir_tmp_files(&maildir).is_empty());
    for (_, drop) in &servers {
        assert_eq!(drop.remaining(), 0);
    }
}

/// An MDA script that counts its runs in `$out/count`, writes each message
/// it takes to `$out/msg.*`, and on its run number `n` first waits (up to
/// 10 s) until the next message is spooled beside its own, noting
/// `$out/overlapped` when it is, then runs `then`. Nothing in `then` runs
/// once `$out/fixed` exists.
fn overlap_mda(env: &TestEnv, out: &Path, n: usize, then: &str) -> String {
    script(
        &env.path("mda"),
        &format!(
            "out='{out}'; spool='{spool}'\n\
             n=$(cat \"$out/count\" 2>/dev/null || echo 0); n=$((n + 1)); echo $n > \"$out/count\"\n\
             if [ $n = {n} ] && [ ! -e \"$out/fixed\" ]; then\n\
               i=0\n\
               while [ $(ls \"$spool\"/*/ | grep -vc '\\.done$') -lt 2 ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done\n\
               [ $i -lt 100 ] && touch \"$out/overlapped\"\n\
               {then}\n\
             fi\n\
             f=$(mktemp \"$out/msg.XXXXXX\") && cat > \"$f\" || exit 74\n",
            out = out.display(),
            spool = env.state_dir().join("spool").display(),
        ),
    )
}

/// Five messages on a scripted server and an account whose MDA is
/// [`overlap_mda`] with `then` on its second run, writing into `out`.
struct Overlap {
    msgs: Vec<Vec<u8>>,
    drop: Arc<Maildrop>,
    srv: ScriptServer,
    env: TestEnv,
    out: PathBuf,
    cfg: PathBuf,
}

fn overlapping(then: &str) -> Overlap {
    let (msgs, drop, srv) = serving(5);
    let env = TestEnv::new();
    let out = env.path("mda-out");
    fs::create_dir_all(&out).unwrap();
    let mda = overlap_mda(&env, &out, 2, then);
    let cfg = env.write_config(&config_of(&[&mda_account(srv.port(), &[&mda])]));
    Overlap {
        msgs,
        drop,
        srv,
        env,
        out,
        cfg,
    }
}

/// Asserts that a run left no spool file but `.done` marks.
#[track_caller]
fn assert_no_spool_leftovers(env: &TestEnv) {
    let mut left = Vec::new();
    for dir in fs::read_dir(env.state_dir().join("spool"))
        .into_iter()
        .flatten()
    {
        for e in fs::read_dir(dir.unwrap().path()).unwrap() {
            let name = e.unwrap().file_name().to_string_lossy().into_owned();
            if !name.ends_with(".done") {
                left.push(name);
            }
        }
    }
    assert!(left.is_empty(), "{left:?}");
}

#[test]
fn an_mda_failing_while_the_next_message_arrives_stops_before_handing_it_over() {
    let o = overlapping("cat >/dev/null; echo 'mailbox on fire' >&2; exit 1");

    let run = run_bounded(&o.env, &o.cfg, &[]);
    run.assert_code(74);
    assert!(run.stderr.contains("mailbox on fire"), "{run}");
    assert!(
        o.out.join("overlapped").exists(),
        "the third message did not arrive while the second one's MDA ran"
    );
    // The third message arrived but was never handed to the MDA.
    assert_eq!(fs::read_to_string(o.out.join("count")).unwrap().trim(), "2");
    assert_same_messages(&files_starting(&o.out, "msg."), &o.msgs[..1]);
    assert_no_spool_leftovers(&o.env);
    assert_eq!(o.drop.remaining(), 5, "nothing deleted");
    assert!(
        !o.srv.verbs().iter().any(|v| v == "DELE" || v == "QUIT"),
        "{:?}",
        o.srv.verbs()
    );

    // Fixed: the rest arrives, nothing twice.
    fs::write(o.out.join("fixed"), "").unwrap();
    run_bounded(&o.env, &o.cfg, &[]).assert_success();
    assert_same_messages(&files_starting(&o.out, "msg."), &o.msgs);
    assert_eq!(o.drop.remaining(), 0);
}

#[test]
fn an_mda_exiting_75_while_the_next_message_arrives_defers_only_its_own() {
    let o = overlapping("cat >/dev/null; echo 'mailbox busy' >&2; exit 75");

    let run = run_bounded(&o.env, &o.cfg, &[]);
    run.assert_code(75);
    assert!(
        run.stderr.contains("4 new") && run.stderr.contains("1 deferred"),
        "{run}"
    );
    assert!(o.out.join("overlapped").exists());
    let mut rest = o.msgs.clone();
    let deferred = rest.remove(1);
    assert_same_messages(&files_starting(&o.out, "msg."), &rest);
    assert_eq!(o.drop.remaining(), 1, "only the deferred message stays");
    assert_no_spool_leftovers(&o.env);

    run_bounded(&o.env, &o.cfg, &[]).assert_success();
    assert_same_messages(&files_starting(&o.out, "msg."), &o.msgs);
    assert_eq!(
        files_starting(&o.out, "msg.")
            .iter()
            .filter(|m| **m == deferred)
            .count(),
        1
    );
    assert_eq!(o.drop.remaining(), 0);
}

#[test]
fn sigkill_while_an_mda_delivers_and_the_next_message_waits_repeats_only_the_mdas() {
    // The second message's MDA delivers it, then waits for "go" once the
    // third message is spooled: popfetch is killed in between.
    let o = overlapping(
        "f=$(mktemp \"$out/msg.XXXXXX\") && cat > \"$f\" || exit 74\n\
         touch \"$out/busy\"; i=0\n\
         while [ ! -e \"$out/go\" ] && [ $i -lt 600 ]; do sleep 0.1; i=$((i + 1)); done\n\
         exit 0",
    );

    let run = o.env.spawn(&["-c", o.cfg.to_str().unwrap()]);
    assert!(
        crate::common::wait_until(BOUND, || o.out.join("busy").exists()),
        "the MDA never got the second message"
    );
    let killed = run.kill();
    assert_eq!(killed.signal, Some(9), "{killed}");
    // The MDA, in its own process group, outlives popfetch and finishes.
    fs::write(o.out.join("go"), "").unwrap();
    assert!(crate::common::wait_until(BOUND, || {
        fs::read_to_string(o.out.join("count")).is_ok_and(|c| c.trim() == "2")
    }));
    std::thread::sleep(Duration::from_millis(300));
    assert!(o.out.join("overlapped").exists());
    assert_eq!(o.drop.remaining(), 5);

    run_bounded(&o.env, &o.cfg, &[]).assert_success();
    assert_eq!(o.drop.remaining(), 0);
    // Every message arrived; only the one in the MDA's hands at the kill
    // may have arrived twice.
    let got = files_starting(&o.out, "msg.");
    for (i, m) in o.msgs.iter().enumerate() {
        let n = got.iter().filter(|g| *g == m).count();
        let most = if i == 1 { 2 } else { 1 };
        assert!(
            (1..=most).contains(&n),
            "message {i} arrived {n} times (at most {most})"
        );
    }
}
