//! A resolved, validated account: everything one fetch needs, with no
//! optional-ness left that the rest of the program would have to re-check.
//!
//! `config` builds these from the TOML file and the command line; every later
//! stage only reads them. The parsers for values that are written the same
//! way in both places (a size, a certificate fingerprint) are here too, so
//! that `config` and `cli` share them, and so is each choice's one list of
//! values (`TlsMode::ALL`, `AuthChoice::ALL`, `Pipelining::ALL`), with the
//! name written in both places and a line of help for each.

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use crate::secret::Secret;
use crate::transport::Proxy;

/// How the connection is secured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TlsMode {
    /// TLS from the first byte (POP3S, port 995).
    Implicit,
    /// Plain TCP, then STLS (RFC 2595); refuse if the server does not offer it.
    Starttls,
    /// No TLS at all; credentials only with `allow_plaintext = true`.
    None,
}

impl TlsMode {
    /// Every mode, in the order `--help` lists them.
    pub(crate) const ALL: [TlsMode; 3] = [TlsMode::Implicit, TlsMode::Starttls, TlsMode::None];

    /// The name written in the config file and after `--tls`, and its line
    /// of help.
    fn spelling(self) -> (&'static str, &'static str) {
        match self {
            TlsMode::Implicit => ("implicit", "TLS from the first byte (POP3S, port 995)"),
            TlsMode::Starttls => (
                "starttls",
                "Plain connection upgraded with STLS; refused if the server does not offer it",
            ),
            TlsMode::None => (
                "none",
                "No encryption; needs --allow-plaintext to send a password",
            ),
        }
    }

    pub(crate) fn name(self) -> &'static str {
        self.spelling().0
    }

    pub(crate) fn help(self) -> &'static str {
        self.spelling().1
    }

    pub(crate) fn default_port(self) -> u16 {
        match self {
            TlsMode::Implicit => 995,
            TlsMode::Starttls | TlsMode::None => 110,
        }
    }
}

/// Which authentication mechanism to use. `Auto` picks the strongest the
/// server offers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthChoice {
    Auto,
    User,
    Apop,
    Plain,
    Login,
    CramMd5,
    ScramSha256,
    ScramSha1,
    Xoauth2,
    Oauthbearer,
}

impl AuthChoice {
    /// Every method, in the order `--help` and the config error list them.
    pub(crate) const ALL: [AuthChoice; 10] = [
        AuthChoice::Auto,
        AuthChoice::User,
        AuthChoice::Apop,
        AuthChoice::Plain,
        AuthChoice::Login,
        AuthChoice::CramMd5,
        AuthChoice::ScramSha256,
        AuthChoice::ScramSha1,
        AuthChoice::Xoauth2,
        AuthChoice::Oauthbearer,
    ];

    /// The name written in the config file and after `--auth`, and its line
    /// of help.
    fn spelling(self) -> (&'static str, &'static str) {
        match self {
            AuthChoice::Auto => ("auto", "The strongest method the server offers"),
            AuthChoice::User => ("user", "USER and PASS"),
            AuthChoice::Apop => ("apop", "APOP (MD5 challenge)"),
            AuthChoice::Plain => ("plain", "SASL PLAIN"),
            AuthChoice::Login => ("login", "SASL LOGIN"),
            AuthChoice::CramMd5 => ("cram-md5", "SASL CRAM-MD5"),
            AuthChoice::ScramSha256 => ("scram-sha-256", "SASL SCRAM-SHA-256"),
            AuthChoice::ScramSha1 => ("scram-sha-1", "SASL SCRAM-SHA-1"),
            AuthChoice::Xoauth2 => (
                "xoauth2",
                "OAuth 2 token, XOAUTH2 (Google, Microsoft); the password source prints the token",
            ),
            AuthChoice::Oauthbearer => (
                "oauthbearer",
                "OAuth 2 token, OAUTHBEARER (RFC 7628); the password source prints the token",
            ),
        }
    }

