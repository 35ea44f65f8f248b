//! Self-tests of the harness, independent of popfetch: the Dovecot fixture
//! serves exactly what was loaded over plain POP3, STLS and POP3S, trusts
//! only its own CA, logs what it saw and leaves no process behind; the
//! corpus has the properties the other tests rely on; the scripted server
//! serves and records.

use std::net::TcpStream;
use std::time::Duration;

use crate::common::corpus::{self, pop3_wire};
use crate::common::dovecot::{Dovecot, Options, Tls};
use crate::common::env::{AccountToml, config_of, sorted};
use crate::common::pop3::{Pop3, connect};
use crate::common::script::{Maildrop, Reply, ScriptServer};
use crate::common::{skip_or_panic, wait_until};

fn tls_connector(ca: Option<&std::path::Path>) -> native_tls::TlsConnector {
    let mut b = native_tls::TlsConnector::builder();
    if let Some(ca) = ca {
        let pem = std::fs::read(ca).unwrap();
        b.add_root_certificate(native_tls::Certificate::from_pem(&pem).unwrap());
    }
    b.build().unwrap()
}

#[test]
fn dovecot_serves_loaded_messages_over_plain_pop3() {
    let Some(dc) = Dovecot::start(Options::default()) else {
        return;
    };
    dc.add_user("alice", "s3cret");
    let msgs = corpus::corpus(1, 12);
    dc.load_mailbox("alice", &msgs);
    assert_eq!(dc.remaining("alice"), 12);

    let mut p = Pop3::new(connect(dc.pop3_port()));
    let greeting = p.line();
    assert!(greeting.starts_with("+OK"), "{greeting}");
    assert!(p.cmd("USER alice").starts_with("+OK"));
    let pass = p.cmd("PASS s3cret");
    assert!(pass.starts_with("+OK"), "{pass}\n{}", dc.log());

    let wire_total: usize = msgs
        .iter()
        .map(|m| m.len() + m.iter().filter(|&&b| b == b'\n').count())
        .sum();
    assert_eq!(p.cmd("STAT"), format!("+OK 12 {wire_total}"));

    assert_eq!(p.cmd("UIDL"), "+OK");
    let uidl = String::from_utf8(p.body()).unwrap();
    let uids: Vec<&str> = uidl
        .lines()
        .filter(|l| *l != ".")
        .map(|l| l.split(' ').nth(1).unwrap())
        .collect();
    assert_eq!(uids.len(), 12);
    // pop3_uidl_format = %08Xu%08Xv
    assert!(
        uids.iter()
            .all(|u| u.len() == 16 && u.chars().all(|c| c.is_ascii_hexdigit()))
    );

    let mut served = Vec::new();
    for n in 1..=12 {
        let st = p.cmd(&format!("RETR {n}"));
        assert!(st.starts_with("+OK"), "{st}");
        served.push(p.body());
    }
    let want: Vec<Vec<u8>> = msgs.iter().map(|m| pop3_wire(m)).collect();
    assert_eq!(sorted(&served), sorted(&want), "Dovecot changed the bytes");

    assert!(p.cmd("DELE 1").starts_with("+OK"));
    assert!(p.cmd("QUIT").starts_with("+OK"));
    assert_eq!(dc.remaining("alice"), 11, "QUIT commits the deletion");
    assert!(
        dc.wait_log("Login: user=<alice>", Duration::from_secs(5)),
        "{}",
        dc.log()
    );
}

#[test]
fn dovecot_capa_offers_stls_only_with_ssl() {
    let Some(with) = Dovecot::start(Options::default()) else {
        return;
    };
    let Some(without) = Dovecot::start(Options::no_ssl()) else {
        return;
    };
    for (dc, stls) in [(&with, true), (&without, false)] {
        let mut p = Pop3::new(connect(dc.pop3_port()));
        let greeting = p.line();
        // APOP is enabled: the greeting carries a timestamp.
        assert!(
            greeting.starts_with("+OK") && greeting.contains('<'),
            "{greeting}"
        );
        assert!(p.cmd("CAPA").starts_with("+OK"));
        let capa = String::from_utf8(p.body()).unwrap();
        let lines: Vec<&str> = capa.lines().collect();
        assert_eq!(lines.contains(&"STLS"), stls, "ssl={stls}: {capa}");
        let sasl = lines.iter().find(|l| l.starts_with("SASL ")).unwrap();
        for mech in ["PLAIN", "LOGIN", "CRAM-MD5", "SCRAM-SHA-1", "SCRAM-SHA-256"] {
            assert!(sasl.split(' ').any(|m| m == mech), "{mech} missing: {sasl}");
        }
        assert!(lines.contains(&"USER") && lines.contains(&"UIDL"), "{capa}");
        p.cmd("QUIT");
    }
}

