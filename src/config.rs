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

#[cfg(any(test, feature = "fuzzing"))]
pub(crate) use {file::parse_file, netrc::Netrc};

use std::io;
use std::path::{Path, PathBuf};

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
}

/// Why the configuration could not be used. Every message names the file,
/// line and column (or the flag), the account, the key, and the fix.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The default config file does not exist and no account was given with flags.
    #[error(
        "no config file at {}: create it with an [account.NAME] table holding host, user and \
         maildir (see `man popfetch`), name another file with --config, or give an account on \
         the command line with --host, --user and --maildir",
        path.display()
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
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => Some(t),
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
        Some(text) => {
            let file = file::parse_file(&path, text, env)?;
            if let Some(at) = &file.password_at
                && let Some(mode) = group_or_other_readable(&path)
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

    let mut accounts = Vec::new();
    if !file.accounts.is_empty() {
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
    Ok(Loaded { accounts, warnings })
}

/// The file's permission bits when group or others may read it.
fn group_or_other_readable(path: &Path) -> Option<u32> {
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(path).ok()?.permissions().mode() & 0o7777;
    (mode & 0o044 != 0).then_some(mode)
}

#[cfg(test)]
mod tests;

#[cfg(test)]
mod proptests;
