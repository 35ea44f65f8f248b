//! getmail's rc files, read the way getmail 6 reads them: Python's
//! `RawConfigParser` for the INI layer (sections `[name]`, `key = value` or
//! `key: value`, option names case-insensitive, full-line `#` and `;`
//! comments only, continuation lines indented deeper than their key, a
//! repeated section or option is an error), and Python literal syntax for
//! tuple values (`("a", 'b', )`, raw strings, escapes, implicit
//! concatenation). getmail runs one rc file per account, so each file
//! becomes one account; a getmail directory means its `getmailrc`, or else
//! every rc file in it, as `getmail` itself picks them.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use zeroize::Zeroizing;

use super::{
    Account, Dest, Env, ImportError, Imported, Password, Peer, PeerState, Source, Subst,
    mda_template,
};
use crate::account::{AuthChoice, CommandSpec, TlsMode, normalize_fingerprint};

/// One option: its value (continuation lines joined with `\n`) and line.
#[derive(Debug, Clone)]
struct Opt {
    value: String,
    line: usize,
}

/// A section's options by (lower-cased) name, and the header's line.
#[derive(Debug, Clone, Default)]
struct Section {
    line: usize,
    options: BTreeMap<String, Opt>,
}

/// An rc file: sections by name, in file order.
#[derive(Debug, Clone, Default)]
struct Ini {
    sections: Vec<(String, Section)>,
    defaults: Section,
}

impl Ini {
    fn section(&self, name: &str) -> Option<&Section> {
        self.sections
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, s)| s)
    }

    /// An option of a section, falling back to `[DEFAULT]`.
    fn get(&self, section: &str, key: &str) -> Option<&Opt> {
        self.section(section)
            .and_then(|s| s.options.get(key))
            .or_else(|| self.defaults.options.get(key))
    }
}

/// Parse the INI layer as Python's `RawConfigParser` does.
fn parse_ini(src: &Source) -> Result<Ini, ImportError> {
    let text = std::str::from_utf8(&src.text).map_err(|e| {
        let line = src.text[..e.valid_up_to()]
            .iter()
            .filter(|&&b| b == b'\n')
            .count()
            + 1;
        src.error(line, "not UTF-8; getmail reads rc files as UTF-8")
    })?;
    let mut ini = Ini::default();
    // The section and option that lines currently go to.
    let mut cur: Option<Option<usize>> = None; // Some(None) = [DEFAULT]
    let mut opt: Option<String> = None;
    let mut indent_level = usize::MAX;
    let mut pending: Vec<String> = Vec::new();
    fn flush(
        ini: &mut Ini,
        cur: Option<Option<usize>>,
        opt: &Option<String>,
        pending: &mut Vec<String>,
    ) {
        let (Some(sect), Some(name)) = (cur, opt) else {
            pending.clear();
            return;
        };
        let section = match sect {
            Some(i) => &mut ini.sections[i].1,
            None => &mut ini.defaults,
        };
        if let Some(o) = section.options.get_mut(name) {
            o.value = pending.join("\n").trim_end().to_string();
        }
        pending.clear();
    }
    for (i, line) in text.split('\n').enumerate() {
        let n = i + 1;
        let line = line.strip_suffix('\r').unwrap_or(line);
        let stripped = line.trim();
        if stripped.starts_with('#') || stripped.starts_with(';') {
            continue;
        }
        if stripped.is_empty() {
            if opt.is_some() {
                pending.push(String::new());
            }
            continue;
        }
        let indent = line.len() - line.trim_start().len();
        if cur.is_some() && opt.is_some() && indent > indent_level {
            pending.push(stripped.to_string());
            continue;
        }
        flush(&mut ini, cur, &opt, &mut pending);
        indent_level = indent;
        if let Some(rest) = stripped.strip_prefix('[')
            && let Some(end) = rest.rfind(']')
            && end > 0
        {
            let name = &rest[..end];
            opt = None;
            if name == "DEFAULT" {
                cur = Some(None);
                ini.defaults.line = n;
                continue;
            }
            if ini.sections.iter().any(|(s, _)| s == name) {
                return Err(src.error(
                    n,
                    format!("section [{name}] appears twice: getmail refuses that; merge them"),
                ));
            }
            ini.sections.push((
                name.to_string(),
                Section {
                    line: n,
                    options: BTreeMap::new(),
                },
            ));
            cur = Some(Some(ini.sections.len() - 1));
            continue;
        }
        let Some(sect) = cur else {
            return Err(src.error(
                n,
                "a setting before the first section header: put [retriever], [destination] or \
                 [options] above it",
            ));
        };
        let Some(pos) = stripped.find(['=', ':']) else {
            return Err(src.error(n, format!("expected NAME = VALUE, found {stripped:?}")));
        };
        let name = stripped[..pos].trim().to_lowercase();
        if name.is_empty() {
            return Err(src.error(n, "a setting without a name before its = sign"));
        }
        let value = stripped[pos + 1..].trim().to_string();
        let section = match sect {
            Some(i) => &mut ini.sections[i].1,
            None => &mut ini.defaults,
        };
        if section.options.contains_key(&name) {
            return Err(src.error(
                n,
                format!("{name} is set twice in the same section: getmail refuses that; keep one"),
            ));
        }
        section.options.insert(
            name.clone(),
            Opt {
                value: value.clone(),
                line: n,
            },
        );
        pending.push(value);
        opt = Some(name);
    }
    flush(&mut ini, cur, &opt, &mut pending);
    Ok(ini)
}

/// A Python literal, as far as getmail's rc values use them.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Py {
    Str(String),
    Int(i64),
    Tuple(Vec<Py>),
    List(Vec<Py>),
}

impl Py {
    /// `str(item)`, as getmail turns tuple items into strings.
    fn text(&self) -> String {
        match self {
            Py::Str(s) => s.clone(),
            Py::Int(n) => n.to_string(),
            Py::Tuple(_) | Py::List(_) => String::new(),
        }
    }
}

