//! `popfetch daemon --interval 5m [ACCOUNT]...`: fetch on a schedule until
//! stopped, for those who would rather not use cron or a systemd timer.
//!
//! Each account is fetched at start, then again one interval after its
//! fetch ended (the interval is the pause between fetches, so fetches
//! never pile up). Accounts that fall due together are fetched together,
//! up to `-j` at once, and each prints its usual line (unless `-q`, which
//! prints only the lines of accounts whose status is not 0) and writes
//! its `log_file` and `syslog` lines, exactly as a one-shot run would. No
//! timestamp is added to the lines on stderr: under systemd, journald
//! stamps them; elsewhere `log_file` has the times.
//!
//! The schedule, per account:
//!
//! - After a fetch that ended in an error (the server unreachable, the
//!   login refused, a delivery failing, ...), the account waits twice as
//!   long as the interval, then four, eight... times as long, but never
//!   more than an hour (or the interval, if that is longer); its first
//!   good fetch brings it back to the interval. Other accounts go on as
//!   usual. A server that is down, or a password that is wrong, is not
//!   hammered (some providers lock an account that fails to log in too
//!   often), and a failure is still retried within the hour. Mail left for
//!   a retry (an MDA's exit 75, a `[SYS/TEMP]` refusal) is not a failure,
//!   nor is a lock held by another popfetch run (nothing reached the
//!   server).
//! - A server that announces `LOGIN-DELAY n` in its CAPA gets no login
//!   sooner than n seconds after the last one ended, whatever the
//!   interval, SIGUSR1 included. A login refused with `[LOGIN-DELAY]`
//!   waits for the announced n (or the interval, if longer) without
//!   counting as a failure; without an announced n it backs off like a
//!   failure.
//!
//! Signals: SIGUSR1 fetches every account now (the ones backing off too;
//! one that arrives during a fetch brings another round right after it).
//! SIGHUP re-reads the config: when it is good, every account of the new
//! one is fetched at once, its backoff forgotten; when it is not, the
//! error is printed and the daemon goes on with the config it had.
//! SIGTERM and SIGINT stop it as they stop a one-shot run (the message in
//! hand is finished or rolled back, the server is left untouched, the
//! state saved), and it exits 0: being stopped is how a daemon ends. A
//! second one ends the process at once, as it ends a one-shot run.
//!
//! Passwords: each fetch obtains the account's secret again, so a
//! `password_command` runs every time (an OAuth token is always fresh);
//! a password in the config or `.netrc` is reused. No account may need a
//! terminal prompt: that is refused at start (and at a reload), since a
//! daemon has nobody to ask.
//!
//! The interval is 10 s to 1 day. `POPFETCH_TESTING_SHORT_INTERVALS=1`
//! in the environment allows down to 1 ms: the test suite uses it to run
//! a thousand rounds in seconds. It is not for use against real servers.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::mpsc::{self, RecvTimeoutError, Sender};
use std::time::{Duration, Instant};

use signal_hook::consts::{SIGHUP, SIGINT, SIGUSR1};

use crate::account::{Account, PasswordSource};
use crate::auth::AuthError;
use crate::cli::Cli;
use crate::error::{Error, exit};
use crate::fetch::Outcome;
use crate::interrupt::Interrupt;
use crate::password::SecretError;
use crate::protocol::{ProtoError, RespCode};
use crate::report::{self, say};
use crate::run::{self, Mode};

/// The shortest and longest interval.
pub(crate) const MIN_INTERVAL: Duration = Duration::from_secs(10);
pub(crate) const MAX_INTERVAL: Duration = Duration::from_secs(86_400);

/// The shortest interval when [`TESTING`] is set.
const MIN_TESTING_INTERVAL: Duration = Duration::from_millis(1);
const TESTING: &str = "POPFETCH_TESTING_SHORT_INTERVALS";

/// The longest wait after failures, unless the interval is longer.
pub(crate) const MAX_BACKOFF: Duration = Duration::from_secs(3600);

/// The longest LOGIN-DELAY honoured: the number is the server's, and one
/// near `u64::MAX` seconds would overflow an [`Instant`].
const MAX_LOGIN_DELAY: Duration = Duration::from_secs(7 * 86_400);

