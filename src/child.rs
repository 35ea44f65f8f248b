//! Running a helper program: the MDA ([`crate::deliver`]) and the password
//! command ([`crate::password`]). One place decides how such a program is
//! started, watched and ended:
//!
//! - it runs in a process group of its own, so that a Ctrl-C at the
//!   terminal reaches popfetch alone, and so that everything the program
//!   started can be killed with it;
//! - its stdout and stderr are read as they come, keeping only what the
//!   caller asked for ([`Keep`]): the last few KiB, or the first line up to
//!   a cap; whatever else it prints is read and dropped, so its output
//!   costs bounded memory however much there is;
//! - once the program itself has exited, its pipes are read for at most
//!   [`GRACE`] more: a child it left behind (`cmd &` in a shell MDA, a
//!   procmail recipe that forks, a daemon a token helper starts) may hold
//!   them open for hours, and its exit status is the verdict anyway. The
//!   leftover is not killed — it may be doing the user's work — but its
//!   pipes are closed, so what it writes later goes nowhere;
//! - past its deadline the whole process group is killed ([`End::TimedOut`]);
//! - when an [`Interrupt`] is given and fires (Ctrl-C, SIGTERM, SIGHUP), the
//!   whole process group is killed at once ([`End::Interrupted`]). The MDA
//!   is run without one: the message in hand is let finish.
//!
//! [`run`] starts the program and watches it to its end; [`start`] and
//! [`Running::wait`] do the same in two steps, so that the caller can do
//! other work while the program runs (the MDA runs while the next message
//! arrives).
//!
//! Linux tells the exit through a pidfd, so the wait wakes at once; where
//! there is none, the exit is looked for every few milliseconds.

use std::io;
use std::os::fd::OwnedFd;
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use rustix::event::{PollFd, PollFlags, Timespec};
use zeroize::Zeroizing;

use crate::interrupt::Interrupt;

/// How long the pipes are read after the program exited.
pub(crate) const GRACE: Duration = Duration::from_secs(2);

/// How often an interrupt is looked for while nothing else happens.
const TICK: Duration = Duration::from_millis(100);

/// Without a pidfd, how often the exit is looked for.
const POLL_EXIT: Duration = Duration::from_millis(5);

/// What to keep of one output stream.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Keep {
    /// The last this many bytes.
    Tail(usize),
    /// The first line (with its `\n`, if one came) up to this many bytes;
    /// a longer first line is cut there and marked [`Captured::overflow`].
    FirstLine(usize),
}

/// How a program is run.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Limits {
    /// Killed, with its whole process group, once it has run this long.
    pub deadline: Duration,
    pub stdout: Keep,
    pub stderr: Keep,
}

/// How the program ended.
#[derive(Debug)]
pub(crate) enum End {
    Exited(ExitStatus),
    /// It ran past its deadline; its process group was killed.
    TimedOut,
    /// The interrupt fired; its process group was killed.
    Interrupted,
}

/// What was kept of one output stream. The bytes are wiped when dropped:
/// a password command's stdout is a secret.
#[derive(Debug, Default)]
pub(crate) struct Captured {
    pub bytes: Zeroizing<Vec<u8>>,
    /// [`Keep::FirstLine`]: the first line was longer than the cap.
    /// [`Keep::Tail`]: more came than was kept.
    pub overflow: bool,
    /// The first line is complete; later bytes are dropped.
    line_done: bool,
}

impl Captured {
    fn new(keep: Keep) -> Captured {
        let cap = match keep {
            Keep::Tail(n) | Keep::FirstLine(n) => n,
        };
        // Room for everything that is ever kept, so the buffer never moves
        // (a move would leave a copy of a secret behind).
        Captured {
            bytes: Zeroizing::new(Vec::with_capacity(cap)),
            overflow: false,
            line_done: false,
        }
    }

