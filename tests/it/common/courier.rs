//! A real Courier POP3 server on 127.0.0.1 for one test: the second real
//! server, beside Dovecot, that the end-to-end tests run against.
//!
//! Courier's packages conflict with Dovecot's, so `scripts/install-courier.sh`
//! only unpacks `courier-pop` and `courier-base` into a private directory
//! (`POPFETCH_COURIER_ROOT`, default `/opt/popfetch-courier`) and installs
//! their libraries and Courier's authentication daemon with apt-get.
//!
//! Courier reads fixed paths (`/etc/courier`, `/run/courier` for the
//! authentication socket), so each server runs in a private mount namespace
//! (`unshare -m`) in which this test's own directories are bound over those
//! two: the system's files are never touched, and servers of parallel tests
//! never see each other. Inside, `authdaemond` checks passwords against a
//! userdb of this test's users, and two `couriertcpd` listeners run
//! `courierpop3login` and `courierpop3d`: one plain POP3 port offering STLS,
//! one implicit-TLS port behind `couriertls -server -tcpd`, both with a
//! certificate from a CA made for the test. Mail lives in Maildirs that
//! belong to `nobody`. Dropping the server ends its whole process group.
//!
//! Needs root (for the mount namespace), like CI.

use std::fs;
use std::io::Write;
use std::os::unix::fs::{PermissionsExt, chown};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::sync::atomic::AtomicU64;
use std::time::{Duration, Instant};

use super::dovecot::{free_port, id, listening, make_certificates, which};
use super::mailstore;
use super::{in_ci, run_checked, skip_or_panic_with, wait_until};

const INSTALL_HINT: &str = "Install it: scripts/install-courier.sh (as root)";

/// Courier's authentication daemon and userdb compiler (apt packages).
const AUTHDAEMOND: &str = "/usr/lib/courier/courier-authlib/authdaemond";
const MAKEUSERDB: &str = "/usr/sbin/makeuserdb";

/// Where `scripts/install-courier.sh` unpacked courier-pop and courier-base.
fn courier_root() -> PathBuf {
    std::env::var_os("POPFETCH_COURIER_ROOT")
        .filter(|v| !v.is_empty())
        .map_or_else(|| PathBuf::from("/opt/popfetch-courier"), PathBuf::from)
}

/// The unpacked programs a server needs, relative to [`courier_root`].
const PROGRAMS: &[&str] = &[
    "usr/sbin/couriertcpd",
    "usr/bin/couriertls",
    "usr/lib/courier/courier/courierpop3login",
    "usr/lib/courier/courier/courierpop3d",
];

/// Why Courier cannot be used here, or `None` when it can.
pub fn unavailable_reason() -> Option<String> {
    if !rustix::process::geteuid().is_root() {
        return Some("the Courier tests need root (a private mount namespace)".into());
    }
    let root = courier_root();
    if let Some(p) = PROGRAMS.iter().find(|p| !root.join(p).is_file()) {
        return Some(format!(
            "Courier's POP3 server is not unpacked ({} is missing)",
            root.join(p).display()
        ));
    }
    for p in [AUTHDAEMOND, MAKEUSERDB] {
        if !Path::new(p).is_file() {
            return Some(format!(
                "{p} is missing (courier-authdaemon, courier-authlib-userdb)"
            ));
        }
    }
    for cmd in ["unshare", "mount", "openssl"] {
        if which(cmd).is_none() && !Path::new("/usr/bin").join(cmd).is_file() {
            return Some(format!("the {cmd} command is not installed"));
        }
    }
    for dir in ["/etc/courier", "/run/courier"] {
        if !Path::new(dir).is_dir() {
            return Some(format!("{dir} does not exist to be mounted over"));
        }
    }
    if Command::new("id")
        .arg("courier")
        .output()
        .map_or(true, |o| !o.status.success())
    {
        return Some("there is no user courier (courier-authlib makes it)".into());
    }
    None
}

/// A running Courier; stopped when dropped.
pub struct Courier {
    dir: tempfile::TempDir,
    child: Option<Child>,
    pop3_port: u16,
    pop3s_port: u16,
    mail_uid: u32,
    mail_gid: u32,
    users: Mutex<Vec<(String, String)>>,
    next_file: AtomicU64,
}

/// A string for a single-quoted shell word.
fn sh_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

