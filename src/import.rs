//! `popfetch import fetchmailrc|mpoprc|getmailrc [FILE]...`: read a peer's
//! configuration and print the equivalent popfetch `config.toml`; with
//! `--state`, also record what the peer already fetched as delivered in
//! popfetch's state, so that the first run with `keep` downloads only what
//! is really new.
//!
//! Each peer has its own module that reads its real grammar (and nothing
//! more lenient) into a list of [`Account`]s: `fetchmailrc` (fetchmail's
//! token grammar with noise words, `defaults`, several users per server),
//! `mpoprc` (mpop's line commands, `defaults` and account inheritance) and
//! `getmailrc` (getmail's INI files with Python tuple values, one file per
//! account). `render` writes the accounts as TOML; every peer option that
//! has no popfetch equivalent becomes a comment in the output that says why,
//! so nothing is dropped silently. `peer_state` reads the peers' records of
//! fetched messages (`.fetchids`, mpop's UIDLS files, getmail's oldmail
//! files) and merges them into popfetch's state.
//!
//! The output is always read back through popfetch's own config loader
//! before it is printed: `import` never prints a file that `popfetch
//! accounts -c` would refuse.

mod fetchmailrc;
mod getmailrc;
mod mpoprc;
mod peer_state;
mod render;

use std::io::Write as _;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use zeroize::Zeroizing;

use crate::account::{AuthChoice, CommandSpec, Pipelining, TlsMode};
use crate::cli::{AccountArgs, Cli, GlobalArgs};
use crate::error::{Error, exit};
use crate::report;
pub(crate) use crate::report::grouped;

/// Which peer wrote the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Peer {
    /// fetchmail's run control file (~/.fetchmailrc)
    Fetchmailrc,
    /// mpop's configuration file (~/.mpoprc or $XDG_CONFIG_HOME/mpop/config)
    Mpoprc,
    /// getmail's rc files (~/.getmail/getmailrc or every rc file in the getmail directory)
    Getmailrc,
}

impl Peer {
    /// The program's name, for messages.
    fn program(self) -> &'static str {
        match self {
            Peer::Fetchmailrc => "fetchmail",
            Peer::Mpoprc => "mpop",
            Peer::Getmailrc => "getmail",
        }
    }

    /// The subcommand's word for this peer.
    fn word(self) -> &'static str {
        match self {
            Peer::Fetchmailrc => "fetchmailrc",
            Peer::Mpoprc => "mpoprc",
            Peer::Getmailrc => "getmailrc",
        }
    }
}

/// Why a peer's file could not be imported. Each message names the file
/// (and line), what was wrong and what to do.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("cannot read {}: {source}; name the file to import: popfetch import {word} FILE", path.display())]
    Read {
        path: PathBuf,
        word: &'static str,
        source: std::io::Error,
    },
    #[error("{}:{line}: {message}", path.display())]
    Syntax {
        path: PathBuf,
        line: usize,
        message: String,
    },
    #[error("{}: {message}", path.display())]
    Unusable { path: PathBuf, message: String },
    #[error("{message}")]
    Usage { message: String },
    #[error(
        "the imported configuration does not load ({reason}); this is a bug in popfetch import: \
         please report it with the file that was imported"
    )]
    Internal { reason: String },
}

/// A peer's file, read whole, with its path for messages.
pub(crate) struct Source {
    pub path: PathBuf,
    pub text: Vec<u8>,
}

impl Source {
    fn read(path: &Path, peer: Peer) -> Result<Source, ImportError> {
        match std::fs::read(path) {
            Ok(text) => Ok(Source {
                path: path.to_path_buf(),
                text,
            }),
            Err(source) => Err(ImportError::Read {
                path: path.to_path_buf(),
                word: peer.word(),
                source,
            }),
        }
    }

    /// An error at `line` of this file.
    pub fn error(&self, line: usize, message: impl Into<String>) -> ImportError {
        ImportError::Syntax {
            path: self.path.clone(),
            line,
            message: message.into(),
        }
    }

    /// `FILE:LINE`, for the comments in the output.
    pub fn at(&self, line: usize) -> String {
        format!("{}:{line}", self.path.display())
    }
}

