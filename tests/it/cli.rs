//! The command line and config contract: unknown keys are errors with their
//! position, `accounts` lists the profiles, and a second run for a mailbox
//! that is being fetched exits 75 at once instead of waiting or racing.

use std::sync::Arc;
use std::time::Duration;

use crate::common::corpus;
use crate::common::env::{AccountToml, TestEnv, config_of, read_maildir};
use crate::common::script::{Maildrop, Reply, ScriptServer};
use crate::common::{PASSWORD, USER, wait_until};

/// Exit status for a configuration error (SPEC §1).
const EX_CONFIG: i32 = 78;
/// Exit status for a temporary failure, such as a held lock.
const EX_TEMPFAIL: i32 = 75;

/// An account that would work if a server listened on `port`.
fn account(name: &str, port: u16, env: &TestEnv) -> AccountToml {
    AccountToml::new(name)
        .str("host", "127.0.0.1")
        .raw("port", port.to_string())
        .str("tls", "none")
        .raw("allow_plaintext", "true")
        .str("auth", "user")
        .str("user", USER)
        .str("password", PASSWORD)
        .str(
            "maildir",
            &env.path(&format!("Mail/{name}")).display().to_string(),
        )
        .raw("received_header", "false")
}

/// The 1-based line of the first line starting with `key =`.
fn line_of(text: &str, key: &str) -> usize {
    text.lines()
        .position(|l| l.starts_with(&format!("{key} =")))
        .expect("key in text")
        + 1
}

#[track_caller]
fn assert_names_position(stderr: &str, line: usize, col: usize) {
    let compact = format!("{line}:{col}");
    let spelled =
        stderr.contains(&format!("line {line}")) && stderr.contains(&format!("column {col}"));
    assert!(
        stderr.contains(&compact) || spelled,
        "expected line {line}, column {col} in:\n{stderr}"
    );
}

#[test]
fn unknown_key_is_a_config_error_with_its_position() {
    let env = TestEnv::new();
    let good = account("work", 9, &env);
    let cases = [
        // A typo in an account.
        format!("{}colour = \"blue\"\n", good.to_toml()),
        // A typo in [defaults].
        format!(
            "[defaults]\nkeep = false\nkeepp = true\n\n{}",
            good.to_toml()
        ),
    ];
    for (text, key) in cases.iter().zip(["colour", "keepp"]) {
        let cfg = env.path("bad.toml");
        env.write_config_at(&cfg, text);
        let line = line_of(text, key);
        for args in [vec![], vec!["accounts"]] {
            let mut argv = vec!["-c", cfg.to_str().unwrap()];
            argv.extend(args.iter().copied());
            let out = env.run(&argv);
            out.assert_code(EX_CONFIG);
            assert!(out.stderr.contains(key), "names the key {key:?}\n{out}");
            assert!(out.stderr.contains("bad.toml"), "names the file\n{out}");
            assert_names_position(&out.stderr, line, 1);
        }
    }
}

#[test]
fn accounts_lists_every_profile_without_connecting() {
    let srv = ScriptServer::start(Reply::ok("ready"), |_, _| Reply::Close);
    let env = TestEnv::new();
    let work = account("work", srv.port(), &env);
    let home = account("home", srv.port(), &env).str("user", "bob");
    env.write_config(&config_of(&[&work, &home]));

    let out = env.run(&["accounts"]);
    out.assert_success();
    for name in ["work", "home"] {
        assert!(
            out.stdout.lines().any(|l| l
                .split_whitespace()
                .any(|w| w.trim_end_matches(':') == name)),
            "{name} listed on stdout\n{out}"
        );
    }
    assert_eq!(srv.connections(), 0, "listing accounts needs no server");
}

#[test]
fn command_line_misuse_exits_64_and_names_what_is_known() {
    let srv = ScriptServer::start(Reply::ok("ready"), |_, _| Reply::Close);
    let env = TestEnv::new();
    env.write_config(&config_of(&[&account("work", srv.port(), &env)]));

    let out = env.run(&["wrok"]);
    assert_eq!(out.code, Some(64), "an unknown account is misuse\n{out}");
    assert!(
        out.stderr.contains("wrok") && out.stderr.contains("work"),
        "the error names the typo and the accounts there are\n{out}"
    );
    let out = env.run(&["--no-such-flag"]);
    assert_eq!(out.code, Some(64), "an unknown flag is misuse too\n{out}");
    assert!(out.stderr.contains("--no-such-flag"), "{out}");
    let help = env.run(&["--help"]);
    assert_eq!(help.code, Some(0), "{help}");
    assert_eq!(srv.connections(), 0, "misuse never reaches the server");
}

#[test]
fn a_second_run_while_the_first_holds_the_lock_exits_75() {
    let msgs = corpus::corpus(800, 3);
    let drop = Maildrop::new(USER, PASSWORD, msgs);
    let inner = Arc::clone(&drop);
    // The server stalls on the first RETR, so the first run holds the
    // account lock for as long as this test needs.
    let srv = ScriptServer::start(Reply::ok("ready"), move |conn, line| {
        if line.to_ascii_uppercase().starts_with("RETR") {
            Reply::Stall(Duration::from_secs(300))
        } else {
            inner.reply(conn, line)
        }
    });
    let env = TestEnv::new();
    let acct = account("locked", srv.port(), &env).raw("timeout", "300");
    let cfg = env.write_config(&config_of(&[&acct]));
    let cfg = cfg.to_str().unwrap();

    let mut first = env.spawn(&["-c", cfg]);
    let mut exited = false;
    wait_until(Duration::from_secs(60), || {
        exited = !first.running();
        exited || srv.saw("RETR")
    });
    if exited || !srv.saw("RETR") {
        let out = first.kill();
        panic!(
            "the first run never reached RETR: {:?}\n{out}",
            srv.commands()
        );
    }

    let second = env.run(&["-c", cfg]);
    let still_running = first.running();
    let first_out = first.kill();
    second.assert_code(EX_TEMPFAIL);
    assert!(
        second.elapsed < Duration::from_secs(20),
        "the second run must give up at once, not wait for the lock ({:?})",
        second.elapsed
    );
    assert!(
        second.stderr.contains("locked"),
        "names the account\n{second}"
    );
    assert!(
        still_running,
        "the first run was still fetching\n{first_out}"
    );
    assert_eq!(srv.connections(), 1, "the second run must not even connect");
    assert_eq!(drop.remaining(), 3);
    assert!(read_maildir(&env.path("Mail/locked")).is_empty());
}
