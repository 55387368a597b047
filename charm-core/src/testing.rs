//! Conformance suites for plugin implementations (feature `testing`).
//!
//! Every built-in plugin's tests call the suite of its trait, and so
//! should yours: they check the `# Contract` of each trait and panic with
//! a message naming the broken rule. **The store suite deletes everything
//! the store holds**: run it on a store of its own.
//!
//! ```
//! use charm_core::testing;
//! # use charm_stores as _;
//! let store = charm_core::open_store("mem:").unwrap();
//! testing::obj_store(&*store);
//! ```

#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::{EntryKey, EntryMeta, ObjStore, Pickler, RWLock, ReplacementPolicy};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashSet};
use std::sync::atomic::{AtomicI64, Ordering};

/// The [`ObjStore`] contract: every check of [`obj_store_checks`], in turn.
///
/// **It deletes everything the store holds** (it starts and ends with
/// `clear`): give it a store of its own (a fresh folder, bucket prefix or
/// database).
pub fn obj_store(store: &dyn ObjStore) {
    for (name, check) in obj_store_checks::ALL {
        store
            .clear()
            .unwrap_or_else(|e| panic!("{name}: clear failed: {e}"));
        check(store);
    }
}

/// The checks of the [`ObjStore`] contract, one function each, so that a
/// store that fails one says which rule it broke. Each expects an empty
/// store and leaves keys behind; [`obj_store`] clears
/// between them.
pub mod obj_store_checks {
    use crate::ObjStore;

    /// One check of the contract.
    pub type Check = fn(&dyn ObjStore);

    /// Every check, by name.
    pub const ALL: [(&str, Check); 8] = [
        ("absent_keys", absent_keys),
        ("put_replaces", put_replaces),
        ("empty_values", empty_values),
        ("prefix_listing", prefix_listing),
        ("deletion", deletion),
        ("invalid_keys", invalid_keys),
        (
            "whole_values_under_concurrent_writers",
            whole_values_under_concurrent_writers,
        ),
        ("clear_deletes_every_key", clear_deletes_every_key),
    ];

    /// `get` of an absent key is `Ok(None)`, `delete` is `Ok(false)`.
    pub fn absent_keys(store: &dyn ObjStore) {
        assert_eq!(
            store.get("t/absent").unwrap(),
            None,
            "get of an absent key is Ok(None)"
        );
        assert!(
            !store.delete("t/absent").unwrap(),
            "delete of an absent key is Ok(false)"
        );
        assert!(!store.contains("t/absent").unwrap());
    }

    /// A second `put` replaces the first.
    pub fn put_replaces(store: &dyn ObjStore) {
        store.put("t/a", b"first").unwrap();
        store.put("t/a", b"second value").unwrap();
        assert_eq!(
            store.get("t/a").unwrap().as_deref(),
            Some(&b"second value"[..]),
            "put replaces"
        );
        assert!(store.contains("t/a").unwrap());
    }

    /// An empty value is a value, not an absence.
    pub fn empty_values(store: &dyn ObjStore) {
        store.put("t/b/c", b"").unwrap();
        assert_eq!(
            store.get("t/b/c").unwrap().as_deref(),
            Some(&b""[..]),
            "empty values are values"
        );
    }

    /// `keys(prefix)` lists exactly the keys with that prefix.
    pub fn prefix_listing(store: &dyn ObjStore) {
        for k in ["t/a", "t/b/c", "u"] {
            store.put(k, b"v").unwrap();
        }
        let mut keys = store.keys("t/").unwrap();
        keys.sort();
        assert_eq!(
            keys,
            ["t/a", "t/b/c"],
            "keys(prefix) lists exactly the keys with that prefix"
        );
        assert_eq!(
            store.keys("").unwrap().len(),
            3,
            "keys(\"\") lists every key"
        );
    }

    /// A deleted key is gone, and `delete` says it was there.
    pub fn deletion(store: &dyn ObjStore) {
        store.put("t/a", b"v").unwrap();
        assert!(
            store.delete("t/a").unwrap(),
            "delete of a present key is Ok(true)"
        );
        assert_eq!(store.get("t/a").unwrap(), None, "deleted keys are gone");
    }

    /// Keys that [`valid_key`](crate::valid_key) rejects are errors for
    /// `put`, `get` and `delete` alike, never stored or looked up.
    pub fn invalid_keys(store: &dyn ObjStore) {
        for bad in ["../x", "a//b", "", "a/./b", "sp ace"] {
            assert!(
                store.put(bad, b"x").is_err(),
                "put of invalid key {bad:?} is an error"
            );
            assert!(
                store.get(bad).is_err(),
                "get of invalid key {bad:?} is an error"
            );
            assert!(
                store.delete(bad).is_err(),
                "delete of invalid key {bad:?} is an error"
            );
        }
    }

