//! Passwords and tokens of any length log in with every mechanism that
//! carries them. RFC 5034 §4 caps the AUTH line at 255 octets: a longer
//! initial response goes after the server's empty `+` challenge, on a
//! continuation line, which has no cap. App passwords of 200 characters
//! and OAuth tokens of several KB are common.

use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;

use crate::auth::fetch_as;
use crate::common::USER;
use crate::common::corpus;
use crate::common::dovecot::{Options, Tls};
use crate::common::env::{OneAccount, assert_same_messages};
use crate::common::script::{Maildrop, Reply, ScriptServer};
use crate::hostile::{lines_of, scripted, verb};

/// A secret of `len` printable characters (no ':' for Dovecot's
/// passwd-file), distinctive at both ends.
fn long_secret(len: usize) -> String {
    let body = "A1b2-C3d4_e5F6.g7H8~i9J0+kLmN/oPqR";
    let mut s = String::from("<start>");
    while s.len() < len - 5 {
        s.push_str(body);
    }
    s.truncate(len - 5);
    s.push_str("<end>");
    assert_eq!(s.len(), len);
    s
}

/// What the server must receive, decoded, for `mech` (for LOGIN: the
/// answer to the password prompt).
fn expected_payload(mech: &str, secret: &str, port: u16) -> Vec<u8> {
    match mech {
        "PLAIN" => format!("\0{USER}\0{secret}"),
        "LOGIN" => secret.to_owned(),
        "XOAUTH2" => format!("user={USER}\x01auth=Bearer {secret}\x01\x01"),
        "OAUTHBEARER" => {
            format!("n,a={USER},\x01host=127.0.0.1\x01port={port}\x01auth=Bearer {secret}\x01\x01")
        }
        other => panic!("no payload for {other}"),
    }
    .into_bytes()
}

/// A server with the mailbox behind `mech`, strict about RFC 5034: an AUTH
/// line over 255 octets (CRLF included) is refused, and the payload must
/// decode to exactly what the mechanism defines.
fn strict_sasl_server(mech: &'static str, secret: &str, msgs: Vec<Vec<u8>>) -> ScriptServer {
    let drop = Maildrop::new(USER, secret, msgs);
    let secret = secret.to_owned();
    let port = Arc::new(std::sync::OnceLock::<u16>::new());
    let port_in = Arc::clone(&port);
    let srv = ScriptServer::start(Reply::ok("ready"), move |c, l| {
        let port = *port_in.get().expect("port set");
        let accept = |payload: &str| -> Reply {
            match B64.decode(payload) {
                Ok(got) if got == expected_payload(mech, &secret, port) => {
                    // Log the mailbox in behind the scenes.
                    drop.reply(c, &format!("USER {USER}"));
                    drop.reply(c, &format!("PASS {secret}"));
                    Reply::ok("logged in")
                }
                _ => Reply::err("[AUTH] the payload is not right"),
            }
        };
        match verb(l).as_str() {
            "CAPA" => Reply::multi("+OK", &["UIDL", &format!("SASL {mech}")]),
            "AUTH" if l.len() + 2 > 255 => Reply::err("line too long (RFC 5034: 255 octets)"),
            "AUTH" if mech == "LOGIN" => Reply::Raw(b"+ VXNlcm5hbWU6\r\n".to_vec()),
            "AUTH" => match l.split(' ').nth(2) {
                None => Reply::Raw(b"+ \r\n".to_vec()),
                Some(ir) => accept(ir),
            },
            "UIDL" | "LIST" | "RETR" | "DELE" | "QUIT" | "STAT" | "NOOP" => drop.reply(c, l),
            // LOGIN's user name, then its password.
            _ if mech == "LOGIN" && l == B64.encode(USER) => {
                Reply::Raw(b"+ UGFzc3dvcmQ6\r\n".to_vec())
            }
            // A continuation line, of any length.
            _ => accept(l),
        }
    });
    port.set(srv.port()).expect("set once");
    srv
}

#[test]
fn long_secrets_log_in_with_plain_login_xoauth2_and_oauthbearer_on_a_strict_server() {
    for mech in ["PLAIN", "LOGIN", "XOAUTH2", "OAUTHBEARER"] {
        for len in [20, 200, 8 << 10] {
            let secret = long_secret(len);
            let msgs = corpus::corpus(1300 + len as u64, 2);
            let srv = strict_sasl_server(mech, &secret, msgs.clone());
            let port = srv.port();
            let acct = OneAccount::new(|maildir| {
                scripted("long", port, maildir, true)
                    .str("auth", &mech.to_ascii_lowercase())
                    .str("password", &secret)
            });
            let out = acct.run(&[]);
            out.assert_success();
            assert_same_messages(&acct.delivered(), &msgs);
            let auth: Vec<String> = lines_of(&srv, 0)
                .into_iter()
                .filter(|l| verb(l) == "AUTH")
                .collect();
            assert_eq!(auth.len(), 1, "{mech} {len}: {auth:?}");
            let inline = auth[0].split(' ').count() == 3;
            assert_eq!(
                inline,
                len == 20 && mech != "LOGIN",
                "{mech} with a {len}-byte secret: the initial response goes on the AUTH line only when it fits"
            );
            assert!(!out.all_output().contains(&secret[..20]), "{out}");
        }
    }
}

/// A Dovecot user with a password of `len` bytes, logged in with `auth`.
fn dovecot_long_password(auth: &str, len: usize) {
    let password = long_secret(len);
    let seed = 1310 + len as u64;
    if let Some(method) = fetch_as(Options::default(), Tls::Implicit, auth, &password, seed) {
        assert_eq!(method, auth.to_ascii_uppercase());
    }
}

/// The longest password Dovecot 2.3 takes over SASL: its login process
/// refuses a response line over 8192 bytes ("Authentication response too
/// large"), and base64 makes 6000 bytes (plus PLAIN's user name) 8012.
/// Longer secrets are proven against the strict scripted server above.
const DOVECOT_LONGEST: usize = 6000;

#[test]
fn dovecot_plain_with_a_200_byte_password() {
    dovecot_long_password("plain", 200);
}

#[test]
fn dovecot_plain_with_a_6000_byte_password() {
    dovecot_long_password("plain", DOVECOT_LONGEST);
}

#[test]
fn dovecot_login_with_a_200_byte_password() {
    dovecot_long_password("login", 200);
}

#[test]
fn dovecot_login_with_a_6000_byte_password() {
    dovecot_long_password("login", DOVECOT_LONGEST);
}
