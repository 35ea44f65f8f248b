//! A real Dovecot POP3 server on 127.0.0.1 for one test.
//!
//! Each `Dovecot` lives in its own temporary directory: its own config file
//! (filled in from `tests/dovecot/dovecot.conf.in`, the template the demo
//! script uses too), base_dir, log, a throw-away CA and server certificate
//! made with the `openssl` CLI, a passwd-file with plaintext passwords (so
//! APOP, CRAM-MD5 and SCRAM work) and one Maildir per user. It never reads
//! /etc/dovecot and never touches a system Dovecot. Dropping it stops the
//! master process and checks that every child went with it.
//!
//! Dovecot refuses to access mail as root, so when the tests run as root the
//! Maildirs belong to `nobody` and the temporary tree is made reachable for
//! that user; as an ordinary user everything runs as that user.

use std::fs;
use std::net::TcpListener;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::sync::atomic::AtomicU64;
use std::time::{Duration, Instant};

use super::env::AccountToml;
use super::mailstore;
use super::{Started, in_ci, run_checked, skip_or_panic, wait_started, wait_until};

/// The config template shared with `scripts/demo.sh`.
pub const CONF_TEMPLATE: &str = include_str!("../../dovecot/dovecot.conf.in");
/// The OpenSSL settings for the CA and the server certificate.
pub const OPENSSL_CNF: &str = include_str!("../../dovecot/openssl.cnf");

/// Dovecot's LMTP server (dovecot-lmtpd), as Debian installs it.
const LMTP_BINARY: &str = "/usr/lib/dovecot/lmtp";

/// Where distributions put Dovecot's protocol binaries (dovecot-pop3d).
const POP3_BINARIES: &[&str] = &[
    "/usr/lib/dovecot/pop3",
    "/usr/libexec/dovecot/pop3",
    "/usr/lib64/dovecot/pop3",
    "/usr/local/libexec/dovecot/pop3",
];

/// How a test wants its server.
#[derive(Debug, Clone)]
pub struct Options {
    /// `false` starts Dovecot with `ssl = no`: CAPA offers no STLS and there
    /// is no POP3S listener.
    pub ssl: bool,
    /// `auth_mechanisms` instead of the template's (which offers them all).
    pub mechanisms: Option<String>,
    /// Listen on ::1 as well as 127.0.0.1 (see [`ipv6_loopback`]).
    pub ipv6: bool,
    /// Ask each client for a certificate signed by the fixture's CA and
    /// refuse the login of one that shows none (see
    /// [`Dovecot::client_certificate`]).
    pub client_cert: bool,
    /// Accept XOAUTH2 and OAUTHBEARER with OAuth 2 access tokens that are
    /// JWTs signed with HS256 and this key, validated by Dovecot itself
    /// (`introspection_mode = local`); the token's `sub` is the user.
    pub oauth2_key: Option<Vec<u8>>,
    /// Run Dovecot's LMTP service too, on a loopback port and on the unix
    /// socket `run/lmtp` (see [`Dovecot::lmtp_port`], [`Dovecot::lmtp_socket`]).
    /// Needs dovecot-lmtpd.
    pub lmtp: bool,
    /// With `lmtp`: `None` enforces no quota; `Some(tempfail)` enforces
    /// the message quotas [`Dovecot::set_quota`] gives, answering a full
    /// mailbox with 4xx when `tempfail` (`quota_full_tempfail`), else 5xx.
    pub quota: Option<bool>,
    /// Serve a certificate, signed by the fixture's CA, that expired on
    /// 2021-01-01 (valid from 2020-01-01): see [`expire_server_certificate`].
    pub expired: bool,
    /// Serve a few hundred clients at once: Dovecot's defaults stop at
    /// 100 processes per service (one POP3 login and one POP3 process per
    /// connection).
    pub many_clients: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            ssl: true,
            mechanisms: None,
            ipv6: false,
            client_cert: false,
            oauth2_key: None,
            lmtp: false,
            quota: None,
            expired: false,
            many_clients: false,
        }
    }
}

impl Options {
    /// A server without TLS at all.
    pub fn no_ssl() -> Self {
        Options {
            ssl: false,
            ..Options::default()
        }
    }

