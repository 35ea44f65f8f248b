//! `popfetch serverinfo` against the real Dovecot: a certificate it does
//! not trust is shown with everything needed to decide (and the pin it
//! prints works), nobody logs in; an ad-hoc server needs no user and no
//! destination; `--json`; and a TLS mode that does not fit the port gets
//! an answer that names the fix.

use std::path::Path;
use std::process::Command;

use crate::common::dovecot::{Options, Tls};
use crate::common::env::{Output, TestEnv, config_of};
use crate::common::{PASSWORD, USER, dovecot_with_mail, run_checked};

const EX_UNAVAILABLE: i32 = 69;
const EX_CONFIG: i32 = 78;

/// `openssl x509 -fingerprint -sha256` of a PEM file, as `sha256:AB:CD:...`.
fn fingerprint_of(pem: &Path) -> String {
    let out = run_checked(
        Command::new("openssl")
            .args(["x509", "-noout", "-fingerprint", "-sha256", "-in"])
            .arg(pem),
        "openssl x509 -fingerprint",
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let hex = text.trim().split_once('=').unwrap().1.to_ascii_uppercase();
    format!("sha256:{hex}")
}

/// The value of the `tls_fingerprint = "..."` line serverinfo printed.
fn pasted_pin(out: &Output) -> String {
    let line = out
        .stdout
        .lines()
        .find(|l| l.trim_start().starts_with("tls_fingerprint = \""))
        .unwrap_or_else(|| panic!("no tls_fingerprint line to paste\n{out}"));
    line.trim()
        .strip_prefix("tls_fingerprint = \"")
        .and_then(|l| l.strip_suffix('"'))
        .unwrap_or_else(|| panic!("not a TOML line: {line}"))
        .to_owned()
}

/// A password command that leaves a mark when it runs.
fn marking_password_command(env: &TestEnv) -> (String, std::path::PathBuf) {
    let mark = env.path("password-command-ran");
    let cmd = format!("touch '{}' && echo '{PASSWORD}'", mark.display());
    (cmd, mark)
}

#[test]
fn an_untrusted_certificate_is_shown_with_the_pin_to_paste_and_nobody_logs_in() {
    let Some((dc, msgs)) = dovecot_with_mail(Options::default(), 3300, 3) else {
        return;
    };
    let expected = fingerprint_of(&dc.dir().join("server.pem"));
    for tls in [Tls::Implicit, Tls::Starttls] {
        let env = TestEnv::new();
        let maildir = env.path("Maildir");
        let (cmd, mark) = marking_password_command(&env);
        // No tls_ca_file: the system roots do not know the test CA.
        let acct = dc
            .account("work", USER, PASSWORD, tls, &maildir)
            .remove("tls_ca_file")
            .remove("password")
            .str("password_command", &cmd);
        let cfg = env.write_config(&config_of(&[&acct]));
        let cfg = cfg.to_str().unwrap();

        let out = env.run(&["-c", cfg, "serverinfo", "work"]);
        out.assert_code(EX_UNAVAILABLE);
        let shown = &out.stdout;
        for want in [
            "NOT TRUSTED",
            "unknown issuer",
            "subject:     CN=localhost",
            "issuer:      CN=popfetch test CA",
            "valid from:  20",
            "valid until: 20",
            "DNS:localhost",
            "IP:127.0.0.1",
            "IP:::1",
            "did not log in",
        ] {
            assert!(shown.contains(want), "{tls:?}: shows {want:?}\n{out}");
        }
        assert_eq!(pasted_pin(&out), expected, "{tls:?}\n{out}");
        assert!(
            out.stderr.contains("work") && out.stderr.contains("not trusted"),
            "the error line names the account and the reason\n{out}"
        );
        assert!(!mark.exists(), "no password command ran\n{out}");
        assert!(!maildir.exists(), "nothing was delivered");

        // The printed line, pasted into the account, is accepted.
        let pinned = acct.raw("tls_fingerprint", format!("\"{}\"", pasted_pin(&out)));
        let cfg = env.write_config(&config_of(&[&pinned]));
        let cfg = cfg.to_str().unwrap();
        let out = env.run(&["-c", cfg, "serverinfo", "work"]);
        out.assert_success();
        assert!(out.stdout.contains("pinned by tls_fingerprint"), "{out}");
        env.run(&["-c", cfg, "check", "work"]).assert_success();
    }
    // Only the runs with the pin logged in: check twice.
    let logins = dc.log().matches("Login: user=<alice>").count();
    assert_eq!(logins, 2, "{}", dc.log());
    assert_eq!(dc.remaining(USER), msgs.len());
}

#[test]
fn serverinfo_alone_never_logs_in() {
    let Some((dc, _)) = dovecot_with_mail(Options::default(), 3301, 1) else {
        return;
    };
    let env = TestEnv::new();
    let maildir = env.path("Maildir");
    let (cmd, mark) = marking_password_command(&env);
    let untrusted = dc
        .account("untrusted", USER, PASSWORD, Tls::Implicit, &maildir)
        .remove("tls_ca_file")
        .remove("password")
        .str("password_command", &cmd);
    let trusted = dc
        .account("trusted", USER, PASSWORD, Tls::Starttls, &maildir)
        .remove("password")
        .str("password_command", &cmd);
    let cfg = env.write_config(&config_of(&[&untrusted, &trusted]));
    let cfg = cfg.to_str().unwrap();
    env.run(&["-c", cfg, "serverinfo", "untrusted"])
        .assert_code(EX_UNAVAILABLE);
    let out = env.run(&["-c", cfg, "serverinfo", "trusted"]);
    out.assert_success();
    assert!(out.stdout.contains("certificate: trusted"), "{out}");
    assert!(out.stdout.contains("subject:     CN=localhost"), "{out}");
    assert!(!mark.exists(), "no password command ran");
    dc.assert_no_login();
}

#[test]
fn an_expired_certificate_says_so_with_its_dates() {
    let Some((dc, _)) = dovecot_with_mail(Options::default().expired(), 3302, 1) else {
        return;
    };
    let env = TestEnv::new();
    let maildir = env.path("Maildir");
    // The CA is trusted: the dates are the only fault.
    let acct = dc.account("old", USER, PASSWORD, Tls::Implicit, &maildir);
    let cfg = env.write_config(&config_of(&[&acct]));
    let cfg = cfg.to_str().unwrap();

    let out = env.run(&["-c", cfg, "serverinfo"]);
    out.assert_code(EX_UNAVAILABLE);
    for want in [
        "NOT TRUSTED: expired",
        "valid from:  2020-01-01T00:00:00Z",
        "valid until: 2021-01-01T00:00:00Z",
        "issuer:      CN=popfetch test CA",
    ] {
        assert!(out.stdout.contains(want), "shows {want:?}\n{out}");
    }
    assert!(
        !out.stdout.contains("unknown issuer"),
        "the issuer is trusted\n{out}"
    );
    assert_eq!(
        pasted_pin(&out),
        fingerprint_of(&dc.dir().join("server.pem"))
    );
    // A fetch refuses it the same way, naming why.
    let out = env.run(&["-c", cfg]);
    out.assert_code(EX_UNAVAILABLE);
    assert!(out.stderr.contains("expired"), "{out}");
    dc.assert_no_login();
}

#[test]
fn an_ad_hoc_server_needs_no_user_and_no_destination() {
    let Some((dc, _)) = dovecot_with_mail(Options::default(), 3303, 1) else {
        return;
    };
    let ca = dc.ca_pem_path().display().to_string();
    let pop3 = dc.pop3_port().to_string();
    let pop3s = dc.pop3s_port().to_string();
    let env = TestEnv::new();

    // No config file at all.
    let out = env.run(&[
        "serverinfo",
        "--host",
        "127.0.0.1",
        "--port",
        &pop3s,
        "--tls-ca-file",
        &ca,
    ]);
    out.assert_success();
    assert!(out.stdout.contains("Dovecot"), "the greeting\n{out}");
    assert!(out.stdout.contains("TLS: TLSv1."), "{out}");
    assert!(out.stdout.contains("certificate: trusted"), "{out}");
    assert!(out.stdout.contains("SASL mechanisms: "), "{out}");

    let out = env.run(&[
        "serverinfo",
        "--host",
        "127.0.0.1",
        "--port",
        &pop3,
        "--tls",
        "none",
    ]);
    out.assert_success();
    assert!(out.stdout.contains("TLS: no"), "{out}");
    assert!(out.stdout.contains("STLS"), "CAPA offers STLS\n{out}");

    // A config file whose account is elsewhere: the flags ask the host given.
    let maildir = env.path("Maildir");
    let elsewhere = dc
        .account("elsewhere", USER, PASSWORD, Tls::Starttls, &maildir)
        .raw("port", "1");
    env.write_config(&config_of(&[&elsewhere]));
    let out = env.run(&[
        "serverinfo",
        "--host",
        "127.0.0.1",
        "--port",
        &pop3,
        "--tls",
        "starttls",
        "--tls-ca-file",
        &ca,
    ]);
    out.assert_success();
    assert!(out.stdout.contains(&format!("127.0.0.1:{pop3}")), "{out}");
    assert!(out.stdout.contains("certificate: trusted"), "{out}");
    dc.assert_no_login();
}

#[test]
fn serverinfo_json_is_one_object_per_account_and_holds_no_secret() {
    let Some((dc, _)) = dovecot_with_mail(Options::default(), 3304, 1) else {
        return;
    };
    let env = TestEnv::new();
    let maildir = env.path("Maildir");
    let good = dc.account("good", USER, PASSWORD, Tls::Implicit, &maildir);
    let untrusted = dc
        .account("untrusted", USER, PASSWORD, Tls::Starttls, &maildir)
        .remove("tls_ca_file");
    let cfg = env.write_config(&config_of(&[&good, &untrusted]));
    let cfg = cfg.to_str().unwrap();

    let out = env.run(&["-c", cfg, "--json", "serverinfo", "good"]);
    out.assert_success();
    let v: serde_json::Value = serde_json::from_str(out.stdout.trim()).expect("one JSON object");
    assert_eq!(v["account"], "good");
    assert_eq!(v["tls"], "implicit");
    assert_eq!(v["port"], dc.pop3s_port());
    assert_eq!(v["ok"], true);
    assert_eq!(v["exit_code"], 0);
    assert!(v["greeting"].as_str().unwrap().contains("Dovecot"), "{v}");
    assert!(
        v["tls_version"].as_str().unwrap().starts_with("TLSv1."),
        "{v}"
    );
    assert_eq!(v["certificate"]["trusted"], true);
    assert_eq!(v["certificate"]["subject"], "CN=localhost");
    assert_eq!(
        v["certificate"]["fingerprint"],
        fingerprint_of(&dc.dir().join("server.pem"))
    );
    assert!(
        v["capabilities"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c == "UIDL")
    );
    assert!(v["sasl"].as_array().unwrap().iter().any(|c| c == "PLAIN"));

    let out = env.run(&["-c", cfg, "--json", "serverinfo", "untrusted"]);
    out.assert_code(EX_UNAVAILABLE);
    let v: serde_json::Value = serde_json::from_str(out.stdout.trim()).expect("one JSON object");
    assert_eq!(v["ok"], false);
    assert_eq!(v["exit_code"], EX_UNAVAILABLE);
    assert!(v["error"].as_str().unwrap().contains("not trusted"), "{v}");
    assert_eq!(v["certificate"]["trusted"], false);
    assert!(
        v["certificate"]["problems"][0]
            .as_str()
            .unwrap()
            .starts_with("unknown issuer"),
        "{v}"
    );
    assert!(
        v["certificate"]["names"]
            .as_array()
            .unwrap()
            .iter()
            .any(|n| n == "DNS:localhost"),
        "{v}"
    );
    assert!(!out.all_output().contains(PASSWORD));
    dc.assert_no_login();
}

#[test]
fn implicit_tls_against_the_plain_port_says_to_use_starttls() {
    let Some((dc, msgs)) = dovecot_with_mail(Options::default(), 3305, 2) else {
        return;
    };
    let env = TestEnv::new();
    let maildir = env.path("Maildir");
    let acct = dc
        .account("mixed", USER, PASSWORD, Tls::Implicit, &maildir)
        .raw("port", dc.pop3_port().to_string());
    let cfg = env.write_config(&config_of(&[&acct]));
    let cfg = cfg.to_str().unwrap();
    for args in [vec!["-c", cfg], vec!["-c", cfg, "serverinfo"]] {
        let out = env.run(&args);
        out.assert_code(EX_CONFIG);
        assert!(
            out.stderr
                .contains("this port speaks plain POP3: use tls = \"starttls\""),
            "{out}"
        );
        assert!(out.stderr.contains("mixed"), "names the account\n{out}");
        assert!(!out.stderr.contains("SSL routines"), "{out}");
    }
    dc.assert_no_login();
    assert_eq!(dc.remaining(USER), msgs.len());
}

#[test]
fn starttls_or_plaintext_against_the_tls_port_says_to_use_implicit() {
    let Some((dc, msgs)) = dovecot_with_mail(Options::default(), 3306, 2) else {
        return;
    };
    let env = TestEnv::new();
    let maildir = env.path("Maildir");
    for tls in [Tls::Starttls, Tls::None] {
        let acct = dc
            .account("mixed", USER, PASSWORD, tls, &maildir)
            .raw("port", dc.pop3s_port().to_string())
            .raw("allow_plaintext", "true");
        let cfg = env.write_config(&config_of(&[&acct]));
        let cfg = cfg.to_str().unwrap();
        for args in [vec!["-c", cfg], vec!["-c", cfg, "serverinfo"]] {
            let out = env.run(&args);
            out.assert_code(EX_CONFIG);
            assert!(
                out.stderr
                    .contains("this port expects TLS from the first byte: use tls = \"implicit\""),
                "{tls:?}\n{out}"
            );
            assert!(
                !out.stderr.contains("os error"),
                "{tls:?}: no library error\n{out}"
            );
        }
    }
    dc.assert_no_login();
    assert_eq!(dc.remaining(USER), msgs.len());
}
