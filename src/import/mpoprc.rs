//! mpop's configuration file, read the way mpop reads it (`conf.c`).
//!
//! One command per line: the first word is the command, the rest (blanks
//! trimmed, and one pair of enclosing double quotes removed) its argument.
//! A line whose first non-blank character is `#` is a comment; a `#`
//! anywhere else is part of the argument. `defaults` starts a block that
//! sets defaults for the accounts after it (there may be several);
//! `account NAME` starts an account with the defaults filled in, and
//! `account NAME : A, B` also inherits what accounts A and B set themselves
//! (later ones win), before its own lines. An empty argument unsets a
//! value; `on` may be written as an empty argument.

use std::collections::BTreeMap;
use std::path::PathBuf;

use zeroize::Zeroizing;

use super::{
    Account, Dest, Env, ImportError, Imported, Password, Peer, PeerState, Source, Subst,
    mda_template,
};
use crate::account::{AuthChoice, CommandSpec, Pipelining, TlsMode, normalize_fingerprint};

/// A value and the line it was set on.
#[derive(Debug, Clone)]
struct Val {
    value: String,
    line: usize,
}

/// The commands one block sets, by name.
type Settings = BTreeMap<String, Val>;

/// One `account` block: the defaults when it began, what it set itself
/// (including what it inherited), and where it starts.
#[derive(Debug, Clone)]
struct Block {
    name: String,
    line: usize,
    defaults: Settings,
    own: Settings,
}

impl Block {
    /// What the account ends up with: its own settings over the defaults.
    fn effective(&self) -> Settings {
        let mut s = self.defaults.clone();
        s.extend(self.own.clone());
        s
    }
}

/// Split a line as mpop's `get_cmd` does: `None` for blank and comment lines.
fn command_and_argument(line: &str) -> Option<(&str, String)> {
    let line = line.trim_start_matches([' ', '\t']);
    if line.is_empty() || line.starts_with('#') {
        return None;
    }
    let end = line.find([' ', '\t']).unwrap_or(line.len());
    Some((&line[..end], trim_argument(&line[end..])))
}

/// mpop's `trim_string`: blanks off both ends, then one pair of enclosing
/// double quotes.
fn trim_argument(s: &str) -> String {
    let t = s.trim_matches([' ', '\t']);
    match t.strip_prefix('"').and_then(|r| r.strip_suffix('"')) {
        Some(inner) => inner.to_string(),
        None => t.to_string(),
    }
}

/// Commands whose argument is `on`/`off` (or empty for on).
const ON_OFF: &[&str] = &[
    "tls",
    "tls_starttls",
    "tls_certcheck",
    "only_new",
    "received_header",
];

/// Every command mpop knows that takes any argument, checked later.
const FREE: &[&str] = &[
    "user",
    "password",
    "passwordeval",
    "ntlmdomain",
    "tls_key_file",
    "tls_cert_file",
    "tls_trust_file",
    "tls_crl_file",
    "tls_fingerprint",
    "tls_priorities",
    "tls_host_override",
    "tls_min_dh_prime_bits",
    "filter",
    "proxy_host",
    "proxy_port",
    "source_ip",
    "socket",
    "tls_force_sslv3",
];

/// Authentication methods mpop accepts after `auth`.
const AUTH_METHODS: &[&str] = &[
    "user",
    "plain",
    "scram-sha-1",
    "scram-sha-256",
    "apop",
    "cram-md5",
    "digest-md5",
    "login",
    "ntlm",
    "oauthbearer",
    "xoauth2",
    "external",
    "gssapi",
];

