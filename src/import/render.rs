//! Imported accounts as popfetch's `config.toml`: one `[account.NAME]`
//! table each, in the peer's order, with a comment naming where it came
//! from and, below its keys, every peer option that did not carry over and
//! why. Accounts that cannot be used are printed commented out, with the
//! reason. Values are written with the `toml` crate, so any string (a
//! password with quotes, a path with backslashes) comes out as valid TOML.

use std::fmt::Write as _;

use super::{Account, Dest, Imported, Note, Password, Peer, grouped};
use crate::account::{CommandSpec, TlsMode};

/// A TOML basic string.
fn quoted(s: &str) -> String {
    toml::Value::String(s.to_string()).to_string()
}

/// A TOML array of strings.
fn array(items: &[String]) -> String {
    let parts: Vec<String> = items.iter().map(|s| quoted(s)).collect();
    format!("[{}]", parts.join(", "))
}

fn command(c: &CommandSpec) -> String {
    match c {
        CommandSpec::Argv(argv) => array(argv),
        CommandSpec::Shell(line) => quoted(line),
    }
}

/// `[account.NAME]`, with the name quoted where TOML needs it.
fn header(name: &str) -> String {
    let bare = !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if bare {
        format!("[account.{name}]")
    } else {
        format!("[account.{}]", quoted(name))
    }
}

