//! Delivery through a mail delivery agent (procmail, maildrop,
//! dovecot-lda, ...): the message on its standard input.
//!
//! `mda = [argv]` runs the program directly; `mda = "string"` runs through
//! `sh -c`. Placeholders: `%F` the envelope sender (Return-Path, else
//! From) when it is a plausible address, else `MAILER-DAEMON` (see
//! [`super::envelope`]: no character a shell, a path or an option parser
//! minds, so it is safe even in `["sh", "-c", "... %F"]`), `%T` the
//! account user as written in the config, `%%` a literal `%`. In the
//! shell form every substituted value is shell-quoted too, so it stays
//! one word (write `-f %F`, not `-f '%F'`).
//!
//! The message is spooled first (see [`super::spool`]): the sender is
//! known before the MDA starts, and a slow MDA never holds the POP3
//! connection. The MDA runs as [`crate::child`] runs programs: in its own
//! process group, so a Ctrl-C meant for popfetch lets it finish the
//! message in hand; once it has exited, its exit status decides at once,
//! even when a child it left behind (`cmd &`, a procmail recipe that
//! forks) still holds its stdout or stderr (those are read for 2 s more,
//! then closed); after 10 minutes it is killed with everything it started.
//!
//! Exit 0 is delivered; 75 (EX_TEMPFAIL) is [`DeliverError::Deferred`]: the
//! message stays on the server for the next run; anything else, or death
//! by a signal, is an error that stops delivery for the account, with the
//! tail of the MDA's stderr in the message.
//!
//! The MDA of one message runs while the next message arrives: it is
//! started ([`super::Sink::start`]) and left working, the next message is
//! received and spooled, and only then is its verdict taken
//! ([`Mda::settle`]). Its output is not read meanwhile: up to a pipe's
//! worth (64 KiB on Linux) waits in the pipe, and an MDA that prints more
//! blocks until the wait begins; its 10 minutes count from its start. A
//! failure (other than 75) stops delivery: the message that arrived
//! meanwhile is not handed over, its spool is removed, and it stays on the
//! server. Exit 75 defers only the message the MDA had. An interrupt lets
//! the MDA finish its message; the one that arrived meanwhile is not
//! handed over.
//!
//! Exactly once, as far as an MDA allows. At most one message is in the
//! MDA's hands at any time: the next one is handed over only after the
//! MDA of the one before has exited and that message's outcome is
//! recorded. That record is the journal's `D` record: when the MDA said
//! 0, the fetch loop journals `D` for the message and writes it to the
//! journal before the next MDA starts; the fdatasync that makes it (and
//! the next message's `B` record) durable runs while that MDA starts, off
//! the path from one MDA to the next: one sync a message, never waited
//! for between two MDAs. The spool is also renamed `<token>.done`, not
//! synced: evidence recovery trusts should the `D` record be lost.
//!
//! What a crash can repeat, precisely:
//!
//! - popfetch killed (SIGKILL, an OOM kill; the system stays up): what it
//!   wrote is in the page cache, so every message before the one in the
//!   MDA's hands has its `D` record. At most that one message, whose MDA
//!   was running (it is in its own process group and may well finish), is
//!   fetched and delivered again.
//! - the system going down (a power cut, a kernel crash) loses what was
//!   not yet synced: while the sync after an MDA's start is under way, the
//!   message before it may lose its `D` record too. At most two messages,
//!   the one in the MDA's hands and the one just before it, are delivered
//!   again (if the MDA had made them durable at all).
//!
//! Recovery says "not landed" for a journalled message without a `D`
//! record or a `.done` mark, so it is fetched again. Every message before
//! those has a durable `D` record; the message that arrived while the MDA
//! ran was never handed to one, and recovery removes its spool. The spool
//! file itself is never synced: the MDA reads it through the page cache,
//! and after a crash a spool without a `D` record or a `.done` mark is not
//! trusted anyway; the message is fetched again from the server, which
//! still holds it (nothing is deleted before the state saying "delivered"
//! is on disk).

