//! A resolved, validated account: everything one fetch needs, with no
//! optional-ness left that the rest of the program would have to re-check.
//!
//! `config` builds these from the TOML file and the command line; every later
//! stage only reads them.

use std::path::PathBuf;
use std::time::Duration;

use crate::secret::Secret;

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
    pub fn default_port(self) -> u16 {
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
    pub fn name(self) -> &'static str {
        match self {
            AuthChoice::Auto => "auto",
            AuthChoice::User => "user",
            AuthChoice::Apop => "apop",
            AuthChoice::Plain => "plain",
            AuthChoice::Login => "login",
            AuthChoice::CramMd5 => "cram-md5",
            AuthChoice::ScramSha256 => "scram-sha-256",
            AuthChoice::ScramSha1 => "scram-sha-1",
            AuthChoice::Xoauth2 => "xoauth2",
            AuthChoice::Oauthbearer => "oauthbearer",
        }
    }
}

/// A command given in the config: an argv list runs directly, a string runs
/// through `sh -c`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CommandSpec {
    Argv(Vec<String>),
    Shell(String),
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
}

impl Destination {
    /// A short description for summaries ("~/Mail/work", "| procmail").
    pub fn describe(&self) -> String {
        match self {
            Destination::Maildir(p) | Destination::Mbox(p) => p.display().to_string(),
            Destination::Mda(CommandSpec::Argv(argv)) => format!("| {}", argv.join(" ")),
            Destination::Mda(CommandSpec::Shell(s)) => format!("| {s}"),
        }
    }
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
    pub destination: Destination,
    pub policy: Policy,
    /// Connect, and every read and write.
    pub timeout: Duration,
    /// Where the UID state, journal and lock live.
    pub state_dir: PathBuf,
    pub pipelining: Pipelining,
    /// Prepend a `Received:` trace header.
    pub received_header: bool,
}

impl Account {
    /// The identity of the mailbox: `user@host:port`. Locks and state are
    /// keyed on it, so two profiles for the same mailbox share them.
    pub fn mailbox_id(&self) -> String {
        format!("{}@{}:{}", self.user, self.host, self.port)
    }
}
