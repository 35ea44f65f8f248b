//! What the per-module properties of the state file and the journal leave
//! open: the UIDs they are given come from a server. For any bytes a
//! server sends as a UIDL line, the UID popfetch makes of it survives the
//! state file and the journal on disk exactly, so that a delivered message
//! is recognised as delivered on the next run (never fetched twice) and a
//! journalled one is found by recovery (never lost).

use std::collections::HashSet;

use proptest::prelude::*;

use super::UidState;
use super::journal::{self, Journal, Record};
use crate::protocol::response::parse_uidl_line;

/// UIDL lines as a hostile or sloppy server may send them.
fn uidl_line() -> impl Strategy<Value = Vec<u8>> {
    let uid = proptest::collection::vec(
        prop_oneof![
            3 => any::<u8>(),
            1 => prop::sample::select(b"#%23 \t\r.".to_vec()),
        ],
        1..40,
    );
    (1u32..1000, "[ \t]{1,3}", uid).prop_map(|(n, sep, uid)| {
        let mut line = format!("{n}{sep}").into_bytes();
        line.extend(uid.into_iter().filter(|&b| b != b'\n'));
        line
    })
}

/// Target tokens: spool tokens and Maildir names as the targets make them.
fn token() -> impl Strategy<Value = String> {
    prop_oneof![
        "[0-9]{10}\\.[0-9]{6}P[0-9]{1,7}Q[0-9]{1,6}",
        "[0-9]{10}\\.M[0-9]{6}P[0-9]{1,7}Q[0-9]{1,6}\\.[a-z0-9.-]{1,20}",
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn server_uids_survive_the_state_file_and_the_journal_on_disk(
        lines in proptest::collection::vec((uidl_line(), token(), any::<bool>(), any::<u32>()), 1..20),
    ) {
        let uids: Vec<(String, String, bool, i64)> = lines
            .iter()
            .filter_map(|(line, token, delivered, t)| {
                parse_uidl_line(line)
                    .ok()
                    .map(|(_, uid)| (uid, token.clone(), *delivered, i64::from(*t)))
            })
            .collect();
        let dir = tempfile::tempdir().unwrap();

        // The state file.
        let mut state = UidState::default();
        for (uid, _, delivered, t) in &uids {
            state.see(uid, *t);
            if *delivered {
                state.mark_delivered(uid, *t);
            }
        }
        let path = dir.path().join("state");
        state.save(&path).unwrap();
        let back = UidState::load(&path).unwrap();
        prop_assert_eq!(&back, &state);
        for (uid, _, _, _) in &uids {
            prop_assert_eq!(back.is_delivered(uid), state.is_delivered(uid), "{}", uid);
        }
        // Pruning by what the server lists keeps exactly those UIDs.
        let present: HashSet<&str> = uids.iter().map(|(u, ..)| u.as_str()).collect();
        let mut pruned = back.clone();
        prop_assert_eq!(pruned.prune(&present), 0);

        // The journal: B for each, D for the delivered ones.
        let jpath = dir.path().join("journal");
        let mut j = Journal::open(&jpath).unwrap();
        let mut want: Vec<Record> = Vec::new();
        for (uid, token, delivered, _) in &uids {
            j.begin(uid, token).unwrap();
            // A repeated UID's D record marks its latest B record.
            want.push(Record { uid: uid.clone(), token: token.clone(), done: false });
            if *delivered {
                j.done(uid).unwrap();
                if let Some(r) = want.iter_mut().rev().find(|r| &r.uid == uid) {
                    r.done = true;
                }
            }
        }
        j.sync().unwrap();
        prop_assert_eq!(journal::read(&jpath).unwrap(), want);
        j.clear().unwrap();
        prop_assert_eq!(journal::read(&jpath).unwrap(), Vec::<Record>::new());
    }
}
