//! The config file (SPEC §2) and the command-line overrides, resolved into
//! [`Account`]s.
//!
//! Three layers, lowest first: `[defaults]`, `[account.NAME]`, then the
//! command-line flags (for every selected account). A layer either sets a key
//! or leaves it to the one below. Two groups of keys replace each other as a
//! whole, so that an account can override what `[defaults]` says without first
//! unsetting it: the password source (`password`, `password_command`) and the
//! destination (`maildir`, `mbox`, `mda`).
//!
//! Decisions worth knowing:
//! - `--host` with no account named is an account of its own: `[defaults]`
//!   and the flags, never a configured account's settings, and the
//!   configured accounts are not run. With names, it moves those accounts.
//!   `--user`, `--port` and `--password-command` name one mailbox's login,
//!   so with several accounts in the file and none named they are refused
//!   (usage) instead of pointing every account at one login.
//! - Accounts keep the order of the file; the order of names on the command
//!   line does not matter.
//! - The whole file is validated even when only some accounts are selected: a
//!   broken account is reported before anything is fetched.
//! - Errors caused by a flag (`--tls none` without `--allow-plaintext`, two
//!   destinations, an unknown account name) are usage errors (exit 64); errors
//!   in the file are configuration errors (exit 78) and carry `FILE:LINE:COL`.
//! - Relative paths in the file are taken as they are, relative to the working
//!   directory; `~` and `~/` are expanded from `HOME`.
//! - Without a password source, `$NETRC` (or `~/.netrc`) is consulted for the
//!   account's host and user before falling back to a terminal prompt.
//! - Whoever can change the config can set `mda` or `password_command` and
//!   so run commands as the user: a config file that group or others may
//!   write, or that belongs to another user (root aside), is refused (exit
//!   78) with the `chmod go-w` or `chown` that fixes it. A `.netrc` like
//!   that is not used, with a warning: its passwords are not the user's
//!   word, and without it the prompt asks (or, under cron, the usual "no
//!   password" error says what to set).
//! - A password in a config file that others may read draws a warning.
//!
//! The parts: `layer` is the model (settings that remember where they were
//! written); `file` walks the TOML into layers, reading each value with
//! `value`; `flags` turns the command line into the top layer; `resolve`
//! makes an [`Account`] of the merged layers, asking `netrc` for a password
//! where none is set.

mod file;
mod flags;
mod layer;
mod netrc;
mod resolve;
mod value;

pub(crate) use file::edit_distance;
#[cfg(any(test, feature = "fuzzing"))]
pub(crate) use {file::parse_file, netrc::Netrc};

use std::fs::{File, Metadata};
use std::io::{self, Read};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use zeroize::Zeroizing;

use crate::account::Account;
use crate::cli::Cli;

/// The accounts to work on, and anything worth telling the user about the
/// config that is not an error.
#[derive(Debug)]
pub(crate) struct Loaded {
    /// The selected accounts, in config-file order.
    pub accounts: Vec<Account>,
    /// Complete sentences, e.g. a password in a file others can read.
    pub warnings: Vec<String>,
    /// Worth knowing, but not said under `-q`: two accounts for one mailbox.
    pub notices: Vec<String>,
}

