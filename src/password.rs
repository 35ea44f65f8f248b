//! Where an account's password (or OAuth token) comes from: `obtain` takes
//! it from the config, runs the password command, or asks on the terminal.
//!
//! Nothing here ever puts a secret into an error or a `Debug` string: a failing
//! password command is reported with its stderr (control bytes replaced),
//! never its stdout.
//!
//! The password command runs as [`crate::child`] runs programs: in a
//! process group of its own with stdin from `/dev/null` (it cannot prompt
//! on the terminal: an agent such as gpg-agent's pinentry must ask), for at
//! most the account's `timeout`, after which it is killed with everything
//! it started. A Ctrl-C, SIGTERM or SIGHUP kills it at once, and the run
//! then logs in nowhere. Of its stdout only the first line is kept, up to
//! [`MAX_SECRET`] (an OAuth token of several KB fits); the rest is read
//! and dropped, so a command that prints a flood costs no memory. Once it
//! has exited, its pipes are read for 2 s more at most: a daemon it
//! started may hold them.
//!
//! A command that does not finish in time exits 75, like a server that
//! does not answer: a token helper waiting on the network, a keyring that
//! is still locked, are worth retrying on the next run; every other
//! failure here is a configuration problem (78).

use std::borrow::Cow;
use std::io;
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use zeroize::Zeroizing;

use crate::account::{Account, CommandSpec, PasswordSource, unsendable};
use crate::child;
use crate::interrupt::Interrupt;
use crate::secret::Secret;

/// The longest first line a password command may print (line end
/// included): far more than any password or OAuth token.
pub(crate) const MAX_SECRET: usize = 64 * 1024;

/// Why no secret could be had. See the module doc for the exit statuses.
#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    /// No password configured and nobody to ask (cron, a pipe).
    #[error(
        "no password for account {account} and no terminal to ask on: set password_command \
         (e.g. [\"pass\", \"show\", ...]) or password in the config"
    )]
    NoSource { account: String },

    /// The password command could not be started.
    #[error("account {account}: cannot run password_command `{command}`: {error}")]
    Spawn {
        account: String,
        command: String,
        error: io::Error,
    },

    /// The password command failed.
    #[error(
        "account {account}: password_command `{command}` failed ({status}){}: fix the command \
         or run it by hand to see what it needs",
        stderr_note(stderr)
    )]
    CommandFailed {
        account: String,
        command: String,
        status: String,
        stderr: String,
    },

    /// The password command succeeded but printed nothing usable.
    #[error(
        "account {account}: password_command `{command}` printed no password on its first \
         line{}: make it print the password on stdout",
        stderr_note(stderr)
    )]
    EmptyOutput {
        account: String,
        command: String,
        stderr: String,
    },

    /// The password command ran past the account's timeout.
    #[error(
        "account {account}: password_command `{command}` did not finish within {secs} s and was \
         killed{}: it may be waiting for a passphrase, a device or the network; run it by hand \
         to see, or raise `timeout`",
        stderr_note(stderr)
    )]
    TimedOut {
        account: String,
        command: String,
        secs: u64,
        stderr: String,
    },

    /// Ctrl-C, SIGTERM or SIGHUP arrived while the password command ran.
    #[error(
        "account {account}: interrupted while password_command `{command}` ran; it was \
         stopped, and nothing was fetched"
    )]
    Interrupted { account: String, command: String },

    /// The first line the password command printed is longer than any
    /// credential.
    #[error(
        "account {account}: password_command `{command}` printed a first line longer than 64 KiB: \
         make it print only the password or token on its first line"
    )]
    TooLong { account: String, command: String },

    /// The password command printed something that is not text.
    #[error(
        "account {account}: password_command `{command}` printed a first line that is not \
         UTF-8 text: make it print the password as text"
    )]
    NotText { account: String, command: String },

    /// The terminal could be opened but reading from it failed.
    #[error("account {account}: cannot read the password from the terminal: {error}")]
    Prompt { account: String, error: io::Error },

    /// The password holds what no POP3 login can carry (CR, LF, NUL).
    #[error(
        "account {account}: the password from {from} contains a control character ({what}), \
         which no POP3 login can carry: {fix}"
    )]
    Unsendable {
        account: String,
        from: String,
        what: &'static str,
        fix: &'static str,
    },

    /// Nothing was typed at the prompt.
    #[error(
        "account {account}: no password was entered: type it at the prompt, or set \
         password_command or password in the config"
    )]
    EmptyPrompt { account: String },
}

fn stderr_note(stderr: &str) -> String {
    if stderr.is_empty() {
        String::new()
    } else {
        format!(", saying: {stderr}")
    }
}

