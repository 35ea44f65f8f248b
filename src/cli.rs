//! The command line (SPEC §1), declared once with clap's derive API.
//!
//! The same definition renders `--help`, the man page (`man/popfetch.1`) and
//! the shell completions (`completions/`); a unit test keeps the committed
//! copies of the generated files in step with it.
//!
//! Every config key has a flag of the same name in [`AccountArgs`]; the flags
//! are `global`, so they work before and after the subcommand. No flag takes a
//! password: secrets never appear in argv, where `ps` would show them.

use std::path::PathBuf;

use clap::builder::PossibleValue;
use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::account::{AuthChoice, Pipelining, TlsMode, limits, normalize_fingerprint, parse_size};
use crate::import::Peer;

const AFTER_LONG_HELP: &str = "\
Configuration:
  Accounts are read from $XDG_CONFIG_HOME/popfetch/config.toml (usually ~/.config/popfetch/config.toml), \
or the file given with --config or POPFETCH_CONFIG. A [defaults] table applies to every [account.NAME] table; \
a command-line flag overrides both for every selected account. --host, --user and one of --maildir, --mbox or \
--mda describe an account on the command line: with no account named, --host is an account of its own (with the \
config's [defaults]) and the configured accounts are left alone; with account names, --host moves those accounts. \
--user, --port and --password-command need an account name when the config file has several.

Passwords:
  In order: --password-command, then password_command or password in the config, then a matching entry in \
$NETRC or ~/.netrc, then a prompt on the terminal. Under cron there is no terminal, so give one of the others.

State:
  Which messages were already delivered is kept in $XDG_STATE_HOME/popfetch (usually ~/.local/state/popfetch), \
or the directory given with --state-dir or the state_dir key.

Exit status:
  0 success (check: new mail), 1 check found no new mail, 64 command-line usage error, 69 server unreachable or \
not trusted, 74 local I/O or delivery failure, 75 temporary failure (try again later), 76 protocol violation by \
the server, 77 authentication refused, 78 configuration error.

Examples:
  popfetch                         fetch from every configured account
  popfetch -q work                 fetch from the account \"work\", printing only errors (for cron)
  popfetch check                   count new messages without downloading anything
  popfetch adopt                   record all mail now on the server as delivered, downloading none
  popfetch import mpoprc --state   print mpop's accounts as popfetch config (also fetchmailrc,
                                   getmailrc) and record what mpop already fetched
  popfetch --host pop.example.com --user alice --maildir ~/Mail
                                   fetch from an account given entirely on the command line";

/// Fetch mail from POP3 servers into a Maildir, an mbox or a local delivery agent.
///
/// popfetch connects to each configured account over TLS, works out which messages are new
/// from their unique IDs, delivers them, and then deletes or keeps them on the server as the
/// account's policy says. A message is never deleted from the server before it has been
/// stored durably, and never delivered twice.
///
/// With no subcommand, popfetch fetches from the named accounts, or from every account.
#[derive(Debug, Parser)]
#[command(
    name = "popfetch",
    version,
    after_long_help = AFTER_LONG_HELP,
    max_term_width = 100
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Commands>,

    #[command(flatten)]
    pub global: GlobalArgs,

    #[command(flatten)]
    pub account: AccountArgs,

    /// Fetch from these accounts only (default: every account in the config file).
    #[arg(value_name = "ACCOUNT")]
    pub accounts: Vec<String>,
}

impl Cli {
    /// The account names given on the command line, wherever they were written:
    /// after the subcommand, or bare (`popfetch work`).
    pub fn account_names(&self) -> Vec<String> {
        match &self.command {
            None => self.accounts.clone(),
            Some(
                Commands::Fetch { accounts }
                | Commands::Check { accounts }
                | Commands::Adopt { accounts },
            ) => {
                let mut all = self.accounts.clone();
                all.extend(accounts.iter().cloned());
                all
            }
            Some(Commands::Serverinfo { account }) => {
                let mut all = self.accounts.clone();
                all.extend(account.iter().cloned());
                all
            }
            Some(Commands::Accounts | Commands::Import { .. } | Commands::Config { .. }) => {
                self.accounts.clone()
            }
        }
    }
}

