//! The replacement policy suites.

use crate::{EntryKey, EntryMeta, ReplacementPolicy};
use std::collections::{BTreeMap, HashSet};

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
