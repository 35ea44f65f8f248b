//! What a run tells its user: one summary line per account on stderr, or
//! one JSON object per account on stdout (`--json`).
//!
//! JSON schema (stable; new fields may be added, none renamed or removed):
//!
//! ```text
//! { "account": "work", "command": "fetch" | "check" | "adopt", "ok": true,
//!   "exit_code": 0, "error": null | "message",
//!   "new": 12, "bytes": 3400000, "deleted": 5, "too_big": 2,
//!   "held_back": 0, "on_server": 20, "recovered": 0, "deferred": 0, "rejected": 0,
//!   "seconds": 1.2, "destination": "/home/alice/Mail/work" }
//! ```
//!
//! `ok` is true when the run finished; `exit_code` is 75 when it left
//! messages `deferred`, 74 when a mail server `rejected` some.
//!
//! `adopt` adds `"adopted"`: the UIDs it newly recorded as delivered.
//!
//! Sizes are shown in binary units (1 KB = 1024 bytes), the same units
//! `max_size` takes.

use serde_json::json;

/// `eprintln!` that never panics: a closed stderr (a pipe into `head`, a
/// detached cron) must not turn a good run into a crash.
#[macro_export]
macro_rules! say {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stderr().lock(), $($arg)*);
    }};
}
pub use say;

use crate::error::{self, Error};
use crate::fetch::Summary;

/// `3.4 MB`, `512 bytes`.
pub fn human_size(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["KB", "MB", "GB", "TB"];
    if bytes < 1024 {
        return format!("{bytes} bytes");
    }
    let mut v = bytes as f64 / 1024.0;
    let mut unit = UNITS[0];
    for u in &UNITS[1..] {
        if v < 1024.0 {
            break;
        }
        v /= 1024.0;
        unit = u;
    }
    if v < 10.0 {
        format!("{v:.1} {unit}")
    } else {
        format!("{v:.0} {unit}")
    }
}

/// `work: 12 new (3.4 MB) -> ~/Mail/work, 5 deleted, 2 left (over 10 MB), 1.2 s`
pub fn fetch_line(name: &str, dest: &str, s: &Summary, max_size: Option<u64>) -> String {
    let mut line = if s.new == 0 {
        format!("{name}: no new mail")
    } else {
        format!("{name}: {} new ({}) -> {dest}", s.new, human_size(s.bytes))
    };
    if s.deleted > 0 {
        line.push_str(&format!(", {} deleted", s.deleted));
    }
    if s.too_big > 0 {
        let limit = max_size.map(human_size).unwrap_or_default();
        line.push_str(&format!(", {} left (over {limit})", s.too_big));
    }
    if s.held_back > 0 {
        line.push_str(&format!(", {} held back by max_messages", s.held_back));
    }
    if s.deferred > 0 {
        line.push_str(&format!(
            ", {} deferred by {} (left on the server for the next run)",
            s.deferred,
            if dest.starts_with("| ") {
                "the MDA"
            } else {
                "the mail server"
            }
        ));
    }
    if s.rejected > 0 {
        line.push_str(&format!(
            ", {} refused by the mail server (left on the server)",
            s.rejected
        ));
    }
    if s.recovered > 0 {
        line.push_str(&format!(
            ", {} recovered from an interrupted run",
            s.recovered
        ));
    }
    line.push_str(&format!(", {:.1} s", s.elapsed.as_secs_f64()));
    line
}

/// `work: 12 new (3.4 MB) on the server`
pub fn check_line(name: &str, s: &Summary) -> String {
    let mut line = if s.new == 0 {
        format!("{name}: no new mail")
    } else {
        format!(
            "{name}: {} new ({}) on the server",
            s.new,
            human_size(s.bytes)
        )
    };
    if s.too_big > 0 {
        line.push_str(&format!(", {} over max_size", s.too_big));
    }
    line
}

/// `popfetch: work: <what failed and what to do>`
pub fn error_line(name: &str, e: &Error) -> String {
    format!("popfetch: {name}: {e}")
}

/// The exit status of one account's outcome (decided in [`error`]).
pub fn outcome_code(result: &Result<Summary, Error>) -> u8 {
    error::account_code(
        result.as_ref().err(),
        result.as_ref().map_or(0, |s| s.deferred),
        result.as_ref().map_or(0, |s| s.rejected),
    )
}

/// One account's outcome as JSON.
pub fn json_line(name: &str, command: &str, dest: &str, result: &Result<Summary, Error>) -> String {
    json_value(name, command, dest, result).to_string()
}

/// `adopt`'s JSON: the common fields, and `adopted` (UIDs newly recorded
/// as delivered; `on_server` is how many the server listed).
pub fn adopt_json(name: &str, dest: &str, result: &Result<Summary, Error>) -> String {
    let mut v = json_value(name, "adopt", dest, result);
    v["adopted"] = json!(result.as_ref().map_or(0, |s| s.new));
    v.to_string()
}

/// `work: adopted 1,234 messages already on the server; they will not be downloaded`
pub fn adopt_line(name: &str, s: &Summary) -> String {
    let known = s.on_server.saturating_sub(s.new);
    match (s.on_server, s.new) {
        (0, _) => format!("{name}: the server holds no messages; nothing to adopt"),
        (_, 0) => format!(
            "{name}: all {} messages on the server were already recorded as delivered; nothing \
             to adopt",
            grouped(s.on_server)
        ),
        (_, n) => format!(
            "{name}: adopted {} message{} already on the server{}; they will not be downloaded",
            grouped(n),
            if n == 1 { "" } else { "s" },
            if known > 0 {
                format!(" ({} more were already recorded)", grouped(known))
            } else {
                String::new()
            }
        ),
    }
}

