//! Ctrl-C and SIGTERM: set a flag that the fetch loop checks between
//! messages, and cut the live connections so that a blocked read returns
//! at once. The fetch then rolls back the message in hand, saves state,
//! skips QUIT (so the server deletes nothing) and exits 75.

use std::collections::HashMap;
use std::net::{Shutdown, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use signal_hook::consts::{SIGINT, SIGTERM};
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
        let mut signals = Signals::new([SIGINT, SIGTERM])?;
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
