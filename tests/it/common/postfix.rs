//! A real Postfix on 127.0.0.1 for one test: the MTA that `smtp =`
//! hands mail to.
//!
//! Each `Postfix` lives in its own temporary directory: `conf/` with its
//! own main.cf and master.cf, its own queue_directory and data_directory,
//! a log file (`maillog_file`), and virtual mailboxes delivered to
//! Maildirs below `vmail/`. It never reads /etc/postfix and never touches
//! a system Postfix.
//!
//! The traps, and how they are avoided: every service runs without chroot
//! (the `n` in master.cf's chroot column), so no copies of /etc are
//! needed; nothing goes through the set-gid postdrop (mail arrives only by
//! SMTP, on one `127.0.0.1:PORT inet` line); `mail_owner` is the packaged
//! `postfix` user, which must own data_directory; `maillog_file_prefixes`
//! must allow the log's path; local header rewriting and the dropping of
//! Return-Path are off, so that a delivered message is the message popfetch
//! sent plus the Return-Path, Delivered-To and Received headers Postfix
//! puts on top. Postfix needs root to start (its master switches users),
//! so as another user the tests skip loudly, as the tmpfs test does;
//! without Postfix installed they skip, or fail with `CI=true`.
//!
//! It runs as `postfix -c CONF start-fg` (the master stays a child of the
//! test's process tree) and is stopped with `postfix -c CONF stop`.

use std::fs;
use std::os::unix::fs::{PermissionsExt, chown};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::dovecot::{free_port, listening};
use super::{Started, in_ci, skip_or_panic, wait_started, wait_until};

/// The domain the virtual mailboxes are in.
pub const DOMAIN: &str = "example.test";

/// How a test wants its MTA.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Local parts that have a mailbox (`alice` is `alice@example.test`).
    pub mailboxes: Vec<String>,
    /// `check_sender_access` entries: a sender address and what to do with
    /// mail from it (`DEFER reason`, `REJECT reason`).
    pub senders: Vec<(String, String)>,
    /// EHLO keywords to hide (`smtpd_discard_ehlo_keywords`), e.g.
    /// `chunking` to make clients use DATA.
    pub discard_ehlo: Vec<String>,
}

impl Options {
    pub fn mailbox(mut self, local: &str) -> Self {
        self.mailboxes.push(local.to_owned());
        self
    }

    pub fn sender(mut self, address: &str, action: &str) -> Self {
        self.senders.push((address.to_owned(), action.to_owned()));
        self
    }

    pub fn discard_ehlo(mut self, keyword: &str) -> Self {
        self.discard_ehlo.push(keyword.to_owned());
        self
    }
}

/// A running Postfix; stopped when dropped.
pub struct Postfix {
    dir: tempfile::TempDir,
    child: Option<Child>,
    port: u16,
}

fn find_postfix() -> Option<PathBuf> {
    ["/usr/sbin/postfix", "/usr/local/sbin/postfix"]
        .map(PathBuf::from)
        .into_iter()
        .find(|p| p.is_file())
}