/// Check one command's argument as mpop does at parse time.
fn check(src: &Source, line: usize, cmd: &str, arg: &str) -> Result<(), ImportError> {
    let invalid = || {
        src.error(
            line,
            format!("invalid argument {arg:?} for command {cmd} (mpop would refuse it too)"),
        )
    };
    let needs = || src.error(line, format!("command {cmd} needs an argument"));
    match cmd {
        "host" | "uidls_file" | "delivery" if arg.is_empty() => Err(needs()),
        "host" | "uidls_file" => Ok(()),
        "port" => match arg.parse::<u32>() {
            Ok(1..=65535) => Ok(()),
            _ if arg.is_empty() => Err(needs()),
            _ => Err(invalid()),
        },
        "timeout" => match arg {
            "" => Err(needs()),
            "off" => Ok(()),
            _ if arg.parse::<u32>().is_ok_and(|n| n >= 1) => Ok(()),
            _ => Err(invalid()),
        },
        "pipelining" => match arg {
            "" | "on" | "off" | "auto" => Ok(()),
            _ => Err(invalid()),
        },
        c if ON_OFF.contains(&c) => match arg {
            "" | "on" | "off" => Ok(()),
            _ => Err(invalid()),
        },
        "keep" => match arg {
            "" | "on" | "off" => Ok(()),
            _ if keep_seconds(arg).is_some() => Ok(()),
            _ => Err(invalid()),
        },
        "killsize" | "skipsize" => match arg {
            "" => Err(needs()),
            "off" => Ok(()),
            _ if size(arg).is_some() => Ok(()),
            _ => Err(src.error(
                line,
                format!("invalid size (not a number or out of range): {arg}"),
            )),
        },
        "auth" => match arg {
            "" | "on" => Ok(()),
            _ if AUTH_METHODS.contains(&arg) => Ok(()),
            _ => Err(invalid()),
        },
        "delivery" => {
            let method = arg.split([' ', '\t']).next().unwrap_or("");
            let rest = arg[method.len()..].trim_matches([' ', '\t']);
            match method {
                "mda" | "maildir" | "mbox" | "exchange" if !rest.is_empty() => Ok(()),
                _ => Err(invalid()),
            }
        }
        "tls_fingerprint" => match arg.len() {
            0 | 95 | 59 | 47 => Ok(()),
            _ => Err(invalid()),
        },
        c if FREE.contains(&c) => Ok(()),
        _ => Err(src.error(
            line,
            format!("unknown command {cmd} (mpop would refuse the file too)"),
        )),
    }
}

/// mpop's `get_size_arg`: a number (decimal, `0x` hex or `0` octal) with
/// an optional `k` or `m` suffix.
fn size(arg: &str) -> Option<u64> {
    let (num, shift) = match arg.strip_suffix('k') {
        Some(n) => (n, 10),
        None => match arg.strip_suffix('m') {
            Some(n) => (n, 20),
            None => (arg, 0),
        },
    };
    let num = num.trim_start_matches([' ', '\t']);
    let num = num.strip_prefix('+').unwrap_or(num);
    let n = if let Some(h) = num.strip_prefix("0x").or_else(|| num.strip_prefix("0X")) {
        u64::from_str_radix(h, 16).ok()?
    } else if num.len() > 1 && num.starts_with('0') {
        u64::from_str_radix(&num[1..], 8).ok()?
    } else {
        num.parse::<u64>().ok()?
    };
    n.checked_mul(1 << shift).filter(|v| *v <= i64::MAX as u64)
}

/// mpop's `get_keep_arg`: a duration such as `30d` or `1d12h` in seconds.
fn keep_seconds(arg: &str) -> Option<u64> {
    let mut total: u64 = 0;
    let mut rest = arg;
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(rest.len());
        let n: u64 = rest[..digits].parse().ok()?;
        let unit = match rest[digits..].chars().next()? {
            'd' => 86_400,
            'h' => 3_600,
            'm' => 60,
            's' => 1,
            _ => return None,
        };
        total = total.checked_add(n.checked_mul(unit)?)?;
        rest = &rest[digits + 1..];
    }
    Some(total)
}

