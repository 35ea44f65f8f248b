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
}