    fn take(&mut self, keep: Keep, chunk: &[u8]) {
        match keep {
            Keep::Tail(n) => {
                let total = self.bytes.len() + chunk.len();
                if total > n {
                    self.overflow = true;
                }
                let chunk = &chunk[chunk.len().saturating_sub(n)..];
                let over = (self.bytes.len() + chunk.len()).saturating_sub(n);
                self.bytes.drain(..over);
                self.bytes.extend_from_slice(chunk);
            }
            Keep::FirstLine(max) => {
                if self.line_done {
                    return;
                }
                let (part, ends) = match chunk.iter().position(|&b| b == b'\n') {
                    Some(i) => (&chunk[..=i], true),
                    None => (chunk, false),
                };
                let room = max - self.bytes.len();
                if part.len() > room {
                    self.bytes.extend_from_slice(&part[..room]);
                    self.overflow = true;
                    self.line_done = true;
                } else {
                    self.bytes.extend_from_slice(part);
                    self.line_done = ends;
                }
            }
        }
    }
}

/// A program that has run.
#[derive(Debug)]
pub(crate) struct Ran {
    pub end: End,
    pub stdout: Captured,
    pub stderr: Captured,
}

/// Start `cmd` with `stdin`, in a process group of its own, and watch it
/// until it ends (see the module doc). Only starting it can fail; the
/// error is the one `spawn` gave.
pub(crate) fn run(
    cmd: Command,
    stdin: Stdio,
    limits: &Limits,
    interrupt: Option<&Interrupt>,
) -> io::Result<Ran> {
    Ok(start(cmd, stdin, limits)?.wait(interrupt))
}

/// A program started by [`start`], not yet watched to its end.
///
/// Until [`Running::wait`] is called nobody reads its output: what fits in
/// the pipes (64 KiB each on Linux) waits there, and a program that prints
/// more blocks until the wait begins. Its deadline runs from the start.
/// Dropped without a wait, it is left to run; its pipes are closed.
#[derive(Debug)]
pub(crate) struct Running {
    child: Child,
    started: Instant,
    streams: [Stream; 2],
    pidfd: Option<OwnedFd>,
    limits: Limits,
}

/// Start `cmd` with `stdin`, in a process group of its own (see the module
/// doc), and return at once: the caller may do other work before
/// [`Running::wait`]. Only starting it can fail; the error is the one
/// `spawn` gave.
pub(crate) fn start(mut cmd: Command, stdin: Stdio, limits: &Limits) -> io::Result<Running> {
    let mut child = cmd
        .stdin(stdin)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .spawn()?;
    let started = Instant::now();
    let streams = [
        Stream::new(child.stdout.take().map(OwnedFd::from), limits.stdout),
        Stream::new(child.stderr.take().map(OwnedFd::from), limits.stderr),
    ];
    let pid = rustix::process::Pid::from_child(&child);
    let pidfd = rustix::process::pidfd_open(pid, rustix::process::PidfdFlags::empty()).ok();
    Ok(Running {
        child,
        started,
        streams,
        pidfd,
        limits: *limits,
    })
}

