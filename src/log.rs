//! The message log: with `log_file`, one line per delivered message and
//! one per run of each account, appended to a file; with `syslog`, the
//! same lines on the system log (facility mail). Both are for reading
//! later ("did that mail arrive, and when?"); the summary on stderr is
//! unchanged.
//!
//! Lines, one event each (values in double quotes, `"` and `\` escaped):
//!
//! ```text
//! 2026-05-04T09:12:01Z account="work" delivered uid="AAAB3x" size=2211 from="Ann <ann@example.org>" subject="Lunch?" to="/home/alice/Mail/work/new/1777…"
//! 2026-05-04T09:12:02Z account="work" run exit=0 summary="1 new (2.2 KB) -> /home/alice/Mail/work, 1 deleted, 0.4 s"
//! ```
//!
//! The time is RFC 3339 in UTC. A message line is written once the
//! message is recorded as delivered (after the group commit), so the log
//! never claims a delivery a crash undid. From and Subject come from the
//! message's header section, captured as it streams past (only when a log
//! is on), decoded (RFC 2047), control characters replaced
//! ([`crate::text::printable`]) and cut at [`FIELD_MAX`] characters. The
//! account's password or token is hidden in every line, even where a
//! server put it into a message, a UID or a reply.
//!
//! The file is opened for each run (append, `O_NOFOLLOW`, created 0600 in
//! directories created 0700), so that logrotate may rename it between
//! runs: the next run starts a new one. It must be a regular file. The
//! system log is the datagram socket `/dev/log`, RFC 3164 lines as the C
//! library's `syslog()` writes them (`<PRI>Mmm dd hh:mm:ss
//! popfetch[PID]: ...`): priority info, warning for a run that exits 75,
//! err for other failures.
//!
//! A log that cannot be written never stops a fetch: popfetch warns on
//! stderr (once, until a write succeeds again: a daemon does not repeat
//! it every cycle) and goes on.

use std::collections::HashSet;
use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

use crate::account::{Account, PasswordSource};
use crate::deliver::HeaderCapture;
use crate::error::exit;
use crate::fetch::Outcome;
use crate::report;
use crate::secret::Secret;
use crate::state::{NOFOLLOW, create_private_dir, explain_link};
use crate::text::{Redactor, printable, printable_capped};

/// At most this many characters of a From, Subject or UID.
pub(crate) const FIELD_MAX: usize = 200;

/// The system log's socket, unless the environment names another: only
/// tests do, to listen on a socket of their own.
const SYSLOG_SOCKET: &str = "/dev/log";
const SYSLOG_SOCKET_VAR: &str = "POPFETCH_SYSLOG_SOCKET";

/// RFC 5424 facility `mail` (2), shifted as the priority wants it.
const FACILITY_MAIL: u8 = 2 << 3;
const SEVERITY_ERR: u8 = 3;
const SEVERITY_WARNING: u8 = 4;
const SEVERITY_INFO: u8 = 6;

/// The log of one account's run: where its lines go, and the secrets to
/// hide in them.
pub(crate) struct RunLog {
    name: String,
    file: Option<(PathBuf, File)>,
    syslog: bool,
    hidden: Redactor,
}

impl RunLog {
    /// Open the account's log file (if it has one) for this run. The
    /// account's secret is hidden in every line.
    pub(crate) fn open(account: &Account, secret: &Secret) -> RunLog {
        let mut hidden = Redactor::default();
        hidden.add(secret.expose());
        let file = account
            .log_file
            .as_ref()
            .and_then(|path| match open_file(path) {
                Ok(f) => Some((path.clone(), f)),
                Err(e) => {
                    trouble_with(&account.name, path, &e);
                    None
                }
            });
        RunLog {
            name: account.name.clone(),
            file,
            syslog: account.syslog,
            hidden,
        }
    }

    /// Whether messages' headers are wanted (any log is on).
    pub(crate) fn wants_headers(&self) -> bool {
        self.file.is_some() || self.syslog
    }

    /// Hide `secret` too (a later login's token).
    pub(crate) fn hide(&mut self, secret: &Secret) {
        self.hidden.add(secret.expose());
    }