    /// A server listening on ::1 too, on the same ports.
    pub fn ipv6(mut self) -> Self {
        self.ipv6 = true;
        self
    }

    /// A server that wants a client certificate (see [`Options::client_cert`]).
    pub fn client_cert(mut self) -> Self {
        self.client_cert = true;
        self
    }

    /// A server taking OAuth 2 tokens signed with `key` (see
    /// [`Options::oauth2_key`]).
    pub fn oauth2(mut self, key: &[u8]) -> Self {
        self.oauth2_key = Some(key.to_vec());
        self
    }

    /// A server whose certificate expired (see [`Options::expired`]).
    pub fn expired(mut self) -> Self {
        self.expired = true;
        self
    }

    /// A server for a few hundred connections at once (see
    /// [`Options::many_clients`]).
    pub fn many_clients(mut self) -> Self {
        self.many_clients = true;
        self
    }

    /// A server that also takes mail by LMTP.
    pub fn lmtp(mut self) -> Self {
        self.lmtp = true;
        self
    }

    /// With LMTP: quotas from [`Dovecot::set_quota`] apply; a full mailbox
    /// is a temporary failure (4xx) when `tempfail`, else permanent (5xx).
    pub fn quota(mut self, tempfail: bool) -> Self {
        self.quota = Some(tempfail);
        self
    }

    /// A server offering only these SASL mechanisms (Dovecot's names,
    /// space-separated; `apop` puts a timestamp in the greeting).
    pub fn mechanisms(mut self, mechanisms: &str) -> Self {
        self.mechanisms = Some(mechanisms.to_owned());
        self
    }
}

/// How popfetch should secure its connection to this server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tls {
    Implicit,
    Starttls,
    None,
}

impl Tls {
    pub fn as_str(self) -> &'static str {
        match self {
            Tls::Implicit => "implicit",
            Tls::Starttls => "starttls",
            Tls::None => "none",
        }
    }
}

/// Who runs what: as root the Dovecot services use their packaged users and
/// the mail belongs to `nobody`; otherwise everything is the current user.
#[derive(Debug, Clone)]
struct Identity {
    internal_user: String,
    internal_group: String,
    login_user: String,
    mail_uid: u32,
    mail_gid: u32,
    /// Whether files we write must be chown'd to the mail owner.
    chown: bool,
}

/// A running Dovecot; stopped when dropped.
pub struct Dovecot {
    dir: tempfile::TempDir,
    child: Option<Child>,
    pop3_port: u16,
    pop3s_port: Option<u16>,
    lmtp_port: Option<u16>,
    ident: Identity,
    /// Name, password and extra passwd-file fields of each user.
    users: Mutex<Vec<(String, String, String)>>,
    next_file: AtomicU64,
}

/// Looks for the `dovecot` master binary in PATH and the usual sbin
/// directories (not always in a non-root PATH).
fn find_dovecot() -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin", "/usr/local/sbin", "/sbin"].map(PathBuf::from))
        .map(|d| d.join("dovecot"))
        .find(|p| p.is_file())
}

/// Why Dovecot cannot be used here, or `None` when it can.
pub fn unavailable_reason() -> Option<String> {
    if find_dovecot().is_none() {
        return Some("Dovecot is not installed (no `dovecot` binary found)".into());
    }
    if !POP3_BINARIES.iter().any(|p| Path::new(p).is_file()) {
        return Some("Dovecot's POP3 server is not installed (dovecot-pop3d)".into());
    }
    if which("openssl").is_none() {
        return Some("the openssl command is not installed".into());
    }
    None
}

pub fn which(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}

