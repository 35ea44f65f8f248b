//! A scrubbed environment for running the real `popfetch` binary.
//!
//! Every `TestEnv` has its own HOME with XDG_CONFIG_HOME, XDG_STATE_HOME,
//! XDG_DATA_HOME and XDG_CACHE_HOME below it. The binary runs with a cleared
//! environment (PATH, HOME, the XDG variables and LANG only), no stdin and so
//! no terminal, exactly like a cron job, and under a watchdog so that a hung
//! run fails the test instead of hanging it.
//!
//! Root bypasses file permissions, so a suite run as root cannot see a
//! file popfetch made that its owner cannot use. With
//! `POPFETCH_TEST_UNPRIVILEGED=1` and the suite running as root, every
//! popfetch run is as `nobody` instead: HOME is given to `nobody` before
//! each run, and a test that makes files for popfetch elsewhere hands them
//! over with [`for_popfetch`].

use std::fmt;
use std::fs;
use std::io::Read;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::toml_str;

/// The binary under test.
pub const BIN: &str = env!("CARGO_BIN_EXE_popfetch");

/// The uid and gid of `nobody` (`nobody` and `nogroup` on Debian), who
/// runs popfetch in the unprivileged mode and owns the servers' Maildirs
/// when the tests run as root. Looked up once, with `id`.
pub fn nobody() -> (u32, u32) {
    static NOBODY: std::sync::OnceLock<(u32, u32)> = std::sync::OnceLock::new();
    *NOBODY.get_or_init(|| {
        let id = |flag: &str| -> u32 {
            let text = super::dovecot::id(&[flag, "nobody"]);
            text.parse()
                .unwrap_or_else(|_| panic!("id {flag} nobody printed {text:?}"))
        };
        (id("-u"), id("-g"))
    })
}

/// A user who is neither root nor the one popfetch runs as (`daemon`).
pub const OTHER_UID: u32 = 1;

/// Whether popfetch runs as `nobody` in this suite: asked for with
/// `POPFETCH_TEST_UNPRIVILEGED=1`, and only meaningful under root.
pub fn unprivileged() -> bool {
    std::env::var_os("POPFETCH_TEST_UNPRIVILEGED").is_some_and(|v| v == "1")
        && rustix::process::geteuid().is_root()
}

/// Hands a file or directory (and what is below it) that a test made
/// outside HOME to the user popfetch runs as, when that is not root.
pub fn for_popfetch(path: &Path) {
    if unprivileged() {
        give_to_nobody(path);
    }
}

/// Runs another program as the user popfetch runs as, when that is not
/// root.
pub fn as_popfetch_user(cmd: &mut Command) {
    if unprivileged() {
        become_nobody(cmd);
    }
}

fn become_nobody(cmd: &mut Command) {
    use std::os::unix::process::CommandExt;
    let (uid, gid) = nobody();
    cmd.uid(uid).gid(gid);
}

/// Every file and directory from `root` down that root owns, owned by
/// `nobody` instead. What a test gave another user stays theirs. A file
/// that vanishes meanwhile (a popfetch started earlier may be running) is
/// passed over.
pub fn give_to_nobody(root: &Path) {
    use std::os::unix::fs::MetadataExt;
    let gone = |e: &std::io::Error| e.kind() == std::io::ErrorKind::NotFound;
    let meta = match fs::symlink_metadata(root) {
        Ok(meta) => meta,
        Err(e) if gone(&e) => return,
        Err(e) => panic!("{}: {e}", root.display()),
    };
    if meta.uid() == 0 {
        let (uid, gid) = nobody();
        match std::os::unix::fs::lchown(root, Some(uid), Some(gid)) {
            Err(e) if !gone(&e) => panic!("chown {}: {e}", root.display()),
            _ => {}
        }
    }
    if meta.is_dir() {
        match fs::read_dir(root) {
            Ok(entries) => entries.flatten().for_each(|e| give_to_nobody(&e.path())),
            Err(e) if gone(&e) => {}
            Err(e) => panic!("{}: {e}", root.display()),
        }
    }
}

