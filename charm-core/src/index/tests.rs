//! The index's merge rules.

use super::format::Delta;
use super::state::State;
use super::*;
use charm_freeze::hash;

fn key(n: u8) -> EntryKey {
    EntryKey {
        name: hash(&"f"),
        args: hash(&n),
    }
}

fn entry(state: u8, size: u64) -> Entry {
    Entry {
        obj_key: hash(&(state, size, stamp())),
        func_state: hash(&state),
        args_ver: hash(&()),
        size,
        compute_ns: 0,
        serialize_ns: 0,
        stamp: stamp(),
        inline: None,
    }
}

#[test]
fn a_new_function_state_cascades_to_its_entries_only() {
    let idx = Index::default();
    idx.set_function_state(hash(&"f"), "f", hash(&1u8));
    idx.insert(key(1), entry(1, 10));
    idx.insert(key(2), entry(1, 20));
    let other = EntryKey {
        name: hash(&"g"),
        args: hash(&1u8),
    };
    idx.insert(other, entry(1, 5));
    assert_eq!(idx.total_size(), 35);
    let removed = idx.set_function_state(hash(&"f"), "f", hash(&2u8));
    assert_eq!(removed.len(), 2);
    assert_eq!(idx.len(), 1);
    assert_eq!(idx.total_size(), 5);
}

#[test]
fn merge_learns_forgets_and_keeps_unpersisted_work() {
    let idx = Index::default();
    let sys = hash(&0u8);
    idx.insert(key(1), entry(1, 10));
    // Persist entry 1.
    let d = idx.pending(sys);
    idx.persisted(&d);
    // Not persisted yet.
    idx.insert(key(2), entry(1, 10));
    // Another process removed entry 1 and added entry 3.
    let mut state = State::empty(sys);
    state.apply(
        "index/delta-theirs",
        Delta {
            system: sys,
            upserts: vec![(key(3), entry(1, 7))],
            ..Delta::default()
        },
    );
    let merged = idx.merge(state);
    assert_eq!(merged.vanished, vec![key(1)]);
    assert!(
        idx.entries.contains_key(&key(2)),
        "our unpersisted entry stays"
    );
    assert!(idx.entries.contains_key(&key(3)), "theirs is learned");
    assert_eq!(idx.total_size(), 17);
}

#[test]
fn a_commit_that_another_process_won_settles_our_upsert() {
    let idx = Index::default();
    let sys = hash(&0u8);
    // Ours, not persisted.
    idx.insert(key(1), entry(1, 10));
    // Another process wrote the same entry later; its version wins.
    let mut state = State::empty(sys);
    state.apply(
        "index/delta-theirs",
        Delta {
            system: sys,
            upserts: vec![(key(1), entry(1, 10))],
            ..Delta::default()
        },
    );
    idx.merge(state);
    let (snap, increments) = idx.snapshot(sys, Vec::new());
    idx.snapshot_written(&snap, &increments);
    assert!(!idx.has_changes(), "nothing left to write at exit");
}

#[test]
fn an_upsert_another_process_replaced_is_not_written_again() {
    let idx = Index::default();
    let sys = hash(&0u8);
    let ours = entry(1, 10);
    idx.insert(key(1), ours.clone());
    idx.insert(key(2), entry(1, 20));
    // Another process's later version of entry 1, taken in at a refresh.
    let mut theirs = entry(1, 10);
    theirs.stamp = ours.stamp + 1;
    let mut records = State::empty(sys);
    records.apply(
        "index/delta-theirs",
        Delta {
            system: sys,
            upserts: vec![(key(1), theirs)],
            ..Delta::default()
        },
    );
    idx.absorb(records);
    let d = idx.pending(sys);
    let written: Vec<EntryKey> = d.upserts.iter().map(|(k, _)| *k).collect();
    assert_eq!(
        written,
        vec![key(2)],
        "only what memory holds as we wrote it"
    );
    idx.persisted(&d);
    assert!(!idx.has_entry_changes(), "the replaced upsert is forgotten");
    // Ours written again after that is ours to write.
    idx.insert(key(1), entry(1, 30));
    let d = idx.pending(sys);
    assert_eq!(d.upserts.len(), 1);
    assert_eq!(d.upserts[0].1.size, 30);
}

/// Records taken in over a snapshot searched in place settle, key by key,
/// as a state that applied them to the snapshot does, and taking them in
/// reads no block; a key this process removes stays removed.
mod taken_in_over_the_snapshot {
    use super::super::fixtures;
    use super::super::format::{self, Head, Snapshot};
    use super::*;
    use crate::traits::obj_store::WholeValue;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn lookups_settle_as_a_whole_read_does(
            base in fixtures::arb_delta(6),
            records in prop::collection::vec(fixtures::arb_delta(6), 1..4),
            removed in 0u8..6,
        ) {
            let sys = hash(&0u8);
            let entries = fixtures::applied(State::empty(sys), std::slice::from_ref(&base)).take_entries();
            let snap = Snapshot {
                system: sys,
                functions: Vec::new(),
                entries: entries.iter().map(|(k, e)| (*k, Entry::clone(e))).collect(),
                policy: None,
                folded: Vec::new(),
            };
            let head = format::encode_head(&Head::of(&snap, crate::layout::BASE.into(), 0)).unwrap();
            let bytes = format::encode_snapshot(&snap, &head).unwrap();
            let whole: HashMap<EntryKey, Arc<Entry>> =
                fixtures::applied(State::from_snapshot(snap), &records).take_entries().into_iter().collect();

            let idx = Index::default();
            idx.set_base(Table::open(Box::new(WholeValue(bytes))).unwrap());
            idx.absorb(fixtures::applied(State::empty(sys), &records));
            let table = idx.base.read().unwrap().clone().unwrap();
            prop_assert_eq!(table.cached_bytes(), 0, "opening read no block");
            for n in 0..6 {
                let k = fixtures::key(n);
                let expected = whole.get(&k).map(|e| Entry::clone(e));
                prop_assert_eq!(idx.get(&k), expected.clone(), "key {}", n);
                let underived = idx.get_underived(&k);
                let (e, derived) = underived.unzip();
                prop_assert_eq!(e.map(|e| e.stamp), expected.as_ref().map(|e| e.stamp));
                prop_assert_eq!(derived, expected.as_ref().map(|_| false), "their keys are stored");
            }
            let k = fixtures::key(removed);
            let had = idx.get(&k);
            prop_assert_eq!(idx.remove(&k, None), had);
            prop_assert_eq!(idx.get(&k), None, "removed stays removed");
        }
    }
}
