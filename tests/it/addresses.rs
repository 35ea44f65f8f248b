//! Hosts given as IPv6 literals: `host = "[::1]"` in the config, `--host
//! '[::1]'` on the command line, and a bare `::1`. The brackets are only
//! URL-style notation: popfetch connects to ::1 and checks the server
//! certificate against the address ::1.

use std::time::Duration;

use crate::common::corpus;
use crate::common::dovecot::{Dovecot, Options, Tls, ipv6_loopback};
use crate::common::env::{OneAccount, assert_same_messages};
use crate::common::{PASSWORD, USER, wait_until};

/// Skips, loudly, on a machine without an IPv6 loopback (some containers):
/// a property of the machine, not something to install.
fn have_ipv6() -> bool {
    if ipv6_loopback() {
        return true;
    }
    eprintln!(
        "\n************************************************************************\n\
         *** SKIPPED {}: this machine has no IPv6 loopback (::1)\n\
         ************************************************************************\n",
        std::thread::current().name().unwrap_or("<unnamed test>")
    );
    false
}

#[test]
fn fetch_from_an_ipv6_literal_in_the_config_or_on_the_command_line() {
    if !have_ipv6() {
        return;
    }
    let Some(dc) = Dovecot::start(Options::default().ipv6()) else {
        return;
    };
    dc.add_user(USER, PASSWORD);
    let cases: [(&str, &str, Option<&str>); 3] = [
        ("config", "[::1]", None),
        ("flag", "127.0.0.1", Some("[::1]")),
        ("bare", "::1", None),
    ];
    let logins = || {
        dc.log()
            .lines()
            .filter(|l| l.contains("Login: user=<alice>") && l.contains("rip=::1"))
            .count()
    };
    for (i, (how, host, flag)) in cases.into_iter().enumerate() {
        let before = logins();
        let msgs = corpus::corpus(1400 + i as u64, 2);
        dc.load_mailbox(USER, &msgs);
        let acct = OneAccount::new(|maildir| {
            dc.account("six", USER, PASSWORD, Tls::Implicit, maildir)
                .str("host", host)
        });
        // --host with the account named overrides its host (alone, it
        // would be an account of its own).
        let args: Vec<&str> = flag.map(|h| vec!["--host", h, "six"]).unwrap_or_default();
        acct.run(&args).assert_success();
        assert_same_messages(&acct.delivered(), &msgs);
        assert_eq!(dc.remaining(USER), 0, "{how}");
        assert!(
            wait_until(Duration::from_secs(5), || logins() > before),
            "{how}: Dovecot saw the login come from ::1\n{}",
            dc.log()
        );
    }
}
