//! What to fetch and what to delete: pure functions over the server's
//! listing, the UID state and the account's policy.
//!
//! Decisions written down here:
//! - A UID the server lists twice is fetched at its first message number
//!   only, and no message with that UID is deleted while the server lists it
//!   more than once: once the first copy were gone, the next copy would look
//!   delivered and be deleted unread.
//! - `max_size` leaves a message on the server on every run and reports it;
//!   it is never downloaded while it is too large.
//! - `max_messages` takes the oldest first (lowest message numbers).
//! - Only UIDs recorded as delivered are ever deleted, whatever the policy.

use std::collections::{HashMap, HashSet};

use crate::account::Policy;
use crate::state::UidState;

/// One message as the server lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listed {
    pub msg: u32,
    pub uid: String,
    pub size: u64,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Plan {
    /// To download and deliver, in order.
    pub fetch: Vec<Listed>,
    /// New but larger than `max_size`: left on the server.
    pub too_big: Vec<Listed>,
    /// New but beyond `max_messages`: left for the next run.
    pub held_back: usize,
    /// Listings that repeat an earlier UID: ignored.
    pub duplicates: usize,
}

/// Decide what to download.
pub fn plan(listing: &[Listed], state: &UidState, policy: &Policy) -> Plan {
    let mut plan = Plan::default();
    let mut seen: HashSet<&str> = HashSet::with_capacity(listing.len());
    for m in listing {
        if !seen.insert(&m.uid) {
            plan.duplicates += 1;
            continue;
        }
        if !policy.fetch_all && state.is_delivered(&m.uid) {
            continue;
        }
        if policy.max_size.is_some_and(|max| m.size > max) {
            plan.too_big.push(m.clone());
            continue;
        }
        if policy
            .max_messages
            .is_some_and(|max| plan.fetch.len() >= max)
        {
            plan.held_back += 1;
            continue;
        }
        plan.fetch.push(m.clone());
    }
    plan
}

