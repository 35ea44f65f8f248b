//! fetchmail's run control file, read the way fetchmail 6.4 reads it
//! (`rcfile_l.l`, `rcfile_y.y`), with the 7.0 additions `passwordeval`,
//! `passwordfile`, `sslmode` and `auth oauthbearer`/`apop`.
//!
//! The grammar is token based: keywords (case-sensitive), numbers, bare and
//! quoted strings (`"..."` or `'...'`, which may span lines, with fetchmail's
//! own escapes `\n \t \b \r \\`, `\xhh`, `\0ooo`, decimal `\nnn`); the noise
//! words `and with has wants options` and the characters `; : ,` are ignored
//! anywhere; `#` starts a comment. After `user`, `pass`, `is`, `to` and `=`
//! the next bare word is a string even when it looks like a keyword. An
//! entry is `poll|skip NAME` (or `defaults`), server options, then either
//! user options or any number of `user NAME ...` descriptions, each followed
//! by its options. A `defaults` entry must come first; its settings fill in
//! every later entry.

use std::path::{Path, PathBuf};

use zeroize::Zeroizing;

use super::{
    Account, Dest, Env, ImportError, Imported, Password, Peer, PeerState, Source, Subst,
    mda_template,
};
use crate::account::{AuthChoice, CommandSpec, TlsMode};

#[derive(Debug, Clone, PartialEq, Eq)]
enum Tok {
    /// A keyword, as spelled in the file (`nokeep` arrives as `no`, `keep`).
    Kw(&'static str),
    Str(Vec<u8>),
    Num(i64),
    /// `=`.
    Map,
}

#[derive(Debug, Clone)]
struct Token {
    tok: Tok,
    line: usize,
}

/// Every keyword of fetchmail's lexer, each with the spellings it accepts.
const KEYWORDS: &[(&str, &[&str])] = &[
    ("set", &["set"]),
    ("logfile", &["logfile"]),
    ("idfile", &["idfile"]),
    ("pidfile", &["pidfile"]),
    ("daemon", &["daemon"]),
    ("syslog", &["syslog"]),
    ("invisible", &["invisible"]),
    ("showdots", &["showdots"]),
    ("postmaster", &["postmaster"]),
    ("bouncemail", &["bouncemail"]),
    ("spambounce", &["spambounce"]),
    ("softbounce", &["softbounce"]),
    ("warnings", &["warnings"]),
    ("tracepolls", &["tracepolls"]),
    ("defaults", &["defaults"]),
    ("poll", &["poll", "server"]),
    ("skip", &["skip"]),
    ("via", &["via"]),
    ("aka", &["aka"]),
    ("localdomains", &["local", "localdomains"]),
    ("protocol", &["proto", "protocol"]),
    ("service", &["service"]),
    ("port", &["port"]),
    ("interval", &["interval"]),
    (
        "auth",
        &["auth", "authenticate", "preauth", "preauthenticate"],
    ),
    ("timeout", &["timeout"]),
    ("idletimeout", &["idletimeout"]),
    ("envelope", &["envelope"]),
    ("qvirtual", &["qvirtual"]),
    ("principal", &["principal"]),
    ("esmtpname", &["esmtpname"]),
    ("esmtppassword", &["esmtppassword"]),
    ("bad-header", &["bad-header"]),
    ("accept", &["accept"]),
    ("reject", &["reject"]),
    ("user", &["user", "username"]),
    ("password", &["pass", "password"]),
    ("passwordeval", &["passeval", "passwordeval"]),
    ("passwordfile", &["passwordfile"]),
    ("passwordfd", &["passwordfd"]),
    ("folder", &["folder", "folders"]),
    ("smtphost", &["smtp", "smtphost"]),
    ("fetchdomains", &["fetchdomains"]),
    ("smtpaddress", &["smtpaddress"]),
    ("smtpname", &["smtpname"]),
    ("antispam", &["antispam"]),
    ("mda", &["mda"]),
    ("bsmtp", &["bsmtp"]),
    ("lmtp", &["lmtp"]),
    ("preconnect", &["pre", "preconnect"]),
    ("postconnect", &["post", "postconnect"]),
    ("interface", &["interface"]),
    ("monitor", &["monitor"]),
    ("plugin", &["plugin"]),
    ("plugout", &["plugout"]),
    ("batchlimit", &["batchlimit"]),
    ("fetchlimit", &["fetchlimit"]),
    ("fetchsizelimit", &["fetchsizelimit"]),
    ("fastuidl", &["fastuidl"]),
    ("expunge", &["expunge"]),
    ("properties", &["properties"]),
    ("is", &["is"]),
    ("here", &["here"]),
    ("there", &["there"]),
    ("to", &["to"]),
    ("no", &["no"]),
    ("keep", &["keep"]),
    ("flush", &["flush"]),
    ("limitflush", &["limitflush"]),
    ("fetchall", &["fetchall"]),
    ("rewrite", &["rewrite"]),
    ("forcecr", &["forcecr"]),
    ("stripcr", &["stripcr"]),
    ("pass8bits", &["pass8", "pass8bits"]),
    ("dropstatus", &["dropstatus"]),
    ("dropdelivered", &["dropdelivered"]),
    ("mimedecode", &["mimedec", "mimedecode"]),
    ("idle", &["idle"]),
    ("forceidle", &["forceidle"]),
    ("dns", &["dns"]),
    ("uidl", &["uidl"]),
    ("ssl", &["ssl"]),
    ("sslkey", &["sslkey"]),
    ("sslcert", &["sslcert"]),
    ("sslmode", &["sslmode"]),
    ("sslproto", &["sslproto"]),
    ("sslcertck", &["sslcertck"]),
    ("sslcertfile", &["sslcertfile"]),
    ("sslcertpath", &["sslcertpath"]),
    ("sslcommonname", &["sslcommonname"]),
    ("sslfingerprint", &["sslfingerprint"]),
    ("checkalias", &["checkalias"]),
    ("limit", &["limit"]),
    // Protocols: all lower or all upper case, as the lexer has them.
    ("auto", &["auto", "AUTO"]),
    ("pop2", &["pop2", "POP2"]),
    ("sdps", &["sdps", "SDPS"]),
    ("pop3", &["pop3", "POP3"]),
    ("imap", &["imap", "IMAP"]),
    ("apop", &["apop", "APOP"]),
    ("rpop", &["rpop", "RPOP"]),
    ("etrn", &["etrn", "ETRN"]),
    ("odmr", &["odmr", "ODMR"]),
    ("kpop", &["kpop", "KPOP"]),
    // Authentication types (keywords everywhere, as in fetchmail's lexer).
    ("any", &["any"]),
    ("gssapi", &["gssapi"]),
    (
        "kerberos",
        &[
            "kerberos",
            "kerberos4",
            "kerberos_v4",
            "kerberos5",
            "kerberos_v5",
        ],
    ),
    ("ssh", &["ssh"]),
    ("external", &["external"]),
    ("otp", &["otp", "opie"]),
    ("cram-md5", &["cram", "cram-md5"]),
    ("msn", &["msn"]),
    ("ntlm", &["ntlm"]),
    ("oauthbearer", &["oauthbearer"]),
];

/// `no` followed by these may be written as one word (`nokeep`).
const NO_JOINED: &[&str] = &[
    "bouncemail",
    "uidl",
    "checkalias",
    "dns",
    "envelope",
    "keep",
    "flush",
    "limitflush",
    "fetchall",
    "rewrite",
    "forcecr",
    "stripcr",
    "pass8",
    "pass8bits",
    "dropstatus",
    "dropdelivered",
    "mimedec",
    "mimedecode",
    "spambounce",
    "idle",
    "forceidle",
];

const NOISE: &[&str] = &["and", "with", "has", "wants", "options"];

fn keyword(word: &str) -> Option<&'static str> {
    KEYWORDS
        .iter()
        .find(|(_, spellings)| spellings.contains(&word))
        .map(|(k, _)| *k)
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum LexState {
    Initial,
    /// After `user`, `pass`, `is`, `to`, `=`: a bare word is a string.
    Name,
    /// After `auth`: `password` is an authentication type.
    Auth,
}

/// Split the file into tokens.
fn lex(src: &Source) -> Result<Vec<Token>, ImportError> {
    let b = &src.text;
    let mut out = Vec::new();
    let mut i = 0;
    let mut line = 1;
    let mut state = LexState::Initial;
    let is_word_byte =
        |c: u8| !matches!(c, b'=' | b';' | b':' | b',' | b' ' | b'\t' | b'\r' | b'\n');
    while i < b.len() {
        let c = b[i];
        match c {
            b' ' | b'\t' | b'\r' | b';' | b':' | b',' => i += 1,
            b'\n' => {
                line += 1;
                i += 1;
            }
            b'\\' if b.get(i + 1) == Some(&b'\n') => {
                line += 1;
                i += 2;
            }
            b'#' => {
                while i < b.len() && b[i] != b'\n' {
                    i += 1;
                }
            }
            b'=' => {
                out.push(Token {
                    tok: Tok::Map,
                    line,
                });
                state = LexState::Name;
                i += 1;
            }
            b'"' | b'\'' => {
                let start = line;
                let Some(len) = b[i + 1..].iter().position(|&x| x == c) else {
                    return Err(src.error(
                        start,
                        format!(
                            "a string starting with {} is never closed: add the closing {} \
                             (a quoted string may not contain its own quote character; write \
                             it as \\x{:02x})",
                            c as char, c as char, c
                        ),
                    ));
                };
                let raw = &b[i + 1..i + 1 + len];
                line += raw.iter().filter(|&&x| x == b'\n').count();
                out.push(Token {
                    tok: Tok::Str(escapes(raw)),
                    line: start,
                });
                state = LexState::Initial;
                i += len + 2;
            }
            _ => {
                let start = i;
                while i < b.len() && is_word_byte(b[i]) {
                    i += 1;
                }
                let raw = &b[start..i];
                let word = std::str::from_utf8(raw).unwrap_or("");
                if state == LexState::Name {
                    out.push(Token {
                        tok: Tok::Str(escapes(raw)),
                        line,
                    });
                    state = LexState::Initial;
                    continue;
                }
                if NOISE.contains(&word) {
                    continue;
                }
                if state == LexState::Auth && word == "password" {
                    out.push(Token {
                        tok: Tok::Kw("password-auth"),
                        line,
                    });
                    state = LexState::Initial;
                    continue;
                }
                if let Some(rest) = word.strip_prefix("no")
                    && NO_JOINED.contains(&rest)
                    && let Some(k) = keyword(rest)
                {
                    out.push(Token {
                        tok: Tok::Kw("no"),
                        line,
                    });
                    out.push(Token {
                        tok: Tok::Kw(k),
                        line,
                    });
                    continue;
                }
                if let Some(k) = keyword(word) {
                    state = match k {
                        "user" | "password" | "passwordeval" | "is" | "to" => LexState::Name,
                        "auth" => LexState::Auth,
                        _ => LexState::Initial,
                    };
                    out.push(Token {
                        tok: Tok::Kw(k),
                        line,
                    });
                    continue;
                }
                let digits = word.strip_prefix('-').unwrap_or(word);
                if !digits.is_empty() && digits.bytes().all(|d| d.is_ascii_digit()) {
                    let n = word
                        .parse::<i64>()
                        .map_err(|_| src.error(line, format!("the number {word} is too large")))?;
                    out.push(Token {
                        tok: Tok::Num(n),
                        line,
                    });
                    continue;
                }
                out.push(Token {
                    tok: Tok::Str(escapes(raw)),
                    line,
                });
            }
        }
    }
    Ok(out)
}

/// fetchmail's `escapes()`: `\xhh` (up to two hex digits), `\0oo` (up to
/// three octal digits counting the 0), `\nnn` (up to three decimal
/// digits), `\n \t \b \r`, backslash-newline joins lines, `\c` is `c`.
fn escapes(s: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(s.len());
    let mut i = 0;
    while i < s.len() {
        if s[i] != b'\\' {
            out.push(s[i]);
            i += 1;
            continue;
        }
        let Some(&next) = s.get(i + 1) else {
            break;
        };
        i += 1;
        let mut value: u32 = 0;
        let mut count = 0;
        match next {
            b'x' | b'X' => {
                i += 1;
                while count < 2 && i < s.len() && s[i].is_ascii_hexdigit() {
                    value = value * 16 + u32::from(hex_value(s[i]));
                    i += 1;
                    count += 1;
                }
            }
            b'0' => {
                while count < 3 && i < s.len() && (b'0'..=b'7').contains(&s[i]) {
                    value = value * 8 + u32::from(s[i] - b'0');
                    i += 1;
                    count += 1;
                }
            }
            b'1'..=b'9' => {
                while count < 3 && i < s.len() && s[i].is_ascii_digit() {
                    value = value * 10 + u32::from(s[i] - b'0');
                    i += 1;
                    count += 1;
                }
            }
            b'\n' => {
                i += 1;
                continue;
            }
            other => {
                value = u32::from(match other {
                    b'n' => b'\n',
                    b't' => b'\t',
                    b'b' => 0x08,
                    b'r' => b'\r',
                    c => c,
                });
                i += 1;
            }
        }
        // fetchmail stores the value in a char: only the low byte counts.
        out.push((value & 0xff) as u8);
    }
    out
}

fn hex_value(c: u8) -> u8 {
    match c {
        b'0'..=b'9' => c - b'0',
        b'a'..=b'f' => c - b'a' + 10,
        _ => c - b'A' + 10,
    }
}

/// A setting that popfetch does not carry over, with where it was written.
#[derive(Debug, Clone)]
struct Other {
    line: usize,
    text: String,
    reason: String,
}

/// Server options of one entry (`None`: not set here).
#[derive(Debug, Clone, Default)]
struct Server {
    via: Option<String>,
    protocol: Option<&'static str>,
    service: Option<String>,
    auth: Option<&'static str>,
    timeout: Option<i64>,
    others: Vec<Other>,
}

/// User options of one user description.
#[derive(Debug, Clone, Default)]
struct User {
    remote: Option<String>,
    locals: Vec<String>,
    wildcard: bool,
    password: Option<Zeroizing<String>>,
    passwordeval: Option<String>,
    passwordfile: Option<String>,
    smtphosts: Vec<String>,
    smtpaddress: Option<String>,
    smtpname: Option<String>,
    mda: Option<String>,
    bsmtp: Option<String>,
    lmtp: bool,
    keep: Option<bool>,
    flush: Option<bool>,
    fetchall: Option<bool>,
    ssl: Option<bool>,
    sslmode: Option<String>,
    sslproto: Option<String>,
    sslcertck: Option<bool>,
    sslcertfile: Option<String>,
    sslfingerprint: Option<(usize, String)>,
    limit: Option<i64>,
    fetchlimit: Option<i64>,
    others: Vec<Other>,
}

/// One record: a server entry with one user (fetchmail's `struct query`).
#[derive(Debug, Clone)]
struct Record {
    line: usize,
    poll: String,
    skip: bool,
    server: Server,
    user: User,
}

/// Options outside any entry (`set ...`).
#[derive(Debug, Clone, Default)]
struct Globals {
    idfile: Option<String>,
    invisible: bool,
    others: Vec<Other>,
}

/// What a fetchmailrc says.
#[derive(Debug, Clone, Default)]
struct Rc {
    globals: Globals,
    defaults: Option<Record>,
    records: Vec<Record>,
}

struct Parser<'a> {
    src: &'a Source,
    toks: Vec<Token>,
    pos: usize,
}