use std::borrow::Cow;
use std::fs::{self, File};
use std::io::{self, Seek, Write};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::time::Duration;

use super::DeliverError;
use super::spool::{Entry, SpoolDir, Spooled};
use crate::account::CommandSpec;
use crate::child;

/// EX_TEMPFAIL: try again later.
const EX_TEMPFAIL: i32 = 75;

/// How much of the MDA's output is kept for the error message.
const OUTPUT_TAIL: usize = 4096;

/// How many of its last lines are shown.
const TAIL_LINES: usize = 10;

/// Shell words that are not programs to look for on PATH.
const SHELL_WORDS: &[&str] = &[
    "!", ".", ":", "[", "{", "(", "alias", "case", "cd", "command", "eval", "exec", "export",
    "false", "for", "if", "printf", "read", "set", "test", "true", "ulimit", "umask", "unset",
    "until", "while", "echo",
];

pub(crate) struct Mda {
    spec: CommandSpec,
    user: String,
    spool: SpoolDir,
    /// How long one MDA run may take before it is killed.
    time_limit: Duration,
    /// The message whose MDA was started ([`super::Sink::start`]) and has
    /// not been waited for ([`Mda::settle`]); at most one.
    running: Option<InFlight>,
}

/// An MDA at work on one message.
struct InFlight {
    /// Its spool file: removed if the MDA fails, marked `.done` if not.
    spooled: Spooled,
    /// The same file, to empty once it is marked.
    file: File,
    process: child::Running,
}

/// An MDA that has not finished after this long is hung (a stuck lock, a
/// dead NFS mount): it is killed, so that one cron run cannot hold the
/// account's lock forever. Generous, because spam filters can be slow.
const MDA_TIME_LIMIT: Duration = Duration::from_secs(600);

impl Mda {
    /// Check the command: an argv names a program that exists and can be
    /// run; a shell string's first word likewise, when it is a plain
    /// program name.
    pub(super) fn open(
        spec: &CommandSpec,
        user: &str,
        spool: SpoolDir,
    ) -> Result<Mda, DeliverError> {
        match spec {
            CommandSpec::Argv(argv) => match argv.first() {
                Some(p) if !p.is_empty() => find_program(p)?,
                _ => {
                    return Err(DeliverError::MdaConfig(
                        "`mda = []` names no program; give one, e.g. [\"/usr/bin/procmail\", \"-f\", \"%F\"]"
                            .into(),
                    ));
                }
            },
            CommandSpec::Shell(s) => {
                if s.trim().is_empty() {
                    return Err(DeliverError::MdaConfig(
                        "`mda = \"\"` is empty; give a command, e.g. \"procmail -f %F\"".into(),
                    ));
                }
                find_program("sh")?;
                if let Some(first) = plain_first_word(s) {
                    find_program(&first)?;
                }
            }
        }
        Ok(Mda {
            spec: spec.clone(),
            user: user.to_string(),
            spool,
            time_limit: MDA_TIME_LIMIT,
            running: None,
        })
    }

    pub(super) fn next_token(&mut self) -> String {
        self.spool.next_token()
    }

    /// Once recovery has settled the journal, remove everything earlier
    /// runs left in the spool: no record names it any more. Only the first
    /// call of a run does anything.
    pub(super) fn after_recovery(&mut self) -> Result<(), DeliverError> {
        self.spool.sweep()
    }