/// Longest a single popfetch run may take before the test fails.
pub const RUN_LIMIT: Duration = Duration::from_secs(180);

pub struct TestEnv {
    dir: tempfile::TempDir,
}

impl Default for TestEnv {
    fn default() -> Self {
        Self::new()
    }
}

impl TestEnv {
    pub fn new() -> TestEnv {
        let dir = tempfile::Builder::new()
            .prefix("pfenv")
            .tempdir()
            .expect("temp dir");
        let env = TestEnv { dir };
        for d in [
            env.config_home(),
            env.state_home(),
            env.data_home(),
            env.cache_home(),
        ] {
            fs::create_dir_all(d).unwrap();
        }
        env
    }

    pub fn home(&self) -> PathBuf {
        self.dir.path().to_path_buf()
    }

    pub fn config_home(&self) -> PathBuf {
        self.home().join(".config")
    }

    pub fn state_home(&self) -> PathBuf {
        self.home().join(".local/state")
    }

    pub fn data_home(&self) -> PathBuf {
        self.home().join(".local/share")
    }

    pub fn cache_home(&self) -> PathBuf {
        self.home().join(".cache")
    }

    /// popfetch's own state directory (SPEC §4).
    pub fn state_dir(&self) -> PathBuf {
        self.state_home().join("popfetch")
    }

    /// Where popfetch looks for its config when no `-c` is given.
    pub fn config_path(&self) -> PathBuf {
        self.config_home().join("popfetch/config.toml")
    }

    /// Writes the config to the default location, mode 0600 (a config with
    /// a password readable by others draws a warning).
    pub fn write_config(&self, text: &str) -> PathBuf {
        let path = self.config_path();
        self.write_config_at(&path, text);
        path
    }

    /// Writes a config file anywhere, mode 0600.
    pub fn write_config_at(&self, path: &Path, text: &str) {
        if let Some(parent) = path.parent() {
            fs::create_dir_all(parent).unwrap();
        }
        fs::write(path, text).unwrap();
        fs::set_permissions(path, fs::Permissions::from_mode(0o600)).unwrap();
    }

    /// A path below HOME (not created).
    pub fn path(&self, rel: &str) -> PathBuf {
        self.home().join(rel)
    }

    /// The command, ready to spawn, in the scrubbed environment.
    pub fn command(&self, args: &[&str]) -> Command {
        let as_nobody = unprivileged();
        let mut cmd = Command::new(self.binary(as_nobody));
        self.scrub(&mut cmd, as_nobody);
        cmd.args(args);
        cmd
    }

    /// The binary to run. For `nobody`, HOME is given to `nobody` and a
    /// copy of the binary placed there, since the build directory may be
    /// out of its reach. `cp` makes the copy: were this process to write
    /// it, a child another test forks meanwhile would hold it open for
    /// writing until its own exec, and running the copy would fail with
    /// "Text file busy".
    fn binary(&self, as_nobody: bool) -> PathBuf {
        if !as_nobody {
            return PathBuf::from(BIN);
        }
        let bin = self.path("popfetch-as-nobody");
        if !bin.exists() {
            let cp = Command::new("cp").arg(BIN).arg(&bin).status().unwrap();
            assert!(cp.success(), "cp {BIN} {}: {cp}", bin.display());
            fs::set_permissions(&bin, fs::Permissions::from_mode(0o755)).unwrap();
        }
        give_to_nobody(&self.home());
        bin
    }

    fn scrub(&self, cmd: &mut Command, as_nobody: bool) {
        if as_nobody {
            become_nobody(cmd);
        }
        cmd.env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", self.home())
            .env("XDG_CONFIG_HOME", self.config_home())
            .env("XDG_STATE_HOME", self.state_home())
            .env("XDG_DATA_HOME", self.data_home())
            .env("XDG_CACHE_HOME", self.cache_home())
            .env("LANG", "C.UTF-8")
            .current_dir(self.home())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
    }

    /// Runs popfetch to completion (or the watchdog) and captures it.
    pub fn run(&self, args: &[&str]) -> Output {
        let child = self.command(args).spawn().expect("spawn popfetch");
        Running::new(child, args).wait(RUN_LIMIT)
    }