    pub(crate) fn name(self) -> &'static str {
        self.spelling().0
    }

    pub(crate) fn help(self) -> &'static str {
        self.spelling().1
    }
}

/// A command given in the config: an argv list runs directly, a string runs
/// through `sh -c`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CommandSpec {
    Argv(Vec<String>),
    Shell(String),
}

impl CommandSpec {
    /// The command for messages: an argv's words joined by blanks, or the
    /// shell line as written.
    pub(crate) fn shown(&self) -> String {
        match self {
            CommandSpec::Argv(argv) => argv.join(" "),
            CommandSpec::Shell(line) => line.clone(),
        }
    }

    /// The program that is started: an argv's first word (empty when the
    /// list is), or `sh` for a shell line.
    pub(crate) fn program(&self) -> String {
        match self {
            CommandSpec::Argv(argv) => argv.first().cloned().unwrap_or_default(),
            CommandSpec::Shell(_) => "sh".to_string(),
        }
    }

    /// The process to start, with only its arguments set: an argv runs
    /// directly, a shell line through `sh -c`.
    pub(crate) fn to_command(&self) -> Command {
        let mut cmd = Command::new(self.program());
        match self {
            CommandSpec::Argv(argv) => cmd.args(argv.iter().skip(1)),
            CommandSpec::Shell(line) => cmd.arg("-c").arg(line),
        };
        cmd
    }
}

/// Where the password (or OAuth token) comes from.
#[derive(Debug, Clone)]
pub enum PasswordSource {
    /// Written in the config file.
    Literal(Secret),
    /// Printed by a command on stdout (first line, trailing newline removed).
    Command(CommandSpec),
    /// Asked for on the terminal; an error when there is none (cron).
    Prompt,
}

/// Where fetched messages go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Destination {
    Maildir(PathBuf),
    Mbox(PathBuf),
    Mda(CommandSpec),
    /// Handed to an LMTP server (RFC 2033).
    Lmtp(Relay),
    /// Handed to an SMTP server (RFC 5321), normally this machine's MTA.
    Smtp(Relay),
}

impl Destination {
    /// The config key that chose it ("maildir", "mbox", "mda", "lmtp",
    /// "smtp"); also `accounts --json`'s `delivery`.
    pub(crate) fn key(&self) -> &'static str {
        match self {
            Destination::Maildir(_) => "maildir",
            Destination::Mbox(_) => "mbox",
            Destination::Mda(_) => "mda",
            Destination::Lmtp(_) => "lmtp",
            Destination::Smtp(_) => "smtp",
        }
    }

    /// A short description for summaries ("~/Mail/work", "| procmail",
    /// "LMTP unix:/run/dovecot/lmtp").
    pub(crate) fn describe(&self) -> String {
        match self {
            Destination::Maildir(p) | Destination::Mbox(p) => p.display().to_string(),
            Destination::Mda(command) => format!("| {}", command.shown()),
            Destination::Lmtp(r) => format!("LMTP {}", r.server),
            Destination::Smtp(r) => format!("SMTP {}", r.server),
        }
    }
}

/// A server that takes messages by LMTP or SMTP, and for whom.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Relay {
    pub server: ServerAddr,
    /// The envelope recipient: `recipient`, else the account's user. Empty
    /// until the account is resolved.
    pub recipient: String,
}

/// Where an LMTP or SMTP server listens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ServerAddr {
    /// A Unix-domain socket.
    Unix(PathBuf),
    /// A host name or IP address, and a port.
    Tcp { host: String, port: u16 },
}

impl std::fmt::Display for ServerAddr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ServerAddr::Unix(p) => write!(f, "unix:{}", p.display()),
            ServerAddr::Tcp { host, port } if host.contains(':') => write!(f, "[{host}]:{port}"),
            ServerAddr::Tcp { host, port } => write!(f, "{host}:{port}"),
        }
    }
}

/// The port `smtp = "host"` means.
pub(crate) const SMTP_PORT: u16 = 25;

