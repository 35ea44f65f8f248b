//! `log_file` and `syslog`: a line per delivered message and a line per
//! run of each account, in a file that logrotate can rename between runs
//! and on the system log; never a secret in either.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixDatagram;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use crate::common::env::{AccountToml, Output, TestEnv, config_of, for_popfetch};
use crate::common::script::{Maildrop, Reply, ScriptServer};
use crate::common::{PASSWORD, USER};
use crate::hostile::scripted;

/// Three messages whose From and Subject the log must show decoded,
/// without control bytes, and capped.
fn messages() -> Vec<Vec<u8>> {
    vec![
        b"From: Ann Example <ann@example.org>\nSubject: =?UTF-8?B?R3LDvMOfZQ==?= from Ann\n\nHi.\n"
            .to_vec(),
        b"From: bob@example.org\nSubject: red \x1b[31malert\x07\n\nBody.\n".to_vec(),
        format!(
            "From: \"Carol\" <carol@example.org>\nSubject: {}\n\nLong.\n",
            "x".repeat(2000)
        )
        .into_bytes(),
    ]
}

/// The log's lines, split into message lines and run lines.
fn log_lines(path: &Path) -> (Vec<String>, Vec<String>) {
    let text = fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("cannot read the log {}: {e}", path.display()));
    let lines: Vec<String> = text.lines().map(str::to_owned).collect();
    for l in &lines {
        let time = l.split(' ').next().unwrap();
        assert!(
            time.len() == 20 && time.ends_with('Z') && time.as_bytes()[10] == b'T',
            "not an RFC 3339 UTC time: {l}"
        );
    }
    lines
        .into_iter()
        .partition(|l| l.contains(" delivered uid="))
}

fn account(srv: &ScriptServer, env: &TestEnv, name: &str) -> AccountToml {
    scripted(name, srv.port(), &env.path(&format!("Mail/{name}")), false)
}

#[test]
fn the_log_file_has_a_line_per_delivered_message_and_one_per_run() {
    let msgs = messages();
    let drop = Maildrop::new(USER, PASSWORD, msgs.clone());
    let srv = ScriptServer::maildrop(Arc::clone(&drop));
    let env = TestEnv::new();
    let acct = account(&srv, &env, "work").str("log_file", "~/logs/popfetch/popfetch.log");
    let cfg = env.write_config(&config_of(&[&acct]));
    let out = env.run(&["-q", "-c", cfg.to_str().unwrap()]);
    out.assert_success();
    assert_eq!(out.stderr, "", "-q stays quiet");

    let log = env.path("logs/popfetch/popfetch.log");
    let mode = |p: &Path| fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&log), 0o600);
    assert_eq!(mode(&env.path("logs/popfetch")), 0o700);
    assert_eq!(mode(&env.path("logs")), 0o700);

    let (delivered, runs) = log_lines(&log);
    assert_eq!(delivered.len(), 3, "{delivered:#?}");
    let maildir = env.path("Mail/work").display().to_string();
    for (i, (line, msg)) in delivered.iter().zip(&msgs).enumerate() {
        assert!(line.contains(" account=\"work\" "), "{line}");
        assert!(
            line.contains(&format!(
                " uid=\"{}\" size={} ",
                Maildrop::uid(i),
                msg.len()
            )),
            "{line}"
        );
        assert!(line.contains(&format!(" to=\"{maildir}/new/")), "{line}");
    }
    assert!(
        delivered[0]
            .contains(" from=\"Ann Example <ann@example.org>\" subject=\"Grüße from Ann\" "),
        "{}",
        delivered[0]
    );
    assert!(
        delivered[1]
            .contains(" from=\"bob@example.org\" subject=\"red \u{fffd}[31malert\u{fffd}\" "),
        "{}",
        delivered[1]
    );
    assert!(
        !delivered
            .iter()
            .any(|l| l.contains('\x1b') || l.contains('\x07'))
    );
    assert!(delivered[2].len() < 700, "capped: {}", delivered[2]);
    assert!(delivered[2].contains("xxx…\""), "{}", delivered[2]);

    assert_eq!(runs.len(), 1, "{runs:#?}");
    assert!(
        runs[0].contains(" account=\"work\" run exit=0 summary=\"3 new ("),
        "{}",
        runs[0]
    );
    assert!(runs[0].contains(", 3 deleted, "), "{}", runs[0]);
}

