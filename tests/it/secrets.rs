//! A server that repeats our own command back (`-ERR unknown command: PASS
//! hunter2`, our AUTH payload, the APOP digest) must not get the secret
//! printed: not in the error line, not in `--json`, not in the `-vv`
//! trace, not as base64, not even in part. And server text never puts
//! raw control bytes on the terminal.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;

use crate::common::env::{OneAccount, Output};
use crate::common::script::{Reply, ScriptServer};
use crate::common::{PASSWORD, USER};
use crate::hostile::{scripted, verb};

const EX_PROTOCOL: i32 = 76;
const EX_NOPERM: i32 = 77;

/// Everything a secret may look like on the way out: itself, base64 of it,
/// and the base64 payloads of PLAIN, XOAUTH2 and OAUTHBEARER around it.
fn secret_forms() -> Vec<String> {
    vec![
        PASSWORD.to_owned(),
        B64.encode(PASSWORD),
        B64.encode(format!("\0{USER}\0{PASSWORD}")),
        B64.encode(format!("user={USER}\x01auth=Bearer {PASSWORD}\x01\x01")),
        // The start of the password, as a quote cut off at its limit
        // would show it.
        PASSWORD[..6].to_owned(),
    ]
}

/// Runs `--json -vv` and asserts that none of `secret_forms()` nor any of
/// `also` (payloads the server received) reached stdout or stderr.
#[track_caller]
fn run_and_check(
    srv: &ScriptServer,
    auth: &str,
    want: i32,
    also: &dyn Fn(&[String]) -> Vec<String>,
) -> Output {
    let port = srv.port();
    let acct = OneAccount::new(|maildir| scripted("echo", port, maildir, true).str("auth", auth));
    let out = acct.run(&["--json", "-vv"]);
    out.assert_code(want);
    assert!(
        out.stdout.contains("\"account\":\"echo\""),
        "--json ran\n{out}"
    );
    assert!(out.stderr.contains("S: "), "-vv traced the server\n{out}");
    let mut needles = secret_forms();
    needles.extend(also(&srv.commands()));
    for n in needles.iter().filter(|n| !n.is_empty()) {
        assert!(
            !out.all_output().contains(n.as_str()),
            "auth = {auth}: {n:?} was shown\n{out}"
        );
    }
    assert!(acct.delivered().is_empty());
    out
}

/// The argument words of every AUTH/APOP/PASS line and every SASL
/// continuation line the server received: each is something we sent that
/// must never be shown.
fn sent_payloads(lines: &[String]) -> Vec<String> {
    let mut out = Vec::new();
    for l in lines {
        match verb(l).as_str() {
            "AUTH" => out.extend(l.split(' ').nth(2).map(str::to_owned)),
            "APOP" => out.extend(l.split(' ').nth(2).map(str::to_owned)),
            "PASS" => out.push(l[5..].to_owned()),
            "CAPA" | "USER" | "QUIT" => {}
            _ => out.push(l.clone()),
        }
    }
    out
}

#[test]
fn user_pass_echoed_in_err_is_not_shown() {
    let srv = ScriptServer::start(Reply::ok("ready"), |_, l| match verb(l).as_str() {
        "CAPA" => Reply::multi("+OK", &["USER"]),
        "USER" => Reply::ok("send PASS"),
        _ => Reply::err(&format!("unknown command: {l}")),
    });
    run_and_check(&srv, "user", EX_NOPERM, &sent_payloads);
    assert!(srv.saw("PASS"));
}

#[test]
fn a_non_pop3_reply_quoting_the_password_is_not_shown_even_in_part() {
    // The quote of a malformed reply is cut after 80 characters; the cut
    // falls inside the password.
    let srv = ScriptServer::start(Reply::ok("ready"), |_, l| match verb(l).as_str() {
        "CAPA" => Reply::multi("+OK", &["USER"]),
        "USER" => Reply::ok("send PASS"),
        _ => {
            let pad = "x".repeat(70);
            Reply::Raw(format!("??? {pad} {l}\r\n").into_bytes())
        }
    });
    run_and_check(&srv, "user", EX_PROTOCOL, &sent_payloads);
}

