//! The snapshot table: lookups in place agree with a whole decode, and
//! damage is a lost entry or an error, never a panic or a wrong entry.

use super::{decode, encode, Table};
use crate::index::format::{self, Head, Snapshot};
use crate::traits::obj_store::WholeValue;
use crate::Result;
use crate::{Entry, EntryKey};
use charm_freeze::{hash, Digest};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

/// Entry `i` of function `name`: its argument is `i`, its object key
/// derived from `i`, its numbers small; tests change the fields they vary.
fn numbered(i: u64, name: Digest, inline: Option<Vec<u8>>) -> (EntryKey, Entry) {
    let key = EntryKey {
        name,
        args: hash(&i),
    };
    let entry = Entry {
        obj_key: hash(&(i, "obj")),
        func_state: hash(&"state"),
        args_ver: hash(&()),
        size: i,
        compute_ns: 7,
        serialize_ns: 8,
        stamp: i + 1,
        inline,
    };
    (key, entry)
}

fn entries(n: u32) -> Vec<(EntryKey, Entry)> {
    (0..n)
        .map(|i| {
            let inline = (i % 4 == 0).then(|| vec![i as u8; (i % 50) as usize]);
            numbered(u64::from(i), hash(&(i % 3)), inline)
        })
        .collect()
}

fn snapshot_of(entries: Vec<(EntryKey, Entry)>) -> Snapshot {
    Snapshot {
        system: hash(&"system"),
        functions: Vec::new(),
        entries,
        policy: None,
        folded: vec!["index/delta-1".into()],
    }
}

fn snapshot(n: u32) -> Snapshot {
    snapshot_of(entries(n))
}

/// `snap` encoded as a fold writes it, with its head.
fn encoded(snap: &Snapshot) -> Result<Vec<u8>> {
    let head = Head::of(snap, crate::layout::BASE.into(), 0);
    encode(snap, None, &format::encode_head(&head)?)
}

fn word(bytes: &[u8], at: usize) -> usize {
    u64::from_le_bytes(bytes[at..at + 8].try_into().unwrap()) as usize
}

/// Where the directory starts in an encoded snapshot: after the 96-byte
/// header and the index's head, whose length the header gives.
fn directory_of(bytes: &[u8]) -> usize {
    96 + word(bytes, 80)
}

/// Where block `b` starts in an encoded snapshot (after the 96-byte
/// header, the index's head and the directory of 24-byte entries, at the
/// block's directory entry), and its head's length.
fn block_of(bytes: &[u8], b: usize) -> (usize, usize) {
    let directory = directory_of(bytes);
    let blocks_at = directory + (word(bytes, 16).div_ceil(64) + 1) * 24;
    let entry = directory + b * 24;
    (blocks_at + word(bytes, entry), word(bytes, entry + 16))
}

/// Where record `i` of block `b` starts in an encoded snapshot.
fn record_of(bytes: &[u8], b: usize, i: usize) -> usize {
    let (start, head) = block_of(bytes, b);
    let n = (word(bytes, 16) - 64 * b).min(64);
    let head = super::Head::parse(&bytes[start..start + head], n).unwrap();
    head.record(i).unwrap().as_ptr() as usize - bytes.as_ptr() as usize
}

fn table(bytes: Vec<u8>) -> Table {
    Table::open(Box::new(WholeValue(bytes))).unwrap()
}

