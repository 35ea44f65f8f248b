//! TLS client certificates against a Dovecot that asks for one
//! (`ssl_verify_client_cert`) and refuses the login of a client without
//! one (`auth_ssl_require_client_cert`): the certificate and key are
//! shown over implicit TLS and after STLS; a key in the older PKCS#1/SEC1
//! form is converted; a key that cannot be used (missing, encrypted, not
//! the certificate's) is a configuration error (78) before anything is
//! sent; a server that wants a certificate and gets none refuses the
//! login (77).

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::common::corpus;
use crate::common::dovecot::{Dovecot, Options, Tls, openssl};
use crate::common::env::{AccountToml, OneAccount, assert_same_messages, for_popfetch};
use crate::common::{PASSWORD, USER};

const EX_NOPERM: i32 = 77;
const EX_CONFIG: i32 = 78;

fn path_str(p: &Path) -> String {
    p.display().to_string()
}

/// An account on `dc` that shows the certificate `cert` (and the key
/// `key`, when given). Both are made private in the server's directory,
/// and so are handed to the user popfetch runs as.
fn with_certificate(
    dc: &Dovecot,
    tls: Tls,
    maildir: &Path,
    cert: &str,
    key: Option<&str>,
) -> AccountToml {
    // A file a test names but never made is passed over.
    for file in [Some(cert), key].into_iter().flatten() {
        for_popfetch(Path::new(file));
    }
    let acct = dc
        .account("certified", USER, PASSWORD, tls, maildir)
        .str("tls_client_cert", cert);
    match key {
        Some(k) => acct.str("tls_client_key", k),
        None => acct,
    }
}

fn server(seed: u64, n: usize) -> Option<(Dovecot, Vec<Vec<u8>>)> {
    let dc = Dovecot::start(Options::default().client_cert())?;
    dc.add_user(USER, PASSWORD);
    let msgs = corpus::corpus(seed, n);
    dc.load_mailbox(USER, &msgs);
    Some((dc, msgs))
}

#[test]
fn a_server_that_wants_a_client_certificate_gets_it() {
    let Some((dc, msgs)) = server(2500, 6) else {
        return;
    };
    let (cert, key) = dc.client_certificate("client");
    // The key in SEC1 form ("EC PRIVATE KEY"), and a file holding both.
    let sec1 = dc.dir().join("client.sec1.key");
    openssl(
        dc.dir(),
        &["ec", "-in", &path_str(&key), "-out", &path_str(&sec1)],
    );
    let both = dc.dir().join("client-and-key.pem");
    let joined = [std::fs::read(&cert).unwrap(), std::fs::read(&key).unwrap()].concat();
    std::fs::write(&both, joined).unwrap();

    let (c, k, s, b) = (
        path_str(&cert),
        path_str(&key),
        path_str(&sec1),
        path_str(&both),
    );
    let cases: [(Tls, &str, Option<&str>); 4] = [
        (Tls::Implicit, &c, Some(&k)),
        (Tls::Starttls, &c, Some(&k)),
        (Tls::Implicit, &c, Some(&s)),
        (Tls::Implicit, &b, None),
    ];
    for (tls, cert, key) in cases {
        // Kept on the server, so that every account fetches everything.
        let acct = OneAccount::new(|maildir| {
            with_certificate(&dc, tls, maildir, cert, key).raw("keep", "true")
        });
        acct.run(&[]).assert_success();
        assert_same_messages(&acct.delivered(), &msgs);
    }
    assert_eq!(dc.remaining(USER), msgs.len());
}

#[test]
fn without_a_certificate_the_login_is_refused() {
    let Some((dc, _)) = server(2510, 2) else {
        return;
    };
    let acct =
        OneAccount::new(|maildir| dc.account("certified", USER, PASSWORD, Tls::Implicit, maildir));
    let out = acct.run(&[]);
    out.assert_code(EX_NOPERM);
    assert!(
        out.stderr.contains("certified") && out.stderr.contains("set tls_client_cert"),
        "names the account and the fix\n{out}"
    );
    assert!(
        dc.wait_log(
            "didn't present valid SSL certificate",
            Duration::from_secs(10)
        ),
        "{}",
        dc.log()
    );
    assert_eq!(dc.remaining(USER), 2);
}

#[test]
fn keys_that_cannot_be_used_are_configuration_errors() {
    let Some((dc, _)) = server(2520, 2) else {
        return;
    };
    let (cert, key) = dc.client_certificate("client");
    let (_, other_key) = dc.client_certificate("other");
    let dir = dc.dir();
    let pkcs8_encrypted = dir.join("encrypted.key");
    openssl(
        dir,
        &[
            "pkcs8",
            "-topk8",
            "-v2",
            "aes-256-cbc",
            "-passout",
            "pass:kp4ss",
            "-in",
            &path_str(&key),
            "-out",
            &path_str(&pkcs8_encrypted),
        ],
    );
    let legacy_encrypted = dir.join("legacy-encrypted.key");
    openssl(
        dir,
        &[
            "ec",
            "-aes256",
            "-passout",
            "pass:kp4ss",
            "-in",
            &path_str(&key),
            "-out",
            &path_str(&legacy_encrypted),
        ],
    );
    let missing: PathBuf = dir.join("no-such.pem");
    let c = path_str(&cert);
    let cases: [(String, Option<String>, &str); 5] = [
        (path_str(&missing), None, "tls_client_cert"),
        (c.clone(), Some(path_str(&missing)), "tls_client_key"),
        (
            c.clone(),
            Some(path_str(&pkcs8_encrypted)),
            "openssl pkcs8 -topk8 -nocrypt",
        ),
        (c.clone(), Some(path_str(&legacy_encrypted)), "is encrypted"),
        (
            c.clone(),
            Some(path_str(&other_key)),
            "does not belong to the certificate",
        ),
    ];
    for (cert, key, says) in &cases {
        let acct = OneAccount::new(|maildir| {
            with_certificate(&dc, Tls::Implicit, maildir, cert, key.as_deref())
        });
        let out = acct.run(&[]);
        out.assert_code(EX_CONFIG);
        assert!(
            out.stderr.contains("certified") && out.stderr.contains(says),
            "{out}"
        );
        assert!(acct.delivered().is_empty());
    }
    // Nothing was ever sent: the files are read before connecting.
    assert!(!dc.log().contains("Disconnected"), "{}", dc.log());
    assert_eq!(dc.remaining(USER), 2);
}

#[test]
fn a_client_certificate_path_may_start_with_the_home_directory() {
    let Some((dc, msgs)) = server(2530, 2) else {
        return;
    };
    let (cert, key) = dc.client_certificate("client");
    let acct = OneAccount::new(|maildir| {
        with_certificate(&dc, Tls::Implicit, maildir, "~/me.pem", Some("~/me.key"))
    });
    std::fs::copy(&cert, acct.env.path("me.pem")).unwrap();
    std::fs::copy(&key, acct.env.path("me.key")).unwrap();
    acct.run(&[]).assert_success();
    assert_same_messages(&acct.delivered(), &msgs);
}
