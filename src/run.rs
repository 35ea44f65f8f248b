//! A whole invocation: load the accounts, run the command for each (up to
//! `-j` at once), print what happened in config order, and return the exit
//! status [`crate::error`] picks: that of the first failing account in
//! config order.

use std::collections::{HashMap, VecDeque};
use std::io::Write;
use std::sync::{Arc, Condvar, Mutex, mpsc};

use crate::account::Account;
use std::io::IsTerminal;

use crate::cli::{Cli, Commands, Progress};
use crate::config;
use crate::error::{self, Error, exit};
use crate::fetch::{self, Options, Outcome};
use crate::interrupt::{Interrupt, Signal};
use crate::password;
use crate::report::{self, Reporter};
use crate::secret;
use crate::session::TraceSink;

#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    Fetch,
    Check,
    Adopt,
}

/// Run the command line; returns the exit status.
pub fn run(cli: &Cli) -> u8 {
    // Before the config (which may hold a password) is read.
    secret::protect_process();
    raise_fd_limit();
    let names = cli.account_names();
    let mode = match &cli.command {
        None | Some(Commands::Fetch { .. }) => Mode::Fetch,
        Some(Commands::Check { .. }) => Mode::Check,
        Some(Commands::Adopt { .. }) => Mode::Adopt,
        Some(Commands::Import { kind, files, state }) => {
            return crate::import::run(cli, *kind, files, *state);
        }
        Some(Commands::Accounts { names: true }) => return account_names(cli),
        Some(Commands::Accounts { names: false }) => return list_accounts(cli),
        Some(Commands::Daemon { interval, .. }) => {
            return crate::daemon::run(cli, &names, *interval);
        }
        Some(Commands::Config {
            action: crate::cli::ConfigAction::Example,
        }) => {
            let _ = std::io::stdout()
                .lock()
                .write_all(crate::cli::EXAMPLE_CONFIG.as_bytes());
            return exit::OK;
        }
        Some(Commands::Serverinfo { .. }) => return serverinfo(cli, &names),
    };
    let accounts = match load(cli, &names) {
        Ok(a) => a,
        Err(code) => return code,
    };
    let accounts = match shard(cli, accounts) {
        Ok(a) => a,
        Err(code) => return code,
    };
    let interrupt = Interrupt::new();
    if let Err(e) = interrupt.install() {
        report::say!("popfetch: cannot catch Ctrl-C ({e}); an interrupt will end the run abruptly");
    }
    run_accounts(cli, &accounts, mode, &interrupt, &mut |_, _| {})
}

/// Raise the soft limit on open files to the hard limit, where there is
/// one (`-j` accounts at once each hold a socket, a message file, state
/// and journal files). Each account's need is bounded (see
/// `deliver::maildir`), so this is headroom, not a requirement: where the
/// raise is not allowed, the run goes on. Programs popfetch starts inherit
/// the raised limit.
fn raise_fd_limit() {
    use rustix::process::{Resource, Rlimit, getrlimit, setrlimit};
    let limit = getrlimit(Resource::Nofile);
    if let (Some(current), Some(maximum)) = (limit.current, limit.maximum)
        && current < maximum
    {
        let _ = setrlimit(
            Resource::Nofile,
            Rlimit {
                current: Some(maximum),
                maximum: Some(maximum),
            },
        );
    }
}

/// The selected accounts, the config's warnings printed; or the exit
/// status, the error printed.
pub(crate) fn load(cli: &Cli, names: &[String]) -> Result<Vec<Account>, u8> {
    match config::load(cli, names) {
        Ok(loaded) => {
            for w in &loaded.warnings {
                report::say!("popfetch: warning: {w}");
            }
            if !cli.global.quiet {
                for n in &loaded.notices {
                    report::say!("popfetch: note: {n}");
                }
            }
            Ok(loaded.accounts)
        }
        Err(e) => {
            let e = Error::from(crate::cli::mistyped_subcommand(cli, &e).unwrap_or(e));
            report::say!("popfetch: {e}");
            Err(e.exit_code())
        }
    }
}

/// The accounts of this run's shard, after every state directory is
/// claimed for it (see [`claim_state_dirs`]); or the exit status.
pub(crate) fn shard(cli: &Cli, accounts: Vec<Account>) -> Result<Vec<Account>, u8> {
    claim_state_dirs(cli, &accounts)?;
    Ok(select_shard(cli, accounts))
}

/// With `--shard`, only the accounts of that shard (see [`crate::shard`]);
/// a shard with none of them says so, unless `-q`.
fn select_shard(cli: &Cli, mut accounts: Vec<Account>) -> Vec<Account> {
    let Some(shard) = cli.global.shard else {
        return accounts;
    };
    accounts.retain(|a| shard.contains(&a.name));
    if accounts.is_empty() && !cli.global.quiet {
        report::say!("popfetch: note: shard {shard} has none of the selected accounts");
    }
    accounts
}