    /// One message was delivered and recorded: `uid`, `size` bytes, to
    /// `dest`.
    pub(crate) fn delivered(&self, uid: &str, size: u64, headers: Option<&Headers>, dest: &str) {
        if !self.wants_headers() {
            return;
        }
        let (from, subject) = headers.map_or(("", ""), |h| (&h.from, &h.subject));
        let text = format!(
            "account={} delivered uid={} size={size} from={} subject={} to={}",
            quoted(&self.name),
            field(uid),
            quoted(from),
            quoted(subject),
            quoted(&printable(dest.as_bytes()))
        );
        let text = self.hidden.redact(text.as_bytes());
        if let Some((path, file)) = &self.file {
            append(&self.name, path, file, &text);
        }
        if self.syslog {
            syslog(SEVERITY_INFO, &text);
        }
    }
}

/// The From and Subject of a message, ready for a log line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Headers {
    from: String,
    subject: String,
}

impl Headers {
    /// The From field: decoded, printable, capped.
    pub(crate) fn from(&self) -> &str {
        &self.from
    }

    /// The Subject field: decoded, printable, capped.
    pub(crate) fn subject(&self) -> &str {
        &self.subject
    }

    pub(crate) fn of(capture: &HeaderCapture) -> Headers {
        let (from, subject) = capture.sender_and_subject();
        Headers {
            from: printable_capped(from.as_bytes(), FIELD_MAX),
            subject: printable_capped(subject.as_bytes(), FIELD_MAX),
        }
    }
}

/// Writes a message through to `out`, keeping its header section in
/// `headers` on the way.
pub(crate) struct Tee<'a> {
    pub out: &'a mut dyn Write,
    pub headers: &'a mut HeaderCapture,
}

impl Write for Tee<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.out.write(buf)?;
        self.headers.feed(&buf[..n]);
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}

/// The line of one account's fetch, once its outcome is known: the exit
/// status and the summary popfetch prints for it.
pub(crate) fn run(account: &Account, outcome: &Outcome) {
    if account.log_file.is_none() && !account.syslog {
        return;
    }
    let code = report::outcome_code(outcome);
    let dest = account.destination.describe();
    let s = &outcome.summary;
    let line = match &outcome.error {
        Some(e) => report::failed_line(&account.name, &dest, s, account.policy.max_size, e),
        None => report::fetch_line(&account.name, &dest, s, account.policy.max_size),
    };
    // The summary without the "popfetch: NAME: " the terminal needs.
    let summary = line
        .strip_prefix("popfetch: ")
        .unwrap_or(&line)
        .strip_prefix(&format!("{}: ", account.name))
        .unwrap_or(&line);
    let text = format!(
        "account={} run exit={code} summary={}",
        quoted(&account.name),
        quoted(&printable_capped(summary.as_bytes(), 4 * FIELD_MAX))
    );
    let mut hidden = Redactor::default();
    if let PasswordSource::Literal(secret) = &account.password {
        hidden.add(secret.expose());
    }
    let text = hidden.redact(text.as_bytes());
    if let Some(path) = &account.log_file {
        match open_file(path) {
            Ok(file) => append(&account.name, path, &file, &text),
            Err(e) => trouble_with(&account.name, path, &e),
        }
    }
    if account.syslog {
        let severity = match code {
            exit::OK => SEVERITY_INFO,
            exit::TEMPFAIL => SEVERITY_WARNING,
            _ => SEVERITY_ERR,
        };
        syslog(severity, &text);
    }
}

/// `"text"`, with `"` and `\` escaped.
fn quoted(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        if c == '"' || c == '\\' {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
    out
}

/// Server text (a UID), printable, capped and quoted.
fn field(text: &str) -> String {
    quoted(&printable_capped(text.as_bytes(), FIELD_MAX))
}

/// Open the log for appending: never through a link, created 0600 (in
/// directories created 0700) whatever the umask, a regular file only.
fn open_file(path: &Path) -> io::Result<File> {
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        create_private_dir(parent)?;
    }
    // O_NONBLOCK: opening a FIFO someone put there must not hang the run;
    // it is refused below.
    let flags = NOFOLLOW | rustix::fs::OFlags::NONBLOCK.bits() as i32;
    let created = crate::state::open_private(
        OpenOptions::new()
            .append(true)
            .create_new(true)
            .custom_flags(flags),
        path,
    );
    let file = match created {
        Ok(file) => file,
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => OpenOptions::new()
            .append(true)
            .custom_flags(flags)
            .open(path)
            .map_err(explain_link)?,
        Err(e) => return Err(explain_link(e)),
    };
    if !file.metadata()?.is_file() {
        return Err(io::Error::other(
            "it is not a regular file: name a file for log_file",
        ));
    }
    Ok(file)
}

