//! The command line's account flags as the top [`Layer`]: they override the
//! file for every selected account. Errors here are usage errors (exit 64).

use std::path::PathBuf;

use super::layer::{Layer, Origin, Setting};
use super::value::relay;
use super::{ConfigError, Env, expand_tilde};
use crate::account::{CommandSpec, Destination, PasswordSource, check_recipient, unsendable};
use crate::cli::AccountArgs;
use crate::transport::Proxy;

/// `--proxy URL`, which must not carry a password: argv is visible to
/// every user of the machine (`ps`), so a proxy that wants one is set in
/// the config file.
fn proxy_flag(url: Option<&str>) -> Result<Option<Proxy>, ConfigError> {
    let Some(url) = url else {
        return Ok(None);
    };
    let usage = |message: String| ConfigError::Usage { message };
    let proxy = Proxy::parse(url).map_err(|e| usage(format!("--proxy {e}")))?;
    if proxy.has_password() {
        return Err(usage(format!(
            "--proxy {proxy}: a password on the command line is visible to every user of this \
             machine (ps shows it), so --proxy takes none: set proxy = \"socks5://USER:PASSWORD@\
             HOST:PORT\" in the config file (mode 600) instead"
        )));
    }
    Ok(Some(proxy))
}

/// The command-line flags as the top layer.
pub(crate) fn layer_from_flags(args: &AccountArgs, env: &Env) -> Result<Layer, ConfigError> {
    fn flag<T>(name: &'static str, value: Option<T>) -> Option<Setting<T>> {
        value.map(|value| Setting {
            value,
            origin: Origin::Flag(name),
        })
    }
    let usage = |message: String| ConfigError::Usage { message };
    let nonempty = |name: &str, v: &Option<String>| -> Result<(), ConfigError> {
        match v {
            Some(s) if s.trim().is_empty() => Err(usage(format!("{name} must not be empty"))),
            _ => Ok(()),
        }
    };
    nonempty("--host", &args.host)?;
    nonempty("--user", &args.user)?;
    nonempty("--password-command", &args.password_command)?;
    nonempty("--mda", &args.mda)?;
    if let Some(what) = args.user.as_deref().and_then(unsendable) {
        return Err(usage(format!(
            "--user contains {what}, which no POP3 command can carry: give the login name alone"
        )));
    }
    if let Some(h) = &args.host
        && h.chars().any(|c| c.is_whitespace() || c.is_control())
    {
        return Err(usage(format!(
            "--host {h:?} is not a host name: it contains a blank"
        )));
    }
    let path = |name: &'static str, p: &Option<PathBuf>| -> Result<Option<PathBuf>, ConfigError> {
        match p {
            None => Ok(None),
            Some(p) => {
                let s = p.to_string_lossy();
                if s.is_empty() {
                    return Err(usage(format!("{name} must not be empty")));
                }
                // Only a valid-UTF-8 path can start with "~"; others are kept as given.
                match p.to_str() {
                    Some(s) => expand_tilde(s, env)
                        .map(Some)
                        .map_err(|e| usage(format!("{name} {e}"))),
                    None => Ok(Some(p.clone())),
                }
            }
        }
    };

    let mut dests = Vec::new();
    if let Some(p) = path("--maildir", &args.maildir)? {
        dests.push(("--maildir", Destination::Maildir(p)));
    }
    if let Some(p) = path("--mbox", &args.mbox)? {
        dests.push(("--mbox", Destination::Mbox(p)));
    }
    if let Some(cmd) = &args.mda {
        dests.push(("--mda", Destination::Mda(CommandSpec::Shell(cmd.clone()))));
    }
    for (name, value, smtp) in [("--lmtp", &args.lmtp, false), ("--smtp", &args.smtp, true)] {
        if let Some(v) = value {
            let dest = relay(v, smtp, env).map_err(|e| usage(format!("{name} {e}")))?;
            dests.push((name, dest));
        }
    }
    if dests.len() > 1 {
        let names: Vec<_> = dests.iter().map(|(n, _)| *n).collect();
        let (given, both) = match names.as_slice() {
            [a, b] => (format!("{a} and {b}"), "both"),
            [rest @ .., last] => (format!("{} and {last}", rest.join(", ")), "all"),
            [] => (String::new(), "all"),
        };
        return Err(usage(format!(
            "{given} were {both} given: an account delivers to exactly one of --maildir, \
             --mbox, --mda, --lmtp or --smtp, so give only one"
        )));
    }
    if let Some(r) = &args.recipient {
        check_recipient(r).map_err(|e| usage(format!("--recipient: {e}")))?;
    }
    let destination = dests.pop().map(|(name, d)| Setting {
        value: d,
        origin: Origin::Flag(name),
    });

    Ok(Layer {
        host: flag("--host", args.host.clone()),
        port: flag("--port", args.port),
        tls: flag("--tls", args.tls),
        user: flag("--user", args.user.clone()),
        password: flag(
            "--password-command",
            args.password_command
                .clone()
                .map(|c| PasswordSource::Command(CommandSpec::Shell(c))),
        ),
        auth: flag("--auth", args.auth),
        allow_plaintext: flag("--allow-plaintext", args.allow_plaintext.then_some(true)),
        tls_ca_file: flag("--tls-ca-file", path("--tls-ca-file", &args.tls_ca_file)?),
        tls_fingerprint: flag("--tls-fingerprint", args.tls_fingerprint.clone()),
        tls_client_cert: flag(
            "--tls-client-cert",
            path("--tls-client-cert", &args.tls_client_cert)?,
        ),
        tls_client_key: flag(
            "--tls-client-key",
            path("--tls-client-key", &args.tls_client_key)?,
        ),
        proxy: flag("--proxy", proxy_flag(args.proxy.as_deref())?),
        destination,
        recipient: flag("--recipient", args.recipient.clone()),
        keep: flag(
            if args.no_keep { "--no-keep" } else { "--keep" },
            args.keep_flag(),
        ),
        delete_after_days: flag("--delete-after-days", args.delete_after_days),
        max_size: flag("--max-size", args.max_size),
        max_messages: flag("--max-messages", args.max_messages),
        fetch_all: flag("--fetch-all", args.fetch_all.then_some(true)),
        timeout: flag("--timeout", args.timeout),
        state_dir: None,
        pipelining: flag("--pipelining", args.pipelining),
        received_header: flag(
            if args.no_received_header {
                "--no-received-header"
            } else {
                "--received-header"
            },
            args.received_header_flag(),
        ),
        commit_every: flag("--commit-every", args.commit_every),
        log_file: flag("--log-file", path("--log-file", &args.log_file)?),
        syslog: flag(
            if args.no_syslog {
                "--no-syslog"
            } else {
                "--syslog"
            },
            args.syslog_flag(),
        ),
    })
}