/// What to do.
#[derive(Debug, Subcommand, Clone, PartialEq, Eq)]
pub enum Commands {
    /// Fetch new mail (the default when no subcommand is given).
    Fetch {
        /// Fetch from these accounts only (default: every account in the config file).
        #[arg(value_name = "ACCOUNT")]
        accounts: Vec<String>,
    },
    /// Count new messages and their size; download and delete nothing.
    ///
    /// Exits with 0 when there is new mail and 1 when there is none, so it can be used
    /// in a shell condition.
    Check {
        /// Check these accounts only (default: every account in the config file).
        #[arg(value_name = "ACCOUNT")]
        accounts: Vec<String>,
    },
    /// Show what a server offers: greeting, TLS details, capabilities, login methods.
    ///
    /// Connects without logging in, so no password is needed.
    Serverinfo {
        /// The account whose server to ask (default: the first account in the config file).
        #[arg(value_name = "ACCOUNT")]
        account: Option<String>,
    },
    /// Validate the config file and list the accounts it defines (--json: one object each).
    Accounts,
    /// Record every message now on the server as delivered, downloading nothing.
    ///
    /// For a first run on a big mailbox kept on the server, a lost or moved state file, or a
    /// new machine: the next fetch downloads only mail that arrives after this. Takes the
    /// account's lock; deletes nothing.
    Adopt {
        /// Adopt these accounts only (default: every account in the config file).
        #[arg(value_name = "ACCOUNT")]
        accounts: Vec<String>,
    },
    /// Help with the config file: `popfetch config example` prints a commented starting one.
    Config {
        #[command(subcommand)]
        action: ConfigAction,
    },
    /// Print the popfetch configuration equivalent to a fetchmail, mpop or getmail one.
    ///
    /// Reads FILE (default: the program's usual file) and prints a config.toml on stdout with
    /// every account, server, TLS mode, password source, destination and policy it can carry
    /// over; every setting it cannot is listed as a comment with the reason. With --state, the
    /// messages the program already fetched are recorded as delivered in popfetch's state, so
    /// that the first run with keep downloads only new mail.
    Import {
        /// Whose configuration FILE is.
        #[arg(value_enum, value_name = "KIND")]
        kind: Peer,
        /// The file to read (default: ~/.fetchmailrc; ~/.mpoprc or $XDG_CONFIG_HOME/mpop/config;
        /// the getmail directory). For getmailrc, several rc files or a getmail directory, one
        /// account per rc file.
        #[arg(value_name = "FILE")]
        files: Vec<PathBuf>,
        /// Also record what the program already fetched (~/.fetchids, mpop's UIDLS files,
        /// getmail's oldmail files) as delivered in popfetch's state.
        #[arg(long)]
        state: bool,
    },
}

/// What `popfetch config` does.
#[derive(Debug, Subcommand, Clone, PartialEq, Eq)]
pub enum ConfigAction {
    /// Print a commented config.toml to start from, with one account to fill in.
    ///
    /// popfetch config example > ~/.config/popfetch/config.toml
    Example,
}

/// A commented config to start from (`popfetch config example`); a test
/// checks that popfetch accepts it as it is.
pub const EXAMPLE_CONFIG: &str = include_str!("cli/example-config.toml");

/// Options that shape the run as a whole.
#[derive(Debug, Args, Clone, PartialEq, Eq)]
pub struct GlobalArgs {
    /// Read accounts from FILE instead of $XDG_CONFIG_HOME/popfetch/config.toml.
    #[arg(
        short = 'c',
        long = "config",
        value_name = "FILE",
        env = "POPFETCH_CONFIG",
        global = true
    )]
    pub config: Option<PathBuf>,

    /// Say more: -v prints a line per message, -vv also traces the protocol on stderr
    /// (passwords and tokens are always redacted).
    #[arg(short = 'v', long = "verbose", action = clap::ArgAction::Count, global = true)]
    pub verbose: u8,

    /// Print errors only; the setting for cron. An overlapping run (another popfetch is
    /// fetching the account) exits 75 without a word.
    #[arg(short = 'q', long = "quiet", global = true)]
    pub quiet: bool,

    /// Show progress bars: "auto" shows them only when stderr is a terminal.
    #[arg(long, value_enum, value_name = "WHEN", default_value_t = Progress::Auto, global = true)]
    pub progress: Progress,

    /// Print one JSON object per account on stdout instead of the summary lines (also for
    /// accounts and serverinfo; the README documents the fields).
    #[arg(long, global = true)]
    pub json: bool,

    /// Fetch from up to N accounts at the same time.
    #[arg(
        short = 'j',
        long = "jobs",
        value_name = "N",
        default_value_t = 1,
        value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(limits::JOBS),
        global = true
    )]
    pub jobs: usize,

    /// Keep the record of delivered messages in DIR instead of $XDG_STATE_HOME/popfetch.
    #[arg(long, value_name = "DIR", global = true)]
    pub state_dir: Option<PathBuf>,
}

