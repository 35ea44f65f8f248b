//! LMTP and SMTP hand-off end to end: popfetch fetches from Dovecot's POP3
//! and hands each message to Dovecot's own LMTP service (by unix socket
//! and by TCP) or to a private Postfix (by SMTP); what lands in the
//! recipient's Maildir is compared with the corpus byte for byte, less
//! the Return-Path, Delivered-To and Received headers the server puts on
//! top. Real servers also give the 4xx (a full mailbox, a deferred sender)
//! and the 5xx (an unknown recipient, a rejected sender, a full mailbox
//! for good) cases; a SIGKILL at seeded moments loses nothing and
//! delivers nothing twice but, at most, the one message in flight. A
//! scripted server (tests/it/common/smtp.rs) gives the faults real ones
//! will not: a connection cut in the middle of DATA or before the verdict,
//! a server closing between messages, HELO only, lies and endless lines.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use crate::common::corpus::{self, Rng};
use crate::common::dovecot::{Dovecot, Options, Tls};
use crate::common::env::{AccountToml, Output, TestEnv, config_of, read_maildir};
use crate::common::kill::{count_files, small_corpus, state_files, uid_to_index};
use crate::common::postfix::{self, DOMAIN, Postfix};
use crate::common::script::{Maildrop, ScriptServer};
use crate::common::smtp::{Act, SmtpServer, say};
use crate::common::{PASSWORD, USER};
use crate::hostile::scripted;

/// The Dovecot user LMTP delivers to.
const RCPT: &str = "carol";

/// The headers Dovecot's LMTP and Postfix's virtual delivery put on top
/// of a message, in order.
const ADDED: [&str; 3] = ["Return-Path", "Delivered-To", "Received"];

/// Splits `msg` into the header fields `names` (in that order, each with
/// its continuation lines) and the rest; `None` when it does not start so.
fn strip_fields<'a>(msg: &'a [u8], names: &[&str]) -> Option<(Vec<String>, &'a [u8])> {
    let mut rest = msg;
    let mut fields = Vec::new();
    for name in names {
        let prefix = format!("{name}:");
        if !rest
            .get(..prefix.len())
            .is_some_and(|p| p.eq_ignore_ascii_case(prefix.as_bytes()))
        {
            return None;
        }
        let mut end = 0;
        loop {
            let nl = rest[end..].iter().position(|&b| b == b'\n')? + end + 1;
            end = nl;
            if !matches!(rest.get(end), Some(b' ' | b'\t')) {
                break;
            }
        }
        fields.push(String::from_utf8_lossy(&rest[..end]).into_owned());
        rest = &rest[end..];
    }
    Some((fields, rest))
}

/// The envelope sender a corpus message names (its Return-Path).
fn sender_of(msg: &[u8]) -> String {
    let (fields, _) = strip_fields(msg, &["Return-Path"]).expect("corpus Return-Path");
    fields[0]["Return-Path:".len()..].trim().to_string()
}

/// For each message delivered into `maildir`: the corpus index it is,
/// once the headers the server added are taken off. Panics on anything
/// else, and when the Return-Path the server wrote (the envelope sender
/// popfetch gave) is not the message's own.
#[track_caller]
fn delivered_indexes(maildir: &Path, msgs: &[Vec<u8>]) -> Vec<usize> {
    let by_bytes: BTreeMap<&[u8], usize> = msgs
        .iter()
        .enumerate()
        .map(|(i, m)| (m.as_slice(), i))
        .collect();
    read_maildir(maildir)
        .iter()
        .map(|got| {
            let (fields, rest) = strip_fields(got, &ADDED).unwrap_or_else(|| {
                panic!(
                    "delivered message without the server's headers:\n{}",
                    String::from_utf8_lossy(&got[..got.len().min(400)])
                )
            });
            let &i = by_bytes.get(rest).unwrap_or_else(|| {
                panic!(
                    "delivered message is not a corpus message:\n{}",
                    String::from_utf8_lossy(&rest[..rest.len().min(400)])
                )
            });
            let envelope = fields[0]["Return-Path:".len()..].trim();
            assert_eq!(envelope, sender_of(&msgs[i]), "envelope sender of {i}");
            i
        })
        .collect()
}

/// Asserts that `maildir` holds every message of `msgs` exactly once.
#[track_caller]
fn assert_each_once(maildir: &Path, msgs: &[Vec<u8>]) {
    let mut got = delivered_indexes(maildir, msgs);
    got.sort();
    let want: Vec<usize> = (0..msgs.len()).collect();
    assert_eq!(got, want, "every message exactly once");
}

