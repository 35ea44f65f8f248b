//! The config file: from TOML text to the `[defaults]` [`Layer`] and one
//! layer per `[account.NAME]`, in the file's order, with the position of
//! every key.
//!
//! The document is walked by hand over `toml`'s spanned tree rather than
//! deserialised with serde, so that every error can name the key, the section
//! and the exact line and column, and so that accounts keep the file's order.
//! Each value is read by the parsers in `value`.

use std::borrow::Cow;
use std::path::Path;

use toml::Spanned;
use toml::de::{DeTable, DeValue};
use zeroize::{Zeroize, Zeroizing};

use super::layer::{Layer, Origin, Setting};
use super::value::{
    auth_choice, boolean, command, integer, nonempty, path, pipelining, relay, string, tls_mode,
    word,
};
use super::{ConfigError, Env};
use crate::account::{
    Destination, PasswordSource, check_recipient, check_size, limits, normalize_fingerprint,
    parse_size, unsendable,
};
use crate::secret::Secret;
use crate::transport::Proxy;

/// The keys an account (or `[defaults]`) may set.
pub(super) const KNOWN_KEYS: &[&str] = &[
    "host",
    "port",
    "tls",
    "user",
    "password",
    "password_command",
    "auth",
    "allow_plaintext",
    "tls_ca_file",
    "tls_fingerprint",
    "tls_client_cert",
    "tls_client_key",
    "proxy",
    "maildir",
    "mbox",
    "mda",
    "lmtp",
    "smtp",
    "recipient",
    "keep",
    "delete_after_days",
    "max_size",
    "max_messages",
    "fetch_all",
    "timeout",
    "state_dir",
    "pipelining",
    "received_header",
    "commit_every",
    "log_file",
    "syslog",
    "max_connections_per_host",
];

/// `value`, set where `origin` says.
fn set<T>(origin: &Origin, value: T) -> Option<Setting<T>> {
    Some(Setting {
        value,
        origin: origin.clone(),
    })
}

/// One `[account.NAME]` table.
#[derive(Debug, Clone)]
pub(crate) struct RawAccount {
    pub name: String,
    /// `FILE:LINE:COL` of the name, for errors about keys that are missing.
    pub header_at: String,
    pub layer: Layer,
}

/// The whole file.
#[derive(Debug, Clone, Default)]
pub(crate) struct File {
    pub defaults: Layer,
    /// In the order of the file.
    pub accounts: Vec<RawAccount>,
    /// Where the first `password` key is, for the permission warning.
    pub password_at: Option<String>,
}

/// Turns byte offsets into `FILE:LINE:COL` (both 1-based, columns in characters).
struct Locator<'a> {
    path: &'a Path,
    text: &'a str,
    /// Where each line after the first starts: a position costs a binary
    /// search, not a scan from the top (a config of 1,000 accounts has
    /// some 10,000 positions).
    line_starts: Vec<usize>,
}

impl<'a> Locator<'a> {
    fn new(path: &'a Path, text: &'a str) -> Self {
        let line_starts = text
            .bytes()
            .enumerate()
            .filter(|&(_, b)| b == b'\n')
            .map(|(i, _)| i + 1)
            .collect();
        Locator {
            path,
            text,
            line_starts,
        }
    }

    fn at(&self, offset: usize) -> String {
        let mut offset = offset.min(self.text.len());
        while !self.text.is_char_boundary(offset) {
            offset -= 1;
        }
        // Lines that start at or before `offset`, after the first.
        let before = self.line_starts.partition_point(|&s| s <= offset);
        let line = before + 1;
        let line_start = before
            .checked_sub(1)
            .and_then(|i| self.line_starts.get(i))
            .copied()
            .unwrap_or(0);
        let col = self.text[line_start..offset].chars().count() + 1;
        format!("{}:{line}:{col}", self.path.display())
    }
}

/// Which table a key is in, for messages.
#[derive(Clone, Copy)]
enum Section<'a> {
    Defaults,
    Account(&'a str),
}