#[test]
fn a_log_renamed_between_runs_is_created_anew() {
    let msgs = messages();
    let drop = Maildrop::new(USER, PASSWORD, msgs.clone());
    let srv = ScriptServer::maildrop(Arc::clone(&drop));
    let env = TestEnv::new();
    let acct = account(&srv, &env, "work").str("log_file", "~/popfetch.log");
    let cfg = env.write_config(&config_of(&[&acct]));
    let cfg = cfg.to_str().unwrap();
    let log = env.path("popfetch.log");

    env.run(&["-c", cfg, "--max-messages", "1"])
        .assert_success();
    fs::rename(&log, env.path("popfetch.log.1")).unwrap();
    env.run(&["-c", cfg]).assert_success();

    let (delivered, runs) = log_lines(&env.path("popfetch.log.1"));
    assert_eq!((delivered.len(), runs.len()), (1, 1));
    assert!(delivered[0].contains(&Maildrop::uid(0)));
    let (delivered, runs) = log_lines(&log);
    assert_eq!((delivered.len(), runs.len()), (2, 1), "{delivered:#?}");
    assert!(delivered[0].contains(&Maildrop::uid(1)));
    assert!(delivered[1].contains(&Maildrop::uid(2)));
    assert_eq!(
        fs::metadata(&log).unwrap().permissions().mode() & 0o777,
        0o600
    );
}

#[test]
fn a_failing_run_is_logged_with_its_exit_status() {
    let srv = ScriptServer::start(Reply::ok("ready"), |_, l| {
        if l.starts_with("PASS") {
            Reply::err("[AUTH] no")
        } else if l == "CAPA" {
            Reply::multi("+OK", &["USER"])
        } else {
            Reply::ok("")
        }
    });
    let env = TestEnv::new();
    let acct = account(&srv, &env, "work").str("log_file", "~/popfetch.log");
    let cfg = env.write_config(&config_of(&[&acct]));
    env.run(&["-c", cfg.to_str().unwrap()]).assert_code(77);
    let (delivered, runs) = log_lines(&env.path("popfetch.log"));
    assert!(delivered.is_empty());
    assert_eq!(runs.len(), 1);
    assert!(
        runs[0].contains(" account=\"work\" run exit=77 summary=\"127.0.0.1 refused the login"),
        "{}",
        runs[0]
    );
}

#[test]
fn a_log_file_that_is_a_link_is_not_written_through_and_mail_is_still_fetched() {
    let drop = Maildrop::new(USER, PASSWORD, messages());
    let srv = ScriptServer::maildrop(Arc::clone(&drop));
    let env = TestEnv::new();
    let target = env.path("elsewhere");
    fs::write(&target, "").unwrap();
    std::os::unix::fs::symlink(&target, env.path("popfetch.log")).unwrap();
    let acct = account(&srv, &env, "work").str("log_file", "~/popfetch.log");
    let cfg = env.write_config(&config_of(&[&acct]));
    let out = env.run(&["-q", "-c", cfg.to_str().unwrap()]);
    out.assert_success();
    assert_eq!(drop.remaining(), 0);
    assert_eq!(fs::read_to_string(&target).unwrap(), "");
    assert!(
        out.stderr
            .contains("warning: work: cannot write the log file")
            && out.stderr.contains("symbolic link"),
        "{out}"
    );
}

/// A datagram socket standing in for /dev/log.
struct FakeSyslog {
    _dir: tempfile::TempDir,
    path: std::path::PathBuf,
    sock: UnixDatagram,
}

impl FakeSyslog {
    fn new() -> FakeSyslog {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("log");
        let sock = UnixDatagram::bind(&path).unwrap();
        sock.set_read_timeout(Some(Duration::from_millis(300)))
            .unwrap();
        for_popfetch(dir.path());
        FakeSyslog {
            _dir: dir,
            path,
            sock,
        }
    }

    /// Every datagram that arrived, as text.
    fn lines(&self) -> Vec<String> {
        let mut out = Vec::new();
        let mut buf = vec![0u8; 65536];
        while let Ok(n) = self.sock.recv(&mut buf) {
            out.push(String::from_utf8_lossy(&buf[..n]).into_owned());
        }
        out
    }
}

fn run_with_syslog(env: &TestEnv, socket: &Path, args: &[&str]) -> Output {
    env.run_with(&[("POPFETCH_SYSLOG_SOCKET", socket.as_os_str())], args)
}

