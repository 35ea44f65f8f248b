//! From a merged [`Layer`] to an [`Account`]: fill in the defaults, find a
//! password source, and check the rules that involve more than one key.

use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;
use std::time::Duration;

use super::layer::{Layer, Origin, Setting};
use super::netrc::Netrc;
use super::{ConfigError, Env, distrust, expand_tilde, group_or_other_readable, read_trusted};
use crate::account::{
    Account, AuthChoice, Destination, PasswordSource, Pipelining, Policy, TlsMode, check_recipient,
};
use crate::cli::Cli;
use crate::secret::Secret;

const DEFAULT_TIMEOUT_SECS: u64 = 60;

/// What resolving needs beyond the layers, and what it learns on the way.
pub(crate) struct Context<'a> {
    env: &'a Env,
    state_dir_flag: Option<PathBuf>,
    /// Read on first use; `Some(None)` once known to be absent.
    netrc: Option<Option<(PathBuf, u32, Netrc)>>,
    netrc_warned: bool,
    pub warnings: Vec<String>,
}

impl<'a> Context<'a> {
    pub fn new(cli: &Cli, env: &'a Env) -> Result<Self, ConfigError> {
        let state_dir_flag = match &cli.global.state_dir {
            None => None,
            Some(p) => match p.to_str() {
                Some("") => {
                    return Err(ConfigError::Usage {
                        message: "--state-dir must not be empty".to_string(),
                    });
                }
                Some(s) => Some(expand_tilde(s, env).map_err(|e| ConfigError::Usage {
                    message: format!("--state-dir {e}"),
                })?),
                None => Some(p.clone()),
            },
        };
        Ok(Context {
            env,
            state_dir_flag,
            netrc: None,
            netrc_warned: false,
            warnings: Vec::new(),
        })
    }

    /// Build one account. `header_at` is where `[account.NAME]` is written,
    /// or `None` for the account given entirely by flags.
    pub fn resolve(
        &mut self,
        name: &str,
        header_at: Option<&str>,
        layer: Layer,
    ) -> Result<Account, ConfigError> {
        let host = layer
            .host
            .ok_or_else(|| missing(name, header_at, "host", "\"pop.example.com\"", "--host"))?
            .value;
        let user = layer
            .user
            .ok_or_else(|| missing(name, header_at, "user", "\"alice\"", "--user"))?
            .value;
        let mut destination = layer
            .destination
            .ok_or_else(|| {
                missing(
                    name,
                    header_at,
                    "maildir",
                    "\"~/Mail\" (or mbox, mda, lmtp or smtp)",
                    "--maildir (or --mbox, --mda, --lmtp or --smtp)",
                )
            })?
            .value;
        match (&mut destination, layer.recipient) {
            (Destination::Lmtp(r) | Destination::Smtp(r), recipient) => {
                r.recipient = match recipient {
                    Some(s) => s.value,
                    None => {
                        check_recipient(&user).map_err(|e| {
                            missing(
                                name,
                                header_at,
                                "recipient",
                                &format!("\"alice\" (the user cannot stand in for it: {e})"),
                                "--recipient",
                            )
                        })?;
                        user.clone()
                    }
                };
            }
            (_, Some(r)) => {
                return Err(blame(
                    name,
                    &r.origin,
                    format!(
                        "recipient only applies to lmtp and smtp, but {} delivers elsewhere: \
                         remove recipient",
                        table_header(name)
                    ),
                    "--recipient only applies with --lmtp or --smtp".to_string(),
                ));
            }
            (_, None) => {}
        }

        let tls = value_or(&layer.tls, TlsMode::Implicit);
        let allow_plaintext = value_or(&layer.allow_plaintext, false);
        if let (Some(tls_set), false) = (&layer.tls, allow_plaintext)
            && tls_set.value == TlsMode::None
        {
            return Err(blame(
                name,
                &tls_set.origin,
                format!(
                    "tls = \"none\" would send the password unencrypted, which popfetch refuses \
                     unless allowed: add allow_plaintext = true to {} if the network is \
                     trusted (e.g. a server on this machine), or use tls = \"starttls\" or \
                     \"implicit\"",
                    table_header(name)
                ),
                "--tls none would send the password unencrypted: add --allow-plaintext if the \
                 network is trusted, or use --tls starttls or --tls implicit"
                    .to_string(),
            ));
        }

        let keep = value_or(&layer.keep, false);
        if let Some(days) = &layer.delete_after_days
            && !keep
        {
            // Blame the flag when one is involved: the command line is what to fix.
            let keep_flag = layer
                .keep
                .as_ref()
                .filter(|k| matches!(k.origin, Origin::Flag(_)));
            let err = match keep_flag {
                Some(k) => blame(
                    name,
                    &k.origin,
                    String::new(),
                    format!(
                        "--no-keep contradicts delete_after_days (at {}), which only applies \
                         to messages kept on the server: drop --no-keep",
                        origin_at(&days.origin)
                    ),
                ),
                None => blame(
                    name,
                    &days.origin,
                    format!(
                        "delete_after_days only applies to messages kept on the server, but \
                         keep is false, so every message is deleted once delivered: set keep = \
                         true in {}, or remove delete_after_days",
                        table_header(name)
                    ),
                    "--delete-after-days only applies to messages kept on the server: add \
                     --keep"
                        .to_string(),
                ),
            };
            return Err(err);
        }

        let tls_client_cert = layer.tls_client_cert.map(|s| s.value);
        if let (Some(key), None) = (&layer.tls_client_key, &tls_client_cert) {
            return Err(blame(
                name,
                &key.origin,
                format!(
                    "tls_client_key is set but tls_client_cert is not, and a key is of no use \
                     without its certificate: add tls_client_cert = \"...\" to {}, or remove \
                     tls_client_key",
                    table_header(name)
                ),
                "--tls-client-key needs a certificate: give --tls-client-cert too".to_string(),
            ));
        }

        let password = match layer.password {
            Some(s) => s.value,
            None => self.netrc_password(&host, &user),
        };

        let state_dir = match (&self.state_dir_flag, &layer.state_dir) {
            (Some(p), _) => p.clone(),
            (None, Some(s)) => s.value.clone(),
            (None, None) => self.env.default_state_dir().ok_or_else(|| {
                let message = "cannot tell where to keep the record of delivered messages \
                               because HOME is not set: set state_dir in the config or give \
                               --state-dir"
                    .to_string();
                match header_at {
                    Some(at) => ConfigError::Invalid {
                        at: at.to_string(),
                        message: format!("account {name:?}: {message}"),
                    },
                    None => ConfigError::Usage { message },
                }
            })?,
        };

        Ok(Account {
            name: name.to_string(),
            port: layer.port.as_ref().map_or(tls.default_port(), |p| p.value),
            host,
            tls,
            user,
            auth: value_or(&layer.auth, AuthChoice::Auto),
            password,
            allow_plaintext,
            tls_ca_file: layer.tls_ca_file.map(|s| s.value),
            tls_fingerprint: layer.tls_fingerprint.map(|s| s.value),
            tls_client_cert,
            tls_client_key: layer.tls_client_key.map(|s| s.value),
            proxy: layer.proxy.map(|s| s.value),
            destination,
            policy: Policy {
                keep,
                delete_after_days: layer.delete_after_days.map(|s| s.value),
                max_size: layer.max_size.map(|s| s.value),
                max_messages: layer.max_messages.map(|s| s.value),
                fetch_all: value_or(&layer.fetch_all, false),
            },
            timeout: Duration::from_secs(value_or(&layer.timeout, DEFAULT_TIMEOUT_SECS)),
            state_dir,
            pipelining: value_or(&layer.pipelining, Pipelining::Auto),
            received_header: value_or(&layer.received_header, true),
            commit_every: layer.commit_every.map(|s| s.value).filter(|n| *n > 0),
            log_file: layer.log_file.map(|s| s.value),
            syslog: value_or(&layer.syslog, false),
        })
    }

