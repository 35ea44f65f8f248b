//! Servers that misbehave in the ways real ones do (RFC-CHECKLIST "edge
//! cases"): no UIDL, a connection cut inside a message, bare LF, `+OK`
//! without text, lying LIST sizes, a repeated UID, refusals with response
//! codes, garbage instead of a greeting, a stall, a long greeting. Each is
//! a scripted server, since a real one will not misbehave on demand.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use crate::common::corpus::{self, pop3_wire};
use crate::common::env::{
    AccountToml, TestEnv, assert_same_messages, config_of, maildir_tmp_files, read_maildir,
};
use crate::common::script::{Maildrop, Reply, ScriptServer};
use crate::common::{PASSWORD, USER};

const EX_TEMPFAIL: i32 = 75;
const EX_PROTOCOL: i32 = 76;
const EX_NOPERM: i32 = 77;

/// An account on a scripted server: cleartext, USER/PASS, `keep` as asked.
pub fn scripted(name: &str, port: u16, maildir: &Path, keep: bool) -> AccountToml {
    AccountToml::new(name)
        .str("host", "127.0.0.1")
        .raw("port", port.to_string())
        .str("tls", "none")
        .raw("allow_plaintext", "true")
        .str("auth", "user")
        .str("user", USER)
        .str("password", PASSWORD)
        .str("maildir", &maildir.display().to_string())
        .raw("received_header", "false")
        .raw("keep", keep.to_string())
}

/// The verb of a command line, upper-cased.
pub fn verb(line: &str) -> String {
    line.split(' ').next().unwrap_or("").to_ascii_uppercase()
}

/// The lines one connection received.
pub fn lines_of(srv: &ScriptServer, conn: usize) -> Vec<String> {
    srv.received()
        .into_iter()
        .filter(|r| r.conn == conn)
        .map(|r| r.line)
        .collect()
}

/// Whether connection `conn` received a command with this verb.
pub fn conn_saw(srv: &ScriptServer, conn: usize, v: &str) -> bool {
    lines_of(srv, conn).iter().any(|l| verb(l) == v)
}

/// The RETR reply for `msg` cut off after about half of its bytes.
pub fn half_a_message(msg: &[u8]) -> Vec<u8> {
    let wire = pop3_wire(msg);
    let mut out = format!("+OK {} octets\r\n", wire.len() - 3).into_bytes();
    out.extend_from_slice(&wire[..wire.len() / 2]);
    out
}

/// Every file in the Maildir's `new/` is one of `allowed`, whole, at most
/// once; nothing is left in `tmp/`.
#[track_caller]
pub fn assert_only_whole_messages(maildir: &Path, allowed: &[Vec<u8>]) {
    let got = read_maildir(maildir);
    for (i, m) in got.iter().enumerate() {
        assert!(
            allowed.contains(m),
            "a delivered message is not one of the complete ones (half-written?):\n{}",
            String::from_utf8_lossy(&m[..m.len().min(400)])
        );
        assert!(
            !got[..i].contains(m),
            "a message was delivered twice:\n{}",
            String::from_utf8_lossy(&m[..m.len().min(400)])
        );
    }
    assert!(
        maildir_tmp_files(maildir).is_empty(),
        "tmp/ holds leftovers: {:?}",
        maildir_tmp_files(maildir)
    );
}

/// Rewrites every byte a reply would send.
fn map_reply(reply: Reply, f: impl Fn(Vec<u8>) -> Vec<u8>) -> Reply {
    match reply {
        Reply::Raw(b) => Reply::Raw(f(b)),
        Reply::SendAndClose(b) => Reply::SendAndClose(f(b)),
        other => other,
    }
}