/// `--interval`: seconds, or a number with `ms`, `s`, `m`, `h` or `d`.
pub(crate) fn parse_interval(s: &str) -> Result<Duration, String> {
    let testing = std::env::var_os(TESTING).is_some_and(|v| v == "1");
    parse_interval_within(s, testing)
}

fn parse_interval_within(s: &str, testing: bool) -> Result<Duration, String> {
    let t = s.trim();
    let digits = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (num, unit) = t.split_at(digits);
    let bad = || {
        format!(
            "{s:?} is not an interval: write seconds (300) or a number with s, m, h or d (30s, \
             5m, 1h, 1d)"
        )
    };
    let n: u64 = num.parse().map_err(|_| bad())?;
    let interval = match unit.trim_start() {
        "" | "s" => Duration::from_secs(n),
        "ms" => Duration::from_millis(n),
        "m" | "min" => Duration::from_secs(n.saturating_mul(60)),
        "h" => Duration::from_secs(n.saturating_mul(3600)),
        "d" => Duration::from_secs(n.saturating_mul(86_400)),
        _ => return Err(bad()),
    };
    let min = if testing {
        MIN_TESTING_INTERVAL
    } else {
        MIN_INTERVAL
    };
    if interval < min {
        return Err(format!(
            "{s} is shorter than 10 s: that would hammer the server; give 10s to 1d (cron and \
             systemd timers can fetch once a minute too)"
        ));
    }
    if interval > MAX_INTERVAL {
        return Err(format!("{s} is longer than a day: give 10s to 1d"));
    }
    Ok(interval)
}

/// `5m`, `90s`, `1h`: an interval as `--interval` takes it.
pub(crate) fn shown(d: Duration) -> String {
    let secs = d.as_secs();
    if d.subsec_nanos() != 0 {
        format!("{}ms", d.as_millis())
    } else if secs > 0 && secs.is_multiple_of(86_400) {
        format!("{}d", secs / 86_400)
    } else if secs > 0 && secs.is_multiple_of(3600) {
        format!("{}h", secs / 3600)
    } else if secs > 0 && secs.is_multiple_of(60) {
        format!("{}m", secs / 60)
    } else {
        format!("{secs}s")
    }
}

/// How long an account waits after `failures` failed fetches in a row:
/// the interval doubled for each, but no more than [`MAX_BACKOFF`] (or the
/// interval, if that is longer).
pub(crate) fn backoff(interval: Duration, failures: u32) -> Duration {
    let cap = interval.max(MAX_BACKOFF);
    let factor = 1u32.checked_shl(failures.min(31)).unwrap_or(u32::MAX);
    interval.saturating_mul(factor).min(cap)
}

/// When one account is fetched next.
#[derive(Debug, Clone, Default)]
struct Slot {
    /// Not before this; `None`: now.
    next: Option<Instant>,
    /// The server's LOGIN-DELAY: no login before this, whatever asks.
    not_before: Option<Instant>,
    /// Failed fetches in a row.
    failures: u32,
}

impl Slot {
    /// When the account is due.
    fn due_at(&self) -> Option<Instant> {
        match (self.next, self.not_before) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        }
    }
}

/// What a fetch's outcome means for the schedule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Verdict {
    /// Fetch again after the interval.
    Done,
    /// Back off.
    Failed,
    /// The server refused the login with `[LOGIN-DELAY]`.
    TooSoon,
}

fn verdict(outcome: &Outcome) -> Verdict {
    let code = |e: &Error| match e {
        Error::Auth(AuthError::Refused { code, .. })
        | Error::Auth(AuthError::Protocol(ProtoError::Refused { code, .. }))
        | Error::Protocol(ProtoError::Refused { code, .. }) => code.clone(),
        _ => None,
    };
    match &outcome.error {
        None | Some(Error::Locked { .. } | Error::Interrupted { .. }) => Verdict::Done,
        Some(e) if code(e) == Some(RespCode::LoginDelay) => Verdict::TooSoon,
        Some(_) => Verdict::Failed,
    }
}

/// Every account's next fetch.
struct Schedule {
    interval: Duration,
    slots: HashMap<String, Slot>,
}

impl Schedule {
    /// Every account due now.
    fn new(interval: Duration, accounts: &[Account]) -> Schedule {
        Schedule {
            interval,
            slots: accounts
                .iter()
                .map(|a| (a.name.clone(), Slot::default()))
                .collect(),
        }
    }