/// The account's password or token, from wherever the config says; a
/// password command is stopped by `interrupt`. A password no login could
/// carry (a line break or NUL in it) is refused here, unshown.
pub(crate) fn obtain(account: &Account, interrupt: &Interrupt) -> Result<Secret, SecretError> {
    let secret = obtain_with_tty(account, interrupt, Path::new("/dev/tty"))?;
    if let Some(what) = unsendable(secret.expose()) {
        let (from, fix) = match &account.password {
            PasswordSource::Literal(_) => (".netrc".to_string(), "fix it there"),
            PasswordSource::Command(spec) => (
                format!("password_command `{}`", spec.shown()),
                "make the command print the password alone on its first line",
            ),
            PasswordSource::Prompt => ("the prompt".to_string(), "type it again"),
        };
        return Err(SecretError::Unsendable {
            account: account.name.clone(),
            from,
            what,
            fix,
        });
    }
    Ok(secret)
}

/// The secret for one login of a run. The run obtains each account's
/// secret once, before its first session, so that terminal prompts never
/// interleave; a `password_command` runs again for every later login,
/// since it may print an OAuth access token, which lives about an hour,
/// and a run over a server that pages its mailbox (a new session per page)
/// can outlast it. Token managers such as oama print a fresh token when
/// the old one is due. A password from the config, `.netrc` or a prompt
/// is reused.
pub(crate) fn secret_for_login<'s>(
    account: &Account,
    obtained: &'s Secret,
    earlier_logins: usize,
    interrupt: &Interrupt,
) -> Result<Cow<'s, Secret>, SecretError> {
    match &account.password {
        PasswordSource::Command(_) if earlier_logins > 0 => {
            Ok(Cow::Owned(obtain(account, interrupt)?))
        }
        PasswordSource::Command(_) | PasswordSource::Literal(_) | PasswordSource::Prompt => {
            Ok(Cow::Borrowed(obtained))
        }
    }
}

/// [`obtain`] with the terminal device given, so tests need no terminal.
fn obtain_with_tty(
    account: &Account,
    interrupt: &Interrupt,
    tty: &Path,
) -> Result<Secret, SecretError> {
    match &account.password {
        PasswordSource::Literal(s) => Ok(s.clone()),
        PasswordSource::Command(spec) => {
            run_command(&account.name, spec, account.timeout, interrupt)
        }
        PasswordSource::Prompt => {
            // rpassword reads from /dev/tty; without a controlling terminal
            // (cron) the open fails, and that deserves its own clear message.
            if std::fs::OpenOptions::new()
                .read(true)
                .write(true)
                .open(tty)
                .is_err()
            {
                return Err(SecretError::NoSource {
                    account: account.name.clone(),
                });
            }
            let prompt = format!("Password for {}@{}: ", account.user, account.host);
            let typed = rpassword::prompt_password(prompt)
                .map(Zeroizing::new)
                .map_err(|error| SecretError::Prompt {
                    account: account.name.clone(),
                    error,
                })?;
            if typed.is_empty() {
                return Err(SecretError::EmptyPrompt {
                    account: account.name.clone(),
                });
            }
            Ok(Secret::new(typed.to_string()))
        }
    }
}

/// Longest stderr quoted in an error: enough for a reason, not a flood.
const STDERR_LIMIT: usize = 500;

/// How much of the command's stderr is read into memory to quote from.
const STDERR_KEEP: usize = 4096;

fn run_command(
    account: &str,
    spec: &CommandSpec,
    timeout: Duration,
    interrupt: &Interrupt,
) -> Result<Secret, SecretError> {
    let shown = spec.shown();
    let interrupted = || SecretError::Interrupted {
        account: account.to_string(),
        command: shown.clone(),
    };
    if interrupt.is_set() {
        return Err(interrupted());
    }
    let limits = child::Limits {
        deadline: timeout,
        stdout: child::Keep::FirstLine(MAX_SECRET),
        stderr: child::Keep::Tail(STDERR_KEEP),
    };
    let ran = child::run(spec.to_command(), Stdio::null(), &limits, Some(interrupt)).map_err(
        |error| SecretError::Spawn {
            account: account.to_string(),
            command: shown.clone(),
            error,
        },
    )?;
    let stderr = summarize_stderr(&ran.stderr.bytes);
    let status = match ran.end {
        child::End::Exited(status) => status,
        child::End::Interrupted => return Err(interrupted()),
        child::End::TimedOut => {
            return Err(SecretError::TimedOut {
                account: account.to_string(),
                command: shown,
                secs: timeout.as_secs(),
                stderr,
            });
        }
    };
    if !status.success() {
        return Err(SecretError::CommandFailed {
            account: account.to_string(),
            command: shown,
            status: describe_status(status),
            stderr,
        });
    }
    if ran.stdout.overflow {
        return Err(SecretError::TooLong {
            account: account.to_string(),
            command: shown,
        });
    }
    let first: &[u8] = &ran.stdout.bytes;
    let first = first.strip_suffix(b"\n").unwrap_or(first);
    let first = first.strip_suffix(b"\r").unwrap_or(first);
    if first.is_empty() {
        return Err(SecretError::EmptyOutput {
            account: account.to_string(),
            command: shown,
            stderr,
        });
    }
    match std::str::from_utf8(first) {
        Ok(s) => Ok(Secret::new(s.to_string())),
        Err(_) => Err(SecretError::NotText {
            account: account.to_string(),
            command: shown,
        }),
    }
}

