//! Entries for the index's tests.

use super::format::{Delta, Removal};
use super::state::State;
use crate::{Entry, EntryKey};
use charm_freeze::{hash, Digest};
use proptest::prelude::*;

/// The key of argument `n` of function `f`.
pub(super) fn key(n: u8) -> EntryKey {
    EntryKey {
        name: hash(&"f"),
        args: hash(&n),
    }
}

/// Version `v` of an entry (its object and argument version), stamped
/// `stamp`.
pub(super) fn entry(v: u8, stamp: u64) -> Entry {
    Entry {
        obj_key: hash(&v),
        func_state: hash(&0u8),
        args_ver: hash(&v),
        size: 10,
        compute_ns: 1,
        serialize_ns: 1,
        stamp,
        inline: None,
    }
}

/// The object of version `v` of entry `n`: its own.
pub(super) fn object(n: u8, v: u8) -> Digest {
    hash(&(n, v))
}

/// One record's changes to entries `0..keys` in versions 0..3, stamped
/// 0..8, each version with an object of its own; some keep their value
/// inline (each version always, or never: its object is one value,
/// whoever stores it).
pub(super) fn arb_delta(keys: u8) -> impl Strategy<Value = Delta> {
    let upsert = (0..keys, 0u8..3, 0u64..8).prop_map(|(n, v, t)| {
        let mut e = entry(v, t);
        e.obj_key = object(n, v);
        e.inline = ((n + v) % 3 == 0).then(|| vec![v; 40]);
        (key(n), e)
    });
    let removal = (0..keys, 0u8..3, 0u64..8).prop_map(|(n, v, t)| Removal {
        key: key(n),
        obj: object(n, v),
        stamp: t,
    });
    (
        prop::collection::vec(upsert, 0..keys as usize),
        prop::collection::vec(removal, 0..keys as usize / 2),
    )
        .prop_map(|(upserts, removals)| Delta {
            upserts,
            removals,
            ..Delta::default()
        })
}

/// `state` with `records` applied, in order, as records of their own.
pub(super) fn applied(mut state: State, records: &[Delta]) -> State {
    for (i, d) in records.iter().enumerate() {
        state.apply(&format!("index/delta-{i}"), d.clone());
    }
    state
}
