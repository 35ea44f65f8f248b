//! A layer of settings: what one section of the file, or the command line,
//! sets, each setting with where it was written. Layers stack: a higher one
//! wins key by key ([`Layer::overlay`]).

use std::path::PathBuf;

use crate::account::{AuthChoice, Destination, PasswordSource, Pipelining, TlsMode};
use crate::transport::Proxy;

/// Where a setting was written.
#[derive(Debug, Clone)]
pub(crate) enum Origin {
    /// In the file: `FILE:LINE:COL` of the key.
    File { key_at: String, in_defaults: bool },
    /// On the command line, e.g. `--tls`.
    Flag(&'static str),
}

/// One setting and where it came from.
#[derive(Debug, Clone)]
pub(crate) struct Setting<T> {
    pub value: T,
    pub origin: Origin,
}

/// Everything one section (or the command line) sets; `None` = not set here.
#[derive(Debug, Clone, Default)]
pub(crate) struct Layer {
    pub host: Option<Setting<String>>,
    pub port: Option<Setting<u16>>,
    pub tls: Option<Setting<TlsMode>>,
    pub user: Option<Setting<String>>,
    pub password: Option<Setting<PasswordSource>>,
    pub auth: Option<Setting<AuthChoice>>,
    pub allow_plaintext: Option<Setting<bool>>,
    pub tls_ca_file: Option<Setting<PathBuf>>,
    pub tls_fingerprint: Option<Setting<String>>,
    pub tls_client_cert: Option<Setting<PathBuf>>,
    pub tls_client_key: Option<Setting<PathBuf>>,
    pub proxy: Option<Setting<Proxy>>,
    pub destination: Option<Setting<Destination>>,
    /// For `lmtp` and `smtp`: whom the message is for.
    pub recipient: Option<Setting<String>>,
    pub keep: Option<Setting<bool>>,
    pub delete_after_days: Option<Setting<u32>>,
    pub max_size: Option<Setting<u64>>,
    pub max_messages: Option<Setting<usize>>,
    pub fetch_all: Option<Setting<bool>>,
    pub timeout: Option<Setting<u64>>,
    pub state_dir: Option<Setting<PathBuf>>,
    pub pipelining: Option<Setting<Pipelining>>,
    pub received_header: Option<Setting<bool>>,
    pub commit_every: Option<Setting<usize>>,
    pub log_file: Option<Setting<PathBuf>>,
    pub syslog: Option<Setting<bool>>,
}

impl Layer {
    /// `top`'s settings where it has them, `self`'s elsewhere.
    pub fn overlay(self, top: Layer) -> Layer {
        Layer {
            host: top.host.or(self.host),
            port: top.port.or(self.port),
            tls: top.tls.or(self.tls),
            user: top.user.or(self.user),
            password: top.password.or(self.password),
            auth: top.auth.or(self.auth),
            allow_plaintext: top.allow_plaintext.or(self.allow_plaintext),
            tls_ca_file: top.tls_ca_file.or(self.tls_ca_file),
            tls_fingerprint: top.tls_fingerprint.or(self.tls_fingerprint),
            tls_client_cert: top.tls_client_cert.or(self.tls_client_cert),
            tls_client_key: top.tls_client_key.or(self.tls_client_key),
            proxy: top.proxy.or(self.proxy),
            destination: top.destination.or(self.destination),
            recipient: top.recipient.or(self.recipient),
            keep: top.keep.or(self.keep),
            delete_after_days: top.delete_after_days.or(self.delete_after_days),
            max_size: top.max_size.or(self.max_size),
            max_messages: top.max_messages.or(self.max_messages),
            fetch_all: top.fetch_all.or(self.fetch_all),
            timeout: top.timeout.or(self.timeout),
            state_dir: top.state_dir.or(self.state_dir),
            pipelining: top.pipelining.or(self.pipelining),
            received_header: top.received_header.or(self.received_header),
            commit_every: top.commit_every.or(self.commit_every),
            log_file: top.log_file.or(self.log_file),
            syslog: top.syslog.or(self.syslog),
        }
    }
}