/// Parse `lmtp` or `smtp`: `unix:/path` (or just `/path`) for a Unix
/// socket, `host:port` or `[v6]:port` for TCP. `smtp` may leave out the
/// port (25); LMTP has no standard port, so `lmtp` must give one. A
/// socket path starting with `~` is left for the caller to expand.
pub(crate) fn parse_server(s: &str, smtp: bool) -> Result<ServerAddr, String> {
    let key = if smtp { "smtp" } else { "lmtp" };
    let example = if smtp {
        "\"127.0.0.1:25\""
    } else {
        "\"unix:/run/dovecot/lmtp\" or \"127.0.0.1:24\""
    };
    let t = s.trim();
    if let Some(path) = t
        .strip_prefix("unix:")
        .or_else(|| t.starts_with('/').then_some(t))
    {
        if path.is_empty() || !(path.starts_with('/') || path.starts_with('~')) {
            return Err(format!(
                "{s:?} does not name a socket: write the absolute path after \"unix:\", e.g. \"unix:/run/dovecot/lmtp\""
            ));
        }
        return Ok(ServerAddr::Unix(PathBuf::from(path)));
    }
    let bad = |why: &str| format!("{s:?} is not a server address ({why}): write e.g. {example}");
    if t.is_empty() || t.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(bad("it is empty or contains a blank"));
    }
    let (host, port) = if let Some(rest) = t.strip_prefix('[') {
        let (host, after) = rest.split_once(']').ok_or_else(|| bad("no closing ]"))?;
        match after.strip_prefix(':') {
            Some(p) => (host, Some(p)),
            None if after.is_empty() => (host, None),
            None => return Err(bad("text after ]")),
        }
    } else {
        match t.rsplit_once(':') {
            Some((h, _)) if h.contains(':') => {
                return Err(bad("an IPv6 address goes in brackets, e.g. \"[::1]:24\""));
            }
            Some((h, p)) => (h, Some(p)),
            None => (t, None),
        }
    };
    if host.is_empty() {
        return Err(bad("no host"));
    }
    let port = match port {
        Some(p) => p
            .parse::<u16>()
            .ok()
            .filter(|p| *p != 0)
            .ok_or_else(|| bad("the port must be 1 to 65535"))?,
        None if smtp => SMTP_PORT,
        None => {
            return Err(bad(&format!("{key} has no standard port, so give one")));
        }
    };
    Ok(ServerAddr::Tcp {
        host: host.to_string(),
        port,
    })
}

/// Check an envelope recipient (`recipient`, or the user standing in for
/// it): it goes into `RCPT TO:<...>`, so no blank, control character or
/// angle bracket.
pub(crate) fn check_recipient(s: &str) -> Result<(), String> {
    if s.is_empty() {
        return Err("the recipient must not be empty".to_string());
    }
    if s.len() > 320 {
        return Err(format!("{s:?} is too long for an address"));
    }
    if s.chars()
        .any(|c| c.is_whitespace() || c.is_control() || c == '<' || c == '>')
    {
        return Err(format!(
            "{s:?} cannot be an envelope recipient: it contains a blank, a control character \
             or an angle bracket; write the address alone, e.g. \"alice\" or \"alice@example.org\""
        ));
    }
    Ok(())
}

/// What to fetch and what to delete.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Policy {
    /// Leave messages on the server after delivery.
    pub keep: bool,
    /// With `keep`: delete messages first seen more than this many days ago.
    pub delete_after_days: Option<u32>,
    /// Leave larger messages on the server and report them.
    pub max_size: Option<u64>,
    /// At most this many messages per run, oldest first.
    pub max_messages: Option<usize>,
    /// Ignore the UID state and fetch everything on the server.
    pub fetch_all: bool,
}

/// Whether to pipeline commands (RFC 2449).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Pipelining {
    /// When CAPA offers PIPELINING.
    #[default]
    Auto,
    On,
    Off,
}

impl Pipelining {
    /// Every setting, in the order `--help` lists them.
    pub(crate) const ALL: [Pipelining; 3] = [Pipelining::Auto, Pipelining::On, Pipelining::Off];