    /// A new config: every account due now and its backoff forgotten, but
    /// what servers said about LOGIN-DELAY still holds.
    fn reloaded<'n>(&mut self, names: impl IntoIterator<Item = &'n str>) {
        let mut slots = HashMap::new();
        for name in names {
            let not_before = self.slots.get(name).and_then(|s| s.not_before);
            slots.insert(
                name.to_string(),
                Slot {
                    not_before,
                    ..Slot::default()
                },
            );
        }
        self.slots = slots;
    }

    /// SIGUSR1: everything due now, LOGIN-DELAY permitting.
    fn wake(&mut self) {
        for slot in self.slots.values_mut() {
            slot.next = None;
        }
    }

    fn is_due(&self, name: &str, now: Instant) -> bool {
        self.slots
            .get(name)
            .is_none_or(|s| s.due_at().is_none_or(|at| at <= now))
    }

    /// How long until the next account is due.
    fn until_next(&self, now: Instant) -> Duration {
        self.slots
            .values()
            .map(|s| s.due_at().map_or(Duration::ZERO, |at| at - now.min(at)))
            .min()
            .unwrap_or(self.interval)
    }

    /// The account's fetch that ended at `ended` came to `outcome`.
    fn after(&mut self, name: &str, ended: Instant, outcome: &Outcome) {
        let interval = self.interval;
        let slot = self.slots.entry(name.to_string()).or_default();
        let login_delay = outcome
            .summary
            .login_delay
            .filter(|n| *n > 0)
            .map(|n| Duration::from_secs(n).min(MAX_LOGIN_DELAY));
        let wait = match verdict(outcome) {
            Verdict::Done => {
                slot.failures = 0;
                interval
            }
            Verdict::TooSoon if login_delay.is_some() => interval,
            Verdict::Failed | Verdict::TooSoon => {
                slot.failures = slot.failures.saturating_add(1);
                backoff(interval, slot.failures)
            }
        };
        slot.next = Some(ended + wait);
        slot.not_before = login_delay.map(|d| ended + d);
    }
}

