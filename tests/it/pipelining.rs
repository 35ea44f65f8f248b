//! Pipelining (RFC 2449): on and off give the same result; without
//! PIPELINING in CAPA the client waits for every answer; a connection cut in
//! the middle of a pipelined RETR or DELE burst loses nothing and deletes
//! nothing.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use popfetch::{Paths, UidState};

use crate::common::corpus;
use crate::common::dovecot::{Dovecot, Options, Tls};
use crate::common::env::{TestEnv, assert_same_messages, config_of, read_maildir, sorted};
use crate::common::script::{Maildrop, Reply, ScriptServer, Watch};
use crate::common::{PASSWORD, USER};
use crate::hostile::{
    assert_only_whole_messages, conn_saw, half_a_message, lines_of, scripted, verb,
};

const EX_TEMPFAIL: i32 = 75;

/// The CAPA of a scripted server that offers pipelining.
const CAPA_PIPELINING: &[&str] = &["USER", "UIDL", "TOP", "RESP-CODES", "PIPELINING"];
/// The same without it.
const CAPA_LOCKSTEP: &[&str] = &["USER", "UIDL", "TOP", "RESP-CODES"];

/// Size of a message on the wire (CRLF line ends), as LIST reports it.
fn wire_size(msg: &[u8]) -> u64 {
    (msg.len() + msg.iter().filter(|&&b| b == b'\n').count()) as u64
}

/// The `-vv` protocol trace of one account: its `C:`/`S:` lines in order.
fn trace_of(stderr: &str, account: &str) -> Vec<String> {
    let prefix = format!("{account}: ");
    stderr
        .lines()
        .filter_map(|l| l.strip_prefix(&prefix))
        .filter(|l| l.starts_with("C: ") || l.starts_with("S: "))
        .map(str::to_owned)
        .collect()
}

/// Whether some `C: <verb>` in the trace follows another one with no
/// server line between them: a command sent before the last one's answer.
fn sent_ahead(trace: &[String], verb: &str) -> bool {
    let cmd = format!("C: {verb} ");
    trace
        .windows(2)
        .any(|w| w[0].starts_with(&cmd) && w[1].starts_with(&cmd))
}

#[test]
fn pipelining_on_and_off_give_identical_maildirs_and_server_states() {
    let Some(dc) = Dovecot::start(Options::default()) else {
        return;
    };
    let msgs = corpus::corpus(1000, 60);
    let limit = 100 * 1024;
    let big: Vec<Vec<u8>> = msgs
        .iter()
        .filter(|m| wire_size(m) > limit)
        .cloned()
        .collect();
    let small: Vec<Vec<u8>> = msgs
        .iter()
        .filter(|m| wire_size(m) <= limit)
        .cloned()
        .collect();
    assert!(
        !big.is_empty() && small.len() > 32,
        "the corpus must mix sizes: {} big, {} small",
        big.len(),
        small.len()
    );
    let env = TestEnv::new();
    let mut accounts = Vec::new();
    for setting in ["on", "off"] {
        let user = format!("pipe-{setting}");
        dc.add_user(&user, PASSWORD);
        dc.load_mailbox(&user, &msgs);
        accounts.push(
            dc.account(
                setting,
                &user,
                PASSWORD,
                Tls::Implicit,
                &env.path(&format!("Mail/{setting}")),
            )
            .str("pipelining", setting)
            .raw("keep", "false")
            .raw("max_size", limit.to_string()),
        );
    }
    let cfg = env.write_config(&config_of(&accounts.iter().collect::<Vec<_>>()));

    let out = env.run(&["-vv", "-c", cfg.to_str().unwrap()]);
    out.assert_success();
    let on = read_maildir(&env.path("Mail/on"));
    let off = read_maildir(&env.path("Mail/off"));
    assert_same_messages(&on, &small);
    assert!(on == off, "the two Maildirs differ");
    let on_server = dc.server_messages("pipe-on");
    assert!(
        on_server == dc.server_messages("pipe-off"),
        "the server end states differ"
    );
    assert!(on_server == sorted(&big), "only the large ones stay");

    // The trace shows the settings took effect.
    let on_trace = trace_of(&out.stderr, "on");
    let off_trace = trace_of(&out.stderr, "off");
    assert!(
        sent_ahead(&on_trace, "RETR") && sent_ahead(&on_trace, "DELE"),
        "pipelining = on sends RETRs and DELEs ahead:\n{}",
        on_trace.join("\n")
    );
    assert!(
        off_trace.iter().any(|l| l.starts_with("C: RETR "))
            && !sent_ahead(&off_trace, "RETR")
            && !sent_ahead(&off_trace, "DELE"),
        "pipelining = off waits for each answer:\n{}",
        off_trace.join("\n")
    );
}

