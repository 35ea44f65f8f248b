//! What a run shows while it goes, as a person sees it: progress bars on
//! a real pseudo-terminal and through a pipe, `-v` lines, and one figure
//! for the size of one mailbox wherever it is shown.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use crate::common::dovecot::{Options, Tls};
use crate::common::env::{TestEnv, config_of, read_maildir};
use crate::common::pty::{drawn_lines, strip_escapes};
use crate::common::script::{Maildrop, Reply, ScriptServer};
use crate::common::{PASSWORD, USER, dovecot_with_mail};
use crate::interrupt::big_message;
use crate::terminal::scripted;

/// A mailbox of `msgs` whose RETR replies come `chunk` bytes at a time,
/// `every` apart: a slow link, so that a bar is drawn many times while one
/// message arrives.
fn paced_server(msgs: Vec<Vec<u8>>, chunk: usize, every: Duration) -> ScriptServer {
    let mailbox = Maildrop::new(USER, PASSWORD, msgs);
    let inner = Arc::clone(&mailbox);
    ScriptServer::maildrop_except(mailbox, move |conn, line| {
        if line.to_ascii_uppercase().starts_with("RETR") {
            match inner.reply(conn, line) {
                Reply::Raw(bytes) => Some(Reply::Paced {
                    bytes,
                    chunk,
                    every,
                }),
                other => Some(other),
            }
        } else {
            None
        }
    })
}

/// A drawn bar line of `name`: the sizes (`12 KB/160 KB`) and the
/// message count (`0/1`) it shows, when `line` is one.
fn bar_fields(line: &str, name: &str) -> Option<(String, String)> {
    if !line.starts_with(name) {
        return None;
    }
    let words: Vec<&str> = line.split_whitespace().collect();
    // ... 12 KB/160 KB 0/1 16 KB/s 9s, or ... 160 KB/160 KB 1/1 done
    let count_at = words.iter().rposition(|w| {
        w.split_once('/').is_some_and(|(a, b)| {
            !a.is_empty()
                && !b.is_empty()
                && a.bytes().all(|c| c.is_ascii_digit())
                && b.bytes().all(|c| c.is_ascii_digit())
        })
    })?;
    if count_at < 3 {
        return None;
    }
    let sizes = words[count_at - 3..count_at].join(" ");
    sizes
        .contains('/')
        .then(|| (sizes, words[count_at].to_string()))
}

#[test]
fn the_bar_moves_as_the_bytes_of_a_large_message_arrive() {
    // 160 KB, 4 KB every 25 ms: about a second for the one message.
    let srv = paced_server(
        vec![big_message("large", 160 * 1024)],
        4096,
        Duration::from_millis(25),
    );
    let env = TestEnv::new();
    let cfg = env.write_config(&config_of(&[&scripted("big", srv.port(), &env)]));
    let run = env.spawn_in_pty(&["-c", cfg.to_str().unwrap()], 100, 24);
    let out = run.wait(Duration::from_secs(120));
    assert_eq!(out.code, Some(0), "{out}");

    let fields: Vec<(String, String)> = drawn_lines(&out.raw)
        .iter()
        .filter_map(|l| bar_fields(l, "big"))
        .collect();
    // Before the message is durable it is not counted, but its bytes are.
    let moving: BTreeSet<&str> = fields
        .iter()
        .filter(|(sizes, count)| count == "0/1" && !sizes.starts_with("0 bytes/"))
        .map(|(sizes, _)| sizes.as_str())
        .collect();
    assert!(
        moving.len() >= 2,
        "the bar shows several byte counts while message 1 arrives: {moving:?}\n{out}"
    );
    // Once it is durable it is counted, and the bar is full.
    let (sizes, _) = fields
        .iter()
        .find(|(_, count)| count == "1/1")
        .unwrap_or_else(|| panic!("a line counts the message\n{out}"));
    let (done, total) = sizes.split_once('/').unwrap();
    assert_eq!(done, total, "{out}");
    assert_eq!(read_maildir(&env.path("Mail/big")).len(), 1);
}