fn sasl_server(mechs: &'static str) -> ScriptServer {
    let user_b64 = B64.encode(USER);
    ScriptServer::start(Reply::ok("ready"), move |_, l| {
        if verb(l) == "CAPA" {
            return Reply::multi("+OK", &["USER", &format!("SASL {mechs}")]);
        }
        if l == "AUTH LOGIN" {
            return challenge("VXNlcm5hbWU6");
        }
        if l == user_b64 {
            return challenge("UGFzc3dvcmQ6");
        }
        // Anything else (an AUTH line with our payload, the password for
        // LOGIN): echoed back, and once more as base64 of the whole line.
        Reply::err(&format!(
            "unknown command: {l} (that is {})",
            B64.encode(l.as_bytes())
        ))
    })
}

/// A SASL challenge line.
fn challenge(b64: &str) -> Reply {
    Reply::Raw(format!("+ {b64}\r\n").into_bytes())
}

#[test]
fn sasl_plain_payload_echoed_in_err_is_not_shown() {
    let srv = sasl_server("PLAIN");
    run_and_check(&srv, "plain", EX_NOPERM, &sent_payloads);
    assert!(srv.saw("AUTH"));
}

#[test]
fn sasl_login_password_echoed_in_err_is_not_shown() {
    let srv = sasl_server("LOGIN");
    run_and_check(&srv, "login", EX_NOPERM, &sent_payloads);
    assert!(srv.commands().contains(&B64.encode(PASSWORD)));
}

#[test]
fn xoauth2_token_echoed_in_err_or_in_its_error_challenge_is_not_shown() {
    let srv = sasl_server("XOAUTH2");
    run_and_check(&srv, "xoauth2", EX_NOPERM, &sent_payloads);

    // The failure challenge (base64 JSON) quotes the token back.
    let srv = ScriptServer::start(Reply::ok("ready"), |_, l| {
        if verb(l) == "CAPA" {
            return Reply::multi("+OK", &["SASL XOAUTH2"]);
        }
        if verb(l) == "AUTH" {
            let json = format!("{{\"status\":\"401\",\"bad_token\":\"{PASSWORD}\"}}");
            return challenge(&B64.encode(json));
        }
        Reply::err(&format!("[AUTH] token {PASSWORD} refused"))
    });
    run_and_check(&srv, "xoauth2", EX_NOPERM, &sent_payloads);
}

#[test]
fn apop_digest_echoed_in_err_is_not_shown() {
    let srv = ScriptServer::start(
        Reply::ok("POP3 ready <1896.697170952@dbc.mtview.ca.us>"),
        |_, l| match verb(l).as_str() {
            "CAPA" => Reply::multi("+OK", &["USER"]),
            _ => Reply::err(&format!("unknown command: {l}")),
        },
    );
    run_and_check(&srv, "apop", EX_NOPERM, &sent_payloads);
    assert!(srv.saw("APOP"));
}

#[test]
fn control_bytes_from_the_server_never_reach_the_terminal() {
    let srv = ScriptServer::start(
        Reply::Raw(b"+OK ready \x1b[2J\x1b]0;pwned\x07 \x00 \x9b6n\r\n".to_vec()),
        |_, l| match verb(l).as_str() {
            "CAPA" => Reply::Raw(b"+OK\r\nUSER\r\nX-EVIL \x1b[31m\x00\r\n.\r\n".to_vec()),
            "USER" => Reply::ok("send PASS"),
            _ => Reply::Raw(b"-ERR [AUTH] no \x1b[1mway\x00\x08\r\n".to_vec()),
        },
    );
    let port = srv.port();
    let out =
        OneAccount::new(|maildir| scripted("ctl", port, maildir, true)).run(&["--json", "-vv"]);
    out.assert_code(EX_NOPERM);
    assert!(
        out.stderr.contains("X-EVIL"),
        "the trace shows the CAPA line\n{out}"
    );
    for text in [&out.stdout, &out.stderr] {
        let bad: Vec<char> = text
            .chars()
            .filter(|c| c.is_control() && *c != '\n')
            .collect();
        assert!(
            bad.is_empty(),
            "control characters {bad:?} reached the output\n{out}"
        );
    }
}
