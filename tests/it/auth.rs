//! Authentication against Dovecot with each mechanism, proven by Dovecot's
//! own log of the method used; a wrong password exits 77 naming the account;
//! no password (or its base64 forms) ever reaches stdout or stderr, not even
//! in the -vv protocol trace.

use std::time::Duration;

use base64::Engine as _;

use crate::common::corpus;
use crate::common::dovecot::{Dovecot, Options, Tls};
use crate::common::env::{
    OneAccount, Output, TestEnv, assert_same_messages, config_of, read_maildir,
};
use crate::common::{PASSWORD, USER, dovecot_with_mail};

/// Exit status for "authentication refused" (SPEC §1).
const EX_NOPERM: i32 = 77;
/// Exit status for a configuration that cannot work.
const EX_CONFIG: i32 = 78;

/// Fetches a small mailbox with `auth = <auth>` and returns the method
/// Dovecot logged for the login.
fn fetch_with(auth: &str, seed: u64) -> Option<String> {
    fetch_as(Options::default(), Tls::Implicit, auth, PASSWORD, seed)
}

/// Fetches a small mailbox of `USER` with `password` from a Dovecot started
/// with `opts`, over `tls` with `auth`; checks that it all arrived and that
/// the password was never shown; returns the method Dovecot logged.
pub fn fetch_as(opts: Options, tls: Tls, auth: &str, password: &str, seed: u64) -> Option<String> {
    let dc = Dovecot::start(opts)?;
    dc.add_user(USER, password);
    let msgs = corpus::corpus(seed, 3);
    dc.load_mailbox(USER, &msgs);
    let acct = OneAccount::new(|maildir| {
        dc.account("mech", USER, password, tls, maildir)
            .str("auth", auth)
    });
    let out = acct.run(&[]);
    out.assert_success();
    assert_same_messages(&acct.delivered(), &msgs);
    assert_eq!(dc.remaining(USER), 0);
    assert_no_secret(&out, password);
    Some(logged_method(&dc))
}

/// The password must not appear in any form a trace might show.
#[track_caller]
fn assert_no_secret(out: &Output, password: &str) {
    let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
    let all = out.all_output();
    for (what, needle) in [
        ("password", password.to_owned()),
        ("base64 password (LOGIN)", b64(password)),
        ("SASL PLAIN response", b64(&format!("\0{USER}\0{password}"))),
        (
            "SASL PLAIN response with authzid",
            b64(&format!("{USER}\0{USER}\0{password}")),
        ),
    ] {
        assert!(!all.contains(&needle), "the {what} leaked\n{out}");
    }
}

#[test]
fn auth_user_pass() {
    // Dovecot logs USER/PASS as PLAIN.
    if let Some(m) = fetch_with("user", 700) {
        assert_eq!(m, "PLAIN");
    }
}

#[test]
fn auth_apop() {
    if let Some(m) = fetch_with("apop", 701) {
        assert_eq!(m, "APOP");
    }
}

#[test]
fn auth_sasl_plain() {
    if let Some(m) = fetch_with("plain", 702) {
        assert_eq!(m, "PLAIN");
    }
}

#[test]
fn auth_sasl_login() {
    if let Some(m) = fetch_with("login", 703) {
        assert_eq!(m, "LOGIN");
    }
}

#[test]
fn auth_cram_md5() {
    if let Some(m) = fetch_with("cram-md5", 704) {
        assert_eq!(m, "CRAM-MD5");
    }
}

#[test]
fn auth_scram_sha_1() {
    if let Some(m) = fetch_with("scram-sha-1", 706) {
        assert_eq!(m, "SCRAM-SHA-1");
    }
}

#[test]
fn auth_scram_sha_256() {
    if let Some(m) = fetch_with("scram-sha-256", 707) {
        assert_eq!(m, "SCRAM-SHA-256");
    }
}

#[test]
fn auth_auto_picks_the_strongest_offered() {
    // Dovecot offers PLAIN LOGIN CRAM-MD5 SCRAM-SHA-1 SCRAM-SHA-256 and
    // APOP: auto must take SCRAM-SHA-256, which never reveals the password.
    if let Some(m) = fetch_with("auto", 705) {
        assert_eq!(m, "SCRAM-SHA-256");
    }
}