/// Runs one fetch of `n` messages from a scripted server that offers
/// `capa`, with `pipelining` set as given; returns the lines the client
/// sent before the previous answer (see `ScriptServer::overtaken`).
fn overtaken_lines(capa: &[&str], pipelining: &str, seed: u64) -> Vec<String> {
    let msgs = corpus::corpus(seed, 20);
    let drop = Maildrop::with_capa(USER, PASSWORD, msgs.clone(), capa);
    let inner = Arc::clone(&drop);
    let watch = Watch {
        linger: Duration::from_millis(50),
    };
    let srv =
        ScriptServer::start_watching(Reply::ok("ready"), watch, move |c, l| inner.reply(c, l));
    let env = TestEnv::new();
    let maildir = env.path("Maildir");
    let acct = scripted("lockstep", srv.port(), &maildir, false).str("pipelining", pipelining);
    let cfg = env.write_config(&config_of(&[&acct]));

    env.run(&["-c", cfg.to_str().unwrap()]).assert_success();
    assert_same_messages(&read_maildir(&maildir), &msgs);
    assert_eq!(
        drop.remaining(),
        0,
        "capa {capa:?}, pipelining = {pipelining}"
    );
    srv.overtaken().into_iter().map(|r| r.line).collect()
}

#[test]
fn without_pipelining_in_capa_every_answer_is_awaited() {
    let early = overtaken_lines(CAPA_LOCKSTEP, "auto", 1001);
    assert!(
        early.is_empty(),
        "commands sent before the previous answer: {early:?}"
    );
    // "off" waits too, even when the server offers PIPELINING.
    let early = overtaken_lines(CAPA_PIPELINING, "off", 1002);
    assert!(
        early.is_empty(),
        "pipelining = off: commands sent before the previous answer: {early:?}"
    );
    // The check can see pipelining when it happens.
    let early = overtaken_lines(CAPA_PIPELINING, "auto", 1003);
    assert!(
        early.iter().any(|l| verb(l) == "RETR") && early.iter().any(|l| verb(l) == "DELE"),
        "with PIPELINING offered, RETRs and DELEs go out ahead: {early:?}"
    );
}

/// The state file of the scripted account on `port`.
fn state_of(env: &TestEnv, port: u16) -> UidState {
    let paths = Paths::new(&env.state_dir(), &format!("{USER}@127.0.0.1:{port}"));
    UidState::load(&paths.state).unwrap()
}

