//! OAuth 2 for real: XOAUTH2 and OAUTHBEARER against Dovecot's `oauth2`
//! passdb, which validates the access token itself (a JWT signed with
//! HS256, `introspection_mode = local`): tokens of 200 bytes and of 6,000
//! bytes, sent in the two-step exchange (AUTH, `+`, token) that Microsoft
//! requires. A token the server refuses is answered with its error report
//! (`+ <base64 JSON>`), to which popfetch sends the empty response, reads
//! the final -ERR and shows the report, never the token. The password
//! command runs again for every login of a run.
//!
//! 6,000 bytes is about the largest token Dovecot 2.3 can take: its login
//! process refuses a SASL response line of 8,192 base64 characters or more
//! ("Authentication response too large"), which is 6,141 decoded bytes,
//! the token plus the mechanism's framing (XOAUTH2 `user=alice` adds 25
//! bytes, OAUTHBEARER about 50); a longer one makes it hang up, which
//! popfetch explains. Tokens of 8 KB log in against the strict scripted
//! server of `long_secrets.rs`.

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD as B64, URL_SAFE_NO_PAD as B64URL};
use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::common::corpus;
use crate::common::dovecot::{Dovecot, Options, Tls};
use crate::common::env::{AccountToml, OneAccount, assert_same_messages};
use crate::common::script::{Maildrop, Reply, ScriptServer};
use crate::common::{PASSWORD, USER, toml_str, wait_until};
use crate::hostile::{scripted, verb};

const EX_NOPERM: i32 = 77;

/// The key the test Dovecot validates tokens with.
const KEY: &[u8] = b"popfetch test HS256 key, 32 bytes";

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