/// Why the configuration could not be used. Every message names the file,
/// line and column (or the flag), the account, the key, and the fix.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The default config file does not exist and no account was given with flags.
    #[error(
        "no config file at {}: write one with an [account.NAME] table for each mailbox \
         (`mkdir -p {} && popfetch config example > {0}` gives a commented one to fill in; see \
         `man popfetch`), name another file with --config, or give an account on the command \
         line with --host, --user and --maildir",
        path.display(),
        path.parent().unwrap_or(path).display()
    )]
    NoConfigFile { path: PathBuf },

    /// Neither HOME nor XDG_CONFIG_HOME tells where the config lives.
    #[error(
        "cannot tell where the config file is because HOME is not set: set HOME or name the \
         file with --config"
    )]
    NoConfigDir,

    /// The file named by `--config` or `POPFETCH_CONFIG` does not exist.
    #[error(
        "the config file {} does not exist: check the path given with --config or \
         POPFETCH_CONFIG",
        path.display()
    )]
    NamedConfigMissing { path: PathBuf },

    /// The file exists (or was named) but could not be read.
    #[error("cannot read the config file {}: {error}", path.display())]
    Read { path: PathBuf, error: io::Error },

    /// Someone else could change the file, and so run commands as the user.
    #[error("refusing to read the config file {}: {why}", path.display())]
    Untrusted { path: PathBuf, why: String },

    /// The file is not valid TOML.
    #[error("{at}: {message}")]
    Syntax { at: String, message: String },

    /// A key in the file is unknown, unsupported, of the wrong type, out of
    /// range, or contradicts another key.
    #[error("{at}: {message}")]
    Invalid { at: String, message: String },

    /// The file defines no account and no `--host` was given.
    #[error(
        "{} defines no accounts: add an [account.NAME] table with host, user and maildir \
         (or mbox or mda)",
        path.display()
    )]
    NoAccounts { path: PathBuf },

    /// A name on the command line matches no account.
    #[error("there is no account named {name:?}: the accounts are {}", known.join(", "))]
    UnknownAccount { name: String, known: Vec<String> },

    /// The command-line flags are contradictory or incomplete.
    #[error("{message}")]
    Usage { message: String },
}

/// The names of the accounts the config file defines (`[account.NAME]`),
/// for shell completion: the file is parsed as TOML and nothing else is
/// done (no check, no netrc, no password command), so it stays quick on
/// a large file. Names a shell would need quoted are left out.
pub(crate) fn account_names(cli: &Cli) -> Result<Vec<String>, ConfigError> {
    let env = Env::from_process();
    let path = match &cli.global.config {
        Some(p) => p.clone(),
        None => env.default_config_path().ok_or(ConfigError::NoConfigDir)?,
    };
    // Read as the config always is: the text may hold passwords, and is
    // wiped when done.
    let text = match read_trusted(&path) {
        Ok((t, _)) => t,
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            return Err(ConfigError::NamedConfigMissing { path });
        }
        Err(error) => return Err(ConfigError::Read { path, error }),
    };
    let mut names = file::account_names(&text);
    names.retain(|n| shell_word(n));
    Ok(names)
}

/// A name a shell takes as one word as it is: letters, digits and
/// `-_.@+:%,=/`, not starting with `-`.
fn shell_word(name: &str) -> bool {
    !name.is_empty()
        && !name.starts_with('-')
        && name
            .chars()
            .all(|c| c.is_alphanumeric() || "-_.@+:%,=/".contains(c))
}

/// Read the config named by the command line (or the default one), apply the
/// command-line overrides, validate, and return the accounts named in `names`
/// (all of them when `names` is empty).
pub(crate) fn load(cli: &Cli, names: &[String]) -> Result<Loaded, ConfigError> {
    load_in(cli, names, &Env::from_process())
}

/// The parts of the process environment that the config depends on. Passed
/// explicitly so that tests never look at the real home directory.
#[derive(Debug, Clone, Default)]
pub(crate) struct Env {
    /// `$HOME`, for `~` and the fallbacks below.
    pub home: Option<PathBuf>,
    /// The XDG config base (`$XDG_CONFIG_HOME` or `~/.config`).
    pub config_base: Option<PathBuf>,
    /// The XDG state base (`$XDG_STATE_HOME` or `~/.local/state`).
    pub state_base: Option<PathBuf>,
    /// `$NETRC`, which replaces `~/.netrc`.
    pub netrc: Option<PathBuf>,
}

impl Env {
    fn from_process() -> Env {
        let netrc = std::env::var_os("NETRC")
            .filter(|v| !v.is_empty())
            .map(PathBuf::from);
        match directories::BaseDirs::new() {
            Some(b) => Env {
                home: Some(b.home_dir().to_path_buf()),
                config_base: Some(b.config_dir().to_path_buf()),
                state_base: b.state_dir().map(Path::to_path_buf),
                netrc,
            },
            None => Env {
                netrc,
                ..Env::default()
            },
        }
    }

    fn default_config_path(&self) -> Option<PathBuf> {
        self.config_base
            .as_ref()
            .map(|b| b.join("popfetch").join("config.toml"))
    }