/// Decide what to delete, after deliveries: only messages whose UID the
/// state records as delivered, and of those, all of them without `keep`, or
/// with `keep` and `delete_after_days` those first seen long enough ago.
pub fn deletions(listing: &[Listed], state: &UidState, policy: &Policy, now: i64) -> Vec<u32> {
    let mut count: HashMap<&str, usize> = HashMap::with_capacity(listing.len());
    for m in listing {
        *count.entry(&m.uid).or_default() += 1;
    }
    listing
        .iter()
        .filter(|m| count.get(m.uid.as_str()) == Some(&1))
        .filter(|m| {
            let Some(entry) = state.get(&m.uid) else {
                return false;
            };
            if !entry.delivered {
                return false;
            }
            match (policy.keep, policy.delete_after_days) {
                (false, _) => true,
                (true, Some(days)) => now - entry.first_seen > i64::from(days) * 86_400,
                (true, None) => false,
            }
        })
        .map(|m| m.msg)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn listing(sizes: &[(u32, &str, u64)]) -> Vec<Listed> {
        sizes
            .iter()
            .map(|&(msg, uid, size)| Listed {
                msg,
                uid: uid.to_string(),
                size,
            })
            .collect()
    }

    #[test]
    fn new_messages_only() {
        let l = listing(&[(1, "a", 10), (2, "b", 20), (3, "c", 30)]);
        let mut st = UidState::default();
        st.mark_delivered("b", 0);
        st.see("c", 0); // seen but not delivered: still new
        let p = plan(&l, &st, &Policy::default());
        let uids: Vec<&str> = p.fetch.iter().map(|m| m.uid.as_str()).collect();
        assert_eq!(uids, ["a", "c"]);
        let all = plan(
            &l,
            &st,
            &Policy {
                fetch_all: true,
                ..Policy::default()
            },
        );
        assert_eq!(all.fetch.len(), 3);
    }

    #[test]
    fn size_and_count_limits() {
        let l = listing(&[(1, "a", 10), (2, "b", 2000), (3, "c", 30), (4, "d", 40)]);
        let pol = Policy {
            max_size: Some(100),
            max_messages: Some(2),
            ..Policy::default()
        };
        let p = plan(&l, &UidState::default(), &pol);
        assert_eq!(p.fetch.iter().map(|m| m.msg).collect::<Vec<_>>(), [1, 3]);
        assert_eq!(p.too_big.len(), 1);
        assert_eq!(p.held_back, 1);
    }

    #[test]
    fn duplicate_uids_are_taken_once_and_never_deleted() {
        let l = listing(&[(1, "a", 10), (2, "a", 10), (3, "b", 10)]);
        let p = plan(&l, &UidState::default(), &Policy::default());
        assert_eq!(p.fetch.len(), 2);
        assert_eq!(p.duplicates, 1);
        let mut st = UidState::default();
        st.mark_delivered("a", 0);
        st.mark_delivered("b", 0);
        assert_eq!(deletions(&l, &st, &Policy::default(), 0), [3]);
    }

    #[test]
    fn deletes_only_delivered() {
        let l = listing(&[(1, "a", 1), (2, "b", 1), (3, "c", 1)]);
        let mut st = UidState::default();
        st.mark_delivered("a", 0);
        st.see("b", 0);
        assert_eq!(deletions(&l, &st, &Policy::default(), 0), [1]);
        let keep = Policy {
            keep: true,
            ..Policy::default()
        };
        assert!(deletions(&l, &st, &keep, 0).is_empty());
    }

    #[test]
    fn delete_after_days_uses_first_seen() {
        let l = listing(&[(1, "old", 1), (2, "young", 1)]);
        let day = 86_400;
        let now = 100 * day;
        let mut st = UidState::default();
        st.see("old", now - 31 * day);
        st.mark_delivered("old", now);
        st.see("young", now - 29 * day);
        st.mark_delivered("young", now);
        let pol = Policy {
            keep: true,
            delete_after_days: Some(30),
            ..Policy::default()
        };
        assert_eq!(deletions(&l, &st, &pol, now), [1]);
    }

    mod properties {
        use std::collections::{HashMap, HashSet};

        use proptest::prelude::*;

        use super::super::{Listed, deletions, plan};
        use crate::account::Policy;
        use crate::state::UidState;

        const DAY: i64 = 86_400;

        /// UIDs from a tiny alphabet, so that a listing repeats one often.
        fn uid() -> impl Strategy<Value = String> {
            prop::sample::select(vec!["a", "b", "c", "d", "e", "f"]).prop_map(String::from)
        }

        /// A listing as LIST and UIDL give it: message numbers rising, with
        /// gaps where messages went; UIDs may repeat.
        fn listing() -> impl Strategy<Value = Vec<Listed>> {
            proptest::collection::vec((1u32..4, uid(), 0u64..2_000), 0..16).prop_map(|rows| {
                let mut msg = 0;
                rows.into_iter()
                    .map(|(gap, uid, size)| {
                        msg += gap;
                        Listed { msg, uid, size }
                    })
                    .collect()
            })
        }

        /// Some UIDs seen, some of those delivered, at times up to 200 days.
        fn state() -> impl Strategy<Value = UidState> {
            proptest::collection::vec((uid(), 0..200 * DAY, any::<bool>()), 0..8).prop_map(|rows| {
                let mut st = UidState::default();
                for (uid, first_seen, delivered) in rows {
                    st.see(&uid, first_seen);
                    if delivered {
                        st.mark_delivered(&uid, first_seen);
                    }
                }
                st
            })
        }

        fn policy() -> impl Strategy<Value = Policy> {
            (
                any::<bool>(),
                proptest::option::of(0u32..60),
                proptest::option::of(0u64..2_000),
                proptest::option::of(0usize..8),
                any::<bool>(),
            )
                .prop_map(
                    |(keep, delete_after_days, max_size, max_messages, fetch_all)| Policy {
                        keep,
                        delete_after_days,
                        max_size,
                        max_messages,
                        fetch_all,
                    },
                )
        }

        fn counts(listing: &[Listed]) -> HashMap<&str, usize> {
            let mut count = HashMap::new();
            for m in listing {
                *count.entry(m.uid.as_str()).or_default() += 1;
            }
            count
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(1024))]

            #[test]
            fn deletions_take_only_delivered_singly_listed_messages(
                listing in listing(),
                st in state(),
                pol in policy(),
                now in 0..300 * DAY,
            ) {
                let by_msg: HashMap<u32, &Listed> = listing.iter().map(|m| (m.msg, m)).collect();
                let count = counts(&listing);
                let doomed = deletions(&listing, &st, &pol, now);
                for msg in &doomed {
                    let m = by_msg[msg];
                    prop_assert!(st.is_delivered(&m.uid), "{m:?} is not delivered");
                    prop_assert_eq!(count[m.uid.as_str()], 1, "{:?} is listed more than once", m);
                }
                if pol.keep && pol.delete_after_days.is_none() {
                    prop_assert!(doomed.is_empty());
                }
                // And every such message is deleted when the policy says so.
                let due: Vec<u32> = listing
                    .iter()
                    .filter(|m| count[m.uid.as_str()] == 1)
                    .filter(|m| {
                        st.get(&m.uid).is_some_and(|e| {
                            e.delivered
                                && (!pol.keep
                                    || pol.delete_after_days.is_some_and(|d| {
                                        now - e.first_seen > i64::from(d) * DAY
                                    }))
                        })
                    })
                    .map(|m| m.msg)
                    .collect();
                prop_assert_eq!(doomed, due);
            }

            #[test]
            fn plan_accounts_for_every_new_uid_once(
                listing in listing(),
                st in state(),
                pol in policy(),
            ) {
                let p = plan(&listing, &st, &pol);
                let fetched: Vec<&str> = p.fetch.iter().map(|m| m.uid.as_str()).collect();
                let unique: HashSet<&str> = fetched.iter().copied().collect();
                prop_assert_eq!(unique.len(), fetched.len(), "a UID fetched twice: {:?}", fetched);
                if !pol.fetch_all {
                    prop_assert!(p.fetch.iter().all(|m| !st.is_delivered(&m.uid)));
                }
                if let Some(max) = pol.max_size {
                    prop_assert!(p.fetch.iter().all(|m| m.size <= max));
                    prop_assert!(p.too_big.iter().all(|m| m.size > max));
                } else {
                    prop_assert!(p.too_big.is_empty());
                }
                if let Some(max) = pol.max_messages {
                    prop_assert!(p.fetch.len() <= max);
                    prop_assert!(p.held_back == 0 || p.fetch.len() == max);
                } else {
                    prop_assert_eq!(p.held_back, 0);
                }

                // Each UID's first listing is the one that counts; a new one
                // is fetched, too big or held back, every later listing of
                // it is a duplicate.
                let mut firsts: Vec<&Listed> = Vec::new();
                for m in &listing {
                    if !firsts.iter().any(|f| f.uid == m.uid) {
                        firsts.push(m);
                    }
                }
                let new: Vec<&Listed> = firsts
                    .into_iter()
                    .filter(|m| pol.fetch_all || !st.is_delivered(&m.uid))
                    .collect();
                prop_assert_eq!(p.duplicates, listing.len() - counts(&listing).len());
                prop_assert_eq!(p.fetch.len() + p.too_big.len() + p.held_back, new.len());
                let placed: Vec<&Listed> = p.fetch.iter().chain(&p.too_big).collect();
                for m in &new {
                    let n = placed.iter().filter(|x| x.uid == m.uid).count();
                    prop_assert!(n <= 1, "{m:?} placed {n} times");
                    prop_assert!(n == 0 || placed.iter().any(|x| x == m), "{m:?} not at its first listing");
                }
                // Oldest first: what is fetched is the first `max_messages`
                // of the new ones that are not too big.
                let fitting: Vec<&Listed> = new
                    .iter()
                    .copied()
                    .filter(|m| pol.max_size.is_none_or(|max| m.size <= max))
                    .collect();
                let want = pol.max_messages.unwrap_or(usize::MAX).min(fitting.len());
                prop_assert_eq!(p.fetch.iter().collect::<Vec<_>>(), fitting[..want].to_vec());
            }
        }
    }
}