/// A Dovecot with POP3 (`USER` holding `n` corpus messages) and LMTP, and
/// the LMTP recipient `RCPT`.
fn dovecot_lmtp(opts: Options, seed: u64, n: usize) -> Option<(Dovecot, Vec<Vec<u8>>)> {
    let dc = Dovecot::start(opts.lmtp())?;
    dc.add_user(USER, PASSWORD);
    dc.add_user(RCPT, "unused-password");
    let msgs = corpus::corpus(seed, n);
    dc.load_mailbox(USER, &msgs);
    Some((dc, msgs))
}

/// An account fetching `USER` from `dc` and handing to `key = addr`.
fn relay_account(dc: &Dovecot, name: &str, key: &str, addr: &str) -> AccountToml {
    dc.account(name, USER, PASSWORD, Tls::Implicit, Path::new("unused"))
        .remove("maildir")
        .str(key, addr)
}

/// A fresh environment with one account; returns it and its config path.
fn one(acct: &AccountToml) -> (TestEnv, String) {
    let env = TestEnv::new();
    let cfg = env.write_config(&config_of(&[acct]));
    (env, cfg.display().to_string())
}

fn run(env: &TestEnv, cfg: &str, args: &[&str]) -> Output {
    let mut all = args.to_vec();
    all.extend(["-c", cfg]);
    env.run(&all)
}

/// How many LMTP connections Dovecot logged.
fn lmtp_connections(dc: &Dovecot) -> usize {
    dc.log()
        .lines()
        .filter(|l| l.contains("lmtp(") && l.contains("Connect from"))
        .count()
}

#[test]
fn lmtp_by_unix_socket_delivers_every_message_byte_for_byte() {
    let Some((dc, msgs)) = dovecot_lmtp(Options::default(), 7_101, 30) else {
        return;
    };
    let socket = format!("unix:{}", dc.lmtp_socket().display());
    let acct = relay_account(&dc, "lmtp", "lmtp", &socket).str("recipient", RCPT);
    let (env, cfg) = one(&acct);
    let out = run(&env, &cfg, &["-v"]);
    out.assert_success();
    assert_each_once(&dc.maildir(RCPT), &msgs);
    assert_eq!(dc.remaining(USER), 0, "delivered messages are deleted");
    assert!(
        out.stderr.contains(&format!("-> LMTP {socket} <{RCPT}>")) && out.stderr.contains("30 new"),
        "{out}"
    );
    assert!(dc.wait_log("Disconnect from local", Duration::from_secs(5)));
    assert_eq!(lmtp_connections(&dc), 1, "one connection for the whole run");
    // Nothing left in the spool but the marks of this run's deliveries.
    let again = run(&env, &cfg, &[]);
    again.assert_success();
    assert_each_once(&dc.maildir(RCPT), &msgs);
}

#[test]
fn lmtp_by_tcp_keeps_one_connection_and_the_user_is_the_default_recipient() {
    // A scripted POP3 mailbox for `USER`, and Dovecot's LMTP, which has a
    // user of that name: with no `recipient`, the account's user gets it.
    let (pop3, drop, msgs) = scripted_pop3(7_102, 25);
    let Some(dc) = Dovecot::start(Options::default().lmtp()) else {
        return;
    };
    dc.add_user(USER, PASSWORD);
    let addr = format!("127.0.0.1:{}", dc.lmtp_port());
    let acct = scripted_account(&pop3, "lmtp", &addr);
    let (env, cfg) = one(&acct);
    let out = run(&env, &cfg, &["--json"]);
    out.assert_success();
    let json: serde_json::Value = serde_json::from_str(out.stdout.trim()).unwrap();
    assert_eq!(json["new"], 25, "{out}");
    assert_eq!(json["destination"], format!("LMTP {addr}"));
    assert_eq!(
        (json["deferred"].as_u64(), json["rejected"].as_u64()),
        (Some(0), Some(0))
    );
    assert_eq!(drop.remaining(), 0);
    assert_each_once(&dc.maildir(USER), &msgs);
    for m in read_maildir(&dc.maildir(USER)) {
        let (fields, _) = strip_fields(&m, &ADDED).unwrap();
        assert_eq!(fields[1].trim_end(), format!("Delivered-To: {USER}"));
    }
    assert!(dc.wait_log("Disconnect from", Duration::from_secs(5)));
    assert_eq!(lmtp_connections(&dc), 1, "{}", dc.log());
}