#[test]
fn syslog_gets_the_same_lines_at_facility_mail() {
    let drop = Maildrop::new(USER, PASSWORD, messages());
    let srv = ScriptServer::maildrop(Arc::clone(&drop));
    let env = TestEnv::new();
    let syslog = FakeSyslog::new();
    let acct = account(&srv, &env, "work").raw("syslog", "true");
    let cfg = env.write_config(&config_of(&[&acct]));
    run_with_syslog(&env, &syslog.path, &["-q", "-c", cfg.to_str().unwrap()]).assert_success();
    let lines = syslog.lines();
    assert_eq!(lines.len(), 4, "{lines:#?}");
    let pid_tag = regex_free_tag(&lines[0]);
    for l in &lines {
        // mail.info; RFC 3164: <PRI>Mmm dd hh:mm:ss popfetch[PID]: ...
        assert!(l.starts_with("<22>"), "{l}");
        assert_eq!(regex_free_tag(l), pid_tag, "{l}");
        assert!(l.contains(": account=\"work\" "), "{l}");
        assert!(!l.contains('\n'), "{l}");
    }
    assert!(lines[0].contains(&format!(" delivered uid=\"{}\" ", Maildrop::uid(0))));
    assert!(
        lines[3].contains(" run exit=0 summary=\"3 new"),
        "{}",
        lines[3]
    );

    // A failing run is at priority err.
    let env = TestEnv::new();
    let acct = AccountToml::new("gone")
        .str("host", "127.0.0.1")
        .raw("port", "1")
        .str("tls", "none")
        .raw("allow_plaintext", "true")
        .str("user", USER)
        .str("password", PASSWORD)
        .str("maildir", &env.path("Mail").display().to_string())
        .raw("syslog", "true");
    let cfg = env.write_config(&config_of(&[&acct]));
    run_with_syslog(&env, &syslog.path, &["-q", "-c", cfg.to_str().unwrap()]).assert_code(69);
    let lines = syslog.lines();
    assert_eq!(lines.len(), 1, "{lines:#?}");
    assert!(lines[0].starts_with("<19>"), "{}", lines[0]);
    assert!(lines[0].contains(" run exit=69 summary=\""), "{}", lines[0]);
}

/// `popfetch[PID]:` of an RFC 3164 line.
fn regex_free_tag(line: &str) -> String {
    let start = line.find(" popfetch[").expect("a popfetch[PID] tag");
    let end = line[start..].find("]: ").expect("a tag") + start;
    line[start + 1..end + 1].to_string()
}

#[test]
fn without_a_system_log_there_is_one_warning_and_mail_is_fetched() {
    let drop = Maildrop::new(USER, PASSWORD, messages());
    let srv = ScriptServer::maildrop(Arc::clone(&drop));
    let env = TestEnv::new();
    let a = account(&srv, &env, "a").raw("syslog", "true");
    let b = account(&srv, &env, "b").raw("syslog", "true");
    let cfg = env.write_config(&config_of(&[&a, &b]));
    let missing = env.path("no/such/log");
    let out = run_with_syslog(&env, &missing, &["-q", "-c", cfg.to_str().unwrap()]);
    out.assert_success();
    assert_eq!(drop.remaining(), 0);
    let warnings = out.stderr.matches("warning").count();
    assert_eq!(warnings, 1, "{out}");
    assert!(
        out.stderr.contains(&missing.display().to_string()) && out.stderr.contains("syslog"),
        "{out}"
    );
}

#[test]
fn no_secret_reaches_the_log_or_syslog_even_when_a_server_echoes_it() {
    // Messages that carry the password in their From and Subject, a UID
    // made of it, a RETR refused with it, and later a login refused with it.
    let msgs = vec![
        format!("From: \"{PASSWORD}\" <x@example.org>\nSubject: it is {PASSWORD}\n\nx\n")
            .into_bytes(),
        b"Subject: second\n\ny\n".to_vec(),
    ];
    let drop = Maildrop::new(USER, PASSWORD, msgs);
    let refuse = Arc::new(AtomicBool::new(false));
    let refusing = Arc::clone(&refuse);
    let srv = ScriptServer::maildrop_except(Arc::clone(&drop), move |_, l| match l {
        "UIDL" => Some(Reply::multi(
            "+OK",
            &[format!("1 u-{PASSWORD}").as_str(), "2 plain"],
        )),
        "RETR 2" => Some(Reply::err(&format!("[SYS/TEMP] not now, {PASSWORD}"))),
        l if l.starts_with("PASS") && refusing.load(Ordering::SeqCst) => {
            Some(Reply::err(&format!("[AUTH] {PASSWORD} is wrong")))
        }
        _ => None,
    });
    let env = TestEnv::new();
    let syslog = FakeSyslog::new();
    let acct = account(&srv, &env, "echo")
        .str("log_file", "~/popfetch.log")
        .raw("syslog", "true")
        .raw("keep", "true");
    let cfg = env.write_config(&config_of(&[&acct]));
    let cfg = cfg.to_str().unwrap();
    run_with_syslog(&env, &syslog.path, &["-c", cfg]).assert_code(75);
    refuse.store(true, Ordering::SeqCst);
    run_with_syslog(&env, &syslog.path, &["-c", cfg]).assert_code(77);
    let log = fs::read_to_string(env.path("popfetch.log")).unwrap();
    let sys = syslog.lines().join("\n");
    assert!(
        log.contains(" delivered uid=") && log.contains("exit=77"),
        "{log}"
    );
    assert!(
        sys.contains(" delivered uid=") && sys.contains("exit=77"),
        "{sys}"
    );
    for text in [&log, &sys] {
        assert!(!text.contains(PASSWORD), "{text}");
        assert!(!text.contains(&PASSWORD[..8]), "{text}");
    }
}