#[test]
fn every_entry_is_found_in_place_and_others_are_not() {
    for n in [0, 1, 19, 20, 21, 999, 12_000] {
        let bytes = encoded(&snapshot(n)).unwrap();
        let (whole, damaged) = decode::<Entry>(&bytes).unwrap();
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
fn every_field_round_trips_at_its_extremes() {
    // Every name, function state and argument version distinct (a block's
    // digests at their most, 192), numbers at the varints' edges.
    let numbers = [0, 1, 127, 128, 16_383, 16_384, 1 << 50, u64::MAX];
    let entries: Vec<(EntryKey, Entry)> = (0..200u32)
        .map(|i| {
            let n = |j: u32| numbers[((i + j) % 8) as usize];
            let inline = (i % 3 != 0).then(|| vec![i as u8; (i * 7 % 300) as usize]);
            let (key, entry) = numbered(u64::from(i), hash(&(i, "name")), inline);
            let entry = Entry {
                func_state: hash(&(i, "state")),
                args_ver: hash(&(i, "version")),
                size: n(0).min(super::MAX_ENTRY_SIZE),
                compute_ns: n(1),
                serialize_ns: n(2),
                stamp: n(3),
                ..entry
            };
            (key, entry)
        })
        .collect();
    let bytes = encoded(&snapshot_of(entries.clone())).unwrap();
    let (whole, damaged) = decode::<Entry>(&bytes).unwrap();
    assert_eq!(damaged, 0);
    let mut decoded = whole.entries;
    decoded.sort_by_key(|(k, _)| super::sort_key(k));
    let mut expected = entries.clone();
    expected.sort_by_key(|(k, _)| super::sort_key(k));
    assert_eq!(decoded, expected);
    let t = table(bytes);
    for (k, e) in entries {
        assert_eq!(t.find(&k).unwrap(), Some(e));
    }
}

#[test]
fn a_record_check_is_xxh3_of_the_image_and_its_value_whatever_their_length() {
    let mut image = [0u8; super::IMAGE];
    for (i, b) in image.iter_mut().enumerate() {
        *b = (i * 7) as u8;
    }
    // At the copy on the stack's limit (512 bytes with the image), and past.
    for len in [0, 1, 100, 315, 316, 4096] {
        let inline: Vec<u8> = (0..len as u32).map(|i| (i * 13) as u8).collect();
        let mut whole = image.to_vec();
        whole.extend_from_slice(&inline);
        let expected = xxhash_rust::xxh3::xxh3_64(&whole) as u32;
        assert_eq!(
            super::record_check(&image, &inline),
            expected,
            "{len} bytes"
        );
    }
}

/// Entry `i` as a call stores it: its object key the digest of its five
/// subkeys under the test snapshots' system state.
fn as_stored_by_a_call(i: u64, inline: Option<Vec<u8>>) -> (EntryKey, Entry) {
    let (key, entry) = numbered(i, hash(&"f"), inline);
    let obj_key = super::derived_obj_key(hash(&"system"), &key, &entry);
    (key, Entry { obj_key, ..entry })
}

#[test]
fn a_tiny_entry_takes_about_sixty_bytes_besides_its_value() {
    let n = 10_000;
    let per_entry = |derived: bool| {
        let snap = snapshot_of(
            (0..n)
                .map(|i: u64| {
                    let inline = Some(i.to_le_bytes().to_vec());
                    let (key, entry) = match derived {
                        true => as_stored_by_a_call(i, inline),
                        false => numbered(i, hash(&"f"), inline),
                    };
                    // What a tiny call records: its numbers as wide as real ones.
                    let entry = Entry {
                        size: 120,
                        compute_ns: 20_000,
                        serialize_ns: 300,
                        stamp: 1_796_000_000_000_000_000 + i,
                        ..entry
                    };
                    (key, entry)
                })
                .collect(),
        );
        let bytes = encoded(&snap).unwrap();
        (bytes.len() as u64 - 8 * n) / n
    };
    // The object key is left out when it is the five subkeys' digest...
    let (left_out, kept) = (per_entry(true), per_entry(false));
    assert!(left_out < 70, "{left_out} bytes per entry");
    // ... and spelled out when it is not.
    assert_eq!(kept, left_out + 32);
}

#[test]
fn a_left_out_object_key_is_derived_and_the_record_checks_that_it_is_left_out() {
    let entries: Vec<(EntryKey, Entry)> = (0..100)
        .map(|i| as_stored_by_a_call(i, (i % 2 == 0).then(|| vec![i as u8; 3])))
        .collect();
    let mut bytes = encoded(&snapshot_of(entries.clone())).unwrap();
    let (whole, damaged) = decode::<Entry>(&bytes).unwrap();
    assert_eq!(damaged, 0);
    let t = table(bytes.clone());
    for (k, e) in &entries {
        assert!(whole.entries.contains(&(*k, e.clone())), "decoded whole");
        assert_eq!(t.find(k).unwrap().as_ref(), Some(e), "found in place");
        let (underived, derived) = t.find_underived(k).unwrap().unwrap();
        assert!(derived);
        assert_eq!(underived.obj_key, Digest::default());
        assert_eq!(
            Entry {
                obj_key: e.obj_key,
                ..underived
            },
            *e
        );
    }
    // A record whose tag says the key is spelled out (its last bit
    // cleared) reads a key that is not there: it fails its check.
    let at = record_of(&bytes, 0, 5) + 24 + 3 + 4; // after the small numbers
    assert_eq!(bytes[at] % 2, 1, "the tag of a left-out key");
    bytes[at] ^= 1;
    let (whole, damaged) = decode::<Entry>(&bytes).unwrap();
    assert_eq!((whole.entries.len(), damaged), (99, 1));
}

#[test]
fn the_blocks_kept_stay_within_their_bound() {
    let n = 12_000;
    let limit = 64 << 10;
    let t = table(encoded(&snapshot(n)).unwrap()).with_cache_limit(limit);
    for _ in 0..2 {
        for (k, e) in entries(n) {
            assert_eq!(t.find(&k).unwrap().as_ref(), Some(&e));
            assert!(t.cached_bytes() <= limit, "{}", t.cached_bytes());
        }
    }
    assert!(t.cached_bytes() > limit / 2, "and they are kept");
    t.forget_blocks();
    assert_eq!(t.cached_bytes(), 0, "forgotten");
    let (k, e) = &entries(n)[n as usize / 2];
    assert_eq!(t.find(k).unwrap().as_ref(), Some(e), "and read again");
}

#[test]
fn a_full_cache_lets_its_oldest_block_go_first() {
    let n = 12_000; // 188 blocks
    let bytes = encoded(&snapshot(n)).unwrap();
    let reads = Arc::new(AtomicUsize::new(0));
    let t = Table::open(Box::new(Counted(WholeValue(bytes), reads.clone())))
        .unwrap()
        .with_cache_limit(40 << 10);
    let mut all = entries(n);
    all.sort_by_key(|(k, _)| super::sort_key(k));
    // In the table's order: each block read once (past the first 16, by
    // groups of 8), from the first to the last.
    for (k, e) in &all {
        assert_eq!(t.find(k).unwrap().as_ref(), Some(e));
    }
    reads.store(0, Ordering::Relaxed);
    // The last group read (blocks 184 to 187, about 18 KiB) stays whole.
    for (k, e) in &all[all.len() - 200..] {
        assert_eq!(t.find(k).unwrap().as_ref(), Some(e));
    }
    assert_eq!(reads.load(Ordering::Relaxed), 0, "the newest blocks stay");
    assert_eq!(t.find(&all[0].0).unwrap().as_ref(), Some(&all[0].1));
    assert!(reads.load(Ordering::Relaxed) > 0, "the oldest went");
}

#[test]
fn threads_looking_up_through_a_full_cache_find_every_entry() {
    let n = 12_000;
    let limit = 24 << 10; // a few blocks: nearly every read evicts
    let t = table(encoded(&snapshot(n)).unwrap()).with_cache_limit(limit);
    let all = entries(n);
    std::thread::scope(|s| {
        for thread in 0..4u32 {
            let (t, all) = (&t, &all);
            s.spawn(move || {
                for i in 0..3000u32 {
                    let (k, e) = &all[(i * 7919 + thread * 104_729) as usize % all.len()];
                    assert_eq!(t.find(k).unwrap().as_ref(), Some(e));
                }
            });
        }
    });
    assert!(t.cached_bytes() <= limit, "{}", t.cached_bytes());
    t.forget_blocks();
    assert_eq!(t.cached_bytes(), 0);
}

#[test]
fn a_damaged_record_is_one_lost_entry() {
    let mut bytes = encoded(&snapshot(50)).unwrap();
    let at = record_of(&bytes, 0, 10) + 30; // the 11th record's stamp
    bytes[at] ^= 1;
    let (whole, damaged) = decode::<Entry>(&bytes).unwrap();
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
    let mut bytes = encoded(&snapshot(150)).unwrap();
    let at = directory_of(&bytes) + 24; // block 1's start
    bytes[at..at + 8].copy_from_slice(&u64::MAX.to_le_bytes());
    let (whole, damaged) = decode::<Entry>(&bytes).unwrap();
    assert_eq!(damaged, 128, "blocks 0 and 1 end and start there");
    assert_eq!(whole.entries.len(), 22);
    let t = table(bytes);
    for (k, e) in entries(150) {
        if let Ok(Some(found)) = t.find(&k) {
            assert_eq!(found, e);
        }
    }
}

#[test]
fn damaged_or_crafted_headers_are_refused() {
    let good = encoded(&snapshot(5)).unwrap();
    let mut truncated = good.clone();
    truncated.pop();
    let mut flipped = good.clone();
    flipped[20] ^= 1; // the record count
    let mut meta = good.clone();
    let last = meta.len() - 1;
    meta[last] ^= 1;
    for bad in [truncated, flipped, b"CHARMIX2".to_vec(), Vec::new()] {
        assert!(decode::<Entry>(&bad).is_err());
        assert!(Table::open(Box::new(WholeValue(bad))).is_err());
    }
    assert!(
        decode::<Entry>(&meta).is_err(),
        "the meta section is checked whole"
    );
}

#[test]
fn an_unsorted_table_misses_and_never_panics() {
    let mut bytes = encoded(&snapshot(200)).unwrap();
    // Block 0's prefixes in reverse order: they no longer match its records.
    let (start, _) = block_of(&bytes, 0);
    let slot = |i: usize| start + 12 * i..start + 12 * i + 8; // its prefix
    let prefixes: Vec<Vec<u8>> = (0..64).map(|i| bytes[slot(i)].to_vec()).collect();
    for (i, prefix) in prefixes.iter().rev().enumerate() {
        bytes[slot(i)].copy_from_slice(prefix);
    }
    // Blocks 1 and 2 swapped in the directory: out of order.
    let (one, two) = (directory_of(&bytes) + 24, directory_of(&bytes) + 2 * 24);
    let first: Vec<u8> = bytes[one..one + 24].to_vec();
    bytes.copy_within(two..two + 24, one);
    bytes[two..two + 24].copy_from_slice(&first);
    let t = table(bytes);
    for (k, e) in entries(200) {
        if let Ok(Some(found)) = t.find(&k) {
            assert_eq!(found, e, "what is found is the key's own record");
        }
    }
}

#[test]
fn crafted_heads_are_refused_and_never_panic() {
    let good = encoded(&snapshot(150)).unwrap();
    let (start, head) = block_of(&good, 0);
    let mut cases = Vec::new();
    // A head longer than any real one, and one too short for its records.
    for len in [super::MAX_HEAD + 1, 64] {
        let mut bytes = good.clone();
        let at = directory_of(&bytes) + 16; // block 0's head length
        bytes[at..at + 8].copy_from_slice(&len.to_le_bytes());
        cases.push(bytes);
    }
    // Record ends past the records, and out of order.
    for (i, end) in [(63, u32::MAX), (10, 0), (0, 100_000)] {
        let mut bytes = good.clone();
        let at = start + 12 * i + 8; // slot i's end
        bytes[at..at + 4].copy_from_slice(&end.to_le_bytes());
        cases.push(bytes);
    }
    // A record naming a digest the block does not hold.
    let mut bytes = good.clone();
    bytes[record_of(&good, 0, 5) + 24] = 255;
    cases.push(bytes);
    // Every byte of the head flipped in turn, a few at a time.
    for at in (start..start + head).step_by(37) {
        let mut bytes = good.clone();
        bytes[at] ^= 0x5a;
        cases.push(bytes);
    }
    for bytes in cases {
        if let Ok((whole, _)) = decode::<Entry>(&bytes) {
            for (k, e) in &whole.entries {
                let own = entries(150).into_iter().find(|(key, _)| key == k);
                assert_eq!(
                    own.map(|(_, e)| e).as_ref(),
                    Some(e),
                    "a decoded entry is real"
                );
            }
        }
        let t = table(bytes);
        for (k, e) in entries(150) {
            if let Ok(Some(found)) = t.find(&k) {
                assert_eq!(found, e, "what is found is the key's own record");
            }
        }
    }
}

/// A reader that counts its reads.
#[derive(Debug)]
struct Counted(WholeValue, Arc<AtomicUsize>);

impl crate::StoredReader for Counted {
    fn size(&self) -> u64 {
        self.0.size()
    }

    fn read_at(&self, offset: u64, buf: &mut [u8]) -> Result<()> {
        self.1.fetch_add(1, Ordering::Relaxed);
        self.0.read_at(offset, buf)
    }
}

#[test]
fn past_a_few_blocks_a_block_is_read_with_its_neighbours() {
    let n = 12_000; // 188 blocks
    let bytes = encoded(&snapshot(n)).unwrap();
    let reads = Arc::new(AtomicUsize::new(0));
    let t = Table::open(Box::new(Counted(WholeValue(bytes), reads.clone()))).unwrap();
    let mut all = entries(n);
    all.sort_by_key(|(k, _)| hash(&(k.args, "scramble")));
    let opening = reads.swap(0, Ordering::Relaxed);
    for (k, e) in &all {
        assert_eq!(t.find(k).unwrap().as_ref(), Some(e));
    }
    // The directory's few chunks, 16 blocks alone, then groups of 8.
    let read = reads.load(Ordering::Relaxed);
    assert!(
        read <= 4 + 16 + 188 / 8 + 16,
        "{read} reads after {opening}"
    );
}

#[test]
fn crafted_directories_in_a_table_read_by_groups_miss_and_never_panic() {
    let n = 12_000;
    let good = encoded(&snapshot(n)).unwrap();
    let entry = |b: usize| directory_of(&good) + 24 * b;
    let mut misplaced = good.clone();
    misplaced[entry(41)..entry(41) + 8].copy_from_slice(&u64::MAX.to_le_bytes());
    let mut swapped = good.clone();
    swapped.copy_within(entry(60)..entry(60) + 24, entry(61));
    swapped[entry(60)..entry(60) + 24].copy_from_slice(&good[entry(61)..entry(61) + 24]);
    let mut shrunk = good.clone();
    shrunk[entry(90) + 16..entry(90) + 24].copy_from_slice(&0u64.to_le_bytes()); // no head
    for bytes in [misplaced, swapped, shrunk] {
        let t = table(bytes);
        let mut found = 0;
        for (k, e) in entries(n) {
            if let Ok(Some(got)) = t.find(&k) {
                assert_eq!(got, e, "what is found is the key's own record");
                found += 1;
            }
        }
        assert!(
            found >= n - 3 * 64,
            "{found} found: a crafted entry loses a few blocks"
        );
    }
}

#[test]
fn opening_reads_the_head_with_the_header_and_a_small_directory_too() {
    for (n, reads) in [(0, 1), (1000, 2), (12_000, 2), (40_000, 3)] {
        let snap = snapshot(n);
        let count = Arc::default();
        let reader = Counted(WholeValue(encoded(&snap).unwrap()), Arc::clone(&count));
        let mut t = Table::open(Box::new(reader)).unwrap();
        let head = t.take_index_head().expect("the head written with it");
        assert_eq!(
            (head.system, &head.folded, head.entries),
            (snap.system, &snap.folded, u64::from(n))
        );
        if let Some((k, e)) = snap.entries.last() {
            assert_eq!(t.find(k).unwrap().as_ref(), Some(e));
        }
        let done = count.load(Ordering::Relaxed);
        assert_eq!(done, reads, "{n} entries: open and one lookup");
    }
}

#[test]
fn a_long_head_is_read_on_its_own_and_a_damaged_one_refused() {
    let mut snap = snapshot(300);
    snap.folded = (0..1000).map(|i| format!("index/delta-{i:040}")).collect();
    let bytes = encoded(&snap).unwrap();
    let mut t = table(bytes.clone());
    assert_eq!(t.take_index_head().unwrap().folded.len(), 1000);
    for (k, e) in &snap.entries {
        assert_eq!(t.find(k).unwrap().as_ref(), Some(e));
    }
    let mut damaged = bytes.clone();
    damaged[96 + 40] ^= 1; // inside the head section
    assert!(Table::open(Box::new(WholeValue(damaged))).is_err());
    let mut crafted = bytes;
    crafted[80..88].copy_from_slice(&(u64::MAX / 2).to_le_bytes()); // head bytes
    let check = xxhash_rust::xxh3::xxh3_64(&crafted[..88]);
    crafted[88..96].copy_from_slice(&check.to_le_bytes());
    assert!(Table::open(Box::new(WholeValue(crafted.clone()))).is_err());
    assert!(decode::<Entry>(&crafted).is_err());
}

#[test]
fn replacing_the_meta_keeps_every_entry_byte_for_byte() {
    // Over a MiB of blocks: written again from the old file in two parts.
    let snap = snapshot(20_000);
    let old = encoded(&snap).unwrap();
    let mut meta = snapshot_of(Vec::new());
    meta.folded = (0..50).map(|i| format!("index/hits-{i}")).collect();
    meta.policy = Some(format::PolicyState {
        name: "lru".into(),
        bytes: vec![7; 300],
    });
    let head = Head {
        folded: meta.folded.clone(),
        ..Head::of(&snap, crate::layout::BASE.into(), 0)
    };
    let head = format::encode_head(&head).unwrap();
    let new = super::replace_meta(old.clone(), &meta, None, &head).unwrap();
    let mut streamed = Vec::new();
    let reader = WholeValue(old.clone());
    super::write_with_meta(&reader, &meta, None, &head, &mut streamed).unwrap();
    assert!(streamed == new, "written a part at a time, the same bytes");
    // The directory and the blocks, from after the head to the meta section.
    let entries_of = |b: &[u8]| b[directory_of(b)..b.len() - word(b, 32)].to_vec();
    assert_eq!(entries_of(&new), entries_of(&old));
    let (whole, damaged) = decode::<Entry>(&new).unwrap();
    assert_eq!((whole.entries.len(), damaged), (20_000, 0));
    assert_eq!(
        (whole.folded, whole.policy),
        (meta.folded.clone(), meta.policy.clone())
    );
    let mut t = table(new);
    assert_eq!(t.take_index_head().unwrap().folded, meta.folded);
    let (read, stream) = t.read_meta().unwrap();
    let stream = stream.unwrap();
    let stored = format::PolicyState {
        name: stream.name,
        bytes: stream.state.read_all().unwrap(),
    };
    assert_eq!(
        (read.folded, read.policy, Some(stored)),
        (meta.folded.clone(), None, meta.policy.clone())
    );
    for (k, e) in &snap.entries {
        assert_eq!(t.find(k).unwrap().as_ref(), Some(e));
    }
    meta.system = hash(&"another system");
    assert!(
        super::write_with_meta(&WholeValue(old.clone()), &meta, None, &[], &mut Vec::new())
            .is_err(),
        "its records are the old one's"
    );
    assert!(super::replace_meta(old, &meta, None, &[]).is_err());
}

/// A policy that keeps the keys it was told of, in order.
#[derive(Debug, Default, serde::Serialize, serde::Deserialize)]
struct Kept(Vec<EntryKey>);

#[typetag::serde(name = "test_table_kept")]
impl crate::ReplacementPolicy for Kept {
    fn add(&mut self, key: EntryKey, _: &crate::EntryMeta) {
        self.0.push(key);
    }
    fn access(&mut self, _: EntryKey, _: &crate::EntryMeta) {}
    fn invalidate(&mut self, key: &EntryKey) {
        self.0.retain(|k| k != key);
    }
    fn evict(&mut self) -> Option<EntryKey> {
        (!self.0.is_empty()).then(|| self.0.remove(0))
    }
    fn update(&mut self, _: &dyn crate::ReplacementPolicy) {}
    fn keys(&self) -> Vec<EntryKey> {
        self.0.clone()
    }
}

#[test]
fn a_live_policy_is_written_as_its_stored_state_is_and_read_back_as_a_stream() {
    let snap = snapshot(3000);
    let old = encoded(&snap).unwrap();
    let live: Box<dyn crate::ReplacementPolicy> =
        Box::new(Kept(snap.entries.iter().map(|(k, _)| *k).collect()));
    let mut meta = snapshot_of(Vec::new());
    meta.folded = vec!["index/hits-1".into()];
    let head = format::encode_head(&Head::of(&snap, crate::layout::BASE.into(), 0)).unwrap();
    // Encoded as it is written, or stored first: the same bytes.
    let from_live = super::replace_meta(old.clone(), &meta, Some(&*live), &head).unwrap();
    let mut streamed = Vec::new();
    let reader = WholeValue(old.clone());
    super::write_with_meta(&reader, &meta, Some(&*live), &head, &mut streamed).unwrap();
    let mut stored = meta.clone();
    stored.policy = Some(format::PolicyState {
        name: "test_table_kept".into(),
        bytes: postcard::to_stdvec(&live).unwrap(),
    });
    let from_stored = super::replace_meta(old, &stored, None, &head).unwrap();
    assert!(from_live == from_stored && streamed == from_stored);
    // A full fold's encoding likewise.
    let mut whole_stored = snap.clone();
    whole_stored.policy = stored.policy.clone();
    let whole_live = super::encode(&snap, Some(&*live), &head).unwrap();
    assert_eq!(
        whole_live,
        super::encode(&whole_stored, None, &head).unwrap()
    );
    // The whole snapshot reads the state back as bytes, the table as a
    // stream of them.
    assert_eq!(decode::<Entry>(&from_live).unwrap().0.policy, stored.policy);
    let t = table(from_live);
    let (_, stream) = t.read_meta().unwrap();
    let stream = stream.unwrap();
    assert_eq!(stream.name, "test_table_kept");
    assert_eq!(stream.decode().unwrap().keys(), live.keys());
    // A state that needs more of its bytes at once than a stream holds
    // (20 000 keys, 64 bytes each, 1.3 MB): read whole, and decoded.
    let many = snapshot(20_000);
    let live: Box<dyn crate::ReplacementPolicy> =
        Box::new(Kept(many.entries.iter().map(|(k, _)| *k).collect()));
    let new = super::replace_meta(encoded(&many).unwrap(), &meta, Some(&*live), &head);
    let t = table(new.unwrap());
    let (_, stream) = t.read_meta().unwrap();
    assert_eq!(stream.unwrap().decode().unwrap().keys(), live.keys());
}

/// A reader of bytes a test can change after the table is opened.
#[derive(Debug)]
struct Changing(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl crate::StoredReader for Changing {
    fn size(&self) -> u64 {
        self.0.lock().unwrap().len() as u64
    }

    fn read_at(&self, offset: u64, buf: &mut [u8]) -> Result<()> {
        let bytes = self.0.lock().unwrap();
        buf.copy_from_slice(&bytes[offset as usize..offset as usize + buf.len()]);
        Ok(())
    }
}

#[test]
fn a_record_found_again_is_the_same_and_a_value_read_apart_is_checked_at_every_read() {
    // A value too long for its block to be read whole: read on its own.
    let long = vec![5u8; 70 << 10];
    let mut all = entries(20);
    all[3] = numbered(3, hash(&0u32), Some(long.clone()));
    let bytes = encoded(&snapshot_of(all.clone())).unwrap();
    let at = bytes.windows(long.len()).position(|w| w == long).unwrap();
    let shared = std::sync::Arc::new(std::sync::Mutex::new(bytes));
    let t = Table::open(Box::new(Changing(shared.clone()))).unwrap();
    for _ in 0..2 {
        for (k, e) in &all {
            assert_eq!(t.find(k).unwrap().as_ref(), Some(e));
        }
    }
    shared.lock().unwrap()[at + 100] ^= 1;
    assert!(
        t.find(&all[3].0).is_err(),
        "the value changed: its check fails"
    );
    assert_eq!(t.find(&all[4].0).unwrap().as_ref(), Some(&all[4].1));
}

/// A policy whose state encodes to other bytes of the same length each
/// time (a plugin's bug): its first encoding sizes and sums the meta
/// section, its second is the one written.
#[derive(Debug, Default)]
struct Fickle(std::sync::atomic::AtomicU8);

impl serde::Serialize for Fickle {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.serialize_u8(self.0.fetch_add(1, Ordering::Relaxed))
    }
}

impl<'de> serde::Deserialize<'de> for Fickle {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        u8::deserialize(d).map(|n| Fickle(n.into()))
    }
}

#[typetag::serde(name = "test_table_fickle")]
impl crate::ReplacementPolicy for Fickle {
    fn add(&mut self, _: EntryKey, _: &crate::EntryMeta) {}
    fn access(&mut self, _: EntryKey, _: &crate::EntryMeta) {}
    fn invalidate(&mut self, _: &EntryKey) {}
    fn evict(&mut self) -> Option<EntryKey> {
        None
    }
    fn update(&mut self, _: &dyn crate::ReplacementPolicy) {}
    fn keys(&self) -> Vec<EntryKey> {
        Vec::new()
    }
}

#[test]
fn a_policy_that_encodes_otherwise_the_second_time_fails_the_write_not_the_next_open() {
    let snap = snapshot(100);
    let old = encoded(&snap).unwrap();
    let live: Box<dyn crate::ReplacementPolicy> = Box::new(Fickle::default());
    let meta = snapshot_of(Vec::new());
    let written =
        super::write_with_meta(&WholeValue(old), &meta, Some(&*live), &[], &mut Vec::new());
    assert!(
        written.is_err(),
        "a header that would not hold is not written"
    );
}
