//! Listings and bodies a hostile or broken server can make unbounded: a
//! CAPA line of many megabytes, a UID of 50 MB. popfetch refuses them with
//! exit 76 before they cost memory or reach the state file.

use std::fs;
use std::path::Path;
use std::sync::Arc;

use crate::common::corpus;
use crate::common::env::{TestEnv, config_of, read_maildir};
use crate::common::script::{Maildrop, Reply, ScriptServer};
use crate::common::{PASSWORD, USER};
use crate::hostile::{scripted, verb};

const EX_PROTOCOL: i32 = 76;

/// A multi-line reply whose one line is `line` (sent as is, no stuffing).
fn one_line_reply(line: &[u8]) -> Reply {
    let mut out = b"+OK\r\n".to_vec();
    out.extend_from_slice(line);
    out.extend_from_slice(b"\r\n.\r\n");
    Reply::Raw(out)
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
    let msgs = corpus::corpus(1200, 2);
    let drop = Maildrop::new(USER, PASSWORD, msgs);
    let inner = Arc::clone(&drop);
    let mut huge = b"X-JUNK ".to_vec();
    huge.resize(20 << 20, b'j');
    let srv = ScriptServer::start(Reply::ok("ready"), move |c, l| {
        if verb(l) == "CAPA" {
            return one_line_reply(&huge);
        }
        inner.reply(c, l)
    });
    let env = TestEnv::new();
    let maildir = env.path("Maildir");
    let cfg = env.write_config(&config_of(&[&scripted(
        "bigcapa",
        srv.port(),
        &maildir,
        false,
    )]));

    let out = env.run(&["-c", cfg.to_str().unwrap()]);
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
    assert!(read_maildir(&maildir).is_empty());
    assert_eq!(drop.remaining(), 2);
}

#[test]
fn a_uid_of_50_mb_is_refused_with_76_and_never_stored() {
    let msgs = corpus::corpus(1201, 2);
    let drop = Maildrop::new(USER, PASSWORD, msgs);
    let inner = Arc::clone(&drop);
    let marker = b"HUGEUID";
    let mut listing = b"1 ".to_vec();
    listing.extend_from_slice(marker);
    listing.resize(50 << 20, b'u');
    listing.extend_from_slice(b"\r\n2 uid-0001");
    let srv = ScriptServer::start(Reply::ok("ready"), move |c, l| {
        if l.eq_ignore_ascii_case("UIDL") {
            return one_line_reply(&listing);
        }
        inner.reply(c, l)
    });
    let env = TestEnv::new();
    let maildir = env.path("Maildir");
    let cfg = env.write_config(&config_of(&[&scripted(
        "biguid",
        srv.port(),
        &maildir,
        false,
    )]));

    let out = env.run(&["-c", cfg.to_str().unwrap()]);
    out.assert_code(EX_PROTOCOL);
    assert!(
        out.stderr
            .contains("the server sent a UID of more than 1000 bytes in its UIDL listing"),
        "says what the server sent\n{out}"
    );
    assert!(!srv.saw("RETR") && !srv.saw("DELE"), "{:?}", srv.commands());
    assert!(read_maildir(&maildir).is_empty(), "nothing delivered");
    assert_eq!(drop.remaining(), 2);
    let state = state_bytes(&env.state_dir());
    assert!(
        !state.windows(marker.len()).any(|w| w == marker),
        "the huge UID reached the state directory"
    );
    assert!(state.len() < 64 << 10, "state is {} bytes", state.len());
}

#[test]
fn a_uid_just_over_1000_bytes_is_refused_and_one_of_1000_is_kept() {
    for (len, ok) in [(1000, true), (1001, false)] {
        let msgs = corpus::corpus(1202, 1);
        let drop = Maildrop::new(USER, PASSWORD, msgs.clone());
        let inner = Arc::clone(&drop);
        let uid = "u".repeat(len);
        let srv = ScriptServer::start(Reply::ok("ready"), move |c, l| {
            if l.eq_ignore_ascii_case("UIDL") {
                return one_line_reply(format!("1 {uid}").as_bytes());
            }
            inner.reply(c, l)
        });
        let env = TestEnv::new();
        let maildir = env.path("Maildir");
        let cfg = env.write_config(&config_of(&[&scripted(
            "longuid",
            srv.port(),
            &maildir,
            true,
        )]));
        let out = env.run(&["-c", cfg.to_str().unwrap()]);
        if ok {
            out.assert_success();
            assert_eq!(read_maildir(&maildir), msgs, "{len} bytes");
        } else {
            out.assert_code(EX_PROTOCOL);
            assert!(read_maildir(&maildir).is_empty(), "{len} bytes");
        }
    }
}