    pub(super) fn create(&mut self, token: &str) -> Result<MdaMessage<'_>, DeliverError> {
        Ok(MdaMessage {
            spooled: Spooled::create(&self.spool, token)?,
            mda: self,
        })
    }

    /// A `.done` mark: landed. A spool without one: maybe, maybe not; say
    /// not landed (and remove it), so the message is fetched again. A
    /// token the spool could not have made finds neither: not landed, and
    /// nothing is touched.
    pub(super) fn recover(&self, token: &str) -> Result<bool, DeliverError> {
        self.spool.handed_over(token)
    }

    /// The process to run for a message from `sender`.
    fn command(&self, sender: &str) -> Result<Command, DeliverError> {
        let spec = match &self.spec {
            CommandSpec::Argv(argv) => CommandSpec::Argv(
                argv.iter()
                    .map(|a| substitute(a, sender, &self.user, false))
                    .collect::<Result<_, _>>()?,
            ),
            CommandSpec::Shell(s) => CommandSpec::Shell(substitute(s, sender, &self.user, true)?),
        };
        Ok(spec.to_command())
    }

    /// Start the MDA with `spool` on stdin (see [`crate::child`]: its own
    /// process group, bounded output, no waiting for what it leaves
    /// behind once it has exited, killed with everything it started after
    /// `time_limit`).
    fn spawn(&self, spool: File, sender: &str) -> Result<child::Running, DeliverError> {
        let limits = child::Limits {
            deadline: self.time_limit,
            stdout: child::Keep::Tail(OUTPUT_TAIL),
            stderr: child::Keep::Tail(OUTPUT_TAIL),
        };
        child::start(self.command(sender)?, Stdio::from(spool), &limits).map_err(|source| {
            match source.kind() {
                io::ErrorKind::NotFound => DeliverError::MdaMissing {
                    program: self.spec.program(),
                    why: "was not found".into(),
                },
                _ => DeliverError::MdaSpawn {
                    command: self.spec.shown(),
                    source,
                },
            }
        })
    }

    /// Hand the spooled message to the MDA and return while it runs. The
    /// message started before must have been settled.
    fn start(&mut self, spooled: Spooled) -> Result<(), DeliverError> {
        let in_flight = self.launch(spooled)?;
        self.running = Some(in_flight);
        Ok(())
    }

    /// Start the MDA on the spooled message; [`Mda::finish`] takes its
    /// verdict.
    fn launch(&mut self, mut spooled: Spooled) -> Result<InFlight, DeliverError> {
        // Two messages in the MDA's hands would be two in doubt after a
        // crash (see the module doc). The fetch loop settles first; were
        // it not to, the earlier verdict is still taken (a success is
        // marked `.done`, so recovery finds it), just not reported.
        debug_assert!(self.running.is_none(), "an MDA is still running");
        let _ = self.settle();
        let (file, stdin) = spooled
            .finish()
            .and_then(|mut file| {
                file.rewind()?;
                let stdin = file.try_clone()?;
                Ok((file, stdin))
            })
            .map_err(|e| spooled.error(e))?;
        let sender = spooled.headers().sender();
        let process = self.spawn(stdin, sender.for_mda())?;
        Ok(InFlight {
            spooled,
            file,
            process,
        })
    }

    /// Wait for the MDA started last, if one is still unsettled, and give
    /// its verdict ([`Mda::finish`]).
    pub(super) fn settle(&mut self) -> Option<Result<String, DeliverError>> {
        let in_flight = self.running.take()?;
        Some(self.finish(in_flight))
    }

    /// Wait for the MDA at work on a message and give its verdict: where
    /// the message went, or why it did not. An interrupt does not stop
    /// the MDA: the message in hand is let finish.
    ///
    /// A delivered message's spool file is renamed `.done` but not synced:
    /// the caller records the delivery durably (see the module doc).
    fn finish(&self, in_flight: InFlight) -> Result<String, DeliverError> {
        let InFlight {
            mut spooled,
            file,
            process,
        } = in_flight;
        self.verdict(process.wait(None))?;
        // Delivered. The mark is evidence for recovery should the
        // journal's record of it be lost; failing to make it only means a
        // crash before then would fetch the message again.
        if self
            .spool
            .mark_done(spooled.token(), &Entry::Spool, &file)
            .is_ok()
        {
            spooled.keep();
        }
        Ok(format!("| {}", self.spec.shown()))
    }

    /// What the MDA's end says about the message.
    fn verdict(&self, ran: child::Ran) -> Result<(), DeliverError> {
        let shown = self.spec.shown();
        let status = match ran.end {
            child::End::Exited(status) => status,
            child::End::TimedOut | child::End::Interrupted => {
                return Err(DeliverError::MdaFailed {
                    command: shown,
                    status: format!(
                        "did not finish within {} s and was killed; it may have delivered the message, which stays on the server",
                        self.time_limit.as_secs()
                    ),
                    output: String::new(),
                });
            }
        };
        if status.success() {
            return Ok(());
        }
        // Some MDAs complain on stdout.
        let (out, err) = (&ran.stdout.bytes, &ran.stderr.bytes);
        let said = last_lines(if err.is_empty() { out } else { err });
        if status.code() == Some(EX_TEMPFAIL) {
            let mut why = format!("the MDA `{shown}` exited with 75 (temporary failure)");
            if !said.is_empty() {
                why.push_str(&format!(": {}", said.replace('\n', " / ")));
            }
            return Err(DeliverError::Deferred(why));
        }
        Err(DeliverError::MdaFailed {
            command: shown,
            status: describe(status, &self.spec),
            output: if said.is_empty() {
                String::new()
            } else {
                format!("; it said:\n    {}", said.replace('\n', "\n    "))
            },
        })
    }
}