/// The accounts of an mpop configuration file, in order.
fn parse(src: &Source) -> Result<Vec<Block>, ImportError> {
    let text = String::from_utf8_lossy(&src.text);
    let mut defaults = Settings::new();
    let mut blocks: Vec<Block> = Vec::new();
    // Which block the lines go to: None = defaults.
    let mut current: Option<usize> = None;
    let mut started = false;
    for (i, raw) in text.split('\n').enumerate() {
        let line = i + 1;
        let raw = raw.strip_suffix('\r').unwrap_or(raw);
        let Some((cmd, arg)) = command_and_argument(raw) else {
            continue;
        };
        match cmd {
            "defaults" => {
                if !arg.is_empty() {
                    return Err(src.error(line, "command defaults does not take an argument"));
                }
                current = None;
                started = true;
            }
            "account" => {
                let (name, parents) = match arg.split_once(':') {
                    Some((n, p)) => (trim_argument(n), Some(p.to_string())),
                    None => (arg.clone(), None),
                };
                if name.is_empty() {
                    return Err(src.error(line, "missing account name after account"));
                }
                if name.contains([':', ',']) {
                    return Err(
                        src.error(line, "an account name must not contain colons or commas")
                    );
                }
                if blocks.iter().any(|b| b.name == name) {
                    return Err(src.error(
                        line,
                        format!("account {name} was already defined: give it another name"),
                    ));
                }
                let mut own = Settings::new();
                for parent in parents.iter().flat_map(|p| p.split(',')) {
                    let parent = trim_argument(parent);
                    if parent.is_empty() {
                        return Err(src.error(line, "missing account name in the list after ':'"));
                    }
                    let Some(b) = blocks.iter().find(|b| b.name == parent) else {
                        return Err(src.error(
                            line,
                            format!(
                                "account {parent} not (yet) defined: an account can inherit only \
                                 from accounts above it"
                            ),
                        ));
                    };
                    own.extend(b.own.clone());
                }
                blocks.push(Block {
                    name,
                    line,
                    defaults: defaults.clone(),
                    own,
                });
                current = Some(blocks.len() - 1);
                started = true;
            }
            _ if !started => {
                return Err(src.error(
                    line,
                    format!("found {cmd} where the first command must be account or defaults"),
                ));
            }
            _ => {
                let key = if cmd == "eval" {
                    if arg.is_empty() {
                        return Err(src.error(line, "command eval needs an argument"));
                    }
                    format!("eval:{line:08}")
                } else {
                    check(src, line, cmd, &arg)?;
                    cmd.to_string()
                };
                let target = match current {
                    Some(i) => &mut blocks[i].own,
                    None => &mut defaults,
                };
                target.insert(key, Val { value: arg, line });
            }
        }
    }
    Ok(blocks)
}

/// Read an mpop configuration file into accounts.
pub(super) fn import(src: &Source, env: &Env) -> Result<Imported, ImportError> {
    let blocks = parse(src)?;
    let mut accounts = Vec::new();
    for b in &blocks {
        accounts.push(account(src, env, b)?);
    }
    Ok(Imported {
        peer: Peer::Mpoprc,
        files: vec![src.path.clone()],
        accounts,
        notes: Vec::new(),
    })
}

/// A file name as mpop expands it: a leading `~` becomes `$HOME`. `~/...`
/// is left for popfetch, which expands it the same way.
fn mpop_path(env: &Env, p: &str) -> String {
    match p.strip_prefix('~') {
        Some(rest) if !rest.is_empty() && !rest.starts_with('/') => match &env.home {
            Some(h) => format!("{}{rest}", h.display()),
            None => p.to_string(),
        },
        _ => p.to_string(),
    }
}

fn on(v: Option<&Val>) -> Option<bool> {
    v.map(|v| v.value != "off")
}