/// When to draw progress bars.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Progress {
    /// Only when stderr is a terminal.
    Auto,
    /// Always, even into a pipe or file.
    Always,
    /// Never.
    Never,
}

/// Account settings given on the command line. Each overrides the config key
/// of the same name for every selected account; `--host` with no account
/// named describes an account of its own (see `config::load_in`).
#[derive(Debug, Args, Clone, Default, PartialEq, Eq)]
#[command(next_help_heading = "Account options (override the config file)")]
pub struct AccountArgs {
    /// The POP3 server's host name.
    #[arg(long, value_name = "HOST", global = true)]
    pub host: Option<String>,

    /// The server's port (default: 995 with --tls implicit, 110 otherwise).
    #[arg(
        long,
        value_name = "PORT",
        value_parser = clap::value_parser!(u16).range(1..),
        global = true
    )]
    pub port: Option<u16>,

    /// The login name on the server.
    #[arg(long, value_name = "USER", global = true)]
    pub user: Option<String>,

    /// How to secure the connection (default: implicit).
    #[arg(long, value_enum, value_name = "MODE", global = true)]
    pub tls: Option<TlsMode>,

    /// Which login method to use (default: auto, the strongest the server offers).
    #[arg(long, value_enum, value_name = "METHOD", global = true)]
    pub auth: Option<AuthChoice>,

    /// Run CMD through sh -c and use the first line it prints as the password.
    #[arg(long, value_name = "CMD", global = true)]
    pub password_command: Option<String>,

    /// Allow sending the password over a connection without TLS.
    #[arg(long, global = true)]
    pub allow_plaintext: bool,

    /// Trust the certificate authorities in FILE (PEM) instead of the system's.
    #[arg(long, value_name = "FILE", global = true)]
    pub tls_ca_file: Option<PathBuf>,

    /// Accept exactly the server certificate with this SHA-256 fingerprint: 32 hex bytes as
    /// `popfetch serverinfo`, `openssl x509 -noout -fingerprint -sha256` or mpop print them
    /// ("sha256:" prefix and colons optional).
    #[arg(
        long,
        value_name = "FINGERPRINT",
        value_parser = normalize_fingerprint,
        global = true
    )]
    pub tls_fingerprint: Option<String>,

    /// Show the server the client certificate in FILE (PEM); its key comes from
    /// --tls-client-key, or from FILE itself when that holds it too.
    #[arg(long, value_name = "FILE", global = true)]
    pub tls_client_cert: Option<PathBuf>,

    /// The private key (PEM, not encrypted) of the client certificate.
    #[arg(long, value_name = "FILE", global = true)]
    pub tls_client_key: Option<PathBuf>,

    /// Connect through the SOCKS5 proxy at URL, socks5://HOST:PORT; the proxy resolves the
    /// server's host name. A proxy that wants a password is set in the config file, since a
    /// password on the command line is visible to other users.
    #[arg(long, value_name = "URL", global = true)]
    pub proxy: Option<String>,

    /// Deliver into the Maildir DIR (created if missing).
    #[arg(long, value_name = "DIR", global = true)]
    pub maildir: Option<PathBuf>,

    /// Append to the mbox FILE (mboxrd format).
    #[arg(long, value_name = "FILE", global = true)]
    pub mbox: Option<PathBuf>,

    /// Pipe each message to CMD, run through sh -c; %F is replaced by the sender (or
    /// MAILER-DAEMON when it is not a plausible address) and %T by the account's user, both
    /// shell-quoted.
    #[arg(long, value_name = "CMD", global = true)]
    pub mda: Option<String>,

    /// Hand each message to the LMTP server at ADDR: unix:/path for a socket, or host:port.
    #[arg(long, value_name = "ADDR", global = true)]
    pub lmtp: Option<String>,

    /// Hand each message to the SMTP server at ADDR, host:port (port 25 if left out),
    /// normally this machine's mail server.
    #[arg(long, value_name = "ADDR", global = true)]
    pub smtp: Option<String>,

    /// With --lmtp or --smtp: the envelope recipient (default: the account's user).
    #[arg(long, value_name = "ADDRESS", global = true)]
    pub recipient: Option<String>,

    /// Leave messages on the server after delivering them.
    #[arg(long, overrides_with = "no_keep", global = true)]
    pub keep: bool,

    /// Delete messages from the server once delivered (the default).
    #[arg(long, overrides_with = "keep", global = true)]
    pub no_keep: bool,

    /// With --keep: delete messages first seen more than N days ago.
    #[arg(
        long,
        value_name = "N",
        value_parser = clap::builder::RangedU64ValueParser::<u32>::new().range(limits::DELETE_AFTER_DAYS),
        global = true
    )]
    pub delete_after_days: Option<u32>,

    /// Leave messages larger than SIZE on the server: bytes, or with a suffix k, M or G
    /// (powers of 1024), e.g. 10M.
    #[arg(long, value_name = "SIZE", value_parser = parse_size, global = true)]
    pub max_size: Option<u64>,

    /// Fetch at most N messages per run, oldest first.
    #[arg(
        long,
        value_name = "N",
        value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(limits::MAX_MESSAGES),
        global = true
    )]
    pub max_messages: Option<usize>,

    /// Fetch every message on the server, even those already delivered.
    #[arg(long, global = true)]
    pub fetch_all: bool,

    /// Give up on connecting, or on any read or write, after SECONDS (default: 60).
    #[arg(
        long,
        value_name = "SECONDS",
        value_parser = clap::value_parser!(u64).range(limits::TIMEOUT_SECS),
        global = true
    )]
    pub timeout: Option<u64>,

    /// Send several commands at once: "auto" does so when the server offers PIPELINING.
    #[arg(long, value_enum, value_name = "WHEN", global = true)]
    pub pipelining: Option<Pipelining>,

    /// Add a Received: trace header to each message (the default).
    #[arg(long, overrides_with = "no_received_header", global = true)]
    pub received_header: bool,

    /// Do not add a Received: trace header.
    #[arg(long, overrides_with = "received_header", global = true)]
    pub no_received_header: bool,

    /// End the session with QUIT, which makes deletions final, after every N deletions, and
    /// go on in a new one, so that a dropped connection undoes at most N; 0 (the default):
    /// one QUIT per session.
    #[arg(
        long,
        value_name = "N",
        value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(limits::COMMIT_EVERY),
        global = true
    )]
    pub commit_every: Option<usize>,

    /// Append a line per delivered message (time, account, UID, size, From, Subject, where it
    /// went) and per run to FILE, created 0600 if missing.
    #[arg(long, value_name = "FILE", global = true)]
    pub log_file: Option<PathBuf>,

    /// Send the same lines to the system log, facility mail.
    #[arg(long, overrides_with = "no_syslog", global = true)]
    pub syslog: bool,

    /// Do not send lines to the system log (the default).
    #[arg(long, overrides_with = "syslog", global = true)]
    pub no_syslog: bool,
}