    /// The name written in the config file and after `--pipelining`, and its
    /// line of help.
    fn spelling(self) -> (&'static str, &'static str) {
        match self {
            Pipelining::Auto => ("auto", "When the server announces PIPELINING"),
            Pipelining::On => ("on", "Always, even when the server does not announce it"),
            Pipelining::Off => ("off", "Never: one command at a time"),
        }
    }

    pub(crate) fn name(self) -> &'static str {
        self.spelling().0
    }

    pub(crate) fn help(self) -> &'static str {
        self.spelling().1
    }
}

/// One fully resolved account.
#[derive(Debug, Clone)]
pub struct Account {
    /// The profile name (`[account.NAME]`), used in every message.
    pub name: String,
    pub host: String,
    pub port: u16,
    pub tls: TlsMode,
    pub user: String,
    pub auth: AuthChoice,
    pub password: PasswordSource,
    /// Allow credentials over an unencrypted connection.
    pub allow_plaintext: bool,
    /// Trust anchors that replace the system store.
    pub tls_ca_file: Option<PathBuf>,
    /// `sha256:AA:BB:...`: accept exactly this certificate.
    pub tls_fingerprint: Option<String>,
    /// A client certificate (PEM) to show the server, and the file with
    /// its private key (the certificate's file when `None`).
    pub tls_client_cert: Option<PathBuf>,
    pub tls_client_key: Option<PathBuf>,
    /// Connect through this SOCKS5 proxy, which resolves `host`.
    pub proxy: Option<Proxy>,
    pub destination: Destination,
    pub policy: Policy,
    /// Connect, and every read and write.
    pub timeout: Duration,
    /// Where the UID state, journal and lock live.
    pub state_dir: PathBuf,
    pub pipelining: Pipelining,
    /// Prepend a `Received:` trace header.
    pub received_header: bool,
    /// QUIT (committing the deletions) after this many deletions, and go
    /// on in a new session; `None`: one QUIT at the end of the session.
    pub commit_every: Option<usize>,
    /// Append a line per delivered message and per run to this file.
    pub log_file: Option<PathBuf>,
    /// Send the same lines to the system log (facility mail).
    pub syslog: bool,
    /// At most this many sessions at once to this account's `host:port`
    /// across the run (see `run::Slots`).
    pub max_connections_per_host: usize,
}

impl Account {
    /// The identity of the mailbox: `user@host:port`. Locks and state are
    /// keyed on it, so two profiles for the same mailbox share them.
    pub(crate) fn mailbox_id(&self) -> String {
        format!("{}@{}:{}", self.user, self.host, self.port)
    }
}

/// What in a user name or password no POP3 command can carry: a command
/// ends at CRLF, and a NUL confuses servers written in C. Checked when
/// the value is read, so that the error can say where it came from.
pub(crate) fn unsendable(s: &str) -> Option<&'static str> {
    if s.contains(['\r', '\n']) {
        Some("a line break")
    } else if s.contains('\0') {
        Some("a NUL character")
    } else {
        None
    }
}

/// The ranges of the numeric settings, the same in the config file and on
/// the command line. Generous, but bounded: a value beyond them is a
/// mistake, and would overflow a clock or a counter further on.
pub(crate) mod limits {
    use std::ops::RangeInclusive;

    /// `timeout`: up to a day.
    pub const TIMEOUT_SECS: RangeInclusive<u64> = 1..=86_400;
    /// `max_messages`.
    pub const MAX_MESSAGES: RangeInclusive<u64> = 1..=1_000_000_000;
    /// `delete_after_days`: up to 100 years.
    pub const DELETE_AFTER_DAYS: RangeInclusive<u64> = 0..=36_525;
    /// `max_size`: up to 1 TiB.
    pub const MAX_SIZE: u64 = 1 << 40;
    /// `-j`: accounts at the same time.
    pub const JOBS: RangeInclusive<u64> = 1..=1024;
    /// `max_connections_per_host`: sessions at once to one `host:port`.
    pub const CONNECTIONS_PER_HOST: RangeInclusive<u64> = 1..=1024;
    /// `max_connections_per_host` when nothing sets it: providers cap
    /// concurrent POP3 sessions per client address (Dovecot's
    /// `mail_max_userip_connections` is 10 per user), and a fleet on one
    /// provider should stay well below such caps.
    pub const DEFAULT_CONNECTIONS_PER_HOST: usize = 4;
    /// `--shard K/N`: N, the number of shards.
    pub const SHARDS: RangeInclusive<u64> = 1..=10_000;
    /// `commit_every`: 0 is off.
    pub const COMMIT_EVERY: RangeInclusive<u64> = 0..=1_000_000_000;
}