/// What follows a server option or user option keyword.
enum Arg {
    None,
    Str,
    Num,
    /// One or more strings.
    StrList,
    /// One or more numbers.
    NumList,
}

/// Server options other than those the parser handles itself, with what
/// they take and why popfetch does not carry them over.
static SERVER_OTHERS: &[(&str, Arg, &str)] = &[
    (
        "aka",
        Arg::StrList,
        "multidrop: popfetch delivers a mailbox to one destination",
    ),
    (
        "localdomains",
        Arg::StrList,
        "multidrop: popfetch delivers a mailbox to one destination",
    ),
    (
        "qvirtual",
        Arg::Str,
        "multidrop: popfetch delivers a mailbox to one destination",
    ),
    (
        "principal",
        Arg::Str,
        "Kerberos is not supported by popfetch",
    ),
    (
        "esmtpname",
        Arg::Str,
        "popfetch does not log in to the SMTP server (no SMTP AUTH)",
    ),
    (
        "esmtppassword",
        Arg::Str,
        "popfetch does not log in to the SMTP server (no SMTP AUTH)",
    ),
    (
        "interval",
        Arg::Num,
        "popfetch polls every account each time it runs: give a slower account its own cron line \
         (popfetch NAME)",
    ),
    (
        "interface",
        Arg::Str,
        "popfetch does not watch network interfaces: schedule it with cron or a systemd timer",
    ),
    (
        "monitor",
        Arg::Str,
        "popfetch does not watch network interfaces: schedule it with cron or a systemd timer",
    ),
    (
        "plugin",
        Arg::Str,
        "popfetch connects to the server itself; it cannot run a command for the connection",
    ),
    (
        "plugout",
        Arg::Str,
        "popfetch connects to the SMTP or LMTP server itself; it cannot run a command for it",
    ),
    (
        "idletimeout",
        Arg::Num,
        "IMAP IDLE only; popfetch speaks POP3",
    ),
];