    /// A password from `.netrc` for this host and user, else a prompt.
    fn netrc_password(&mut self, host: &str, user: &str) -> PasswordSource {
        if self.netrc.is_none() {
            self.netrc = Some(self.read_netrc());
        }
        let Some(Some((path, mode, netrc))) = &self.netrc else {
            return PasswordSource::Prompt;
        };
        let Some(password) = netrc.password(host, user) else {
            return PasswordSource::Prompt;
        };
        if !self.netrc_warned
            && let Some(mode) = group_or_other_readable(*mode)
        {
            self.netrc_warned = true;
            self.warnings.push(format!(
                "{} holds a password but others can read it (mode {mode:04o}): run `chmod 600 \
                 {}`",
                path.display(),
                path.display()
            ));
        }
        PasswordSource::Literal(Secret::new(password.to_string()))
    }

    /// The `.netrc` to take passwords from, with its mode. One that others
    /// could have written is not used (a warning says why): its passwords
    /// are not the user's word. Without it, the prompt asks.
    fn read_netrc(&mut self) -> Option<(PathBuf, u32, Netrc)> {
        let path = self.env.netrc_path()?;
        match read_trusted(&path) {
            Ok((text, meta)) => {
                if let Some(why) = distrust(&meta, &path, "choose the password popfetch sends") {
                    self.warnings.push(format!(
                        "{} is not used for passwords: {why}",
                        path.display()
                    ));
                    return None;
                }
                Some((path, meta.mode(), Netrc::parse(&text)))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => {
                self.warnings.push(format!(
                    "cannot read {} ({e}), so it was not searched for passwords",
                    path.display()
                ));
                None
            }
        }
    }
}

fn value_or<T: Copy>(s: &Option<Setting<T>>, default: T) -> T {
    s.as_ref().map_or(default, |s| s.value)
}

fn origin_at(o: &Origin) -> String {
    match o {
        Origin::File { key_at, .. } => key_at.clone(),
        Origin::Flag(f) => format!("{f} on the command line"),
    }
}

/// `[account.work]`, quoted where TOML needs it.
fn table_header(name: &str) -> String {
    let bare = name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if bare {
        format!("[account.{name}]")
    } else {
        format!("[account.{name:?}]")
    }
}

/// A key that no layer set.
fn missing(
    name: &str,
    header_at: Option<&str>,
    key: &str,
    example: &str,
    flag: &str,
) -> ConfigError {
    match header_at {
        Some(at) => ConfigError::Invalid {
            at: at.to_string(),
            message: format!(
                "account {name:?} has no {key}: add {key} = {example} to {} or to [defaults]",
                table_header(name)
            ),
        },
        None => ConfigError::Usage {
            message: format!("the account given on the command line has no {key}: add {flag}"),
        },
    }
}

/// An error about two keys that do not fit together, reported where the
/// offending one was written: a config error for the file, a usage error for
/// a flag.
fn blame(name: &str, origin: &Origin, file_message: String, flag_message: String) -> ConfigError {
    match origin {
        Origin::File {
            key_at,
            in_defaults,
            ..
        } => ConfigError::Invalid {
            at: key_at.clone(),
            message: format!(
                "account {name:?}: {file_message}{}",
                if *in_defaults {
                    " (the key is in [defaults])"
                } else {
                    ""
                }
            ),
        },
        Origin::Flag(_) => ConfigError::Usage {
            message: format!("account {name:?}: {flag_message}"),
        },
    }
}