#[test]
fn lmtp_full_mailbox_4xx_defers_the_rest_and_the_next_run_delivers_them() {
    let Some((dc, msgs)) = dovecot_lmtp(Options::default().quota(true), 7_103, 8) else {
        return;
    };
    dc.set_quota(RCPT, Some(3));
    let socket = format!("unix:{}", dc.lmtp_socket().display());
    let acct = relay_account(&dc, "quota", "lmtp", &socket).str("recipient", RCPT);
    let (env, cfg) = one(&acct);
    let out = run(&env, &cfg, &["-v"]);
    out.assert_code(75);
    assert!(
        out.stderr.contains("5 deferred by the mail server") && out.stderr.contains("452"),
        "{out}"
    );
    assert_eq!(delivered_indexes(&dc.maildir(RCPT), &msgs).len(), 3);
    assert_eq!(
        dc.remaining(USER),
        5,
        "the deferred messages stay on the server"
    );

    dc.set_quota(RCPT, None);
    let out = run(&env, &cfg, &[]);
    out.assert_success();
    assert_each_once(&dc.maildir(RCPT), &msgs);
    assert_eq!(dc.remaining(USER), 0);
}

#[test]
fn lmtp_full_mailbox_5xx_is_reported_and_the_run_goes_on() {
    let Some((dc, msgs)) = dovecot_lmtp(Options::default().quota(false), 7_104, 6) else {
        return;
    };
    dc.set_quota(RCPT, Some(2));
    let addr = format!("127.0.0.1:{}", dc.lmtp_port());
    let acct = relay_account(&dc, "full", "lmtp", &addr).str("recipient", RCPT);
    let (env, cfg) = one(&acct);
    for _ in 0..2 {
        let out = run(&env, &cfg, &["-q"]);
        out.assert_code(74);
        let refusals: Vec<&str> = out
            .stderr
            .lines()
            .filter(|l| l.contains("not delivered") && l.contains("552"))
            .collect();
        assert_eq!(
            refusals.len(),
            4,
            "each refusal is reported, even with -q:\n{out}"
        );
        assert!(
            refusals[0].contains("Quota exceeded") && refusals[0].contains("stays on the server")
        );
        assert_eq!(delivered_indexes(&dc.maildir(RCPT), &msgs).len(), 2);
        assert_eq!(dc.remaining(USER), 4, "refused messages stay on the server");
    }
}

#[test]
fn lmtp_unknown_recipient_stops_before_any_message_is_handed_over() {
    let Some((dc, _msgs)) = dovecot_lmtp(Options::default(), 7_105, 5) else {
        return;
    };
    let socket = format!("unix:{}", dc.lmtp_socket().display());
    let acct = relay_account(&dc, "typo", "lmtp", &socket).str("recipient", "karol");
    let (env, cfg) = one(&acct);
    let out = run(&env, &cfg, &[]);
    out.assert_code(74);
    for want in [
        "typo:",
        "karol",
        "User doesn't exist",
        "`recipient`",
        "stays on the server",
    ] {
        assert!(out.stderr.contains(want), "{want:?} in\n{out}");
    }
    assert_eq!(dc.remaining(USER), 5);
    assert!(!dc.log().contains("saved mail"), "{}", dc.log());
    assert_eq!(read_maildir(&dc.maildir(RCPT)).len(), 0);
}

/// The UIDs the journal holds without a delivery mark in the spool: the
/// message a killed run had in flight (at most one).
fn in_flight(state_dir: &Path) -> Vec<String> {
    let Some(journal) = state_files(state_dir, ".journal").into_iter().next() else {
        return Vec::new();
    };
    let text = std::fs::read_to_string(journal).unwrap_or_default();
    let spool = std::fs::read_dir(state_dir.join("spool"))
        .into_iter()
        .flatten()
        .flatten()
        .next()
        .map(|e| e.path());
    let done = |token: &str| {
        spool
            .as_ref()
            .is_some_and(|d| d.join(format!("{token}.done")).exists())
    };
    let mut open = BTreeMap::new();
    for line in text.lines() {
        match line.split(' ').collect::<Vec<_>>().as_slice() {
            ["B", uid, token] => {
                open.insert(uid.to_string(), token.to_string());
            }
            ["D", uid] => {
                open.remove(*uid);
            }
            _ => {}
        }
    }
    open.into_iter()
        .filter(|(_, token)| !done(token))
        .map(|(uid, _)| uid)
        .collect()
}