#[test]
fn progress_always_draws_into_a_pipe_and_auto_does_not() {
    let auto = TestEnv::new();
    let srv = ScriptServer::maildrop(Maildrop::new(
        USER,
        PASSWORD,
        vec![big_message("a", 20 * 1024)],
    ));
    let cfg = auto.write_config(&config_of(&[&scripted("piped", srv.port(), &auto)]));
    let out = auto.run(&["-c", cfg.to_str().unwrap()]);
    out.assert_success();
    assert!(
        !out.stderr.contains('\u{1b}'),
        "auto: no bar off a terminal\n{out}"
    );
    assert!(
        !drawn_lines(&out.stderr)
            .iter()
            .any(|l| bar_fields(l, "piped").is_some()),
        "{out}"
    );

    let always = TestEnv::new();
    let srv = ScriptServer::maildrop(Maildrop::new(
        USER,
        PASSWORD,
        vec![big_message("a", 20 * 1024)],
    ));
    let cfg = always.write_config(&config_of(&[&scripted("piped", srv.port(), &always)]));
    let out = always.run(&["-c", cfg.to_str().unwrap(), "--progress", "always"]);
    out.assert_success();
    let lines = drawn_lines(&out.stderr);
    let last = lines
        .iter()
        .filter_map(|l| bar_fields(l, "piped"))
        .next_back()
        .unwrap_or_else(|| panic!("always: a bar into the pipe\n{out}"));
    assert_eq!(last.1, "1/1", "{out}");
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("piped") && l.trim_end().ends_with("1/1 done")),
        "the finished account keeps a last line\n{out}"
    );
    // What follows the run starts on a line of its own.
    assert!(out.stderr.ends_with('\n'), "{out}");
    // Off a terminal, and with no COLUMNS, bars are 80 columns wide.
    for l in &lines {
        assert!(l.chars().count() <= 80, "{l:?}\n{out}");
    }
    // The summary is still there, whole.
    assert!(
        lines.iter().any(|l| l.starts_with("piped: 1 new (")),
        "{out}"
    );
}

#[test]
fn parallel_bars_line_up_keep_their_last_line_and_fit_80_columns() {
    let long = "an-account-with-a-name-longer-than-a-bar-allows";
    let fast = ScriptServer::maildrop(Maildrop::new(
        USER,
        PASSWORD,
        vec![big_message("fast", 8 * 1024)],
    ));
    let slow = paced_server(
        vec![big_message("slow", 96 * 1024)],
        4096,
        Duration::from_millis(25),
    );
    let slower = paced_server(
        vec![big_message("slower", 128 * 1024)],
        4096,
        Duration::from_millis(25),
    );
    let env = TestEnv::new();
    let cfg = env.write_config(&config_of(&[
        &scripted("fast", fast.port(), &env),
        &scripted("slow", slow.port(), &env),
        &scripted(long, slower.port(), &env),
    ]));
    let run = env.spawn_in_pty(&["-c", cfg.to_str().unwrap(), "-j", "3"], 80, 24);
    let out = run.wait(Duration::from_secs(120));
    assert_eq!(out.code, Some(0), "{out}");

    let lines = drawn_lines(&out.raw);
    // Every drawn line but the summaries (printed text, which a terminal
    // wraps as it wraps any text) fits.
    let summary = |l: &str| {
        ["fast: ", "slow: ", &format!("{long}: ")]
            .iter()
            .any(|p| l.starts_with(p))
    };
    for l in lines.iter().filter(|l| !summary(l)) {
        assert!(
            l.chars().count() <= 80,
            "{} columns: {l:?}\n{out}",
            l.chars().count()
        );
    }
    // Names take 16 columns, long ones cut, so every bar starts in the
    // same column and, filling the width, ends in the same one.
    let cut: String = long.chars().take(15).collect::<String>() + "…";
    let bars: Vec<&String> = lines
        .iter()
        .filter(|l| {
            ["fast", "slow", &cut]
                .iter()
                .any(|n| bar_fields(l, n).is_some())
        })
        .collect();
    assert!(!bars.is_empty(), "{out}");
    for b in &bars {
        assert_eq!(b.chars().nth(16), Some(' '), "{b:?}\n{out}");
        assert_eq!(b.chars().count(), 80, "{b:?}\n{out}");
    }
    // A finished account keeps its last line in place, drawn again with
    // the bars still moving.
    let fast_done = bars
        .iter()
        .filter(|l| l.starts_with("fast") && l.ends_with("1/1 done"))
        .count();
    assert!(
        fast_done >= 2,
        "fast's last line stays while the others run\n{out}"
    );
    for name in ["slow", cut.as_str()] {
        assert!(
            bars.iter()
                .any(|l| l.starts_with(name) && l.ends_with("1/1 done")),
            "{name}\n{out}"
        );
    }
    let summaries = strip_escapes(&out.raw);
    for name in ["fast", "slow", long] {
        assert!(
            summaries.contains(&format!("{name}: 1 new (")),
            "{name}\n{out}"
        );
    }
}

/// `12 KB` in `... (12 KB) ...`, after `after`.
fn parenthesised_after<'a>(line: &'a str, after: &str) -> Option<&'a str> {
    let rest = &line[line.find(after)? + after.len()..];
    let open = rest.find('(')?;
    let close = rest[open..].find(')')? + open;
    Some(&rest[open + 1..close])
}