#[test]
fn dovecot_tls_is_trusted_through_its_ca_only() {
    let Some(dc) = Dovecot::start(Options::default()) else {
        return;
    };
    dc.add_user("alice", "pw");
    dc.load_mailbox("alice", &corpus::corpus(2, 3));
    let ca = dc.ca_pem_path();

    // Implicit TLS, for both names in the certificate.
    for host in ["localhost", "127.0.0.1"] {
        let tls = tls_connector(Some(&ca))
            .connect(host, connect(dc.pop3s_port()))
            .unwrap_or_else(|e| panic!("TLS to {host}: {e}"));
        let mut p = Pop3::new(tls);
        assert!(p.line().starts_with("+OK"));
        assert!(p.cmd("USER alice").starts_with("+OK"));
        assert!(p.cmd("PASS pw").starts_with("+OK"));
        assert!(p.cmd("STAT").starts_with("+OK 3 "));
        p.cmd("QUIT");
    }

    // STLS: upgrade, then CAPA no longer offers STLS.
    let mut p = Pop3::new(connect(dc.pop3_port()));
    assert!(p.line().starts_with("+OK"));
    assert!(p.cmd("STLS").starts_with("+OK"));
    let plain = p.into_inner();
    let tls = tls_connector(Some(&ca))
        .connect("localhost", plain)
        .unwrap();
    let mut p = Pop3::new(tls);
    assert!(p.cmd("CAPA").starts_with("+OK"));
    let capa = String::from_utf8(p.body()).unwrap();
    assert!(!capa.lines().any(|l| l == "STLS"), "{capa}");
    assert!(p.cmd("USER alice").starts_with("+OK"));
    assert!(p.cmd("PASS pw").starts_with("+OK"));
    p.cmd("QUIT");

    // Without the CA (system roots only) the certificate is not trusted.
    let err = tls_connector(None)
        .connect("localhost", connect(dc.pop3s_port()))
        .expect_err("the test CA must not be trusted by default");
    assert!(
        format!("{err}").to_lowercase().contains("certificate"),
        "{err}"
    );
}

#[test]
fn dovecot_logs_a_wrong_password() {
    let Some(dc) = Dovecot::start(Options::default()) else {
        return;
    };
    dc.add_user("alice", "right");
    let mut p = Pop3::new(connect(dc.pop3_port()));
    p.line();
    p.cmd("USER alice");
    let r = p.cmd("PASS wrong");
    assert!(r.starts_with("-ERR"), "{r}");
    assert!(
        dc.wait_log("Password mismatch", Duration::from_secs(10)),
        "{}",
        dc.log()
    );
}

fn gone(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        Ok(s) => s.rfind(')').is_some_and(|i| s[i + 2..].starts_with('Z')),
    }
}

#[test]
fn dovecot_drop_leaves_no_process_behind() {
    let Some(dc) = Dovecot::start(Options::default()) else {
        return;
    };
    dc.add_user("alice", "pw");
    // A login brings up pop3-login, auth and pop3 processes too.
    let mut p = Pop3::new(connect(dc.pop3_port()));
    p.line();
    p.cmd("USER alice");
    assert!(p.cmd("PASS pw").starts_with("+OK"));
    let pids = dc.processes();
    p.cmd("QUIT");
    assert!(pids.len() >= 4, "master and its services: {pids:?}");
    let (pop3, pop3s) = (dc.pop3_port(), dc.pop3s_port());
    drop(dc);
    assert!(
        wait_until(Duration::from_secs(10), || pids.iter().all(|&p| gone(p))),
        "still running: {:?}",
        pids.iter().filter(|&&p| !gone(p)).collect::<Vec<_>>()
    );
    assert!(TcpStream::connect(("127.0.0.1", pop3)).is_err());
    assert!(TcpStream::connect(("127.0.0.1", pop3s)).is_err());
}