/// A comment, one `# ` line per line of `text`, wrapped near 96 columns.
fn comment(out: &mut String, indent: &str, text: &str) {
    let mut line = String::new();
    for word in text.split(' ') {
        if !line.is_empty() && indent.len() + line.len() + word.len() + 3 > 96 {
            let _ = writeln!(out, "# {indent}{line}");
            line.clear();
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(word);
    }
    if !line.is_empty() {
        let _ = writeln!(out, "# {indent}{line}");
    }
}

fn notes(out: &mut String, heading: &str, notes: &[Note]) {
    if notes.is_empty() {
        return;
    }
    let _ = writeln!(out, "# {heading}");
    for n in notes {
        comment(
            out,
            "  ",
            &format!("{} ({}): {}", one_line(&n.option), n.at, n.reason),
        );
    }
}

/// Newlines in a value would break out of a comment.
fn one_line(s: &str) -> String {
    s.replace(['\n', '\r'], " ")
}

/// The whole configuration file.
pub(super) fn config(imported: &Imported) -> String {
    let mut out = String::new();
    let files: Vec<String> = imported
        .files
        .iter()
        .map(|f| f.display().to_string())
        .collect();
    comment(
        &mut out,
        "",
        &format!(
            "popfetch configuration imported from {} ({}) by `popfetch import {}`.",
            files.join(", "),
            imported.peer.program(),
            imported.peer.word()
        ),
    );
    comment(
        &mut out,
        "",
        "Read it through, then save it as ~/.config/popfetch/config.toml; `popfetch accounts -c \
         FILE` checks a file. Settings that did not carry over are listed as comments with the \
         reason.",
    );
    if imported.peer == Peer::Getmailrc {
        comment(
            &mut out,
            "",
            "getmail runs one rc file per account: each became one account below.",
        );
    }
    if !imported.notes.is_empty() {
        out.push_str("#\n");
        notes(
            &mut out,
            "Not carried over (global settings):",
            &imported.notes,
        );
    }
    for a in &imported.accounts {
        out.push('\n');
        match &a.disabled {
            None => account(&mut out, a),
            Some(why) => {
                comment(&mut out, "", &format!("Not imported: {why}"));
                let mut body = String::new();
                account(&mut body, a);
                for line in body.lines() {
                    if line.starts_with('#') {
                        let _ = writeln!(out, "{line}");
                    } else {
                        let _ = writeln!(out, "# {line}");
                    }
                }
            }
        }
    }
    out
}

fn account(out: &mut String, a: &Account) {
    let _ = writeln!(out, "{}", header(&a.name));
    comment(
        out,
        "",
        &format!("from {} ({})", a.origin, one_line(&a.described)),
    );
    for r in &a.remarks {
        comment(out, "", &format!("Note: {r}"));
    }
    let mut kv = |k: &str, v: String| {
        let _ = writeln!(out, "{k} = {v}");
    };
    kv("host", quoted(&a.host));
    kv("port", a.port.to_string());
    kv("tls", quoted(a.tls.name()));
    if a.tls == TlsMode::None {
        kv("allow_plaintext", "true".into());
    }
    kv("user", quoted(&a.user));
    if let Some(auth) = a.auth {
        kv("auth", quoted(auth.name()));
    }
    match &a.password {
        Some(Password::Literal(p)) => kv("password", quoted(p)),
        Some(Password::Command(c)) => kv("password_command", command(c)),
        None => {}
    }
    if let Some(f) = &a.tls_ca_file {
        kv("tls_ca_file", quoted(f));
    }
    if let Some(f) = &a.tls_fingerprint {
        kv("tls_fingerprint", quoted(f));
    }
    match &a.dest {
        Dest::Maildir(p) => kv("maildir", quoted(p)),
        Dest::Mbox(p) => kv("mbox", quoted(p)),
        Dest::Mda(c) => kv("mda", command(c)),
        Dest::Lmtp { server, recipient } | Dest::Smtp { server, recipient } => {
            let key = if matches!(a.dest, Dest::Lmtp { .. }) {
                "lmtp"
            } else {
                "smtp"
            };
            kv(key, quoted(server));
            if let Some(r) = recipient {
                kv("recipient", quoted(r));
            }
        }
    }
    kv("keep", a.keep.to_string());
    if let Some(d) = a.delete_after_days {
        kv("delete_after_days", d.to_string());
    }
    if let Some(n) = a.max_size {
        kv("max_size", n.to_string());
    }
    if let Some(n) = a.max_messages {
        kv("max_messages", n.to_string());
    }
    if a.fetch_all {
        kv("fetch_all", "true".into());
    }
    if let Some(t) = a.timeout {
        kv("timeout", t.to_string());
    }
    if let Some(p) = a.pipelining {
        kv("pipelining", quoted(p.name()));
    }
    if let Some(r) = a.received_header {
        kv("received_header", r.to_string());
    }
    if a.dest_placeholder {
        comment(
            out,
            "",
            "CHECK the destination: the peer's way of delivering could not be expressed (see \
             below), so this account delivers into a Maildir at ~/Maildir until you choose.",
        );
    }
    notes(out, "Not carried over:", &a.notes);
}

/// The line on stderr after the configuration: how many accounts, and
/// how many settings need a look.
pub(super) fn summary(imported: &Imported) -> String {
    let active = imported
        .accounts
        .iter()
        .filter(|a| a.disabled.is_none())
        .count();
    let disabled = imported.accounts.len() - active;
    let notes: usize = imported.notes.len()
        + imported
            .accounts
            .iter()
            .map(|a| a.notes.len())
            .sum::<usize>();
    let placeholders = imported
        .accounts
        .iter()
        .filter(|a| a.disabled.is_none() && a.dest_placeholder)
        .count();
    let mut line = format!(
        "popfetch: imported {} account{} from {}",
        grouped(active),
        if active == 1 { "" } else { "s" },
        imported.peer.program()
    );
    if disabled > 0 {
        line.push_str(&format!(
            "; {disabled} more printed commented out (see why in the output)"
        ));
    }
    if notes > 0 {
        line.push_str(&format!(
            "; {notes} setting{} could not be carried over and {}",
            if notes == 1 { "" } else { "s" },
            if notes == 1 {
                "is listed as a comment"
            } else {
                "are listed as comments"
            }
        ));
    }
    if imported
        .accounts
        .iter()
        .any(|a| matches!(a.password, Some(Password::Literal(_))))
    {
        line.push_str("; it holds passwords: save it where only you can read it (chmod 600)");
    }
    if placeholders > 0 {
        line.push_str(&format!(
            "; {placeholders} account{} need{} a destination chosen (marked CHECK)",
            if placeholders == 1 { "" } else { "s" },
            if placeholders == 1 { "s" } else { "" }
        ));
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::import::PeerState;
    use zeroize::Zeroizing;

    fn sample() -> Account {
        let mut a = Account::new(
            "pop.example.com".into(),
            995,
            TlsMode::Implicit,
            "al\"ice".into(),
            PeerState::Getmail {
                candidates: Vec::new(),
            },
        );
        a.name = "pop.example.com".into();
        a.origin = "/x/rc:3".into();
        a.described = "poll pop.example.com".into();
        a.password = Some(Password::Literal(Zeroizing::new("p\\w\"d".into())));
        a.set_dest(Dest::Mda(CommandSpec::Argv(vec![
            "/usr/bin/procmail".into(),
            "-f".into(),
            "%F".into(),
        ])));
        a.note(
            "/x/rc:4".into(),
            "flush",
            "a long reason that goes on and on and on and on and on and on and on and on and on \
             and on and on and on",
        );
        a
    }

    #[test]
    fn accounts_render_as_valid_toml_with_notes_as_comments() {
        let imported = Imported {
            peer: Peer::Fetchmailrc,
            files: vec!["/x/rc".into()],
            accounts: vec![sample()],
            notes: Vec::new(),
        };
        let text = config(&imported);
        let v: toml::Table = toml::from_str(&text).unwrap_or_else(|e| panic!("{e}\n{text}"));
        let acct = &v["account"]["pop.example.com"];
        assert_eq!(acct["user"].as_str(), Some("al\"ice"));
        assert_eq!(acct["password"].as_str(), Some("p\\w\"d"));
        assert_eq!(acct["mda"].as_array().map(Vec::len), Some(3));
        assert!(
            text.contains("#   flush (/x/rc:4): a long reason"),
            "{text}"
        );
        assert!(text.lines().all(|l| l.len() <= 100), "{text}");
    }

    #[test]
    fn disabled_accounts_are_commented_out() {
        let mut off = sample();
        off.disabled = Some("protocol imap".into());
        let imported = Imported {
            peer: Peer::Fetchmailrc,
            files: vec!["/x/rc".into()],
            accounts: vec![off],
            notes: Vec::new(),
        };
        let text = config(&imported);
        let v: toml::Table = toml::from_str(&text).unwrap();
        assert!(v.get("account").is_none(), "{text}");
        assert!(text.contains("# [account.\"pop.example.com\"]"), "{text}");
    }
}