/// User options other than those the parser handles itself.
static USER_OTHERS: &[(&str, Arg, &str)] = &[
    (
        "folder",
        Arg::StrList,
        "POP3 has one mailbox; folders are IMAP's",
    ),
    (
        "fetchdomains",
        Arg::StrList,
        "ETRN/ODMR only; popfetch speaks POP3",
    ),
    (
        "antispam",
        Arg::NumList,
        "popfetch never deletes a message the mail server refused: it stays on the POP3 server \
         and is reported",
    ),
    (
        "preconnect",
        Arg::Str,
        "popfetch runs no command before connecting: run it from a script that does",
    ),
    (
        "postconnect",
        Arg::Str,
        "popfetch runs no command after the session: run it from a script that does",
    ),
    (
        "limitflush",
        Arg::None,
        "popfetch never deletes a message it has not delivered; messages over max_size stay on \
         the server and are reported",
    ),
    (
        "rewrite",
        Arg::None,
        "popfetch delivers messages unchanged (only its Received: header is added)",
    ),
    (
        "forcecr",
        Arg::None,
        "popfetch writes LF line ends to Maildir, mbox and MDA",
    ),
    (
        "stripcr",
        Arg::None,
        "popfetch writes LF line ends to Maildir, mbox and MDA",
    ),
    (
        "pass8bits",
        Arg::None,
        "popfetch sends BODY=8BITMIME when a message has 8-bit bytes and the server offers it; \
         messages are delivered byte for byte",
    ),
    (
        "dropstatus",
        Arg::None,
        "popfetch delivers messages unchanged (only its Received: header is added)",
    ),
    (
        "dropdelivered",
        Arg::None,
        "popfetch delivers messages unchanged (only its Received: header is added)",
    ),
    (
        "mimedecode",
        Arg::None,
        "popfetch delivers messages unchanged (only its Received: header is added)",
    ),
    ("idle", Arg::None, "IMAP IDLE only; popfetch speaks POP3"),
    (
        "forceidle",
        Arg::None,
        "IMAP IDLE only; popfetch speaks POP3",
    ),
    (
        "sslkey",
        Arg::Str,
        "client certificates are not supported by this version of popfetch",
    ),
    (
        "sslcert",
        Arg::Str,
        "client certificates are not supported by this version of popfetch",
    ),
    (
        "sslcertpath",
        Arg::Str,
        "popfetch takes a file of CA certificates (tls_ca_file), not a directory; without it the \
         system's trusted CAs are used",
    ),
    (
        "sslcommonname",
        Arg::Str,
        "popfetch checks the certificate against the host name it connects to",
    ),
    (
        "warnings",
        Arg::Num,
        "popfetch sends no warning mail; messages over max_size are named in each run's summary",
    ),
    (
        "batchlimit",
        Arg::Num,
        "popfetch keeps one SMTP or LMTP connection for the whole run",
    ),
    (
        "fetchsizelimit",
        Arg::Num,
        "tuning of fetchmail's LIST; popfetch lists the mailbox in one round trip",
    ),
    (
        "fastuidl",
        Arg::Num,
        "tuning of fetchmail's UIDL search; popfetch lists every UID in one round trip",
    ),
    (
        "expunge",
        Arg::Num,
        "popfetch commits deletions once per session (commit_every is not available yet)",
    ),
    ("properties", Arg::Str, "ignored by fetchmail as well"),
    (
        "passwordfd",
        Arg::Num,
        "popfetch reads no password from a file descriptor: use password_command",
    ),
];

fn arg_of(
    table: &'static [(&str, Arg, &'static str)],
    kw: &str,
) -> Option<(&'static Arg, &'static str)> {
    table
        .iter()
        .find(|(k, _, _)| *k == kw)
        .map(|(_, a, r)| (a, *r))
}

fn show(tok: &Tok) -> String {
    match tok {
        Tok::Kw(k) => (*k).to_string(),
        Tok::Str(s) => format!("\"{}\"", String::from_utf8_lossy(s)),
        Tok::Num(n) => n.to_string(),
        Tok::Map => "=".to_string(),
    }
}

