//! What a run tells its user: one summary line per account on stderr, or
//! one JSON object per account on stdout (`--json`).
//!
//! JSON schema (stable; new fields may be added, none renamed or removed;
//! `exit_code` is what popfetch exits with for the account alone, for
//! `check` 1 when it has no new mail; `ok` is true when `exit_code` is 0,
//! or 1 for `check`; the counts are what the run did, also when `error`
//! says what ended it):
//!
//! ```text
//! { "account": "work", "command": "fetch" | "check" | "adopt", "ok": true,
//!   "exit_code": 0, "error": null | "message",
//!   "new": 12, "bytes": 3400000, "deleted": 5, "too_big": 2,
//!   "held_back": 0, "on_server": 20, "recovered": 0, "deferred": 0, "skipped": 0,
//!   "rejected": 0, "seconds": 1.2,
//!   "destination": "/home/alice/Mail/work" }
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

mod listing;
pub use listing::account_json;

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
use crate::fetch::{Outcome, Skipped, Summary};
use crate::text::printable_capped;

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
    line.push_str(&skipped_part(&s.skipped));
    line.push_str(&format!(", {:.1} s", s.elapsed.as_secs_f64()));
    line
}

/// How many refused messages are named one by one; the rest are counted.
const SKIPS_NAMED: usize = 3;

/// Longest server text quoted for one refused message.
const SKIP_TEXT: usize = 200;