/// The parts of the environment the peers' defaults depend on, passed
/// explicitly so that tests never look at the real home directory.
#[derive(Debug, Clone, Default)]
pub(crate) struct Env {
    pub home: Option<PathBuf>,
    /// `$XDG_CONFIG_HOME`, else `~/.config`.
    pub config_home: Option<PathBuf>,
    /// `$FETCHMAILHOME`.
    pub fetchmail_home: Option<PathBuf>,
    /// The login name fetchmail defaults to: `$FETCHMAILUSER`, `$LOGNAME`,
    /// `$USER`, else the password database.
    pub user: Option<String>,
    /// Every variable, for getmail's `$VAR` expansion.
    pub vars: Vec<(String, String)>,
}

impl Env {
    fn from_process() -> Env {
        let var = |name: &str| std::env::var_os(name).filter(|v| !v.is_empty());
        let home = var("HOME").map(PathBuf::from);
        let config_home = var("XDG_CONFIG_HOME")
            .map(PathBuf::from)
            .or_else(|| home.as_ref().map(|h| h.join(".config")));
        let user = ["FETCHMAILUSER", "LOGNAME", "USER"]
            .iter()
            .find_map(|v| std::env::var(v).ok().filter(|s| !s.is_empty()))
            .or_else(login_name_of_uid);
        Env {
            home,
            config_home,
            fetchmail_home: var("FETCHMAILHOME").map(PathBuf::from),
            user,
            vars: std::env::vars().collect(),
        }
    }

    /// `~/rest`, or `None` without a home directory.
    fn home_join(&self, rest: &str) -> Option<PathBuf> {
        self.home.as_ref().map(|h| h.join(rest))
    }

    /// `~` or `~/...` expanded from HOME, `~user/...` from the password
    /// database; anything else unchanged.
    pub fn expand_tilde(&self, s: &str) -> String {
        let Some(rest) = s.strip_prefix('~') else {
            return s.to_string();
        };
        let (name, tail) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
        let home = if name.is_empty() {
            self.home.clone()
        } else {
            home_of_user(name)
        };
        match home {
            Some(h) => format!("{}{tail}", h.display()),
            None => s.to_string(),
        }
    }

    fn var(&self, name: &str) -> Option<&str> {
        self.vars
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// The login name of the real user, from /etc/passwd.
fn login_name_of_uid() -> Option<String> {
    let uid = rustix::process::getuid().as_raw().to_string();
    passwd_field(|f| f.get(2) == Some(&uid.as_str()), 0)
}

/// The home directory of `user`, from /etc/passwd.
fn home_of_user(user: &str) -> Option<PathBuf> {
    passwd_field(|f| f.first() == Some(&user), 5).map(PathBuf::from)
}

fn passwd_field(matches: impl Fn(&[&str]) -> bool, field: usize) -> Option<String> {
    let text = std::fs::read_to_string("/etc/passwd").ok()?;
    text.lines()
        .map(|l| l.split(':').collect::<Vec<_>>())
        .find(|f| matches(f))
        .and_then(|f| f.get(field).map(|s| s.to_string()))
}

/// A peer option that has no popfetch equivalent, or that maps only in
/// part: printed as a comment with the reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Note {
    /// Where it is written, `FILE:LINE`.
    pub at: String,
    /// The option as the peer spells it, e.g. `sslfingerprint "AB:..."`.
    pub option: String,
    pub reason: String,
}

/// Where the password comes from.
#[derive(Debug, Clone)]
pub(crate) enum Password {
    Literal(Zeroizing<String>),
    Command(CommandSpec),
}

/// Where messages go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Dest {
    Maildir(String),
    Mbox(String),
    Mda(CommandSpec),
    /// `lmtp = server` (`unix:/path` or `host:port`), with `recipient`
    /// when the peer named one.
    Lmtp {
        server: String,
        recipient: Option<String>,
    },
    /// `smtp = server` (`host:port`), with `recipient` when the peer
    /// named one.
    Smtp {
        server: String,
        recipient: Option<String>,
    },
}

/// Where the peer keeps its record of fetched messages for one account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum PeerState {
    /// fetchmail's idfile: lines `user@host UID`.
    Fetchmail {
        idfile: PathBuf,
        user: String,
        host: String,
    },
    /// mpop's UIDLS file: a list headed ` N host user`.
    Mpop {
        file: PathBuf,
        host: String,
        user: String,
    },
    /// getmail's oldmail file; the first candidate that exists.
    Getmail { candidates: Vec<PathBuf> },
}