fn crlf_to_lf(bytes: Vec<u8>) -> Vec<u8> {
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'\r' && bytes.get(i + 1) == Some(&b'\n') {
            i += 1;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    out
}

/// `+OK some text\r\n...` becomes `+OK\r\n...`.
fn strip_ok_text(bytes: Vec<u8>) -> Vec<u8> {
    if !bytes.starts_with(b"+OK") {
        return bytes;
    }
    let Some(eol) = bytes.windows(2).position(|w| w == b"\r\n") else {
        return bytes;
    };
    let mut out = b"+OK".to_vec();
    out.extend_from_slice(&bytes[eol..]);
    out
}

#[test]
fn server_without_uidl_gets_synthetic_uids_and_keep_still_works() {
    let msgs = corpus::corpus(900, 8);
    let drop = Maildrop::with_capa(USER, PASSWORD, msgs.clone(), &["USER", "TOP", "RESP-CODES"]);
    let inner = Arc::clone(&drop);
    let srv = ScriptServer::start(Reply::ok("no UIDL here"), move |c, l| {
        if verb(l) == "UIDL" {
            Reply::err("command not implemented")
        } else {
            inner.reply(c, l)
        }
    });
    let env = TestEnv::new();
    let maildir = env.path("Maildir");
    let cfg = env.write_config(&config_of(&[&scripted(
        "nouidl",
        srv.port(),
        &maildir,
        true,
    )]));
    let cfg = cfg.to_str().unwrap();

    env.run(&["-c", cfg]).assert_success();
    assert_same_messages(&read_maildir(&maildir), &msgs);
    let tops = lines_of(&srv, 0)
        .iter()
        .filter(|l| verb(l) == "TOP")
        .count();
    assert_eq!(tops, 8, "one TOP n 0 per message: {:?}", lines_of(&srv, 0));
    assert!(!conn_saw(&srv, 0, "DELE"), "keep = true deletes nothing");
    assert_eq!(drop.remaining(), 8);

    let second = env.run(&["-c", cfg]);
    second.assert_success();
    assert!(
        !conn_saw(&srv, 1, "RETR"),
        "the synthetic UIDs are stable: nothing is fetched again: {:?}",
        lines_of(&srv, 1)
    );
    assert_same_messages(&read_maildir(&maildir), &msgs);
    assert_eq!(drop.remaining(), 8);
}

#[test]
fn a_cut_inside_a_message_loses_nothing_and_deletes_nothing() {
    let msgs = corpus::corpus(901, 6);
    let drop = Maildrop::new(USER, PASSWORD, msgs.clone());
    let inner = Arc::clone(&drop);
    let counter = AtomicUsize::new(0);
    let served = msgs.clone();
    // First connection: the third RETR gets half a message, then the
    // connection drops. Later connections are served correctly.
    let srv = ScriptServer::start(Reply::ok("ready"), move |c, l| {
        if c == 0 && verb(l) == "RETR" && counter.fetch_add(1, Ordering::SeqCst) == 2 {
            let n: usize = l[5..].trim().parse().unwrap();
            return Reply::SendAndClose(half_a_message(&served[n - 1]));
        }
        inner.reply(c, l)
    });
    let env = TestEnv::new();
    let maildir = env.path("Maildir");
    let cfg = env.write_config(&config_of(&[&scripted("cut", srv.port(), &maildir, false)]));
    let cfg = cfg.to_str().unwrap();

    let first = env.run(&["-c", cfg]);
    first.assert_code(EX_TEMPFAIL);
    assert!(first.stderr.contains("cut"), "names the account\n{first}");
    assert_only_whole_messages(&maildir, &msgs[..2]);
    assert!(
        !conn_saw(&srv, 0, "DELE") && !conn_saw(&srv, 0, "QUIT"),
        "the server never saw DELE or QUIT: {:?}",
        lines_of(&srv, 0)
    );
    assert_eq!(drop.remaining(), 6, "nothing deleted");

    env.run(&["-c", cfg]).assert_success();
    assert_same_messages(&read_maildir(&maildir), &msgs);
    assert!(maildir_tmp_files(&maildir).is_empty());
    assert_eq!(
        drop.remaining(),
        0,
        "the good run deletes what it delivered"
    );
}

#[test]
fn bare_lf_line_endings_from_the_server() {
    let msgs = corpus::corpus(902, 12);
    let drop = Maildrop::new(USER, PASSWORD, msgs.clone());
    let inner = Arc::clone(&drop);
    let srv = ScriptServer::start(Reply::Raw(b"+OK LF only\n".to_vec()), move |c, l| {
        map_reply(inner.reply(c, l), crlf_to_lf)
    });
    let env = TestEnv::new();
    let maildir = env.path("Maildir");
    let cfg = env.write_config(&config_of(&[&scripted("lf", srv.port(), &maildir, false)]));

    env.run(&["-c", cfg.to_str().unwrap()]).assert_success();
    assert_same_messages(&read_maildir(&maildir), &msgs);
    assert_eq!(drop.remaining(), 0, "DELE and QUIT were understood");
}

#[test]
fn ok_without_text_is_accepted() {
    let msgs = corpus::corpus(903, 6);
    let drop = Maildrop::new(USER, PASSWORD, msgs.clone());
    let inner = Arc::clone(&drop);
    let srv = ScriptServer::start(Reply::Raw(b"+OK\r\n".to_vec()), move |c, l| {
        map_reply(inner.reply(c, l), strip_ok_text)
    });
    let env = TestEnv::new();
    let maildir = env.path("Maildir");
    let cfg = env.write_config(&config_of(&[&scripted(
        "terse",
        srv.port(),
        &maildir,
        false,
    )]));

    env.run(&["-c", cfg.to_str().unwrap()]).assert_success();
    assert_same_messages(&read_maildir(&maildir), &msgs);
    assert_eq!(drop.remaining(), 0);
}

#[test]
fn lying_list_sizes_do_not_change_what_is_delivered() {
    let msgs = corpus::corpus(904, 8);
    let drop = Maildrop::new(USER, PASSWORD, msgs.clone());
    let inner = Arc::clone(&drop);
    let srv = ScriptServer::start(Reply::ok("ready"), move |c, l| {
        if l.eq_ignore_ascii_case("LIST") {
            // Odd messages claim 1 octet, even ones a gigabyte.
            let lines: Vec<String> = (1..=8)
                .map(|n| format!("{n} {}", if n % 2 == 1 { 1 } else { 1_000_000_000 }))
                .collect();
            let lines: Vec<&str> = lines.iter().map(String::as_str).collect();
            return Reply::multi("+OK 8 messages", &lines);
        }
        inner.reply(c, l)
    });
    let env = TestEnv::new();
    let maildir = env.path("Maildir");
    let cfg = env.write_config(&config_of(&[&scripted(
        "liar",
        srv.port(),
        &maildir,
        false,
    )]));

    env.run(&["-c", cfg.to_str().unwrap()]).assert_success();
    assert_same_messages(&read_maildir(&maildir), &msgs);
    assert_eq!(drop.remaining(), 0);
}

#[test]
fn a_repeated_uid_is_fetched_once_and_never_deleted() {
    let msgs = corpus::corpus(905, 4);
    // Message 3 repeats message 1's UID.
    let drop = Maildrop::with_repeated_uids(USER, PASSWORD, msgs.clone(), &[(2, 0)]);
    let srv = ScriptServer::maildrop(Arc::clone(&drop));
    let env = TestEnv::new();
    let maildir = env.path("Maildir");
    let cfg = env.write_config(&config_of(&[&scripted("dup", srv.port(), &maildir, false)]));

    env.run(&["-c", cfg.to_str().unwrap()]).assert_success();
    let sent = lines_of(&srv, 0);
    let numbers = |v: &str| -> Vec<u32> {
        sent.iter()
            .filter(|l| verb(l) == v)
            .map(|l| l[v.len()..].trim().parse().unwrap())
            .collect()
    };
    assert_eq!(numbers("RETR"), [1, 2, 4], "sent: {sent:?}");
    // Neither copy of the repeated UID is deleted: with the first gone, the
    // second would look delivered and be deleted unread on a later run.
    assert_eq!(numbers("DELE"), [2, 4], "sent: {sent:?}");
    assert_same_messages(
        &read_maildir(&maildir),
        &[msgs[0].clone(), msgs[1].clone(), msgs[3].clone()],
    );
    assert_eq!(drop.remaining(), 2, "both copies stay on the server");
    // And stay there on the next run too.
    env.run(&["-c", cfg.to_str().unwrap()]).assert_success();
    assert_eq!(drop.remaining(), 2, "both copies stay on the server");
    assert_eq!(read_maildir(&maildir).len(), 3);
}

#[test]
fn refusals_at_login_map_to_their_exit_codes() {
    let cases = [
        (
            "[IN-USE] Mailbox is locked by another POP3 session",
            EX_TEMPFAIL,
        ),
        ("[LOGIN-DELAY] Wait 10 minutes between logins", EX_TEMPFAIL),
        ("[SYS/TEMP] Try again later", EX_TEMPFAIL),
        ("[AUTH] Authentication failed.", EX_NOPERM),
    ];
    for (text, code) in cases {
        let drop = Maildrop::new(USER, PASSWORD, corpus::corpus(906, 3));
        let inner = Arc::clone(&drop);
        let srv = ScriptServer::start(Reply::ok("ready"), move |c, l| {
            if verb(l) == "PASS" {
                Reply::err(text)
            } else {
                inner.reply(c, l)
            }
        });
        let env = TestEnv::new();
        let maildir = env.path("Maildir");
        let cfg = env.write_config(&config_of(&[&scripted(
            "login",
            srv.port(),
            &maildir,
            false,
        )]));

        let out = env.run(&["-c", cfg.to_str().unwrap()]);
        out.assert_code(code);
        assert!(out.stderr.contains("login"), "names the account\n{out}");
        assert!(read_maildir(&maildir).is_empty());
        assert!(!srv.saw("RETR") && !srv.saw("DELE"), "{:?}", srv.commands());
        assert!(!out.all_output().contains(PASSWORD), "{out}");
    }
}

#[test]
fn garbage_instead_of_a_greeting_is_a_protocol_error() {
    let greetings: [&[u8]; 4] = [
        b"* OK [CAPABILITY IMAP4rev1 STARTTLS] Dovecot ready.\r\n",
        b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n",
        b"SSH-2.0-OpenSSH_9.2p1 Debian-2\r\n",
        b"\x00\xff\xfe garbage \x01\x02\r\n",
    ];
    for greeting in greetings {
        let srv = ScriptServer::start(Reply::Raw(greeting.to_vec()), |_, _| {
            Reply::err("unknown command")
        });
        let env = TestEnv::new();
        let maildir = env.path("Maildir");
        let cfg = env.write_config(&config_of(&[&scripted(
            "wrong",
            srv.port(),
            &maildir,
            false,
        )]));

        let out = env.run(&["-c", cfg.to_str().unwrap()]);
        out.assert_code(EX_PROTOCOL);
        assert!(
            !srv.saw_credentials(),
            "greeting {:?}: sent {:?}",
            String::from_utf8_lossy(greeting),
            srv.commands()
        );
        assert!(read_maildir(&maildir).is_empty());
    }
}

#[test]
fn a_stalled_server_times_out_with_75() {
    // Where the server stops talking: before the greeting, after CAPA,
    // inside the mail transfer.
    #[derive(Clone, Copy, Debug)]
    enum At {
        Greeting,
        Capa,
        Retr,
    }
    for at in [At::Greeting, At::Capa, At::Retr] {
        let msgs = corpus::corpus(907, 4);
        let drop = Maildrop::new(USER, PASSWORD, msgs.clone());
        let inner = Arc::clone(&drop);
        let stall = Reply::Stall(Duration::from_secs(600));
        let greeting = match at {
            At::Greeting => stall.clone(),
            _ => Reply::ok("ready"),
        };
        let retrs = AtomicUsize::new(0);
        let srv = ScriptServer::start(greeting, move |c, l| match (at, verb(l).as_str()) {
            (At::Capa, "CAPA") => Reply::Stall(Duration::from_secs(600)),
            (At::Retr, "RETR") if retrs.fetch_add(1, Ordering::SeqCst) == 2 => {
                Reply::Stall(Duration::from_secs(600))
            }
            _ => inner.reply(c, l),
        });
        let env = TestEnv::new();
        let maildir = env.path("Maildir");
        let acct = scripted("stall", srv.port(), &maildir, false).raw("timeout", "2");
        let cfg = env.write_config(&config_of(&[&acct]));

        // The server would stall for ten minutes: finishing at all within
        // the limit means the timeout worked.
        let out = env
            .spawn(&["-c", cfg.to_str().unwrap()])
            .wait(Duration::from_secs(90));
        out.assert_code(EX_TEMPFAIL);
        assert!(
            out.stderr.contains("stall"),
            "{at:?}: names the account\n{out}"
        );
        assert!(
            !srv.saw("DELE") && !srv.saw("QUIT"),
            "{at:?}: {:?}",
            srv.commands()
        );
        assert_eq!(drop.remaining(), 4, "{at:?}: nothing deleted");
        assert_only_whole_messages(&maildir, &msgs[..2]);
    }
}

#[test]
fn a_4_kb_greeting_line_is_accepted() {
    let msgs = corpus::corpus(908, 3);
    let drop = Maildrop::new(USER, PASSWORD, msgs.clone());
    let text = format!(
        "+OK {}\r\n",
        "Welcome to a very chatty server. ".repeat(125)
    );
    assert!(text.len() > 4096);
    let srv = ScriptServer::start(Reply::Raw(text.into_bytes()), {
        let drop = Arc::clone(&drop);
        move |c, l| drop.reply(c, l)
    });
    let env = TestEnv::new();
    let maildir = env.path("Maildir");
    let cfg = env.write_config(&config_of(&[&scripted(
        "chatty",
        srv.port(),
        &maildir,
        false,
    )]));

    env.run(&["-c", cfg.to_str().unwrap()]).assert_success();
    assert_same_messages(&read_maildir(&maildir), &msgs);
    assert_eq!(drop.remaining(), 0);
}

/// CRLF becomes a bare LF on every other line: one message, both endings.
fn mixed_line_ends(bytes: Vec<u8>) -> Vec<u8> {
    let mut out = Vec::with_capacity(bytes.len());
    for (i, line) in bytes.split_inclusive(|&b| b == b'\n').enumerate() {
        match line.strip_suffix(b"\r\n") {
            Some(body) if i % 2 == 1 => {
                out.extend_from_slice(body);
                out.push(b'\n');
            }
            _ => out.extend_from_slice(line),
        }
    }
    out
}

#[test]
fn mixed_crlf_and_lf_inside_one_response() {
    let msgs = corpus::corpus(909, 12);
    let drop = Maildrop::new(USER, PASSWORD, msgs.clone());
    let inner = Arc::clone(&drop);
    let srv = ScriptServer::start(Reply::ok("ready"), move |c, l| {
        map_reply(inner.reply(c, l), mixed_line_ends)
    });
    let env = TestEnv::new();
    let maildir = env.path("Maildir");
    let cfg = env.write_config(&config_of(&[&scripted(
        "mixed",
        srv.port(),
        &maildir,
        false,
    )]));

    env.run(&["-c", cfg.to_str().unwrap()]).assert_success();
    assert_same_messages(&read_maildir(&maildir), &msgs);
    assert_eq!(drop.remaining(), 0);
}

#[test]
fn a_connection_dropped_at_quit_loses_nothing_and_the_next_run_deletes() {
    // Whether the server committed the deletions before the connection
    // dropped is unknown to the client; both must come out right.
    for committed in [false, true] {
        let msgs = corpus::corpus(910, 5);
        let drop = Maildrop::new(USER, PASSWORD, msgs.clone());
        let inner = Arc::clone(&drop);
        let srv = ScriptServer::start(Reply::ok("ready"), move |c, l| {
            if c == 0 && verb(l) == "QUIT" {
                if committed {
                    let _ = inner.reply(c, l);
                }
                return Reply::Close;
            }
            inner.reply(c, l)
        });
        let env = TestEnv::new();
        let maildir = env.path("Maildir");
        let cfg = env.write_config(&config_of(&[&scripted("bye", srv.port(), &maildir, false)]));
        let cfg = cfg.to_str().unwrap();

        let first = env.run(&["-c", cfg]);
        first.assert_failure();
        assert_same_messages(&read_maildir(&maildir), &msgs);
        assert_eq!(drop.remaining(), if committed { 0 } else { 5 });

        env.run(&["-c", cfg]).assert_success();
        assert!(
            !conn_saw(&srv, 1, "RETR"),
            "committed = {committed}: nothing is delivered twice: {:?}",
            lines_of(&srv, 1)
        );
        assert_same_messages(&read_maildir(&maildir), &msgs);
        assert_eq!(drop.remaining(), 0, "committed = {committed}");
    }
}

#[test]
fn a_server_that_offers_part_of_the_mailbox_per_session_is_remembered_and_asked_again() {
    // SPEC §3 step 8: like Gmail, each session offers only a few messages,
    // those no earlier session downloaded. The first run cannot tell such
    // a server from one with five messages: one session. The next run
    // sees only mail it never had (what it kept is no longer listed): the
    // server pages, which the state remembers, and the run keeps opening
    // sessions while new UIDs appear.
    let msgs = corpus::corpus(911, 12);
    let drop = Maildrop::with_gmail_pages(USER, PASSWORD, msgs.clone(), 5);
    let srv = ScriptServer::maildrop(Arc::clone(&drop));
    let env = TestEnv::new();
    let maildir = env.path("Maildir");
    let cfg = env.write_config(&config_of(&[&scripted(
        "gmail",
        srv.port(),
        &maildir,
        true,
    )]));
    let cfg = cfg.to_str().unwrap();
    let state = || {
        let files = crate::common::kill::state_files(&env.state_dir(), ".state");
        assert_eq!(files.len(), 1, "{files:?}");
        std::fs::read_to_string(&files[0]).unwrap()
    };

    env.run(&["-c", cfg]).assert_success();
    assert_eq!(srv.connections(), 1, "a first run opens one session");
    assert_same_messages(&read_maildir(&maildir), &msgs[..5]);
    assert!(!state().contains("#:pages"), "{}", state());

    env.run(&["-c", cfg]).assert_success();
    // 6-10, 11-12, then a session that finds nothing new.
    assert_eq!(srv.connections(), 1 + 3);
    assert_same_messages(&read_maildir(&maildir), &msgs);
    assert!(state().contains("#:pages "), "{}", state());
    assert_eq!(drop.remaining(), 12, "kept");

    // Remembered: a run with nothing new is one session.
    env.run(&["-c", cfg]).assert_success();
    assert_eq!(srv.connections(), 1 + 3 + 1);
    assert!(state().contains("#:pages "), "{}", state());
}

#[test]
fn a_server_remembered_to_page_gets_more_sessions_when_mail_is_deleted() {
    // With keep = false a paging server cannot show itself (what was
    // delivered is gone either way); once remembered, one run empties it.
    let msgs = corpus::corpus(913, 12);
    let drop = Maildrop::with_session_limit(USER, PASSWORD, msgs.clone(), 5);
    let srv = ScriptServer::maildrop(Arc::clone(&drop));
    let env = TestEnv::new();
    let maildir = env.path("Maildir");
    let cfg = env.write_config(&config_of(&[&scripted(
        "gmail",
        srv.port(),
        &maildir,
        false,
    )]));
    let cfg = cfg.to_str().unwrap();

    env.run(&["-c", cfg]).assert_success();
    assert_eq!(srv.connections(), 1, "not known to page: one session");
    assert_eq!(drop.remaining(), 7);

    let files = crate::common::kill::state_files(&env.state_dir(), ".state");
    assert_eq!(files.len(), 1, "{files:?}");
    let text = std::fs::read_to_string(&files[0]).unwrap();
    let (head, rest) = text.split_once('\n').unwrap();
    std::fs::write(
        &files[0],
        format!("{head}\n#:pages 2026-01-01T00:00:00Z\n{rest}"),
    )
    .unwrap();

    env.run(&["-c", cfg]).assert_success();
    assert_same_messages(&read_maildir(&maildir), &msgs);
    assert_eq!(drop.remaining(), 0);
    // 6-10, 11-12, then one that finds the mailbox empty.
    assert_eq!(srv.connections(), 1 + 3);
}

#[test]
fn a_run_with_nothing_new_sends_uidl_alone() {
    let msgs = corpus::corpus(914, 4);
    let drop = Maildrop::new(USER, PASSWORD, msgs.clone());
    let srv = ScriptServer::maildrop(Arc::clone(&drop));
    let env = TestEnv::new();
    let maildir = env.path("Maildir");
    let cfg = env.write_config(&config_of(&[&scripted("idle", srv.port(), &maildir, true)]));
    let cfg = cfg.to_str().unwrap();

    let after_login = |conn: usize| -> Vec<String> {
        lines_of(&srv, conn)
            .iter()
            .map(|l| verb(l))
            .skip_while(|v| v != "PASS")
            .skip(1)
            .collect()
    };

    // Three of four: each download needs its size (LIST), asked for with
    // the UIDs on a first run.
    let limited = env.write_config(&config_of(&[
        &scripted("idle", srv.port(), &maildir, true).raw("max_messages", "3")
    ]));
    env.run(&["-c", limited.to_str().unwrap()]).assert_success();
    assert_eq!(srv.connections(), 1, "a first run opens one session");
    assert_same_messages(&read_maildir(&maildir), &msgs[..3]);

    // One new message: its size alone is asked for.
    env.run(&["-c", cfg]).assert_success();
    assert_eq!(srv.connections(), 2);
    assert_eq!(after_login(1), ["UIDL", "LIST", "RETR", "QUIT"]);
    assert!(
        lines_of(&srv, 1).iter().any(|l| l == "LIST 4"),
        "{:?}",
        lines_of(&srv, 1)
    );
    assert_same_messages(&read_maildir(&maildir), &msgs);

    // Nothing new: one connection, one login, UIDL, QUIT.
    env.run(&["-c", cfg]).assert_success();
    assert_eq!(srv.connections(), 3);
    assert_eq!(after_login(2), ["UIDL", "QUIT"], "{:?}", lines_of(&srv, 2));
    assert_eq!(
        lines_of(&srv, 2)
            .iter()
            .filter(|l| verb(l) == "PASS")
            .count(),
        1
    );
}

#[test]
fn unusual_uids_are_remembered_exactly_and_never_become_paths_or_commands() {
    let uids: Vec<String> = vec![
        "#starts-with-a-hash".into(),
        "../../../../../tmp/popfetch-uid-escape".into(),
        "$(touch${IFS}pwned-dollar)".into(),
        "x;touch`pwned-tick`".into(),
        "100%".into(),
        "U".repeat(200),
        "ü".into(),
        // What "ü" would look like if escaping were not injective.
        "%C3%BC".into(),
    ];
    let msgs = corpus::corpus(912, uids.len());
    let drop = Maildrop::new(USER, PASSWORD, msgs.clone());
    let inner = Arc::clone(&drop);
    let listing: Vec<String> = uids
        .iter()
        .enumerate()
        .map(|(i, u)| format!("{} {u}", i + 1))
        .collect();
    let srv = ScriptServer::start(Reply::ok("ready"), move |c, l| {
        if l.eq_ignore_ascii_case("UIDL") {
            let lines: Vec<&str> = listing.iter().map(String::as_str).collect();
            return Reply::multi("+OK", &lines);
        }
        inner.reply(c, l)
    });
    let env = TestEnv::new();
    let maildir = env.path("Maildir");
    let cfg = env.write_config(&config_of(&[&scripted("odd", srv.port(), &maildir, true)]));
    let cfg = cfg.to_str().unwrap();

    env.run(&["-c", cfg]).assert_success();
    assert_same_messages(&read_maildir(&maildir), &msgs);

    let second = env.run(&["-c", cfg]);
    second.assert_success();
    let again: Vec<String> = lines_of(&srv, 1)
        .into_iter()
        .filter(|l| verb(l) == "RETR")
        .collect();
    assert!(
        again.is_empty(),
        "every UID is remembered: fetched again {again:?}\n{second}"
    );
    assert_same_messages(&read_maildir(&maildir), &msgs);
    for stray in ["pwned-dollar", "pwned-tick"] {
        assert!(!env.path(stray).exists(), "{stray} was created");
    }
    assert!(!Path::new("/tmp/popfetch-uid-escape").exists());
}
