//! Entries for the index's tests.

use crate::{Entry, EntryKey};
use charm_freeze::hash;

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
