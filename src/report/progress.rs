//! What a run shows while it goes: `-v` lines and progress bars.
//!
//! A bar per account in flight, drawn on stderr: it moves as the bytes of
//! a message arrive, and counts a message once it is durable. Bars are
//! drawn wherever `--progress` says, a pipe or a file included
//! (`--progress always`), never wider than the terminal (or `COLUMNS`, or
//! 80 columns off a terminal); account names are padded to one width so
//! the bars line up, and a finished account keeps its last line in place.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::io::{self, Write};
use std::sync::Mutex;
use std::time::Duration;

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressState, ProgressStyle};

use super::say;
use super::size::human_size;
use crate::account::Account;
use crate::fetch::{Observer, Outcome};
use crate::log::Headers;
use crate::policy::Listed;
use crate::text::printable_capped;

/// Longest account name shown in a bar; longer ones are cut.
const NAME_MAX: usize = 16;

/// Prints `-v` lines and draws progress bars, one per account in flight.
/// Every line printed while bars are drawn goes through
/// [`Reporter::line`] so the two never garble each other.
pub struct Reporter {
    verbose: bool,
    bars: Option<MultiProgress>,
    /// Columns the account names take in a bar (padded, or cut).
    name_width: usize,
    /// Per account in flight.
    active: Mutex<HashMap<String, Bar>>,
    /// Bars of finished accounts, kept so that their last lines stay in
    /// place until the run ends (a dropped bar would leave the drawn area).
    finished: Mutex<Vec<ProgressBar>>,
    /// Where the bars' last line ends ([`Stderr::column`]).
    column: std::sync::Arc<std::sync::atomic::AtomicUsize>,
}

impl Drop for Reporter {
    /// The bars stay on the screen; what comes next (the shell's prompt,
    /// the next line of a log) starts on a line of its own.
    fn drop(&mut self) {
        if let Ok(mut a) = self.active.lock() {
            a.clear();
        }
        if let Ok(mut f) = self.finished.lock() {
            f.clear();
        }
        if self.column.load(std::sync::atomic::Ordering::Relaxed) > 0 {
            say!("");
        }
    }
}

struct Bar {
    bar: ProgressBar,
    /// Messages durable so far, of `total` planned.
    done: usize,
    total: usize,
}