#[test]
fn check_summary_bars_and_v_give_one_figure_for_one_mailbox() {
    let Some((dc, _)) = dovecot_with_mail(Options::default(), 7, 0) else {
        return;
    };
    // Short lines: the server's CRLF count is 10% above the LF one, which
    // shows in the figure (15 KB on the server, 13 KB as LF).
    let mut msg = b"From: a@example.org\nSubject: short lines\n\n".to_vec();
    for _ in 0..1500 {
        msg.extend_from_slice(b"abcdefgh\n");
    }
    let wire = msg.len() + msg.iter().filter(|&&b| b == b'\n').count();
    assert_eq!((wire / 1024, msg.len() / 1024), (14, 13));
    dc.load_mailbox(USER, &[msg]);
    let env = TestEnv::new();
    let acct = dc.account(
        "work",
        USER,
        PASSWORD,
        Tls::Implicit,
        &env.path("Mail/work"),
    );
    let cfg = env.write_config(&config_of(&[&acct]));
    let cfg = cfg.to_str().unwrap();

    let check = env.run(&["-c", cfg, "check"]);
    check.assert_code(0);
    let checked = check
        .stderr
        .lines()
        .find_map(|l| parenthesised_after(l, "work: 1 new "))
        .unwrap_or_else(|| panic!("{check}"))
        .to_string();
    assert_eq!(checked, "15 KB", "{check}");

    let json = env.run(&["-c", cfg, "check", "--json"]);
    let json: serde_json::Value = serde_json::from_str(json.stdout.trim()).unwrap();
    assert_eq!(json["bytes"], wire as u64);

    let out = env.run(&["-c", cfg, "-v", "--progress", "always"]);
    out.assert_success();
    let text = drawn_lines(&out.stderr);
    let summary = text
        .iter()
        .find_map(|l| parenthesised_after(l, "work: 1 new "))
        .unwrap_or_else(|| panic!("{out}"));
    let verbose = text
        .iter()
        .find(|l| l.starts_with("work: message 1 "))
        .unwrap_or_else(|| panic!("{out}"));
    let bar = drawn_lines(&out.stderr)
        .iter()
        .filter_map(|l| bar_fields(l, "work"))
        .next_back()
        .unwrap_or_else(|| panic!("{out}"));
    assert_eq!(summary, checked, "{out}");
    assert!(
        verbose.contains(&format!(", {checked})")),
        "{verbose}\n{out}"
    );
    assert_eq!(bar.0, format!("{checked}/{checked}"), "{out}");
}

#[test]
fn v_names_each_message_by_decoded_from_and_subject_and_the_ones_left_too_big() {
    // An RFC 2047 From (Latin-1) and Subject (UTF-8, with an escape
    // sequence and a bell encoded in it), and a raw control byte.
    let first = b"From: =?ISO-8859-1?Q?Andr=E9?= <andre@example.org>\n\
Subject: =?UTF-8?Q?Gr=C3=BC=C3=9Fe_=1B[31mrot=07?= and\x08 more\n\
\n\
Hello.\n"
        .to_vec();
    let big = big_message("too big", 40 * 1024);
    let third = b"Subject: plain\n\nno From at all\n".to_vec();
    let srv = ScriptServer::maildrop(Maildrop::new(USER, PASSWORD, vec![first, big, third]));
    let env = TestEnv::new();
    let acct = scripted("work", srv.port(), &env).str("max_size", "10K");
    let cfg = env.write_config(&config_of(&[&acct]));
    let out = env.run(&["-c", cfg.to_str().unwrap(), "-v"]);
    out.assert_success();
    for control in ['\u{1b}', '\u{7}', '\u{8}'] {
        assert!(
            !out.stderr.contains(control),
            "no control character from the server reaches the terminal\n{out}"
        );
    }
    let line = |prefix: &str| {
        out.stderr
            .lines()
            .find(|l| l.starts_with(prefix))
            .unwrap_or_else(|| panic!("{prefix}\n{out}"))
            .to_string()
    };
    let m1 = line("work: message 1 ");
    assert!(
        m1.contains(
            " from André <andre@example.org>, subject \"Grüße \u{fffd}[31mrot\u{fffd} and\u{fffd} more\""
        ),
        "{m1}"
    );
    assert!(
        m1.contains(&env.path("Mail/work").display().to_string()),
        "{m1}"
    );
    let m2 = line("work: message 2 ");
    assert!(
        m2.contains(" KB) left on the server: over max_size (10 KB)"),
        "{m2}"
    );
    let m3 = line("work: message 3 ");
    assert!(m3.contains("from (no From), subject \"plain\""), "{m3}");
    assert!(
        out.stderr.contains("work: 2 new (") && out.stderr.contains("1 left (over 10 KB)"),
        "{out}"
    );
    assert_eq!(read_maildir(&env.path("Mail/work")).len(), 2);
}