/// `, 1 skipped: the server refused message 3 (UID abc, 2.1 KB): [SYS/TEMP] busy (left on the server)`
fn skipped_part(skipped: &[Skipped]) -> String {
    if skipped.is_empty() {
        return String::new();
    }
    let named: Vec<String> = skipped
        .iter()
        .take(SKIPS_NAMED)
        .map(|k| {
            let code = k
                .code
                .as_ref()
                .map(|c| format!("[{c}] "))
                .unwrap_or_default();
            format!(
                "message {} (UID {}, {}): {code}{}",
                k.msg,
                printable_capped(k.uid.as_bytes(), 70),
                human_size(k.size),
                printable_capped(k.text.as_bytes(), SKIP_TEXT)
            )
        })
        .collect();
    let more = skipped.len().saturating_sub(SKIPS_NAMED);
    let more = if more > 0 {
        format!("; and {more} more")
    } else {
        String::new()
    };
    format!(
        ", {} skipped: the server refused {}{more} (left on the server)",
        skipped.len(),
        named.join("; ")
    )
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

/// The line of an account whose run ended in `e`: the error line, after
/// what the run did before it, when it did anything (an error in a later
/// session does not hide the mail an earlier one delivered and deleted):
/// `popfetch: work: 3 new (2.1 KB) -> ~/Mail, 3 deleted, 0.4 s; stopped: <error>`
pub fn failed_line(
    name: &str,
    dest: &str,
    s: &Summary,
    max_size: Option<u64>,
    e: &Error,
) -> String {
    let did_something =
        s.new > 0 || s.deleted > 0 || s.recovered > 0 || s.deferred > 0 || !s.skipped.is_empty();
    if did_something {
        format!(
            "popfetch: {}; stopped: {e}",
            fetch_line(name, dest, s, max_size)
        )
    } else {
        error_line(name, e)
    }
}

/// The exit status of one account's outcome (decided in [`error`]).
pub fn outcome_code(outcome: &Outcome) -> u8 {
    let s = &outcome.summary;
    let temporary = s.skipped.iter().filter(|k| k.temporary()).count();
    error::account_code(outcome.error.as_ref(), s.deferred, temporary, s.rejected)
}

/// One account's outcome as JSON: the counts are what the run really did,
/// also when an error ended it.
pub fn json_line(name: &str, command: &str, dest: &str, outcome: &Outcome) -> String {
    json_value(name, command, dest, outcome).to_string()
}

/// `adopt`'s JSON: the common fields, and `adopted` (UIDs newly recorded
/// as delivered; `on_server` is how many the server listed).
pub fn adopt_json(name: &str, dest: &str, outcome: &Outcome) -> String {
    let mut v = json_value(name, "adopt", dest, outcome);
    v["adopted"] = json!(outcome.summary.new);
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

fn json_value(name: &str, command: &str, dest: &str, outcome: &Outcome) -> serde_json::Value {
    let s = &outcome.summary;
    let code = match outcome_code(outcome) {
        // What `popfetch check` of this account alone exits with.
        error::exit::OK if command == "check" && s.new == 0 => error::exit::NO_NEW_MAIL,
        code => code,
    };
    let err = outcome.error.as_ref().map(ToString::to_string);
    json!({
        "account": name,
        "command": command,
        // Only a run that exits 0 is ok (and a check that found nothing,
        // 1): a deferral or a temporary refusal (exit 75, no error) is not.
        "ok": code == error::exit::OK || (command == "check" && code == error::exit::NO_NEW_MAIL),
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
        "skipped": s.skipped.len(),
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
        print_between_bars(self.bars.as_ref(), text);
    }

    /// [`Reporter::line`] for another thread (the signal thread).
    pub fn printer(&self) -> impl Fn(&str) + Send + Sync + 'static {
        let bars = self.bars.clone();
        move |text| print_between_bars(bars.as_ref(), text)
    }
}

fn print_between_bars(bars: Option<&indicatif::MultiProgress>, text: &str) {
    match bars {
        Some(m) => m.suspend(|| say!("{text}")),
        None => say!("{text}"),
    }
}

impl Reporter {}

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
    fn an_error_after_work_done_keeps_the_work_in_the_line() {
        let e = Error::Locked {
            mailbox: "a@h:1".into(),
            path: "/l".into(),
        };
        let nothing = Summary::default();
        assert_eq!(
            failed_line("work", "/m", &nothing, None, &e),
            error_line("work", &e)
        );
        let s = Summary {
            new: 3,
            bytes: 2150,
            deleted: 3,
            elapsed: Duration::from_millis(400),
            ..Summary::default()
        };
        assert_eq!(
            failed_line("work", "/m", &s, None, &e),
            format!("popfetch: work: 3 new (2.1 KB) -> /m, 3 deleted, 0.4 s; stopped: {e}")
        );
    }

    #[test]
    fn skipped_messages_are_named_with_the_servers_reason() {
        let skip = |msg: u32, code| Skipped {
            msg,
            uid: format!("abc{msg}"),
            size: 2150,
            code,
            text: "busy".into(),
        };
        let s = Summary {
            new: 1,
            bytes: 10,
            skipped: vec![skip(3, Some(crate::protocol::RespCode::SysTemp))],
            ..Summary::default()
        };
        assert_eq!(
            fetch_line("work", "/m", &s, None),
            "work: 1 new (10 bytes) -> /m, 1 skipped: the server refused message 3 \
             (UID abc3, 2.1 KB): [SYS/TEMP] busy (left on the server), 0.0 s"
        );
        let s = Summary {
            skipped: (1..=5).map(|m| skip(m, None)).collect(),
            ..Summary::default()
        };
        let line = fetch_line("work", "/m", &s, None);
        assert!(
            line.contains("5 skipped: the server refused message 1 (UID abc1, 2.1 KB): busy; ")
                && line.contains("message 3 (UID abc3, 2.1 KB): busy; and 2 more (left"),
            "{line}"
        );
    }

    #[test]
    fn json_has_the_schema() {
        let v: serde_json::Value =
            serde_json::from_str(&json_line("a", "fetch", "/m", &Outcome::default())).unwrap();
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
            "skipped",
            "rejected",
            "seconds",
            "destination",
        ] {
            assert!(v.get(key).is_some(), "{key}");
        }
        assert_eq!(v["ok"], true);
    }
}