pub fn id(args: &[&str]) -> String {
    let out = Command::new("id").args(args).output().expect("run id(1)");
    assert!(
        out.status.success(),
        "id {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

fn identity() -> Identity {
    if rustix::process::geteuid().is_root() {
        let (mail_uid, mail_gid) = super::env::nobody();
        Identity {
            internal_user: "dovecot".into(),
            internal_group: "dovecot".into(),
            login_user: "dovenull".into(),
            mail_uid,
            mail_gid,
            chown: true,
        }
    } else {
        let user = id(&["-un"]);
        Identity {
            internal_user: user.clone(),
            internal_group: id(&["-gn"]),
            login_user: user,
            mail_uid: rustix::process::geteuid().as_raw(),
            mail_gid: rustix::process::getegid().as_raw(),
            chown: false,
        }
    }
}

/// A port that was free a moment ago. Dovecot binds it a little later; a
/// lost race shows up as "Address already in use" and `start` retries.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("bind 127.0.0.1:0")
        .port()
}

/// Fills in the template. Shared placeholders, same as scripts/demo.sh.
fn render_conf(base: &Path, ports: (u16, u16, u16), opts: &Options, id: &Identity) -> String {
    let (pop3_port, pop3s_port, lmtp_port) = ports;
    let ssl = opts.ssl;
    let mut out = CONF_TEMPLATE
        .replace("@BASE@", &base.display().to_string())
        .replace("@POP3_PORT@", &pop3_port.to_string())
        .replace("@POP3S_PORT@", &pop3s_port.to_string())
        .replace("@SSL@", if ssl { "yes" } else { "no" })
        .replace("@INTERNAL_USER@", &id.internal_user)
        .replace("@INTERNAL_GROUP@", &id.internal_group)
        .replace("@LOGIN_USER@", &id.login_user)
        .replace("@MAIL_UID@", &id.mail_uid.to_string())
        .replace("@MAIL_GID@", &id.mail_gid.to_string());
    out = out
        .lines()
        .map(|l| match &opts.mechanisms {
            Some(mechs) if l.starts_with("auth_mechanisms =") => {
                format!("auth_mechanisms = {mechs}\n")
            }
            _ if opts.ipv6 && l.trim_start().starts_with("listen = 127.0.0.1") => {
                format!("{l}, ::1\n")
            }
            _ if opts.ipv6 && l.trim_start().starts_with("address = 127.0.0.1") => {
                format!("{l}, ::1\n")
            }
            _ if opts.lmtp && l.starts_with("protocols = ") => format!("{l} lmtp\n"),
            _ => format!("{l}\n"),
        })
        .collect();
    if opts.client_cert {
        // Dovecot asks for the certificate in the handshake and refuses the
        // login without one; the fixture's CA publishes no CRL.
        out.push_str(&format!(
            "ssl_ca = <{base}/ca.pem\nssl_verify_client_cert = yes\n\
             auth_ssl_require_client_cert = yes\nssl_require_crl = no\n",
            base = base.display()
        ));
    }
    if opts.oauth2_key.is_some() {
        // Before the passwd-file, and final either way: a token is never
        // compared with a password.
        let passdb = format!(
            "passdb {{\n  driver = oauth2\n  mechanisms = xoauth2 oauthbearer\n  args = \
             {}/oauth2.conf.ext\n  result_failure = return-fail\n  \
             result_internalfail = return-fail\n}}\npassdb {{\n",
            base.display()
        );
        out = out.replacen("passdb {\n", &passdb, 1);
        out = out
            .lines()
            .map(|l| match l.strip_prefix("auth_mechanisms =") {
                Some(m) => format!("auth_mechanisms ={m} xoauth2 oauthbearer\n"),
                None => format!("{l}\n"),
            })
            .collect();
    }
    if opts.lmtp {
        out.push_str(&lmtp_conf(lmtp_port, opts.quota));
    }
    if opts.many_clients {
        // A login and a POP3 process per connection; the auth and anvil
        // services take every login process as a client.
        out.push_str(
            "default_process_limit = 1200\ndefault_client_limit = 5000\n\
             mail_max_userip_connections = 1000\n",
        );
    }
    // The header comment names the placeholders; everything else must be filled.
    let body: String = out
        .lines()
        .filter(|l| !l.trim_start().starts_with('#'))
        .collect();
    assert!(!body.contains('@'), "unfilled placeholder in:\n{out}");
    out
}

/// The LMTP service on 127.0.0.1:`port` and on `run/lmtp` (base_dir),
/// and with `quota`, the quota plugin for LMTP deliveries.
fn lmtp_conf(port: u16, quota: Option<bool>) -> String {
    let mut conf = format!(
        "service lmtp {{\n  inet_listener lmtp {{\n    address = 127.0.0.1\n    port = {port}\n  \
         }}\n  unix_listener lmtp {{\n    mode = 0666\n  }}\n}}\n"
    );
    if let Some(tempfail) = quota {
        conf.push_str(&format!(
            "protocol lmtp {{\n  mail_plugins = $mail_plugins quota\n}}\nplugin {{\n  \
             quota = count:User quota\n  quota_vsizes = yes\n}}\nquota_full_tempfail = {}\n",
            if tempfail { "yes" } else { "no" }
        ));
    }
    conf
}

/// Makes a CA and a server certificate for localhost, 127.0.0.1 and ::1.
pub fn make_certificates(dir: &Path) {
    let cnf = dir.join("openssl.cnf");
    fs::write(&cnf, OPENSSL_CNF).unwrap();
    let cnf = cnf.display().to_string();
    openssl(
        dir,
        &[
            "req",
            "-x509",
            "-config",
            &cnf,
            "-extensions",
            "ca",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-keyout",
            "ca.key",
            "-out",
            "ca.pem",
            "-days",
            "30",
            "-subj",
            "/CN=popfetch test CA",
        ],
    );
    issue(dir, "server", "/CN=localhost", "server");
}

/// A new key `NAME.key` (PKCS#8 PEM, as `openssl req` writes it) and a
/// certificate `NAME.pem` for it with the subject `subject` and the
/// `extensions` section of openssl.cnf, signed by the CA in `dir`.
fn issue(dir: &Path, name: &str, subject: &str, extensions: &str) {
    let cnf = dir.join("openssl.cnf").display().to_string();
    let (key, csr, cert) = (
        format!("{name}.key"),
        format!("{name}.csr"),
        format!("{name}.pem"),
    );
    openssl(
        dir,
        &[
            "req",
            "-new",
            "-config",
            &cnf,
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-keyout",
            &key,
            "-out",
            &csr,
            "-subj",
            subject,
        ],
    );
    // A random serial: certificates of one CA must not share one.
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            &csr,
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-days",
            "30",
            "-extfile",
            &cnf,
            "-extensions",
            extensions,
            "-out",
            &cert,
        ],
    );
}