/// The program an MDA spec runs, for messages.
fn describe(status: ExitStatus, spec: &CommandSpec) -> String {
    match (status.code(), status.signal()) {
        (Some(127), _) if matches!(spec, CommandSpec::Shell(_)) => {
            "exit status 127: the shell could not find the command".into()
        }
        (Some(126), _) if matches!(spec, CommandSpec::Shell(_)) => {
            "exit status 126: the command could not be run".into()
        }
        (Some(c), _) => format!("exit status {c}"),
        (None, Some(s)) => format!("killed by signal {s}"),
        (None, None) => status.to_string(),
    }
}

/// The last few non-empty lines, printable.
fn last_lines(out: &[u8]) -> String {
    let text = String::from_utf8_lossy(out);
    let lines: Vec<String> = text
        .lines()
        .map(|l| {
            l.chars()
                .map(|c| if c.is_control() { '?' } else { c })
                .collect::<String>()
        })
        .filter(|l| !l.trim().is_empty())
        .collect();
    let from = lines.len().saturating_sub(TAIL_LINES);
    lines[from..].join("\n")
}

/// Replace `%F`, `%T` and `%%`; other `%` sequences stay as they are. With
/// `quote`, substituted values are shell-quoted.
pub(super) fn substitute(
    template: &str,
    sender: &str,
    user: &str,
    quote: bool,
) -> Result<String, DeliverError> {
    let value = |v: &str| -> Result<String, DeliverError> {
        if !quote {
            return Ok(v.to_string());
        }
        shlex::try_quote(v)
            .map(Cow::into_owned)
            .map_err(|e| DeliverError::MdaConfig(format!("cannot shell-quote {v:?}: {e}")))
    };
    let mut out = String::with_capacity(template.len());
    let mut chars = template.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        match chars.peek() {
            Some('F') => {
                chars.next();
                out.push_str(&value(sender)?);
            }
            Some('T') => {
                chars.next();
                out.push_str(&value(user)?);
            }
            Some('%') => {
                chars.next();
                out.push('%');
            }
            _ => out.push('%'),
        }
    }
    Ok(out)
}

/// The first word of a shell command when it is a plain program name or
/// path (no quoting, expansion, assignment or shell keyword), so that it
/// can be looked for on PATH.
fn plain_first_word(s: &str) -> Option<String> {
    let first = s.split_whitespace().next()?;
    let plain = first
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"/._+-,@".contains(&b));
    (plain && !SHELL_WORDS.contains(&first)).then(|| first.to_string())
}