impl Running {
    /// Watch the program until it ends (see the module doc): read its
    /// output as it comes, kill its group past the deadline or when
    /// `interrupt` fires, and read its pipes for at most [`GRACE`] after
    /// it exited.
    pub(crate) fn wait(self, interrupt: Option<&Interrupt>) -> Ran {
        let Running {
            mut child,
            started,
            mut streams,
            mut pidfd,
            limits,
        } = self;
        // One pipe's worth; wiped once, when the run is over.
        let mut buf = Zeroizing::new(vec![0u8; 64 * 1024]);
        let mut exited: Option<(ExitStatus, Instant)> = None;
        let end = loop {
            if exited.is_none() {
                match child.try_wait() {
                    Ok(Some(status)) => exited = Some((status, Instant::now())),
                    Ok(None) => {}
                    // Cannot be (the child is ours, not reaped); should it
                    // be, the pidfd would stay readable: look without it,
                    // until the deadline ends the wait.
                    Err(_) => pidfd = None,
                }
            }
            // When the next thing is due that no event would wake us for.
            let due = match exited {
                Some((status, at)) => {
                    let left = GRACE.saturating_sub(at.elapsed());
                    if streams.iter().all(Stream::closed) || left.is_zero() {
                        break End::Exited(status);
                    }
                    left
                }
                None => {
                    let left = limits.deadline.saturating_sub(started.elapsed());
                    if left.is_zero() {
                        break kill(&mut child, End::TimedOut);
                    }
                    if interrupt.is_some_and(Interrupt::is_set) {
                        break kill(&mut child, End::Interrupted);
                    }
                    let mut due = left;
                    if interrupt.is_some() {
                        due = due.min(TICK);
                    }
                    if pidfd.is_none() {
                        due = due.min(POLL_EXIT);
                    }
                    due
                }
            };
            // The pidfd is readable from the exit on: watched only until then.
            let watch_exit = pidfd.as_ref().filter(|_| exited.is_none());
            wait_and_read(&mut streams, watch_exit, due, &mut buf);
        };
        let [out, err] = streams;
        Ran {
            end,
            stdout: out.captured,
            stderr: err.captured,
        }
    }
}

/// Kill the program's process group (it leads it, so this reaches whatever
/// it started too) and reap it. It has not been reaped yet, so its pid
/// still names it.
fn kill(child: &mut Child, end: End) -> End {
    if let Some(pgid) = i32::try_from(child.id())
        .ok()
        .and_then(rustix::process::Pid::from_raw)
    {
        let _ = rustix::process::kill_process_group(pgid, rustix::process::Signal::KILL);
    }
    let _ = child.wait();
    end
}

/// One output pipe and what is kept of it.
#[derive(Debug)]
struct Stream {
    fd: Option<OwnedFd>,
    keep: Keep,
    captured: Captured,
}

impl Stream {
    fn new(fd: Option<OwnedFd>, keep: Keep) -> Stream {
        Stream {
            fd,
            keep,
            captured: Captured::new(keep),
        }
    }

    fn closed(&self) -> bool {
        self.fd.is_none()
    }

    /// Read once into `buf` (the pipe is readable); at the end or on an
    /// error the pipe is closed.
    fn read(&mut self, buf: &mut [u8]) {
        let Some(fd) = &self.fd else { return };
        match rustix::io::read(fd, &mut *buf) {
            Ok(0) => self.fd = None,
            Ok(n) => self.captured.take(self.keep, &buf[..n]),
            Err(rustix::io::Errno::INTR | rustix::io::Errno::AGAIN) => {}
            Err(_) => self.fd = None,
        }
    }
}