struct PyParser<'a> {
    s: &'a [u8],
    i: usize,
}

impl PyParser<'_> {
    fn skip_space(&mut self) {
        while self.i < self.s.len() {
            match self.s[self.i] {
                b' ' | b'\t' | b'\n' | b'\r' => self.i += 1,
                b'\\' if self.s.get(self.i + 1) == Some(&b'\n') => self.i += 2,
                b'#' => {
                    while self.i < self.s.len() && self.s[self.i] != b'\n' {
                        self.i += 1;
                    }
                }
                _ => break,
            }
        }
    }

    fn peek(&mut self) -> Option<u8> {
        self.skip_space();
        self.s.get(self.i).copied()
    }

    /// A whole value: one expression, or several separated by commas (a
    /// tuple without parentheses).
    fn value(&mut self) -> Result<Py, String> {
        let v = self.sequence(None)?;
        if let Some(c) = self.peek() {
            return Err(format!("unexpected {:?} after the value", c as char));
        }
        Ok(v)
    }

    /// Items up to `close` (or the end); one item without a comma is the
    /// item itself, as in Python.
    fn sequence(&mut self, close: Option<u8>) -> Result<Py, String> {
        let mut items = Vec::new();
        let mut comma = false;
        loop {
            match self.peek() {
                None if close.is_none() => break,
                None => return Err(format!("missing {:?}", close.map_or(' ', char::from))),
                Some(c) if Some(c) == close => break,
                _ => {}
            }
            items.push(self.atom()?);
            match self.peek() {
                Some(b',') => {
                    self.i += 1;
                    comma = true;
                }
                Some(c) if Some(c) == close => break,
                None if close.is_none() => break,
                Some(c) => return Err(format!("expected a comma, found {:?}", c as char)),
                None => return Err(format!("missing {:?}", close.map_or(' ', char::from))),
            }
        }
        if close.is_some() {
            self.i += 1;
        }
        if items.len() == 1 && !comma && close != Some(b']') {
            return Ok(items.remove(0));
        }
        Ok(if close == Some(b']') {
            Py::List(items)
        } else {
            Py::Tuple(items)
        })
    }

    fn atom(&mut self) -> Result<Py, String> {
        match self.peek() {
            Some(b'(') => {
                self.i += 1;
                let v = self.sequence(Some(b')'))?;
                Ok(match v {
                    // `()` is the empty tuple.
                    Py::Tuple(t) => Py::Tuple(t),
                    other => other,
                })
            }
            Some(b'[') => {
                self.i += 1;
                self.sequence(Some(b']'))
            }
            Some(c) if c == b'-' || c.is_ascii_digit() => {
                let start = self.i;
                self.i += 1;
                while self.i < self.s.len()
                    && (self.s[self.i].is_ascii_digit() || self.s[self.i] == b'_')
                {
                    self.i += 1;
                }
                let digits: String =
                    String::from_utf8_lossy(&self.s[start..self.i]).replace('_', "");
                digits
                    .parse()
                    .map(Py::Int)
                    .map_err(|_| format!("{digits:?} is not a number"))
            }
            Some(_) => {
                let mut s = self.string()?;
                // Adjacent literals concatenate.
                while matches!(self.peek(), Some(b'"' | b'\'' | b'r' | b'R' | b'u' | b'U')) {
                    s.push_str(&self.string()?);
                }
                Ok(Py::Str(s))
            }
            None => Err("a value is missing".into()),
        }
    }

    fn string(&mut self) -> Result<String, String> {
        let mut raw = false;
        while let Some(&c) = self.s.get(self.i) {
            match c {
                b'r' | b'R' => raw = true,
                b'u' | b'U' => {}
                _ => break,
            }
            self.i += 1;
        }
        let Some(&q) = self.s.get(self.i).filter(|c| matches!(c, b'"' | b'\'')) else {
            return Err("expected a quoted string".into());
        };
        let triple = self.s[self.i..].starts_with(&[q, q, q]);
        self.i += if triple { 3 } else { 1 };
        let mut out: Vec<u8> = Vec::new();
        loop {
            let Some(&c) = self.s.get(self.i) else {
                return Err("a string is never closed".into());
            };
            if c == q && (!triple || self.s[self.i..].starts_with(&[q, q, q])) {
                self.i += if triple { 3 } else { 1 };
                break;
            }
            if c == b'\n' && !triple {
                return Err("a string is never closed on its line".into());
            }
            if c == b'\\' && self.i + 1 < self.s.len() {
                let e = self.s[self.i + 1];
                if raw {
                    out.extend_from_slice(&[c, e]);
                    self.i += 2;
                    continue;
                }
                self.i += 2;
                let simple = match e {
                    b'\n' => Some(None),
                    b'\\' => Some(Some(b'\\')),
                    b'\'' => Some(Some(b'\'')),
                    b'"' => Some(Some(b'"')),
                    b'n' => Some(Some(b'\n')),
                    b't' => Some(Some(b'\t')),
                    b'r' => Some(Some(b'\r')),
                    b'a' => Some(Some(0x07)),
                    b'b' => Some(Some(0x08)),
                    b'f' => Some(Some(0x0c)),
                    b'v' => Some(Some(0x0b)),
                    _ => None,
                };
                if let Some(byte) = simple {
                    out.extend(byte);
                    continue;
                }
                let (len, radix) = match e {
                    b'x' => (2, 16),
                    b'u' => (4, 16),
                    b'U' => (8, 16),
                    b'0'..=b'7' => (3, 8),
                    _ => {
                        out.extend_from_slice(&[b'\\', e]);
                        continue;
                    }
                };
                let start = if radix == 8 { self.i - 1 } else { self.i };
                let mut end = start;
                while end < self.s.len()
                    && end - start < len
                    && (self.s[end] as char).is_digit(radix)
                {
                    end += 1;
                }
                let code = std::str::from_utf8(&self.s[start..end])
                    .ok()
                    .and_then(|d| u32::from_str_radix(d, radix).ok())
                    .and_then(char::from_u32)
                    .ok_or_else(|| "a bad escape in a string".to_string())?;
                if radix == 16 && end - start != len {
                    return Err("a truncated \\x, \\u or \\U escape".into());
                }
                let mut buf = [0u8; 4];
                out.extend_from_slice(code.encode_utf8(&mut buf).as_bytes());
                self.i = end;
                continue;
            }
            out.push(c);
            self.i += 1;
        }
        String::from_utf8(out).map_err(|_| "a string is not UTF-8".to_string())
    }
}