    /// Runs popfetch under the given umask (through `sh`, which sets it and
    /// then execs the binary): created files must be private regardless.
    pub fn run_with_umask(&self, umask: u32, args: &[&str]) -> Output {
        self.run_after(&format!("umask {umask:03o}"), args)
    }

    /// Runs popfetch through `sh`, which runs `setup` (`ulimit -n 1024`)
    /// and then execs the binary.
    pub fn run_after(&self, setup: &str, args: &[&str]) -> Output {
        self.run_through_sh(setup, unprivileged(), args)
    }

    fn run_through_sh(&self, setup: &str, as_nobody: bool, args: &[&str]) -> Output {
        let mut cmd = Command::new("sh");
        self.scrub(&mut cmd, as_nobody);
        cmd.arg("-c")
            .arg(format!("{setup} && exec \"$0\" \"$@\""))
            .arg(self.binary(as_nobody))
            .args(args);
        let child = cmd.spawn().expect("spawn sh");
        Running::new(child, args).wait(RUN_LIMIT)
    }

    /// Runs popfetch as an ordinary user under the given umask, as
    /// [`TestEnv::run_with_umask`] does. Root bypasses file permissions, so
    /// under root the whole HOME is given to `nobody` and a copy of the
    /// binary runs as `nobody` from there (the build directory may be out
    /// of its reach); otherwise it runs as the current user.
    pub fn run_unprivileged_with_umask(&self, umask: u32, args: &[&str]) -> Output {
        let as_nobody = rustix::process::geteuid().is_root();
        self.run_through_sh(&format!("umask {umask:03o}"), as_nobody, args)
    }

    /// Starts popfetch in the background (for concurrency tests).
    pub fn spawn(&self, args: &[&str]) -> Running {
        let child = self.command(args).spawn().expect("spawn popfetch");
        Running::new(child, args)
    }

    /// Runs popfetch with these environment variables added.
    pub fn run_with(&self, vars: &[(&str, &std::ffi::OsStr)], args: &[&str]) -> Output {
        self.spawn_with(vars, args).wait(RUN_LIMIT)
    }

    /// Starts popfetch in the background with these environment variables
    /// added.
    pub fn spawn_with(&self, vars: &[(&str, &std::ffi::OsStr)], args: &[&str]) -> Running {
        let mut cmd = self.command(args);
        cmd.envs(vars.iter().copied());
        let child = cmd.spawn().expect("spawn popfetch");
        Running::new(child, args)
    }
}

/// A popfetch process whose output is being collected.
pub struct Running {
    child: Child,
    args: Vec<String>,
    started: Instant,
    stdout: Option<JoinHandle<Vec<u8>>>,
    stderr: Option<JoinHandle<Vec<u8>>>,
}

fn drain(mut r: impl Read + Send + 'static) -> JoinHandle<Vec<u8>> {
    std::thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = r.read_to_end(&mut buf);
        buf
    })
}

impl Running {
    fn new(mut child: Child, args: &[&str]) -> Running {
        let stdout = child.stdout.take().map(drain);
        let stderr = child.stderr.take().map(drain);
        Running {
            child,
            args: args.iter().map(|s| s.to_string()).collect(),
            started: Instant::now(),
            stdout,
            stderr,
        }
    }

    pub fn id(&self) -> u32 {
        self.child.id()
    }

    /// How long since it was started.
    pub fn elapsed(&self) -> Duration {
        self.started.elapsed()
    }

    /// Whether it is still running.
    pub fn running(&mut self) -> bool {
        self.child.try_wait().unwrap().is_none()
    }

