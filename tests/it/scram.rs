//! SCRAM-SHA-256 and SCRAM-SHA-1 (without channel binding) against
//! Dovecot with passwords beyond ASCII. RFC 5802 says the client should
//! prepare the password with SASLprep (RFC 4013: NFKC, non-ASCII spaces
//! to U+0020, some characters removed); Dovecot 2.3 does not: it derives
//! the SCRAM keys from the stored password's bytes as they are. popfetch
//! does the same, so a password logs in exactly as it is written, in
//! whatever Unicode form, and the SASLprep form of a password that is not
//! already in it is refused. These tests pin that behaviour down.

use std::time::Duration;

use crate::auth::fetch_as;
use crate::common::dovecot::{Dovecot, Options, Tls};
use crate::common::env::OneAccount;
use crate::common::{USER, corpus};

const EX_NOPERM: i32 = 77;

/// Upper and lower case, umlauts: NFKC already, so SASLprep leaves it.
const UMLAUTS: &str = "Pässwörd-ÄÖÜ";

/// Not NFKC: a fullwidth P, an a followed by a combining diaeresis, a
/// no-break space and the ligature fi.
const NOT_NFKC: &str = "\u{FF30}a\u{0308}ss\u{00A0}\u{FB01}x-Ünïcödé";

/// What SASLprep makes of [`NOT_NFKC`]: P, the precomposed ä, a plain
/// space, f and i.
const NOT_NFKC_PREPARED: &str = "Päss fix-Ünïcödé";

fn scram(mechanism: &str, password: &str, seed: u64) {
    let opts = Options::default().mechanisms(mechanism);
    if let Some(method) = fetch_as(opts, Tls::Implicit, mechanism, password, seed) {
        assert_eq!(method, mechanism.to_ascii_uppercase());
    }
}

#[test]
fn scram_sha_256_with_umlauts_in_both_cases() {
    scram("scram-sha-256", UMLAUTS, 2700);
}

#[test]
fn scram_sha_1_with_umlauts_in_both_cases() {
    scram("scram-sha-1", UMLAUTS, 2701);
}

#[test]
fn scram_sha_256_with_a_password_not_in_nfkc() {
    scram("scram-sha-256", NOT_NFKC, 2702);
}

#[test]
fn scram_sha_1_with_a_password_not_in_nfkc() {
    scram("scram-sha-1", NOT_NFKC, 2703);
}

#[test]
fn plain_and_user_send_the_same_bytes() {
    for (auth, method, seed) in [("plain", "PLAIN", 2705), ("user", "PLAIN", 2706)] {
        let opts = Options::default();
        if let Some(logged) = fetch_as(opts, Tls::Implicit, auth, NOT_NFKC, seed) {
            // Dovecot logs USER/PASS as PLAIN.
            assert_eq!(logged, method);
        }
    }
}

/// Dovecot stores `NOT_NFKC`; popfetch is given its SASLprep form. Were
/// either side to apply SASLprep, this would log in.
#[test]
fn dovecot_does_not_apply_saslprep_so_neither_does_popfetch() {
    assert_ne!(NOT_NFKC, NOT_NFKC_PREPARED);
    let Some(dc) = Dovecot::start(Options::default().mechanisms("scram-sha-256")) else {
        return;
    };
    dc.add_user(USER, NOT_NFKC);
    dc.load_mailbox(USER, &corpus::corpus(2704, 2));
    let acct = OneAccount::new(|maildir| {
        dc.account("prepared", USER, NOT_NFKC_PREPARED, Tls::Implicit, maildir)
            .str("auth", "scram-sha-256")
    });
    let out = acct.run(&[]);
    out.assert_code(EX_NOPERM);
    assert!(out.stderr.contains("refused the login"), "{out}");
    assert!(
        dc.wait_log("method=SCRAM-SHA-256", Duration::from_secs(5)),
        "{}",
        dc.log()
    );
    assert_eq!(dc.remaining(USER), 2);
}