    /// Concurrent writers of one key: readers see one whole value.
    pub fn whole_values_under_concurrent_writers(store: &dyn ObjStore) {
        let values: Vec<Vec<u8>> = (0..4u8).map(|i| vec![i; 4096]).collect();
        std::thread::scope(|s| {
            for v in &values {
                s.spawn(|| {
                    for _ in 0..20 {
                        store.put("t/contended", v).unwrap();
                    }
                });
            }
            s.spawn(|| {
                for _ in 0..50 {
                    if let Some(got) = store.get("t/contended").unwrap() {
                        assert!(values.contains(&got), "a torn write was read");
                    }
                }
            });
        });
    }

    /// `clear` deletes every key.
    pub fn clear_deletes_every_key(store: &dyn ObjStore) {
        for k in ["t/a", "t/b/c", "u"] {
            store.put(k, b"v").unwrap();
        }
        store.clear().unwrap();
        assert!(
            store.keys("").unwrap().is_empty(),
            "clear deletes every key"
        );
    }
}

fn key(i: u32) -> EntryKey {
    EntryKey {
        name: charm_freeze::hash(&"conformance"),
        args: charm_freeze::hash(&i),
    }
}

/// The policy registered as `name` is found by that name, and its typetag
/// name is the same: the engine persists a policy's state under its
/// typetag name and looks it up by its registry name, so a mismatch would
/// make every stored state of it unreadable. Its state also round-trips
/// through the persisted form.
pub fn policy_registration(name: &str) {
    let mut p = crate::new_policy(name).unwrap_or_else(|e| panic!("{name} is not registered: {e}"));
    assert_eq!(
        p.typetag_name(),
        name,
        "#[typetag::serde(name = ..)] must be the registry name"
    );
    p.add(
        key(1),
        &EntryMeta {
            size: 10,
            cost_ns: 10,
        },
    );
    let stored = postcard::to_stdvec(&p).expect("a policy state encodes");
    let back: Box<dyn ReplacementPolicy> = postcard::from_bytes(&stored)
        .unwrap_or_else(|e| panic!("the persisted state of {name} does not decode: {e}"));
    assert_eq!(back.keys(), vec![key(1)], "the state survives persistence");
}

/// The [`ReplacementPolicy`] contract: eviction
/// returns only live keys, each once; invalidated keys never come back; a
/// byte budget is reached by evicting; a merge keeps both sides' keys; the
/// state survives persistence through `typetag`.
pub fn policy(make: fn() -> Box<dyn ReplacementPolicy>) {
    let mut p = make();
    let mut live: BTreeMap<EntryKey, u64> = BTreeMap::new();
    for i in 0..50u32 {
        let meta = EntryMeta {
            size: 10 + u64::from(i % 7) * 100,
            cost_ns: 1_000 + u64::from(i % 5) * 10_000,
        };
        p.add(key(i), &meta);
        live.insert(key(i), meta.size);
        if i % 3 == 0 {
            p.access(
                key(i / 2),
                &EntryMeta {
                    size: live.get(&key(i / 2)).copied().unwrap_or(1),
                    cost_ns: 1,
                },
            );
        }
    }
    for i in (0..50).step_by(10) {
        p.invalidate(&key(i));
        live.remove(&key(i));
    }
    p.invalidate(&key(999)); // unknown: nothing happens
    let budget: u64 = live.values().sum::<u64>() / 2;
    let mut seen = HashSet::new();
    while live.values().sum::<u64>() > budget {
        let k = p
            .evict()
            .expect("the policy ran out of keys while entries are live");
        assert!(
            live.remove(&k).is_some(),
            "evict returned a key that is not live"
        );
        assert!(seen.insert(k), "evict returned a key twice");
    }
    let mut rest: Vec<EntryKey> = p.keys();
    rest.sort();
    assert_eq!(
        rest,
        live.keys().copied().collect::<Vec<_>>(),
        "keys() lists exactly the live keys"
    );
    while let Some(k) = p.evict() {
        assert!(
            live.remove(&k).is_some(),
            "evict returned a key that is not live"
        );
    }
    assert!(live.is_empty(), "every live key is evicted in the end");

    let mut a = make();
    let mut b = make();
    let meta = EntryMeta {
        size: 1,
        cost_ns: 1,
    };
    a.add(key(1), &meta);
    b.add(key(2), &meta);
    b.add(key(1), &meta);
    a.update(&*b);
    let mut keys = a.keys();
    keys.sort();
    let mut both = vec![key(1), key(2)];
    both.sort();
    assert_eq!(keys, both, "a merge keeps the keys of both sides");

    let bytes = postcard::to_stdvec(&a).unwrap();
    let mut back: Box<dyn ReplacementPolicy> = postcard::from_bytes(&bytes).unwrap();
    assert_eq!(
        back.typetag_name(),
        a.typetag_name(),
        "state persists under its name"
    );
    let mut evicted = Vec::new();
    while let Some(k) = back.evict() {
        evicted.push(k);
    }
    evicted.sort();
    assert_eq!(evicted, both, "the persisted state tracks the same keys");
}

