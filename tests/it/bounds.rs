//! Replies a hostile or broken server can make unbounded. In size: a CAPA
//! line of many megabytes, a UID of 50 MB — refused with exit 76 before
//! they cost memory or reach the state file. In time: a listing or a
//! message that crawls in at 10 bytes a second for ever — given up with
//! exit 75, nothing lost, and the next run delivers everything once.

use std::fs;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use crate::common::corpus;
use crate::common::env::{OneAccount, assert_same_messages};
use crate::common::script::{Maildrop, Reply, ScriptServer};
use crate::common::{PASSWORD, USER};
use crate::hostile::{conn_saw, lines_of, scripted, verb};

const EX_TEMPFAIL: i32 = 75;
const EX_PROTOCOL: i32 = 76;

/// A multi-line reply whose one line is `line` (sent as is, no stuffing).
fn one_line_reply(line: &[u8]) -> Reply {
    let mut out = b"+OK\r\n".to_vec();
    out.extend_from_slice(line);
    out.extend_from_slice(b"\r\n.\r\n");
    Reply::Raw(out)
}

/// A mailbox of `n` corpus messages whose answer to `verb` is `reply`
/// instead, on every connection (`first_only`: on the first one).
fn mailbox_except(
    seed: u64,
    n: usize,
    verb_: &'static str,
    first_only: bool,
    reply: impl Fn() -> Reply + Send + Sync + 'static,
) -> (ScriptServer, Arc<Maildrop>, Vec<Vec<u8>>) {
    let msgs = corpus::corpus(seed, n);
    let drop = Maildrop::new(USER, PASSWORD, msgs.clone());
    let srv = ScriptServer::maildrop_except(Arc::clone(&drop), move |c, l| {
        (verb(l) == verb_ && (c == 0 || !first_only)).then(&reply)
    });
    (srv, drop, msgs)
}

/// The scripted account `name` on `srv`, deleting what it delivers.
fn account(name: &'static str, srv: &ScriptServer) -> OneAccount {
    let port = srv.port();
    OneAccount::new(|maildir| scripted(name, port, maildir, false).raw("timeout", "2"))
}

/// Every byte of every file under the state directory.
fn state_bytes(dir: &Path) -> Vec<u8> {
    let mut all = Vec::new();
    if let Ok(rd) = fs::read_dir(dir) {
        for e in rd.flatten() {
            if e.path().is_file() {
                all.extend(fs::read(e.path()).unwrap_or_default());
            }
        }
    }
    all
}

#[test]
fn a_capa_line_of_many_megabytes_is_refused_with_76() {
    let mut huge = b"X-JUNK ".to_vec();
    huge.resize(20 << 20, b'j');
    let (srv, drop, _) = mailbox_except(1200, 2, "CAPA", false, move || one_line_reply(&huge));
    let acct = account("bigcapa", &srv);

    let out = acct.run(&[]);
    out.assert_code(EX_PROTOCOL);
    assert!(
        out.stderr.contains("bigcapa") && out.stderr.contains("CAPA"),
        "names the account and the reply\n{out}"
    );
    assert!(
        !srv.saw_credentials(),
        "no login after a refused CAPA: {:?}",
        srv.commands()
    );
    assert!(acct.delivered().is_empty());
    assert_eq!(drop.remaining(), 2);
}

#[test]
fn a_uid_of_50_mb_is_refused_with_76_and_never_stored() {
    let marker = b"HUGEUID";
    let mut listing = b"1 ".to_vec();
    listing.extend_from_slice(marker);
    listing.resize(50 << 20, b'u');
    listing.extend_from_slice(b"\r\n2 uid-0001");
    let (srv, drop, _) = mailbox_except(1201, 2, "UIDL", false, move || one_line_reply(&listing));
    let acct = account("biguid", &srv);

    let out = acct.run(&[]);
    out.assert_code(EX_PROTOCOL);
    assert!(
        out.stderr
            .contains("the server sent a UID of more than 1000 bytes in its UIDL listing"),
        "says what the server sent\n{out}"
    );
    assert!(!srv.saw("RETR") && !srv.saw("DELE"), "{:?}", srv.commands());
    assert!(acct.delivered().is_empty(), "nothing delivered");
    assert_eq!(drop.remaining(), 2);
    let state = state_bytes(&acct.env.state_dir());
    assert!(
        !state.windows(marker.len()).any(|w| w == marker),
        "the huge UID reached the state directory"
    );
    assert!(state.len() < 64 << 10, "state is {} bytes", state.len());
}

