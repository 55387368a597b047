//! The snapshot table: lookups in place agree with a whole decode, and
//! damage is a lost entry or an error, never a panic or a wrong entry.

use super::format::Snapshot;
use super::table::{decode, encode, Table};
use crate::traits::obj_store::WholeValue;
use crate::{Entry, EntryKey};
use charm_freeze::hash;

fn entries(n: u32) -> Vec<(EntryKey, Entry)> {
    (0..n)
        .map(|i| {
            let key = EntryKey {
                name: hash(&(i % 3)),
                args: hash(&i),
            };
            let entry = Entry {
                obj_key: hash(&(i, "obj")),
                func_state: hash(&"state"),
                args_ver: hash(&()),
                size: u64::from(i),
                compute_ns: 7,
                serialize_ns: 8,
                stamp: u64::from(i) + 1,
                inline: (i % 4 == 0).then(|| vec![i as u8; (i % 50) as usize]),
            };
            (key, entry)
        })
        .collect()
}

fn snapshot(n: u32) -> Snapshot {
    Snapshot {
        system: hash(&"system"),
        functions: Vec::new(),
        entries: entries(n),
        policy: None,
        folded: vec!["index/delta-1".into()],
    }
}

fn table(bytes: Vec<u8>) -> Table {
    Table::open(Box::new(WholeValue(bytes))).unwrap()
}

#[test]
fn every_entry_is_found_in_place_and_others_are_not() {
    for n in [0, 1, 19, 20, 21, 999] {
        let bytes = encode(&snapshot(n)).unwrap();
        let (whole, damaged) = decode(&bytes).unwrap();
        assert_eq!((whole.entries.len(), damaged), (n as usize, 0));
        assert_eq!(whole.folded, ["index/delta-1"]);
        let t = table(bytes);
        assert_eq!((t.len(), t.system()), (u64::from(n), hash(&"system")));
        for (k, e) in entries(n) {
            assert_eq!(t.find(&k).unwrap().as_ref(), Some(&e), "n = {n}");
        }
        let absent = EntryKey {
            name: hash(&0u32),
            args: hash(&"absent"),
        };
        assert_eq!(t.find(&absent).unwrap(), None);
    }
}

#[test]
fn a_damaged_record_is_one_lost_entry() {
    let mut bytes = encode(&snapshot(50)).unwrap();
    bytes[96 + 208 * 10 + 100] ^= 1; // inside the 11th record
    let (whole, damaged) = decode(&bytes).unwrap();
    assert_eq!((whole.entries.len(), damaged), (49, 1));
    let t = table(bytes);
    let found: Vec<bool> = entries(50).iter().map(|(k, _)| t.find(k).is_ok()).collect();
    assert_eq!(
        found.iter().filter(|ok| !**ok).count(),
        1,
        "one lookup fails"
    );
}

#[test]
fn damaged_or_crafted_headers_are_refused() {
    let good = encode(&snapshot(5)).unwrap();
    let mut truncated = good.clone();
    truncated.pop();
    let mut flipped = good.clone();
    flipped[20] ^= 1; // the record count
    let mut meta = good.clone();
    let last = meta.len() - 1;
    meta[last] ^= 1;
    for bad in [truncated, flipped, b"CHARMIX2".to_vec(), Vec::new()] {
        assert!(decode(&bad).is_err());
        assert!(Table::open(Box::new(WholeValue(bad))).is_err());
    }
    assert!(decode(&meta).is_err(), "the meta section is checked whole");
}

#[test]
fn an_unsorted_table_misses_and_never_panics() {
    let mut bytes = encode(&snapshot(100)).unwrap();
    // Swap the first and last blocks of records: still valid records.
    let (a, b) = (96, 96 + 208 * 80);
    let first: Vec<u8> = bytes[a..a + 208 * 20].to_vec();
    let last: Vec<u8> = bytes[b..b + 208 * 20].to_vec();
    bytes[a..a + 208 * 20].copy_from_slice(&last);
    bytes[b..b + 208 * 20].copy_from_slice(&first);
    let t = table(bytes);
    for (k, e) in entries(100) {
        if let Ok(Some(found)) = t.find(&k) {
            assert_eq!(found, e, "what is found is the key's own record");
        }
    }
}