impl Courier {
    /// Starts a server, or returns `None` (after a loud message) when
    /// Courier is not installed. With `CI=true` a missing Courier panics.
    pub fn start() -> Option<Courier> {
        if let Some(why) = unavailable_reason() {
            skip_or_panic_with(in_ci(), &why, INSTALL_HINT);
            return None;
        }
        let dir = tempfile::Builder::new()
            .prefix("pfco")
            .tempdir()
            .expect("temp dir");
        let base = dir.path();
        // The login process runs as nobody and must reach the Maildirs.
        fs::set_permissions(base, fs::Permissions::from_mode(0o755)).unwrap();
        for d in ["etc", "run/authdaemon", "home", "tls"] {
            fs::create_dir_all(base.join(d)).unwrap();
        }
        fs::set_permissions(base.join("home"), fs::Permissions::from_mode(0o755)).unwrap();
        make_certificates(&base.join("tls"));
        // couriertls runs as user courier: the key must be readable by it,
        // or STLS fails without a word.
        let mut pem = fs::read(base.join("tls/server.key")).unwrap();
        pem.extend(fs::read(base.join("tls/server.pem")).unwrap());
        let pem_path = base.join("tls/key+cert.pem");
        fs::write(&pem_path, pem).unwrap();
        fs::set_permissions(&pem_path, fs::Permissions::from_mode(0o600)).unwrap();
        let courier_uid: u32 = id(&["-u", "courier"]).parse().unwrap();
        chown(&pem_path, Some(courier_uid), None).unwrap();
        fs::write(
            base.join("etc/authdaemonrc"),
            "authmodulelist=\"authuserdb\"\ndaemons=3\n\
             authdaemonvar=/run/courier/authdaemon\nDEBUG_LOGIN=0\nDEFAULTOPTIONS=\"\"\n",
        )
        .unwrap();
        let (mail_uid, mail_gid) = super::env::nobody();
        let c = Courier {
            pop3_port: 0,
            pop3s_port: 0,
            mail_uid,
            mail_gid,
            users: Mutex::new(Vec::new()),
            next_file: AtomicU64::new(0),
            child: None,
            dir,
        };
        c.write_userdb();
        c.launch()
    }