/// One imported account, in popfetch's terms.
#[derive(Debug, Clone)]
pub(crate) struct Account {
    pub name: String,
    /// Where the peer defines it, `FILE:LINE`.
    pub origin: String,
    /// How the peer names it, for the header comment.
    pub described: String,
    /// Why the account is printed commented out, if it is.
    pub disabled: Option<String>,
    pub host: String,
    pub port: u16,
    pub tls: TlsMode,
    pub user: String,
    pub auth: Option<AuthChoice>,
    pub password: Option<Password>,
    pub tls_ca_file: Option<String>,
    pub tls_fingerprint: Option<String>,
    pub dest: Dest,
    /// The destination is a stand-in: the peer's cannot be expressed.
    pub dest_placeholder: bool,
    pub keep: bool,
    pub delete_after_days: Option<u32>,
    pub max_size: Option<u64>,
    pub max_messages: Option<u64>,
    pub fetch_all: bool,
    pub timeout: Option<u64>,
    pub pipelining: Option<Pipelining>,
    pub received_header: Option<bool>,
    /// Remarks that are not about one option (a missing password source...).
    pub remarks: Vec<String>,
    pub notes: Vec<Note>,
    pub state: PeerState,
}

impl Account {
    /// A new account with popfetch's defaults for everything optional.
    pub fn new(host: String, port: u16, tls: TlsMode, user: String, state: PeerState) -> Self {
        Account {
            name: String::new(),
            origin: String::new(),
            described: String::new(),
            disabled: None,
            host,
            port,
            tls,
            user,
            auth: None,
            password: None,
            tls_ca_file: None,
            tls_fingerprint: None,
            dest: Dest::Maildir(PLACEHOLDER_MAILDIR.to_string()),
            dest_placeholder: true,
            keep: false,
            delete_after_days: None,
            max_size: None,
            max_messages: None,
            fetch_all: false,
            timeout: None,
            pipelining: None,
            received_header: None,
            remarks: Vec::new(),
            notes: Vec::new(),
            state,
        }
    }

    pub fn note(&mut self, at: String, option: impl Into<String>, reason: impl Into<String>) {
        self.notes.push(Note {
            at,
            option: option.into(),
            reason: reason.into(),
        });
    }

    pub fn set_dest(&mut self, dest: Dest) {
        self.dest = dest;
        self.dest_placeholder = false;
    }
}

/// Where an account whose destination popfetch cannot express delivers
/// until its owner decides: a Maildir, which popfetch creates and which
/// loses nothing.
pub(crate) const PLACEHOLDER_MAILDIR: &str = "~/Maildir";

/// What a peer's files hold, in popfetch's terms.
#[derive(Debug, Clone)]
pub(crate) struct Imported {
    pub peer: Peer,
    pub files: Vec<PathBuf>,
    pub accounts: Vec<Account>,
    /// Options that are not about one account (fetchmail's `set ...`).
    pub notes: Vec<Note>,
}

/// `popfetch import`: print the config; with `--state`, record the peer's
/// fetched messages. Returns the exit status.
pub fn run(cli: &Cli, peer: Peer, files: &[PathBuf], with_state: bool) -> u8 {
    match run_in(cli, peer, files, with_state, &Env::from_process()) {
        Ok(()) => exit::OK,
        Err(e) => {
            report::say!("popfetch: {e}");
            e.exit_code()
        }
    }
}

fn run_in(
    cli: &Cli,
    peer: Peer,
    files: &[PathBuf],
    with_state: bool,
    env: &Env,
) -> Result<(), Error> {
    if cli.account != AccountArgs::default() {
        return Err(ImportError::Usage {
            message: "import takes no account options (--host, --keep, ...): it prints the \
                      peer's settings; edit the printed configuration instead"
                .to_string(),
        }
        .into());
    }
    let imported = read(peer, files, env)?;
    let text = render::config(&imported);
    let loaded = validate(&text, &cli.global)?;
    if !cli.global.quiet {
        for w in &loaded.warnings {
            report::say!("popfetch: warning: {w}");
        }
    }
    {
        let mut out = std::io::stdout().lock();
        // A closed stdout (`| head`) is the reader's choice, not an error.
        let _ = out.write_all(text.as_bytes()).and_then(|()| out.flush());
    }
    if !cli.global.quiet {
        report::say!("{}", render::summary(&imported));
    }
    if with_state {
        for a in imported.accounts.iter().filter(|a| a.disabled.is_none()) {
            let Some(resolved) = loaded.accounts.iter().find(|r| r.name == a.name) else {
                return Err(ImportError::Internal {
                    reason: format!(
                        "account {} is missing from the printed configuration",
                        a.name
                    ),
                }
                .into());
            };
            let outcome = peer_state::import(a, resolved)?;
            if !cli.global.quiet {
                report::say!("{}", outcome.line(&a.name));
            }
        }
    }
    Ok(())
}