/// Replaces `server.pem` in `dir` by a certificate for the same key and
/// names, from the same CA, valid only from 2020-01-01 to 2021-01-01.
/// `openssl x509` cannot set dates in the past; `openssl ca` can
/// (`-startdate`, `-enddate`), with a database of its own.
pub fn expire_server_certificate(dir: &Path) {
    fs::write(dir.join("expired-index.txt"), "").unwrap();
    fs::write(dir.join("expired-serial.txt"), "1000\n").unwrap();
    fs::write(
        dir.join("expired-ca.cnf"),
        "[ ca ]\ndefault_ca = expired\n[ expired ]\ndatabase = expired-index.txt\n\
         new_certs_dir = .\nserial = expired-serial.txt\ndefault_md = sha256\npolicy = any\n\
         unique_subject = no\n[ any ]\ncommonName = supplied\n",
    )
    .unwrap();
    openssl(
        dir,
        &[
            "ca",
            "-batch",
            "-notext",
            "-config",
            "expired-ca.cnf",
            "-cert",
            "ca.pem",
            "-keyfile",
            "ca.key",
            "-in",
            "server.csr",
            "-startdate",
            "20200101000000Z",
            "-enddate",
            "20210101000000Z",
            "-extfile",
            "openssl.cnf",
            "-extensions",
            "server",
            "-out",
            "server.pem",
        ],
    );
}

/// Runs the `openssl` command in `dir`; panics with its stderr if it fails.
pub fn openssl(dir: &Path, args: &[&str]) {
    run_checked(
        Command::new("openssl").args(args).current_dir(dir),
        &format!("openssl {args:?}"),
    );
}

