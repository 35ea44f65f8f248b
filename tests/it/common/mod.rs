//! Shared machinery for the integration tests: a real Dovecot on loopback,
//! a scripted POP3 server for faults, a seeded mail corpus and a scrubbed
//! environment that runs the popfetch binary.

// Each test file uses a different part of these helpers; the ones a given
// build does not call are not dead, just unused there.
#![allow(dead_code)]

pub mod corpus;
pub mod courier;
pub mod dovecot;
pub mod env;
pub mod kill;
pub mod mailstore;
pub mod pop3;
pub mod postfix;
pub mod pty;
pub mod script;
pub mod smtp;

use std::time::{Duration, Instant};

/// Polls `cond` every 20 ms until it holds or `limit` passes.
pub fn wait_until(limit: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let start = Instant::now();
    loop {
        if cond() {
            return true;
        }
        if start.elapsed() > limit {
            return false;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// How a server process started for a test turned out.
pub enum Started {
    /// `ready` held.
    Ready,
    /// The process exited first, with this status.
    Exited(std::process::ExitStatus),
    /// Neither within the time limit (the process was killed).
    TimedOut,
}

/// Waits for a server process started for a test: polls `ready` every
/// 20 ms until it holds, the process exits, or `limit` passes (then the
/// process is killed).
pub fn wait_started(
    child: &mut std::process::Child,
    limit: Duration,
    mut ready: impl FnMut() -> bool,
) -> Started {
    let deadline = Instant::now() + limit;
    loop {
        if let Ok(Some(status)) = child.try_wait() {
            return Started::Exited(status);
        }
        if ready() {
            return Started::Ready;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            return Started::TimedOut;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Takes the run lock at `path` (creating its directory) as another
/// popfetch run would; held until the file is dropped.
pub fn hold_lock(path: &std::path::Path) -> std::fs::File {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).unwrap();
    }
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(path)
        .unwrap();
    file.try_lock().unwrap();
    file
}

/// Runs `cmd` (no stdin), panicking with its stderr unless it succeeds.
pub fn run_checked(cmd: &mut std::process::Command, what: &str) -> std::process::Output {
    let out = cmd
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("cannot run {what}: {e}"));
    assert!(
        out.status.success(),
        "{what} failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// Writes a program (a script) with this mode, through `sh`: were this
/// process to write it, a child another test forks meanwhile would hold it
/// open for writing until that child's exec, and running the program in
/// that moment would fail with "Text file busy".
pub fn write_program(path: &std::path::Path, text: &str, mode: u32) {
    use std::io::Write;
    let mut sh = std::process::Command::new("sh")
        .arg("-c")
        .arg("cat > \"$0\" && chmod \"$1\" \"$0\"")
        .arg(path)
        .arg(format!("{mode:o}"))
        .stdin(std::process::Stdio::piped())
        .spawn()
        .expect("spawn sh");
    let mut stdin = sh.stdin.take().expect("piped");
    stdin.write_all(text.as_bytes()).expect("write the program");
    drop(stdin);
    let status = sh.wait().expect("wait for sh");
    assert!(
        status.success(),
        "cannot write {}: {status}",
        path.display()
    );
}

/// TOML basic string with the characters TOML requires escaped.
pub fn toml_str(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() => out.push_str(&format!("\\u{:04X}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// The CI rule: a test that needs something missing skips loudly on a
/// developer machine but fails when `CI=true`, so CI can never pass by
/// skipping.
pub fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v.eq_ignore_ascii_case("true") || v == "1")
}

/// Skips (returns) or, in CI, panics, with a message nobody can miss.
pub fn skip_or_panic(ci: bool, why: &str) {
    skip_or_panic_with(
        ci,
        why,
        "Install it: apt-get install dovecot-core dovecot-pop3d",
    );
}

/// [`skip_or_panic`] with `install` telling how to get what is missing.
pub fn skip_or_panic_with(ci: bool, why: &str, install: &str) {
    let test = std::thread::current()
        .name()
        .unwrap_or("<unnamed test>")
        .to_owned();
    if ci {
        panic!("{test}: {why} (CI=true: tests must not be skipped)");
    }
    eprintln!(
        "\n\
         ************************************************************************\n\
         *** SKIPPED {test}\n\
         *** {why}\n\
         *** {install}\n\
         *** (with CI=true this is a failure, not a skip)\n\
         ************************************************************************\n"
    );
}

/// The mailbox user most tests fetch as.
pub const USER: &str = "alice";
/// Its password: distinctive, so a test can search output for it.
pub const PASSWORD: &str = "Tr0ub4dor&3-not-for-logs";

/// A Dovecot with `USER` holding `n` corpus messages for `seed`; `None`
/// when the test is to be skipped (see `Dovecot::start`).
pub fn dovecot_with_mail(
    opts: dovecot::Options,
    seed: u64,
    n: usize,
) -> Option<(dovecot::Dovecot, Vec<Vec<u8>>)> {
    let dc = dovecot::Dovecot::start(opts)?;
    dc.add_user(USER, PASSWORD);
    let msgs = corpus::corpus(seed, n);
    dc.load_mailbox(USER, &msgs);
    Some((dc, msgs))
}
