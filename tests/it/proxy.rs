//! Fetching through a real SOCKS5 proxy: microsocks (Debian's
//! `microsocks` package), started per test on 127.0.0.1 in the foreground,
//! with a user name and password when a test wants one. The proxy logs
//! each connection it makes with the host as it was asked for, which
//! proves that popfetch handed it the host name to resolve. Through the
//! proxy, TLS and its certificate checks are those of a direct
//! connection; what the proxy refuses ends with an error that says so.

use std::fs;
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::common::corpus;
use crate::common::dovecot::{self, Dovecot, Options, Tls};
use crate::common::env::{AccountToml, OneAccount, TestEnv, assert_same_messages, config_of};
use crate::common::{PASSWORD, USER, in_ci, skip_or_panic};
use crate::hostile::scripted;

const EX_UNAVAILABLE: i32 = 69;
const EX_TEMPFAIL: i32 = 75;
const EX_NOPERM: i32 = 77;

/// The proxy's own login, distinctive so that output can be searched.
const PROXY_USER: &str = "relay";
const PROXY_PASSWORD: &str = "s0cks-pa55-not-for-logs";

/// A microsocks on 127.0.0.1, stopped when dropped.
struct Microsocks {
    child: Child,
    port: u16,
    log: PathBuf,
    _dir: tempfile::TempDir,
}

fn find_microsocks() -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain([PathBuf::from("/usr/bin"), PathBuf::from("/usr/local/bin")])
        .map(|d| d.join("microsocks"))
        .find(|p| p.is_file())
}