    /// Runs the server in its namespace, retrying with other ports when a
    /// port was taken in between.
    fn launch(mut self) -> Option<Courier> {
        let base = self.dir.path().to_path_buf();
        let root = courier_root();
        let prog = |p: &str| sh_quote(&root.join(p).display().to_string());
        let mut last_failure = String::new();
        for _attempt in 0..5 {
            let (pop3, pop3s) = (free_port(), free_port());
            if pop3 == pop3s {
                continue;
            }
            let b = |p: &str| sh_quote(&base.join(p).display().to_string());
            let tcpd = |port: u16, log: &str, tls: &str| {
                format!(
                    "{} -address=127.0.0.1 -maxprocs=40 -maxperip=40 -nodnslookup \
                     -noidentlookup -stderr={} {port} {tls}{} {} Maildir",
                    prog("usr/sbin/couriertcpd"),
                    b(log),
                    prog("usr/lib/courier/courier/courierpop3login"),
                    prog("usr/lib/courier/courier/courierpop3d"),
                )
            };
            // Runs as root inside the new mount namespace: bind this test's
            // directories over Courier's fixed ones, compile the userdb,
            // start the authentication daemon and both listeners.
            let script = format!(
                "set -e\n\
                 mount --bind {etc} /etc/courier\n\
                 mount --bind {run} /run/courier\n\
                 {MAKEUSERDB}\n\
                 {AUTHDAEMOND} >{authlog} 2>&1 &\n\
                 {implicit} &\n\
                 exec {plain}\n",
                etc = b("etc"),
                run = b("run"),
                authlog = b("authdaemond.log"),
                implicit = tcpd(
                    pop3s,
                    "pop3s.log",
                    &format!("{} -server -tcpd ", prog("usr/bin/couriertls"))
                ),
                plain = tcpd(pop3, "pop3.log", ""),
            );
            fs::write(base.join("start.sh"), script).unwrap();
            let out = fs::File::create(base.join("start.out")).unwrap();
            // A mount namespace for the paths, and a pid namespace so that
            // stopping it reaches every process: couriertcpd puts itself in
            // a process group of its own, but when the namespace's first
            // process dies (and --kill-child kills it with `unshare`), the
            // kernel kills everything else in the namespace.
            let mut child = Command::new("unshare")
                .args(["-m", "-p", "--fork", "--kill-child"])
                .args(["--propagation", "private", "sh"])
                .arg(base.join("start.sh"))
                .env_clear()
                .envs([
                    ("PATH", "/usr/sbin:/usr/bin:/sbin:/bin"),
                    ("POP3AUTH", ""),
                    ("POP3AUTH_TLS", ""),
                    ("POP3_PROXY", "0"),
                    ("POP3_STARTTLS", "YES"),
                    ("POP3_TLS_REQUIRED", "0"),
                    ("TLS_VERIFYPEER", "NONE"),
                    ("MAILDIRPATH", "Maildir"),
                ])
                .env("COURIERTLS", root.join("usr/bin/couriertls"))
                .env("TLS_CERTFILE", base.join("tls/key+cert.pem"))
                .current_dir(&base)
                .stdin(Stdio::null())
                .stdout(out.try_clone().unwrap())
                .stderr(out)
                .spawn()
                .expect("spawn unshare");
            let socket = base.join("run/authdaemon/socket");
            let deadline = Instant::now() + Duration::from_secs(30);
            loop {
                if let Some(status) = child.try_wait().unwrap() {
                    last_failure = format!(
                        "the Courier start script exited with {status}\n{}",
                        self.logs()
                    );
                    break;
                }
                if listening(pop3, false) && listening(pop3s, false) && socket.exists() {
                    self.child = Some(child);
                    self.pop3_port = pop3;
                    self.pop3s_port = pop3s;
                    return Some(self);
                }
                if Instant::now() > deadline {
                    self.child = Some(child);
                    self.shutdown();
                    panic!(
                        "Courier did not listen on {pop3}/{pop3s} within 30 s\n{}",
                        self.logs()
                    );
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            // Stop what did start (the other listener, the daemon).
            self.child = Some(child);
            self.shutdown();
            if !last_failure.contains("in use") {
                break;
            }
        }
        panic!("could not start Courier:\n{last_failure}");
    }

    /// Everything the server's processes wrote, for failure messages.
    pub fn logs(&self) -> String {
        ["start.out", "authdaemond.log", "pop3.log", "pop3s.log"]
            .iter()
            .map(|f| {
                format!(
                    "--- {f}:\n{}",
                    fs::read_to_string(self.dir.path().join(f)).unwrap_or_default()
                )
            })
            .collect::<Vec<_>>()
            .join("\n")
    }

    pub fn pop3_port(&self) -> u16 {
        self.pop3_port
    }

    pub fn pop3s_port(&self) -> u16 {
        self.pop3s_port
    }

    /// The CA that signed the server certificate, for `tls_ca_file`.
    pub fn ca_pem_path(&self) -> PathBuf {
        self.dir.path().join("tls/ca.pem")
    }

    fn home(&self, user: &str) -> PathBuf {
        self.dir.path().join("home").join(user)
    }

    /// The user's Maildir on the server.
    pub fn maildir(&self, user: &str) -> PathBuf {
        self.home(user).join("Maildir")
    }

    /// Writes the userdb source: one line per user, password as a
    /// SHA-512 crypt hash, mail owned by nobody.
    fn write_userdb(&self) {
        let mut text = String::new();
        for (name, password) in self.users.lock().unwrap().iter() {
            let out = Command::new("openssl")
                .args(["passwd", "-6", "-stdin"])
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .spawn()
                .and_then(|mut c| {
                    c.stdin.take().unwrap().write_all(password.as_bytes())?;
                    c.wait_with_output()
                })
                .expect("run openssl passwd");
            assert!(out.status.success(), "openssl passwd failed");
            let hash = String::from_utf8(out.stdout).unwrap();
            let home = self.home(name);
            text.push_str(&format!(
                "{name}\tuid={}|gid={}|home={}|mail={}|systempw={}\n",
                self.mail_uid,
                self.mail_gid,
                home.display(),
                home.join("Maildir").display(),
                hash.trim()
            ));
        }
        let path = self.dir.path().join("etc/userdb");
        fs::write(&path, text).unwrap();
        // makeuserdb refuses a userdb that others can read.
        fs::set_permissions(&path, fs::Permissions::from_mode(0o600)).unwrap();
    }

    /// Adds a mailbox with an empty Maildir, and recompiles the userdb in
    /// a namespace of its own (the same bind mount as the server's).
    pub fn add_user(&self, name: &str, password: &str) {
        assert!(
            !name.contains(['\t', '\n', '|', '/']) && !password.contains('\n'),
            "user names cannot hold tabs, newlines, '|' or '/'"
        );
        {
            let mut users = self.users.lock().unwrap();
            users.retain(|(n, _)| n != name);
            users.push((name.to_owned(), password.to_owned()));
        }
        self.write_userdb();
        let etc = self.dir.path().join("etc");
        run_checked(
            Command::new("unshare")
                .args(["-m", "--propagation", "private", "sh", "-c"])
                .arg(format!(
                    "mount --bind {} /etc/courier && {MAKEUSERDB}",
                    sh_quote(&etc.display().to_string())
                )),
            "makeuserdb",
        );
        mailstore::make_maildir(&self.home(name), self.owner());
    }

    /// Who the mail belongs to: the login process reads it as nobody.
    fn owner(&self) -> mailstore::Owner {
        Some((self.mail_uid, self.mail_gid))
    }

    /// Puts messages into the user's Maildir `new/`, in order (LF line
    /// endings; Courier serves them with CRLF).
    pub fn load_mailbox(&self, user: &str, messages: &[Vec<u8>]) {
        mailstore::load(&self.maildir(user), messages, &self.next_file, self.owner());
    }

    /// How many messages are left on the server for `user`.
    pub fn remaining(&self, user: &str) -> usize {
        mailstore::message_files(&self.maildir(user)).len()
    }

    fn shutdown(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        // Nothing to save: killing `unshare` ends its namespace and every
        // process in it.
        let _ = child.kill();
        let _ = child.wait();
        let ports = [self.pop3_port, self.pop3s_port];
        let closed = wait_until(Duration::from_secs(10), || {
            ports.iter().all(|&p| p == 0 || !listening(p, false))
        });
        assert!(
            closed || std::thread::panicking(),
            "Courier outlived its namespace"
        );
    }
}

impl Drop for Courier {
    fn drop(&mut self) {
        self.shutdown();
    }
}