impl AccountArgs {
    /// `Some(true)` for --keep, `Some(false)` for --no-keep, `None` for neither.
    pub(crate) fn keep_flag(&self) -> Option<bool> {
        tristate(self.keep, self.no_keep)
    }

    /// `Some(true)` for --received-header, `Some(false)` for --no-received-header.
    pub(crate) fn received_header_flag(&self) -> Option<bool> {
        tristate(self.received_header, self.no_received_header)
    }

    /// `Some(true)` for --syslog, `Some(false)` for --no-syslog.
    pub(crate) fn syslog_flag(&self) -> Option<bool> {
        tristate(self.syslog, self.no_syslog)
    }
}

fn tristate(on: bool, off: bool) -> Option<bool> {
    match (on, off) {
        (true, _) => Some(true),
        (false, true) => Some(false),
        (false, false) => None,
    }
}

/// `--tls`, `--auth` and `--pipelining` take the names of the account
/// vocabulary's `ALL` list, each with its line of help.
macro_rules! value_enum {
    ($($choice:ty),*) => {$(
        impl ValueEnum for $choice {
            fn value_variants<'a>() -> &'a [Self] {
                &<$choice>::ALL
            }

            fn to_possible_value(&self) -> Option<PossibleValue> {
                Some(PossibleValue::new(self.name()).help(self.help()))
            }
        }
    )*};
}

value_enum!(TlsMode, AuthChoice, Pipelining);

mod suggest;
pub(crate) use suggest::mistyped_subcommand;