/// A count with thousands separators: `1,234`.
pub fn grouped(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn json_value(
    name: &str,
    command: &str,
    dest: &str,
    result: &Result<Summary, Error>,
) -> serde_json::Value {
    let empty = Summary::default();
    let code = outcome_code(result);
    let (s, err) = match result {
        Ok(s) => (s, None),
        Err(e) => (&empty, Some(e.to_string())),
    };
    json!({
        "account": name,
        "command": command,
        "ok": err.is_none(),
        "exit_code": code,
        "error": err,
        "new": s.new,
        "bytes": s.bytes,
        "deleted": s.deleted,
        "too_big": s.too_big,
        "held_back": s.held_back,
        "on_server": s.on_server,
        "recovered": s.recovered,
        "deferred": s.deferred,
        "rejected": s.rejected,
        "seconds": (s.elapsed.as_secs_f64() * 1000.0).round() / 1000.0,
        "destination": dest,
    })
}

/// Prints `-v` lines and draws progress bars, one per account in flight.
/// Bars go to stderr only; every line printed while bars are drawn goes
/// through [`Reporter::line`] so the two never garble each other.
pub struct Reporter {
    verbose: bool,
    bars: Option<indicatif::MultiProgress>,
    /// Per account in flight: its bar, messages done, messages planned.
    active:
        std::sync::Mutex<std::collections::HashMap<String, (indicatif::ProgressBar, usize, usize)>>,
}

impl Reporter {
    pub fn new(verbose: bool, progress: bool) -> Reporter {
        Reporter {
            verbose,
            bars: progress.then(indicatif::MultiProgress::new),
            active: std::sync::Mutex::new(std::collections::HashMap::new()),
        }
    }

    /// Print one line on stderr without tearing a progress bar.
    pub fn line(&self, text: &str) {
        match &self.bars {
            Some(m) => m.suspend(|| say!("{text}")),
            None => say!("{text}"),
        }
    }
}

impl crate::fetch::Observer for Reporter {
    fn planned(&self, account: &crate::account::Account, count: usize, bytes: u64) {
        let Some(m) = &self.bars else { return };
        if count == 0 {
            return;
        }
        let bar = m.add(indicatif::ProgressBar::new(bytes));
        let style = indicatif::ProgressStyle::with_template(
            "{prefix}: {bar:30} {binary_bytes}/{binary_total_bytes} {msg} {binary_bytes_per_sec} eta {eta}",
        )
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar());
        bar.set_style(style);
        bar.set_prefix(account.name.clone());
        bar.set_message(format!("0/{count}"));
        if let Ok(mut a) = self.active.lock() {
            a.insert(account.name.clone(), (bar, 0, count));
        }
    }

    fn delivered(
        &self,
        account: &crate::account::Account,
        msg: &crate::policy::Listed,
        bytes: u64,
        dest: &str,
    ) {
        if let Ok(mut a) = self.active.lock()
            && let Some((bar, done, total)) = a.get_mut(&account.name)
        {
            *done += 1;
            bar.inc(msg.size);
            bar.set_message(format!("{done}/{total}"));
        }
        if self.verbose {
            self.line(&format!(
                "{}: message {} (UID {}, {}) -> {}",
                account.name,
                msg.msg,
                msg.uid,
                human_size(bytes),
                dest
            ));
        }
    }

    fn deferred(&self, account: &crate::account::Account, msg: &crate::policy::Listed, why: &str) {
        if self.verbose {
            self.line(&format!(
                "{}: message {} (UID {}) deferred: {why}",
                account.name, msg.msg, msg.uid
            ));
        }
    }

    /// Always shown, `-q` or not: the message needs its owner's attention.
    fn rejected(&self, account: &crate::account::Account, msg: &crate::policy::Listed, why: &str) {
        self.line(&format!(
            "popfetch: {}: message {} (UID {}) not delivered: {why}; it stays on the server",
            account.name, msg.msg, msg.uid
        ));
    }

    fn skipped(&self, account: &crate::account::Account, msg: &crate::policy::Listed, why: &str) {
        if self.verbose {
            self.line(&format!(
                "{}: message {} (UID {}) skipped, the server refused it: {why}",
                account.name, msg.msg, msg.uid
            ));
        }
    }

    fn finished(&self, account: &crate::account::Account) {
        if let Ok(mut a) = self.active.lock()
            && let Some((bar, _, _)) = a.remove(&account.name)
        {
            bar.finish_and_clear();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn sizes() {
        assert_eq!(human_size(512), "512 bytes");
        assert_eq!(human_size(3_565_158), "3.4 MB");
        assert_eq!(human_size(10 * 1024 * 1024), "10 MB");
    }

    #[test]
    fn the_spec_example_line() {
        let s = Summary {
            new: 12,
            bytes: 3_565_158,
            deleted: 5,
            too_big: 2,
            elapsed: Duration::from_millis(1200),
            ..Summary::default()
        };
        assert_eq!(
            fetch_line("work", "~/Mail/work", &s, Some(10 * 1024 * 1024)),
            "work: 12 new (3.4 MB) -> ~/Mail/work, 5 deleted, 2 left (over 10 MB), 1.2 s"
        );
    }

    #[test]
    fn json_has_the_schema() {
        let v: serde_json::Value =
            serde_json::from_str(&json_line("a", "fetch", "/m", &Ok(Summary::default()))).unwrap();
        for key in [
            "account",
            "command",
            "ok",
            "exit_code",
            "error",
            "new",
            "bytes",
            "deleted",
            "too_big",
            "held_back",
            "on_server",
            "recovered",
            "deferred",
            "rejected",
            "seconds",
            "destination",
        ] {
            assert!(v.get(key).is_some(), "{key}");
        }
        assert_eq!(v["ok"], true);
    }
}
