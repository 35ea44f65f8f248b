//! `popfetch serverinfo`: what a server says about itself, without
//! logging in. Its greeting, the TLS version, cipher and certificate,
//! CAPA and the login methods; for a certificate that is not trusted,
//! everything a user needs to decide whether to trust it (who it names,
//! who signed it, when it is valid, the fingerprint in the form
//! `tls_fingerprint` takes, and why it is not trusted), and then nothing
//! more: no command is sent on that connection.
//!
//! With `--json`, one object per account on stdout:
//!
//! ```text
//! { "account": "work", "host": "pop.example.com", "port": 995, "tls": "implicit",
//!   "ok": true, "exit_code": 0, "error": null,
//!   "greeting": "Dovecot ready.", "tls_version": "TLSv1.3", "cipher": "TLS_AES_256_GCM_SHA384",
//!   "certificate": { "subject": "CN=pop.example.com", "issuer": "...", "not_before": "...",
//!                    "not_after": "...", "names": ["DNS:pop.example.com"],
//!                    "fingerprint": "sha256:AB:...", "trusted": true, "problems": [] },
//!   "capabilities": ["TOP", "UIDL", ...], "sasl": ["PLAIN"], "stls": false, "apop": false }
//! ```
//!
//! Every text in it the server sent (greeting, CAPA, certificate names) is
//! printable and bounded; no secret is in it, since none is used.

use std::io::Write;

use serde_json::{Value, json};

use crate::account::Account;
use crate::error::{Error, exit};
use crate::report;
use crate::session::{self, Connection};
use crate::transport::{CertInfo, TransportError};

/// Ask each account's server (the first account's when none is named);
/// returns the exit status: that of the first account that failed.
pub fn run(accounts: &[Account], names: &[String], json: bool) -> u8 {
    let mut status = exit::OK;
    let take = if names.is_empty() { 1 } else { usize::MAX };
    for a in accounts.iter().take(take) {
        let result = session::connect(a, None);
        let code = match &result {
            Ok(_) => exit::OK,
            Err(e) => e.exit_code(),
        };
        if json {
            let line = json_of(a, &result, code);
            let _ = writeln!(std::io::stdout().lock(), "{line}");
        } else {
            match &result {
                Ok(conn) => print_connection(a, conn),
                Err(e) => print_failure(a, e),
            }
        }
        if let Ok(mut conn) = result {
            let _ = conn.session.quit();
        }
        if status == exit::OK {
            status = code;
        }
    }
    status
}

/// `work: pop.example.com:995 (tls = "implicit")`, the first line of both
/// reports.
fn write_heading(out: &mut impl Write, a: &Account) {
    let _ = writeln!(
        out,
        "{}: {}:{} (tls = {:?})",
        a.name,
        a.host,
        a.port,
        a.tls.name()
    );
}

fn print_connection(a: &Account, conn: &Connection) {
    let mut out = std::io::stdout().lock();
    write_heading(&mut out, a);
    let _ = writeln!(out, "  greeting: {}", conn.greeting);
    match &conn.tls {
        Some(tls) => {
            let _ = writeln!(out, "  TLS: {}, {}", tls.version, tls.cipher);
            if let Some(cert) = &tls.certificate {
                let verdict = if a.tls_fingerprint.is_some() {
                    "pinned by tls_fingerprint"
                } else {
                    "trusted"
                };
                let _ = writeln!(out, "  certificate: {verdict}");
                write_certificate(&mut out, cert);
            }
        }
        None => {
            let _ = writeln!(out, "  TLS: no");
        }
    }
    let _ = writeln!(out, "  capabilities:");
    for l in &conn.capa.lines {
        let _ = writeln!(out, "    {l}");
    }
    let mechs = if conn.capa.sasl.is_empty() {
        "none listed".to_string()
    } else {
        conn.capa.sasl.join(" ")
    };
    let _ = writeln!(out, "  SASL mechanisms: {mechs}");
    let apop = if conn.apop_timestamp.is_some() {
        "yes"
    } else {
        "no"
    };
    let _ = writeln!(out, "  APOP: {apop}");
}

fn write_certificate(out: &mut impl Write, c: &CertInfo) {
    let _ = writeln!(out, "    subject:     {}", c.subject);
    let _ = writeln!(out, "    issuer:      {}", c.issuer);
    let _ = writeln!(out, "    valid from:  {}", c.not_before);
    let _ = writeln!(out, "    valid until: {}", c.not_after);
    let mut names = c.names.join(", ");
    if c.names.is_empty() {
        names = "none".into();
    }
    if c.names_cut {
        names.push_str(", ...");
    }
    let _ = writeln!(out, "    names:       {names}");
    let _ = writeln!(out, "    fingerprint: {}", c.fingerprint);
}

/// The error line on stderr; for a certificate that is not trusted, what
/// it is and how to trust it on stdout first.
fn print_failure(a: &Account, e: &Error) {
    if let Error::Transport(TransportError::Untrusted {
        certificate: Some(cert),
        ..
    }) = e
    {
        let mut out = std::io::stdout().lock();
        write_heading(&mut out, a);
        let _ = writeln!(out, "  certificate: NOT TRUSTED: {}", cert.why());
        write_certificate(&mut out, cert);
        let _ = writeln!(
            out,
            "  If this is the certificate you expect, pin it in the account's section:\n    \
             tls_fingerprint = \"{}\"\n  or give the CA that signed it with tls_ca_file. \
             popfetch did not log in.",
            cert.fingerprint
        );
    }
    report::say!("{}", report::error_line(&a.name, e));
}

fn cert_json(c: &CertInfo, trusted: bool) -> Value {
    json!({
        "subject": c.subject,
        "issuer": c.issuer,
        "not_before": c.not_before,
        "not_after": c.not_after,
        "names": c.names,
        "fingerprint": c.fingerprint,
        "trusted": trusted,
        "problems": c.problems,
    })
}

fn json_of(a: &Account, result: &Result<Connection, Error>, code: u8) -> String {
    let mut v = json!({
        "account": a.name,
        "host": a.host,
        "port": a.port,
        "tls": a.tls.name(),
        "ok": code == exit::OK,
        "exit_code": code,
        "error": result.as_ref().err().map(ToString::to_string),
        "greeting": null,
        "tls_version": null,
        "cipher": null,
        "certificate": null,
        "capabilities": [],
        "sasl": [],
        "stls": false,
        "apop": false,
    });
    match result {
        Ok(conn) => {
            v["greeting"] = json!(conn.greeting);
            if let Some(tls) = &conn.tls {
                v["tls_version"] = json!(tls.version);
                v["cipher"] = json!(tls.cipher);
                if let Some(c) = &tls.certificate {
                    v["certificate"] = cert_json(c, true);
                }
            }
            v["capabilities"] = json!(conn.capa.lines);
            v["sasl"] = json!(conn.capa.sasl);
            v["stls"] = json!(conn.capa.stls);
            v["apop"] = json!(conn.apop_timestamp.is_some());
        }
        Err(Error::Transport(TransportError::Untrusted {
            certificate: Some(c),
            ..
        })) => {
            v["certificate"] = cert_json(c, false);
        }
        Err(_) => {}
    }
    v.to_string()
}