impl Reporter {
    /// `names`: the accounts of the run, so that their bars line up.
    pub fn new(verbose: bool, progress: bool, names: &[&str]) -> Reporter {
        let name_width = names
            .iter()
            .map(|n| n.chars().count())
            .max()
            .unwrap_or(0)
            .min(NAME_MAX);
        let target = Stderr::default();
        let column = std::sync::Arc::clone(&target.column);
        Reporter {
            verbose,
            bars: progress.then(|| {
                MultiProgress::with_draw_target(ProgressDrawTarget::term_like(Box::new(target)))
            }),
            column,
            name_width,
            active: Mutex::new(HashMap::new()),
            finished: Mutex::new(Vec::new()),
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

    /// The account's name, padded or cut to the common width.
    fn prefix(&self, name: &str) -> String {
        let shown = if name.chars().count() <= self.name_width {
            crate::text::printable(name.as_bytes())
        } else {
            printable_capped(name.as_bytes(), self.name_width.saturating_sub(1))
        };
        format!("{shown:<width$}", width = self.name_width)
    }
}

fn print_between_bars(bars: Option<&MultiProgress>, text: &str) {
    match bars {
        Some(m) => m.suspend(|| say!("{text}")),
        None => say!("{text}"),
    }
}

/// The style of a bar in flight.
fn running_style() -> ProgressStyle {
    ProgressStyle::with_template(
        "{prefix} {wide_bar} {sizes:>21!} {msg:>11!} {rate:>12!} {left:>4!}",
    )
    .unwrap_or_else(|_| ProgressStyle::default_bar())
    .with_key("sizes", sizes)
    .with_key("rate", |s: &ProgressState, w: &mut dyn std::fmt::Write| {
        let _ = write!(w, "{}/s", human_size(s.per_sec() as u64));
    })
    .with_key("left", |s: &ProgressState, w: &mut dyn std::fmt::Write| {
        let _ = w.write_str(&short_duration(s.eta()));
    })
    .progress_chars("=> ")
}

/// The style of a finished account's last line: the same columns, the
/// rate and time left replaced by how it ended.
fn finished_style() -> ProgressStyle {
    ProgressStyle::with_template("{prefix} {wide_bar} {sizes:>21!} {msg:>29!}")
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .with_key("sizes", sizes)
        .progress_chars("=> ")
}

fn sizes(s: &ProgressState, w: &mut dyn std::fmt::Write) {
    let _ = write!(
        w,
        "{}/{}",
        human_size(s.pos()),
        human_size(s.len().unwrap_or(0))
    );
}

/// `12s`, `3m`, `2h`: at most four columns.
fn short_duration(d: Duration) -> String {
    let s = d.as_secs();
    match s {
        0..60 => format!("{s}s"),
        60..3600 => format!("{}m", s / 60),
        3600..360_000 => format!("{}h", s / 3600),
        _ => "--".into(),
    }
}

impl Observer for Reporter {
    fn planned(&self, account: &Account, count: usize, bytes: u64) {
        let Some(m) = &self.bars else { return };
        if count == 0 {
            return;
        }
        let Ok(mut active) = self.active.lock() else {
            return;
        };
        // A later session of the same run starts its bar over.
        if let Some(b) = active.get_mut(&account.name) {
            b.bar.set_length(bytes);
            b.bar.set_position(0);
            b.done = 0;
            b.total = count;
            b.bar.set_message(format!("0/{count}"));
            return;
        }
        let bar = ProgressBar::with_draw_target(Some(bytes), ProgressDrawTarget::hidden());
        bar.set_style(running_style());
        bar.set_prefix(self.prefix(&account.name));
        bar.set_message(format!("0/{count}"));
        let bar = m.add(bar);
        active.insert(
            account.name.clone(),
            Bar {
                bar,
                done: 0,
                total: count,
            },
        );
    }

    fn received(&self, account: &Account, bytes: u64) {
        if self.bars.is_none() {
            return;
        }
        if let Ok(active) = self.active.lock()
            && let Some(b) = active.get(&account.name)
        {
            b.bar.inc(bytes);
        }
    }

    fn wants_headers(&self) -> bool {
        self.verbose
    }

    fn delivered(
        &self,
        account: &Account,
        msg: &Listed,
        size: u64,
        dest: &str,
        headers: Option<&Headers>,
    ) {
        if let Ok(mut active) = self.active.lock()
            && let Some(b) = active.get_mut(&account.name)
        {
            b.done += 1;
            b.bar.set_message(format!("{}/{}", b.done, b.total));
        }
        if self.verbose {
            self.line(&delivered_line(&account.name, msg, size, dest, headers));
        }
    }

    fn too_big(&self, account: &Account, msg: &Listed, limit: Option<u64>) {
        if self.verbose {
            let limit = limit
                .map(|l| format!(" ({})", human_size(l)))
                .unwrap_or_default();
            self.line(&format!(
                "{}: message {} (UID {}, {}) left on the server: over max_size{limit}",
                account.name,
                msg.msg,
                uid(msg),
                human_size(msg.size)
            ));
        }
    }

    fn deferred(&self, account: &Account, msg: &Listed, why: &str) {
        if self.verbose {
            self.line(&format!(
                "{}: message {} (UID {}) deferred: {why}",
                account.name,
                msg.msg,
                uid(msg)
            ));
        }
    }

    /// Always shown, `-q` or not: the message needs its owner's attention.
    fn rejected(&self, account: &Account, msg: &Listed, why: &str) {
        self.line(&format!(
            "popfetch: {}: message {} (UID {}) not delivered: {why}; it stays on the server",
            account.name,
            msg.msg,
            uid(msg)
        ));
    }

    fn skipped(&self, account: &Account, msg: &Listed, why: &str) {
        if self.verbose {
            self.line(&format!(
                "{}: message {} (UID {}) skipped, the server refused it: {why}",
                account.name,
                msg.msg,
                uid(msg)
            ));
        }
    }

    fn finished(&self, account: &Account, outcome: &Outcome) {
        let Ok(mut active) = self.active.lock() else {
            return;
        };
        if let Some(b) = active.remove(&account.name) {
            let how = if outcome.error.is_some() {
                "stopped"
            } else {
                "done"
            };
            b.bar.set_style(finished_style());
            b.bar.set_message(format!("{}/{} {how}", b.done, b.total));
            // Left where it is, at the position it reached.
            b.bar.abandon();
            if let Ok(mut finished) = self.finished.lock() {
                finished.push(b.bar);
            }
        }
    }
}

/// A UID as a terminal may show it.
fn uid(msg: &Listed) -> String {
    printable_capped(msg.uid.as_bytes(), 70)
}

/// `-v`: `work: message 3 (UID abc, 2.1 KB) from Ann <ann@example.org>,
/// subject "Hello" -> /home/ann/Mail/work/new/...`. From and Subject are
/// decoded (RFC 2047) and made printable ([`Headers`]).
fn delivered_line(
    name: &str,
    msg: &Listed,
    size: u64,
    dest: &str,
    headers: Option<&Headers>,
) -> String {
    let mut line = format!(
        "{name}: message {} (UID {}, {})",
        msg.msg,
        uid(msg),
        human_size(size)
    );
    if let Some(h) = headers {
        let from = if h.from().is_empty() {
            "(no From)"
        } else {
            h.from()
        };
        let _ = write!(line, " from {from}, subject \"{}\"", h.subject());
    }
    let _ = write!(line, " -> {}", printable_capped(dest.as_bytes(), 500));
    line
}

/// Stderr as indicatif's terminal, wherever it goes: a terminal, a pipe
/// or a file (indicatif's own stderr target hides itself off a terminal,
/// which `--progress always` must not).
///
/// indicatif pads each line to the full width and counts on the terminal
/// to wrap before the next one; a pipe does not wrap, so a line break is
/// written where the wrap would be (on a terminal, a line feed at the end
/// of a full line lands where the wrap would have).
#[derive(Debug, Default)]
struct Stderr {
    /// The column after the last character written on this line (shared
    /// with the [`Reporter`], which ends the last line when the run ends).
    column: std::sync::Arc<std::sync::atomic::AtomicUsize>,
    /// The width of the frame being drawn.
    drawn_width: std::sync::atomic::AtomicUsize,
}

impl Stderr {
    fn put(&self, s: &str) -> io::Result<()> {
        use std::sync::atomic::Ordering::Relaxed;
        let mut err = io::stderr().lock();
        if !s.is_empty()
            && !s.starts_with(['\r', '\n'])
            && self.column.load(Relaxed) >= self.drawn_width.load(Relaxed)
            && self.column.load(Relaxed) > 0
        {
            err.write_all(b"\n")?;
            self.column.store(0, Relaxed);
        }
        err.write_all(s.as_bytes())?;
        match s.rfind(['\r', '\n']) {
            Some(at) => self.column.store(s[at + 1..].chars().count(), Relaxed),
            None => {
                self.column.fetch_add(s.chars().count(), Relaxed);
            }
        }
        Ok(())
    }

    /// Cursor movements end a line without a wrap.
    fn moved(&self, s: &str) -> io::Result<()> {
        io::stderr().lock().write_all(s.as_bytes())?;
        self.column.store(0, std::sync::atomic::Ordering::Relaxed);
        Ok(())
    }

    fn width(&self) -> u16 {
        let w = width();
        self.drawn_width
            .store(usize::from(w), std::sync::atomic::Ordering::Relaxed);
        w
    }
}

/// The width bars are drawn to: the terminal's, else `COLUMNS`, else 80.
fn width() -> u16 {
    if let Ok(size) = rustix::termios::tcgetwinsize(io::stderr())
        && size.ws_col > 0
    {
        return size.ws_col;
    }
    std::env::var("COLUMNS")
        .ok()
        .and_then(|c| c.trim().parse::<u16>().ok())
        .filter(|&c| c > 0)
        .unwrap_or(80)
}

impl indicatif::TermLike for Stderr {
    fn width(&self) -> u16 {
        self.width()
    }

    fn move_cursor_up(&self, n: usize) -> io::Result<()> {
        if n == 0 {
            return Ok(());
        }
        self.moved(&format!("\x1b[{n}A"))
    }

    fn move_cursor_down(&self, n: usize) -> io::Result<()> {
        if n == 0 {
            return Ok(());
        }
        self.moved(&format!("\x1b[{n}B"))
    }

    fn move_cursor_right(&self, n: usize) -> io::Result<()> {
        if n == 0 {
            return Ok(());
        }
        self.moved(&format!("\x1b[{n}C"))
    }

    fn move_cursor_left(&self, n: usize) -> io::Result<()> {
        if n == 0 {
            return Ok(());
        }
        self.moved(&format!("\x1b[{n}D"))
    }

    fn write_line(&self, s: &str) -> io::Result<()> {
        self.put(&format!("{s}\n"))
    }

    fn write_str(&self, s: &str) -> io::Result<()> {
        self.put(s)
    }

    fn clear_line(&self) -> io::Result<()> {
        self.moved("\r\x1b[2K")
    }

    fn flush(&self) -> io::Result<()> {
        io::stderr().flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The bar's text right of the bar itself, in columns: sizes (21),
    /// count (11), rate (12) and time left (4), with a space before each.
    const RIGHT: usize = 1 + 21 + 1 + 11 + 1 + 12 + 1 + 4;

    #[test]
    fn the_right_side_fits_its_columns() {
        assert_eq!(RIGHT, 52);
        const { assert!(NAME_MAX + 1 + RIGHT + 10 <= 80, "a bar of 10 in 80 columns") };
        for d in [0, 59, 60, 3599, 3600, 359_999, u64::MAX] {
            assert!(short_duration(Duration::from_secs(d)).len() <= 4, "{d}");
        }
        for b in [0, 1023, 1024, 10_000_000, u64::MAX] {
            assert!(format!("{}/s", human_size(b)).len() <= 12, "{b}");
            assert!(
                format!("{}/{}", human_size(b), human_size(b)).len() <= 21,
                "{b}"
            );
        }
    }

    #[test]
    fn names_line_up_and_long_ones_are_cut() {
        let r = Reporter::new(false, false, &["work", "a-very-long-account-name-indeed"]);
        assert_eq!(r.prefix("work").chars().count(), NAME_MAX);
        let cut = r.prefix("a-very-long-account-name-indeed");
        assert_eq!(cut.chars().count(), NAME_MAX);
        assert!(cut.ends_with('…'), "{cut}");
        let r = Reporter::new(false, false, &["a", "bbb"]);
        assert_eq!(r.prefix("a"), "a  ");
    }
}