/// Every state directory of the accounts (all of them, before `--shard`
/// picks some, so that a shard claims its directory even when it has no
/// account to run) must be this shard's, or no shard's.
fn claim_state_dirs(cli: &Cli, accounts: &[Account]) -> Result<(), u8> {
    let mut dirs: Vec<&std::path::Path> = Vec::new();
    for a in accounts {
        if !dirs.contains(&a.state_dir.as_path()) {
            dirs.push(&a.state_dir);
        }
    }
    for dir in dirs {
        if let Err(e) = crate::shard::claim(dir, cli.global.shard) {
            let e = Error::from(e);
            report::say!("popfetch: {e}");
            return Err(e.exit_code());
        }
    }
    Ok(())
}

/// The per-server connection cap (`max_connections_per_host`): a worker
/// takes the first account, in config order, whose server has fewer
/// sessions open than the account's cap, and waits while there is none.
/// Waiting workers hold nothing else: no socket, no file, no buffer.
/// Accounts on other servers overtake those that wait, so one slow
/// provider does not idle the whole run.
struct Slots<'a> {
    accounts: &'a [Account],
    /// Per account, its server's index in [`SlotState::open`]: worked out
    /// once, not on every look at the queue.
    server: Vec<usize>,
    inner: Mutex<SlotState>,
    freed: Condvar,
}

struct SlotState {
    /// Indexes of the accounts not yet taken, in config order.
    pending: VecDeque<usize>,
    /// Sessions open per server (`host:port`, host in lower case).
    open: Vec<usize>,
}

impl<'a> Slots<'a> {
    fn new(accounts: &'a [Account]) -> Self {
        let mut servers: HashMap<(String, u16), usize> = HashMap::new();
        let server = accounts
            .iter()
            .map(|a| {
                let next = servers.len();
                *servers
                    .entry((a.host.to_ascii_lowercase(), a.port))
                    .or_insert(next)
            })
            .collect();
        Slots {
            accounts,
            server,
            inner: Mutex::new(SlotState {
                pending: (0..accounts.len()).collect(),
                open: vec![0; servers.len()],
            }),
            freed: Condvar::new(),
        }
    }

    /// The next account to run and whether it holds a slot (to give back
    /// with [`Slots::release`]); `None` when every account is taken. After
    /// an interrupt accounts come without a slot, at once, to be reported
    /// as not started.
    fn take(&self, interrupt: &Interrupt) -> Option<(usize, bool)> {
        let mut st = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        loop {
            if st.pending.is_empty() {
                return None;
            }
            if interrupt.is_set() {
                return st.pending.pop_front().map(|i| (i, false));
            }
            let free = st
                .pending
                .iter()
                .position(|&i| st.open[self.server[i]] < self.accounts[i].max_connections_per_host);
            if let Some(pos) = free
                && let Some(i) = st.pending.remove(pos)
            {
                st.open[self.server[i]] += 1;
                return Some((i, true));
            }
            // Woken when a slot is given back; the timeout only serves to
            // notice an interrupt.
            st = match self
                .freed
                .wait_timeout(st, std::time::Duration::from_millis(200))
            {
                Ok((st, _)) => st,
                Err(p) => p.into_inner().0,
            };
        }
    }

    fn release(&self, i: usize) {
        let mut st = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        let n = &mut st.open[self.server[i]];
        *n = n.saturating_sub(1);
        drop(st);
        self.freed.notify_all();
    }
}