fn py(value: &str) -> Result<Py, String> {
    PyParser {
        s: value.as_bytes(),
        i: 0,
    }
    .value()
}

/// A tuple of strings, as getmail's `ConfTupleOfStrings` reads it.
fn tuple_of_strings(value: &str) -> Result<Vec<String>, String> {
    if value.is_empty() {
        return Ok(Vec::new());
    }
    match py(value)? {
        Py::Tuple(items) => Ok(items.iter().map(Py::text).collect()),
        _ => Err("not a tuple: write (\"a\", \"b\"), or (\"a\", ) for one item".into()),
    }
}

/// getmail's `eval_bool`.
fn boolean(value: &str) -> Option<bool> {
    match value.to_lowercase().as_str() {
        "true" | "yes" | "on" | "1" => Some(true),
        "false" | "no" | "off" | "0" => Some(false),
        _ => None,
    }
}

/// Python's `os.path.expandvars`: `$NAME` and `${NAME}` from the
/// environment; unknown variables stay as written.
fn expand_vars(s: &str, env: &Env) -> String {
    let mut out = String::new();
    let mut rest = s;
    while let Some(pos) = rest.find('$') {
        out.push_str(&rest[..pos]);
        let after = &rest[pos + 1..];
        let (name, len) = if let Some(inner) = after.strip_prefix('{') {
            match inner.find('}') {
                Some(end) => (&inner[..end], end + 2),
                None => ("", 0),
            }
        } else {
            let end = after
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .unwrap_or(after.len());
            (&after[..end], end)
        };
        match env.var(name).filter(|_| !name.is_empty()) {
            Some(v) => out.push_str(v),
            None => out.push_str(&rest[pos..pos + 1 + len]),
        }
        rest = &after[len..];
    }
    out.push_str(rest);
    out
}

/// getmail's `expand_user_vars`: variables, then `~` and `~user`. `full`
/// also expands `~/` (for a program path, which popfetch runs as is).
fn expand(s: &str, env: &Env, full: bool) -> String {
    let v = expand_vars(s, env);
    if full || !(v == "~" || v.starts_with("~/")) {
        env.expand_tilde(&v)
    } else {
        v
    }
}

/// The rc files a path means: a file is itself; a getmail directory means
/// its `getmailrc`, or else every rc file in it (as `getmail` picks them).
pub(super) fn rc_files(path: &Path) -> Result<Vec<PathBuf>, ImportError> {
    let read_err = |source| ImportError::Read {
        path: path.to_path_buf(),
        word: "getmailrc",
        source,
    };
    if !path.is_dir() {
        return Ok(vec![path.to_path_buf()]);
    }
    let default = path.join("getmailrc");
    if default.exists() {
        return Ok(vec![default]);
    }
    let mut files = Vec::new();
    for e in std::fs::read_dir(path).map_err(read_err)? {
        let e = e.map_err(read_err)?;
        let name = e.file_name().to_string_lossy().into_owned();
        let skip = name.ends_with('~')
            || name.ends_with('#')
            || name.starts_with("oldmail-")
            || name.starts_with('.')
            || name.ends_with(".json")
            || name.ends_with(".swp")
            || name.ends_with(".bak");
        if !skip && e.path().is_file() {
            files.push(e.path());
        }
    }
    files.sort();
    if files.is_empty() {
        return Err(ImportError::Unusable {
            path: path.to_path_buf(),
            message: "holds no getmail rc file: name the rc files to import".into(),
        });
    }
    Ok(files)
}

/// Read getmail rc files (one account each) into accounts.
pub(super) fn import(sources: &[Source], env: &Env) -> Result<Imported, ImportError> {
    let mut accounts = Vec::new();
    for src in sources {
        accounts.push(account(src, env)?);
    }
    Ok(Imported {
        peer: Peer::Getmailrc,
        files: sources.iter().map(|s| s.path.clone()).collect(),
        accounts,
        notes: Vec::new(),
    })
}

/// getmail's oldmail file name: `oldmail-SERVER-PORT-USER` with the
/// characters `/\:;<>|` replaced by `-`.
fn oldmail_name(server: &str, port: u16, user: &str) -> String {
    let raw = format!("oldmail-{server}-{port}-{user}");
    let mut out = String::new();
    let mut in_run = false;
    for c in raw.chars() {
        if "/\\:;<>|".contains(c) {
            if !in_run {
                out.push('-');
            }
            in_run = true;
        } else {
            out.push(c);
            in_run = false;
        }
    }
    out
}

/// The POP3 retriever types and whether they use SSL.
const POP3_TYPES: &[(&str, bool)] = &[
    ("SimplePOP3Retriever", false),
    ("SimplePOP3SSLRetriever", true),
    ("BrokenUIDLPOP3Retriever", false),
    ("BrokenUIDLPOP3SSLRetriever", true),
    ("MultidropPOP3Retriever", false),
    ("MultidropPOP3SSLRetriever", true),
    ("MultidropSDPSRetriever", false),
];

