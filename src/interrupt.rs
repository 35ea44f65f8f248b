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

use std::collections::HashMap;
use std::net::{Shutdown, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
use signal_hook::iterator::Signals;

#[derive(Default)]
pub struct Interrupt {
    flag: AtomicBool,
    next: AtomicU64,
    sockets: Mutex<HashMap<u64, TcpStream>>,
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
                if signals.forever().next().is_some() {
                    me.trigger();
                }
            })?;
        Ok(())
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