/// A JWT for `sub`, signed with `key`, valid until `exp`, padded with a
/// claim to at least `len` bytes (at most 2 more).
fn jwt(key: &[u8], sub: &str, exp: i64, len: usize) -> String {
    let header = B64URL.encode(r#"{"alg":"HS256","typ":"JWT"}"#);
    let iat = now() - 60;
    let mut pad = String::new();
    loop {
        let claims =
            format!(r#"{{"sub":"{sub}","iat":{iat},"nbf":{iat},"exp":{exp},"pad":"{pad}"}}"#);
        let signed = format!("{header}.{}", B64URL.encode(claims));
        let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("any key length");
        mac.update(signed.as_bytes());
        let token = format!("{signed}.{}", B64URL.encode(mac.finalize().into_bytes()));
        if token.len() >= len {
            assert!(token.len() <= len + 2, "{len}: {}", token.len());
            return token;
        }
        pad.push('x');
    }
}

/// A token Dovecot accepts for `USER`.
fn good_token(len: usize) -> String {
    jwt(KEY, USER, now() + 3600, len)
}

/// A Dovecot that takes tokens signed with [`KEY`].
fn oauth_dovecot() -> Option<Dovecot> {
    let dc = Dovecot::start(Options::default().oauth2(KEY))?;
    // The passwd-file still supplies the user's home and Maildir.
    dc.add_user(USER, PASSWORD);
    Some(dc)
}

/// An account on `dc` that logs in with `auth`, the token printed by
/// `cat TOKEN_FILE` as the password command.
fn token_account(dc: &Dovecot, maildir: &Path, auth: &str, token_file: &Path) -> AccountToml {
    dc.account("oauth", USER, PASSWORD, Tls::Implicit, maildir)
        .remove("password")
        .raw(
            "password_command",
            format!("[\"cat\", {}]", toml_str(&token_file.display().to_string())),
        )
        .str("auth", auth)
}

/// Every Dovecot login line's method, in order.
fn logged_methods(dc: &Dovecot) -> Vec<String> {
    dc.log()
        .lines()
        .filter(|l| l.contains(&format!("Login: user=<{USER}>")))
        .filter_map(|l| l.split(", ").find_map(|f| f.strip_prefix("method=")))
        .map(str::to_owned)
        .collect()
}

#[test]
fn dovecot_takes_tokens_of_200_and_6000_bytes_with_xoauth2_and_oauthbearer() {
    let Some(dc) = oauth_dovecot() else { return };
    let mut logins = 0;
    for (i, (auth, len)) in [
        ("xoauth2", 200),
        ("xoauth2", 6000),
        ("oauthbearer", 200),
        ("oauthbearer", 6000),
    ]
    .into_iter()
    .enumerate()
    {
        let msgs = corpus::corpus(2600 + i as u64, 2);
        dc.load_mailbox(USER, &msgs);
        let token = good_token(len);
        let acct = OneAccount::new(|maildir| {
            token_account(&dc, maildir, auth, &maildir.with_file_name("token"))
        });
        std::fs::write(acct.env.path("token"), format!("{token}\n")).unwrap();
        let out = acct.run(&["-vv"]);
        out.assert_success();
        assert_same_messages(&acct.delivered(), &msgs);
        assert_eq!(dc.remaining(USER), 0);
        // Two-step: nothing after the mechanism's name on the AUTH line.
        let mech = auth.to_ascii_uppercase();
        assert!(
            out.stderr
                .lines()
                .any(|l| l.ends_with(&format!("C: AUTH {mech}"))),
            "{auth} {len}: the token was not sent after '+'\n{out}"
        );
        assert!(
            !out.all_output().contains(&token[token.len() - 30..]),
            "{out}"
        );
        // Dovecot logged the logins with this mechanism (its log is
        // written a moment later).
        let logged = wait_until(Duration::from_secs(5), || {
            let methods = logged_methods(&dc);
            methods.len() > logins && methods.last() == Some(&mech)
        });
        assert!(
            logged,
            "{auth} {len}: {:?}\n{}",
            logged_methods(&dc),
            dc.log()
        );
        logins = logged_methods(&dc).len();
    }
}

/// Logs in with `auth` and each of `tokens`, which the server refuses
/// with `report`. Dovecot's penalty for failed logins from one address
/// grows with each (2 s, 4 s, 8 s...), so each test brings few.
fn refused(auth: &str, report: &str, tokens: &[String]) {
    let Some(dc) = oauth_dovecot() else { return };
    dc.load_mailbox(USER, &corpus::corpus(2610, 2));
    for token in tokens {
        let acct = OneAccount::new(|maildir| {
            token_account(&dc, maildir, auth, &maildir.with_file_name("token"))
        });
        std::fs::write(acct.env.path("token"), token).unwrap();
        let out = acct.run(&["-vv"]);
        out.assert_code(EX_NOPERM);
        assert!(
            out.stderr.contains("popfetch: oauth: ")
                && out.stderr.contains(report)
                && out.stderr.contains("fresh access token"),
            "{auth}: the account, the server's report and the fix\n{out}"
        );
        // The report came as a challenge, which was answered (with the
        // empty response) so that the server could say -ERR.
        let trace: Vec<&str> = out.stderr.lines().collect();
        let report_at = trace
            .iter()
            .position(|l| l.contains("S: + eyJ"))
            .unwrap_or_else(|| panic!("no error challenge\n{out}"));
        assert!(
            trace[report_at + 1].contains(" C: ") && trace[report_at + 2].contains(" S: -ERR"),
            "{out}"
        );
        for piece in token.as_bytes().chunks(40) {
            let piece = std::str::from_utf8(piece).unwrap();
            assert!(!out.all_output().contains(piece), "{piece} leaked\n{out}");
        }
    }
    assert_eq!(dc.remaining(USER), 2);
}

fn forged() -> String {
    jwt(b"not the server's key, 32 bytes..", USER, now() + 3600, 600)
}

#[test]
fn xoauth2_a_refused_token_shows_the_servers_report_and_never_the_token() {
    let someone_else = jwt(KEY, "mallory", now() + 3600, 600);
    refused(
        "xoauth2",
        r#"the server's report: {"status":"401","schemes":"bearer","scope":"mail"}"#,
        &[forged(), someone_else],
    );
}

#[test]
fn oauthbearer_a_refused_token_shows_the_servers_report_and_never_the_token() {
    let expired = jwt(KEY, USER, now() - 600, 600);
    refused(
        "oauthbearer",
        r#"the server's report: {"status":"invalid_token"}"#,
        &[expired, forged()],
    );
}

/// A server offering 5 messages per session, those no earlier session
/// downloaded (as Gmail does), that takes XOAUTH2 only with
/// `token-N` on its N-th connection, as if each token had expired by the
/// next session.
fn paging_server_with_expiring_tokens(msgs: Vec<Vec<u8>>) -> (Arc<Maildrop>, ScriptServer) {
    let drop = Maildrop::with_gmail_pages(USER, PASSWORD, msgs, 5);
    let inner = Arc::clone(&drop);
    // Connections whose next line is the token.
    let awaiting: Mutex<Vec<usize>> = Mutex::new(Vec::new());
    let srv = ScriptServer::maildrop_except(Arc::clone(&drop), move |c, l| {
        let check = |payload: &str| {
            let want = format!("user={USER}\x01auth=Bearer token-{}\x01\x01", c + 1);
            match B64.decode(payload) {
                Ok(got) if got == want.as_bytes() => {
                    inner.reply(c, &format!("USER {USER}"));
                    inner.reply(c, &format!("PASS {PASSWORD}"));
                    Reply::ok("logged in")
                }
                _ => Reply::err("[AUTH] that token has expired"),
            }
        };
        let mut awaiting = awaiting.lock().unwrap();
        if let Some(at) = awaiting.iter().position(|&w| w == c) {
            awaiting.remove(at);
            return Some(check(l));
        }
        match (verb(l).as_str(), l.split(' ').nth(2)) {
            ("CAPA", _) => Some(Reply::multi("+OK", &["UIDL", "SASL XOAUTH2"])),
            ("AUTH", Some(initial)) => Some(check(initial)),
            ("AUTH", None) => {
                awaiting.push(c);
                Some(Reply::Raw(b"+ \r\n".to_vec()))
            }
            _ => None,
        }
    });
    (drop, srv)
}

#[test]
fn the_password_command_runs_again_for_every_login_of_a_run() {
    let msgs = corpus::corpus(2620, 12);
    let (drop, srv) = paging_server_with_expiring_tokens(msgs.clone());
    let acct = OneAccount::new(|maildir| {
        let counter = maildir.with_file_name("logins").display().to_string();
        let count_and_print = "n=$(( $(cat \"$0\" 2>/dev/null || echo 0) + 1 )); echo $n > \"$0\"; \
                               echo token-$n";
        scripted("paged", srv.port(), maildir, true)
            .remove("password")
            .str("auth", "xoauth2")
            .raw(
                "password_command",
                format!(
                    "[\"sh\", \"-c\", {}, {}]",
                    toml_str(count_and_print),
                    toml_str(&counter)
                ),
            )
    });
    // The first run cannot know that the server pages: one session. The
    // second sees only mail it never had, the sign of a paging server.
    acct.run(&[]).assert_success();
    assert_same_messages(&acct.delivered(), &msgs[..5]);
    let out = acct.run(&[]);
    out.assert_success();
    assert_same_messages(&acct.delivered(), &msgs);
    assert_eq!(drop.remaining(), 12, "kept");
    // Three pages, then a session that finds nothing new.
    let runs: usize = std::fs::read_to_string(acct.env.path("logins"))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert_eq!(runs, 4, "{out}");
    assert_eq!(srv.connections(), runs);
}

#[test]
fn a_token_longer_than_dovecot_takes_is_explained() {
    let Some(dc) = oauth_dovecot() else { return };
    let token = good_token(7000);
    let acct = OneAccount::new(|maildir| {
        token_account(&dc, maildir, "xoauth2", &maildir.with_file_name("token"))
    });
    std::fs::write(acct.env.path("token"), &token).unwrap();
    let out = acct.run(&[]);
    out.assert_code(75);
    assert!(
        out.stderr
            .contains("popfetch: oauth: 127.0.0.1 closed the connection after popfetch sent")
            && out.stderr.contains("-character XOAUTH2 response")
            && out.stderr.contains("8,192"),
        "{out}"
    );
    assert!(
        dc.wait_log("Authentication response too large", Duration::from_secs(5)),
        "{}",
        dc.log()
    );
}