/// Find `program` as `execvp` would: a name with a `/` as a path, any
/// other name on PATH. It must be an executable file.
fn find_program(program: &str) -> Result<(), DeliverError> {
    let executable = |p: &Path| {
        fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
    };
    if program.contains('/') {
        let p = Path::new(program);
        if executable(p) {
            return Ok(());
        }
        let why = match fs::metadata(p) {
            Err(_) => "does not exist".to_string(),
            Ok(m) if !m.is_file() => "is not a file".to_string(),
            Ok(_) => "is not executable".to_string(),
        };
        return Err(DeliverError::MdaMissing {
            program: program.to_string(),
            why,
        });
    }
    let path = std::env::var_os("PATH").unwrap_or_else(|| "/usr/local/bin:/usr/bin:/bin".into());
    let dirs: Vec<PathBuf> = std::env::split_paths(&path).collect();
    if dirs.iter().any(|d| executable(&d.join(program))) {
        return Ok(());
    }
    Err(DeliverError::MdaMissing {
        program: program.to_string(),
        why: format!("was not found in PATH ({})", path.to_string_lossy()),
    })
}

impl Drop for Mda {
    /// A message still in the MDA's hands is let finish, and marked
    /// `.done` if it was delivered, so that recovery knows (the fetch loop
    /// settles every message itself; this is for the paths that do not
    /// get there, such as a panic).
    fn drop(&mut self) {
        let _ = self.settle();
    }
}

/// A message being spooled for the MDA. Dropped without commit, its spool
/// file is removed.
pub(super) struct MdaMessage<'a> {
    mda: &'a mut Mda,
    spooled: Spooled,
}

impl Write for MdaMessage<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.write_all(buf)?;
        Ok(buf.len())
    }

    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        self.spooled.capture(buf);
        self.spooled.put(buf).map_err(|e| self.spooled.io_error(e))
    }

    fn flush(&mut self) -> io::Result<()> {
        self.spooled.flush()
    }
}