/// What the signal thread tells the loop.
#[derive(Debug)]
enum Event {
    Stop(&'static str),
    Reload,
    Wake,
}

/// Catch SIGINT and SIGTERM (stop: the interrupt is triggered at once,
/// cutting connections; another one ends the process), SIGHUP (reload)
/// and SIGUSR1 (fetch now), as [`Interrupt::install_daemon`] does.
fn listen(interrupt: &Arc<Interrupt>, tx: Sender<Event>) -> std::io::Result<()> {
    interrupt.install_daemon(move |sig| {
        let event = match sig {
            SIGHUP => Event::Reload,
            SIGUSR1 => Event::Wake,
            SIGINT => Event::Stop("SIGINT"),
            _ => Event::Stop("SIGTERM"),
        };
        // The loop is gone only when the daemon is ending.
        let _ = tx.send(event);
    })
}

/// The accounts, or the exit status after the error is printed: the
/// config's own errors, a state directory of another shard, and any
/// account that would need a prompt.
fn load(cli: &Cli, names: &[String]) -> Result<Vec<Account>, u8> {
    let accounts = run::shard(cli, run::load(cli, names)?)?;
    let mut status = None;
    for a in &accounts {
        if matches!(a.password, PasswordSource::Prompt) {
            let e = Error::from(SecretError::NoSource {
                account: a.name.clone(),
            });
            say!("{}", report::error_line(&a.name, &e));
            status.get_or_insert(e.exit_code());
        }
    }
    match status {
        Some(code) => Err(code),
        None => Ok(accounts),
    }
}

fn names_of(accounts: &[Account]) -> String {
    accounts
        .iter()
        .map(|a| a.name.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

/// `popfetch daemon`; returns the exit status.
pub(crate) fn run(cli: &Cli, names: &[String], interval: Duration) -> u8 {
    let quiet = cli.global.quiet;
    let interrupt = Interrupt::new();
    let (tx, rx) = mpsc::channel();
    if let Err(e) = listen(&interrupt, tx) {
        say!(
            "popfetch: daemon: warning: cannot catch signals ({e}): SIGTERM, SIGHUP and SIGUSR1 \
             will end it abruptly"
        );
    }
    let mut accounts = match load(cli, names) {
        Ok(a) => a,
        Err(code) => return code,
    };
    let mut schedule = Schedule::new(interval, &accounts);
    if !quiet {
        say!(
            "popfetch: daemon: fetching {} every {}; SIGUSR1 fetches now, SIGHUP re-reads the \
             config, SIGTERM stops",
            names_of(&accounts),
            shown(interval)
        );
    }
    let mut stopped_by = None;
    let mut pending: Vec<Event> = Vec::new();
    while stopped_by.is_none() {
        pending.extend(rx.try_iter());
        for event in pending.drain(..) {
            match event {
                Event::Stop(sig) => stopped_by = Some(sig),
                Event::Wake => schedule.wake(),
                Event::Reload => match load(cli, names) {
                    Ok(new) => {
                        accounts = new;
                        schedule.reloaded(accounts.iter().map(|a| a.name.as_str()));
                        if !quiet {
                            say!(
                                "popfetch: daemon: re-read the config; fetching {} every {}",
                                names_of(&accounts),
                                shown(interval)
                            );
                        }
                    }
                    Err(_) => say!(
                        "popfetch: daemon: the config was not re-read: fix the error above and \
                         send SIGHUP again; still fetching {} every {} as before",
                        names_of(&accounts),
                        shown(interval)
                    ),
                },
            }
        }
        if stopped_by.is_some() || interrupt.is_set() {
            break;
        }
        let now = Instant::now();
        let due: Vec<Account> = accounts
            .iter()
            .filter(|a| schedule.is_due(&a.name, now))
            .cloned()
            .collect();
        if !due.is_empty() {
            run::run_accounts(cli, &due, Mode::Fetch, &interrupt, &mut |a, outcome| {
                schedule.after(&a.name, Instant::now(), outcome);
            });
            continue;
        }
        match rx.recv_timeout(schedule.until_next(Instant::now())) {
            Ok(event) => pending.push(event),
            Err(RecvTimeoutError::Timeout) => {}
            // No signal thread: just wait.
            Err(RecvTimeoutError::Disconnected) => {
                std::thread::sleep(schedule.until_next(Instant::now()));
            }
        }
    }
    if !quiet {
        say!(
            "popfetch: daemon: stopped by {}",
            stopped_by.unwrap_or("a signal")
        );
    }
    exit::OK
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fetch::Summary;

    #[test]
    fn intervals() {
        let ok = |s: &str, secs: u64| {
            assert_eq!(
                parse_interval_within(s, false),
                Ok(Duration::from_secs(secs)),
                "{s}"
            );
        };
        ok("300", 300);
        ok("30s", 30);
        ok("5m", 300);
        ok("5 m", 300);
        ok("1h", 3600);
        ok("1d", 86_400);
        ok("10", 10);
        for bad in [
            "",
            "5x",
            "m",
            "-5m",
            "1.5h",
            "5s",
            "9",
            "0",
            "25h",
            "2d",
            "99999999999999999999",
        ] {
            let e = parse_interval_within(bad, false).unwrap_err();
            assert!(e.contains(bad), "{bad}: {e}");
        }
        assert!(
            parse_interval_within("5s", false)
                .unwrap_err()
                .contains("10s to 1d")
        );
        assert_eq!(
            parse_interval_within("20ms", true),
            Ok(Duration::from_millis(20))
        );
        assert!(parse_interval_within("20ms", false).is_err());
        assert!(parse_interval_within("0ms", true).is_err());
    }

    #[test]
    fn intervals_are_shown_as_written() {
        for s in ["30s", "5m", "90s", "1h", "1d", "25ms", "61m"] {
            let d = parse_interval_within(s, true).unwrap();
            assert_eq!(shown(d), s);
        }
        assert_eq!(shown(Duration::from_secs(7200)), "2h");
    }

    #[test]
    fn backoff_doubles_up_to_an_hour_or_the_interval() {
        let m = |n: u64| Duration::from_secs(60 * n);
        let five = m(5);
        let waits: Vec<Duration> = (0..7).map(|f| backoff(five, f)).collect();
        assert_eq!(waits, [m(5), m(10), m(20), m(40), m(60), m(60), m(60)]);
        assert_eq!(backoff(five, u32::MAX), m(60));
        let day = Duration::from_secs(86_400);
        assert_eq!(backoff(day, 3), day);
        let tiny = Duration::from_millis(1);
        assert_eq!(backoff(tiny, 2), Duration::from_millis(4));
    }

    fn outcome(error: Option<Error>, login_delay: Option<u64>) -> Outcome {
        Outcome {
            summary: Summary {
                login_delay,
                ..Summary::default()
            },
            error,
        }
    }

    fn refused(code: Option<RespCode>) -> Error {
        Error::Auth(AuthError::Refused {
            host: "h".into(),
            user: "u".into(),
            mechanism: "USER".into(),
            code,
            text: "no".into(),
        })
    }

    #[test]
    fn failures_back_off_and_a_success_resets() {
        let interval = Duration::from_secs(60);
        let mut s = Schedule::new(interval, &[]);
        s.reloaded(["a", "b"]);
        let t = Instant::now();
        assert!(s.is_due("a", t) && s.is_due("b", t));
        s.after("a", t, &outcome(Some(refused(Some(RespCode::Auth))), None));
        s.after("b", t, &outcome(None, None));
        assert_eq!(s.slots["a"].next, Some(t + 2 * interval));
        assert_eq!(s.slots["b"].next, Some(t + interval));
        assert!(!s.is_due("b", t + interval - Duration::from_millis(1)));
        assert!(s.is_due("b", t + interval));
        assert_eq!(s.until_next(t), interval);
        s.after("a", t, &outcome(Some(refused(None)), None));
        assert_eq!(s.slots["a"].next, Some(t + 4 * interval));
        s.after("a", t, &outcome(None, None));
        assert_eq!(s.slots["a"].next, Some(t + interval));
        assert_eq!(s.slots["a"].failures, 0);
        // A lock held by another run, an interrupt: no backoff.
        let locked = Error::Locked {
            mailbox: "m".into(),
            path: "p".into(),
        };
        s.after("a", t, &outcome(Some(locked), None));
        assert_eq!(s.slots["a"].next, Some(t + interval));
        s.after("a", t, &outcome(Some(Error::interrupted()), None));
        assert_eq!(s.slots["a"].next, Some(t + interval));
        // SIGUSR1: everything due.
        s.wake();
        assert!(s.is_due("a", t) && s.is_due("b", t));
    }

    #[test]
    fn login_delay_stretches_the_wait_whatever_asks() {
        let interval = Duration::from_secs(1);
        let mut s = Schedule::new(interval, &[]);
        let t = Instant::now();
        s.after("a", t, &outcome(None, Some(5)));
        assert!(!s.is_due("a", t + Duration::from_secs(4)));
        assert!(s.is_due("a", t + Duration::from_secs(5)));
        s.wake();
        assert!(!s.is_due("a", t + Duration::from_secs(4)), "SIGUSR1 too");
        assert_eq!(s.until_next(t), Duration::from_secs(5));
        // A reload forgets the backoff, not the server's LOGIN-DELAY.
        s.slots.get_mut("a").unwrap().failures = 3;
        s.reloaded(["a", "new"]);
        assert_eq!(s.slots["a"].failures, 0);
        assert!(!s.is_due("a", t + Duration::from_secs(4)));
        assert!(s.is_due("new", t));
        s.reloaded(["new"]);
        assert_eq!(s.slots.len(), 1);

        // Refused with [LOGIN-DELAY]: wait what the CAPA said, no failure.
        let mut s = Schedule::new(interval, &[]);
        let too_soon = || refused(Some(RespCode::LoginDelay));
        s.after("a", t, &outcome(Some(too_soon()), Some(5)));
        assert_eq!(s.slots["a"].failures, 0);
        assert_eq!(s.slots["a"].due_at(), Some(t + Duration::from_secs(5)));
        // Without an announced delay: back off.
        s.after("a", t, &outcome(Some(too_soon()), None));
        assert_eq!(s.slots["a"].failures, 1);
        assert_eq!(s.slots["a"].due_at(), Some(t + 2 * interval));
    }

    #[test]
    fn a_huge_login_delay_is_capped_not_a_panic() {
        let mut s = Schedule::new(Duration::from_secs(60), &[]);
        let t = Instant::now();
        s.after("a", t, &outcome(None, Some(u64::MAX)));
        assert_eq!(s.slots["a"].not_before, Some(t + MAX_LOGIN_DELAY));
    }
}