/// The oauth2 passdb's settings, and its HS256 key where Dovecot's
/// `fs` dict finds it: `<azp>/<alg>/<kid>` below the prefix, each
/// `default` for a token that names none, the key base64-encoded.
fn write_oauth2_conf(base: &Path, key: &[u8]) {
    use base64::Engine as _;
    let keys = base.join("oauth2-keys");
    let dir = keys.join("default/HS256");
    fs::create_dir_all(&dir).unwrap();
    fs::write(
        dir.join("default"),
        base64::engine::general_purpose::STANDARD.encode(key),
    )
    .unwrap();
    fs::write(
        base.join("oauth2.conf.ext"),
        format!(
            "introspection_mode = local\nlocal_validation_key_dict = fs:posix:prefix={}/\n\
             username_attribute = sub\n",
            keys.display()
        ),
    )
    .unwrap();
    // Read by the unprivileged auth process.
    for p in [keys.clone(), keys.join("default"), dir.clone()] {
        fs::set_permissions(&p, fs::Permissions::from_mode(0o755)).unwrap();
    }
    for p in [dir.join("default"), base.join("oauth2.conf.ext")] {
        fs::set_permissions(&p, fs::Permissions::from_mode(0o644)).unwrap();
    }
}

/// True when something listens on 127.0.0.1:`port` (and, with `ipv6`, on
/// [::1]:`port`). Reads /proc/net/tcp{,6} rather than connecting, so
/// readiness checks leave no trace in the log.
pub fn listening(port: u16, ipv6: bool) -> bool {
    let in_table = |path: &str, addr: &str| {
        let Ok(table) = fs::read_to_string(path) else {
            return false;
        };
        let want = format!("{addr}:{port:04X}");
        table.lines().skip(1).any(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            f.len() > 3 && f[1] == want && f[3] == "0A"
        })
    };
    in_table("/proc/net/tcp", "0100007F")
        && (!ipv6 || in_table("/proc/net/tcp6", "00000000000000000000000001000000"))
}

/// Whether this machine has an IPv6 loopback to listen on.
pub fn ipv6_loopback() -> bool {
    TcpListener::bind("[::1]:0").is_ok()
}

/// (pid, start time) of the direct children of `parent`: Dovecot's services
/// are all children of the master. The start time guards against pid reuse.
fn children_of(parent: u32) -> Vec<(u32, u64)> {
    let mut out = Vec::new();
    let Ok(dir) = fs::read_dir("/proc") else {
        return out;
    };
    for entry in dir.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<u32>().ok())
        else {
            continue;
        };
        if let Some((ppid, start)) = stat_of(pid)
            && ppid == parent
        {
            out.push((pid, start));
        }
    }
    out
}

/// (ppid, starttime) from /proc/PID/stat.
fn stat_of(pid: u32) -> Option<(u32, u64)> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name may contain spaces; fields resume after the last ')'.
    let rest = &stat[stat.rfind(')')? + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    // rest starts at field 3 (state): ppid is field 4, starttime field 22.
    Some((f.get(1)?.parse().ok()?, f.get(19)?.parse().ok()?))
}

fn alive(pid: u32, start: u64) -> bool {
    // A zombie has exited; it only waits for its (new) parent to reap it.
    let zombie = fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| s.rfind(')').map(|i| s[i + 2..].starts_with('Z')))
        .unwrap_or(true);
    !zombie && stat_of(pid).is_some_and(|(_, s)| s == start)
}

fn signal(pid: u32, sig: rustix::process::Signal) {
    if let Some(pid) = rustix::process::Pid::from_raw(pid as i32) {
        let _ = rustix::process::kill_process(pid, sig);
    }
}