#[test]
fn a_uid_just_over_1000_bytes_is_refused_and_one_of_1000_is_kept() {
    for (len, ok) in [(1000, true), (1001, false)] {
        let uid = "u".repeat(len);
        let (srv, _, msgs) = mailbox_except(1202, 1, "UIDL", false, move || {
            one_line_reply(format!("1 {uid}").as_bytes())
        });
        let acct = account("longuid", &srv);
        let out = acct.run(&[]);
        if ok {
            out.assert_success();
            assert_eq!(acct.delivered(), msgs, "{len} bytes");
        } else {
            out.assert_code(EX_PROTOCOL);
            assert!(acct.delivered().is_empty(), "{len} bytes");
        }
    }
}

/// `head` at once, then `tail` over and over at 10 bytes a second, for
/// ever: bytes keep coming, so no single read ever times out.
fn crawl(head: &'static [u8], tail: &'static [u8]) -> impl Fn() -> Reply + Send + Sync {
    move || Reply::Crawl {
        head: head.to_vec(),
        tail: tail.to_vec(),
        every: Duration::from_millis(100),
    }
}

/// Runs the account twice against `srv`: the first run meets the crawling
/// reply and must give up with 75, having delivered and deleted nothing;
/// the second (served normally) delivers every message exactly once.
#[track_caller]
fn crawl_then_recover(what: &str, srv: &ScriptServer, drop: &Maildrop, msgs: &[Vec<u8>]) {
    let acct = account("crawl", srv);
    let first = acct.run(&[]);
    first.assert_code(EX_TEMPFAIL);
    assert!(
        first.stderr.contains("crawl") && first.stderr.contains("too slowly"),
        "{what}: says the server is too slow\n{first}"
    );
    assert!(acct.delivered().is_empty(), "{what}: nothing delivered");
    assert!(
        !conn_saw(srv, 0, "DELE") && !conn_saw(srv, 0, "QUIT"),
        "{what}: {:?}",
        lines_of(srv, 0)
    );
    assert_eq!(drop.remaining(), msgs.len(), "{what}: nothing deleted");

    // The lock is free and nothing was half-recorded: the next run
    // delivers everything, once.
    acct.run(&[]).assert_success();
    assert_same_messages(&acct.delivered(), msgs);
    assert_eq!(drop.remaining(), 0, "{what}");
}

#[test]
fn crawling_listings_time_out_with_75_and_the_next_run_delivers_once() {
    let cases: [(&str, &[u8], &[u8]); 3] = [
        ("CAPA", b"+OK\r\nUSER\r\nUIDL\r\n", b"X-PAD\r\n"),
        ("LIST", b"+OK\r\n1 100\r\n", b"2 100\r\n"),
        ("UIDL", b"+OK\r\n1 uid-0000\r\n", b"9 crawling\r\n"),
    ];
    for (what, head, tail) in cases {
        let (srv, drop, msgs) = mailbox_except(1210, 3, what, true, crawl(head, tail));
        crawl_then_recover(what, &srv, &drop, &msgs);
    }
}

#[test]
fn a_crawling_message_times_out_with_75_and_the_next_run_delivers_once() {
    let (srv, drop, msgs) = mailbox_except(
        1211,
        3,
        "RETR",
        true,
        crawl(b"+OK\r\nSubject: slow\r\n\r\n", b"crawling along\r\n"),
    );
    crawl_then_recover("RETR", &srv, &drop, &msgs);
}

#[test]
fn a_slow_but_steady_message_still_arrives() {
    // 48 KiB at 16 KiB/s takes longer than `timeout`, but never crawls.
    let mut msg = b"Subject: steady\n\n".to_vec();
    while msg.len() < 48 << 10 {
        msg.extend_from_slice(b"a steady line of a long message, arriving in pieces\n");
    }
    let msgs = vec![msg];
    let drop = Maildrop::new(USER, PASSWORD, msgs.clone());
    let inner = Arc::clone(&drop);
    let srv = ScriptServer::maildrop_except(Arc::clone(&drop), move |c, l| {
        (verb(l) == "RETR").then(|| match inner.reply(c, l) {
            Reply::Raw(bytes) => Reply::Paced {
                bytes,
                chunk: 8 << 10,
                every: Duration::from_millis(500),
            },
            other => other,
        })
    });
    let acct = account("steady", &srv);
    acct.run(&[]).assert_success();
    assert_same_messages(&acct.delivered(), &msgs);
    assert_eq!(drop.remaining(), 0);
}
