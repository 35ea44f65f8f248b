//! The local side under hostile or careless conditions: files planted where
//! popfetch writes, permissions others could abuse, numbers out of range,
//! control characters in credentials, two accounts for one mailbox. Every
//! test runs the real binary against a scripted server (no Dovecot needed).

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::sync::Arc;

use crate::common::corpus;
use popfetch::Paths;

use crate::common::env::{
    AccountToml, OTHER_UID, Output, TestEnv, config_of, read_maildir, sorted,
};
use crate::common::script::{Maildrop, Reply, ScriptServer};
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

/// Run with a config of `acct` alone: a config error (78) at the line of
/// `key`, naming the key, and saying `needle`.
#[track_caller]
fn assert_config_error(env: &TestEnv, acct: &AccountToml, key: &str, needle: &str) -> Output {
    let text = config_of(&[acct]);
    let cfg = env.write_config(&text);
    let line = text
        .lines()
        .position(|l| l.starts_with(&format!("{key} =")))
        .expect("the key is in the config")
        + 1;
    let out = env.run(&["-c", cfg.to_str().unwrap()]);
    assert_eq!(out.code, Some(EX_CONFIG), "{key}\n{out}");
    assert!(
        out.stderr.contains(&format!("{}:{line}:", cfg.display()))
            && out.stderr.contains(&format!("\"{key}\""))
            && out.stderr.contains(needle),
        "{key}: the error names the place and the key, and says {needle:?}\n{out}"
    );
    out
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

/// Every numeric setting has a range; a value outside it is a config error
/// at its position naming the key and the range, never a panic later on.
#[test]
fn numbers_out_of_range_in_the_config_are_errors_naming_the_key() {
    let (drop, srv, _) = server(32, 2);
    let env = TestEnv::new();
    for (key, value, range) in [
        ("timeout", "9223372036854775807", "1 to 86400"),
        ("timeout", "86401", "1 to 86400"),
        ("timeout", "0", "1 to 86400"),
        ("port", "70000", "1 to 65535"),
        ("max_messages", "9223372036854775807", "1 to 1000000000"),
        ("delete_after_days", "36526", "0 to 36525"),
        ("max_size", "1099511627777", "1 TiB"),
        ("max_size", "\"1025G\"", "1 TiB"),
    ] {
        let acct = scripted("n", srv.port(), &env.path("Mail"), true).raw(key, value);
        assert_config_error(&env, &acct, key, range);
    }
    assert_eq!(srv.connections(), 0, "nothing reaches the server");
    assert_eq!(drop.remaining(), 2);
}

/// The same for the flags: usage errors (64) naming the flag and the range.
#[test]
fn numbers_out_of_range_on_the_command_line_exit_64_naming_the_flag() {
    let env = TestEnv::new();
    let base = [
        "--host",
        "127.0.0.1",
        "--user",
        "u",
        "--maildir",
        "Mail",
        "--password-command",
        "echo pw",
    ];
    for (flag, value, range) in [
        ("--timeout", "18446744073709551615", "1..=86400"),
        ("--timeout", "86401", "1..=86400"),
        ("--jobs", "1025", "1..=1024"),
        ("--max-messages", "1000000001", "1..=1000000000"),
        ("--delete-after-days", "36526", "0..=36525"),
        ("--max-size", "1025G", "1 TiB"),
    ] {
        let mut args = base.to_vec();
        args.extend(["--keep", flag, value]);
        let out = env.run(&args);
        assert_eq!(out.code, Some(64), "{flag} {value}\n{out}");
        assert!(
            out.stderr.contains(flag) && out.stderr.contains(range),
            "{flag} {value}: the error names the flag and the range\n{out}"
        );
    }
}

/// LIST sizes near 2^64 (a lying server) are added without overflow: two
/// messages of 2^63 bytes make `check` report, not panic.
#[test]
fn check_adds_huge_list_sizes_without_overflow() {
    let msgs = corpus::corpus(33, 2);
    let drop = Maildrop::new(USER, PASSWORD, msgs);
    let inner = Arc::clone(&drop);
    let srv = ScriptServer::start(Reply::ok("ready"), move |c, l| {
        if l.eq_ignore_ascii_case("LIST") {
            Reply::multi("+OK", &["1 9223372036854775808", "2 9223372036854775808"])
        } else {
            inner.reply(c, l)
        }
    });
    let env = TestEnv::new();
    let cfg = env.write_config(&config_of(&[&scripted(
        "huge",
        srv.port(),
        &env.path("Mail"),
        true,
    )]));
    let out = env.run(&["-c", cfg.to_str().unwrap(), "check"]);
    out.assert_success();
    assert!(
        out.stderr.contains("huge: 2 new (") && out.stderr.contains("on the server"),
        "{out}"
    );
    assert_eq!(drop.remaining(), 2);
}

/// A user name or password with CR, LF or NUL cannot be sent in a POP3
/// command: that is a config error when the config is read (78, naming
/// the key), a usage error for `--user` (64), and a config error naming
/// the account, without the password, when password_command prints one.
#[test]
fn line_breaks_and_nul_in_credentials_are_config_errors() {
    let (drop, srv, _) = server(34, 2);
    let env = TestEnv::new();
    let maildir = env.path("Mail");
    for (key, value, needle) in [
        ("user", "alice\r\nDELE 1", "line break"),
        ("user", "alice\nx", "line break"),
        ("user", "alice\u{0}x", "NUL"),
        (
            "password",
            "pw\r\nDELE 1",
            "the password contains a line break",
        ),
        ("password", "pw\u{0}x", "the password contains a NUL"),
    ] {
        let acct = scripted("ctl", srv.port(), &maildir, false).str(key, value);
        let out = assert_config_error(&env, &acct, key, needle);
        assert!(!out.all_output().contains("DELE"), "{out}");
    }

    // No config file: the account is the flags alone.
    let out = TestEnv::new().run(&[
        "--host",
        "127.0.0.1",
        "--user",
        "alice\nDELE 1",
        "--maildir",
        "Mail",
    ]);
    assert_eq!(out.code, Some(64), "{out}");
    assert!(
        out.stderr.contains("--user") && out.stderr.contains("line break"),
        "{out}"
    );

    for (script, what) in [
        // The commands' own text must not hold the password.
        ("echo U2UNY3JldAo= | base64 -d", "line break"),
        ("echo U2UAY3JldAo= | base64 -d", "NUL"),
    ] {
        let acct = scripted("cmd", srv.port(), &maildir, false)
            .remove("password")
            .str("password_command", script);
        let cfg = env.write_config(&config_of(&[&acct]));
        let out = env.run(&["-c", cfg.to_str().unwrap()]);
        assert_eq!(out.code, Some(EX_CONFIG), "{script}\n{out}");
        assert!(
            out.stderr.contains("account cmd")
                && out.stderr.contains("password")
                && out.stderr.contains("control character")
                && out.stderr.contains(what),
            "{script}\n{out}"
        );
        assert!(
            !out.all_output().contains("cret"),
            "the password is not shown\n{out}"
        );
    }
    assert!(!srv.saw("PASS"), "no such password reaches the server");
    assert_eq!(drop.remaining(), 2);
}

/// Whoever can write the config can set `mda` or `password_command` and
/// run commands as the user: a config file writable by group or others is
/// refused (78), naming the file and the fix, before anything runs.
#[test]
fn a_config_file_others_can_write_is_refused() {
    let (drop, srv, _) = server(35, 2);
    let env = TestEnv::new();
    let acct = scripted("w", srv.port(), &env.path("Mail"), false);
    let cfg = env.write_config(&config_of(&[&acct]));
    for mode in [0o666, 0o620] {
        fs::set_permissions(&cfg, fs::Permissions::from_mode(mode)).unwrap();
        for args in [&["-c", cfg.to_str().unwrap()][..], &["accounts"]] {
            let out = env.run(args);
            assert_eq!(out.code, Some(EX_CONFIG), "mode {mode:o}\n{out}");
            assert!(
                out.stderr.contains(&cfg.display().to_string())
                    && out.stderr.contains(&format!("{mode:04o}"))
                    && out
                        .stderr
                        .contains(&format!("chmod go-w {}", cfg.display())),
                "mode {mode:o}\n{out}"
            );
        }
    }
    assert_eq!(srv.connections(), 0);
    assert_eq!(drop.remaining(), 2);
    fs::set_permissions(&cfg, fs::Permissions::from_mode(0o644)).unwrap();
    env.run(&["accounts"]).assert_success();
}

/// A config file that belongs to another user (not root) is refused too.
#[test]
fn a_config_file_of_another_user_is_refused() {
    if !rustix::process::geteuid().is_root() {
        eprintln!("skipped: only root can give a file to another user");
        return;
    }
    let env = TestEnv::new();
    let cfg = env.write_config(&config_of(&[&scripted("o", 9, &env.path("M"), false)]));
    rustix::fs::chown(&cfg, Some(rustix::process::Uid::from_raw(OTHER_UID)), None).unwrap();
    // Readable, so that whoever runs popfetch can read it, and only its
    // owner is wrong.
    fs::set_permissions(&cfg, fs::Permissions::from_mode(0o644)).unwrap();
    let out = env.run(&["accounts"]);
    assert_eq!(out.code, Some(EX_CONFIG), "{out}");
    assert!(
        out.stderr.contains(&cfg.display().to_string())
            && out.stderr.contains(&format!("(uid {OTHER_UID})"))
            && out.stderr.contains("chown"),
        "{out}"
    );
}

/// A `.netrc` others can write is not used: a warning names it and the
/// fix, and the account is left without a password (no terminal here, so
/// that is the usual "no password" error), which never reaches the server.
#[test]
fn a_netrc_others_can_write_is_not_used() {
    let (drop, srv, _) = server(36, 2);
    let env = TestEnv::new();
    let netrc = env.path(".netrc");
    fs::write(
        &netrc,
        format!("machine 127.0.0.1 login {USER} password {PASSWORD}\n"),
    )
    .unwrap();
    let acct = scripted("n", srv.port(), &env.path("Mail"), false).remove("password");
    let cfg = env.write_config(&config_of(&[&acct]));
    let cfg = cfg.to_str().unwrap();
    for mode in [0o666, 0o620] {
        fs::set_permissions(&netrc, fs::Permissions::from_mode(mode)).unwrap();
        let out = env.run(&["-c", cfg]);
        assert_eq!(out.code, Some(EX_CONFIG), "mode {mode:o}\n{out}");
        assert!(
            out.stderr.contains("warning")
                && out
                    .stderr
                    .contains(&format!("chmod go-w {}", netrc.display()))
                && out.stderr.contains("no password for account n"),
            "mode {mode:o}\n{out}"
        );
    }
    assert!(!srv.saw("PASS"));
    fs::set_permissions(&netrc, fs::Permissions::from_mode(0o600)).unwrap();
    let out = env.run(&["-c", cfg]);
    out.assert_success();
    assert!(!out.stderr.contains("warning"), "{out}");
    assert_eq!(drop.remaining(), 0);
}

/// Two profiles for one mailbox (`user@host:port`) share its lock and its
/// state: `accounts` and every run say so, naming both, unless -q.
#[test]
fn two_accounts_for_one_mailbox_are_pointed_out() {
    let (_drop, srv, _) = server(37, 2);
    let env = TestEnv::new();
    let a = scripted("a", srv.port(), &env.path("Mail/a"), true);
    let b = scripted("b", srv.port(), &env.path("Mail/b"), true);
    let c = scripted("c", srv.port(), &env.path("Mail/c"), true).str("user", "carol");
    let cfg = env.write_config(&config_of(&[&a, &c, &b]));
    let cfg = cfg.to_str().unwrap();
    let warning = format!(
        "accounts a and b fetch the same mailbox {USER}@127.0.0.1:{}: they share one lock \
         and one state",
        srv.port()
    );
    for args in [&["-c", cfg, "accounts"][..], &["-c", cfg, "-j", "2"]] {
        let out = env.run(args);
        assert!(out.stderr.contains(&warning), "{out}");
        assert!(out.stderr.contains("may exit 75"), "{out}");
        let notes = out.stderr.lines().filter(|l| l.contains("same mailbox"));
        assert_eq!(notes.count(), 1, "c has a mailbox of its own\n{out}");
    }
    let out = env.run(&["-c", cfg, "-q", "accounts"]);
    out.assert_success();
    assert_eq!(out.stderr, "", "-q: errors only\n{out}");
}

/// A file outside everything popfetch owns, to point planted links at.
fn victim(env: &TestEnv) -> (std::path::PathBuf, Vec<u8>) {
    let path = env.path("victim.txt");
    let content = b"precious, not popfetch's\n".to_vec();
    fs::write(&path, &content).unwrap();
    (path, content)
}

/// The state files of the scripted account `acct` on `port`.
fn state_paths(env: &TestEnv, port: u16) -> Paths {
    Paths::new(&env.state_dir(), &format!("{USER}@127.0.0.1:{port}"))
}

/// Links planted where popfetch keeps its state (by whoever could write
/// there) must not make it write through them: the victim is unchanged,
/// and the run either goes on safely (the state's temporary file is made
/// anew) or stops with a clear error before any message is touched.
#[test]
fn planted_links_in_the_state_directory_are_not_written_through() {
    for (planted, fails) in [
        ("state.new", false),
        ("journal", true),
        ("lock", true),
        ("state", true),
    ] {
        let (drop, srv, msgs) = server(38, 3);
        let env = TestEnv::new();
        let (victim, content) = victim(&env);
        let paths = state_paths(&env, srv.port());
        fs::create_dir_all(&paths.dir).unwrap();
        fs::set_permissions(&paths.dir, fs::Permissions::from_mode(0o700)).unwrap();
        let link = match planted {
            "state.new" => paths.state.with_extension("state.new"),
            "journal" => paths.journal.clone(),
            "lock" => paths.lock.clone(),
            _ => paths.state.clone(),
        };
        std::os::unix::fs::symlink(&victim, &link).unwrap();
        let maildir = env.path("Mail");
        let cfg = env.write_config(&config_of(&[&scripted("p", srv.port(), &maildir, false)]));

        let out = env.run(&["-c", cfg.to_str().unwrap()]);
        assert_eq!(fs::read(&victim).unwrap(), content, "{planted}\n{out}");
        if fails {
            assert_eq!(out.code, Some(EX_IOERR), "{planted}\n{out}");
            assert!(
                out.stderr.contains(&link.display().to_string())
                    && out.stderr.contains("symbolic link"),
                "{planted}: the error names the link\n{out}"
            );
            assert_eq!(drop.remaining(), 3, "{planted}: nothing deleted\n{out}");
            assert!(!srv.saw("RETR"), "{planted}\n{out}");
        } else {
            out.assert_success();
            assert_eq!(read_maildir(&maildir), sorted(&msgs));
            assert!(!link.exists(), "the temporary file is renamed into place");
            assert!(fs::symlink_metadata(&paths.state).unwrap().is_file());
        }
    }
}

/// The state directory must be the user's alone: one that others may
/// write (they could plant links or swap files) is refused (78), with the
/// fix.
#[test]
fn a_state_directory_others_can_write_is_refused() {
    let (drop, srv, _) = server(39, 2);
    let env = TestEnv::new();
    let dir = env.state_dir();
    fs::create_dir_all(&dir).unwrap();
    let cfg = env.write_config(&config_of(&[&scripted(
        "s",
        srv.port(),
        &env.path("M"),
        false,
    )]));
    let cfg = cfg.to_str().unwrap();
    for mode in [0o777, 0o1777, 0o720] {
        fs::set_permissions(&dir, fs::Permissions::from_mode(mode)).unwrap();
        let out = env.run(&["-c", cfg]);
        assert_eq!(out.code, Some(EX_CONFIG), "mode {mode:o}\n{out}");
        assert!(
            out.stderr.contains(&format!("chmod 700 {}", dir.display())),
            "mode {mode:o}\n{out}"
        );
    }
    if rustix::process::geteuid().is_root() {
        fs::set_permissions(&dir, fs::Permissions::from_mode(0o700)).unwrap();
        rustix::fs::chown(&dir, Some(rustix::process::Uid::from_raw(OTHER_UID)), None).unwrap();
        // Root passes through it; an ordinary user cannot even look in,
        // and is told whose it is too, not just "permission denied".
        for out in [
            env.run(&["-c", cfg]),
            env.run_unprivileged_with_umask(0o022, &["-c", cfg]),
        ] {
            assert_eq!(out.code, Some(EX_CONFIG), "{out}");
            assert!(
                out.stderr.contains(&format!("(uid {OTHER_UID})")) && out.stderr.contains("chown"),
                "{out}"
            );
        }
    }
    assert_eq!(srv.connections(), 0);
    assert_eq!(drop.remaining(), 2);
}

/// A link planted as the mbox's dotlock, pointing at a victim: the stale
/// lock is cleared by removing the link, never by writing the victim.
#[test]
fn a_planted_dotlock_link_is_removed_not_written_through() {
    let (drop, srv, _) = server(40, 2);
    let env = TestEnv::new();
    let (victim, content) = victim(&env);
    let old = std::time::SystemTime::now() - std::time::Duration::from_secs(3600);
    fs::File::options()
        .write(true)
        .open(&victim)
        .unwrap()
        .set_modified(old)
        .unwrap();
    let mbox = env.path("inbox");
    let lock = env.path("inbox.lock");
    std::os::unix::fs::symlink(&victim, &lock).unwrap();
    let cfg = env.write_config(&config_of(&[&mbox_account("d", srv.port(), &mbox)]));
    env.run(&["-c", cfg.to_str().unwrap()]).assert_success();
    assert_eq!(fs::read(&victim).unwrap(), content);
    assert!(fs::symlink_metadata(&lock).is_err(), "the lock is gone");
    assert_eq!(drop.remaining(), 0);
    assert!(fs::read(&mbox).unwrap().starts_with(b"From "));
}