impl Dovecot {
    /// Starts a server, or returns `None` (after a loud message) when
    /// Dovecot is not installed. With `CI=true` a missing Dovecot panics.
    ///
    /// ```ignore
    /// let Some(dc) = Dovecot::start(Options::default()) else { return };
    /// ```
    pub fn start(opts: Options) -> Option<Dovecot> {
        if let Some(why) = unavailable_reason() {
            skip_or_panic(in_ci(), &why);
            return None;
        }
        let dovecot = find_dovecot()?;
        let ident = identity();
        // Short prefix: Dovecot's unix sockets live under base_dir and
        // socket paths are limited to 108 bytes.
        let dir = tempfile::Builder::new()
            .prefix("pfdc")
            .tempdir()
            .expect("temp dir");
        let base = dir.path().to_path_buf();
        // Dovecot's unprivileged services must reach the users file and the
        // Maildirs below; a fresh temp dir is 0700.
        fs::set_permissions(&base, fs::Permissions::from_mode(0o755)).unwrap();
        make_certificates(&base);
        if opts.expired {
            expire_server_certificate(&base);
        }
        fs::create_dir(base.join("home")).unwrap();
        fs::set_permissions(base.join("home"), fs::Permissions::from_mode(0o755)).unwrap();
        fs::write(base.join("users"), "").unwrap();
        if let Some(key) = &opts.oauth2_key {
            write_oauth2_conf(&base, key);
        }
        fs::set_permissions(base.join("users"), fs::Permissions::from_mode(0o644)).unwrap();

        if opts.lmtp && !Path::new(LMTP_BINARY).is_file() {
            skip_or_panic(
                in_ci(),
                "Dovecot's LMTP server is not installed (apt-get install dovecot-lmtpd)",
            );
            return None;
        }

        let mut last_failure = String::new();
        for _attempt in 0..5 {
            let pop3_port = free_port();
            let pop3s_port = if opts.ssl { free_port() } else { 0 };
            let lmtp_port = if opts.lmtp { free_port() } else { 0 };
            let used: Vec<u16> = [pop3_port, pop3s_port, lmtp_port]
                .into_iter()
                .filter(|p| *p != 0)
                .collect();
            if (1..used.len()).any(|i| used[i..].contains(&used[i - 1])) {
                continue;
            }
            let ports = (pop3_port, pop3s_port, lmtp_port);
            let conf = render_conf(&base, ports, &opts, &ident);
            let conf_path = base.join("dovecot.conf");
            fs::write(&conf_path, conf).unwrap();
            let out = fs::File::create(base.join("dovecot.out")).unwrap();
            let mut child = Command::new(&dovecot)
                .arg("-F")
                .arg("-c")
                .arg(&conf_path)
                .current_dir(&base)
                .stdin(Stdio::null())
                .stdout(out.try_clone().unwrap())
                .stderr(out)
                .spawn()
                .expect("spawn dovecot");

            let ready = || {
                listening(pop3_port, opts.ipv6)
                    && (!opts.ssl || listening(pop3s_port, opts.ipv6))
                    && (!opts.lmtp || listening(lmtp_port, false))
            };
            match wait_started(&mut child, Duration::from_secs(30), ready) {
                Started::Ready => {
                    return Some(Dovecot {
                        dir,
                        child: Some(child),
                        pop3_port,
                        pop3s_port: opts.ssl.then_some(pop3s_port),
                        lmtp_port: opts.lmtp.then_some(lmtp_port),
                        ident,
                        users: Mutex::new(Vec::new()),
                        next_file: AtomicU64::new(0),
                    });
                }
                Started::Exited(status) => {
                    last_failure = format!(
                        "dovecot exited with {status}\n--- output:\n{}\n--- log:\n{}",
                        fs::read_to_string(base.join("dovecot.out")).unwrap_or_default(),
                        fs::read_to_string(base.join("dovecot.log")).unwrap_or_default()
                    );
                }
                Started::TimedOut => panic!(
                    "dovecot did not listen on {pop3_port}/{pop3s_port} within 30 s\n{}",
                    fs::read_to_string(base.join("dovecot.log")).unwrap_or_default()
                ),
            }
            if !last_failure.contains("in use") {
                break;
            }
        }
        panic!("could not start dovecot:\n{last_failure}");
    }

    /// The server's temporary directory.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// Plain POP3 (offers STLS unless started with `ssl = no`).
    pub fn pop3_port(&self) -> u16 {
        self.pop3_port
    }

    /// Implicit-TLS POP3S. Panics for a server started without TLS.
    pub fn pop3s_port(&self) -> u16 {
        self.pop3s_port
            .expect("this Dovecot was started with ssl = no: it has no POP3S port")
    }

    /// The LMTP service on 127.0.0.1. Panics for a server started without
    /// LMTP.
    pub fn lmtp_port(&self) -> u16 {
        self.lmtp_port
            .expect("this Dovecot was started without LMTP: use Options::lmtp()")
    }