#[test]
fn a_cut_inside_a_pipelined_retr_burst_loses_nothing() {
    // The connection drops after three whole messages: in the middle of
    // the fourth, or right before it.
    for half in [true, false] {
        let msgs = corpus::corpus(1004, 10);
        let drop = Maildrop::with_capa(USER, PASSWORD, msgs.clone(), CAPA_PIPELINING);
        let inner = Arc::clone(&drop);
        let served = msgs.clone();
        let retrs = AtomicUsize::new(0);
        let watch = Watch {
            linger: Duration::from_millis(200),
        };
        let srv = ScriptServer::start_watching(Reply::ok("ready"), watch, move |c, l| {
            if c == 0 && verb(l) == "RETR" && retrs.fetch_add(1, Ordering::SeqCst) == 3 {
                if !half {
                    return Reply::Close;
                }
                let n: usize = l[5..].trim().parse().unwrap();
                return Reply::SendAndClose(half_a_message(&served[n - 1]));
            }
            inner.reply(c, l)
        });
        let env = TestEnv::new();
        let maildir = env.path("Maildir");
        let acct = scripted("burst", srv.port(), &maildir, false);
        let cfg = env.write_config(&config_of(&[&acct]));
        let cfg = cfg.to_str().unwrap();

        let first = env.run(&["-c", cfg]);
        first.assert_code(EX_TEMPFAIL);
        assert!(
            srv.overtaken()
                .iter()
                .any(|r| r.conn == 0 && r.line == "RETR 1"),
            "the RETRs were pipelined: {:?}",
            srv.overtaken()
        );
        assert_only_whole_messages(&maildir, &msgs[..3]);
        assert!(
            !conn_saw(&srv, 0, "DELE") && !conn_saw(&srv, 0, "QUIT"),
            "{:?}",
            lines_of(&srv, 0)
        );
        assert_eq!(drop.remaining(), 10, "half = {half}: nothing deleted");

        env.run(&["-c", cfg]).assert_success();
        assert_same_messages(&read_maildir(&maildir), &msgs);
        assert_eq!(drop.remaining(), 0, "half = {half}");
    }
}

#[test]
fn a_cut_inside_a_pipelined_dele_burst_deletes_nothing_and_delivers_nothing_twice() {
    let msgs = corpus::corpus(1005, 20);
    let drop = Maildrop::with_capa(USER, PASSWORD, msgs.clone(), CAPA_PIPELINING);
    let inner = Arc::clone(&drop);
    let deles = AtomicUsize::new(0);
    // First connection: five DELEs answered, then the connection drops
    // before QUIT.
    let watch = Watch {
        linger: Duration::from_millis(200),
    };
    let srv = ScriptServer::start_watching(Reply::ok("ready"), watch, move |c, l| {
        if c == 0 && verb(l) == "DELE" && deles.fetch_add(1, Ordering::SeqCst) == 5 {
            return Reply::Close;
        }
        inner.reply(c, l)
    });
    let env = TestEnv::new();
    let maildir = env.path("Maildir");
    let cfg = env.write_config(&config_of(&[&scripted(
        "deles",
        srv.port(),
        &maildir,
        false,
    )]));
    let cfg = cfg.to_str().unwrap();

    let first = env.run(&["-c", cfg]);
    first.assert_code(EX_TEMPFAIL);
    assert!(
        srv.overtaken()
            .iter()
            .any(|r| r.conn == 0 && r.line == "DELE 1"),
        "the DELEs were pipelined: {:?}",
        srv.overtaken()
    );
    assert!(!conn_saw(&srv, 0, "QUIT"), "{:?}", lines_of(&srv, 0));
    assert_eq!(drop.remaining(), 20, "no QUIT, so nothing deleted");
    assert_same_messages(&read_maildir(&maildir), &msgs);
    let state = state_of(&env, srv.port());
    for i in 0..20 {
        assert!(
            state.is_delivered(&Maildrop::uid(i)),
            "the state records {} as delivered",
            Maildrop::uid(i)
        );
    }

    env.run(&["-c", cfg]).assert_success();
    assert!(!conn_saw(&srv, 1, "RETR"), "{:?}", lines_of(&srv, 1));
    assert_same_messages(&read_maildir(&maildir), &msgs);
    assert_eq!(drop.remaining(), 0, "the second run deletes them");
    assert!(
        state_of(&env, srv.port()).is_empty(),
        "deleted UIDs leave the state"
    );
}