/// One rc file as an account.
fn account(src: &Source, env: &Env) -> Result<Account, ImportError> {
    let ini = parse_ini(src)?;
    let missing = |what: &str| {
        src.error(
            ini.section("retriever").map_or(1, |s| s.line),
            format!("{what} is missing; getmail requires it"),
        )
    };
    let retriever = ini
        .section("retriever")
        .ok_or_else(|| src.error(1, "no [retriever] section; getmail requires one"))?;
    let r = |k: &str| ini.get("retriever", k);
    let at = |o: &Opt| src.at(o.line);
    let rtype = r("type").ok_or_else(|| missing("type in [retriever]"))?;
    let ssl = POP3_TYPES
        .iter()
        .find(|(t, _)| *t == rtype.value)
        .map(|(_, ssl)| *ssl);
    let server = r("server").ok_or_else(|| missing("server in [retriever]"))?;
    let tls = if ssl == Some(true) {
        TlsMode::Implicit
    } else {
        TlsMode::None
    };
    let port = match r("port") {
        Some(p) => p
            .value
            .trim()
            .parse::<u16>()
            .ok()
            .filter(|p| *p != 0)
            .ok_or_else(|| src.error(p.line, format!("port {:?} is not a port number", p.value)))?,
        None => tls.default_port(),
    };
    let user = r("username").map(|o| o.value.clone()).unwrap_or_default();
    let dir = src.path.parent().map(Path::to_path_buf).unwrap_or_default();
    let name = oldmail_name(&server.value, port, &user);
    let mut candidates = vec![dir.join(&name)];
    for d in [
        env.config_home.as_ref().map(|c| c.join("getmail")),
        env.home.as_ref().map(|h| h.join(".getmail")),
    ]
    .into_iter()
    .flatten()
    {
        if d != dir {
            candidates.push(d.join(&name));
        }
    }
    let mut a = Account::new(
        server.value.clone(),
        port,
        tls,
        user.clone(),
        PeerState::Getmail { candidates },
    );
    let file_name = src
        .path
        .file_name()
        .map(|f| f.to_string_lossy().into_owned())
        .unwrap_or_default();
    let stem = file_name
        .strip_prefix("getmailrc")
        .map(|s| s.trim_start_matches(['-', '_', '.']))
        .unwrap_or(&file_name);
    a.name = if stem.is_empty() {
        server.value.clone()
    } else {
        stem.to_string()
    };
    a.origin = src.at(retriever.line);
    a.described = format!("{} on {}", rtype.value, server.value);
    match ssl {
        None => {
            a.disabled = Some(format!(
                "retriever type {} is not POP3: popfetch speaks POP3 only",
                rtype.value
            ))
        }
        Some(false) => a.remarks.push(
            "getmail used plain POP3 without TLS (it has no STLS), so the password went \
             unencrypted; popfetch does the same only because allow_plaintext = true says so: use \
             tls = \"starttls\" if the server offers STLS"
                .into(),
        ),
        Some(true) if r("ca_certs").is_none() => a.remarks.push(
            "getmail did not verify the server's certificate without ca_certs; popfetch checks it \
             against the system's trusted CAs (pin tls_fingerprint for a self-signed one)"
                .into(),
        ),
        Some(true) => {}
    }
    if rtype.value.starts_with("Multidrop") {
        a.note(
            at(rtype),
            format!("type = {}", rtype.value),
            "multidrop: popfetch delivers a mailbox to one destination",
        );
    }
    if user.is_empty() && a.disabled.is_none() {
        a.disabled = Some(
            "it has no username (getmail may have read it from .netrc): add username to \
             [retriever]"
                .into(),
        );
    }

    // Authentication.
    if let Some(p) = r("password") {
        a.password = Some(Password::Literal(Zeroizing::new(p.value.clone())));
    } else if let Some(c) = r("password_command") {
        let argv = tuple_of_strings(&c.value)
            .map_err(|e| src.error(c.line, format!("password_command: {e}")))?;
        if argv.first().is_none_or(|p| p.is_empty()) {
            return Err(src.error(c.line, "password_command names no program"));
        }
        let mut argv = argv;
        argv[0] = expand(&argv[0], env, true);
        a.password = Some(Password::Command(CommandSpec::Argv(argv)));
    } else {
        a.remarks.push(
            "no password in the file: getmail used the Python keyring or .netrc (use_netrc), else \
             asked; popfetch looks in ~/.netrc, then asks (under cron there is no terminal: add \
             password_command)"
                .into(),
        );
    }
    let flag = |o: &Opt| {
        boolean(&o.value).ok_or_else(|| {
            src.error(
                o.line,
                format!("{:?} is not a boolean: write true or false", o.value),
            )
        })
    };
    if let Some(o) = r("use_apop")
        && flag(o)?
    {
        a.auth = Some(AuthChoice::Apop);
    }
    if let Some(o) = r("use_xoauth2")
        && flag(o)?
    {
        a.auth = Some(AuthChoice::Xoauth2);
    }
    if let Some(o) = r("timeout") {
        a.timeout = o.value.trim().parse().ok().filter(|t| *t > 0);
    }
    if let Some(o) = r("ca_certs") {
        a.tls_ca_file = Some(expand(&o.value, env, false));
    }
    if let Some(o) = r("ssl_fingerprints") {
        let fps = tuple_of_strings(&o.value)
            .map_err(|e| src.error(o.line, format!("ssl_fingerprints: {e}")))?;
        if let Some(first) = fps.first() {
            let fp = normalize_fingerprint(&format!("sha256:{first}"))
                .map_err(|e| src.error(o.line, e))?;
            a.tls_fingerprint = Some(fp);
        }
        if fps.len() > 1 {
            a.note(
                at(o),
                format!("ssl_fingerprints = {}", o.value),
                "popfetch pins exactly one certificate: the first fingerprint is used",
            );
        }
    }
    let retriever_reasons: &[(&str, &str)] = &[
        ("type", ""),
        ("server", ""),
        ("port", ""),
        ("username", ""),
        ("password", ""),
        ("password_command", ""),
        ("use_apop", ""),
        ("use_xoauth2", ""),
        ("timeout", ""),
        ("ca_certs", ""),
        ("ssl_fingerprints", ""),
        (
            "delete_dup_msgids",
            "popfetch fetches a repeated UID once and deletes neither copy while both are listed",
        ),
        (
            "envelope_recipient",
            "multidrop: popfetch delivers a mailbox to one destination",
        ),
        (
            "keyfile",
            "client certificates are not supported by this version of popfetch",
        ),
        (
            "certfile",
            "client certificates are not supported by this version of popfetch",
        ),
        (
            "ssl_version",
            "popfetch negotiates TLS 1.2 or newer by itself",
        ),
        (
            "ssl_ciphers",
            "popfetch negotiates TLS 1.2 or newer by itself",
        ),
        (
            "ssl_cert_hostname",
            "popfetch checks the certificate against the host name it connects to",
        ),
    ];
    note_rest(
        src,
        &mut a,
        &ini,
        "retriever",
        retriever_reasons,
        "IMAP only or unknown to getmail",
    );

    // Destination.
    destination(src, env, &ini, &mut a)?;

    // Options.
    let o = |k: &str| ini.get("options", k);
    let delete = o("delete").map(flag).transpose()?.unwrap_or(false);
    let delete_after = match o("delete_after") {
        Some(v) => v.value.trim().parse::<u32>().map_err(|_| {
            src.error(
                v.line,
                format!("delete_after {:?} is not a number of days", v.value),
            )
        })?,
        None => 0,
    };
    a.keep = !delete;
    if !delete && delete_after > 0 {
        a.delete_after_days = Some(delete_after);
    }
    if let Some(v) = o("read_all") {
        if flag(v)? {
            a.fetch_all = true;
            a.remarks.push(
                "read_all = true: every message on the server is fetched on every run \
                 (fetch_all); with keep, remove fetch_all to fetch only new mail"
                    .into(),
            );
        }
    } else if !delete {
        a.remarks.push(
            "getmail's default read_all = true fetched every message on every run; popfetch \
             fetches only new mail (set fetch_all = true for getmail's behaviour)"
                .into(),
        );
    }
    let int = |v: &Opt| {
        v.value
            .trim()
            .parse::<u64>()
            .map_err(|_| src.error(v.line, format!("{:?} is not a whole number", v.value)))
    };
    if let Some(v) = o("max_message_size") {
        a.max_size = Some(int(v)?).filter(|n| *n > 0);
    }
    if let Some(v) = o("max_messages_per_session") {
        a.max_messages = Some(int(v)?).filter(|n| *n > 0);
    }
    if let Some(v) = o("received") {
        a.received_header = Some(flag(v)?);
    }
    let options_reasons: &[(&str, &str)] = &[
        ("delete", ""),
        ("delete_after", ""),
        ("read_all", ""),
        ("max_message_size", ""),
        ("max_messages_per_session", ""),
        ("received", ""),
        (
            "max_bytes_per_session",
            "popfetch limits the number of messages per run (max_messages), not bytes",
        ),
        (
            "delete_bigger_than",
            "popfetch deletes by keep and delete_after_days only, never by size",
        ),
        (
            "delivered_to",
            "popfetch adds only a Received: header (received_header)",
        ),
        ("verbose", "use -v or -q on popfetch's command line"),
        (
            "message_log",
            "popfetch writes no log file yet: its summary goes to stderr",
        ),
        (
            "message_log_syslog",
            "popfetch does not log to syslog: its summary goes to stderr",
        ),
        (
            "message_log_verbose",
            "popfetch writes no log file yet: -v prints a line per message",
        ),
        (
            "use_netrc",
            "popfetch reads ~/.netrc (or $NETRC) for a password whenever none is given",
        ),
        ("netrc_file", "set NETRC to that file when running popfetch"),
        (
            "to_oldmail_on_each_mail",
            "popfetch records every message as soon as it is delivered, always",
        ),
        (
            "only_oldmail_file",
            "marks every message as fetched without downloading it: that is what `popfetch \
             adopt` does, once",
        ),
        (
            "fingerprint",
            "`popfetch serverinfo NAME` prints the server's fingerprint",
        ),
        ("mark_read", "IMAP only"),
        ("skip_imap_fetch_size", "IMAP only"),
    ];
    note_rest(
        src,
        &mut a,
        &ini,
        "options",
        options_reasons,
        "unknown to getmail",
    );
    for (name, s) in &ini.sections {
        if name.starts_with("filter") {
            a.note(
                src.at(s.line),
                format!("[{name}]"),
                "popfetch runs no filters: sort or scan mail in your MDA (procmail, maildrop)",
            );
        }
    }
    Ok(a)
}