impl Section<'_> {
    fn describe(self) -> String {
        match self {
            Section::Defaults => "[defaults]".to_string(),
            Section::Account(name) => format!("account {name:?}"),
        }
    }
}

/// The parsed document. Most strings in it borrow from the file's text,
/// which the caller wipes; those TOML had to unescape are copies, a
/// password among them, and are wiped here when the document is dropped.
struct Document<'i>(Spanned<DeTable<'i>>);

impl Drop for Document<'_> {
    fn drop(&mut self) {
        wipe_table(self.0.get_mut());
    }
}

fn wipe_table(table: &mut DeTable<'_>) {
    for (_, v) in table.iter_mut() {
        wipe_value(v.get_mut());
    }
}

fn wipe_value(v: &mut DeValue<'_>) {
    match v {
        DeValue::String(Cow::Owned(s)) => s.zeroize(),
        DeValue::Array(items) => {
            for item in items.iter_mut() {
                wipe_value(item.get_mut());
            }
        }
        DeValue::Table(t) => wipe_table(t),
        _ => {}
    }
}

/// The `[account.NAME]` names in a config file's text, sorted; none when
/// it is not TOML. Nothing is checked. Like [`parse_file`], the strings
/// TOML had to copy (a password among them) are wiped afterwards.
pub(crate) fn account_names(text: &str) -> Vec<String> {
    let Ok(doc) = DeTable::parse(text).map(Document) else {
        return Vec::new();
    };
    let Some(accounts) = doc.0.get_ref().get("account").and_then(as_table) else {
        return Vec::new();
    };
    accounts.keys().map(|k| k.get_ref().to_string()).collect()
}

/// Parse and check the whole file.
pub(crate) fn parse_file(path: &Path, text: &str, env: &Env) -> Result<File, ConfigError> {
    let loc = Locator::new(path, text);
    let doc = DeTable::parse(text).map(Document).map_err(|e| {
        let at = loc.at(e.span().map_or(0, |s| s.start));
        ConfigError::Syntax {
            at,
            message: format!(
                "this is not valid TOML: {}",
                e.message().trim_end().replace('\n', "; ")
            ),
        }
    })?;

    let mut file = File::default();
    for (key, value) in in_file_order(doc.0.get_ref()) {
        match key.get_ref().as_ref() {
            "defaults" => {
                let table = as_table(value).ok_or_else(|| ConfigError::Invalid {
                    at: loc.at(value.span().start),
                    message: "defaults must be a table: write [defaults] on a line of its own \
                              and the settings below it"
                        .to_string(),
                })?;
                file.defaults = parse_layer(&loc, table, Section::Defaults, env, &mut file)?;
            }
            "account" => {
                let table = as_table(value).ok_or_else(|| ConfigError::Invalid {
                    at: loc.at(value.span().start),
                    message: "account must be a table of accounts: write [account.NAME] \
                              above each account's settings"
                        .to_string(),
                })?;
                for (name_key, body) in in_file_order(table) {
                    let name: &str = name_key.get_ref().as_ref();
                    let header_at = loc.at(name_key.span().start);
                    let Some(body) = as_table(body) else {
                        return Err(ConfigError::Invalid {
                            at: header_at,
                            message: format!(
                                "account.{name} is not a table: accounts are written \
                                 [account.NAME] with their settings below; to set {name} for \
                                 every account, put it under [defaults]"
                            ),
                        });
                    };
                    check_account_name(name).map_err(|message| ConfigError::Invalid {
                        at: header_at.clone(),
                        message,
                    })?;
                    let layer = parse_layer(&loc, body, Section::Account(name), env, &mut file)?;
                    file.accounts.push(RawAccount {
                        name: name.to_string(),
                        header_at,
                        layer,
                    });
                }
            }
            other => {
                let message = if KNOWN_KEYS.contains(&other) {
                    format!(
                        "key {other:?} is outside any table: move it under [defaults] (for \
                         every account) or under [account.NAME]"
                    )
                } else {
                    format!(
                        "unknown key {other:?}{}: the top level holds only [defaults] and \
                         [account.NAME] tables",
                        suggestion(other, &["defaults", "account"])
                    )
                };
                return Err(ConfigError::Invalid {
                    at: loc.at(key.span().start),
                    message,
                });
            }
        }
    }
    Ok(file)
}