    /// The LMTP service's unix socket.
    pub fn lmtp_socket(&self) -> PathBuf {
        self.dir.path().join("run/lmtp")
    }

    /// The CA that signed the server certificate, for `tls_ca_file`.
    pub fn ca_pem_path(&self) -> PathBuf {
        self.dir.path().join("ca.pem")
    }

    /// A new client key and a certificate for it signed by the fixture's
    /// CA (for a server started with [`Options::client_cert`]): the paths
    /// of the certificate and of the key, PKCS#8 PEM, as `openssl req`
    /// writes it.
    pub fn client_certificate(&self, name: &str) -> (PathBuf, PathBuf) {
        let dir = self.dir.path();
        issue(dir, name, "/CN=popfetch test client", "client");
        (
            dir.join(format!("{name}.pem")),
            dir.join(format!("{name}.key")),
        )
    }

    pub fn log_path(&self) -> PathBuf {
        self.dir.path().join("dovecot.log")
    }

    /// Everything Dovecot logged so far (logins, auth failures, sessions).
    pub fn log(&self) -> String {
        fs::read_to_string(self.log_path()).unwrap_or_default()
    }

    /// Waits until the log contains `needle`. Dovecot's log process writes
    /// asynchronously, so a line can appear shortly after the client left.
    pub fn wait_log(&self, needle: &str, limit: Duration) -> bool {
        wait_until(limit, || self.log().contains(needle))
    }

    /// Waits for Dovecot to log the end of every connection, then asserts
    /// that it never saw a login (of [`super::USER`]) or any credential.
    #[track_caller]
    pub fn assert_no_login(&self) {
        self.wait_log("Disconnected", Duration::from_secs(10));
        let log = self.log();
        assert!(
            !log.contains("Login:") && !log.contains(&format!("user=<{}>", super::USER)),
            "Dovecot saw a login attempt:\n{log}"
        );
        assert!(
            !log.contains("auth failed") && !log.contains("Password mismatch"),
            "Dovecot saw credentials:\n{log}"
        );
    }

    /// The pid of the master process and of each of its children.
    pub fn processes(&self) -> Vec<u32> {
        let Some(child) = &self.child else {
            return Vec::new();
        };
        let master = child.id();
        let mut pids = vec![master];
        pids.extend(children_of(master).into_iter().map(|(p, _)| p));
        pids
    }

    fn home(&self, user: &str) -> PathBuf {
        self.dir.path().join("home").join(user)
    }

    /// The user's Maildir on the server.
    pub fn maildir(&self, user: &str) -> PathBuf {
        self.home(user).join("Maildir")
    }

    /// Who the mail must belong to.
    fn owner(&self) -> mailstore::Owner {
        self.ident
            .chown
            .then_some((self.ident.mail_uid, self.ident.mail_gid))
    }

    /// Adds a mailbox with a plaintext password and an empty Maildir.
    /// Dovecot rereads the passwd-file when it changes.
    pub fn add_user(&self, name: &str, password: &str) {
        assert!(
            !name.contains([':', '\n', '/']) && !password.contains([':', '\n']),
            "user names and passwords in the passwd-file cannot hold ':' or newlines"
        );
        let mut users = self.users.lock().unwrap();
        users.retain(|(n, _, _)| n != name);
        users.push((name.to_owned(), password.to_owned(), String::new()));
        self.write_users(&users);
        drop(users);

        mailstore::make_maildir(&self.home(name), self.owner());
    }

    /// Adds many mailboxes at once (one rewrite of the passwd-file).
    pub fn add_users(&self, users: &[(String, String)]) {
        let mut all = self.users.lock().unwrap();
        for (name, password) in users {
            assert!(!name.contains([':', '\n', '/']) && !password.contains([':', '\n']));
            all.retain(|(n, _, _)| n != name);
            all.push((name.clone(), password.clone(), String::new()));
        }
        self.write_users(&all);
        drop(all);
        for (name, _) in users {
            mailstore::make_maildir(&self.home(name), self.owner());
        }
    }

