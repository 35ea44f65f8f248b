//! Transport security: STLS works; a server without STLS, an STLS that
//! fails, an untrusted certificate or a cleartext connection never gets a
//! credential, and the refusals say what to do.

use std::sync::Arc;
use std::time::Duration;

use crate::common::corpus;
use crate::common::dovecot::{Options, Tls};
use crate::common::env::{AccountToml, TestEnv, assert_same_messages, config_of, read_maildir};
use crate::common::script::{Maildrop, ScriptServer};
use crate::common::{PASSWORD, USER, dovecot_with_mail};

/// Exit status for "unreachable / TLS trust / STLS missing" (SPEC §1).
const EX_UNAVAILABLE: i32 = 69;

/// An account on a scripted server, cleartext TCP.
fn scripted_account(
    name: &str,
    srv: &ScriptServer,
    tls: Tls,
    maildir: &std::path::Path,
) -> AccountToml {
    AccountToml::new(name)
        .str("host", "127.0.0.1")
        .raw("port", srv.port().to_string())
        .str("tls", tls.as_str())
        .str("user", USER)
        .str("password", PASSWORD)
        .str("maildir", &maildir.display().to_string())
        .raw("received_header", "false")
}

#[test]
fn starttls_fetches_every_message() {
    let Some((dc, msgs)) = dovecot_with_mail(Options::default(), 600, 20) else {
        return;
    };
    let env = TestEnv::new();
    let maildir = env.path("Maildir");
    // "localhost" may resolve to ::1 first, where nothing listens: popfetch
    // must go on to 127.0.0.1, and the certificate names localhost.
    let acct = dc
        .account("stls", USER, PASSWORD, Tls::Starttls, &maildir)
        .str("host", "localhost");
    let cfg = env.write_config(&config_of(&[&acct]));

    env.run(&["-c", cfg.to_str().unwrap()]).assert_success();
    assert_same_messages(&read_maildir(&maildir), &msgs);
    assert_eq!(dc.remaining(USER), 0);
    assert!(dc.wait_log("Login: user=<alice>", Duration::from_secs(5)));
    let login = dc
        .log()
        .lines()
        .find(|l| l.contains("Login: user=<alice>"))
        .unwrap_or_default()
        .to_owned();
    assert!(
        login.contains(", TLS"),
        "the login happened inside TLS: {login}"
    );
}

#[test]
fn starttls_to_a_dovecot_without_stls_is_refused_before_any_credential() {
    let Some((dc, _)) = dovecot_with_mail(Options::no_ssl(), 601, 5) else {
        return;
    };
    let env = TestEnv::new();
    let maildir = env.path("Maildir");
    let acct = dc.account("nostls", USER, PASSWORD, Tls::Starttls, &maildir);
    let cfg = env.write_config(&config_of(&[&acct]));

    let out = env.run(&["-c", cfg.to_str().unwrap()]);
    out.assert_code(EX_UNAVAILABLE);
    assert!(out.stderr.contains("nostls"), "names the account\n{out}");
    assert!(
        out.stderr.to_lowercase().contains("stls")
            || out.stderr.to_lowercase().contains("starttls"),
        "says STLS is what is missing\n{out}"
    );
    dc.assert_no_login();
    assert_eq!(dc.remaining(USER), 5);
    assert!(read_maildir(&maildir).is_empty());
    assert!(!out.all_output().contains(PASSWORD));
}

#[test]
fn starttls_without_stls_in_capa_sends_no_credential() {
    let drop = Maildrop::new(USER, PASSWORD, corpus::corpus(602, 3));
    let srv = ScriptServer::maildrop(Arc::clone(&drop));
    let env = TestEnv::new();
    let maildir = env.path("Maildir");
    let acct = scripted_account("nostls", &srv, Tls::Starttls, &maildir);
    let cfg = env.write_config(&config_of(&[&acct]));

    let out = env.run(&["-c", cfg.to_str().unwrap()]);
    out.assert_code(EX_UNAVAILABLE);
    assert!(
        srv.saw("CAPA"),
        "STLS support is learnt from CAPA: {:?}",
        srv.commands()
    );
    assert!(!srv.saw_credentials(), "sent: {:?}", srv.commands());
    assert_eq!(drop.remaining(), 3);
}