/// Read the peer's files (or its usual ones) into accounts.
fn read(peer: Peer, files: &[PathBuf], env: &Env) -> Result<Imported, ImportError> {
    let files = match files {
        [] => default_files(peer, env)?,
        [_] => files.to_vec(),
        _ if peer == Peer::Getmailrc => files.to_vec(),
        _ => {
            return Err(ImportError::Usage {
                message: format!(
                    "popfetch import {} takes one file; import them one at a time",
                    peer.word()
                ),
            });
        }
    };
    let mut imported = match peer {
        Peer::Fetchmailrc => {
            let src = Source::read(&files[0], peer)?;
            fetchmailrc::import(&src, env)?
        }
        Peer::Mpoprc => {
            let src = Source::read(&files[0], peer)?;
            mpoprc::import(&src, env)?
        }
        Peer::Getmailrc => {
            let mut sources = Vec::new();
            for f in &files {
                for path in getmailrc::rc_files(f)? {
                    sources.push(Source::read(&path, peer)?);
                }
            }
            getmailrc::import(&sources, env)?
        }
    };
    unique_names(&mut imported.accounts);
    for a in &mut imported.accounts {
        check_values(a, env);
    }
    if !imported.accounts.iter().any(|a| a.disabled.is_none()) {
        let path = files.first().cloned().unwrap_or_default();
        let why: Vec<String> = imported
            .accounts
            .iter()
            .filter_map(|a| a.disabled.as_ref().map(|d| format!("{}: {d}", a.origin)))
            .collect();
        return Err(ImportError::Unusable {
            path,
            message: if why.is_empty() {
                format!(
                    "defines no {} account, so there is nothing to import",
                    peer.program()
                )
            } else {
                format!(
                    "no account can be imported: {}; fix or name another file",
                    why.join("; ")
                )
            },
        });
    }
    Ok(imported)
}

/// The file(s) the peer reads when run without options.
fn default_files(peer: Peer, env: &Env) -> Result<Vec<PathBuf>, ImportError> {
    let no_home = || ImportError::Usage {
        message: format!(
            "HOME is not set, so {}'s usual file cannot be found: name it, popfetch import {} FILE",
            peer.program(),
            peer.word()
        ),
    };
    Ok(match peer {
        Peer::Fetchmailrc => vec![match &env.fetchmail_home {
            Some(dir) => dir.join("fetchmailrc"),
            None => env.home_join(".fetchmailrc").ok_or_else(no_home)?,
        }],
        Peer::Mpoprc => {
            let dot = env.home_join(".mpoprc").ok_or_else(no_home)?;
            let xdg = env.config_home.as_ref().map(|c| c.join("mpop/config"));
            match xdg {
                Some(x) if !dot.exists() && x.exists() => vec![x],
                _ => vec![dot],
            }
        }
        Peer::Getmailrc => {
            let xdg = env.config_home.as_ref().map(|c| c.join("getmail"));
            let dot = env.home_join(".getmail").ok_or_else(no_home)?;
            match xdg {
                Some(x) if x.is_dir() => vec![x],
                _ => vec![dot],
            }
        }
    })
}