    /// Waits for the exit; kills it and panics once `limit` has passed
    /// since it was started.
    pub fn wait(mut self, limit: Duration) -> Output {
        loop {
            if self.child.try_wait().unwrap().is_some() {
                return self.collect();
            }
            if self.started.elapsed() > limit {
                let _ = self.child.kill();
                let out = self.collect();
                panic!("popfetch did not finish within {limit:?}:\n{out}");
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Kills it (SIGKILL) and collects what it wrote.
    pub fn kill(mut self) -> Output {
        let _ = self.child.kill();
        self.collect()
    }

    fn collect(&mut self) -> Output {
        let status = self.child.wait().expect("wait for popfetch");
        let take = |h: &mut Option<JoinHandle<Vec<u8>>>| {
            h.take()
                .map(|h| h.join().unwrap_or_default())
                .unwrap_or_default()
        };
        Output {
            args: self.args.clone(),
            code: status.code(),
            signal: status.signal(),
            stdout: String::from_utf8_lossy(&take(&mut self.stdout)).into_owned(),
            stderr: String::from_utf8_lossy(&take(&mut self.stderr)).into_owned(),
            elapsed: self.started.elapsed(),
        }
    }
}

/// What a finished run left behind.
#[derive(Debug, Clone)]
pub struct Output {
    pub args: Vec<String>,
    /// Exit status; `None` when killed by a signal.
    pub code: Option<i32>,
    pub signal: Option<i32>,
    pub stdout: String,
    pub stderr: String,
    pub elapsed: Duration,
}

impl Output {
    /// Asserts the exit status, showing everything the run printed if not.
    #[track_caller]
    pub fn assert_code(&self, want: i32) -> &Output {
        assert_eq!(self.code, Some(want), "unexpected exit status\n{self}");
        self
    }

    #[track_caller]
    pub fn assert_success(&self) -> &Output {
        self.assert_code(0)
    }

    /// Asserts a failure exit (not 0, not killed by a signal).
    #[track_caller]
    pub fn assert_failure(&self) -> &Output {
        assert!(
            matches!(self.code, Some(c) if c != 0),
            "expected a failing exit status\n{self}"
        );
        self
    }

    /// Stdout and stderr together, for "must not appear anywhere" checks.
    pub fn all_output(&self) -> String {
        format!("{}\n{}", self.stdout, self.stderr)
    }
}

impl fmt::Display for Output {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "popfetch {:?} -> code {:?}, signal {:?}, {:.2?}",
            self.args, self.code, self.signal, self.elapsed
        )?;
        writeln!(f, "--- stdout:\n{}", self.stdout)?;
        write!(f, "--- stderr:\n{}", self.stderr)
    }
}

/// Every message in a Maildir (`new/` and `cur/`), sorted, so that a
/// delivery can be compared with a corpus regardless of file names.
pub fn read_maildir(dir: &Path) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    for sub in ["new", "cur"] {
        let Ok(rd) = fs::read_dir(dir.join(sub)) else {
            continue;
        };
        for e in rd {
            let e = e.unwrap();
            if e.file_name().to_string_lossy().starts_with('.') {
                continue;
            }
            out.push(fs::read(e.path()).unwrap());
        }
    }
    out.sort();
    out
}

/// Files left in a Maildir's `tmp/` (a finished delivery leaves none).
pub fn maildir_tmp_files(dir: &Path) -> Vec<PathBuf> {
    fs::read_dir(dir.join("tmp"))
        .map(|rd| rd.map(|e| e.unwrap().path()).collect())
        .unwrap_or_default()
}

/// Sorted copy, for comparing a corpus with a delivered Maildir.
pub fn sorted(messages: &[Vec<u8>]) -> Vec<Vec<u8>> {
    let mut v = messages.to_vec();
    v.sort();
    v
}

/// Asserts two sets of messages are equal, reporting the first difference
/// briefly instead of dumping megabytes.
#[track_caller]
pub fn assert_same_messages(got: &[Vec<u8>], want: &[Vec<u8>]) {
    let got = sorted(got);
    let want = sorted(want);
    if got == want {
        return;
    }
    let missing = want.iter().filter(|m| !got.contains(m)).count();
    let unexpected = got.iter().filter(|m| !want.contains(m)).count();
    let example = got
        .iter()
        .find(|m| !want.contains(m))
        .map(|m| String::from_utf8_lossy(&m[..m.len().min(600)]).into_owned())
        .unwrap_or_default();
    panic!(
        "delivered {} messages, expected {}: {missing} expected ones missing, \
         {unexpected} not in the corpus; first unexpected one begins:\n{example}",
        got.len(),
        want.len()
    );
}