/// Run `mode` over `accounts` and print each outcome; `done` is told
/// each account's outcome after it is printed. Returns the exit status.
pub(crate) fn run_accounts(
    cli: &Cli,
    accounts: &[Account],
    mode: Mode,
    interrupt: &Arc<Interrupt>,
    done: &mut dyn FnMut(&Account, &Outcome),
) -> u8 {
    let g = &cli.global;
    let trace: Option<TraceSink> = (g.verbose >= 2 && !g.quiet)
        .then(|| Arc::new(|line: &str| report::say!("{line}")) as TraceSink);
    let progress = !g.quiet
        && !g.json
        && match g.progress {
            Progress::Always => true,
            Progress::Never => false,
            Progress::Auto => std::io::stderr().is_terminal(),
        };
    let names: Vec<&str> = accounts.iter().map(|a| a.name.as_str()).collect();
    let reporter = Reporter::new(g.verbose >= 1 && !g.quiet, progress, &names);
    let print = reporter.printer();
    let quiet = g.quiet;
    interrupt.on_signal(Box::new(move |signal| match signal {
        Signal::First if quiet => {}
        Signal::First => print(
            "popfetch: interrupted: each account finishes or rolls back the message in hand and \
             saves what arrived; no other account starts (interrupt again to stop at once)",
        ),
        Signal::Again => print(
            "popfetch: interrupted again: stopping at once; nothing is lost: the next run \
             settles what this one left",
        ),
    }));
    let opts = Options {
        interrupt,
        trace,
        observer: &reporter,
    };

    // Secrets first, one account at a time, so terminal prompts never
    // interleave when accounts run in parallel.
    // A password command that an interrupt stopped ends the run: the
    // next ones are not started (obtain sees the flag), and no account
    // logs in (fetch sees it before connecting).
    let secrets: Vec<Mutex<Option<Result<secret::Secret, Error>>>> = accounts
        .iter()
        .map(|a| Mutex::new(Some(password::obtain(a, interrupt).map_err(Error::from))))
        .collect();

    let jobs = g.jobs.clamp(1, accounts.len().max(1));
    let slots = Slots::new(accounts);
    // Run account `i` (holding a connection slot when `slot`) and tell the
    // observer it finished.
    let work = |i: usize, slot: bool| -> Outcome {
        let secret = secrets[i].lock().ok().and_then(|mut s| s.take());
        let account = &accounts[i];
        let result = match secret {
            // After Ctrl-C no account starts: not even its lock or its
            // Maildir is touched.
            _ if opts.interrupt.is_set() => Outcome::failed(Error::NotStarted),
            None => Outcome::failed(Error::interrupted()),
            Some(Err(e)) => Outcome::failed(e),
            Some(Ok(s)) => match mode {
                Mode::Fetch => fetch::fetch(account, &s, &opts),
                Mode::Check => fetch::check(account, &s, &opts),
                Mode::Adopt => crate::adopt::adopt(account, &s, &opts).into(),
            },
        };
        if slot {
            slots.release(i);
        }
        opts.observer.finished(account, &result);
        result
    };
    // The next account to run and whether it holds a slot, until none is left.
    let next = || {
        slots
            .take(opts.interrupt)
            .filter(|&(i, _)| i < accounts.len())
    };
    // Print in config order as results arrive.
    let mut pending: Vec<Option<Outcome>> = (0..accounts.len()).map(|_| None).collect();
    let mut printed = 0;
    let mut first_error: Option<u8> = None;
    let mut any_new = false;
    let mut arrived = |i: usize, result: Outcome| {
        pending[i] = Some(result);
        while let Some(Some(result)) = pending.get_mut(printed).map(Option::take) {
            let account = &accounts[printed];
            match report::outcome_code(&result) {
                exit::OK => {}
                code => {
                    first_error.get_or_insert(code);
                }
            }
            any_new |= result.error.is_none() && result.summary.new > 0;
            print_outcome(cli, &reporter, account, mode, &result);
            if mode == Mode::Fetch {
                crate::log::run(account, &result);
            }
            done(account, &result);
            printed += 1;
        }
    };
    let mut workers = 0;
    if jobs == 1 {
        // On this thread: no worker thread, and its allocations share the
        // main thread's malloc arena (0.4 MB less RSS on one big fetch).
        workers = 1;
        while let Some((i, slot)) = next() {
            arrived(i, work(i, slot));
        }
    } else {
        let (tx, rx) = mpsc::channel::<(usize, Outcome)>();
        std::thread::scope(|scope| {
            for _ in 0..jobs {
                let tx = tx.clone();
                let (next, work) = (&next, &work);
                let spawned = std::thread::Builder::new().spawn_scoped(scope, move || {
                    while let Some((i, slot)) = next() {
                        if tx.send((i, work(i, slot))).is_err() {
                            break;
                        }
                    }
                });
                match spawned {
                    Ok(_) => workers += 1,
                    // Fewer workers than -j asked for (the system's limit
                    // on threads): the ones running take every account.
                    Err(e) => {
                        report::say!(
                            "popfetch: cannot start more than {workers} parallel workers ({e}); \
                             the accounts are fetched {workers} at a time"
                        );
                        break;
                    }
                }
            }
            drop(tx);
            for (i, result) in rx {
                arrived(i, result);
            }
        });
    }
    if workers == 0 && !accounts.is_empty() {
        return exit::TEMPFAIL;
    }
    error::run_code(first_error, mode == Mode::Check && !any_new)
}