impl Parser<'_> {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.pos).map(|t| &t.tok)
    }

    fn peek2(&self) -> Option<&Tok> {
        self.toks.get(self.pos + 1).map(|t| &t.tok)
    }

    /// The line of the next token (or of the last one, at the end).
    fn line(&self) -> usize {
        self.toks
            .get(self.pos)
            .or(self.toks.last())
            .map_or(1, |t| t.line)
    }

    fn next(&mut self) -> Option<Tok> {
        let t = self.toks.get(self.pos).map(|t| t.tok.clone());
        self.pos += 1;
        t
    }

    fn unexpected(&self, expected: &str) -> ImportError {
        let found = match self.peek() {
            Some(t) => show(t),
            None => "the end of the file".to_string(),
        };
        self.src.error(
            self.line(),
            format!("found {found} where {expected} was expected"),
        )
    }

    fn string(&mut self, after: &str) -> Result<String, ImportError> {
        match self.peek() {
            Some(Tok::Str(s)) => {
                let line = self.line();
                let s = s.clone();
                self.pos += 1;
                utf8(self.src, line, s)
            }
            _ => Err(self.unexpected(&format!(
                "a string after {after} (quote it if it is a keyword)"
            ))),
        }
    }

    fn number(&mut self, after: &str) -> Result<i64, ImportError> {
        match self.peek() {
            Some(Tok::Num(n)) => {
                let n = *n;
                self.pos += 1;
                Ok(n)
            }
            _ => Err(self.unexpected(&format!("a number after {after}"))),
        }
    }

    fn strings(&mut self, after: &str) -> Result<Vec<String>, ImportError> {
        let mut v = vec![self.string(after)?];
        while matches!(self.peek(), Some(Tok::Str(_))) {
            v.push(self.string(after)?);
        }
        Ok(v)
    }

    fn parse(mut self) -> Result<Rc, ImportError> {
        let mut rc = Rc::default();
        while let Some(tok) = self.peek().cloned() {
            match tok {
                Tok::Kw("set") => {
                    self.pos += 1;
                    self.global(&mut rc.globals)?;
                }
                Tok::Kw("poll" | "skip" | "defaults") => {
                    let line = self.line();
                    self.pos += 1;
                    let (poll, skip) = match tok {
                        Tok::Kw("defaults") => ("defaults".to_string(), false),
                        _ => (self.string("poll or skip")?, tok == Tok::Kw("skip")),
                    };
                    let records = self.entry(line, poll, skip)?;
                    if tok == Tok::Kw("defaults") {
                        if rc.defaults.is_some() || !rc.records.is_empty() {
                            return Err(self.src.error(
                                line,
                                "a defaults entry must be the first entry, and there may be only \
                                 one: merge it into the first",
                            ));
                        }
                        rc.defaults = records.into_iter().next();
                    } else {
                        rc.records.extend(records);
                    }
                }
                _ => {
                    return Err(self.unexpected(
                        "an entry (poll NAME, skip NAME or defaults) or a global option (set ...)",
                    ));
                }
            }
        }
        Ok(rc)
    }

    fn global(&mut self, g: &mut Globals) -> Result<(), ImportError> {
        let line = self.line();
        let negated = self.peek() == Some(&Tok::Kw("no"));
        if negated {
            self.pos += 1;
        }
        let no = if negated { "no " } else { "" };
        let kw = match self.peek() {
            Some(Tok::Kw(k)) => *k,
            _ => {
                return Err(
                    self.unexpected("a global option after set (daemon, logfile, idfile...)")
                );
            }
        };
        self.pos += 1;
        if self.peek() == Some(&Tok::Map) && !negated {
            self.pos += 1;
        }
        let (text, reason) = match (negated, kw) {
            (false, "idfile") => {
                g.idfile = Some(self.string("set idfile")?);
                return Ok(());
            }
            (_, "invisible") => {
                g.invisible = !negated;
                if !negated {
                    return Ok(());
                }
                (
                    "no invisible".to_string(),
                    "popfetch adds its Received: header (the default)".to_string(),
                )
            }
            (false, "daemon") => {
                let n = self.number("set daemon")?;
                (
                    format!("daemon {n}"),
                    format!(
                        "popfetch does not stay running: run `popfetch -q` from cron or a \
                         systemd timer every {n} seconds"
                    ),
                )
            }
            (false, "logfile") => (
                format!("logfile {:?}", self.string("set logfile")?),
                "popfetch writes no log file yet: its summary goes to stderr (cron mails it; \
                 redirect it to a file)"
                    .to_string(),
            ),
            (false, "pidfile") => (
                format!("pidfile {:?}", self.string("set pidfile")?),
                "popfetch locks each mailbox in its state directory instead".to_string(),
            ),
            (false, "postmaster") => (
                format!("postmaster {:?}", self.string("set postmaster")?),
                "popfetch sends no mail: an undeliverable message stays on the server and the \
                 run fails"
                    .to_string(),
            ),
            (false, "properties") => (
                format!("properties {:?}", self.string("set properties")?),
                "ignored by fetchmail as well".to_string(),
            ),
            (_, "syslog") => (
                format!("{no}syslog"),
                "popfetch does not log to syslog: its summary goes to stderr".to_string(),
            ),
            (_, "showdots") => (
                format!("{no}showdots"),
                "popfetch draws progress bars on a terminal (--progress)".to_string(),
            ),
            (_, k @ ("bouncemail" | "spambounce" | "softbounce")) => (
                format!("{no}{k}"),
                "popfetch sends no bounces: an undeliverable message stays on the server and the \
                 run fails"
                    .to_string(),
            ),
            _ => {
                self.pos -= 1;
                return Err(
                    self.unexpected("a global option after set (daemon, logfile, idfile...)")
                );
            }
        };
        g.others.push(Other {
            line,
            text: format!("set {text}"),
            reason,
        });
        Ok(())
    }

    /// `poll NAME` (already read) and the rest of the entry: one record per
    /// user description, or one for the entry when there is none.
    fn entry(&mut self, line: usize, poll: String, skip: bool) -> Result<Vec<Record>, ImportError> {
        let mut server = Server::default();
        while self.server_option(&mut server)? {}
        let mut records = Vec::new();
        let record = |server: &Server, user: User, line: usize| Record {
            line,
            poll: poll.clone(),
            skip,
            server: server.clone(),
            user,
        };
        if self.peek() == Some(&Tok::Kw("user")) {
            while self.peek() == Some(&Tok::Kw("user")) {
                let uline = self.line();
                self.pos += 1;
                let mut user = User::default();
                self.user_description(&mut user)?;
                while self.user_option(&mut user)? {}
                records.push(record(&server, user, uline));
            }
        } else {
            let mut user = User::default();
            while self.user_option(&mut user)? {}
            records.push(record(&server, user, line));
        }
        if self.is_server_option() {
            return Err(self.src.error(
                self.line(),
                format!(
                    "server option {} after user options: fetchmail wants server options right \
                     after poll NAME, before the first user",
                    self.peek().map(show).unwrap_or_default()
                ),
            ));
        }
        if !matches!(
            self.peek(),
            None | Some(Tok::Kw("poll" | "skip" | "defaults" | "set"))
        ) {
            return Err(self.unexpected(
                "a user option, another user (user NAME) or a new entry (poll, skip, set)",
            ));
        }
        Ok(records)
    }

    fn is_server_option(&self) -> bool {
        match self.peek() {
            Some(Tok::Kw("no")) => matches!(
                self.peek2(),
                Some(Tok::Kw(
                    "uidl" | "checkalias" | "dns" | "envelope" | "tracepolls"
                ))
            ),
            Some(Tok::Kw(k)) => {
                matches!(
                    *k,
                    "via"
                        | "protocol"
                        | "service"
                        | "port"
                        | "auth"
                        | "timeout"
                        | "envelope"
                        | "uidl"
                        | "checkalias"
                        | "dns"
                        | "tracepolls"
                        | "bad-header"
                ) || arg_of(SERVER_OTHERS, k).is_some()
            }
            _ => false,
        }
    }

    /// One server option; `false` when the next token is none.
    fn server_option(&mut self, s: &mut Server) -> Result<bool, ImportError> {
        if !self.is_server_option() {
            return Ok(false);
        }
        let line = self.line();
        let Some(Tok::Kw(kw)) = self.next() else {
            return Ok(false);
        };
        let (text, reason): (String, &str) = match kw {
            "via" => {
                s.via = Some(self.string("via")?);
                return Ok(true);
            }
            "protocol" => match self.peek() {
                Some(Tok::Kw(
                    p @ ("auto" | "pop2" | "pop3" | "imap" | "apop" | "rpop" | "etrn" | "odmr"
                    | "kpop" | "sdps"),
                )) => {
                    s.protocol = Some(p);
                    self.pos += 1;
                    return Ok(true);
                }
                _ => return Err(self.unexpected("a protocol (pop3, apop, imap, auto...)")),
            },
            "service" => {
                s.service = Some(match self.peek() {
                    Some(Tok::Num(_)) => self.number("service")?.to_string(),
                    _ => self.string("service")?,
                });
                return Ok(true);
            }
            "port" => {
                s.service = Some(self.number("port")?.to_string());
                return Ok(true);
            }
            "auth" => match self.peek() {
                Some(Tok::Kw(
                    a @ ("any" | "password-auth" | "gssapi" | "kerberos" | "ssh" | "external"
                    | "otp" | "cram-md5" | "msn" | "ntlm" | "apop" | "oauthbearer"),
                )) => {
                    s.auth = Some(a);
                    self.pos += 1;
                    return Ok(true);
                }
                _ => {
                    return Err(self.unexpected(
                        "an authentication type (any, password, cram-md5, gssapi...)",
                    ));
                }
            },
            "timeout" => {
                s.timeout = Some(self.number("timeout")?);
                return Ok(true);
            }
            "envelope" => {
                let skip = match self.peek() {
                    Some(Tok::Num(_)) => format!("{} ", self.number("envelope")?),
                    _ => String::new(),
                };
                let h = self.string("envelope")?;
                (
                    format!("envelope {skip}{h:?}"),
                    "multidrop: popfetch delivers a mailbox to one destination",
                )
            }
            "no" => match self.next() {
                Some(Tok::Kw(k)) => (format!("no {k}"), server_flag_reason(k)),
                _ => return Ok(false),
            },
            "uidl" | "checkalias" | "dns" | "tracepolls" => {
                (kw.to_string(), server_flag_reason(kw))
            }
            "bad-header" => match self.peek() {
                Some(Tok::Kw(v @ ("accept" | "reject"))) => {
                    let v = *v;
                    self.pos += 1;
                    (
                        format!("bad-header {v}"),
                        "popfetch delivers every message byte for byte, whatever its header",
                    )
                }
                _ => return Err(self.unexpected("accept or reject after bad-header")),
            },
            k => {
                let (arg, reason) = arg_of(SERVER_OTHERS, k).unwrap_or((&Arg::None, ""));
                (self.option_text(k, arg)?, reason)
            }
        };
        s.others.push(Other {
            line,
            text,
            reason: reason.to_string(),
        });
        Ok(true)
    }

    /// The option `k` and its argument as written, for a comment.
    fn option_text(&mut self, k: &str, arg: &Arg) -> Result<String, ImportError> {
        Ok(match arg {
            Arg::None => k.to_string(),
            Arg::Str => format!("{k} {:?}", self.string(k)?),
            Arg::Num => format!("{k} {}", self.number(k)?),
            Arg::StrList => {
                let v: Vec<String> = self.strings(k)?.iter().map(|s| format!("{s:?}")).collect();
                format!("{k} {}", v.join(" "))
            }
            Arg::NumList => {
                let mut v = vec![self.number(k)?.to_string()];
                while matches!(self.peek(), Some(Tok::Num(_))) {
                    v.push(self.number(k)?.to_string());
                }
                format!("{k} {}", v.join(" "))
            }
        })
    }

    /// What follows `user`: `NAME`, `NAME there`, or `NAME... here`.
    fn user_description(&mut self, u: &mut User) -> Result<(), ImportError> {
        let start = self.pos;
        let (names, wildcard) = self.mapping_list("user")?;
        match self.peek() {
            Some(Tok::Kw("here")) => {
                self.pos += 1;
                u.locals.extend(names);
                u.wildcard |= wildcard;
            }
            Some(Tok::Kw("there")) if names.len() == 1 => {
                self.pos += 1;
                u.remote = names.into_iter().next();
            }
            _ if names.len() == 1 && !names[0].contains('=') && !wildcard => {
                u.remote = names.into_iter().next();
            }
            _ => {
                // Point at the word after the first name: a misspelt option
                // more often than a list of local names without `here`.
                self.pos = start
                    + if self.toks.get(start + 1).map(|t| &t.tok) == Some(&Tok::Map) {
                        3
                    } else {
                        1
                    };
                return Err(self.unexpected(
                    "a user option (password, keep, mda...), or here after a list of local names",
                ));
            }
        }
        Ok(())
    }

    /// Names for `is`, `to` or `user`: `NAME` or `SERVERNAME = LOCALNAME`,
    /// one or more; `*` passes unknown names through (the bool).
    fn mapping_list(&mut self, after: &str) -> Result<(Vec<String>, bool), ImportError> {
        let mut names = Vec::new();
        let mut wildcard = false;
        loop {
            let name = self.string(after)?;
            if self.peek() == Some(&Tok::Map) {
                self.pos += 1;
                let local = self.string("=")?;
                names.push(format!("{name}={local}"));
            } else if name == "*" {
                wildcard = true;
            } else {
                names.push(name);
            }
            if !matches!(self.peek(), Some(Tok::Str(_))) {
                return Ok((names, wildcard));
            }
        }
    }

    /// One user option; `false` when the next token is none.
    fn user_option(&mut self, u: &mut User) -> Result<bool, ImportError> {
        let line = self.line();
        let Some(Tok::Kw(kw)) = self.peek().cloned() else {
            return Ok(false);
        };
        let negated = kw == "no";
        let kw = if negated {
            match self.peek2() {
                Some(Tok::Kw(k)) => *k,
                _ => return Ok(false),
            }
        } else {
            kw
        };
        let flag = !negated;
        let known = matches!(
            kw,
            "is" | "to"
                | "password"
                | "passwordeval"
                | "passwordfile"
                | "smtphost"
                | "smtpaddress"
                | "smtpname"
                | "mda"
                | "bsmtp"
                | "lmtp"
                | "keep"
                | "flush"
                | "fetchall"
                | "ssl"
                | "sslmode"
                | "sslproto"
                | "sslcertck"
                | "sslcertfile"
                | "sslfingerprint"
                | "limit"
                | "fetchlimit"
        ) || arg_of(USER_OTHERS, kw).is_some();
        if !known {
            return Ok(false);
        }
        self.pos += if negated { 2 } else { 1 };
        match kw {
            "is" | "to" => {
                let (names, wildcard) = self.mapping_list(kw)?;
                match self.peek() {
                    Some(Tok::Kw("there")) if names.len() == 1 => {
                        self.pos += 1;
                        u.remote = names.into_iter().next();
                    }
                    Some(Tok::Kw("here")) => {
                        self.pos += 1;
                        u.locals.extend(names);
                        u.wildcard |= wildcard;
                    }
                    _ => {
                        u.locals.extend(names);
                        u.wildcard |= wildcard;
                    }
                }
            }
            "password" => u.password = Some(Zeroizing::new(self.string("password")?)),
            "passwordeval" => u.passwordeval = Some(self.string("passwordeval")?),
            "passwordfile" => u.passwordfile = Some(self.string("passwordfile")?),
            "smtphost" => u.smtphosts = self.strings("smtphost")?,
            "smtpaddress" => u.smtpaddress = Some(self.string("smtpaddress")?),
            "smtpname" => u.smtpname = Some(self.string("smtpname")?),
            "mda" => u.mda = Some(self.string("mda")?),
            "bsmtp" => u.bsmtp = Some(self.string("bsmtp")?),
            "lmtp" => u.lmtp = true,
            "keep" => u.keep = Some(flag),
            "flush" => u.flush = Some(flag),
            "fetchall" => u.fetchall = Some(flag),
            "ssl" => u.ssl = Some(flag),
            "sslmode" => u.sslmode = Some(self.string("sslmode")?),
            "sslproto" => u.sslproto = Some(self.string("sslproto")?),
            "sslcertck" => u.sslcertck = Some(flag),
            "sslcertfile" => u.sslcertfile = Some(self.string("sslcertfile")?),
            "sslfingerprint" => u.sslfingerprint = Some((line, self.string("sslfingerprint")?)),
            "limit" => u.limit = Some(self.number("limit")?),
            "fetchlimit" => u.fetchlimit = Some(self.number("fetchlimit")?),
            k => {
                let (arg, reason) = arg_of(USER_OTHERS, k).unwrap_or((&Arg::None, ""));
                let text = if negated {
                    format!("no {k}")
                } else {
                    self.option_text(k, arg)?
                };
                u.others.push(Other {
                    line,
                    text,
                    reason: reason.to_string(),
                });
            }
        }
        Ok(true)
    }
}

