//! Where an account's password (or OAuth token) comes from: `obtain` takes
//! it from the config, runs the password command, or asks on the terminal.
//!
//! Nothing here ever puts a secret into an error or a `Debug` string: a failing
//! password command is reported with its stderr, never its stdout.

use std::io::{self, Read};
use std::path::Path;
use std::process::Stdio;

use zeroize::Zeroizing;

use crate::account::{Account, CommandSpec, PasswordSource};
use crate::secret::Secret;

/// Why no secret could be had. All of these are configuration problems (exit 78).
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

    /// The password command printed something that is not text.
    #[error(
        "account {account}: password_command `{command}` printed a first line that is not \
         UTF-8 text: make it print the password as text"
    )]
    NotText { account: String, command: String },

    /// The terminal could be opened but reading from it failed.
    #[error("account {account}: cannot read the password from the terminal: {error}")]
    Prompt { account: String, error: io::Error },

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

/// The account's password or token, from wherever the config says.
pub(crate) fn obtain(account: &Account) -> Result<Secret, SecretError> {
    obtain_with_tty(account, Path::new("/dev/tty"))
}

/// [`obtain`] with the terminal device given, so tests need no terminal.
fn obtain_with_tty(account: &Account, tty: &Path) -> Result<Secret, SecretError> {
    match &account.password {
        PasswordSource::Literal(s) => Ok(s.clone()),
        PasswordSource::Command(spec) => run_command(&account.name, spec),
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

fn run_command(account: &str, spec: &CommandSpec) -> Result<Secret, SecretError> {
    let shown = spec.shown();
    let mut cmd = spec.to_command();
    let spawn_err = |error| SecretError::Spawn {
        account: account.to_string(),
        command: shown.clone(),
        error,
    };
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(spawn_err)?;

    // Read stderr on its own thread so that neither pipe can fill up and
    // block the child while the other is being read.
    let stderr_thread = child.stderr.take().map(|mut err| {
        std::thread::spawn(move || {
            let mut buf = Vec::new();
            let _ = err.read_to_end(&mut buf);
            buf
        })
    });
    let mut stdout = Zeroizing::new(Vec::new());
    if let Some(mut out) = child.stdout.take()
        && let Err(e) = out.read_to_end(&mut stdout)
    {
        let _ = child.kill();
        let _ = child.wait();
        return Err(spawn_err(e));
    }
    let status = child.wait().map_err(spawn_err)?;
    let stderr_raw = stderr_thread
        .and_then(|t| t.join().ok())
        .unwrap_or_default();
    let stderr = summarize_stderr(&stderr_raw);

    if !status.success() {
        return Err(SecretError::CommandFailed {
            account: account.to_string(),
            command: shown,
            status: describe_status(status),
            stderr,
        });
    }
    let first = stdout.split(|b| *b == b'\n').next().unwrap_or_default();
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

fn summarize_stderr(raw: &[u8]) -> String {
    let text = String::from_utf8_lossy(raw);
    let joined = text.split_whitespace().collect::<Vec<_>>().join(" ");
    match joined.char_indices().nth(STDERR_LIMIT) {
        Some((cut, _)) => format!("{}...", &joined[..cut]),
        None => joined,
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
    use std::path::PathBuf;
    use std::time::Duration;

    use super::*;
    use crate::account::{AuthChoice, Destination, Pipelining, Policy, TlsMode};

    fn account(password: PasswordSource) -> Account {
        Account {
            name: "work".into(),
            host: "127.0.0.1".into(),
            port: 995,
            tls: TlsMode::Implicit,
            user: "alice".into(),
            auth: AuthChoice::Auto,
            password,
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
        }
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
        assert_eq!(obtain(&a).unwrap().expose(), "pw");
    }

    #[test]
    fn argv_command_first_line_without_newline() {
        let a = account(argv(&["printf", "%s\\nsecond line\\n", "s3 cret"]));
        assert_eq!(obtain(&a).unwrap().expose(), "s3 cret");
        let a = account(argv(&["printf", "crlf\\r\\n"]));
        assert_eq!(obtain(&a).unwrap().expose(), "crlf");
        let a = account(argv(&["printf", "no-newline"]));
        assert_eq!(obtain(&a).unwrap().expose(), "no-newline");
    }

    #[test]
    fn shell_command_runs_through_sh() {
        let a = account(shell("echo one two | tr ' ' '-'"));
        assert_eq!(obtain(&a).unwrap().expose(), "one-two");
    }

    #[test]
    fn stdin_is_null() {
        // `cat` would wait forever on an inherited terminal; with stdin null
        // it ends at once with nothing to print.
        let a = account(argv(&["cat"]));
        assert!(matches!(obtain(&a), Err(SecretError::EmptyOutput { .. })));
    }

    #[test]
    fn failure_reports_stderr_not_stdout() {
        let a = account(shell(
            "printf '%s-%s\\n' leaked secret; echo 'vault locked' >&2; exit 3",
        ));
        let err = obtain(&a).unwrap_err();
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
        let msg = obtain(&a).unwrap_err().to_string();
        assert!(msg.contains("printed no password"), "{msg}");
        assert!(!msg.contains("second"), "{msg}");
    }

    #[test]
    fn missing_program_is_a_spawn_error() {
        let a = account(argv(&["/nonexistent/popfetch-no-such-program"]));
        let err = obtain(&a).unwrap_err();
        assert!(matches!(err, SecretError::Spawn { .. }), "{err:?}");
        assert!(err.to_string().contains("popfetch-no-such-program"));
    }

    #[test]
    fn not_utf8_is_an_error() {
        let a = account(argv(&["printf", "\\377\\376"]));
        assert!(matches!(obtain(&a), Err(SecretError::NotText { .. })));
    }

    #[test]
    fn no_terminal_means_no_source() {
        let a = account(PasswordSource::Prompt);
        let err = obtain_with_tty(&a, Path::new("/nonexistent/tty")).unwrap_err();
        let msg = err.to_string();
        assert!(matches!(err, SecretError::NoSource { .. }));
        assert!(msg.contains("no password for account work"), "{msg}");
        assert!(msg.contains("password_command"), "{msg}");
    }

    #[test]
    fn long_stderr_is_cut() {
        let s = summarize_stderr("x".repeat(2000).as_bytes());
        assert_eq!(s.len(), STDERR_LIMIT + 3);
        assert_eq!(summarize_stderr(b"a\n  b\n"), "a b");
    }
}