/// Whether the system has a user called `name`.
fn user_exists(name: &str) -> bool {
    Command::new("id")
        .arg(name)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Why Postfix cannot be used here, or `None` when it can.
pub fn unavailable_reason() -> Option<String> {
    if find_postfix().is_none() {
        return Some("Postfix is not installed (apt-get install postfix)".into());
    }
    if !user_exists("postfix") {
        return Some("the postfix user does not exist (apt-get install postfix)".into());
    }
    None
}

fn main_cf(base: &Path, opts: &Options, uid: u32, gid: u32) -> String {
    let b = base.display();
    let mut cf = format!(
        "compatibility_level = 3.6
queue_directory = {b}/queue
data_directory = {b}/data
mail_owner = postfix
setgid_group = postdrop
myhostname = popfetch-test.localdomain
mydomain = localdomain
myorigin = $myhostname
mydestination =
inet_interfaces = loopback-only
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
relayhost =
relay_domains =
maillog_file = {b}/maillog
maillog_file_prefixes = {b}
biff = no
smtputf8_enable = yes
local_header_rewrite_clients =
message_drop_headers =
enable_original_recipient = no
virtual_mailbox_domains = {DOMAIN}
virtual_mailbox_base = {b}/vmail
virtual_mailbox_maps = texthash:{b}/conf/vmailbox
virtual_uid_maps = static:{uid}
virtual_gid_maps = static:{gid}
smtpd_sender_restrictions = check_sender_access texthash:{b}/conf/senders
"
    );
    if !opts.discard_ehlo.is_empty() {
        cf.push_str(&format!(
            "smtpd_discard_ehlo_keywords = {}\n",
            opts.discard_ehlo.join(", ")
        ));
    }
    cf
}

/// Every service with `n` in the chroot column.
fn master_cf(port: u16) -> String {
    let mut cf = format!("127.0.0.1:{port} inet n - n - - smtpd\n");
    for line in [
        "cleanup unix n - n - 0 cleanup",
        "qmgr unix n - n 300 1 qmgr",
        "rewrite unix - - n - - trivial-rewrite",
        "bounce unix - - n - 0 bounce",
        "defer unix - - n - 0 bounce",
        "trace unix - - n - 0 bounce",
        "verify unix - - n - 1 verify",
        "flush unix n - n 1000? 0 flush",
        "proxymap unix - - n - - proxymap",
        "smtp unix - - n - - smtp",
        "relay unix - - n - - smtp",
        "showq unix n - n - - showq",
        "error unix - - n - - error",
        "retry unix - - n - - error",
        "discard unix - - n - - discard",
        "local unix - n n - - local",
        "virtual unix - n n - - virtual",
        "anvil unix - - n - 1 anvil",
        "scache unix - - n - 1 scache",
        "postlog unix-dgram n - n - 1 postlogd",
    ] {
        cf.push_str(line);
        cf.push('\n');
    }
    cf
}

impl Postfix {
    /// Starts an MTA, or returns `None` (after a loud message) when Postfix
    /// cannot run here. With `CI=true` that panics instead.
    pub fn start(opts: Options) -> Option<Postfix> {
        if let Some(why) = unavailable_reason() {
            skip_or_panic(in_ci(), &why);
            return None;
        }
        if !rustix::process::geteuid().is_root() {
            // Like the tmpfs test: a missing package fails CI, a run
            // without root privileges skips (loudly) wherever it is.
            let test = std::thread::current()
                .name()
                .unwrap_or("<unnamed test>")
                .to_owned();
            eprintln!(
                "\n\
                 ************************************************************************\n\
                 *** SKIPPED {test}\n\
                 *** Postfix needs root to start its master; run the tests as root\n\
                 ************************************************************************\n"
            );
            return None;
        }
        let postfix = find_postfix()?;
        let (uid, gid) = super::env::nobody();
        let dir = tempfile::Builder::new()
            .prefix("pfpf")
            .tempdir()
            .expect("temp dir");
        let base = dir.path().to_path_buf();
        // Postfix's services (as postfix and as nobody) must reach the
        // queue, the data directory and the Maildirs below.
        fs::set_permissions(&base, fs::Permissions::from_mode(0o755)).unwrap();
        for d in ["conf", "queue", "data", "vmail"] {
            fs::create_dir(base.join(d)).unwrap();
            fs::set_permissions(base.join(d), fs::Permissions::from_mode(0o755)).unwrap();
        }
        let postfix_uid = Command::new("id").args(["-u", "postfix"]).output().unwrap();
        let postfix_uid: u32 = String::from_utf8_lossy(&postfix_uid.stdout)
            .trim()
            .parse()
            .unwrap();
        chown(base.join("data"), Some(postfix_uid), None).unwrap();
        chown(base.join("vmail"), Some(uid), Some(gid)).unwrap();
        let pf = Postfix {
            dir,
            child: None,
            port: 0,
        };
        pf.write_maps(&opts);

        let mut pf = pf;
        let mut last_failure = String::new();
        for _attempt in 0..5 {
            let port = free_port();
            fs::write(base.join("conf/main.cf"), main_cf(&base, &opts, uid, gid)).unwrap();
            fs::write(base.join("conf/master.cf"), master_cf(port)).unwrap();
            let out = fs::File::create(base.join("postfix.out")).unwrap();
            let mut child = Command::new(&postfix)
                .arg("-c")
                .arg(base.join("conf"))
                .arg("start-fg")
                .current_dir(&base)
                .stdin(Stdio::null())
                .stdout(out.try_clone().unwrap())
                .stderr(out)
                .spawn()
                .expect("spawn postfix");
            match wait_started(&mut child, Duration::from_secs(30), || {
                listening(port, false)
            }) {
                Started::Ready => {
                    pf.child = Some(child);
                    pf.port = port;
                    return Some(pf);
                }
                Started::Exited(status) => {
                    last_failure = format!(
                        "postfix exited with {status}\n--- output:\n{}\n--- log:\n{}",
                        fs::read_to_string(base.join("postfix.out")).unwrap_or_default(),
                        pf.log()
                    );
                }
                Started::TimedOut => {
                    pf.child = Some(child);
                    pf.shutdown();
                    panic!("postfix did not listen on {port} within 30 s\n{}", pf.log());
                }
            }
            if !last_failure.contains("in use") {
                break;
            }
        }
        panic!("could not start postfix:\n{last_failure}");
    }

    /// The mailbox map and the sender access table (`texthash:`, read as
    /// is; a running Postfix sees changes after [`Postfix::reload`]).
    fn write_maps(&self, opts: &Options) {
        let conf = self.dir.path().join("conf");
        let mut mailboxes = String::new();
        for m in &opts.mailboxes {
            mailboxes.push_str(&format!("{m}@{DOMAIN} {m}/Maildir/\n"));
        }
        fs::write(conf.join("vmailbox"), mailboxes).unwrap();
        let mut senders = String::new();
        for (s, action) in &opts.senders {
            senders.push_str(&format!("{s} {action}\n"));
        }
        fs::write(conf.join("senders"), senders).unwrap();
    }

    /// New mailboxes and sender rules, then `postfix reload`; waits until
    /// the SMTP server answers with the new ones.
    pub fn reconfigure(&self, opts: &Options) {
        self.write_maps(opts);
        let before = self.log().matches("reload -- version").count();
        self.postfix(&["reload"]);
        assert!(
            wait_until(Duration::from_secs(10), || {
                self.log().matches("reload -- version").count() > before
            }),
            "postfix did not reload:\n{}",
            self.log()
        );
        // Running smtpd processes keep the old tables until they exit.
        std::thread::sleep(Duration::from_millis(500));
    }

    fn postfix(&self, args: &[&str]) {
        let out = Command::new(find_postfix().expect("postfix"))
            .arg("-c")
            .arg(self.dir.path().join("conf"))
            .args(args)
            .stdin(Stdio::null())
            .output()
            .expect("run postfix");
        assert!(
            out.status.success(),
            "postfix {args:?}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// The SMTP port on 127.0.0.1.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `smtp = "..."` for this server.
    pub fn address(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// Everything Postfix logged so far.
    pub fn log(&self) -> String {
        fs::read_to_string(self.dir.path().join("maillog")).unwrap_or_default()
    }

    /// The Maildir of `local`@example.test.
    pub fn maildir(&self, local: &str) -> PathBuf {
        self.dir.path().join("vmail").join(local).join("Maildir")
    }

    /// Files in `local`'s Maildir `new/` (0 before the first delivery).
    pub fn delivered_count(&self, local: &str) -> usize {
        fs::read_dir(self.maildir(local).join("new"))
            .map(|rd| rd.count())
            .unwrap_or(0)
    }

    /// Whether the queue holds no message (every accepted one delivered,
    /// or deferred: see the log).
    pub fn queue_empty(&self) -> bool {
        ["incoming", "active", "deferred", "hold", "maildrop"]
            .iter()
            .all(|q| count_below(&self.dir.path().join("queue").join(q)) == 0)
    }

    /// Waits until the queue is empty, then returns `local`'s messages.
    pub fn settle(&self, local: &str) -> Vec<Vec<u8>> {
        assert!(
            wait_until(Duration::from_secs(30), || self.queue_empty()),
            "postfix still holds mail after 30 s:\n{}",
            self.log()
        );
        super::env::read_maildir(&self.maildir(local))
    }

    fn shutdown(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        let _ = Command::new(find_postfix().unwrap_or_else(|| "postfix".into()))
            .arg("-c")
            .arg(self.dir.path().join("conf"))
            .arg("stop")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        let deadline = Instant::now() + Duration::from_secs(15);
        while child.try_wait().ok().flatten().is_none() {
            if Instant::now() > deadline {
                let _ = Command::new(find_postfix().unwrap_or_else(|| "postfix".into()))
                    .arg("-c")
                    .arg(self.dir.path().join("conf"))
                    .arg("abort")
                    .status();
                let _ = child.kill();
                let _ = child.wait();
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

/// Files below `dir`, at any depth (Postfix hashes queue directories).
fn count_below(dir: &Path) -> usize {
    let Ok(rd) = fs::read_dir(dir) else {
        return 0;
    };
    rd.flatten()
        .map(|e| {
            let p = e.path();
            if p.is_dir() { count_below(&p) } else { 1 }
        })
        .sum()
}

impl Drop for Postfix {
    fn drop(&mut self) {
        self.shutdown();
    }
}