/// One account in popfetch's terms.
fn account(src: &Source, env: &Env, b: &Block) -> Result<Account, ImportError> {
    let s = b.effective();
    let get = |k: &str| s.get(k);
    let value = |k: &str| get(k).map(|v| v.value.as_str()).filter(|v| !v.is_empty());
    let at = |k: &str| src.at(get(k).map_or(b.line, |v| v.line));

    let tls_on = on(get("tls")).unwrap_or(false);
    let starttls = on(get("tls_starttls")).unwrap_or(true);
    let tls = match (tls_on, starttls) {
        (false, _) => TlsMode::None,
        (true, true) => TlsMode::Starttls,
        (true, false) => TlsMode::Implicit,
    };
    let port = value("port")
        .and_then(|p| p.parse().ok())
        .unwrap_or(tls.default_port());
    let host = value("host").unwrap_or_default().to_string();
    let user = value("user").unwrap_or_default().to_string();
    let uidls = value("uidls_file").map_or_else(
        || {
            env.home.as_ref().map_or_else(
                || PathBuf::from(".mpop_uidls/%U_at_%H"),
                |h| h.join(".mpop_uidls/%U_at_%H"),
            )
        },
        |f| PathBuf::from(env.expand_tilde(&mpop_path(env, f))),
    );
    let uidls = PathBuf::from(
        uidls
            .to_string_lossy()
            .replace("%U", &user)
            .replace("%H", &host),
    );
    let state = PeerState::Mpop {
        file: uidls,
        host: host.clone(),
        user: user.clone(),
    };
    let mut a = Account::new(host.clone(), port, tls, user.clone(), state);
    a.name = b.name.clone();
    a.origin = src.at(b.line);
    a.described = format!("account {}", b.name);
    if host.is_empty() {
        a.disabled = Some(if value("socket").is_some() {
            "it connects through a local socket (socket), which popfetch cannot do".into()
        } else {
            "it has no host".into()
        });
    } else if user.is_empty() {
        a.disabled = Some("it has no user; add user NAME".into());
    }

    for (k, v) in &s {
        if v.value.contains(" #") && k != "password" {
            a.remarks.push(format!(
                "mpop reads # as a comment only at the start of a line: {k} is {:?} (line {}), \
                 with everything after the #",
                v.value, v.line
            ));
        }
    }
    if tls == TlsMode::None {
        a.remarks.push(
            "mpop had TLS off (its default), so the password went unencrypted; popfetch does the \
             same only because allow_plaintext = true says so: use tls = \"starttls\" if the \
             server offers STLS"
                .into(),
        );
    }

    // Authentication.
    match value("auth") {
        None | Some("on") => {}
        Some(m) => match AuthChoice::ALL.iter().find(|c| c.name() == m) {
            Some(c) => a.auth = Some(*c),
            None => a.note(
                at("auth"),
                format!("auth {m}"),
                "not supported by popfetch; auth = \"auto\" (the strongest password method the \
                 server offers) is used instead",
            ),
        },
    }
    if let Some(pw) = value("password") {
        a.password = Some(Password::Literal(Zeroizing::new(pw.to_string())));
    } else if let Some(cmd) = value("passwordeval") {
        a.password = Some(Password::Command(CommandSpec::Shell(cmd.to_string())));
    } else {
        a.remarks.push(format!(
            "no password in the file: mpop looked in the system key ring, then ~/.netrc, then \
             asked; popfetch looks in ~/.netrc, then asks. For the key ring, add: \
             password_command = [\"secret-tool\", \"lookup\", \"host\", {host:?}, \"service\", \
             \"pop3\", \"user\", {user:?}]"
        ));
    }

    // TLS trust.
    if let Some(f) = value("tls_trust_file").filter(|f| *f != "system") {
        a.tls_ca_file = Some(mpop_path(env, f));
    }
    if let Some(fp) = value("tls_fingerprint") {
        if fp.len() == 95 {
            a.tls_fingerprint =
                Some(normalize_fingerprint(&format!("sha256:{fp}")).map_err(|e| {
                    src.error(get("tls_fingerprint").map_or(b.line, |v| v.line), e)
                })?);
        } else {
            a.note(
                at("tls_fingerprint"),
                format!("tls_fingerprint {fp}"),
                "a SHA-1 or MD5 fingerprint; popfetch pins SHA-256 only: run `popfetch serverinfo \
                 NAME` and copy the sha256 fingerprint it prints into tls_fingerprint",
            );
        }
    }
    if on(get("tls_certcheck")) == Some(false) {
        a.note(
            at("tls_certcheck"),
            "tls_certcheck off",
            "popfetch always verifies the certificate: give tls_ca_file or pin tls_fingerprint \
             (popfetch serverinfo prints it)",
        );
    }

    // Destination.
    match value("delivery") {
        Some(d) => {
            let method = d.split([' ', '\t']).next().unwrap_or("");
            let arg = trim_argument(&d[method.len()..]);
            match method {
                "maildir" => a.set_dest(Dest::Maildir(mpop_path(env, &arg))),
                "mbox" => a.set_dest(Dest::Mbox(mpop_path(env, &arg))),
                "mda" => a.set_dest(Dest::Mda(CommandSpec::Shell(mda_template(
                    &arg,
                    &[("%F", Subst::Sender)],
                    true,
                )))),
                _ => a.note(
                    at("delivery"),
                    format!("delivery {d}"),
                    "popfetch cannot deliver to an Exchange pickup directory; choose a \
                     destination (maildir, mbox or mda)",
                ),
            }
        }
        None => a.note(
            src.at(b.line),
            "(no delivery)",
            "mpop would refuse to fetch without one; choose a destination (maildir, mbox or mda)",
        ),
    }

    // Policy.
    match value("keep") {
        None | Some("off") => a.keep = get("keep").is_some_and(|v| v.value.is_empty()),
        Some("on") => a.keep = true,
        Some(d) => {
            let secs = keep_seconds(d).unwrap_or(0);
            if secs > 0 {
                a.keep = true;
                let days = secs.div_ceil(86_400);
                a.delete_after_days = Some(u32::try_from(days).unwrap_or(u32::MAX));
                if !secs.is_multiple_of(86_400) {
                    a.note(
                        at("keep"),
                        format!("keep {d}"),
                        format!("popfetch counts whole days: rounded up to {days}"),
                    );
                }
            }
        }
    }
    if on(get("only_new")) == Some(false) {
        a.fetch_all = true;
    }
    let skipsize = value("skipsize").filter(|v| *v != "off").and_then(size);
    let killsize = value("killsize").filter(|v| *v != "off").and_then(size);
    if let Some(k) = killsize {
        if k == 0 && a.keep {
            a.note(
                at("killsize"),
                "killsize 0 (with keep)",
                "marks every message as fetched without downloading it: that is what `popfetch \
                 adopt` does, once",
            );
        } else if !a.keep {
            a.note(
                at("killsize"),
                format!("killsize {}", value("killsize").unwrap_or_default()),
                "mpop deleted larger messages without downloading them; popfetch never deletes \
                 a message it has not delivered: they stay on the server (max_size) and are \
                 reported",
            );
        }
    }
    a.max_size = [skipsize, killsize]
        .into_iter()
        .flatten()
        .filter(|n| *n > 0)
        .min();
    if skipsize == Some(0) {
        a.note(
            at("skipsize"),
            "skipsize 0",
            "skips every message; popfetch's max_size must be at least 1 byte, so it was left out",
        );
    }
    match value("timeout") {
        Some("off") => a.note(
            at("timeout"),
            "timeout off",
            "popfetch always has a timeout (default 60 seconds)",
        ),
        Some(t) => a.timeout = t.parse().ok(),
        None => {}
    }
    a.pipelining = match get("pipelining").map(|v| v.value.as_str()) {
        Some("" | "on") => Some(Pipelining::On),
        Some("off") => Some(Pipelining::Off),
        Some("auto") => Some(Pipelining::Auto),
        _ => None,
    };
    a.received_header = on(get("received_header"));

    // Everything else.
    let reasons: &[(&str, &str)] = &[
        (
            "filter",
            "popfetch has no header filter: sort mail with your MDA (procmail, maildrop, sieve)",
        ),
        (
            "proxy_host",
            "SOCKS proxies are not supported by this version of popfetch",
        ),
        (
            "proxy_port",
            "SOCKS proxies are not supported by this version of popfetch",
        ),
        (
            "source_ip",
            "popfetch lets the system choose the source address",
        ),
        ("socket", "popfetch connects over TCP to host and port"),
        (
            "tls_key_file",
            "client certificates are not supported by this version of popfetch",
        ),
        (
            "tls_cert_file",
            "client certificates are not supported by this version of popfetch",
        ),
        ("tls_crl_file", "popfetch does not read CRL files"),
        (
            "tls_priorities",
            "popfetch negotiates TLS 1.2 or newer by itself",
        ),
        (
            "tls_min_dh_prime_bits",
            "popfetch negotiates TLS 1.2 or newer by itself",
        ),
        (
            "tls_host_override",
            "popfetch checks the certificate against the host name it connects to",
        ),
        ("ntlmdomain", "NTLM is not supported by popfetch"),
        ("tls_force_sslv3", "ignored by mpop as well"),
    ];
    for (k, reason) in reasons {
        if let Some(v) = get(k).filter(|v| !v.value.is_empty() || *k == "tls_force_sslv3") {
            a.note(src.at(v.line), format!("{k} {}", v.value), *reason);
        }
    }
    for (k, v) in s.range("eval:".to_string()..) {
        if !k.starts_with("eval:") {
            break;
        }
        a.note(
            src.at(v.line),
            format!("eval {}", v.value),
            "import does not run commands: run it yourself and write the setting it prints",
        );
    }
    Ok(a)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn src(text: &str) -> Source {
        Source {
            path: "/home/a/.mpoprc".into(),
            text: text.as_bytes().to_vec(),
        }
    }

    fn env() -> Env {
        Env {
            home: Some("/home/a".into()),
            ..Env::default()
        }
    }

    fn import_str(text: &str) -> Imported {
        import(&src(text), &env()).unwrap_or_else(|e| panic!("{e}"))
    }

    fn err(text: &str) -> String {
        import(&src(text), &env()).unwrap_err().to_string()
    }

    const MANUAL_EXAMPLE: &str = "\
# Example for a user configuration file ~/.mpoprc
#
# Set default values for all following accounts.
defaults
tls on
tls_trust_file system
keep on

# A freemail service
account freemail
host pop.freemail.example
user joe.smith
passwordeval gpg --no-tty -q -d ~/.mpop-password.gpg
delivery maildir ~/Mail/incoming

# Some other mail service
account company
host mail.company.example
user company0815
auth on
delivery mda /usr/bin/procmail -f '%F' -d $USER

# A second mailbox on the same server, inheriting from company
account company2 : company
user company4711
keep off
";

    #[test]
    fn the_manual_example() {
        let i = import_str(MANUAL_EXAMPLE);
        let names: Vec<&str> = i.accounts.iter().map(|a| a.name.as_str()).collect();
        assert_eq!(names, ["freemail", "company", "company2"]);
        let f = &i.accounts[0];
        assert_eq!(f.tls, TlsMode::Starttls);
        assert_eq!(f.port, 110);
        assert!(f.keep);
        assert_eq!(f.tls_ca_file, None);
        assert_eq!(f.dest, Dest::Maildir("~/Mail/incoming".into()));
        assert!(
            matches!(&f.password, Some(Password::Command(CommandSpec::Shell(c))) if c == "gpg --no-tty -q -d ~/.mpop-password.gpg")
        );
        let c = &i.accounts[1];
        assert_eq!(
            c.dest,
            Dest::Mda(CommandSpec::Shell(
                "/usr/bin/procmail -f %F -d $USER".into()
            ))
        );
        let c2 = &i.accounts[2];
        assert_eq!(c2.host, "mail.company.example");
        assert_eq!(c2.user, "company4711");
        assert!(!c2.keep);
        assert_eq!(c2.dest, c.dest);
        assert_eq!(
            c2.state,
            PeerState::Mpop {
                file: "/home/a/.mpop_uidls/company4711_at_mail.company.example".into(),
                host: "mail.company.example".into(),
                user: "company4711".into(),
            }
        );
    }

    #[test]
    fn inheriting_from_an_account_defined_later_is_an_error() {
        let e = err("account base\nhost h\naccount leaf : base, later\nuser l\naccount later\n");
        assert!(
            e.contains(":3:") && e.contains("later not (yet) defined"),
            "{e}"
        );
    }

    #[test]
    fn inheritance_takes_parents_own_settings_over_later_defaults() {
        let i = import_str(
            "account base\nhost h.example\nport 995\ntls on\ntls_starttls off\nuser b\n\
             delivery mbox ~/mbox\n\
             defaults\nkeep\nport 1995\n\
             account mid : base\nuser m\n\
             account leaf : base, mid\nonly_new off\n",
        );
        let leaf = &i.accounts[2];
        assert_eq!(leaf.host, "h.example");
        assert_eq!(leaf.port, 995, "the parent's own port beats the defaults");
        assert_eq!(leaf.tls, TlsMode::Implicit);
        assert_eq!(leaf.user, "m", "later parents win");
        assert!(leaf.keep, "keep comes from the defaults in force");
        assert!(leaf.fetch_all);
        assert!(
            !i.accounts[0].keep,
            "defaults apply only to accounts after them"
        );
    }

    #[test]
    fn quoting_comments_and_hashes() {
        let i = import_str(
            "account \"a b\"\n  host   pop.example.com   \n\tuser \"joe  smith\"\n\
             password \"pa ss\"#x\"\n   # an indented comment\n\
             delivery maildir \"/m d/\" # not a comment\n",
        );
        let a = &i.accounts[0];
        assert_eq!(a.name, "a b");
        assert_eq!(a.user, "joe  smith");
        assert!(matches!(&a.password, Some(Password::Literal(p)) if p.as_str() == "pa ss\"#x"));
        assert_eq!(a.dest, Dest::Maildir("\"/m d/\" # not a comment".into()));
        assert!(
            a.remarks.iter().any(|r| r.contains("start of a line")),
            "{:?}",
            a.remarks
        );
    }

    #[test]
    fn tls_fingerprints_and_trust() {
        let sha256 = vec!["AB"; 32].join(":");
        let i = import_str(&format!(
            "account a\nhost h\nuser u\ntls on\ntls_fingerprint {sha256}\n\
             tls_trust_file /etc/ca.pem\ndelivery mbox /m\n\
             account b : a\ntls_fingerprint {}\ntls_certcheck off\n",
            vec!["CD"; 20].join(":")
        ));
        assert_eq!(
            i.accounts[0].tls_fingerprint.as_deref(),
            Some(format!("sha256:{sha256}").as_str())
        );
        assert_eq!(i.accounts[0].tls_ca_file.as_deref(), Some("/etc/ca.pem"));
        let b = &i.accounts[1];
        assert_eq!(b.tls_fingerprint, None);
        assert!(
            b.notes
                .iter()
                .any(|n| n.option.starts_with("tls_fingerprint"))
        );
        assert!(b.notes.iter().any(|n| n.option == "tls_certcheck off"));
    }

    #[test]
    fn keep_durations_sizes_and_unsupported() {
        let i = import_str(
            "account a\nhost h\nuser u\ndelivery maildir /m\nkeep 1d12h\nskipsize 10m\n\
             killsize 0x100000\nfilter /bin/true\nproxy_host 127.0.0.1\neval echo host x\n\
             timeout 30\npipelining off\nreceived_header off\nauth cram-md5\n",
        );
        let a = &i.accounts[0];
        assert!(a.keep);
        assert_eq!(a.delete_after_days, Some(2));
        assert_eq!(a.max_size, Some(1 << 20));
        assert_eq!(a.timeout, Some(30));
        assert_eq!(a.pipelining, Some(Pipelining::Off));
        assert_eq!(a.received_header, Some(false));
        assert_eq!(a.auth, Some(AuthChoice::CramMd5));
        for opt in ["keep 1d12h", "filter", "proxy_host", "eval echo host x"] {
            assert!(
                a.notes.iter().any(|n| n.option.starts_with(opt)),
                "{opt}: {:#?}",
                a.notes
            );
        }
        assert_eq!(a.tls, TlsMode::None);
        assert_eq!(size("010"), Some(8));
        assert_eq!(size("2k"), Some(2048));
        assert_eq!(size("x"), None);
        assert_eq!(keep_seconds("30d"), Some(30 * 86_400));
        assert_eq!(keep_seconds("5"), None);
    }

    #[test]
    fn errors_are_mpops() {
        let e = err("host x\n");
        assert!(
            e.contains(".mpoprc:1:") && e.contains("first command"),
            "{e}"
        );
        let e = err("account a\nhost h\nfrobnicate 1\n");
        assert!(
            e.contains(":3:") && e.contains("unknown command frobnicate"),
            "{e}"
        );
        let e = err("account a\nport 0\n");
        assert!(e.contains(":2:") && e.contains("invalid argument"), "{e}");
        let e = err("account a : b\n");
        assert!(e.contains(":1:") && e.contains("not (yet) defined"), "{e}");
        let e = err("account a\naccount a\n");
        assert!(e.contains(":2:") && e.contains("already defined"), "{e}");
        let e = err("defaults x\n");
        assert!(e.contains("does not take an argument"), "{e}");
        let e = err("account a\ntls maybe\n");
        assert!(e.contains(":2:") && e.contains("tls"), "{e}");
    }

    #[test]
    fn accounts_without_host_or_user_are_disabled() {
        let i = import_str(
            "account a\nuser u\ndelivery mbox /m\naccount b\nhost h\ndelivery mbox /m\n",
        );
        assert!(i.accounts[0].disabled.as_ref().unwrap().contains("no host"));
        assert!(i.accounts[1].disabled.as_ref().unwrap().contains("no user"));
    }
}
