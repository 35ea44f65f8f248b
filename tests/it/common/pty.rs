//! popfetch on a real terminal: a pseudo-terminal of a given size whose
//! other end the test reads (everything popfetch drew, escape sequences
//! included) and writes (a Ctrl-C typed as the terminal's ^C reaches the
//! foreground process group as SIGINT, as at a shell).

use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::process::{Child, Stdio};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use rustix::pty::{OpenptFlags, grantpt, openpt, ptsname, unlockpt};
use rustix::termios::{Winsize, tcsetwinsize};

use super::env::TestEnv;

/// A popfetch run on a terminal of its own.
pub struct PtyRun {
    child: Child,
    master: File,
    screen: Arc<Mutex<Vec<u8>>>,
    reader: Option<JoinHandle<()>>,
    started: Instant,
}

/// How a terminal run ended, and everything it drew.
#[derive(Debug)]
pub struct PtyOutput {
    pub code: Option<i32>,
    pub signal: Option<i32>,
    /// Every byte written to the terminal, escape sequences included.
    pub raw: String,
    pub elapsed: Duration,
}

impl std::fmt::Display for PtyOutput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "code {:?}, signal {:?}, {:.2?}\n--- terminal:\n{}",
            self.code,
            self.signal,
            self.elapsed,
            self.raw.escape_debug()
        )
    }
}

impl TestEnv {
    /// Starts popfetch with stdin, stdout and stderr on a new terminal of
    /// `cols` x `rows`, as the session leader with that terminal as its
    /// controlling one (so the terminal's ^C reaches it).
    pub fn spawn_in_pty(&self, args: &[&str], cols: u16, rows: u16) -> PtyRun {
        let master =
            openpt(OpenptFlags::RDWR | OpenptFlags::NOCTTY | OpenptFlags::CLOEXEC).expect("openpt");
        grantpt(&master).expect("grantpt");
        unlockpt(&master).expect("unlockpt");
        tcsetwinsize(
            &master,
            Winsize {
                ws_row: rows,
                ws_col: cols,
                ws_xpixel: 0,
                ws_ypixel: 0,
            },
        )
        .expect("set the window size");
        let name = ptsname(&master, Vec::new()).expect("ptsname");
        let slave: OwnedFd = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(name.to_str().expect("pty name"))
            .expect("open the pty")
            .into();
        let mut cmd = self.command(args);
        cmd.env("TERM", "xterm-256color")
            .env("COLUMNS", cols.to_string())
            .env("LINES", rows.to_string())
            .stdin(Stdio::from(slave.try_clone().unwrap()))
            .stdout(Stdio::from(slave.try_clone().unwrap()))
            .stderr(Stdio::from(slave));
        // SAFETY: only async-signal-safe system calls between fork and exec.
        unsafe {
            cmd.pre_exec(|| {
                rustix::process::setsid()?;
                rustix::process::ioctl_tiocsctty(std::io::stdin().as_fd())?;
                Ok(())
            });
        }
        let child = cmd.spawn().expect("spawn popfetch on a pty");
        // Our copies of the terminal's end go with the command.
        drop(cmd);
        let master = File::from(master);
        let screen = Arc::new(Mutex::new(Vec::new()));
        let reader = {
            let mut master = master.try_clone().unwrap();
            let screen = Arc::clone(&screen);
            std::thread::spawn(move || {
                let mut buf = [0u8; 4096];
                // EIO once the last process on the terminal has closed it.
                while let Ok(n) = master.read(&mut buf) {
                    if n == 0 {
                        break;
                    }
                    screen.lock().unwrap().extend_from_slice(&buf[..n]);
                }
            })
        };
        PtyRun {
            child,
            master,
            screen,
            reader: Some(reader),
            started: Instant::now(),
        }
    }
}

impl PtyRun {
    pub fn id(&self) -> u32 {
        self.child.id()
    }

    /// Types `bytes` on the terminal (b"\x03" is Ctrl-C).
    pub fn type_keys(&mut self, bytes: &[u8]) {
        self.master.write_all(bytes).unwrap();
    }

    /// Everything drawn so far.
    pub fn screen(&self) -> String {
        String::from_utf8_lossy(&self.screen.lock().unwrap()).into_owned()
    }

    pub fn running(&mut self) -> bool {
        self.child.try_wait().unwrap().is_none()
    }

    /// Waits for the exit; kills it and panics after `limit`.
    pub fn wait(mut self, limit: Duration) -> PtyOutput {
        while self.child.try_wait().unwrap().is_none() {
            if self.started.elapsed() > limit {
                let _ = self.child.kill();
                let out = self.finish();
                panic!("popfetch did not finish within {limit:?} on the terminal:\n{out}");
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        self.finish()
    }

    fn finish(&mut self) -> PtyOutput {
        let status = self.child.wait().unwrap();
        // The reader ends when every process left the terminal; one that
        // popfetch left behind (an MDA) is not waited for.
        let deadline = Instant::now() + Duration::from_secs(5);
        while self.reader.as_ref().is_some_and(|r| !r.is_finished()) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
        if self.reader.as_ref().is_some_and(|r| r.is_finished()) {
            let _ = self.reader.take().map(JoinHandle::join);
        }
        PtyOutput {
            code: status.code(),
            signal: status.signal(),
            raw: self.screen(),
            elapsed: self.started.elapsed(),
        }
    }
}

impl Drop for PtyRun {
    fn drop(&mut self) {
        if self.child.try_wait().ok().flatten().is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// The terminal's lines as a person would see them drawn, one entry per
/// line or redraw: split at CR and LF, escape sequences removed.
pub fn drawn_lines(raw: &str) -> Vec<String> {
    strip_escapes(raw)
        .split(['\r', '\n'])
        .map(str::to_owned)
        .filter(|l| !l.trim().is_empty())
        .collect()
}

/// `raw` without ANSI escape sequences (CSI and OSC) and other controls
/// but CR, LF and tab.
pub fn strip_escapes(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    let mut chars = raw.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\u{1b}' => match chars.next() {
                Some('[') => {
                    // Parameters and intermediates, then one final byte.
                    for c in chars.by_ref() {
                        if ('@'..='~').contains(&c) {
                            break;
                        }
                    }
                }
                Some(']') => {
                    while let Some(c) = chars.next() {
                        if c == '\u{7}' || (c == '\u{1b}' && chars.next_if_eq(&'\\').is_some()) {
                            break;
                        }
                    }
                }
                _ => {}
            },
            '\r' | '\n' | '\t' => out.push(c),
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out
}