/// Check a size in bytes against [`limits::MAX_SIZE`]; `shown` is how it
/// was written.
pub(crate) fn check_size(size: u64, shown: &str) -> Result<u64, String> {
    if size == 0 {
        return Err(format!(
            "a size of 0 would leave every message on the server: give a positive size, or \
             remove the setting for no limit (got {shown})"
        ));
    }
    if size > limits::MAX_SIZE {
        return Err(format!(
            "{shown} is more than the largest size, 1 TiB (1024G): give a smaller size, or \
             remove the setting for no limit"
        ));
    }
    Ok(size)
}

/// Parse a size: plain bytes ("1048576") or a number with a suffix k, M or G
/// (powers of 1024; case and a trailing "B" or "iB" do not matter), from 1
/// byte to 1 TiB.
pub(crate) fn parse_size(s: &str) -> Result<u64, String> {
    let bad = || {
        format!(
            "{s:?} is not a size: write a number of bytes, or a number followed by k, M or G \
             (powers of 1024), e.g. \"10M\""
        )
    };
    let t = s.trim();
    let digits_end = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (num, suffix) = t.split_at(digits_end);
    let n: u64 = num.parse().map_err(|_| bad())?;
    let suffix = suffix.trim_start().to_ascii_lowercase();
    let unit = suffix
        .strip_suffix("ib")
        .or_else(|| suffix.strip_suffix('b'))
        .unwrap_or(&suffix);
    let factor: u64 = match unit {
        "" => 1,
        "k" => 1 << 10,
        "m" => 1 << 20,
        "g" => 1 << 30,
        _ => return Err(bad()),
    };
    // "b" alone means bytes, but "ib" alone is no unit at all.
    if unit.is_empty() && suffix == "ib" {
        return Err(bad());
    }
    let size = n.saturating_mul(factor);
    check_size(size, &format!("{s:?}"))
}

/// Check a certificate pin and write it as `sha256:AB:CD:...`. Takes the
/// forms people paste: 32 hex bytes in either case, with or without colons
/// (or blanks) between them, bare or after `sha256:`, openssl's `sha256
/// Fingerprint=` (`openssl x509 -noout -fingerprint -sha256`) or mpop's
/// `SHA256: ` (`mpop --serverinfo`).
pub(crate) fn normalize_fingerprint(s: &str) -> Result<String, String> {
    let bad = |why: &str| {
        format!(
            "{s:?} is not a SHA-256 fingerprint{why}: write 32 hex bytes, with or without \
             colons, e.g. \"sha256:3A:9F:...\" (`popfetch serverinfo` and `openssl x509 -noout \
             -fingerprint -sha256` print it)"
        )
    };
    let t = s.trim();
    let lower = t.to_ascii_lowercase();
    const PREFIXES: [&str; 5] = [
        "sha256 fingerprint=",
        "sha2-256 fingerprint=",
        "sha256:",
        "sha-256:",
        "sha256=",
    ];
    let rest = match PREFIXES.iter().find(|p| lower.starts_with(*p)) {
        Some(p) => t[p.len()..].trim_start(),
        None if ["sha1", "sha-1", "md5"]
            .iter()
            .any(|a| lower.starts_with(a)) =>
        {
            return Err(bad(" (popfetch pins SHA-256 only)"));
        }
        None => t,
    };
    let groups: Vec<&str> = rest.split([':', ' ']).filter(|g| !g.is_empty()).collect();
    let pairs: Vec<&str> = match groups.as_slice() {
        // No separators: cut into pairs.
        [one] if one.is_ascii() && one.len() % 2 == 0 => {
            (0..one.len()).step_by(2).map(|i| &one[i..i + 2]).collect()
        }
        _ => groups,
    };
    if !pairs
        .iter()
        .all(|p| p.len() == 2 && p.bytes().all(|b| b.is_ascii_hexdigit()))
    {
        return Err(bad(""));
    }
    match pairs.len() {
        32 => Ok(format!("sha256:{}", pairs.join(":").to_ascii_uppercase())),
        20 => Err(bad(
            " (20 bytes is a SHA-1 fingerprint; popfetch pins SHA-256)",
        )),
        16 => Err(bad(
            " (16 bytes is an MD5 fingerprint; popfetch pins SHA-256)",
        )),
        _ => Err(bad("")),
    }
}

