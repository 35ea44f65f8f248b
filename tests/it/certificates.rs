//! What a user needs to decide about a server's certificate and its TLS
//! mode: pins pasted the way other tools print them work.

use std::process::Command;

use crate::common::dovecot::{Options, Tls};
use crate::common::env::{OneAccount, assert_same_messages};
use crate::common::{PASSWORD, USER, dovecot_with_mail, run_checked};

/// `openssl x509 -noout -fingerprint -sha256` of the server certificate:
/// `sha256 Fingerprint=AA:BB:...` (openssl 3; older ones write `SHA256`).
fn openssl_fingerprint(pem: &std::path::Path) -> String {
    let out = run_checked(
        Command::new("openssl")
            .args(["x509", "-noout", "-fingerprint", "-sha256", "-in"])
            .arg(pem),
        "openssl x509 -fingerprint",
    );
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

#[test]
fn a_pin_is_taken_as_openssl_and_mpop_print_it() {
    let Some((dc, msgs)) = dovecot_with_mail(Options::default(), 3100, 2) else {
        return;
    };
    let printed = openssl_fingerprint(&dc.dir().join("server.pem"));
    assert!(
        printed
            .to_ascii_lowercase()
            .starts_with("sha256 fingerprint="),
        "{printed}"
    );
    let colons = printed.split_once('=').unwrap().1.to_owned();
    let forms = [
        printed.clone(),
        printed.to_uppercase(),
        format!("SHA256: {colons}"),
        colons.replace(':', ""),
        colons.to_lowercase(),
    ];
    for form in &forms {
        // In the config file...
        let acct = OneAccount::new(|maildir| {
            dc.account("pinned", USER, PASSWORD, Tls::Implicit, maildir)
                .remove("tls_ca_file")
                .raw("keep", "true")
                .str("tls_fingerprint", form)
        });
        acct.run(&[]).assert_success();
        assert_same_messages(&acct.delivered(), &msgs);
        // ...and as the flag.
        let acct = OneAccount::new(|maildir| {
            dc.account("pinned", USER, PASSWORD, Tls::Implicit, maildir)
                .remove("tls_ca_file")
                .raw("keep", "true")
        });
        acct.run(&["--tls-fingerprint", form]).assert_success();
        assert_same_messages(&acct.delivered(), &msgs);
    }
}