impl Microsocks {
    /// Starts the proxy, with `-u USER -P PASSWORD` when `login` is set;
    /// `None` (after a loud message) when microsocks is not installed, a
    /// failure with `CI=true`.
    fn start(login: bool) -> Option<Microsocks> {
        let Some(bin) = find_microsocks() else {
            skip_or_panic(
                in_ci(),
                "the SOCKS5 proxy microsocks is not installed (apt-get install microsocks)",
            );
            return None;
        };
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("microsocks.log");
        for _attempt in 0..5 {
            let port = TcpListener::bind("127.0.0.1:0")
                .and_then(|l| l.local_addr())
                .unwrap()
                .port();
            let mut cmd = Command::new(&bin);
            cmd.args(["-i", "127.0.0.1", "-p", &port.to_string()]);
            if login {
                cmd.args(["-u", PROXY_USER, "-P", PROXY_PASSWORD]);
            }
            let out = fs::File::create(&log).unwrap();
            let mut child = cmd
                .stdin(Stdio::null())
                .stdout(out.try_clone().unwrap())
                .stderr(out)
                .spawn()
                .expect("spawn microsocks");
            let deadline = Instant::now() + Duration::from_secs(10);
            while Instant::now() < deadline {
                if child.try_wait().unwrap().is_some() {
                    break; // the port was taken meanwhile: try another
                }
                // A connection that asks for nothing leaves no log line.
                if TcpStream::connect(("127.0.0.1", port)).is_ok() {
                    return Some(Microsocks {
                        child,
                        port,
                        log,
                        _dir: dir,
                    });
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
        panic!(
            "microsocks did not start:\n{}",
            fs::read_to_string(&log).unwrap_or_default()
        );
    }

    /// The proxy URL for the config, with the login when `login`.
    fn url(&self, login: Option<(&str, &str)>) -> String {
        match login {
            Some((u, p)) => format!("socks5://{u}:{p}@127.0.0.1:{}", self.port),
            None => format!("socks5://127.0.0.1:{}", self.port),
        }
    }

    /// What the proxy logged: a line per connection it made, e.g.
    /// `client[4] 127.0.0.1: connected to localhost:995`.
    fn log(&self) -> String {
        fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Microsocks {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A Dovecot reachable as `localhost` whichever address the proxy's
/// resolver gives first.
fn dovecot() -> Option<Dovecot> {
    let opts = if dovecot::ipv6_loopback() {
        Options::default().ipv6()
    } else {
        Options::default()
    };
    Dovecot::start(opts)
}

/// A proxy (with a login when `login`), and a Dovecot where `USER` has
/// three messages.
fn proxy_and_mailbox(login: bool, seed: u64) -> Option<(Microsocks, Dovecot, Vec<Vec<u8>>)> {
    let proxy = Microsocks::start(login)?;
    let dc = dovecot()?;
    dc.add_user(USER, PASSWORD);
    let msgs = corpus::corpus(seed, 3);
    dc.load_mailbox(USER, &msgs);
    Some((proxy, dc, msgs))
}

/// An account on `dc` for `user` through `proxy`, by the name
/// `localhost`, which only the proxy is to resolve.
fn via_proxy(dc: &Dovecot, user: &str, tls: Tls, maildir: &Path, proxy: &str) -> AccountToml {
    dc.account("relayed", user, PASSWORD, tls, maildir)
        .str("host", "localhost")
        .str("proxy", proxy)
}

#[test]
fn fetches_through_the_proxy_which_resolves_the_host_name() {
    let Some(proxy) = Microsocks::start(false) else {
        return;
    };
    let Some(dc) = dovecot() else { return };
    let modes = [Tls::Implicit, Tls::Starttls];
    // Every user first: Dovecot may not notice a second change to its
    // passwd-file within the same second.
    let users: Vec<(String, Vec<Vec<u8>>)> = (0..modes.len())
        .map(|i| {
            let user = format!("user{i}");
            dc.add_user(&user, PASSWORD);
            let msgs = corpus::corpus(2400 + i as u64, 4);
            dc.load_mailbox(&user, &msgs);
            (user, msgs)
        })
        .collect();
    for (tls, (user, msgs)) in modes.into_iter().zip(&users) {
        let acct = OneAccount::new(|maildir| via_proxy(&dc, user, tls, maildir, &proxy.url(None)));
        acct.run(&[]).assert_success();
        assert_same_messages(&acct.delivered(), msgs);
        assert_eq!(dc.remaining(user), 0);

        let port = match tls {
            Tls::Implicit => dc.pop3s_port(),
            _ => dc.pop3_port(),
        };
        let asked = format!("connected to localhost:{port}");
        assert!(
            proxy.log().contains(&asked),
            "{tls:?}: the proxy was given the host name to resolve; its log:\n{}",
            proxy.log()
        );
        let listed = acct.run(&["accounts"]);
        listed.assert_success();
        assert!(
            listed.stdout.contains(&format!("via {}", proxy.url(None))),
            "{listed}"
        );
    }
}

#[test]
fn the_certificate_is_checked_against_the_server_name_through_the_proxy() {
    let Some((proxy, dc, msgs)) = proxy_and_mailbox(false, 2410) else {
        return;
    };
    // No CA: refused, and the fingerprint offered for a pin is the
    // server's, fetched through the proxy too.
    let acct = OneAccount::new(|maildir| {
        via_proxy(&dc, USER, Tls::Implicit, maildir, &proxy.url(None)).remove("tls_ca_file")
    });
    let out = acct.run(&[]);
    out.assert_code(EX_UNAVAILABLE);
    assert!(out.stderr.contains("not trusted"), "{out}");
    let pin = out
        .stderr
        .split("tls_fingerprint = \"")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .unwrap_or_else(|| panic!("no fingerprint offered\n{out}"))
        .to_owned();
    assert_eq!(dc.remaining(USER), 3);

    // The pin works through the proxy.
    let acct = OneAccount::new(|maildir| {
        via_proxy(&dc, USER, Tls::Implicit, maildir, &proxy.url(None))
            .remove("tls_ca_file")
            .str("tls_fingerprint", &pin)
    });
    acct.run(&[]).assert_success();
    assert_same_messages(&acct.delivered(), &msgs);
}

#[test]
fn the_proxy_login_is_sent_and_never_shown() {
    let Some((proxy, dc, msgs)) = proxy_and_mailbox(true, 2420) else {
        return;
    };

    let url = proxy.url(Some((PROXY_USER, PROXY_PASSWORD)));
    let acct = OneAccount::new(|maildir| via_proxy(&dc, USER, Tls::Implicit, maildir, &url));
    let out = acct.run(&["-vv"]);
    out.assert_success();
    assert_same_messages(&acct.delivered(), &msgs);
    let listed = acct.run(&["accounts"]);
    assert!(
        listed
            .stdout
            .contains(&format!("via socks5://{PROXY_USER}:********@127.0.0.1:")),
        "{listed}"
    );
    for o in [&out, &listed] {
        assert!(!o.all_output().contains(PROXY_PASSWORD), "{o}");
    }

    // A wrong password, and none at all: refused, and said so.
    let wrong = proxy.url(Some((PROXY_USER, "wrong-pa55-not-for-logs")));
    for (url, says) in [
        (wrong.as_str(), "refused the user name"),
        (&proxy.url(None), "wants a user name and password"),
    ] {
        let acct = OneAccount::new(|maildir| via_proxy(&dc, USER, Tls::Implicit, maildir, url));
        let out = acct.run(&[]);
        out.assert_code(EX_NOPERM);
        assert!(
            out.stderr.contains("relayed") && out.stderr.contains(says),
            "{out}"
        );
        assert!(!out.all_output().contains("wrong-pa55"), "{out}");
    }
}

#[test]
fn what_the_proxy_cannot_reach_ends_with_its_reason() {
    let Some(proxy) = Microsocks::start(false) else {
        return;
    };
    let closed = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .unwrap()
        .port();
    let env = TestEnv::new();
    let maildir = env.path("Maildir");
    let account = |host: &str, port: u16| {
        scripted("relayed", port, &maildir, false)
            .str("host", host)
            .str("proxy", &proxy.url(None))
    };
    // Nothing listens behind the proxy.
    let cfg = env.write_config(&config_of(&[&account("127.0.0.1", closed)]));
    let out = env.run(&["-c", cfg.to_str().unwrap()]);
    out.assert_code(EX_UNAVAILABLE);
    assert!(
        out.stderr.contains("relayed")
            && out.stderr.contains("through the proxy")
            && out.stderr.contains("connection refused (SOCKS5 reply 5)"),
        "{out}"
    );
    // A name nobody resolves (RFC 6761): the proxy's answer, not a lookup
    // of popfetch's own.
    let cfg = env.write_config(&config_of(&[&account("pop.invalid", 995)]));
    let out = env.run(&["-c", cfg.to_str().unwrap()]);
    out.assert_code(EX_UNAVAILABLE);
    assert!(
        out.stderr
            .contains("cannot reach pop.invalid:995 through the proxy")
            && out.stderr.contains("SOCKS5 reply"),
        "{out}"
    );
    // No proxy at all.
    drop(proxy);
    let gone = scripted("relayed", 995, &maildir, false)
        .str("proxy", &format!("socks5://127.0.0.1:{closed}"));
    let cfg = env.write_config(&config_of(&[&gone]));
    let out = env.run(&["-c", cfg.to_str().unwrap()]);
    out.assert_code(EX_UNAVAILABLE);
    assert!(out.stderr.contains("cannot connect to the proxy"), "{out}");
}

#[test]
fn a_silent_proxy_is_a_timeout() {
    // Accepts, then says nothing.
    let silent = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = silent.local_addr().unwrap().port();
    let acct = OneAccount::new(|maildir| {
        scripted("relayed", 995, maildir, false)
            .str("proxy", &format!("socks5://127.0.0.1:{port}"))
            .raw("timeout", "2")
    });
    let out = acct.run(&[]);
    out.assert_code(EX_TEMPFAIL);
    assert!(out.stderr.contains("did not answer in time"), "{out}");
    assert!(out.elapsed < Duration::from_secs(10), "{out}");
}