/// Values popfetch's config would refuse: an account whose host or user
/// cannot be used is disabled with the reason; an empty password or
/// command is dropped, an unusable destination replaced by the stand-in,
/// each with a remark.
fn check_values(a: &mut Account, env: &Env) {
    let blank = |s: &str| s.chars().any(|c| c.is_whitespace() || c.is_control());
    if a.disabled.is_some() {
        return;
    }
    if a.host.is_empty() || blank(&a.host) {
        a.disabled = Some(format!(
            "its host {:?} is empty or contains a blank{}: fix it in the file",
            a.host,
            if a.host.contains('#') {
                " (a # after a value is not a comment there)"
            } else {
                ""
            }
        ));
        return;
    }
    if a.user.trim().is_empty() {
        a.disabled = Some("its user is empty: fix it in the file".into());
        return;
    }
    let empty_command = |c: &CommandSpec| match c {
        CommandSpec::Shell(line) => line.trim().is_empty(),
        CommandSpec::Argv(argv) => argv.first().is_none_or(|p| p.is_empty()),
    };
    match &a.password {
        Some(Password::Literal(p)) if p.is_empty() => {
            a.password = None;
            a.remarks.push(
                "the file sets an empty password: popfetch looks in ~/.netrc, then asks".into(),
            );
        }
        Some(Password::Command(c)) if empty_command(c) => {
            a.password = None;
            a.remarks.push(
                "the file sets an empty password command: popfetch looks in ~/.netrc, then asks"
                    .into(),
            );
        }
        _ => {}
    }
    // popfetch expands only `~` and `~/`.
    let usable_path = |p: &str| {
        let p = if p.starts_with('~') && !(p == "~" || p.starts_with("~/")) {
            env.expand_tilde(p)
        } else {
            p.to_string()
        };
        (!p.trim().is_empty() && !(p.starts_with('~') && !(p == "~" || p.starts_with("~/"))))
            .then_some(p)
    };
    if let Some(f) = a.tls_ca_file.take() {
        match usable_path(&f) {
            Some(p) => a.tls_ca_file = Some(p),
            None => a.remarks.push(format!(
                "the CA file {f:?} cannot be used (empty, or ~user that is not known here): the \
                 system's trusted CAs are used"
            )),
        }
    }
    let dest = match &a.dest {
        Dest::Maildir(p) => usable_path(p).map(Dest::Maildir),
        Dest::Mbox(p) => usable_path(p).map(Dest::Mbox),
        Dest::Mda(c) => (!empty_command(c)).then(|| Dest::Mda(c.clone())),
        d @ (Dest::Lmtp { .. } | Dest::Smtp { .. }) => Some(d.clone()),
    };
    match dest {
        Some(d) => a.dest = d,
        None => {
            a.remarks.push(format!(
                "the destination {:?} cannot be used (empty, or ~user that is not known here)",
                a.dest
            ));
            a.dest = Dest::Maildir(PLACEHOLDER_MAILDIR.to_string());
            a.dest_placeholder = true;
        }
    }
}

/// Account names must differ: a repeated one gets `-2`, `-3`...
fn unique_names(accounts: &mut [Account]) {
    let mut taken: Vec<String> = Vec::new();
    for a in accounts.iter_mut() {
        let base = a.name.clone();
        let mut n = 1;
        while taken.contains(&a.name) {
            n += 1;
            a.name = format!("{base}-{n}");
        }
        taken.push(a.name.clone());
    }
}

/// Load the printed configuration as `popfetch -c` would, with the
/// command line's `--state-dir`: the import's self-check, and the
/// resolved accounts (state directory, mailbox identity) for `--state`.
fn validate(text: &str, global: &GlobalArgs) -> Result<crate::config::Loaded, Error> {
    let internal = |reason: String| Error::from(ImportError::Internal { reason });
    let dir = tempfile::Builder::new()
        .prefix("popfetch-import")
        .tempdir()
        .map_err(|e| internal(format!("cannot create a temporary directory: {e}")))?;
    let path = dir.path().join("config.toml");
    // Private, like the file it stands for (it may hold passwords).
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&path)
        .and_then(|mut f| f.write_all(text.as_bytes()))
        .map_err(|e| internal(format!("cannot write {}: {e}", path.display())))?;
    let cli = Cli {
        command: None,
        global: GlobalArgs {
            config: Some(path),
            ..global.clone()
        },
        account: AccountArgs::default(),
        accounts: Vec::new(),
    };
    crate::config::load(&cli, &[]).map_err(|e| match e {
        // A bad --state-dir is the command line's fault, not the import's.
        crate::config::ConfigError::Usage { .. } => Error::from(e),
        e => internal(e.to_string()),
    })
}

/// What a peer's placeholder stands for in popfetch's MDA template.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Subst<'a> {
    /// The envelope sender: popfetch's `%F`.
    Sender,
    /// A value known at import time, written literally (shell-quoted in a
    /// shell command).
    Value(&'a str),
}