fn server_flag_reason(k: &str) -> &'static str {
    match k {
        "uidl" => "popfetch always tracks messages by their UIDL",
        "tracepolls" => "popfetch's Received: header names the server and user, not the entry",
        _ => "multidrop: popfetch delivers a mailbox to one destination",
    }
}

fn utf8(src: &Source, line: usize, bytes: Vec<u8>) -> Result<String, ImportError> {
    String::from_utf8(bytes).map_err(|_| {
        src.error(
            line,
            "this string is not UTF-8 (after fetchmail's escapes); popfetch's configuration is \
             UTF-8: write the value in UTF-8",
        )
    })
}

/// Parse a fetchmailrc.
fn parse(src: &Source) -> Result<Rc, ImportError> {
    Parser {
        src,
        toks: lex(src)?,
        pos: 0,
    }
    .parse()
}

/// Fill what `r` leaves unset from the `defaults` entry (fetchmail's
/// `optmerge` without force).
fn merge_defaults(r: &mut Record, d: &Record) {
    macro_rules! fill {
        ($($part:ident . $field:ident),*) => {$(
            if r.$part.$field.is_none() {
                r.$part.$field = d.$part.$field.clone();
            }
        )*};
    }
    fill!(
        server.via,
        server.protocol,
        server.service,
        server.auth,
        server.timeout,
        user.remote,
        user.password,
        user.passwordeval,
        user.passwordfile,
        user.smtpaddress,
        user.smtpname,
        user.mda,
        user.bsmtp,
        user.keep,
        user.flush,
        user.fetchall,
        user.ssl,
        user.sslmode,
        user.sslproto,
        user.sslcertck,
        user.sslcertfile,
        user.sslfingerprint,
        user.limit,
        user.fetchlimit
    );
    if r.user.locals.is_empty() && !r.user.wildcard {
        r.user.locals = d.user.locals.clone();
        r.user.wildcard = d.user.wildcard;
    }
    if r.user.smtphosts.is_empty() {
        r.user.smtphosts = d.user.smtphosts.clone();
    }
    r.user.lmtp |= d.user.lmtp;
    let mut server_others = d.server.others.clone();
    server_others.append(&mut r.server.others);
    r.server.others = server_others;
    let mut user_others = d.user.others.clone();
    user_others.append(&mut r.user.others);
    r.user.others = user_others;
}

/// fetchmail's `prependdir`: a relative file name is taken from the rc
/// file's directory.
fn prepend_dir(file: &str, rc: &Path) -> String {
    let dir = rc.parent().filter(|d| !d.as_os_str().is_empty());
    match dir {
        Some(d) if !file.is_empty() && !file.starts_with('/') && file != "-" => {
            d.join(file).display().to_string()
        }
        _ => file.to_string(),
    }
}

/// The port named by `service`/`port`: a number or a service name.
fn service_port(s: &str) -> Option<u16> {
    match s {
        "pop3" | "pop-3" => Some(110),
        "pop3s" => Some(995),
        n => n.parse().ok().filter(|p| *p != 0),
    }
}

/// An `smtphost` entry (`host`, `host/port`, or for LMTP a socket path)
/// as popfetch's `smtp` or `lmtp` value; `None` when popfetch cannot say
/// it (LMTP without a port, which fetchmail refuses too; a socket for
/// SMTP).
fn relay_server(entry: &str, lmtp: bool) -> Option<String> {
    if entry.starts_with('/') {
        return lmtp.then(|| format!("unix:{entry}"));
    }
    let (host, port) = match entry.split_once('/') {
        Some((h, p)) => (h, Some(p)),
        None => (entry, None),
    };
    let port = match port {
        Some("smtp") => 25,
        Some("lmtp") => 24,
        Some(p) => p.parse::<u16>().ok().filter(|p| *p != 0)?,
        None if lmtp => return None,
        None => 25,
    };
    if host.is_empty() {
        return None;
    }
    Some(if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    })
}