    fn default_state_dir(&self) -> Option<PathBuf> {
        match (&self.state_base, &self.home) {
            (Some(base), _) => Some(base.join("popfetch")),
            (None, Some(home)) => Some(home.join(".local/state/popfetch")),
            (None, None) => None,
        }
    }

    fn netrc_path(&self) -> Option<PathBuf> {
        self.netrc
            .clone()
            .or_else(|| self.home.as_ref().map(|h| h.join(".netrc")))
    }
}

/// `~` and `~/...` from HOME; `~user` is not supported (it would need the
/// password database) and says so.
fn expand_tilde(s: &str, env: &Env) -> Result<PathBuf, String> {
    let Some(rest) = s.strip_prefix('~') else {
        return Ok(PathBuf::from(s));
    };
    if !(rest.is_empty() || rest.starts_with('/')) {
        return Err(format!(
            "{s:?}: only ~ and ~/ are expanded, not ~user: write the full path"
        ));
    }
    let home = env
        .home
        .as_ref()
        .ok_or_else(|| format!("{s:?} starts with ~ but HOME is not set: write the full path"))?;
    Ok(home.join(rest.trim_start_matches('/')))
}

/// [`load`] with the environment given explicitly.
pub(crate) fn load_in(cli: &Cli, names: &[String], env: &Env) -> Result<Loaded, ConfigError> {
    let mut warnings = Vec::new();
    let explicit = cli.global.config.clone();
    let path = match &explicit {
        Some(p) => p.clone(),
        None => env.default_config_path().ok_or(ConfigError::NoConfigDir)?,
    };
    let text = match read_trusted(&path) {
        Ok((text, meta)) => {
            if let Some(why) = distrust(
                &meta,
                &path,
                "make popfetch run commands as you (mda, password_command)",
            ) {
                return Err(ConfigError::Untrusted { path, why });
            }
            Some((text, meta.mode()))
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound && explicit.is_none() => {
            if cli.account.host.is_none() {
                return Err(ConfigError::NoConfigFile { path });
            }
            None
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            return Err(ConfigError::NamedConfigMissing { path });
        }
        Err(error) => return Err(ConfigError::Read { path, error }),
    };

    let file = match &text {
        Some((text, mode)) => {
            let file = file::parse_file(&path, text, env)?;
            if let Some(at) = &file.password_at
                && let Some(mode) = group_or_other_readable(*mode)
            {
                warnings.push(format!(
                    "{at}: the config file holds a password but others can read it (mode \
                     {mode:04o}): run `chmod 600 {}`, or use password_command instead",
                    path.display()
                ));
            }
            file
        }
        None => file::File::default(),
    };

    let flags = flags::layer_from_flags(&cli.account, env)?;
    let mut ctx = resolve::Context::new(cli, env)?;

    // --host with no account named is an account of its own, beside the
    // file's: with [defaults] only, never retargeting configured accounts.
    let ad_hoc = cli.account.host.is_some() && names.is_empty();
    if !ad_hoc && names.is_empty() && file.accounts.len() > 1 {
        one_mailbox_flags_need_a_name(cli, &file)?;
    }
    let mut accounts = Vec::new();
    if !file.accounts.is_empty() && !ad_hoc {
        for acct in &file.accounts {
            let layer = file
                .defaults
                .clone()
                .overlay(acct.layer.clone())
                .overlay(flags.clone());
            accounts.push(ctx.resolve(&acct.name, Some(&acct.header_at), layer)?);
        }
    } else if let Some(host) = &cli.account.host {
        let layer = file.defaults.clone().overlay(flags);
        accounts.push(ctx.resolve(host, None, layer)?);
    } else {
        return Err(ConfigError::NoAccounts { path });
    }
    warnings.append(&mut ctx.warnings);
    let notices = shared_mailboxes(&accounts);

    for name in names {
        if !accounts.iter().any(|a| &a.name == name) {
            return Err(ConfigError::UnknownAccount {
                name: name.clone(),
                known: accounts.iter().map(|a| a.name.clone()).collect(),
            });
        }
    }
    if !names.is_empty() {
        accounts.retain(|a| names.contains(&a.name));
    }
    Ok(Loaded {
        accounts,
        warnings,
        notices,
    })
}

/// `--user`, `--port` and `--password-command` name one mailbox's login:
/// given with no account named while the file has several, they would
/// point every account at it. (`serverinfo` without a name asks only the
/// first account.)
fn one_mailbox_flags_need_a_name(cli: &Cli, file: &file::File) -> Result<(), ConfigError> {
    if matches!(cli.command, Some(crate::cli::Commands::Serverinfo { .. })) {
        return Ok(());
    }
    let a = &cli.account;
    let given: Vec<&str> = [
        (a.user.is_some(), "--user"),
        (a.port.is_some(), "--port"),
        (a.password_command.is_some(), "--password-command"),
    ]
    .into_iter()
    .filter_map(|(set, flag)| set.then_some(flag))
    .collect();
    let Some(first) = given.first() else {
        return Ok(());
    };
    let names: Vec<&str> = file.accounts.iter().map(|a| a.name.as_str()).collect();
    Err(ConfigError::Usage {
        message: format!(
            "{} would apply to every account ({}): name the account it is for (`popfetch {} \
             {first} ...`), or add --host for an account of its own",
            given.join(" and "),
            names.join(", "),
            names[0]
        ),
    })
}

/// A sentence for each mailbox (`user@host:port`) that more than one
/// account fetches: they share its lock and its state, so one account's
/// delivery is the other's too, and with `-j` one finds the lock taken.
fn shared_mailboxes(accounts: &[Account]) -> Vec<String> {
    let mut seen: Vec<(String, Vec<&str>)> = Vec::new();
    for a in accounts {
        let id = a.mailbox_id();
        match seen.iter_mut().find(|(m, _)| *m == id) {
            Some((_, names)) => names.push(&a.name),
            None => seen.push((id, vec![&a.name])),
        }
    }
    seen.into_iter()
        .filter_map(|(id, names)| {
            let (last, rest) = names.split_last()?;
            (!rest.is_empty()).then(|| {
                format!(
                    "accounts {} and {last} fetch the same mailbox {id}: they share one lock and \
                     one state (a message one of them delivers, the others will not fetch); \
                     with -j they take turns, and one of them may exit 75",
                    rest.join(", ")
                )
            })
        })
        .collect()
}

/// The whole text of a file that may hold a password, and what the open
/// file is (its owner and mode, for [`distrust`]: checked on the file
/// read, not on whatever the path names a moment later). The text is
/// wiped when dropped; its buffer is sized from the file, so that no
/// outgrown copy is freed unwiped.
fn read_trusted(path: &Path) -> io::Result<(Zeroizing<String>, Metadata)> {
    let mut file = File::open(path)?;
    let meta = file.metadata()?;
    let size = usize::try_from(meta.len()).unwrap_or(0);
    let mut text = Zeroizing::new(String::with_capacity(size.saturating_add(1)));
    file.read_to_string(&mut text)?;
    Ok((text, meta))
}

/// Why a file that steers popfetch (the config, `.netrc`) cannot be
/// trusted, and the fix: group or others may write it, or it belongs to
/// someone other than the user or root. Either could `harm` the user.
fn distrust(meta: &Metadata, path: &Path, harm: &str) -> Option<String> {
    let mode = meta.mode() & 0o7777;
    let me = rustix::process::geteuid().as_raw();
    if meta.uid() != me && meta.uid() != 0 {
        return Some(format!(
            "it belongs to another user (uid {}), who could {harm}: take it over (`chown {me} \
             {}`) or use a file of your own",
            meta.uid(),
            path.display()
        ));
    }
    (mode & 0o022 != 0).then(|| {
        format!(
            "group or others can write it (mode {mode:04o}), and whoever can write it could \
             {harm}: run `chmod go-w {}`",
            path.display()
        )
    })
}

/// The permission bits of `mode` when group or others may read the file.
fn group_or_other_readable(mode: u32) -> Option<u32> {
    let mode = mode & 0o7777;
    (mode & 0o044 != 0).then_some(mode)
}

#[cfg(test)]
mod tests;

#[cfg(test)]
mod proptests;