/// The man page and completions, generated from this definition; a test
/// keeps the committed copies fresh.
#[cfg(test)]
mod generate;

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::*;

    fn parse(args: &[&str]) -> Cli {
        let mut argv = vec!["popfetch"];
        argv.extend_from_slice(args);
        Cli::try_parse_from(argv).unwrap()
    }

    #[test]
    fn definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn bare_account_names_mean_fetch() {
        let cli = parse(&["work", "home"]);
        assert_eq!(cli.command, None);
        assert_eq!(cli.account_names(), vec!["work", "home"]);
    }

    #[test]
    fn subcommands_take_their_accounts() {
        let cli = parse(&["check", "work"]);
        assert_eq!(
            cli.command,
            Some(Commands::Check {
                accounts: vec!["work".into()]
            })
        );
        assert_eq!(cli.account_names(), vec!["work"]);
        let cli = parse(&["fetch", "a", "b"]);
        assert_eq!(cli.account_names(), vec!["a", "b"]);
        let cli = parse(&["serverinfo"]);
        assert_eq!(cli.command, Some(Commands::Serverinfo { account: None }));
        let cli = parse(&["serverinfo", "work"]);
        assert_eq!(cli.account_names(), vec!["work"]);
        let cli = parse(&["accounts"]);
        assert_eq!(cli.command, Some(Commands::Accounts));
    }

    #[test]
    fn flags_work_before_and_after_the_subcommand() {
        let before = parse(&["-q", "--json", "--keep", "--max-size", "10M", "check", "w"]);
        let after = parse(&["check", "w", "-q", "--json", "--keep", "--max-size", "10M"]);
        for cli in [&before, &after] {
            assert!(cli.global.quiet);
            assert!(cli.global.json);
            assert_eq!(cli.account.keep_flag(), Some(true));
            assert_eq!(cli.account.max_size, Some(10 * 1024 * 1024));
        }
        let cli = parse(&[
            "fetch", "-vv", "--host", "h", "-j", "3", "--tls", "starttls",
        ]);
        assert_eq!(cli.global.verbose, 2);
        assert_eq!(cli.global.jobs, 3);
        assert_eq!(cli.account.host.as_deref(), Some("h"));
        assert_eq!(cli.account.tls, Some(TlsMode::Starttls));
    }

    #[test]
    fn defaults() {
        let cli = parse(&[]);
        assert_eq!(cli.global.jobs, 1);
        assert_eq!(cli.global.progress, Progress::Auto);
        assert_eq!(cli.global.verbose, 0);
        assert_eq!(cli.account, AccountArgs::default());
        assert_eq!(cli.account.keep_flag(), None);
        assert_eq!(cli.account.received_header_flag(), None);
    }

    #[test]
    fn negatable_flags_last_one_wins() {
        let cli = parse(&["--keep", "--no-keep"]);
        assert_eq!(cli.account.keep_flag(), Some(false));
        let cli = parse(&["--no-keep", "--keep"]);
        assert_eq!(cli.account.keep_flag(), Some(true));
        let cli = parse(&["--no-received-header"]);
        assert_eq!(cli.account.received_header_flag(), Some(false));
    }

    #[test]
    fn enum_values() {
        let cli = parse(&["--auth", "cram-md5", "--pipelining", "off", "--tls", "none"]);
        assert_eq!(cli.account.auth, Some(AuthChoice::CramMd5));
        assert_eq!(cli.account.pipelining, Some(Pipelining::Off));
        assert_eq!(cli.account.tls, Some(TlsMode::None));
        let cli = parse(&["--auth", "scram-sha-256"]);
        assert_eq!(cli.account.auth, Some(AuthChoice::ScramSha256));
    }

    #[test]
    fn bad_values_are_rejected() {
        for args in [
            &["--port", "0"][..],
            &["--port", "70000"],
            &["--timeout", "0"],
            &["-j", "0"],
            &["--max-size", "10Q"],
            &["--max-messages", "0"],
            &["--tls", "ssl"],
            &["--tls-fingerprint", "sha256:12"],
            &["--progress", "sometimes"],
            &["--password", "x"],
        ] {
            let mut argv = vec!["popfetch"];
            argv.extend_from_slice(args);
            assert!(Cli::try_parse_from(&argv).is_err(), "{args:?} was accepted");
        }
    }

    #[test]
    fn fingerprint_flag_is_normalised() {
        let fp = "sha256:".to_string() + &"ab".repeat(32);
        let cli = parse(&["--tls-fingerprint", &fp]);
        let want = format!("sha256:{}", vec!["AB"; 32].join(":"));
        assert_eq!(cli.account.tls_fingerprint, Some(want));
    }

    #[test]
    fn no_flag_takes_a_password() {
        for arg in Cli::command().get_arguments() {
            let long = arg.get_long().unwrap_or_default();
            assert!(
                !long.contains("password") || long == "password-command",
                "--{long} would put a secret in argv"
            );
        }
    }
}