/// Read a fetchmailrc into accounts.
pub(super) fn import(src: &Source, env: &Env) -> Result<Imported, ImportError> {
    let rc = parse(src)?;
    let idfile: PathBuf = match &rc.globals.idfile {
        Some(f) => prepend_dir(f, &src.path).into(),
        None => match &env.fetchmail_home {
            Some(h) => h.join(".fetchids"),
            None => env
                .home
                .as_ref()
                .map(|h| h.join(".fetchids"))
                .unwrap_or_else(|| PathBuf::from(".fetchids")),
        },
    };
    let users_per_poll = |poll: &str| rc.records.iter().filter(|r| r.poll == poll).count();
    let mut accounts = Vec::new();
    for record in &rc.records {
        let mut r = record.clone();
        if let Some(d) = &rc.defaults {
            merge_defaults(&mut r, d);
        }
        let mut a = account(src, env, &r, &rc.globals, &idfile)?;
        a.name = if users_per_poll(&r.poll) > 1 {
            format!("{}-{}", r.poll, a.user)
        } else {
            r.poll.clone()
        };
        accounts.push(a);
    }
    let notes = rc
        .globals
        .others
        .iter()
        .map(|o| super::Note {
            at: src.at(o.line),
            option: o.text.clone(),
            reason: o.reason.clone(),
        })
        .collect();
    Ok(Imported {
        peer: Peer::Fetchmailrc,
        files: vec![src.path.clone()],
        accounts,
        notes,
    })
}