#[derive(Debug, PartialEq, Serialize, Deserialize)]
struct UnitStruct;

#[derive(Debug, PartialEq, Serialize, Deserialize)]
struct Newtype(u16);

#[derive(Debug, PartialEq, Serialize, Deserialize)]
struct TupleStruct(i8, String);

#[derive(Debug, PartialEq, Serialize, Deserialize)]
enum Shapes {
    Unit,
    Newtype(u64),
    Tuple(bool, char),
    Struct { x: f32, y: Option<f64> },
}

/// Every shape of serde's data model, in one value.
#[derive(Debug, PartialEq, Serialize, Deserialize)]
struct Model {
    b: bool,
    ints: (i8, i16, i32, i64, i128, u8, u16, u32, u64, u128),
    floats: (f32, f64),
    c: char,
    s: String,
    #[serde(with = "serde_bytes")]
    bytes: Vec<u8>,
    none: Option<u8>,
    some: Option<String>,
    unit: (),
    unit_struct: UnitStruct,
    newtype: Newtype,
    tuple_struct: TupleStruct,
    variants: Vec<Shapes>,
    seq: Vec<Vec<u8>>,
    map: BTreeMap<String, i32>,
}

/// The [`Pickler`] contract: every shape of serde's data
/// model round-trips, through the typed and the erased paths, and bytes
/// left over after a value are an error.
pub fn pickler(p: &dyn Pickler) {
    let model = Model {
        b: true,
        ints: (
            -1,
            -300,
            -70_000,
            i64::MIN,
            i128::MAX,
            255,
            65_535,
            u32::MAX,
            u64::MAX,
            u128::MAX,
        ),
        floats: (1.5, -0.0),
        c: 'ß',
        s: "text\u{0}with nul".into(),
        bytes: vec![0, 255, 7],
        none: None,
        some: Some(String::new()),
        unit: (),
        unit_struct: UnitStruct,
        newtype: Newtype(9),
        tuple_struct: TupleStruct(-5, "t".into()),
        variants: vec![
            Shapes::Unit,
            Shapes::Newtype(1),
            Shapes::Tuple(false, 'x'),
            Shapes::Struct { x: 0.25, y: None },
        ],
        seq: vec![vec![], vec![1, 2]],
        map: BTreeMap::from([("a".into(), 1), ("b".into(), -2)]),
    };
    let bytes = p.dump(&model).expect("dump");
    assert_eq!(
        p.load::<Model>(&bytes).expect("load"),
        model,
        "a typed round trip"
    );
    let erased = p.dumps(&model).expect("dumps");
    let mut back = None;
    p.loads(&erased, &mut |de| {
        back = Some(erased_serde::deserialize::<Model>(de)?);
        Ok(())
    })
    .expect("loads");
    assert_eq!(back, Some(model), "an erased round trip");
    let mut extra = bytes;
    extra.extend_from_slice(&[0, 1, 2]);
    assert!(
        p.load::<Model>(&extra).is_err(),
        "bytes left over after the value are an error"
    );
}

/// The [`RWLock`] contract across threads: readers may
/// share, a writer is alone, guards release on drop (also on panic).
pub fn lock(lock: &dyn RWLock) {
    // Positive: that many readers hold it; -1: a writer does.
    let holders = AtomicI64::new(0);
    std::thread::scope(|s| {
        for t in 0..6 {
            let holders = &holders;
            s.spawn(move || {
                for i in 0..40 {
                    if (t + i) % 4 == 0 {
                        let _w = lock.writer().expect("writer");
                        assert_eq!(
                            holders.swap(-1, Ordering::SeqCst),
                            0,
                            "a writer is never shared"
                        );
                        std::thread::yield_now();
                        assert_eq!(
                            holders.swap(0, Ordering::SeqCst),
                            -1,
                            "nobody entered beside the writer"
                        );
                    } else {
                        let _r = lock.reader().expect("reader");
                        assert!(
                            holders.fetch_add(1, Ordering::SeqCst) >= 0,
                            "a reader entered beside a writer"
                        );
                        std::thread::yield_now();
                        holders.fetch_sub(1, Ordering::SeqCst);
                    }
                }
            });
        }
    });
    let panicked = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let _w = lock.writer().expect("writer");
        panic!("while holding the writer side");
    }));
    assert!(panicked.is_err());
    drop(
        lock.writer()
            .expect("a guard dropped by a panic releases the lock"),
    );
}