/// The end of what the command said on stderr, on one line, control bytes
/// replaced, at most [`STDERR_LIMIT`] characters.
fn summarize_stderr(raw: &[u8]) -> String {
    let text = String::from_utf8_lossy(raw);
    let joined = crate::text::printable(
        text.split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
            .as_bytes(),
    );
    let count = joined.chars().count();
    match joined
        .char_indices()
        .nth(count.saturating_sub(STDERR_LIMIT))
    {
        Some((cut, _)) if cut > 0 => format!("...{}", &joined[cut..]),
        _ => joined,
    }
}

fn describe_status(status: std::process::ExitStatus) -> String {
    use std::os::unix::process::ExitStatusExt;
    match (status.code(), status.signal()) {
        (Some(code), _) => format!("exit status {code}"),
        (None, Some(sig)) => format!("killed by signal {sig}"),
        (None, None) => status.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn account(password: PasswordSource) -> Account {
        Account {
            password,
            ..crate::account::test_account("work", "127.0.0.1")
        }
    }

    fn get(a: &Account) -> Result<Secret, SecretError> {
        obtain(a, &Interrupt::default())
    }

    fn argv(words: &[&str]) -> PasswordSource {
        PasswordSource::Command(CommandSpec::Argv(
            words.iter().map(|w| w.to_string()).collect(),
        ))
    }

    fn shell(line: &str) -> PasswordSource {
        PasswordSource::Command(CommandSpec::Shell(line.into()))
    }

    #[test]
    fn account_debug_hides_the_password() {
        let a = account(PasswordSource::Literal(Secret::new("hunter2".into())));
        assert!(!format!("{a:?}").contains("hunter2"));
    }

    #[test]
    fn literal_is_returned() {
        let a = account(PasswordSource::Literal(Secret::new("pw".into())));
        assert_eq!(get(&a).unwrap().expose(), "pw");
    }

    #[test]
    fn argv_command_first_line_without_newline() {
        let a = account(argv(&["printf", "%s\\nsecond line\\n", "s3 cret"]));
        assert_eq!(get(&a).unwrap().expose(), "s3 cret");
        let a = account(argv(&["printf", "crlf\\r\\n"]));
        assert_eq!(get(&a).unwrap().expose(), "crlf");
        let a = account(argv(&["printf", "no-newline"]));
        assert_eq!(get(&a).unwrap().expose(), "no-newline");
    }

    #[test]
    fn shell_command_runs_through_sh() {
        let a = account(shell("echo one two | tr ' ' '-'"));
        assert_eq!(get(&a).unwrap().expose(), "one-two");
    }

    #[test]
    fn a_daemon_left_holding_stdout_does_not_hold_the_run() {
        // The background job keeps stdout open for 30 s after sh exits.
        let a = account(shell("echo pw; sleep 30 &"));
        let started = std::time::Instant::now();
        assert_eq!(get(&a).unwrap().expose(), "pw");
        assert!(started.elapsed() < Duration::from_secs(20));
    }

    #[test]
    fn stdin_is_null() {
        // `cat` would wait forever on an inherited terminal; with stdin null
        // it ends at once with nothing to print.
        let a = account(argv(&["cat"]));
        assert!(matches!(get(&a), Err(SecretError::EmptyOutput { .. })));
    }

    #[test]
    fn failure_reports_stderr_not_stdout() {
        let a = account(shell(
            "printf '%s-%s\\n' leaked secret; echo 'vault locked' >&2; exit 3",
        ));
        let err = get(&a).unwrap_err();
        let msg = err.to_string();
        assert!(matches!(err, SecretError::CommandFailed { .. }));
        assert!(msg.contains("account work"), "{msg}");
        assert!(msg.contains("vault locked"), "{msg}");
        assert!(msg.contains("exit status 3"), "{msg}");
        assert!(!msg.contains("leaked-secret"), "{msg}");
        assert!(!format!("{err:?}").contains("leaked-secret"));
    }

    #[test]
    fn empty_output_is_an_error() {
        let a = account(shell("echo; printf '%s%s' sec ond"));
        let msg = get(&a).unwrap_err().to_string();
        assert!(msg.contains("printed no password"), "{msg}");
        assert!(!msg.contains("second"), "{msg}");
    }

    #[test]
    fn missing_program_is_a_spawn_error() {
        let a = account(argv(&["/nonexistent/popfetch-no-such-program"]));
        let err = get(&a).unwrap_err();
        assert!(matches!(err, SecretError::Spawn { .. }), "{err:?}");
        assert!(err.to_string().contains("popfetch-no-such-program"));
    }

    #[test]
    fn not_utf8_is_an_error() {
        let a = account(argv(&["printf", "\\377\\376"]));
        assert!(matches!(get(&a), Err(SecretError::NotText { .. })));
    }

    #[test]
    fn no_terminal_means_no_source() {
        let a = account(PasswordSource::Prompt);
        let err =
            obtain_with_tty(&a, &Interrupt::default(), Path::new("/nonexistent/tty")).unwrap_err();
        let msg = err.to_string();
        assert!(matches!(err, SecretError::NoSource { .. }));
        assert!(msg.contains("no password for account work"), "{msg}");
        assert!(msg.contains("password_command"), "{msg}");
    }

    #[test]
    fn a_password_no_login_can_carry_is_refused_unshown() {
        for (source, what) in [
            // The password is "Xq", the character, "Zk9"; the command
            // line, which the message shows, never holds "Zk9".
            (shell("printf 'Xq\\rZ'; printf k9"), "a line break"),
            (shell("printf 'Xq\\000Z'; printf k9"), "a NUL character"),
            (
                PasswordSource::Literal(Secret::new("Xq\0Zk9".into())),
                "a NUL character",
            ),
        ] {
            let err = obtain(&account(source), &Interrupt::default()).unwrap_err();
            let msg = err.to_string();
            assert!(matches!(err, SecretError::Unsendable { .. }), "{msg}");
            assert!(msg.contains("account work") && msg.contains(what), "{msg}");
            assert!(!msg.contains("Zk9"), "{msg}");
        }
    }

    #[test]
    fn stderr_is_shown_without_control_bytes() {
        let a = account(shell(
            "printf 'gpg: \\033[31mdecryption failed\\007\\n' >&2; exit 2",
        ));
        let msg = get(&a).unwrap_err().to_string();
        assert!(msg.contains("decryption failed"), "{msg}");
        assert!(!msg.contains(['\u{1b}', '\u{7}']), "{msg:?}");
    }

    #[test]
    fn a_command_past_the_timeout_is_killed_and_named() {
        let mut a = account(shell("echo 'waiting for pinentry' >&2; sleep 30"));
        a.timeout = Duration::from_millis(300);
        let err = get(&a).unwrap_err();
        let msg = err.to_string();
        assert!(matches!(err, SecretError::TimedOut { .. }), "{msg}");
        assert!(
            msg.contains("`echo 'waiting for pinentry' >&2; sleep 30`"),
            "{msg}"
        );
        assert!(msg.contains("waiting for pinentry"), "{msg}");
        assert_eq!(crate::error::Error::from(err).exit_code(), 75);
    }

    #[test]
    fn an_interrupt_stops_the_command_or_keeps_it_from_starting() {
        let a = account(argv(&["sleep", "30"]));
        let interrupt = Interrupt::default();
        interrupt.trigger();
        let err = obtain(&a, &interrupt).unwrap_err();
        assert!(matches!(err, SecretError::Interrupted { .. }), "{err}");
        assert_eq!(crate::error::Error::from(err).exit_code(), 75);
    }

    #[test]
    fn a_first_line_over_the_cap_is_refused_and_one_at_the_cap_is_taken() {
        let a = account(shell(&format!(
            "head -c {} /dev/zero | tr '\\0' x",
            MAX_SECRET + 1
        )));
        let err = get(&a).unwrap_err();
        assert!(matches!(err, SecretError::TooLong { .. }), "{err}");
        assert_eq!(crate::error::Error::from(err).exit_code(), 78);
        let a = account(shell(&format!(
            "head -c {} /dev/zero | tr '\\0' x; echo; echo more",
            MAX_SECRET - 1
        )));
        assert_eq!(get(&a).unwrap().expose().len(), MAX_SECRET - 1);
    }

    #[test]
    fn long_stderr_is_cut() {
        let s = summarize_stderr(format!("{}end", "x".repeat(2000)).as_bytes());
        assert_eq!(s.len(), STDERR_LIMIT + 3);
        assert!(s.starts_with("...x") && s.ends_with("xend"), "{s}");
        assert_eq!(summarize_stderr(b"a\n  b\n"), "a b");
    }
}