/// An account as other modules' tests want one: `name` at `host`:995,
/// implicit TLS, user alice, everything else the defaults, nothing on
/// disk.
#[cfg(test)]
pub(crate) fn test_account(name: &str, host: &str) -> Account {
    Account {
        name: name.into(),
        host: host.into(),
        port: 995,
        tls: TlsMode::Implicit,
        user: "alice".into(),
        auth: AuthChoice::Auto,
        password: PasswordSource::Prompt,
        allow_plaintext: false,
        tls_ca_file: None,
        tls_fingerprint: None,
        tls_client_cert: None,
        tls_client_key: None,
        proxy: None,
        destination: Destination::Maildir(PathBuf::from("/nonexistent")),
        policy: Policy::default(),
        timeout: Duration::from_secs(60),
        state_dir: PathBuf::from("/nonexistent"),
        pipelining: Pipelining::Auto,
        received_header: true,
        commit_every: None,
        log_file: None,
        syslog: false,
        max_connections_per_host: 4,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(parse_size("1024"), Ok(1024));
        assert_eq!(parse_size("500k"), Ok(500 * 1024));
        assert_eq!(parse_size("500K"), Ok(500 * 1024));
        assert_eq!(parse_size("10M"), Ok(10 * 1024 * 1024));
        assert_eq!(parse_size("10MB"), Ok(10 * 1024 * 1024));
        assert_eq!(parse_size("10 MiB"), Ok(10 * 1024 * 1024));
        assert_eq!(parse_size("1G"), Ok(1 << 30));
        assert_eq!(parse_size("7b"), Ok(7));
        for bad in [
            "",
            "M",
            "10Q",
            "1.5M",
            "-1",
            "10 iB",
            "0",
            "0M",
            "99999999999999999999G",
        ] {
            assert!(parse_size(bad).is_err(), "{bad:?} accepted");
        }
        assert!(parse_size("17179869184G").is_err(), "overflow is an error");
        assert_eq!(parse_size("1024G"), Ok(limits::MAX_SIZE));
        assert!(parse_size("1025G").unwrap_err().contains("1 TiB"));
    }

    #[test]
    fn fingerprints() {
        let hex: String = (0u8..32).map(|b| format!("{b:02x}")).collect();
        let want = format!(
            "sha256:{}",
            (0u8..32)
                .map(|b| format!("{b:02X}"))
                .collect::<Vec<_>>()
                .join(":")
        );
        assert_eq!(
            normalize_fingerprint(&format!("sha256:{hex}")),
            Ok(want.clone())
        );
        assert_eq!(
            normalize_fingerprint(&format!("SHA256:{hex}")),
            Ok(want.clone())
        );
        assert_eq!(
            normalize_fingerprint(&want.to_lowercase()),
            Ok(want.clone())
        );
        let colons = want.trim_start_matches("sha256:");
        for form in [
            hex.clone(),
            hex.to_uppercase(),
            colons.to_string(),
            colons.to_lowercase(),
            format!("sha256 Fingerprint={colons}"),
            format!("SHA256 Fingerprint={colons}\n"),
            format!("sha256 fingerprint={}", colons.to_lowercase()),
            format!("SHA256: {colons}"),
            format!("  SHA256:{colons}  "),
            format!("sha256:{}", colons.replace(':', " ")),
        ] {
            assert_eq!(normalize_fingerprint(&form), Ok(want.clone()), "{form:?}");
        }
        let sha1: String = (0u8..20).map(|b| format!("{b:02X}:")).collect();
        assert!(
            normalize_fingerprint(sha1.trim_end_matches(':'))
                .unwrap_err()
                .contains("SHA-1")
        );
        assert!(
            normalize_fingerprint(&format!("sha1 Fingerprint={}", &hex[..40]))
                .unwrap_err()
                .contains("SHA-256 only")
        );
        for bad in [
            format!("{hex}0"),
            format!("sha1:{hex}"),
            format!("md5:{hex}"),
            format!("sha256:{}", &hex[..62]),
            format!("sha256:{hex}00"),
            format!("sha256:{}zz", &hex[..62]),
            format!("sha256:0:{}", &want[8..]),
            "sha256:".to_string(),
            "sha256:é".to_string(),
        ] {
            assert!(normalize_fingerprint(&bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn each_choice_is_listed_once_under_its_own_name() {
        fn check<T: Copy + PartialEq + std::fmt::Debug>(all: &[T], name: fn(T) -> &'static str) {
            for (i, a) in all.iter().enumerate() {
                for b in &all[i + 1..] {
                    assert_ne!(a, b);
                    assert_ne!(name(*a), name(*b));
                }
            }
        }
        check(&TlsMode::ALL, TlsMode::name);
        check(&AuthChoice::ALL, AuthChoice::name);
        check(&Pipelining::ALL, Pipelining::name);
        assert_eq!(AuthChoice::ScramSha256.name(), "scram-sha-256");
        assert_eq!(
            TlsMode::None.help(),
            "No encryption; needs --allow-plaintext to send a password"
        );
    }

    #[test]
    fn server_addresses() {
        let tcp = |h: &str, p| ServerAddr::Tcp {
            host: h.into(),
            port: p,
        };
        assert_eq!(
            parse_server("unix:/run/dovecot/lmtp", false),
            Ok(ServerAddr::Unix("/run/dovecot/lmtp".into()))
        );
        assert_eq!(
            parse_server("/run/lmtp", false),
            Ok(ServerAddr::Unix("/run/lmtp".into()))
        );
        assert_eq!(
            parse_server("unix:~/lmtp", true),
            Ok(ServerAddr::Unix("~/lmtp".into()))
        );
        assert_eq!(
            parse_server("127.0.0.1:24", false),
            Ok(tcp("127.0.0.1", 24))
        );
        assert_eq!(parse_server(" [::1]:2525 ", true), Ok(tcp("::1", 2525)));
        assert_eq!(parse_server("localhost", true), Ok(tcp("localhost", 25)));
        assert_eq!(parse_server("[::1]", true), Ok(tcp("::1", 25)));
        for (bad, why) in [
            ("localhost", "no standard port"),
            ("unix:", "absolute path"),
            ("unix:run/lmtp", "absolute path"),
            ("::1:24", "brackets"),
            ("[::1:24", "no closing ]"),
            ("[::1]x", "text after ]"),
            ("h:0", "1 to 65535"),
            ("h:65536", "1 to 65535"),
            (":24", "no host"),
            ("a b:24", "blank"),
            ("", "empty"),
        ] {
            let e = parse_server(bad, false).unwrap_err();
            assert!(e.contains(why), "{bad:?}: {e}");
        }
        assert_eq!(tcp("::1", 24).to_string(), "[::1]:24");
        assert_eq!(ServerAddr::Unix("/s".into()).to_string(), "unix:/s");
        let relay = Relay {
            server: tcp("h", 25),
            recipient: "r".into(),
        };
        assert_eq!(Destination::Smtp(relay).describe(), "SMTP h:25");
        assert!(check_recipient("jürgen@example.org").is_ok());
        for bad in ["", "a b", "<a>", "a\tb", &"x".repeat(321)] {
            assert!(check_recipient(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn commands_are_shown_and_started_as_written() {
        let argv = CommandSpec::Argv(vec!["pass".into(), "show".into(), "mail/work".into()]);
        assert_eq!(argv.shown(), "pass show mail/work");
        assert_eq!(argv.program(), "pass");
        let cmd = argv.to_command();
        assert_eq!(cmd.get_program(), "pass");
        assert_eq!(cmd.get_args().collect::<Vec<_>>(), ["show", "mail/work"]);

        let shell = CommandSpec::Shell("gpg -d ~/.pw.gpg | head -1".into());
        assert_eq!(shell.shown(), "gpg -d ~/.pw.gpg | head -1");
        assert_eq!(shell.program(), "sh");
        let cmd = shell.to_command();
        assert_eq!(cmd.get_program(), "sh");
        assert_eq!(
            cmd.get_args().collect::<Vec<_>>(),
            ["-c", "gpg -d ~/.pw.gpg | head -1"]
        );

        assert_eq!(CommandSpec::Argv(Vec::new()).program(), "");
        let mda = Destination::Mda(CommandSpec::Argv(vec!["procmail".into(), "-f".into()]));
        assert_eq!(mda.describe(), "| procmail -f");
    }

    mod properties {
        use proptest::prelude::*;

        use super::super::{limits, normalize_fingerprint, parse_size};

        proptest! {
            #[test]
            fn size_suffixes_are_powers_of_1024(n in 1u64..1_000_000, i in 0usize..4) {
                let (suffix, factor) = [("", 1u64), ("k", 1 << 10), ("M", 1 << 20), ("G", 1 << 30)][i];
                let parsed = parse_size(&format!("{n}{suffix}"));
                if n * factor <= limits::MAX_SIZE {
                    prop_assert_eq!(parsed, Ok(n * factor));
                } else {
                    prop_assert!(parsed.is_err());
                }
            }

            #[test]
            fn fingerprint_normalisation_is_idempotent(bytes in proptest::array::uniform32(any::<u8>()), colons: bool) {
                let hex: Vec<String> = bytes.iter().map(|b| format!("{b:02x}")).collect();
                let sep = if colons { ":" } else { "" };
                let once = normalize_fingerprint(&format!("sha256:{}", hex.join(sep))).unwrap();
                prop_assert_eq!(normalize_fingerprint(&once), Ok(once.clone()));
                prop_assert_eq!(once.len(), "sha256:".len() + 32 * 3 - 1);
            }

            #[test]
            fn every_pasted_form_of_a_fingerprint_is_the_same_pin(
                bytes in proptest::array::uniform32(any::<u8>()),
                prefix in 0usize..7,
                sep in 0usize..3,
                upper: bool,
            ) {
                let hex: Vec<String> = bytes.iter().map(|b| format!("{b:02x}")).collect();
                let body = hex.join([":", "", " "][sep]);
                let body = if upper { body.to_uppercase() } else { body };
                let prefix = ["", "sha256:", "SHA256:", "SHA256: ", "sha256 Fingerprint=",
                    "SHA256 Fingerprint=", "sha256="][prefix];
                let want = format!("sha256:{}", hex.join(":").to_uppercase());
                prop_assert_eq!(normalize_fingerprint(&format!("{prefix}{body}")), Ok(want));
            }

            #[test]
            fn a_fingerprint_is_never_made_of_anything_but_hex(s in ".{0,120}") {
                if let Ok(fp) = normalize_fingerprint(&s) {
                    prop_assert!(fp.starts_with("sha256:"));
                    let hex = &fp["sha256:".len()..];
                    prop_assert_eq!(hex.len(), 95);
                    prop_assert!(hex.bytes().all(|b| b == b':' || b.is_ascii_hexdigit()));
                }
            }
        }
    }
}