#[test]
fn corpus_is_reproducible_and_holds_the_hard_cases() {
    let a = corpus::corpus(7, 60);
    assert_eq!(a, corpus::corpus(7, 60), "same seed, same bytes");
    assert_ne!(a, corpus::corpus(8, 60), "another seed, other bytes");
    assert_eq!(corpus::message(7, 33), a[33], "messages regenerate alone");

    for m in &a {
        assert!(!m.contains(&b'\r'), "no CR anywhere");
        assert!(m.ends_with(b"\n"), "ends with a newline");
        let text = String::from_utf8_lossy(m);
        for h in [
            "Return-Path: <",
            "From: ",
            "To: ",
            "Subject: ",
            "Date: ",
            "Message-ID: <",
        ] {
            assert!(
                text.starts_with(h) || text.contains(&format!("\n{h}")),
                "{h}"
            );
        }
    }
    let lines: Vec<&[u8]> = a.iter().flat_map(|m| m.split(|&b| b == b'\n')).collect();
    let has = |p: &dyn Fn(&[u8]) -> bool| lines.iter().any(|l| p(l));
    assert!(has(&|l| l == b"."));
    assert!(has(&|l| l == b".."));
    assert!(has(&|l| l.starts_with(b".") && l.len() > 2));
    assert!(has(&|l| l.starts_with(b"From ")));
    assert!(has(&|l| l.starts_with(b">From ")));
    assert!(has(&|l| l.len() >= 2_000));
    assert!(has(&|l| l.is_empty()));
    assert!(has(&|l| !l.is_ascii()), "8-bit text");
    let texts: Vec<String> = a
        .iter()
        .map(|m| String::from_utf8_lossy(m).into_owned())
        .collect();
    assert!(texts.iter().any(|t| t.contains("multipart/mixed")));
    assert!(
        texts
            .iter()
            .any(|t| t.contains("Content-Transfer-Encoding: base64"))
    );
    assert!(
        texts.iter().any(|t| t.ends_with("\n.\n")),
        "a final lone dot"
    );
    assert!(
        texts
            .iter()
            .any(|t| t.ends_with("\n\n") && !t.contains("\n\n\n")),
        "empty body"
    );
    let sizes: Vec<usize> = a.iter().map(|m| m.len()).collect();
    assert!(sizes.iter().min().unwrap() < &2_000 && sizes.iter().max().unwrap() > &100_000);
}

#[test]
fn script_server_serves_a_maildrop_and_records_commands() {
    let msgs = corpus::corpus(3, 3);
    let drop = Maildrop::new("bob", "pw", msgs.clone());
    let srv = ScriptServer::maildrop(drop.clone());
    let mut p = Pop3::new(connect(srv.port()));
    assert!(p.line().starts_with("+OK"));
    assert!(p.cmd("PASS early").starts_with("-ERR"));
    assert!(p.cmd("USER bob").starts_with("+OK"));
    assert!(p.cmd("PASS nope").starts_with("-ERR [AUTH]"));
    p.cmd("USER bob");
    assert!(p.cmd("PASS pw").starts_with("+OK"));
    assert!(p.cmd("STAT").starts_with("+OK 3 "));
    assert!(p.cmd("RETR 2").starts_with("+OK"));
    assert_eq!(p.body(), pop3_wire(&msgs[1]));
    assert!(p.cmd("UIDL 2").ends_with(&Maildrop::uid(1)));
    assert!(p.cmd("DELE 2").starts_with("+OK"));
    assert!(
        p.cmd("RETR 2").starts_with("-ERR"),
        "deleted in this session"
    );
    assert_eq!(drop.remaining(), 3, "nothing gone before QUIT");
    assert!(p.cmd("QUIT").starts_with("+OK"));
    assert_eq!(drop.remaining(), 2);
    assert_eq!(
        srv.commands(),
        [
            "PASS early",
            "USER bob",
            "PASS nope",
            "USER bob",
            "PASS pw",
            "STAT",
            "RETR 2",
            "UIDL 2",
            "DELE 2",
            "RETR 2",
            "QUIT"
        ]
    );
    assert!(srv.saw("pass") && srv.saw_credentials() && !srv.saw("APOP"));
}

#[test]
fn script_server_can_close_and_stall() {
    let srv = ScriptServer::start(Reply::ok("hi"), |_, line| match line {
        "CLOSE" => Reply::Close,
        "STALL" => Reply::Stall(Duration::from_millis(300)),
        _ => Reply::ok("fine"),
    });
    let mut p = Pop3::new(connect(srv.port()));
    assert_eq!(p.line(), "+OK hi");
    assert_eq!(p.cmd("NOOP"), "+OK fine");
    assert_eq!(p.cmd("CLOSE"), "", "closed: EOF");

    let mut p = Pop3::new(connect(srv.port()));
    p.line();
    let start = std::time::Instant::now();
    assert_eq!(p.cmd("STALL"), "");
    assert!(start.elapsed() >= Duration::from_millis(250));
    assert_eq!(srv.connections(), 2);
    assert_eq!(srv.received()[2].conn, 1);
}

#[test]
#[should_panic(expected = "CI=true")]
fn missing_dovecot_fails_in_ci() {
    skip_or_panic(true, "Dovecot is not installed");
}

#[test]
fn account_toml_is_valid_toml() {
    let a = AccountToml::new("work")
        .str("host", "127.0.0.1")
        .raw("port", "995")
        .str("password", "a \"quoted\" \\ pass")
        .raw("keep", "true")
        .str("tls", Tls::Implicit.as_str());
    let b = AccountToml::new("home").str("host", "localhost");
    let text = config_of(&[&a, &b]);
    let t: toml::Table = toml::from_str(&text).unwrap();
    let work = &t["account"]["work"];
    assert_eq!(work["password"].as_str(), Some("a \"quoted\" \\ pass"));
    assert_eq!(work["port"].as_integer(), Some(995));
    assert_eq!(work["keep"].as_bool(), Some(true));
    assert_eq!(t["account"]["home"]["host"].as_str(), Some("localhost"));
}