/// One record in popfetch's terms.
fn account(
    src: &Source,
    env: &Env,
    r: &Record,
    g: &Globals,
    idfile: &Path,
) -> Result<Account, ImportError> {
    let at = src.at(r.line);
    let s = &r.server;
    let u = &r.user;
    let host = s.via.clone().unwrap_or_else(|| r.poll.clone());
    let (user, user_defaulted) = match (&u.remote, &env.user) {
        (Some(name), _) => (name.clone(), false),
        (None, Some(me)) => (me.clone(), true),
        (None, None) => {
            return Err(src.error(
                r.line,
                format!(
                    "entry {} names no user and the login name is unknown: add user NAME",
                    r.poll
                ),
            ));
        }
    };

    // TLS, fetchmail 6.4 style (ssl, sslproto, sslcertck) or 7.0 (sslmode).
    let mut notes: Vec<(String, String)> = Vec::new();
    let tls = match (u.sslmode.as_deref(), u.ssl) {
        (Some(mode), _) => match mode.to_ascii_lowercase().as_str() {
            "wrapped" => TlsMode::Implicit,
            "starttls=must" => TlsMode::Starttls,
            "starttls=may" => {
                notes.push((
                    format!("sslmode {mode:?}"),
                    "popfetch never falls back to plaintext: tls = \"starttls\" fails when the \
                     server does not offer STLS"
                        .into(),
                ));
                TlsMode::Starttls
            }
            "none" => TlsMode::None,
            _ => {
                return Err(src.error(
                    r.line,
                    format!(
                        "sslmode {mode:?} is not one of wrapped, starttls=must, starttls=may, none"
                    ),
                ));
            }
        },
        (None, Some(true)) => TlsMode::Implicit,
        (None, _) => match u.sslproto.as_deref() {
            Some("") => TlsMode::None,
            Some(_) => TlsMode::Starttls,
            None if u.sslcertck == Some(false) => {
                notes.push((
                    "no sslcertck".into(),
                    "fetchmail tried STLS and went on without TLS if it failed; popfetch requires \
                     STLS (tls = \"starttls\") and always verifies the certificate: give \
                     tls_ca_file or pin tls_fingerprint (popfetch serverinfo prints it)"
                        .into(),
                ));
                TlsMode::Starttls
            }
            None => TlsMode::Starttls,
        },
    };
    if let Some(p) = &u.sslproto
        && !p.is_empty()
    {
        notes.push((
            format!("sslproto {p:?}"),
            "popfetch negotiates TLS 1.2 or newer by itself".into(),
        ));
    }
    if u.sslcertck == Some(false) && !notes.iter().any(|(o, _)| o == "no sslcertck") {
        notes.push((
            "no sslcertck".into(),
            "popfetch always verifies the certificate: give tls_ca_file or pin tls_fingerprint \
             (popfetch serverinfo prints it)"
                .into(),
        ));
    }

    let port = match &s.service {
        Some(svc) => match service_port(svc) {
            Some(p) => p,
            None => {
                notes.push((
                    format!("service {svc:?}"),
                    "not a port number or a POP3 service name; the default port is used".into(),
                ));
                tls.default_port()
            }
        },
        None => tls.default_port(),
    };

    let state = PeerState::Fetchmail {
        idfile: idfile.to_path_buf(),
        user: user.clone(),
        host: host.clone(),
    };
    let mut a = Account::new(host, port, tls, user, state);
    a.origin = at.clone();
    a.described = format!(
        "{} {}{}",
        if r.skip { "skip" } else { "poll" },
        r.poll,
        u.remote
            .as_ref()
            .map(|n| format!(", user {n}"))
            .unwrap_or_default()
    );
    for (option, reason) in notes {
        a.note(at.clone(), option, reason);
    }
    if r.skip {
        a.disabled = Some(
            "fetchmail skips this entry unless it is named on the command line; uncomment it to \
             fetch it with the others"
                .into(),
        );
    }
    if user_defaulted {
        a.remarks.push(format!(
            "the entry names no user: fetchmail logs in as the local user {:?}",
            a.user
        ));
    }
    if tls == TlsMode::None {
        a.remarks.push(
            "fetchmail was told not to use TLS (sslproto \"\" or sslmode none): popfetch will send \
             the password unencrypted only because allow_plaintext = true says so; use tls = \
             \"starttls\" if the server offers STLS"
                .into(),
        );
    }

    // Protocol and authentication.
    match s.protocol {
        None | Some("auto") => {
            if s.protocol.is_some() {
                a.note(
                    at.clone(),
                    "protocol auto",
                    "fetchmail tried IMAP first; popfetch speaks POP3",
                );
            }
        }
        Some("pop3") => {}
        Some("apop") => a.auth = Some(AuthChoice::Apop),
        Some("sdps") => a.note(
            at.clone(),
            "protocol sdps",
            "Demon's SDPS extension is not supported; plain POP3 is used",
        ),
        Some("rpop") => a.note(
            at.clone(),
            "protocol rpop",
            "RPOP is obsolete; popfetch logs in with a password",
        ),
        Some(p) => {
            a.disabled = Some(format!(
                "protocol {p}: popfetch speaks POP3 only, so this entry cannot be imported"
            ));
        }
    }
    match s.auth {
        None | Some("any") => {}
        Some("password-auth") => a.auth = Some(AuthChoice::User),
        Some("cram-md5") => a.auth = Some(AuthChoice::CramMd5),
        Some("apop") => a.auth = Some(AuthChoice::Apop),
        Some("oauthbearer") => {
            a.auth = Some(AuthChoice::Oauthbearer);
            a.note(
                at.clone(),
                "auth oauthbearer",
                "fetchmail 7 falls back to XOAUTH2; popfetch uses exactly what auth says: set \
                 auth = \"xoauth2\" if the server offers only that",
            );
        }
        Some(k) => a.note(
            at.clone(),
            format!("auth {k}"),
            "not supported by popfetch; auth = \"auto\" (the strongest password method the \
             server offers) is used instead",
        ),
    }
    if let Some(t) = s.timeout {
        if t > 0 {
            a.timeout = Some(t as u64);
        } else {
            a.note(
                at.clone(),
                format!("timeout {t}"),
                "popfetch always has a timeout (default 60 seconds)",
            );
        }
    }

    // Password.
    if let Some(pw) = &u.password {
        a.password = Some(Password::Literal(pw.clone()));
    } else if let Some(cmd) = &u.passwordeval {
        a.password = Some(Password::Command(CommandSpec::Shell(cmd.clone())));
    } else if let Some(file) = &u.passwordfile {
        a.password = Some(Password::Command(CommandSpec::Argv(vec![
            "head".into(),
            "-n".into(),
            "1".into(),
            file.clone(),
        ])));
    }

    // TLS trust.
    if let Some(f) = &u.sslcertfile {
        a.tls_ca_file = Some(prepend_dir(f, &src.path));
    }
    if let Some((line, fp)) = &u.sslfingerprint {
        a.note(
            src.at(*line),
            format!("sslfingerprint {fp:?}"),
            "fetchmail pins an MD5 fingerprint, which cannot be turned into popfetch's SHA-256 \
             pin: run `popfetch serverinfo NAME` and copy the sha256 fingerprint it prints into \
             tls_fingerprint",
        );
    }

    // Policy.
    a.keep = u.keep.unwrap_or(false);
    a.fetch_all = u.fetchall.unwrap_or(false);
    if u.flush == Some(true) {
        a.note(
            at.clone(),
            "flush",
            "popfetch never deletes a message it has not delivered; with keep = false it deletes \
             each message once delivered",
        );
    }
    if let Some(n) = u.limit.filter(|n| *n > 0) {
        a.max_size = Some(n as u64);
    }
    if let Some(n) = u.fetchlimit.filter(|n| *n > 0) {
        a.max_messages = Some(n as u64);
    }
    if g.invisible {
        a.received_header = Some(false);
    }

    // Destination.
    let local = u
        .locals
        .first()
        .map(|l| l.split('=').next_back().unwrap_or(l).to_string())
        .or_else(|| env.user.clone())
        .unwrap_or_else(|| a.user.clone());
    if u.locals.len() > 1 || u.wildcard {
        a.note(
            at.clone(),
            format!(
                "is {}{}",
                u.locals.join(" "),
                if u.wildcard { " *" } else { "" }
            ),
            format!(
                "multidrop: popfetch delivers a mailbox to one destination; every message goes to \
                 {local:?}"
            ),
        );
    }
    if let Some(mda) = &u.mda {
        a.set_dest(Dest::Mda(CommandSpec::Shell(mda_template(
            mda,
            &[("%F", Subst::Sender), ("%T", Subst::Value(&local))],
            true,
        ))));
    } else if let Some(file) = &u.bsmtp {
        a.note(
            at.clone(),
            format!("bsmtp {file:?}"),
            "popfetch does not write BSMTP batches; choose a destination (maildir, mbox or mda) \
             for this account",
        );
    } else {
        // fetchmail's hand-off: SMTP to each smtphost in turn (default
        // localhost, port 25), or LMTP with `lmtp`.
        let first = u.smtphosts.first().map(String::as_str);
        let server = relay_server(first.unwrap_or("localhost"), u.lmtp).map(|s| {
            if first.is_none() {
                "127.0.0.1:25".to_string()
            } else {
                s
            }
        });
        // fetchmail's RCPT TO: smtpname, else the local name @ smtpaddress,
        // else @ the SMTP host (localhost for a socket).
        let domain = match (&u.smtpaddress, first) {
            (Some(d), _) => d.clone(),
            (None, Some(h)) if !h.starts_with('/') => h.split('/').next().unwrap_or(h).to_string(),
            (None, _) => "localhost".to_string(),
        };
        let recipient = u
            .smtpname
            .clone()
            .unwrap_or_else(|| format!("{local}@{domain}"));
        let server = server.filter(|s| {
            crate::account::parse_server(s, !u.lmtp).is_ok()
                && crate::account::check_recipient(&recipient).is_ok()
        });
        match server {
            Some(server) => {
                if u.smtphosts.len() > 1 {
                    a.note(
                        at.clone(),
                        format!("smtphost {}", u.smtphosts.join(" ")),
                        format!(
                            "popfetch hands mail to one server: only {server:?} is used, not \
                             the others in turn"
                        ),
                    );
                }
                a.set_dest(if u.lmtp {
                    Dest::Lmtp {
                        server,
                        recipient: Some(recipient),
                    }
                } else {
                    Dest::Smtp {
                        server,
                        recipient: Some(recipient),
                    }
                });
            }
            None => a.note(
                at.clone(),
                format!(
                    "{}smtphost {}",
                    if u.lmtp { "lmtp " } else { "" },
                    first.unwrap_or_default()
                ),
                "popfetch cannot reach this server: LMTP needs host/port or a socket path, SMTP \
                 a host; choose a destination for this account",
            ),
        }
    }
    for o in r.server.others.iter().chain(&u.others) {
        a.note(src.at(o.line), o.text.clone(), o.reason.clone());
    }
    if a.password.is_none() {
        a.remarks.push(
            "no password in the file: like fetchmail, popfetch looks in ~/.netrc, then asks on the \
             terminal (under cron there is none: add password_command)"
                .into(),
        );
    }
    Ok(a)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn src(text: &str) -> Source {
        Source {
            path: "/home/a/.fetchmailrc".into(),
            text: text.as_bytes().to_vec(),
        }
    }

    fn env() -> Env {
        Env {
            home: Some("/home/a".into()),
            user: Some("alice".into()),
            ..Env::default()
        }
    }

    fn import_str(text: &str) -> Imported {
        import(&src(text), &env()).unwrap_or_else(|e| panic!("{e}"))
    }

    fn err(text: &str) -> String {
        import(&src(text), &env()).unwrap_err().to_string()
    }

    #[test]
    fn the_man_page_examples_parse() {
        let i = import_str(
            "poll pop.provider.net protocol pop3 username \"jsmith\" password \"secret1\"\n\
             poll other.provider.net proto pop3 user \"John.Smith\" pass \"My^Hat\"\n",
        );
        assert_eq!(i.accounts.len(), 2);
        assert_eq!(i.accounts[0].host, "pop.provider.net");
        assert_eq!(i.accounts[0].user, "jsmith");
        assert_eq!(i.accounts[1].user, "John.Smith");
        assert!(
            matches!(&i.accounts[1].password, Some(Password::Literal(p)) if p.as_str() == "My^Hat")
        );
    }

    #[test]
    fn noise_words_and_punctuation_are_ignored() {
        let i = import_str(
            "poll pop.provider.net proto pop3\n\
             \x20    user \"jsmith\", with password secret1, is \"jsmith\" here;\n\
             poll mail.provider.net with proto pop3:\n\
             \x20    user \"jsmith\" there has password \"4u but u cannot krak this\"\n\
             \x20    is jws here and wants mda \"/bin/mail\"\n",
        );
        let b = &i.accounts[1];
        assert!(
            matches!(&b.password, Some(Password::Literal(p)) if p.as_str() == "4u but u cannot krak this")
        );
        assert_eq!(b.dest, Dest::Mda(CommandSpec::Shell("/bin/mail".into())));
        assert!(!b.dest_placeholder);
        let a = &i.accounts[0];
        assert_eq!(
            a.dest,
            Dest::Smtp {
                server: "127.0.0.1:25".into(),
                recipient: Some("jsmith@localhost".into())
            }
        );
    }

    #[test]
    fn defaults_fill_in_later_entries() {
        let i = import_str(
            "defaults proto pop3\n     user \"jsmith\" keep\n\
             poll pop.provider.net\n     pass \"secret1\"\n\
             poll mail.provider.net\n     user \"jjsmith\" there has password \"secret2\" no keep\n",
        );
        assert_eq!(i.accounts.len(), 2);
        assert_eq!(i.accounts[0].user, "jsmith");
        assert!(i.accounts[0].keep);
        assert_eq!(i.accounts[1].user, "jjsmith");
        assert!(!i.accounts[1].keep);
    }

    #[test]
    fn several_users_per_server() {
        let i = import_str(
            "poll pop.provider.net proto pop3 port 3111\n\
             \x20    user \"jsmith\" with pass \"secret1\" is \"smith\" here\n\
             \x20    user jones with pass \"secret2\" is \"jjones\" here keep\n",
        );
        let names: Vec<&str> = i.accounts.iter().map(|a| a.name.as_str()).collect();
        assert_eq!(names, ["pop.provider.net-jsmith", "pop.provider.net-jones"]);
        assert!(i.accounts.iter().all(|a| a.port == 3111));
        assert!(!i.accounts[0].keep && i.accounts[1].keep);
        assert_eq!(
            i.accounts[1].dest,
            Dest::Smtp {
                server: "127.0.0.1:25".into(),
                recipient: Some("jjones@localhost".into())
            }
        );
    }

    #[test]
    fn quoted_strings_escapes_and_comments() {
        let i = import_str(
            "# a comment\n\
             poll pop.example.com   # the server\n\
             \x20 user 'o\\x27neil' password \"tab\\there\\041\\\n\
             joined\" # trailing\n\
             \x20 mda \"procmail -d %T\"\n",
        );
        let a = &i.accounts[0];
        assert_eq!(a.user, "o'neil");
        assert!(
            matches!(&a.password, Some(Password::Literal(p)) if p.as_str() == "tab\there!joined")
        );
        assert_eq!(
            a.dest,
            Dest::Mda(CommandSpec::Shell("procmail -d 'alice'".into()))
        );
    }

    #[test]
    fn keywords_after_user_are_names() {
        let i = import_str("poll h user keep there password pass\n");
        assert_eq!(i.accounts[0].user, "keep");
        assert!(
            matches!(&i.accounts[0].password, Some(Password::Literal(p)) if p.as_str() == "pass")
        );
        assert!(!i.accounts[0].keep);
    }

    #[test]
    fn joined_no_and_flags() {
        let i = import_str("poll h user u nokeep fetchall limit 1000 fetchlimit 50\n");
        let a = &i.accounts[0];
        assert!(!a.keep && a.fetch_all);
        assert_eq!(a.max_size, Some(1000));
        assert_eq!(a.max_messages, Some(50));
    }

    #[test]
    fn tls_modes() {
        let tls = |s: &str| import_str(s).accounts[0].tls;
        assert_eq!(tls("poll h user u ssl\n"), TlsMode::Implicit);
        assert_eq!(tls("poll h user u\n"), TlsMode::Starttls);
        assert_eq!(tls("poll h user u sslproto ''\n"), TlsMode::None);
        assert_eq!(tls("poll h user u sslmode wrapped\n"), TlsMode::Implicit);
        assert_eq!(
            tls("poll h user u sslmode 'starttls=must'\n"),
            TlsMode::Starttls
        );
        let i = import_str("poll h user u ssl\n");
        assert_eq!(i.accounts[0].port, 995);
        let i = import_str("poll h service pop3s user u ssl\n");
        assert_eq!(i.accounts[0].port, 995);
    }

    #[test]
    fn md5_fingerprint_is_explained_not_dropped() {
        let i = import_str(
            "poll h user u ssl sslcertfile certs/ca.pem\n  sslfingerprint \"AB:CD\" no sslcertck\n",
        );
        let a = &i.accounts[0];
        assert_eq!(a.tls_ca_file.as_deref(), Some("/home/a/certs/ca.pem"));
        assert_eq!(a.tls_fingerprint, None);
        let fp = a
            .notes
            .iter()
            .find(|n| n.option.starts_with("sslfingerprint"))
            .unwrap();
        assert!(fp.reason.contains("MD5"), "{fp:?}");
        assert_eq!(fp.at, "/home/a/.fetchmailrc:2");
        assert!(a.notes.iter().any(|n| n.option == "no sslcertck"));
    }

    #[test]
    fn smtp_and_lmtp_hand_offs_become_smtp_and_lmtp() {
        let dest = |rc: &str| import_str(rc).accounts.remove(0);
        let smtp = |server: &str, rcpt: &str| Dest::Smtp {
            server: server.into(),
            recipient: Some(rcpt.into()),
        };
        let lmtp = |server: &str, rcpt: &str| Dest::Lmtp {
            server: server.into(),
            recipient: Some(rcpt.into()),
        };
        let a = dest("poll h user u is bob here smtphost mail.example.com/2525\n");
        assert_eq!(
            a.dest,
            smtp("mail.example.com:2525", "bob@mail.example.com")
        );
        let a = dest("poll h user u is bob here smtphost localhost smtpaddress example.org\n");
        assert_eq!(a.dest, smtp("localhost:25", "bob@example.org"));
        let a = dest("poll h user u is bob here smtphost \"::1/smtp\" smtpname b@x.example\n");
        assert_eq!(a.dest, smtp("[::1]:25", "b@x.example"));
        let a = dest("poll h user u is bob here lmtp smtphost /run/dovecot/lmtp\n");
        assert_eq!(a.dest, lmtp("unix:/run/dovecot/lmtp", "bob@localhost"));
        let a = dest("poll h user u is bob here lmtp smtphost 127.0.0.1/24 smtpname bob\n");
        assert_eq!(a.dest, lmtp("127.0.0.1:24", "bob"));
        // Several hosts: the first, and a note about the others.
        let a = dest("poll h user u is bob here smtphost a.example b.example\n");
        assert_eq!(a.dest, smtp("a.example:25", "bob@a.example"));
        assert!(
            a.notes
                .iter()
                .any(|n| n.option == "smtphost a.example b.example")
        );
        // What popfetch cannot say: LMTP without a port, SMTP to a socket.
        for rc in [
            "poll h user u is bob here lmtp smtphost localhost\n",
            "poll h user u is bob here smtphost /var/run/smtp\n",
            "poll h user u is bob here smtphost h/0\n",
        ] {
            let a = dest(rc);
            assert!(a.dest_placeholder, "{rc}");
            assert!(
                a.notes.iter().any(|n| n.option.contains("smtphost")),
                "{rc}"
            );
        }
    }

    #[test]
    fn unmappable_options_become_notes() {
        let i = import_str(
            "set daemon 300\nset logfile \"/var/log/fm\"\nset no bouncemail\n\
             poll h aka a.example b.example interval 3 user u there is bob here\n\
             \x20 folder INBOX flush rewrite expunge 10 lmtp smtphost mail.example.com\n",
        );
        let a = &i.accounts[0];
        for opt in [
            "aka",
            "interval 3",
            "folder",
            "flush",
            "rewrite",
            "expunge 10",
            "lmtp smtphost mail.example.com",
        ] {
            assert!(
                a.notes.iter().any(|n| n.option.starts_with(opt)),
                "{opt} missing from {:#?}",
                a.notes
            );
        }
        assert!(a.dest_placeholder);
        let globals: Vec<&str> = i.notes.iter().map(|n| n.option.as_str()).collect();
        assert_eq!(
            globals,
            [
                "set daemon 300",
                "set logfile \"/var/log/fm\"",
                "set no bouncemail"
            ]
        );
    }

    #[test]
    fn skip_entries_and_other_protocols_are_disabled() {
        let i = import_str("skip h1 user u\npoll h2 proto imap user u\npoll h3 user u\n");
        assert!(i.accounts[0].disabled.as_ref().unwrap().contains("skips"));
        assert!(i.accounts[1].disabled.as_ref().unwrap().contains("imap"));
        assert!(i.accounts[2].disabled.is_none());
    }

    #[test]
    fn passwordeval_and_default_user() {
        let i = import_str("poll h passwordeval \"gpg -d ~/pw.gpg\"\n");
        let a = &i.accounts[0];
        assert_eq!(a.user, "alice");
        assert!(
            matches!(&a.password, Some(Password::Command(CommandSpec::Shell(c))) if c == "gpg -d ~/pw.gpg")
        );
    }

    #[test]
    fn idfile_locations() {
        let state =
            |text: &str, env: &Env| match &import(&src(text), env).unwrap().accounts[0].state {
                PeerState::Fetchmail { idfile, user, host } => {
                    (idfile.clone(), user.clone(), host.clone())
                }
                other => panic!("{other:?}"),
            };
        assert_eq!(
            state("poll label via real.example user u\n", &env()),
            (
                "/home/a/.fetchids".into(),
                "u".into(),
                "real.example".into()
            )
        );
        assert_eq!(
            state("set idfile \"ids\"\npoll h user u\n", &env()).0,
            PathBuf::from("/home/a/ids")
        );
        let fh = Env {
            fetchmail_home: Some("/fm".into()),
            ..env()
        };
        assert_eq!(
            state("poll h user u\n", &fh).0,
            PathBuf::from("/fm/.fetchids")
        );
    }

    #[test]
    fn errors_name_the_line_and_what_was_expected() {
        let e = err("poll h\n  user u\n  keep\n  proto pop3\n");
        assert!(
            e.contains(".fetchmailrc:4:") && e.contains("server option"),
            "{e}"
        );
        let e = err("poll h user u\n  bogus\n");
        assert!(e.contains(":2:") && e.contains("\"bogus\""), "{e}");
        let e = err("poll h user u password \"unterminated\n\n");
        assert!(e.contains(":1:") && e.contains("never closed"), "{e}");
        let e = err("poll h proto smtp user u\n");
        assert!(e.contains("protocol"), "{e}");
        let e = err("poll h user u\ndefaults keep\n");
        assert!(e.contains("defaults entry must be the first"), "{e}");
        let e = err("set frobnicate\n");
        assert!(e.contains(":1:") && e.contains("global option"), "{e}");
    }

    #[test]
    fn escapes_follow_fetchmail() {
        assert_eq!(escapes(b"a\\x41\\101\\0101\\n\\q"), b"aAe\x081\nq");
        assert_eq!(escapes(b"tr\\"), b"tr");
    }
}