/// Turn a peer's MDA command (or one argv word) into popfetch's template:
/// each of the peer's `placeholders` becomes popfetch's (quotes around it
/// dropped: popfetch quotes what it substitutes); every other `%` is
/// doubled, because popfetch would read `%F`, `%T` and `%%` itself.
pub(crate) fn mda_template(cmd: &str, placeholders: &[(&str, Subst<'_>)], shell: bool) -> String {
    let mut text = cmd.to_string();
    for (name, _) in placeholders {
        for q in ["'", "\""] {
            text = text.replace(&format!("{q}{name}{q}"), name);
        }
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text.as_str();
    'scan: while let Some(c) = rest.chars().next() {
        for (name, subst) in placeholders {
            if let Some(after) = rest.strip_prefix(name) {
                match subst {
                    Subst::Sender => out.push_str("%F"),
                    Subst::Value(v) if shell => out.push_str(&shell_quote(v)),
                    Subst::Value(v) => out.push_str(&v.replace('%', "%%")),
                }
                rest = after;
                continue 'scan;
            }
        }
        if c == '%' {
            out.push_str("%%");
        } else {
            out.push(c);
        }
        rest = &rest[c.len_utf8()..];
    }
    out
}

/// `'word'` for sh, with `'` written as `'\''`; `%` doubled for popfetch's
/// template.
fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "'\\''").replace('%', "%%"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mda_templates() {
        let fetchmail = |cmd: &str, local: &str| {
            mda_template(
                cmd,
                &[("%F", Subst::Sender), ("%T", Subst::Value(local))],
                true,
            )
        };
        assert_eq!(
            fetchmail("/usr/sbin/sendmail -i -f %F -- %T", "bob"),
            "/usr/sbin/sendmail -i -f %F -- 'bob'"
        );
        assert_eq!(
            fetchmail("procmail -f '%F' -d %T", "o'neil"),
            "procmail -f %F -d 'o'\\''neil'"
        );
        assert_eq!(fetchmail("x 100%% %s", "u"), "x 100%%%% %%s");
        // mpop knows only %F: a %T in its command is text.
        assert_eq!(
            mda_template("deliver '%F' %T", &[("%F", Subst::Sender)], true),
            "deliver %F %%T"
        );
        assert_eq!(
            mda_template("--from=%(sender)", &[("%(sender)", Subst::Sender)], false),
            "--from=%F"
        );
        assert_eq!(
            mda_template("%T", &[("%T", Subst::Value("a%b"))], false),
            "a%%b"
        );
    }

    #[test]
    fn tilde() {
        let env = Env {
            home: Some("/home/a".into()),
            ..Env::default()
        };
        assert_eq!(env.expand_tilde("~/Mail"), "/home/a/Mail");
        assert_eq!(env.expand_tilde("~"), "/home/a");
        assert_eq!(env.expand_tilde("/x/~"), "/x/~");
        assert_eq!(env.expand_tilde("~root/x"), "/root/x");
        assert_eq!(
            env.expand_tilde("~no-such-user-here/x"),
            "~no-such-user-here/x"
        );
    }

    #[test]
    fn values_popfetch_would_refuse_are_handled() {
        let env = Env::default();
        let mk = |host: &str| {
            Account::new(
                host.into(),
                110,
                TlsMode::Starttls,
                "u".into(),
                PeerState::Getmail {
                    candidates: Vec::new(),
                },
            )
        };
        let mut a = mk("pop.example.com # work");
        check_values(&mut a, &env);
        assert!(
            a.disabled.as_ref().unwrap().contains("not a comment"),
            "{a:?}"
        );

        let mut a = mk("pop.example.com");
        a.password = Some(Password::Literal(Zeroizing::new(String::new())));
        a.tls_ca_file = Some("~no-such-user-here/ca.pem".into());
        a.set_dest(Dest::Mda(CommandSpec::Shell("  ".into())));
        check_values(&mut a, &env);
        assert!(a.disabled.is_none());
        assert!(a.password.is_none());
        assert!(a.tls_ca_file.is_none());
        assert!(a.dest_placeholder);
        assert_eq!(a.remarks.len(), 3, "{:?}", a.remarks);
    }

    #[test]
    fn repeated_names_get_a_number() {
        let mk = |n: &str| {
            let mut a = Account::new(
                "h".into(),
                110,
                TlsMode::Starttls,
                "u".into(),
                PeerState::Getmail {
                    candidates: Vec::new(),
                },
            );
            a.name = n.into();
            a
        };
        let mut v = vec![mk("a"), mk("a"), mk("b"), mk("a")];
        unique_names(&mut v);
        let names: Vec<&str> = v.iter().map(|a| a.name.as_str()).collect();
        assert_eq!(names, ["a", "a-2", "b", "a-3"]);
    }
}