#[test]
fn a_refused_stls_is_not_a_reason_to_fall_back_to_cleartext() {
    // CAPA promises STLS, the STLS command then fails.
    let drop = Maildrop::with_capa(
        USER,
        PASSWORD,
        corpus::corpus(603, 3),
        &["STLS", "USER", "UIDL", "TOP", "RESP-CODES"],
    );
    let srv = ScriptServer::maildrop(Arc::clone(&drop));
    let env = TestEnv::new();
    let maildir = env.path("Maildir");
    let acct = scripted_account("stlsfail", &srv, Tls::Starttls, &maildir);
    let cfg = env.write_config(&config_of(&[&acct]));

    let out = env.run(&["-c", cfg.to_str().unwrap()]);
    out.assert_failure();
    assert!(srv.saw("STLS"), "sent: {:?}", srv.commands());
    assert!(!srv.saw_credentials(), "sent: {:?}", srv.commands());
    assert_eq!(drop.remaining(), 3);
}

#[test]
fn untrusted_certificate_is_refused_with_the_fix_named() {
    let Some((dc, _)) = dovecot_with_mail(Options::default(), 604, 5) else {
        return;
    };
    for tls in [Tls::Implicit, Tls::Starttls] {
        let env = TestEnv::new();
        let maildir = env.path("Maildir");
        // No tls_ca_file: the system roots do not know the test CA.
        let acct = dc
            .account("selfsigned", USER, PASSWORD, tls, &maildir)
            .remove("tls_ca_file")
            .str("host", "localhost");
        let cfg = env.write_config(&config_of(&[&acct]));

        let out = env.run(&["-c", cfg.to_str().unwrap()]);
        out.assert_code(EX_UNAVAILABLE);
        let err = out.stderr.to_lowercase();
        assert!(
            out.stderr.contains("selfsigned"),
            "names the account\n{out}"
        );
        assert!(err.contains("certificate"), "says what failed\n{out}");
        assert!(
            err.contains("tls_ca_file") || err.contains("tls_fingerprint"),
            "says what to do\n{out}"
        );
        assert!(
            read_maildir(&maildir).is_empty(),
            "{tls:?}: nothing delivered"
        );
        assert!(!out.all_output().contains(PASSWORD));
    }
    dc.assert_no_login();
    assert_eq!(dc.remaining(USER), 5);
}

#[test]
fn cleartext_without_allow_plaintext_sends_no_credential() {
    // The server offers the mechanisms, so cleartext is the only reason to
    // refuse them.
    let drop = Maildrop::with_capa(
        USER,
        PASSWORD,
        corpus::corpus(605, 3),
        &["USER", "SASL PLAIN LOGIN", "UIDL", "TOP", "RESP-CODES"],
    );
    let srv = ScriptServer::maildrop(Arc::clone(&drop));
    for auth in ["auto", "user", "plain", "login"] {
        let env = TestEnv::new();
        let maildir = env.path("Maildir");
        let acct = scripted_account("clear", &srv, Tls::None, &maildir).str("auth", auth);
        let cfg = env.write_config(&config_of(&[&acct]));

        let out = env.run(&["-c", cfg.to_str().unwrap()]);
        out.assert_failure();
        assert!(
            out.stderr.contains("allow_plaintext"),
            "auth = {auth}: the refusal names the setting that would allow it\n{out}"
        );
        assert!(read_maildir(&maildir).is_empty());
    }
    assert!(!srv.saw_credentials(), "sent: {:?}", srv.commands());
    assert_eq!(drop.remaining(), 3);
}

#[test]
fn cleartext_with_allow_plaintext_fetches() {
    let Some((dc, msgs)) = dovecot_with_mail(Options::no_ssl(), 606, 6) else {
        return;
    };
    let env = TestEnv::new();
    let maildir = env.path("Maildir");
    let acct = dc
        .account("clear", USER, PASSWORD, Tls::None, &maildir)
        .remove("tls_ca_file")
        .raw("allow_plaintext", "true");
    let cfg = env.write_config(&config_of(&[&acct]));

    env.run(&["-c", cfg.to_str().unwrap()]).assert_success();
    assert_same_messages(&read_maildir(&maildir), &msgs);
    assert_eq!(dc.remaining(USER), 0);
}