/// A note for every option of `section` not in `table` with an empty
/// reason (those are mapped).
fn note_rest(
    src: &Source,
    a: &mut Account,
    ini: &Ini,
    section: &str,
    table: &[(&str, &str)],
    unknown: &str,
) {
    let Some(s) = ini.section(section) else {
        return;
    };
    for (k, v) in &s.options {
        let reason = table
            .iter()
            .find(|(name, _)| name == k)
            .map_or(unknown, |(_, r)| *r);
        if !reason.is_empty() {
            a.note(src.at(v.line), format!("{k} = {}", v.value), reason);
        }
    }
}

/// `[destination]` (and the sections it names) as the account's destination.
fn destination(src: &Source, env: &Env, ini: &Ini, a: &mut Account) -> Result<(), ImportError> {
    let Some(d) = ini.section("destination") else {
        return Err(src.error(1, "no [destination] section; getmail requires one"));
    };
    section_destination(src, env, ini, "destination", d.line, a, 0)
}

fn section_destination(
    src: &Source,
    env: &Env,
    ini: &Ini,
    name: &str,
    line: usize,
    a: &mut Account,
    depth: usize,
) -> Result<(), ImportError> {
    let get = |k: &str| ini.get(name, k);
    let dtype =
        get("type").ok_or_else(|| src.error(line, format!("type is missing in [{name}]")))?;
    let path =
        || get("path").ok_or_else(|| src.error(line, format!("path is missing in [{name}]")));
    let mut mapped: Vec<&str> = vec!["type"];
    match dtype.value.as_str() {
        "Maildir" => {
            a.set_dest(Dest::Maildir(expand(&path()?.value, env, false)));
            mapped.push("path");
        }
        "Mboxrd" => {
            a.set_dest(Dest::Mbox(expand(&path()?.value, env, false)));
            mapped.push("path");
        }
        "MDA_external" => {
            let program = expand(&path()?.value, env, true);
            let mut argv = vec![program.replace('%', "%%")];
            if let Some(args) = get("arguments") {
                let items = tuple_of_strings(&args.value)
                    .map_err(|e| src.error(args.line, format!("arguments: {e}")))?;
                for item in items {
                    for other in ["%(recipient)", "%(local)", "%(domain)", "%(mailbox)"] {
                        if item.contains(other) {
                            a.note(
                                src.at(args.line),
                                format!("{other} in arguments"),
                                "only the sender (%(sender), popfetch's %F) is known to popfetch; \
                                 the text is passed as written",
                            );
                        }
                    }
                    argv.push(mda_template(&item, &[("%(sender)", Subst::Sender)], false));
                }
            }
            a.set_dest(Dest::Mda(CommandSpec::Argv(argv)));
            mapped.extend(["path", "arguments"]);
        }
        "MultiDestination" | "MultiSorter" | "MultiGuesser" if depth < 4 => {
            let (key, list) = if dtype.value == "MultiDestination" {
                let o = get("destinations").ok_or_else(|| {
                    src.error(line, format!("destinations is missing in [{name}]"))
                })?;
                let items = tuple_of_strings(&o.value)
                    .map_err(|e| src.error(o.line, format!("destinations: {e}")))?;
                ("destinations", items)
            } else {
                let o = get("default")
                    .ok_or_else(|| src.error(line, format!("default is missing in [{name}]")))?;
                ("default", vec![o.value.clone()])
            };
            mapped.push(key);
            let Some(first) = list.first() else {
                return Err(src.error(line, format!("[{name}] names no destination")));
            };
            if list.len() > 1 || dtype.value != "MultiDestination" {
                a.note(
                    src.at(get(key).map_or(line, |o| o.line)),
                    format!("type = {} ({} = ...)", dtype.value, key),
                    format!(
                        "popfetch delivers each message to one destination: only {first:?} is \
                         used"
                    ),
                );
            }
            let target = expand(first, env, true);
            if let Some(section) = target.strip_prefix('[').and_then(|t| t.strip_suffix(']')) {
                let s_line = ini.section(section).map(|s| s.line).ok_or_else(|| {
                    src.error(
                        line,
                        format!("[{name}] names section [{section}], which does not exist"),
                    )
                })?;
                section_destination(src, env, ini, section, s_line, a, depth + 1)?;
            } else if target.starts_with('/') || target.starts_with('.') {
                let keep_short = expand(first, env, false);
                a.set_dest(if target.ends_with('/') {
                    Dest::Maildir(keep_short)
                } else {
                    Dest::Mbox(keep_short)
                });
            } else {
                return Err(src.error(
                    line,
                    format!("{first:?} is neither a [section] nor a path starting with / or ."),
                ));
            }
        }
        "MDA_lmtp" => {
            // getmail's `host` is a host name or a socket path; its port
            // defaults to Python's LMTP_PORT, 2003.
            let host = get("host")
                .ok_or_else(|| src.error(line, format!("host is missing in [{name}]")))?;
            let server = if host.value.starts_with('/') {
                format!("unix:{}", host.value)
            } else {
                let port = get("port").map_or("2003", |p| p.value.as_str());
                if host.value.contains(':') {
                    format!("[{}]:{port}", host.value)
                } else {
                    format!("{}:{port}", host.value)
                }
            };
            let recipient = get("override").map(|o| o.value.clone());
            let usable = crate::account::parse_server(&server, false).is_ok()
                && recipient
                    .as_deref()
                    .is_none_or(|r| crate::account::check_recipient(r).is_ok());
            if usable {
                if recipient.is_none() {
                    a.remarks.push(
                        "getmail gave LMTP each message's own envelope recipient; popfetch \
                         gives `recipient`, which is the account's user unless set: check it"
                            .into(),
                    );
                }
                a.set_dest(Dest::Lmtp { server, recipient });
                mapped.extend(["host", "port", "override"]);
            } else {
                a.note(
                    src.at(dtype.line),
                    format!("type = MDA_lmtp ({server})"),
                    "popfetch cannot use this LMTP server address or recipient; choose a \
                     destination",
                );
            }
        }
        other => a.note(
            src.at(dtype.line),
            format!("type = {other}"),
            "popfetch cannot deliver this way; choose a destination (maildir, mbox, mda, lmtp or \
             smtp)",
        ),
    }
    let reasons: &[(&str, &str)] = &[
        (
            "user",
            "popfetch delivers as the user who runs it: run it as that user",
        ),
        (
            "group",
            "popfetch delivers as the user who runs it: run it as that user",
        ),
        (
            "filemode",
            "popfetch creates messages 0600 (private), whatever the umask",
        ),
        (
            "locktype",
            "popfetch locks an mbox with both a dotlock and fcntl",
        ),
        (
            "unixfrom",
            "popfetch gives the MDA the message without a From_ line",
        ),
        (
            "ignore_stderr",
            "popfetch judges an MDA by its exit status only",
        ),
        (
            "allow_root_commands",
            "popfetch runs the MDA as the user who runs popfetch",
        ),
        (
            "pipe_stdout",
            "popfetch passes the MDA's output on to its own",
        ),
        (
            "locals",
            "popfetch delivers each message to one destination",
        ),
        (
            "fallback",
            "popfetch has no fallback recipient: a message the LMTP server refuses stays on the \
             POP3 server and is reported",
        ),
    ];
    if let Some(s) = ini.section(name) {
        for (k, v) in &s.options {
            if mapped.contains(&k.as_str()) {
                continue;
            }
            let reason = reasons
                .iter()
                .find(|(n, _)| n == k)
                .map_or("not used by popfetch", |(_, r)| *r);
            a.note(src.at(v.line), format!("{k} = {}", v.value), reason);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn src(name: &str, text: &str) -> Source {
        Source {
            path: PathBuf::from("/home/a/.getmail").join(name),
            text: text.as_bytes().to_vec(),
        }
    }

    fn env() -> Env {
        Env {
            home: Some("/home/a".into()),
            config_home: Some("/home/a/.config".into()),
            vars: vec![("MAILDIRS".into(), "/srv/mail".into())],
            ..Env::default()
        }
    }

    fn one(name: &str, text: &str) -> Account {
        account(&src(name, text), &env()).unwrap_or_else(|e| panic!("{e}"))
    }

    fn err(text: &str) -> String {
        account(&src("getmailrc", text), &env())
            .unwrap_err()
            .to_string()
    }

    #[test]
    fn a_typical_ssl_account_to_a_maildir() {
        let a = one(
            "getmailrc-work",
            "[retriever]\ntype = SimplePOP3SSLRetriever\nserver = pop.example.com\n\
             username = alice\npassword = s3cret # not a comment\n\n\
             [destination]\ntype = Maildir\npath = ~/Maildir/\n\n\
             [options]\ndelete = false\nread_all = false\nmax_message_size = 1000000\n\
             max_messages_per_session = 100\nverbose = 0\nmessage_log = ~/.getmail/log\n",
        );
        assert_eq!(a.name, "work");
        assert_eq!(a.tls, TlsMode::Implicit);
        assert_eq!(a.port, 995);
        assert!(
            matches!(&a.password, Some(Password::Literal(p)) if p.as_str() == "s3cret # not a comment")
        );
        assert_eq!(a.dest, Dest::Maildir("~/Maildir/".into()));
        assert!(a.keep && !a.fetch_all);
        assert_eq!(a.max_size, Some(1_000_000));
        assert_eq!(a.max_messages, Some(100));
        let opts: Vec<&str> = a.notes.iter().map(|n| n.option.as_str()).collect();
        assert_eq!(opts, ["message_log = ~/.getmail/log", "verbose = 0"]);
        assert_eq!(
            a.state,
            PeerState::Getmail {
                candidates: vec![
                    "/home/a/.getmail/oldmail-pop.example.com-995-alice".into(),
                    "/home/a/.config/getmail/oldmail-pop.example.com-995-alice".into(),
                ]
            }
        );
    }

    #[test]
    fn tuples_continuations_and_mda() {
        let a = one(
            "getmailrc",
            "[retriever]\ntype = SimplePOP3Retriever\nserver = pop.example.com\nport = 8110\n\
             username = u\npassword_command = (\"/usr/bin/pass\", 'show',\n    \"mail/u\",\n    )\n\
             [destination]\ntype = MDA_external\npath = $MAILDIRS/../bin/deliver\n\
             arguments = (r'-f\\x', \"--from=%(sender)\", \"100%\", 'a' \"b\",)\nunixfrom = true\n\
             [options]\ndelete = true\n[filter-1]\ntype = Filter_external\npath = /bin/cat\n",
        );
        assert_eq!(a.name, "pop.example.com");
        assert_eq!(a.tls, TlsMode::None);
        assert_eq!(a.port, 8110);
        assert!(
            matches!(&a.password, Some(Password::Command(CommandSpec::Argv(v))) if v == &["/usr/bin/pass", "show", "mail/u"])
        );
        assert_eq!(
            a.dest,
            Dest::Mda(CommandSpec::Argv(
                [
                    "/srv/mail/../bin/deliver",
                    "-f\\x",
                    "--from=%F",
                    "100%%",
                    "ab"
                ]
                .map(String::from)
                .to_vec()
            ))
        );
        assert!(!a.keep);
        for opt in ["unixfrom = true", "[filter-1]"] {
            assert!(
                a.notes.iter().any(|n| n.option == opt),
                "{opt}: {:#?}",
                a.notes
            );
        }
    }

    #[test]
    fn lmtp_destinations_become_lmtp() {
        let rc = |dest: &str| {
            format!(
                "[retriever]\ntype = SimplePOP3SSLRetriever\nserver = pop.example.com\n\
                 username = ann\npassword = p\n[destination]\ntype = MDA_lmtp\n{dest}"
            )
        };
        let a = one(
            "getmailrc",
            &rc("host = /run/dovecot/lmtp\noverride = ann\n"),
        );
        assert_eq!(
            a.dest,
            Dest::Lmtp {
                server: "unix:/run/dovecot/lmtp".into(),
                recipient: Some("ann".into())
            }
        );
        assert!(!a.dest_placeholder);
        let a = one(
            "getmailrc",
            &rc("host = localhost\nport = 24\nfallback = postmaster\n"),
        );
        assert_eq!(
            a.dest,
            Dest::Lmtp {
                server: "localhost:24".into(),
                recipient: None
            }
        );
        assert!(a.remarks.iter().any(|r| r.contains("`recipient`")));
        assert!(a.notes.iter().any(|n| n.option.starts_with("fallback")));
        let a = one("getmailrc", &rc("host = mail.example.com\n"));
        assert!(matches!(&a.dest, Dest::Lmtp { server, .. } if server == "mail.example.com:2003"));
        let a = one("getmailrc", &rc("host = x\nport = many\n"));
        assert!(a.dest_placeholder, "{:?}", a.dest);
    }

    #[test]
    fn multi_destinations_follow_sections() {
        let a = one(
            "rc",
            "[retriever]\ntype = SimplePOP3SSLRetriever\nserver = h\nusername = u\n\
             [destination]\ntype = MultiDestination\ndestinations = ('[proc]', '~/archive')\n\
             [proc]\ntype = MDA_external\npath = /usr/bin/procmail\narguments = ('-f', '%(sender)')\n\
             user = bob\n",
        );
        assert_eq!(a.name, "rc");
        assert_eq!(
            a.dest,
            Dest::Mda(CommandSpec::Argv(
                ["/usr/bin/procmail", "-f", "%F"].map(String::from).to_vec()
            ))
        );
        assert!(
            a.notes
                .iter()
                .any(|n| n.option.starts_with("type = MultiDestination"))
        );
        assert!(a.notes.iter().any(|n| n.option == "user = bob"));
        let b = one(
            "rc",
            "[retriever]\ntype = SimplePOP3SSLRetriever\nserver = h\nusername = u\n\
             [destination]\ntype = MultiDestination\ndestinations = (\"~/Maildir/\", )\n",
        );
        assert_eq!(b.dest, Dest::Maildir("~/Maildir/".into()));
        assert!(b.notes.is_empty(), "{:#?}", b.notes);
    }

    #[test]
    fn delete_after_fingerprints_and_flags() {
        let fp = "ab".repeat(32);
        let a = one(
            "rc",
            &format!(
                "[retriever]\ntype = SimplePOP3SSLRetriever\nserver = h\nusername = u\n\
                 ssl_fingerprints = ('{fp}', 'cd')\nuse_apop = Yes\nca_certs = $MAILDIRS/ca.pem\n\
                 [destination]\ntype = Mboxrd\npath = /var/mail/u\nlocktype = flock\n\
                 [options]\ndelete_after = 30\nread_all = true\nreceived = off\n"
            ),
        );
        assert!(a.keep);
        assert_eq!(a.delete_after_days, Some(30));
        assert!(a.fetch_all);
        assert_eq!(a.received_header, Some(false));
        assert_eq!(a.auth, Some(AuthChoice::Apop));
        assert_eq!(a.tls_ca_file.as_deref(), Some("/srv/mail/ca.pem"));
        assert_eq!(
            a.tls_fingerprint,
            Some(format!("sha256:{}", vec!["AB"; 32].join(":")))
        );
        assert!(
            a.notes
                .iter()
                .any(|n| n.option.starts_with("ssl_fingerprints"))
        );
        assert!(a.notes.iter().any(|n| n.option == "locktype = flock"));
    }

    #[test]
    fn imap_retrievers_are_disabled() {
        let a = one(
            "rc",
            "[retriever]\ntype = SimpleIMAPSSLRetriever\nserver = h\nusername = u\n\
             mailboxes = (\"INBOX\",)\n[destination]\ntype = Maildir\npath = ~/M/\n",
        );
        assert!(a.disabled.as_ref().unwrap().contains("not POP3"));
    }

    #[test]
    fn ini_errors_name_the_line() {
        let e = err("server = x\n");
        assert!(
            e.contains("getmailrc:1:") && e.contains("section header"),
            "{e}"
        );
        let e = err("[retriever]\ntype = SimplePOP3Retriever\ntype = x\n");
        assert!(e.contains(":3:") && e.contains("set twice"), "{e}");
        let e = err("[retriever]\nnot a setting\n");
        assert!(e.contains(":2:") && e.contains("NAME = VALUE"), "{e}");
        let e = err(
            "[retriever]\ntype = SimplePOP3Retriever\nserver = h\nusername = u\n\
                     password_command = ('a', 'b'\n[destination]\ntype = Maildir\npath = /m/\n",
        );
        assert!(e.contains(":5:") && e.contains("password_command"), "{e}");
        let e = err("[retriever]\ntype = SimplePOP3Retriever\nserver = h\n");
        assert!(e.contains("[destination]"), "{e}");
        let e = err("[retriever]\nserver = h\n[destination]\ntype = Maildir\npath = /m/\n");
        assert!(e.contains("type in [retriever] is missing"), "{e}");
    }

    #[test]
    fn python_literals() {
        assert_eq!(py("()"), Ok(Py::Tuple(vec![])));
        assert_eq!(py("('a',)"), Ok(Py::Tuple(vec![Py::Str("a".into())])));
        assert_eq!(py("('a')"), Ok(Py::Str("a".into())));
        assert_eq!(
            py("'a', \"b\""),
            Ok(Py::Tuple(vec![Py::Str("a".into()), Py::Str("b".into())]))
        );
        assert_eq!(
            py(r#"("\x41\u00e9\101\n\q",)"#).map(|p| match p {
                Py::Tuple(v) => v[0].text(),
                _ => String::new(),
            }),
            Ok("Aé A\n\\q".replace(' ', ""))
        );
        assert_eq!(py("(1, 2)"), Ok(Py::Tuple(vec![Py::Int(1), Py::Int(2)])));
        assert_eq!(
            py("(('a', 'b'), ('c', 'd'),)"),
            Ok(Py::Tuple(vec![
                Py::Tuple(vec![Py::Str("a".into()), Py::Str("b".into())]),
                Py::Tuple(vec![Py::Str("c".into()), Py::Str("d".into())]),
            ]))
        );
        assert_eq!(py("'''x'y'''"), Ok(Py::Str("x'y".into())));
        assert!(py("('a' 'b'").is_err());
        assert!(py("('a' x)").is_err());
        assert!(tuple_of_strings("['a']").is_err());
        assert_eq!(tuple_of_strings(""), Ok(vec![]));
    }

    #[test]
    fn oldmail_names() {
        assert_eq!(
            oldmail_name("pop.example.com", 995, "a/b:c;;d"),
            "oldmail-pop.example.com-995-a-b-c-d"
        );
    }

    #[test]
    fn expansion() {
        let e = env();
        assert_eq!(expand("$MAILDIRS/x", &e, false), "/srv/mail/x");
        assert_eq!(expand("${MAILDIRS}x$NOPE", &e, false), "/srv/mailx$NOPE");
        assert_eq!(expand("~/M/", &e, false), "~/M/");
        assert_eq!(expand("~/M/", &e, true), "/home/a/M/");
    }
}