/// A fresh environment holding one account, whose Maildir is
/// `$HOME/Maildir`: the shape of most tests.
pub struct OneAccount {
    pub env: TestEnv,
    pub maildir: PathBuf,
    config: String,
}

impl OneAccount {
    /// `account` is given the Maildir's path.
    pub fn new(account: impl FnOnce(&Path) -> AccountToml) -> OneAccount {
        let env = TestEnv::new();
        let maildir = env.path("Maildir");
        let config = env.write_config(&config_of(&[&account(&maildir)]));
        OneAccount {
            env,
            maildir,
            config: config.display().to_string(),
        }
    }

    /// Runs popfetch on the account, with `args` first.
    pub fn run(&self, args: &[&str]) -> Output {
        let mut all = args.to_vec();
        all.extend(["-c", &self.config]);
        self.env.run(&all)
    }

    /// What the Maildir holds (see [`read_maildir`]).
    pub fn delivered(&self) -> Vec<Vec<u8>> {
        read_maildir(&self.maildir)
    }
}

/// One `[account.NAME]` table, built key by key. Values are kept as TOML
/// source so tests can also write arrays, numbers and deliberate mistakes.
#[derive(Debug, Clone)]
pub struct AccountToml {
    pub name: String,
    entries: Vec<(String, String)>,
}

impl AccountToml {
    pub fn new(name: &str) -> AccountToml {
        AccountToml {
            name: name.to_owned(),
            entries: Vec::new(),
        }
    }

    /// Sets `key` to a TOML value written as source (`true`, `995`, `[..]`).
    pub fn raw(mut self, key: &str, value: impl Into<String>) -> AccountToml {
        let value = value.into();
        match self.entries.iter_mut().find(|(k, _)| k == key) {
            Some(e) => e.1 = value,
            None => self.entries.push((key.to_owned(), value)),
        }
        self
    }

    /// Sets `key` to a string.
    pub fn str(self, key: &str, value: &str) -> AccountToml {
        self.raw(key, toml_str(value))
    }

    pub fn remove(mut self, key: &str) -> AccountToml {
        self.entries.retain(|(k, _)| k != key);
        self
    }

    pub fn get(&self, key: &str) -> Option<&str> {
        self.entries
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    pub fn to_toml(&self) -> String {
        let mut s = format!("[account.{}]\n", self.name);
        for (k, v) in &self.entries {
            s.push_str(&format!("{k} = {v}\n"));
        }
        s
    }
}

/// A config file holding the given accounts, in order.
pub fn config_of(accounts: &[&AccountToml]) -> String {
    accounts
        .iter()
        .map(|a| a.to_toml())
        .collect::<Vec<_>>()
        .join("\n")
}

/// Every entry below `root` (and `root` itself) with its permission bits
/// and whether it is a directory, for "private whatever the umask" checks.
pub fn modes_under(root: &Path) -> Vec<(PathBuf, u32, bool)> {
    let mut out = Vec::new();
    let mut todo = vec![root.to_path_buf()];
    while let Some(p) = todo.pop() {
        let Ok(meta) = fs::symlink_metadata(&p) else {
            continue;
        };
        let is_dir = meta.is_dir();
        out.push((p.clone(), meta.permissions().mode() & 0o7777, is_dir));
        if is_dir {
            for e in fs::read_dir(&p).unwrap() {
                todo.push(e.unwrap().path());
            }
        }
    }
    out
}

/// Asserts that directories are 0700 and files 0600 below `root`.
#[track_caller]
pub fn assert_private(root: &Path) {
    let bad: Vec<String> = modes_under(root)
        .into_iter()
        .filter(|(_, mode, dir)| *mode != if *dir { 0o700 } else { 0o600 })
        .map(|(p, mode, dir)| {
            format!(
                "{} {mode:04o} ({})",
                p.display(),
                if dir { "dir" } else { "file" }
            )
        })
        .collect();
    assert!(
        bad.is_empty(),
        "not private (want dirs 0700, files 0600):\n{}",
        bad.join("\n")
    );
}