/// Wait up to `due` for output or (through `pidfd`) the exit, and read
/// whatever output there is through `buf`.
fn wait_and_read(
    streams: &mut [Stream; 2],
    pidfd: Option<&OwnedFd>,
    due: Duration,
    buf: &mut [u8],
) {
    let events = PollFlags::IN | PollFlags::HUP | PollFlags::ERR;
    let mut fds: Vec<PollFd<'_>> = Vec::with_capacity(3);
    let mut which = Vec::with_capacity(2);
    for (i, s) in streams.iter().enumerate() {
        if let Some(fd) = &s.fd {
            fds.push(PollFd::new(fd, events));
            which.push(i);
        }
    }
    if let Some(p) = pidfd {
        fds.push(PollFd::new(p, PollFlags::IN));
    }
    let timeout = Timespec::try_from(due).unwrap_or(Timespec {
        tv_sec: 1,
        tv_nsec: 0,
    });
    if fds.is_empty() {
        std::thread::sleep(due);
        return;
    }
    match rustix::event::poll(&mut fds, Some(&timeout)) {
        Ok(0) | Err(rustix::io::Errno::INTR) => return,
        Ok(_) => {}
        // Cannot happen with valid descriptors; do not spin.
        Err(_) => {
            std::thread::sleep(due.min(POLL_EXIT));
            return;
        }
    }
    let ready: Vec<usize> = which
        .iter()
        .zip(&fds)
        .filter(|(_, p)| !p.revents().is_empty())
        .map(|(&i, _)| i)
        .collect();
    drop(fds);
    for i in ready {
        streams[i].read(buf);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sh(script: &str) -> Command {
        let mut c = Command::new("sh");
        c.arg("-c").arg(script);
        c
    }

    /// `sh -c script`, keeping 16 bytes of each output.
    fn ran(script: &str, deadline: Duration, interrupt: Option<&Interrupt>) -> Ran {
        let limits = Limits {
            deadline,
            stdout: Keep::Tail(16),
            stderr: Keep::Tail(16),
        };
        run(sh(script), Stdio::null(), &limits, interrupt).unwrap()
    }

    #[test]
    fn the_exit_status_and_the_tails_are_kept() {
        let ran = ran(
            "printf 'a long line of output\\nlast'; echo oops >&2; exit 3",
            Duration::from_secs(30),
            None,
        );
        assert!(matches!(ran.end, End::Exited(s) if s.code() == Some(3)));
        assert_eq!(&ran.stdout.bytes[..], b"e of output\nlast");
        assert!(ran.stdout.overflow);
        assert_eq!(&ran.stderr.bytes[..], b"oops\n");
        assert!(!ran.stderr.overflow);
    }

    #[test]
    fn the_first_line_is_kept_and_the_rest_dropped() {
        let keep = Keep::FirstLine(8);
        let mut c = Captured::new(keep);
        for chunk in [&b"ab"[..], b"c\nde", b"f\n"] {
            c.take(keep, chunk);
        }
        assert_eq!(&c.bytes[..], b"abc\n");
        assert!(!c.overflow);
        let mut c = Captured::new(keep);
        c.take(keep, b"0123456789\n");
        assert_eq!(&c.bytes[..], b"01234567");
        assert!(c.overflow);
        assert_eq!(c.bytes.capacity(), 8, "the buffer never grew");
    }

    #[test]
    fn a_child_left_holding_the_pipes_is_not_waited_for() {
        // The background sleep holds stdout and stderr long after sh exits.
        let started = Instant::now();
        let ran = ran("sleep 30 & echo done", Duration::from_secs(60), None);
        assert!(matches!(ran.end, End::Exited(s) if s.success()));
        assert_eq!(&ran.stdout.bytes[..], b"done\n");
        assert!(started.elapsed() < Duration::from_secs(20));
    }

    /// Runs a program that starts a child which would leave a mark 2 s
    /// later, and checks that the mark never comes: the whole group died.
    fn kills_the_whole_group(deadline: Duration, interrupt: Option<&Interrupt>) -> End {
        let dir = tempfile::tempdir().unwrap();
        let marker = dir.path().join("survived");
        let script = format!("(sleep 2; touch {}) & sleep 30", marker.display());
        let end = ran(&script, deadline, interrupt).end;
        std::thread::sleep(Duration::from_secs(3));
        assert!(!marker.exists(), "a child of the program survived");
        end
    }

    #[test]
    fn past_the_deadline_the_whole_group_is_killed() {
        let end = kills_the_whole_group(Duration::from_millis(300), None);
        assert!(matches!(end, End::TimedOut), "{end:?}");
    }

    #[test]
    fn an_interrupt_kills_the_whole_group_at_once() {
        let interrupt = Interrupt::new();
        let trigger = Arc::clone(&interrupt);
        let t = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(200));
            trigger.trigger();
        });
        let end = kills_the_whole_group(Duration::from_secs(60), Some(interrupt.as_ref()));
        t.join().unwrap();
        assert!(matches!(end, End::Interrupted), "{end:?}");
    }

    use std::sync::Arc;
}