    /// Rewrites the passwd-file from `users`.
    fn write_users(&self, users: &[(String, String, String)]) {
        let mut text = String::new();
        for (n, p, extra) in users {
            text.push_str(&format!("{n}:{{PLAIN}}{p}::::::{extra}\n"));
        }
        // Replace atomically so the auth process never reads half a file,
        // and with a modification time that differs from the last one's:
        // Dovecot rereads the file when that changes.
        let tmp = self.dir.path().join("users.tmp");
        let path = self.dir.path().join("users");
        fs::write(&tmp, text).unwrap();
        fs::set_permissions(&tmp, fs::Permissions::from_mode(0o644)).unwrap();
        let last = fs::metadata(&path).and_then(|m| m.modified()).ok();
        let mtime = match last {
            Some(t) => (t + Duration::from_secs(2)).max(std::time::SystemTime::now()),
            None => std::time::SystemTime::now(),
        };
        fs::File::options()
            .write(true)
            .open(&tmp)
            .and_then(|f| f.set_modified(mtime))
            .unwrap();
        fs::rename(&tmp, path).unwrap();
    }

    /// With `Options::quota`: `user` may hold at most `messages` messages
    /// (LMTP refuses more), or any number for `None`. Dovecot looks at the
    /// passwd-file at most once a second, so this then waits a second for
    /// the next lookup to see the change.
    pub fn set_quota(&self, user: &str, messages: Option<u32>) {
        let mut users = self.users.lock().unwrap();
        let u = users
            .iter_mut()
            .find(|(n, _, _)| n == user)
            .expect("add_user first");
        u.2 = messages
            .map(|n| format!("userdb_quota_rule=*:messages={n}"))
            .unwrap_or_default();
        self.write_users(&users);
        std::thread::sleep(Duration::from_millis(1_100));
    }

    /// Puts messages into the user's Maildir `new/`, in order. Messages use
    /// LF line endings, as Maildirs do; Dovecot serves them with CRLF.
    pub fn load_mailbox(&self, user: &str, messages: &[Vec<u8>]) {
        mailstore::load(&self.maildir(user), messages, &self.next_file, self.owner());
    }

    fn message_files(&self, user: &str) -> Vec<PathBuf> {
        mailstore::message_files(&self.maildir(user))
    }

    /// How many messages are left on the server for `user`.
    pub fn remaining(&self, user: &str) -> usize {
        self.message_files(user).len()
    }

    /// The messages left on the server, sorted.
    pub fn server_messages(&self, user: &str) -> Vec<Vec<u8>> {
        let mut v: Vec<Vec<u8>> = self
            .message_files(user)
            .iter()
            .map(|p| fs::read(p).unwrap())
            .collect();
        v.sort();
        v
    }

    /// An `[account.NAME]` block for this server: host 127.0.0.1, the port
    /// that fits `tls`, this server's CA, and `received_header = false` so
    /// that delivered bytes can be compared exactly.
    pub fn account(
        &self,
        name: &str,
        user: &str,
        password: &str,
        tls: Tls,
        maildir: &Path,
    ) -> AccountToml {
        // A server without TLS has no POP3S port: only ask for it when used.
        let pop3s = if tls == Tls::Implicit {
            self.pop3s_port()
        } else {
            0
        };
        mailstore::account(
            name,
            tls,
            (self.pop3_port(), pop3s),
            (user, password),
            &self.ca_pem_path(),
            maildir,
        )
    }

    /// Stops the server now (also done on drop).
    pub fn stop(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        let master = child.id();
        let kids = children_of(master);
        // SIGTERM lets the master stop its services; they also exit on their
        // own when they see the master gone.
        signal(master, rustix::process::Signal::TERM);
        let deadline = Instant::now() + Duration::from_secs(10);
        while child.try_wait().ok().flatten().is_none() {
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                break;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        let gone = wait_until(Duration::from_secs(10), || {
            kids.iter().all(|&(p, s)| !alive(p, s))
        });
        if !gone {
            for &(p, s) in &kids {
                if alive(p, s) {
                    eprintln!("dovecot child {p} outlived its master; killing it");
                    signal(p, rustix::process::Signal::KILL);
                }
            }
        }
    }
}

impl Drop for Dovecot {
    fn drop(&mut self) {
        self.shutdown();
    }
}