fn in_file_order<'t, 'i>(
    table: &'t DeTable<'i>,
) -> Vec<(
    &'t Spanned<std::borrow::Cow<'i, str>>,
    &'t Spanned<DeValue<'i>>,
)> {
    // The table is sorted by key; the spans give back the order of the file.
    let mut entries: Vec<_> = table.iter().collect();
    entries.sort_by_key(|(k, _)| k.span().start);
    entries
}

fn as_table<'t, 'i>(v: &'t Spanned<DeValue<'i>>) -> Option<&'t DeTable<'i>> {
    v.get_ref().as_table()
}

/// Account names appear in every message and in `popfetch NAME`.
fn check_account_name(name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err("an account name must not be empty: write [account.NAME]".to_string());
    }
    if name.chars().any(char::is_control) {
        return Err(format!(
            "account name {name:?} contains a control character: use letters, digits, '-' or '_'"
        ));
    }
    if name.starts_with('-') {
        return Err(format!(
            "account name {name:?} starts with '-', so it could not be named on the command \
             line: rename it"
        ));
    }
    Ok(())
}

fn parse_layer(
    loc: &Locator<'_>,
    table: &DeTable<'_>,
    section: Section<'_>,
    env: &Env,
    file: &mut File,
) -> Result<Layer, ConfigError> {
    let mut layer = Layer::default();
    for (k, v) in in_file_order(table) {
        let key: &str = k.get_ref().as_ref();
        let origin = Origin::File {
            key_at: loc.at(k.span().start),
            in_defaults: matches!(section, Section::Defaults),
        };
        let key_err = |message: String| ConfigError::Invalid {
            at: loc.at(k.span().start),
            message: format!("{}: {message}", section.describe()),
        };
        let value_err = |message: String| ConfigError::Invalid {
            at: loc.at(v.span().start),
            message: format!("{}: key {key:?}: {message}", section.describe()),
        };
        let val = v.get_ref();
        match key {
            "host" => layer.host = set(&origin, word(val, "a host name").map_err(value_err)?),
            "user" => {
                let user = nonempty(val, "a user name").map_err(value_err)?;
                if let Some(what) = unsendable(&user) {
                    return Err(value_err(format!(
                        "the user name contains {what}, which no POP3 command can carry: \
                         remove it"
                    )));
                }
                layer.user = set(&origin, user);
            }
            "port" => {
                let n = integer(val).map_err(value_err)?;
                let port = u16::try_from(n)
                    .ok()
                    .filter(|p| *p != 0)
                    .ok_or_else(|| value_err(format!("{n} is not a port: use 1 to 65535")))?;
                layer.port = set(&origin, port);
            }
            "tls" => layer.tls = set(&origin, tls_mode(val).map_err(value_err)?),
            "auth" => layer.auth = set(&origin, auth_choice(val).map_err(value_err)?),
            "password" | "password_command" => {
                if let Some(prev) = &layer.password {
                    return Err(key_err(format!(
                        "both password and password_command are set (the first at {}): keep \
                         only one",
                        origin_at(&prev.origin)
                    )));
                }
                let source = if key == "password" {
                    let mut s = Zeroizing::new(string(val).map_err(value_err)?);
                    if s.is_empty() {
                        return Err(value_err(
                            "the password is empty: remove the key to be asked on the \
                             terminal, or set password_command"
                                .to_string(),
                        ));
                    }
                    if let Some(what) = unsendable(&s) {
                        return Err(value_err(format!(
                            "the password contains {what}, which no POP3 login can carry: \
                             remove it"
                        )));
                    }
                    if file.password_at.is_none() {
                        file.password_at = Some(loc.at(k.span().start));
                    }
                    PasswordSource::Literal(Secret::new(std::mem::take(&mut *s)))
                } else {
                    PasswordSource::Command(command(val).map_err(value_err)?)
                };
                layer.password = set(&origin, source);
            }
            "allow_plaintext" => {
                layer.allow_plaintext = set(&origin, boolean(val).map_err(value_err)?)
            }
            "tls_ca_file" => layer.tls_ca_file = set(&origin, path(val, env).map_err(value_err)?),
            "tls_fingerprint" => {
                let s = string(val).map_err(value_err)?;
                let fp = normalize_fingerprint(&s).map_err(value_err)?;
                layer.tls_fingerprint = set(&origin, fp);
            }
            "tls_client_cert" => {
                layer.tls_client_cert = set(&origin, path(val, env).map_err(value_err)?)
            }
            "tls_client_key" => {
                layer.tls_client_key = set(&origin, path(val, env).map_err(value_err)?)
            }
            "proxy" => {
                let proxy = Proxy::parse(&string(val).map_err(value_err)?).map_err(value_err)?;
                // The proxy's password is a password in the file too.
                if proxy.has_password() && file.password_at.is_none() {
                    file.password_at = Some(loc.at(k.span().start));
                }
                layer.proxy = set(&origin, proxy);
            }
            "maildir" | "mbox" | "mda" | "lmtp" | "smtp" => {
                if let Some(prev) = &layer.destination {
                    return Err(key_err(format!(
                        "{key} is set, but so is {} (at {}): an account delivers to exactly \
                         one of maildir, mbox, mda, lmtp or smtp, so remove one",
                        prev.value.key(),
                        origin_at(&prev.origin)
                    )));
                }
                let dest = match key {
                    "maildir" => Destination::Maildir(path(val, env).map_err(value_err)?),
                    "mbox" => Destination::Mbox(path(val, env).map_err(value_err)?),
                    "mda" => Destination::Mda(command(val).map_err(value_err)?),
                    _ => {
                        let addr = nonempty(val, "a server address").map_err(value_err)?;
                        relay(&addr, key == "smtp", env).map_err(value_err)?
                    }
                };
                layer.destination = set(&origin, dest);
            }
            "recipient" => {
                let r = nonempty(val, "a recipient address").map_err(value_err)?;
                check_recipient(&r).map_err(value_err)?;
                layer.recipient = set(&origin, r);
            }
            "keep" => layer.keep = set(&origin, boolean(val).map_err(value_err)?),
            "delete_after_days" => {
                let n = integer(val).map_err(value_err)?;
                let days = in_range(n, &limits::DELETE_AFTER_DAYS).ok_or_else(|| {
                    value_err(format!(
                        "{n} is not a number of days: give 0 to 36525 (100 years)"
                    ))
                })?;
                layer.delete_after_days = set(&origin, days);
            }
            "max_size" => {
                let size = match val {
                    DeValue::String(s) => parse_size(s).map_err(value_err)?,
                    other => {
                        let n = integer(other).map_err(|_| {
                            value_err(format!(
                                "expected a size, found {}: write bytes (10485760) or a \
                                 string such as \"10M\"",
                                other.type_str()
                            ))
                        })?;
                        let n = u64::try_from(n).map_err(|_| {
                            value_err(format!(
                                "{n} is not a size: give a positive number of bytes, or \
                                 remove max_size for no limit"
                            ))
                        })?;
                        check_size(n, &n.to_string()).map_err(value_err)?
                    }
                };
                layer.max_size = set(&origin, size);
            }
            "max_messages" => {
                let n = integer(val).map_err(value_err)?;
                let max = in_range(n, &limits::MAX_MESSAGES).ok_or_else(|| {
                    value_err(format!(
                        "{n} is not a message count: give 1 to 1000000000, or remove \
                         max_messages for no limit"
                    ))
                })?;
                layer.max_messages = set(&origin, max);
            }
            "fetch_all" => layer.fetch_all = set(&origin, boolean(val).map_err(value_err)?),
            "timeout" => {
                let n = integer(val).map_err(value_err)?;
                let secs = in_range(n, &limits::TIMEOUT_SECS).ok_or_else(|| {
                    value_err(format!(
                        "{n} is not a timeout: give a number of seconds from 1 to 86400 (a day)"
                    ))
                })?;
                layer.timeout = set(&origin, secs);
            }
            "state_dir" => layer.state_dir = set(&origin, path(val, env).map_err(value_err)?),
            "pipelining" => layer.pipelining = set(&origin, pipelining(val).map_err(value_err)?),
            "received_header" => {
                layer.received_header = set(&origin, boolean(val).map_err(value_err)?)
            }
            "commit_every" => {
                let n = integer(val).map_err(value_err)?;
                let every = in_range(n, &limits::COMMIT_EVERY).ok_or_else(|| {
                    value_err(format!(
                        "{n} is not a number of deletions: give 1 to 1000000000 to QUIT after \
                         that many, or 0 (the default) for one QUIT per session"
                    ))
                })?;
                layer.commit_every = set(&origin, every);
            }
            "log_file" => layer.log_file = set(&origin, path(val, env).map_err(value_err)?),
            "syslog" => layer.syslog = set(&origin, boolean(val).map_err(value_err)?),
            "max_connections_per_host" => {
                let n = integer(val).map_err(value_err)?;
                let cap = in_range(n, &limits::CONNECTIONS_PER_HOST).ok_or_else(|| {
                    value_err(format!(
                        "{n} is not a number of connections: give 1 to 1024 (default {})",
                        limits::DEFAULT_CONNECTIONS_PER_HOST
                    ))
                })?;
                layer.max_connections_per_host = set(&origin, cap);
            }
            k => {
                return Err(key_err(format!(
                    "unknown key {k:?}{}; the keys are {}",
                    suggestion(k, KNOWN_KEYS),
                    KNOWN_KEYS.join(", ")
                )));
            }
        }
    }
    Ok(layer)
}

