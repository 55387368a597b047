//! The checks of the [`ObjStore`] contract, one function each, so that a
//! store that fails one says which rule it broke. Each expects an empty
//! store and leaves keys behind; [`obj_store`](super::obj_store) clears
//! between them.

use crate::ObjStore;

/// One check of the contract.
pub type Check = fn(&dyn ObjStore);

/// Every check, by name.
pub const ALL: [(&str, Check); 13] = [
    ("absent_keys", absent_keys),
    ("opened_values_read_in_parts", opened_values_read_in_parts),
    (
        "observed_parts_join_to_the_value",
        observed_parts_join_to_the_value,
    ),
    ("put_replaces", put_replaces),
    (
        "values_written_in_parts_replace_whole_or_not_at_all",
        values_written_in_parts_replace_whole_or_not_at_all,
    ),
    ("empty_values", empty_values),
    ("prefix_listing", prefix_listing),
    ("deletion", deletion),
    ("invalid_keys", invalid_keys),
    (
        "whole_values_under_concurrent_writers",
        whole_values_under_concurrent_writers,
    ),
    ("clear_deletes_every_key", clear_deletes_every_key),
    ("compare_and_swap", compare_and_swap),
    (
        "logs_lose_no_append_when_taken",
        logs_lose_no_append_when_taken,
    ),
];

/// `get` of an absent key is `Ok(None)`; `delete` of one succeeds (what
/// it reports is up to the store: S3 cannot tell).
pub fn absent_keys(store: &dyn ObjStore) {
    assert_eq!(
        store.get("t/absent").unwrap(),
        None,
        "get of an absent key is Ok(None)"
    );
    assert!(
        store.delete("t/absent").is_ok(),
        "delete of an absent key succeeds"
    );
    assert!(!store.contains("t/absent").unwrap());
}

/// `open` reads a value's parts, refuses reads past its end, and keeps
/// reading the value it opened after a `put` replaces it.
pub fn opened_values_read_in_parts(store: &dyn ObjStore) {
    assert!(
        store.open("t/absent").unwrap().is_none(),
        "open of an absent key is None"
    );
    store.put("t/parts", b"0123456789").unwrap();
    let reader = store.open("t/parts").unwrap().expect("an opened value");
    assert_eq!(reader.size(), 10);
    let mut part = [0u8; 3];
    reader.read_at(7, &mut part).unwrap();
    assert_eq!(&part, b"789", "read_at reads from the offset");
    assert!(
        reader.read_at(8, &mut part).is_err(),
        "a read past the end fails"
    );
    assert!(
        reader.read_at(u64::MAX, &mut part).is_err(),
        "a huge offset fails"
    );
    store.put("t/parts", b"replaced").unwrap();
    reader.read_at(0, &mut part).unwrap();
    assert_eq!(&part, b"012", "an open reader keeps the value it opened");
}

/// `get_observed` returns what `get` does, and shows it in parts that,
/// joined in order, are that value (for a value of several MiB too).
pub fn observed_parts_join_to_the_value(store: &dyn ObjStore) {
    let value: Vec<u8> = (0..3_000_000u32).map(|i| (i ^ (i >> 9)) as u8).collect();
    for v in [&value[..], b"", b"short"] {
        store.put("t/observed", v).unwrap();
        let mut shown = Vec::new();
        let got = store
            .get_observed("t/observed", &mut |part| shown.extend_from_slice(part))
            .unwrap();
        assert_eq!(got.as_deref(), Some(v), "get_observed returns the value");
        assert!(shown == v, "the parts shown join to the value");
    }
    let mut shown = 0;
    assert_eq!(
        store
            .get_observed("t/absent", &mut |part| shown += part.len())
            .unwrap(),
        None
    );
    assert_eq!(shown, 0, "nothing is shown of an absent key");
}

