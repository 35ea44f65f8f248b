//! A whole invocation: load the accounts, run the command for each (up to
//! `-j` at once), print what happened in config order, and return the exit
//! status [`crate::error`] picks: that of the first failing account in
//! config order.

use std::io::Write;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, mpsc};

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
use crate::session::{self, TraceSink};

#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
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
        Some(Commands::Accounts) => return list_accounts(cli),
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
    let interrupt = Interrupt::new();
    if let Err(e) = interrupt.install() {
        report::say!("popfetch: cannot catch Ctrl-C ({e}); an interrupt will end the run abruptly");
    }
    run_accounts(cli, &accounts, mode, &interrupt)
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

fn load(cli: &Cli, names: &[String]) -> Result<Vec<Account>, u8> {
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

fn run_accounts(cli: &Cli, accounts: &[Account], mode: Mode, interrupt: &Arc<Interrupt>) -> u8 {
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
    let reporter = Reporter::new(g.verbose >= 1 && !g.quiet, progress);
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
    let next = AtomicUsize::new(0);
    let (tx, rx) = mpsc::channel::<(usize, Outcome)>();
    let mut first_error: Option<u8> = None;
    let mut any_new = false;
    std::thread::scope(|scope| {
        for _ in 0..jobs {
            let tx = tx.clone();
            let (next, secrets, opts) = (&next, &secrets, &opts);
            scope.spawn(move || {
                loop {
                    let i = next.fetch_add(1, Ordering::SeqCst);
                    let Some(account) = accounts.get(i) else {
                        break;
                    };
                    let secret = secrets[i].lock().ok().and_then(|mut s| s.take());
                    let result = match secret {
                        // After Ctrl-C no account starts: not even its lock
                        // or its Maildir is touched.
                        _ if opts.interrupt.is_set() => Outcome::failed(Error::NotStarted),
                        None => Outcome::failed(Error::interrupted()),
                        Some(Err(e)) => Outcome::failed(e),
                        Some(Ok(s)) => match mode {
                            Mode::Fetch => fetch::fetch(account, &s, opts),
                            Mode::Check => fetch::check(account, &s, opts),
                            Mode::Adopt => crate::adopt::adopt(account, &s, opts).into(),
                        },
                    };
                    opts.observer.finished(account);
                    if tx.send((i, result)).is_err() {
                        break;
                    }
                }
            });
        }
        drop(tx);
        // Print in config order as results arrive.
        let mut pending: Vec<Option<Outcome>> = (0..accounts.len()).map(|_| None).collect();
        let mut printed = 0;
        for (i, result) in rx {
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
                printed += 1;
            }
        }
    });
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

/// `popfetch accounts`: validate the config and list what it defines.
fn list_accounts(cli: &Cli) -> u8 {
    let accounts = match load(cli, &[]) {
        Ok(a) => a,
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

/// `popfetch serverinfo`: what the server says about itself, no login.
fn serverinfo(cli: &Cli, names: &[String]) -> u8 {
    let accounts = match load(cli, names) {
        Ok(a) => a,
        Err(code) => return code,
    };
    let mut status = exit::OK;
    for a in accounts
        .iter()
        .take(if names.is_empty() { 1 } else { usize::MAX })
    {
        match session::connect(a, None) {
            Ok(mut conn) => {
                let mut out = std::io::stdout().lock();
                let _ = writeln!(out, "{}: {}:{}", a.name, a.host, a.port);
                let _ = writeln!(out, "  greeting: {}", conn.greeting);
                match &conn.fingerprint {
                    Some(fp) => {
                        let _ = writeln!(out, "  TLS: yes, certificate trusted, {fp}");
                    }
                    None => {
                        let _ = writeln!(out, "  TLS: no");
                    }
                }
                let _ = writeln!(out, "  capabilities:");
                for l in &conn.capa.lines {
                    let _ = writeln!(out, "    {l}");
                }
                let mechs = if conn.capa.sasl.is_empty() {
                    "none listed".to_string()
                } else {
                    conn.capa.sasl.join(" ")
                };
                let _ = writeln!(out, "  SASL mechanisms: {mechs}");
                let _ = writeln!(
                    out,
                    "  APOP: {}",
                    if conn.apop_timestamp.is_some() {
                        "yes"
                    } else {
                        "no"
                    }
                );
                let _ = conn.session.quit();
            }
            Err(e) => {
                report::say!("{}", report::error_line(&a.name, &e));
                if status == exit::OK {
                    status = e.exit_code();
                }
            }
        }
    }
    status
}