#[test]
fn wrong_password_exits_77_naming_the_account_and_not_the_password() {
    let Some((dc, _)) = dovecot_with_mail(Options::default(), 706, 3) else {
        return;
    };
    let wrong = "Wr0ng-Secret-never-print";
    for auth in ["auto", "user", "plain"] {
        let env = TestEnv::new();
        let maildir = env.path("Maildir");
        let acct = dc
            .account("badpass", USER, wrong, Tls::Implicit, &maildir)
            .str("auth", auth);
        let cfg = env.write_config(&config_of(&[&acct]));

        let out = env.run(&["-c", cfg.to_str().unwrap()]);
        out.assert_code(EX_NOPERM);
        assert!(out.stderr.contains("badpass"), "names the account\n{out}");
        let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
        for needle in [
            wrong.to_owned(),
            b64(wrong),
            b64(&format!("\0{USER}\0{wrong}")),
        ] {
            assert!(
                !out.all_output().contains(&needle),
                "auth = {auth}: leaked\n{out}"
            );
        }
        assert!(read_maildir(&maildir).is_empty());
    }
    assert_eq!(dc.remaining(USER), 3);
    assert!(
        dc.wait_log("Password mismatch", Duration::from_secs(10)),
        "{}",
        dc.log()
    );
}

#[test]
fn protocol_trace_redacts_every_credential() {
    let Some((dc, msgs)) = dovecot_with_mail(Options::default(), 707, 2) else {
        return;
    };
    for auth in ["user", "plain", "login"] {
        let env = TestEnv::new();
        let maildir = env.path("Maildir");
        let acct = dc
            .account("trace", USER, PASSWORD, Tls::Implicit, &maildir)
            .str("auth", auth)
            .raw("keep", "true");
        let cfg = env.write_config(&config_of(&[&acct]));

        let out = env.run(&["-vv", "-c", cfg.to_str().unwrap()]);
        out.assert_success();
        assert_same_messages(&read_maildir(&maildir), &msgs);
        // It is a trace: the commands are there, the secrets are not.
        assert!(
            out.stderr.contains("RETR"),
            "auth = {auth}: -vv traces commands\n{out}"
        );
        assert_no_secret(&out, PASSWORD);
    }
}

/// The method Dovecot logged for `USER`'s login.
fn logged_method(dc: &Dovecot) -> String {
    assert!(
        dc.wait_log("Login: user=<alice>", Duration::from_secs(5)),
        "{}",
        dc.log()
    );
    let log = dc.log();
    let login = log
        .lines()
        .find(|l| l.contains("Login: user=<alice>"))
        .unwrap_or_default()
        .to_owned();
    login
        .split(", ")
        .find_map(|f| f.strip_prefix("method="))
        .unwrap_or_else(|| panic!("no method in {login:?}"))
        .to_owned()
}

/// A server whose strongest mechanism is APOP: auto takes APOP wherever
/// the greeting can be trusted.
fn apop_server() -> Options {
    Options::default().mechanisms("plain login apop")
}

#[test]
fn after_stls_auto_never_takes_apop_from_the_plaintext_greeting() {
    // RFC 2595: after STLS only what was learnt over TLS counts, and the
    // APOP timestamp came in the greeting, before it; a man in the middle
    // could have put it there to choose APOP.
    for (tls, want) in [(Tls::Implicit, "APOP"), (Tls::Starttls, "PLAIN")] {
        if let Some(method) = fetch_as(apop_server(), tls, "auto", PASSWORD, 720) {
            assert_eq!(method, want, "tls = {}", tls.as_str());
        }
    }
}

#[test]
fn auth_apop_with_starttls_is_refused_before_anything_is_sent() {
    let Some((dc, _)) = dovecot_with_mail(apop_server(), 721, 2) else {
        return;
    };
    let acct = OneAccount::new(|maildir| {
        dc.account("apop", USER, PASSWORD, Tls::Starttls, maildir)
            .str("auth", "apop")
    });
    let out = acct.run(&[]);
    out.assert_code(EX_CONFIG);
    for says in ["apop", "starttls", "greeting", "implicit"] {
        assert!(
            out.stderr.contains(says),
            "the error says why and what to do ({says})\n{out}"
        );
    }
    assert!(acct.delivered().is_empty());
    assert!(
        dc.wait_log("no auth attempts", Duration::from_secs(5)),
        "Dovecot saw no login attempt\n{}",
        dc.log()
    );
    assert!(!dc.log().contains("method=APOP"), "{}", dc.log());
    assert_eq!(dc.remaining(USER), 2);
}