/// `put_with` stores what its writer writes, in parts, under a new key or
/// over an old value (a folder to create included); a writer that fails
/// leaves the old value as it was, and its error is returned.
pub fn values_written_in_parts_replace_whole_or_not_at_all(store: &dyn ObjStore) {
    use std::io::Write;
    let parts = |n: u8| {
        move |w: &mut dyn Write| -> crate::Result<()> {
            for i in 0..n {
                w.write_all(&[i; 1000])
                    .map_err(|e| crate::Error::io("a part", e))?;
            }
            Ok(())
        }
    };
    let whole = |n: u8| (0..n).flat_map(|i| [i; 1000]).collect::<Vec<u8>>();
    for n in [2, 3] {
        store.put_with("t/parts/new", &mut parts(n)).unwrap();
        assert_eq!(store.get("t/parts/new").unwrap(), Some(whole(n)));
    }
    let mut failing = |w: &mut dyn Write| -> crate::Result<()> {
        w.write_all(b"half")
            .map_err(|e| crate::Error::io("a part", e))?;
        Err(crate::Error::Config("the writer failed".into()))
    };
    let err = store.put_with("t/parts/new", &mut failing).unwrap_err();
    assert!(err.to_string().contains("the writer failed"), "{err}");
    assert_eq!(
        store.get("t/parts/new").unwrap(),
        Some(whole(3)),
        "kept whole"
    );
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

/// A store without logs has none to take; with them, four threads append
/// records while another takes the log again and again, reading and
/// deleting each one taken as a fold does: every record is in exactly one
/// taken log (or the last one), whole.
pub fn logs_lose_no_append_when_taken(store: &dyn ObjStore) {
    if store.append("t/log", b"first;").unwrap().is_none() {
        assert!(
            !store.take_log("t/log", "t/taken").unwrap(),
            "no logs, none to take"
        );
        return;
    }
    let taken = |key: &str| -> String {
        let bytes = store.get(key).unwrap().unwrap_or_default();
        store.delete(key).unwrap();
        String::from_utf8(bytes).expect("whole records")
    };
    assert!(store.take_log("t/log", "t/taken").unwrap());
    let mut all = taken("t/taken");
    assert!(
        !store.take_log("t/log", "t/none").unwrap(),
        "taken: no log left"
    );
    let (writers, each) = (4u32, 200u32);
    std::thread::scope(|s| {
        for w in 0..writers {
            s.spawn(move || {
                for i in 0..each {
                    let record = format!("{w}.{i};");
                    assert!(store.append("t/log", record.as_bytes()).unwrap().is_some());
                }
            });
        }
        for _ in 0..50 {
            if store.take_log("t/log", "t/taken").unwrap() {
                all.push_str(&taken("t/taken"));
            }
            std::thread::yield_now();
        }
    });
    all.push_str(&taken("t/log"));
    let mut records: Vec<&str> = all.split_terminator(';').collect();
    records.sort_unstable();
    let mut expected: Vec<String> = (0..writers)
        .flat_map(|w| (0..each).map(move |i| format!("{w}.{i}")))
        .collect();
    expected.push("first".to_owned());
    expected.sort_unstable();
    assert_eq!(records, expected, "each append in exactly one log");
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

/// Without compare-and-swap, its methods say so; with it, `put_if` writes
/// only over the version read (or an absence), and eight threads adding
/// to one counter by it lose no addition.
pub fn compare_and_swap(store: &dyn ObjStore) {
    if !store.has_compare_and_swap() {
        assert!(
            matches!(
                store.get_versioned("t/c"),
                Err(crate::Error::Unsupported(_))
            ),
            "get_versioned without compare-and-swap is Error::Unsupported"
        );
        assert!(
            matches!(
                store.put_if("t/c", b"v", None),
                Err(crate::Error::Unsupported(_))
            ),
            "put_if without compare-and-swap is Error::Unsupported"
        );
        return;
    }
    assert_eq!(store.get_versioned("t/c").unwrap(), None, "absent: None");
    assert!(
        store.put_if("t/c", b"one", None).unwrap(),
        "creates if absent"
    );
    assert!(
        !store.put_if("t/c", b"two", None).unwrap(),
        "create-if-absent fails over a value"
    );
    let (value, first) = store.get_versioned("t/c").unwrap().expect("a value");
    assert_eq!(value, b"one", "the failed put_if wrote nothing");
    assert!(store.put_if("t/c", b"three", Some(&first)).unwrap());
    assert!(
        !store.put_if("t/c", b"four", Some(&first)).unwrap(),
        "a put_if over a version that was replaced fails"
    );
    assert_eq!(store.get("t/c").unwrap().as_deref(), Some(&b"three"[..]));
    assert!(
        store.put_if("t/invalid//key", b"v", None).is_err(),
        "invalid keys are errors"
    );
    const THREADS: u64 = 8;
    const ADDS: u64 = 5;
    std::thread::scope(|s| {
        for _ in 0..THREADS {
            s.spawn(|| {
                for _ in 0..ADDS {
                    loop {
                        let read = store.get_versioned("t/counter").unwrap();
                        let (n, version) = match &read {
                            Some((bytes, v)) => (decode_count(bytes), Some(v)),
                            None => (0, None),
                        };
                        let next = (n + 1).to_le_bytes();
                        if store.put_if("t/counter", &next, version).unwrap() {
                            break;
                        }
                    }
                }
            });
        }
    });
    let total = store
        .get("t/counter")
        .unwrap()
        .map_or(0, |b| decode_count(&b));
    assert_eq!(total, THREADS * ADDS, "a compare-and-swap lost an update");
}

fn decode_count(bytes: &[u8]) -> u64 {
    u64::from_le_bytes(bytes.try_into().expect("8 bytes"))
}