impl super::Sink for MdaMessage<'_> {
    /// Hand the message to the MDA and wait for its verdict.
    fn commit(self: Box<Self>) -> Result<String, DeliverError> {
        let MdaMessage { mda, spooled } = *self;
        let in_flight = mda.launch(spooled)?;
        mda.finish(in_flight)
    }

    /// Hand the message to the MDA and return while it runs;
    /// [`super::Target::settle`] gives the verdict.
    fn start(self: Box<Self>) -> Result<super::Started, DeliverError> {
        let MdaMessage { mda, spooled } = *self;
        mda.start(spooled)?;
        Ok(super::Started::Running)
    }

    fn settle_earlier(&mut self) -> Option<Result<String, DeliverError>> {
        self.mda.settle()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::deliver::Sink;

    struct Fixture {
        dir: tempfile::TempDir,
    }

    impl Fixture {
        fn new() -> Fixture {
            Fixture {
                dir: tempfile::tempdir().unwrap(),
            }
        }

        fn path(&self, rel: &str) -> PathBuf {
            self.dir.path().join(rel)
        }

        fn spool(&self) -> SpoolDir {
            SpoolDir::open(&self.path("state"), "u@h:110").unwrap()
        }

        /// An executable shell script.
        fn script(&self, name: &str, body: &str) -> String {
            let p = self.path(name);
            fs::write(&p, format!("#!/bin/sh\n{body}")).unwrap();
            fs::set_permissions(&p, fs::Permissions::from_mode(0o755)).unwrap();
            p.display().to_string()
        }

        fn mda(&self, spec: CommandSpec) -> Mda {
            Mda::open(&spec, "alice@example.net", self.spool()).unwrap()
        }

        fn spool_names(&self) -> Vec<String> {
            let dir = self.path("state/spool/u@h%3A110");
            let mut v: Vec<String> = fs::read_dir(dir)
                .unwrap()
                .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .collect();
            v.sort();
            v
        }
    }

    fn deliver(mda: &mut Mda, msg: &[u8]) -> Result<String, DeliverError> {
        let tok = mda.next_token();
        let mut sink = Box::new(mda.create(&tok).unwrap());
        sink.write_all(msg).unwrap();
        sink.commit()
    }

    fn argv(v: &[&str]) -> CommandSpec {
        CommandSpec::Argv(v.iter().map(|s| s.to_string()).collect())
    }

    #[test]
    fn placeholders_are_replaced_and_unknown_ones_kept() {
        let s = substitute("-f %F -d %T 100%% %x %", "s@x", "u", false).unwrap();
        assert_eq!(s, "-f s@x -d u 100% %x %");
        let s = substitute("%F%T", "", "u", true).unwrap();
        assert_eq!(s, "''u");
    }

    #[test]
    fn hostile_values_stay_one_word_through_the_shell() {
        let f = Fixture::new();
        let pwned = f.path("pwned");
        let hostile = [
            format!("a'b;rm -rf ~;touch {}@x", pwned.display()),
            format!(
                "$(touch {})`touch {}`\"@x",
                pwned.display(),
                pwned.display()
            ),
            "x\ny; touch pwned\\".to_string(),
            "-n".to_string(),
            String::new(),
        ];
        for sender in &hostile {
            let user = "al ice;$HOME";
            let script = substitute("printf '[%s]\\n' %F %T", sender, user, true).unwrap();
            let out = Command::new("sh")
                .arg("-c")
                .arg(&script)
                .current_dir(f.dir.path())
                .output()
                .unwrap();
            assert!(out.status.success(), "{script}");
            assert_eq!(
                String::from_utf8(out.stdout).unwrap(),
                format!("[{sender}]\n[{user}]\n"),
                "{script}"
            );
            assert!(!pwned.exists(), "{script} ran a command");
        }
        let err = substitute("%F", "a\0b", "u", true).unwrap_err();
        assert!(matches!(err, DeliverError::MdaConfig(_)), "{err}");
    }

    #[test]
    fn argv_mda_gets_the_message_on_stdin_and_the_placeholders() {
        let f = Fixture::new();
        let out = f.path("out");
        let script = f.script(
            "mda",
            &format!(
                "cat > {o}.msg\nprintf '%s\\n' \"$@\" > {o}.args\n",
                o = out.display()
            ),
        );
        let mut mda = f.mda(argv(&[&script, "-f", "%F", "-d", "%T", "50%%"]));
        let msg = b"Return-Path: <bounce@lists.example>\nFrom: a@b\n\nFrom here\nbody\n";
        let shown = deliver(&mut mda, msg).unwrap();
        assert!(shown.contains(&script), "{shown}");
        assert_eq!(fs::read(out.with_extension("msg")).unwrap(), msg);
        assert_eq!(
            fs::read_to_string(out.with_extension("args")).unwrap(),
            "-f\nbounce@lists.example\n-d\nalice@example.net\n50%\n"
        );
        // Only a `.done` marker is left, empty.
        let names = f.spool_names();
        assert_eq!(names.len(), 1);
        assert!(names[0].ends_with(".done"));
    }

    #[test]
    fn shell_mda_gets_quoted_values() {
        let f = Fixture::new();
        let out = f.path("args");
        let script = f.script(
            "mda",
            &format!(
                "cat >/dev/null\nprintf '%s\\n' \"$@\" > {}\n",
                out.display()
            ),
        );
        let mut mda = f.mda(CommandSpec::Shell(format!("{script} %F %T")));
        let sender = "a'b;touch${IFS}pwned;`id`$(id)@x";
        let msg = format!("Return-Path: <{sender}>\n\nhi\n");
        deliver(&mut mda, msg.as_bytes()).unwrap();
        assert_eq!(
            fs::read_to_string(&out).unwrap(),
            "MAILER-DAEMON\nalice@example.net\n"
        );
        assert!(!f.dir.path().join("pwned").exists());
    }

    #[test]
    fn a_hung_mda_is_killed_with_everything_it_started() {
        let f = Fixture::new();
        // The MDA starts a child that would outlive it: both must go.
        let marker = f.path("still-running");
        let hung = f.script(
            "hung",
            &format!(
                "cat >/dev/null\n(sleep 3; touch {}) &\nsleep 30\n",
                marker.display()
            ),
        );
        let mut mda = f.mda(argv(&[&hung]));
        mda.time_limit = Duration::from_millis(300);
        let err = deliver(&mut mda, b"Subject: x\n\n").unwrap_err();
        assert!(
            matches!(err, DeliverError::MdaFailed { .. }) && err.to_string().contains("was killed"),
            "{err}"
        );
        std::thread::sleep(Duration::from_secs(4));
        assert!(!marker.exists(), "the MDA's own child was left running");
    }

    #[test]
    fn exit_75_defers_and_other_failures_name_command_status_and_stderr() {
        let f = Fixture::new();
        let tempfail = f.script(
            "tempfail",
            "cat >/dev/null\necho 'mailbox busy' >&2\nexit 75\n",
        );
        let mut mda = f.mda(argv(&[&tempfail]));
        let err = deliver(&mut mda, b"Subject: x\n\n").unwrap_err();
        match &err {
            DeliverError::Deferred(why) => {
                assert!(why.contains("75") && why.contains("mailbox busy"), "{why}")
            }
            e => panic!("not deferred: {e}"),
        }
        assert!(f.spool_names().is_empty(), "{:?}", f.spool_names());

        let fail = f.script(
            "fail",
            "cat >/dev/null\necho noise\necho 'procmail: Quota exceeded' >&2\nexit 1\n",
        );
        let mut mda = f.mda(argv(&[&fail, "-f", "%F"]));
        let err = deliver(&mut mda, b"Subject: x\n\n").unwrap_err();
        let msg = err.to_string();
        assert!(matches!(err, DeliverError::MdaFailed { .. }), "{msg}");
        for want in [
            fail.as_str(),
            "-f %F",
            "exit status 1",
            "Quota exceeded",
            "stays on the server",
        ] {
            assert!(msg.contains(want), "{want:?} in {msg}");
        }
        assert!(!msg.contains("noise"), "stderr is preferred: {msg}");
        assert_eq!(crate::error::Error::from(err).exit_code(), 74);

        let killed = f.script("killed", "kill -9 $$\n");
        let mut mda = f.mda(argv(&[&killed]));
        let msg = deliver(&mut mda, b"Subject: x\n\n")
            .unwrap_err()
            .to_string();
        assert!(msg.contains("killed by signal 9"), "{msg}");

        let mut mda = f.mda(CommandSpec::Shell("exec no-such-mda-anywhere -f %F".into()));
        let msg = deliver(&mut mda, b"Subject: x\n\n")
            .unwrap_err()
            .to_string();
        assert!(
            msg.contains("127") && msg.contains("could not find"),
            "{msg}"
        );
    }

    #[test]
    fn open_refuses_a_missing_or_unusable_program() {
        let f = Fixture::new();
        fs::write(f.path("plain"), "not executable").unwrap();
        fs::create_dir(f.path("dir")).unwrap();
        let cases = [
            (argv(&["/no/such/procmail"]), "does not exist"),
            (
                argv(&["no-such-mda-anywhere", "-f", "%F"]),
                "not found in PATH",
            ),
            (
                argv(&[&f.path("plain").display().to_string()]),
                "not executable",
            ),
            (argv(&[&f.path("dir").display().to_string()]), "not a file"),
            (
                CommandSpec::Shell("no-such-mda-anywhere -f %F".into()),
                "not found in PATH",
            ),
        ];
        for (spec, why) in cases {
            let err = Mda::open(&spec, "u", f.spool()).err().unwrap();
            let msg = err.to_string();
            assert!(matches!(err, DeliverError::MdaMissing { .. }), "{msg}");
            assert!(msg.contains(why) && msg.contains("full path"), "{msg}");
        }
        for spec in [argv(&[]), argv(&[""]), CommandSpec::Shell("  ".into())] {
            let err = Mda::open(&spec, "u", f.spool()).err().unwrap();
            assert!(matches!(err, DeliverError::MdaConfig(_)), "{err}");
        }
        // Shell forms whose first word is not a program are not second-guessed.
        for s in ["exec cat", "FOO=1 cat", "'cat'", "cd / && cat"] {
            assert!(
                Mda::open(&CommandSpec::Shell(s.into()), "u", f.spool()).is_ok(),
                "{s}"
            );
        }
        assert!(Mda::open(&argv(&["sh", "-c", "cat"]), "u", f.spool()).is_ok());
    }

    #[test]
    fn the_next_message_is_spooled_while_the_mda_runs_and_settle_gives_the_verdict() {
        let f = Fixture::new();
        let out = f.path("out");
        let go = f.path("go");
        // Delivers, then waits for `go`: it is still running while the
        // next message is spooled.
        let slow = f.script(
            "slow",
            &format!(
                "cat > {o}
while [ ! -e {g} ]; do sleep 0.05; done
echo done >&2
exit 75
",
                o = out.display(),
                g = go.display()
            ),
        );
        let mut mda = f.mda(argv(&[&slow]));
        let first = mda.next_token();
        let mut sink = Box::new(mda.create(&first).unwrap());
        sink.write_all(b"Subject: 1\n\n").unwrap();
        assert!(matches!(
            sink.start().unwrap(),
            crate::deliver::Started::Running
        ));
        let second = mda.next_token();
        let mut sink = Box::new(mda.create(&second).unwrap());
        sink.write_all(b"Subject: 2\n\n").unwrap();
        sink.flush().unwrap();
        assert_eq!(f.spool_names(), vec![first.clone(), second.clone()]);
        fs::write(&go, "").unwrap();
        // Its verdict comes through the next message's sink.
        match sink.settle_earlier() {
            Some(Err(DeliverError::Deferred(why))) => assert!(why.contains("done"), "{why}"),
            v => panic!("{v:?}"),
        }
        assert!(sink.settle_earlier().is_none(), "taken once");
        assert_eq!(fs::read(&out).unwrap(), b"Subject: 1\n\n");
        // Deferred: its spool is gone; the next one's is still there.
        assert_eq!(f.spool_names(), vec![second]);
    }

    #[test]
    fn an_mda_still_running_when_the_target_goes_is_let_finish_and_marked() {
        let f = Fixture::new();
        let ok = f.script("ok", "sleep 0.3; cat >/dev/null\n");
        let mut mda = f.mda(argv(&[&ok]));
        let tok = mda.next_token();
        let mut sink = Box::new(mda.create(&tok).unwrap());
        sink.write_all(b"Subject: x\n\n").unwrap();
        sink.start().unwrap();
        drop(mda);
        assert_eq!(f.spool_names(), vec![format!("{tok}.done")]);
    }

    #[test]
    fn recovery_says_landed_only_with_a_done_mark() {
        let f = Fixture::new();
        let ok = f.script("ok", "cat >/dev/null\n");
        let mut mda = f.mda(argv(&[&ok]));
        let tok = mda.next_token();
        // Journalled, never spooled.
        assert!(!mda.recover(&tok).unwrap());
        // Spooled (the MDA may or may not have run): not landed, removed.
        let tok = mda.next_token();
        let mut sink = mda.create(&tok).unwrap();
        sink.write_all(b"Subject: x\n\n").unwrap();
        sink.flush().unwrap();
        std::mem::forget(sink);
        assert_eq!(f.spool_names(), vec![tok.clone()]);
        assert!(!mda.recover(&tok).unwrap());
        assert!(f.spool_names().is_empty());
        // Delivered: landed, and it stays so until the next run sweeps.
        let tok = mda.next_token();
        let mut sink = Box::new(mda.create(&tok).unwrap());
        sink.write_all(b"Subject: y\n\n").unwrap();
        sink.commit().unwrap();
        assert!(mda.recover(&tok).unwrap());
        assert!(mda.recover(&tok).unwrap());

        // The next run sweeps once recovery is over.
        let mut mda = f.mda(argv(&[&ok]));
        assert!(mda.recover(&tok).unwrap(), "recovery runs before the sweep");
        mda.after_recovery().unwrap();
        deliver(&mut mda, b"Subject: z\n\n").unwrap();
        assert_eq!(f.spool_names().len(), 1);
        assert!(!mda.recover(&tok).unwrap());
    }
}
