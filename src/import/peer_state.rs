//! `popfetch import ... --state`: read what the peer recorded as fetched
//! for an account and record those UIDs as delivered in popfetch's state,
//! so that the first run with `keep` downloads only what is really new.
//!
//! The three formats, read as the peers read them:
//! - fetchmail's idfile (`~/.fetchids`): one `user@host UID` line per kept
//!   message; the user ends at the first blank after the first `@`, the
//!   host after the last `@` before it; lines that do not fit are skipped,
//!   as fetchmail skips them (`uid.c`).
//! - mpop's UIDLS file (`~/.mpop_uidls/%U_at_%H`): `#` comments at the top,
//!   then lists, each a line ` COUNT HOST USER` and COUNT lines `UID` (mpop
//!   1.4.23 and later append ` TIMESTAMP`); damage is an error, as in
//!   mpop (`uidls.c`).
//! - getmail's oldmail file (`oldmail-SERVER-PORT-USER`): `UID\0TIMESTAMP`
//!   lines; malformed lines are skipped, as getmail skips them.
//!
//! The UIDs are the UIDL bytes the server sent, so they go through the
//! same encoding as a listing (`protocol::response::encode_uid`) to match
//! what popfetch sees on the server. Existing state is merged, never
//! reduced; the account's run lock is held while the state is written.

use std::path::{Path, PathBuf};

use super::{Account, ImportError, PeerState, grouped};
use crate::adopt::StateWriter;
use crate::error::Error;
use crate::protocol::response::encode_uid;

/// One UID the peer fetched, with when it first saw it if it says.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Fetched {
    uid: Vec<u8>,
    seen: Option<i64>,
}

/// What `--state` did for one account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Outcome {
    Recorded {
        program: &'static str,
        from: PathBuf,
        found: usize,
        added: usize,
        state: PathBuf,
    },
    NoRecord {
        program: &'static str,
        looked: Vec<PathBuf>,
    },
}

