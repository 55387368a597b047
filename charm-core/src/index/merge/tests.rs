//! Merging in place settles every key as a whole read and fold would.

use super::super::fixtures::{applied, arb_delta, entry, key};
use super::super::format::{self, Snapshot};
use super::super::state::State;
use super::*;
use crate::traits::obj_store::WholeValue;
use charm_freeze::hash;
use proptest::prelude::*;

/// A meta section of `system` with nothing in it.
fn meta(system: Digest) -> Snapshot {
    Snapshot {
        system,
        functions: Vec::new(),
        entries: Vec::new(),
        policy: None,
        folded: Vec::new(),
    }
}

fn sorted(mut entries: Vec<(EntryKey, Entry)>) -> Vec<(EntryKey, Entry)> {
    entries.sort_by_key(|(k, _)| sort_key(k));
    entries
}

proptest! {
    #[test]
    fn merging_in_place_settles_as_a_whole_fold_does(
        base in arb_delta(12),
        records in prop::collection::vec(arb_delta(12), 1..4),
    ) {
        let sys = hash(&0u8);
        let entries: Vec<(EntryKey, Entry)> = applied(State::empty(sys), &[base])
            .take_entries()
            .into_iter()
            .map(|(k, e)| (k, Entry::clone(&e)))
            .collect();
        let bytes: u64 = entries.iter().map(|(_, e)| e.size).sum();
        let snap = Snapshot {
            system: sys,
            functions: Vec::new(),
            entries,
            policy: None,
            folded: Vec::new(),
        };
        let table = Table::open(Box::new(WholeValue(format::encode_snapshot(&snap, &[]).unwrap())))
            .unwrap();

        // A whole fold: the snapshot read into a state, the records applied.
        let mut whole = applied(State::from_snapshot(snap), &records);
        let expected = sorted(
            whole.take_entries().into_iter().map(|(k, e)| (k, Entry::clone(&e))).collect(),
        );
        let live: HashSet<Digest> = expected.iter().map(|(_, e)| e.obj_key).collect();
        let garbage: HashSet<Digest> = whole
            .replaced
            .iter()
            .filter(|e| e.inline.is_none() && !live.contains(&e.obj_key))
            .map(|e| e.obj_key)
            .collect();

        let mut state = applied(State::empty(sys), &records);
        let replaced = std::mem::take(&mut state.replaced);
        let settled = settle(&table, &state.into_overlay(), replaced, bytes)
            .unwrap()
            .expect("an undamaged table settles");
        prop_assert_eq!(settled.entries, expected.len() as u64);
        prop_assert_eq!(settled.bytes, expected.iter().map(|(_, e)| e.size).sum::<u64>());
        let mut doomed = settled.doomed_objects();
        let mut out = BlockWriter::new(settled.entries, 0, sys);
        prop_assert!(merge_into(&table, settled.changes, &mut out, &mut doomed).unwrap());
        let written = out.finish().unwrap().finish(&meta(sys), None, &[]).unwrap();
        let (merged, damaged) = format::decode_snapshot::<Entry>(&written).unwrap();
        prop_assert_eq!(damaged, 0);
        prop_assert_eq!(sorted(merged.entries), expected);
        // The objects a whole fold finds garbage, but for those of removed
        // versions (their remover deletes them: either fold may), and
        // none it keeps.
        let removed: HashSet<Digest> =
            records.iter().flat_map(|d| d.removals.iter().map(|r| r.obj)).collect();
        let doomed: HashSet<Digest> = doomed.into_iter().collect();
        prop_assert!(garbage.difference(&removed).all(|o| doomed.contains(o)));
        prop_assert!(doomed.is_disjoint(&live));
    }
}

/// A table whose records are out of order (crafted) is left to the full
/// fold, which reads every record whatever its place.
#[test]
fn records_out_of_order_are_the_full_folds() {
    let sys = hash(&0u8);
    let mut unsorted: Vec<(EntryKey, Entry)> = (0..3).map(|n| (key(n), entry(n, 1))).collect();
    unsorted.sort_by_key(|(k, _)| std::cmp::Reverse(sort_key(k)));
    let mut out = BlockWriter::new(3, 0, sys);
    for (k, e) in unsorted {
        out.push(k, e).unwrap();
    }
    let bytes = out.finish().unwrap().finish(&meta(sys), None, &[]).unwrap();
    let table = Table::open(Box::new(WholeValue(bytes))).unwrap();
    let mut out = BlockWriter::new(3, 0, sys);
    let merged = merge_into(&table, Vec::new(), &mut out, &mut HashSet::default()).unwrap();
    assert!(!merged, "refused");
}