fn print_outcome(cli: &Cli, reporter: &Reporter, account: &Account, mode: Mode, result: &Outcome) {
    let g = &cli.global;
    let dest = account.destination.describe();
    if g.json {
        let line = match mode {
            Mode::Fetch => report::json_line(&account.name, "fetch", &dest, result),
            Mode::Check => report::json_line(&account.name, "check", &dest, result),
            Mode::Adopt => report::adopt_json(&account.name, &dest, result),
        };
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "{line}");
    }
    let s = &result.summary;
    match &result.error {
        // Under -q, an overlapping run (cron every few minutes while a big
        // fetch is still going) says nothing: it exits 75 and the run
        // holding the lock fetches the mail. Cron mails only what needs
        // attention.
        Some(Error::Locked { .. }) if g.quiet => {}
        Some(e) => reporter.line(&report::failed_line(
            &account.name,
            &dest,
            s,
            account.policy.max_size,
            e,
        )),
        // `-q` is errors only; a run that leaves mail for a retry (exit
        // 75: deferred, or refused as temporary by the server) is told
        // too, so that the status never comes without a word.
        None if !g.json && (!g.quiet || report::outcome_code(result) != exit::OK) => match mode {
            Mode::Fetch => reporter.line(&report::fetch_line(
                &account.name,
                &dest,
                s,
                account.policy.max_size,
            )),
            Mode::Check => reporter.line(&report::check_line(&account.name, s)),
            Mode::Adopt => reporter.line(&report::adopt_line(&account.name, s)),
        },
        None => {}
    }
}

/// `popfetch accounts --names`, for shell completion: the names only,
/// from the file alone. Silent on any error (a completion has nowhere to
/// say it), exiting with the status the error has.
fn account_names(cli: &Cli) -> u8 {
    match config::account_names(cli) {
        Ok(names) => {
            let mut out = std::io::stdout().lock();
            for n in names {
                let _ = writeln!(out, "{n}");
            }
            exit::OK
        }
        Err(e) => Error::from(e).exit_code(),
    }
}

/// `popfetch accounts`: validate the config and list what it defines.
fn list_accounts(cli: &Cli) -> u8 {
    let accounts = match load(cli, &[]) {
        Ok(a) => select_shard(cli, a),
        Err(code) => return code,
    };
    let mut out = std::io::stdout().lock();
    for a in &accounts {
        if cli.global.json {
            let _ = writeln!(out, "{}", report::account_json(a));
            continue;
        }
        let tls = match a.tls {
            crate::account::TlsMode::Implicit => "tls",
            crate::account::TlsMode::Starttls => "starttls",
            crate::account::TlsMode::None => "plaintext",
        };
        let keep = if a.policy.keep { "keep" } else { "delete" };
        // The proxy's password shows as ********.
        let via = a
            .proxy
            .as_ref()
            .map(|p| format!("\tvia {p}"))
            .unwrap_or_default();
        let _ = writeln!(
            out,
            "{}\t{}\t{tls}\t{keep}\t-> {}{via}",
            a.name,
            a.mailbox_id(),
            a.destination.describe()
        );
    }
    exit::OK
}

/// `popfetch serverinfo`: what the server says about itself, no login
/// ([`crate::serverinfo`]).
fn serverinfo(cli: &Cli, names: &[String]) -> u8 {
    match load(cli, names) {
        Ok(accounts) => crate::serverinfo::run(&accounts, names, cli.global.json),
        Err(code) => code,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn account(name: &str, host: &str, cap: usize) -> Account {
        Account {
            max_connections_per_host: cap,
            ..crate::account::test_account(name, host)
        }
    }

    #[test]
    fn slots_cap_each_server_and_let_others_overtake() {
        // One server in two spellings of its host, capped at 1; another
        // server after it in config order.
        let accounts = [
            account("a", "pop.example.com", 1),
            account("b", "POP.example.com", 1),
            account("c", "other.example.com", 1),
        ];
        let slots = Slots::new(&accounts);
        let interrupt = Interrupt::new();
        assert_eq!(slots.take(&interrupt), Some((0, true)));
        // b waits for a's slot; c, on another server, goes first.
        assert_eq!(slots.take(&interrupt), Some((2, true)));
        slots.release(0);
        assert_eq!(slots.take(&interrupt), Some((1, true)));
        assert_eq!(slots.take(&interrupt), None);
    }

    #[test]
    fn after_an_interrupt_accounts_come_at_once_without_a_slot() {
        let accounts = [account("a", "h", 1), account("b", "h", 1)];
        let slots = Slots::new(&accounts);
        let interrupt = Interrupt::new();
        assert_eq!(slots.take(&interrupt), Some((0, true)));
        interrupt.trigger();
        assert_eq!(slots.take(&interrupt), Some((1, false)));
        assert_eq!(slots.take(&interrupt), None);
    }
}