impl Outcome {
    /// The line on stderr.
    pub fn line(&self, name: &str) -> String {
        match self {
            Outcome::Recorded {
                program,
                from,
                found: 0,
                ..
            } => format!(
                "{name}: {} lists no message fetched by {program} for this account; nothing \
                 recorded",
                from.display()
            ),
            Outcome::Recorded {
                program,
                from,
                found,
                added,
                state,
            } => format!(
                "{name}: {} message{} {program} already fetched ({}) recorded as delivered in {}: \
                 {} new there, {} already recorded; they will not be downloaded again",
                grouped(*found),
                if *found == 1 { "" } else { "s" },
                from.display(),
                state.display(),
                grouped(*added),
                grouped(found - added)
            ),
            Outcome::NoRecord { program, looked } => format!(
                "{name}: no record of messages {program} fetched (looked for {}); nothing \
                 recorded: the first run fetches what is on the server",
                looked
                    .iter()
                    .map(|p| p.display().to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        }
    }
}

/// Read what the peer fetched for `a` and record it for `resolved`, the
/// same account as popfetch loads it (state directory, mailbox identity).
pub(super) fn import(a: &Account, resolved: &crate::account::Account) -> Result<Outcome, Error> {
    let (program, file, fetched) = match &a.state {
        PeerState::Fetchmail { idfile, user, host } => (
            "fetchmail",
            idfile.clone(),
            read(idfile)?.map(|t| fetchids(&t, user, host)),
        ),
        PeerState::Mpop { file, host, user } => {
            let text = read(file)?;
            let found = match text {
                Some(t) => Some(mpop_uidls(&t, file, host, user)?),
                None => None,
            };
            ("mpop", file.clone(), found)
        }
        PeerState::Getmail { candidates } => {
            let mut found = None;
            let mut from = candidates.first().cloned().unwrap_or_default();
            for c in candidates {
                if let Some(t) = read(c)? {
                    found = Some(oldmail(&t));
                    from = c.clone();
                    break;
                }
            }
            if found.is_none() {
                return Ok(Outcome::NoRecord {
                    program: "getmail",
                    looked: candidates.clone(),
                });
            }
            ("getmail", from, found)
        }
    };
    let Some(fetched) = fetched else {
        return Ok(Outcome::NoRecord {
            program,
            looked: vec![file],
        });
    };
    let mut writer = StateWriter::open(resolved)?;
    let now = jiff::Timestamp::now().as_second();
    let mut added = 0;
    for f in &fetched {
        if writer.record(&encode_uid(&f.uid), f.seen.unwrap_or(now)) {
            added += 1;
        }
    }
    let state = writer.save()?;
    Ok(Outcome::Recorded {
        program,
        from: file,
        found: fetched.len(),
        added,
        state,
    })
}

/// The file's bytes, `None` when it does not exist.
fn read(path: &Path) -> Result<Option<Vec<u8>>, ImportError> {
    match std::fs::read(path) {
        Ok(t) => Ok(Some(t)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(ImportError::Read {
            path: path.to_path_buf(),
            word: "--state",
            source,
        }),
    }
}

fn lines(text: &[u8]) -> impl Iterator<Item = &[u8]> {
    text.split(|&b| b == b'\n')
}

/// fetchmail's idfile: the UIDs of `user@host` (compared without regard
/// to case, as fetchmail does).
fn fetchids(text: &[u8], user: &str, host: &str) -> Vec<Fetched> {
    let mut out = Vec::new();
    for line in lines(text) {
        let line = line.trim_ascii_start();
        let Some(at) = line.iter().position(|&b| b == b'@') else {
            continue;
        };
        let Some(sp) = line[at..].iter().position(|&b| b == b' ').map(|p| p + at) else {
            continue;
        };
        let userhost = line[..sp].trim_ascii_end();
        let rest = line[sp..].trim_ascii_start();
        let end = rest
            .iter()
            .position(|&b| matches!(b, b' ' | b'\t' | b'\r'))
            .unwrap_or(rest.len());
        let id = &rest[..end];
        let Some(last_at) = userhost.iter().rposition(|&b| b == b'@') else {
            continue;
        };
        let (u, h) = (&userhost[..last_at], &userhost[last_at + 1..]);
        if id.is_empty()
            || !u.eq_ignore_ascii_case(user.as_bytes())
            || !h.eq_ignore_ascii_case(host.as_bytes())
        {
            continue;
        }
        out.push(Fetched {
            uid: id.to_vec(),
            seen: None,
        });
    }
    out
}

/// mpop's UIDLS file: the list of `host` and `user`.
fn mpop_uidls(
    text: &[u8],
    path: &Path,
    host: &str,
    user: &str,
) -> Result<Vec<Fetched>, ImportError> {
    let err = |line: usize, message: &str| ImportError::Syntax {
        path: path.to_path_buf(),
        line,
        message: format!(
            "{message}: this is not an mpop UIDLS file as mpop writes it; fix the line or leave \
             out --state"
        ),
    };
    let mut out = Vec::new();
    let mut comments = true;
    // The list being read: (is it ours, UIDs left).
    let mut list: Option<(bool, usize)> = None;
    let all: Vec<&[u8]> = lines(text).collect();
    let mut n = 0;
    for (i, line) in all.iter().copied().enumerate() {
        if i + 1 == all.len() && line.is_empty() {
            break;
        }
        n = i + 1;
        if comments && line.starts_with(b"#") {
            continue;
        }
        comments = false;
        match list {
            None => {
                let Some(header) = line.strip_prefix(b" ") else {
                    return Err(err(n, "a UID without a list"));
                };
                let header = String::from_utf8_lossy(header);
                let mut f = header.splitn(3, ' ');
                let count = f
                    .next()
                    .and_then(|c| c.parse::<usize>().ok())
                    .filter(|c| *c > 0);
                let (Some(count), Some(h), Some(u)) = (count, f.next(), f.next()) else {
                    return Err(err(n, "a list header that is not \" COUNT HOST USER\""));
                };
                if h.is_empty() || u.is_empty() || u.contains(' ') {
                    return Err(err(n, "a list header that is not \" COUNT HOST USER\""));
                }
                list = Some((h == host && u == user, count));
            }
            Some((ours, left)) => {
                if line.starts_with(b" ") {
                    return Err(err(n, "too few UIDs in the list above"));
                }
                if ours {
                    out.push(uid_and_time(line));
                }
                list = if left > 1 {
                    Some((ours, left - 1))
                } else {
                    None
                };
            }
        }
    }
    if list.is_some() {
        return Err(err(n, "the file ends in the middle of a list"));
    }
    Ok(out)
}

/// An mpop UID line: `UID TIMESTAMP` (1.4.23) or just `UID` (older).
fn uid_and_time(line: &[u8]) -> Fetched {
    if let Some(sp) = line.iter().rposition(|&b| b == b' ')
        && let Ok(ts) = std::str::from_utf8(&line[sp + 1..])
            .unwrap_or("x")
            .parse::<i64>()
    {
        return Fetched {
            uid: line[..sp].to_vec(),
            seen: Some(ts),
        };
    }
    Fetched {
        uid: line.to_vec(),
        seen: None,
    }
}

/// getmail's oldmail file: `UID\0TIMESTAMP` lines.
fn oldmail(text: &[u8]) -> Vec<Fetched> {
    let mut out = Vec::new();
    for line in lines(text) {
        let line = line.trim_ascii();
        let Some(nul) = line.iter().position(|&b| b == 0) else {
            continue;
        };
        let Ok(ts) = std::str::from_utf8(&line[nul + 1..])
            .unwrap_or("x")
            .parse::<i64>()
        else {
            continue;
        };
        out.push(Fetched {
            uid: line[..nul].to_vec(),
            seen: Some(ts),
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn uids(v: &[Fetched]) -> Vec<String> {
        v.iter()
            .map(|f| String::from_utf8_lossy(&f.uid).into_owned())
            .collect()
    }

    #[test]
    fn fetchids_lines() {
        let text = b"alice@pop.example.com 000001a5\n\
                     ALICE@POP.EXAMPLE.COM <id@inter.mail>\n\
                     bob@pop.example.com 0002\n\
                     lotus notes@pop.example.com   X9 trailing\n\
                     broken line\n  alice@pop.example.com\tnot-split-by-tab 1\n";
        assert_eq!(
            uids(&fetchids(text, "alice", "pop.example.com")),
            ["000001a5", "<id@inter.mail>"]
        );
        assert_eq!(
            uids(&fetchids(text, "lotus notes", "pop.example.com")),
            ["X9"]
        );
    }

    #[test]
    fn mpop_lists() {
        let text = b"# This file was generated by mpop version 1.4.23.\n#\n\
                     \x202 pop.example.com alice\nA1 1700000000\nA2 1700000100\n\
                     \x201 other.example bob\nB1\n";
        let p = Path::new("/u");
        let got = mpop_uidls(text, p, "pop.example.com", "alice").unwrap();
        assert_eq!(uids(&got), ["A1", "A2"]);
        assert_eq!(got[0].seen, Some(1_700_000_000));
        let got = mpop_uidls(text, p, "other.example", "bob").unwrap();
        assert_eq!(
            got,
            [Fetched {
                uid: b"B1".to_vec(),
                seen: None
            }]
        );
        assert!(mpop_uidls(text, p, "x", "y").unwrap().is_empty());
        assert!(mpop_uidls(b"", p, "x", "y").unwrap().is_empty());
    }

    #[test]
    fn mpop_damage_is_an_error_with_the_line() {
        let p = Path::new("/u");
        for (text, line, what) in [
            (&b"A1\n"[..], 1, "without a list"),
            (b" 2 h u\nA1\n", 2, "ends in the middle"),
            (b" 2 h u\nA1\n 1 h2 u\nX\n", 3, "too few"),
            (b" x h u\nA1\n", 1, "COUNT HOST USER"),
            (b"#c\n 1 h u\nA\n#not a comment here\n", 4, "without a list"),
        ] {
            let e = mpop_uidls(text, p, "h", "u").unwrap_err().to_string();
            assert!(
                e.contains(&format!("/u:{line}:")) && e.contains(what),
                "{e}"
            );
        }
    }

    #[test]
    fn oldmail_lines() {
        let text = b"abc\x001700000000\n\nbroken\nd-e\x00x\nf/g\x001\r\n";
        let got = oldmail(text);
        assert_eq!(uids(&got), ["abc", "f/g"]);
        assert_eq!(got[0].seen, Some(1_700_000_000));
    }
}
