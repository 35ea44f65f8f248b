//! One TOML value to a typed setting: the checks and messages that do not
//! depend on which key holds the value. Each error is the sentence that
//! follows the key's position and name.

use std::path::PathBuf;

use toml::de::DeValue;

use super::{Env, expand_tilde};
use crate::account::{
    AuthChoice, CommandSpec, Destination, Pipelining, Relay, ServerAddr, TlsMode, parse_server,
};

fn wrong_type(expected: &str, v: &DeValue<'_>) -> String {
    format!("expected {expected}, found {}", v.type_str())
}

pub(super) fn string(v: &DeValue<'_>) -> Result<String, String> {
    match v {
        DeValue::String(s) => Ok(s.to_string()),
        other => Err(wrong_type("a string in quotes", other)),
    }
}

pub(super) fn nonempty(v: &DeValue<'_>, what: &str) -> Result<String, String> {
    let s = string(v)?;
    if s.trim().is_empty() {
        return Err(format!("{what} must not be empty"));
    }
    Ok(s)
}

/// A string without blanks, such as a host name.
pub(super) fn word(v: &DeValue<'_>, what: &str) -> Result<String, String> {
    let s = nonempty(v, what)?;
    if s.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(format!("{s:?} is not {what}: it contains a blank"));
    }
    Ok(s)
}

pub(super) fn integer(v: &DeValue<'_>) -> Result<i64, String> {
    match v {
        DeValue::Integer(i) => i64::from_str_radix(i.as_str(), i.radix())
            .map_err(|_| format!("{i} is too large a number")),
        other => Err(wrong_type("a whole number", other)),
    }
}

pub(super) fn boolean(v: &DeValue<'_>) -> Result<bool, String> {
    match v {
        DeValue::Boolean(b) => Ok(*b),
        other => Err(wrong_type("true or false", other)),
    }
}

pub(super) fn path(v: &DeValue<'_>, env: &Env) -> Result<PathBuf, String> {
    expand_tilde(&nonempty(v, "a path")?, env)
}

/// `["prog", "arg"]` runs directly; `"prog arg"` runs through `sh -c`.
pub(super) fn command(v: &DeValue<'_>) -> Result<CommandSpec, String> {
    match v {
        DeValue::String(s) if s.trim().is_empty() => {
            Err("the command is empty: give a command line or a list of words".to_string())
        }
        DeValue::String(s) => Ok(CommandSpec::Shell(s.to_string())),
        DeValue::Array(items) => {
            let words = items
                .iter()
                .map(|w| match w.get_ref() {
                    DeValue::String(s) => Ok(s.to_string()),
                    other => Err(format!(
                        "every word of the command must be a string in quotes, found {}",
                        other.type_str()
                    )),
                })
                .collect::<Result<Vec<_>, _>>()?;
            match words.first() {
                Some(prog) if !prog.is_empty() => Ok(CommandSpec::Argv(words)),
                _ => Err(
                    "the command is empty: give the program first, e.g. [\"pass\", \"show\", \
                     \"mail/work\"]"
                        .to_string(),
                ),
            }
        }
        other => Err(wrong_type(
            "a command, as a list of words or a string for sh -c",
            other,
        )),
    }
}

/// `lmtp` or `smtp` (`smtp` when `smtp`): the server's address, a socket
/// path with `~` expanded. The recipient is filled in when the account is
/// resolved.
pub(super) fn relay(addr: &str, smtp: bool, env: &Env) -> Result<Destination, String> {
    let server = match parse_server(addr, smtp)? {
        ServerAddr::Unix(p) => ServerAddr::Unix(expand_tilde(&p.to_string_lossy(), env)?),
        tcp => tcp,
    };
    let relay = Relay {
        server,
        recipient: String::new(),
    };
    Ok(if smtp {
        Destination::Smtp(relay)
    } else {
        Destination::Lmtp(relay)
    })
}

pub(super) fn tls_mode(v: &DeValue<'_>) -> Result<TlsMode, String> {
    let s = string(v)?;
    TlsMode::ALL
        .into_iter()
        .find(|m| m.name() == s)
        .ok_or_else(|| {
            format!(
                "unknown TLS mode {s:?}: use \"implicit\" (TLS from the start, port 995), \
                 \"starttls\" (STLS on port 110) or \"none\""
            )
        })
}

pub(super) fn auth_choice(v: &DeValue<'_>) -> Result<AuthChoice, String> {
    let s = string(v)?;
    AuthChoice::ALL
        .into_iter()
        .find(|a| a.name().eq_ignore_ascii_case(&s))
        .ok_or_else(|| {
            let names: Vec<_> = AuthChoice::ALL.iter().map(|a| a.name()).collect();
            format!(
                "unknown login method {s:?}: use one of {}",
                names.join(", ")
            )
        })
}

pub(super) fn pipelining(v: &DeValue<'_>) -> Result<Pipelining, String> {
    let names = || one_of(&Pipelining::ALL.map(Pipelining::name));
    match v {
        DeValue::Boolean(true) => Ok(Pipelining::On),
        DeValue::Boolean(false) => Ok(Pipelining::Off),
        DeValue::String(s) => {
            let s: &str = s.as_ref();
            Pipelining::ALL
                .into_iter()
                .find(|p| p.name() == s)
                .ok_or_else(|| format!("{s:?} is not a pipelining setting: use {}", names()))
        }
        other => Err(wrong_type(&names(), other)),
    }
}

/// `"a", "b" or "c"`.
fn one_of(names: &[&str]) -> String {
    let quoted: Vec<String> = names.iter().map(|n| format!("{n:?}")).collect();
    match quoted.split_last() {
        Some((last, rest)) if !rest.is_empty() => format!("{} or {last}", rest.join(", ")),
        _ => quoted.concat(),
    }
}
