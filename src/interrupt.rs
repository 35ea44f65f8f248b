//! Ctrl-C, SIGTERM and SIGHUP: set a flag that the fetch loop checks
//! between messages, and cut the live connections so that a blocked read
//! returns at once. The fetch then finishes or rolls back the message in
//! hand (an MDA already running is let finish), saves state, skips QUIT
//! (so the server deletes nothing) and exits 75. A password command is
//! killed ([`crate::child`]) and no login follows.
//!
//! SIGHUP is one of them because a closed terminal or a dropped ssh
//! session sends it: dying of it at once would leave an MDA's delivery
//! unrecorded, to be delivered again by the next run.
//!
//! A second signal ends the process at once, as that signal ends a
//! program that does not catch it (a shell shows 130 for Ctrl-C), so that
//! a shell loop around popfetch stops too. Nothing is lost even then: the
//! journal tells the next run what landed; only a message an MDA had in
//! hand may come twice.

use std::collections::HashMap;
use std::net::{Shutdown, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
use signal_hook::iterator::Signals;

/// Told about each signal (see [`Interrupt::on_signal`]).
pub type Notice = Box<dyn Fn(Signal) + Send + Sync>;

/// Which signal a [`Notice`] is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signal {
    /// The first: the run is stopping cleanly.
    First,
    /// Another one: the process ends right after the notice.
    Again,
}

#[derive(Default)]
pub struct Interrupt {
    flag: AtomicBool,
    next: AtomicU64,
    sockets: Mutex<HashMap<u64, TcpStream>>,
    notice: Mutex<Option<Notice>>,
}

impl Interrupt {
    pub fn new() -> Arc<Interrupt> {
        Arc::new(Interrupt::default())
    }

    /// Start the signal thread. Failure to install is not fatal: the run
    /// still works, it just dies on Ctrl-C like any other program.
    pub fn install(self: &Arc<Self>) -> std::io::Result<()> {
        let mut signals = Signals::new([SIGINT, SIGTERM, SIGHUP])?;
        let me = Arc::clone(self);
        std::thread::Builder::new()
            .name("signals".into())
            .spawn(move || {
                let mut signals = signals.forever();
                if signals.next().is_some() {
                    me.trigger();
                    me.tell(Signal::First);
                }
                if let Some(sig) = signals.next() {
                    me.tell(Signal::Again);
                    // Dies of the signal; exits as a shell would report it
                    // should that not happen.
                    let _ = signal_hook::low_level::emulate_default_handler(sig);
                    std::process::exit(128 + sig);
                }
            })?;
        Ok(())
    }

    /// Have `notice` told of each signal, from the signal thread.
    pub fn on_signal(&self, notice: Notice) {
        if let Ok(mut n) = self.notice.lock() {
            *n = Some(notice);
        }
    }

    fn tell(&self, signal: Signal) {
        if let Ok(n) = self.notice.lock()
            && let Some(notice) = n.as_ref()
        {
            notice(signal);
        }
    }

    /// What a signal does; public so that tests can trigger it.
    pub fn trigger(&self) {
        self.flag.store(true, Ordering::SeqCst);
        if let Ok(socks) = self.sockets.lock() {
            for s in socks.values() {
                let _ = s.shutdown(Shutdown::Both);
            }
        }
    }

    pub fn is_set(&self) -> bool {
        self.flag.load(Ordering::SeqCst)
    }

    /// Register a connection to cut on a signal, until the guard drops.
    pub fn watch(&self, sock: TcpStream) -> Watch<'_> {
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        if let Ok(mut socks) = self.sockets.lock() {
            socks.insert(id, sock);
        }
        Watch { owner: self, id }
    }
}

pub struct Watch<'a> {
    owner: &'a Interrupt,
    id: u64,
}

impl Drop for Watch<'_> {
    fn drop(&mut self) {
        if let Ok(mut socks) = self.owner.sockets.lock() {
            socks.remove(&self.id);
        }
    }
}