/// Append one line (the time first) to an open log.
fn append(name: &str, path: &Path, mut file: &File, text: &str) {
    let time = jiff::Timestamp::now().strftime("%Y-%m-%dT%H:%M:%SZ");
    // One write, so that lines of accounts sharing the file never mix.
    match file.write_all(format!("{time} {text}\n").as_bytes()) {
        Ok(()) => fine_again(path),
        Err(e) => trouble_with(name, path, &e),
    }
}

/// Log files that failed, so that each failure is told once until a
/// write succeeds again.
static FAILING: Mutex<Option<HashSet<PathBuf>>> = Mutex::new(None);

fn trouble_with(name: &str, path: &Path, e: &io::Error) {
    let first = FAILING
        .lock()
        .map(|mut f| {
            f.get_or_insert_with(HashSet::new)
                .insert(path.to_path_buf())
        })
        .unwrap_or(true);
    if first {
        report::say!(
            "popfetch: warning: {name}: cannot write the log file {}: {e}; mail is fetched all \
             the same, but the log misses it: check log_file and the directory's permissions",
            path.display()
        );
    }
}

fn fine_again(path: &Path) {
    if let Ok(mut f) = FAILING.lock()
        && let Some(set) = f.as_mut()
    {
        set.remove(path);
    }
}

/// Whether the system log failed and was told about.
static SYSLOG_FAILING: AtomicBool = AtomicBool::new(false);

/// Send one line to the system log, at facility mail.
fn syslog(severity: u8, text: &str) {
    let socket = std::env::var_os(SYSLOG_SOCKET_VAR)
        .filter(|v| !v.is_empty())
        .map_or_else(|| PathBuf::from(SYSLOG_SOCKET), PathBuf::from);
    let time = crate::clock::local_now().strftime("%b %e %H:%M:%S");
    let line = format!(
        "<{}>{time} popfetch[{}]: {text}",
        FACILITY_MAIL | severity,
        std::process::id()
    );
    let sent = UnixDatagram::unbound().and_then(|s| s.send_to(line.as_bytes(), &socket));
    match sent {
        Ok(_) => SYSLOG_FAILING.store(false, Ordering::SeqCst),
        Err(e) => {
            if !SYSLOG_FAILING.swap(true, Ordering::SeqCst) {
                report::say!(
                    "popfetch: warning: cannot send to the system log at {} ({e}), so syslog = \
                     true logs nothing: is a syslog daemon (or systemd-journald) running? Mail \
                     is fetched all the same",
                    socket.display()
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn values_are_quoted_and_escaped() {
        assert_eq!(quoted(r#"a "b" \c"#), r#""a \"b\" \\c""#);
        assert_eq!(field("x\u{1b}[31m\ty"), "\"x\u{fffd}[31m y\"");
        let long = field(&"u".repeat(1000));
        assert_eq!(long.chars().count(), FIELD_MAX + 3);
    }

    #[test]
    fn the_file_is_created_private_and_never_through_a_link() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a/b/log");
        let f = open_file(&path).unwrap();
        drop(f);
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&path), 0o600);
        assert_eq!(mode(&dir.path().join("a/b")), 0o700);
        // An existing file is appended to as it is.
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o640)).unwrap();
        open_file(&path).unwrap();
        assert_eq!(mode(&path), 0o640);

        let link = dir.path().join("link");
        std::os::unix::fs::symlink(&path, &link).unwrap();
        let e = open_file(&link).unwrap_err();
        assert!(e.to_string().contains("symbolic link"), "{e}");
        let dangling = dir.path().join("dangling");
        std::os::unix::fs::symlink(dir.path().join("nowhere"), &dangling).unwrap();
        assert!(open_file(&dangling).is_err());
        assert!(!dir.path().join("nowhere").exists());
        let e = open_file(dir.path()).unwrap_err();
        assert!(e.to_string().contains("regular file") || e.kind() == io::ErrorKind::IsADirectory);
    }

    #[test]
    fn the_tee_keeps_the_headers_of_what_it_passes_on() {
        let mut out = Vec::new();
        let mut headers = HeaderCapture::default();
        let mut tee = Tee {
            out: &mut out,
            headers: &mut headers,
        };
        tee.write_all(b"From: a@b\nSubject: =?UTF-8?Q?hi=07?=\n\nbody\n")
            .unwrap();
        assert_eq!(out, b"From: a@b\nSubject: =?UTF-8?Q?hi=07?=\n\nbody\n");
        let h = Headers::of(&headers);
        assert_eq!(h.from, "a@b");
        assert_eq!(h.subject, "hi\u{fffd}");
    }
}