#[test]
fn kill9_lmtp_loses_nothing_and_repeats_at_most_the_message_in_flight() {
    let seed = std::env::var("POPFETCH_CRASH_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(9_105u64);
    eprintln!("crash test seed: {seed} (set POPFETCH_CRASH_SEED to change it)");
    let msgs = small_corpus(seed, 200, 12_000);
    let Some(dc) = Dovecot::start(Options::default().lmtp()) else {
        return;
    };
    dc.add_user(USER, PASSWORD);
    dc.add_user(RCPT, "unused-password");
    dc.load_mailbox(USER, &msgs);
    let index_of = uid_to_index(dc.pop3_port(), USER, PASSWORD, &msgs);
    let socket = format!("unix:{}", dc.lmtp_socket().display());
    let acct = relay_account(&dc, "kill", "lmtp", &socket).str("recipient", RCPT);
    let (env, cfg) = one(&acct);
    let args = ["-q", "-c", cfg.as_str()];
    let landed = || count_files(&dc.maildir(RCPT).join("new"));

    let mut rng = Rng::new(seed);
    let mut may_repeat = BTreeSet::new();
    let (mut kills, mut caught) = (0, 0);
    for _ in 0..10 {
        let target = landed() + rng.range(1, 30);
        let mut run = env.spawn(&args);
        let start = std::time::Instant::now();
        while landed() < target && run.running() && start.elapsed() < Duration::from_secs(60) {
            std::thread::sleep(Duration::from_micros(500));
        }
        std::thread::sleep(Duration::from_micros(rng.range(0, 3_000) as u64));
        let out = run.kill();
        match (out.signal, out.code) {
            (Some(9), _) => {
                kills += 1;
                let open = in_flight(&env.state_dir());
                assert!(open.len() <= 1, "more than one message in flight: {open:?}");
                caught += open.len();
                may_repeat.extend(open.iter().map(|uid| index_of[uid]));
            }
            (None, Some(0)) => break,
            _ => panic!("a run ended other than by SIGKILL or success\n{out}"),
        }
    }
    let last = env.run(&args);
    last.assert_success();
    assert_eq!(dc.remaining(USER), 0);
    let mut count = BTreeMap::new();
    for i in delivered_indexes(&dc.maildir(RCPT), &msgs) {
        *count.entry(i).or_insert(0) += 1;
    }
    let missing: Vec<usize> = (0..msgs.len()).filter(|i| !count.contains_key(i)).collect();
    assert!(missing.is_empty(), "lost: {missing:?}");
    let twice: Vec<(usize, i32)> = count.into_iter().filter(|(_, n)| *n > 1).collect();
    eprintln!("kills {kills}, caught in flight {caught}, delivered twice {twice:?}");
    for (i, n) in &twice {
        assert!(
            *n == 2 && may_repeat.contains(i),
            "message {i} arrived {n} times but was not the one in flight ({may_repeat:?})"
        );
    }
    assert!(
        kills >= 5 && caught >= 2,
        "the kills must land mid-delivery: {kills} {caught}"
    );
}

/// A Postfix taking mail for `RCPT`@example.test, with `opts` on top.
fn postfix_with(opts: postfix::Options) -> Option<Postfix> {
    Postfix::start(opts.mailbox(RCPT))
}

/// A Dovecot holding `n` corpus messages for `USER` (POP3 only).
fn pop3_with_mail(seed: u64, n: usize) -> Option<(Dovecot, Vec<Vec<u8>>)> {
    crate::common::dovecot_with_mail(Options::default(), seed, n)
}

fn rcpt_address() -> String {
    format!("{RCPT}@{DOMAIN}")
}

#[test]
fn smtp_into_postfix_delivers_byte_for_byte_with_bdat() {
    let Some((dc, msgs)) = pop3_with_mail(7_201, 25) else {
        return;
    };
    let Some(pf) = postfix_with(postfix::Options::default()) else {
        return;
    };
    let acct = relay_account(&dc, "mta", "smtp", &pf.address()).str("recipient", &rcpt_address());
    let (env, cfg) = one(&acct);
    let out = run(&env, &cfg, &[]);
    out.assert_success();
    pf.settle(RCPT);
    assert_each_once(&pf.maildir(RCPT), &msgs);
    assert_eq!(dc.remaining(USER), 0);
    let log = pf.log();
    assert!(log.contains("bdat=25") && log.contains("ehlo=1"), "{log}");
    let connects = log
        .lines()
        .filter(|l| l.contains("smtpd[") && l.contains(": connect from"))
        .count();
    assert_eq!(connects, 1, "one connection for the whole run:\n{log}");
}

#[test]
fn smtp_into_postfix_without_chunking_or_pipelining_uses_dot_stuffed_data() {
    let Some((dc, msgs)) = pop3_with_mail(7_202, 25) else {
        return;
    };
    let opts = postfix::Options::default()
        .discard_ehlo("chunking")
        .discard_ehlo("pipelining");
    let Some(pf) = postfix_with(opts) else {
        return;
    };
    assert!(
        msgs.iter()
            .any(|m| m.split(|&b| b == b'\n').any(|l| l.starts_with(b"."))),
        "the corpus has lines starting with a dot"
    );
    let acct = relay_account(&dc, "mta", "smtp", &pf.address()).str("recipient", &rcpt_address());
    let (env, cfg) = one(&acct);
    run(&env, &cfg, &[]).assert_success();
    pf.settle(RCPT);
    assert_each_once(&pf.maildir(RCPT), &msgs);
    let log = pf.log();
    assert!(log.contains("data=25") && !log.contains("bdat="), "{log}");
}

/// The corpus indexes whose sender is `sender`.
fn from_sender(msgs: &[Vec<u8>], sender: &str) -> Vec<usize> {
    (0..msgs.len())
        .filter(|&i| sender_of(&msgs[i]) == format!("<{sender}>"))
        .collect()
}

/// A corpus sender with at least one message among `msgs` but not all.
fn some_sender(msgs: &[Vec<u8>]) -> String {
    (0..40)
        .map(|k| format!("sender{k}@example.org"))
        .find(|s| {
            let n = from_sender(msgs, s).len();
            n > 0 && n < msgs.len()
        })
        .expect("a sender of some messages")
}

/// A POP3 mailbox, its messages, the indexes of one sender's messages
/// among them, and an MTA with a rule for that sender.
type SenderRule = (Dovecot, Vec<Vec<u8>>, Vec<usize>, Postfix);

/// A Dovecot with 30 corpus messages for `USER`, and a Postfix that
/// answers mail from one of their senders with `action`.
fn mail_and_a_sender_rule(seed: u64, action: &str) -> Option<SenderRule> {
    let (dc, msgs) = pop3_with_mail(seed, 30)?;
    let sender = some_sender(&msgs);
    let theirs = from_sender(&msgs, &sender);
    let pf = postfix_with(postfix::Options::default().sender(&sender, action))?;
    Some((dc, msgs, theirs, pf))
}

#[test]
fn smtp_4xx_for_one_sender_defers_only_its_messages_until_it_clears() {
    let Some((dc, msgs, held, pf)) = mail_and_a_sender_rule(7_203, "DEFER not now") else {
        return;
    };
    let acct = relay_account(&dc, "defer", "smtp", &pf.address()).str("recipient", &rcpt_address());
    let (env, cfg) = one(&acct);
    let out = run(&env, &cfg, &["-v"]);
    out.assert_code(75);
    assert!(
        out.stderr.contains(&format!("{} deferred", held.len())) && out.stderr.contains("450"),
        "{out}"
    );
    pf.settle(RCPT);
    let got: BTreeSet<usize> = delivered_indexes(&pf.maildir(RCPT), &msgs)
        .into_iter()
        .collect();
    let want: BTreeSet<usize> = (0..msgs.len()).filter(|i| !held.contains(i)).collect();
    assert_eq!(got, want);
    assert_eq!(dc.remaining(USER), held.len());

    pf.reconfigure(&postfix::Options::default().mailbox(RCPT));
    run(&env, &cfg, &[]).assert_success();
    pf.settle(RCPT);
    assert_each_once(&pf.maildir(RCPT), &msgs);
    assert_eq!(dc.remaining(USER), 0);
}

#[test]
fn smtp_5xx_unknown_recipient_stops_and_a_rejected_sender_is_skipped() {
    let Some((dc, msgs, refused, pf)) = mail_and_a_sender_rule(7_204, "REJECT no thanks") else {
        return;
    };
    // An address Postfix has no mailbox for: nothing is handed over.
    let acct = relay_account(&dc, "nobody", "smtp", &pf.address())
        .str("recipient", &format!("dave@{DOMAIN}"));
    let (env, cfg) = one(&acct);
    let out = run(&env, &cfg, &[]);
    out.assert_code(74);
    for want in ["dave@example.test", "550", "User unknown", "`recipient`"] {
        assert!(out.stderr.contains(want), "{want:?} in\n{out}");
    }
    assert_eq!(dc.remaining(USER), msgs.len());
    assert!(!pf.log().contains("queued as"), "{}", pf.log());

    // The right recipient: all but the rejected sender's messages.
    let acct = relay_account(&dc, "mta", "smtp", &pf.address()).str("recipient", &rcpt_address());
    let (env, cfg) = one(&acct);
    let out = run(&env, &cfg, &[]);
    out.assert_code(74);
    let lines = out
        .stderr
        .lines()
        .filter(|l| l.contains("not delivered"))
        .count();
    assert_eq!(lines, refused.len(), "{out}");
    assert!(
        out.stderr.contains("554 5.7.1") && out.stderr.contains("no thanks"),
        "{out}"
    );
    assert!(
        out.stderr
            .contains(&format!("{} refused by the mail server", refused.len())),
        "{out}"
    );
    pf.settle(RCPT);
    assert_eq!(
        delivered_indexes(&pf.maildir(RCPT), &msgs).len(),
        msgs.len() - refused.len()
    );
    assert_eq!(dc.remaining(USER), refused.len());
}

// ---- scripted servers: faults the real ones will not produce ----

/// A scripted POP3 mailbox with `n` corpus messages, and an account
/// handing them to `addr` by `key`, deleting what is delivered.
fn scripted_pop3(seed: u64, n: usize) -> (ScriptServer, Arc<Maildrop>, Vec<Vec<u8>>) {
    let msgs = corpus::corpus(seed, n);
    let drop = Maildrop::new(USER, PASSWORD, msgs.clone());
    (ScriptServer::maildrop(Arc::clone(&drop)), drop, msgs)
}

fn scripted_account(pop3: &ScriptServer, key: &str, addr: &str) -> AccountToml {
    scripted("scripted", pop3.port(), Path::new("unused"), false)
        .remove("maildir")
        .str(key, addr)
        .raw("timeout", "5")
}

/// A corpus message as it goes over SMTP: CRLF line ends.
fn crlf(msg: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(msg.len() + msg.len() / 20);
    for &b in msg {
        if b == b'\n' {
            out.push(b'\r');
        }
        out.push(b);
    }
    out
}

#[test]
fn pipelining_bdat_8bitmime_and_size_when_offered() {
    let (pop3, drop, msgs) = scripted_pop3(7_301, 6);
    let srv = SmtpServer::plain(&[
        "PIPELINING",
        "8BITMIME",
        "CHUNKING",
        "SIZE 1000000",
        "SMTPUTF8",
    ]);
    let acct = scripted_account(&pop3, "lmtp", &srv.address()).str("recipient", "jürgen");
    let (env, cfg) = one(&acct);
    run(&env, &cfg, &[]).assert_success();
    assert_eq!(drop.remaining(), 0);
    let want: Vec<Vec<u8>> = msgs.iter().map(|m| crlf(m)).collect();
    assert_eq!(srv.messages(), want, "every byte, in order");
    let lines = srv.lines();
    let mails: Vec<&crate::common::smtp::Line> = lines
        .iter()
        .filter(|l| l.text.starts_with("MAIL FROM:<sender"))
        .collect();
    assert_eq!(mails.len(), 6);
    for (m, msg) in mails.iter().zip(&msgs) {
        assert!(m.batched, "MAIL and RCPT go out together: {m:?}");
        assert!(m.text.contains(" SMTPUTF8"), "a non-ASCII recipient: {m:?}");
        assert!(
            m.text.contains(&format!(" SIZE={}", crlf(msg).len())),
            "{m:?}"
        );
        assert_eq!(m.text.contains(" BODY=8BITMIME"), !msg.is_ascii(), "{m:?}");
    }
    let rcpt = lines.iter().find(|l| l.text.starts_with("RCPT")).unwrap();
    assert_eq!(rcpt.text, "RCPT TO:<jürgen>");
    assert_eq!(
        lines
            .iter()
            .find(|l| l.text.starts_with("MAIL"))
            .unwrap()
            .text,
        "MAIL FROM:<> SMTPUTF8"
    );
    assert!(lines.iter().any(|l| l.text.starts_with("LHLO ")));
    assert!(!lines.iter().any(|l| l.text == "DATA"), "BDAT, not DATA");
    assert_eq!(srv.connections(), 1);
    assert_eq!(lines.last().map(|l| l.text.as_str()), Some("QUIT"));
}

#[test]
fn helo_fallback_goes_lock_step_with_dot_stuffed_data() {
    let (pop3, drop, msgs) = scripted_pop3(7_302, 5);
    let srv = SmtpServer::start(&["PIPELINING", "8BITMIME"], |_, line| {
        line.starts_with("EHLO")
            .then(|| say("502 5.5.1 no EHLO here"))
    });
    let acct = scripted_account(&pop3, "smtp", &srv.address());
    let (env, cfg) = one(&acct);
    run(&env, &cfg, &[]).assert_success();
    assert_eq!(drop.remaining(), 0);
    let want: Vec<Vec<u8>> = msgs.iter().map(|m| crlf(m)).collect();
    assert_eq!(srv.messages(), want);
    let lines = srv.lines();
    assert!(lines.iter().any(|l| l.text.starts_with("HELO ")));
    for l in &lines {
        assert!(!l.batched, "nothing pipelined without PIPELINING: {l:?}");
        assert!(!l.text.contains("BODY="), "no extensions after HELO: {l:?}");
    }
    assert!(lines.iter().filter(|l| l.text == "DATA").count() == 5);
    // The recipient defaults to the account's user.
    assert!(lines.iter().any(|l| l.text == format!("RCPT TO:<{USER}>")));
}

#[test]
fn a_server_that_closes_between_messages_is_connected_to_again() {
    let (pop3, drop, msgs) = scripted_pop3(7_303, 6);
    // The first connection takes two messages, then the server hangs up
    // on the next MAIL; the second says 421 to its third.
    let seen = Arc::new(std::sync::Mutex::new(BTreeMap::<usize, usize>::new()));
    let s = Arc::clone(&seen);
    let srv = SmtpServer::start(&["PIPELINING"], move |conn, line| {
        if !line.starts_with("MAIL FROM:<sender") {
            return None;
        }
        let mut seen = s.lock().unwrap();
        let n = seen.entry(conn).or_insert(0);
        *n += 1;
        match (conn, *n) {
            (0, 3) => Some(Act::Close),
            (1, 3) => Some(say("421 4.4.2 idle too long")),
            _ => None,
        }
    });
    let acct = scripted_account(&pop3, "lmtp", &srv.address());
    let (env, cfg) = one(&acct);
    run(&env, &cfg, &[]).assert_success();
    assert_eq!(drop.remaining(), 0);
    let want: Vec<Vec<u8>> = msgs.iter().map(|m| crlf(m)).collect();
    assert_eq!(srv.messages(), want, "each once, in order");
    assert_eq!(srv.connections(), 3);
    // The recipient is asked about once per run, not per connection.
    let probes = srv
        .commands()
        .iter()
        .filter(|c| *c == "MAIL FROM:<>")
        .count();
    assert_eq!(probes, 1);
}

#[test]
fn a_connection_cut_mid_data_delivers_nothing_and_the_next_run_delivers_it() {
    let (pop3, drop, msgs) = scripted_pop3(7_304, 4);
    let cut = Arc::new(std::sync::atomic::AtomicBool::new(true));
    let c = Arc::clone(&cut);
    let srv = SmtpServer::start(&[], move |_, line| {
        (line == "DATA" && c.swap(false, std::sync::atomic::Ordering::SeqCst))
            .then_some(Act::CutData)
    });
    let acct = scripted_account(&pop3, "smtp", &srv.address());
    let (env, cfg) = one(&acct);
    let out = run(&env, &cfg, &[]);
    out.assert_code(75);
    assert!(
        out.stderr.contains("the connection to the SMTP server")
            && out.stderr.contains("stays on the server"),
        "{out}"
    );
    assert_eq!(drop.remaining(), 4, "nothing deleted");
    assert!(srv.messages().is_empty());
    run(&env, &cfg, &[]).assert_success();
    assert_eq!(drop.remaining(), 0);
    let want: Vec<Vec<u8>> = msgs.iter().map(|m| crlf(m)).collect();
    assert_eq!(srv.messages(), want);
}

#[test]
fn a_verdict_that_never_comes_leaves_the_message_and_says_it_may_arrive_twice() {
    let (pop3, drop, msgs) = scripted_pop3(7_305, 3);
    let once = Arc::new(std::sync::atomic::AtomicBool::new(true));
    let o = Arc::clone(&once);
    let srv = SmtpServer::start(&["CHUNKING", "PIPELINING"], move |_, line| {
        (line == "<message>" && o.swap(false, std::sync::atomic::Ordering::SeqCst))
            .then_some(Act::Close)
    });
    let acct = scripted_account(&pop3, "lmtp", &srv.address());
    let (env, cfg) = one(&acct);
    let out = run(&env, &cfg, &[]);
    out.assert_code(75);
    assert!(out.stderr.contains("arrive twice"), "{out}");
    assert_eq!(drop.remaining(), 3);
    assert_eq!(srv.whole(), 1, "the server had the first message whole");
    run(&env, &cfg, &[]).assert_success();
    assert_eq!(drop.remaining(), 0);
    assert_eq!(srv.messages().len(), msgs.len());
}

#[test]
fn bare_lf_replies_are_understood() {
    let (pop3, drop, msgs) = scripted_pop3(7_306, 3);
    let srv = SmtpServer::start(&[], |_, line| {
        let v = line.split(' ').next().unwrap_or("").to_ascii_uppercase();
        match v.as_str() {
            "<GREETING>" => Some(Act::Say("220 lf only\n".into())),
            "LHLO" => Some(Act::Say("250-lf\n250 PIPELINING\n".into())),
            "MAIL" | "RCPT" | "RSET" => Some(Act::Say("250 ok\n".into())),
            "DATA" => Some(Act::Say("354 go\n".into())),
            "<MESSAGE>" => Some(Act::Say("250 kept\n".into())),
            _ => None,
        }
    });
    let acct = scripted_account(&pop3, "lmtp", &srv.address());
    let (env, cfg) = one(&acct);
    run(&env, &cfg, &[]).assert_success();
    assert_eq!(drop.remaining(), 0);
    assert_eq!(srv.messages().len(), msgs.len());
}

#[test]
fn hostile_replies_are_bounded_and_shown_clean() {
    // A reply line of 100 KB, a reply of 1,000 lines, and a refusal full of
    // terminal escapes.
    let cases: [(&str, Act, i32, &str); 3] = [
        (
            "RCPT",
            Act::Say(format!("250 {}\r\n", "x".repeat(100_000))),
            76,
            "longer than 4096 bytes",
        ),
        (
            "LHLO",
            Act::Say("250-x\r\n".repeat(1_000) + "250 x\r\n"),
            76,
            "more than 100 lines",
        ),
        (
            "<message>",
            Act::Say(format!(
                "554 5.7.1 \x1b[2J\x1b]0;owned\x07{}\r\n",
                "é".repeat(2_000)
            )),
            74,
            "554 5.7.1 [2J]0;owned",
        ),
    ];
    for (when, act, code, want) in cases {
        let (pop3, drop, _) = scripted_pop3(7_307, 2);
        let srv = SmtpServer::start(&["PIPELINING"], move |conn, line| {
            (conn == 0 && (line == when || line.starts_with(&format!("{when} "))))
                .then(|| act.clone())
        });
        let acct = scripted_account(&pop3, "lmtp", &srv.address());
        let (env, cfg) = one(&acct);
        let out = run(&env, &cfg, &[]);
        out.assert_code(code);
        assert!(out.stderr.contains(want), "{want:?} in\n{out}");
        assert!(
            !out.stderr.contains('\x1b') && !out.stderr.contains('\x07'),
            "{out}"
        );
        assert!(
            out.stderr.len() < 4_000,
            "the server's text is cut short:\n{out}"
        );
        assert_eq!(drop.remaining(), 2, "nothing deleted");
    }
}

#[test]
fn a_silent_server_times_out_with_the_account_timeout() {
    let (pop3, drop, _) = scripted_pop3(7_308, 2);
    let srv = SmtpServer::start(&[], |_, line| {
        (line == "<greeting>").then_some(Act::Stall(Duration::from_secs(30)))
    });
    let acct = scripted_account(&pop3, "smtp", &srv.address()).raw("timeout", "1");
    let (env, cfg) = one(&acct);
    let out = run(&env, &cfg, &[]);
    out.assert_code(75);
    assert!(out.stderr.contains("no answer within 1 s"), "{out}");
    assert!(out.elapsed < Duration::from_secs(10), "{out}");
    assert_eq!(drop.remaining(), 2);
}

#[test]
fn flags_give_an_adhoc_lmtp_account_and_bad_addresses_are_usage_errors() {
    let (pop3, drop, msgs) = scripted_pop3(7_309, 2);
    let srv = SmtpServer::plain(&["PIPELINING", "CHUNKING"]);
    let env = TestEnv::new();
    let port = pop3.port().to_string();
    let password = format!("printf '%s\\n' '{PASSWORD}'");
    let base = [
        "--host",
        "127.0.0.1",
        "--port",
        &port,
        "--tls",
        "none",
        "--allow-plaintext",
        "--auth",
        "user",
        "--user",
        USER,
        "--password-command",
        &password,
        "--no-received-header",
    ];
    let addr = srv.address();
    let mut args = base.to_vec();
    args.extend(["--lmtp", &addr, "--recipient", "bob@example.org"]);
    env.run(&args).assert_success();
    assert_eq!(drop.remaining(), 0);
    let want: Vec<Vec<u8>> = msgs.iter().map(|m| crlf(m)).collect();
    assert_eq!(srv.messages(), want);
    assert!(
        srv.commands()
            .contains(&"RCPT TO:<bob@example.org>".to_string())
    );
    for (flags, want) in [
        (vec!["--lmtp", "127.0.0.1"], "no standard port"),
        (vec!["--lmtp", "unix:relative/sock"], "absolute path"),
        (vec!["--smtp", "[::1"], "no closing ]"),
        (vec!["--smtp", "h:99999"], "1 to 65535"),
        (
            vec!["--smtp", "127.0.0.1:25", "--maildir", "/tmp/x"],
            "exactly one of",
        ),
        (
            vec!["--maildir", "/tmp/x", "--recipient", "a"],
            "only applies with --lmtp or --smtp",
        ),
        (
            vec!["--smtp", "127.0.0.1:25", "--recipient", "a b"],
            "cannot be an envelope recipient",
        ),
    ] {
        let mut a = base.to_vec();
        a.extend(flags.iter().copied());
        let o = env.run(&a);
        o.assert_code(64);
        assert!(o.stderr.contains(want), "{want:?} in\n{o}");
    }
}
