//! `popfetch accounts --json`: one object per account, in config order.
//!
//! ```text
//! { "account": "work", "host": "pop.example.com", "port": 995,
//!   "tls": "implicit" | "starttls" | "none", "user": "alice",
//!   "mailbox": "alice@pop.example.com:995", "auth": "auto",
//!   "password": "stored" | "command" | "prompt",
//!   "delivery": "maildir" | "mbox" | "mda" | "lmtp" | "smtp", "destination": "/home/alice/Mail/work",
//!   "keep": false, "delete_after_days": null, "max_size": null, "max_messages": null,
//!   "fetch_all": false, "timeout": 60, "proxy": null, "state_dir": "..." }
//! ```
//!
//! No secret is in it: the password source is named, never shown, and a
//! proxy's password is `********`.

use serde_json::json;

use crate::account::{Account, PasswordSource};

/// One account as JSON.
pub fn account_json(a: &Account) -> String {
    let password = match &a.password {
        // In the config file, or found in .netrc.
        PasswordSource::Literal(_) => "stored",
        PasswordSource::Command(_) => "command",
        PasswordSource::Prompt => "prompt",
    };
    let delivery = a.destination.key();
    json!({
        "account": a.name,
        "host": a.host,
        "port": a.port,
        "tls": a.tls.name(),
        "user": a.user,
        "mailbox": a.mailbox_id(),
        "auth": a.auth.name(),
        "password": password,
        "delivery": delivery,
        "destination": a.destination.describe(),
        "keep": a.policy.keep,
        "delete_after_days": a.policy.delete_after_days,
        "max_size": a.policy.max_size,
        "max_messages": a.policy.max_messages,
        "fetch_all": a.policy.fetch_all,
        "timeout": a.timeout.as_secs(),
        "proxy": a.proxy.as_ref().map(ToString::to_string),
        "state_dir": a.state_dir.display().to_string(),
    })
    .to_string()
}
