//! The snapshot table: lookups in place agree with a whole decode, and
//! damage is a lost entry or an error, never a panic or a wrong entry.

use super::{decode, encode, Table};
use crate::index::format::Snapshot;
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

/// Where block `b`'s records start in an encoded snapshot (after the
/// 96-byte header and the directory of 16-byte entries, at the block's
/// directory entry).
fn records_of(bytes: &[u8], b: usize) -> usize {
    let records = u64::from_le_bytes(bytes[16..24].try_into().unwrap()) as usize;
    let blocks_at = 96 + (records.div_ceil(20) + 1) * 16;
    let entry = 96 + b * 16;
    blocks_at + u64::from_le_bytes(bytes[entry..entry + 8].try_into().unwrap()) as usize
}

fn table(bytes: Vec<u8>) -> Table {
    Table::open(Box::new(WholeValue(bytes))).unwrap()
}

#[test]
fn every_entry_is_found_in_place_and_others_are_not() {
    for n in [0, 1, 19, 20, 21, 999, 12_000] {
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
fn a_record_check_is_xxh3_of_the_record_and_its_value_whatever_their_length() {
    let record: Vec<u8> = (0..super::RECORD as u32).map(|i| (i * 7) as u8).collect();
    for len in [0, 1, 100, 308, 309, 4096] {
        let inline: Vec<u8> = (0..len as u32).map(|i| (i * 13) as u8).collect();
        let mut whole = record[..super::CHECKED].to_vec();
        whole.extend_from_slice(&inline);
        let expected = xxhash_rust::xxh3::xxh3_64(&whole) as u32;
        assert_eq!(
            super::record_check(&record, &inline),
            expected,
            "{len} bytes"
        );
    }
}

#[test]
fn the_blocks_kept_stay_within_their_bound() {
    let n = 12_000;
    let limit = 64 << 10;
    let t = table(encode(&snapshot(n)).unwrap()).with_cache_limit(limit);
    for _ in 0..2 {
        for (k, e) in entries(n) {
            assert_eq!(t.find(&k).unwrap().as_ref(), Some(&e));
            assert!(t.cached_bytes() <= limit, "{}", t.cached_bytes());
        }
    }
    assert!(t.cached_bytes() > limit / 2, "and they are kept");
}

#[test]
fn a_damaged_record_is_one_lost_entry() {
    let mut bytes = encode(&snapshot(50)).unwrap();
    let at = records_of(&bytes, 0) + 208 * 10 + 100; // inside the 11th record
    bytes[at] ^= 1;
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
fn a_misplaced_block_loses_its_records_only() {
    let mut bytes = encode(&snapshot(50)).unwrap();
    bytes[96 + 16..96 + 24].copy_from_slice(&u64::MAX.to_le_bytes()); // block 1's start
    let (whole, damaged) = decode(&bytes).unwrap();
    assert_eq!(damaged, 40, "blocks 0 and 1 end and start there");
    assert_eq!(whole.entries.len(), 10);
    let t = table(bytes);
    for (k, e) in entries(50) {
        if let Ok(Some(found)) = t.find(&k) {
            assert_eq!(found, e);
        }
    }
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
    // Swap the records of the first and last blocks: out of order.
    let (a, b) = (records_of(&bytes, 0), records_of(&bytes, 4));
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