/// `n` as a `T` when it is within `range`.
fn in_range<T: TryFrom<u64>>(n: i64, range: &std::ops::RangeInclusive<u64>) -> Option<T> {
    u64::try_from(n)
        .ok()
        .filter(|n| range.contains(n))
        .and_then(|n| T::try_from(n).ok())
}

fn origin_at(o: &Origin) -> String {
    match o {
        Origin::File { key_at, .. } => key_at.clone(),
        Origin::Flag(f) => (*f).to_string(),
    }
}

/// `(did you mean "port"?)` for a near miss, or nothing.
fn suggestion(key: &str, known: &[&str]) -> String {
    known
        .iter()
        .map(|k| (edit_distance(key, k), *k))
        .filter(|(d, k)| *d <= 2.max(k.len() / 4))
        .min()
        .map(|(_, k)| format!(" (did you mean {k:?}?)"))
        .unwrap_or_default()
}

pub(crate) fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cur = row[j + 1];
            row[j + 1] = if ca == *cb {
                prev
            } else {
                1 + prev.min(cur).min(row[j])
            };
            prev = cur;
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn account_names_reads_only_the_headers() {
        let text = "[defaults]\nuser = \"a\"\n[account.work]\npassword = \"p\\u0041\"\n\
                    [account.home]\nhost = 1\n";
        assert_eq!(account_names(text), ["home", "work"]);
        assert!(account_names("not toml [").is_empty());
        assert!(account_names("account = 1").is_empty());
    }

    /// A password TOML had to unescape is an owned copy of the file's
    /// text: it is wiped with the document.
    #[test]
    fn unescaped_strings_are_wiped_with_the_document() {
        let text = "[account.a]\npassword = \"s\\u0065cret\"\nmda = [\"x\\ty\"]\n";
        let mut doc = DeTable::parse(text).unwrap();
        wipe_table(doc.get_mut());
        let acct = doc.get_ref()["account"].get_ref().as_table().unwrap()["a"]
            .get_ref()
            .as_table()
            .unwrap();
        assert_eq!(acct["password"].get_ref().as_str(), Some(""));
        let mda = acct["mda"].get_ref().as_array().unwrap();
        assert_eq!(mda[0].get_ref().as_str(), Some(""));
    }
}
